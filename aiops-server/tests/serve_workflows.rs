//! Workflows through `aiops serve`: the seed's `alert_response` runs when a critical alert
//! opens an incident (RCA, a Jira issue opened once, Slack and the on-call channel told, the
//! auto-remediation skipped: RCA is not confident without metrics), and is recorded; the
//! workflow and remediation endpoints with their roles and audit. Slack and Jira are local
//! fakes recording what they receive. The other branch runs too: with metrics in which one
//! service stands out, RCA is confident and the remediation (an allow-listed command) runs.
//! Both branches are also tested in `aiops_service::workflows` with a host whose RCA
//! confidence the test sets.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use common::server::{Server, eventually, json_of, token};
use serde_json::{Value, json};

type Seen = Arc<Mutex<Vec<(String, Value)>>>;

async fn record(
    State(s): State<Seen>,
    uri: axum::http::Uri,
    body: axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    let path = uri.path().to_string();
    s.lock().unwrap().push((path.clone(), body.0));
    if path == "/api/annotations" {
        return (
            StatusCode::OK,
            axum::Json(json!({"id": 7, "message": "Annotation added"})),
        );
    }
    if path == "/rest/api/3/issue" {
        return (
            StatusCode::CREATED,
            axum::Json(json!({"id": "1", "key": "OPS-1", "self": "http://127.0.0.1/x"})),
        );
    }
    (StatusCode::OK, axum::Json(json!("ok")))
}

async fn search() -> axum::Json<Value> {
    axum::Json(json!({"issues": []}))
}

fn start_fakes(seen: Seen) -> u16 {
    let app = Router::new()
        .route("/slack/hook", post(record))
        .route("/oncall/hook", post(record))
        .route("/rest/api/3/issue", post(record))
        .route("/rest/api/3/search/jql", get(search))
        .route("/api/annotations", post(record))
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

fn count(seen: &Seen, path: &str) -> usize {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p == path)
        .count()
}

fn config(fakes: u16, marker: &Path) -> String {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/workflows/seed.yaml");
    format!(
        r#"integrations:
  team-slack: {{type: slack, url: {{value: "http://127.0.0.1:{fakes}/slack/hook"}}}}
  oncall: {{type: slack, url: {{value: "http://127.0.0.1:{fakes}/oncall/hook"}}}}
  jira-ops:
    type: jira
    url: http://127.0.0.1:{fakes}
    project: OPS
    auth: {{basic: {{username: bot@example.com, password: {{value: jira-token}}}}}}
  grafana:
    type: grafana
    url: http://127.0.0.1:{fakes}
    auth: {{bearer: {{value: grafana-token}}}}
workflows:
  files: ["{seed}"]
  poll_ms: 100
  systems: {{jira: jira-ops, slack: team-slack, pagerduty: oncall}}
  remediation:
    commands:
      restart: {{program: touch, args: ["{marker}"]}}
    defaults:
      execute_remediation: restart
      rollback_deployment: restart
"#,
        seed = seed.display(),
        marker = marker.display(),
    )
}

