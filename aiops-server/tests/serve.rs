//! `aiops serve` as a process on loopback: authentication and roles, errors, remote_write
//! ingest to anomalies, restart with the detector state resumed, and `kill -9` losing nothing
//! acknowledged.

mod common;

use std::time::{Duration, Instant};

use aiops_store::{Store, StoreOptions};
use common::server::{Server, T0, eventually, json_of, spiky_samples, token, write_request};
use serde_json::{Value, json};

const CONFIG: &str = "metrics:\n  detectors:\n    - metric: 'cpu*'\n      detector: zscore\n      params: {window: 30}\nlimits:\n  max_body_bytes: 200000\n";

fn metric_value(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

#[test]
fn callers_are_authenticated_and_roles_enforced_before_the_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let viewer = token(dir.path(), "viewer", "v");
    let ingest = token(dir.path(), "ingest", "prom");
    let s = Server::start(dir.path(), CONFIG);
    let http = &s.http;
    // Health and readiness need no token.
    let (status, body) = json_of(http.get(format!("{}/api/v1/health", s.url)).send().unwrap());
    assert_eq!((status, body["status"].as_str()), (200, Some("healthy")));
    // No token, a bad token: 401 with a challenge.
    let r = http
        .get(format!("{}/api/v1/anomalies", s.url))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let (status, body) = json_of(s.get(
        "/api/v1/anomalies",
        "aiops_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_token"))
    );
    // A viewer may not write samples, whatever the body; the ingest role may not read.
    let r = http
        .post(format!("{}/api/v1/write", s.url))
        .bearer_auth(&viewer)
        .body("garbage")
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let (status, body) = json_of(s.get("/api/v1/anomalies", &ingest));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    assert_eq!(s.get("/api/v1/anomalies", &viewer).status(), 200);
    assert_eq!(s.get("/metrics", &ingest).status(), 403);
}

#[test]
fn bad_input_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let admin = token(dir.path(), "admin", "a");
    let s = Server::start(dir.path(), CONFIG);
    let post = |ctype: &str, body: Vec<u8>| {
        json_of(
            s.http
                .post(format!("{}/api/v1/write", s.url))
                .bearer_auth(&admin)
                .header("Content-Type", ctype)
                .body(body)
                .send()
                .unwrap(),
        )
    };
    let (status, body) = post("application/json", b"{}".to_vec());
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let (status, body) = post("application/x-protobuf", b"garbage".to_vec());
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("snappy"),
        "{body}"
    );
    let (status, body) = post("application/x-protobuf", vec![0u8; 300_000]);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("too_large"))
    );
    // Invalid JSON, an unknown field, a bad parameter, an unknown route.
    let r = s
        .http
        .post(format!("{}/api/v1/ingest/points", s.url))
        .bearer_auth(&admin)
        .header("Content-Type", "application/json")
        .body("{")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let (status, body) = json_of(s.post_json(
        "/api/v1/ingest/points",
        &admin,
        &json!({"points": [], "extra": 1}),
    ));
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("extra"),
        "{body}"
    );
    let (status, body) = json_of(s.get("/api/v1/anomalies?severity=urgent", &admin));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    assert_eq!(s.get("/api/v1/anomalies?bogus=1", &admin).status(), 400);
    assert_eq!(s.get("/api/v1/nothing", &admin).status(), 404);
    assert_eq!(s.get("/api/v1/anomalies/999", &admin).status(), 404);
}

