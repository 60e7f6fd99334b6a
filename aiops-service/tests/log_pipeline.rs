//! The log pipeline end to end on an in-memory store: masking, template mining, a burst of
//! errors becoming a log anomaly, backpressure, and resuming after a restart or a crash.

use std::sync::Arc;

use aiops_logs::LogDetectorParams;
use aiops_service::ServiceError;
use aiops_service::log_pipeline::{LogPipeline, LogsConfig, LogsRequest, StreamLines, parse_logs};
use aiops_service::pii::PiiMasker;
use aiops_store::{LogAnomalyFilter, LogLineFilter, Store, StoreOptions};
use tokio::sync::oneshot;

const T0: i64 = 1_700_000_000_000;

async fn store() -> Store {
    Store::open("sqlite::memory:", &StoreOptions::default())
        .await
        .unwrap()
}

fn config() -> LogsConfig {
    LogsConfig {
        detector: LogDetectorParams::new().warmup_lines(50),
        ..LogsConfig::default()
    }
}

/// Minutes `range` of a steady service (6 lines a minute), with a burst of 40 errors in
/// minute 40 and one line in the minute after the last.
fn minutes(range: std::ops::Range<i64>) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for m in range {
        let t = T0 + m * 60_000;
        for i in 0..4 {
            out.push((
                t + i * 1000,
                format!("request {} served in {} ms", m * 10 + i, 3 + (m + i) % 7),
            ));
        }
        out.push((
            t + 5000,
            format!("cache refreshed with {} entries", 100 + m),
        ));
        out.push((t + 6000, format!("user u{} logged in", m % 5)));
        if m == 40 {
            for i in 0..40 {
                out.push((
                    t + 10_000 + i * 100,
                    format!("ERROR connection to db-{} failed: timeout", i % 3),
                ));
            }
        }
    }
    out
}

fn request(lines: &[(i64, String)]) -> LogsRequest {
    let lines: Vec<_> = lines
        .iter()
        .map(|(t, l)| serde_json::json!({"timestamp": t, "line": l}))
        .collect();
    serde_json::from_value(serde_json::json!({
        "streams": [{"labels": {"service": "api", "source": "app.log"}, "lines": lines}]
    }))
    .unwrap()
}

fn batch(lines: &[(i64, String)]) -> Vec<StreamLines> {
    parse_logs(request(lines), T0, &PiiMasker::default(), 65_536).unwrap()
}

/// Runs a pipeline over `store`, feeds it `chunks`, shuts it down, returns it.
async fn run(store: &Store, chunks: &[Vec<(i64, String)>]) -> Arc<LogPipeline> {
    let p = LogPipeline::new(store.clone(), config()).await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(p.clone().run(async move {
        let _ = stopped.await;
    }));
    for c in chunks {
        p.ingest(batch(c), T0).await.unwrap();
    }
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    p
}

/// (window start, lines, anomalous lines, signals) of every stored anomaly, oldest first.
async fn windows(store: &Store) -> Vec<(i64, i64, i64, String)> {
    let (_, rows) = store
        .log_anomalies(&LogAnomalyFilter::default(), 1000)
        .await
        .unwrap();
    let mut out: Vec<_> = rows
        .into_iter()
        .map(|a| {
            let signals: Vec<String> = a
                .anomaly
                .reasons
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["signal"].as_str().unwrap_or("").to_string())
                .collect();
            (
                a.anomaly.window_start,
                a.anomaly.lines,
                a.anomaly.anomalous_lines,
                signals.join(","),
            )
        })
        .collect();
    out.sort();
    out
}

async fn templates(store: &Store) -> Vec<(String, i64)> {
    let mut t: Vec<_> = store
        .log_templates(None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.template, t.count))
        .collect();
    t.sort();
    t
}

