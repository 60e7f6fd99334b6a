//! The alert pipeline: alerts in (Alertmanager API v2, its webhook, alert rules), committed,
//! correlated into incidents; the operators' acknowledgements and resolutions; the queries of
//! the alert and incident endpoints.
//!
//! - [`AlertPipeline::receive`] runs a batch through the correlation engine and commits, in
//!   one transaction, the received alerts to `alert_log`, the alert rows, the incident rows
//!   the batch touched and their timeline entries. It returns only after that commit, so the
//!   HTTP layer answers 2xx only for durable alerts. One async mutex orders batches, ticks and
//!   operator actions: the log's order is the engine's order.
//! - The engine's state is snapshotted every `snapshot_interval_s` and at shutdown under the
//!   key [`SNAPSHOT_KEY`] with the last log sequence number it includes; the log up to it is
//!   then pruned. A restart restores the snapshot and replays the log after it, each entry at
//!   its logged engine time, so a crash after an acknowledged POST loses nothing. The replay
//!   only rebuilds the engine: the rows were committed with the log entries, and incidents are
//!   written again only when they differ from their stored row, so nothing is duplicated.
//! - A failed commit leaves the engine ahead of the store: the next call rebuilds it from the
//!   store (snapshot + log) before anything else.
//! - Alert status: `firing` or `resolved` as the source says at the engine's time; an
//!   operator's acknowledgement holds while the alert keeps firing (same `startsAt`), a
//!   resolve from the source wins over it; an operator's resolution holds until the alert
//!   fires again with a new `startsAt`. Alerts whose `endsAt` passes (Alertmanager's
//!   `resolve_timeout` for those sent without one) are resolved by [`AlertPipeline::tick`].
//! - Changed alerts and incidents are published to [`AlertPipeline::subscribe`] (`/ws/alerts`).
//!
//! - Incidents are compared with what was committed by a hash of their JSON text: only those
//!   the engine reports changed since the last call (all of them after a rebuild) are
//!   serialised and, when the hash differs, written.
//!
//! Memory: the engine's state (one copy of every active alert, the open incidents) plus, per
//! open incident, its status, the hash of its last committed row and its members'
//! fingerprints, and the pending `endsAt` of active alerts. Resolved incidents live in the
//! store only: once a call has committed their resolution (the engine resolved them, or
//! merged them into another one), the engine forgets them
//! ([`Engine::forget_resolved_incidents`]) and so does this module, so neither memory nor the
//! snapshot grows with the number of incidents ever seen. Nothing is lost by it: a resolved
//! incident never changes again (an alert of it that fires again opens a new incident), and
//! the API reads incidents from the store. `/metrics` shows the counts
//! (`aiops_incidents_in_memory`, `aiops_incident_states_in_memory`,
//! `aiops_correlation_waiting_alerts`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aiops_alerts::{Engine, EngineState};
use aiops_core::time::{format_rfc3339, serde_rfc3339};
use aiops_core::{Alert, AlertStatus, Incident, IncidentStatus, Labels, Severity, TimestampMs};
use aiops_core::{Topology, TopologyGraph};
use aiops_store::{
    AlertCommit, AlertFilter, AlertRow, IncidentEvent, IncidentFilter, IncidentRow, IncidentUpdate,
    Store, StoreError,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{Mutex, MutexGuard, broadcast};

use crate::error::{Result, ServiceError};

/// The key of the `kv` table holding the engine snapshot, JSON `{"seq": N, "state": ...}`
/// where `seq` is the last `alert_log` sequence number the state includes.
pub const SNAPSHOT_KEY: &str = "alerts.engine";

/// Default page size of the list queries (rows).
pub const DEFAULT_LIMIT: usize = 100;

/// Largest page size of the list queries (rows).
pub const MAX_LIMIT: usize = 1000;

/// "No limit" for the store's list queries.
const ALL: usize = i64::MAX as usize;

/// Masks personal data in a text (alert annotations pass through it before they are stored);
/// [`crate::PiiMasker`] provides one.
pub type Masker = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// Settings of the alert pipeline (the `alerts:` section of the service configuration).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// The correlation configuration, Alertmanager-shaped (`route`, `inhibit_rules`,
    /// `time_intervals`, `silences`, `correlation`...), as `aiops alerts correlate` reads it.
    pub engine: aiops_alerts::Config,
    /// How often the engine state is snapshotted and the alert log pruned (seconds).
    pub snapshot_interval_s: u64,
    /// How often the engine's time advances (incidents resolve, `endsAt` passes) (seconds).
    pub tick_interval_s: u64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            engine: aiops_alerts::Config::default(),
            snapshot_interval_s: 60,
            tick_interval_s: 5,
        }
    }
}