#[test]
fn remote_write_samples_become_anomalies_and_a_restart_resumes_detection() {
    let dir = tempfile::tempdir().unwrap();
    let admin = token(dir.path(), "admin", "a");
    let prom = token(dir.path(), "ingest", "prom");
    let s = Server::start(dir.path(), CONFIG);
    for chunk in [0..50, 50..100, 100..160] {
        let r = s.remote_write(
            &prom,
            &write_request("cpu_usage", "api", &spiky_samples(chunk)),
        );
        assert_eq!(r.status(), 204);
    }
    let list = eventually(|| {
        let (_, b) = json_of(s.get("/api/v1/anomalies?resource=api", &admin));
        (b["total"].as_u64() >= Some(1)).then_some(b)
    });
    let spike = list["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["value"] == 90.0)
        .expect("the spike is an anomaly")
        .clone();
    assert_eq!(spike["metric"], "cpu_usage");
    assert_eq!(spike["detector"], "zscore");
    let id = spike["anomaly_id"].as_str().unwrap();
    let (status, detail) =
        json_of(s.get(&format!("/api/v1/anomalies/{id}?window_minutes=5"), &admin));
    assert_eq!(status, 200);
    assert_eq!(detail["timeline"].as_array().unwrap().len(), 10, "{detail}");
    assert!(s.stop(), "graceful stop");

    // Restarted: the state is restored, nothing is replayed, new samples are scored.
    let s = Server::start(dir.path(), CONFIG);
    let (_, again) = json_of(s.get("/api/v1/anomalies?resource=api", &admin));
    assert_eq!(again["total"], list["total"]);
    assert_eq!(
        s.remote_write(
            &prom,
            &write_request("cpu_usage", "api", &spiky_samples(160..200))
        )
        .status(),
        204
    );
    let scored = eventually(|| {
        let text = s.get("/metrics", &admin).text().unwrap();
        let n = metric_value(&text, "aiops_detector_samples_total");
        (n >= 40.0).then_some(n)
    });
    assert_eq!(
        scored, 40.0,
        "only the new samples are scored after a restart"
    );
    // One series: one entry in each per-series map (operators watch these under churn).
    let text = s.get("/metrics", &admin).text().unwrap();
    for map in ["cache", "keys", "infos"] {
        let name = format!("aiops_series_cache_entries{{map=\"{map}\"}}");
        assert_eq!(metric_value(&text, &name), 1.0, "{name}: {text}");
    }
    assert_eq!(metric_value(&text, "aiops_series_active"), 1.0, "{text}");
}

#[test]
fn kill_9_during_ingest_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let prom = token(dir.path(), "ingest", "prom");
    let s = Server::start(dir.path(), CONFIG);
    let mut acknowledged = 0usize;
    let mut i = 0i64;
    let started = Instant::now();
    // Sustained ingest from a second thread; kill -9 in the middle of it.
    let url = s.url.clone();
    let prom2 = prom.clone();
    let sender = std::thread::spawn(move || {
        let http = reqwest::blocking::Client::new();
        let mut acked = Vec::new();
        for k in 0..400i64 {
            let pts: Vec<(i64, f64)> = (0..50)
                .map(|j| (*T0 + (k * 50 + j) * 1000, (j % 7) as f64))
                .collect();
            let body =
                aiops_integrations::remote_write::encode(&write_request("cpu_load", "db", &pts))
                    .unwrap();
            match http
                .post(format!("{url}/api/v1/write"))
                .bearer_auth(&prom2)
                .header("Content-Type", "application/x-protobuf")
                .header("Content-Encoding", "snappy")
                .body(body)
                .send()
            {
                Ok(r) if r.status() == 204 => acked.push(pts.len()),
                _ => break,
            }
        }
        acked
    });
    while i < 20 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
        i += 1;
    }
    s.kill9();
    for n in sender.join().unwrap() {
        acknowledged += n;
    }
    assert!(
        acknowledged > 0,
        "some batches were acknowledged before the kill"
    );
    // Restart, let it replay, stop it cleanly, and count what the store holds.
    let s = Server::start(dir.path(), CONFIG);
    assert!(s.stop());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = Store::open_dir(&dir.path().join("data"), &StoreOptions::default())
            .await
            .unwrap();
        let series = store.all_series().await.unwrap();
        assert_eq!(series.len(), 1);
        let stored = store
            .samples(series[0].id, 0, i64::MAX, usize::MAX / 2)
            .await
            .unwrap();
        assert!(
            stored.len() >= acknowledged,
            "stored {} < acknowledged {acknowledged}",
            stored.len()
        );
        // Every stored sample was scored: the saved state has seen the last one.
        assert!(store.samples_after_states().await.unwrap().is_empty());
        assert_eq!(series[0].state_t, stored.last().map(|p| p.0));
    });
}

