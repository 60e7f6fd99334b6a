//! The built-in actions: every action the design document's workflows name, each working
//! through the [`ActionHost`](crate::host::ActionHost) or computing from the context, and the
//! remediation actions, which run only allow-listed commands and HTTP targets.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aiops_core::Severity;
use aiops_integrations::template::StrictTemplate;
use aiops_integrations::traits::{Annotation, Notification, NotificationKind};
use serde_json::{Value, json};

use crate::action::{
    Action, ActionCtx, ActionError, BoxFuture, Effect, ParamKind, ParamSpec, param_duration,
    param_percent, param_str, param_strings,
};
use crate::host::{AuditEntry, CapacityRequest, HttpCall, RcaRequest, TicketRequest};

/// The name of the action that runs another workflow (handled by the engine).
pub const RUN_WORKFLOW: &str = "run_workflow";

/// Every built-in action.
pub fn all() -> Vec<Arc<dyn Action>> {
    vec![
        Arc::new(FetchContext),
        Arc::new(RunRca),
        Arc::new(CreateTicket),
        Arc::new(SendNotification),
        Arc::new(Remediate::EXECUTE),
        Arc::new(Remediate::ROLLBACK),
        Arc::new(Remediate::SCALE),
        Arc::new(RunCapacityForecast),
        Arc::new(EvaluateThresholds),
        Arc::new(CreateRecommendations),
        Arc::new(CreateDeploymentMarker),
        Arc::new(StartMonitoring),
        Arc::new(CompareBaselines),
        Arc::new(RunWorkflow),
    ]
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, ActionError> {
    serde_json::to_value(v).map_err(|e| ActionError::Failed(e.to_string()))
}

/// The notification a step sends or files: about the incident when the run has one, else
/// the alert, else the workflow itself.
pub fn notification_from_context(ctx: &Value, workflow: &str, now: i64) -> Notification {
    if let Some(inc) = ctx
        .get("incident")
        .and_then(|i| serde_json::from_value::<aiops_core::Incident>(i.clone()).ok())
    {
        return Notification::for_incident(NotificationKind::IncidentOpened, &inc, None);
    }
    let labels: BTreeMap<String, String> = ctx
        .pointer("/alert/labels")
        .and_then(|l| serde_json::from_value(l.clone()).ok())
        .unwrap_or_default();
    let severity = ctx
        .pointer("/alert/severity")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Severity>().ok())
        .unwrap_or(Severity::Info);
    let title = ctx
        .pointer("/alert/name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("workflow {workflow}"));
    let summary = ctx
        .pointer("/alert/annotations/summary")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| title.clone());
    let root_cause = ctx
        .pointer("/rca/root_cause")
        .and_then(Value::as_str)
        .map(str::to_string);
    let (mut title, mut summary, mut severity) = (title, summary, severity);
    if ctx.get("alert").is_none_or(Value::is_null)
        && let Some((t, s, sev)) = capacity_text(ctx)
    {
        (title, summary, severity) = (t, s, sev);
    }
    Notification {
        kind: NotificationKind::IncidentOpened,
        status: "firing".into(),
        title,
        summary,
        severity,
        incident_id: ctx
            .pointer("/alert/fingerprint")
            .and_then(Value::as_str)
            .map(str::to_string),
        incident: None,
        root_cause,
        labels,
        url: None,
        timestamp: now,
    }
}

/// `ms` as a duration to the minute (`1d2h5m`).
fn in_minutes(ms: i64) -> String {
    aiops_core::time::Duration::from_mins((ms / 60_000).max(1)).to_string()
}

/// The title, summary and severity of a run about capacity (no alert, a `forecast` bound):
/// the resources that saturate within the horizon, soonest first, and the levels crossed.
fn capacity_text(ctx: &Value) -> Option<(String, String, Severity)> {
    let resources = ctx.pointer("/forecast/resources")?.as_array()?;
    let mut saturating: Vec<(i64, &str)> = resources
        .iter()
        .filter_map(|r| {
            let ms = r.get("saturation_ms")?.as_i64()?;
            Some((ms, r.get("resource")?.as_str()?))
        })
        .collect();
    saturating.sort_unstable();
    let status = ctx
        .pointer("/thresholds/status")
        .and_then(Value::as_str)
        .unwrap_or("ok");
    let severity = match status {
        "critical" => Severity::Critical,
        "warning" => Severity::Medium,
        _ if saturating.is_empty() => Severity::Info,
        _ => Severity::Low,
    };
    let title = match saturating.first() {
        Some((ms, r)) => format!(
            "Capacity: {r} saturates in {}{}",
            in_minutes(*ms),
            match saturating.len() {
                1 => String::new(),
                n => format!(" ({} more resources within the horizon)", n - 1),
            }
        ),
        None => format!(
            "Capacity: {} resources forecast, none saturates",
            resources.len()
        ),
    };
    let mut lines: Vec<String> = saturating
        .iter()
        .map(|(ms, r)| format!("{r}: saturates in {}", in_minutes(*ms)))
        .collect();
    for level in ["critical", "warning"] {
        if let Some(over) = ctx
            .pointer(&format!("/thresholds/{level}"))
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
        {
            let names: Vec<&str> = over.iter().filter_map(Value::as_str).collect();
            lines.push(format!("above the {level} level: {}", names.join(", ")));
        }
    }
    Some((title, lines.join("\n"), severity))
}

