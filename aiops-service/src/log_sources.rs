//! Log stores read continuously into the log pipeline (`logs.sources`): each names an
//! integration that is a [`LogSource`] (Elasticsearch, OpenSearch), read every `interval_s`
//! from the watermark saved after the previous read.
//!
//! Delivery is at least once: a page is committed to the pipeline (stored, queued for template
//! mining and log anomaly detection) before its watermark is saved under
//! `logs.source.<name>.watermark`; a crash between the two reads that page again after the
//! restart, nothing is skipped. A full pipeline queue (the same backpressure as
//! `POST /api/v1/ingest/logs`) or an unreachable store leaves the watermark where it was and
//! the page is read again at the next interval.

use std::collections::BTreeMap;
use std::sync::Arc;

use aiops_core::TimestampMs;
use aiops_integrations::traits::{LogRecord, LogSource};
use aiops_store::Store;
use serde::{Deserialize, Serialize};

use crate::error::{Result, ServiceError};
use crate::log_pipeline::{LogPipeline, LogsRequest, parse_logs};
use crate::pii::PiiMasker;

/// One entry of `logs.sources`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSourceConfig {
    /// The integration's name (an entry of `integrations` of a log-source type).
    pub integration: String,
    /// Seconds between reads once caught up (default 10).
    #[serde(default = "default_interval")]
    pub interval_s: u64,
    /// Records per read (default 1,000); a full page is followed by the next at once.
    #[serde(default = "default_page")]
    pub page: usize,
    /// Labels added to every stream read (`source: es-prod`); a record's own labels win.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_interval() -> u64 {
    10
}
fn default_page() -> usize {
    1_000
}

/// The named value holding a source's watermark.
pub fn watermark_key(name: &str) -> String {
    format!("logs.source.{name}.watermark")
}

/// The log source each `logs.sources` entry names, checked.
pub fn sources(
    integrations: &BTreeMap<String, aiops_integrations::registry::Integration>,
    configs: &[LogSourceConfig],
) -> Result<Vec<(Arc<dyn LogSource>, LogSourceConfig)>> {
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let key = format!("logs.sources[{i}].integration");
            let integration = integrations.get(&c.integration).ok_or_else(|| {
                ServiceError::invalid_config(
                    &key,
                    format!("no integration named {:?}", c.integration),
                )
            })?;
            let source = integration.log_source.clone().ok_or_else(|| {
                ServiceError::invalid_config(
                    &key,
                    format!(
                        "{:?} ({}) is not a log source",
                        c.integration, integration.kind
                    ),
                )
            })?;
            if c.page == 0 || c.interval_s == 0 {
                return Err(ServiceError::invalid_config(
                    format!("logs.sources[{i}]"),
                    "page and interval_s must be at least 1",
                ));
            }
            Ok((source, c.clone()))
        })
        .collect()
}

/// What one read did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadReport {
    /// Records read.
    pub records: usize,
    /// Lines committed to the pipeline.
    pub lines: usize,
}

/// One source, read into the pipeline.
#[derive(Debug, Clone)]
pub struct LogSourceReader {
    name: String,
    source: Arc<dyn LogSource>,
    config: LogSourceConfig,
    store: Store,
    pipeline: Arc<LogPipeline>,
    masker: Arc<PiiMasker>,
}

impl LogSourceReader {
    /// A reader of `source` (the integration `config.integration`).
    pub fn new(
        source: Arc<dyn LogSource>,
        config: LogSourceConfig,
        store: Store,
        pipeline: Arc<LogPipeline>,
        masker: Arc<PiiMasker>,
    ) -> Result<Self> {
        if config.page == 0 || config.interval_s == 0 {
            return Err(ServiceError::invalid_config(
                "logs.sources",
                format!(
                    "{}: page and interval_s must be at least 1",
                    config.integration
                ),
            ));
        }
        Ok(Self {
            name: config.integration.clone(),
            source,
            config,
            store,
            pipeline,
            masker,
        })
    }

    /// Reads one page after the saved watermark, commits it to the pipeline, then saves the
    /// new watermark.
    pub async fn read_once(&self, now: TimestampMs) -> Result<ReadReport> {
        let key = watermark_key(&self.name);
        let watermark = self.store.value(&key).await?;
        let batch = self
            .source
            .read(watermark.as_deref(), self.config.page)
            .await?;
        let records = batch.records.len();
        let mut lines = 0;
        if records > 0 {
            let request = self.request(batch.records);
            let streams = parse_logs(
                request,
                now,
                &self.masker,
                self.pipeline.config().max_line_bytes,
            )?;
            lines = self.pipeline.ingest(streams, now).await?.lines;
        }
        if let Some(w) = &batch.watermark
            && watermark.as_ref() != Some(w)
        {
            self.store.put_value(&key, w, now).await?;
        }
        Ok(ReadReport { records, lines })
    }

    /// Groups records into streams by their labels (plus the configured ones).
    fn request(&self, records: Vec<LogRecord>) -> LogsRequest {
        LogsRequest::from_records(records.into_iter().map(|r| {
            let mut labels = self.config.labels.clone();
            labels.extend(r.labels);
            if labels.is_empty() {
                labels.insert("source".into(), self.name.clone());
            }
            (labels, r.timestamp, r.message)
        }))
    }

