//! Actions: what a step does, a trait registered by name.
//!
//! An action declares its params (checked at load time: unknown keys and literal values of
//! the wrong kind are errors), a sample of its output (the schema later steps' expressions are
//! checked against) and, for the typed context, the name its output is bound to (`run_rca` →
//! `rca`). It runs through the [`ActionHost`] the service provides,
//! so the engine has no HTTP inside.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::host::{ActionHost, AuditEntry, Remediation};

pub use aiops_integrations::traits::BoxFuture;

/// Why an action failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum ActionError {
    /// Its params are wrong (after rendering).
    #[error("bad params: {0}")]
    Params(String),
    /// The system it needs is not configured.
    #[error("not configured: {0}")]
    NotConfigured(String),
    /// Refused by policy (a command not on the allow-list); audited.
    #[error("refused: {0}")]
    Refused(String),
    /// It ran and failed (the system's error, a command's exit status).
    #[error("{0}")]
    Failed(String),
}

/// What a param holds, checked at load time when its value is written literally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    /// Text.
    String,
    /// `true` or `false`.
    Bool,
    /// A whole number.
    Integer,
    /// A number.
    Number,
    /// A duration (`30m`, `7d`).
    Duration,
    /// A percentage (`70%`) or a fraction (`0.7`).
    Percent,
    /// A list of texts (one text is a list of one).
    StringList,
    /// Anything (a mapping, a list...).
    Any,
}

/// One param an action accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ParamSpec {
    /// Its key.
    pub name: &'static str,
    /// What it holds.
    pub kind: ParamKind,
    /// Whether it must be given.
    pub required: bool,
    /// One line for the README and errors.
    pub doc: &'static str,
}

impl ParamSpec {
    /// An optional param.
    pub const fn optional(name: &'static str, kind: ParamKind, doc: &'static str) -> Self {
        Self {
            name,
            kind,
            required: false,
            doc,
        }
    }
    /// A required param.
    pub const fn required(name: &'static str, kind: ParamKind, doc: &'static str) -> Self {
        Self {
            name,
            kind,
            required: true,
            doc,
        }
    }
}

/// Whether running an action touches anything outside the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Computes from the context only: a dry run runs it.
    Pure,
    /// Calls a system or changes one: a dry run only renders it.
    External,
}

/// What an action sees of the run.
#[derive(Debug)]
pub struct ActionCtx<'a> {
    /// The service's implementations of RCA, forecasts, notifications, tickets...
    pub host: &'a dyn ActionHost,
    /// The run's context (trigger, previous outputs, `item` in a `foreach`).
    pub context: &'a serde_json::Value,
    /// The workflow's name.
    pub workflow: &'a str,
    /// The step's name.
    pub step: &'a str,
    /// Allow-listed commands and HTTP targets for remediation.
    pub remediation: &'a Remediation,
    /// Remediation audit entries the step adds (kept in the run record even on failure).
    pub audit: &'a Mutex<Vec<AuditEntry>>,
}

impl ActionCtx<'_> {
    /// Appends an audit entry; returns its index (for [`ActionCtx::audit_update`]).
    pub fn audit(&self, entry: AuditEntry) -> usize {
        match self.audit.lock() {
            Ok(mut a) => {
                a.push(entry);
                a.len() - 1
            }
            Err(_) => usize::MAX,
        }
    }

    /// Replaces entry `i` (an attempt written `started` before it runs, then its outcome: a
    /// step timing out in the middle still leaves its entry).
    pub fn audit_update(&self, i: usize, entry: AuditEntry) {
        if let Ok(mut a) = self.audit.lock()
            && let Some(slot) = a.get_mut(i)
        {
            *slot = entry;
        }
    }
}

/// A step's action.
pub trait Action: Send + Sync + fmt::Debug {
    /// Its name in `action:`.
    fn name(&self) -> &'static str;
    /// One line for the README.
    fn doc(&self) -> &'static str;
    /// The params it accepts.
    fn params(&self) -> &'static [ParamSpec];
    /// A sample of its output with every field it can have (for checking later expressions).
    fn output_sample(&self) -> serde_json::Value;
    /// The context name its output is bound to (`rca`), besides `steps.<name>.output`.
    fn binds(&self) -> Option<&'static str> {
        None
    }
    /// Whether it touches anything outside the run.
    fn effect(&self) -> Effect {
        Effect::External
    }
    /// The systems its params name (`jira`, `slack`), for lint warnings and dry runs.
    fn systems(&self, _params: &serde_json::Value) -> Vec<String> {
        Vec::new()
    }
    /// Runs it with rendered params.
    fn execute<'a>(
        &'a self,
        ctx: &'a ActionCtx<'a>,
        params: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<serde_json::Value, ActionError>>;
    /// Whether it has a compensating action (run on failure with `rollback_on_failure`).
    fn has_compensation(&self) -> bool {
        false
    }
    /// Undoes what a failed run of it may have done.
    fn compensate<'a>(
        &'a self,
        _ctx: &'a ActionCtx<'a>,
        _params: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<serde_json::Value, ActionError>> {
        Box::pin(async {
            Err(ActionError::NotConfigured(
                "this action has no compensating action".into(),
            ))
        })
    }
}

