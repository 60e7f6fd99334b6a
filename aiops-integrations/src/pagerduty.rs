//! PagerDuty as [`Ticketing`], through the Events API v2.
//!
//! Wire format (PagerDuty's "Events API v2" documentation): `POST
//! https://events.pagerduty.com/v2/enqueue` with `{"routing_key", "event_action": "trigger" |
//! "acknowledge" | "resolve", "dedup_key", "payload": {"summary" (at most 1024 characters),
//! "source", "severity": "critical" | "error" | "warning" | "info", "timestamp", "component",
//! "group", "class", "custom_details"}, "links": [{"href", "text"}], "client", "client_url"}`
//! (`payload` only with `trigger`). The answer is `202 {"status": "success", "message",
//! "dedup_key"}`; an invalid event is `400 {"status": "invalid event", "message", "errors":
//! [...]}` ([`IntegrationError::Remote`]); `429` asks to slow down.
//!
//! The dedup key is `aiops-<incident id>`: PagerDuty folds every event with one key into one
//! alert, which is what makes `open` idempotent (a second trigger updates the open alert), and
//! repeating an event harmless, so every request is marked idempotent and retried after `429`
//! or `5xx`. `update` sends a trigger with the new text, `close` a resolve;
//! [`PagerDutyClient::acknowledge`] an acknowledge.
//!
//! The routing key travels in the body: it is never logged, and errors show `***` where an
//! answer repeats it.

use aiops_core::Severity;
use aiops_core::time::{Duration, format_rfc3339};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{IntegrationError, Result};
use crate::http::{HttpClient, HttpParams, Request, Secret, SecretRef, check_base_url};
use crate::template::StrictTemplate;
use crate::traits::{BoxFuture, Notification, TicketFields, TicketRef, Ticketing};

/// The system name in errors and logs.
pub const SYSTEM: &str = "pagerduty";

/// The Events API v2 endpoint.
pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// Longest `payload.summary` PagerDuty accepts, in characters.
pub const MAX_SUMMARY_CHARS: usize = 1024;

/// Length of a routing (integration) key.
pub const ROUTING_KEY_LEN: usize = 32;

/// Prefix of the dedup keys aiops sends.
pub const DEDUP_PREFIX: &str = "aiops-";

/// Longest dedup key PagerDuty accepts, in characters.
pub const MAX_DEDUP_KEY_CHARS: usize = 255;

/// Parameters of a PagerDuty service's Events API v2 integration, as a configuration writes
/// them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyParams {
    /// The endpoint (default `https://events.pagerduty.com/v2/enqueue`; the EU one is
    /// `https://events.eu.pagerduty.com/v2/enqueue`).
    #[serde(default = "default_url")]
    pub url: String,
    /// The integration's routing key, 32 characters.
    pub routing_key: SecretRef,
    /// `payload.summary` (cut to 1024 characters).
    #[serde(default = "default_summary")]
    pub summary: String,
    /// `payload.source`, the affected system (default: the incident's first resource, else
    /// `aiops`).
    #[serde(default)]
    pub source: Option<String>,
    /// The label whose value is `payload.component` (default `service`; `null`: none).
    #[serde(default = "default_component_label")]
    pub component_label: Option<String>,
    /// The label whose value is `payload.group` (default `env`; `null`: none).
    #[serde(default = "default_group_label")]
    pub group_label: Option<String>,
    /// The label whose value is `payload.class` (default `alertname`; `null`: none).
    #[serde(default = "default_class_label")]
    pub class_label: Option<String>,
    /// Time allowed for one request (default `30s`).
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Retries of a failed request (default 3; see [`crate::http`]).
    #[serde(default = "default_retries")]
    pub retries: u32,
}

