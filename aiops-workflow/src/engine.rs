//! Running workflows: trigger context → each step's condition decided, params rendered
//! strictly, the action run with its timeout, retries and backoff, a failure rolled back when
//! asked; every step recorded in a [`RunRecord`] the service persists.
//!
//! A dry run decides and renders every step the same way but calls nothing outside: actions
//! that only compute from the context run, the others are recorded with what they would do
//! (their rendered params and the systems they would reach) and give their output sample, or
//! the output the caller assumes for that step ([`RunOptions::assume`]), to the steps after.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aiops_core::{Alert, Incident, Severity, TimestampMs};
use aiops_integrations::template::StrictTemplate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::action::{ActionCtx, ActionError, BoxFuture, Effect, Registry};
use crate::builtin::RUN_WORKFLOW;
use crate::expr;
use crate::host::{ActionHost, AuditEntry, Remediation};
use crate::model::{Step, ThrottlePolicy, Trigger, Workflow};
use crate::validate::WorkflowSet;

/// How deep workflows may call workflows.
const MAX_DEPTH: usize = 8;

/// What started a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TriggerEvent {
    /// An alert, with the incident it opened or joined when there is one.
    Alert {
        /// The alert.
        alert: Alert,
        /// Its incident.
        incident: Option<Incident>,
    },
    /// An incident.
    Incident {
        /// The incident.
        incident: Incident,
    },
    /// A schedule fired.
    Schedule {
        /// When, ms since the epoch.
        time: TimestampMs,
    },
    /// An event (`{source, event_type, ...}`).
    Event {
        /// The event as received.
        event: Value,
    },
    /// A run by hand, with inputs.
    Manual {
        /// Values bound to `inputs`.
        inputs: Value,
    },
}

impl TriggerEvent {
    /// Reads an event as the CLI and the API receive it: an alert in Alertmanager API v2 form
    /// (or a list of them: the first), an incident (`id`, `alerts`...), or an event with
    /// `source` and `event_type`.
    pub fn from_json(v: &Value) -> Result<Self, String> {
        if v.get("source").is_some() && v.get("event_type").is_some() {
            return Ok(Self::Event { event: v.clone() });
        }
        if v.get("id").is_some() && v.get("alerts").is_some() {
            let incident: Incident =
                serde_json::from_value(v.clone()).map_err(|e| format!("incident: {e}"))?;
            return Ok(Self::Incident { incident });
        }
        if v.get("labels").is_some() || v.is_array() {
            // As Alertmanager does, an alert without `startsAt` starts when received.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            let alerts =
                aiops_integrations::alertmanager::parse_alerts_received(&v.to_string(), Some(now))
                    .map_err(|e| format!("alert: {e}"))?;
            let alert = alerts.into_iter().next().ok_or("alert: an empty list")?;
            return Ok(Self::Alert {
                alert,
                incident: None,
            });
        }
        Err("expected an alert (Alertmanager API v2), an incident or an event with `source` and `event_type`".into())
    }

    /// The incident (or alert) it is about (`incident:ID`, `alert:FINGERPRINT`), for
    /// throttling, and whether that is resolved.
    pub fn subject(&self) -> Option<(String, bool)> {
        match self {
            Self::Alert {
                incident: Some(i), ..
            }
            | Self::Incident { incident: i } => Some((
                format!("incident:{}", i.id),
                i.status == aiops_core::IncidentStatus::Resolved,
            )),
            Self::Alert { alert, .. } => Some((
                format!("alert:{}", alert.fingerprint),
                alert.status == aiops_core::AlertStatus::Resolved,
            )),
            _ => None,
        }
    }

    /// The run's context from the trigger (see [`crate::validate`] for its shape).
    pub fn context(&self) -> Value {
        let mut ctx = json!({"trigger": {}, "inputs": {}, "steps": {}});
        match self {
            Self::Alert { alert, incident } => {
                ctx["trigger"]["type"] = json!("alert");
                ctx["alert"] = alert_context(alert);
                ctx["incident"] = serde_json::to_value(incident).unwrap_or(Value::Null);
            }
            Self::Incident { incident } => {
                ctx["trigger"]["type"] = json!("incident");
                ctx["alert"] = incident
                    .alerts
                    .first()
                    .map(alert_context)
                    .unwrap_or(Value::Null);
                ctx["incident"] = serde_json::to_value(incident).unwrap_or(Value::Null);
            }
            Self::Schedule { time } => {
                ctx["trigger"]["type"] = json!("schedule");
                ctx["schedule"] = json!({"time": time});
            }
            Self::Event { event } => {
                ctx["trigger"]["type"] = json!("event");
                ctx["event"] = event.clone();
            }
            Self::Manual { inputs } => {
                ctx["trigger"]["type"] = json!("manual");
                ctx["inputs"] = inputs.clone();
            }
        }
        ctx
    }
}