/// Actions by name.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    actions: BTreeMap<&'static str, Arc<dyn Action>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every built-in action (see [`crate::builtin`]).
    pub fn builtin() -> Self {
        let mut r = Self::new();
        for a in crate::builtin::all() {
            r.register(a);
        }
        r
    }

    /// Adds (or replaces) an action.
    pub fn register(&mut self, action: Arc<dyn Action>) {
        self.actions.insert(action.name(), action);
    }

    /// The action called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Action>> {
        self.actions.get(name)
    }

    /// Every action's name, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        self.actions.keys().copied().collect()
    }

    /// Every action, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Action>> {
        self.actions.values()
    }
}

/// Reads param `key` of `params` as text.
pub fn param_str<'a>(params: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    params.get(key).and_then(|v| v.as_str())
}

/// Reads param `key` as a list of texts (a single text is a list of one).
pub fn param_strings(params: &serde_json::Value, key: &str) -> Vec<String> {
    match params.get(key) {
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Reads param `key` as a duration, ms (`30m`, or a number of seconds).
pub fn param_duration(params: &serde_json::Value, key: &str) -> Result<Option<i64>, ActionError> {
    match params.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => parse_duration(v)
            .map(Some)
            .map_err(|e| ActionError::Params(format!("`{key}`: {e}"))),
    }
}

/// Reads param `key` as a fraction (`70%` → 0.7; a number above 1 is a percentage).
pub fn param_percent(params: &serde_json::Value, key: &str) -> Result<Option<f64>, ActionError> {
    match params.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => parse_percent(v)
            .map(Some)
            .map_err(|e| ActionError::Params(format!("`{key}`: {e}"))),
    }
}

/// A duration, ms: `30m` or a number of seconds.
pub(crate) fn parse_duration(v: &serde_json::Value) -> Result<i64, String> {
    match v {
        serde_json::Value::String(s) => s
            .parse::<aiops_core::time::Duration>()
            .map(|d| d.as_millis())
            .map_err(|e| e.to_string()),
        serde_json::Value::Number(n) => n
            .as_f64()
            .map(|s| (s * 1_000.0).round() as i64)
            .ok_or_else(|| "not a number".into()),
        other => Err(format!("expected a duration such as `30m`, got {other}")),
    }
}

/// A fraction: `70%`, `0.7`, or `70` read as a percentage.
pub(crate) fn parse_percent(v: &serde_json::Value) -> Result<f64, String> {
    let n =
        match v {
            serde_json::Value::String(s) => {
                let t = s.trim();
                match t.strip_suffix('%') {
                    Some(p) => {
                        return p.trim().parse::<f64>().map(|p| p / 100.0).map_err(|_| {
                            format!("expected a percentage such as `70%`, got `{s}`")
                        });
                    }
                    None => t
                        .parse::<f64>()
                        .map_err(|_| format!("expected a percentage such as `70%`, got `{s}`"))?,
                }
            }
            serde_json::Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
            other => return Err(format!("expected a percentage such as `70%`, got {other}")),
        };
    if !n.is_finite() || n < 0.0 {
        return Err(format!("expected a percentage such as `70%`, got {n}"));
    }
    Ok(if n > 1.0 { n / 100.0 } else { n })
}

/// Whether a literal value fits `kind` (templated text is checked after rendering).
pub(crate) fn check_kind(kind: ParamKind, v: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value as V;
    let ok = match (kind, v) {
        (_, V::String(s)) if crate::expr::is_template(s) => true,
        (ParamKind::Any, _) => true,
        (ParamKind::String, V::String(_)) => true,
        (ParamKind::String, V::Number(_) | V::Bool(_)) => true,
        (ParamKind::Bool, V::Bool(_)) => true,
        (ParamKind::Integer, V::Number(n)) => n.is_i64() || n.is_u64(),
        (ParamKind::Number, V::Number(_)) => true,
        (ParamKind::Duration, v) => return parse_duration(v).map(|_| ()),
        (ParamKind::Percent, v) => return parse_percent(v).map(|_| ()),
        (ParamKind::StringList, V::String(_)) => true,
        (ParamKind::StringList, V::Array(a)) => a.iter().all(|x| !x.is_object() && !x.is_array()),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected {kind:?}, got {v}").to_lowercase())
    }
}
