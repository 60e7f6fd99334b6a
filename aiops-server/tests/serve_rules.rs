//! `aiops serve` as a process: alert rules (CRUD, validation, roles, audit, a rule firing
//! into `GET /api/v1/alerts` from ingested points), the topology, the knowledge base and
//! events.

mod common;

use common::server::{Server, eventually, json_of, now_ms, token};
use serde_json::{Value, json};

const CONFIG: &str = "rules:\n  eval_interval_s: 1\n";

fn send(
    s: &Server,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut r = s
        .http
        .request(method, format!("{}{path}", s.url))
        .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(b);
    }
    json_of(r.send().unwrap())
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or("")
}

#[test]
fn alert_rules_crud_validation_roles_audit_and_firing() {
    let dir = tempfile::tempdir().unwrap();
    let admin = token(dir.path(), "admin", "a");
    let viewer = token(dir.path(), "viewer", "v");
    let prom = token(dir.path(), "ingest", "prom");
    let s = Server::start(dir.path(), CONFIG);
    let rule = json!({
        "name": "checkout-cpu",
        "condition": {"type": "threshold", "metric": "cpu_usage", "selector": {"service": "checkout"}, "op": ">", "value": 90, "for": "1s"},
        "severity": "critical",
        "notification_channels": ["slack-ops"],
    });
    // A viewer may read rules but not write them, whatever the body.
    let r = s
        .http
        .post(format!("{}/api/v1/alert-rules", s.url))
        .bearer_auth(&viewer)
        .body("garbage")
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(s.get("/api/v1/alert-rules", &viewer).status(), 200);
    assert_eq!(s.get("/api/v1/alert-rules", &prom).status(), 403);
    // Bad conditions, severities and keys: 400 naming the field.
    for (change, field) in [
        (json!({"op": "=>"}), "condition.op"),
        (json!({"bogus": 1}), "condition.bogus"),
        (json!({"for": "later"}), "condition.for"),
        (json!({"type": "forecast"}), "condition.type"),
    ] {
        let mut bad = rule.clone();
        for (k, v) in change.as_object().unwrap() {
            bad["condition"][k] = v.clone();
        }
        let (status, body) = json_of(s.post_json("/api/v1/alert-rules", &admin, &bad));
        assert_eq!(status, 400, "{body}");
        assert!(message(&body).contains(field), "{field}: {body}");
    }
    let mut bad = rule.clone();
    bad["severity"] = json!("urgent");
    let (status, body) = json_of(s.post_json("/api/v1/alert-rules", &admin, &bad));
    assert_eq!(status, 400);
    assert!(message(&body).contains("severity"), "{body}");
    let mut bad = rule.clone();
    bad["extra"] = json!(1);
    let (status, body) = json_of(s.post_json("/api/v1/alert-rules", &admin, &bad));
    assert_eq!(status, 400);
    assert!(message(&body).contains("extra"), "{body}");

    // Create, read, list, update.
    let (status, created) = json_of(s.post_json("/api/v1/alert-rules", &admin, &rule));
    assert_eq!(status, 201, "{created}");
    let id = created["rule_id"].as_str().unwrap().to_string();
    assert_eq!(created["name"], "checkout-cpu");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["condition"]["op"], ">");
    assert!(created["created_at"].is_string() && created["updated_at"].is_string());
    let (status, body) = json_of(s.post_json("/api/v1/alert-rules", &admin, &rule));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    let (status, got) = json_of(s.get(&format!("/api/v1/alert-rules/{id}"), &viewer));
    assert_eq!((status, &got), (200, &created));
    let (_, list) = json_of(s.get("/api/v1/alert-rules", &viewer));
    assert_eq!(list["rules"], json!([created]));
    let mut changed = rule.clone();
    changed["notification_channels"] = json!(["slack-ops", "pagerduty"]);
    let (status, updated) = send(
        &s,
        reqwest::Method::PUT,
        &format!("/api/v1/alert-rules/{id}"),
        &admin,
        Some(&changed),
    );
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        updated["notification_channels"],
        json!(["slack-ops", "pagerduty"])
    );
    let (status, _) = send(
        &s,
        reqwest::Method::PUT,
        &format!("/api/v1/alert-rules/{id}"),
        &viewer,
        Some(&changed),
    );
    assert_eq!(status, 403);
    assert_eq!(s.get("/api/v1/alert-rules/rule-nope", &admin).status(), 404);
    // Audited with before and after.
    let (_, audit) = json_of(s.get("/api/v1/audit?kind=config_change", &admin));
    let entries = audit["entries"].as_array().unwrap();
    let update = entries
        .iter()
        .find(|e| e["action"] == "rule.update")
        .expect("rule.update audited");
    assert_eq!(update["target"], format!("rule/{id}"));
    assert_eq!(
        update["detail"]["before"]["notification_channels"],
        json!(["slack-ops"])
    );
    assert_eq!(
        update["detail"]["after"]["notification_channels"],
        json!(["slack-ops", "pagerduty"])
    );
    assert!(entries.iter().any(|e| e["action"] == "rule.create"));

    // Points over the threshold: the rule fires into the alerts after its `for`.
    let t = now_ms();
    let point = |t: i64, v: f64| json!({"points": [{"metric": "cpu_usage", "labels": {"service": "checkout"}, "timestamp": t, "value": v}]});
    let (status, body) = json_of(s.post_json("/api/v1/ingest/points", &prom, &point(t, 97.0)));
    assert_eq!(status, 200, "{body}");
    let alert = eventually(|| {
        let (_, body) = json_of(s.get("/api/v1/alerts?status=firing", &viewer));
        body["alerts"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|a| a["labels"]["alertname"] == "checkout-cpu")
            })
            .cloned()
    });
    assert_eq!(alert["labels"]["service"], "checkout");
    assert_eq!(alert["labels"]["severity"], "critical");
    assert_eq!(alert["source"], "rule:checkout-cpu");
    assert_eq!(alert["annotations"]["rule_id"], id);
    assert_eq!(
        alert["annotations"]["notification_channels"],
        "slack-ops,pagerduty"
    );
    // Back to normal: resolved.
    let (status, _) = json_of(s.post_json("/api/v1/ingest/points", &prom, &point(t + 1_000, 20.0)));
    assert_eq!(status, 200);
    eventually(|| {
        let (_, body) = json_of(s.get("/api/v1/alerts?status=resolved", &viewer));
        body["alerts"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|a| a["labels"]["alertname"] == "checkout-cpu")
            })
            .cloned()
    });

    // Delete.
    let (status, _) = send(
        &s,
        reqwest::Method::DELETE,
        &format!("/api/v1/alert-rules/{id}"),
        &viewer,
        None,
    );
    assert_eq!(status, 403);
    let r = s
        .http
        .delete(format!("{}/api/v1/alert-rules/{id}", s.url))
        .bearer_auth(&admin)
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        s.get(&format!("/api/v1/alert-rules/{id}"), &admin).status(),
        404
    );
    let (_, list) = json_of(s.get("/api/v1/alert-rules", &viewer));
    assert_eq!(list["rules"], json!([]));
    assert!(s.stop());
}

