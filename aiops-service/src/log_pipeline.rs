//! The log pipeline: lines with labels in, PII-masked, committed, then mined into templates
//! and scored by each stream's log anomaly detector.
//!
//! - [`LogPipeline::ingest`] masks personal data in every line, stores the batch and returns
//!   only after the store committed it; a full queue refuses the batch *before* anything is
//!   stored ([`ServiceError::Busy`], 429 + `Retry-After`).
//! - One task ([`LogPipeline::run`]) owns every stream's detector state
//!   ([`aiops_logs::LogDetectorState`]: the Drain template miner, the count series, the
//!   window-count PCA). It records each line's template, the templates with their counts, the
//!   lines the detector flags, and every window that is anomalous or holds an anomalous line
//!   (with its reasons), and publishes those windows.
//! - A stream is one set of labels (its key: the sorted labels); its service is its
//!   `service_label` label (else `unknown`). Lines are windowed by their own timestamps: a
//!   window is judged when a line of a later window arrives.
//! - Detector states are saved every `checkpoint_interval_s` and at shutdown with the id of
//!   the last line they saw; a restart restores them and replays the stored lines after it,
//!   so it resumes without re-learning and without skipping a line. A save writes the
//!   longest-unsaved states first, in chunks, and stops when its time is up (a periodic one
//!   after a fifth of the interval, the one at shutdown after `shutdown_save_s`), as the
//!   metric pipeline's do. A state it does not reach is rebuilt at the next start from its
//!   committed lines.
//!
//! - A stream that received no line for `idle_evict_s` has its state saved and dropped from
//!   memory at the next save, with its key and info; its next line finds its id in the store
//!   and restores its state (a restart does not load it either). `max_streams` counts the
//!   streams in memory, so streams that come and go (a label per pod) never lock ingest out.
//!
//! Memory: one detector state per stream that received a line in the last `idle_evict_s` (its
//! templates and their count series) plus `queue_capacity` batches.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aiops_core::{Labels, TimestampMs};
use aiops_logs::{ClosedWindow, LogDetector, LogDetectorParams, LogDetectorState, WindowSpec};
use aiops_store::{
    LogAnomalyFilter, LogAnomalyRow, LogLineFilter, LogTemplateRow, MinedLine, NewLogAnomaly,
    NewLogLine, NewLogStream, Store,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, broadcast, mpsc};

use crate::checkpoint::{Save, SaveRun};
use crate::error::{Result, ServiceError};
use crate::pii::PiiMasker;
use crate::residency::{Residency, adopt_found};

/// The header format the pipeline gives its detectors: each line is fed as its time in ms
/// (13 digits) and its text, so windows follow the lines' own timestamps.
const FEED_FORMAT: &str = "<Timestamp> <Content>";

/// Settings of the log pipeline (the `logs:` section of the service configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogsConfig {
    /// The log anomaly detector's parameters (`aiops logs detect`'s, see "Log detector
    /// parameters"); `window` must be a duration, and `drain.log_format` is the service's.
    pub detector: LogDetectorParams,
    /// The label naming a stream's service (default `service`).
    pub service_label: String,
    /// Batches that may wait for mining before ingest answers 429 (default 256).
    pub queue_capacity: usize,
    /// How often detector states are saved (seconds, default 30).
    pub checkpoint_interval_s: u64,
    /// The save at shutdown stops after this long (seconds, default 15; 0: no limit), the
    /// longest-unsaved states first: the others are not lost, a restart replays their stored
    /// lines.
    pub shutdown_save_s: u64,
    /// At most this many active streams, those with a state in memory (a new stream beyond it
    /// is refused with 429; default 10,000).
    pub max_streams: usize,
    /// A stream without a line this long (seconds) has its state saved and dropped from
    /// memory, restored at its next line; 0 keeps every state (default 3,600).
    pub idle_evict_s: u64,
    /// Longest line (bytes, default 65,536); a longer one is refused with 400.
    pub max_line_bytes: usize,
    /// Log stores read continuously into the pipeline (integrations of a log-source type:
    /// `elasticsearch`, `opensearch`).
    pub sources: Vec<crate::log_sources::LogSourceConfig>,
}

impl Default for LogsConfig {
    fn default() -> Self {
        Self {
            detector: LogDetectorParams::default(),
            service_label: "service".into(),
            queue_capacity: 256,
            checkpoint_interval_s: 30,
            shutdown_save_s: 15,
            max_streams: 10_000,
            idle_evict_s: 3_600,
            max_line_bytes: 65_536,
            sources: Vec::new(),
        }
    }
}

impl LogsConfig {
    /// The checked detector the pipeline runs (with the service's feed format).
    pub fn detector(&self) -> Result<LogDetector> {
        let d = self
            .detector
            .clone()
            .log_format(FEED_FORMAT)
            .check()
            .map_err(|e| ServiceError::invalid_config("logs.detector", e.to_string()))?;
        if !matches!(d.mode(), WindowSpec::Time(_)) {
            return Err(ServiceError::invalid_config(
                "logs.detector.window",
                "must be a duration (60s, 5m): lines are windowed by their timestamps",
            ));
        }
        Ok(d)
    }

    /// Checks the detector parameters and the limits.
    pub fn check(&self) -> Result<()> {
        self.detector()?;
        for (key, v) in [
            ("logs.queue_capacity", self.queue_capacity),
            ("logs.max_streams", self.max_streams),
            ("logs.max_line_bytes", self.max_line_bytes),
        ] {
            if v == 0 {
                return Err(ServiceError::invalid_config(key, "must be at least 1"));
            }
        }
        Ok(())
    }
}

/// One line of `POST /api/v1/ingest/logs`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogLineIn {
    /// RFC 3339 text, or seconds / ms since the epoch (absent: the time it is received).
    #[serde(default)]
    pub timestamp: Option<serde_json::Value>,
    /// The text.
    pub line: String,
}

/// One stream of `POST /api/v1/ingest/logs`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogStreamIn {
    /// The stream's labels (at least one; `service` names its service).
    pub labels: BTreeMap<String, String>,
    /// Its lines, in any order.
    pub lines: Vec<LogLineIn>,
}

/// `POST /api/v1/ingest/logs`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogsRequest {
    /// The streams.
    pub streams: Vec<LogStreamIn>,
}