#[test]
fn alerts_become_incidents_operators_act_on_them_and_the_audit_log_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let admin = token(dir.path(), "admin", "root");
    let operator = token(dir.path(), "operator", "alice");
    let viewer = token(dir.path(), "viewer", "bob");
    let prom = token(dir.path(), "ingest", "prom");
    let s = Server::start(dir.path(), CONFIG);
    let now = chrono_now();
    let alerts = json!([
        {"labels": {"alertname": "HighLatency", "service": "api", "severity": "critical"},
         "annotations": {"summary": "p99 over 2s, paged alice@example.com"}, "startsAt": now, "generatorURL": "http://prom/graph"},
        {"labels": {"alertname": "HighErrors", "service": "api", "severity": "high"}, "startsAt": now}
    ]);
    // What a Prometheus `alerting.alertmanagers` target does.
    assert_eq!(s.post_json("/api/v2/alerts", &prom, &alerts).status(), 200);
    // Resent: deduplicated, no second incident.
    assert_eq!(s.post_json("/api/v2/alerts", &prom, &alerts).status(), 200);
    let (_, list) = json_of(s.get("/api/v1/alerts?status=firing", &viewer));
    assert_eq!(list["total"], 2, "{list}");
    let (_, incidents) = json_of(s.get("/api/v1/incidents", &viewer));
    assert_eq!(incidents["total"], 1, "{incidents}");
    let inc = incidents["incidents"][0]["incident_id"]
        .as_str()
        .or(incidents["incidents"][0]["id"].as_str())
        .unwrap()
        .to_string();
    let (status, detail) = json_of(s.get(&format!("/api/v1/incidents/{inc}"), &viewer));
    assert_eq!(status, 200);
    assert_eq!(detail["alerts"].as_array().unwrap().len(), 2, "{detail}");
    // Personal data is masked before it is stored.
    let summary = list["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|a| a["annotations"]["summary"].as_str())
        .unwrap()
        .to_string();
    assert!(!summary.contains("alice@example.com"), "{summary}");
    // Alertmanager-shaped reads.
    let (_, v2) = json_of(s.get("/api/v2/alerts", &viewer));
    assert_eq!(v2.as_array().unwrap().len(), 2);
    assert_eq!(v2[0]["status"]["state"], "active");
    assert_eq!(
        json_of(s.get("/api/v2/status", &viewer)).1["cluster"]["status"],
        "disabled"
    );
    // Like Alertmanager, a missing startsAt is the time of receipt.
    let (status, body) = json_of(s.post_json(
        "/api/v2/alerts",
        &prom,
        &json!([{"labels": {"alertname": "NoStart", "service": "web"}}]),
    ));
    assert_eq!(status, 200, "{body}");
    // A viewer may not acknowledge; an operator may.
    let fp = list["alerts"][0]["alert_id"].as_str().unwrap().to_string();
    assert_eq!(
        s.post_json(
            &format!("/api/v1/alerts/{fp}/acknowledge"),
            &viewer,
            &json!({})
        )
        .status(),
        403
    );
    let (status, ack) = json_of(s.post_json(
        &format!("/api/v1/alerts/{fp}/acknowledge"),
        &operator,
        &json!({"comment": "looking"}),
    ));
    assert_eq!(
        (status, ack["status"].as_str()),
        (200, Some("acknowledged")),
        "{ack}"
    );
    let (status, res) = json_of(s.post_json(
        &format!("/api/v1/alerts/{fp}/resolve"),
        &operator,
        &json!({"resolution": "rolled back"}),
    ));
    assert_eq!(
        (status, res["status"].as_str()),
        (200, Some("resolved")),
        "{res}"
    );
    assert_eq!(
        s.post_json(
            "/api/v1/alerts/ffffffffffffffff/resolve",
            &operator,
            &json!({"resolution": "x"})
        )
        .status(),
        404
    );
    // The service's own metrics count them.
    let text = s.get("/metrics", &admin).text().unwrap();
    assert!(
        metric_value(&text, "aiops_alerts_received_total") >= 4.0,
        "{text}"
    );
    assert!(
        metric_value(&text, "aiops_incidents_opened_total") >= 1.0,
        "{text}"
    );
    // The incidents held in memory: the open ones; resolved ones only within a call.
    for gauge in [
        "aiops_incidents_in_memory{state=\"open\"}",
        "aiops_incident_states_in_memory",
        "aiops_correlation_waiting_alerts",
    ] {
        assert!(metric_value(&text, gauge) >= 0.0, "{gauge}: {text}");
    }
    assert_eq!(
        metric_value(&text, "aiops_incidents_in_memory{state=\"closed\"}"),
        0.0,
        "{text}"
    );
    // The audit log: admins only; it holds the refusal and both actions.
    assert_eq!(s.get("/api/v1/audit", &operator).status(), 403);
    let (_, audit) = json_of(s.get("/api/v1/audit", &admin));
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"alert.acknowledge") && actions.contains(&"alert.resolve"),
        "{actions:?}"
    );
    assert!(actions.contains(&"authorize"), "{actions:?}");
    // The webhook of a real Alertmanager (version 4).
    let hook = json!({"version": "4", "status": "firing", "receiver": "aiops", "groupKey": "{}:{}",
        "alerts": [{"status": "firing", "labels": {"alertname": "DiskFull", "service": "db"}, "annotations": {},
                    "startsAt": now, "endsAt": "0001-01-01T00:00:00Z", "generatorURL": ""}]});
    let (status, body) = json_of(s.post_json("/api/v1/alerts/webhook", &prom, &hook));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        json_of(s.get("/api/v1/alerts?status=firing", &viewer)).1["total"],
        3
    );
}

