//! End to end through `aiops serve`: a real Prometheus (Debian `prometheus`) fires a rule at
//! aiops as at an Alertmanager; the incident it makes is posted to Slack and DingTalk, a Jira
//! issue is opened once (Prometheus re-sends the alert every second, nothing is opened again)
//! and closed when the rule stops firing and the incident resolves, and a Grafana annotation
//! marks the incident's time region. Slack, DingTalk, Jira and Grafana are local fakes (in
//! this test) that check what their documentation asks: Slack's attachments and blocks, the
//! DingTalk signature, Jira's credentials and Atlassian Document Format, Grafana's token and
//! annotation fields. Skipped, with a message, when `prometheus` is not installed
//! (`AIOPS_REQUIRE_PROMETHEUS=1` makes that a failure).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use base64::Engine as _;
use common::daemon::{Daemon, binary_or_skip};
use common::server::{Server, free_port, now_ms, token};
use serde_json::{Value, json};

const DING_TOKEN: &str = "ding-access-token-1";
const DING_SECRET: &str = "SECdingsecret";
const JIRA_TOKEN: &str = "jira-api-token";
const GRAFANA_TOKEN: &str = "glsa_grafana_token";

/// What the fakes received, and Jira's issues.
#[derive(Debug, Default)]
struct Seen {
    /// (what, body) in arrival order: `slack`, `dingtalk`, `jira.create`, `jira.comment`,
    /// `jira.transition`, `grafana.create`, `grafana.update`.
    calls: Vec<(String, Value)>,
    /// Problems found in requests (a fake answers 400 and records why).
    errors: Vec<String>,
    /// Jira issues: key -> (labels, done).
    issues: BTreeMap<String, (Vec<String>, bool)>,
}

type Shared = Arc<Mutex<Seen>>;

fn bad(s: &Shared, why: String) -> (StatusCode, axum::Json<Value>) {
    s.lock().unwrap().errors.push(why.clone());
    (StatusCode::BAD_REQUEST, axum::Json(json!({"error": why})))
}

fn ok(s: &Shared, what: &str, body: Value, answer: Value) -> (StatusCode, axum::Json<Value>) {
    s.lock().unwrap().calls.push((what.into(), body));
    (StatusCode::OK, axum::Json(answer))
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

async fn slack(
    State(s): State<Shared>,
    body: axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    let b = &body.0;
    let blocks = &b["attachments"][0]["blocks"];
    let header_ok = blocks[0]["type"] == "header" && blocks[0]["text"]["type"] == "plain_text";
    if !b["text"].is_string() || !b["attachments"][0]["color"].is_string() || !header_ok {
        return bad(&s, format!("slack: not an attachment with blocks: {b}"));
    }
    ok(&s, "slack", b.clone(), json!("ok"))
}

async fn dingtalk(
    State(s): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
    body: axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    let ts = q.get("timestamp").cloned().unwrap_or_default();
    let mac = aiops_integrations::http::hmac_sha256(
        DING_SECRET.as_bytes(),
        format!("{ts}\n{DING_SECRET}").as_bytes(),
    );
    let expected = base64::engine::general_purpose::STANDARD.encode(mac);
    let fresh = ts
        .parse::<i64>()
        .is_ok_and(|t| (now_ms() - t).abs() < 60_000);
    if q.get("access_token").map(String::as_str) != Some(DING_TOKEN)
        || q.get("sign") != Some(&expected)
        || !fresh
    {
        return (
            StatusCode::OK,
            axum::Json(json!({"errcode": 310000, "errmsg": "sign not match"})),
        );
    }
    if body.0["msgtype"] != "markdown" || !body.0["markdown"]["text"].is_string() {
        return bad(&s, format!("dingtalk: not markdown: {}", body.0));
    }
    ok(
        &s,
        "dingtalk",
        body.0,
        json!({"errcode": 0, "errmsg": "ok"}),
    )
}

fn jira_auth_ok(h: &HeaderMap) -> bool {
    let want =
        base64::engine::general_purpose::STANDARD.encode(format!("bot@example.com:{JIRA_TOKEN}"));
    header(h, "authorization") == format!("Basic {want}")
}

/// An ADF document: `doc`, version 1, non-empty content of known nodes with non-empty text.
fn adf_ok(v: &Value) -> bool {
    fn node_ok(n: &Value) -> bool {
        match n["type"].as_str() {
            Some("text") => n["text"].as_str().is_some_and(|t| !t.is_empty()),
            Some("paragraph" | "heading" | "bulletList" | "listItem" | "hardBreak") => n
                .get("content")
                .is_none_or(|c| c.as_array().is_some_and(|c| c.iter().all(node_ok))),
            _ => false,
        }
    }
    v["type"] == "doc"
        && v["version"] == 1
        && v["content"]
            .as_array()
            .is_some_and(|c| !c.is_empty() && c.iter().all(node_ok))
}

async fn jira_search(
    State(s): State<Shared>,
    h: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> (StatusCode, axum::Json<Value>) {
    if !jira_auth_ok(&h) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"errorMessages": ["auth"]})),
        );
    }
    let jql = q.get("jql").cloned().unwrap_or_default();
    let seen = s.lock().unwrap();
    let issues: Vec<Value> = seen
        .issues
        .iter()
        .filter(|(_, (labels, _))| {
            labels
                .iter()
                .any(|l| jql.contains(&format!("labels = \"{l}\"")))
        })
        .map(|(k, _)| json!({"id": "1", "key": k, "fields": {"status": {"name": "To Do"}}}))
        .collect();
    (StatusCode::OK, axum::Json(json!({"issues": issues})))
}

