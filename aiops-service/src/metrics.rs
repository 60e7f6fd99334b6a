//! The metric pipeline: samples in, committed, then scored by each series' online detector.
//!
//! - [`MetricPipeline::ingest`] stores a batch and returns only after the store committed it;
//!   a bounded queue sits between ingest and detection, and a full queue refuses the batch
//!   *before* anything is stored ([`ServiceError::Busy`], 429 + `Retry-After`), so nothing is
//!   acknowledged that is not both durable and on its way to detection. remote_write
//!   requests ([`MetricPipeline::ingest_remote_write`]) are appended as one block each with
//!   [`Store::append_samples`], which commits the blocks of concurrent requests together
//!   (group commit: one transaction, one fsync, for every request that waited while the
//!   previous commit ran); each request is still answered only after the commit that holds
//!   its block, and a failed commit fails every request of its group. Once `COMPACT_AT`
//!   samples were appended, a background compaction moves the pending blocks into the sample
//!   table, a step of `COMPACT_STEP` samples at a time, and ends with the first step that
//!   moved less (the blocks appended meanwhile wait for the next one): a compaction rewrites
//!   about three pages of every series it touches whatever it moves, so moving a few requests
//!   at a time would write kilobytes a sample (BENCHMARKS.md, "group commit").
//! - One task ([`MetricPipeline::run`]) owns every series' detector state: it scores the
//!   samples in time order, stores anomalies (unique per series and time) and publishes them.
//!   The detectors of a batch run off the async workers, spread over up to
//!   [`DETECTION_THREADS`] threads (each series' samples on one thread, in order), so
//!   detection uses every core while ingest keeps answering.
//! - Detector states are saved with the time of the last sample they saw; a restart restores
//!   them and replays the stored samples after that time, so it resumes without re-learning
//!   and without skipping a sample. Every `checkpoint_interval_s`, the states that are due are
//!   saved: those that scored `checkpoint_min_samples` samples since their last save, or
//!   changed `checkpoint_max_age_s` ago or more. A state is 50-160 kB of JSON once its
//!   detector learned, which costs as much to write as replaying a thousand samples does, so a
//!   state that saw a few samples is not worth writing yet; the age bounds what a restart
//!   replays. A periodic save writes [`CHECKPOINT_CHUNK`] states per transaction, the
//!   longest-unsaved first, and stops once it used a fifth of the interval (the rest waits for
//!   the next one), so saving thousands of large states neither stalls detection nor holds
//!   them all in memory at once; the save at shutdown writes every changed state, the
//!   longest-unsaved first, within `shutdown_save_s` (the states it does not reach are
//!   replayed from their committed samples at the next start).
//!
//! - Counters (metrics whose name ends with one of `counter_suffixes`: `_total`, `_count`,
//!   `_sum`, `_bucket` by default, as Prometheus and OpenMetrics name them) are scored by
//!   their per-second increase between consecutive samples, a drop counting as a reset from
//!   zero, as PromQL's `rate` reads them: a counter's raw value only grows, so every sample
//!   would be a new extreme. Their first sample only sets the start; an anomaly's value is
//!   the rate. The stored samples are the raw ones.
//! - A series that scored nothing for `idle_evict_s` has its state saved and dropped from
//!   memory at the next periodic save; its next sample restores it from the store. Series
//!   come and go (pods, instances), and their states must not pile up until a restart.
//!
//! Memory: one detector state per series that scored a sample in the last `idle_evict_s` (its
//! size is the detector's: docs/reference.md, "Service", gives the sizes of `default`,
//! `adaptive` and `zscore`) plus `queue_capacity` batches. What is kept per series besides
//! (raw remote_write label sets and canonical keys to ids, infos, anomaly counts by resource)
//! is kept only for series with a state in memory: each periodic save drops the entries of the
//! others, and a dropped series' next sample finds its id in the store and restores its state
//! (a counter goes on from its last stored sample). [`MetricPipeline::memory`] gives the sizes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aiops_core::{Labels, TimestampMs};
use aiops_detect::{Detector, OnlineDetector, registry};
use aiops_integrations::remote_write::{Summary, WriteRequestView, is_stale_marker};
use aiops_store::{NewAnomaly, NewSeries, SavedState, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, broadcast, mpsc};

use crate::checkpoint::{Save, SaveRun};
use crate::error::{Result, ServiceError};
use crate::ha::{HaConfig, HaTracker};
use crate::residency::{Residency, adopt_found};
use crate::series_cache::{KeyBuf, SeriesCache};

/// Samples appended as blocks since the last compaction that start the next one: the more,
/// the more samples of a series share each page a compaction writes.
const COMPACT_AT: u64 = 1_000_000;
/// Samples one compaction moves at most (in transactions of `aiops_store::COMPACT_TX` rows);
/// a compaction that moved a full step goes on with the next, one that moved less ends.
const COMPACT_STEP: usize = 1_000_000;

/// Which detector scores which series: the first rule whose `metric` matches wins; the
/// `default` detector scores the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorRule {
    /// The metric name, exactly, or a prefix ending in `*` (`node_cpu_*`).
    pub metric: String,
    /// The registry name of the detector (`aiops detectors` lists them).
    pub detector: String,
    /// Its parameters.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
}

impl DetectorRule {
    fn matches(&self, metric: &str) -> bool {
        match self.metric.strip_suffix('*') {
            Some(prefix) => metric.starts_with(prefix),
            None => metric == self.metric,
        }
    }
}

/// Settings of the metric pipeline (the `metrics:` section of the service configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Labels naming a series' resource, first present wins.
    pub resource_labels: Vec<String>,
    /// Detector rules, first match wins.
    pub detectors: Vec<DetectorRule>,
    /// Batches that may wait for detection before ingest answers 429.
    pub queue_capacity: usize,
    /// How often the detector states that are due are saved (seconds).
    pub checkpoint_interval_s: u64,
    /// A changed state is due once it scored this many samples since its last save.
    pub checkpoint_min_samples: u64,
    /// ... or once it changed this long ago (seconds): a restart replays at most about this
    /// much of a series' samples, or `checkpoint_min_samples` of them.
    pub checkpoint_max_age_s: u64,
    /// The save at shutdown stops after this long (seconds; 0: no limit), the longest-unsaved
    /// states first: the others are not lost, a restart replays their stored samples. A
    /// SIGTERM is followed by a SIGKILL after a grace period (30 s under Kubernetes); a save
    /// that outlives it would be cut at a random point.
    pub shutdown_save_s: u64,
    /// Metric-name suffixes of counters, scored by their per-second increase (empty: every
    /// series by its raw values).
    pub counter_suffixes: Vec<String>,
    /// A series that scored nothing this long (seconds) has its state saved and dropped from
    /// memory (restored at its next sample); 0 keeps every state in memory.
    pub idle_evict_s: u64,
    /// At most this many active series: those with a detector state in memory (a sample in the
    /// last `idle_evict_s`), counted when the pipeline last reported plus those made since. A
    /// new series beyond it is refused with 429; series that went idle free their place, so
    /// series that come and go never lock ingest out.
    pub max_series: usize,
    /// Deduplication of Prometheus HA pairs on remote_write (off by default): one replica
    /// per cluster stored, its replica label removed (see [`crate::ha`]).
    pub ha: Option<HaConfig>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            resource_labels: vec!["service".into(), "instance".into(), "job".into()],
            detectors: Vec::new(),
            queue_capacity: 256,
            checkpoint_interval_s: 30,
            checkpoint_min_samples: 1_000,
            checkpoint_max_age_s: 600,
            shutdown_save_s: 15,
            idle_evict_s: 3_600,
            counter_suffixes: ["_total", "_count", "_sum", "_bucket"]
                .map(String::from)
                .to_vec(),
            max_series: 100_000,
            ha: None,
        }
    }
}

impl MetricsConfig {
    /// Checks every detector rule builds.
    pub fn check(&self) -> Result<()> {
        for (i, r) in self.detectors.iter().enumerate() {
            registry::build(&r.detector, &r.params).map_err(|e| {
                ServiceError::invalid_config(format!("metrics.detectors[{i}]"), e.to_string())
            })?;
        }
        if self.queue_capacity == 0 {
            return Err(ServiceError::invalid_config(
                "metrics.queue_capacity",
                "must be at least 1",
            ));
        }
        if let Some(ha) = &self.ha {
            ha.check()?;
        }
        Ok(())
    }

    /// Whether series of `metric` are counters (see `counter_suffixes`).
    pub fn is_counter(&self, metric: &str) -> bool {
        self.counter_suffixes
            .iter()
            .any(|s| !s.is_empty() && metric.ends_with(s.as_str()))
    }

