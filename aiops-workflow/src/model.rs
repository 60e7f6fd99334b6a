//! The workflow file as written: `workflows:` mapping names to a trigger and steps (the
//! design document's shape, section 4.1), read with the position of every step and value.
//!
//! ```yaml
//! workflows:
//!   alert_response:
//!     trigger: {type: alert, conditions: {severity: [critical, high]}}
//!     steps:
//!       - name: analyze_root_cause
//!         action: run_rca
//!         params: {time_window: 30m}
//!       - name: attempt_auto_remediation
//!         condition: "{{ rca.confidence > 0.8 }}"
//!         action: execute_remediation
//!         params: {max_attempts: 1, rollback_on_failure: true}
//! ```
//!
//! Step keys: `name`, `action`, `params`, `condition`, `timeout`, `max_attempts`, `backoff`,
//! `continue_on_error`, `foreach`, `rollback_on_failure`. The engine's own keys
//! (`max_attempts`, `rollback_on_failure`, `timeout`, `backoff`, `continue_on_error`) may also
//! be written inside `params`, as the seed does for `execute_remediation`; they are taken out
//! of the action's params there.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::diagnostic::Pos;

/// A value with where it was written.
pub(crate) type Sp<T> = Spanned<T>;

/// The position of a spanned value.
pub(crate) fn pos<T>(s: &Sp<T>) -> Option<Pos> {
    Pos::from_location(&s.referenced)
}

/// The file: workflows by name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub(crate) workflows: BTreeMap<String, Sp<RawWorkflow>>,
}

/// One workflow as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkflow {
    #[serde(default)]
    pub(crate) description: Option<String>,
    pub(crate) trigger: Sp<RawTrigger>,
    pub(crate) steps: Vec<Sp<RawStep>>,
    #[serde(default)]
    pub(crate) throttle: Option<Sp<ThrottlePolicy>>,
}

/// A trigger as written: one shape for every type, checked after reading so that errors
/// keep their positions.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrigger {
    #[serde(rename = "type")]
    pub(crate) kind: Sp<String>,
    #[serde(default)]
    pub(crate) conditions: Option<Sp<RawConditions>>,
    #[serde(default)]
    pub(crate) cron: Option<Sp<String>>,
    #[serde(default)]
    pub(crate) source: Option<Sp<String>>,
    #[serde(default)]
    pub(crate) event_type: Option<Sp<String>>,
    #[serde(default)]
    pub(crate) filter: Option<Sp<String>>,
}

/// Alert and incident conditions as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConditions {
    #[serde(default)]
    pub(crate) severity: Vec<Sp<String>>,
    #[serde(default)]
    pub(crate) matchers: Vec<Sp<String>>,
}

/// A step as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    pub(crate) name: Sp<String>,
    pub(crate) action: Sp<String>,
    #[serde(default)]
    pub(crate) params: BTreeMap<String, Sp<serde_json::Value>>,
    #[serde(default)]
    pub(crate) condition: Option<Sp<String>>,
    #[serde(default)]
    pub(crate) timeout: Option<Sp<serde_json::Value>>,
    #[serde(default)]
    pub(crate) max_attempts: Option<Sp<serde_json::Value>>,
    #[serde(default)]
    pub(crate) backoff: Option<Sp<serde_json::Value>>,
    #[serde(default)]
    pub(crate) continue_on_error: Option<Sp<serde_json::Value>>,
    #[serde(default)]
    pub(crate) foreach: Option<Sp<String>>,
    #[serde(default)]
    pub(crate) rollback_on_failure: Option<Sp<serde_json::Value>>,
}

/// How often a workflow may run for one incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThrottlePolicy {
    /// At most once per incident (or alert) until it resolves: the default for alert and
    /// incident triggers.
    #[default]
    PerIncident,
    /// Every trigger runs it.
    None,
}

/// What starts a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    /// A firing alert whose severity is in the list (any when empty) and whose labels match
    /// every matcher.
    Alert(AlertConditions),
    /// An incident, with the same conditions on its severity and its alerts' common labels.
    Incident(AlertConditions),
    /// A cron schedule (`0 */6 * * *`: five fields, minute hour day month weekday).
    Schedule {
        /// The cron expression.
        cron: String,
    },
    /// An event from a source (`kubernetes`) of a type (`deployment`), optionally filtered by
    /// an expression over `event`.
    Event {
        /// Where it comes from.
        source: String,
        /// What kind of event.
        event_type: String,
        /// An expression over `event` that must be true (`event.namespace == 'prod'`).
        filter: Option<String>,
    },
    /// Only run by hand (or by another workflow).
    Manual,
}

/// Conditions on an alert or incident.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AlertConditions {
    /// Severities that trigger (any when empty).
    pub severity: Vec<aiops_core::Severity>,
    /// Alertmanager matchers (`service=~"cart|db"`), all must match.
    pub matchers: Vec<String>,
}

/// A value in the file with its position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub pos: Option<Pos>,
}

/// A checked workflow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Workflow {
    /// Its name (the key under `workflows:`).
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// What starts it.
    pub trigger: Trigger,
    /// Its steps, in order.
    pub steps: Vec<Step>,
    /// Runs per incident.
    pub throttle: ThrottlePolicy,
    /// Where it was defined.
    pub pos: Option<Pos>,
}

/// A checked step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    /// Its name, unique in the workflow.
    pub name: String,
    /// The action it runs.
    pub action: String,
    /// The action's params (values may be `{{ ... }}` templates), without the engine's keys.
    pub params: BTreeMap<String, Located<serde_json::Value>>,
    /// An expression deciding whether it runs (`{{ rca.confidence > 0.8 }}`).
    pub condition: Option<Located<String>>,
    /// An expression giving a list: the action runs once per item, bound to `item`.
    pub foreach: Option<Located<String>>,
    /// Timeout, retries and what a failure does.
    pub policy: StepPolicy,
    /// Where it was defined.
    pub pos: Option<Pos>,
}

/// Timeout, retries and what a failure does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepPolicy {
    /// Time for one attempt, ms (`timeout: 30s`); none when `None`.
    pub timeout_ms: Option<i64>,
    /// Attempts before the step fails (1: no retry).
    pub max_attempts: u32,
    /// Wait before the second attempt, ms; doubled before each next one.
    pub backoff_ms: i64,
    /// A failure does not stop the workflow.
    pub continue_on_error: bool,
    /// A failure runs the action's compensating action.
    pub rollback_on_failure: bool,
}

impl Default for StepPolicy {
    fn default() -> Self {
        Self {
            timeout_ms: None,
            max_attempts: 1,
            backoff_ms: 1_000,
            continue_on_error: false,
            rollback_on_failure: false,
        }
    }
}

/// The engine's keys, accepted in the step or in its `params`.
pub(crate) const POLICY_KEYS: [&str; 5] = [
    "timeout",
    "max_attempts",
    "backoff",
    "continue_on_error",
    "rollback_on_failure",
];