#[test]
fn a_critical_alert_runs_alert_response_and_the_workflow_api_is_guarded_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let admin = token(dir.path(), "admin", "root");
    let operator = token(dir.path(), "operator", "alice");
    let viewer = token(dir.path(), "viewer", "bob");
    let seen: Seen = Arc::default();
    let fakes = start_fakes(seen.clone());
    let marker = dir.path().join("restarted");
    let s = Server::start(dir.path(), &config(fakes, &marker));

    // The configured workflows, to every reader.
    let (status, list) = json_of(s.get("/api/v1/workflows", &viewer));
    assert_eq!(status, 200);
    let names: Vec<&str> = list["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["id"].as_str())
        .collect();
    assert_eq!(
        names,
        ["alert_response", "capacity_alert", "deployment_monitoring"]
    );

    // A critical alert opens an incident; alert_response runs once and is recorded.
    let alerts =
        json!([{"labels": {"alertname": "Down", "service": "cart", "severity": "critical"}}]);
    assert_eq!(s.post_json("/api/v2/alerts", &admin, &alerts).status(), 200);
    let run = eventually(|| {
        let (_, runs) = json_of(s.get("/api/v1/workflows/alert_response/runs", &viewer));
        // Recorded `running` when it starts, replaced by its record when it ends.
        runs["runs"]
            .as_array()
            .and_then(|r| r.first().cloned())
            .filter(|r| r["status"] != "running")
    });
    assert_eq!(run["trigger"], "alert", "{run}");
    let steps = run["record"]["steps"].as_array().unwrap();
    let step = |name: &str| steps.iter().find(|x| x["name"] == name).unwrap().clone();
    assert_eq!(step("analyze_root_cause")["status"], "succeeded", "{run}");
    assert_eq!(step("create_incident")["status"], "succeeded", "{run}");
    assert_eq!(step("notify_team")["status"], "succeeded", "{run}");
    assert_eq!(
        step("attempt_auto_remediation")["status"],
        "skipped",
        "{run}"
    );
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(count(&seen, "/rest/api/3/issue"), 1);
    assert_eq!(count(&seen, "/slack/hook"), 1);
    assert_eq!(count(&seen, "/oncall/hook"), 1);
    assert!(!marker.exists());
    let id = run["run_id"].as_str().unwrap();
    let (status, one) = json_of(s.get(&format!("/api/v1/workflow-runs/{id}"), &viewer));
    assert_eq!((status, &one["run_id"]), (200, &run["run_id"]));
    // Resent: the same incident, no second run.
    assert_eq!(s.post_json("/api/v2/alerts", &admin, &alerts).status(), 200);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (_, runs) = json_of(s.get("/api/v1/workflows/alert_response/runs", &viewer));
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1, "{runs}");

    // A dry run through the API calls nothing.
    let before = seen.lock().unwrap().len();
    let (status, dry) = json_of(s.post_json(
        "/api/v1/workflows/alert_response/run",
        &operator,
        &json!({"dry_run": true, "event": alerts[0]}),
    ));
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["record"]["dry_run"], true);
    assert_eq!(dry["record"]["steps"][2]["status"], "would_run", "{dry}");
    assert_eq!(seen.lock().unwrap().len(), before);
    // A stored incident as the event.
    let inc = run["record"]["trigger"]["incident"]["id"].as_str().unwrap();
    let (status, dry) = json_of(s.post_json(
        "/api/v1/workflows/alert_response/run",
        &operator,
        &json!({"dry_run": true, "event": {"incident_id": inc}}),
    ));
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["record"]["trigger"]["type"], "incident", "{dry}");
    assert_eq!(seen.lock().unwrap().len(), before);
    let (status, _) = json_of(s.post_json(
        "/api/v1/workflows/alert_response/run",
        &operator,
        &json!({"dry_run": true, "event": {"incident_id": "inc-none"}}),
    ));
    assert_eq!(status, 404);
    let (status, _) = json_of(s.post_json(
        "/api/v1/workflows/alert_response/run",
        &viewer,
        &json!({"dry_run": true}),
    ));
    assert_eq!(status, 403);

    // Remediation: the allow-list only, dry runs run nothing, everything audited.
    let (status, x) = json_of(s.post_json(
        "/api/v1/remediation/execute",
        &operator,
        &json!({"incident_id": null, "action": "rm_everything", "parameters": {}, "dry_run": false}),
    ));
    assert_eq!(status, 400, "{x}");
    let (status, x) = json_of(s.post_json(
        "/api/v1/remediation/execute",
        &operator,
        &json!({"action": "restart", "parameters": {}, "dry_run": true}),
    ));
    assert_eq!(
        (status, x["status"].as_str()),
        (200, Some("would_run")),
        "{x}"
    );
    assert!(!marker.exists());
    let (status, x) = json_of(s.post_json(
        "/api/v1/remediation/execute",
        &operator,
        &json!({"action": "restart", "parameters": {}}),
    ));
    assert_eq!(
        (status, x["status"].as_str()),
        (200, Some("succeeded")),
        "{x}"
    );
    assert!(marker.exists());
    let exec = x["execution_id"].as_str().unwrap();
    let (status, got) = json_of(s.get(&format!("/api/v1/remediation/{exec}"), &viewer));
    assert_eq!((status, got["status"].as_str()), (200, Some("succeeded")));
    let (_, audit) = json_of(s.get("/api/v1/audit?kind=remediation", &admin));
    let entries = audit["entries"].as_array().unwrap();
    // By the operator's token (not the service), refused and run.
    let outcomes: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e["action"] == "remediation.execute" && e["actor"] != "system")
        .map(|e| {
            (
                e["target"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        outcomes.contains(&("workflow/remediation:rm_everything/execute", "denied")),
        "{audit}"
    );
    assert!(
        outcomes.contains(&("workflow/remediation:restart/execute", "ok")),
        "{audit}"
    );
    // With the request that caused them.
    assert!(
        entries
            .iter()
            .filter(|e| e["actor"] != "system")
            .all(|e| e["request_id"].is_string()),
        "{audit}"
    );

    // Only admins add workflows; an invalid one is a 400 naming the problem.
    let page = json!({"yaml": "workflows:\n  page:\n    trigger: {type: manual}\n    steps:\n      - name: tell\n        action: send_notification\n        params: {channels: [slack]}\n"});
    assert_eq!(
        s.post_json("/api/v1/workflows", &operator, &page).status(),
        403
    );
    let bad = json!({"yaml": "workflows:\n  x:\n    trigger: {type: manual}\n    steps:\n      - name: a\n        action: nope\n"});
    let (status, e) = json_of(s.post_json("/api/v1/workflows", &admin, &bad));
    assert_eq!(status, 400);
    assert!(
        e["error"]["message"].as_str().unwrap().contains("nope"),
        "{e}"
    );
    let (status, v) = json_of(s.post_json("/api/v1/workflows", &admin, &page));
    assert_eq!((status, v["source"].as_str()), (201, Some("api")), "{v}");
    assert_eq!(
        s.post_json("/api/v1/workflows", &admin, &page).status(),
        409
    );
    let (_, audit) = json_of(s.get("/api/v1/audit?kind=config_change", &admin));
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "workflow.create" && e["target"] == "workflow/page"),
        "{audit}"
    );
    // A real run starts in the background: 202 `running`, then its record.
    let (status, r) = json_of(s.post_json("/api/v1/workflows/page/run", &operator, &json!({})));
    assert_eq!(
        (status, r["status"].as_str()),
        (202, Some("running")),
        "{r}"
    );
    let ended = |id: &str| {
        eventually(|| {
            let (_, r) = json_of(s.get(&format!("/api/v1/workflow-runs/{id}"), &viewer));
            Some(r).filter(|r| r["status"] != "running")
        })
    };
    let first = r["run_id"].as_str().unwrap().to_string();
    assert_eq!(ended(&first)["status"], "succeeded");
    assert_eq!(count(&seen, "/slack/hook"), 2);

    // Replaced (admins only, the same name, never a configured one), then deleted.
    let paged = json!({"yaml": "workflows:\n  page:\n    trigger: {type: manual}\n    steps:\n      - name: tell\n        action: send_notification\n        params: {channels: [pagerduty]}\n"});
    assert_eq!(
        s.put_json("/api/v1/workflows/page", &operator, &paged)
            .status(),
        403
    );
    let (status, e) = json_of(s.put_json("/api/v1/workflows/other", &admin, &paged));
    assert_eq!(status, 400, "{e}");
    let (status, e) = json_of(s.put_json(
        "/api/v1/workflows/alert_response",
        &admin,
        &json!({"yaml": paged["yaml"].as_str().unwrap().replace("page:", "alert_response:")}),
    ));
    assert_eq!(status, 400, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("configuration"),
        "{e}"
    );
    let (status, v) = json_of(s.put_json("/api/v1/workflows/page", &admin, &paged));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["yaml"], paged["yaml"]);
    let (status, one) = json_of(s.get("/api/v1/workflows/page", &viewer));
    assert_eq!((status, &one["yaml"]), (200, &paged["yaml"]));
    let (_, r) = json_of(s.post_json("/api/v1/workflows/page/run", &operator, &json!({})));
    assert_eq!(ended(r["run_id"].as_str().unwrap())["status"], "succeeded");
    assert_eq!(
        (count(&seen, "/slack/hook"), count(&seen, "/oncall/hook")),
        (2, 2)
    );
    assert_eq!(s.delete("/api/v1/workflows/page", &operator).status(), 403);
    assert_eq!(s.delete("/api/v1/workflows/page", &admin).status(), 204);
    assert_eq!(s.get("/api/v1/workflows/page", &viewer).status(), 404);
    assert_eq!(s.delete("/api/v1/workflows/page", &admin).status(), 404);
    assert_eq!(
        s.delete("/api/v1/workflows/alert_response", &admin)
            .status(),
        400
    );
    // Its runs stay recorded.
    assert_eq!(
        s.get(&format!("/api/v1/workflow-runs/{first}"), &viewer)
            .status(),
        200
    );
    let (_, audit) = json_of(s.get("/api/v1/audit?kind=config_change", &admin));
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == "workflow/page")
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in ["workflow.create", "workflow.update", "workflow.delete"] {
        assert!(actions.contains(&a), "{a} not audited: {audit}");
    }
    assert!(s.stop());
}

