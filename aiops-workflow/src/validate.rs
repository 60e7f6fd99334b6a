//! Loading and checking workflows before anything runs, and `lint`.
//!
//! Every expression and template is checked against the *context schema*: a sample of what a
//! run's context holds at that step, with every field it can have.
//!
//! - From the trigger: `alert` (`name`, `severity`, `status`, `fingerprint`, `labels.*`,
//!   `annotations.*`, `starts_at`, `ends_at`, `generator_url`) and `incident` (the
//!   [`aiops_core::Incident`] fields; none when the alert opened no incident) for alert and
//!   incident triggers; `schedule` (`cron`, `time`) for schedules; `event` (`source`,
//!   `event_type`, `name`, `namespace`, `time`, `labels.*` and any other key the event has)
//!   for events. Always: `workflow` (`name`, `run_id`), `trigger` (`type`), `inputs.*`.
//! - From each preceding step: its action's output under the name the action binds (`rca`,
//!   `forecast`, `regression`... see the README) and under `steps.<step name>.output`, with
//!   `steps.<step name>.status`.
//! - In a `foreach` step: `item`.
//!
//! Reading a name only a later step binds is a forward reference, reported as such.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use aiops_integrations::template::StrictTemplate;
use serde_json::{Value, json};

use crate::action::{Registry, check_kind};
use crate::builtin::RUN_WORKFLOW;
use crate::diagnostic::{Diagnostic, Invalid, Pos};
use crate::expr;
use crate::model::{
    AlertConditions, Located, POLICY_KEYS, RawFile, RawStep, RawTrigger, RawWorkflow, Sp, Step,
    StepPolicy, ThrottlePolicy, Trigger, Workflow, pos,
};

/// Checked workflows from one file.
#[derive(Debug, Clone)]
pub struct WorkflowSet {
    /// The file they came from.
    pub file: Option<PathBuf>,
    /// The workflows by name.
    pub workflows: BTreeMap<String, Workflow>,
    /// Warnings (systems named but not configured are added by [`lint`]).
    pub warnings: Vec<Diagnostic>,
}

impl WorkflowSet {
    /// Reads and checks `text` (named `file` in diagnostics) against the actions of
    /// `registry`. Every error found is returned, not only the first.
    pub fn parse(text: &str, file: Option<&Path>, registry: &Registry) -> Result<Self, Invalid> {
        let with_file = |mut d: Vec<Diagnostic>| {
            for x in &mut d {
                x.file = file.map(Path::to_path_buf);
            }
            d
        };
        let raw: RawFile = read_yaml(text).map_err(|d| Invalid(with_file(vec![*d])))?;
        let mut diags = Vec::new();
        let mut workflows = BTreeMap::new();
        let names: BTreeSet<String> = raw.workflows.keys().cloned().collect();
        for (name, w) in &raw.workflows {
            if let Some(w) = check_workflow(name, w, registry, &names, &mut diags) {
                workflows.insert(name.clone(), w);
            }
        }
        let diags = with_file(diags);
        if diags.iter().any(Diagnostic::is_error) {
            return Err(Invalid(diags));
        }
        Ok(Self {
            file: file.map(Path::to_path_buf),
            workflows,
            warnings: diags,
        })
    }

    /// Reads and checks the file at `path`.
    pub fn load(path: &Path, registry: &Registry) -> Result<Self, Invalid> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let mut d = Diagnostic::error(format!("cannot read: {e}"));
            d.file = Some(path.to_path_buf());
            Invalid(vec![d])
        })?;
        Self::parse(&text, Some(path), registry)
    }

    /// The workflow called `name`.
    pub fn get(&self, name: &str) -> Option<&Workflow> {
        self.workflows.get(name)
    }
}