fn default_url() -> String {
    DEFAULT_URL.into()
}
fn default_summary() -> String {
    "[{{ severity }}] {{ title }}: {{ summary }}".into()
}
fn default_component_label() -> Option<String> {
    Some("service".into())
}
fn default_group_label() -> Option<String> {
    Some("env".into())
}
fn default_class_label() -> Option<String> {
    Some("alertname".into())
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_retries() -> u32 {
    3
}

impl PagerDutyParams {
    /// Parameters with the defaults.
    pub fn new(routing_key: SecretRef) -> Self {
        Self {
            url: default_url(),
            routing_key,
            summary: default_summary(),
            source: None,
            component_label: default_component_label(),
            group_label: default_group_label(),
            class_label: default_class_label(),
            timeout: default_timeout(),
            retries: default_retries(),
        }
    }

    /// Checks the parameters and compiles the templates (the routing key is read by
    /// [`PagerDutyClient::new`]).
    pub fn validate(&self) -> Result<ValidPagerDutyParams> {
        let url = check_base_url(SYSTEM, "url", &self.url)?;
        let schema = Notification::schema();
        let summary =
            StrictTemplate::compile(&format!("{SYSTEM}.summary"), &self.summary, &schema)?;
        let source = self
            .source
            .as_deref()
            .map(|s| StrictTemplate::compile(&format!("{SYSTEM}.source"), s, &schema))
            .transpose()?;
        for (key, v) in [
            ("component_label", &self.component_label),
            ("group_label", &self.group_label),
            ("class_label", &self.class_label),
        ] {
            if matches!(v, Some(l) if !aiops_core::labels::is_valid_label_name(l)) {
                return Err(config(key, format!("{v:?} is not a label name")));
            }
        }
        Ok(ValidPagerDutyParams {
            url: url.to_string(),
            routing_key: self.routing_key.clone(),
            summary: std::sync::Arc::new(summary),
            source: source.map(std::sync::Arc::new),
            component_label: self.component_label.clone(),
            group_label: self.group_label.clone(),
            class_label: self.class_label.clone(),
            http: HttpParams {
                timeout: self.timeout,
                retries: self.retries,
                ..HttpParams::default()
            },
        })
    }
}

/// Checked [`PagerDutyParams`], templates compiled.
#[derive(Debug, Clone)]
pub struct ValidPagerDutyParams {
    url: String,
    routing_key: SecretRef,
    summary: std::sync::Arc<StrictTemplate>,
    source: Option<std::sync::Arc<StrictTemplate>>,
    component_label: Option<String>,
    group_label: Option<String>,
    class_label: Option<String>,
    http: HttpParams,
}

impl ValidPagerDutyParams {
    /// The HTTP parameters (to change retries or timeouts after validation).
    pub fn http_mut(&mut self) -> &mut HttpParams {
        &mut self.http
    }
}

/// What an event asks PagerDuty to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventAction {
    /// Open (or update) the alert of the dedup key.
    Trigger,
    /// Acknowledge it.
    Acknowledge,
    /// Resolve it.
    Resolve,
}

/// PagerDuty's severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PdSeverity {
    /// `critical`.
    Critical,
    /// `error`.
    Error,
    /// `warning`.
    Warning,
    /// `info`.
    Info,
}

/// PagerDuty's severity for an aiops one: critical → critical, high → error, medium and low →
/// warning, info → info.
pub fn pd_severity(s: Severity) -> PdSeverity {
    match s {
        Severity::Critical => PdSeverity::Critical,
        Severity::High => PdSeverity::Error,
        Severity::Medium | Severity::Low => PdSeverity::Warning,
        Severity::Info => PdSeverity::Info,
    }
}

/// One event as sent (the routing key apart: it is added when sending).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// What to do.
    pub event_action: EventAction,
    /// The alert's key: `aiops-<incident id>`.
    pub dedup_key: String,
    /// What happened (triggers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<EventPayload>,
    /// Links shown on the alert (triggers only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// The sending tool.
    pub client: &'static str,
    /// A link back to the sending tool, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_url: Option<String>,
}

/// The `payload` of a trigger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventPayload {
    /// One line, at most 1024 characters.
    pub summary: String,
    /// The affected system.
    pub source: String,
    /// How bad.
    pub severity: PdSeverity,
    /// When it happened, RFC 3339.
    pub timestamp: String,
    /// The affected component (a service).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// A logical group of components (an environment, a cluster).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The kind of event (an alert name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Everything else: the incident id, summary, root cause, labels, resources.
    pub custom_details: Value,
}

/// A link on an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    /// The URL.
    pub href: String,
    /// Its text.
    pub text: String,
}

/// A client of one Events API v2 integration.
#[derive(Debug)]
pub struct PagerDutyClient {
    params: ValidPagerDutyParams,
    routing_key: Secret,
    http: HttpClient,
}

