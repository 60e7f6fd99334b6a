//! Metric history for analyses (RCA, the anomaly timeline, capacity forecasts): the store's
//! samples and, with `history.prometheus` configured, the part of a window older than what the
//! store holds of a series (what retention deleted, or what was never sent to aiops) read from
//! Prometheus or VictoriaMetrics with `query_range`, by the series' labels. The store keeps
//! the recent window; the metrics database keeps the long history.

use std::sync::Arc;

use aiops_core::time::{Duration, TimestampMs};
use aiops_integrations::prometheus::{
    MetricSource, PrometheusClient, PrometheusParams, RangeQuery, selector,
};
use aiops_store::{SeriesRow, Store};
use serde::Deserialize;

use crate::error::{Result, ServiceError};

/// `history:`: where history older than the store's comes from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryConfig {
    /// The Prometheus or VictoriaMetrics to read from: `url`, `auth`, `timeout`, `retries`,
    /// `max_points`.
    pub prometheus: PrometheusParams,
    /// Resolution of what is read (default `15s`).
    #[serde(default = "default_step")]
    pub step: Duration,
}

fn default_step() -> Duration {
    Duration::from_secs(15)
}

impl HistoryConfig {
    /// Checks the parameters (secrets are read at start).
    pub fn check(&self) -> Result<()> {
        self.prometheus
            .validate()
            .map_err(|e| ServiceError::invalid_config("history.prometheus", e.to_string()))?;
        if self.step.0 < 1_000 {
            return Err(ServiceError::invalid_config(
                "history.step",
                format!("{} is under the least step of 1s", self.step),
            ));
        }
        Ok(())
    }
}

/// Reads metric history: the store, then the source for what is older than the store's, and
/// the source's series of a resource that aiops does not store ([`History::discover`]).
#[derive(Debug, Clone, Default)]
pub struct History {
    source: Option<Arc<dyn MetricSource>>,
    step: i64,
    /// The labels that name a series' resource, in order (`metrics.resource_labels`); none:
    /// no discovery.
    resource_labels: Vec<String>,
}

/// A series found in the history source that the store does not hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovered {
    /// Its resource (the first of the resource labels it has).
    pub resource: String,
    /// Its metric (`__name__`).
    pub metric: String,
    /// All its labels.
    pub labels: aiops_core::Labels,
    /// Its samples in the window asked, oldest first.
    pub points: Vec<(TimestampMs, f64)>,
}

impl History {
    /// The history the configuration asks for (the store alone without `history`); reads the
    /// source's secrets.
    pub fn new(config: Option<&HistoryConfig>) -> Result<Self> {
        let Some(c) = config else {
            return Ok(Self::default());
        };
        c.check()?;
        let client = PrometheusClient::from_params(&c.prometheus)
            .map_err(|e| ServiceError::invalid_config("history.prometheus", e.to_string()))?;
        Ok(Self::with_source(Arc::new(client), c.step.0))
    }

    /// History read from `source` at `step` (ms) before the store's oldest sample.
    pub fn with_source(source: Arc<dyn MetricSource>, step: i64) -> Self {
        Self {
            source: Some(source),
            step: step.max(1),
            resource_labels: Vec::new(),
        }
    }

    /// Names resources by these labels (in order; the ingest's `metrics.resource_labels`), so
    /// that [`History::discover`] can find a resource's series in the source.
    pub fn with_resource_labels(mut self, labels: &[String]) -> Self {
        self.resource_labels = labels.to_vec();
        self
    }