impl AlertsConfig {
    /// Checks the engine configuration and the intervals.
    pub fn check(&self) -> Result<()> {
        self.engine
            .check()
            .map_err(|e| ServiceError::invalid_config("alerts.engine", e.to_string()))?;
        if self.snapshot_interval_s == 0 {
            return Err(ServiceError::invalid_config(
                "alerts.snapshot_interval_s",
                "must be at least 1",
            ));
        }
        if self.tick_interval_s == 0 {
            return Err(ServiceError::invalid_config(
                "alerts.tick_interval_s",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// What one [`AlertPipeline::receive`] call did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReceiveReport {
    /// Alerts received.
    pub received: usize,
    /// Repeats with unchanged content.
    pub duplicates: usize,
    /// Alerts muted by a silence, a maintenance window or an inhibition.
    pub muted: usize,
    /// The incidents the batch touched (opened, grown or resolved), by id.
    pub incidents: Vec<String>,
    /// The incidents it opened.
    pub opened: Vec<String>,
}

/// What one [`AlertPipeline::tick`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TickReport {
    /// Notification batches the engine made due (delivery is not this module's job).
    pub notifications: usize,
    /// Alerts resolved because their `endsAt` passed.
    pub alerts_resolved: usize,
    /// Incident rows written (resolved, merged, changed).
    pub incidents_changed: usize,
}

/// An alert as the API shows it (`GET /api/v1/alerts`, `/ws/alerts`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AlertView {
    /// The alert's id: its label fingerprint (16 hex digits).
    pub alert_id: String,
    /// Labels.
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub labels: Labels,
    /// Annotations (PII-masked).
    pub annotations: BTreeMap<String, String>,
    /// `firing`, `acknowledged` or `resolved`.
    pub status: String,
    /// Severity (`critical`, `high`, `medium`, `low`, `info`, or the label as sent).
    pub severity: Option<String>,
    /// When it started firing (RFC 3339).
    #[serde(with = "serde_rfc3339")]
    pub starts_at: TimestampMs,
    /// When it ends or ended (RFC 3339), if known.
    #[serde(with = "serde_rfc3339::option")]
    pub ends_at: Option<TimestampMs>,
    /// When it last changed (RFC 3339).
    #[serde(with = "serde_rfc3339")]
    pub updated_at: TimestampMs,
    /// Where it came from (`alertmanager`, `webhook`, `rule:NAME`...).
    pub source: String,
    /// The incident holding it.
    pub incident_id: Option<String>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// When (RFC 3339).
    #[serde(with = "serde_rfc3339::option")]
    pub acknowledged_at: Option<TimestampMs>,
    /// The acknowledgement's comment.
    pub comment: Option<String>,
    /// Who resolved it by hand.
    pub resolved_by: Option<String>,
    /// The resolution text.
    pub resolution: Option<String>,
    /// Link back to the source.
    pub generator_url: String,
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.clone().filter(|s| !s.is_empty())
}

impl From<&AlertRow> for AlertView {
    fn from(r: &AlertRow) -> Self {
        let acknowledged_by = nonempty(&r.acknowledged_by);
        Self {
            alert_id: r.fingerprint.clone(),
            labels: r.labels.clone(),
            annotations: r.annotations.clone(),
            status: r.status.clone(),
            severity: r.severity.clone(),
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            updated_at: r.updated_at,
            source: r.source.clone(),
            incident_id: r.incident_id.clone(),
            acknowledged_at: acknowledged_by.as_ref().and(r.acknowledged_at),
            acknowledged_by,
            comment: nonempty(&r.ack_comment),
            resolved_by: nonempty(&r.resolved_by),
            resolution: nonempty(&r.resolution),
            generator_url: r.generator_url.clone(),
        }
    }
}

/// An incident as the API lists it (`GET /api/v1/incidents`, `/ws/alerts`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IncidentSummary {
    /// Id (`inc-N`).
    pub incident_id: String,
    /// Title.
    pub title: String,
    /// Highest severity of its alerts.
    pub severity: String,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    /// When its first alert started (RFC 3339).
    #[serde(with = "serde_rfc3339")]
    pub started_at: TimestampMs,
    /// When it resolved (RFC 3339).
    #[serde(with = "serde_rfc3339::option")]
    pub resolved_at: Option<TimestampMs>,
    /// When its row last changed (RFC 3339).
    #[serde(with = "serde_rfc3339")]
    pub updated_at: TimestampMs,
    /// Resources its alerts touch.
    pub resources: Vec<String>,
    /// The resource most likely at its origin, when the topology tells.
    pub probable_origin: Option<String>,
    /// Number of its alerts.
    pub alert_count: usize,
}

impl From<&IncidentRow> for IncidentSummary {
    fn from(r: &IncidentRow) -> Self {
        let strings = |key: &str| -> Vec<String> {
            r.body[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Self {
            incident_id: r.id.clone(),
            title: r.title.clone(),
            severity: r.severity.clone(),
            status: r.status.clone(),
            started_at: r.started_at,
            resolved_at: r.resolved_at,
            updated_at: r.updated_at,
            resources: strings("resources"),
            probable_origin: r.body["probable_origin"].as_str().map(str::to_string),
            alert_count: r.body["alerts"].as_array().map_or(0, Vec::len),
        }
    }
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    /// When (RFC 3339).
    #[serde(with = "serde_rfc3339")]
    pub at: TimestampMs,
    /// `opened`, `alert_added`, `acknowledged`, `resolved`, `merged`...
    pub kind: String,
    /// Details (the alert's `fingerprint`, the `actor`, a `comment` or `resolution`...).
    pub detail: serde_json::Value,
}

/// A change of an incident's status.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StatusChange {
    /// When (RFC 3339).
    #[serde(with = "serde_rfc3339")]
    pub at: TimestampMs,
    /// The new status (`open`, `acknowledged`, `resolved`).
    pub status: String,
    /// Who or what changed it (`engine`, an operator).
    pub by: String,
    /// Why (`merged into inc-N`), if told.
    pub reason: Option<String>,
}

/// One incident with everything the detail endpoint shows (`GET /api/v1/incidents/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IncidentDetail {
    /// The incident.
    #[serde(flatten)]
    pub incident: IncidentSummary,
    /// Its alerts (with the operators' acknowledgements and resolutions).
    pub alerts: Vec<AlertView>,
    /// Its timeline, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// Its status changes, oldest first.
    pub status_changes: Vec<StatusChange>,
    /// Its root-cause analyses (stored RCA documents), newest first.
    pub rca: Vec<serde_json::Value>,
    /// What was sent about it to the integrations (notifications, tickets, annotations),
    /// with every delivery's attempts and last error, oldest first.
    pub deliveries: Vec<crate::deliveries::DeliveryView>,
}

/// A page of alerts (`GET /api/v1/alerts`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AlertList {
    /// Alerts matching the filters (all pages).
    pub total: u64,
    /// This page, most recently updated first.
    pub alerts: Vec<AlertView>,
    /// The cursor of the next page, if there is one.
    pub next_cursor: Option<String>,
}

/// A page of incidents (`GET /api/v1/incidents`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IncidentList {
    /// Incidents matching the filters (all pages).
    pub total: u64,
    /// This page, most recently updated first.
    pub incidents: Vec<IncidentSummary>,
    /// The cursor of the next page, if there is one.
    pub next_cursor: Option<String>,
}

/// The answer to an acknowledgement or a resolution (the seed's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AlertActionResult {
    /// The alert's id.
    pub alert_id: String,
    /// Its status now.
    pub status: String,
}

/// Filters of [`AlertPipeline::list_alerts`] (the query string of `GET /api/v1/alerts`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
pub struct AlertQuery {
    /// Only this status: `firing`, `acknowledged` or `resolved`.
    pub status: Option<String>,
    /// Only this severity (any spelling [`Severity`] reads).
    pub severity: Option<String>,
    /// Page size (rows; default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Filters of [`AlertPipeline::list_incidents`] (the query string of `GET /api/v1/incidents`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
pub struct IncidentQuery {
    /// Only this status: `open`, `acknowledged` or `resolved`.
    pub status: Option<String>,
    /// Only this severity (any spelling [`Severity`] reads).
    pub severity: Option<String>,
    /// Page size (rows; default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// What `/ws/alerts` subscribers receive: `{"type": "alert", ...}` or
/// `{"type": "incident", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AlertStreamEvent {
    /// An alert changed.
    Alert(AlertView),
    /// An incident changed.
    Incident(IncidentSummary),
}

/// Counters of the pipeline (exported on `/metrics`).
#[derive(Debug, Default)]
pub struct AlertCounters {
    /// Alerts received (committed).
    pub alerts_in: AtomicU64,
    /// Of which repeats with unchanged content.
    pub duplicates: AtomicU64,
    /// Incidents opened.
    pub incidents_opened: AtomicU64,
    /// Failed calls after which the engine was rebuilt from the store.
    pub failures: AtomicU64,
    /// Snapshots saved.
    pub snapshots: AtomicU64,
    /// Gauge: open incidents the engine holds.
    pub incidents_open: AtomicU64,
    /// Gauge: resolved incidents the engine still holds (their resolution not yet known to
    /// be committed; forgotten at the end of the call that commits it).
    pub incidents_closed: AtomicU64,
    /// Gauge: incidents whose last committed state this module keeps.
    pub incident_states: AtomicU64,
    /// Gauge: alerts waiting in correlation rules' chains for `min_alerts`.
    pub waiting_alerts: AtomicU64,
}

/// How many incidents the alert pipeline holds in memory ([`AlertPipeline::incident_memory`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IncidentMemory {
    /// Open incidents in the engine.
    pub open: usize,
    /// Resolved incidents still in the engine.
    pub closed: usize,
    /// Incidents whose last committed state the pipeline keeps (open ones, and merged ones
    /// whose row is still to be closed).
    pub committed: usize,
    /// Alerts waiting in correlation rules' chains for `min_alerts` (a chain leaves once
    /// its rule's `window` has passed since its last alert).
    pub waiting: usize,
}

/// The last committed state of an incident.
#[derive(Debug, Clone)]
enum Committed {
    /// Open or acknowledged: its status, a hash of its body's JSON text (see [`body_hash`])
    /// and its alerts' label fingerprints.
    Active {
        status: String,
        body: u128,
        members: BTreeSet<u64>,
    },
    /// Resolved (never reopened): kept only while the engine still holds the incident (until
    /// the end of the call that committed it, or after a rebuild whose replay resolved it
    /// again) or, for a merged one, until the call that closed its row ends.
    Resolved,
}

