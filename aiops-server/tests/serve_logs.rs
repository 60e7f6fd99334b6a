//! `aiops serve` log endpoints as a process on loopback: ingest with labels (masked, mined,
//! scored), lines, templates and anomalous windows, errors and roles.

mod common;

use common::server::{Server, eventually, json_of, token};
use serde_json::{Value, json};

const CONFIG: &str =
    "logs:\n  detector:\n    warmup_lines: 50\nlimits:\n  max_body_bytes: 200000\n";

const T0: i64 = 1_700_000_000_000;

/// 42 minutes of a steady service, 40 errors in minute 40, a mailed address in minute 0.
fn lines() -> Vec<Value> {
    let mut out = Vec::new();
    for m in 0..42i64 {
        let t = T0 + m * 60_000;
        for i in 0..4 {
            out.push(json!({"timestamp": t + i * 1000, "line": format!("request {} served in {} ms", m * 10 + i, 3 + (m + i) % 7)}));
        }
        out.push(json!({"timestamp": t + 5000, "line": format!("cache refreshed with {} entries", 100 + m)}));
        if m == 0 {
            out.push(json!({"timestamp": t + 5500, "line": "password reset mailed to alice@example.com"}));
        }
        if m == 40 {
            for i in 0..40 {
                out.push(json!({"timestamp": t + 10_000 + i * 100, "line": format!("ERROR connection to db-{} failed: timeout", i % 3)}));
            }
        }
    }
    out
}

#[test]
fn log_lines_are_ingested_masked_mined_and_their_anomalies_listed() {
    let dir = tempfile::tempdir().unwrap();
    let viewer = token(dir.path(), "viewer", "v");
    let ingest = token(dir.path(), "ingest", "shipper");
    let s = Server::start(dir.path(), CONFIG);
    let body =
        json!({"streams": [{"labels": {"service": "api", "source": "app.log"}, "lines": lines()}]});
    let (status, report) = json_of(s.post_json("/api/v1/ingest/logs", &ingest, &body));
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["lines"], 42 * 5 + 1 + 40);
    assert_eq!(report["streams"], 1);

    // Anomalous windows, with reasons, once mined.
    let anomalies = eventually(|| {
        let (status, body) = json_of(s.get("/api/v1/logs/anomalies?service=api", &viewer));
        assert_eq!(status, 200, "{body}");
        (body["total"] == 1).then_some(body)
    });
    let a = &anomalies["anomalies"][0];
    assert_eq!(a["service"], "api");
    assert_eq!(a["anomalous_lines"], 40);
    let signals: Vec<&str> = a["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["signal"].as_str())
        .collect();
    assert!(signals.contains(&"template_burst"), "{a}");

    let metrics = s.get("/metrics", &viewer).text().unwrap();
    assert!(metrics.contains("aiops_log_lines_total 251"), "{metrics}");
    assert!(
        metrics.contains("aiops_log_stream_cache_entries{map=\"keys\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("aiops_log_streams_active "), "{metrics}");

    // Templates with counts.
    let (status, t) = json_of(s.get("/api/v1/logs/templates?service=api", &viewer));
    assert_eq!(status, 200, "{t}");
    let templates = t["templates"].as_array().unwrap();
    assert_eq!(templates[0]["count"], 42 * 4, "{t}");
    assert!(templates.iter().any(|x| x["count"] == 40), "{t}");
    let (_, none) = json_of(s.get("/api/v1/logs/templates?service=db", &viewer));
    assert_eq!(none["templates"].as_array().unwrap().len(), 0);

    // Lines with their template, masked, paged by stream and time.
    let (status, page) = json_of(s.get(
        "/api/v1/logs?labels=service=api,source=app.log&start_time=2023-11-14T22:13:20Z&end_time=2023-11-14T22:14:20Z&limit=3",
        &viewer,
    ));
    assert_eq!(status, 200, "{page}");
    let got = page["lines"].as_array().unwrap();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|l| l["template_id"].is_i64()), "{page}");
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = json_of(s.get(
        &format!("/api/v1/logs?service=api&start_time=2023-11-14T22:13:20Z&end_time=2023-11-14T22:14:20Z&cursor={cursor}"),
        &viewer,
    ));
    let rest = rest["lines"].as_array().unwrap();
    assert_eq!(got.len() + rest.len(), 6);
    let all: Vec<&Value> = got.iter().chain(rest).collect();
    let mailed = all
        .iter()
        .find(|l| l["line"].as_str().unwrap().starts_with("password reset"))
        .unwrap();
    assert!(
        !mailed["line"]
            .as_str()
            .unwrap()
            .contains("alice@example.com"),
        "{mailed}"
    );
    let (_, other) = json_of(s.get("/api/v1/logs?labels=service=db", &viewer));
    assert_eq!(other["lines"].as_array().unwrap().len(), 0);
    assert!(s.stop());
}

#[test]
fn bad_log_requests_get_clear_errors_and_roles_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let viewer = token(dir.path(), "viewer", "v");
    let ingest = token(dir.path(), "ingest", "shipper");
    let s = Server::start(dir.path(), CONFIG);
    let line = |ts: Value| json!({"streams": [{"labels": {"service": "api"}, "lines": [{"timestamp": ts, "line": "x"}]}]});
    // A bad timestamp: 400 naming it; nothing stored.
    let (status, body) = json_of(s.post_json("/api/v1/ingest/logs", &ingest, &line(json!("soon"))));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "bad_request");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("streams[0].lines[0].timestamp"),
        "{body}"
    );
    let (status, _) = json_of(s.post_json("/api/v1/ingest/logs", &ingest, &line(json!(true))));
    assert_eq!(status, 400);
    // Unknown fields.
    let (status, body) = json_of(s.post_json(
        "/api/v1/ingest/logs",
        &ingest,
        &json!({"streams": [{"labels": {"service": "api"}, "lines": [{"line": "x", "level": "info"}]}]}),
    ));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("level"),
        "{body}"
    );
    let (status, _) = json_of(s.get("/api/v1/logs?bogus=1", &viewer));
    assert_eq!(status, 400);
    let (status, _) = json_of(s.get("/api/v1/logs/anomalies?start_time=soon", &viewer));
    assert_eq!(status, 400);
    // A viewer cannot write, whatever the body; the ingest role cannot read.
    let r = s
        .http
        .post(format!("{}/api/v1/ingest/logs", s.url))
        .bearer_auth(&viewer)
        .body("not even json")
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(s.get("/api/v1/logs", &ingest).status(), 403);
    assert_eq!(
        s.http
            .get(format!("{}/api/v1/logs/templates", s.url))
            .send()
            .unwrap()
            .status(),
        401
    );
    // Over the body limit: 413.
    let big = "y".repeat(210_000);
    let (status, body) = json_of(s.post_json(
        "/api/v1/ingest/logs",
        &ingest,
        &json!({"streams": [{"labels": {"service": "api"}, "lines": [{"line": big}]}]}),
    ));
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "too_large");
    // Nothing was stored by the refused requests; a good one without a time works.
    let (_, page) = json_of(s.get("/api/v1/logs", &viewer));
    assert_eq!(page["lines"].as_array().unwrap().len(), 0);
    let (status, report) = json_of(s.post_json(
        "/api/v1/ingest/logs",
        &ingest,
        &json!({"streams": [{"labels": {"service": "api"}, "lines": [{"line": "started"}]}]}),
    ));
    assert_eq!((status, report["lines"].as_i64()), (200, Some(1)));
    assert!(s.stop());
}
