//! The web console in a real browser: the Debian chromium, headless, driven by playwright-core
//! (`tests/console/console.test.mjs`) against `aiops serve` on loopback with data seeded
//! through the API. Skipped, with the reason printed, when node, chromium or playwright-core
//! is missing, unless `AIOPS_REQUIRE_CHROMIUM=1` (CI), which makes that a failure.
//! `scripts/install-test-services.sh` installs all three.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::server::{Server, eventually, json_of, now_ms, spiky_samples, token, write_request};
use serde_json::json;

const CONFIG: &str = "metrics:\n  detectors:\n    - metric: 'cpu*'\n      detector: zscore\n      params: {window: 30}\nalerts:\n  tick_interval_s: 1\nrca:\n  settle_s: 1\n";

fn browser() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Why the browser test cannot run here, if it cannot.
fn missing(dir: &Path) -> Option<String> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Some("node is not installed".into());
    }
    if !browser().exists() {
        return Some(format!("{} does not exist", browser().display()));
    }
    if !dir.join("node_modules/playwright-core").is_dir() {
        return Some(format!(
            "playwright-core is not installed in {} (npm install --no-save)",
            dir.display()
        ));
    }
    None
}

#[test]
fn the_console_works_in_chromium() {
    let script_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console");
    if let Some(why) = missing(&script_dir) {
        assert!(
            std::env::var("AIOPS_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
            "AIOPS_REQUIRE_CHROMIUM=1 but {why}"
        );
        eprintln!("skipping the browser test: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let operator = token(dir.path(), "operator", "alice");
    let ingest = token(dir.path(), "ingest", "prom");
    let viewer = token(dir.path(), "viewer", "bob");
    let runbooks = dir.path().join("runbooks");
    std::fs::create_dir(&runbooks).unwrap();
    std::fs::write(
        runbooks.join("api-latency.yaml"),
        "id: api-latency\ntitle: API latency\nresources: [api]\nmetrics: [latency_ms]\nactions:\n  - Check the connection pool of the api\n  - Roll back the last api deployment\n",
    )
    .unwrap();
    let s = Server::start(
        dir.path(),
        &format!("{CONFIG}runbooks: {}\n", runbooks.display()),
    );

    // An anomaly: a spike in a noisy flat series.
    for chunk in [0..80, 80..160] {
        let r = s.remote_write(
            &ingest,
            &write_request("cpu_usage", "api", &spiky_samples(chunk)),
        );
        assert_eq!(r.status(), 204);
    }
    eventually(|| {
        let (_, b) = json_of(s.get("/api/v1/anomalies?resource=api", &operator));
        (b["total"].as_u64() > Some(0)).then_some(())
    });
    // Latency of the database and the api over the last 200 minutes: the database slowed
    // first, so the incident's analysis has data and a ranking.
    let now = now_ms();
    let mut points = Vec::new();
    for (svc, delay, base) in [("db", 0, 5.0), ("api", 2, 20.0)] {
        for i in 0..200i64 {
            let noise = ((i * 7919 + base as i64) % 11) as f64 * 0.02 * base;
            let shift = if i >= 180 + delay { base * 3.0 } else { 0.0 };
            points.push(json!({"metric": "latency_ms", "labels": {"service": svc},
                "timestamp": now - (200 - i) * 60_000, "value": base + noise + shift}));
        }
    }
    let r = s.post_json(
        "/api/v1/ingest/points",
        &ingest,
        &json!({ "points": points }),
    );
    assert_eq!(r.status(), 200);
    // An incident: a firing alert.
    let started = aiops_core::time::format_rfc3339(now - 15 * 60_000);
    let alerts = json!([{"labels": {"alertname": "HighLatency", "service": "api", "severity": "high"},
        "annotations": {"summary": "p99 latency above 2 s"}, "startsAt": started}]);
    assert_eq!(
        s.post_json("/api/v2/alerts", &ingest, &alerts).status(),
        200
    );
    eventually(|| {
        let (_, b) = json_of(s.get("/api/v1/incidents?status=open", &operator));
        (b["total"].as_u64() > Some(0)).then_some(())
    });

    let o = Command::new("node")
        .arg("console.test.mjs")
        .args([&s.url, &operator, &ingest, &viewer])
        .current_dir(&script_dir)
        .env("CHROMIUM", browser())
        .output()
        .expect("run node");
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "the browser test failed:\n{out}\n{err}");
    assert!(out.contains("console test passed"), "{out}\n{err}");
    eprintln!("{out}");
}