/// Checks every workflow file at `path` (a file, or a directory's `*.yaml` / `*.yml`, sorted)
/// and returns every error and warning: unknown actions, keys and params, forward references,
/// expressions and templates that do not parse or read unknown names, and (as warnings)
/// systems a step names that `systems` (the configured ones) lacks.
pub fn lint(path: &Path, registry: &Registry, systems: &[String]) -> Vec<Diagnostic> {
    let files = match workflow_files(path) {
        Ok(f) => f,
        Err(e) => {
            let mut d = Diagnostic::error(e);
            d.file = Some(path.to_path_buf());
            return vec![d];
        }
    };
    let mut out = Vec::new();
    for f in files {
        match WorkflowSet::load(&f, registry) {
            Err(Invalid(d)) => out.extend(d),
            Ok(set) => {
                out.extend(set.warnings.iter().cloned());
                out.extend(missing_systems(&set, registry, systems));
            }
        }
    }
    out
}

/// The workflow files at `path`: itself, or the directory's YAML files, sorted.
pub fn workflow_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| format!("cannot read directory: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| x == "yaml" || x == "yml")
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Warnings for systems the steps name that are not configured.
pub fn missing_systems(
    set: &WorkflowSet,
    registry: &Registry,
    systems: &[String],
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for w in set.workflows.values() {
        for s in &w.steps {
            let Some(action) = registry.get(&s.action) else {
                continue;
            };
            let params = literal_params(s);
            for sys in action.systems(&params) {
                if expr::is_template(&sys) || systems.iter().any(|c| c == &sys) {
                    continue;
                }
                let mut d = Diagnostic::warning(format!(
                    "`{sys}` is not configured: a run would fail at this step and a dry run only says what it would send there"
                ))
                .in_workflow(&w.name)
                .in_step(&s.name)
                .at(s.pos);
                d.file = set.file.clone();
                out.push(d);
            }
        }
    }
    out
}

/// The step's params as a JSON object, values as written.
pub(crate) fn literal_params(s: &Step) -> Value {
    Value::Object(
        s.params
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect(),
    )
}

/// Reads the YAML into the raw model; the error has the path and position.
fn read_yaml(text: &str) -> Result<RawFile, Box<Diagnostic>> {
    let mut path = None;
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = Some(e.path().to_string());
            e.into_inner()
        })
    })
    .map_err(|e| {
        let at = e.location().and_then(|l| Pos::from_location(&l));
        let first = e.to_string();
        let first = first.lines().next().unwrap_or("").trim();
        let first = first.strip_prefix("error: ").unwrap_or(first);
        let first = match first.rfind(" at line ") {
            Some(i) if first[i..].contains("column") => &first[..i],
            _ => first,
        };
        let path = path.unwrap_or_default().replace(".value", "");
        let mut d = Diagnostic::error(if path.is_empty() || path == "." {
            first.to_string()
        } else {
            format!("{path}: {first}")
        })
        .at(at);
        // `workflows.<name>.steps[<i>]...`: name the workflow and, from a loose read, the step.
        if let Some(rest) = path.strip_prefix("workflows.") {
            let w = rest.split(['.', '[']).next().unwrap_or("").to_string();
            if !w.is_empty() {
                d = d.in_workflow(&w);
                if let Some(i) = rest
                    .split_once(".steps[")
                    .and_then(|(_, r)| r.split(']').next())
                    .and_then(|i| i.parse::<usize>().ok())
                {
                    let loose: Option<Value> = serde_saphyr::from_str(text).ok();
                    let name = loose
                        .as_ref()
                        .and_then(|v| v.pointer(&format!("/workflows/{w}/steps/{i}/name")))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("#{}", i + 1));
                    d = d.in_step(&name);
                }
            }
        }
        Box::new(d)
    })
}