async fn jira_create(
    State(s): State<Shared>,
    h: HeaderMap,
    body: axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    if !jira_auth_ok(&h) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"errorMessages": ["auth"]})),
        );
    }
    let f = &body.0["fields"];
    if f["project"]["key"] != "OPS" || !adf_ok(&f["description"]) || !f["summary"].is_string() {
        return bad(&s, format!("jira: bad issue: {}", body.0));
    }
    let labels: Vec<String> = f["labels"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut seen = s.lock().unwrap();
    let key = format!("OPS-{}", seen.issues.len() + 1);
    seen.issues.insert(key.clone(), (labels, false));
    seen.calls.push(("jira.create".into(), body.0.clone()));
    (
        StatusCode::CREATED,
        axum::Json(json!({"id": "1", "key": key, "self": "http://127.0.0.1/x"})),
    )
}

async fn jira_comment(
    State(s): State<Shared>,
    UrlPath(key): UrlPath<String>,
    body: axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    if !adf_ok(&body.0["body"]) {
        return bad(&s, format!("jira: bad comment on {key}"));
    }
    ok(&s, "jira.comment", body.0, json!({"id": "10"}))
}

async fn jira_issue(
    State(s): State<Shared>,
    UrlPath(key): UrlPath<String>,
) -> (StatusCode, axum::Json<Value>) {
    let done = s.lock().unwrap().issues.get(&key).is_some_and(|i| i.1);
    let category = if done { "done" } else { "new" };
    (
        StatusCode::OK,
        axum::Json(
            json!({"key": key, "fields": {"status": {"name": "x", "statusCategory": {"key": category}}}}),
        ),
    )
}

async fn jira_transitions() -> axum::Json<Value> {
    axum::Json(json!({"transitions": [
        {"id": "21", "name": "In Progress", "to": {"name": "In Progress"}},
        {"id": "31", "name": "Done", "to": {"name": "Done", "statusCategory": {"key": "done"}},
         "fields": {"resolution": {"required": false}}}
    ]}))
}

async fn jira_transition(
    State(s): State<Shared>,
    UrlPath(key): UrlPath<String>,
    body: axum::Json<Value>,
) -> StatusCode {
    if body.0["transition"]["id"] != "31" {
        let _ = bad(&s, format!("jira: bad transition: {}", body.0));
        return StatusCode::BAD_REQUEST;
    }
    let mut seen = s.lock().unwrap();
    if let Some(i) = seen.issues.get_mut(&key) {
        i.1 = true;
    }
    seen.calls.push(("jira.transition".into(), body.0));
    StatusCode::NO_CONTENT
}

fn grafana_fields_ok(b: &Value) -> bool {
    b["time"].is_i64() && b["tags"].is_array() && b["text"].is_string()
}