/// `fetch_context`: context around the trigger from the host.
#[derive(Debug)]
struct FetchContext;

impl Action for FetchContext {
    fn name(&self) -> &'static str {
        "fetch_context"
    }
    fn doc(&self) -> &'static str {
        "Gathers context around the trigger (recent changes, related alerts, resource health); bound to `context`."
    }
    fn params(&self) -> &'static [ParamSpec] {
        const P: &[ParamSpec] = &[ParamSpec::optional(
            "include",
            ParamKind::StringList,
            "what to gather: recent_changes, related_alerts, resource_health",
        )];
        P
    }
    fn output_sample(&self) -> Value {
        json!({"recent_changes": [], "related_alerts": [], "resource_health": {"*": null}})
    }
    fn binds(&self) -> Option<&'static str> {
        Some("context")
    }
    fn execute<'a>(
        &'a self,
        ctx: &'a ActionCtx<'a>,
        params: &'a Value,
    ) -> BoxFuture<'a, Result<Value, ActionError>> {
        Box::pin(async move {
            let include = param_strings(params, "include");
            let mut out = ctx.host.fetch_context(ctx.context, &include).await?;
            // Every asked-for key is present, so later expressions never read a missing one.
            if let Value::Object(map) = &mut out {
                for k in &include {
                    map.entry(k.clone()).or_insert(Value::Null);
                }
            }
            Ok(out)
        })
    }
}

/// `run_rca`: root-cause analysis through the host.
#[derive(Debug)]
struct RunRca;

impl Action for RunRca {
    fn name(&self) -> &'static str {
        "run_rca"
    }
    fn doc(&self) -> &'static str {
        "Ranks root-cause candidates for the alert or incident; bound to `rca` (`confidence`, `root_cause`, `candidates`, `remediation`)."
    }
    fn params(&self) -> &'static [ParamSpec] {
        const P: &[ParamSpec] = &[
            ParamSpec::optional(
                "time_window",
                ParamKind::Duration,
                "how far back to look (default 30m)",
            ),
            ParamSpec::optional(
                "methods",
                ParamKind::StringList,
                "topology, temporal, causal (default: all)",
            ),
        ];
        P
    }
    fn output_sample(&self) -> Value {
        json!({"confidence": 0.0, "root_cause": "", "candidates": [{"resource": "", "score": 0.0}], "remediation": ""})
    }
    fn binds(&self) -> Option<&'static str> {
        Some("rca")
    }
    fn execute<'a>(
        &'a self,
        ctx: &'a ActionCtx<'a>,
        params: &'a Value,
    ) -> BoxFuture<'a, Result<Value, ActionError>> {
        Box::pin(async move {
            let req = RcaRequest {
                window_ms: param_duration(params, "time_window")?.unwrap_or(30 * 60_000),
                methods: param_strings(params, "methods"),
                context: ctx.context.clone(),
            };
            to_value(&ctx.host.run_rca(&req).await?)
        })
    }
}

/// `create_ticket`: one ticket per incident in a ticketing system.
#[derive(Debug)]
struct CreateTicket;

impl Action for CreateTicket {
    fn name(&self) -> &'static str {
        "create_ticket"
    }
    fn doc(&self) -> &'static str {
        "Opens a ticket (or finds the incident's ticket) in `system`; bound to `ticket` (`system`, `key`, `url`)."
    }
    fn params(&self) -> &'static [ParamSpec] {
        const P: &[ParamSpec] = &[
            ParamSpec::required("system", ParamKind::String, "jira, servicenow, pagerduty"),
            ParamSpec::optional("project", ParamKind::String, "the project (OPS)"),
            ParamSpec::optional("type", ParamKind::String, "the issue type (Incident, Task)"),
            ParamSpec::optional("priority", ParamKind::String, "the priority"),
            ParamSpec::optional(
                "title",
                ParamKind::String,
                "the title (default: the incident's)",
            ),
        ];
        P
    }
    fn output_sample(&self) -> Value {
        json!({"system": "", "key": "", "url": ""})
    }
    fn binds(&self) -> Option<&'static str> {
        Some("ticket")
    }
    fn systems(&self, params: &Value) -> Vec<String> {
        param_strings(params, "system")
    }
    fn execute<'a>(
        &'a self,
        ctx: &'a ActionCtx<'a>,
        params: &'a Value,
    ) -> BoxFuture<'a, Result<Value, ActionError>> {
        Box::pin(async move {
            let system = param_str(params, "system")
                .ok_or_else(|| ActionError::Params("`system` is required".into()))?;
            let mut n = notification_from_context(ctx.context, ctx.workflow, ctx.host.now());
            if let Some(t) = param_str(params, "title") {
                n.title = t.to_string();
            }
            if n.incident_id.is_none() {
                // Ticketing keys tickets by incident: a run without one keys by workflow.
                n.incident_id = Some(format!("workflow:{}", ctx.workflow));
            }
            let req = TicketRequest {
                project: param_str(params, "project").map(str::to_string),
                issue_type: param_str(params, "type").map(str::to_string),
                priority: param_str(params, "priority").map(str::to_string),
                notification: n,
            };
            to_value(&ctx.host.open_ticket(system, &req).await?)
        })
    }
}