impl Committed {
    fn from_row(row: &IncidentRow) -> Self {
        if row.status == "resolved" {
            return Self::Resolved;
        }
        // The text a new serialization of the incident gives (a `Value` does not keep the
        // stored text's key order); a body that does not read as an incident hashes to 0,
        // which only makes its next change rewrite it.
        let body = serde_json::from_value::<Incident>(row.body.clone())
            .ok()
            .and_then(|i| serde_json::to_string(&i).ok())
            .map_or(0, |t| body_hash(&t));
        Self::Active {
            status: row.status.clone(),
            body,
            members: members_of(&row.body)
                .iter()
                .map(|l| l.fingerprint().0)
                .collect(),
        }
    }
}

/// A 128-bit hash of an incident body's JSON text, to tell whether it changed since it was
/// committed without keeping the text (two SipHash passes with different prefixes; the keys
/// are fixed, so equal texts hash alike for the life of the process).
fn body_hash(text: &str) -> u128 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut a = DefaultHasher::new();
    text.hash(&mut a);
    let mut b = DefaultHasher::new();
    0x9e37_79b9_7f4a_7c15_u64.hash(&mut b);
    text.hash(&mut b);
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

/// The label sets of an incident body's alerts.
fn members_of(body: &serde_json::Value) -> Vec<Labels> {
    body["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| serde_json::from_value::<Labels>(a["labels"].clone()).ok())
        .collect()
}

/// An incident as the API lists it, from the engine's incident and its row's status.
fn summary_of(inc: &Incident, status: &str, now: TimestampMs) -> IncidentSummary {
    IncidentSummary {
        incident_id: inc.id.clone(),
        title: inc.title.clone(),
        severity: inc.severity.as_str().into(),
        status: status.into(),
        started_at: inc.started_at,
        resolved_at: inc.resolved_at,
        updated_at: now,
        resources: inc.resources.clone(),
        probable_origin: inc.probable_origin.clone(),
        alert_count: inc.alerts.len(),
    }
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    seq: i64,
    state: EngineState,
}

/// Everything the mutex guards.
/// The engine held by one call: both locks (see [`AlertPipeline::lock`]).
struct Locked<'a> {
    inner: MutexGuard<'a, Inner>,
    _cluster: aiops_store::ClusterLock,
}

impl std::ops::Deref for Locked<'_> {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.inner
    }
}

#[derive(Debug)]
struct Inner {
    engine: Engine,
    /// The last `alert_log` sequence number the engine has seen.
    seq: i64,
    /// Incident id -> its last committed state: the open incidents (and, briefly, those
    /// being resolved; see [`Committed::Resolved`]).
    incidents: HashMap<String, Committed>,
    /// Active alert (label fingerprint) -> its `endsAt`, and the same ordered by time.
    expiry: HashMap<u64, TimestampMs>,
    expiries: BTreeSet<(TimestampMs, u64)>,
    /// The engine may be ahead of the store (a call failed): rebuild before the next call.
    stale: bool,
    /// The engine's count of merged incidents when the committed incidents were last
    /// checked for merges.
    merged_seen: u64,
    /// Compare every incident with its committed state at the next call (after a rebuild),
    /// not only those the engine reports changed.
    check_all: bool,
}

impl Inner {
    fn set_expiry(&mut self, fp: &str, at: Option<TimestampMs>) {
        // Fingerprints are 16 hex digits; anything else is not an alert this tracks.
        let Ok(key) = u64::from_str_radix(fp, 16) else {
            return;
        };
        if let Some(old) = self.expiry.remove(&key) {
            self.expiries.remove(&(old, key));
        }
        if let Some(at) = at {
            self.expiry.insert(key, at);
            self.expiries.insert((at, key));
        }
    }

    fn current(&self, id: &str) -> String {
        self.engine
            .current_incident(id)
            .unwrap_or_else(|| id.to_string())
    }
}

/// What a commit gives back: the changes (the rows moved back in), the last log sequence
/// number given, and the ids of the incident rows written.
#[derive(Debug)]
struct Committing {
    changes: Changes,
    seq: Option<i64>,
    incident_ids: Vec<String>,
}

/// What one call commits.
#[derive(Debug, Default)]
struct Changes {
    alerts: BTreeMap<String, AlertRow>,
    incidents: Vec<IncidentUpdate>,
    /// What `/ws/alerts` shows of `incidents` (only made when someone listens).
    summaries: Vec<IncidentSummary>,
    events: Vec<IncidentEvent>,
    opened: Vec<String>,
    /// Incidents merged into another one whose rows this call closes.
    merged: Vec<String>,
}

impl Changes {
    fn is_empty(&self) -> bool {
        self.alerts.is_empty() && self.incidents.is_empty() && self.events.is_empty()
    }
}

fn internal(what: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal {
        what: what.to_string(),
    }
}

fn status_name(s: IncidentStatus) -> &'static str {
    match s {
        IncidentStatus::Open => "open",
        IncidentStatus::Acknowledged => "acknowledged",
        IncidentStatus::Resolved => "resolved",
    }
}

/// The `severity` label in its canonical spelling, or as sent when it is not a known one.
fn severity_of(labels: &Labels) -> Option<String> {
    labels.get("severity").map(|s| {
        s.parse::<Severity>()
            .map_or_else(|_| s.to_string(), |v| v.as_str().to_string())
    })
}

fn is_manual(r: &AlertRow) -> bool {
    r.resolved_by.as_deref().is_some_and(|s| !s.is_empty())
}

/// Clears an operator field (the store keeps a field the new row leaves `None`).
fn cleared(v: &Option<String>) -> Option<String> {
    v.as_ref().map(|_| String::new())
}