async fn grafana_create(
    State(s): State<Shared>,
    h: HeaderMap,
    body: axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    if header(&h, "authorization") != format!("Bearer {GRAFANA_TOKEN}") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Unauthorized"})),
        );
    }
    if !grafana_fields_ok(&body.0) {
        return bad(&s, format!("grafana: bad annotation {}", body.0));
    }
    ok(
        &s,
        "grafana.create",
        body.0,
        json!({"id": 7, "message": "Annotation added"}),
    )
}

async fn grafana_update(
    State(s): State<Shared>,
    UrlPath(id): UrlPath<String>,
    body: axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    if id != "7" || !grafana_fields_ok(&body.0) || !body.0["timeEnd"].is_i64() {
        return bad(&s, format!("grafana: bad update of {id}: {}", body.0));
    }
    ok(
        &s,
        "grafana.update",
        body.0,
        json!({"message": "Annotation patched"}),
    )
}

async fn grafana_dashboard(
    State(s): State<Shared>,
    h: HeaderMap,
    body: axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    if header(&h, "authorization") != format!("Bearer {GRAFANA_TOKEN}") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Unauthorized"})),
        );
    }
    let d = &body.0["dashboard"];
    if body.0["overwrite"] != true || !d["uid"].is_string() || !d["panels"].is_array() {
        return bad(&s, format!("grafana: bad dashboard {}", body.0));
    }
    let uid = d["uid"].as_str().unwrap().to_string();
    ok(
        &s,
        "grafana.dashboard",
        body.0,
        json!({"id": 3, "uid": uid, "url": format!("/d/{uid}/checkout"), "status": "success", "version": 1}),
    )
}

/// Serves the fakes on a free port in a thread of their own; returns the port.
fn start_fakes(seen: Shared) -> u16 {
    let app = Router::new()
        .route("/slack/hook", post(slack))
        .route("/robot/send", post(dingtalk))
        .route("/rest/api/3/search/jql", get(jira_search))
        .route("/rest/api/3/issue", post(jira_create))
        .route("/rest/api/3/issue/{key}", get(jira_issue))
        .route("/rest/api/3/issue/{key}/comment", post(jira_comment))
        .route(
            "/rest/api/3/issue/{key}/transitions",
            get(jira_transitions).post(jira_transition),
        )
        .route("/api/annotations", post(grafana_create))
        .route("/api/annotations/{id}", put(grafana_update))
        .route("/api/dashboards/db", post(grafana_dashboard))
        .with_state(seen);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    port
}

fn start_prometheus(binary: &Path, dir: &Path, config: &str, port: u16) -> Daemon {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, config).unwrap();
    let args = [
        format!("--config.file={}", cfg.display()),
        format!(
            "--storage.tsdb.path={}",
            dir.join("prometheus-data").display()
        ),
        format!("--web.listen-address=127.0.0.1:{port}"),
        // Re-send firing alerts every second (default 1m): aiops must not open twice.
        "--rules.alert.resend-delay=1s".to_string(),
    ];
    Daemon::start(binary, &args, dir, "prometheus", port)
}

fn count(seen: &Shared, what: &str) -> usize {
    seen.lock()
        .unwrap()
        .calls
        .iter()
        .filter(|c| c.0 == what)
        .count()
}

