//! The metric pipeline end to end on an in-memory store: ingest, detection, anomalies,
//! backpressure, and resuming after a restart or a crash.

use std::sync::Arc;

use aiops_core::Labels;
use aiops_service::ServiceError;
use aiops_service::metrics::{DetectorRule, MetricPipeline, MetricsConfig, SeriesSamples};
use aiops_store::{AnomalyFilter, Store, StoreOptions};
use tokio::sync::oneshot;

async fn store() -> Store {
    Store::open("sqlite::memory:", &StoreOptions::default())
        .await
        .unwrap()
}

fn config() -> MetricsConfig {
    MetricsConfig {
        detectors: vec![DetectorRule {
            metric: "cpu*".into(),
            detector: "zscore".into(),
            params: serde_json::from_str(r#"{"window": 30}"#).unwrap(),
        }],
        ..Default::default()
    }
}

/// A noisy flat series with a spike at point 150.
fn points(range: std::ops::Range<i64>) -> Vec<(i64, f64)> {
    range
        .map(|i| {
            let v = if i == 150 {
                90.0
            } else {
                50.0 + ((i * 7919) % 13) as f64 * 0.3
            };
            (i * 60_000, v)
        })
        .collect()
}

fn batch(pts: Vec<(i64, f64)>) -> Vec<SeriesSamples> {
    vec![SeriesSamples {
        labels: Labels::try_from_pairs([("__name__", "cpu_usage"), ("service", "api")]).unwrap(),
        metric: "cpu_usage".into(),
        resource: None,
        samples: pts,
    }]
}

/// Runs a pipeline over `store`, feeds it `chunks`, shuts it down, returns it.
async fn run(store: &Store, chunks: Vec<Vec<(i64, f64)>>) -> Arc<MetricPipeline> {
    let p = MetricPipeline::new(store.clone(), config()).await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(p.clone().run(async move {
        let _ = stopped.await;
    }));
    for c in chunks {
        p.ingest(batch(c), 0).await.unwrap();
    }
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    p
}

async fn anomaly_times(store: &Store) -> Vec<(i64, String)> {
    let (_, rows) = store
        .anomalies(&AnomalyFilter::default(), 1000)
        .await
        .unwrap();
    let mut out: Vec<_> = rows
        .into_iter()
        .map(|a| (a.anomaly.t, format!("{:.9}", a.anomaly.score)))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn the_spike_is_stored_as_an_anomaly_with_its_resource() {
    let s = store().await;
    let p = run(&s, vec![points(0..100), points(100..200)]).await;
    let (total, rows) = s.anomalies(&AnomalyFilter::default(), 10).await.unwrap();
    assert!(total >= 1);
    let spike = rows
        .iter()
        .find(|a| a.anomaly.t == 150 * 60_000)
        .expect("spike found");
    assert_eq!(spike.anomaly.resource, "api");
    assert_eq!(spike.anomaly.metric, "cpu_usage");
    assert_eq!(spike.anomaly.detector, "zscore");
    assert_eq!(
        p.counters
            .samples_scored
            .load(std::sync::atomic::Ordering::Relaxed),
        200
    );
}

#[tokio::test]
async fn a_restart_resumes_the_saved_state_and_finds_what_one_run_finds() {
    let one = store().await;
    run(&one, vec![points(0..200)]).await;
    let two = store().await;
    run(&two, vec![points(0..100)]).await;
    // A new process on the same store: the state is restored, not re-learned.
    let p = run(&two, vec![points(100..200)]).await;
    assert_eq!(
        p.counters
            .samples_scored
            .load(std::sync::atomic::Ordering::Relaxed),
        100
    );
    assert_eq!(anomaly_times(&one).await, anomaly_times(&two).await);
}

#[tokio::test]
async fn samples_committed_but_never_scored_are_replayed_after_a_crash() {
    let s = store().await;
    run(&s, vec![points(0..100)]).await;
    // Committed, acknowledged, then the process dies before detection ran.
    let crashed = MetricPipeline::new(s.clone(), config()).await.unwrap();
    crashed.ingest(batch(points(100..200)), 0).await.unwrap();
    drop(crashed);
    let p = run(&s, vec![]).await;
    assert_eq!(
        p.counters
            .samples_scored
            .load(std::sync::atomic::Ordering::Relaxed),
        100
    );
    let one = store().await;
    run(&one, vec![points(0..200)]).await;
    assert_eq!(anomaly_times(&one).await, anomaly_times(&s).await);
}

#[tokio::test]
async fn a_full_queue_refuses_before_storing_anything() {
    let s = store().await;
    let p = MetricPipeline::new(
        s.clone(),
        MetricsConfig {
            queue_capacity: 1,
            ..config()
        },
    )
    .await
    .unwrap();
    p.ingest(batch(points(0..10)), 0).await.unwrap();
    let e = p.ingest(batch(points(10..20)), 0).await.unwrap_err();
    assert!(matches!(e, ServiceError::Busy { .. }), "{e}");
    assert_eq!(e.status(), 429);
    let series = s.all_series().await.unwrap();
    assert_eq!(
        s.samples(series[0].id, 0, i64::MAX, 100)
            .await
            .unwrap()
            .len(),
        10
    );
}

#[tokio::test]
async fn an_unknown_detector_in_the_configuration_is_refused() {
    let mut c = config();
    c.detectors[0].detector = "nope".into();
    let e = MetricPipeline::new(store().await, c).await.unwrap_err();
    assert_eq!(e.code(), "invalid_config");
    assert!(e.to_string().contains("metrics.detectors[0]"), "{e}");
}