    fn detector_for(&self, metric: &str) -> Result<Box<dyn Detector>> {
        let empty = serde_json::Map::new();
        let (name, params) = self
            .detectors
            .iter()
            .find(|r| r.matches(metric))
            .map_or((registry::DEFAULT_DETECTOR, &empty), |r| {
                (r.detector.as_str(), &r.params)
            });
        Ok(registry::build(name, params)?)
    }
}

/// The samples of one series in an ingest batch.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSamples {
    /// All labels, `__name__` included.
    pub labels: Labels,
    /// The metric name.
    pub metric: String,
    /// The resource (None: taken from the configured resource labels, else `unknown`).
    pub resource: Option<String>,
    /// Samples (time ms, finite value), sorted by time.
    pub samples: Vec<(TimestampMs, f64)>,
}

/// What one ingest call stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IngestReport {
    /// Series in the batch.
    pub series: usize,
    /// Samples in the batch.
    pub samples: usize,
    /// Samples not stored before (a resent batch adds none).
    pub new_samples: u64,
}

/// A stored anomaly as published to subscribers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnomalyEvent {
    /// Store id.
    pub id: i64,
    /// The anomaly.
    #[serde(flatten)]
    pub anomaly: NewAnomaly,
}

/// A sample as published to `/ws/metrics/{resource}` subscribers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleEvent {
    /// The resource.
    pub resource: String,
    /// The metric.
    pub metric: String,
    /// Time (ms).
    pub timestamp: TimestampMs,
    /// Value.
    pub value: f64,
}

/// Counters of the pipeline (exported on `/metrics`).
#[derive(Debug, Default)]
pub struct MetricCounters {
    /// Samples received.
    pub samples_in: AtomicU64,
    /// Samples scored.
    pub samples_scored: AtomicU64,
    /// Samples not scored because an older-or-equal time was already scored for the series.
    pub out_of_order: AtomicU64,
    /// Anomalies stored.
    pub anomalies: AtomicU64,
    /// Batches refused because the queue was full.
    pub refused: AtomicU64,
    /// Nanoseconds spent in detectors.
    pub detector_nanos: AtomicU64,
    /// Detector errors (the point is skipped and counted).
    pub detector_errors: AtomicU64,
    /// Detector states saved.
    pub states_saved: AtomicU64,
    /// Saves of detector states (periodic and final).
    pub checkpoints: AtomicU64,
    /// Nanoseconds spent saving detector states.
    pub checkpoint_nanos: AtomicU64,
    /// Idle states dropped from memory (saved first).
    pub states_evicted: AtomicU64,
    /// Dropped states restored from the store at their series' next sample.
    pub states_reloaded: AtomicU64,
    /// Anomalies stored, by resource (one entry per resource that had one; resources are
    /// bounded by `metrics.max_series`).
    pub anomalies_by_resource: std::sync::Mutex<BTreeMap<String, u64>>,
}

/// Entries of the per-series maps the metric pipeline keeps in memory (see
/// [`MetricPipeline::memory`]); each is bounded by the series with a detector state in memory,
/// plus those made or come back since the last periodic save.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeriesMemory {
    /// Raw remote_write label sets -> series id (one per label order a sender uses).
    pub cache_entries: usize,
    /// Canonical series keys -> series id.
    pub keys: usize,
    /// Series infos (resource, metric, counter or not).
    pub infos: usize,
    /// Detector states (active series, as last reported plus those made since).
    pub states: usize,
    /// Resources with an anomaly count (`aiops_anomalies_by_resource_total`).
    pub resources: usize,
}

struct SeriesInfo {
    resource: String,
    metric: String,
    /// Scored by its per-second increase.
    counter: bool,
}

pub(crate) struct Job {
    /// The rows of each request in the batch, in the order they were queued.
    parts: Vec<Vec<(i64, TimestampMs, f64)>>,
}

impl Job {
    fn new(rows: Vec<(i64, TimestampMs, f64)>) -> Self {
        Self { parts: vec![rows] }
    }

    fn rows(&self) -> usize {
        self.parts.iter().map(Vec::len).sum()
    }

    /// The rows by series, each series' in the order it is scored: each request's by time,
    /// the requests in the order they were queued (as if each were scored on its own).
    fn into_rows(self) -> Vec<(i64, TimestampMs, f64)> {
        let several = self.parts.len() > 1;
        let mut rows = Vec::with_capacity(self.rows());
        for mut part in self.parts {
            part.sort_by_key(|&(id, t, _)| (id, t));
            rows.extend(part);
        }
        if several {
            // Stable: a series' samples keep their request order.
            rows.sort_by_key(|&(id, _, _)| id);
        }
        rows
    }
}

/// Rows a scoring batch gathers from the queue at most (plus one request's): when detection
/// fell behind, the requests waiting are scored as one batch, so that the scoring threads
/// are started, fed and joined once for all of them, and each series' samples of the batch
/// are scored in a row. The second matters most: a detector state is hundreds of kB, so a
/// server with thousands of series meets a cold state at nearly every sample when it scores
/// one or two samples a series at a time; a few dozen in a row cost 2-3 times less a sample
/// (`default_cost kinds` with `INTERLEAVE`, BENCHMARKS.md). When detection keeps up, batches
/// stay small: only requests already waiting join one.
const BATCH_ROWS: usize = 262_144;

pub(crate) struct SeriesState {
    online: Box<dyn OnlineDetector>,
    detector: Box<dyn Detector>,
    last_t: Option<TimestampMs>,
    dirty: bool,
    /// Samples scored since it was last saved.
    unsaved: u64,
    /// When it first changed since it was last saved.
    dirty_since: Option<Instant>,
    /// When it last scored a batch (or was made).
    active_at: Instant,
    /// A counter's last raw sample (the start of the next increase); read from the store
    /// when a saved state is restored.
    last_raw: Option<(TimestampMs, f64)>,
    /// The periodic save that last wrote it (0: none yet).
    saved_round: u64,
}

impl SeriesState {
    fn new(
        detector: Box<dyn Detector>,
        online: Box<dyn OnlineDetector>,
        last_t: Option<TimestampMs>,
    ) -> Self {
        Self {
            online,
            detector,
            last_t,
            dirty: false,
            unsaved: 0,
            dirty_since: None,
            active_at: Instant::now(),
            last_raw: None,
            saved_round: 0,
        }
    }

    /// Whether it scored nothing for `idle_evict_s` (never with 0).
    fn idle(&self, config: &MetricsConfig) -> bool {
        config.idle_evict_s > 0
            && self.active_at.elapsed() >= Duration::from_secs(config.idle_evict_s)
    }

    /// Records a scored sample.
    fn scored(&mut self, t: TimestampMs) {
        self.last_t = Some(t);
        self.dirty = true;
        self.unsaved += 1;
        self.dirty_since.get_or_insert_with(Instant::now);
    }

    /// Whether a periodic save writes it (see the module docs).
    fn due(&self, config: &MetricsConfig) -> bool {
        self.dirty
            && (self.unsaved >= config.checkpoint_min_samples
                || self.idle(config)
                || self.dirty_since.is_some_and(|since| {
                    since.elapsed() >= Duration::from_secs(config.checkpoint_max_age_s)
                }))
    }

    fn saved(&mut self, round: u64) {
        self.dirty = false;
        self.unsaved = 0;
        self.dirty_since = None;
        self.saved_round = round;
    }
}

pub use crate::checkpoint::CHECKPOINT_CHUNK;

/// The metric pipeline (see the module docs). Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct MetricPipeline {
    store: Store,
    config: MetricsConfig,
    queue: mpsc::Sender<Job>,
    receiver: Mutex<Option<mpsc::Receiver<Job>>>,
    series: Mutex<HashMap<String, i64>>,
    /// Entries of `series` (read without its lock).
    keys: std::sync::atomic::AtomicUsize,
    cache: std::sync::RwLock<SeriesCache>,
    compaction: Arc<Compaction>,
    info: std::sync::RwLock<HashMap<i64, Arc<SeriesInfo>>>,
    anomalies: broadcast::Sender<AnomalyEvent>,
    samples: broadcast::Sender<SampleEvent>,
    /// Series whose idle state was dropped (restored at their next sample), and how many are
    /// active.
    residency: Residency,
    /// The elected replica of each Prometheus HA pair (when `ha` is configured).
    ha: Option<HaTracker>,
    /// Counters.
    pub counters: MetricCounters,
}

/// Blocks appended since the last compaction, and whether one runs.
#[derive(Debug, Default)]
struct Compaction {
    pending: AtomicU64,
    running: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for SeriesInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.resource, self.metric)
    }
}
impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Job({} rows)", self.rows())
    }
}