/// `send_notification`: the incident to every channel.
#[derive(Debug)]
struct SendNotification;

impl Action for SendNotification {
    fn name(&self) -> &'static str {
        "send_notification"
    }
    fn doc(&self) -> &'static str {
        "Sends the incident (or alert) to every channel; fails when one fails; bound to `notification` (`deliveries`)."
    }
    fn params(&self) -> &'static [ParamSpec] {
        const P: &[ParamSpec] = &[
            ParamSpec::required(
                "channels",
                ParamKind::StringList,
                "slack, pagerduty, dingtalk, email...",
            ),
            ParamSpec::optional(
                "escalation_policy",
                ParamKind::String,
                "passed to paging systems",
            ),
            ParamSpec::optional(
                "title",
                ParamKind::String,
                "the title (default: the incident's)",
            ),
            ParamSpec::optional(
                "message",
                ParamKind::String,
                "the text (default: the incident summary)",
            ),
        ];
        P
    }
    fn output_sample(&self) -> Value {
        json!({"deliveries": [{"channel": "", "attempts": 1, "detail": ""}]})
    }
    fn binds(&self) -> Option<&'static str> {
        Some("notification")
    }
    fn systems(&self, params: &Value) -> Vec<String> {
        param_strings(params, "channels")
    }
    fn execute<'a>(
        &'a self,
        ctx: &'a ActionCtx<'a>,
        params: &'a Value,
    ) -> BoxFuture<'a, Result<Value, ActionError>> {
        Box::pin(async move {
            let mut n = notification_from_context(ctx.context, ctx.workflow, ctx.host.now());
            if let Some(t) = param_str(params, "title") {
                n.title = t.to_string();
            }
            if let Some(m) = param_str(params, "message") {
                n.summary = m.to_string();
            }
            if let Some(p) = param_str(params, "escalation_policy") {
                n.labels.insert("escalation_policy".into(), p.to_string());
            }
            let mut deliveries = Vec::new();
            for channel in param_strings(params, "channels") {
                let d = ctx.host.notify(&channel, &n).await?;
                deliveries
                    .push(json!({"channel": channel, "attempts": d.attempts, "detail": d.detail}));
            }
            Ok(json!({ "deliveries": deliveries }))
        })
    }
}

/// `execute_remediation`, `rollback_deployment` and `scale`: an allow-listed command or HTTP
/// target, chosen by the step (`command:` / `target:`), by RCA (`rca.remediation`, for
/// `execute_remediation`) or by the configuration's default for the action.
#[derive(Debug)]
struct Remediate {
    name: &'static str,
    doc: &'static str,
    binds: &'static str,
}

impl Remediate {
    const EXECUTE: Remediate = Remediate {
        name: "execute_remediation",
        doc: "Runs an allow-listed command or HTTP target (the step's `command`/`target`, else RCA's `remediation`, else the configured default); compensates with the target's `rollback`; bound to `remediation`.",
        binds: "remediation",
    };
    const ROLLBACK: Remediate = Remediate {
        name: "rollback_deployment",
        doc: "Rolls a deployment back through an allow-listed command (`kubectl rollout undo`) or HTTP target; `notify: true` tells the `default` channel, `ticket: create` opens a ticket in the `default` system; bound to `rollback`.",
        binds: "rollback",
    };
    const SCALE: Remediate = Remediate {
        name: "scale",
        doc: "Scales through an allow-listed command (`kubectl scale`) or HTTP target, `replicas` available to its templates; bound to `scale`.",
        binds: "scale",
    };
}

const REMEDIATE_PARAMS: &[ParamSpec] = &[
    ParamSpec::optional(
        "command",
        ParamKind::String,
        "an allow-listed command's name",
    ),
    ParamSpec::optional(
        "target",
        ParamKind::String,
        "an allow-listed HTTP target's name",
    ),
    ParamSpec::optional(
        "args",
        ParamKind::Any,
        "values for the command's templates (`params.args.x`)",
    ),
    ParamSpec::optional("replicas", ParamKind::Integer, "for scale"),
    ParamSpec::optional(
        "notify",
        ParamKind::Bool,
        "rollback_deployment: tell the `default` channel",
    ),
    ParamSpec::optional(
        "ticket",
        ParamKind::String,
        "rollback_deployment: `create` opens a ticket",
    ),
];