/// An invalid workflow file refuses the start, naming the file and the step.
#[test]
fn a_confident_root_cause_takes_the_remediation_step() {
    let dir = tempfile::tempdir().unwrap();
    let admin = token(dir.path(), "admin", "root");
    let seen: Seen = Arc::default();
    let fakes = start_fakes(seen.clone());
    let marker = dir.path().join("restarted");
    // A runbook for cart's latency names its own allow-listed remediation, which wins over
    // the configured default.
    let runbooks = dir.path().join("runbooks");
    std::fs::create_dir_all(&runbooks).unwrap();
    std::fs::write(
        runbooks.join("cart.yaml"),
        "resources: [cart]\nmetrics: ['latency*']\nactions: [Restart the cart pods]\nremediation: restart_cart\n",
    )
    .unwrap();
    let cart_marker = dir.path().join("cart-restarted");
    let cfg = config(fakes, &marker).replace(
        "      restart: {program",
        &format!(
            "      restart_cart: {{program: touch, args: [\"{}\"]}}\n      restart: {{program",
            cart_marker.display()
        ),
    ) + &format!("runbooks: \"{}\"\n", runbooks.display());
    let s = Server::start(dir.path(), &cfg);
    // The last 30 minutes of cart's latency: steady, then ten times higher for the last
    // ten. Nothing else has metrics, so cart stands alone as the cause.
    let now = common::server::now_ms();
    let points: Vec<Value> = (0..60)
        .map(|i| {
            let t = now - (60 - i) * 30_000;
            let v = if i < 40 { 50.0 + (i % 5) as f64 } else { 500.0 + (i % 5) as f64 };
            json!({"metric": "latency_ms", "labels": {"service": "cart"}, "timestamp": t, "value": v})
        })
        .collect();
    let r = s.post_json(
        "/api/v1/ingest/points",
        &admin,
        &json!({ "points": points }),
    );
    assert!(r.status().is_success(), "{}", r.text().unwrap());
    let alerts =
        json!([{"labels": {"alertname": "Slow", "service": "cart", "severity": "critical"}}]);
    assert_eq!(s.post_json("/api/v2/alerts", &admin, &alerts).status(), 200);
    let run = eventually(|| {
        let (_, runs) = json_of(s.get("/api/v1/workflows/alert_response/runs", &admin));
        runs["runs"]
            .as_array()
            .and_then(|r| r.first().cloned())
            .filter(|r| r["status"] != "running")
    });
    let steps = run["record"]["steps"].as_array().unwrap();
    let step = |name: &str| steps.iter().find(|x| x["name"] == name).unwrap().clone();
    let rca = step("analyze_root_cause");
    assert!(rca["output"]["confidence"].as_f64().unwrap() > 0.8, "{rca}");
    assert_eq!(
        step("attempt_auto_remediation")["status"],
        "succeeded",
        "{run}"
    );
    assert_eq!(rca["output"]["remediation"], "restart_cart", "{rca}");
    assert!(
        cart_marker.exists(),
        "the runbook's allow-listed remediation did not run"
    );
    assert!(!marker.exists(), "the default ran instead of the runbook's");
    let (_, audit) = json_of(s.get("/api/v1/audit?limit=100", &admin));
    assert!(audit.to_string().contains("remediation"), "{audit}");
}

