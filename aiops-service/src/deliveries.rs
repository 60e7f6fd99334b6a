//! Incidents sent to the integrations (`notifications:` and `integrations:` in the
//! configuration): chat and e-mail notifications, tickets opened, updated and closed,
//! annotations on dashboards.
//!
//! How nothing is lost or sent twice:
//! - The incident timeline is the outbox. [`Dispatcher::enqueue`] reads the timeline entries
//!   after its cursor (`opened`, `rca`, `resolved`, `merged`), routes each to channels and
//!   commits the deliveries and the new cursor in one transaction; a delivery is unique per
//!   (entry, channel). It re-reads [`REWIND`] entries behind the cursor, so an entry another
//!   transaction committed with a lower id a moment later is not skipped.
//! - [`Dispatcher::dispatch`] makes the due deliveries, in order per incident and channel (a
//!   ticket is closed only after it was opened). A failure is recorded (attempts, error) and
//!   retried with exponential backoff; an answer that cannot succeed when repeated (an HTTP
//!   4xx other than 408 / 429, a bad configuration) fails the delivery at once, as does the
//!   last allowed attempt. Every attempt's outcome is on the incident
//!   (`GET /api/v1/incidents/{id}/deliveries`).
//! - A delivery is claimed before it is made (its due time moved by a lease), so replicas
//!   sharing a PostgreSQL store do not both make it.
//! - Nothing here runs on the ingest path: an unreachable system delays its own deliveries
//!   only.
//!
//! Routing: `notifications.routes` are tried in order; a route matches when the incident's
//! severity is in its `severity` list (any when empty) and its `matchers` match the labels its
//! alerts share; the first match wins unless it says `continue: true`. Alerts made by rules
//! add the channels of their rule's `notification_channels`. A channel is an integration's
//! name: a notifier receives `opened` and `resolved` (and `updated` after an RCA when
//! `notifications.updates` is set), a ticketing system opens, comments and closes one ticket
//! per incident, an annotator marks the incident's time region.

use std::collections::BTreeMap;
use std::sync::Arc;

use aiops_alerts::Matchers;
use aiops_core::{Incident, Labels, Severity, TimestampMs};
use aiops_integrations::IntegrationError;
use aiops_integrations::registry::{Integration, IntegrationSpec};
use aiops_integrations::traits::{Annotation, Notification, NotificationKind, TicketRef};
use aiops_store::{DeliveryAttempt, DeliveryRow, IncidentEvent, NewDelivery, Store};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{Result, ServiceError};

/// The named value holding the id of the last timeline entry turned into deliveries.
pub const CURSOR_KEY: &str = "deliveries.cursor";

/// The named value holding the id of the last operational event turned into annotations.
pub const EVENTS_CURSOR_KEY: &str = "deliveries.events_cursor";

/// The named value holding the id of the last anomaly turned into annotations.
pub const ANOMALIES_CURSOR_KEY: &str = "deliveries.anomalies_cursor";

/// Timeline entries re-read behind the cursor at each pass.
pub const REWIND: i64 = 256;

/// Most timeline entries read, and deliveries made, per pass.
const BATCH: usize = 256;

/// One route: which incidents, to which channels.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteConfig {
    /// Label matchers on the labels every alert of the incident shares (`service="cart"`,
    /// `env=~"prod|staging"`); all must match.
    pub matchers: Vec<String>,
    /// Severities this route takes (every severity when empty).
    pub severity: Vec<Severity>,
    /// Integration names to deliver to.
    pub channels: Vec<String>,
    /// Keep trying the next routes after this one matched.
    #[serde(rename = "continue")]
    pub continue_matching: bool,
}

/// The `notifications` section.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationsConfig {
    /// Routes, tried in order.
    pub routes: Vec<RouteConfig>,
    /// The address operators open aiops at (`https://aiops.example.com`): messages link to
    /// `{public_url}/incidents/{id}`. No links without it.
    pub public_url: Option<String>,
    /// Also notify chat and e-mail channels when an RCA finds a root cause (tickets always
    /// get it as a comment). Default false.
    pub updates: bool,
    /// Attempts per delivery before it is given up (default 12).
    pub max_attempts: u32,
    /// Wait before the first retry, seconds, doubled at each next one (default 5).
    pub backoff_s: u64,
    /// Longest wait between attempts, seconds (default 600).
    pub max_backoff_s: u64,
    /// How often the outbox is read, milliseconds (default 1000).
    pub interval_ms: u64,
    /// Annotators (integration names) that mark operational events (`POST /api/v1/events`:
    /// deployments, configuration changes) on dashboards.
    pub annotate_events: Vec<String>,
    /// Annotators (integration names) that mark detected anomalies at or above
    /// `annotate_anomalies_severity`.
    pub annotate_anomalies: Vec<String>,
    /// The lowest anomaly severity annotated: `low`, `medium`, `high` (default) or
    /// `critical`.
    pub annotate_anomalies_severity: String,
    /// Alertmanagers (integration names) where the maintenance windows of
    /// `alerts.engine.maintenance_windows` are mirrored as silences.
    pub maintenance_silences: Vec<String>,
    /// How often they are mirrored, seconds (default 60).
    pub silence_sync_s: u64,
    /// Longest time one delivery may take before it is counted failed and retried, seconds
    /// (default 120; the integration's own timeout and retries come first).
    pub lease_s: u64,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            routes: Vec::new(),
            public_url: None,
            updates: false,
            max_attempts: 12,
            backoff_s: 5,
            max_backoff_s: 600,
            interval_ms: 1_000,
            annotate_events: Vec::new(),
            annotate_anomalies: Vec::new(),
            annotate_anomalies_severity: "high".into(),
            maintenance_silences: Vec::new(),
            silence_sync_s: 60,
            lease_s: 120,
        }
    }
}