impl Remediate {
    /// The target to run: named, suggested by RCA, or the configured default.
    fn choose(&self, ctx: &ActionCtx<'_>, params: &Value) -> Option<String> {
        param_str(params, "command")
            .or_else(|| param_str(params, "target"))
            .map(str::to_string)
            .or_else(|| {
                (self.name == "execute_remediation")
                    .then(|| {
                        ctx.context
                            .pointer("/rca/remediation")
                            .and_then(Value::as_str)
                    })
                    .flatten()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            })
            .or_else(|| ctx.remediation.defaults.get(self.name).cloned())
    }
}

/// Runs allow-listed `name` (a command or an HTTP target) and audits it; anything else is
/// refused and audited.
pub(crate) async fn run_allowed(
    ctx: &ActionCtx<'_>,
    action: &str,
    name: Option<&str>,
    params: &Value,
) -> Result<Value, ActionError> {
    let mut entry = AuditEntry {
        time: ctx.host.now(),
        workflow: ctx.workflow.to_string(),
        step: ctx.step.to_string(),
        action: action.to_string(),
        target: name.unwrap_or_default().to_string(),
        argv: Vec::new(),
        outcome: "started".into(),
        detail: String::new(),
    };
    // Written before anything runs, so a step timing out in the middle leaves its entry.
    let slot = ctx.audit(entry.clone());
    let mut scope = ctx.context.clone();
    if let Value::Object(m) = &mut scope {
        m.insert("params".into(), params.clone());
    }
    let render = |what: &str, src: &str| -> Result<String, ActionError> {
        StrictTemplate::compile(what, src, &scope)
            .and_then(|t| t.render(&scope))
            .map_err(|e| ActionError::Params(e.to_string()))
    };
    let result = match name {
        None => Err(ActionError::Refused(format!(
            "no command or target named, suggested by RCA or configured for `{action}`"
        ))),
        Some(n) if ctx.remediation.commands.contains_key(n) => {
            let spec = &ctx.remediation.commands[n];
            let args: Result<Vec<String>, ActionError> = spec
                .args
                .iter()
                .enumerate()
                .map(|(i, a)| render(&format!("commands.{n}.args[{i}]"), a))
                .collect();
            match args {
                Err(e) => Err(e),
                Ok(args) => {
                    entry.argv = std::iter::once(spec.program.clone())
                        .chain(args.iter().cloned())
                        .collect();
                    ctx.audit_update(slot, entry.clone());
                    let timeout = spec.timeout.map(|d| d.as_millis()).unwrap_or(300_000);
                    match crate::host::run_command(
                        &spec.program,
                        &args,
                        Duration::from_millis(timeout.max(1) as u64),
                    )
                    .await
                    {
                        Err(e) => Err(ActionError::Failed(e)),
                        Ok(out) if out.code == Some(0) => Ok(json!({
                            "target": n, "kind": "command", "argv": entry.argv,
                            "code": out.code, "stdout": out.stdout, "stderr": out.stderr,
                        })),
                        Ok(out) => Err(ActionError::Failed(format!(
                            "`{}` exited with {}: {}",
                            spec.program,
                            out.code.map_or("a signal".into(), |c| c.to_string()),
                            out.stderr.trim()
                        ))),
                    }
                }
            }
        }
        Some(n) if ctx.remediation.http.contains_key(n) => {
            let t = &ctx.remediation.http[n];
            let call = (|| -> Result<HttpCall, ActionError> {
                let url = render(&format!("http.{n}.url"), &t.url)?;
                let env = crate::expr::environment();
                let body = t
                    .body
                    .as_ref()
                    .map(|b| {
                        crate::engine::render_value(&env, &format!("http.{n}.body"), b, &scope)
                            .map_err(ActionError::Params)
                    })
                    .transpose()?;
                Ok(HttpCall {
                    target: n.to_string(),
                    method: t.method.clone(),
                    url,
                    body,
                })
            })();
            match call {
                Err(e) => Err(e),
                Ok(call) => {
                    entry.argv = vec![call.method.clone(), call.url.clone()];
                    ctx.audit_update(slot, entry.clone());
                    ctx.host.http(&call).await.map(|answer| {
                        json!({"target": n, "kind": "http", "argv": entry.argv, "answer": answer})
                    })
                }
            }
        }
        Some(n) => Err(ActionError::Refused(format!(
            "`{n}` is not on the remediation allow-list (commands: {}; http: {})",
            names(ctx.remediation.commands.keys()),
            names(ctx.remediation.http.keys()),
        ))),
    };
    match &result {
        Ok(_) => {
            entry.outcome = "succeeded".into();
        }
        Err(ActionError::Refused(why)) => {
            entry.outcome = "refused".into();
            entry.detail = why.clone();
        }
        Err(e) => {
            entry.outcome = "failed".into();
            entry.detail = e.to_string();
        }
    }
    ctx.audit_update(slot, entry);
    result
}