fn not_found_is_none<T>(r: std::result::Result<T, StoreError>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Rebuilds the engine from the snapshot and the log after it, and what the store holds.
async fn load(store: &Store, config: &AlertsConfig, topology: Option<&Topology>) -> Result<Inner> {
    let (mut engine, mut seq) = match store.value(SNAPSHOT_KEY).await? {
        Some(text) => {
            let snap: Snapshot = serde_json::from_str(&text)
                .map_err(|e| internal(format!("the alert engine snapshot does not load: {e}")))?;
            (
                Engine::restore(config.engine.clone(), topology, snap.state)?,
                snap.seq,
            )
        }
        None => (Engine::new(config.engine.clone(), topology)?, 0),
    };
    let mut last_t = None;
    for entry in store.alert_log_after(seq).await? {
        let alert = Alert::from_json(&entry.body)
            .map_err(|e| internal(format!("alert_log entry {}: {e}", entry.seq)))?;
        let t = engine
            .now()
            .map_or(entry.received_at, |n| n.max(entry.received_at));
        if last_t != Some(t) {
            // As `receive` does once per batch.
            engine.tick(t)?;
            last_t = Some(t);
        }
        engine.ingest(alert, t)?;
        seq = entry.seq;
    }
    let mut stored: HashMap<String, IncidentRow> = HashMap::new();
    for status in ["open", "acknowledged"] {
        let filter = IncidentFilter {
            status: Some(status.into()),
            ..Default::default()
        };
        for row in store.incidents(&filter, ALL).await?.1 {
            stored.insert(row.id.clone(), row);
        }
    }
    let mut incidents = HashMap::new();
    for inc in engine.incidents() {
        let committed = match stored.get(&inc.id) {
            Some(row) => Committed::from_row(row),
            // Resolved and not open in the store: resolved there too (or pruned).
            None if inc.status == IncidentStatus::Resolved => Committed::Resolved,
            None => match not_found_is_none(store.incident(&inc.id).await)? {
                Some(row) => Committed::from_row(&row),
                None => continue,
            },
        };
        incidents.insert(inc.id, committed);
    }
    // Open rows of incidents the engine merged into another one: closed on the next call.
    for (id, row) in &stored {
        if !incidents.contains_key(id)
            && engine.current_incident(id).is_some_and(|into| &into != id)
        {
            incidents.insert(id.clone(), Committed::from_row(row));
        }
    }
    let mut inner = Inner {
        engine,
        seq,
        incidents,
        expiry: HashMap::new(),
        expiries: BTreeSet::new(),
        stale: false,
        merged_seen: 0,
        check_all: true,
    };
    for status in ["firing", "acknowledged"] {
        let filter = AlertFilter {
            status: Some(status.into()),
            ..Default::default()
        };
        for row in store.alerts(&filter, ALL).await?.1 {
            inner.set_expiry(&row.fingerprint, row.ends_at);
        }
    }
    Ok(inner)
}

fn memory_of(inner: &Inner) -> IncidentMemory {
    let (open, closed) = inner.engine.incidents_in_memory();
    IncidentMemory {
        open,
        closed,
        committed: inner.incidents.len(),
        waiting: inner.engine.alerts_waiting(),
    }
}

/// The alert pipeline (see the module docs). Share it behind the `Arc` it comes in.
pub struct AlertPipeline {
    store: Store,
    config: AlertsConfig,
    /// The topology correlation uses; a replacement takes effect at the next call.
    topology: std::sync::RwLock<Option<Topology>>,
    masker: Option<Masker>,
    inner: Mutex<Inner>,
    events: broadcast::Sender<AlertStreamEvent>,
    /// Counters.
    pub counters: AlertCounters,
}

impl std::fmt::Debug for AlertPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertPipeline")
            .field("config", &self.config)
            .field("masker", &self.masker.is_some())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl AlertPipeline {
    /// A pipeline over `store`, its engine restored from the last snapshot and the alert log
    /// after it. Annotations are stored as received (see [`AlertPipeline::with_masker`]).
    pub async fn new(
        store: Store,
        config: AlertsConfig,
        topology: Option<Topology>,
    ) -> Result<Arc<Self>> {
        Self::with_masker(store, config, topology, None).await
    }

    /// The same, with annotation values passed through `masker` before they are stored
    /// (the log, the rows, the engine).
    pub async fn with_masker(
        store: Store,
        config: AlertsConfig,
        topology: Option<Topology>,
        masker: Option<Masker>,
    ) -> Result<Arc<Self>> {
        config.check()?;
        if let Some(t) = &topology {
            TopologyGraph::new(t)?;
        }
        let inner = load(&store, &config, topology.as_ref()).await?;
        let p = Self {
            store,
            config,
            topology: std::sync::RwLock::new(topology),
            masker,
            inner: Mutex::new(inner),
            events: broadcast::channel(1024).0,
            counters: AlertCounters::default(),
        };
        p.record_memory(&*p.inner.lock().await);
        Ok(Arc::new(p))
    }

    /// The configuration.
    pub fn config(&self) -> &AlertsConfig {
        &self.config
    }

    /// Changed alerts and incidents as they are committed.
    pub fn subscribe(&self) -> broadcast::Receiver<AlertStreamEvent> {
        self.events.subscribe()
    }

    /// The engine's counters (alerts in, duplicates, suppressed, inhibited, incidents).
    pub async fn stats(&self) -> Result<aiops_alerts::Stats> {
        Ok(self.lock().await?.engine.stats())
    }

    /// The mutex, with the engine rebuilt first if a previous call failed.
    /// The engine, up to date with the store: this process' mutex, then the lock shared by
    /// every process on the store (PostgreSQL replicas), then a rebuild when the log holds
    /// entries this engine has not seen (another replica took them) or a call failed.
    async fn lock(&self) -> Result<Locked<'_>> {
        let mut inner = self.inner.lock().await;
        let cluster = self.store.lock_alerts().await?;
        if !inner.stale
            && self.store.backend() == aiops_store::Backend::Postgres
            && self.store.alert_log_last_seq().await? > inner.seq
        {
            inner.stale = true;
        }
        if inner.stale {
            let topology = self
                .topology
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            *inner = load(&self.store, &self.config, topology.as_ref()).await?;
            self.record_memory(&inner);
        }
        Ok(Locked {
            inner,
            _cluster: cluster,
        })
    }

    /// After a successful commit, every incident the engine resolved is resolved in the store
    /// (a call writes every incident the engine changed, and one that resolves changes once):
    /// the engine forgets them, and both they and `merged` (merged incidents whose rows the
    /// commit closed) leave the committed states. Updates the gauges.
    fn forget_committed(&self, inner: &mut Inner, merged: &[String]) {
        for id in inner.engine.forget_resolved_incidents(TimestampMs::MAX) {
            inner.incidents.remove(&id);
        }
        for id in merged {
            inner.incidents.remove(id);
        }
        self.record_memory(inner);
    }

    fn record_memory(&self, inner: &Inner) {
        let m = memory_of(inner);
        let c = &self.counters;
        c.incidents_open.store(m.open as u64, Ordering::Relaxed);
        c.incidents_closed.store(m.closed as u64, Ordering::Relaxed);
        c.incident_states
            .store(m.committed as u64, Ordering::Relaxed);
        c.waiting_alerts.store(m.waiting as u64, Ordering::Relaxed);
    }

    /// How many incidents the pipeline holds in memory (the engine's open and resolved ones,
    /// and the committed states it compares them with); `/metrics` shows the same as
    /// `aiops_incidents_in_memory` and `aiops_incident_states_in_memory`.
    pub async fn incident_memory(&self) -> Result<IncidentMemory> {
        let inner = self.lock().await?;
        self.record_memory(&inner);
        Ok(memory_of(&inner))
    }

    fn failed<T>(&self, inner: &mut Inner, r: Result<T>) -> Result<T> {
        if r.is_err() {
            inner.stale = true;
            self.counters.failures.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    fn publish(&self, changes: &Changes) {
        if self.events.receiver_count() == 0 {
            return;
        }
        for row in changes.alerts.values() {
            let _ = self.events.send(AlertStreamEvent::Alert(row.into()));
        }
        for summary in &changes.summaries {
            let _ = self
                .events
                .send(AlertStreamEvent::Incident(summary.clone()));
        }
    }

    /// Replaces the topology correlation uses (after `PUT /api/v1/topology`): the engine is
    /// rebuilt with it, from the last snapshot and the log, before the next call.
    pub async fn set_topology(&self, topology: Option<Topology>) -> Result<()> {
        if let Some(t) = &topology {
            TopologyGraph::new(t)?;
        }
        let mut inner = self.inner.lock().await;
        *self.topology.write().unwrap_or_else(|e| e.into_inner()) = topology;
        inner.stale = true;
        Ok(())
    }

    /// The pipeline's counters in the Prometheus text format (for `/metrics`).
    pub fn exposition(&self) -> String {
        let c = &self.counters;
        let mut out = String::new();
        for (name, help, v) in [
            (
                "aiops_alerts_received_total",
                "Alerts received and committed.",
                &c.alerts_in,
            ),
            (
                "aiops_alerts_duplicates_total",
                "Alerts that repeated one already known.",
                &c.duplicates,
            ),
            (
                "aiops_incidents_opened_total",
                "Incidents opened.",
                &c.incidents_opened,
            ),
            (
                "aiops_alert_pipeline_failures_total",
                "Alert pipeline calls that failed (the engine was rebuilt).",
                &c.failures,
            ),
            (
                "aiops_alert_snapshots_total",
                "Correlation state snapshots saved.",
                &c.snapshots,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                v.load(Ordering::Relaxed)
            ));
        }
        out.push_str(&format!(
            "# HELP aiops_incidents_in_memory Incidents the correlation engine holds: open, and \
             resolved ones whose resolution is not yet committed.\n\
             # TYPE aiops_incidents_in_memory gauge\n\
             aiops_incidents_in_memory{{state=\"open\"}} {}\n\
             aiops_incidents_in_memory{{state=\"closed\"}} {}\n\
             # HELP aiops_incident_states_in_memory Incidents whose last committed state the \
             alert pipeline keeps.\n\
             # TYPE aiops_incident_states_in_memory gauge\n\
             aiops_incident_states_in_memory {}\n\
             # HELP aiops_correlation_waiting_alerts Alerts waiting in correlation rules' chains \
             for min_alerts.\n\
             # TYPE aiops_correlation_waiting_alerts gauge\n\
             aiops_correlation_waiting_alerts {}\n",
            c.incidents_open.load(Ordering::Relaxed),
            c.incidents_closed.load(Ordering::Relaxed),
            c.incident_states.load(Ordering::Relaxed),
            c.waiting_alerts.load(Ordering::Relaxed),
        ));
        out
    }

    /// Runs a batch of alerts from `source` (`alertmanager`, `webhook`, `rule:NAME`...)
    /// through the engine at time `now` (ms; the engine's time if that is later) and commits
    /// them with what they changed; returns once the store has committed.
    pub async fn receive(
        &self,
        alerts: Vec<Alert>,
        source: &str,
        now: TimestampMs,
    ) -> Result<ReceiveReport> {
        let mut inner = self.lock().await?;
        let r = self.receive_locked(&mut inner, alerts, source, now).await;
        self.failed(&mut inner, r)
    }

    async fn receive_locked(
        &self,
        inner: &mut Inner,
        alerts: Vec<Alert>,
        source: &str,
        now: TimestampMs,
    ) -> Result<ReceiveReport> {
        let t = inner.engine.now().map_or(now, |n| n.max(now));
        let fps: Vec<String> = alerts.iter().map(|a| a.fingerprint.to_string()).collect();
        // The stored rows of the batch's alerts, in one query.
        let existing: HashMap<String, AlertRow> = {
            let mut wanted: Vec<&str> = fps.iter().map(String::as_str).collect();
            wanted.sort_unstable();
            wanted.dedup();
            self.store
                .alerts_by_fingerprint(&wanted)
                .await?
                .into_iter()
                .map(|r| (r.fingerprint.clone(), r))
                .collect()
        };
        let mut report = ReceiveReport {
            received: alerts.len(),
            ..Default::default()
        };
        let mut changes = Changes::default();
        let mut log = Vec::with_capacity(alerts.len());
        inner.engine.tick(t)?;
        let timeout = self.config.engine.global.resolve_timeout.0;
        for (mut alert, fp) in alerts.into_iter().zip(fps) {
            if let Some(mask) = &self.masker {
                for v in alert.annotations.values_mut() {
                    *v = mask(v);
                }
            }
            let body = serde_json::to_string(&alert).map_err(internal)?;
            // An alert repeated in the batch follows its row as the batch left it.
            let prev = changes.alerts.get(&fp).or_else(|| existing.get(&fp));
            let mut row = alert_row(&alert, prev, None, source, t, timeout);
            let got = inner.engine.ingest(alert, t)?;
            if got.outcome == aiops_alerts::DedupOutcome::Duplicate {
                report.duplicates += 1;
            }
            if !got.muted_by.is_empty() || got.inhibited_by.is_some() {
                report.muted += 1;
            }
            if got.incident.is_some() {
                row.incident_id = got.incident;
            }
            let active = row.status != "resolved";
            inner.set_expiry(&fp, row.ends_at.filter(|_| active));
            changes.alerts.insert(fp, row);
            log.push((t, source.to_string(), body));
        }
        self.incident_changes(inner, t, &mut changes).await?;
        for row in changes.alerts.values_mut() {
            if let Some(id) = &row.incident_id {
                let current = inner.current(id);
                if &current != id {
                    row.incident_id = Some(current);
                }
            }
        }
        let changes = self.commit(changes, log).await?;
        inner.seq = changes.seq.unwrap_or(inner.seq);
        self.forget_committed(inner, &changes.changes.merged);
        self.counters
            .alerts_in
            .fetch_add(report.received as u64, Ordering::Relaxed);
        self.counters
            .duplicates
            .fetch_add(report.duplicates as u64, Ordering::Relaxed);
        self.counters
            .incidents_opened
            .fetch_add(changes.changes.opened.len() as u64, Ordering::Relaxed);
        self.publish(&changes.changes);
        report.incidents = changes.incident_ids;
        report.opened = changes.changes.opened;
        Ok(report)
    }

    /// Commits `changes` with the log entries `log`; gives them back with the last log
    /// sequence number and the ids of the incident rows written.
    async fn commit(
        &self,
        mut changes: Changes,
        log: Vec<(TimestampMs, String, String)>,
    ) -> Result<Committing> {
        let commit = AlertCommit {
            log,
            alerts: std::mem::take(&mut changes.alerts).into_values().collect(),
            incidents: std::mem::take(&mut changes.incidents),
            events: std::mem::take(&mut changes.events),
        };
        let seqs = self.store.commit_alerts(&commit).await?;
        let incident_ids = commit.incidents.iter().map(|r| r.id.clone()).collect();
        changes.alerts = commit
            .alerts
            .into_iter()
            .map(|r| (r.fingerprint.clone(), r))
            .collect();
        Ok(Committing {
            seq: seqs.iter().copied().max(),
            incident_ids,
            changes,
        })
    }

    /// Adds to `changes` the incident rows and timeline entries that differ from what was
    /// committed: those the engine reports changed (every one after a rebuild), and those
    /// merged away.
    async fn incident_changes(
        &self,
        inner: &mut Inner,
        now: TimestampMs,
        changes: &mut Changes,
    ) -> Result<()> {
        let mut merges = Vec::new();
        let mut ids: BTreeSet<String> = inner.engine.take_changed_incidents().into_iter().collect();
        let merged = inner.engine.merged();
        if inner.check_all || merged != inner.merged_seen {
            for (id, c) in &inner.incidents {
                if let Committed::Active { .. } = c {
                    match inner.engine.current_incident(id) {
                        Some(into) if &into != id => merges.push((id.clone(), into)),
                        _ if inner.check_all => {
                            ids.insert(id.clone());
                        }
                        _ => {}
                    }
                }
            }
            inner.merged_seen = merged;
        }
        if inner.check_all {
            ids.extend(inner.engine.open_incidents().into_iter().map(|i| i.id));
            inner.check_all = false;
        }
        merges.sort();
        ids.extend(merges.iter().map(|m| m.1.clone()));
        let listening = self.events.receiver_count() > 0;
        for id in &ids {
            let Some(inc) = inner.engine.incident(id) else {
                continue;
            };
            let prev = inner.incidents.get(&inc.id);
            if matches!(prev, Some(Committed::Resolved)) {
                continue;
            }
            let body = serde_json::to_string(&inc).map_err(internal)?;
            let hash = body_hash(&body);
            let (prev_status, prev_members) = match prev {
                Some(Committed::Active {
                    status,
                    body: committed,
                    members,
                }) => {
                    if *committed == hash {
                        continue;
                    }
                    (Some(status.as_str()), Some(members))
                }
                _ => (None, None),
            };
            let status = match (inc.status, prev_status) {
                (IncidentStatus::Open, Some("acknowledged")) => "acknowledged",
                (s, _) => status_name(s),
            };
            let event = |kind: &str, detail: serde_json::Value| IncidentEvent {
                incident_id: inc.id.clone(),
                at: now,
                kind: kind.into(),
                detail,
            };
            if prev_status.is_none() {
                changes.events.push(event(
                    "opened",
                    json!({"title": inc.title, "severity": inc.severity, "by": "engine"}),
                ));
                changes.opened.push(inc.id.clone());
            }
            let mut members = BTreeSet::new();
            for a in &inc.alerts {
                let fp = a.labels.fingerprint();
                members.insert(fp.0);
                if !prev_members.is_some_and(|m| m.contains(&fp.0)) {
                    changes.events.push(event(
                        "alert_added",
                        json!({"fingerprint": fp.to_string(), "alertname": a.labels.get("alertname")}),
                    ));
                }
            }
            if inc.status == IncidentStatus::Resolved {
                changes
                    .events
                    .push(event("resolved", json!({"by": "engine"})));
            }
            if listening {
                changes.summaries.push(summary_of(&inc, status, now));
            }
            let committed = if status == "resolved" {
                Committed::Resolved
            } else {
                Committed::Active {
                    status: status.into(),
                    body: hash,
                    members,
                }
            };
            changes.incidents.push(IncidentUpdate {
                id: inc.id.clone(),
                title: inc.title.clone(),
                severity: inc.severity.as_str().into(),
                status: status.into(),
                started_at: inc.started_at,
                resolved_at: inc.resolved_at,
                updated_at: now,
                body,
            });
            inner.incidents.insert(inc.id.clone(), committed);
        }
        for (id, into) in merges {
            // The row as committed (merges are rare: read it back).
            let mut row = self.store.incident(&id).await?;
            row.status = "resolved".into();
            row.resolved_at = Some(now);
            row.updated_at = now;
            row.body["status"] = "resolved".into();
            row.body["resolved_at"] = format_rfc3339(now).into();
            if listening {
                changes.summaries.push((&row).into());
            }
            changes.incidents.push((&row).into());
            changes.events.push(IncidentEvent {
                incident_id: id.clone(),
                at: now,
                kind: "merged".into(),
                detail: json!({"into": into, "by": "engine"}),
            });
            inner.incidents.insert(id.clone(), Committed::Resolved);
            changes.merged.push(id.clone());
            let filter = AlertFilter {
                incident_id: Some(id),
                ..Default::default()
            };
            for r in self.store.alerts(&filter, ALL).await?.1 {
                let entry = changes.alerts.entry(r.fingerprint.clone()).or_insert(r);
                entry.incident_id = Some(into.clone());
                entry.updated_at = now;
            }
        }
        Ok(())
    }

    /// Advances the engine to `now` (ms; the engine's time if that is later): resolves the
    /// alerts whose `endsAt` passed and the incidents due, and commits what changed.
    pub async fn tick(&self, now: TimestampMs) -> Result<TickReport> {
        let mut inner = self.lock().await?;
        let r = self.tick_locked(&mut inner, now).await;
        self.failed(&mut inner, r)
    }

    async fn tick_locked(&self, inner: &mut Inner, now: TimestampMs) -> Result<TickReport> {
        let t = inner.engine.now().map_or(now, |n| n.max(now));
        let notifications = inner.engine.tick(t)?.len();
        let mut changes = Changes::default();
        let mut due = Vec::new();
        while let Some(&(at, fp)) = inner.expiries.first()
            && at <= t
        {
            inner.expiries.pop_first();
            inner.expiry.remove(&fp);
            due.push(format!("{fp:016x}"));
        }
        let wanted: Vec<&str> = due.iter().map(String::as_str).collect();
        for mut row in self.store.alerts_by_fingerprint(&wanted).await? {
            if row.status != "resolved" && row.ends_at.is_some_and(|e| e <= t) {
                row.status = "resolved".into();
                row.updated_at = t;
                changes.alerts.insert(row.fingerprint.clone(), row);
            }
        }
        let alerts_resolved = changes.alerts.len();
        self.incident_changes(inner, t, &mut changes).await?;
        let mut incidents_changed = 0;
        if changes.is_empty() {
            self.forget_committed(inner, &[]);
        } else {
            let done = self.commit(changes, Vec::new()).await?;
            incidents_changed = done.incident_ids.len();
            self.forget_committed(inner, &done.changes.merged);
            self.publish(&done.changes);
        }
        Ok(TickReport {
            notifications,
            alerts_resolved,
            incidents_changed,
        })
    }

    /// Saves the engine state with the last log sequence number it includes, then prunes the
    /// log up to it; returns that number.
    pub async fn snapshot(&self, now: TimestampMs) -> Result<i64> {
        let inner = self.lock().await?;
        let text = serde_json::to_string(&Snapshot {
            seq: inner.seq,
            state: inner.engine.state().clone(),
        })
        .map_err(internal)?;
        self.store.put_value(SNAPSHOT_KEY, &text, now).await?;
        // The last entry stays: its number tells other replicas how far the log went.
        self.store.prune_alert_log(inner.seq - 1).await?;
        self.counters.snapshots.fetch_add(1, Ordering::Relaxed);
        Ok(inner.seq)
    }

    /// Ticks every `tick_interval_s` and snapshots every `snapshot_interval_s` until
    /// `shutdown` resolves, then snapshots once more. A failed tick or snapshot is counted
    /// and retried at the next interval; only the final snapshot's error is returned.
    pub async fn run(
        self: Arc<Self>,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> Result<()> {
        let mut tick = tokio::time::interval(Duration::from_secs(self.config.tick_interval_s));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let every = Duration::from_secs(self.config.snapshot_interval_s);
        let mut last = Instant::now();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    // A failure is counted and marks the engine for a rebuild.
                    let _ = self.tick(crate::now_ms()).await;
                    if last.elapsed() >= every {
                        last = Instant::now();
                        if self.snapshot(crate::now_ms()).await.is_err() {
                            self.counters.failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                _ = &mut shutdown => break,
            }
        }
        self.snapshot(crate::now_ms()).await.map(drop)
    }

    async fn find_alert(&self, fingerprint: &str) -> Result<AlertRow> {
        Ok(self.store.alert(fingerprint).await?)
    }

    /// An operator acknowledges a firing alert (`actor`: who; `comment`: why); the alert's
    /// incident gets an `acknowledged` timeline entry, and once none of its alerts is still
    /// firing unacknowledged, the open incident becomes `acknowledged` (a `status` entry by
    /// `actor`; it stays so while the engine changes it, until it resolves). A resolved or
    /// already acknowledged alert is left as it is. Unknown fingerprint: not found (404).
    pub async fn acknowledge(
        &self,
        fingerprint: &str,
        actor: &str,
        comment: Option<&str>,
        now: TimestampMs,
    ) -> Result<AlertActionResult> {
        let mut inner = self.lock().await?;
        let mut row = self.find_alert(fingerprint).await?;
        if row.status == "firing" {
            row.status = "acknowledged".into();
            row.acknowledged_by = Some(actor.into());
            row.acknowledged_at = Some(now);
            row.ack_comment = Some(comment.unwrap_or_default().into());
            row.updated_at = now.max(row.updated_at);
            let events: Vec<IncidentEvent> = row
                .incident_id
                .iter()
                .map(|id| IncidentEvent {
                    incident_id: id.clone(),
                    at: now,
                    kind: "acknowledged".into(),
                    detail: json!({"fingerprint": fingerprint, "actor": actor, "comment": comment}),
                })
                .collect();
            self.store.update_alert(&row, &events).await?;
            self.publish_alert(&row);
            if let Some(id) = &row.incident_id {
                self.acknowledge_incident_if_covered(&mut inner, id, actor, now)
                    .await?;
            }
        }
        Ok(AlertActionResult {
            alert_id: row.fingerprint,
            status: row.status,
        })
    }

    /// Marks open incident `id` acknowledged when none of its alerts still fires
    /// unacknowledged.
    async fn acknowledge_incident_if_covered(
        &self,
        inner: &mut Inner,
        id: &str,
        actor: &str,
        now: TimestampMs,
    ) -> Result<()> {
        let row = self.store.incident(id).await?;
        if row.status != "open" {
            return Ok(());
        }
        let firing = AlertFilter {
            incident_id: Some(id.to_string()),
            status: Some("firing".into()),
            ..Default::default()
        };
        if self.store.alerts(&firing, 1).await?.0 > 0 {
            return Ok(());
        }
        let mut update = IncidentUpdate::from(&row);
        update.status = "acknowledged".into();
        update.updated_at = now.max(row.updated_at);
        let commit = AlertCommit {
            log: Vec::new(),
            alerts: Vec::new(),
            incidents: vec![update],
            events: vec![IncidentEvent {
                incident_id: id.to_string(),
                at: now,
                kind: "status".into(),
                detail: json!({"status": "acknowledged", "by": actor,
                               "reason": "every firing alert acknowledged"}),
            }],
        };
        self.store.commit_alerts(&commit).await?;
        // The engine keeps the incident open: later commits keep the acknowledgement.
        if let Some(Committed::Active { status, .. }) = inner.incidents.get_mut(id) {
            *status = "acknowledged".into();
        }
        Ok(())
    }

    /// An operator resolves an alert by hand (`actor`: who; `resolution`: how); it stays
    /// resolved until it fires again with a new `startsAt`. The alert's incident gets a
    /// `resolved` timeline entry naming the alert. Resolving twice changes nothing the
    /// second time. Unknown fingerprint: not found (404).
    pub async fn resolve(
        &self,
        fingerprint: &str,
        actor: &str,
        resolution: &str,
        now: TimestampMs,
    ) -> Result<AlertActionResult> {
        let mut inner = self.lock().await?;
        let mut row = self.find_alert(fingerprint).await?;
        if row.status != "resolved" {
            row.status = "resolved".into();
            row.resolved_by = Some(actor.into());
            row.resolution = Some(resolution.into());
            row.updated_at = now.max(row.updated_at);
            let events: Vec<IncidentEvent> = row
                .incident_id
                .iter()
                .map(|id| IncidentEvent {
                    incident_id: id.clone(),
                    at: now,
                    kind: "resolved".into(),
                    detail: json!({"fingerprint": fingerprint, "actor": actor, "resolution": resolution}),
                })
                .collect();
            self.store.update_alert(&row, &events).await?;
            inner.set_expiry(fingerprint, None);
            self.publish_alert(&row);
        }
        Ok(AlertActionResult {
            alert_id: row.fingerprint,
            status: row.status,
        })
    }

    fn publish_alert(&self, row: &AlertRow) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(AlertStreamEvent::Alert(row.into()));
        }
    }

    /// One alert by fingerprint (404 when unknown).
    pub async fn get_alert(&self, fingerprint: &str) -> Result<AlertView> {
        Ok((&self.find_alert(fingerprint).await?).into())
    }

    /// A page of alerts, most recently updated first. Unknown status or severity, a bad
    /// limit or cursor: [`ServiceError::InvalidParameter`].
    pub async fn list_alerts(&self, q: &AlertQuery) -> Result<AlertList> {
        let limit = check_limit(q.limit)?;
        let filter = AlertFilter {
            status: check_status(q.status.as_deref(), &["firing", "acknowledged", "resolved"])?,
            severity: check_severity(q.severity.as_deref())?,
            incident_id: None,
            before: q.cursor.as_deref().map(decode_cursor).transpose()?,
        };
        let (total, mut rows) = self.store.alerts(&filter, limit + 1).await?;
        let next_cursor = page(&mut rows, limit, |r| (r.updated_at, r.fingerprint.as_str()));
        Ok(AlertList {
            total,
            alerts: rows.iter().map(AlertView::from).collect(),
            next_cursor,
        })
    }

    /// A page of incidents, most recently updated first. Unknown status or severity, a bad
    /// limit or cursor: [`ServiceError::InvalidParameter`].
    pub async fn list_incidents(&self, q: &IncidentQuery) -> Result<IncidentList> {
        let limit = check_limit(q.limit)?;
        let filter = IncidentFilter {
            status: check_status(q.status.as_deref(), &["open", "acknowledged", "resolved"])?,
            severity: check_severity(q.severity.as_deref())?,
            before: q.cursor.as_deref().map(decode_cursor).transpose()?,
        };
        let (total, mut rows) = self.store.incidents(&filter, limit + 1).await?;
        let next_cursor = page(&mut rows, limit, |r| (r.updated_at, r.id.as_str()));
        Ok(IncidentList {
            total,
            incidents: rows.iter().map(IncidentSummary::from).collect(),
            next_cursor,
        })
    }

    /// One incident with its alerts, timeline, status changes and RCA (404 when unknown).
    pub async fn get_incident(&self, id: &str) -> Result<IncidentDetail> {
        let row = self.store.incident(id).await?;
        let filter = AlertFilter {
            incident_id: Some(id.into()),
            ..Default::default()
        };
        let mut alerts = self.store.alerts(&filter, ALL).await?.1;
        let mut seen: HashSet<String> = alerts.iter().map(|a| a.fingerprint.clone()).collect();
        for fp in members_of(&row.body)
            .iter()
            .map(|l| l.fingerprint().to_string())
        {
            if seen.insert(fp.clone())
                && let Some(a) = not_found_is_none(self.store.alert(&fp).await)?
            {
                alerts.push(a);
            }
        }
        let events = self.store.incident_events(id).await?;
        let status_changes = events.iter().filter_map(status_change).collect();
        let timeline = events
            .into_iter()
            .map(|e| TimelineEntry {
                at: e.at,
                kind: e.kind,
                detail: e.detail,
            })
            .collect();
        let rca = self
            .store
            .analyses_of_incident(id)
            .await?
            .into_iter()
            .map(|d| d.body)
            .collect();
        Ok(IncidentDetail {
            incident: (&row).into(),
            alerts: alerts.iter().map(AlertView::from).collect(),
            timeline,
            status_changes,
            rca,
            deliveries: self
                .store
                .deliveries_of_incident(id)
                .await?
                .into_iter()
                .map(crate::deliveries::DeliveryView::from)
                .collect(),
        })
    }
}