/// Now as RFC 3339 (UTC), for alert times.
fn chrono_now() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    aiops_core::time::format_rfc3339(ms)
}

#[test]
fn cors_only_for_listed_origins_and_a_rate_limit_per_token() {
    let dir = tempfile::tempdir().unwrap();
    let viewer = token(dir.path(), "viewer", "v");
    let other = token(dir.path(), "viewer", "w");
    let s = Server::start(
        dir.path(),
        "cors:\n  origins: ['https://console.example.com']\nlimits:\n  requests_per_second: 2\n",
    );
    let preflight = |origin: &str| {
        s.http
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/v1/anomalies", s.url),
            )
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "authorization")
            .send()
            .unwrap()
    };
    let ok = preflight("https://console.example.com");
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://console.example.com"
    );
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    assert!(
        preflight("https://evil.example")
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // Bursts of twice the rate pass; then 429 with Retry-After, for that token only.
    let limited = (0..50)
        .map(|_| s.get("/api/v1/anomalies", &viewer))
        .find(|r| r.status() == 429)
        .expect("429 within 50 quick requests at 2/s");
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(s.get("/api/v1/anomalies", &other).status(), 200);
}

#[test]
fn the_openapi_document_lists_every_endpoint_and_the_docs_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), CONFIG);
    let doc: Value = s
        .http
        .get(format!("{}/api/openapi.json", s.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/health",
        "/-/ready",
        "/metrics",
        "/api/v1/write",
        "/api/v1/ingest/points",
        "/api/v1/anomalies/detect",
        "/api/v1/anomalies",
        "/api/v1/anomalies/{id}",
        "/api/v2/alerts",
        "/api/v2/status",
        "/api/v1/alerts/webhook",
        "/api/v1/alerts",
        "/api/v1/alerts/{id}/acknowledge",
        "/api/v1/alerts/{id}/resolve",
        "/api/v1/incidents",
        "/api/v1/incidents/{id}",
        "/api/v1/audit",
        "/api/v1/rca/analyze",
        "/api/v1/rca/{id}",
        "/api/v1/capacity/forecast",
        "/api/v1/capacity/recommendations",
        "/ws/alerts",
        "/ws/metrics/{resource}",
        "/api/v1/alert-rules",
        "/api/v1/alert-rules/{id}",
        "/api/v1/topology",
        "/api/v1/topology/{id}/dependencies",
        "/api/v1/knowledge/runbooks",
        "/api/v1/knowledge/search",
        "/api/v1/events",
        "/api/v1/integrations",
        "/api/v1/integrations/{name}/dashboards",
        "/api/v1/workflows",
        "/api/v1/workflows/{id}",
        "/api/v1/workflows/{id}/run",
        "/api/v1/workflows/{id}/runs",
        "/api/v1/workflow-runs/{run_id}",
        "/api/v1/remediation/execute",
        "/api/v1/remediation/{execution_id}",
        "/api/v1/session",
    ] {
        assert!(
            paths.contains_key(p),
            "{p} missing from the OpenAPI document"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let session = &doc["components"]["securitySchemes"]["session"];
    assert_eq!(
        (session["in"].as_str(), session["name"].as_str()),
        (Some("cookie"), Some("aiops_session"))
    );
    for method in ["get", "post", "delete"] {
        assert!(
            doc["paths"]["/api/v1/session"][method].is_object(),
            "{method} /api/v1/session"
        );
    }
    assert_eq!(
        s.http
            .get(format!("{}/api/docs/", s.url))
            .send()
            .unwrap()
            .status(),
        200
    );
}