/// The context schema a trigger gives.
pub fn trigger_schema(t: &Trigger) -> Value {
    let alert = json!({
        "name": "", "severity": "critical", "status": "firing", "fingerprint": "",
        "labels": {"*": ""}, "annotations": {"*": ""}, "starts_at": "", "ends_at": null,
        "generator_url": ""
    });
    let incident = aiops_integrations::traits::Notification::schema()["incident"].clone();
    let mut s = json!({
        "workflow": {"name": "", "run_id": ""},
        "trigger": {"type": ""},
        "inputs": {"*": null},
        "steps": {},
    });
    match t {
        Trigger::Alert(_) | Trigger::Incident(_) => {
            s["alert"] = alert;
            s["incident"] = incident;
        }
        Trigger::Schedule { .. } => s["schedule"] = json!({"cron": "", "time": 0}),
        Trigger::Event { .. } => {
            s["event"] = json!({"source": "", "event_type": "", "name": "", "namespace": "",
                                "time": 0, "labels": {"*": ""}, "*": null});
        }
        Trigger::Manual => {}
    }
    s
}

fn check_trigger(t: &Sp<RawTrigger>, diags: &mut Vec<Diagnostic>, wf: &str) -> Option<Trigger> {
    let err = |m: String, p: Option<Pos>| Diagnostic::error(m).in_workflow(wf).at(p);
    let raw = &t.value;
    let kind = raw.kind.value.as_str();
    let mut extra = Vec::new();
    let allowed: &[&str] = match kind {
        "alert" | "incident" => &["conditions"],
        "schedule" => &["cron"],
        "event" => &["source", "event_type", "filter"],
        "manual" => &[],
        other => {
            diags.push(err(
                format!(
                    "trigger: unknown type `{other}` (alert, incident, schedule, event, manual)"
                ),
                pos(&raw.kind),
            ));
            return None;
        }
    };
    for (key, p) in [
        ("conditions", raw.conditions.as_ref().map(pos)),
        ("cron", raw.cron.as_ref().map(pos)),
        ("source", raw.source.as_ref().map(pos)),
        ("event_type", raw.event_type.as_ref().map(pos)),
        ("filter", raw.filter.as_ref().map(pos)),
    ] {
        if let Some(p) = p
            && !allowed.contains(&key)
        {
            extra.push((key, p));
        }
    }
    for (key, p) in &extra {
        diags.push(err(
            format!(
                "trigger: `{key}` does not apply to a `{kind}` trigger (it takes: {})",
                allowed.join(", ")
            ),
            *p,
        ));
    }
    if !extra.is_empty() {
        return None;
    }
    let trigger = match kind {
        "alert" | "incident" => {
            let mut c = AlertConditions::default();
            let mut ok = true;
            if let Some(raw_c) = &raw.conditions {
                for s in &raw_c.value.severity {
                    match s.value.parse::<aiops_core::Severity>() {
                        Ok(v) => c.severity.push(v),
                        Err(e) => {
                            ok = false;
                            diags.push(err(format!("trigger: {e}"), pos(s)));
                        }
                    }
                }
                for m in &raw_c.value.matchers {
                    match aiops_alerts::matchers::Matchers::parse(&m.value) {
                        Ok(_) => c.matchers.push(m.value.clone()),
                        Err(e) => {
                            ok = false;
                            diags.push(err(format!("trigger: matcher `{}`: {e}", m.value), pos(m)));
                        }
                    }
                }
            }
            if !ok {
                return None;
            }
            if kind == "alert" {
                Trigger::Alert(c)
            } else {
                Trigger::Incident(c)
            }
        }
        "schedule" => {
            let Some(cron) = &raw.cron else {
                diags.push(err("trigger: a schedule needs `cron`".into(), pos(t)));
                return None;
            };
            if let Err(e) = crate::cron::Cron::parse(&cron.value) {
                diags.push(err(
                    format!("trigger: cron `{}`: {e}", cron.value),
                    pos(cron),
                ));
                return None;
            }
            Trigger::Schedule {
                cron: cron.value.clone(),
            }
        }
        "event" => {
            let (Some(source), Some(event_type)) = (&raw.source, &raw.event_type) else {
                diags.push(err(
                    "trigger: an event needs `source` and `event_type`".into(),
                    pos(t),
                ));
                return None;
            };
            let filter = raw.filter.as_ref().map(|f| expr::normalize(&f.value));
            if let (Some(f), Some(sp)) = (&filter, &raw.filter) {
                let schema = trigger_schema(&Trigger::Event {
                    source: String::new(),
                    event_type: String::new(),
                    filter: None,
                });
                if let Err(e) = expr::check_expression(&expr::environment(), f, &schema, &[]) {
                    diags.push(err(format!("trigger filter: {e}"), pos(sp)));
                    return None;
                }
            }
            Trigger::Event {
                source: source.value.clone(),
                event_type: event_type.value.clone(),
                filter,
            }
        }
        _ => Trigger::Manual,
    };
    Some(trigger)
}

