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

mod remote_write {
    use super::*;
    use aiops_integrations::remote_write::{
        Label, Limits, STALE_NAN_BITS, Sample, TimeSeries, WriteRequest, WriteRequestView,
        decompress, encode,
    };
    use std::sync::atomic::Ordering;

    fn entry(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels
                .iter()
                .map(|(n, v)| Label {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            samples: samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp })
                .collect(),
            ..TimeSeries::default()
        }
    }

    /// The protobuf bytes of a request.
    fn raw(timeseries: Vec<TimeSeries>) -> Vec<u8> {
        let body = encode(&WriteRequest {
            timeseries,
            metadata: Vec::new(),
        })
        .unwrap();
        decompress(&body, &Limits::default()).unwrap()
    }

    const CPU: &[(&str, &str)] = &[("__name__", "cpu_usage"), ("service", "api")];
    const CPU_REORDERED: &[(&str, &str)] = &[("service", "api"), ("__name__", "cpu_usage")];
    const MEM: &[(&str, &str)] = &[("__name__", "mem"), ("service", "db")];

    #[tokio::test]
    async fn entries_are_merged_by_labels_in_any_order_and_stored_once() {
        let s = store().await;
        let p = MetricPipeline::new(s.clone(), config()).await.unwrap();
        let stale = f64::from_bits(STALE_NAN_BITS);
        let body = raw(vec![
            entry(CPU, &[(2000, 2.0), (1000, 9.0)]),
            entry(CPU_REORDERED, &[(1000, 1.0), (3000, f64::NAN)]),
            entry(MEM, &[(1000, 5.0), (2000, f64::INFINITY), (3000, stale)]),
            entry(&[("__name__", "gone"), ("service", "x")], &[(1000, stale)]),
        ]);
        let view = WriteRequestView::parse(&body).unwrap();
        let sum = p.ingest_remote_write(&view, 0).await.unwrap();
        assert_eq!((sum.entries, sum.series, sum.samples), (4, 2, 3), "{sum:?}");
        assert_eq!(
            (sum.duplicates, sum.stale_markers, sum.rejected),
            (1, 2, 2),
            "{sum:?}"
        );
        // The series of only a staleness marker is not created.
        let series = s.all_series().await.unwrap();
        assert_eq!(series.len(), 2);
        let cpu = series.iter().find(|x| x.metric == "cpu_usage").unwrap();
        assert_eq!(cpu.resource, "api");
        assert_eq!(
            s.samples(cpu.id, 0, i64::MAX, 10).await.unwrap(),
            vec![(1000, 1.0), (2000, 2.0)]
        );
        // Sent again with other values: the same series, the first values kept.
        let again = raw(vec![
            entry(CPU_REORDERED, &[(2000, -2.0), (4000, 4.0)]),
            entry(MEM, &[(1000, -5.0)]),
        ]);
        p.ingest_remote_write(&WriteRequestView::parse(&again).unwrap(), 0)
            .await
            .unwrap();
        assert_eq!(s.all_series().await.unwrap().len(), 2);
        assert_eq!(
            s.samples(cpu.id, 0, i64::MAX, 10).await.unwrap(),
            vec![(1000, 1.0), (2000, 2.0), (4000, 4.0)]
        );
        assert_eq!(p.counters.samples_in.load(Ordering::Relaxed), 6);
        // Committed, never scored (no pipeline task ran): a new process replays all of them.
        drop(p);
        let q = run(&s, vec![]).await;
        assert_eq!(q.counters.samples_scored.load(Ordering::Relaxed), 4);
        assert_eq!(
            s.samples(cpu.id, 0, i64::MAX, 10).await.unwrap(),
            vec![(1000, 1.0), (2000, 2.0), (4000, 4.0)]
        );
    }

    /// Concurrent requests share commits: each answers only once its samples are committed
    /// (another store on the same file, which sees only committed rows, reads all of them at
    /// once), and every sample is stored and queued for detection exactly once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_answer_after_their_commit_and_land_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open_dir(dir.path(), &StoreOptions::default())
            .await
            .unwrap();
        let other = Store::open_dir(dir.path(), &StoreOptions::default())
            .await
            .unwrap();
        let p = MetricPipeline::new(s.clone(), config()).await.unwrap();
        const REQUESTS: i64 = 64;
        let hosts: Vec<String> = (0..8).map(|h| format!("h{h}")).collect();
        let mut tasks = Vec::new();
        for r in 0..REQUESTS {
            let (p, other, hosts) = (p.clone(), other.clone(), hosts.clone());
            tasks.push(tokio::spawn(async move {
                // Request r: times 10r..10r+9 of every host's series.
                let samples: Vec<(i64, f64)> =
                    (0..10).map(|k| (r * 10 + k, (r * 10 + k) as f64)).collect();
                let body = raw(hosts
                    .iter()
                    .map(|h| entry(&[("__name__", "mem"), ("host", h)], &samples))
                    .collect());
                let sum = p
                    .ingest_remote_write(&WriteRequestView::parse(&body).unwrap(), 0)
                    .await
                    .unwrap();
                assert_eq!(sum.samples, 80);
                for x in other.series_heads().await.unwrap() {
                    let got = other.samples(x.id, r * 10, r * 10 + 10, 100).await.unwrap();
                    assert_eq!(got, samples, "request {r}, series {}", x.key);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let series = other.series_heads().await.unwrap();
        assert_eq!(series.len(), 8);
        let want: Vec<(i64, f64)> = (0..REQUESTS * 10).map(|t| (t, t as f64)).collect();
        for x in &series {
            assert_eq!(
                other.samples(x.id, 0, i64::MAX, 10_000).await.unwrap(),
                want
            );
        }
        let total = (REQUESTS * 80) as u64;
        assert_eq!(p.counters.samples_in.load(Ordering::Relaxed), total);
        // Each request queued for detection once.
        assert_eq!(p.queue_depth(), REQUESTS as usize);
        other.close().await;
        s.close().await;
    }

    /// A Prometheus HA pair: the same series from replicas `a` and `b` of cluster `eu`.
    fn replica_body(replica: &str, samples: &[(i64, f64)]) -> Vec<u8> {
        let labels = [
            ("__name__", "cpu_usage"),
            ("__replica__", replica),
            ("cluster", "eu"),
            ("service", "api"),
        ];
        encode(&WriteRequest {
            timeseries: vec![entry(&labels, samples), entry(MEM, samples)],
            metadata: Vec::new(),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn an_ha_pair_is_stored_once_from_its_elected_replica_until_it_fails_over() {
        use aiops_service::ha::HaConfig;
        use aiops_service::ingest_api::ingest_remote_write;
        let s = store().await;
        let cfg = MetricsConfig {
            ha: Some(HaConfig::default()),
            ..config()
        };
        let p = MetricPipeline::new(s.clone(), cfg).await.unwrap();
        let write = |replica: &'static str, samples: &'static [(i64, f64)], now: i64| {
            let p = p.clone();
            async move {
                ingest_remote_write(&p, &replica_body(replica, samples), 1 << 20, now)
                    .await
                    .unwrap()
            }
        };
        // a is heard first and elected: stored without its replica label.
        let sum = write("a", &[(1_000, 1.0), (16_000, 2.0)], 100_000).await;
        assert_eq!((sum.samples, sum.standby_samples), (4, 0));
        // b's copy of the same series is acknowledged, not stored.
        let sum = write("b", &[(1_500, 9.0), (16_500, 9.0)], 101_000).await;
        assert_eq!((sum.samples, sum.standby_samples), (0, 4));
        let series = s.all_series().await.unwrap();
        assert_eq!(series.len(), 2, "{series:?}");
        let cpu = series.iter().find(|x| x.metric == "cpu_usage").unwrap();
        assert!(
            !cpu.key.contains("__replica__") && cpu.key.contains("cluster"),
            "{}",
            cpu.key
        );
        assert_eq!(
            s.samples(cpu.id, 0, i64::MAX, 10).await.unwrap(),
            vec![(1_000, 1.0), (16_000, 2.0)]
        );
        // a goes silent: 30 s after its last request b takes over, into the same series.
        assert_eq!(
            write("b", &[(31_500, 9.0)], 129_999).await.standby_samples,
            2
        );
        let sum = write("b", &[(46_500, 3.0)], 130_000).await;
        assert_eq!((sum.samples, sum.standby_samples), (2, 0));
        assert_eq!(s.all_series().await.unwrap().len(), 2);
        assert_eq!(
            s.samples(cpu.id, 0, i64::MAX, 10).await.unwrap(),
            vec![(1_000, 1.0), (16_000, 2.0), (46_500, 3.0)]
        );
        let ha = p.ha().unwrap();
        assert_eq!((ha.standby_samples(), ha.failovers()), (6, 1));
        // Requests without the replica label are stored as they are.
        let plain = encode(&WriteRequest {
            timeseries: vec![entry(MEM, &[(60_000, 4.0)])],
            metadata: Vec::new(),
        })
        .unwrap();
        let sum = ingest_remote_write(&p, &plain, 1 << 20, 200_000)
            .await
            .unwrap();
        assert_eq!((sum.samples, sum.standby_samples), (1, 0));
    }

    #[tokio::test]
    async fn an_invalid_entry_is_refused_with_its_index_and_nothing_is_stored() {
        let s = store().await;
        let p = MetricPipeline::new(s.clone(), config()).await.unwrap();
        let body = raw(vec![
            entry(CPU, &[(1000, 1.0)]),
            entry(&[("service", "api")], &[(1000, 1.0)]),
        ]);
        let e = p
            .ingest_remote_write(&WriteRequestView::parse(&body).unwrap(), 0)
            .await
            .unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("1"), "{e}");
        assert!(s.all_series().await.unwrap().is_empty());
        assert!(s.samples_after_states().await.unwrap().is_empty());
    }
}

/// A counter: scored by its per-second increase, a drop read as a reset.
fn counter_config() -> MetricsConfig {
    MetricsConfig {
        detectors: vec![DetectorRule {
            metric: "requests_total".into(),
            detector: "threshold".into(),
            params: serde_json::from_str(r#"{"upper": 0.5}"#).unwrap(),
        }],
        ..Default::default()
    }
}

async fn run_counter(store: &Store, samples: Vec<(i64, f64)>) -> Arc<MetricPipeline> {
    let p = MetricPipeline::new(store.clone(), counter_config())
        .await
        .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(p.clone().run(async move {
        let _ = stopped.await;
    }));
    let labels =
        Labels::try_from_pairs([("__name__", "requests_total"), ("service", "api")]).unwrap();
    p.ingest(
        vec![SeriesSamples {
            labels,
            metric: "requests_total".into(),
            resource: None,
            samples,
        }],
        0,
    )
    .await
    .unwrap();
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    p
}

async fn anomaly_values(store: &Store) -> Vec<(i64, f64)> {
    let (_, rows) = store
        .anomalies(&AnomalyFilter::default(), 100)
        .await
        .unwrap();
    let mut v: Vec<_> = rows
        .iter()
        .map(|a| (a.anomaly.t, a.anomaly.value))
        .collect();
    v.sort_by_key(|p| p.0);
    v
}

#[tokio::test]
async fn counters_are_scored_by_their_rate_and_a_restart_continues_it() {
    // 1 a second, 1 a second, then a reset to 5: 5 over 15 s.
    let samples = vec![(0, 100.0), (15_000, 115.0), (30_000, 130.0), (45_000, 5.0)];
    let one = store().await;
    let p = run_counter(&one, samples.clone()).await;
    // The raw values (100 and up) are all above 0.5; the rates 1, 1 and 1/3 are not.
    assert_eq!(anomaly_values(&one).await, [(15_000, 1.0), (30_000, 1.0)]);
    assert_eq!(
        p.counters
            .samples_scored
            .load(std::sync::atomic::Ordering::Relaxed),
        4
    );
    // Two processes, one after the other: the second continues from the stored 115.
    let two = store().await;
    run_counter(&two, samples[..2].to_vec()).await;
    run_counter(&two, samples[2..].to_vec()).await;
    assert_eq!(anomaly_values(&two).await, anomaly_values(&one).await);
}