fn names<'a>(it: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = it.map(String::as_str).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

impl Action for Remediate {
    fn name(&self) -> &'static str {
        self.name
    }
    fn doc(&self) -> &'static str {
        self.doc
    }
    fn params(&self) -> &'static [ParamSpec] {
        REMEDIATE_PARAMS
    }
    fn output_sample(&self) -> Value {
        json!({"target": "", "kind": "command", "argv": [""], "code": 0, "stdout": "", "stderr": "",
               "answer": null, "notified": false, "ticket": null})
    }
    fn binds(&self) -> Option<&'static str> {
        Some(self.binds)
    }
    fn execute<'a>(
        &'a self,
        ctx: &'a ActionCtx<'a>,
        params: &'a Value,
    ) -> BoxFuture<'a, Result<Value, ActionError>> {
        Box::pin(async move {
            let target = self.choose(ctx, params);
            let mut out = run_allowed(ctx, self.name, target.as_deref(), params).await?;
            if self.name == "rollback_deployment" {
                let n = notification_from_context(ctx.context, ctx.workflow, ctx.host.now());
                if params.get("notify").and_then(Value::as_bool) == Some(true) {
                    ctx.host.notify("default", &n).await?;
                    out["notified"] = json!(true);
                }
                if param_str(params, "ticket") == Some("create") {
                    let mut n = n;
                    n.incident_id
                        .get_or_insert_with(|| format!("workflow:{}", ctx.workflow));
                    let req = TicketRequest {
                        project: None,
                        issue_type: None,
                        priority: None,
                        notification: n,
                    };
                    out["ticket"] = to_value(&ctx.host.open_ticket("default", &req).await?)?;
                }
            }
            Ok(out)
        })
    }
    fn has_compensation(&self) -> bool {
        true
    }
    fn compensate<'a>(
        &'a self,
        ctx: &'a ActionCtx<'a>,
        params: &'a Value,
    ) -> BoxFuture<'a, Result<Value, ActionError>> {
        Box::pin(async move {
            let target = self.choose(ctx, params);
            let undo = target.as_deref().and_then(|t| {
                ctx.remediation
                    .commands
                    .get(t)
                    .and_then(|c| c.rollback.clone())
                    .or_else(|| ctx.remediation.http.get(t).and_then(|h| h.rollback.clone()))
            });
            run_allowed(
                ctx,
                &format!("rollback:{}", self.name),
                undo.as_deref(),
                params,
            )
            .await
        })
    }
}

/// `run_capacity_forecast`: when each resource saturates, through the host.
#[derive(Debug)]
struct RunCapacityForecast;

impl Action for RunCapacityForecast {
    fn name(&self) -> &'static str {
        "run_capacity_forecast"
    }
    fn doc(&self) -> &'static str {
        "Forecasts utilisation per resource; bound to `forecast` (`saturation_time`: ms until the first resource saturates, the horizon when none does within it; `saturates`; `resources`)."
    }
    fn params(&self) -> &'static [ParamSpec] {
        const P: &[ParamSpec] = &[
            ParamSpec::optional("horizon", ParamKind::Duration, "how far ahead (default 7d)"),
            ParamSpec::optional(
                "resources",
                ParamKind::StringList,
                "which resources (`all`, the default, for every one)",
            ),
        ];
        P
    }
    fn output_sample(&self) -> Value {
        json!({"horizon": 0, "saturation_time": 0, "saturates": false, "first_saturated": null,
               "resources": [{"resource": "", "current": 0.0, "peak": 0.0, "saturation_ms": 0}]})
    }
    fn binds(&self) -> Option<&'static str> {
        Some("forecast")
    }
    fn execute<'a>(
        &'a self,
        ctx: &'a ActionCtx<'a>,
        params: &'a Value,
    ) -> BoxFuture<'a, Result<Value, ActionError>> {
        Box::pin(async move {
            let horizon = param_duration(params, "horizon")?.unwrap_or(7 * 86_400_000);
            let mut resources = param_strings(params, "resources");
            resources.retain(|r| r != "all");
            let out = ctx
                .host
                .forecast_capacity(&CapacityRequest {
                    horizon_ms: horizon,
                    resources,
                })
                .await?;
            let first = out
                .iter()
                .filter_map(|r| r.saturation_ms.filter(|&s| s < horizon).map(|s| (s, r)))
                .min_by_key(|(s, _)| *s);
            Ok(json!({
                "horizon": horizon,
                "saturation_time": first.map_or(horizon, |(s, _)| s),
                "saturates": first.is_some(),
                "first_saturated": first.map(|(_, r)| r.resource.clone()),
                "resources": to_value(&out)?,
            }))
        })
    }
}