/// Cuts a `limit + 1` fetch to `limit` rows; the cursor of the next page when there is one.
fn page<T>(
    rows: &mut Vec<T>,
    limit: usize,
    key: impl Fn(&T) -> (TimestampMs, &str),
) -> Option<String> {
    (rows.len() > limit).then(|| {
        rows.truncate(limit);
        let (at, id) = key(&rows[limit - 1]);
        encode_cursor(at, id)
    })
}

/// The row of a received alert, given the stored one (see the module docs for the status).
fn alert_row(
    alert: &Alert,
    prev: Option<&AlertRow>,
    incident: Option<String>,
    source: &str,
    now: TimestampMs,
    resolve_timeout: i64,
) -> AlertRow {
    let same_episode = prev.is_some_and(|r| r.starts_at == alert.starts_at);
    let resolved = alert.status_at(now) == AlertStatus::Resolved;
    let status = match prev {
        _ if resolved => "resolved",
        Some(r) if same_episode && r.status == "acknowledged" => "acknowledged",
        Some(r) if same_episode && r.status == "resolved" && is_manual(r) => "resolved",
        _ => "firing",
    };
    let ends_at = match alert.ends_at {
        Some(e) => Some(e),
        None if resolved => Some(now),
        // As Alertmanager: an alert sent without an end ends `resolve_timeout` after now.
        None => Some(now.saturating_add(resolve_timeout)),
    };
    let mut row = AlertRow {
        fingerprint: alert.fingerprint.to_string(),
        labels: alert.labels.clone(),
        annotations: alert.annotations.clone(),
        status: status.into(),
        severity: severity_of(&alert.labels),
        starts_at: alert.starts_at,
        ends_at,
        updated_at: now,
        source: source.into(),
        incident_id: incident.or_else(|| prev.and_then(|r| r.incident_id.clone())),
        acknowledged_by: None,
        acknowledged_at: None,
        ack_comment: None,
        resolved_by: None,
        resolution: None,
        generator_url: alert.generator_url.clone(),
    };
    if let Some(p) = prev {
        if same_episode {
            row.acknowledged_by = p.acknowledged_by.clone();
            row.acknowledged_at = p.acknowledged_at;
            row.ack_comment = p.ack_comment.clone();
            row.resolved_by = p.resolved_by.clone();
            row.resolution = p.resolution.clone();
        } else {
            // A new episode: the operators' fields of the previous one no longer apply.
            row.acknowledged_by = cleared(&p.acknowledged_by);
            row.acknowledged_at = p.acknowledged_at;
            row.ack_comment = cleared(&p.ack_comment);
            row.resolved_by = cleared(&p.resolved_by);
            row.resolution = cleared(&p.resolution);
        }
    }
    row
}