#[test]
fn topology_knowledge_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let admin = token(dir.path(), "admin", "a");
    let operator = token(dir.path(), "operator", "o");
    let viewer = token(dir.path(), "viewer", "v");
    let ci = token(dir.path(), "ingest", "ci");
    let books = dir.path().join("runbooks");
    std::fs::create_dir_all(&books).unwrap();
    std::fs::write(
        books.join("db.md"),
        "---\nid: db-cpu\nkinds: [database]\nactions: [Kill the slow query]\n---\n# Database CPU saturation\nPostgres queries pile up.\n",
    )
    .unwrap();
    let file = dir.path().join("topology.json");
    std::fs::write(&file, r#"{"nodes": [{"id": "web", "kind": "service"}]}"#).unwrap();
    let config = format!(
        "topology: {}\nrunbooks: {}\n",
        file.display(),
        books.display()
    );
    let s = Server::start(dir.path(), &config);

    // The configuration's topology until a PUT.
    let (status, body) = json_of(s.get("/api/v1/topology", &viewer));
    assert_eq!(status, 200);
    assert_eq!(body["nodes"][0]["id"], "web");
    let topology = json!({
        "nodes": [{"id": "web", "kind": "service"}, {"id": "api", "kind": "service"}, {"id": "db", "kind": "database"}],
        "edges": [{"from": "web", "to": "api", "kind": "calls"}, {"from": "api", "to": "db", "kind": "calls"}],
    });
    let put = |token: &str, body: &Value| {
        send(
            &s,
            reqwest::Method::PUT,
            "/api/v1/topology",
            token,
            Some(body),
        )
    };
    assert_eq!(put(&viewer, &topology).0, 403);
    assert_eq!(put(&operator, &topology).0, 403);
    let (status, body) = put(
        &admin,
        &json!({"nodes": [{"id": "a", "kind": "service"}], "edges": [{"from": "a", "to": "b", "kind": "calls"}]}),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = put(
        &admin,
        &json!({"nodes": [{"id": "a", "kind": "host"}, {"id": "b", "kind": "host"}],
                "edges": [{"from": "a", "to": "b", "kind": "runs_on"}, {"from": "b", "to": "a", "kind": "runs_on"}]}),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = put(&admin, &topology);
    assert_eq!((status, &body), (200, &topology));
    let (_, body) = json_of(s.get("/api/v1/topology", &viewer));
    assert_eq!(body, topology);
    let (status, deps) = json_of(s.get("/api/v1/topology/api/dependencies", &viewer));
    assert_eq!(status, 200);
    assert_eq!(
        deps,
        json!({"resource_id": "api", "upstream": ["db"], "downstream": ["web"]})
    );
    let (_, deps) = json_of(s.get(
        "/api/v1/topology/web/dependencies?direction=upstream",
        &viewer,
    ));
    assert_eq!(deps["upstream"], json!(["api", "db"]));
    assert_eq!(deps["downstream"], json!([]));
    let (status, body) = json_of(s.get(
        "/api/v1/topology/web/dependencies?direction=sideways",
        &viewer,
    ));
    assert_eq!(status, 400);
    assert!(message(&body).contains("direction"), "{body}");
    assert_eq!(
        s.get("/api/v1/topology/nope/dependencies", &viewer)
            .status(),
        404
    );
    let (_, audit) = json_of(s.get("/api/v1/audit?kind=config_change", &admin));
    let entry = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "topology.replace")
        .cloned()
        .expect("topology.replace audited");
    assert_eq!(
        entry["detail"]["before"]["nodes"].as_array().unwrap().len(),
        1
    );
    assert_eq!(entry["detail"]["after"], topology);

    // Knowledge.
    let (status, body) = json_of(s.get("/api/v1/knowledge/runbooks", &viewer));
    assert_eq!(status, 200);
    assert_eq!(body["runbooks"][0]["id"], "db-cpu");
    assert_eq!(body["runbooks"][0]["title"], "Database CPU saturation");
    let (status, body) = json_of(s.get("/api/v1/knowledge/search?query=postgres", &viewer));
    assert_eq!(status, 200);
    assert_eq!(body["results"][0]["runbook_id"], "db-cpu");
    let (_, body) = json_of(s.get("/api/v1/knowledge/search?query=kubernetes", &viewer));
    assert_eq!(body["results"], json!([]));
    for path in [
        "/api/v1/knowledge/search",
        "/api/v1/knowledge/search?query=",
    ] {
        let (status, body) = json_of(s.get(path, &viewer));
        assert_eq!(status, 400, "{path}");
        assert!(message(&body).contains("query"), "{body}");
    }
    assert_eq!(s.get("/api/v1/knowledge/runbooks", &ci).status(), 403);

    // Events: CI posts with an ingest token, readers list them.
    let event =
        json!({"source": "ci", "event_type": "deployment", "resource": "api", "version": "1.2.3"});
    assert_eq!(s.post_json("/api/v1/events", &viewer, &event).status(), 403);
    let (status, posted) = json_of(s.post_json("/api/v1/events", &ci, &event));
    assert_eq!(status, 201, "{posted}");
    assert_eq!(posted["version"], "1.2.3");
    assert!(posted["event_id"].is_string() && posted["timestamp"].is_string());
    let (status, body) = json_of(s.post_json("/api/v1/events", &ci, &json!({"event_type": "x"})));
    assert_eq!(status, 400);
    assert!(message(&body).contains("source"), "{body}");
    let (status, body) = json_of(s.get("/api/v1/events?limit=10", &viewer));
    assert_eq!(status, 200);
    assert_eq!(body["events"], json!([posted]));
    assert_eq!(
        s.get("/api/v1/events?start_time=soon", &viewer).status(),
        400
    );
    assert_eq!(s.get("/api/v1/events", &ci).status(), 403);

    // After a restart the stored topology wins over the file's.
    assert!(s.stop());
    let s = Server::start(dir.path(), &config);
    let (_, body) = json_of(s.get("/api/v1/topology", &viewer));
    assert_eq!(body, topology);
    assert!(s.stop());
}

/// A topology PUT reaches correlation at once: alerts on two services the new topology
/// connects join one incident.
#[test]
fn a_topology_put_reaches_alert_correlation() {
    let dir = tempfile::tempdir().unwrap();
    let admin = token(dir.path(), "admin", "root");
    let prom = token(dir.path(), "ingest", "prom");
    let s = Server::start(dir.path(), "{}\n");
    let topology = json!({"nodes": [{"id": "web", "kind": "service"}, {"id": "payments", "kind": "service"}],
                          "edges": [{"from": "web", "to": "payments", "kind": "calls"}]});
    let r = s
        .http
        .put(format!("{}/api/v1/topology", s.url))
        .bearer_auth(&admin)
        .json(&topology)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let at = aiops_core::time::format_rfc3339(now_ms());
    for (name, svc) in [("PaymentsDown", "payments"), ("WebErrors", "web")] {
        let a = json!([{"labels": {"alertname": name, "service": svc, "severity": "critical"}, "startsAt": at}]);
        assert_eq!(s.post_json("/api/v2/alerts", &prom, &a).status(), 200);
    }
    let (_, incidents) = json_of(s.get("/api/v1/incidents?status=open", &admin));
    assert_eq!(incidents["total"], 1, "{incidents}");
    assert_eq!(incidents["incidents"][0]["alert_count"], 2, "{incidents}");
}
