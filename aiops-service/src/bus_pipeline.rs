//! The seed's pipeline over a message bus (`bus:` in the configuration; integrations of type
//! `nats` or `kafka`): metrics and logs consumed from topics into the pipelines, anomalies
//! published to a topic.
//!
//! - Consumers are at least once: a batch is committed to the bus only after the pipeline
//!   committed it to the store (the same path as `POST /api/v1/ingest/points` and
//!   `/api/v1/ingest/logs`). A full pipeline queue is waited out with the batch held, never
//!   dropped. A message that is not a record (bad JSON, an invalid label set) cannot be
//!   processed however often it is read: it is counted (`rejected`), logged with its topic
//!   and position, and committed with its batch so it does not block the topic.
//! - The anomaly producer reads the stored anomalies after its cursor (the named value
//!   `bus.anomalies.cursor`), publishes each (JSON of the anomaly, key = its series'
//!   resource) and waits for the broker's acknowledgement before moving the cursor: a crash
//!   publishes some anomalies twice, none is skipped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aiops_core::{Labels, TimestampMs};
use aiops_integrations::bus::{BusConsumer, BusProducer};
use aiops_integrations::registry::{BusParams, Integration};
use aiops_store::Store;
use serde::{Deserialize, Serialize};

use crate::error::{Result, ServiceError};
use crate::log_pipeline::{LogPipeline, LogsRequest, parse_logs};
use crate::metrics::{MetricPipeline, SeriesSamples};
use crate::pii::PiiMasker;

/// The named value holding the id of the last anomaly published.
pub const ANOMALIES_CURSOR_KEY: &str = "bus.anomalies.cursor";

/// The `bus` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    /// A bus integration whose messages are metric records
    /// (`{"labels": {"__name__": ..., ...}, "timestamp": ms, "value": x}`).
    pub metrics: Option<String>,
    /// A bus integration whose messages are log records
    /// (`{"labels": {...}, "timestamp": ms, "line": "..."}`).
    pub logs: Option<String>,
    /// Where detected anomalies are published.
    pub anomalies: Option<AnomalyOutput>,
}

/// `bus.anomalies`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyOutput {
    /// A bus integration.
    pub integration: String,
    /// The subject (NATS, within the stream's subjects) or topic (Kafka).
    pub topic: String,
}

/// Counters of the bus pipeline.
#[derive(Debug, Default)]
pub struct BusCounters {
    /// Messages consumed and committed to a pipeline.
    pub consumed: AtomicU64,
    /// Messages that were not records (logged, skipped, committed).
    pub rejected: AtomicU64,
    /// Anomalies published.
    pub published: AtomicU64,
}

impl BusCounters {
    /// The counters in the Prometheus text format (for `/metrics`).
    pub fn exposition(&self) -> String {
        let mut out = String::new();
        for (name, help, v) in [
            (
                "aiops_bus_consumed_total",
                "Bus messages consumed and committed to a pipeline.",
                &self.consumed,
            ),
            (
                "aiops_bus_rejected_total",
                "Bus messages that were not records (logged, skipped, committed).",
                &self.rejected,
            ),
            (
                "aiops_bus_published_total",
                "Anomalies published to the bus.",
                &self.published,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                v.load(Ordering::Relaxed)
            ));
        }
        out
    }
}

/// The bus parameters `bus.<key>` names, checked.
pub fn bus_of<'a>(
    integrations: &'a BTreeMap<String, Integration>,
    name: &str,
    key: &str,
) -> Result<&'a BusParams> {
    let i = integrations.get(name).ok_or_else(|| {
        ServiceError::invalid_config(key, format!("no integration named {name:?}"))
    })?;
    i.bus.as_ref().ok_or_else(|| {
        ServiceError::invalid_config(
            key,
            format!(
                "{name:?} ({}) is not a message bus (type nats or kafka)",
                i.kind
            ),
        )
    })
}

impl BusConfig {
    /// Checks that every name is a bus integration.
    pub fn check(&self, integrations: &BTreeMap<String, Integration>) -> Result<()> {
        if let Some(m) = &self.metrics {
            bus_of(integrations, m, "bus.metrics")?;
        }
        if let Some(l) = &self.logs {
            bus_of(integrations, l, "bus.logs")?;
        }
        if let Some(a) = &self.anomalies {
            bus_of(integrations, &a.integration, "bus.anomalies.integration")?;
            if a.topic.is_empty() {
                return Err(ServiceError::invalid_config(
                    "bus.anomalies.topic",
                    "must not be empty",
                ));
            }
        }
        Ok(())
    }
}

/// Metric records of a batch as series, and the number of messages that were not records.
pub fn metric_series(batch: &aiops_integrations::bus::Batch) -> (Vec<SeriesSamples>, usize) {
    let mut series: BTreeMap<Labels, SeriesSamples> = BTreeMap::new();
    let mut rejected = 0;
    for m in batch.messages() {
        let record = match m.metric() {
            Ok(r) => r,
            Err(e) => {
                rejected += 1;
                tracing::warn!(message = ?m, error = %e, "bus message is not a metric record; skipped");
                continue;
            }
        };
        let Some(metric) = record.labels.get("__name__").map(str::to_string) else {
            rejected += 1;
            tracing::warn!(message = ?m, "metric record without __name__; skipped");
            continue;
        };
        if !record.value.is_finite() {
            // NaN (`null`) is Prometheus' staleness marker: not a value to store.
            continue;
        }
        series
            .entry(record.labels.clone())
            .or_insert_with(|| SeriesSamples {
                labels: record.labels.clone(),
                metric,
                resource: None,
                samples: Vec::new(),
            })
            .samples
            .push((record.timestamp, record.value));
    }
    let mut out: Vec<SeriesSamples> = series.into_values().collect();
    for s in &mut out {
        s.samples.sort_by_key(|&(t, _)| t);
        s.samples.dedup_by_key(|&mut (t, _)| t);
    }
    (out, rejected)
}