/// An alert as workflows read it.
fn alert_context(a: &Alert) -> Value {
    let sev = alert_severity(a);
    json!({
        "name": a.labels.get("alertname").unwrap_or(""),
        "severity": sev.map(Severity::as_str),
        "status": if a.status == aiops_core::AlertStatus::Resolved { "resolved" } else { "firing" },
        "fingerprint": a.fingerprint.to_string(),
        "labels": a.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        "annotations": a.annotations,
        "starts_at": aiops_core::time::format_rfc3339(a.starts_at),
        "ends_at": a.ends_at.map(aiops_core::time::format_rfc3339),
        "generator_url": a.generator_url,
    })
}

fn alert_severity(a: &Alert) -> Option<Severity> {
    a.labels.get("severity").and_then(|s| s.parse().ok())
}

/// Whether `event` starts `w`.
pub fn triggers(w: &Workflow, event: &TriggerEvent) -> bool {
    let env = expr::environment();
    match (&w.trigger, event) {
        (Trigger::Alert(c), TriggerEvent::Alert { alert, .. }) => {
            alert.status == aiops_core::AlertStatus::Firing
                && (c.severity.is_empty()
                    || alert_severity(alert).is_some_and(|s| c.severity.contains(&s)))
                && c.matchers.iter().all(|m| {
                    aiops_alerts::matchers::Matchers::parse(m)
                        .is_ok_and(|m| m.matches(&alert.labels))
                })
        }
        (Trigger::Incident(c), TriggerEvent::Incident { incident }) => {
            (c.severity.is_empty() || c.severity.contains(&incident.severity))
                && c.matchers.iter().all(|m| {
                    aiops_alerts::matchers::Matchers::parse(m)
                        .is_ok_and(|m| incident.alerts.iter().any(|a| m.matches(&a.labels)))
                })
        }
        (Trigger::Schedule { cron }, TriggerEvent::Schedule { time }) => {
            crate::cron::Cron::parse(cron).is_ok_and(|c| c.fires_at(*time))
        }
        (
            Trigger::Event {
                source,
                event_type,
                filter,
            },
            TriggerEvent::Event { event },
        ) => {
            event.get("source").and_then(Value::as_str) == Some(source)
                && event.get("event_type").and_then(Value::as_str) == Some(event_type)
                && filter.as_ref().is_none_or(|f| {
                    expr::eval_condition(&env, f, &json!({"event": event})).unwrap_or(false)
                })
        }
        (Trigger::Manual, TriggerEvent::Manual { .. }) => true,
        _ => false,
    }
}

/// At most one run per incident (or alert) and workflow until it resolves. The caller keeps
/// it (and persists it with serde) across events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttle {
    /// `workflow/incident:<id>` keys that have run and not resolved.
    pub active: BTreeSet<String>,
}

/// What the throttle says about an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Admission {
    /// Run it.
    Run,
    /// It already ran for this incident.
    Throttled,
    /// The incident resolved: the key is released and nothing runs.
    Resolved,
}

impl Throttle {
    /// Admits `event` for `workflow`: the first time for an incident runs, later times are
    /// throttled, a resolution releases it. Events with no incident always run.
    pub fn admit(&mut self, workflow: &str, event: &TriggerEvent) -> Admission {
        let Some((subject, resolved)) = event.subject() else {
            return Admission::Run;
        };
        let key = format!("{workflow}/{subject}");
        if resolved {
            self.active.remove(&key);
            return Admission::Resolved;
        }
        if self.active.insert(key) {
            Admission::Run
        } else {
            Admission::Throttled
        }
    }
}

/// How to run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    /// Decide and render every step, call nothing outside.
    pub dry_run: bool,
    /// In a dry run, the output assumed for a step (by name) instead of its action's sample
    /// (`{"analyze_root_cause": {"confidence": 0.9, ...}}`).
    #[serde(default)]
    pub assume: BTreeMap<String, Value>,
    /// The run's id (one is made when `None`).
    #[serde(default)]
    pub run_id: Option<String>,
}