#[test]
fn an_invalid_workflow_file_refuses_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("bad.yaml");
    std::fs::write(
        &wf,
        "workflows:\n  x:\n    trigger: {type: manual}\n    steps:\n      - name: first\n        action: nope\n",
    )
    .unwrap();
    let cfg = dir.path().join("aiops.yaml");
    std::fs::write(
        &cfg,
        format!("workflows:\n  files: [\"{}\"]\n", wf.display()),
    )
    .unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["serve", "--check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.yaml") && err.contains("first"), "{err}");
}

/// A deployment event posted to the service, after which every watched metric tripled: the
/// seed's `deployment_monitoring` marks it on Grafana, compares the stored metrics with the
/// hour before, and rolls back through the allow-listed test command (telling Slack and opening
/// a Jira issue). A deployment with no regression is left alone.
#[test]
fn a_deployment_followed_by_a_regression_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let admin = token(dir.path(), "admin", "root");
    let seen: Seen = Arc::default();
    let fakes = start_fakes(seen.clone());
    let marker = dir.path().join("rolled-back");
    let s = Server::start(dir.path(), &config(fakes, &marker));
    let now = common::server::now_ms();
    // Deployed 31 minutes ago: the 30 minutes of monitoring are over.
    let deployed = now - 31 * 60_000;
    let points = |service: &str, after: f64| {
        let mut p = Vec::new();
        for metric in ["error_rate", "latency_p99", "cpu_usage"] {
            for k in 0..90 {
                let t = now - 90 * 60_000 + k * 60_000;
                let v = if t >= deployed { after } else { 1.0 };
                p.push(json!({"metric": metric, "labels": {"service": service}, "resource": service, "timestamp": t, "value": v}));
            }
        }
        json!({ "points": p })
    };
    for (service, after) in [("cart", 3.0), ("shop", 1.0)] {
        let r = s.post_json("/api/v1/ingest/points", &admin, &points(service, after));
        assert!(r.status().is_success(), "{:?}", r.text());
    }
    let deploy = |service: &str| {
        json!({"source": "kubernetes", "event_type": "deployment", "resource": service,
               "timestamp": deployed, "name": service, "labels": {"service": service}})
    };
    let settled = |n: usize| {
        eventually(|| {
            let (_, runs) = json_of(s.get("/api/v1/workflows/deployment_monitoring/runs", &admin));
            let runs = runs["runs"].as_array()?.clone();
            (runs.len() == n && runs.iter().all(|r| r["status"] != "running")).then_some(runs)
        })
    };
    // No regression: marked, compared, left alone.
    assert_eq!(
        s.post_json("/api/v1/events", &admin, &deploy("shop"))
            .status(),
        201
    );
    let runs = settled(1);
    let steps = runs[0]["record"]["steps"].as_array().unwrap();
    assert_eq!(runs[0]["trigger"], "event");
    assert_eq!(steps[0]["status"], "succeeded", "{}", runs[0]);
    assert_eq!(steps[2]["output"]["detected"], false, "{}", runs[0]);
    assert_eq!(steps[3]["status"], "skipped");
    assert!(!marker.exists());
    assert_eq!(count(&seen, "/api/annotations"), 1);
    // Tripled after the deployment: rolled back.
    assert_eq!(
        s.post_json("/api/v1/events", &admin, &deploy("cart"))
            .status(),
        201
    );
    let runs = settled(2);
    let run = runs
        .iter()
        .find(|r| r["record"]["trigger"]["event"]["resource"] == "cart")
        .unwrap();
    let steps = run["record"]["steps"].as_array().unwrap();
    assert_eq!(steps[2]["output"]["severity"], "critical", "{run}");
    assert_eq!(steps[3]["status"], "succeeded", "{run}");
    assert!(marker.exists());
    assert_eq!(count(&seen, "/rest/api/3/issue"), 1);
    assert!(count(&seen, "/slack/hook") + count(&seen, "/oncall/hook") >= 1);
    let (_, audit) = json_of(s.get("/api/v1/audit?kind=remediation", &admin));
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == "system"
                && e["target"] == "workflow/deployment_monitoring/auto_rollback"
                && e["outcome"] == "ok"),
        "{audit}"
    );
    assert!(s.stop());
}