impl PagerDutyClient {
    /// Builds the client; reads the routing key and checks its length.
    pub fn new(params: ValidPagerDutyParams) -> Result<Self> {
        let routing_key = params.routing_key.resolve(SYSTEM, "routing_key")?;
        let len = routing_key.expose().chars().count();
        if len != ROUTING_KEY_LEN {
            return Err(config(
                "routing_key",
                format!("a routing key is {ROUTING_KEY_LEN} characters, this one is {len}"),
            ));
        }
        Ok(Self {
            http: HttpClient::new(SYSTEM, &params.http)?,
            routing_key,
            params,
        })
    }

    /// Checks `params` and builds the client.
    pub fn from_params(params: &PagerDutyParams) -> Result<Self> {
        Self::new(params.validate()?)
    }

    /// The trigger event for `n`.
    pub fn trigger_event(&self, n: &Notification) -> Result<Event> {
        let dedup_key = dedup_key(incident_id(n)?)?;
        let mut summary = self
            .params
            .summary
            .render(n)?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if summary.is_empty() {
            summary.clone_from(&n.title);
        }
        let summary: String = summary.chars().take(MAX_SUMMARY_CHARS).collect();
        let source = match &self.params.source {
            Some(t) => t.render(n)?.trim().to_string(),
            None => n
                .incident
                .as_ref()
                .and_then(|i| i.resources.first().cloned())
                .unwrap_or_default(),
        };
        let source = if source.is_empty() {
            "aiops".to_string()
        } else {
            source
        };
        let label = |name: &Option<String>| {
            name.as_ref()
                .and_then(|l| n.labels.get(l))
                .filter(|v| !v.is_empty())
                .cloned()
        };
        let mut details = serde_json::Map::new();
        details.insert("incident_id".into(), Value::from(incident_id(n)?));
        details.insert("status".into(), Value::from(n.status.clone()));
        details.insert("aiops_severity".into(), Value::from(n.severity.as_str()));
        details.insert("summary".into(), Value::from(n.summary.clone()));
        if let Some(rc) = &n.root_cause {
            details.insert("root_cause".into(), Value::from(rc.clone()));
        }
        if let Some(i) = &n.incident {
            details.insert("resources".into(), Value::from(i.resources.clone()));
            details.insert("alerts".into(), Value::from(i.alerts.len()));
        }
        details.insert(
            "labels".into(),
            serde_json::to_value(&n.labels).unwrap_or_default(),
        );
        Ok(Event {
            event_action: EventAction::Trigger,
            dedup_key,
            payload: Some(EventPayload {
                summary,
                source,
                severity: pd_severity(n.severity),
                timestamp: format_rfc3339(n.timestamp),
                component: label(&self.params.component_label),
                group: label(&self.params.group_label),
                class: label(&self.params.class_label),
                custom_details: Value::Object(details),
            }),
            links: n
                .url
                .iter()
                .map(|u| Link {
                    href: u.clone(),
                    text: "aiops incident".into(),
                })
                .collect(),
            client: "aiops",
            client_url: n.url.clone(),
        })
    }

    /// Sends one event; returns the dedup key PagerDuty answered.
    pub async fn send(&self, event: &Event) -> Result<String> {
        let mut body = serde_json::to_value(event).map_err(|e| payload(e.to_string()))?;
        body["routing_key"] = Value::from(self.routing_key.expose());
        // Every event with one dedup key lands on one alert: repeating it is harmless.
        let req = Request::post_json(self.params.url.clone(), &body).idempotent(true);
        let resp = self.http.send(&req).await?;
        let answer: std::result::Result<Answer, _> = serde_json::from_slice(&resp.body);
        let out = match answer {
            Ok(a) if resp.is_success() && a.status == "success" => {
                Ok(a.dedup_key.unwrap_or_else(|| event.dedup_key.clone()))
            }
            Ok(a) if resp.is_success() => Err(payload(format!(
                "a {} answer with status {:?}",
                resp.status, a.status
            ))),
            Ok(a) => Err(IntegrationError::Remote {
                system: SYSTEM,
                status: resp.status,
                error_type: a.status,
                message: {
                    let mut m = a.message.unwrap_or_default();
                    if !a.errors.is_empty() {
                        if !m.is_empty() {
                            m.push_str(": ");
                        }
                        m.push_str(&a.errors.join("; "));
                    }
                    m
                },
            }),
            Err(_) if !resp.is_success() => Err(resp.status_error(SYSTEM)),
            Err(e) => Err(payload(format!(
                "{}: not an Events API answer: {e}",
                resp.url()
            ))),
        };
        out.map_err(|e| self.scrub(e))
    }