/// A route with its matchers parsed.
#[derive(Debug, Clone)]
struct Route {
    matchers: Matchers,
    severity: Vec<Severity>,
    channels: Vec<String>,
    continue_matching: bool,
}

/// The integrations and the routes to them, checked: every channel names an integration that
/// can take incidents.
#[derive(Debug, Clone)]
pub struct Router {
    routes: Vec<Route>,
    integrations: BTreeMap<String, Integration>,
    config: NotificationsConfig,
}

/// How a channel takes incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Notify,
    Ticket,
    Annotate,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Notify => "notify",
            Role::Ticket => "ticket",
            Role::Annotate => "annotate",
        }
    }

    fn of(i: &Integration) -> Option<Self> {
        if i.ticketing.is_some() {
            Some(Role::Ticket)
        } else if i.notifier.is_some() {
            Some(Role::Notify)
        } else if i.annotator.is_some() {
            Some(Role::Annotate)
        } else {
            None
        }
    }
}

impl Router {
    /// Builds the integrations (reading their secrets) and checks the routes.
    pub fn new(
        specs: &BTreeMap<String, IntegrationSpec>,
        config: &NotificationsConfig,
    ) -> Result<Self> {
        let integrations = aiops_integrations::registry::build_all(specs)
            .map_err(|e| ServiceError::invalid_config("integrations", e.to_string()))?;
        Self::with_integrations(integrations, config)
    }

    /// Checks the routes against integrations already built.
    pub fn with_integrations(
        integrations: BTreeMap<String, Integration>,
        config: &NotificationsConfig,
    ) -> Result<Self> {
        let mut routes = Vec::new();
        for (i, r) in config.routes.iter().enumerate() {
            let text = r.matchers.join(",");
            let matchers = Matchers::parse(&text).map_err(|e| {
                ServiceError::invalid_config(
                    format!("notifications.routes[{i}].matchers"),
                    e.to_string(),
                )
            })?;
            for (j, c) in r.channels.iter().enumerate() {
                let key = format!("notifications.routes[{i}].channels[{j}]");
                check_channel(&integrations, c, &key)?;
            }
            routes.push(Route {
                matchers,
                severity: r.severity.clone(),
                channels: r.channels.clone(),
                continue_matching: r.continue_matching,
            });
        }
        if config
            .annotate_anomalies_severity
            .parse::<Severity>()
            .is_err()
        {
            return Err(ServiceError::invalid_config(
                "notifications.annotate_anomalies_severity",
                format!(
                    "{:?}: give low, medium, high or critical",
                    config.annotate_anomalies_severity
                ),
            ));
        }
        let annotators = config
            .annotate_events
            .iter()
            .map(|c| ("annotate_events", c))
            .chain(
                config
                    .annotate_anomalies
                    .iter()
                    .map(|c| ("annotate_anomalies", c)),
            );
        for (j, (list, c)) in annotators.enumerate() {
            let key = format!("notifications.{list}[{j}]");
            if integrations.get(c).and_then(Role::of) != Some(Role::Annotate) {
                return Err(ServiceError::invalid_config(
                    key,
                    format!("{c:?} is not an annotator integration (type grafana)"),
                ));
            }
        }
        if config.max_attempts == 0 || config.interval_ms == 0 || config.lease_s == 0 {
            return Err(ServiceError::invalid_config(
                "notifications",
                "max_attempts, interval_ms and lease_s must be at least 1",
            ));
        }
        Ok(Self {
            routes,
            integrations,
            config: config.clone(),
        })
    }

