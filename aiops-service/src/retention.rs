//! Retention: old samples, anomalies and resolved alerts are deleted in bounded batches, so
//! the store does not grow without limit and no statement holds it long. The audit log is
//! kept.

use aiops_core::TimestampMs;
use aiops_store::Store;
use serde::Serialize;

use crate::config::RetentionConfig;
use crate::error::Result;

/// What one retention pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// Samples.
    pub samples: u64,
    /// Anomalies.
    pub anomalies: u64,
    /// Resolved alerts.
    pub alerts: u64,
    /// Log lines.
    pub log_lines: u64,
    /// Anomalous log windows.
    pub log_anomalies: u64,
}

/// Deletes everything older than its retention at `now` (ms), batch after batch.
pub async fn run_once(
    store: &Store,
    config: &RetentionConfig,
    now: TimestampMs,
) -> Result<RetentionReport> {
    let mut r = RetentionReport::default();
    let batch = config.batch;
    loop {
        let n = store
            .delete_samples_before(now - config.metrics.0, batch)
            .await?;
        r.samples += n;
        if (n as usize) < batch {
            break;
        }
        tokio::task::yield_now().await;
    }
    loop {
        let n = store
            .delete_anomalies_before(now - config.anomalies.0, batch)
            .await?;
        r.anomalies += n;
        if (n as usize) < batch {
            break;
        }
        tokio::task::yield_now().await;
    }
    loop {
        let n = store
            .delete_alerts_before(now - config.alerts.0, batch)
            .await?;
        r.alerts += n;
        if (n as usize) < batch {
            break;
        }
        tokio::task::yield_now().await;
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiops_core::Labels;
    use aiops_store::{NewSeries, StoreOptions};

    #[tokio::test]
    async fn old_samples_go_in_batches_recent_ones_stay() {
        let store = Store::open("sqlite::memory:", &StoreOptions::default())
            .await
            .unwrap();
        let labels = Labels::try_from_pairs([("__name__", "cpu"), ("service", "api")]).unwrap();
        let ids = store
            .series_ids(
                &[NewSeries {
                    key: labels.to_string(),
                    metric: "cpu".into(),
                    resource: "api".into(),
                    labels,
                }],
                0,
            )
            .await
            .unwrap();
        let day = 86_400_000i64;
        let rows: Vec<_> = (0..100).map(|d| (ids[0], d * day, d as f64)).collect();
        store.insert_samples(&rows).await.unwrap();
        let config = RetentionConfig {
            batch: 7,
            ..RetentionConfig::default()
        };
        // At day 100 with 90 days kept: days 0..=9 go.
        let r = run_once(&store, &config, 100 * day).await.unwrap();
        assert_eq!(r.samples, 10);
        let left = store.samples(ids[0], 0, i64::MAX, 1000).await.unwrap();
        assert_eq!(left.first().map(|p| p.0), Some(10 * day));
        assert_eq!(
            run_once(&store, &config, 100 * day).await.unwrap(),
            RetentionReport::default()
        );
    }
}