    /// Acknowledges the alert of ticket `t`.
    pub async fn acknowledge(&self, t: &TicketRef) -> Result<()> {
        self.send(&self.plain_event(EventAction::Acknowledge, t)?)
            .await
            .map(drop)
    }

    fn plain_event(&self, action: EventAction, t: &TicketRef) -> Result<Event> {
        if t.key.is_empty() || t.key.chars().count() > MAX_DEDUP_KEY_CHARS {
            return Err(payload(format!("{:?} is not a dedup key", t.key)));
        }
        Ok(Event {
            event_action: action,
            dedup_key: t.key.clone(),
            payload: None,
            links: Vec::new(),
            client: "aiops",
            client_url: None,
        })
    }

    async fn trigger(&self, n: &Notification) -> Result<TicketRef> {
        let event = self.trigger_event(n)?;
        let key = self.send(&event).await?;
        Ok(TicketRef {
            system: SYSTEM.into(),
            key,
            url: None,
        })
    }

    async fn retrigger(&self, t: &TicketRef, n: &Notification) -> Result<()> {
        let mut event = self.trigger_event(n)?;
        event.dedup_key.clone_from(&t.key);
        self.send(&event).await.map(drop)
    }

    async fn resolve(&self, t: &TicketRef) -> Result<()> {
        self.send(&self.plain_event(EventAction::Resolve, t)?)
            .await
            .map(drop)
    }

    /// The error with the routing key, should an answer repeat it, shown as `***`.
    fn scrub(&self, e: IntegrationError) -> IntegrationError {
        let key = self.routing_key.expose();
        let hide = |s: String| s.replace(key, "***");
        match e {
            IntegrationError::Status {
                system,
                url,
                status,
                body,
            } => IntegrationError::Status {
                system,
                url,
                status,
                body: hide(body),
            },
            IntegrationError::Remote {
                system,
                status,
                error_type,
                message,
            } => IntegrationError::Remote {
                system,
                status,
                error_type: hide(error_type),
                message: hide(message),
            },
            IntegrationError::Payload { system, message } => IntegrationError::Payload {
                system,
                message: hide(message),
            },
            other => other,
        }
    }
}

impl Ticketing for PagerDutyClient {
    fn system(&self) -> &'static str {
        SYSTEM
    }
    fn open_as<'a>(
        &'a self,
        n: &'a Notification,
        _fields: &'a TicketFields,
    ) -> BoxFuture<'a, Result<TicketRef>> {
        Box::pin(self.trigger(n))
    }
    fn update<'a>(&'a self, t: &'a TicketRef, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.retrigger(t, n))
    }
    fn close<'a>(&'a self, t: &'a TicketRef, _n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.resolve(t))
    }
}

/// The dedup key of an incident: `aiops-<incident id>` (at most 255 characters).
pub fn dedup_key(incident_id: &str) -> Result<String> {
    let key = format!("{DEDUP_PREFIX}{incident_id}");
    if key.chars().count() > MAX_DEDUP_KEY_CHARS {
        return Err(config(
            "incident_id",
            format!("{incident_id:?} makes a dedup key over {MAX_DEDUP_KEY_CHARS} characters"),
        ));
    }
    Ok(key)
}

fn incident_id(n: &Notification) -> Result<&str> {
    match n.incident_id.as_deref() {
        Some(id) if !id.is_empty() => Ok(id),
        _ => Err(config(
            "incident_id",
            "a ticket is about an incident: the notification has no incident id".into(),
        )),
    }
}

fn config(key: &str, reason: String) -> IntegrationError {
    IntegrationError::config(SYSTEM, key, reason)
}

