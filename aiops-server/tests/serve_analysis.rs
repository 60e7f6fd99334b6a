//! `aiops serve`: root-cause analysis of an incident from stored metrics (asked for, and run
//! by itself when the incident opens), capacity forecasts, and the WebSocket push.

mod common;

use common::server::{Server, eventually, json_of, now_ms, token};
use serde_json::{Value, json};

const TOPOLOGY: &str = r#"{"nodes": [{"id": "frontend", "kind": "service"}, {"id": "api", "kind": "service"}, {"id": "db", "kind": "database"}],
 "edges": [{"from": "frontend", "to": "api", "kind": "calls"}, {"from": "api", "to": "db", "kind": "calls"}]}"#;

/// Latency of three services over 200 minutes: db slows first (20 minutes ago), api two
/// minutes later, frontend two minutes after that.
fn points(now: i64) -> Value {
    let mut pts = Vec::new();
    for (svc, delay, base) in [("db", 0, 5.0), ("api", 2, 20.0), ("frontend", 4, 50.0)] {
        for i in 0..200i64 {
            let t = now - (200 - i) * 60_000;
            let shifted = i >= 180 + delay;
            let noise = ((i * 7919 + base as i64) % 11) as f64 * 0.02 * base;
            let v = base + noise + if shifted { base * 3.0 } else { 0.0 };
            pts.push(json!({"metric": "latency_ms", "labels": {"service": svc}, "timestamp": t, "value": v}));
        }
    }
    json!({"points": pts})
}

#[test]
fn an_incident_is_analysed_on_its_own_and_on_request_and_capacity_is_forecast() {
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("topology.json");
    std::fs::write(&topo, TOPOLOGY).unwrap();
    let admin = token(dir.path(), "admin", "root");
    let operator = token(dir.path(), "operator", "alice");
    let viewer = token(dir.path(), "viewer", "bob");
    let prom = token(dir.path(), "ingest", "prom");
    let config = format!(
        "topology: {}\nrca:\n  settle_s: 1\nalerts:\n  tick_interval_s: 1\n",
        topo.display()
    );
    let s = Server::start(dir.path(), &config);
    let now = now_ms();
    let (status, r) = json_of(s.post_json("/api/v1/ingest/points", &prom, &points(now)));
    assert_eq!(status, 200, "{r}");

    // A WebSocket client sees the incident open.
    let url = s.url.replace("http://", "ws://") + "/ws/alerts";
    let mut req =
        tungstenite::client::IntoClientRequest::into_client_request(url.as_str()).unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Bearer {viewer}").parse().unwrap());
    let (mut socket, _) = tungstenite::connect(req).expect("websocket with a bearer token");
    // Without a token the upgrade is refused.
    let bare = tungstenite::client::IntoClientRequest::into_client_request(url.as_str()).unwrap();
    assert!(tungstenite::connect(bare).is_err());

    let started = aiops_core::time::format_rfc3339(now - 15 * 60_000);
    let alerts = json!([
        {"labels": {"alertname": "SlowFrontend", "service": "frontend", "severity": "high"}, "startsAt": started},
        {"labels": {"alertname": "SlowApi", "service": "api", "severity": "high"}, "startsAt": started}
    ]);
    assert_eq!(s.post_json("/api/v2/alerts", &prom, &alerts).status(), 200);
    let pushed = eventually(|| {
        let m = socket.read().ok()?;
        let v: Value = serde_json::from_str(m.to_text().ok()?).ok()?;
        (v["type"] == "incident").then_some(v)
    });
    let incident = pushed["incident_id"].as_str().unwrap().to_string();

    // Asked for: the database, which changed first, ranks first.
    assert_eq!(
        s.post_json(
            "/api/v1/rca/analyze",
            &viewer,
            &json!({"incident_id": incident})
        )
        .status(),
        403
    );
    let (status, rca) = json_of(s.post_json(
        "/api/v1/rca/analyze",
        &operator,
        &json!({"incident_id": incident, "time_window_minutes": 60}),
    ));
    assert_eq!(status, 200, "{rca}");
    assert_eq!(rca["status"], "completed", "{rca}");
    assert_eq!(rca["root_causes"][0]["resource"], "db", "{rca}");
    assert!(
        rca["impact_analysis"]["affected_services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "frontend"),
        "{rca}"
    );
    let id = rca["analysis_id"].as_str().unwrap();
    let (status, again) = json_of(s.get(&format!("/api/v1/rca/{id}"), &viewer));
    assert_eq!((status, &again["root_causes"]), (200, &rca["root_causes"]));
    let (status, _) = json_of(s.post_json(
        "/api/v1/rca/analyze",
        &operator,
        &json!({"incident_id": "inc-999"}),
    ));
    assert_eq!(status, 404);
    let (status, _) = json_of(s.post_json("/api/v1/rca/analyze", &operator, &json!({})));
    assert_eq!(status, 400);

    // On its own: the incident carries an analysis once it settled.
    let detail = eventually(|| {
        let (_, d) = json_of(s.get(&format!("/api/v1/incidents/{incident}"), &viewer));
        (d["rca"].as_array().is_some_and(|a| !a.is_empty())).then_some(d)
    });
    let auto = &detail["rca"][0];
    assert_eq!(auto["incident_id"], incident.as_str(), "{detail}");
    assert_eq!(auto["root_causes"][0]["resource"], "db", "{detail}");

    // Capacity: the frontend's latency is rising after the shift; a forecast for it.
    let (status, f) = json_of(s.post_json("/api/v1/capacity/forecast", &operator,
        &json!({"resources": ["frontend", "nobody"], "metric": "latency_ms", "forecast_hours": 2, "threshold": 500.0})));
    assert_eq!(status, 200, "{f}");
    assert!(
        !f["forecasts"][0]["predictions"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{f}"
    );
    assert!(f["forecasts"][1]["error"].is_string(), "{f}");
    let (status, recs) = json_of(s.get("/api/v1/capacity/recommendations", &admin));
    assert_eq!(
        (status, recs["recommendations"].as_array().map(Vec::len)),
        (200, Some(0))
    );
}
