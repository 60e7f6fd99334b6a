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

/// Reads metric history: the store, then the source for what is older than the store's.
#[derive(Debug, Clone, Default)]
pub struct History {
    source: Option<Arc<dyn MetricSource>>,
    step: i64,
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
        }
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
        let stored = store.samples(series.id, from, to, limit).await?;
        let Some(source) = &self.source else {
            return Ok(stored);
        };
        let oldest = store
            .samples(series.id, TimestampMs::MIN, TimestampMs::MAX, 1)
            .await?
            .first()
            .map_or(to, |p| p.0);
        let older_end = oldest.min(to);
        if from >= older_end {
            return Ok(stored);
        }
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
            Err(_) => return Ok(stored),
        };
        let old = match source.query_range(&query, range).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(series = %series.key, error = %e, "reading older history failed; the store's samples alone are used");
                return Ok(stored);
            }
        };
        let mut out: Vec<(TimestampMs, f64)> = old
            .first()
            .map(|s| {
                s.timestamps()
                    .iter()
                    .zip(s.values())
                    .filter(|(t, v)| **t >= from && **t < older_end && v.is_finite())
                    .map(|(&t, &v)| (t, v))
                    .collect()
            })
            .unwrap_or_default();
        if old.len() > 1 {
            tracing::warn!(series = %series.key, found = old.len(), "the history selector matched several series; the first is used");
        }
        out.extend(stored);
        out.truncate(limit);
        Ok(out)
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
                let vs = ts.iter().map(|&t| t as f64 / 1000.0).collect();
                Ok(vec![TimeSeries::new(Labels::new(), ts, vs).unwrap()])
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