/// How a run or a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Done.
    Succeeded,
    /// Failed (after its attempts).
    Failed,
    /// Its condition was false.
    Skipped,
    /// Dry run: what it would do is recorded, nothing was called.
    WouldRun,
    /// Not reached: an earlier step failed.
    NotRun,
    /// The throttle held it (one run per incident).
    Throttled,
}

/// One attempt of a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// When it started, ms since the epoch.
    pub started_at: TimestampMs,
    /// How long it took, ms.
    pub duration_ms: u64,
    /// Why it failed, when it did.
    pub error: Option<ActionError>,
}

/// The compensating action's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollback {
    /// `succeeded` or `failed`.
    pub status: Status,
    /// What it returned.
    pub output: Option<Value>,
    /// Why it failed.
    pub error: Option<ActionError>,
}

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The step.
    pub name: String,
    /// Its action.
    pub action: String,
    /// How it ended.
    pub status: Status,
    /// The condition and what it decided.
    pub condition: Option<Decision>,
    /// Rendered params (a list, one per item, for `foreach`).
    pub input: Option<Value>,
    /// What it returned (a list for `foreach`).
    pub output: Option<Value>,
    /// Every attempt (of every item).
    pub attempts: Vec<Attempt>,
    /// Why it failed.
    pub error: Option<String>,
    /// Systems it reaches (`jira`, `slack`), with `(not configured)` when the host lacks one.
    pub systems: Vec<String>,
    /// The compensating action, when it ran.
    pub rollback: Option<Rollback>,
    /// When it started, ms since the epoch.
    pub started_at: TimestampMs,
    /// How long it took, ms.
    pub duration_ms: u64,
}

/// A condition and its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The expression (durations and percentages as numbers).
    pub expression: String,
    /// What it gave.
    pub value: bool,
}

/// Everything about one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Its id.
    pub run_id: String,
    /// The workflow.
    pub workflow: String,
    /// Whether it was a dry run.
    pub dry_run: bool,
    /// What started it.
    pub trigger: TriggerEvent,
    /// How it ended.
    pub status: Status,
    /// Each step, in order (steps after a stopping failure are `not_run`).
    pub steps: Vec<StepRecord>,
    /// The audit entry of every remediation attempted (run, refused, failed).
    pub audit: Vec<AuditEntry>,
    /// Why it failed.
    pub error: Option<String>,
    /// When it started, ms since the epoch.
    pub started_at: TimestampMs,
    /// How long it took, ms.
    pub duration_ms: u64,
}

impl RunRecord {
    /// The step called `name`.
    pub fn step(&self, name: &str) -> Option<&StepRecord> {
        self.steps.iter().find(|s| s.name == name)
    }
}

/// Why a run could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// No such workflow.
    #[error("no workflow `{0}` (known: {1})")]
    UnknownWorkflow(String, String),
}

/// Runs the workflows of one set with one host.
#[derive(Debug, Clone)]
pub struct Engine {
    set: Arc<WorkflowSet>,
    registry: Registry,
    host: Arc<dyn ActionHost>,
    remediation: Arc<Remediation>,
}