/// `evaluate_thresholds`: which forecast resources cross the warning and critical levels.
#[derive(Debug)]
struct EvaluateThresholds;

impl Action for EvaluateThresholds {
    fn name(&self) -> &'static str {
        "evaluate_thresholds"
    }
    fn doc(&self) -> &'static str {
        "Compares each forecast resource's peak with `warning` and `critical` (`70%`); bound to `thresholds` (`status`: ok, warning or critical; `warning`, `critical`: resources)."
    }
    fn params(&self) -> &'static [ParamSpec] {
        const P: &[ParamSpec] = &[
            ParamSpec::optional("warning", ParamKind::Percent, "warning level (default 70%)"),
            ParamSpec::optional(
                "critical",
                ParamKind::Percent,
                "critical level (default 85%)",
            ),
        ];
        P
    }
    fn output_sample(&self) -> Value {
        json!({"status": "ok", "warning": [""], "critical": [""], "levels": {"warning": 0.0, "critical": 0.0}})
    }
    fn binds(&self) -> Option<&'static str> {
        Some("thresholds")
    }
    fn effect(&self) -> Effect {
        Effect::Pure
    }
    fn execute<'a>(
        &'a self,
        ctx: &'a ActionCtx<'a>,
        params: &'a Value,
    ) -> BoxFuture<'a, Result<Value, ActionError>> {
        Box::pin(async move {
            let warn = param_percent(params, "warning")?.unwrap_or(0.70);
            let crit = param_percent(params, "critical")?.unwrap_or(0.85);
            let resources = ctx
                .context
                .pointer("/forecast/resources")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    ActionError::Params("needs a `forecast` from run_capacity_forecast".into())
                })?;
            let (mut w, mut c) = (Vec::new(), Vec::new());
            for r in resources {
                let name = r.get("resource").and_then(Value::as_str).unwrap_or("");
                let peak = r.get("peak").and_then(Value::as_f64).unwrap_or(0.0);
                if peak >= crit {
                    c.push(name.to_string());
                } else if peak >= warn {
                    w.push(name.to_string());
                }
            }
            let status = if !c.is_empty() {
                "critical"
            } else if !w.is_empty() {
                "warning"
            } else {
                "ok"
            };
            Ok(json!({"status": status, "warning": w, "critical": c,
                      "levels": {"warning": warn, "critical": crit}}))
        })
    }
}

/// `create_recommendations`: how much capacity to add, from the forecast and the levels.
#[derive(Debug)]
struct CreateRecommendations;

impl Action for CreateRecommendations {
    fn name(&self) -> &'static str {
        "create_recommendations"
    }
    fn doc(&self) -> &'static str {
        "For each resource forecast above the warning level, the capacity to add to stay under it (and with `include_cost_analysis`, the relative cost); bound to `recommendations` (`items`)."
    }
    fn params(&self) -> &'static [ParamSpec] {
        const P: &[ParamSpec] = &[ParamSpec::optional(
            "include_cost_analysis",
            ParamKind::Bool,
            "add the relative cost of each change",
        )];
        P
    }
    fn output_sample(&self) -> Value {
        json!({"items": [{"resource": "", "peak": 0.0, "add_capacity": 0.0, "saturation_ms": 0, "relative_cost": 0.0}]})
    }
    fn binds(&self) -> Option<&'static str> {
        Some("recommendations")
    }
    fn effect(&self) -> Effect {
        Effect::Pure
    }
    fn execute<'a>(
        &'a self,
        ctx: &'a ActionCtx<'a>,
        params: &'a Value,
    ) -> BoxFuture<'a, Result<Value, ActionError>> {
        Box::pin(async move {
            let cost = params.get("include_cost_analysis").and_then(Value::as_bool) == Some(true);
            let level = ctx
                .context
                .pointer("/thresholds/levels/warning")
                .and_then(Value::as_f64)
                .unwrap_or(0.70);
            let mut items = Vec::new();
            for r in ctx
                .context
                .pointer("/forecast/resources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let peak = r.get("peak").and_then(Value::as_f64).unwrap_or(0.0);
                if peak < level || level <= 0.0 {
                    continue;
                }
                // Capacity to add, as a fraction of today's, so the peak sits at the level.
                let add = peak / level - 1.0;
                let mut item = json!({
                    "resource": r.get("resource").cloned().unwrap_or(Value::Null),
                    "peak": peak,
                    "add_capacity": (add * 1000.0).round() / 1000.0,
                    "saturation_ms": r.get("saturation_ms").cloned().unwrap_or(Value::Null),
                });
                if cost {
                    item["relative_cost"] = json!((add * 1000.0).round() / 1000.0);
                }
                items.push(item);
            }
            Ok(json!({ "items": items }))
        })
    }
}