    /// The source's series of `resources` with samples in `[from, to)` that `known` (their
    /// `resource:metric` names) lacks: metrics never sent to aiops, read with one
    /// `query_range` per resource label (`{service=~"api|db"}`) at a step giving at most
    /// `max_points` points. At most `limit` series, by resource and metric; none without a
    /// source or resource labels, or when the source fails (logged): an analysis runs on
    /// what there is.
    pub async fn discover(
        &self,
        resources: &[String],
        known: &std::collections::BTreeSet<String>,
        from: TimestampMs,
        to: TimestampMs,
        max_points: i64,
        limit: usize,
    ) -> Vec<Discovered> {
        let Some(source) = &self.source else {
            return Vec::new();
        };
        if resources.is_empty() || to <= from || limit == 0 {
            return Vec::new();
        }
        let wanted: std::collections::BTreeSet<&str> =
            resources.iter().map(String::as_str).collect();
        let alternatives = resources
            .iter()
            .map(|r| regex::escape(r))
            .collect::<Vec<_>>()
            .join("|");
        let step = self.step.max((to - from) / max_points.max(1)).max(1);
        let Ok(range) = RangeQuery::new(from, to - 1, step) else {
            return Vec::new();
        };
        let mut found = std::collections::BTreeMap::new();
        for label in &self.resource_labels {
            let query = format!(
                "{{{label}=~\"{}\"}}",
                alternatives.replace('\\', "\\\\").replace('"', "\\\"")
            );
            let series = match source.query_range(&query, range).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(label = %label, error = %e, "discovering series in the history source failed");
                    continue;
                }
            };
            for s in series {
                let labels = s.labels();
                // The resource as the ingest names it: the first resource label present.
                let Some(resource) = self
                    .resource_labels
                    .iter()
                    .find_map(|l| labels.get(l))
                    .filter(|r| wanted.contains(r))
                else {
                    continue;
                };
                let Some(metric) = labels.get("__name__") else {
                    continue;
                };
                let name = format!("{resource}:{metric}");
                if known.contains(&name) || found.contains_key(&name) {
                    continue;
                }
                let points: Vec<(TimestampMs, f64)> = s
                    .timestamps()
                    .iter()
                    .zip(s.values())
                    .filter(|(t, v)| **t >= from && **t < to && v.is_finite())
                    .map(|(&t, &v)| (t, v))
                    .collect();
                if points.len() >= 2 {
                    found.insert(
                        name,
                        Discovered {
                            resource: resource.to_string(),
                            metric: metric.to_string(),
                            labels: labels.clone(),
                            points,
                        },
                    );
                }
            }
        }
        found.into_values().take(limit).collect()
    }

    /// Whether a source is configured.
    pub fn has_source(&self) -> bool {
        self.source.is_some()
    }

    /// The samples of `series` with `from <= t < to`, oldest first, at most `limit` (the
    /// oldest kept). When the window starts before the oldest sample the store holds of the
    /// series, the points before it come from the source; if the source fails, the store's
    /// samples are returned alone (and the failure logged): an analysis runs on what there is.
    pub async fn samples(
        &self,
        store: &Store,
        series: &SeriesRow,
        from: TimestampMs,
        to: TimestampMs,
        limit: usize,
    ) -> Result<Vec<(TimestampMs, f64)>> {
        let mut all = self
            .samples_of(store, std::slice::from_ref(series), from, to, limit)
            .await?;
        Ok(all.pop().unwrap_or_default())
    }

    /// [`History::samples`] of several series, in their order: the store's pending samples
    /// are read in one pass for all of them ([`Store::samples_of`]).
    pub async fn samples_of(
        &self,
        store: &Store,
        series: &[SeriesRow],
        from: TimestampMs,
        to: TimestampMs,
        limit: usize,
    ) -> Result<Vec<Vec<(TimestampMs, f64)>>> {
        let ids: Vec<i64> = series.iter().map(|s| s.id).collect();
        let stored = store.samples_of(&ids, from, to, limit).await?;
        // Cloned, not taken: a series listed twice gets its samples twice.
        let mut out: Vec<Vec<(TimestampMs, f64)>> = series
            .iter()
            .map(|s| stored.get(&s.id).cloned().unwrap_or_default())
            .collect();
        let Some(source) = &self.source else {
            return Ok(out);
        };
        let oldest = store.oldest_samples(&ids).await?;
        for (s, points) in series.iter().zip(out.iter_mut()) {
            let older_end = oldest.get(&s.id).copied().unwrap_or(to).min(to);
            if from >= older_end {
                continue;
            }
            let old = self.older(source.as_ref(), s, from, older_end).await?;
            if !old.is_empty() {
                let newer = std::mem::replace(points, old);
                points.extend(newer);
                points.truncate(limit);
            }
        }
        Ok(out)
    }

    /// The source's points of `series` with `from <= t < older_end` (empty when the source
    /// fails: the failure is logged and the store's samples are used alone).
    async fn older(
        &self,
        source: &dyn MetricSource,
        series: &SeriesRow,
        from: TimestampMs,
        older_end: TimestampMs,
    ) -> Result<Vec<(TimestampMs, f64)>> {
        let mut labels = series.labels.clone();
        if labels.get("__name__").is_none() {
            labels = labels
                .with("__name__", series.metric.clone())
                .map_err(|e| ServiceError::invalid_parameter("metric", e.to_string()))?;
        }
        let query = selector(&labels);
        // `query_range`'s end is inclusive: stop one step before the store's oldest sample.
        let range = match RangeQuery::new(from, older_end - 1, self.step) {
            Ok(r) => r,
            Err(_) => return Ok(Vec::new()),
        };
        let old = match source.query_range(&query, range).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(series = %series.key, error = %e, "reading older history failed; the store's samples alone are used");
                return Ok(Vec::new());
            }
        };
        if old.len() > 1 {
            tracing::warn!(series = %series.key, found = old.len(), "the history selector matched several series; the first is used");
        }
        Ok(old
            .first()
            .map(|s| {
                s.timestamps()
                    .iter()
                    .zip(s.values())
                    .filter(|(t, v)| **t >= from && **t < older_end && v.is_finite())
                    .map(|(&t, &v)| (t, v))
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// A fake [`MetricSource`] for the tests of the analyses that read history.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Mutex;

    use aiops_core::{Labels, TimeSeries, TimestampMs};
    use aiops_integrations::prometheus::{BoxFuture, MetricSource, QueryResult, RangeQuery};

    /// A source that answers `value = t / 1000` on the asked grid and records the queries.
    #[derive(Debug, Default)]
    pub(crate) struct Fake {
        /// The queries asked, in order.
        pub(crate) asked: Mutex<Vec<(String, RangeQuery)>>,
        /// Fail every query.
        pub(crate) fail: bool,
        /// The series every query answers (with the same values); none: one series
        /// without labels.
        pub(crate) series: Vec<Labels>,
    }

    impl MetricSource for Fake {
        fn query<'a>(
            &'a self,
            _: &'a str,
            _: Option<TimestampMs>,
        ) -> BoxFuture<'a, aiops_integrations::Result<QueryResult>> {
            Box::pin(async { Ok(QueryResult::Vector(Vec::new())) })
        }
        fn query_range<'a>(
            &'a self,
            promql: &'a str,
            r: RangeQuery,
        ) -> BoxFuture<'a, aiops_integrations::Result<Vec<TimeSeries>>> {
            self.asked.lock().unwrap().push((promql.to_string(), r));
            let fail = self.fail;
            let mut labelled = self.series.clone();
            if labelled.is_empty() {
                labelled.push(Labels::new());
            }
            Box::pin(async move {
                if fail {
                    return Err(aiops_integrations::IntegrationError::Payload {
                        system: "fake",
                        message: "down".into(),
                    });
                }
                let ts: Vec<i64> = (0..r.points() as i64)
                    .map(|i| r.start + i * r.step)
                    .collect();
                let vs: Vec<f64> = ts.iter().map(|&t| t as f64 / 1000.0).collect();
                Ok(labelled
                    .into_iter()
                    .map(|l| TimeSeries::new(l, ts.clone(), vs.clone()).unwrap())
                    .collect())
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::Fake;
    use super::*;

    async fn store_with(points: &[(i64, f64)]) -> (Store, SeriesRow) {
        let (store, ids) = crate::testing::store_with_series(&[("service", "api")]).await;
        let rows: Vec<_> = points.iter().map(|&(t, v)| (ids[0], t, v)).collect();
        store.insert_samples(&rows).await.unwrap();
        let row = store.series(ids[0]).await.unwrap();
        (store, row)
    }

    fn labels(pairs: &[(&str, &str)]) -> aiops_core::Labels {
        pairs.iter().fold(aiops_core::Labels::new(), |l, (k, v)| {
            l.with(*k, *v).unwrap()
        })
    }

    #[tokio::test]
    async fn the_series_of_a_resource_the_store_lacks_are_discovered() {
        let fake = Arc::new(Fake {
            series: vec![
                labels(&[("__name__", "db_latency"), ("service", "api")]),
                // Stored already.
                labels(&[("__name__", "cpu"), ("service", "api")]),
                // Another resource; a series without a name.
                labels(&[("__name__", "mem"), ("service", "other")]),
                labels(&[("service", "api")]),
                // Named by its first resource label (service), not by `instance`.
                labels(&[
                    ("__name__", "disk"),
                    ("instance", "api"),
                    ("service", "web"),
                ]),
            ],
            ..Default::default()
        });
        let h = History::with_source(fake.clone(), 10_000)
            .with_resource_labels(&["service".into(), "instance".into()]);
        let known = std::collections::BTreeSet::from(["api:cpu".to_string()]);
        let got = h
            .discover(
                &["api".into(), "a.b".into()],
                &known,
                50_000,
                100_000,
                1_000,
                10,
            )
            .await;
        let names: Vec<String> = got
            .iter()
            .map(|d| format!("{}:{}", d.resource, d.metric))
            .collect();
        assert_eq!(names, ["api:db_latency"]);
        assert_eq!(
            got[0].points,
            [
                (50_000, 50.0),
                (60_000, 60.0),
                (70_000, 70.0),
                (80_000, 80.0),
                (90_000, 90.0)
            ]
        );
        // One query per resource label, the names escaped for PromQL's regex and string.
        let asked: Vec<String> = fake
            .asked
            .lock()
            .unwrap()
            .iter()
            .map(|(q, _)| q.clone())
            .collect();
        assert_eq!(
            asked,
            [r#"{service=~"api|a\\.b"}"#, r#"{instance=~"api|a\\.b"}"#]
        );
        // Without resource labels, or without a source, or failing: nothing.
        let bare = History::with_source(fake.clone(), 10_000);
        assert!(
            bare.discover(&["api".into()], &known, 50_000, 100_000, 1_000, 10)
                .await
                .is_empty()
        );
        assert!(
            History::default()
                .discover(&["api".into()], &known, 50_000, 100_000, 1_000, 10)
                .await
                .is_empty()
        );
        let failing = History::with_source(
            Arc::new(Fake {
                fail: true,
                ..Default::default()
            }),
            10_000,
        )
        .with_resource_labels(&["service".into()]);
        assert!(
            failing
                .discover(&["api".into()], &known, 50_000, 100_000, 1_000, 10)
                .await
                .is_empty()
        );
    }

    #[tokio::test]
    async fn the_part_older_than_the_store_comes_from_the_source() {
        let (store, row) = store_with(&[(100_000, -1.0), (110_000, -2.0)]).await;
        let fake = Arc::new(Fake::default());
        let h = History::with_source(fake.clone(), 10_000);
        let got = h.samples(&store, &row, 50_000, 200_000, 100).await.unwrap();
        assert_eq!(
            got,
            [
                (50_000, 50.0),
                (60_000, 60.0),
                (70_000, 70.0),
                (80_000, 80.0),
                (90_000, 90.0),
                (100_000, -1.0),
                (110_000, -2.0)
            ]
        );
        let asked = fake.asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].0, r#"{__name__="cpu",service="api"}"#);
        assert_eq!((asked[0].1.start, asked[0].1.end), (50_000, 99_999));

        // A window the store covers asks nothing.
        h.samples(&store, &row, 100_000, 200_000, 100)
            .await
            .unwrap();
        assert_eq!(fake.asked.lock().unwrap().len(), 1);
        // The limit keeps the oldest.
        let got = h.samples(&store, &row, 50_000, 200_000, 2).await.unwrap();
        assert_eq!(got, [(50_000, 50.0), (60_000, 60.0)]);
    }

    #[tokio::test]
    async fn without_a_source_or_when_it_fails_the_store_answers_alone() {
        let (store, row) = store_with(&[(100_000, 1.0)]).await;
        let got = History::default()
            .samples(&store, &row, 0, 200_000, 10)
            .await
            .unwrap();
        assert_eq!(got, [(100_000, 1.0)]);
        let failing = Arc::new(Fake {
            fail: true,
            ..Fake::default()
        });
        let got = History::with_source(failing, 10_000)
            .samples(&store, &row, 0, 200_000, 10)
            .await
            .unwrap();
        assert_eq!(got, [(100_000, 1.0)]);
    }

    #[test]
    fn the_configuration_is_checked() {
        let c: HistoryConfig = aiops_core::yaml::from_str(
            "prometheus:\n  url: http://127.0.0.1:8428\n  auth: {bearer: {env: VM_TOKEN}}\nstep: 30s\n",
        )
        .unwrap();
        assert_eq!(c.step.0, 30_000);
        c.check().unwrap();
        let bad: HistoryConfig =
            aiops_core::yaml::from_str("prometheus:\n  url: http://x\nstep: 10ms\n").unwrap();
        assert!(bad.check().is_err());
        assert!(
            aiops_core::yaml::from_str::<HistoryConfig>("prometheus:\n  url: http://x\nbogus: 1\n")
                .is_err()
        );
    }
}
