//! The seed's pipeline over a real NATS JetStream (Debian `nats-server`, on 127.0.0.1):
//! metric and log records published to subjects are consumed by `aiops serve` into its
//! pipelines, and the anomaly it detects is published back to a subject. Skipped, with a
//! message, when `nats-server` is not installed (`AIOPS_REQUIRE_NATS=1` makes that a failure).

mod common;
#[path = "../../aiops-integrations/tests/common/mod.rs"]
mod daemons;

use std::time::{Duration, Instant};

use aiops_core::Labels;
use aiops_integrations::bus::{BusConsumer, BusProducer, LogRecord, MetricRecord, encode};
use aiops_integrations::nats::{NatsBus, NatsParams};
use common::server::{Server, eventually, json_of, spiky_samples, token};
use serde_json::Value;

#[test]
fn metrics_and_logs_from_nats_in_anomalies_out() {
    let Some(binary) = daemons::nats_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = daemons::free_port();
    let _nats = daemons::start_nats(&binary, dir.path(), port);
    let url = format!("nats://127.0.0.1:{port}");
    let config = format!(
        r#"integrations:
  metrics-in: {{type: nats, urls: ["{url}"], stream: AIOPS, subjects: ["aiops.>"], create_stream: true, durable: aiops-metrics, filter_subject: aiops.metrics}}
  logs-in: {{type: nats, urls: ["{url}"], stream: AIOPS, subjects: ["aiops.>"], create_stream: true, durable: aiops-logs, filter_subject: aiops.logs}}
  out: {{type: nats, urls: ["{url}"], stream: AIOPS, subjects: ["aiops.>"], create_stream: true}}
bus:
  metrics: metrics-in
  logs: logs-in
  anomalies: {{integration: out, topic: aiops.anomalies}}
"#
    );
    let viewer = token(dir.path(), "viewer", "reader");
    let aiops = Server::start(dir.path(), &config);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut params = NatsParams::new(url.clone(), "AIOPS");
    params.subjects = vec!["aiops.>".into()];
    params.durable = Some("test-reader".into());
    params.filter_subject = Some("aiops.anomalies".into());
    let valid = params.validate().unwrap();
    rt.block_on(async {
        let bus = NatsBus::connect(&valid).await.unwrap();
        let labels =
            Labels::try_from_pairs([("__name__", "latency_ms"), ("service", "checkout")]).unwrap();
        for (t, v) in spiky_samples(0..200) {
            let r = MetricRecord {
                labels: labels.clone(),
                timestamp: t,
                value: v,
            };
            bus.publish("aiops.metrics", Some(b"checkout"), &encode(&r))
                .await
                .unwrap();
        }
        // Not a record: skipped and counted, never blocking the subject.
        bus.publish("aiops.metrics", None, b"{not json")
            .await
            .unwrap();
        let log_labels: std::collections::BTreeMap<String, String> =
            [("service".to_string(), "checkout".to_string())].into();
        for i in 0..20 {
            let r = LogRecord {
                labels: log_labels.clone(),
                timestamp: common::server::now_ms() - 60_000 + i * 1_000,
                line: format!("order {i} placed in {i} ms"),
            };
            bus.publish("aiops.logs", None, &encode(&r)).await.unwrap();
        }
    });

    // The metrics reached the store and the spike was found.
    let anomalies = eventually(|| {
        let (status, v) = json_of(aiops.get("/api/v1/anomalies?limit=10", &viewer));
        assert_eq!(status, 200, "{v}");
        let list = v["anomalies"].as_array().cloned().unwrap_or_default();
        (!list.is_empty()).then_some(list)
    });
    assert!(
        anomalies
            .iter()
            .any(|a| a.to_string().contains("checkout") && a.to_string().contains("latency_ms")),
        "{anomalies:?}"
    );
    // Counted per resource on /metrics (what the Grafana dashboards' anomaly panel reads).
    let metrics = aiops.get("/metrics", &viewer).text().unwrap();
    assert!(
        metrics.contains("aiops_anomalies_by_resource_total{resource=\"checkout\"}"),
        "{metrics}"
    );
    // The message that was not a record is counted.
    let rejected = eventually(|| {
        let text = aiops.get("/metrics", &viewer).text().unwrap();
        text.lines()
            .find(|l| l.starts_with("aiops_bus_rejected_total "))
            .map(str::to_string)
            .filter(|l| l.ends_with(" 1"))
    });
    assert_eq!(rejected, "aiops_bus_rejected_total 1");
    // The logs reached the log store.
    let lines = eventually(|| {
        let (_, v) = json_of(aiops.get("/api/v1/logs?limit=100", &viewer));
        let n = v["lines"].as_array().map_or(0, Vec::len);
        (n == 20).then_some(v)
    });
    assert!(lines.to_string().contains("order 19 placed"), "{lines}");

    // The anomaly was published to the bus.
    rt.block_on(async {
        let bus = NatsBus::connect(&valid).await.unwrap();
        let consumer = bus.consumer().await.unwrap();
        let started = Instant::now();
        loop {
            let batch = consumer
                .next_batch(aiops_core::time::Duration::from_secs(2))
                .await
                .unwrap();
            if let Some(m) = batch.messages().first() {
                let v: Value = serde_json::from_slice(&m.payload).unwrap();
                assert_eq!(v["anomaly"]["resource"], "checkout", "{v}");
                assert_eq!(m.key.as_deref(), Some(&b"checkout"[..]));
                consumer.commit(batch).await.unwrap();
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no anomaly published"
            );
        }
    });
    assert!(aiops.stop());
}