/// What a name in the schema comes from, for forward-reference messages.
struct Later {
    name: String,
    step: String,
    action: String,
}

fn check_workflow(
    name: &str,
    w: &Sp<RawWorkflow>,
    registry: &Registry,
    workflows: &BTreeSet<String>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Workflow> {
    let before = diags.iter().filter(|d| d.is_error()).count();
    let raw = &w.value;
    let trigger = check_trigger(&raw.trigger, diags, name);
    let mut schema = trigger
        .as_ref()
        .map(trigger_schema)
        .unwrap_or_else(|| json!({}));
    let env = expr::environment();
    // Names later steps bind: reading one early is a forward reference.
    let later: Vec<Later> = raw
        .steps
        .iter()
        .filter_map(|s| {
            let a = registry.get(&s.value.action.value)?;
            Some(Later {
                name: a.binds()?.to_string(),
                step: s.value.name.value.clone(),
                action: a.name().to_string(),
            })
        })
        .collect();
    let mut seen = BTreeSet::new();
    let mut steps = Vec::new();
    if raw.steps.is_empty() {
        diags.push(Diagnostic::error("no steps").in_workflow(name).at(pos(w)));
    }
    for (i, s) in raw.steps.iter().enumerate() {
        let step_name = s.value.name.value.clone();
        let mut sd = StepDiags {
            diags,
            wf: name,
            step: &step_name,
        };
        if step_name.trim().is_empty() {
            sd.error("a step needs a name".into(), pos(&s.value.name));
        } else if !seen.insert(step_name.clone()) {
            sd.error(
                format!("a second step is named `{step_name}`"),
                pos(&s.value.name),
            );
        }
        let upcoming: Vec<&Later> = later
            .iter()
            .filter(|l| raw.steps[i..].iter().any(|x| x.value.name.value == l.step))
            .collect();
        let step = check_step(
            s, registry, workflows, name, &schema, &env, &upcoming, &mut sd,
        );
        if let Some(step) = step {
            if let Some(a) = registry.get(&step.action) {
                let out = a.output_sample();
                if let Some(b) = a.binds() {
                    schema[b] = out.clone();
                }
                schema["steps"][&step.name] = json!({"status": "", "output": out});
            }
            steps.push(step);
        }
    }
    let throttle = raw
        .throttle
        .as_ref()
        .map(|t| t.value)
        .unwrap_or(match trigger {
            Some(Trigger::Alert(_) | Trigger::Incident(_)) => ThrottlePolicy::PerIncident,
            _ => ThrottlePolicy::None,
        });
    let after = diags.iter().filter(|d| d.is_error()).count();
    if after > before {
        return None;
    }
    Some(Workflow {
        name: name.to_string(),
        description: raw.description.clone(),
        trigger: trigger?,
        steps,
        throttle,
        pos: pos(w),
    })
}

struct StepDiags<'a> {
    diags: &'a mut Vec<Diagnostic>,
    wf: &'a str,
    step: &'a str,
}

impl StepDiags<'_> {
    fn error(&mut self, m: String, p: Option<Pos>) {
        self.diags.push(
            Diagnostic::error(m)
                .in_workflow(self.wf)
                .in_step(self.step)
                .at(p),
        );
    }
}

