//! Strict templates for messages, tickets and workflow parameters (MiniJinja syntax:
//! `{{ incident.title }}`, `{% if ... %}`, `{% for ... %}`, filters such as `upper`).
//!
//! Strict twice over:
//! - at load time, every variable a template reads (`incident.title`, `labels.service`...) must
//!   exist in the *schema* it is compiled against: a sample of the context it will be rendered
//!   with, which has every field the context can have. A misspelt name is an error naming the
//!   template, the variable and the known names, before anything is sent;
//! - at render time, reading anything undefined is an error too (MiniJinja's strict mode), so
//!   a message is never sent with a blank where a value should be.
//!
//! Names bound inside the template (`{% set %}`, loop variables) are the template's own; a map
//! in the schema whose keys vary (labels, annotations) is marked open with the key `"*"`, and
//! any key below it is accepted at load time (it is still checked when rendering).

use std::collections::BTreeSet;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::error::{IntegrationError, Result};

/// The system name in errors.
pub const SYSTEM: &str = "template";

/// A template checked against its schema.
#[derive(Debug)]
pub struct StrictTemplate {
    name: String,
    env: Environment<'static>,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

impl StrictTemplate {
    /// Compiles `source` (named `name` in errors: `slack.text`, `workflow alert_response step
    /// 3`...) and checks every variable it reads against `schema`.
    pub fn compile(name: &str, source: &str, schema: &impl Serialize) -> Result<Self> {
        let bad = |reason: String| IntegrationError::Config {
            system: SYSTEM,
            key: name.to_string(),
            reason,
        };
        let mut env = environment();
        env.add_template_owned(name.to_string(), source.to_string())
            .map_err(|e| bad(describe(&e)))?;
        let schema = serde_json::to_value(schema).map_err(|e| bad(e.to_string()))?;
        {
            let tmpl = env.get_template(name).map_err(|e| bad(describe(&e)))?;
            let used: BTreeSet<String> = tmpl.undeclared_variables(true).into_iter().collect();
            for path in &used {
                if is_builtin(path) {
                    continue;
                }
                if let Err(missing) = resolve(&schema, path) {
                    return Err(bad(format!("unknown variable `{path}`: {missing}")));
                }
            }
        }
        Ok(Self {
            name: name.to_string(),
            env,
        })
    }

    /// Renders with `context`; reading anything undefined is an error.
    pub fn render(&self, context: &impl Serialize) -> Result<String> {
        let bad = |e: minijinja::Error| IntegrationError::Config {
            system: SYSTEM,
            key: self.name.clone(),
            reason: describe(&e),
        };
        let tmpl = self.env.get_template(&self.name).map_err(bad)?;
        tmpl.render(minijinja::Value::from(minijinja::value::Serde(context)))
            .map_err(bad)
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Renders `source` once with `context`, strictly (no schema: for one-off checks and tests).
pub fn render_str(source: &str, context: &impl Serialize) -> Result<String> {
    let env = environment();
    env.render_str(
        source,
        minijinja::Value::from(minijinja::value::Serde(context)),
    )
    .map_err(|e| IntegrationError::Config {
        system: SYSTEM,
        key: "template".into(),
        reason: describe(&e),
    })
}

/// The error with its line, and its cause chain.
fn describe(e: &minijinja::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(c) = source {
        out.push_str(": ");
        out.push_str(&c.to_string());
        source = c.source();
    }
    out
}

/// Whether `path` starts with a global MiniJinja defines (functions and tests used as names).
pub fn is_builtin(path: &str) -> bool {
    let head = path.split('.').next().unwrap_or(path);
    matches!(
        head,
        "range" | "dict" | "namespace" | "loop" | "true" | "false" | "none" | "debug"
    )
}

/// Walks `path` (`a.b.c`) through `schema`; the error names the known keys where it stopped.
/// A map with the key `"*"` is open (labels); below a list, a scalar or null the sample cannot
/// say, and render time checks.
pub fn resolve(schema: &serde_json::Value, path: &str) -> std::result::Result<(), String> {
    let mut here = schema;
    let mut walked = String::new();
    for part in path.split('.') {
        match here {
            serde_json::Value::Object(map) => {
                if map.contains_key("*") && !map.contains_key(part) {
                    return Ok(());
                }
                match map.get(part) {
                    Some(next) => here = next,
                    None => {
                        let known: Vec<&str> = map.keys().map(String::as_str).collect();
                        let at = if walked.is_empty() {
                            "the context".to_string()
                        } else {
                            format!("`{walked}`")
                        };
                        return Err(format!("{at} has {}", known.join(", ")));
                    }
                }
            }
            // Below a list, a scalar or null the template reads fields of items or values that
            // the schema's sample cannot describe: render time checks them.
            _ => return Ok(()),
        }
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(part);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> serde_json::Value {
        json!({"incident": {"id": "x", "title": "t", "alerts": []},
               "labels": {"*": ""}, "severity": "critical"})
    }

    #[test]
    fn known_variables_render() {
        let t = StrictTemplate::compile(
            "t",
            "{{ incident.title }} [{{ severity | upper }}] {{ labels.service }}\
             {% for a in incident.alerts %} {{ a.name }}{% endfor %}",
            &schema(),
        )
        .unwrap();
        let ctx = json!({"incident": {"id": "1", "title": "db down", "alerts": [{"name": "a1"}]},
                         "labels": {"service": "db"}, "severity": "high"});
        assert_eq!(t.render(&ctx).unwrap(), "db down [HIGH] db a1");
    }

    #[test]
    fn an_unknown_variable_is_an_error_at_load_time_even_in_a_branch_not_taken() {
        let e = StrictTemplate::compile(
            "slack.text",
            "{% if false %}{{ incident.titel }}{% endif %}",
            &schema(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("slack.text"), "{e}");
        assert!(e.contains("incident.titel"), "{e}");
        assert!(e.contains("title"), "{e}");
        let e = StrictTemplate::compile("x", "{{ nope }}", &schema()).unwrap_err();
        assert!(e.to_string().contains("`nope`"), "{e}");
    }

    #[test]
    fn a_syntax_error_names_the_template() {
        let e = StrictTemplate::compile("jira.summary", "{{ incident.title ", &schema())
            .unwrap_err()
            .to_string();
        assert!(e.contains("jira.summary"), "{e}");
    }

    #[test]
    fn undefined_at_render_time_is_an_error_not_a_blank() {
        let t = StrictTemplate::compile("t", "{{ labels.service }}", &schema()).unwrap();
        let e = t.render(&json!({"labels": {}})).unwrap_err().to_string();
        assert!(e.contains("undefined"), "{e}");
        assert!(render_str("{{ a }}", &json!({})).is_err());
        assert_eq!(render_str("{{ a }}", &json!({"a": 1})).unwrap(), "1");
    }

    #[test]
    fn names_set_in_the_template_are_its_own() {
        let t = StrictTemplate::compile(
            "t",
            "{% set n = incident.alerts | length %}{{ n }}",
            &schema(),
        )
        .unwrap();
        assert_eq!(t.render(&schema()).unwrap(), "0");
    }
}