impl MetricPipeline {
    /// A pipeline over `store`; call [`MetricPipeline::run`] in a task to score.
    pub async fn new(store: Store, config: MetricsConfig) -> Result<Arc<Self>> {
        config.check()?;
        let ha = config.ha.clone().map(HaTracker::new).transpose()?;
        let (queue, receiver) = mpsc::channel(config.queue_capacity);
        Ok(Arc::new(Self {
            store,
            config,
            queue,
            receiver: Mutex::new(Some(receiver)),
            series: Mutex::new(HashMap::new()),
            keys: Default::default(),
            cache: std::sync::RwLock::new(SeriesCache::default()),
            compaction: Arc::new(Compaction::default()),
            info: std::sync::RwLock::new(HashMap::new()),
            anomalies: broadcast::channel(1024).0,
            samples: broadcast::channel(4096).0,
            residency: Residency::default(),
            ha,
            counters: MetricCounters::default(),
        }))
    }

    /// The HA pair deduplication, when configured.
    pub fn ha(&self) -> Option<&HaTracker> {
        self.ha.as_ref()
    }

    /// The configuration.
    pub fn config(&self) -> &MetricsConfig {
        &self.config
    }

    /// New anomalies as they are stored.
    pub fn subscribe_anomalies(&self) -> broadcast::Receiver<AnomalyEvent> {
        self.anomalies.subscribe()
    }

    /// Samples as they are scored.
    pub fn subscribe_samples(&self) -> broadcast::Receiver<SampleEvent> {
        self.samples.subscribe()
    }

    /// Batches waiting for detection.
    pub fn queue_depth(&self) -> usize {
        self.config.queue_capacity - self.queue.capacity()
    }

    /// The resource of a series: the first configured resource label present, else `unknown`.
    pub fn resource_of(&self, labels: &Labels) -> String {
        self.config
            .resource_labels
            .iter()
            .find_map(|l| labels.get(l))
            .unwrap_or("unknown")
            .to_string()
    }

    /// Stores a batch and queues it for detection; returns once it is committed. A full
    /// queue refuses the batch before storing anything ([`ServiceError::Busy`]).
    pub async fn ingest(
        &self,
        batch: Vec<SeriesSamples>,
        now: TimestampMs,
    ) -> Result<IngestReport> {
        let permit = self.queue.try_reserve().map_err(|_| {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            ServiceError::Busy {
                what: "detection queue".into(),
                retry_after_s: 1,
            }
        })?;
        let ids = self.series_ids(&batch, now).await?;
        let mut rows = Vec::with_capacity(batch.iter().map(|s| s.samples.len()).sum());
        for (s, id) in batch.iter().zip(&ids) {
            rows.extend(s.samples.iter().map(|&(t, v)| (*id, t, v)));
        }
        let new_samples = self.store.insert_samples(&rows).await?;
        self.counters
            .samples_in
            .fetch_add(rows.len() as u64, Ordering::Relaxed);
        let report = IngestReport {
            series: batch.len(),
            samples: rows.len(),
            new_samples,
        };
        permit.send(Job::new(rows));
        Ok(report)
    }

    async fn series_ids(&self, batch: &[SeriesSamples], now: TimestampMs) -> Result<Vec<i64>> {
        let series = batch
            .iter()
            .map(|s| NewSeries {
                key: s.labels.to_string(),
                metric: s.metric.clone(),
                resource: s
                    .resource
                    .clone()
                    .unwrap_or_else(|| self.resource_of(&s.labels)),
                labels: s.labels.clone(),
            })
            .collect();
        self.ids_of(series, now).await
    }

    /// The ids of series by canonical key, created when new (the series limit applies). A key
    /// not in memory is looked up in the store first: a series dropped from memory (idle) or
    /// made by another process keeps its id and is not new.
    async fn ids_of(&self, series: Vec<NewSeries>, now: TimestampMs) -> Result<Vec<i64>> {
        let mut known = self.series.lock().await;
        let mut missing: Vec<NewSeries> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for s in &series {
            if !known.contains_key(&s.key) && seen.insert(s.key.as_str()) {
                missing.push(s.clone());
            }
        }
        if !missing.is_empty() {
            let keys: Vec<&str> = missing.iter().map(|s| s.key.as_str()).collect();
            let found = self.store.find_series_ids(&keys).await?;
            missing = adopt_found(missing, found, |s| s.key, &mut known);
            self.keys.store(known.len(), Ordering::Relaxed);
        }
        if !missing.is_empty() {
            if self.active_series() + missing.len() > self.config.max_series {
                return Err(ServiceError::Busy {
                    what: format!("series limit ({})", self.config.max_series),
                    retry_after_s: 60,
                });
            }
            let ids = self.store.series_ids(&missing, now).await?;
            self.residency.created(missing.len());
            let mut info = self.info.write().unwrap_or_else(|e| e.into_inner());
            for (s, id) in missing.into_iter().zip(ids) {
                info.insert(
                    id,
                    Arc::new(SeriesInfo {
                        counter: self.config.is_counter(&s.metric),
                        resource: s.resource,
                        metric: s.metric,
                    }),
                );
                known.insert(s.key, id);
            }
        }
        self.keys.store(known.len(), Ordering::Relaxed);
        Ok(series.iter().map(|s| known[&s.key]).collect())
    }

    /// Stores a decoded remote_write request and queues it for detection; returns once it is
    /// committed, with what the request held. Entries with the same labels are one series;
    /// of samples with the same series and time the last in the request is kept; staleness
    /// markers, other NaNs and infinities are counted, not stored. A series is found by its
    /// label bytes (no allocation, no check, no query once known); an entry not seen before
    /// is checked (400 naming its index) and its series created. A full queue refuses the
    /// request before anything is stored ([`ServiceError::Busy`]).
    pub async fn ingest_remote_write(
        &self,
        view: &WriteRequestView<'_>,
        now: TimestampMs,
    ) -> Result<Summary> {
        let n = view.len();
        let mut ids: Vec<Option<i64>> = vec![None; n];
        let mut misses: Vec<(usize, Box<[u8]>)> = Vec::new();
        {
            let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
            let mut buf = KeyBuf::default();
            for (i, id) in ids.iter_mut().enumerate() {
                SeriesCache::key(view.labels(i), &mut buf);
                *id = cache.get(&buf.key);
                if id.is_none() {
                    misses.push((i, buf.key.as_slice().into()));
                }
            }
        }
        // Unknown entries are checked before anything else happens (400 at the first bad one).
        let mut fresh = Vec::with_capacity(misses.len());
        for (i, raw) in misses {
            let (labels, metric) = view.identify(i)?;
            let resource = self.resource_of(&labels);
            let wanted = view.samples(i).iter().any(|s| s.value.is_finite());
            let series = NewSeries {
                key: labels.to_string(),
                metric,
                resource,
                labels,
            };
            fresh.push((i, raw, series, wanted));
        }
        let permit = self.queue.try_reserve().map_err(|_| {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            ServiceError::Busy {
                what: "detection queue".into(),
                retry_after_s: 1,
            }
        })?;
        if !fresh.is_empty() {
            // A series is created when one of its entries has a finite sample.
            let wanted: Vec<NewSeries> =
                fresh.iter().filter(|f| f.3).map(|f| f.2.clone()).collect();
            let created: HashMap<String, i64> = if wanted.is_empty() {
                HashMap::new()
            } else {
                let got = self.ids_of(wanted.clone(), now).await?;
                wanted.into_iter().map(|s| s.key).zip(got).collect()
            };
            let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
            for (i, raw, series, _) in fresh {
                if let Some(&id) = created.get(&series.key) {
                    ids[i] = Some(id);
                    cache.insert(raw, id);
                }
            }
        }
        let mut summary = Summary {
            entries: n,
            metadata: view.metadata(),
            ..Summary::default()
        };
        let mut points = Vec::with_capacity(view.samples_len());
        for (i, id) in ids.iter().enumerate() {
            summary.exemplars += view.exemplars(i);
            summary.histograms += view.histograms(i);
            match id {
                Some(id) => {
                    points.extend(view.samples(i).iter().map(|s| (*id, s.timestamp, s.value)))
                }
                // No series: only staleness markers and rejected values.
                None => {
                    for s in view.samples(i) {
                        if is_stale_marker(s.value) {
                            summary.stale_markers += 1;
                        } else {
                            summary.rejected += 1;
                        }
                    }
                }
            }
        }
        // Stable: of samples with the same series and time, the request's last stays last.
        points.sort_by_key(|&(id, t, _)| (id, t));
        let mut rows = Vec::with_capacity(points.len());
        for (j, &(id, t, v)) in points.iter().enumerate() {
            if j == 0 || points[j - 1].0 != id {
                summary.series += 1;
            }
            if points
                .get(j + 1)
                .is_some_and(|&(i2, t2, _)| i2 == id && t2 == t)
            {
                summary.duplicates += 1;
            } else if is_stale_marker(v) {
                summary.stale_markers += 1;
            } else if v.is_finite() {
                rows.push((id, t, v));
            } else {
                summary.rejected += 1;
            }
        }
        summary.samples = rows.len();
        if rows.is_empty() {
            return Ok(summary);
        }
        self.store.append_samples(&rows).await?;
        self.counters
            .samples_in
            .fetch_add(rows.len() as u64, Ordering::Relaxed);
        let appended = rows.len() as u64;
        permit.send(Job::new(rows));
        let c = &self.compaction;
        if c.pending.fetch_add(appended, Ordering::Relaxed) + appended >= COMPACT_AT {
            self.compact_in_background();
        }
        Ok(summary)
    }