/// An error about names: a forward reference said as such.
fn explain(e: String, src: &str, upcoming: &[&Later]) -> String {
    for l in upcoming {
        let mut read = src.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'));
        let reads = read.any(|w| {
            w == l.name
                || w.starts_with(&format!("{}.", l.name))
                || w.starts_with(&format!("steps.{}", l.step))
        });
        if reads
            && (e.contains(&format!("`{}", l.name)) || e.contains(&format!("`steps.{}", l.step)))
        {
            return format!(
                "forward reference: `{}` is the output of step `{}` ({}), which does not precede this one",
                l.name, l.step, l.action
            );
        }
    }
    e
}

#[allow(clippy::too_many_arguments)]
fn check_step(
    s: &Sp<RawStep>,
    registry: &Registry,
    workflows: &BTreeSet<String>,
    wf: &str,
    schema: &Value,
    env: &minijinja::Environment<'static>,
    upcoming: &[&Later],
    sd: &mut StepDiags<'_>,
) -> Option<Step> {
    let raw = &s.value;
    let before = sd.diags.len();
    let action = registry.get(&raw.action.value);
    if action.is_none() {
        sd.error(
            format!(
                "unknown action `{}` (known: {})",
                raw.action.value,
                registry.names().join(", ")
            ),
            pos(&raw.action),
        );
    }
    // The engine's keys, in the step or in params (not both).
    let mut policy = StepPolicy::default();
    let mut params = BTreeMap::new();
    let mut found: BTreeMap<&str, &Sp<Value>> = BTreeMap::new();
    for (key, v) in [
        ("timeout", &raw.timeout),
        ("max_attempts", &raw.max_attempts),
        ("backoff", &raw.backoff),
        ("continue_on_error", &raw.continue_on_error),
        ("rollback_on_failure", &raw.rollback_on_failure),
    ] {
        if let Some(v) = v {
            found.insert(key, v);
        }
    }
    for (k, v) in &raw.params {
        if POLICY_KEYS.contains(&k.as_str()) {
            if found.insert(k.as_str(), v).is_some() {
                sd.error(
                    format!("`{k}` is given both in the step and in its params"),
                    pos(v),
                );
            }
        } else {
            params.insert(k.clone(), v);
        }
    }
    for (k, v) in &found {
        let p = pos(*v);
        let val = &v.value;
        match *k {
            "timeout" | "backoff" => match crate::action::parse_duration(val) {
                Ok(ms) if ms > 0 => {
                    if *k == "timeout" {
                        policy.timeout_ms = Some(ms);
                    } else {
                        policy.backoff_ms = ms;
                    }
                }
                Ok(_) => sd.error(format!("`{k}` must be longer than 0"), p),
                Err(e) => sd.error(format!("`{k}`: {e}"), p),
            },
            "max_attempts" => match val.as_u64() {
                Some(n) if (1..=100).contains(&n) => policy.max_attempts = n as u32,
                _ => sd.error(
                    format!("`max_attempts` must be a whole number from 1 to 100, got {val}"),
                    p,
                ),
            },
            _ => match val.as_bool() {
                Some(b) if *k == "continue_on_error" => policy.continue_on_error = b,
                Some(b) => policy.rollback_on_failure = b,
                None => sd.error(format!("`{k}` must be true or false, got {val}"), p),
            },
        }
    }
    if let Some(a) = action
        && policy.rollback_on_failure
        && !a.has_compensation()
    {
        sd.error(
            format!(
                "`rollback_on_failure`: `{}` has no compensating action",
                a.name()
            ),
            found.get("rollback_on_failure").and_then(|v| pos(*v)),
        );
    }
    // Condition and foreach read the context before this step.
    let condition = raw.condition.as_ref().map(|c| Located {
        value: expr::normalize(&c.value),
        pos: pos(c),
    });
    if let Some(c) = &condition
        && let Err(e) = expr::check_expression(env, &c.value, schema, &[])
    {
        sd.error(
            format!("condition: {}", explain(e, &c.value, upcoming)),
            c.pos,
        );
    }
    let foreach = raw.foreach.as_ref().map(|c| Located {
        value: expr::normalize(&c.value),
        pos: pos(c),
    });
    if let Some(c) = &foreach
        && let Err(e) = expr::check_expression(env, &c.value, schema, &[])
    {
        sd.error(
            format!("foreach: {}", explain(e, &c.value, upcoming)),
            c.pos,
        );
    }
    let local: &[&str] = if foreach.is_some() { &["item"] } else { &[] };
    let mut param_schema = schema.clone();
    if foreach.is_some() {
        param_schema["item"] = Value::Null;
    }
    if let Some(a) = action {
        let specs = a.params();
        for (k, v) in &params {
            match specs.iter().find(|p| p.name == k.as_str()) {
                None => sd.error(
                    format!(
                        "`{}` has no param `{k}` (it takes: {})",
                        a.name(),
                        specs
                            .iter()
                            .map(|p| p.name)
                            .chain(POLICY_KEYS)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    pos(*v),
                ),
                Some(spec) => {
                    if let Err(e) = check_kind(spec.kind, &v.value) {
                        sd.error(format!("param `{k}`: {e}"), pos(*v));
                    }
                }
            }
        }
        for spec in specs.iter().filter(|p| p.required) {
            if !params.contains_key(spec.name) {
                sd.error(
                    format!("`{}` needs param `{}` ({})", a.name(), spec.name, spec.doc),
                    pos(&raw.action),
                );
            }
        }
        if a.name() == RUN_WORKFLOW
            && let Some(target) = params.get("workflow")
            && let Some(t) = target.value.as_str()
            && !expr::is_template(t)
        {
            if !workflows.contains(t) {
                sd.error(
                    format!("run_workflow: no workflow `{t}` in this file"),
                    pos(*target),
                );
            } else if t == wf {
                sd.error(
                    "run_workflow: a workflow cannot run itself".into(),
                    pos(*target),
                );
            }
        }
    }
    for (k, v) in &params {
        check_templates(
            k,
            &v.value,
            &param_schema,
            env,
            local,
            upcoming,
            sd,
            pos(*v),
        );
    }
    if sd.diags.len() > before && sd.diags[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(Step {
        name: raw.name.value.clone(),
        action: raw.action.value.clone(),
        params: params
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    Located {
                        value: v.value.clone(),
                        pos: pos(v),
                    },
                )
            })
            .collect(),
        condition,
        foreach,
        policy,
        pos: pos(s),
    })
}

