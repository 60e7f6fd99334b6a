//! Expressions (`condition:`, `foreach:`, trigger filters, a param that is one `{{ ... }}`)
//! and templates (params with text around `{{ ... }}`).
//!
//! Expressions are MiniJinja expressions in strict mode (`rca.confidence > 0.8 and
//! regression.severity == 'critical'`, `alert.labels.service in ['cart', 'db']`, filters such
//! as `| length`), written with or without the surrounding `{{ }}`. Two literals are added, as
//! the seed writes them: a duration (`7d`, `30m`, `1h30m`) is its length in milliseconds, and a
//! percentage (`70%`) is the fraction (`0.7`). Nothing in an expression can reach outside the
//! context it is given (no I/O, no side effect).
//!
//! Every variable an expression or template reads is checked at load time against the
//! schema: a sample of the run's context with every field it can have (see
//! [`crate::validate`]).

use std::collections::BTreeSet;

use minijinja::{Environment, UndefinedBehavior, Value};

/// The environment expressions are compiled and evaluated in.
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter("duration", |ms: i64| {
        aiops_core::time::duration::Duration(ms).to_string()
    });
    env
}

/// The expression inside `{{ ... }}` when `text` is exactly one, else `None`.
pub(crate) fn single_expression(text: &str) -> Option<&str> {
    let t = text.trim();
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then_some(inner.trim())
}

/// Whether `text` has template syntax.
pub(crate) fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// The expression source as written in `condition:` (with or without braces), with the
/// duration and percentage literals rewritten to numbers.
pub(crate) fn normalize(text: &str) -> String {
    rewrite_literals(single_expression(text).unwrap_or(text.trim()))
}

/// Rewrites `7d` to `604800000` and `70%` to `0.7` outside string literals.
fn rewrite_literals(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            out.push(c);
            if c == '\\' && i + 1 < chars.len() {
                out.push(chars[i + 1]);
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
            out.push(c);
            i += 1;
            continue;
        }
        let starts_number = c.is_ascii_digit()
            && (i == 0
                || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_' || chars[i - 1] == '.'));
        if !starts_number {
            out.push(c);
            i += 1;
            continue;
        }
        // A number followed directly by letters (a duration) or `%` (a percentage).
        let mut j = i;
        while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '.') {
            j += 1;
        }
        let word: String = chars[i..j].iter().collect();
        if word.chars().any(|c| c.is_ascii_alphabetic()) {
            if let Ok(d) = word.parse::<aiops_core::time::duration::Duration>() {
                out.push_str(&d.as_millis().to_string());
                i = j;
                continue;
            }
        } else if j < chars.len()
            && chars[j] == '%'
            && percent_ends(&chars[j + 1..])
            && let Ok(n) = word.parse::<f64>()
        {
            out.push_str(&format!("{}", n / 100.0));
            i = j + 1;
            continue;
        }
        out.push_str(&word);
        i = j;
    }
    out
}

/// Whether what follows a `N%` ends the operand (so `%` is a percent sign, not modulo).
fn percent_ends(rest: &[char]) -> bool {
    let s: String = rest.iter().collect();
    let s = s.trim_start();
    s.is_empty()
        || s.starts_with([')', ']', ',', '}'])
        || ["and ", "or ", "==", "!=", "<", ">", "if ", "else "]
            .iter()
            .any(|k| s.starts_with(k))
}

/// Checks that `src` (normalized) compiles and reads only names in `schema`; the error says
/// which name and what the context has there.
pub(crate) fn check_expression(
    env: &Environment<'static>,
    src: &str,
    schema: &serde_json::Value,
    local: &[&str],
) -> Result<(), String> {
    let expr = env
        .compile_expression(src)
        .map_err(|e| format!("expression `{src}` does not parse: {}", describe(&e)))?;
    check_names(&expr.undeclared_variables(true), schema, local)
}

/// Checks the names a template or expression reads against the schema.
pub(crate) fn check_names(
    used: &std::collections::HashSet<String>,
    schema: &serde_json::Value,
    local: &[&str],
) -> Result<(), String> {
    let used: BTreeSet<&String> = used.iter().collect();
    for path in used {
        let head = path.split('.').next().unwrap_or(path);
        if local.contains(&head) || is_builtin(head) {
            continue;
        }
        resolve(schema, path).map_err(|why| format!("unknown variable `{path}`: {why}"))?;
    }
    Ok(())
}

/// Evaluates `src` (normalized) with `context`.
pub(crate) fn eval(
    env: &Environment<'static>,
    src: &str,
    context: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    let expr = env
        .compile_expression(src)
        .map_err(|e| format!("expression `{src}`: {}", describe(&e)))?;
    let v = expr
        .eval(Value::from(minijinja::value::Serde(context)))
        .map_err(|e| format!("expression `{src}`: {}", describe(&e)))?;
    serde_json::to_value(&v).map_err(|e| format!("expression `{src}`: {e}"))
}

/// Evaluates a condition: its value must be a boolean (a number, string or list is a mistake
/// worth reporting rather than a truthiness guess).
pub(crate) fn eval_condition(
    env: &Environment<'static>,
    src: &str,
    context: &serde_json::Value,
) -> Result<bool, String> {
    match eval(env, src, context)? {
        serde_json::Value::Bool(b) => Ok(b),
        other => Err(format!("condition `{src}` gave {other}, not true or false")),
    }
}

/// The error with its cause chain, on one line.
pub(crate) fn describe(e: &minijinja::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(c) = source {
        out.push_str(": ");
        out.push_str(&c.to_string());
        source = c.source();
    }
    out
}

pub(crate) use aiops_integrations::template::{is_builtin, resolve};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_and_percentages_become_numbers_outside_strings() {
        assert_eq!(
            normalize("{{ forecast.saturation_time < 7d }}"),
            "forecast.saturation_time < 604800000"
        );
        assert_eq!(normalize("x > 70% and y == '7d'"), "x > 0.7 and y == '7d'");
        assert_eq!(normalize("a % 2"), "a % 2");
        assert_eq!(normalize("a.b2 + 1.5"), "a.b2 + 1.5");
    }

    #[test]
    fn conditions_evaluate_strictly() {
        let env = environment();
        let ctx = json!({"rca": {"confidence": 0.9}, "regression": {"detected": true, "severity": "critical"}});
        assert!(eval_condition(&env, &normalize("{{ rca.confidence > 0.8 }}"), &ctx).unwrap());
        assert!(
            eval_condition(
                &env,
                &normalize("{{ regression.detected and regression.severity == 'critical' }}"),
                &ctx
            )
            .unwrap()
        );
        assert!(eval_condition(&env, "rca.nope > 1", &ctx).is_err());
        assert!(eval_condition(&env, "rca.confidence", &ctx).is_err());
    }

    #[test]
    fn names_are_checked_against_the_schema() {
        let env = environment();
        let schema = json!({"rca": {"confidence": 0.0}, "alert": {"labels": {"*": ""}}});
        assert!(check_expression(&env, "rca.confidence > 0.8", &schema, &[]).is_ok());
        assert!(check_expression(&env, "alert.labels.service == 'x'", &schema, &[]).is_ok());
        let e = check_expression(&env, "rca.confidense > 0.8", &schema, &[]).unwrap_err();
        assert!(
            e.contains("rca.confidense") && e.contains("confidence"),
            "{e}"
        );
        let e = check_expression(&env, "rca.confidence >", &schema, &[]).unwrap_err();
        assert!(e.contains("does not parse"), "{e}");
    }
}
