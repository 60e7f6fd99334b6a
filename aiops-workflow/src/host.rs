//! What the engine needs from the service: [`ActionHost`] (RCA, forecasts, notifications,
//! tickets, annotations, stored metrics, HTTP), and the remediation allow-list
//! ([`Remediation`]) that commands and HTTP targets are run from.
//!
//! Every host method has a default that answers "not configured", so a host implements only
//! what it has; lint and dry runs need none of them.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, Instant};

use aiops_core::TimestampMs;
use aiops_integrations::traits::{Annotation, Delivery, Notification, TicketRef};
use serde::{Deserialize, Serialize};

use crate::action::{ActionError, BoxFuture};

/// What a host call returns.
pub type HostResult<T> = Result<T, ActionError>;

fn not_configured<'a, T: Send + 'a>(what: &str) -> BoxFuture<'a, HostResult<T>> {
    let e = ActionError::NotConfigured(what.to_string());
    Box::pin(async move { Err(e) })
}

/// An RCA request (`run_rca`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RcaRequest {
    /// How far back to look, ms.
    pub window_ms: i64,
    /// Methods to use (`topology`, `temporal`, `causal`); all the host has when empty.
    pub methods: Vec<String>,
    /// The run's context (the alert or incident it is about).
    pub context: serde_json::Value,
}

/// One root-cause candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RcaCandidate {
    /// The resource (`db`).
    pub resource: String,
    /// Its score in [0, 1].
    pub score: f64,
}

/// What RCA found (bound to `rca`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RcaResult {
    /// Confidence in the top candidate, in [0, 1].
    pub confidence: f64,
    /// The top candidate, when there is one.
    pub root_cause: Option<String>,
    /// Candidates, best first.
    pub candidates: Vec<RcaCandidate>,
    /// A remediation the runbooks suggest: the name of an allow-listed command or HTTP target.
    pub remediation: Option<String>,
}

/// A capacity forecast request (`run_capacity_forecast`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityRequest {
    /// How far ahead, ms.
    pub horizon_ms: i64,
    /// Resources to forecast; every one the host knows when empty (`resources: all`).
    pub resources: Vec<String>,
}

/// One resource's forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceForecast {
    /// The resource (`db:disk`).
    pub resource: String,
    /// Utilisation now, a fraction of capacity.
    pub current: f64,
    /// Highest forecast utilisation within the horizon, a fraction.
    pub peak: f64,
    /// Time until it reaches capacity, ms; `None` when not within the horizon.
    pub saturation_ms: Option<i64>,
}

/// A ticket to open (`create_ticket`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketRequest {
    /// The project (`OPS`).
    pub project: Option<String>,
    /// The issue type (`Incident`, `Task`).
    pub issue_type: Option<String>,
    /// The priority as the workflow renders it (`critical`).
    pub priority: Option<String>,
    /// What it is about.
    pub notification: Notification,
}

/// An HTTP call to a configured target (remediation through HTTP).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpCall {
    /// The target's name in the allow-list.
    pub target: String,
    /// `POST`, `PUT`...
    pub method: String,
    /// The rendered URL.
    pub url: String,
    /// The rendered JSON body.
    pub body: Option<serde_json::Value>,
}

/// The service's side of the actions.
pub trait ActionHost: Send + Sync + std::fmt::Debug {
    /// The systems configured (`jira`, `slack`, `grafana`...): a step naming another one is a
    /// lint warning.
    fn systems(&self) -> Vec<String> {
        Vec::new()
    }
    /// Now, ms since the epoch.
    fn now(&self) -> TimestampMs {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
    /// Context around the trigger: `include` names what (`recent_changes`, `related_alerts`,
    /// `resource_health`); the answer has one key per name.
    fn fetch_context<'a>(
        &'a self,
        _context: &'a serde_json::Value,
        _include: &'a [String],
    ) -> BoxFuture<'a, HostResult<serde_json::Value>> {
        not_configured("context sources")
    }
    /// Root-cause analysis (the service runs aiops-rca on stored data).
    fn run_rca<'a>(&'a self, _req: &'a RcaRequest) -> BoxFuture<'a, HostResult<RcaResult>> {
        not_configured("rca")
    }
    /// Capacity forecasts (the service runs aiops-forecast on stored data).
    fn forecast_capacity<'a>(
        &'a self,
        _req: &'a CapacityRequest,
    ) -> BoxFuture<'a, HostResult<Vec<ResourceForecast>>> {
        not_configured("capacity forecasts")
    }
    /// Sends `n` to `channel` (`slack`, `pagerduty`, `default`).
    fn notify<'a>(
        &'a self,
        channel: &'a str,
        _n: &'a Notification,
    ) -> BoxFuture<'a, HostResult<Delivery>> {
        not_configured(channel)
    }
    /// Opens (or finds: one per incident) a ticket in `system`.
    fn open_ticket<'a>(
        &'a self,
        system: &'a str,
        _req: &'a TicketRequest,
    ) -> BoxFuture<'a, HostResult<TicketRef>> {
        not_configured(system)
    }
    /// Writes an annotation on `dashboard`; returns its id.
    fn annotate<'a>(
        &'a self,
        dashboard: &'a str,
        _a: &'a Annotation,
    ) -> BoxFuture<'a, HostResult<String>> {
        not_configured(dashboard)
    }
    /// Stored values of `metric` for the series matching `labels`, between `from` and `to` (ms).
    fn metric_values<'a>(
        &'a self,
        _metric: &'a str,
        _labels: &'a BTreeMap<String, String>,
        _from: TimestampMs,
        _to: TimestampMs,
    ) -> BoxFuture<'a, HostResult<Vec<f64>>> {
        not_configured("metrics")
    }
    /// Waits `ms` (a monitoring window); the default sleeps.
    fn wait<'a>(&'a self, ms: i64) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(ms.max(0) as u64)).await;
        })
    }
    /// Calls a configured HTTP target.
    fn http<'a>(&'a self, call: &'a HttpCall) -> BoxFuture<'a, HostResult<serde_json::Value>> {
        not_configured(&call.target)
    }
}