    /// Reads until stopped: full pages back to back, then every `interval_s`.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) -> Result<()> {
        let idle = std::time::Duration::from_secs(self.config.interval_s);
        loop {
            let wait = match self.read_once(crate::now_ms()).await {
                Ok(r) if r.records >= self.config.page => std::time::Duration::ZERO,
                Ok(_) => idle,
                Err(e) => {
                    tracing::warn!(source = %self.name, error = %e, "reading the log source failed; retried next interval");
                    idle
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = async { let _ = stop.wait_for(|s| *s).await; } => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiops_integrations::traits::{BoxFuture, LogBatch};
    use std::sync::Mutex;

    /// A log store of numbered records; the watermark is the index of the next one. Fails
    /// its next read when told.
    #[derive(Debug, Default)]
    struct Fake {
        records: Vec<LogRecord>,
        fail_next: Mutex<bool>,
    }

    impl LogSource for Fake {
        fn system(&self) -> &'static str {
            "fake"
        }
        fn read<'a>(
            &'a self,
            watermark: Option<&'a str>,
            limit: usize,
        ) -> BoxFuture<'a, aiops_integrations::Result<LogBatch>> {
            Box::pin(async move {
                if std::mem::take(&mut *self.fail_next.lock().unwrap()) {
                    return Err(aiops_integrations::IntegrationError::Unreachable {
                        system: "fake",
                        url: "http://127.0.0.1:9/".into(),
                        reason: "cannot connect".into(),
                        attempts: 1,
                    });
                }
                let from: usize = watermark.map_or(0, |w| w.parse().unwrap());
                let to = (from + limit).min(self.records.len());
                Ok(LogBatch {
                    records: self.records[from..to].to_vec(),
                    watermark: Some(to.to_string()),
                })
            })
        }
    }

    #[tokio::test]
    async fn pages_are_committed_then_the_watermark_saved_and_resumed() {
        let (store, _) = crate::testing::store_with_cpu_series().await;
        let pipeline = LogPipeline::new(store.clone(), Default::default())
            .await
            .unwrap();
        let now = crate::now_ms();
        let records: Vec<LogRecord> = (0..25)
            .map(|i| LogRecord {
                timestamp: now - 60_000 + i * 1_000,
                message: format!("request {i} served in {i} ms"),
                labels: if i % 2 == 0 {
                    [("service".to_string(), "cart".to_string())].into()
                } else {
                    BTreeMap::new()
                },
            })
            .collect();
        let source = Arc::new(Fake {
            records,
            ..Fake::default()
        });
        let config = LogSourceConfig {
            integration: "es".into(),
            interval_s: 1,
            page: 10,
            labels: [("env".to_string(), "prod".to_string())].into(),
        };
        let reader = || {
            LogSourceReader::new(
                source.clone(),
                config.clone(),
                store.clone(),
                pipeline.clone(),
                Arc::new(PiiMasker::new(&Default::default()).unwrap()),
            )
            .unwrap()
        };
        let r = reader().read_once(now).await.unwrap();
        assert_eq!((r.records, r.lines), (10, 10));
        assert_eq!(
            store.value(&watermark_key("es")).await.unwrap().as_deref(),
            Some("10")
        );
        // A failed read moves nothing; a new reader (a restart) resumes at the watermark.
        *source.fail_next.lock().unwrap() = true;
        assert!(reader().read_once(now).await.is_err());
        assert_eq!(
            store.value(&watermark_key("es")).await.unwrap().as_deref(),
            Some("10")
        );
        assert_eq!(reader().read_once(now).await.unwrap().records, 10);
        assert_eq!(reader().read_once(now).await.unwrap().records, 5);
        assert_eq!(reader().read_once(now).await.unwrap().records, 0);
        let all = pipeline
            .lines(&crate::log_pipeline::LogQuery {
                limit: Some(100),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(all.lines.len(), 25);
        let text = serde_json::to_string(&all.lines).unwrap();
        assert!(text.contains("request 24 served"), "{text}");
        assert!(
            all.lines.iter().all(|l| l.stream.contains("env=\"prod\"")),
            "{text}"
        );
        assert!(text.contains("\"service\":\"cart\""), "{text}");
    }

    #[test]
    fn a_source_must_name_a_log_source_integration() {
        let mut integrations = BTreeMap::new();
        integrations.insert(
            "slack".to_string(),
            aiops_integrations::registry::Integration {
                name: "slack".into(),
                kind: "slack".into(),
                ..Default::default()
            },
        );
        let c = |name: &str| LogSourceConfig {
            integration: name.into(),
            interval_s: 10,
            page: 10,
            labels: BTreeMap::new(),
        };
        let e = sources(&integrations, &[c("es")]).unwrap_err().to_string();
        assert!(e.contains("no integration named"), "{e}");
        let e = sources(&integrations, &[c("slack")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a log source"), "{e}");
    }
}