    /// Starts moving appended blocks into the sample table, unless that runs already.
    fn compact_in_background(&self) {
        let c = self.compaction.clone();
        if c.running.swap(true, Ordering::AcqRel) {
            return;
        }
        c.pending.store(0, Ordering::Relaxed);
        let store = self.store.clone();
        tokio::spawn(async move {
            loop {
                match store.compact_samples(COMPACT_STEP).await {
                    // Less than a step: every block pending at its start was moved. The blocks
                    // appended meanwhile wait for the next `COMPACT_AT`: moving them now, a
                    // few requests at a time, would rewrite the last pages of nearly every
                    // series for a handful of samples each (the cost of a compaction is about
                    // three pages a series whatever it moves).
                    Ok(n) if n < COMPACT_STEP as u64 => break,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "sample compaction failed (retried later)");
                        break;
                    }
                }
            }
            c.running.store(false, Ordering::Release);
        });
    }

    fn info(&self, id: i64) -> Option<Arc<SeriesInfo>> {
        self.info
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    /// Scores queued batches until `shutdown` resolves and the queue is drained, saving
    /// detector states every `checkpoint_interval_s` and at the end. Restores saved states
    /// and replays the samples they have not seen first. Call once.
    pub async fn run(
        self: Arc<Self>,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> Result<()> {
        let Some(mut rx) = self.receiver.lock().await.take() else {
            return Err(ServiceError::Internal {
                what: "the metric pipeline runs already".into(),
            });
        };
        let mut states = self.restore().await?;
        self.residency.report(&states);
        let replay = self.store.samples_after_states().await?;
        self.score(&mut states, &replay, crate::now_ms()).await?;
        self.checkpoint(&mut states, Save::Last(None)).await?;
        // Blocks left by the last run go to the sample table (reads see them meanwhile).
        self.compact_in_background();
        let every = Duration::from_secs(self.config.checkpoint_interval_s.max(1));
        crate::worker::drive(&*self, &mut rx, &mut states, every, shutdown).await
    }

    /// The saved states of the series that scored a sample in the last `idle_evict_s` (by the
    /// time of their last sample); older ones stay in the store until their next sample.
    async fn restore(&self) -> Result<HashMap<i64, SeriesState>> {
        let mut states = HashMap::new();
        let cutoff = (self.config.idle_evict_s > 0).then(|| {
            crate::now_ms().saturating_sub(self.config.idle_evict_s.saturating_mul(1000) as i64)
        });
        let mut known = self.series.lock().await;
        let rows = self.store.series_with_states(cutoff).await?;
        let mut info = self.info.write().unwrap_or_else(|e| e.into_inner());
        for s in rows {
            if let Some(st) = self.restored(&s)? {
                states.insert(s.id, st);
                info.insert(s.id, Arc::new(self.info_of(&s)));
                known.insert(s.key, s.id);
            }
        }
        self.keys.store(known.len(), Ordering::Relaxed);
        Ok(states)
    }

    /// The state saved for a series, restored; None when none is saved, the configuration
    /// gives the series another detector, or the state does not restore (it starts afresh).
    fn restored(&self, s: &aiops_store::SeriesRow) -> Result<Option<SeriesState>> {
        let (Some(name), Some(state)) = (&s.detector, &s.state) else {
            return Ok(None);
        };
        let detector = self.config.detector_for(&s.metric)?;
        if detector.name() != name {
            return Ok(None);
        }
        let mut online = detector.online();
        if online.restore(state).is_err() {
            return Ok(None);
        }
        Ok(Some(SeriesState::new(detector, online, s.state_t)))
    }

    /// Active series (see `max_series`): those with a state in memory when the pipeline last
    /// reported, plus those made since.
    pub fn active_series(&self) -> usize {
        self.residency.active()
    }

    fn info_of(&self, s: &aiops_store::SeriesRow) -> SeriesInfo {
        SeriesInfo {
            counter: self.config.is_counter(&s.metric),
            resource: s.resource.clone(),
            metric: s.metric.clone(),
        }
    }

    fn new_state(&self, info: &SeriesInfo) -> Result<SeriesState> {
        let d = self.config.detector_for(&info.metric)?;
        let online = d.online();
        Ok(SeriesState::new(d, online, None))
    }

    /// A series' info and, with `state`, the state to score it with (it has none in memory);
    /// None for an id the store does not know. Info in memory is that of a series whose state
    /// is in memory or that this process made since the last eviction (a new state).
    /// Otherwise both come from the store: the series was dropped from memory (idle) or made
    /// before a restart, and its saved state is restored (a new one when none is saved or it
    /// does not restore).
    async fn load(
        &self,
        id: i64,
        state: bool,
    ) -> Result<Option<(Arc<SeriesInfo>, Option<SeriesState>)>> {
        if let Some(info) = self.info(id) {
            let st = if state {
                Some(self.new_state(&info)?)
            } else {
                None
            };
            return Ok(Some((info, st)));
        }
        let row = match self.store.series(id).await {
            Ok(row) => row,
            Err(aiops_store::StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let info = Arc::new(self.info_of(&row));
        self.info
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, info.clone());
        let st = if !state {
            None
        } else if let Some(st) = self.restored(&row)? {
            self.counters
                .states_reloaded
                .fetch_add(1, Ordering::Relaxed);
            Some(st)
        } else {
            Some(self.new_state(&info)?)
        };
        Ok(Some((info, st)))
    }

    /// Drops from memory what is kept only for series whose state is no longer there (it went
    /// idle, or the series was made and its state not yet scored): raw and canonical keys,
    /// series infos, and the anomaly counts of resources none of `states` belongs to. All of
    /// it is found again in the store at the series' next sample (same id, state restored).
    async fn forget(&self, states: &mut HashMap<i64, SeriesState>) {
        let live = states.len();
        let cache_len = self.cache.read().unwrap_or_else(|e| e.into_inner()).len();
        let info_len = self.info.read().unwrap_or_else(|e| e.into_inner()).len();
        if self.keys.load(Ordering::Relaxed) <= live && cache_len <= live && info_len <= live {
            return;
        }
        let ids: std::collections::HashSet<i64> = states.keys().copied().collect();
        // What is removed is freed after each lock is released: remote_write waits only for
        // the scan.
        let dropped_keys = {
            let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
            cache.retain(|id| ids.contains(&id))
        };
        drop(dropped_keys);
        let dropped_infos: Vec<_> = {
            let mut info = self.info.write().unwrap_or_else(|e| e.into_inner());
            let dropped = info.extract_if(|id, _| !ids.contains(id)).collect();
            if let Ok(mut by) = self.counters.anomalies_by_resource.lock()
                && !by.is_empty()
            {
                let resources: std::collections::HashSet<&str> =
                    info.values().map(|i| i.resource.as_str()).collect();
                by.retain(|r, _| resources.contains(r.as_str()));
            }
            dropped
        };
        drop(dropped_infos);
        let mut known = self.series.lock().await;
        known.retain(|_, id| ids.contains(id));
        self.keys.store(known.len(), Ordering::Relaxed);
    }

    /// Entries of each per-series map the pipeline keeps in memory: raw remote_write label
    /// sets (`aiops_series_cache_entries`), canonical keys, series infos, detector states
    /// (as last reported) and resources with an anomaly count.
    pub fn memory(&self) -> SeriesMemory {
        SeriesMemory {
            cache_entries: self.cache.read().unwrap_or_else(|e| e.into_inner()).len(),
            keys: self.keys.load(Ordering::Relaxed),
            infos: self.info.read().unwrap_or_else(|e| e.into_inner()).len(),
            states: self.residency.active(),
            resources: self
                .counters
                .anomalies_by_resource
                .lock()
                .map_or(0, |b| b.len()),
        }
    }

    /// Scores `rows` (sorted by series, then time) with each series' online detector, stores
    /// the anomalies and publishes them. The detectors run off the async workers, on up to
    /// [`DETECTION_THREADS`] threads, each series' samples on one of them in order.
    async fn score(
        &self,
        states: &mut HashMap<i64, SeriesState>,
        rows: &[(i64, TimestampMs, f64)],
        now: TimestampMs,
    ) -> Result<()> {
        // One group per series, its state taken out of the map while it is scored.
        let mut groups: Vec<Group> = Vec::new();
        for run in rows.chunk_by(|a, b| a.0 == b.0) {
            let id = run[0].0;
            let made = match states.remove(&id) {
                Some(st) => match self.info(id) {
                    Some(info) => Ok(Some((info, st))),
                    None => match self.load(id, false).await {
                        Ok(found) => Ok(found.map(|(info, _)| (info, st))),
                        Err(e) => {
                            states.insert(id, st);
                            Err(e)
                        }
                    },
                },
                None => self
                    .load(id, true)
                    .await
                    .map(|found| found.and_then(|(info, st)| Some((info, st?)))),
            };
            let (info, state) = match made {
                Ok(Some(made)) => made,
                Ok(None) => continue,
                Err(e) => {
                    // Nothing scored: the states taken out go back as they were.
                    for g in groups {
                        states.insert(g.id, g.state);
                    }
                    return Err(e);
                }
            };
            groups.push(Group {
                id,
                info,
                state,
                samples: run.iter().map(|&(_, t, v)| (t, v)).collect(),
                outcome: Outcome::default(),
            });
        }
        // A restored counter continues from its last stored sample.
        for i in 0..groups.len() {
            let g = &groups[i];
            if let (true, None, Some(t)) = (g.info.counter, g.state.last_raw, g.state.last_t) {
                match self.store.samples(g.id, t, t.saturating_add(1), 1).await {
                    Ok(last) => groups[i].state.last_raw = last.first().copied(),
                    Err(e) => {
                        // Nothing scored: the states taken out go back as they were.
                        for g in groups {
                            states.insert(g.id, g.state);
                        }
                        return Err(e.into());
                    }
                }
            }
        }
        let publish = self.samples.receiver_count() > 0;
        let groups = tokio::task::spawn_blocking(move || detect_groups(groups, publish))
            .await
            .map_err(|e| ServiceError::Internal {
                what: format!("detection task: {e}"),
            })?;
        let mut found = Vec::new();
        let c = &self.counters;
        for g in groups {
            let o = &g.outcome;
            c.samples_scored.fetch_add(o.scored, Ordering::Relaxed);
            c.out_of_order.fetch_add(o.out_of_order, Ordering::Relaxed);
            c.detector_errors.fetch_add(o.errors, Ordering::Relaxed);
            c.detector_nanos.fetch_add(o.nanos, Ordering::Relaxed);
            for &(t, v) in &o.published {
                let _ = self.samples.send(SampleEvent {
                    resource: g.info.resource.clone(),
                    metric: g.info.metric.clone(),
                    timestamp: t,
                    value: v,
                });
            }
            for &(t, v, p) in &o.anomalies {
                found.push(NewAnomaly {
                    series_id: g.id,
                    t,
                    resource: g.info.resource.clone(),
                    metric: g.info.metric.clone(),
                    value: v,
                    score: p.score,
                    severity: g.state.detector.severity(p.score).to_string(),
                    expected: p.expected,
                    lower: p.lower,
                    upper: p.upper,
                    detector: g.state.detector.name().to_string(),
                    detected_at: now,
                });
            }
            states.insert(g.id, g.state);
        }
        self.residency.report(states);
        if !found.is_empty() {
            let stored = self.store.insert_anomalies(&found).await?;
            if let Ok(mut by) = self.counters.anomalies_by_resource.lock() {
                for a in &stored {
                    *by.entry(a.anomaly.resource.clone()).or_default() += 1;
                }
            }
            for a in stored {
                self.counters.anomalies.fetch_add(1, Ordering::Relaxed);
                let _ = self.anomalies.send(AnomalyEvent {
                    id: a.id,
                    anomaly: a.anomaly,
                });
            }
        }
        Ok(())
    }

    /// Saves the changed states, the longest-unsaved first, [`CHECKPOINT_CHUNK`] per
    /// transaction, stopping after the chunk that used up the save's budget. A periodic save
    /// writes only the states that are due and then drops the idle ones from memory; the
    /// last save (shutdown) writes every changed state within `shutdown_save_s`.
    async fn checkpoint(&self, states: &mut HashMap<i64, SeriesState>, save: Save) -> Result<()> {
        let started = Instant::now();
        let round = self.counters.checkpoints.fetch_add(1, Ordering::Relaxed) + 1;
        let periodic = save.periodic();
        let run = SaveRun::new(
            save,
            states
                .iter()
                .filter(|(_, s)| {
                    s.dirty && s.last_t.is_some() && (!periodic || s.due(&self.config))
                })
                .map(|(&id, s)| (s.saved_round, id)),
        );
        for chunk in run.chunks() {
            let chunk: Vec<i64> = chunk.collect();
            let mut saved = Vec::with_capacity(chunk.len());
            for id in &chunk {
                let Some(st) = states.get(id) else { continue };
                let (Some(t), Ok(state)) = (st.last_t, st.online.snapshot()) else {
                    continue;
                };
                saved.push(SavedState {
                    series_id: *id,
                    detector: st.detector.name().to_string(),
                    state,
                    state_t: t,
                });
            }
            if !saved.is_empty() {
                self.store.save_states(&saved).await?;
            }
            for id in &chunk {
                if let Some(st) = states.get_mut(id) {
                    st.saved(round);
                }
            }
            self.counters
                .states_saved
                .fetch_add(saved.len() as u64, Ordering::Relaxed);
            if run.spent() {
                break;
            }
        }
        run.report_left(
            states.values().filter(|s| s.dirty).count(),
            self.config.shutdown_save_s,
            "samples",
        );
        if periodic {
            // Idle states that are saved leave memory, with what is kept for their series;
            // their next sample finds them again in the store.
            self.residency.evict(
                states,
                |s| !s.dirty && s.idle(&self.config),
                &self.counters.states_evicted,
            );
            self.forget(states).await;
        }
        self.counters
            .checkpoint_nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        Ok(())
    }
}

impl crate::worker::Worker for MetricPipeline {
    type Job = Job;
    type State = HashMap<i64, SeriesState>;

    async fn process(&self, states: &mut Self::State, job: Job) -> Result<()> {
        let rows = job.into_rows();
        self.score(states, &rows, crate::now_ms()).await
    }

    fn wants_more(&self, job: &Job) -> bool {
        job.rows() < BATCH_ROWS
    }

    fn absorb(&self, job: &mut Job, next: Job) {
        job.parts.extend(next.parts);
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

/// Most threads one batch is scored on.
pub const DETECTION_THREADS: usize = 4;

/// Batches smaller than this are scored on one thread.
const PARALLEL_MIN_SAMPLES: usize = 256;

/// One series' samples of a batch, with its state, while they are scored.
struct Group {
    id: i64,
    info: Arc<SeriesInfo>,
    state: SeriesState,
    samples: Vec<(TimestampMs, f64)>,
    outcome: Outcome,
}

/// What scoring a group found.
#[derive(Default)]
struct Outcome {
    scored: u64,
    out_of_order: u64,
    errors: u64,
    nanos: u64,
    anomalies: Vec<(TimestampMs, f64, aiops_detect::PointScore)>,
    published: Vec<(TimestampMs, f64)>,
}

/// Scores one group in time order; a sample not newer than the last scored one is skipped.
fn detect_group(g: &mut Group, publish: bool) {
    let started = Instant::now();
    let counter = g.info.counter;
    let st = &mut g.state;
    let o = &mut g.outcome;
    st.active_at = started;
    for &(t, v) in &g.samples {
        if st.last_t.is_some_and(|last| t <= last) {
            o.out_of_order += 1;
            continue;
        }
        if publish {
            o.published.push((t, v));
        }
        let x = if counter {
            match st.last_raw.replace((t, v)) {
                Some(prev) => counter_rate(prev, (t, v)),
                None => {
                    // The first sample of a counter only sets the start of its increase.
                    st.scored(t);
                    o.scored += 1;
                    continue;
                }
            }
        } else {
            v
        };
        match st.online.update(t, x) {
            Ok(p) => {
                st.scored(t);
                o.scored += 1;
                if p.is_anomaly {
                    o.anomalies.push((t, x, p));
                }
            }
            Err(_) => o.errors += 1,
        }
    }
    o.nanos = started.elapsed().as_nanos() as u64;
}

/// A counter's samples (in time order) as its per-second increase at each sample but the
/// first, as the pipeline scores them.
pub fn counter_rates(samples: &[(TimestampMs, f64)]) -> Vec<(TimestampMs, f64)> {
    samples
        .windows(2)
        .filter(|w| w[1].0 > w[0].0)
        .map(|w| (w[1].0, counter_rate(w[0], w[1])))
        .collect()
}

/// The per-second increase of a counter from sample `prev` to `next` (`next` later): a drop
/// is a reset, the counter counting again from zero, as PromQL's `rate` reads it.
fn counter_rate((t0, v0): (TimestampMs, f64), (t1, v1): (TimestampMs, f64)) -> f64 {
    let increase = if v1 >= v0 { v1 - v0 } else { v1 };
    increase / ((t1 - t0) as f64 / 1000.0)
}

/// Threads a batch is scored on: the machine's cores, at most [`DETECTION_THREADS`] (read
/// once: the lookup reads the process' CPU affinity and cgroup limits).
fn detection_threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(DETECTION_THREADS)
    })
}

/// Groups a scoring thread claims at a time: few enough that the threads finish together
/// (a series' cost a sample varies a hundredfold, with its detector's phase), enough that
/// claiming costs nothing next to scoring.
const CLAIM_GROUPS: usize = 8;

/// Scores every group on up to [`detection_threads`] threads; returns the groups in their
/// order. Each thread claims the next [`CLAIM_GROUPS`] unscored groups until none is left, so
/// a thread that drew cheap series takes more instead of waiting for the others (a fixed
/// split by samples left one core idle for seconds while the other scored the series whose
/// contextual memory was starting).
fn detect_groups(mut groups: Vec<Group>, publish: bool) -> Vec<Group> {
    let samples: usize = groups.iter().map(|g| g.samples.len()).sum();
    let threads = detection_threads().min(groups.len().div_ceil(CLAIM_GROUPS));
    if threads <= 1 || samples < PARALLEL_MIN_SAMPLES {
        for g in &mut groups {
            detect_group(g, publish);
        }
        return groups;
    }
    let claims = std::sync::Mutex::new(groups.chunks_mut(CLAIM_GROUPS));
    let work = || {
        loop {
            // The lock is held only to take the next chunk.
            let next = claims.lock().unwrap_or_else(|e| e.into_inner()).next();
            let Some(chunk) = next else { break };
            for g in chunk {
                detect_group(g, publish);
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(work);
        }
        work();
    });
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiops_store::StoreOptions;

    /// A store with `n` series and a pipeline over it whose states have each scored one point.
    async fn pipeline_with(
        n: usize,
        config: MetricsConfig,
    ) -> (Arc<MetricPipeline>, HashMap<i64, SeriesState>) {
        let store = Store::open("sqlite::memory:", &StoreOptions::default())
            .await
            .unwrap();
        let new: Vec<NewSeries> = (0..n)
            .map(|i| {
                let host = format!("h{i}");
                let labels =
                    Labels::try_from_pairs([("__name__", "cpu"), ("instance", host.as_str())])
                        .unwrap();
                NewSeries {
                    key: labels.to_string(),
                    metric: "cpu".into(),
                    resource: host.clone(),
                    labels,
                }
            })
            .collect();
        let ids = store.series_ids(&new, 0).await.unwrap();
        let p = MetricPipeline::new(store, config).await.unwrap();
        let mut states = HashMap::new();
        let rows: Vec<_> = ids.iter().map(|&id| (id, 60_000, 1.0)).collect();
        p.score(&mut states, &rows, 0).await.unwrap();
        (p, states)
    }

    /// The ids of the series whose saved state has seen up to `t`.
    async fn saved_ids(p: &MetricPipeline, t: TimestampMs) -> Vec<i64> {
        let mut v: Vec<i64> = p
            .store
            .all_series()
            .await
            .unwrap()
            .into_iter()
            .filter(|s| s.state_t == Some(t))
            .map(|s| s.id)
            .collect();
        v.sort_unstable();
        v
    }

    #[tokio::test]
    async fn a_periodic_save_stops_at_its_budget_and_the_next_goes_on_with_the_rest() {
        let n = CHECKPOINT_CHUNK * 2 + 7;
        let every_sample = MetricsConfig {
            checkpoint_min_samples: 1,
            ..MetricsConfig::default()
        };
        let (p, mut states) = pipeline_with(n, every_sample).await;
        let mut all: Vec<i64> = states.keys().copied().collect();
        all.sort_unstable();
        // A budget used up at once: one chunk per save, the unsaved ones first.
        p.checkpoint(&mut states, Save::Periodic(Duration::ZERO))
            .await
            .unwrap();
        let first = saved_ids(&p, 60_000).await;
        assert_eq!(first.len(), CHECKPOINT_CHUNK);
        p.checkpoint(&mut states, Save::Periodic(Duration::ZERO))
            .await
            .unwrap();
        assert_eq!(saved_ids(&p, 60_000).await.len(), 2 * CHECKPOINT_CHUNK);
        p.checkpoint(&mut states, Save::Periodic(Duration::ZERO))
            .await
            .unwrap();
        assert_eq!(saved_ids(&p, 60_000).await, all);
        assert!(states.values().all(|s| !s.dirty));
        // All change again: the first chunk saved is the one saved longest ago.
        let rows: Vec<_> = all.iter().map(|&id| (id, 120_000, 2.0)).collect();
        p.score(&mut states, &rows, 0).await.unwrap();
        p.checkpoint(&mut states, Save::Periodic(Duration::ZERO))
            .await
            .unwrap();
        assert_eq!(saved_ids(&p, 120_000).await, first);
        // Without a budget (shutdown) every changed state is written.
        p.checkpoint(&mut states, Save::Last(None)).await.unwrap();
        assert!(states.values().all(|s| !s.dirty));
        assert_eq!(
            p.counters.states_saved.load(Ordering::Relaxed),
            2 * n as u64
        );
    }

    #[tokio::test]
    async fn the_save_at_shutdown_stops_at_its_budget_and_a_restart_replays_the_rest() {
        let n = CHECKPOINT_CHUNK + 5;
        let (p, mut states) = pipeline_with(n, MetricsConfig::default()).await;
        let ids: Vec<i64> = states.keys().copied().collect();
        // Every sample is committed before it is scored, as ingest does (the first one,
        // (id, 60_000, 1.0), was scored by `pipeline_with`).
        let mut rows = Vec::new();
        for &id in &ids {
            rows.push((id, 60_000, 1.0));
            rows.extend([(id, 120_000, id as f64), (id, 180_000, id as f64 + 0.5)]);
        }
        p.store.append_samples(&rows).await.unwrap();
        let later: Vec<_> = rows.iter().copied().filter(|r| r.1 > 60_000).collect();
        p.score(&mut states, &later, 0).await.unwrap();
        let expected: HashMap<i64, String> = states
            .iter()
            .map(|(&id, s)| (id, s.online.snapshot().unwrap()))
            .collect();
        // A budget used up at once: one chunk saved, the rest left.
        p.checkpoint(&mut states, Save::Last(Some(Duration::ZERO)))
            .await
            .unwrap();
        assert_eq!(saved_ids(&p, 180_000).await.len(), CHECKPOINT_CHUNK);
        assert_eq!(states.values().filter(|s| s.dirty).count(), 5);
        // The next start replays the stored samples of the states left unsaved and saves
        // them: every state is then what it was before the shutdown.
        let again = MetricPipeline::new(p.store.clone(), MetricsConfig::default())
            .await
            .unwrap();
        again.clone().run(std::future::ready(())).await.unwrap();
        for (id, snapshot) in expected {
            let row = again.store.series(id).await.unwrap();
            assert_eq!(row.state_t, Some(180_000), "series {id}");
            assert_eq!(row.state.as_deref(), Some(snapshot.as_str()), "series {id}");
        }
    }

    #[tokio::test]
    async fn a_periodic_save_writes_only_the_states_that_are_due() {
        let config = MetricsConfig {
            checkpoint_min_samples: 3,
            checkpoint_max_age_s: 3600,
            ..MetricsConfig::default()
        };
        let (p, mut states) = pipeline_with(2, config).await;
        let mut ids: Vec<i64> = states.keys().copied().collect();
        ids.sort_unstable();
        let (a, b) = (ids[0], ids[1]);
        // One sample each: neither is due.
        p.checkpoint(&mut states, Save::Periodic(Duration::from_secs(1)))
            .await
            .unwrap();
        assert!(saved_ids(&p, 60_000).await.is_empty());
        // `a` scores two more and is due; `b` still waits.
        let rows = [(a, 120_000, 1.0), (a, 180_000, 1.0), (b, 120_000, 1.0)];
        p.score(&mut states, &rows, 0).await.unwrap();
        p.checkpoint(&mut states, Save::Periodic(Duration::from_secs(1)))
            .await
            .unwrap();
        assert_eq!(saved_ids(&p, 180_000).await, [a]);
        assert!(!states[&a].dirty && states[&a].unsaved == 0);
        assert!(states[&b].dirty && states[&b].unsaved == 2);
        // Changed long enough ago, `b` is due too.
        states.get_mut(&b).unwrap().dirty_since =
            Instant::now().checked_sub(Duration::from_secs(3600));
        p.checkpoint(&mut states, Save::Periodic(Duration::from_secs(1)))
            .await
            .unwrap();
        assert_eq!(saved_ids(&p, 120_000).await, [b]);
        // At shutdown every changed state is written, due or not.
        p.score(&mut states, &[(a, 240_000, 1.0)], 0).await.unwrap();
        p.checkpoint(&mut states, Save::Last(None)).await.unwrap();
        assert_eq!(saved_ids(&p, 240_000).await, [a]);
        assert!(states.values().all(|s| !s.dirty));
    }

    #[tokio::test]
    async fn idle_states_leave_memory_and_come_back_from_the_store() {
        let config = MetricsConfig {
            idle_evict_s: 60,
            ..MetricsConfig::default()
        };
        let (p, mut states) = pipeline_with(2, config.clone()).await;
        let mut ids: Vec<i64> = states.keys().copied().collect();
        ids.sort_unstable();
        let (a, b) = (ids[0], ids[1]);
        // `a` scored nothing for longer than idle_evict_s: saved, then dropped.
        states.get_mut(&a).unwrap().active_at =
            Instant::now().checked_sub(Duration::from_secs(61)).unwrap();
        p.checkpoint(&mut states, Save::Periodic(Duration::from_secs(1)))
            .await
            .unwrap();
        assert!(!states.contains_key(&a) && states.contains_key(&b));
        assert_eq!(saved_ids(&p, 60_000).await, [a]);
        assert_eq!(p.counters.states_evicted.load(Ordering::Relaxed), 1);
        // Its next sample restores it: a sample older than the saved one is out of order.
        p.score(&mut states, &[(a, 30_000, 5.0)], 0).await.unwrap();
        assert_eq!(p.counters.states_reloaded.load(Ordering::Relaxed), 1);
        assert_eq!(p.counters.out_of_order.load(Ordering::Relaxed), 1);
        assert_eq!(states[&a].last_t, Some(60_000));
        p.score(&mut states, &[(a, 120_000, 5.0)], 0).await.unwrap();
        assert_eq!(states[&a].last_t, Some(120_000));
        // A restart keeps in the store the saved states whose last sample is older than
        // idle_evict_s (here: 1970), and restores them at their next sample.
        p.checkpoint(&mut states, Save::Last(None)).await.unwrap();
        let again = MetricPipeline::new(p.store.clone(), config).await.unwrap();
        let mut restored = again.restore().await.unwrap();
        assert!(restored.is_empty());
        again
            .score(&mut restored, &[(b, 30_000, 1.0)], 0)
            .await
            .unwrap();
        assert_eq!(restored[&b].last_t, Some(60_000));
        assert_eq!(again.counters.states_reloaded.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn the_series_limit_counts_active_series_and_idle_ones_free_their_place() {
        let store = Store::open("sqlite::memory:", &StoreOptions::default())
            .await
            .unwrap();
        let config = MetricsConfig {
            max_series: 2,
            idle_evict_s: 60,
            ..MetricsConfig::default()
        };
        let p = MetricPipeline::new(store, config).await.unwrap();
        let batch = |host: &str| {
            vec![SeriesSamples {
                labels: Labels::try_from_pairs([("__name__", "cpu"), ("instance", host)]).unwrap(),
                metric: "cpu".into(),
                resource: None,
                samples: vec![(60_000, 1.0)],
            }]
        };
        p.ingest(batch("a"), 0).await.unwrap();
        p.ingest(batch("b"), 0).await.unwrap();
        assert!(matches!(
            p.ingest(batch("c"), 0).await,
            Err(ServiceError::Busy { .. })
        ));
        // Scored: two states in memory, still full.
        let mut states = HashMap::new();
        let ids: Vec<i64> = p
            .store
            .all_series()
            .await
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect();
        let rows: Vec<_> = ids.iter().map(|&id| (id, 60_000, 1.0)).collect();
        p.score(&mut states, &rows, 0).await.unwrap();
        assert_eq!(p.active_series(), 2);
        assert!(p.ingest(batch("c"), 0).await.is_err());
        // One goes idle and leaves memory: a new series takes its place.
        states.get_mut(&ids[0]).unwrap().active_at =
            Instant::now().checked_sub(Duration::from_secs(61)).unwrap();
        p.checkpoint(&mut states, Save::Periodic(Duration::from_secs(1)))
            .await
            .unwrap();
        assert_eq!(p.active_series(), 1);
        p.ingest(batch("c"), 0).await.unwrap();
        assert_eq!(p.active_series(), 2);
        // A known series is never refused, active or not.
        p.ingest(batch("a"), 0).await.unwrap();
    }

    /// One remote_write entry: labels and samples.
    type Entry = (Vec<(String, String)>, Vec<(TimestampMs, f64)>);

    /// The protobuf bytes of a remote_write request.
    fn remote_write(entries: &[Entry]) -> Vec<u8> {
        use aiops_integrations::remote_write::{
            Label, Limits, Sample, TimeSeries, WriteRequest, decompress, encode,
        };
        let timeseries = entries
            .iter()
            .map(|(labels, samples)| TimeSeries {
                labels: labels
                    .iter()
                    .map(|(name, value)| Label {
                        name: name.clone(),
                        value: value.clone(),
                    })
                    .collect(),
                samples: samples
                    .iter()
                    .map(|&(timestamp, value)| Sample { value, timestamp })
                    .collect(),
                ..TimeSeries::default()
            })
            .collect();
        let body = encode(&WriteRequest {
            timeseries,
            metadata: Vec::new(),
        })
        .unwrap();
        decompress(&body, &Limits::default()).unwrap()
    }

    fn labels(metric: &str, instance: &str) -> Vec<(String, String)> {
        vec![
            ("__name__".into(), metric.into()),
            ("instance".into(), instance.into()),
        ]
    }

    #[tokio::test]
    async fn series_churn_leaves_only_the_active_series_in_memory() {
        let store = Store::open("sqlite::memory:", &StoreOptions::default())
            .await
            .unwrap();
        let params = |text: &str| serde_json::from_str(text).unwrap();
        let config = MetricsConfig {
            detectors: vec![
                // Every increase of a counter is an anomaly whose value is its rate.
                DetectorRule {
                    metric: "requests_total".into(),
                    detector: "threshold".into(),
                    params: params(r#"{"upper": 0.5}"#),
                },
                DetectorRule {
                    metric: "*".into(),
                    detector: "zscore".into(),
                    params: params(r#"{"window": 30}"#),
                },
            ],
            idle_evict_s: 60,
            // Three waves of 1,000 short-lived series: each fits only once the last went idle.
            max_series: 1_100,
            ..MetricsConfig::default()
        };
        let p = MetricPipeline::new(store.clone(), config).await.unwrap();
        let mut rx = p.receiver.lock().await.take().unwrap();
        let mut states: HashMap<i64, SeriesState> = HashMap::new();
        let ids_of = |keys: Vec<String>| {
            let store = store.clone();
            async move {
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                store.find_series_ids(&keys).await.unwrap()
            }
        };
        let key = |metric: &str, instance: &str| {
            Labels::try_from_pairs([("__name__", metric), ("instance", instance)])
                .unwrap()
                .to_string()
        };
        let minute = 60_000;
        // `keep` lives throughout; `back` is a counter that goes idle and comes back.
        let mut back_id = None;
        for wave in 0..3_i64 {
            let t0 = wave * 10 * minute;
            let mut entries: Vec<_> = (0..1_000)
                .map(|i| {
                    let pod = format!("pod-{wave}-{i}");
                    (labels("cpu", &pod), vec![(t0, 1.0), (t0 + minute, 2.0)])
                })
                .collect();
            entries.push((labels("cpu", "keep"), vec![(t0, 1.0), (t0 + minute, 1.5)]));
            if wave != 1 {
                // 1/s throughout: 100 at 0, 160 at 1 min, ..., 1300 at 21 min.
                let v = |t: TimestampMs| 100.0 + (t / 1000) as f64;
                entries.push((
                    labels("requests_total", "back"),
                    vec![(t0, v(t0)), (t0 + minute, v(t0 + minute))],
                ));
            }
            let body = remote_write(&entries);
            let view = WriteRequestView::parse(&body).unwrap();
            p.ingest_remote_write(&view, 0).await.unwrap();
            while let Ok(job) = rx.try_recv() {
                crate::worker::Worker::process(&*p, &mut states, job)
                    .await
                    .unwrap();
            }
            let back = ids_of(vec![key("requests_total", "back")]).await[0].unwrap();
            assert_eq!(*back_id.get_or_insert(back), back, "the same id");
            if wave == 2 {
                // Restored from the store (saved at 1 min), its rate continuous: the first
                // sample back (20 min) is scored against the last one stored (1 min).
                assert!(p.counters.states_reloaded.load(Ordering::Relaxed) >= 1);
                assert_eq!(states[&back].last_t, Some(t0 + minute));
                let found = store
                    .anomalies(
                        &aiops_store::AnomalyFilter {
                            resource: Some("back".into()),
                            ..Default::default()
                        },
                        100,
                    )
                    .await
                    .unwrap()
                    .1;
                let mut rates: Vec<(TimestampMs, f64)> = found
                    .iter()
                    .map(|a| (a.anomaly.t, a.anomaly.value))
                    .collect();
                rates.sort_by_key(|r| r.0);
                assert_eq!(
                    rates,
                    [(minute, 1.0), (t0, 1.0), (t0 + minute, 1.0)],
                    "one rate per increase, none lost or doubled across the eviction"
                );
            }
            // Everything but `keep` goes idle and is saved and dropped at the next save.
            let keep = ids_of(vec![key("cpu", "keep")]).await[0].unwrap();
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
            let m = p.memory();
            assert_eq!(
                (m.cache_entries, m.keys, m.infos, m.states),
                (1, 1, 1, 1),
                "wave {wave}: {m:?}"
            );
            assert!(m.resources <= 1, "{m:?}");
        }
        assert_eq!(store.all_series().await.unwrap().len(), 3_002);
        assert_eq!(p.counters.states_evicted.load(Ordering::Relaxed), 3_002);
        // `keep`'s cached key still answers without a query, and a dropped series' sample
        // finds its id again.
        let before = store.all_series().await.unwrap().len();
        let body = remote_write(&[
            (labels("cpu", "keep"), vec![(40 * minute, 1.0)]),
            (labels("cpu", "pod-0-7"), vec![(40 * minute, 1.0)]),
        ]);
        p.ingest_remote_write(&WriteRequestView::parse(&body).unwrap(), 0)
            .await
            .unwrap();
        assert_eq!(store.all_series().await.unwrap().len(), before);
        assert_eq!(p.memory().cache_entries, 2);
    }

    /// The cost of the trim at a periodic save: `n` series with a state and `n` more whose
    /// entries go (the worst case: as many to drop as to keep), then a save with nothing to
    /// drop. A measurement (BENCHMARKS.md, "Service: per-series maps under churn"):
    /// `cargo test --release -p aiops-service --lib -- --ignored trim_cost --nocapture`.
    #[tokio::test]
    #[ignore = "a measurement, run in release"]
    async fn trim_cost() {
        let store = Store::open("sqlite::memory:", &StoreOptions::default())
            .await
            .unwrap();
        let p = MetricPipeline::new(store, MetricsConfig::default())
            .await
            .unwrap();
        let n: i64 = 100_000;
        let mut states = HashMap::new();
        let zscore = || registry::build("zscore", &serde_json::Map::new()).unwrap();
        {
            let mut known = p.series.lock().await;
            let mut cache = p.cache.write().unwrap();
            let mut info = p.info.write().unwrap();
            for id in 0..2 * n {
                let host = format!("pod-{id}");
                let mut buf = KeyBuf::default();
                let labels: [(&[u8], &[u8]); 3] = [
                    (b"__name__", b"container_cpu_usage_seconds_total"),
                    (b"instance", host.as_bytes()),
                    (b"job", b"kubelet"),
                ];
                SeriesCache::key(&labels, &mut buf);
                cache.insert(buf.key.as_slice().into(), id);
                drop(buf);
                known.insert(format!("{{__name__=\"cpu\",instance=\"{host}\"}}"), id);
                info.insert(
                    id,
                    Arc::new(SeriesInfo {
                        resource: host,
                        metric: "cpu".into(),
                        counter: false,
                    }),
                );
                if id < n {
                    let d = zscore();
                    let online = d.online();
                    states.insert(id, SeriesState::new(d, online, None));
                }
            }
            p.keys.store(known.len(), Ordering::Relaxed);
        }
        // Worst case too for the counts: every resource had an anomaly.
        *p.counters.anomalies_by_resource.lock().unwrap() =
            (0..2 * n).map(|id| (format!("pod-{id}"), 1)).collect();
        let started = Instant::now();
        p.forget(&mut states).await;
        let trim = started.elapsed();
        let m = p.memory();
        assert_eq!(
            (m.cache_entries, m.keys, m.infos, m.resources),
            (n as usize, n as usize, n as usize, n as usize)
        );
        let started = Instant::now();
        p.forget(&mut states).await;
        let idle = started.elapsed();
        // The cache's write lock alone (what remote_write waits for), on a copy of the case.
        let mut cache = SeriesCache::default();
        for id in 0..2 * n {
            let host = format!("pod-{id}");
            let mut buf = KeyBuf::default();
            let labels: [(&[u8], &[u8]); 2] =
                [(b"__name__", b"cpu"), (b"instance", host.as_bytes())];
            SeriesCache::key(&labels, &mut buf);
            cache.insert(buf.key.as_slice().into(), id);
        }
        let started = Instant::now();
        let dropped = cache.retain(|id| states.contains_key(&id));
        let lock = started.elapsed();
        drop(dropped);
        println!(
            "trim of {n} stale entries per map (4 maps), {n} kept: {:.1} ms (cache write lock {:.1} ms); \
             a save with nothing to drop: {:.3} ms",
            trim.as_secs_f64() * 1e3,
            lock.as_secs_f64() * 1e3,
            idle.as_secs_f64() * 1e3
        );
    }

    #[test]
    fn counter_rates_read_resets_as_rate_does() {
        let raw = [(0, 100.0), (15_000, 115.0), (30_000, 130.0), (45_000, 5.0)];
        assert_eq!(
            counter_rates(&raw),
            [(15_000, 1.0), (30_000, 1.0), (45_000, 5.0 / 15.0)]
        );
        assert!(counter_rates(&raw[..1]).is_empty());
        let config = MetricsConfig::default();
        assert!(config.is_counter("http_requests_total") && !config.is_counter("cpu_usage"));
        let raw_only = MetricsConfig {
            counter_suffixes: Vec::new(),
            ..MetricsConfig::default()
        };
        assert!(!raw_only.is_counter("http_requests_total"));
    }

    fn group(id: i64, samples: Vec<(TimestampMs, f64)>) -> Group {
        let detector = registry::build("default", &serde_json::Map::new()).unwrap();
        let online = detector.online();
        Group {
            id,
            info: Arc::new(SeriesInfo {
                resource: format!("h{id}"),
                metric: "cpu".into(),
                counter: false,
            }),
            state: SeriesState::new(detector, online, None),
            samples,
            outcome: Outcome::default(),
        }
    }

    #[test]
    fn groups_scored_on_several_threads_match_one_thread() {
        // Series of different lengths with spikes, one sample out of order.
        let make = || -> Vec<Group> {
            (0..24)
                .map(|id| {
                    let n = 150 + 20 * id;
                    let mut pts: Vec<(TimestampMs, f64)> = (0..n)
                        .map(|i| {
                            let spike = if i % 97 == 50 { 40.0 } else { 0.0 };
                            (
                                i * 60_000,
                                10.0 + ((i * 7919 + id) % 11) as f64 * 0.2 + spike,
                            )
                        })
                        .collect();
                    pts.insert(20, (5 * 60_000, 1.0));
                    group(id, pts)
                })
                .collect()
        };
        let parallel = detect_groups(make(), true);
        let mut single = make();
        for g in &mut single {
            detect_group(g, true);
        }
        assert_eq!(parallel.len(), single.len());
        for (p, s) in parallel.iter().zip(&single) {
            assert_eq!(p.id, s.id);
            assert_eq!(p.outcome.scored, s.outcome.scored);
            assert_eq!(p.outcome.out_of_order, 1);
            assert_eq!(p.outcome.anomalies, s.outcome.anomalies);
            assert_eq!(p.outcome.published.len() as u64, p.outcome.scored);
            assert_eq!(p.state.last_t, s.state.last_t);
            assert!(p.state.dirty);
        }
        assert!(parallel.iter().any(|g| !g.outcome.anomalies.is_empty()));
    }
}