fn wait_for(seen: &Shared, what: &str, n: usize, prom: &Daemon, secs: u64) {
    let started = Instant::now();
    while count(seen, what) < n {
        let s = seen.lock().unwrap();
        assert!(
            s.errors.is_empty(),
            "fakes refused requests: {:?}",
            s.errors
        );
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "no {what} after {secs} s; seen {:?}\n{}",
            s.calls.iter().map(|c| &c.0).collect::<Vec<_>>(),
            prom.log_text()
        );
        drop(s);
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_firing_prometheus_rule_reaches_slack_dingtalk_jira_and_grafana() {
    let Some(binary) = binary_or_skip("prometheus", "AIOPS_PROMETHEUS", "AIOPS_REQUIRE_PROMETHEUS")
    else {
        return;
    };
    let seen: Shared = Arc::default();
    let fakes = start_fakes(seen.clone());
    let dir = tempfile::tempdir().unwrap();
    let ingest = token(dir.path(), "ingest", "prometheus");
    let viewer = token(dir.path(), "viewer", "reader");
    let admin = token(dir.path(), "admin", "boss");
    let config = format!(
        r#"alerts:
  tick_interval_s: 1
  engine:
    correlation:
      resolve_grace: 0s
integrations:
  team-slack: {{type: slack, url: {{value: "http://127.0.0.1:{fakes}/slack/hook"}}}}
  ding:
    type: dingtalk
    url: http://127.0.0.1:{fakes}/robot/send
    access_token: {{env: E2E_DING_TOKEN}}
    secret: {{env: E2E_DING_SECRET}}
  jira:
    type: jira
    url: http://127.0.0.1:{fakes}
    project: OPS
    auth: {{basic: {{username: bot@example.com, password: {{env: E2E_JIRA_TOKEN}}}}}}
  grafana:
    type: grafana
    url: http://127.0.0.1:{fakes}
    auth: {{bearer: {{env: E2E_GRAFANA_TOKEN}}}}
notifications:
  public_url: https://aiops.example.com
  interval_ms: 200
  annotate_events: [grafana]
  routes:
    - severity: [high, critical]
      channels: [team-slack, ding, jira, grafana]
"#
    );
    // Debug logs, to check that no secret reaches them.
    let aiops = Server::start_logged(
        dir.path(),
        &config,
        &[
            ("AIOPS_LOG", "debug"),
            ("E2E_DING_TOKEN", DING_TOKEN),
            ("E2E_DING_SECRET", DING_SECRET),
            ("E2E_JIRA_TOKEN", JIRA_TOKEN),
            ("E2E_GRAFANA_TOKEN", GRAFANA_TOKEN),
        ],
    );
    // A rule that fires for 15 seconds, then stops: Prometheus then sends it resolved.
    let until = now_ms() / 1000 + 15;
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        format!(
            "groups:\n  - name: e2e\n    rules:\n      - alert: CheckoutDown\n        expr: vector(time()) < {until}\n        labels:\n          severity: critical\n          service: checkout\n        annotations:\n          summary: checkout is down\n"
        ),
    )
    .unwrap();
    let prom_port = free_port();
    let prom_config = format!(
        r#"global:
  evaluation_interval: 1s
rule_files:
  - {rules}
alerting:
  alertmanagers:
    - api_version: v2
      authorization:
        credentials: {ingest}
      static_configs:
        - targets: ['127.0.0.1:{aiops_port}']
"#,
        rules = rules.display(),
        aiops_port = aiops.port,
    );
    let prom = start_prometheus(&binary, dir.path(), &prom_config, prom_port);

    // Opened: one message each to Slack and DingTalk, one Jira issue, one annotation.
    wait_for(&seen, "slack", 1, &prom, 60);
    wait_for(&seen, "dingtalk", 1, &prom, 10);
    wait_for(&seen, "jira.create", 1, &prom, 10);
    wait_for(&seen, "grafana.create", 1, &prom, 10);
    {
        let s = seen.lock().unwrap();
        let slack = &s.calls.iter().find(|c| c.0 == "slack").unwrap().1;
        let text = slack.to_string();
        assert!(text.contains("checkout"), "{text}");
        assert!(
            text.contains("https://aiops.example.com/incidents/"),
            "{text}"
        );
        let ding = &s.calls.iter().find(|c| c.0 == "dingtalk").unwrap().1;
        assert!(
            ding["markdown"]["text"]
                .as_str()
                .unwrap()
                .contains("checkout"),
            "{ding}"
        );
    }
    // Prometheus re-sends the firing alert every second: still one issue, one message each.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(count(&seen, "jira.create"), 1);
    assert_eq!(count(&seen, "slack"), 1);
    assert_eq!(count(&seen, "dingtalk"), 1);

    // The rule stops firing: the incident resolves, the issue is closed, the region ends.
    wait_for(&seen, "jira.transition", 1, &prom, 60);
    wait_for(&seen, "grafana.update", 1, &prom, 10);
    wait_for(&seen, "slack", 2, &prom, 10);
    wait_for(&seen, "dingtalk", 2, &prom, 10);
    assert_eq!(count(&seen, "jira.create"), 1);
    let (issue, done) = {
        let s = seen.lock().unwrap();
        let (k, v) = s.issues.iter().next().unwrap();
        (k.clone(), v.1)
    };
    assert!(done, "{issue} not closed");

    // A deployment posted to aiops is marked on Grafana too.
    let r = aiops.post_json(
        "/api/v1/events",
        &ingest,
        &json!({"source": "ci", "event_type": "deployment", "resource": "checkout", "version": "v42"}),
    );
    assert!(r.status().is_success(), "{}", r.text().unwrap());
    wait_for(&seen, "grafana.create", 2, &prom, 10);
    {
        let s = seen.lock().unwrap();
        let ann = &s.calls.iter().rfind(|c| c.0 == "grafana.create").unwrap().1;
        let tags = ann["tags"].to_string();
        assert!(
            tags.contains("deployment") && tags.contains("resource:checkout"),
            "{ann}"
        );
        assert!(ann["text"].as_str().unwrap().contains("v42"), "{ann}");
    }

    // The integrations are listed with their roles, and a service dashboard is made in
    // Grafana (admins only; audited).
    let list: Value = aiops.get("/api/v1/integrations", &viewer).json().unwrap();
    let roles: Vec<(String, String)> = list["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().into(),
                i["roles"][0].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(roles.contains(&("jira".into(), "ticket".into())), "{list}");
    assert!(
        roles.contains(&("grafana".into(), "annotate".into())),
        "{list}"
    );
    let req = json!({"service": "checkout", "metrics": ["http_requests_total"], "datasource_uid": "prom"});
    let r = aiops.post_json("/api/v1/integrations/grafana/dashboards", &viewer, &req);
    assert_eq!(r.status(), 403);
    let r = aiops.post_json("/api/v1/integrations/grafana/dashboards", &admin, &req);
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    let v: Value = r.json().unwrap();
    assert_eq!(v["uid"], "aiops-checkout", "{v}");
    let r = aiops.post_json("/api/v1/integrations/jira/dashboards", &admin, &req);
    assert_eq!(r.status(), 400);
    let audit: Value = aiops.get("/api/v1/audit?limit=50", &admin).json().unwrap();
    assert!(
        audit.to_string().contains("integration.dashboard"),
        "{audit}"
    );

    // The incident lists every delivery, delivered, with the Jira key.
    let incidents: Value = aiops
        .get("/api/v1/incidents?status=resolved", &viewer)
        .json()
        .unwrap();
    let id = incidents["incidents"][0]["incident_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{incidents}"))
        .to_string();
    let detail: Value = aiops
        .get(&format!("/api/v1/incidents/{id}"), &viewer)
        .json()
        .unwrap();
    assert_eq!(detail["status"], "resolved", "{detail}");
    let deliveries = detail["deliveries"].as_array().unwrap();
    // One `opened` and one `resolved` per channel (and an `updated` comment on the issue if
    // the automatic RCA finished first).
    for channel in ["team-slack", "ding", "jira", "grafana"] {
        for kind in ["opened", "resolved"] {
            let n = deliveries
                .iter()
                .filter(|d| d["channel"] == channel && d["kind"] == kind)
                .count();
            assert_eq!(n, 1, "{channel} {kind}: {detail}");
        }
    }
    assert!(
        deliveries.iter().all(|d| d["status"] == "delivered"),
        "{detail}"
    );
    assert!(
        deliveries
            .iter()
            .any(|d| d["channel"] == "jira" && d["result"]["key"] == issue.as_str()),
        "{detail}"
    );
    // No secret in what the incident shows, nor in the service's debug log.
    let log = aiops.log_text();
    assert!(
        log.contains("team-slack") || log.contains("slack"),
        "no debug log?"
    );
    for secret in [DING_TOKEN, DING_SECRET, JIRA_TOKEN, GRAFANA_TOKEN] {
        assert!(!log.contains(secret), "{secret} logged");
    }
    let shown = detail.to_string();
    for secret in [DING_TOKEN, DING_SECRET, JIRA_TOKEN, GRAFANA_TOKEN] {
        assert!(!shown.contains(secret), "{secret} shown");
    }
    assert!(seen.lock().unwrap().errors.is_empty());
    drop(prom);
    assert!(aiops.stop());
}