static RUN_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Engine {
    /// An engine for `set` (checked against `registry`), calling `host`, allowed to run the
    /// remediation in `remediation`.
    pub fn new(
        set: WorkflowSet,
        registry: Registry,
        host: Arc<dyn ActionHost>,
        remediation: Remediation,
    ) -> Self {
        Self {
            set: Arc::new(set),
            registry,
            host,
            remediation: Arc::new(remediation),
        }
    }

    /// The workflows.
    pub fn workflows(&self) -> &WorkflowSet {
        &self.set
    }

    /// The workflows `event` starts, by name.
    pub fn triggered_by(&self, event: &TriggerEvent) -> Vec<String> {
        self.set
            .workflows
            .values()
            .filter(|w| triggers(w, event))
            .map(|w| w.name.clone())
            .collect()
    }

    /// Runs every workflow `event` starts, through the throttle (one run per incident for
    /// workflows with `throttle: per_incident`); throttled ones are recorded as such.
    pub async fn handle(
        &self,
        throttle: &mut Throttle,
        event: &TriggerEvent,
        opts: &RunOptions,
    ) -> Vec<RunRecord> {
        let mut out = Vec::new();
        for name in self.triggered_by(event) {
            let w = &self.set.workflows[&name];
            if w.throttle == ThrottlePolicy::PerIncident && !opts.dry_run {
                match throttle.admit(&name, event) {
                    Admission::Run => {}
                    Admission::Resolved => continue,
                    Admission::Throttled => {
                        out.push(self.throttled(w, event, opts));
                        continue;
                    }
                }
            }
            if let Ok(r) = self.run(&name, event, opts).await {
                out.push(r);
            }
        }
        // A resolution releases the throttle of workflows it does not trigger too.
        if event.subject().is_some_and(|(_, resolved)| resolved) {
            for name in self.set.workflows.keys() {
                throttle.admit(name, event);
            }
        }
        out
    }

    /// Runs workflow `name` for `event` (whatever its trigger says: a manual run).
    pub async fn run(
        &self,
        name: &str,
        event: &TriggerEvent,
        opts: &RunOptions,
    ) -> Result<RunRecord, EngineError> {
        let w = self.set.workflows.get(name).ok_or_else(|| {
            EngineError::UnknownWorkflow(
                name.to_string(),
                self.set
                    .workflows
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })?;
        let mut ctx = event.context();
        let (record, _) = self.run_workflow(w, event, &mut ctx, opts, 0).await;
        Ok(record)
    }

    /// The record of a run the throttle held back: no step ran.
    pub fn throttled(&self, w: &Workflow, event: &TriggerEvent, opts: &RunOptions) -> RunRecord {
        let mut r = self.empty_record(w, event, opts);
        r.status = Status::Throttled;
        r.error = Some(format!(
            "throttled: it already ran for {}, which has not resolved",
            event
                .subject()
                .map_or_else(|| "this incident".into(), |(s, _)| s)
        ));
        r
    }

    fn empty_record(&self, w: &Workflow, event: &TriggerEvent, opts: &RunOptions) -> RunRecord {
        let run_id = opts.run_id.clone().unwrap_or_else(|| {
            format!(
                "run-{}-{}",
                self.host.now(),
                RUN_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            )
        });
        RunRecord {
            run_id,
            workflow: w.name.clone(),
            dry_run: opts.dry_run,
            trigger: event.clone(),
            status: Status::Succeeded,
            steps: Vec::new(),
            audit: Vec::new(),
            error: None,
            started_at: self.host.now(),
            duration_ms: 0,
        }
    }

    /// Runs `w` on `ctx`; returns the record and the bound outputs.
    fn run_workflow<'a>(
        &'a self,
        w: &'a Workflow,
        event: &'a TriggerEvent,
        ctx: &'a mut Value,
        opts: &'a RunOptions,
        depth: usize,
    ) -> BoxFuture<'a, (RunRecord, Value)> {
        Box::pin(async move {
            let start = Instant::now();
            let mut record = self.empty_record(w, event, opts);
            ctx["workflow"] = json!({"name": w.name, "run_id": record.run_id});
            let audit = Mutex::new(Vec::new());
            let mut stopped: Option<String> = None;
            for step in &w.steps {
                if stopped.is_some() {
                    record.steps.push(StepRecord {
                        name: step.name.clone(),
                        action: step.action.clone(),
                        status: Status::NotRun,
                        condition: None,
                        input: None,
                        output: None,
                        attempts: Vec::new(),
                        error: None,
                        systems: Vec::new(),
                        rollback: None,
                        started_at: self.host.now(),
                        duration_ms: 0,
                    });
                    continue;
                }
                let rec = self.run_step(w, step, ctx, opts, &audit, depth).await;
                let status_name = serde_json::to_value(rec.status).unwrap_or(Value::Null);
                ctx["steps"][&step.name] = json!({"status": status_name, "output": rec.output});
                if matches!(rec.status, Status::Succeeded | Status::WouldRun)
                    && let Some(b) = self.registry.get(&step.action).and_then(|a| a.binds())
                {
                    ctx[b] = rec.output.clone().unwrap_or(Value::Null);
                }
                if rec.status == Status::Failed && !step.policy.continue_on_error {
                    stopped = Some(format!(
                        "step `{}` failed: {}",
                        step.name,
                        rec.error.clone().unwrap_or_default()
                    ));
                }
                record.steps.push(rec);
            }
            record.audit = audit.into_inner().unwrap_or_default();
            if let Some(e) = stopped {
                record.status = Status::Failed;
                record.error = Some(e);
            }
            record.duration_ms = start.elapsed().as_millis() as u64;
            let outputs = ctx["steps"].clone();
            (record, outputs)
        })
    }

    async fn run_step(
        &self,
        w: &Workflow,
        step: &Step,
        ctx: &Value,
        opts: &RunOptions,
        audit: &Mutex<Vec<AuditEntry>>,
        depth: usize,
    ) -> StepRecord {
        let env = expr::environment();
        let start = Instant::now();
        let mut rec = StepRecord {
            name: step.name.clone(),
            action: step.action.clone(),
            status: Status::Succeeded,
            condition: None,
            input: None,
            output: None,
            attempts: Vec::new(),
            error: None,
            systems: Vec::new(),
            rollback: None,
            started_at: self.host.now(),
            duration_ms: 0,
        };
        let fail = |mut rec: StepRecord, e: String| {
            rec.status = Status::Failed;
            rec.error = Some(e);
            rec.duration_ms = start.elapsed().as_millis() as u64;
            rec
        };
        let Some(action) = self.registry.get(&step.action).cloned() else {
            return fail(rec, format!("unknown action `{}`", step.action));
        };
        if let Some(c) = &step.condition {
            match expr::eval_condition(&env, &c.value, ctx) {
                Ok(value) => {
                    rec.condition = Some(Decision {
                        expression: c.value.clone(),
                        value,
                    });
                    if !value {
                        rec.status = Status::Skipped;
                        rec.duration_ms = start.elapsed().as_millis() as u64;
                        return rec;
                    }
                }
                Err(e) => return fail(rec, e),
            }
        }
        let items: Vec<Option<Value>> = match &step.foreach {
            None => vec![None],
            Some(f) => match expr::eval(&env, &f.value, ctx) {
                Ok(Value::Array(a)) => a.into_iter().map(Some).collect(),
                Ok(other) => return fail(rec, format!("foreach gave {other}, not a list")),
                Err(e) => return fail(rec, e),
            },
        };
        let configured = self.host.systems();
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        let mut failure: Option<(String, Value, Value)> = None;
        for item in items {
            let mut scope = ctx.clone();
            if let Some(i) = &item {
                scope["item"] = i.clone();
            }
            let params = match render_params(&env, step, &scope) {
                Ok(p) => p,
                Err(e) => {
                    failure = Some((e, Value::Null, scope));
                    break;
                }
            };
            for s in action.systems(&params) {
                let s = if configured.contains(&s) {
                    s
                } else {
                    format!("{s} (not configured)")
                };
                if !rec.systems.contains(&s) {
                    rec.systems.push(s);
                }
            }
            inputs.push(params.clone());
            if opts.dry_run && action.name() != RUN_WORKFLOW && action.effect() == Effect::External
            {
                rec.status = Status::WouldRun;
                outputs.push(
                    opts.assume
                        .get(&step.name)
                        .cloned()
                        .unwrap_or_else(|| strip_open(action.output_sample())),
                );
                continue;
            }
            let result = if action.name() == RUN_WORKFLOW {
                self.call_workflow(&params, &scope, opts, depth).await
            } else {
                self.attempts(w, step, action.as_ref(), &scope, &params, audit, &mut rec)
                    .await
            };
            match result {
                Ok(v) => outputs.push(v),
                Err(e) => {
                    failure = Some((e, params, scope));
                    break;
                }
            }
        }
        rec.input = Some(if step.foreach.is_some() {
            Value::Array(inputs)
        } else {
            inputs.into_iter().next().unwrap_or(Value::Null)
        });
        if let Some((e, params, scope)) = failure {
            if step.policy.rollback_on_failure && !opts.dry_run && action.has_compensation() {
                let actx = ActionCtx {
                    host: self.host.as_ref(),
                    context: &scope,
                    workflow: &w.name,
                    step: &step.name,
                    remediation: &self.remediation,
                    audit,
                };
                let r = action.compensate(&actx, &params).await;
                rec.rollback = Some(match r {
                    Ok(v) => Rollback {
                        status: Status::Succeeded,
                        output: Some(v),
                        error: None,
                    },
                    Err(e) => Rollback {
                        status: Status::Failed,
                        output: None,
                        error: Some(e),
                    },
                });
            }
            return fail(rec, e);
        }
        rec.output = Some(if step.foreach.is_some() {
            Value::Array(outputs)
        } else {
            outputs.into_iter().next().unwrap_or(Value::Null)
        });
        rec.duration_ms = start.elapsed().as_millis() as u64;
        rec
    }

    /// Runs the action up to `max_attempts` times with exponential backoff, each attempt
    /// within the timeout; a refusal is not retried.
    #[allow(clippy::too_many_arguments)]
    async fn attempts(
        &self,
        w: &Workflow,
        step: &Step,
        action: &dyn crate::action::Action,
        scope: &Value,
        params: &Value,
        audit: &Mutex<Vec<AuditEntry>>,
        rec: &mut StepRecord,
    ) -> Result<Value, String> {
        let actx = ActionCtx {
            host: self.host.as_ref(),
            context: scope,
            workflow: &w.name,
            step: &step.name,
            remediation: &self.remediation,
            audit,
        };
        let mut backoff = step.policy.backoff_ms.max(0) as u64;
        let mut last = String::new();
        for n in 1..=step.policy.max_attempts {
            let started_at = self.host.now();
            let t = Instant::now();
            let run = action.execute(&actx, params);
            let result = match step.policy.timeout_ms {
                Some(ms) => match tokio::time::timeout(Duration::from_millis(ms as u64), run).await
                {
                    Ok(r) => r,
                    Err(_) => Err(ActionError::Failed(format!("timed out after {ms} ms"))),
                },
                None => run.await,
            };
            let duration_ms = t.elapsed().as_millis() as u64;
            match result {
                Ok(v) => {
                    rec.attempts.push(Attempt {
                        started_at,
                        duration_ms,
                        error: None,
                    });
                    return Ok(v);
                }
                Err(e) => {
                    last = e.to_string();
                    let refused = matches!(e, ActionError::Refused(_) | ActionError::Params(_));
                    rec.attempts.push(Attempt {
                        started_at,
                        duration_ms,
                        error: Some(e),
                    });
                    if refused {
                        break;
                    }
                    if n < step.policy.max_attempts {
                        tokio::time::sleep(Duration::from_millis(backoff)).await;
                        backoff = backoff.saturating_mul(2);
                    }
                }
            }
        }
        Err(last)
    }

    /// `run_workflow`: the named workflow on this run's context plus `inputs`.
    async fn call_workflow(
        &self,
        params: &Value,
        scope: &Value,
        opts: &RunOptions,
        depth: usize,
    ) -> Result<Value, String> {
        if depth + 1 >= MAX_DEPTH {
            return Err(format!(
                "workflows call each other more than {MAX_DEPTH} deep"
            ));
        }
        let name = params
            .get("workflow")
            .and_then(Value::as_str)
            .ok_or("run_workflow needs `workflow`")?;
        let w = self
            .set
            .workflows
            .get(name)
            .ok_or_else(|| format!("no workflow `{name}`"))?;
        let mut ctx = scope.clone();
        if let Some(i) = params.get("inputs") {
            ctx["inputs"] = i.clone();
        }
        ctx["steps"] = json!({});
        let event = TriggerEvent::Manual {
            inputs: ctx["inputs"].clone(),
        };
        let sub_opts = RunOptions {
            run_id: None,
            ..opts.clone()
        };
        let (r, outputs) = self
            .run_workflow(w, &event, &mut ctx, &sub_opts, depth + 1)
            .await;
        let out = json!({
            "workflow": name,
            "run_id": r.run_id,
            "status": r.status,
            "outputs": outputs,
            "steps": r.steps,
        });
        if r.status == Status::Failed {
            return Err(format!(
                "workflow `{name}` failed: {}",
                r.error.unwrap_or_default()
            ));
        }
        Ok(out)
    }
}

