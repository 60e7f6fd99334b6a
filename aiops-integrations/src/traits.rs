//! The roles an integration plays, as traits the service and the workflow engine hold as
//! `dyn`: [`Notifier`], [`Ticketing`], [`Annotator`], [`AlertSink`], [`LogSource`] (and
//! [`MetricSource`](crate::prometheus::MetricSource), in its own module). Each system's file
//! implements the ones it can.
//!
//! What they carry is one model, [`Notification`]: what happened (an incident opened, grew,
//! resolved; an anomaly; a test), its text, severity, labels, the incident itself when there
//! is one, and a link back to aiops. Message and ticket templates render it
//! ([`Notification::schema`] is the sample they are checked against at load time).

use std::collections::BTreeMap;

use aiops_core::time::{TimestampMs, serde_rfc3339};
use aiops_core::{Alert, Incident, Severity};
use serde::{Deserialize, Serialize};

use crate::error::Result;
pub use crate::prometheus::BoxFuture;

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A new incident.
    IncidentOpened,
    /// An open incident changed (new alerts, higher severity, a root cause found).
    IncidentUpdated,
    /// An incident is over.
    IncidentResolved,
    /// An anomaly detected on a series, outside any incident.
    Anomaly,
    /// A test message sent by an operator.
    Test,
}

impl NotificationKind {
    /// `firing` or `resolved`, as Alertmanager and most receivers say it.
    pub fn status(self) -> &'static str {
        match self {
            NotificationKind::IncidentResolved => "resolved",
            _ => "firing",
        }
    }
}

/// One thing to tell people about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// What happened.
    pub kind: NotificationKind,
    /// `firing` or `resolved` (from `kind`; kept in the JSON for templates).
    pub status: String,
    /// One-line title.
    pub title: String,
    /// A few lines: what, where, the probable cause.
    pub summary: String,
    /// How bad.
    pub severity: Severity,
    /// The incident's id, when about one (ticketing keys tickets by it).
    pub incident_id: Option<String>,
    /// The incident, when about one.
    pub incident: Option<Incident>,
    /// The probable root cause, when RCA found one.
    pub root_cause: Option<String>,
    /// Labels to show and to route on (`service`, `env`...).
    pub labels: BTreeMap<String, String>,
    /// A link back to the incident or anomaly in aiops.
    pub url: Option<String>,
    /// When it happened, ms since the epoch (RFC 3339 in JSON).
    #[serde(with = "serde_rfc3339")]
    pub timestamp: TimestampMs,
}

impl Notification {
    /// A notification of `kind` about `incident`: title, severity and labels from it (labels
    /// common to all its alerts), the summary listing its resources and probable origin.
    pub fn for_incident(kind: NotificationKind, incident: &Incident, url: Option<String>) -> Self {
        let labels = common_labels(&incident.alerts);
        let mut summary = format!(
            "{} alert(s) on {}",
            incident.alerts.len(),
            if incident.resources.is_empty() {
                "no known resource".to_string()
            } else {
                incident.resources.join(", ")
            }
        );
        if let Some(origin) = &incident.probable_origin {
            summary.push_str(&format!("; probable origin: {origin}"));
        }
        let timestamp = match kind {
            NotificationKind::IncidentResolved => {
                incident.resolved_at.unwrap_or(incident.started_at)
            }
            _ => incident.started_at,
        };
        Self {
            kind,
            status: kind.status().to_string(),
            title: incident.title.clone(),
            summary,
            severity: incident.severity,
            incident_id: Some(incident.id.clone()),
            incident: Some(incident.clone()),
            root_cause: incident.probable_origin.clone(),
            labels,
            url,
            timestamp,
        }
    }

    /// A sample with every field present, for checking templates at load time: labels are an
    /// open map, the incident has one alert.
    pub fn schema() -> serde_json::Value {
        let alert = Alert::firing(
            aiops_core::Labels::try_from_pairs([("alertname", "Sample")])
                .expect("a valid label set"),
            0,
        )
        .expect("a valid alert");
        let incident = Incident {
            id: "inc-sample".into(),
            title: "sample".into(),
            severity: Severity::Critical,
            status: aiops_core::IncidentStatus::Open,
            resources: vec!["sample".into()],
            alerts: vec![alert],
            started_at: 0,
            resolved_at: Some(0),
            probable_origin: Some("sample".into()),
        };
        let mut n = Self::for_incident(NotificationKind::IncidentOpened, &incident, None);
        n.url = Some("http://127.0.0.1/".into());
        let mut v = serde_json::to_value(&n).unwrap_or_default();
        v["labels"] = serde_json::json!({"*": ""});
        if let Some(alerts) = v["incident"]["alerts"].as_array_mut() {
            for a in alerts {
                a["labels"] = serde_json::json!({"*": ""});
                a["annotations"] = serde_json::json!({"*": ""});
            }
        }
        v
    }
}