/// `create_deployment_marker`: an annotation on each dashboard.
#[derive(Debug)]
struct CreateDeploymentMarker;

impl Action for CreateDeploymentMarker {
    fn name(&self) -> &'static str {
        "create_deployment_marker"
    }
    fn doc(&self) -> &'static str {
        "Marks the deployment on each dashboard (Grafana annotations tagged `deployment`); bound to `marker` (`ids`, `time`)."
    }
    fn params(&self) -> &'static [ParamSpec] {
        const P: &[ParamSpec] = &[
            ParamSpec::optional("dashboards", ParamKind::StringList, "dashboards to mark"),
            ParamSpec::optional("text", ParamKind::String, "the annotation's text"),
            ParamSpec::optional("tags", ParamKind::StringList, "extra tags"),
        ];
        P
    }
    fn output_sample(&self) -> Value {
        json!({"ids": [""], "time": 0})
    }
    fn binds(&self) -> Option<&'static str> {
        Some("marker")
    }
    fn systems(&self, _params: &Value) -> Vec<String> {
        vec!["grafana".into()]
    }
    fn execute<'a>(
        &'a self,
        ctx: &'a ActionCtx<'a>,
        params: &'a Value,
    ) -> BoxFuture<'a, Result<Value, ActionError>> {
        Box::pin(async move {
            let time = event_time(ctx.context).unwrap_or_else(|| ctx.host.now());
            let mut tags = vec!["aiops".to_string(), "deployment".to_string()];
            tags.extend(param_strings(params, "tags"));
            let text = param_str(params, "text")
                .map(str::to_string)
                .unwrap_or_else(|| {
                    let name = ctx
                        .context
                        .pointer("/event/name")
                        .and_then(Value::as_str)
                        .unwrap_or("deployment");
                    format!("deployment: {name}")
                });
            let a = Annotation {
                time,
                time_end: None,
                tags,
                text,
            };
            let mut ids = Vec::new();
            for d in param_strings(params, "dashboards") {
                ids.push(ctx.host.annotate(&d, &a).await?);
            }
            Ok(json!({"ids": ids, "time": time}))
        })
    }
}

/// The event's time, when it has one (ms or RFC 3339).
fn event_time(ctx: &Value) -> Option<i64> {
    let t = ctx.pointer("/event/time")?;
    t.as_i64().or_else(|| {
        aiops_core::time::parse_timestamp(t.as_str()?)
            .ok()
            .map(|(ms, _)| ms)
    })
}

/// `start_monitoring`: waits out the monitoring window and records it.
#[derive(Debug)]
struct StartMonitoring;

impl Action for StartMonitoring {
    fn name(&self) -> &'static str {
        "start_monitoring"
    }
    fn doc(&self) -> &'static str {
        "Watches the metrics for `duration` after the deployment (the host waits); bound to `monitoring` (`from`, `to`, `metrics`)."
    }
    fn params(&self) -> &'static [ParamSpec] {
        const P: &[ParamSpec] = &[
            ParamSpec::optional("duration", ParamKind::Duration, "how long (default 30m)"),
            ParamSpec::optional("metrics", ParamKind::StringList, "metrics to watch"),
        ];
        P
    }
    fn output_sample(&self) -> Value {
        json!({"from": 0, "to": 0, "metrics": [""]})
    }
    fn binds(&self) -> Option<&'static str> {
        Some("monitoring")
    }
    fn execute<'a>(
        &'a self,
        ctx: &'a ActionCtx<'a>,
        params: &'a Value,
    ) -> BoxFuture<'a, Result<Value, ActionError>> {
        Box::pin(async move {
            let duration = param_duration(params, "duration")?.unwrap_or(30 * 60_000);
            let from = event_time(ctx.context).unwrap_or_else(|| ctx.host.now());
            let waited = (from + duration - ctx.host.now()).max(0);
            ctx.host.wait(waited).await;
            Ok(
                json!({"from": from, "to": from + duration, "metrics": param_strings(params, "metrics")}),
            )
        })
    }
}

/// `compare_baselines`: each metric after the deployment against the window before it.
#[derive(Debug)]
struct CompareBaselines;