/// Log records of a batch as an ingest request, and the number of messages that were not
/// records.
pub fn log_request(batch: &aiops_integrations::bus::Batch) -> (LogsRequest, usize) {
    let mut rejected = 0;
    let records: Vec<_> = batch
        .messages()
        .iter()
        .filter_map(|m| match m.log() {
            Ok(r) => Some((r.labels, r.timestamp, r.line)),
            Err(e) => {
                rejected += 1;
                tracing::warn!(message = ?m, error = %e, "bus message is not a log record; skipped");
                None
            }
        })
        .filter(|(labels, _, _)| !labels.is_empty())
        .collect();
    (LogsRequest::from_records(records), rejected)
}

/// Runs `step` until it succeeds or the service stops: a busy pipeline or a store error is
/// waited out with the batch held.
async fn until_done<F, Fut>(stop: &tokio::sync::watch::Receiver<bool>, mut step: F) -> Option<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut wait = Duration::from_millis(100);
    loop {
        match step().await {
            Ok(()) => return Some(()),
            Err(e) => {
                tracing::warn!(error = %e, "bus batch not committed yet; retrying");
                if *stop.borrow() {
                    return None;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Consumes metric records into the metric pipeline until stopped.
pub async fn consume_metrics(
    consumer: Box<dyn BusConsumer>,
    pipeline: Arc<MetricPipeline>,
    counters: Arc<BusCounters>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    while !*stop.borrow() {
        let batch = match consumer.next_batch(aiops_core::time::Duration(500)).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "reading the metrics bus failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if batch.is_empty() {
            continue;
        }
        let (series, rejected) = metric_series(&batch);
        let n = batch.len() - rejected;
        if !series.is_empty() {
            let ingest = || {
                let series = series.clone();
                let pipeline = pipeline.clone();
                async move { pipeline.ingest(series, crate::now_ms()).await.map(drop) }
            };
            if until_done(&stop, ingest).await.is_none() {
                return Ok(());
            }
        }
        commit(&*consumer, batch).await;
        counters.consumed.fetch_add(n as u64, Ordering::Relaxed);
        counters
            .rejected
            .fetch_add(rejected as u64, Ordering::Relaxed);
    }
    Ok(())
}

/// Consumes log records into the log pipeline until stopped.
pub async fn consume_logs(
    consumer: Box<dyn BusConsumer>,
    pipeline: Arc<LogPipeline>,
    masker: Arc<PiiMasker>,
    counters: Arc<BusCounters>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    while !*stop.borrow() {
        let batch = match consumer.next_batch(aiops_core::time::Duration(500)).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "reading the logs bus failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if batch.is_empty() {
            continue;
        }
        let (request, mut rejected) = log_request(&batch);
        let streams = match parse_logs(
            request,
            crate::now_ms(),
            &masker,
            pipeline.config().max_line_bytes,
        ) {
            Ok(s) => s,
            Err(e) => {
                // A line the pipeline refuses (too long, bad labels) refuses the batch: it is
                // logged and committed like a message that is not a record.
                tracing::warn!(error = %e, messages = batch.len(), "log records refused; skipped");
                rejected = batch.len();
                Vec::new()
            }
        };
        if !streams.is_empty() {
            let ingest = || {
                let streams = streams.clone();
                let pipeline = pipeline.clone();
                async move { pipeline.ingest(streams, crate::now_ms()).await.map(drop) }
            };
            if until_done(&stop, ingest).await.is_none() {
                return Ok(());
            }
        }
        let n = batch.len() - rejected;
        commit(&*consumer, batch).await;
        counters.consumed.fetch_add(n as u64, Ordering::Relaxed);
        counters
            .rejected
            .fetch_add(rejected as u64, Ordering::Relaxed);
    }
    Ok(())
}

/// Commits a batch; a failed commit is logged (its messages come again: at least once).
async fn commit(consumer: &dyn BusConsumer, batch: aiops_integrations::bus::Batch) {
    if let Err(e) = consumer.commit(batch).await {
        tracing::warn!(error = %e, "committing a bus batch failed; its messages will be read again");
    }
}

/// Publishes the anomalies stored after the cursor; returns how many.
pub async fn publish_anomalies(
    store: &Store,
    producer: &dyn BusProducer,
    topic: &str,
    now: TimestampMs,
) -> Result<usize> {
    let cursor: i64 = store
        .value(ANOMALIES_CURSOR_KEY)
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let rows = store.anomalies_after(cursor, 256).await?;
    let mut done = 0;
    for r in &rows {
        let body = serde_json::json!({"id": r.id, "anomaly": r.anomaly});
        let payload = serde_json::to_vec(&body)
            .map_err(|e| ServiceError::invalid_parameter("anomaly", e.to_string()))?;
        producer
            .publish(topic, Some(r.anomaly.resource.as_bytes()), &payload)
            .await?;
        store
            .put_value(ANOMALIES_CURSOR_KEY, &r.id.to_string(), now)
            .await?;
        done += 1;
    }
    Ok(done)
}

/// Publishes anomalies every second until stopped.
pub async fn run_publisher(
    store: Store,
    producer: Arc<dyn BusProducer>,
    topic: String,
    counters: Arc<BusCounters>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => match publish_anomalies(&store, &*producer, &topic, crate::now_ms()).await {
                Ok(n) => { counters.published.fetch_add(n as u64, Ordering::Relaxed); }
                Err(e) => tracing::warn!(error = %e, "publishing anomalies failed; retried next second"),
            },
            _ = async { let _ = stop.wait_for(|s| *s).await; } => return Ok(()),
        }
    }
}