/// Labels every alert shares with the same value (none without alerts).
pub fn common_labels(alerts: &[Alert]) -> BTreeMap<String, String> {
    let mut it = alerts.iter();
    let Some(first) = it.next() else {
        return BTreeMap::new();
    };
    let mut common: BTreeMap<String, String> = first
        .labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for a in it {
        common.retain(|k, v| a.labels.get(k) == Some(v.as_str()));
    }
    common
}

/// What a delivery did: attempts made and the system's answer, for the delivery record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// HTTP attempts it took (1: no retry).
    pub attempts: u32,
    /// The system's short answer (`ok`, a message id...).
    pub detail: String,
}

/// The notifiers' default time allowed for one request: `10s`.
pub(crate) fn default_timeout() -> aiops_core::time::Duration {
    aiops_core::time::Duration::from_secs(10)
}

/// The notifiers' default retries: 3.
pub(crate) fn default_retries() -> u32 {
    3
}

/// `s` cut to at most `max` characters, ending with `…` when cut.
pub(crate) fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Sends notifications somewhere people read them (Slack, DingTalk, e-mail, a webhook).
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// The system (`slack`...).
    fn system(&self) -> &'static str;
    /// Sends one notification. An error after the retries of the HTTP layer is returned for
    /// the caller to queue and retry later.
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<Delivery>>;
}

/// Fields of a ticket chosen by the caller rather than the integration's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketFields {
    /// The project (Jira's project key, `OPS`).
    pub project: Option<String>,
    /// The issue type (`Incident`, `Task`).
    pub issue_type: Option<String>,
    /// The priority: a severity (`critical`, mapped through the configured priorities) or
    /// the system's own priority name (`Highest`).
    pub priority: Option<String>,
}

/// A ticket in a ticketing system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRef {
    /// The system (`jira`, `servicenow`, `pagerduty`).
    pub system: String,
    /// Its key there (`OPS-12`, a sys_id, a dedup_key).
    pub key: String,
    /// A link to it, when the system has one.
    pub url: Option<String>,
}

/// Opens, updates and closes tickets, one per incident: opening twice for the same incident
/// id finds the first ticket instead of making a second (the system is searched, so this
/// holds across restarts).
pub trait Ticketing: Send + Sync + std::fmt::Debug {
    /// The system (`jira`...).
    fn system(&self) -> &'static str;
    /// The incident's ticket, opened if there is none, with the system's configured project,
    /// type and priorities. `n.incident_id` is required.
    fn open<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<TicketRef>> {
        Box::pin(async move { self.open_as(n, &TicketFields::default()).await })
    }
    /// [`Ticketing::open`] with the fields a caller chooses (a workflow step's `project`,
    /// `type` and `priority`) over the configured ones, where the system has them (Jira);
    /// systems without projects or types (ServiceNow, PagerDuty) ignore them.
    fn open_as<'a>(
        &'a self,
        n: &'a Notification,
        fields: &'a TicketFields,
    ) -> BoxFuture<'a, Result<TicketRef>>;
    /// Adds what changed (a comment, a note) to the ticket.
    fn update<'a>(&'a self, t: &'a TicketRef, n: &'a Notification) -> BoxFuture<'a, Result<()>>;
    /// Resolves / closes the ticket; closing a closed ticket is not an error.
    fn close<'a>(&'a self, t: &'a TicketRef, n: &'a Notification) -> BoxFuture<'a, Result<()>>;
}

/// A mark on dashboards: a moment or a region, with tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    /// Start, ms since the epoch.
    pub time: TimestampMs,
    /// End for a region.
    pub time_end: Option<TimestampMs>,
    /// Tags (`aiops`, `incident`, `service:cart`...).
    pub tags: Vec<String>,
    /// The text.
    pub text: String,
}

/// Writes annotations (Grafana).
pub trait Annotator: Send + Sync + std::fmt::Debug {
    /// The system (`grafana`).
    fn system(&self) -> &'static str;
    /// Creates one; returns its id there.
    fn annotate<'a>(&'a self, a: &'a Annotation) -> BoxFuture<'a, Result<String>>;
    /// Replaces annotation `id` (to end a region when the incident resolves).
    fn update<'a>(&'a self, id: &'a str, a: &'a Annotation) -> BoxFuture<'a, Result<()>>;
}