impl LogsRequest {
    /// A request of `(labels, time ms, line)` records, grouped into streams by their labels
    /// in arrival order (log sources and message buses read records one by one).
    pub fn from_records(
        records: impl IntoIterator<Item = (BTreeMap<String, String>, TimestampMs, String)>,
    ) -> Self {
        let mut streams: BTreeMap<BTreeMap<String, String>, Vec<LogLineIn>> = BTreeMap::new();
        for (labels, t, line) in records {
            streams.entry(labels).or_default().push(LogLineIn {
                timestamp: Some(t.into()),
                line,
            });
        }
        Self {
            streams: streams
                .into_iter()
                .map(|(labels, lines)| LogStreamIn { labels, lines })
                .collect(),
        }
    }
}

/// The lines of one stream in an ingest batch.
#[derive(Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct StreamLines {
    /// The stream's labels.
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub labels: Labels,
    /// Lines (time ms, text), sorted by time (equal times keep their order).
    pub lines: Vec<(TimestampMs, String)>,
}

/// What one ingest call stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LogIngestReport {
    /// Streams in the batch.
    pub streams: usize,
    /// Lines stored.
    pub lines: usize,
}

/// A stored anomalous window as published to subscribers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogAnomalyEvent {
    /// Store id.
    pub id: i64,
    /// The stream's key.
    pub stream: String,
    /// The window.
    #[serde(flatten)]
    pub anomaly: NewLogAnomaly,
}

/// Counters of the pipeline (exported on `/metrics`).
#[derive(Debug, Default)]
pub struct LogCounters {
    /// Lines received.
    pub lines_in: AtomicU64,
    /// Lines mined and scored.
    pub lines_mined: AtomicU64,
    /// Anomalous windows stored.
    pub anomalies: AtomicU64,
    /// Batches refused because the queue was full.
    pub refused: AtomicU64,
    /// Idle stream states saved and dropped from memory.
    pub states_evicted: AtomicU64,
    /// Dropped stream states restored at their stream's next line.
    pub states_reloaded: AtomicU64,
}

/// Reads a request: validates labels, times and lengths (errors name the stream and line),
/// masks personal data in every line, groups lines by stream, sorted by time.
pub fn parse_logs(
    request: LogsRequest,
    now: TimestampMs,
    masker: &PiiMasker,
    max_line_bytes: usize,
) -> Result<Vec<StreamLines>> {
    let mut streams: BTreeMap<Labels, Vec<(TimestampMs, String)>> = BTreeMap::new();
    for (i, s) in request.streams.into_iter().enumerate() {
        if s.labels.is_empty() {
            return Err(ServiceError::invalid_parameter(
                format!("streams[{i}].labels"),
                "at least one label is needed",
            ));
        }
        let labels = Labels::try_from_pairs(s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| {
                ServiceError::invalid_parameter(format!("streams[{i}].labels"), e.to_string())
            })?;
        let out = streams.entry(labels).or_default();
        for (j, l) in s.lines.into_iter().enumerate() {
            let t = match &l.timestamp {
                None | Some(serde_json::Value::Null) => now,
                Some(v) => {
                    crate::ingest_api::time_value(format!("streams[{i}].lines[{j}].timestamp"), v)?
                }
            };
            if l.line.len() > max_line_bytes {
                return Err(ServiceError::invalid_parameter(
                    format!("streams[{i}].lines[{j}].line"),
                    format!("longer than {max_line_bytes} bytes"),
                ));
            }
            let mut text = l.line;
            masker.mask_in_place(&mut text);
            out.push((t, text));
        }
    }
    Ok(streams
        .into_iter()
        .filter(|(_, l)| !l.is_empty())
        .map(|(labels, mut lines)| {
            lines.sort_by_key(|l| l.0);
            StreamLines { labels, lines }
        })
        .collect())
}

pub(crate) struct Job {
    /// (line id, stream id, time, text), by stream then id.
    rows: Vec<(i64, i64, TimestampMs, String)>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Job({} lines)", self.rows.len())
    }
}

#[derive(Debug, Clone)]
struct StreamInfo {
    key: String,
    service: String,
}

pub(crate) struct StreamState {
    det: LogDetectorState,
    last_id: Option<i64>,
    dirty: bool,
    /// The save that last wrote it (0: none yet).
    saved_round: u64,
    /// When it last received a line (or was made).
    active_at: Instant,
}

impl StreamState {
    fn new(det: LogDetectorState, last_id: Option<i64>) -> Self {
        Self {
            det,
            last_id,
            dirty: false,
            saved_round: 0,
            active_at: Instant::now(),
        }
    }
}

/// The log pipeline (see the module docs). Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct LogPipeline {
    store: Store,
    config: LogsConfig,
    detector: LogDetector,
    queue: mpsc::Sender<Job>,
    receiver: Mutex<Option<mpsc::Receiver<Job>>>,
    /// Stream key -> id, of the streams with a state in memory and those made or come back
    /// since the last save (the others are found in the store).
    streams: Mutex<HashMap<String, i64>>,
    /// Entries of `streams` (read without its lock).
    keys: std::sync::atomic::AtomicUsize,
    /// The same streams' infos.
    info: std::sync::RwLock<HashMap<i64, Arc<StreamInfo>>>,
    anomalies: broadcast::Sender<LogAnomalyEvent>,
    /// How many streams are active.
    residency: Residency,
    /// Saves made.
    rounds: AtomicU64,
    /// Counters.
    pub counters: LogCounters,
}

impl LogPipeline {
    /// A pipeline over `store`; call [`LogPipeline::run`] in a task to mine and score.
    pub async fn new(store: Store, config: LogsConfig) -> Result<Arc<Self>> {
        config.check()?;
        let detector = config.detector()?;
        let (queue, receiver) = mpsc::channel(config.queue_capacity);
        Ok(Arc::new(Self {
            store,
            config,
            detector,
            queue,
            receiver: Mutex::new(Some(receiver)),
            streams: Mutex::new(HashMap::new()),
            keys: Default::default(),
            info: std::sync::RwLock::new(HashMap::new()),
            anomalies: broadcast::channel(1024).0,
            residency: Residency::default(),
            rounds: AtomicU64::new(0),
            counters: LogCounters::default(),
        }))
    }

    /// The configuration.
    pub fn config(&self) -> &LogsConfig {
        &self.config
    }

    /// New anomalous windows as they are stored.
    pub fn subscribe(&self) -> broadcast::Receiver<LogAnomalyEvent> {
        self.anomalies.subscribe()
    }

