//! The NATS JetStream bus against a real nats-server (Debian's `nats-server`) on 127.0.0.1:
//! records published with the server's ack, consumed in batches by a durable pull consumer,
//! a consumer dropped with a batch not acknowledged (a crash), the server restarted on its
//! data, and every record received at least once by the consumer started again.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use aiops_core::Labels;
use aiops_core::time::Duration;
use aiops_integrations::bus::{
    BusConsumer, BusMessage, BusProducer, LogRecord, MetricRecord, encode,
};
use aiops_integrations::nats::{NatsBus, NatsParams};

const METRICS: u64 = 40;
const LOGS: u64 = 10;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn metric(i: u64) -> MetricRecord {
    MetricRecord {
        labels: Labels::try_from_pairs([
            ("__name__", "cpu".to_string()),
            ("host", format!("h{}", i % 4)),
        ])
        .unwrap(),
        timestamp: 1_700_000_000_000 + i as i64 * 1000,
        value: i as f64 / 10.0,
    }
}

fn log(i: u64) -> LogRecord {
    LogRecord {
        labels: BTreeMap::from([("service".to_string(), "api".to_string())]),
        timestamp: 1_700_000_000_000 + i as i64,
        line: format!("GET /item/{i} 200"),
    }
}

/// Checks a received message against what was published under its sequence.
fn check(m: &BusMessage, published: &BTreeMap<u64, (String, Vec<u8>)>) {
    let (topic, payload) = &published[&m.sequence];
    assert_eq!(&m.topic, topic);
    assert_eq!(&m.payload, payload);
    if topic.starts_with("metrics.") {
        let r = m.metric().unwrap();
        assert_eq!(
            m.key.as_deref(),
            Some(r.labels.get("host").unwrap().as_bytes())
        );
    } else {
        assert_eq!(m.log().unwrap().labels["service"], "api");
        assert_eq!(m.key, None);
    }
}