/// Receives alerts (Alertmanager's API v2).
pub trait AlertSink: Send + Sync + std::fmt::Debug {
    /// The system (`alertmanager`).
    fn system(&self) -> &'static str;
    /// Pushes alerts (firing, or resolved with their end time).
    fn push<'a>(&'a self, alerts: &'a [Alert]) -> BoxFuture<'a, Result<()>>;
}

/// One log line read from a log store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// When, ms since the epoch.
    pub timestamp: TimestampMs,
    /// The message.
    pub message: String,
    /// Stream labels (`service`, `host`...).
    pub labels: BTreeMap<String, String>,
}

/// A page of log records and the watermark after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogBatch {
    /// Records in the store's order (time, then a tie-breaker).
    pub records: Vec<LogRecord>,
    /// Where the next read starts: opaque, to persist as it is; unchanged when nothing new.
    pub watermark: Option<String>,
}

/// Reads logs incrementally: each read starts after the watermark the previous one returned,
/// so a restart that persisted it reads nothing twice and skips nothing.
pub trait LogSource: Send + Sync + std::fmt::Debug {
    /// The system (`elasticsearch`).
    fn system(&self) -> &'static str;
    /// At most `limit` records after `watermark` (from the start when `None`).
    fn read<'a>(
        &'a self,
        watermark: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<LogBatch>>;
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::template::StrictTemplate;

    /// An opened incident `inc-sample` with one alert, linking to loopback: the ticketing
    /// systems' tests.
    pub(crate) fn incident_sample() -> Notification {
        let alert = aiops_core::Alert::firing(
            aiops_core::Labels::try_from_pairs([("alertname", "Sample")]).unwrap(),
            0,
        )
        .unwrap();
        let inc = aiops_core::Incident {
            id: "inc-sample".into(),
            title: "sample".into(),
            severity: Severity::Critical,
            status: aiops_core::IncidentStatus::Open,
            resources: vec!["sample".into()],
            alerts: vec![alert],
            started_at: 0,
            resolved_at: None,
            probable_origin: Some("sample".into()),
        };
        Notification::for_incident(
            crate::traits::NotificationKind::IncidentOpened,
            &inc,
            Some("http://127.0.0.1/".into()),
        )
    }

    /// A notification for the notifiers' tests: text that needs escaping, one label, a link.
    pub(crate) fn sample() -> Notification {
        let alert = Alert::firing(
            aiops_core::Labels::try_from_pairs([("alertname", "Down"), ("service", "cart")])
                .unwrap(),
            1_700_000_000_000,
        )
        .unwrap();
        let inc = Incident {
            id: "inc-7".into(),
            title: "cart <down> & out".into(),
            severity: Severity::High,
            status: aiops_core::IncidentStatus::Open,
            resources: vec!["cart".into()],
            alerts: vec![alert],
            started_at: 1_700_000_000_000,
            resolved_at: None,
            probable_origin: Some("db".into()),
        };
        let mut n = Notification::for_incident(
            NotificationKind::IncidentOpened,
            &inc,
            Some("https://aiops.example/i/inc-7".into()),
        );
        n.summary = "1 alert(s) on <b>cart</b>".into();
        n.labels.remove("alertname");
        n
    }

    #[test]
    fn incident_notifications_carry_common_labels_and_render_in_templates() {
        let a = |svc: &str, pod: &str| {
            Alert::firing(
                aiops_core::Labels::try_from_pairs([
                    ("alertname", "Down"),
                    ("service", svc),
                    ("pod", pod),
                ])
                .unwrap(),
                1_000,
            )
            .unwrap()
        };
        let inc = Incident {
            id: "inc-7".into(),
            title: "cart down".into(),
            severity: Severity::High,
            status: aiops_core::IncidentStatus::Open,
            resources: vec!["cart".into()],
            alerts: vec![a("cart", "p1"), a("cart", "p2")],
            started_at: 1_000,
            resolved_at: None,
            probable_origin: Some("db".into()),
        };
        let n = Notification::for_incident(NotificationKind::IncidentOpened, &inc, None);
        assert_eq!(n.labels.get("service").map(String::as_str), Some("cart"));
        assert!(!n.labels.contains_key("pod"));
        assert_eq!(n.status, "firing");
        assert!(n.summary.contains("probable origin: db"), "{}", n.summary);
        let t = StrictTemplate::compile(
            "t",
            "{{ title }} {{ severity }} {{ labels.service }} {{ incident.alerts | length }} {{ incident.alerts[0].labels.pod }}",
            &Notification::schema(),
        )
        .unwrap();
        assert_eq!(t.render(&n).unwrap(), "cart down high cart 2 p1");
        assert!(
            StrictTemplate::compile("t", "{{ incident.nope }}", &Notification::schema()).is_err()
        );
    }
}