    /// Batches waiting for mining.
    pub fn queue_depth(&self) -> usize {
        self.config.queue_capacity - self.queue.capacity()
    }

    /// The pipeline's counters and queue depth in the Prometheus text format (appended to
    /// the service's `/metrics`).
    pub fn exposition(&self) -> String {
        use std::fmt::Write;
        let c = &self.counters;
        let mut out = String::new();
        for (name, help, v) in [
            (
                "aiops_log_lines_total",
                "Log lines received and committed.",
                &c.lines_in,
            ),
            (
                "aiops_log_lines_mined_total",
                "Log lines mined and scored.",
                &c.lines_mined,
            ),
            (
                "aiops_log_anomalies_total",
                "Anomalous log windows stored.",
                &c.anomalies,
            ),
            (
                "aiops_log_ingest_refused_total",
                "Log ingest batches refused with 429 (queue full).",
                &c.refused,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP aiops_log_queue_depth Batches waiting for log mining.\n# TYPE aiops_log_queue_depth gauge\naiops_log_queue_depth {}",
            self.queue_depth()
        );
        let (keys, infos, states) = self.memory();
        let _ = writeln!(
            out,
            "# HELP aiops_log_streams_active Log streams with a detector state in memory (counted against logs.max_streams).\n# TYPE aiops_log_streams_active gauge\naiops_log_streams_active {states}"
        );
        let _ = writeln!(
            out,
            "# HELP aiops_log_stream_cache_entries Per-stream entries the log pipeline holds in memory, by map (keys: stream keys; infos: stream infos); each holds only streams with a state in memory plus those made or come back since the last save.\n# TYPE aiops_log_stream_cache_entries gauge\naiops_log_stream_cache_entries{{map=\"keys\"}} {keys}\naiops_log_stream_cache_entries{{map=\"infos\"}} {infos}"
        );
        out
    }

    /// Stores a batch (lines already masked, see [`parse_logs`]) and queues it for mining;
    /// returns once it is committed. A full queue refuses the batch before storing anything
    /// ([`ServiceError::Busy`]).
    pub async fn ingest(
        &self,
        batch: Vec<StreamLines>,
        now: TimestampMs,
    ) -> Result<LogIngestReport> {
        let permit = self.queue.try_reserve().map_err(|_| {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            ServiceError::Busy {
                what: "log mining queue".into(),
                retry_after_s: 1,
            }
        })?;
        let ids = self.stream_ids(&batch, now).await?;
        let mut rows = Vec::with_capacity(batch.iter().map(|s| s.lines.len()).sum());
        for (s, &id) in batch.iter().zip(&ids) {
            rows.extend(s.lines.iter().map(|(t, l)| NewLogLine {
                stream_id: id,
                t: *t,
                line: l.clone(),
            }));
        }
        let line_ids = self.store.insert_log_lines(&rows, now).await?;
        self.counters
            .lines_in
            .fetch_add(rows.len() as u64, Ordering::Relaxed);
        let report = LogIngestReport {
            streams: batch.len(),
            lines: rows.len(),
        };
        let mut job: Vec<_> = line_ids
            .into_iter()
            .zip(rows)
            .map(|(id, r)| (id, r.stream_id, r.t, r.line))
            .collect();
        job.sort_by_key(|r| (r.1, r.0));
        permit.send(Job { rows: job });
        Ok(report)
    }

    fn service_of(&self, labels: &Labels) -> String {
        labels
            .get(&self.config.service_label)
            .unwrap_or("unknown")
            .to_string()
    }

    async fn stream_ids(&self, batch: &[StreamLines], now: TimestampMs) -> Result<Vec<i64>> {
        let keys: Vec<String> = batch.iter().map(|s| s.labels.to_string()).collect();
        let mut known = self.streams.lock().await;
        let mut seen = std::collections::HashSet::new();
        let mut missing: Vec<NewLogStream> = batch
            .iter()
            .zip(&keys)
            .filter(|(_, k)| !known.contains_key(*k) && seen.insert(k.as_str()))
            .map(|(s, k)| NewLogStream {
                key: k.clone(),
                service: self.service_of(&s.labels),
                labels: s.labels.clone(),
            })
            .collect();
        if !missing.is_empty() {
            // A stream dropped from memory (idle) or made by another process keeps its id and
            // is not new.
            let wanted: Vec<&str> = missing.iter().map(|s| s.key.as_str()).collect();
            let found = self.store.find_log_stream_ids(&wanted).await?;
            missing = adopt_found(missing, found, |s| s.key, &mut known);
            self.keys.store(known.len(), Ordering::Relaxed);
        }
        if !missing.is_empty() {
            if self.active_streams() + missing.len() > self.config.max_streams {
                return Err(ServiceError::Busy {
                    what: format!("log stream limit ({})", self.config.max_streams),
                    retry_after_s: 60,
                });
            }
            let ids = self.store.log_stream_ids(&missing, now).await?;
            self.residency.created(missing.len());
            let mut info = self.info.write().unwrap_or_else(|e| e.into_inner());
            for (s, id) in missing.into_iter().zip(ids) {
                known.insert(s.key.clone(), id);
                info.insert(
                    id,
                    Arc::new(StreamInfo {
                        key: s.key,
                        service: s.service,
                    }),
                );
            }
        }
        self.keys.store(known.len(), Ordering::Relaxed);
        Ok(keys.iter().map(|k| known[k]).collect())
    }

    fn info(&self, id: i64) -> Option<Arc<StreamInfo>> {
        self.info
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    /// Mines queued batches until `shutdown` resolves and the queue is drained, saving
    /// detector states every `checkpoint_interval_s` and at the end. Restores saved states
    /// and replays the lines they have not seen first. Call once.
    pub async fn run(
        self: Arc<Self>,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> Result<()> {
        let Some(mut rx) = self.receiver.lock().await.take() else {
            return Err(ServiceError::Internal {
                what: "the log pipeline runs already".into(),
            });
        };
        let mut states = self.restore().await?;
        let replay: Vec<_> = self
            .store
            .log_lines_after_states()
            .await?
            .into_iter()
            .map(|l| (l.id, l.stream_id, l.t, l.line))
            .collect();
        self.process(&mut states, &replay, crate::now_ms()).await?;
        self.checkpoint(&mut states, Save::Last(None)).await?;
        let every = Duration::from_secs(self.config.checkpoint_interval_s.max(1));
        crate::worker::drive(&*self, &mut rx, &mut states, every, shutdown).await
    }

    /// The saved states of the streams that received a line in the last `idle_evict_s`; older
    /// ones are restored at their next line.
    async fn restore(&self) -> Result<HashMap<i64, StreamState>> {
        let mut states = HashMap::new();
        let mut known = self.streams.lock().await;
        // Streams that received no line for `idle_evict_s` stay in the store until their next.
        let cutoff = (self.config.idle_evict_s > 0).then(|| {
            crate::now_ms().saturating_sub(self.config.idle_evict_s.saturating_mul(1000) as i64)
        });
        let rows = self.store.log_streams_with_states(cutoff).await?;
        let mut info = self.info.write().unwrap_or_else(|e| e.into_inner());
        for s in rows {
            if let Some(st) = self.restored(&s) {
                states.insert(s.id, st);
                info.insert(s.id, Arc::new(info_of(&s)));
                known.insert(s.key, s.id);
            }
        }
        self.keys.store(known.len(), Ordering::Relaxed);
        self.residency.report(&states);
        Ok(states)
    }

    /// The state saved for a stream, restored; None when none is saved, it does not restore or
    /// the configuration changed the detector (the stream starts afresh).
    fn restored(&self, s: &aiops_store::LogStreamRow) -> Option<StreamState> {
        let saved = s.state.as_ref()?;
        let Ok(det) = LogDetectorState::restore(saved) else {
            tracing::warn!(stream = %s.key, "a saved log detector state does not restore: the stream starts afresh");
            return None;
        };
        (det.detector().params() == self.detector.params())
            .then(|| StreamState::new(det, s.state_id))
    }

    /// Active streams (see `max_streams`).
    pub fn active_streams(&self) -> usize {
        self.residency.active()
    }

    /// Mines `rows` (by stream then id), records the results and publishes new anomalies.
    async fn process(
        &self,
        states: &mut HashMap<i64, StreamState>,
        rows: &[(i64, i64, TimestampMs, String)],
        now: TimestampMs,
    ) -> Result<()> {
        let mut mined = Vec::with_capacity(rows.len());
        let mut touched: BTreeSet<(i64, u64)> = BTreeSet::new();
        let mut flagged = Vec::new();
        let mut windows = Vec::new();
        let mut fed = String::new();
        // A stream without a state in memory and whose info is not there either was dropped
        // for being idle or made before a restart: both come back from the store. (Info
        // without a state is that of a stream made since the last save: a new state.)
        let missing: BTreeSet<i64> = rows
            .iter()
            .map(|r| r.1)
            .filter(|id| !states.contains_key(id) && self.info(*id).is_none())
            .collect();
        for id in missing {
            let row = match self.store.log_stream(id).await {
                Ok(row) => row,
                Err(aiops_store::StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            if let Some(st) = self.restored(&row) {
                self.counters
                    .states_reloaded
                    .fetch_add(1, Ordering::Relaxed);
                states.insert(id, st);
            }
            self.info
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, Arc::new(info_of(&row)));
        }
        let now_instant = Instant::now();
        for (id, stream_id, t, line) in rows {
            let st = states
                .entry(*stream_id)
                .or_insert_with(|| StreamState::new(self.detector.state(), None));
            st.active_at = now_instant;
            if st.last_id.is_some_and(|last| *id <= last) {
                continue; // seen already (replayed and queued at start)
            }
            fed.clear();
            use std::fmt::Write;
            let _ = write!(fed, "{:013} {line}", (*t).max(0));
            let closed = st.det.update(&fed);
            st.last_id = Some(*id);
            st.dirty = true;
            if let Some(c) = closed {
                windows.push((*stream_id, c));
            }
            if let Some(tid) = st.det.last_template() {
                mined.push(MinedLine {
                    id: *id,
                    seq: st.det.stats().lines as i64,
                    template_id: tid as i64,
                });
                touched.insert((*stream_id, tid));
            }
        }
        if mined.is_empty() && windows.is_empty() {
            return Ok(());
        }
        self.counters
            .lines_mined
            .fetch_add(mined.len() as u64, Ordering::Relaxed);
        let mut anomalies = Vec::new();
        for (stream_id, c) in &windows {
            flagged.extend(c.lines.iter().map(|l| (*stream_id, l.line as i64)));
            if let Some(a) = self.window_anomaly(*stream_id, c, now) {
                anomalies.push(a);
            }
        }
        let templates: Vec<LogTemplateRow> = touched
            .iter()
            .filter_map(|&(stream_id, tid)| {
                let miner = states.get(&stream_id)?.det.miner();
                Some(LogTemplateRow {
                    stream_id,
                    template_id: tid as i64,
                    service: self.info(stream_id)?.service.clone(),
                    template: miner.template(tid)?,
                    count: miner.count(tid) as i64,
                    first_seen: now,
                    last_seen: now,
                })
            })
            .collect();
        self.store
            .record_log_mining(&mined, &templates, &flagged)
            .await?;
        if !anomalies.is_empty() {
            let stored = self.store.insert_log_anomalies(&anomalies).await?;
            self.counters
                .anomalies
                .fetch_add(stored.len() as u64, Ordering::Relaxed);
            for a in stored {
                let stream = self
                    .info(a.anomaly.stream_id)
                    .map(|i| i.key.clone())
                    .unwrap_or_default();
                let _ = self.anomalies.send(LogAnomalyEvent {
                    id: a.id,
                    stream,
                    anomaly: a.anomaly,
                });
            }
        }
        Ok(())
    }

    fn window_anomaly(
        &self,
        stream_id: i64,
        c: &ClosedWindow,
        now: TimestampMs,
    ) -> Option<NewLogAnomaly> {
        let w = &c.window;
        if !w.anomalous && c.lines.is_empty() {
            return None;
        }
        let (Some(start), Some(end)) = (w.start_ms, w.end_ms) else {
            return None;
        };
        let mut reasons: Vec<serde_json::Value> = w
            .reasons
            .iter()
            .filter_map(|r| serde_json::to_value(r).ok())
            .collect();
        // Line reasons not already given by the window (new, rare templates, keywords).
        let mut seen = BTreeSet::new();
        for l in &c.lines {
            for r in &l.reasons {
                if w.reasons.iter().any(|x| x == r) {
                    continue;
                }
                if seen.insert((r.signal.as_str(), r.template))
                    && let Ok(mut v) = serde_json::to_value(r)
                {
                    v["line_seq"] = serde_json::json!(l.line);
                    reasons.push(v);
                }
            }
        }
        let score = w
            .reasons
            .iter()
            .chain(c.lines.iter().flat_map(|l| &l.reasons))
            .map(|r| r.score)
            .fold(0.0_f64, f64::max);
        Some(NewLogAnomaly {
            stream_id,
            service: self.info(stream_id)?.service.clone(),
            window_start: start,
            window_end: end,
            lines: w.lines as i64,
            anomalous_lines: w.anomalous_lines as i64,
            score,
            reasons: serde_json::Value::Array(reasons),
            detected_at: now,
        })
    }

    /// Saves the changed states, the longest-unsaved first, [`CHECKPOINT_CHUNK`] per
    /// transaction, stopping after the chunk that used up the save's time; a periodic save
    /// then drops the idle streams from memory.
    ///
    /// [`CHECKPOINT_CHUNK`]: crate::checkpoint::CHECKPOINT_CHUNK
    async fn checkpoint(&self, states: &mut HashMap<i64, StreamState>, save: Save) -> Result<()> {
        let round = self.rounds.fetch_add(1, Ordering::Relaxed) + 1;
        let run = SaveRun::new(
            save,
            states
                .iter()
                .filter(|(_, s)| s.dirty && s.last_id.is_some())
                .map(|(&id, s)| (s.saved_round, id)),
        );
        for chunk in run.chunks() {
            let mut saved = Vec::new();
            for id in chunk {
                let Some(st) = states.get_mut(&id) else {
                    continue;
                };
                let (Some(last), Ok(state)) = (st.last_id, st.det.snapshot()) else {
                    continue;
                };
                saved.push((id, state, last));
            }
            if !saved.is_empty() {
                self.store.save_log_states(&saved).await?;
            }
            for (id, _, _) in &saved {
                if let Some(st) = states.get_mut(id) {
                    st.dirty = false;
                    st.saved_round = round;
                }
            }
            if run.spent() {
                break;
            }
        }
        run.report_left(
            states.values().filter(|s| s.dirty).count(),
            self.config.shutdown_save_s,
            "lines",
        );
        if !save.periodic() {
            return Ok(());
        }
        // Idle streams, now saved, leave memory.
        let idle_for = Duration::from_secs(self.config.idle_evict_s);
        let evict = self.config.idle_evict_s > 0;
        self.residency.evict(
            states,
            |s| evict && !s.dirty && s.last_id.is_some() && s.active_at.elapsed() >= idle_for,
            &self.counters.states_evicted,
        );
        self.forget(states).await;
        Ok(())
    }

    /// Drops the keys and infos of the streams without a state in memory (gone idle, or made
    /// and not yet mined): the store gives them back at their next line (same id, state
    /// restored). (`states` is taken `&mut` only so that the future stays `Send`.)
    async fn forget(&self, states: &mut HashMap<i64, StreamState>) {
        let live = states.len();
        let info_len = self.info.read().unwrap_or_else(|e| e.into_inner()).len();
        if self.keys.load(Ordering::Relaxed) <= live && info_len <= live {
            return;
        }
        let ids: std::collections::HashSet<i64> = states.keys().copied().collect();
        // Freed after the lock is released, as the metric pipeline's trim does.
        let dropped: Vec<_> = self
            .info
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .extract_if(|id, _| !ids.contains(id))
            .collect();
        drop(dropped);
        let mut known = self.streams.lock().await;
        known.retain(|_, id| ids.contains(id));
        self.keys.store(known.len(), Ordering::Relaxed);
    }

    /// Entries of the per-stream maps in memory: (stream keys, stream infos, detector states
    /// as last reported plus those made since).
    pub fn memory(&self) -> (usize, usize, usize) {
        (
            self.keys.load(Ordering::Relaxed),
            self.info.read().unwrap_or_else(|e| e.into_inner()).len(),
            self.residency.active(),
        )
    }

    /// The infos of streams by id: from memory, else from the store (ids no stream has are
    /// left out).
    async fn infos(
        &self,
        ids: impl IntoIterator<Item = i64>,
    ) -> Result<HashMap<i64, Arc<StreamInfo>>> {
        let mut out = HashMap::new();
        let mut rest = Vec::new();
        {
            let info = self.info.read().unwrap_or_else(|e| e.into_inner());
            for id in ids {
                match info.get(&id) {
                    Some(i) => {
                        out.insert(id, i.clone());
                    }
                    None => rest.push(id),
                }
            }
        }
        rest.sort_unstable();
        rest.dedup();
        if !rest.is_empty() {
            for row in self.store.log_stream_heads(Some(&rest), None, None).await? {
                out.insert(row.id, Arc::new(info_of(&row)));
            }
        }
        Ok(out)
    }

    /// Stored lines (`GET /api/v1/logs`), newest first.
    pub async fn lines(&self, q: &LogQuery) -> Result<LogList> {
        let limit = crate::anomaly_api::parse_limit(q.limit)?;
        let stream_ids = self
            .matching_streams(
                q.stream.as_deref(),
                q.service.as_deref(),
                q.labels.as_deref(),
            )
            .await?;
        let filter = LogLineFilter {
            stream_ids,
            start: parse_opt_time("start_time", q.start_time.as_deref())?,
            end: parse_opt_time("end_time", q.end_time.as_deref())?,
            before_id: parse_cursor(q.cursor.as_deref())?,
        };
        let rows = self.store.log_lines(&filter, limit).await?;
        let next_cursor = (rows.len() == limit)
            .then(|| rows.last().map(|l| l.id.to_string()))
            .flatten();
        let infos = self.infos(rows.iter().map(|l| l.stream_id)).await?;
        let lines = rows
            .into_iter()
            .map(|l| {
                let info = infos.get(&l.stream_id);
                LogLineView {
                    id: l.id,
                    stream: info.as_ref().map(|i| i.key.clone()).unwrap_or_default(),
                    service: info.map(|i| i.service.clone()).unwrap_or_default(),
                    timestamp: aiops_core::time::format_rfc3339(l.t),
                    timestamp_ms: l.t,
                    line: l.line,
                    template_id: l.template_id,
                    anomalous: l.anomalous,
                }
            })
            .collect();
        Ok(LogList { lines, next_cursor })
    }

    /// Templates with their counts (`GET /api/v1/logs/templates`), most frequent first.
    pub async fn templates(&self, q: &TemplateQuery) -> Result<TemplateList> {
        let limit = crate::anomaly_api::parse_limit(q.limit)?;
        let rows = self
            .store
            .log_templates(q.service.as_deref(), limit)
            .await?;
        let infos = self.infos(rows.iter().map(|t| t.stream_id)).await?;
        let templates = rows
            .into_iter()
            .map(|t| TemplateView {
                stream: infos
                    .get(&t.stream_id)
                    .map(|i| i.key.clone())
                    .unwrap_or_default(),
                template_id: t.template_id,
                service: t.service,
                template: t.template,
                count: t.count,
                first_seen: aiops_core::time::format_rfc3339(t.first_seen),
                last_seen: aiops_core::time::format_rfc3339(t.last_seen),
            })
            .collect();
        Ok(TemplateList { templates })
    }

    /// Anomalous windows with their reasons (`GET /api/v1/logs/anomalies`), newest first.
    pub async fn anomalies(&self, q: &LogAnomalyQuery) -> Result<LogAnomalyList> {
        let limit = crate::anomaly_api::parse_limit(q.limit)?;
        let stream_id = match q.stream.as_deref() {
            None => None,
            Some(key) => match self.store.find_log_stream_ids(&[key]).await?[0] {
                Some(id) => Some(id),
                None => {
                    return Ok(LogAnomalyList {
                        total: 0,
                        anomalies: Vec::new(),
                        next_cursor: None,
                    });
                }
            },
        };
        let filter = LogAnomalyFilter {
            service: q.service.clone(),
            stream_id,
            start: parse_opt_time("start_time", q.start_time.as_deref())?,
            end: parse_opt_time("end_time", q.end_time.as_deref())?,
            before_id: parse_cursor(q.cursor.as_deref())?,
        };
        let (total, rows) = self.store.log_anomalies(&filter, limit).await?;
        let next_cursor = (rows.len() == limit)
            .then(|| rows.last().map(|a| a.id.to_string()))
            .flatten();
        let infos = self.infos(rows.iter().map(|a| a.anomaly.stream_id)).await?;
        let anomalies = rows.into_iter().map(|a| anomaly_view(a, &infos)).collect();
        Ok(LogAnomalyList {
            total,
            anomalies,
            next_cursor,
        })
    }

    /// The streams a query names: `None` for every stream. Read from the store: streams
    /// without a state in memory are listed too.
    async fn matching_streams(
        &self,
        stream: Option<&str>,
        service: Option<&str>,
        labels: Option<&str>,
    ) -> Result<Option<Vec<i64>>> {
        let wanted = labels.map(parse_label_selector).transpose()?;
        if stream.is_none() && service.is_none() && wanted.is_none() {
            return Ok(None);
        }
        let rows = self.store.log_stream_heads(None, stream, service).await?;
        Ok(Some(
            rows.iter()
                .filter(|r| {
                    wanted
                        .as_ref()
                        .is_none_or(|w| w.iter().all(|(k, v)| r.labels.get(k) == Some(v.as_str())))
                })
                .map(|r| r.id)
                .collect(),
        ))
    }
}

fn info_of(s: &aiops_store::LogStreamRow) -> StreamInfo {
    StreamInfo {
        key: s.key.clone(),
        service: s.service.clone(),
    }
}

fn anomaly_view(a: LogAnomalyRow, infos: &HashMap<i64, Arc<StreamInfo>>) -> LogAnomalyView {
    let n = a.anomaly;
    LogAnomalyView {
        id: a.id,
        stream: infos
            .get(&n.stream_id)
            .map(|i| i.key.clone())
            .unwrap_or_default(),
        service: n.service,
        window_start: aiops_core::time::format_rfc3339(n.window_start),
        window_end: aiops_core::time::format_rfc3339(n.window_end),
        lines: n.lines,
        anomalous_lines: n.anomalous_lines,
        score: n.score,
        reasons: n.reasons,
        detected_at: aiops_core::time::format_rfc3339(n.detected_at),
    }
}

fn parse_opt_time(name: &str, text: Option<&str>) -> Result<Option<TimestampMs>> {
    text.map(|t| crate::anomaly_api::parse_time(name, t))
        .transpose()
}

fn parse_cursor(text: Option<&str>) -> Result<Option<i64>> {
    text.map(|c| {
        c.parse::<i64>()
            .map_err(|_| ServiceError::invalid_parameter("cursor", "not a cursor of this list"))
    })
    .transpose()
}

/// `service=api,source=app.log` into pairs.
fn parse_label_selector(text: &str) -> Result<Vec<(String, String)>> {
    text.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').ok_or_else(|| {
                ServiceError::invalid_parameter("labels", format!("{p:?}: expected name=value"))
            })?;
            Ok((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        })
        .collect()
}

/// `GET /api/v1/logs` parameters.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Only this stream (its key, `{service="api", source="app.log"}`).
    pub stream: Option<String>,
    /// Only streams of this service.
    pub service: Option<String>,
    /// Only streams with these labels (`service=api,source=app.log`).
    pub labels: Option<String>,
    /// Only lines at or after this time.
    pub start_time: Option<String>,
    /// Only lines before this time.
    pub end_time: Option<String>,
    /// Page size (1 to 1,000; default 100).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A stored line as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LogLineView {
    /// Store id.
    pub id: i64,
    /// The stream's key.
    pub stream: String,
    /// The stream's service.
    pub service: String,
    /// The line's time (RFC 3339).
    pub timestamp: String,
    /// The line's time (ms since the epoch).
    pub timestamp_ms: TimestampMs,
    /// The text, personal data masked.
    pub line: String,
    /// Its template in the stream (absent until mined).
    pub template_id: Option<i64>,
    /// Whether the detector flagged it.
    pub anomalous: bool,
}

/// A page of lines.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LogList {
    /// Lines, newest first.
    pub lines: Vec<LogLineView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/logs/templates` parameters.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TemplateQuery {
    /// Only streams of this service.
    pub service: Option<String>,
    /// At most this many (1 to 1,000; default 100).
    pub limit: Option<usize>,
}

/// A template as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TemplateView {
    /// The stream's key.
    pub stream: String,
    /// The template's id in its stream.
    pub template_id: i64,
    /// The stream's service.
    pub service: String,
    /// The template (`<*>` and `<:NAME:>` are variables).
    pub template: String,
    /// Lines it matched.
    pub count: i64,
    /// When it was first stored (RFC 3339).
    pub first_seen: String,
    /// When it was last updated (RFC 3339).
    pub last_seen: String,
}

/// Templates.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TemplateList {
    /// Most frequent first.
    pub templates: Vec<TemplateView>,
}

/// `GET /api/v1/logs/anomalies` parameters.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogAnomalyQuery {
    /// Only this stream (its key).
    pub stream: Option<String>,
    /// Only this service.
    pub service: Option<String>,
    /// Only windows starting at or after this time.
    pub start_time: Option<String>,
    /// Only windows starting before this time.
    pub end_time: Option<String>,
    /// Page size (1 to 1,000; default 100).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// An anomalous window as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LogAnomalyView {
    /// Store id.
    pub id: i64,
    /// The stream's key.
    pub stream: String,
    /// The stream's service.
    pub service: String,
    /// Start of the window (RFC 3339).
    pub window_start: String,
    /// End of the window, exclusive (RFC 3339).
    pub window_end: String,
    /// Lines in the window.
    pub lines: i64,
    /// Anomalous lines in it.
    pub anomalous_lines: i64,
    /// The strongest reason's score.
    pub score: f64,
    /// Why: `{signal, score, template, message}` for each signal (window signals first).
    pub reasons: serde_json::Value,
    /// When it was detected (RFC 3339).
    pub detected_at: String,
}

/// A page of anomalous windows.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LogAnomalyList {
    /// How many match (ignoring the cursor).
    pub total: u64,
    /// Windows, newest first.
    pub anomalies: Vec<LogAnomalyView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

impl crate::worker::Worker for LogPipeline {
    type Job = Job;
    type State = HashMap<i64, StreamState>;

    async fn process(&self, states: &mut Self::State, job: Job) -> Result<()> {
        LogPipeline::process(self, states, &job.rows, crate::now_ms()).await
    }

    fn save(
        &self,
        states: &mut Self::State,
        last: bool,
    ) -> impl std::future::Future<Output = Result<()>> + Send {
        let c = &self.config;
        self.checkpoint(
            states,
            Save::of(last, c.checkpoint_interval_s, c.shutdown_save_s),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_validated_masked_and_grouped() {
        let req: LogsRequest = serde_json::from_str(
            r#"{"streams": [{"labels": {"service": "api", "source": "app.log"}, "lines": [
                {"timestamp": "2024-01-01T00:01:00Z", "line": "mail to bob@example.com"},
                {"timestamp": 1704067200, "line": "first"},
                {"line": "now"}
            ]}]}"#,
        )
        .unwrap();
        let s = parse_logs(req, 1_800_000_000_000, &PiiMasker::default(), 100).unwrap();
        assert_eq!(s.len(), 1);
        let times: Vec<_> = s[0].lines.iter().map(|l| l.0).collect();
        assert_eq!(
            times,
            vec![1_704_067_200_000, 1_704_067_260_000, 1_800_000_000_000]
        );
        assert!(
            !s[0].lines[1].1.contains("bob@example.com"),
            "{:?}",
            s[0].lines
        );
        let bad: LogsRequest = serde_json::from_str(
            r#"{"streams": [{"labels": {"service": "api"}, "lines": [{"timestamp": "soon", "line": "x"}]}]}"#,
        )
        .unwrap();
        let e = parse_logs(bad, 0, &PiiMasker::default(), 100).unwrap_err();
        assert!(
            e.to_string().contains("streams[0].lines[0].timestamp"),
            "{e}"
        );
        let long: LogsRequest = serde_json::from_str(
            r#"{"streams": [{"labels": {"service": "api"}, "lines": [{"line": "0123456789"}]}]}"#,
        )
        .unwrap();
        assert!(parse_logs(long, 0, &PiiMasker::default(), 5).is_err());
        assert!(serde_json::from_str::<LogsRequest>(r#"{"streams": [], "extra": 1}"#).is_err());
    }

    #[tokio::test]
    async fn idle_streams_leave_memory_free_their_place_and_come_back() {
        let store = Store::open("sqlite::memory:", &aiops_store::StoreOptions::default())
            .await
            .unwrap();
        let config = LogsConfig {
            max_streams: 2,
            idle_evict_s: 60,
            ..LogsConfig::default()
        };
        let p = LogPipeline::new(store, config).await.unwrap();
        let batch = |pod: &str, t: i64| {
            vec![StreamLines {
                labels: Labels::try_from_pairs([("service", "api"), ("pod", pod)]).unwrap(),
                lines: vec![(t, format!("request served by {pod}"))],
            }]
        };
        p.ingest(batch("a", 1_000), 0).await.unwrap();
        p.ingest(batch("b", 1_000), 0).await.unwrap();
        assert!(matches!(
            p.ingest(batch("c", 1_000), 0).await,
            Err(ServiceError::Busy { .. })
        ));
        let rows = |lines: Vec<aiops_store::LogLineRow>| -> Vec<(i64, i64, TimestampMs, String)> {
            let mut v: Vec<_> = lines
                .into_iter()
                .map(|l| (l.id, l.stream_id, l.t, l.line))
                .collect();
            v.sort_by_key(|r| (r.1, r.0));
            v
        };
        let all = |p: &LogPipeline| {
            let store = p.store.clone();
            async move {
                store
                    .log_lines(&aiops_store::LogLineFilter::default(), 100)
                    .await
                    .unwrap()
            }
        };
        let mut states = HashMap::new();
        p.process(&mut states, &rows(all(&p).await), 0)
            .await
            .unwrap();
        assert_eq!(p.active_streams(), 2);
        // Stream `a` goes idle: saved, dropped, its place free for `c`.
        let a = *p.streams.lock().await.values().min().unwrap();
        states.get_mut(&a).unwrap().active_at =
            Instant::now().checked_sub(Duration::from_secs(61)).unwrap();
        p.checkpoint(&mut states, Save::Periodic(Duration::from_secs(3600)))
            .await
            .unwrap();
        assert!(!states.contains_key(&a));
        assert_eq!(p.active_streams(), 1);
        p.ingest(batch("c", 2_000), 0).await.unwrap();
        // `a`'s next line brings its state back from the store (the line it saw is not fed
        // again: its saved state knows it).
        p.ingest(batch("a", 3_000), 0).await.unwrap();
        let lines = rows(all(&p).await);
        let last_a = lines
            .iter()
            .filter(|r| r.1 == a)
            .map(|r| r.0)
            .max()
            .unwrap();
        p.process(&mut states, &lines, 0).await.unwrap();
        assert_eq!(p.counters.states_reloaded.load(Ordering::Relaxed), 1);
        assert_eq!(states[&a].last_id, Some(last_a));
        assert_eq!(p.counters.states_evicted.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn the_save_at_shutdown_stops_at_its_budget_and_a_restart_replays_the_rest() {
        let store = Store::open("sqlite::memory:", &aiops_store::StoreOptions::default())
            .await
            .unwrap();
        let p = LogPipeline::new(store.clone(), LogsConfig::default())
            .await
            .unwrap();
        let n = crate::checkpoint::CHECKPOINT_CHUNK + 3;
        for round in 0..3_i64 {
            let batch = (0..n)
                .map(|i| StreamLines {
                    labels: Labels::try_from_pairs([("service", "api"), ("pod", &format!("p{i}"))])
                        .unwrap(),
                    lines: vec![(
                        1_000 * (round + 1),
                        format!("request {} served in {} ms", round, i % 7),
                    )],
                })
                .collect();
            p.ingest(batch, 0).await.unwrap();
        }
        let mut lines: Vec<_> = store
            .log_lines(&aiops_store::LogLineFilter::default(), 10_000)
            .await
            .unwrap()
            .into_iter()
            .map(|l| (l.id, l.stream_id, l.t, l.line))
            .collect();
        lines.sort_by_key(|r| (r.1, r.0));
        let mut states = HashMap::new();
        p.process(&mut states, &lines, 0).await.unwrap();
        let expected: HashMap<i64, String> = states
            .iter()
            .map(|(&id, s)| (id, s.det.snapshot().unwrap()))
            .collect();
        // A budget used up at once: one chunk saved, the rest left.
        p.checkpoint(&mut states, Save::Last(Some(Duration::ZERO)))
            .await
            .unwrap();
        let saved = store.log_streams_with_states(None).await.unwrap();
        assert_eq!(saved.len(), crate::checkpoint::CHECKPOINT_CHUNK);
        assert_eq!(states.values().filter(|s| s.dirty).count(), 3);
        // The next start replays the lines of the states left unsaved and saves them.
        let again = LogPipeline::new(store.clone(), LogsConfig::default())
            .await
            .unwrap();
        again.clone().run(std::future::ready(())).await.unwrap();
        let rows = store.log_streams_with_states(None).await.unwrap();
        assert_eq!(rows.len(), n);
        for row in rows {
            assert_eq!(
                row.state.as_ref(),
                Some(&expected[&row.id]),
                "stream {}",
                row.id
            );
        }
    }

    #[tokio::test]
    async fn stream_churn_leaves_only_the_active_streams_in_memory() {
        let store = Store::open("sqlite::memory:", &aiops_store::StoreOptions::default())
            .await
            .unwrap();
        let config = LogsConfig {
            // Three waves of 500 short-lived streams: each fits only once the last went idle.
            max_streams: 600,
            idle_evict_s: 60,
            ..LogsConfig::default()
        };
        let p = LogPipeline::new(store.clone(), config).await.unwrap();
        let mut rx = p.receiver.lock().await.take().unwrap();
        let mut states: HashMap<i64, StreamState> = HashMap::new();
        let stream = |pod: &str, t: i64| StreamLines {
            labels: Labels::try_from_pairs([("service", "api"), ("pod", pod)]).unwrap(),
            lines: vec![
                (t, format!("request {t} served by {pod}")),
                (t + 1, format!("request {} served by {pod}", t + 1)),
            ],
        };
        let key = |pod: &str| {
            Labels::try_from_pairs([("service", "api"), ("pod", pod)])
                .unwrap()
                .to_string()
        };
        let id_of = |pod: &str| {
            let (store, key) = (store.clone(), key(pod));
            async move { store.find_log_stream_ids(&[&key]).await.unwrap()[0].unwrap() }
        };
        let mut back_id = None;
        for wave in 0..3_i64 {
            let t = wave * 600_000;
            let mut batch: Vec<StreamLines> = (0..500)
                .map(|i| stream(&format!("pod-{wave}-{i}"), t))
                .collect();
            batch.push(stream("keep", t));
            if wave != 1 {
                batch.push(stream("back", t));
            }
            p.ingest(batch, t).await.unwrap();
            while let Ok(job) = rx.try_recv() {
                crate::worker::Worker::process(&*p, &mut states, job)
                    .await
                    .unwrap();
            }
            let back = id_of("back").await;
            assert_eq!(*back_id.get_or_insert(back), back, "the same id");
            if wave == 2 {
                // Restored from the store: its miner goes on with the lines it saw.
                assert!(p.counters.states_reloaded.load(Ordering::Relaxed) >= 1);
                assert_eq!(states[&back].det.stats().lines, 4);
            }
            let keep = id_of("keep").await;
            let long_ago = Instant::now().checked_sub(Duration::from_secs(61)).unwrap();
            for (id, st) in states.iter_mut() {
                if *id != keep {
                    st.active_at = long_ago;
                }
            }
            p.checkpoint(&mut states, Save::Periodic(Duration::from_secs(3600)))
                .await
                .unwrap();
            assert_eq!(states.keys().copied().collect::<Vec<_>>(), [keep]);
            assert_eq!(p.memory(), (1, 1, 1), "wave {wave}");
        }
        assert_eq!(p.counters.states_evicted.load(Ordering::Relaxed), 1_502);
        // Streams out of memory are still listed and named by the query API.
        let lines = p
            .lines(&LogQuery {
                stream: Some(key("pod-0-7")),
                ..LogQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(lines.lines.len(), 2);
        assert!(lines.lines.iter().all(|l| l.stream == key("pod-0-7")));
        let by_label = p
            .lines(&LogQuery {
                labels: Some("pod=back".into()),
                ..LogQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(by_label.lines.len(), 4);
        let templates = p
            .templates(&TemplateQuery {
                service: Some("api".into()),
                limit: Some(5),
            })
            .await
            .unwrap();
        assert!(templates.templates.iter().all(|t| !t.stream.is_empty()));
    }

    #[test]
    fn line_windows_are_refused() {
        let c = LogsConfig {
            detector: LogDetectorParams::new().window(WindowSpec::Lines(10)),
            ..LogsConfig::default()
        };
        assert!(
            c.check()
                .unwrap_err()
                .to_string()
                .contains("logs.detector.window")
        );
        assert!(LogsConfig::default().check().is_ok());
    }
}
