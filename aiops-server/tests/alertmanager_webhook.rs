//! A real Alertmanager (the Debian `prometheus-alertmanager` binary) with a webhook receiver
//! pointed at `aiops serve` (bearer token in its `http_config`): an alert posted to
//! Alertmanager reaches aiops as a firing alert in an incident, and its resolution follows.
//! Skipped with a message when the binary is missing (`AIOPS_REQUIRE_ALERTMANAGER=1` makes
//! that a failure; `AIOPS_ALERTMANAGER=PATH` picks another binary).

mod common;

use common::daemon::{Daemon, binary_or_skip};
use common::server::{Server, eventually, free_port, json_of, now_ms, token};
use serde_json::json;

#[test]
fn a_real_alertmanager_webhook_feeds_aiops() {
    let Some(binary) = binary_or_skip(
        "prometheus-alertmanager",
        "AIOPS_ALERTMANAGER",
        "AIOPS_REQUIRE_ALERTMANAGER",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ingest = token(dir.path(), "ingest", "alertmanager");
    let viewer = token(dir.path(), "viewer", "v");
    let aiops = Server::start(dir.path(), "{}\n");
    let port = free_port();
    let config = format!(
        "route:\n  receiver: aiops\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: aiops\n    webhook_configs:\n      - url: http://127.0.0.1:{}/api/v1/alerts/webhook\n        send_resolved: true\n        http_config:\n          authorization:\n            credentials: {ingest}\n",
        aiops.port
    );
    let cfg = dir.path().join("alertmanager.yml");
    std::fs::write(&cfg, config).unwrap();
    let args = [
        format!("--config.file={}", cfg.display()),
        format!("--storage.path={}", dir.path().join("am-data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--cluster.listen-address=".to_string(),
    ];
    let am = Daemon::start(&binary, &args, dir.path(), "alertmanager", port);
    let http = reqwest::blocking::Client::new();
    let starts = aiops_core::time::format_rfc3339(now_ms() - 60_000);
    let post = |ends: Option<String>| {
        let mut a = json!({"labels": {"alertname": "QueueBacklog", "service": "orders", "severity": "high"},
                           "annotations": {"summary": "backlog over 10k"}, "startsAt": starts});
        if let Some(e) = ends {
            a["endsAt"] = json!(e);
        }
        let r = http
            .post(format!("{}/api/v2/alerts", am.url))
            .json(&json!([a]))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{}", am.log_text());
    };
    post(None);
    let alert = eventually(|| {
        let (_, b) = json_of(aiops.get("/api/v1/alerts", &viewer));
        b["alerts"]
            .as_array()?
            .iter()
            .find(|a| a["labels"]["alertname"] == "QueueBacklog")
            .cloned()
    });
    assert_eq!(alert["status"], "firing", "{alert}");
    assert_eq!(alert["source"], "webhook", "{alert}");
    let (_, incidents) = json_of(aiops.get("/api/v1/incidents", &viewer));
    assert_eq!(incidents["total"], 1, "{incidents}");
    // Resolved at Alertmanager: the resolution reaches aiops.
    post(Some(aiops_core::time::format_rfc3339(now_ms() - 1_000)));
    eventually(|| {
        let (_, b) = json_of(aiops.get("/api/v1/alerts?status=resolved", &viewer));
        (b["total"] == 1).then_some(())
    });
    assert_eq!(
        am.counter("alertmanager_notifications_failed_total"),
        0.0,
        "{}",
        am.log_text()
    );
}