    /// Whether there is anything to deliver to.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
            && self.config.annotate_events.is_empty()
            && self.config.annotate_anomalies.is_empty()
            && self.integrations.values().all(|i| Role::of(i).is_none())
    }

    /// The annotations an operational event calls for: one per `annotate_events` channel,
    /// under the pseudo-incident `event:<id>`.
    pub fn event_deliveries(&self, e: &aiops_store::EventRow) -> Vec<NewDelivery> {
        let mut tags = vec!["aiops".to_string(), e.event_type.clone()];
        tags.push(format!("source:{}", e.source));
        if let Some(r) = &e.resource {
            tags.push(format!("resource:{r}"));
        }
        let what = e.body["description"]
            .as_str()
            .or(e.body["version"].as_str())
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        let text = match &e.resource {
            Some(r) => format!("{} of {r}{what}", e.event_type),
            None => format!("{}{what}", e.event_type),
        };
        let ann = Annotation {
            time: e.at,
            time_end: None,
            tags,
            text,
        };
        self.config
            .annotate_events
            .iter()
            .map(|c| NewDelivery {
                event_id: e.id,
                incident_id: format!("event:{}", e.id),
                channel: c.clone(),
                role: Role::Annotate.as_str().into(),
                kind: "event".into(),
                payload: serde_json::to_value(&ann).unwrap_or_default(),
            })
            .collect()
    }

    /// The built integrations, by name.
    pub fn integrations(&self) -> &BTreeMap<String, Integration> {
        &self.integrations
    }

    /// The channels an incident goes to: the matching routes', then its rules'.
    pub fn channels(&self, incident: &Incident) -> Vec<String> {
        let common = aiops_integrations::traits::common_labels(&incident.alerts);
        let labels = Labels::try_from_pairs(common.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .unwrap_or_default();
        let mut out: Vec<String> = Vec::new();
        let mut add = |c: &str| {
            if !out.iter().any(|o| o == c) {
                out.push(c.to_string());
            }
        };
        for r in &self.routes {
            let severity_ok = r.severity.is_empty() || r.severity.contains(&incident.severity);
            if severity_ok && r.matchers.matches(&labels) {
                r.channels.iter().for_each(|c| add(c));
                if !r.continue_matching {
                    break;
                }
            }
        }
        for a in &incident.alerts {
            if let Some(list) = a.annotations.get("notification_channels") {
                for c in list.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                    // A rule may name a channel this configuration lacks: its alerts still
                    // reach the others; the missing one is skipped (and logged at enqueue).
                    if self.integrations.get(c).and_then(Role::of).is_some() {
                        add(c);
                    } else {
                        tracing::warn!(channel = c, incident = %incident.id, "an alert rule names a channel that is not configured");
                    }
                }
            }
        }
        out
    }

    /// The deliveries a timeline entry calls for (`incident` as stored when it is read).
    pub fn deliveries(
        &self,
        event_id: i64,
        event: &IncidentEvent,
        incident: &Incident,
    ) -> Vec<NewDelivery> {
        let kind = match event.kind.as_str() {
            "opened" => "opened",
            // An alert's resolution names the alert; the incident's does not.
            "resolved" if event.detail.get("fingerprint").is_none() => "resolved",
            "merged" => "resolved",
            "rca" => "updated",
            _ => return Vec::new(),
        };
        let mut out = Vec::new();
        for channel in self.channels(incident) {
            let Some(role) = self.integrations.get(&channel).and_then(Role::of) else {
                continue;
            };
            if kind == "updated" && role != Role::Ticket && !self.config.updates {
                continue;
            }
            if kind == "updated" && role == Role::Annotate {
                continue;
            }
            let mut n = Notification::for_incident(
                match kind {
                    "opened" => NotificationKind::IncidentOpened,
                    "resolved" => NotificationKind::IncidentResolved,
                    _ => NotificationKind::IncidentUpdated,
                },
                incident,
                self.config
                    .public_url
                    .as_ref()
                    .map(|u| format!("{}/incidents/{}", u.trim_end_matches('/'), incident.id)),
            );
            if let (true, Some(cause)) = (kind == "updated", event.detail["top_cause"].as_str()) {
                n.root_cause = Some(cause.to_string());
                n.summary = format!("Root cause analysis: most likely {cause}. {}", n.summary);
            }
            if kind == "resolved" {
                n.timestamp = event.at;
            }
            out.push(NewDelivery {
                event_id,
                incident_id: incident.id.clone(),
                channel,
                role: role.as_str().into(),
                kind: kind.into(),
                payload: serde_json::to_value(&n).unwrap_or_default(),
            });
        }
        out
    }

    /// The wait before attempt `attempts + 1`.
    fn backoff_ms(&self, attempts: u32) -> i64 {
        let base = self.config.backoff_s.max(1) as f64 * 1000.0;
        let d = base * 2f64.powi(attempts.saturating_sub(1).min(30) as i32);
        d.min(self.config.max_backoff_s.max(1) as f64 * 1000.0) as i64
    }
}