impl Action for CompareBaselines {
    fn name(&self) -> &'static str {
        "compare_baselines"
    }
    fn doc(&self) -> &'static str {
        "Compares each metric's mean over the monitoring window with its mean over `baseline_window` before it; a metric above `threshold_multiplier` times its baseline regressed; bound to `regression` (`detected`; `severity`: critical when two metrics regressed or one by twice the multiplier, else warning, none when nothing did; `metrics`)."
    }
    fn params(&self) -> &'static [ParamSpec] {
        const P: &[ParamSpec] = &[
            ParamSpec::optional(
                "baseline_window",
                ParamKind::Duration,
                "the window before the deployment (default 1h)",
            ),
            ParamSpec::optional(
                "threshold_multiplier",
                ParamKind::Number,
                "how many times the baseline is a regression (default 1.5)",
            ),
            ParamSpec::optional(
                "metrics",
                ParamKind::StringList,
                "default: the ones start_monitoring watched",
            ),
            ParamSpec::optional(
                "labels",
                ParamKind::Any,
                "series selector (default: the event's `labels`)",
            ),
        ];
        P
    }
    fn output_sample(&self) -> Value {
        json!({"detected": false, "severity": "none",
               "metrics": [{"metric": "", "baseline": 0.0, "current": 0.0, "ratio": 0.0, "regressed": false}]})
    }
    fn binds(&self) -> Option<&'static str> {
        Some("regression")
    }
    fn execute<'a>(
        &'a self,
        ctx: &'a ActionCtx<'a>,
        params: &'a Value,
    ) -> BoxFuture<'a, Result<Value, ActionError>> {
        Box::pin(async move {
            let window = param_duration(params, "baseline_window")?.unwrap_or(3_600_000);
            let mult = params
                .get("threshold_multiplier")
                .and_then(Value::as_f64)
                .unwrap_or(1.5);
            let now = ctx.host.now();
            let from = ctx
                .context
                .pointer("/monitoring/from")
                .and_then(Value::as_i64)
                .or_else(|| event_time(ctx.context))
                .unwrap_or(now);
            let to = ctx
                .context
                .pointer("/monitoring/to")
                .and_then(Value::as_i64)
                .unwrap_or(now);
            let mut metrics = param_strings(params, "metrics");
            if metrics.is_empty() {
                metrics = ctx
                    .context
                    .pointer("/monitoring/metrics")
                    .and_then(|m| serde_json::from_value(m.clone()).ok())
                    .unwrap_or_default();
            }
            let labels: BTreeMap<String, String> = params
                .get("labels")
                .or_else(|| ctx.context.pointer("/event/labels"))
                .and_then(|l| serde_json::from_value(l.clone()).ok())
                .unwrap_or_default();
            let mean = |v: &[f64]| {
                let v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            };
            let (mut rows, mut regressed, mut worst) = (Vec::new(), 0usize, 0f64);
            for m in &metrics {
                let base = ctx
                    .host
                    .metric_values(m, &labels, from - window, from)
                    .await?;
                let cur = ctx.host.metric_values(m, &labels, from, to).await?;
                let (Some(b), Some(c)) = (mean(&base), mean(&cur)) else {
                    rows.push(json!({"metric": m, "baseline": null, "current": null, "ratio": null, "regressed": false}));
                    continue;
                };
                let ratio = if b > 0.0 {
                    c / b
                } else if c > 0.0 {
                    f64::MAX
                } else {
                    1.0
                };
                let r = ratio > mult;
                if r {
                    regressed += 1;
                    worst = worst.max(ratio);
                }
                let shown = if ratio == f64::MAX {
                    Value::Null
                } else {
                    json!(ratio)
                };
                rows.push(json!({"metric": m, "baseline": b, "current": c, "ratio": shown, "regressed": r}));
            }
            let severity = if regressed == 0 {
                "none"
            } else if regressed >= 2 || worst > 2.0 * mult {
                "critical"
            } else {
                "warning"
            };
            Ok(json!({"detected": regressed > 0, "severity": severity, "metrics": rows}))
        })
    }
}

/// `run_workflow`: runs another workflow of the same set (the engine does it).
#[derive(Debug)]
struct RunWorkflow;

impl Action for RunWorkflow {
    fn name(&self) -> &'static str {
        RUN_WORKFLOW
    }
    fn doc(&self) -> &'static str {
        "Runs another workflow of the same file with this run's context (plus `inputs`); fails when it fails; bound to `subflow` (`workflow`, `status`, `outputs`)."
    }
    fn params(&self) -> &'static [ParamSpec] {
        const P: &[ParamSpec] = &[
            ParamSpec::required("workflow", ParamKind::String, "the workflow's name"),
            ParamSpec::optional("inputs", ParamKind::Any, "values bound to `inputs` in it"),
        ];
        P
    }
    fn output_sample(&self) -> Value {
        json!({"workflow": "", "run_id": "", "status": "", "outputs": {"*": null}})
    }
    fn binds(&self) -> Option<&'static str> {
        Some("subflow")
    }
    fn effect(&self) -> Effect {
        Effect::Pure
    }
    fn execute<'a>(
        &'a self,
        _ctx: &'a ActionCtx<'a>,
        _params: &'a Value,
    ) -> BoxFuture<'a, Result<Value, ActionError>> {
        Box::pin(async {
            Err(ActionError::Failed(
                "run_workflow is run by the engine".into(),
            ))
        })
    }
}