/// A run the service cannot finish is recorded `interrupted`, not left `running`: at a
/// graceful stop (after its grace), and after a `kill -9` by the next process, once the dead
/// one's heartbeat is stale.
#[test]
fn a_run_cut_short_is_recorded_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let admin = token(dir.path(), "admin", "root");
    let wf = dir.path().join("slow.yaml");
    std::fs::write(
        &wf,
        "workflows:\n  slow:\n    trigger: {type: manual}\n    steps:\n      - name: nap\n        action: execute_remediation\n        params: {command: nap}\n",
    )
    .unwrap();
    let cfg = format!(
        "workflows:\n  files: [\"{}\"]\n  poll_ms: 100\n  remediation:\n    commands:\n      nap: {{program: sleep, args: [\"30\"]}}\n",
        wf.display()
    );
    let started = |s: &Server| {
        let (status, r) = json_of(s.post_json("/api/v1/workflows/slow/run", &admin, &json!({})));
        assert_eq!(
            (status, r["status"].as_str()),
            (202, Some("running")),
            "{r}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
        r["run_id"].as_str().unwrap().to_string()
    };
    let run_of =
        |s: &Server, id: &str| json_of(s.get(&format!("/api/v1/workflow-runs/{id}"), &admin)).1;

    // A graceful stop waits 5 s, then stops the run and records it.
    let s = Server::start(dir.path(), &cfg);
    let first = started(&s);
    assert_eq!(run_of(&s, &first)["status"], "running");
    assert!(s.stop());
    let s = Server::start(dir.path(), &cfg);
    let r = run_of(&s, &first);
    assert_eq!(r["status"], "interrupted", "{r}");
    assert!(
        r["record"]["error"]
            .as_str()
            .unwrap()
            .contains("service stopped"),
        "{r}"
    );
    assert!(r["finished_at"].is_i64(), "{r}");

    // Killed: the next process finds the stale heartbeat.
    let second = started(&s);
    s.kill9();
    let s = Server::start(dir.path(), &cfg);
    let r = eventually(|| Some(run_of(&s, &second)).filter(|r| r["status"] != "running"));
    assert_eq!(r["status"], "interrupted", "{r}");
    assert!(
        r["record"]["error"]
            .as_str()
            .unwrap()
            .contains("process running it stopped"),
        "{r}"
    );
    // The run that ended keeps its record.
    assert_eq!(run_of(&s, &first)["status"], "interrupted");
    assert!(s.stop());
}

