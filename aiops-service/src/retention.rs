//! Retention: old samples, anomalies, resolved alerts, log lines, log anomalies and expired
//! console sessions are deleted in bounded batches, so
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
    /// Expired console sessions.
    pub sessions: u64,
}

/// Deletes everything older than its retention at `now` (ms), batch after batch.
pub async fn run_once(
    store: &Store,
    config: &RetentionConfig,
    now: TimestampMs,
) -> Result<RetentionReport> {
    let batch = config.batch;
    let before = |keep: &aiops_core::time::Duration| now - keep.0;
    Ok(RetentionReport {
        samples: drain(batch, |b| {
            store.delete_samples_before(before(&config.metrics), b)
        })
        .await?,
        anomalies: drain(batch, |b| {
            store.delete_anomalies_before(before(&config.anomalies), b)
        })
        .await?,
        alerts: drain(batch, |b| {
            store.delete_alerts_before(before(&config.alerts), b)
        })
        .await?,
        log_lines: drain(batch, |b| {
            store.delete_log_lines_before(before(&config.logs), b)
        })
        .await?,
        log_anomalies: drain(batch, |b| {
            store.delete_log_anomalies_before(before(&config.logs), b)
        })
        .await?,
        sessions: store.delete_expired_sessions(now).await?,
    })
}

/// Calls a batched delete until a batch comes back short; returns the rows deleted.
async fn drain<F, Fut>(batch: usize, mut delete: F) -> Result<u64>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = aiops_store::Result<u64>>,
{
    let mut total = 0;
    loop {
        let n = delete(batch).await?;
        total += n;
        if (n as usize) < batch {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiops_core::Labels;

    #[tokio::test]
    async fn old_samples_go_in_batches_recent_ones_stay() {
        let (store, ids) = crate::testing::store_with_cpu_series().await;
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
        // Log lines keep 30 days.
        let labels = Labels::try_from_pairs([("service", "api")]).unwrap();
        let stream = store
            .log_stream_ids(
                &[aiops_store::NewLogStream {
                    key: labels.to_string(),
                    service: "api".into(),
                    labels,
                }],
                0,
            )
            .await
            .unwrap()[0];
        let lines: Vec<_> = (0..100)
            .map(|d| aiops_store::NewLogLine {
                stream_id: stream,
                t: d * day,
                line: format!("day {d}"),
            })
            .collect();
        store.insert_log_lines(&lines, 0).await.unwrap();
        let r = run_once(&store, &config, 100 * day).await.unwrap();
        assert_eq!((r.log_lines, r.samples), (70, 0));
    }
}