/// Checks every template in a param value (recursively).
#[allow(clippy::too_many_arguments)]
fn check_templates(
    key: &str,
    v: &Value,
    schema: &Value,
    env: &minijinja::Environment<'static>,
    local: &[&str],
    upcoming: &[&Later],
    sd: &mut StepDiags<'_>,
    p: Option<Pos>,
) {
    match v {
        Value::String(s) if expr::is_template(s) => {
            let result = match expr::single_expression(s) {
                Some(_) => expr::check_expression(env, &expr::normalize(s), schema, local),
                None => match env.template_from_str(s) {
                    Err(e) => Err(format!("template does not parse: {}", expr::describe(&e))),
                    Ok(t) => expr::check_names(&t.undeclared_variables(true), schema, local)
                        .and_then(|()| {
                            StrictTemplate::compile(&format!("param {key}"), s, schema)
                                .map(|_| ())
                                .map_err(|e| e.to_string())
                        }),
                },
            };
            if let Err(e) = result {
                sd.error(format!("param `{key}`: {}", explain(e, s, upcoming)), p);
            }
        }
        Value::Array(a) => {
            for x in a {
                check_templates(key, x, schema, env, local, upcoming, sd, p);
            }
        }
        Value::Object(m) => {
            for x in m.values() {
                check_templates(key, x, schema, env, local, upcoming, sd, p);
            }
        }
        _ => {}
    }
}