#[test]
fn at_least_once_across_a_crash_and_a_server_restart() {
    let Some(binary) = common::nats_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let server = common::start_nats(&binary, dir.path(), port);
    let rt = runtime();

    let mut params = NatsParams::new(format!("nats://127.0.0.1:{port}"), "AIOPS");
    params.subjects = vec!["metrics.>".into(), "logs.>".into()];
    params.create_stream = true;
    params.durable = Some("pipeline".into());
    params.ack_wait = Duration::from_secs(2);
    params.batch_size = 10;
    let valid = params.validate().unwrap();

    // Publish: every publish returns the stream's ack, in sequence.
    let mut published = BTreeMap::new();
    let (first, uncommitted) = rt.block_on(async {
        let bus = NatsBus::connect(&valid).await.unwrap();
        for i in 0..METRICS + LOGS {
            let (topic, key, payload) = if i < METRICS {
                let r = metric(i);
                let host = r.labels.get("host").unwrap().to_string();
                (format!("metrics.{host}"), Some(host), encode(&r))
            } else {
                ("logs.api".to_string(), None, encode(&log(i)))
            };
            let ack = bus
                .publish(&topic, key.as_deref().map(str::as_bytes), &payload)
                .await
                .unwrap();
            assert_eq!(ack.stream, "AIOPS");
            assert_eq!(ack.sequence, i + 1, "acks come in stream order");
            published.insert(ack.sequence, (topic, payload));
        }
        // A subject outside the stream has no ack: an error, not a silent loss.
        assert!(bus.publish("other.x", None, b"x").await.is_err());
        // A key that cannot be a header value is refused before sending.
        let err = bus
            .publish("metrics.x", Some(&[0xff]), b"x")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("key"), "{err}");

        // Consume: the first batch committed, the second handed out and never committed.
        let consumer = bus.consumer().await.unwrap();
        let first = consumer.next_batch(Duration::from_secs(5)).await.unwrap();
        assert_eq!(first.len(), 10);
        let first: Vec<BusMessage> = first_commit(&consumer, first).await;
        let second = consumer.next_batch(Duration::from_secs(5)).await.unwrap();
        assert_eq!(second.len(), 10);
        let uncommitted: Vec<BusMessage> = second.messages().to_vec();
        drop(second);
        drop(consumer);
        drop(bus);
        (first, uncommitted)
    });
    for m in first.iter().chain(&uncommitted) {
        check(m, &published);
        assert!(!m.redelivered);
    }

    // Restart the server on its data: the stream and the consumer's progress are kept.
    server.stop();
    let server = common::start_nats(&binary, dir.path(), port);
    params.create_stream = false;
    let valid = params.validate().unwrap();
    let seen = rt.block_on(async {
        let bus = NatsBus::connect(&valid).await.unwrap();
        let consumer = bus.consumer().await.unwrap();
        let mut seen: Vec<BusMessage> = Vec::new();
        let started = Instant::now();
        while seen.len() < (METRICS + LOGS) as usize - first.len() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "only {} record(s) came back after the restart",
                seen.len()
            );
            let batch = consumer.next_batch(Duration::from_secs(1)).await.unwrap();
            seen.extend(batch.messages().iter().cloned());
            consumer.commit(batch).await.unwrap();
        }
        // Everything committed: nothing more comes, even after the ack wait.
        let rest = consumer.next_batch(Duration::from_secs(3)).await.unwrap();
        assert!(rest.is_empty(), "{:?}", rest.messages());
        seen
    });
    drop(server);

    for m in &seen {
        check(m, &published);
    }
    let committed: BTreeSet<u64> = first.iter().map(|m| m.sequence).collect();
    let again: BTreeSet<u64> = seen.iter().map(|m| m.sequence).collect();
    assert!(
        committed.is_disjoint(&again),
        "a committed record came back"
    );
    let all: BTreeSet<u64> = committed.union(&again).copied().collect();
    assert_eq!(all, (1..=METRICS + LOGS).collect(), "a record was lost");
    assert_eq!(
        seen.len(),
        again.len(),
        "a record came twice after the restart"
    );
    // The batch handed out before the crash came again, marked as a redelivery.
    for m in &uncommitted {
        let back = seen.iter().find(|s| s.sequence == m.sequence).unwrap();
        assert!(
            back.redelivered,
            "sequence {} not marked redelivered",
            m.sequence
        );
    }
}

async fn first_commit(
    consumer: &aiops_integrations::nats::NatsConsumer,
    batch: aiops_integrations::bus::Batch,
) -> Vec<BusMessage> {
    let messages = batch.messages().to_vec();
    consumer.commit(batch).await.unwrap();
    messages
}

#[test]
fn a_missing_stream_or_server_is_an_error() {
    let Some(binary) = common::nats_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let rt = runtime();
    let mut params = NatsParams::new(format!("nats://127.0.0.1:{port}"), "NOPE");
    params.timeout = Duration::from_secs(2);
    let valid = params.validate().unwrap();
    let err = rt.block_on(NatsBus::connect(&valid)).unwrap_err();
    assert!(err.to_string().contains("127.0.0.1"), "{err}");

    let _server = common::start_nats(&binary, dir.path(), port);
    let err = rt.block_on(NatsBus::connect(&valid)).unwrap_err();
    assert!(err.to_string().contains("stream NOPE"), "{err}");

    // A durable consumer made elsewhere without acks is refused.
    params.stream = "OTHER".into();
    params.subjects = vec!["other.>".into()];
    params.create_stream = true;
    params.durable = Some("no-acks".into());
    let valid = params.validate().unwrap();
    rt.block_on(async {
        let bus = NatsBus::connect(&valid).await.unwrap();
        let client = async_nats::connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap();
        let stream = async_nats::jetstream::new(client)
            .get_stream("OTHER")
            .await
            .unwrap();
        stream
            .create_consumer(async_nats::jetstream::consumer::pull::Config {
                durable_name: Some("no-acks".into()),
                ack_policy: async_nats::jetstream::consumer::AckPolicy::None,
                ..Default::default()
            })
            .await
            .unwrap();
        let err = bus.consumer().await.unwrap_err();
        assert!(err.to_string().contains("not explicit"), "{err}");
    });
}