/// The incident status change a timeline entry records, if it records one.
fn status_change(e: &IncidentEvent) -> Option<StatusChange> {
    let by = e.detail["by"].as_str().unwrap_or("engine").to_string();
    let (status, reason) = match e.kind.as_str() {
        "opened" => ("open", None),
        // An alert's resolution names the alert; the incident's does not.
        "resolved" if e.detail.get("fingerprint").is_none() => ("resolved", None),
        "merged" => (
            "resolved",
            Some(format!(
                "merged into {}",
                e.detail["into"].as_str().unwrap_or("?")
            )),
        ),
        "status" => (e.detail["status"].as_str()?, None),
        _ => return None,
    };
    Some(StatusChange {
        at: e.at,
        status: status.into(),
        by,
        reason,
    })
}

fn check_limit(limit: Option<usize>) -> Result<usize> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n),
        n => Err(ServiceError::invalid_parameter(
            "limit",
            format!("{n} is not between 1 and {MAX_LIMIT}"),
        )),
    }
}

fn check_status(status: Option<&str>, allowed: &[&str]) -> Result<Option<String>> {
    match status {
        None => Ok(None),
        Some(s) if allowed.contains(&s) => Ok(Some(s.into())),
        Some(s) => Err(ServiceError::invalid_parameter(
            "status",
            format!(
                "unknown status {s:?} (expected one of {})",
                allowed.join(", ")
            ),
        )),
    }
}