fn payload(message: String) -> IntegrationError {
    IntegrationError::payload(SYSTEM, message)
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    dedup_key: Option<String>,
    #[serde(default)]
    errors: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY32";

    fn params() -> PagerDutyParams {
        PagerDutyParams::new(SecretRef::Value(Secret::new(KEY)))
    }

    fn sample() -> Notification {
        crate::traits::tests::incident_sample()
    }

    fn notification() -> Notification {
        let mut n = sample();
        n.labels = [
            ("service".to_string(), "cart".to_string()),
            ("alertname".to_string(), "Down".to_string()),
        ]
        .into();
        n.incident_id = Some("inc-3".into());
        n.severity = Severity::High;
        n.timestamp = 1_700_000_000_000;
        n
    }

    #[test]
    fn the_trigger_has_the_documented_shape() {
        let c = PagerDutyClient::from_params(&params()).unwrap();
        let mut n = notification();
        n.summary = "x".repeat(2000);
        let e = c.trigger_event(&n).unwrap();
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["event_action"], "trigger");
        assert_eq!(v["dedup_key"], "aiops-inc-3");
        let p = &v["payload"];
        assert_eq!(p["severity"], "error");
        assert_eq!(p["source"], "sample");
        assert_eq!(p["component"], "cart");
        assert_eq!(p["class"], "Down");
        assert!(p.get("group").is_none());
        assert_eq!(p["timestamp"], "2023-11-14T22:13:20.000Z");
        assert_eq!(p["summary"].as_str().unwrap().chars().count(), 1024);
        assert_eq!(p["custom_details"]["incident_id"], "inc-3");
        assert_eq!(
            v["links"],
            json!([{"href": "http://127.0.0.1/", "text": "aiops incident"}])
        );
        // The routing key is added when sending, never part of the event.
        assert!(!v.to_string().contains(KEY));
        let r = c
            .plain_event(
                EventAction::Resolve,
                &TicketRef {
                    system: SYSTEM.into(),
                    key: "aiops-inc-3".into(),
                    url: None,
                },
            )
            .unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["event_action"], "resolve");
        assert!(v.get("payload").is_none());
    }

    #[test]
    fn severities_map_onto_pagerdutys_four() {
        let s = |x| serde_json::to_value(pd_severity(x)).unwrap();
        assert_eq!(s(Severity::Critical), "critical");
        assert_eq!(s(Severity::High), "error");
        assert_eq!(s(Severity::Medium), "warning");
        assert_eq!(s(Severity::Low), "warning");
        assert_eq!(s(Severity::Info), "info");
    }

    #[test]
    fn validation_refuses_unknown_keys_bad_urls_templates_and_short_keys() {
        let e = serde_json::from_value::<PagerDutyParams>(json!({
            "routing_key": {"value": KEY}, "service_key": "x"}))
        .unwrap_err();
        assert!(e.to_string().contains("service_key"), "{e}");
        let p: PagerDutyParams =
            serde_json::from_value(json!({"routing_key": {"value": KEY}, "group_label": null}))
                .unwrap();
        assert_eq!(p.url, DEFAULT_URL);
        assert_eq!(p.group_label, None);
        let mut bad = params();
        bad.url = "events.pagerduty.com".into();
        assert!(bad.validate().is_err());
        let mut bad = params();
        bad.summary = "{{ sumary }}".into();
        let e = bad.validate().unwrap_err().to_string();
        assert!(
            e.contains("pagerduty.summary") && e.contains("sumary"),
            "{e}"
        );
        let mut bad = params();
        bad.component_label = Some("not a label".into());
        assert!(bad.validate().is_err());
        let short = PagerDutyParams::new(SecretRef::Value(Secret::new("short-secret-key")));
        let e = PagerDutyClient::from_params(&short)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("routing_key") && !e.contains("short-secret-key"),
            "{e}"
        );
        assert!(dedup_key(&"x".repeat(250)).is_err());
    }

    #[test]
    fn the_routing_key_stays_out_of_debug_and_errors() {
        let p = params();
        assert!(!format!("{p:?}").contains(KEY));
        let c = PagerDutyClient::from_params(&p).unwrap();
        assert!(!format!("{c:?}").contains(KEY));
        let e = c.scrub(IntegrationError::Status {
            system: SYSTEM,
            url: DEFAULT_URL.into(),
            status: 400,
            body: format!("bad key {KEY}"),
        });
        assert!(!e.to_string().contains(KEY), "{e}");
    }
}