fn check_channel(integrations: &BTreeMap<String, Integration>, c: &str, key: &str) -> Result<()> {
    match integrations.get(c) {
        None => Err(ServiceError::invalid_config(
            key,
            format!(
                "no integration named {c:?} (integrations: {})",
                integrations.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        )),
        Some(i) if Role::of(i).is_none() => Err(ServiceError::invalid_config(
            key,
            format!(
                "integration {c:?} ({}) cannot take incidents (it plays: {})",
                i.kind,
                i.roles().join(", ")
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// One delivery as the incident shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    /// The integration's name.
    pub channel: String,
    /// `notify`, `ticket` or `annotate`.
    pub role: String,
    /// `opened`, `updated` or `resolved`.
    pub kind: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// The last failed attempt's error (never a secret: errors name systems and URLs
    /// without credentials or queries).
    pub last_error: Option<String>,
    /// The integration's answer (a ticket's key and link, an annotation id...).
    pub result: Option<serde_json::Value>,
    /// When it was enqueued (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// When the next attempt is due, while pending (RFC 3339).
    pub next_attempt_at: Option<String>,
}

impl From<DeliveryRow> for DeliveryView {
    fn from(d: DeliveryRow) -> Self {
        use aiops_core::time::format_rfc3339;
        Self {
            next_attempt_at: (d.status == "pending").then(|| format_rfc3339(d.next_at)),
            channel: d.channel,
            role: d.role,
            kind: d.kind,
            status: d.status,
            attempts: d.attempts,
            last_error: d.last_error,
            result: d.result,
            created_at: format_rfc3339(d.created_at),
            updated_at: format_rfc3339(d.updated_at),
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Deliveries enqueued.
    pub enqueued: usize,
    /// Deliveries made.
    pub delivered: usize,
    /// Attempts that failed and will be retried.
    pub retried: usize,
    /// Deliveries given up.
    pub failed: usize,
}

/// The tables read for deliveries, each with its cursor.
#[derive(Debug, Clone, Copy)]
enum Outbox {
    /// The incident timeline.
    Timeline,
    /// Operational events.
    Events,
    /// Anomalies.
    Anomalies,
}

impl Outbox {
    fn cursor_key(self) -> &'static str {
        match self {
            Outbox::Timeline => CURSOR_KEY,
            Outbox::Events => EVENTS_CURSOR_KEY,
            Outbox::Anomalies => ANOMALIES_CURSOR_KEY,
        }
    }
}

/// One page read from an outbox table.
struct Page {
    /// The id of its last row (none: nothing new).
    last: Option<i64>,
    /// Rows read.
    rows: usize,
    /// The deliveries they call for.
    deliveries: Vec<NewDelivery>,
}

/// Reads the outbox and makes the deliveries.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    store: Store,
    router: Arc<Router>,
}

impl Dispatcher {
    /// A dispatcher over `store`.
    pub fn new(store: Store, router: Arc<Router>) -> Self {
        Self { store, router }
    }

    /// Reads the rows of `outbox` after its cursor (re-reading [`REWIND`] behind it), turns
    /// each page into deliveries and commits them with the new cursor; returns how many were
    /// new.
    async fn drain(&self, outbox: Outbox, now: TimestampMs) -> Result<usize> {
        let key = outbox.cursor_key();
        let cursor: i64 = self
            .store
            .value(key)
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut after = (cursor - REWIND).max(0);
        let mut total = 0;
        loop {
            let page = match outbox {
                Outbox::Timeline => self.timeline_page(after).await?,
                Outbox::Events => self.events_page(after).await?,
                Outbox::Anomalies => self.anomalies_page(after).await?,
            };
            let Some(last) = page.last else {
                return Ok(total);
            };
            total += self
                .store
                .enqueue_deliveries(&page.deliveries, key, last.max(cursor), now)
                .await? as usize;
            if page.rows < BATCH {
                return Ok(total);
            }
            after = last;
        }
    }

    /// Turns new timeline entries into deliveries; returns how many were enqueued.
    pub async fn enqueue(&self, now: TimestampMs) -> Result<usize> {
        self.drain(Outbox::Timeline, now).await
    }

    /// Turns new operational events into annotations; returns how many were enqueued.
    pub async fn enqueue_events(&self, now: TimestampMs) -> Result<usize> {
        if self.router.config.annotate_events.is_empty() {
            return Ok(0);
        }
        self.drain(Outbox::Events, now).await
    }

    /// Turns new anomalies at or above the configured severity into annotations; returns how
    /// many were enqueued.
    pub async fn enqueue_anomalies(&self, now: TimestampMs) -> Result<usize> {
        if self.router.config.annotate_anomalies.is_empty() {
            return Ok(0);
        }
        self.drain(Outbox::Anomalies, now).await
    }

    async fn timeline_page(&self, after: i64) -> Result<Page> {
        let events = self.store.incident_events_after(after, BATCH).await?;
        let mut incidents: BTreeMap<String, Option<Incident>> = BTreeMap::new();
        let mut deliveries = Vec::new();
        for (id, e) in &events {
            if !matches!(e.kind.as_str(), "opened" | "resolved" | "merged" | "rca") {
                continue;
            }
            if !incidents.contains_key(&e.incident_id) {
                let inc = match self.store.incident(&e.incident_id).await {
                    Ok(row) => serde_json::from_value::<Incident>(row.body).ok(),
                    Err(aiops_store::StoreError::NotFound { .. }) => None,
                    Err(err) => return Err(err.into()),
                };
                incidents.insert(e.incident_id.clone(), inc);
            }
            if let Some(Some(inc)) = incidents.get(&e.incident_id) {
                deliveries.extend(self.router.deliveries(*id, e, inc));
            }
        }
        Ok(Page {
            last: events.last().map(|e| e.0),
            rows: events.len(),
            deliveries,
        })
    }

    async fn events_page(&self, after: i64) -> Result<Page> {
        let events = self.store.events_after(after, BATCH).await?;
        Ok(Page {
            last: events.last().map(|e| e.id),
            rows: events.len(),
            deliveries: events
                .iter()
                .flat_map(|e| self.router.event_deliveries(e))
                .collect(),
        })
    }

    async fn anomalies_page(&self, after: i64) -> Result<Page> {
        let config = &self.router.config;
        let min = config
            .annotate_anomalies_severity
            .parse::<Severity>()
            .unwrap_or(Severity::High);
        let rows = self.store.anomalies_after(after, BATCH).await?;
        let mut deliveries = Vec::new();
        for r in &rows {
            let a = &r.anomaly;
            if !a.severity.parse::<Severity>().is_ok_and(|s| s >= min) {
                continue;
            }
            let ann = Annotation {
                time: a.t,
                time_end: None,
                tags: vec![
                    "aiops".into(),
                    "anomaly".into(),
                    format!("severity:{}", a.severity),
                    format!("resource:{}", a.resource),
                    format!("metric:{}", a.metric),
                ],
                text: format!(
                    "{} on {}: {} (score {:.2}, {})",
                    a.metric, a.resource, a.value, a.score, a.detector
                ),
            };
            for c in &config.annotate_anomalies {
                deliveries.push(NewDelivery {
                    event_id: r.id,
                    incident_id: format!("anomaly:{}", r.id),
                    channel: c.clone(),
                    role: Role::Annotate.as_str().into(),
                    kind: "event".into(),
                    payload: serde_json::to_value(&ann).unwrap_or_default(),
                });
            }
        }
        Ok(Page {
            last: rows.last().map(|r| r.id),
            rows: rows.len(),
            deliveries,
        })
    }

    /// Makes the deliveries due at `now`.
    pub async fn dispatch(&self, now: TimestampMs) -> Result<PassReport> {
        let mut report = PassReport::default();
        let due = self.store.due_deliveries(now, BATCH).await?;
        let lease = self.router.config.lease_s as i64 * 1000;
        for d in due {
            if !self
                .store
                .claim_delivery(d.id, d.next_at, now + lease)
                .await?
            {
                continue;
            }
            let outcome = self.deliver(&d).await;
            let attempts = d.attempts as u32 + 1;
            let attempt = match outcome {
                Ok(result) => {
                    report.delivered += 1;
                    DeliveryAttempt {
                        status: "delivered".into(),
                        error: None,
                        result: Some(result),
                        next_at: now,
                    }
                }
                Err(e) => {
                    let permanent = is_permanent(&e);
                    let give_up = permanent || attempts >= self.router.config.max_attempts;
                    tracing::warn!(channel = %d.channel, incident = %d.incident_id, kind = %d.kind, attempts, error = %e, give_up, "delivery failed");
                    if give_up {
                        report.failed += 1;
                    } else {
                        report.retried += 1;
                    }
                    DeliveryAttempt {
                        status: if give_up { "failed" } else { "pending" }.into(),
                        error: Some(e.to_string()),
                        result: None,
                        next_at: now + self.router.backoff_ms(attempts),
                    }
                }
            };
            self.store
                .record_delivery_attempt(d.id, &attempt, crate::now_ms())
                .await?;
        }
        Ok(report)
    }

    /// One pass: enqueue, then dispatch.
    pub async fn pass(&self, now: TimestampMs) -> Result<PassReport> {
        let enqueued = self.enqueue(now).await?
            + self.enqueue_events(now).await?
            + self.enqueue_anomalies(now).await?;
        let mut r = self.dispatch(now).await?;
        r.enqueued = enqueued;
        Ok(r)
    }

    /// Makes one delivery; returns what to record as its result.
    async fn deliver(
        &self,
        d: &DeliveryRow,
    ) -> std::result::Result<serde_json::Value, IntegrationError> {
        let config_error = |reason: &str| IntegrationError::Config {
            system: "notifications",
            key: d.channel.clone(),
            reason: reason.to_string(),
        };
        let Some(integration) = self.router.integrations.get(&d.channel) else {
            return Err(config_error("the integration is no longer configured"));
        };
        let payload_error = |e: serde_json::Error| IntegrationError::Payload {
            system: "notifications",
            message: format!("stored delivery {}: {e}", d.id),
        };
        if d.kind == "event" {
            let a = integration
                .annotator
                .as_ref()
                .ok_or_else(|| config_error("not an annotator"))?;
            let ann: Annotation =
                serde_json::from_value(d.payload.clone()).map_err(payload_error)?;
            let id = a.annotate(&ann).await?;
            return Ok(json!({"id": id}));
        }
        let n: Notification = serde_json::from_value(d.payload.clone()).map_err(payload_error)?;
        match d.role.as_str() {
            "notify" => {
                let notifier = integration
                    .notifier
                    .as_ref()
                    .ok_or_else(|| config_error("not a notifier"))?;
                let r = notifier.notify(&n).await?;
                Ok(json!({"attempts": r.attempts, "detail": r.detail}))
            }
            "ticket" => {
                let t = integration
                    .ticketing
                    .as_ref()
                    .ok_or_else(|| config_error("not a ticketing system"))?;
                let opened = match d.kind.as_str() {
                    "opened" => None,
                    _ => self
                        .store
                        .delivered_result(&d.incident_id, &d.channel, "opened")
                        .await
                        .ok()
                        .flatten()
                        .and_then(|v| serde_json::from_value::<TicketRef>(v).ok()),
                };
                // Without a recorded ticket (its opening failed for good), open is
                // idempotent: it finds the ticket or makes it.
                let ticket = match opened {
                    Some(t) => t,
                    None => t.open(&n).await?,
                };
                match d.kind.as_str() {
                    "updated" => t.update(&ticket, &n).await?,
                    "resolved" => t.close(&ticket, &n).await?,
                    _ => {}
                }
                Ok(serde_json::to_value(&ticket).unwrap_or_default())
            }
            "annotate" => {
                let a = integration
                    .annotator
                    .as_ref()
                    .ok_or_else(|| config_error("not an annotator"))?;
                let started = n.incident.as_ref().map_or(n.timestamp, |i| i.started_at);
                let mut tags = vec!["aiops".to_string(), "incident".to_string()];
                tags.push(format!("severity:{}", n.severity.as_str()));
                if let Some(inc) = &n.incident {
                    tags.extend(inc.resources.iter().map(|r| format!("resource:{r}")));
                }
                let mut ann = Annotation {
                    time: started,
                    time_end: None,
                    tags,
                    text: format!("{}: {}", n.title, n.summary),
                };
                if d.kind == "resolved" {
                    ann.time_end = Some(n.timestamp.max(started));
                    let id = self
                        .store
                        .delivered_result(&d.incident_id, &d.channel, "opened")
                        .await
                        .ok()
                        .flatten()
                        .and_then(|v| v["id"].as_str().map(str::to_string));
                    if let Some(id) = id {
                        a.update(&id, &ann).await?;
                        return Ok(json!({"id": id}));
                    }
                }
                let id = a.annotate(&ann).await?;
                Ok(json!({"id": id}))
            }
            other => Err(config_error(&format!("unknown delivery role {other:?}"))),
        }
    }
}

/// Whether repeating the attempt cannot help: a refusal of the request itself.
fn is_permanent(e: &IntegrationError) -> bool {
    match e {
        IntegrationError::Status { status, .. } | IntegrationError::Remote { status, .. } => {
            (400..500).contains(status) && !matches!(status, 408 | 425 | 429)
        }
        IntegrationError::Config { .. } | IntegrationError::Payload { .. } => true,
        _ => false,
    }
}

/// Runs passes every `interval_ms` until stopped.
pub async fn run(
    dispatcher: Dispatcher,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let every = std::time::Duration::from_millis(dispatcher.router.config.interval_ms.max(10));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => match dispatcher.pass(crate::now_ms()).await {
                Ok(r) if r != PassReport::default() => tracing::info!(enqueued = r.enqueued, delivered = r.delivered, retried = r.retried, failed = r.failed, "deliveries"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "delivery pass failed; retried next interval"),
            },
            _ = async { let _ = stop.wait_for(|s| *s).await; } => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiops_core::{Alert, AlertStatus};
    use aiops_integrations::traits::{BoxFuture, Delivery, Notifier, Ticketing};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A chat channel that answers `status` to its first `fails` messages.
    #[derive(Debug, Default)]
    struct Chat {
        fails: AtomicU32,
        status: u16,
        sent: Mutex<Vec<Notification>>,
    }

    impl Notifier for Chat {
        fn system(&self) -> &'static str {
            "chat"
        }
        fn notify<'a>(
            &'a self,
            n: &'a Notification,
        ) -> BoxFuture<'a, aiops_integrations::Result<Delivery>> {
            Box::pin(async move {
                if self
                    .fails
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |f| f.checked_sub(1))
                    .is_ok()
                {
                    return Err(IntegrationError::Status {
                        system: "chat",
                        url: "http://127.0.0.1/hook".into(),
                        status: self.status,
                        body: "busy".into(),
                    });
                }
                self.sent.lock().unwrap().push(n.clone());
                Ok(Delivery {
                    attempts: 1,
                    detail: "ok".into(),
                })
            })
        }
    }

    /// A ticketing system keyed by incident id, recording what it was asked.
    #[derive(Debug, Default)]
    struct Tickets {
        calls: Mutex<Vec<String>>,
    }

    impl Ticketing for Tickets {
        fn system(&self) -> &'static str {
            "tickets"
        }
        fn open_as<'a>(
            &'a self,
            n: &'a Notification,
            _fields: &'a aiops_integrations::traits::TicketFields,
        ) -> BoxFuture<'a, aiops_integrations::Result<TicketRef>> {
            Box::pin(async move {
                let id = n.incident_id.clone().unwrap_or_default();
                self.calls.lock().unwrap().push(format!("open {id}"));
                Ok(TicketRef {
                    system: "tickets".into(),
                    key: format!("T-{id}"),
                    url: None,
                })
            })
        }
        fn update<'a>(
            &'a self,
            t: &'a TicketRef,
            n: &'a Notification,
        ) -> BoxFuture<'a, aiops_integrations::Result<()>> {
            Box::pin(async move {
                self.calls.lock().unwrap().push(format!(
                    "update {} {}",
                    t.key,
                    n.root_cause.clone().unwrap_or_default()
                ));
                Ok(())
            })
        }
        fn close<'a>(
            &'a self,
            t: &'a TicketRef,
            _n: &'a Notification,
        ) -> BoxFuture<'a, aiops_integrations::Result<()>> {
            Box::pin(async move {
                self.calls.lock().unwrap().push(format!("close {}", t.key));
                Ok(())
            })
        }
    }

    fn alert(status: AlertStatus, at: TimestampMs) -> Alert {
        let labels = Labels::try_from_pairs([
            ("alertname", "Down"),
            ("service", "cart"),
            ("severity", "critical"),
        ])
        .unwrap();
        let mut a = Alert::firing(labels, at).unwrap();
        if status == AlertStatus::Resolved {
            a.status = AlertStatus::Resolved;
            a.ends_at = Some(at + 1_000);
        }
        a
    }

    fn make_router(
        chat: Arc<Chat>,
        tickets: Arc<Tickets>,
        routes: Vec<RouteConfig>,
    ) -> Result<Router> {
        let mut integrations = BTreeMap::new();
        integrations.insert(
            "chat".to_string(),
            Integration {
                name: "chat".into(),
                kind: "test".into(),
                notifier: Some(chat),
                ..Integration::default()
            },
        );
        integrations.insert(
            "tickets".to_string(),
            Integration {
                name: "tickets".into(),
                kind: "test".into(),
                ticketing: Some(tickets),
                ..Integration::default()
            },
        );
        Router::with_integrations(
            integrations,
            &NotificationsConfig {
                routes,
                backoff_s: 1,
                public_url: Some("https://aiops.example.com/".into()),
                ..NotificationsConfig::default()
            },
        )
    }

    #[tokio::test]
    async fn incidents_are_delivered_once_in_order_and_retried_until_delivered() {
        let (store, _) = crate::testing::store_with_cpu_series().await;
        let pipeline = crate::alerting::AlertPipeline::new(store.clone(), Default::default(), None)
            .await
            .unwrap();
        let chat = Arc::new(Chat {
            fails: AtomicU32::new(2),
            status: 503,
            ..Chat::default()
        });
        let tickets = Arc::new(Tickets::default());
        let routes = vec![
            RouteConfig {
                severity: vec![Severity::Info],
                channels: vec!["chat".into()],
                ..RouteConfig::default()
            },
            RouteConfig {
                matchers: vec![r#"service="cart""#.into()],
                channels: vec!["chat".into(), "tickets".into()],
                ..RouteConfig::default()
            },
        ];
        let router = Arc::new(make_router(chat.clone(), tickets.clone(), routes).unwrap());
        let d = Dispatcher::new(store.clone(), router);
        let t0 = crate::now_ms();
        pipeline
            .receive(vec![alert(AlertStatus::Firing, t0)], "test", t0)
            .await
            .unwrap();
        let r = d.pass(t0).await.unwrap();
        assert_eq!((r.enqueued, r.delivered, r.retried), (2, 1, 1), "{r:?}");
        // Enqueued once: a second pass over the same timeline adds nothing; the retry waits.
        let r = d.pass(t0 + 500).await.unwrap();
        assert_eq!(r, PassReport::default());
        assert_eq!(d.pass(t0 + 1_000).await.unwrap().retried, 1);
        assert_eq!(d.pass(t0 + 3_000).await.unwrap().delivered, 1);
        let sent = chat.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].kind, NotificationKind::IncidentOpened);
        let inc_id = sent[0].incident_id.clone().unwrap();
        assert_eq!(
            sent[0].url.as_deref(),
            Some(&*format!("https://aiops.example.com/incidents/{inc_id}"))
        );
        // An RCA comments on the ticket (chat is not told: `updates` is off).
        store
            .append_incident_events(&[IncidentEvent {
                incident_id: inc_id.clone(),
                at: t0 + 3_500,
                kind: "rca".into(),
                detail: json!({"top_cause": "db"}),
            }])
            .await
            .unwrap();
        assert_eq!(d.pass(t0 + 4_000).await.unwrap().delivered, 1);
        // Resolution: the ticket opened is the one closed.
        pipeline
            .receive(vec![alert(AlertStatus::Resolved, t0)], "test", t0 + 5_000)
            .await
            .unwrap();
        // The incident resolves once its grace period is over.
        let later = t0 + 30 * 60_000;
        pipeline.tick(later).await.unwrap();
        let r = d.pass(later).await.unwrap();
        assert_eq!((r.enqueued, r.delivered), (2, 2), "{r:?}");
        assert_eq!(
            *tickets.calls.lock().unwrap(),
            [
                format!("open {inc_id}"),
                format!("update T-{inc_id} db"),
                format!("close T-{inc_id}")
            ]
        );
        let kinds: Vec<_> = chat.sent.lock().unwrap().iter().map(|n| n.kind).collect();
        assert_eq!(
            kinds,
            [
                NotificationKind::IncidentOpened,
                NotificationKind::IncidentResolved
            ]
        );
        let detail = pipeline.get_incident(&inc_id).await.unwrap();
        let chat_open = &detail.deliveries[0];
        assert_eq!(
            (chat_open.channel.as_str(), chat_open.status.as_str()),
            ("chat", "delivered")
        );
        assert_eq!(chat_open.attempts, 3);
        assert_eq!(detail.deliveries.len(), 5);
        assert!(detail.deliveries.iter().all(|d| d.status == "delivered"));
    }

    #[tokio::test]
    async fn a_refused_request_fails_at_once_and_routes_are_checked() {
        let (store, _) = crate::testing::store_with_cpu_series().await;
        let pipeline = crate::alerting::AlertPipeline::new(store.clone(), Default::default(), None)
            .await
            .unwrap();
        let chat = Arc::new(Chat {
            fails: AtomicU32::new(1),
            status: 400,
            ..Chat::default()
        });
        let routes = vec![RouteConfig {
            channels: vec!["chat".into()],
            ..RouteConfig::default()
        }];
        let router = Arc::new(make_router(chat.clone(), Arc::default(), routes).unwrap());
        let d = Dispatcher::new(store.clone(), router);
        let t0 = crate::now_ms();
        pipeline
            .receive(vec![alert(AlertStatus::Firing, t0)], "test", t0)
            .await
            .unwrap();
        let r = d.pass(t0).await.unwrap();
        assert_eq!((r.enqueued, r.failed), (1, 1), "{r:?}");
        let rows = store.delivery_counts().await.unwrap();
        assert_eq!(rows, (0, 0, 1));

        let bad = vec![RouteConfig {
            channels: vec!["pager".into()],
            ..RouteConfig::default()
        }];
        let e = make_router(chat.clone(), Arc::default(), bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("pager") && e.contains("chat, tickets"), "{e}");
        let bad = vec![RouteConfig {
            matchers: vec!["service=~(".into()],
            channels: vec!["chat".into()],
            ..RouteConfig::default()
        }];
        assert!(make_router(chat, Arc::default(), bad).is_err());
    }

    /// An annotator recording what it was given.
    #[derive(Debug, Default)]
    struct Marks {
        made: Mutex<Vec<Annotation>>,
    }

    impl aiops_integrations::traits::Annotator for Marks {
        fn system(&self) -> &'static str {
            "marks"
        }
        fn annotate<'a>(
            &'a self,
            a: &'a Annotation,
        ) -> BoxFuture<'a, aiops_integrations::Result<String>> {
            Box::pin(async move {
                let mut made = self.made.lock().unwrap();
                made.push(a.clone());
                Ok(made.len().to_string())
            })
        }
        fn update<'a>(
            &'a self,
            _id: &'a str,
            _a: &'a Annotation,
        ) -> BoxFuture<'a, aiops_integrations::Result<()>> {
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn severe_anomalies_are_annotated_once() {
        let (store, ids) = crate::testing::store_with_cpu_series().await;
        let marks = Arc::new(Marks::default());
        let mut integrations = BTreeMap::new();
        integrations.insert(
            "grafana".to_string(),
            Integration {
                name: "grafana".into(),
                kind: "test".into(),
                annotator: Some(marks.clone()),
                ..Integration::default()
            },
        );
        let config = NotificationsConfig {
            annotate_anomalies: vec!["grafana".into()],
            ..NotificationsConfig::default()
        };
        let router = Arc::new(Router::with_integrations(integrations.clone(), &config).unwrap());
        let d = Dispatcher::new(store.clone(), router);
        let anomaly = |t: TimestampMs, severity: &str| aiops_store::NewAnomaly {
            series_id: ids[0],
            t,
            resource: "api".into(),
            metric: "cpu".into(),
            value: 99.0,
            score: 0.99,
            severity: severity.into(),
            expected: None,
            lower: None,
            upper: None,
            detector: "default".into(),
            detected_at: t,
        };
        store
            .insert_anomalies(&[anomaly(1_000, "low"), anomaly(2_000, "critical")])
            .await
            .unwrap();
        let r = d.pass(crate::now_ms()).await.unwrap();
        assert_eq!((r.enqueued, r.delivered), (1, 1), "{r:?}");
        assert_eq!(
            d.pass(crate::now_ms()).await.unwrap(),
            PassReport::default()
        );
        let made = marks.made.lock().unwrap().clone();
        assert_eq!(made.len(), 1);
        assert_eq!(made[0].time, 2_000);
        assert!(
            made[0].tags.contains(&"severity:critical".to_string()),
            "{made:?}"
        );
        let bad = NotificationsConfig {
            annotate_anomalies_severity: "urgent".into(),
            ..config
        };
        assert!(Router::with_integrations(integrations, &bad).is_err());
    }
}