/// The seed's `capacity_alert` (on a schedule that fires every minute here, since the test
/// cannot advance the service's clock; the library test runs the seed's own `0 */6 * * *`
/// with a clock it advances) forecasts the stored metrics and opens a CAP ticket because one
/// resource saturates within three days.
#[test]
fn the_capacity_workflow_runs_on_its_schedule_and_opens_a_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let admin = token(dir.path(), "admin", "root");
    let seen: Seen = Arc::default();
    let fakes = start_fakes(seen.clone());
    let seed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/workflows/seed.yaml"),
    )
    .unwrap();
    // The seed's capacity_alert as written, but every minute.
    let start = seed.find("  capacity_alert:").unwrap();
    let end = seed[start..]
        .find("\n  # ")
        .map_or(seed.len(), |e| start + e);
    let body = seed[start..end].replace("\"0 */6 * * *\"", "\"* * * * *\"");
    assert!(body.contains("\"* * * * *\""), "{body}");
    let wf = dir.path().join("capacity.yaml");
    std::fs::write(&wf, format!("workflows:\n{body}\n")).unwrap();
    let marker = dir.path().join("unused");
    let cfg = config(fakes, &marker).replace(
        &format!(
            "files: [\"{}\"]",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../examples/workflows/seed.yaml")
                .display()
        ),
        &format!("files: [\"{}\"]", wf.display()),
    ) + "capacity:\n  metrics: [{metric: disk_used_pct, threshold: 100}]\n";
    assert!(cfg.contains("capacity.yaml"), "{cfg}");
    let s = Server::start(dir.path(), &cfg);
    // Two days of disk use every 10 minutes, from 40 % up to 80 %: full in about a day.
    let now = common::server::now_ms();
    let points: Vec<Value> = (0..288)
        .map(|k| {
            let t = now - (288 - k) * 600_000;
            let v = 40.0 + 40.0 * k as f64 / 287.0 + (k as f64 * 0.7).sin() * 0.5;
            json!({"metric": "disk_used_pct", "labels": {"service": "db"}, "resource": "db", "timestamp": t, "value": v})
        })
        .collect();
    let r = s.post_json(
        "/api/v1/ingest/points",
        &admin,
        &json!({ "points": points }),
    );
    assert!(r.status().is_success(), "{:?}", r.text());
    // The next minute's schedule (the first one may have fired before the data came).
    let run = {
        let started = std::time::Instant::now();
        loop {
            let (_, runs) = json_of(s.get("/api/v1/workflows/capacity_alert/runs", &admin));
            let done = runs["runs"].as_array().unwrap().iter().find(|r| {
                r["status"] != "running"
                    && r["record"]["steps"][0]["output"]["resources"]
                        .as_array()
                        .is_some_and(|i| !i.is_empty())
            });
            if let Some(r) = done {
                break r.clone();
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(90),
                "no scheduled run with the data: {runs}"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    assert_eq!(run["trigger"], "schedule", "{run}");
    assert_eq!(run["status"], "succeeded", "{run}");
    let steps = run["record"]["steps"].as_array().unwrap();
    let step = |name: &str| steps.iter().find(|x| x["name"] == name).unwrap().clone();
    assert_eq!(
        step("generate_recommendations")["status"],
        "succeeded",
        "{run}"
    );
    assert_eq!(
        step("create_capacity_ticket")["status"],
        "succeeded",
        "{run}"
    );
    let tickets: Vec<Value> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p == "/rest/api/3/issue")
        .map(|(_, b)| b.clone())
        .collect();
    let cap = tickets
        .iter()
        .find(|b| b["fields"]["project"]["key"] == "CAP")
        .unwrap_or_else(|| panic!("no CAP ticket: {tickets:?}"));
    assert_eq!(cap["fields"]["issuetype"]["name"], "Task", "{cap}");
    let summary = cap["fields"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("db:disk_used_pct saturates in"),
        "{summary}"
    );
}