#[tokio::test]
async fn lines_are_masked_mined_into_templates_and_a_burst_of_errors_is_an_anomaly() {
    let s = store().await;
    let mut lines = minutes(0..42);
    lines.push((
        T0 + 5_000,
        "password reset mailed to alice@example.com".into(),
    ));
    run(&s, &[lines.clone()]).await;
    // Masked before storage.
    let stored = s.log_lines(&LogLineFilter::default(), 1000).await.unwrap();
    assert_eq!(stored.len(), lines.len());
    assert!(stored.iter().all(|l| !l.line.contains("alice@example.com")));
    assert!(
        stored
            .iter()
            .any(|l| l.line.starts_with("password reset mailed to "))
    );
    // Every line has its template; lines of one shape share one.
    assert!(stored.iter().all(|l| l.template_id.is_some()));
    let t = templates(&s).await;
    let served = t.iter().find(|(t, _)| t.starts_with("request")).unwrap();
    assert_eq!(served.1, 42 * 4, "{t:?}");
    let errors = t.iter().find(|(t, _)| t.starts_with("ERROR")).unwrap();
    assert_eq!(errors.1, 40, "{t:?}");
    // The burst minute is anomalous, with reasons, and its error lines are flagged.
    let w = windows(&s).await;
    assert_eq!(w.len(), 1, "{w:?}");
    let (start, n, flagged, signals) = &w[0];
    assert_eq!(*start, (T0 + 40 * 60_000) / 60_000 * 60_000);
    assert_eq!((*n, *flagged), (46, 40));
    assert!(signals.contains("template_burst"), "{signals}");
    assert!(signals.contains("keyword_rate"), "{signals}");
    let anomalous = stored.iter().filter(|l| l.anomalous).count();
    assert_eq!(anomalous, 40);
    assert!(
        stored
            .iter()
            .filter(|l| l.anomalous)
            .all(|l| l.line.starts_with("ERROR"))
    );
}

#[tokio::test]
async fn a_restart_or_a_crash_resumes_the_streams_state() {
    let all = minutes(0..42);
    let (first, second) = all.split_at(20 * 6);
    let whole = store().await;
    run(&whole, &[first.to_vec(), second.to_vec()]).await;

    // Stopped cleanly after the first half, restarted for the second.
    let s = store().await;
    run(&s, &[first.to_vec()]).await;
    run(&s, &[second.to_vec()]).await;
    assert_eq!(windows(&s).await, windows(&whole).await);
    assert_eq!(templates(&s).await, templates(&whole).await);

    // Crashed with the second half committed but not mined: the restart replays it.
    let c = store().await;
    run(&c, &[first.to_vec()]).await;
    let crashed = LogPipeline::new(c.clone(), config()).await.unwrap();
    crashed.ingest(batch(second), T0).await.unwrap();
    drop(crashed);
    run(&c, &[]).await;
    assert_eq!(windows(&c).await, windows(&whole).await);
    assert_eq!(templates(&c).await, templates(&whole).await);
    assert_eq!(windows(&whole).await.len(), 1);
}

#[tokio::test]
async fn a_full_queue_refuses_before_storing() {
    let s = store().await;
    let p = LogPipeline::new(
        s.clone(),
        LogsConfig {
            queue_capacity: 1,
            ..config()
        },
    )
    .await
    .unwrap();
    let lines = minutes(0..1);
    p.ingest(batch(&lines), T0).await.unwrap();
    let e = p.ingest(batch(&lines), T0).await.unwrap_err();
    assert!(matches!(e, ServiceError::Busy { .. }), "{e}");
    assert_eq!(e.status(), 429);
    assert_eq!(
        p.counters
            .refused
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    let stored = s.log_lines(&LogLineFilter::default(), 1000).await.unwrap();
    assert_eq!(stored.len(), lines.len());
    assert_eq!(p.queue_depth(), 1);
    let text = p.exposition();
    assert!(text.contains("aiops_log_queue_depth 1"), "{text}");
    assert!(text.contains("aiops_log_ingest_refused_total 1"), "{text}");
}

#[tokio::test]
async fn too_many_streams_are_refused() {
    let s = store().await;
    let p = LogPipeline::new(
        s.clone(),
        LogsConfig {
            max_streams: 1,
            ..config()
        },
    )
    .await
    .unwrap();
    let req = |source: &str| -> LogsRequest {
        serde_json::from_value(serde_json::json!({
            "streams": [{"labels": {"service": "api", "source": source}, "lines": [{"line": "x"}]}]
        }))
        .unwrap()
    };
    let b = |src| parse_logs(req(src), T0, &PiiMasker::default(), 100).unwrap();
    p.ingest(b("a"), T0).await.unwrap();
    let e = p.ingest(b("b"), T0).await.unwrap_err();
    assert!(matches!(e, ServiceError::Busy { .. }), "{e}");
}