fn check_severity(severity: Option<&str>) -> Result<Option<String>> {
    severity
        .map(|s| {
            s.parse::<Severity>()
                .map(|v| v.as_str().to_string())
                .map_err(|e| ServiceError::invalid_parameter("severity", e.to_string()))
        })
        .transpose()
}

/// An opaque cursor: base64url of `updated_at:id`.
fn encode_cursor(updated_at: TimestampMs, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{updated_at}:{id}"))
}

fn decode_cursor(cursor: &str) -> Result<(TimestampMs, String)> {
    let bad = || ServiceError::invalid_parameter("cursor", "not a cursor this service gave out");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (at, id) = text.split_once(':').ok_or_else(bad)?;
    let at = at.parse().map_err(|_| bad())?;
    if id.is_empty() {
        return Err(bad());
    }
    Ok((at, id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        let c = encode_cursor(1_700_000_000_000, "inc-12");
        assert_eq!(
            decode_cursor(&c).unwrap(),
            (1_700_000_000_000, "inc-12".to_string())
        );
        for bad in [
            "",
            "!!",
            &URL_SAFE_NO_PAD.encode("12"),
            &URL_SAFE_NO_PAD.encode("x:a"),
        ] {
            assert!(
                matches!(
                    decode_cursor(bad),
                    Err(ServiceError::InvalidParameter { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn parameters_are_checked() {
        assert_eq!(check_limit(None).unwrap(), DEFAULT_LIMIT);
        assert!(check_limit(Some(0)).is_err());
        assert!(check_limit(Some(MAX_LIMIT + 1)).is_err());
        assert_eq!(
            check_severity(Some("warning")).unwrap().as_deref(),
            Some("medium")
        );
        assert!(check_severity(Some("bogus")).is_err());
        assert!(check_status(Some("open"), &["firing"]).is_err());
    }

    #[tokio::test]
    async fn an_incident_is_acknowledged_once_every_firing_alert_is() {
        let (store, _) = crate::testing::store_with_cpu_series().await;
        let p = AlertPipeline::new(store, AlertsConfig::default(), None)
            .await
            .unwrap();
        let alert = |name: &str| {
            Alert::firing(
                Labels::try_from_pairs([("alertname", name), ("service", "cart")]).unwrap(),
                crate::now_ms(),
            )
            .unwrap()
        };
        let now = crate::now_ms();
        p.receive(vec![alert("Slow"), alert("Errors")], "test", now)
            .await
            .unwrap();
        let list = p.list_incidents(&IncidentQuery::default()).await.unwrap();
        assert_eq!(list.incidents.len(), 1);
        let id = list.incidents[0].incident_id.clone();
        let detail = p.get_incident(&id).await.unwrap();
        let fps: Vec<String> = detail.alerts.iter().map(|a| a.alert_id.clone()).collect();
        assert_eq!(fps.len(), 2);
        p.acknowledge(&fps[0], "alice", None, now + 1)
            .await
            .unwrap();
        assert_eq!(p.get_incident(&id).await.unwrap().incident.status, "open");
        p.acknowledge(&fps[1], "bob", Some("on it"), now + 2)
            .await
            .unwrap();
        let detail = p.get_incident(&id).await.unwrap();
        assert_eq!(detail.incident.status, "acknowledged");
        let last = detail.status_changes.last().unwrap();
        assert_eq!(
            (last.status.as_str(), last.by.as_str()),
            ("acknowledged", "bob")
        );
        // The engine changing the incident keeps the acknowledgement.
        p.receive(vec![alert("Slow")], "test", now + 3)
            .await
            .unwrap();
        p.tick(now + 4).await.unwrap();
        assert_eq!(
            p.get_incident(&id).await.unwrap().incident.status,
            "acknowledged"
        );
    }
}