/// An output sample without the `"*"` markers of open maps.
fn strip_open(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| k != "*")
                .map(|(k, v)| (k, strip_open(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_open).collect()),
        other => other,
    }
}

/// Renders a step's params with `scope`: a text that is one `{{ expression }}` keeps the
/// expression's type, other templates render to text, strictly.
pub(crate) fn render_params(
    env: &minijinja::Environment<'static>,
    step: &Step,
    scope: &Value,
) -> Result<Value, String> {
    let mut out = serde_json::Map::new();
    for (k, v) in &step.params {
        out.insert(
            k.clone(),
            render_value(env, &format!("{}.params.{k}", step.name), &v.value, scope)?,
        );
    }
    Ok(Value::Object(out))
}

/// Renders one value (recursively): a text that is one `{{ expression }}` keeps the
/// expression's type, other templates render to text, strictly.
pub(crate) fn render_value(
    env: &minijinja::Environment<'static>,
    name: &str,
    v: &Value,
    scope: &Value,
) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) if expr::is_template(s) => match expr::single_expression(s) {
            Some(_) => expr::eval(env, &expr::normalize(s), scope)
                .map_err(|e| format!("param `{name}`: {e}"))?,
            None => Value::String(
                StrictTemplate::compile(name, s, scope)
                    .and_then(|t| t.render(scope))
                    .map_err(|e| e.to_string())?,
            ),
        },
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| render_value(env, name, x, scope))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), render_value(env, name, x, scope)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}