/// A host with nothing configured (lint, dry runs).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHost;

impl ActionHost for NoHost {}

/// A command on the allow-list: a program and its arguments, each argument a template
/// rendered with the run's context and the step's `params`. Never run through a shell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// The program (`kubectl`), found on `PATH` or absolute.
    pub program: String,
    /// Arguments, templates (`{{ params.deployment }}`).
    #[serde(default)]
    pub args: Vec<String>,
    /// The allow-listed command or target that undoes this one.
    #[serde(default)]
    pub rollback: Option<String>,
    /// Time it may take (`2m`); the default is 5 minutes.
    #[serde(default)]
    pub timeout: Option<aiops_core::time::Duration>,
}

/// An HTTP target on the allow-list; the host makes the call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTarget {
    /// `POST` by default.
    #[serde(default = "post")]
    pub method: String,
    /// The URL, a template.
    pub url: String,
    /// The JSON body; texts in it are templates (a text that is one `{{ expression }}` keeps
    /// its type: `replicas: "{{ params.replicas }}"` stays a number).
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// The allow-listed command or target that undoes this one.
    #[serde(default)]
    pub rollback: Option<String>,
}

fn post() -> String {
    "POST".into()
}

/// The remediation allow-list: what `execute_remediation`, `rollback_deployment` and `scale`
/// may run. Anything else is refused and audited.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remediation {
    /// Commands by name.
    #[serde(default)]
    pub commands: BTreeMap<String, CommandSpec>,
    /// HTTP targets by name.
    #[serde(default)]
    pub http: BTreeMap<String, HttpTarget>,
    /// The command or target an action runs when its step names none
    /// (`rollback_deployment: kubectl_rollout_undo`).
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
}

/// The audit record of one remediation attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When, ms since the epoch.
    pub time: TimestampMs,
    /// The workflow.
    pub workflow: String,
    /// The step.
    pub step: String,
    /// The action (`execute_remediation`, or `rollback:<action>` for a compensation).
    pub action: String,
    /// The command or target name asked for (empty when none was named or configured).
    pub target: String,
    /// What ran: the program and its arguments, or the method and URL.
    pub argv: Vec<String>,
    /// `succeeded`, `failed`, `refused`, or `started` when the step was stopped (timed out)
    /// before it ended.
    pub outcome: String,
    /// The exit status, the answer or why it was refused.
    pub detail: String,
}

/// A finished command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutput {
    /// The exit code (`None` when killed).
    pub code: Option<i32>,
    /// Standard output (at most 64 KiB kept).
    pub stdout: String,
    /// Standard error (at most 64 KiB kept).
    pub stderr: String,
}

const KEEP: usize = 64 * 1024;

/// Runs `program` with `args` (no shell), killing it after `timeout`.
pub(crate) async fn run_command(
    program: &str,
    args: &[String],
    timeout: Duration,
) -> Result<CommandOutput, String> {
    let child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start `{program}`: {e}"))?;
    // Killed when dropped: a step timeout drops this future, and the command must not outlive it.
    let mut child = KillOnDrop(child);
    // Reading the pipes in threads keeps a chatty child from blocking on a full pipe.
    let read = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf.truncate(KEEP);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = read(
        child
            .0
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = read(
        child
            .0
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        match child.0.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() >= timeout => {
                drop(child);
                return Err(format!(
                    "`{program}` killed after {} ms",
                    timeout.as_millis()
                ));
            }
            Ok(None) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(e) => return Err(format!("`{program}`: {e}")),
        }
    };
    Ok(CommandOutput {
        code: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// A child process killed (and reaped) when dropped unless it has exited.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
