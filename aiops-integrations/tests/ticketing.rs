//! Jira, ServiceNow and PagerDuty against fakes on 127.0.0.1 that keep state and check what
//! they are sent as strictly as the documented APIs: Atlassian Document Format, required
//! fields, auth, enums and lengths. Also: 429 with `Retry-After`, 503 forever and answers
//! slower than the timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use aiops_core::time::Duration;
use aiops_core::{Alert, Incident, IncidentStatus, Labels, Severity};
use aiops_integrations::IntegrationError;
use aiops_integrations::http::{AuthParams, Secret, SecretRef};
use aiops_integrations::jira::{JiraClient, JiraParams};
use aiops_integrations::pagerduty::{PagerDutyClient, PagerDutyParams};
use aiops_integrations::servicenow::{ServiceNowClient, ServiceNowParams};
use aiops_integrations::traits::{Notification, NotificationKind, Ticketing};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// Serves `app` on a free loopback port; returns its base URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn incident(id: &str, severity: Severity) -> Incident {
    let alert = Alert::firing(
        Labels::try_from_pairs([
            ("alertname", "HighLatency"),
            ("service", "cart"),
            ("env", "prod"),
        ])
        .unwrap(),
        1_700_000_000_000,
    )
    .unwrap();
    Incident {
        id: id.into(),
        title: "cart latency high".into(),
        severity,
        status: IncidentStatus::Open,
        resources: vec!["cart".into(), "db".into()],
        alerts: vec![alert],
        started_at: 1_700_000_000_000,
        resolved_at: None,
        probable_origin: Some("db".into()),
    }
}

fn notification(kind: NotificationKind, id: &str) -> Notification {
    Notification::for_incident(
        kind,
        &incident(id, Severity::Critical),
        Some(format!("https://aiops.example/incidents/{id}")),
    )
}

fn error(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

// ---------------------------------------------------------------------------------------------
// Jira
// ---------------------------------------------------------------------------------------------

const JIRA_AUTH: &str = "Basic bWVAZXhhbXBsZS5jb206amlyYS10MGtlbg==";

/// Checks an Atlassian Document Format document: `doc`, version 1, known node types with
/// their required parts, non-empty text nodes, valid marks, no unknown keys.
fn check_adf(doc: &Value) -> Result<(), String> {
    if doc["type"] != "doc" || doc["version"] != 1 {
        return Err(format!("not a version 1 doc: {doc}"));
    }
    keys(doc, &["type", "version", "content"])?;
    let content = doc["content"].as_array().ok_or("doc without content")?;
    for b in content {
        check_block(b)?;
    }
    Ok(())
}

fn keys(node: &Value, allowed: &[&str]) -> Result<(), String> {
    let map = node
        .as_object()
        .ok_or_else(|| format!("not an object: {node}"))?;
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("unknown key {k:?} in {node}")),
        None => Ok(()),
    }
}

fn check_block(b: &Value) -> Result<(), String> {
    match b["type"].as_str() {
        Some("paragraph") => {
            keys(b, &["type", "content"])?;
            for i in b["content"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                check_inline(i)?;
            }
            Ok(())
        }
        Some("heading") => {
            keys(b, &["type", "attrs", "content"])?;
            let level = b["attrs"]["level"]
                .as_u64()
                .ok_or("heading without level")?;
            if !(1..=6).contains(&level) {
                return Err(format!("heading level {level}"));
            }
            for i in b["content"].as_array().ok_or("heading without content")? {
                check_inline(i)?;
            }
            Ok(())
        }
        Some("bulletList") => {
            keys(b, &["type", "content"])?;
            let items = b["content"].as_array().ok_or("list without items")?;
            if items.is_empty() {
                return Err("empty bulletList".into());
            }
            for item in items {
                keys(item, &["type", "content"])?;
                if item["type"] != "listItem" {
                    return Err(format!("not a listItem: {item}"));
                }
                let inner = item["content"]
                    .as_array()
                    .ok_or("listItem without content")?;
                if inner.is_empty() {
                    return Err("empty listItem".into());
                }
                for i in inner {
                    if !matches!(i["type"].as_str(), Some("paragraph" | "bulletList")) {
                        return Err(format!("bad listItem child {i}"));
                    }
                    check_block(i)?;
                }
            }
            Ok(())
        }
        _ => Err(format!("unknown block {b}")),
    }
}

fn check_inline(i: &Value) -> Result<(), String> {
    match i["type"].as_str() {
        Some("hardBreak") => keys(i, &["type"]),
        Some("text") => {
            keys(i, &["type", "text", "marks"])?;
            let text = i["text"].as_str().ok_or("text without text")?;
            if text.is_empty() {
                return Err("empty text node".into());
            }
            for m in i["marks"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                match m["type"].as_str() {
                    Some("link") => {
                        keys(m, &["type", "attrs"])?;
                        let href = m["attrs"]["href"].as_str().ok_or("link without href")?;
                        if !href.starts_with("http") {
                            return Err(format!("bad href {href}"));
                        }
                    }
                    Some("strong" | "em" | "code") => keys(m, &["type"])?,
                    _ => return Err(format!("unknown mark {m}")),
                }
            }
            Ok(())
        }
        _ => Err(format!("unknown inline node {i}")),
    }
}

#[derive(Debug, Clone)]
struct FakeIssue {
    key: String,
    labels: Vec<String>,
    summary: String,
    priority: Option<String>,
    done: bool,
    resolution: Option<String>,
    comments: Vec<Value>,
}

#[derive(Debug, Default)]
struct JiraState {
    issues: Vec<FakeIssue>,
    creates: u32,
    transitions: u32,
    searches: u32,
}

type Jira = Arc<Mutex<JiraState>>;

fn jira_unauthorized(h: &HeaderMap) -> Option<Response> {
    let ok = h.get("authorization").and_then(|v| v.to_str().ok()) == Some(JIRA_AUTH);
    (!ok).then(|| {
        error(
            StatusCode::UNAUTHORIZED,
            json!({"errorMessages": ["You are not authenticated."], "errors": {}}),
        )
    })
}

fn jira_bad(errors: Value) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        json!({"errorMessages": [], "errors": errors}),
    )
}

fn no_issue() -> Response {
    error(
        StatusCode::NOT_FOUND,
        json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."],
               "errors": {}}),
    )
}

async fn jira_search(
    State(s): State<Jira>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = jira_unauthorized(&h) {
        return r;
    }
    let jql = q.get("jql").cloned().unwrap_or_default();
    // project = "OPS" AND labels = "aiops-incident-..." ORDER BY created ASC
    let quoted = |field: &str| {
        let at = jql.find(&format!("{field} = \""))? + field.len() + 4;
        let end = jql[at..].find('"')?;
        Some(jql[at..at + end].to_string())
    };
    let (Some(project), Some(label)) = (quoted("project"), quoted("labels")) else {
        return error(
            StatusCode::BAD_REQUEST,
            json!({"errorMessages": [format!("unsupported JQL {jql}")], "errors": {}}),
        );
    };
    if q.get("maxResults").map(String::as_str) != Some("1") {
        return jira_bad(json!({"maxResults": "expected 1"}));
    }
    let mut st = s.lock().unwrap();
    st.searches += 1;
    let issues: Vec<Value> = st
        .issues
        .iter()
        .filter(|i| i.key.starts_with(&format!("{project}-")) && i.labels.contains(&label))
        .take(1)
        .map(|i| json!({"id": "1", "key": i.key, "fields": {"status": {"name": "To Do"}}}))
        .collect();
    axum::Json(json!({"issues": issues, "isLast": true})).into_response()
}

async fn jira_create(State(s): State<Jira>, h: HeaderMap, body: axum::Json<Value>) -> Response {
    if let Some(r) = jira_unauthorized(&h) {
        return r;
    }
    let f = &body["fields"];
    if let Err(e) = keys(
        f,
        &[
            "project",
            "summary",
            "issuetype",
            "labels",
            "description",
            "priority",
        ],
    ) {
        return jira_bad(json!({"fields": e}));
    }
    if f["project"]["key"] != "OPS" {
        return jira_bad(json!({"project": "valid project is required"}));
    }
    if f["issuetype"]["name"] != "Task" {
        return jira_bad(json!({"issuetype": "valid issue type is required"}));
    }
    let summary = f["summary"].as_str().unwrap_or_default();
    if summary.is_empty() || summary.chars().count() > 255 || summary.contains('\n') {
        return jira_bad(json!({"summary": "bad summary"}));
    }
    let Some(labels) = f["labels"].as_array() else {
        return jira_bad(json!({"labels": "expected an array"}));
    };
    let labels: Vec<String> = labels
        .iter()
        .map(|l| l.as_str().unwrap_or(" ").to_string())
        .collect();
    if labels.iter().any(|l| l.contains(' ') || l.is_empty()) {
        return jira_bad(json!({"labels": "The label can't contain spaces."}));
    }
    if let Err(e) = check_adf(&f["description"]) {
        return jira_bad(
            json!({"description": format!("Operation value must be an Atlassian Document: {e}")}),
        );
    }
    let priority = match &f["priority"] {
        Value::Null => None,
        p => match p["name"].as_str() {
            Some(n @ ("Highest" | "High" | "Medium" | "Low")) => Some(n.to_string()),
            _ => return jira_bad(json!({"priority": "bad priority"})),
        },
    };
    let mut st = s.lock().unwrap();
    st.creates += 1;
    let key = format!("OPS-{}", st.issues.len() + 1);
    st.issues.push(FakeIssue {
        key: key.clone(),
        labels,
        summary: summary.to_string(),
        priority,
        done: false,
        resolution: None,
        comments: Vec::new(),
    });
    (
        StatusCode::CREATED,
        axum::Json(json!({"id": "10001", "key": key, "self": "http://x/rest/api/3/issue/10001"})),
    )
        .into_response()
}

async fn jira_comment(
    State(s): State<Jira>,
    h: HeaderMap,
    Path(key): Path<String>,
    body: axum::Json<Value>,
) -> Response {
    if let Some(r) = jira_unauthorized(&h) {
        return r;
    }
    if let Err(e) = keys(&body, &["body"]).and_then(|_| check_adf(&body["body"])) {
        return jira_bad(json!({"comment": e}));
    }
    let mut st = s.lock().unwrap();
    let Some(i) = st.issues.iter_mut().find(|i| i.key == key) else {
        return no_issue();
    };
    i.comments.push(body["body"].clone());
    (StatusCode::CREATED, axum::Json(json!({"id": "1"}))).into_response()
}

async fn jira_issue(State(s): State<Jira>, h: HeaderMap, Path(key): Path<String>) -> Response {
    if let Some(r) = jira_unauthorized(&h) {
        return r;
    }
    let st = s.lock().unwrap();
    let Some(i) = st.issues.iter().find(|i| i.key == key) else {
        return no_issue();
    };
    let (name, cat) = if i.done {
        ("Done", "done")
    } else {
        ("To Do", "new")
    };
    axum::Json(json!({"id": "1", "key": key, "fields": {"status": {
        "name": name, "statusCategory": {"key": cat, "name": name}}}}))
    .into_response()
}

async fn jira_transitions(
    State(s): State<Jira>,
    h: HeaderMap,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = jira_unauthorized(&h) {
        return r;
    }
    if !s.lock().unwrap().issues.iter().any(|i| i.key == key) {
        return no_issue();
    }
    let with_fields = q.get("expand").map(String::as_str) == Some("transitions.fields");
    let mut ts = json!([
        {"id": "11", "name": "Start Progress",
         "to": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
         "fields": {}},
        {"id": "31", "name": "Resolve",
         "to": {"name": "Done", "statusCategory": {"key": "done"}},
         "fields": {"resolution": {"required": false, "name": "Resolution"}}},
    ]);
    if !with_fields {
        for t in ts.as_array_mut().unwrap() {
            t.as_object_mut().unwrap().remove("fields");
        }
    }
    axum::Json(json!({"transitions": ts})).into_response()
}

async fn jira_transition(
    State(s): State<Jira>,
    h: HeaderMap,
    Path(key): Path<String>,
    body: axum::Json<Value>,
) -> Response {
    if let Some(r) = jira_unauthorized(&h) {
        return r;
    }
    if let Err(e) = keys(&body, &["transition", "fields", "update"]) {
        return jira_bad(json!({"request": e}));
    }
    let id = body["transition"]["id"].as_str().unwrap_or_default();
    if !matches!(id, "11" | "31") {
        return error(
            StatusCode::BAD_REQUEST,
            json!({"errorMessages": ["Transition id is not valid for this issue."], "errors": {}}),
        );
    }
    let resolution = body["fields"]["resolution"]["name"].as_str();
    if id == "11" && !body["fields"].is_null() {
        return jira_bad(
            json!({"resolution": "Field 'resolution' cannot be set. It is not on the appropriate screen, or unknown."}),
        );
    }
    if id == "31" && !matches!(resolution, Some("Done" | "Won't Do")) {
        return jira_bad(json!({"resolution": "a valid resolution is required"}));
    }
    let comments = body["update"]["comment"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for c in &comments {
        if let Err(e) = check_adf(&c["add"]["body"]) {
            return jira_bad(json!({"comment": e}));
        }
    }
    let mut st = s.lock().unwrap();
    st.transitions += 1;
    let Some(i) = st.issues.iter_mut().find(|i| i.key == key) else {
        return no_issue();
    };
    if id == "31" {
        i.done = true;
        i.resolution = resolution.map(String::from);
    }
    i.comments
        .extend(comments.iter().map(|c| c["add"]["body"].clone()));
    StatusCode::NO_CONTENT.into_response()
}

fn fake_jira() -> (Router, Jira) {
    let state = Jira::default();
    let app = Router::new()
        .route("/rest/api/3/search/jql", get(jira_search))
        .route("/rest/api/3/issue", post(jira_create))
        .route("/rest/api/3/issue/{key}", get(jira_issue))
        .route("/rest/api/3/issue/{key}/comment", post(jira_comment))
        .route(
            "/rest/api/3/issue/{key}/transitions",
            get(jira_transitions).post(jira_transition),
        )
        .with_state(state.clone());
    (app, state)
}

fn jira_params(base: &str, token: &str) -> JiraParams {
    let mut p = JiraParams::new(
        base,
        "OPS",
        AuthParams::Basic {
            username: "me@example.com".into(),
            password: SecretRef::Value(Secret::new(token)),
        },
    );
    p.priorities.insert(Severity::Critical, "Highest".into());
    p.resolution = Some("Done".into());
    p.done_transition = "done".into();
    p.retries = 0;
    p
}

#[tokio::test]
async fn jira_opens_once_per_incident_comments_and_closes() {
    let (app, state) = fake_jira();
    let base = serve(app).await;
    let jira = JiraClient::from_params(&jira_params(&base, "jira-t0ken")).unwrap();
    let opened = notification(NotificationKind::IncidentOpened, "inc-42");

    let t = jira.open(&opened).await.unwrap();
    assert_eq!(t.key, "OPS-1");
    assert_eq!(
        t.url.as_deref(),
        Some(format!("{base}/browse/OPS-1").as_str())
    );
    // Again from this client, and from a new one (a restart): the same issue, found by label.
    assert_eq!(jira.open(&opened).await.unwrap(), t);
    let restarted = JiraClient::from_params(&jira_params(&base, "jira-t0ken")).unwrap();
    assert_eq!(restarted.open(&opened).await.unwrap(), t);
    {
        let st = state.lock().unwrap();
        assert_eq!(st.creates, 1);
        assert_eq!(st.searches, 2);
        let i = &st.issues[0];
        assert_eq!(i.labels, ["aiops-incident-inc-42"]);
        assert_eq!(i.summary, "[aiops] cart latency high");
        assert_eq!(i.priority.as_deref(), Some("Highest"));
    }

    let updated = notification(NotificationKind::IncidentUpdated, "inc-42");
    jira.update(&t, &updated).await.unwrap();
    assert_eq!(state.lock().unwrap().issues[0].comments.len(), 1);

    // "done" matches the transition going to the status Done; its screen has a resolution.
    let resolved = notification(NotificationKind::IncidentResolved, "inc-42");
    jira.close(&t, &resolved).await.unwrap();
    {
        let st = state.lock().unwrap();
        let i = &st.issues[0];
        assert!(i.done);
        assert_eq!(i.resolution.as_deref(), Some("Done"));
        assert_eq!(i.comments.len(), 2);
        assert_eq!(st.transitions, 1);
    }
    // Closing a closed issue does nothing.
    restarted.close(&t, &resolved).await.unwrap();
    assert_eq!(state.lock().unwrap().transitions, 1);

    // Another incident, another issue.
    let other = jira
        .open(&notification(NotificationKind::IncidentOpened, "inc 43"))
        .await
        .unwrap();
    assert_eq!(other.key, "OPS-2");
    assert_eq!(
        state.lock().unwrap().issues[1].labels,
        ["aiops-incident-inc_2043"]
    );
}

#[tokio::test]
async fn jira_errors_are_typed_and_hold_no_secret() {
    let (app, state) = fake_jira();
    let base = serve(app).await;
    let bad = JiraClient::from_params(&jira_params(&base, "wrong-t0ken")).unwrap();
    let n = notification(NotificationKind::IncidentOpened, "inc-1");
    let e = bad.open(&n).await.unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, IntegrationError::Remote { status: 401, .. }),
        "{text}"
    );
    assert!(
        text.contains("not authenticated") && !text.contains("wrong-t0ken"),
        "{text}"
    );

    // A transition name the workflow does not have: a configuration error naming those it has.
    let mut p = jira_params(&base, "jira-t0ken");
    p.done_transition = "Finish".into();
    let jira = JiraClient::from_params(&p).unwrap();
    let t = jira.open(&n).await.unwrap();
    let e = jira.close(&t, &n).await.unwrap_err().to_string();
    assert!(
        e.contains("Finish") && e.contains("Start Progress, Resolve"),
        "{e}"
    );

    // A transition whose screen has no resolution is sent without one.
    p.done_transition = "Start Progress".into();
    let jira = JiraClient::from_params(&p).unwrap();
    jira.close(&t, &n).await.unwrap();
    assert_eq!(state.lock().unwrap().transitions, 1);

    // A project the fake does not know: Jira's field errors.
    let mut p = jira_params(&base, "jira-t0ken");
    p.project = "NOPE".into();
    let e = JiraClient::from_params(&p)
        .unwrap()
        .open(&notification(NotificationKind::IncidentOpened, "inc-2"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, IntegrationError::Remote { status: 400, message, .. } if message.contains("project")),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// ServiceNow
// ---------------------------------------------------------------------------------------------

const SN_AUTH: &str = "Basic YWlvcHM6c24tcGE1NXdvcmQ=";

#[derive(Debug, Default)]
struct SnState {
    records: Vec<Value>,
    creates: u32,
    patches: u32,
}

type Sn = Arc<Mutex<SnState>>;

fn sn_error(status: StatusCode, message: &str, detail: &str) -> Response {
    error(
        status,
        json!({"error": {"message": message, "detail": detail}, "status": "failure"}),
    )
}

fn sn_unauthorized(h: &HeaderMap) -> Option<Response> {
    let ok = h.get("authorization").and_then(|v| v.to_str().ok()) == Some(SN_AUTH);
    (!ok).then(|| {
        sn_error(
            StatusCode::UNAUTHORIZED,
            "User Not Authenticated",
            "Required to provide Auth information",
        )
    })
}

/// The record with only the fields asked (`sysparm_fields`), all when not asked.
fn project(record: &Value, q: &HashMap<String, String>) -> Value {
    match q.get("sysparm_fields") {
        None => record.clone(),
        Some(fields) => Value::Object(
            fields
                .split(',')
                .filter_map(|f| Some((f.to_string(), record.get(f)?.clone())))
                .collect(),
        ),
    }
}

async fn sn_query(
    State(s): State<Sn>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = sn_unauthorized(&h) {
        return r;
    }
    let query = q.get("sysparm_query").cloned().unwrap_or_default();
    let mut conds = HashMap::new();
    for c in query.split('^') {
        let Some((k, v)) = c.split_once('=') else {
            return sn_error(StatusCode::BAD_REQUEST, "Invalid query", &query);
        };
        conds.insert(k.to_string(), v.to_string());
    }
    if conds.get("active").map(String::as_str) != Some("true")
        || !conds.contains_key("correlation_id")
    {
        return sn_error(
            StatusCode::BAD_REQUEST,
            "expected correlation_id and active",
            &query,
        );
    }
    let limit: usize = q
        .get("sysparm_limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(10_000);
    let st = s.lock().unwrap();
    let rows: Vec<Value> = st
        .records
        .iter()
        .filter(|r| {
            r["correlation_id"] == conds["correlation_id"].as_str() && r["active"] == "true"
        })
        .take(limit)
        .map(|r| project(r, &q))
        .collect();
    axum::Json(json!({"result": rows})).into_response()
}

async fn sn_create(
    State(s): State<Sn>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: axum::Json<Value>,
) -> Response {
    if let Some(r) = sn_unauthorized(&h) {
        return r;
    }
    let allowed = [
        "short_description",
        "description",
        "urgency",
        "impact",
        "correlation_id",
        "correlation_display",
        "assignment_group",
        "caller_id",
    ];
    if let Err(e) = keys(&body, &allowed) {
        return sn_error(StatusCode::BAD_REQUEST, "Invalid field", &e);
    }
    for f in ["urgency", "impact"] {
        if !matches!(body[f].as_str(), Some("1" | "2" | "3")) {
            return sn_error(StatusCode::BAD_REQUEST, "Invalid value", f);
        }
    }
    let short = body["short_description"].as_str().unwrap_or_default();
    if short.is_empty() || short.chars().count() > 160 {
        return sn_error(
            StatusCode::BAD_REQUEST,
            "Invalid value",
            "short_description",
        );
    }
    if body["correlation_display"] != "aiops"
        || body["correlation_id"].as_str().is_none_or(str::is_empty)
    {
        return sn_error(StatusCode::BAD_REQUEST, "Invalid value", "correlation");
    }
    let mut st = s.lock().unwrap();
    st.creates += 1;
    let n = st.records.len() + 1;
    let mut record = body.0.clone();
    record["sys_id"] = json!(format!("{n:032x}"));
    record["number"] = json!(format!("INC{n:07}"));
    record["state"] = json!("1");
    record["active"] = json!("true");
    record["work_notes"] = json!([]);
    let answer = project(&record, &q);
    st.records.push(record);
    (StatusCode::CREATED, axum::Json(json!({"result": answer}))).into_response()
}

async fn sn_get(
    State(s): State<Sn>,
    h: HeaderMap,
    Path(sys_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = sn_unauthorized(&h) {
        return r;
    }
    let st = s.lock().unwrap();
    match st.records.iter().find(|r| r["sys_id"] == sys_id.as_str()) {
        Some(r) => axum::Json(json!({"result": project(r, &q)})).into_response(),
        None => sn_error(
            StatusCode::NOT_FOUND,
            "No Record found",
            "Record doesn't exist or ACL restricts the record retrieval",
        ),
    }
}

async fn sn_patch(
    State(s): State<Sn>,
    h: HeaderMap,
    Path(sys_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: axum::Json<Value>,
) -> Response {
    if let Some(r) = sn_unauthorized(&h) {
        return r;
    }
    if let Err(e) = keys(&body, &["work_notes", "state", "close_code", "close_notes"]) {
        return sn_error(StatusCode::BAD_REQUEST, "Invalid field", &e);
    }
    if body.get("state").is_some() {
        let filled = |f: &str| body[f].as_str().is_some_and(|s| !s.trim().is_empty());
        if body["state"] != "6" {
            return sn_error(StatusCode::BAD_REQUEST, "Invalid state", "");
        }
        if !filled("close_code") || !filled("close_notes") {
            return sn_error(
                StatusCode::FORBIDDEN,
                "Operation Failed",
                "Data Policy Exception: the following fields are mandatory: Resolution code, Resolution notes",
            );
        }
    }
    let mut st = s.lock().unwrap();
    st.patches += 1;
    let Some(r) = st
        .records
        .iter_mut()
        .find(|r| r["sys_id"] == sys_id.as_str())
    else {
        return sn_error(StatusCode::NOT_FOUND, "No Record found", "");
    };
    if let Some(w) = body["work_notes"].as_str() {
        r["work_notes"].as_array_mut().unwrap().push(json!(w));
    }
    if body.get("state").is_some() {
        r["state"] = json!("6");
        r["active"] = json!("false");
        r["close_code"] = body["close_code"].clone();
        r["close_notes"] = body["close_notes"].clone();
    }
    let answer = project(r, &q);
    axum::Json(json!({"result": answer})).into_response()
}

fn fake_servicenow() -> (Router, Sn) {
    let state = Sn::default();
    let app = Router::new()
        .route("/api/now/table/incident", get(sn_query).post(sn_create))
        .route(
            "/api/now/table/incident/{sys_id}",
            get(sn_get).patch(sn_patch),
        )
        .with_state(state.clone());
    (app, state)
}

fn sn_params(base: &str, password: &str) -> ServiceNowParams {
    let mut p = ServiceNowParams::new(
        base,
        AuthParams::Basic {
            username: "aiops".into(),
            password: SecretRef::Value(Secret::new(password)),
        },
    );
    p.assignment_group = Some("Platform".into());
    p.retries = 0;
    p
}

#[tokio::test]
async fn servicenow_correlates_notes_and_resolves() {
    let (app, state) = fake_servicenow();
    let base = serve(app).await;
    let sn = ServiceNowClient::from_params(&sn_params(&base, "sn-pa55word")).unwrap();
    let opened = notification(NotificationKind::IncidentOpened, "inc-7");
    let t = sn.open(&opened).await.unwrap();
    assert_eq!(t.key, format!("{:032x}", 1));
    assert!(t.url.as_deref().unwrap().contains(&t.key));
    let again = ServiceNowClient::from_params(&sn_params(&base, "sn-pa55word"))
        .unwrap()
        .open(&opened)
        .await
        .unwrap();
    assert_eq!(again, t);
    {
        let st = state.lock().unwrap();
        assert_eq!(st.creates, 1);
        let r = &st.records[0];
        assert_eq!(r["correlation_id"], "inc-7");
        assert_eq!(
            (r["urgency"].as_str(), r["impact"].as_str()),
            (Some("1"), Some("1"))
        );
        assert_eq!(r["assignment_group"], "Platform");
        assert_eq!(r["short_description"], "[aiops] cart latency high");
    }
    sn.update(
        &t,
        &notification(NotificationKind::IncidentUpdated, "inc-7"),
    )
    .await
    .unwrap();
    let resolved = notification(NotificationKind::IncidentResolved, "inc-7");
    sn.close(&t, &resolved).await.unwrap();
    {
        let st = state.lock().unwrap();
        let r = &st.records[0];
        assert_eq!(r["work_notes"].as_array().unwrap().len(), 1);
        assert_eq!(r["state"], "6");
        assert_eq!(r["close_code"], "Solved (Permanently)");
        assert!(
            r["close_notes"]
                .as_str()
                .unwrap()
                .contains("cart latency high")
        );
        assert_eq!(st.patches, 2);
    }
    // Resolving a resolved incident does nothing; a new open after it makes a new one (the
    // search is for active incidents).
    sn.close(&t, &resolved).await.unwrap();
    assert_eq!(state.lock().unwrap().patches, 2);
    let t2 = sn.open(&opened).await.unwrap();
    assert_ne!(t2.key, t.key);

    // Errors: ServiceNow's own format, without the password.
    let bad = ServiceNowClient::from_params(&sn_params(&base, "not-the-pa55")).unwrap();
    let e = bad.open(&opened).await.unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, IntegrationError::Remote { status: 401, .. }),
        "{text}"
    );
    assert!(
        text.contains("User Not Authenticated") && !text.contains("not-the-pa55"),
        "{text}"
    );
    let gone = aiops_integrations::traits::TicketRef {
        system: "servicenow".into(),
        key: "f".repeat(32),
        url: None,
    };
    let e = sn.close(&gone, &resolved).await.unwrap_err();
    assert!(
        matches!(&e, IntegrationError::Remote { status: 404, message, .. } if message.contains("No Record found")),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// PagerDuty
// ---------------------------------------------------------------------------------------------

const ROUTING_KEY: &str = "0123456789abcdef0123456789ABCDEF";

#[derive(Debug, Default)]
struct PdState {
    events: Vec<Value>,
    /// dedup_key → triggered / acknowledged / resolved.
    alerts: HashMap<String, String>,
    /// Alerts opened (a trigger on an open alert folds into it).
    opened: u32,
}

type Pd = Arc<Mutex<PdState>>;

fn invalid_event(errors: Vec<String>) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors}),
    )
}

fn check_event(e: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    if let Err(x) = keys(
        e,
        &[
            "routing_key",
            "event_action",
            "dedup_key",
            "payload",
            "links",
            "images",
            "client",
            "client_url",
        ],
    ) {
        errors.push(x);
    }
    match e["routing_key"].as_str() {
        Some(k) if k.len() == 32 => {}
        _ => errors.push("Length of 'routing_key' is incorrect (should be 32 characters)".into()),
    }
    let action = e["event_action"].as_str().unwrap_or_default();
    if !matches!(action, "trigger" | "acknowledge" | "resolve") {
        errors.push(
            "'event_action' is invalid (must be one of: trigger, acknowledge, resolve)".into(),
        );
    }
    match e["dedup_key"].as_str() {
        Some(k) if !k.is_empty() && k.chars().count() <= 255 => {}
        _ => errors.push("'dedup_key' is missing or too long".into()),
    }
    if action == "trigger" {
        let p = &e["payload"];
        if let Err(x) = keys(
            p,
            &[
                "summary",
                "source",
                "severity",
                "timestamp",
                "component",
                "group",
                "class",
                "custom_details",
            ],
        ) {
            errors.push(x);
        }
        match p["summary"].as_str() {
            Some(s) if !s.is_empty() && s.chars().count() <= 1024 => {}
            _ => errors.push("'payload.summary' is missing or longer than 1024 characters".into()),
        }
        if p["source"].as_str().is_none_or(str::is_empty) {
            errors.push("'payload.source' is missing".into());
        }
        if !matches!(
            p["severity"].as_str(),
            Some("critical" | "error" | "warning" | "info")
        ) {
            errors.push("'payload.severity' is invalid".into());
        }
        if let Some(t) = p.get("timestamp")
            && t.as_str()
                .is_none_or(|t| chrono::DateTime::parse_from_rfc3339(t).is_err())
        {
            errors.push("'payload.timestamp' is not ISO 8601".into());
        }
        for l in e["links"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            if keys(l, &["href", "text"]).is_err() || l["href"].as_str().is_none() {
                errors.push(format!("bad link {l}"));
            }
        }
    } else if e.get("payload").is_some() {
        errors.push("'payload' is only for triggers".into());
    }
    errors
}

async fn pd_enqueue(State(s): State<Pd>, body: axum::Json<Value>) -> Response {
    let errors = check_event(&body);
    if !errors.is_empty() {
        return invalid_event(errors);
    }
    if body["routing_key"] != ROUTING_KEY {
        return invalid_event(vec!["Invalid routing key".into()]);
    }
    let mut st = s.lock().unwrap();
    let key = body["dedup_key"].as_str().unwrap().to_string();
    let action = body["event_action"].as_str().unwrap().to_string();
    let current = st.alerts.get(&key).cloned();
    match (action.as_str(), current.as_deref()) {
        ("trigger", None | Some("resolved")) => {
            st.opened += 1;
            st.alerts.insert(key.clone(), "triggered".into());
        }
        ("trigger", _) => {}
        ("acknowledge", Some("triggered")) => {
            st.alerts.insert(key.clone(), "acknowledged".into());
        }
        ("resolve", Some(_)) => {
            st.alerts.insert(key.clone(), "resolved".into());
        }
        // Acknowledging or resolving what is not open is accepted and ignored.
        _ => {}
    }
    st.events.push(body.0);
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({"status": "success", "message": "Event processed", "dedup_key": key})),
    )
        .into_response()
}

fn pd_client(url: String, retries: u32, timeout_ms: i64) -> PagerDutyClient {
    let mut p = PagerDutyParams::new(SecretRef::Value(Secret::new(ROUTING_KEY)));
    p.url = url;
    p.retries = retries;
    let mut v = p.validate().unwrap();
    let h = v.http_mut();
    h.backoff = Duration(10);
    h.max_backoff = Duration(40);
    h.timeout = Duration(timeout_ms);
    PagerDutyClient::new(v).unwrap()
}

#[tokio::test]
async fn pagerduty_triggers_dedups_acknowledges_and_resolves() {
    let state = Pd::default();
    let app = Router::new()
        .route("/v2/enqueue", post(pd_enqueue))
        .with_state(state.clone());
    let base = serve(app).await;
    let pd = pd_client(format!("{base}/v2/enqueue"), 0, 5_000);
    let opened = notification(NotificationKind::IncidentOpened, "inc-5");
    let t = pd.open(&opened).await.unwrap();
    assert_eq!(
        (t.system.as_str(), t.key.as_str()),
        ("pagerduty", "aiops-inc-5")
    );
    assert_eq!(pd.open(&opened).await.unwrap(), t);
    pd.update(
        &t,
        &notification(NotificationKind::IncidentUpdated, "inc-5"),
    )
    .await
    .unwrap();
    pd.acknowledge(&t).await.unwrap();
    assert_eq!(state.lock().unwrap().alerts["aiops-inc-5"], "acknowledged");
    pd.close(
        &t,
        &notification(NotificationKind::IncidentResolved, "inc-5"),
    )
    .await
    .unwrap();
    let st = state.lock().unwrap();
    assert_eq!(st.opened, 1, "one alert for one incident");
    assert_eq!(st.alerts["aiops-inc-5"], "resolved");
    assert_eq!(st.events.len(), 5);
    let first = &st.events[0];
    assert_eq!(first["payload"]["severity"], "critical");
    assert_eq!(first["payload"]["component"], "cart");
    assert_eq!(first["payload"]["group"], "prod");
    assert_eq!(first["payload"]["class"], "HighLatency");
    assert_eq!(first["payload"]["source"], "cart");
    assert_eq!(
        first["links"][0]["href"],
        "https://aiops.example/incidents/inc-5"
    );
}

#[tokio::test]
async fn pagerduty_invalid_events_are_remote_errors_without_the_key() {
    // A fake that refuses everything, repeating the key it was sent (as a careless proxy
    // might): the error names PagerDuty's reasons and hides the key.
    let app = Router::new().route(
        "/v2/enqueue",
        post(|body: axum::Json<Value>| async move {
            invalid_event(vec![format!(
                "routing key {} is disabled",
                body["routing_key"].as_str().unwrap_or_default()
            )])
        }),
    );
    let base = serve(app).await;
    let pd = pd_client(format!("{base}/v2/enqueue"), 2, 5_000);
    let e = pd
        .open(&notification(NotificationKind::IncidentOpened, "inc-5"))
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(&e, IntegrationError::Remote { status: 400, error_type, .. } if error_type == "invalid event"),
        "{text}"
    );
    assert!(
        text.contains("disabled") && !text.contains(ROUTING_KEY),
        "{text}"
    );
}

/// A route answering `status` (with `Retry-After` when given) to the first `failures` calls,
/// then a PagerDuty success; counts the calls as they arrive. `delay` slows every answer.
fn flaky_pd(
    failures: u32,
    status: StatusCode,
    retry_after: Option<&'static str>,
    delay: StdDuration,
) -> (Router, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let handler = move || {
        let c = c.clone();
        async move {
            let n = c.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            let mut h = HeaderMap::new();
            if n < failures {
                if let Some(ra) = retry_after {
                    h.insert("retry-after", ra.parse().unwrap());
                }
                return (status, h, "{}".to_string()).into_response();
            }
            (
                StatusCode::ACCEPTED,
                axum::Json(json!({"status": "success", "message": "Event processed",
                                  "dedup_key": "aiops-inc-5"})),
            )
                .into_response()
        }
    };
    (
        Router::new()
            .route("/v2/enqueue", post(handler.clone()))
            .route(
                "/api/now/table/incident",
                get(handler.clone()).post(handler.clone()),
            )
            .route("/rest/api/3/search/jql", get(handler.clone()))
            .route("/rest/api/3/issue", post(handler)),
        calls,
    )
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_for_then_the_event_succeeds() {
    let (app, calls) = flaky_pd(
        1,
        StatusCode::TOO_MANY_REQUESTS,
        Some("1"),
        StdDuration::ZERO,
    );
    let base = serve(app).await;
    let pd = pd_client(format!("{base}/v2/enqueue"), 3, 5_000);
    let started = Instant::now();
    let t = pd
        .open(&notification(NotificationKind::IncidentOpened, "inc-5"))
        .await
        .unwrap();
    assert_eq!(t.key, "aiops-inc-5");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(
        started.elapsed() >= StdDuration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_503_forever_is_an_error_after_the_retries() {
    let (app, calls) = flaky_pd(
        u32::MAX,
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        StdDuration::ZERO,
    );
    let base = serve(app).await;
    let n = notification(NotificationKind::IncidentOpened, "inc-5");

    // PagerDuty events are idempotent: retried.
    let pd = pd_client(format!("{base}/v2/enqueue"), 2, 5_000);
    let e = pd.open(&n).await.unwrap_err();
    assert!(
        matches!(e, IntegrationError::Status { status: 503, .. }),
        "{e}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // ServiceNow's search is a GET: retried too.
    let mut p = sn_params(&base, "sn-pa55word");
    p.retries = 2;
    let mut v = p.validate().unwrap();
    v.http_mut().backoff = Duration(10);
    v.http_mut().max_backoff = Duration(40);
    let sn = ServiceNowClient::new(v).unwrap();
    let e = sn.open(&n).await.unwrap_err();
    assert!(
        matches!(e, IntegrationError::Status { status: 503, .. }),
        "{e}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn answers_slower_than_the_timeout_are_unreachable_errors() {
    let (app, calls) = flaky_pd(0, StatusCode::OK, None, StdDuration::from_millis(1_500));
    let base = serve(app).await;
    let n = notification(NotificationKind::IncidentOpened, "inc-5");
    let pd = pd_client(format!("{base}/v2/enqueue"), 1, 200);
    let started = Instant::now();
    let e = pd.open(&n).await.unwrap_err();
    assert!(
        matches!(&e, IntegrationError::Unreachable { attempts: 2, reason, .. } if reason.contains("timed out")),
        "{e}"
    );
    assert!(
        started.elapsed() < StdDuration::from_millis(1_400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_jira_creation_is_not_repeated_after_a_failure() {
    // Search answers 503 once then success with no issue; creation answers 503: a POST that
    // may have been acted on is not sent twice.
    let state = Arc::new(AtomicU32::new(0));
    let creates = state.clone();
    let app = Router::new()
        .route(
            "/rest/api/3/search/jql",
            get(|| async { axum::Json(json!({"issues": []})) }),
        )
        .route(
            "/rest/api/3/issue",
            post(move || {
                let c = creates.clone();
                async move {
                    c.fetch_add(1, Ordering::SeqCst);
                    (StatusCode::SERVICE_UNAVAILABLE, "busy")
                }
            }),
        );
    let base = serve(app).await;
    let mut p = jira_params(&base, "jira-t0ken");
    p.retries = 3;
    let jira = JiraClient::from_params(&p).unwrap();
    let e = jira
        .open(&notification(NotificationKind::IncidentOpened, "inc-9"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, IntegrationError::Status { status: 503, .. }),
        "{e}"
    );
    assert_eq!(state.load(Ordering::SeqCst), 1);
}

#[test]
fn the_fakes_refuse_what_the_real_apis_refuse() {
    let text = |t: &str| json!({"type": "text", "text": t});
    let doc = |content: Value| json!({"type": "doc", "version": 1, "content": content});
    assert!(check_adf(&doc(json!([{"type": "paragraph", "content": [text("a")]}]))).is_ok());
    assert!(check_adf(&json!({"type": "doc", "version": 2, "content": []})).is_err());
    assert!(check_adf(&doc(json!([{"type": "paragraph", "content": [text("")]}]))).is_err());
    assert!(check_adf(&doc(json!([{"type": "table", "content": []}]))).is_err());
    assert!(check_adf(&doc(json!([{"type": "bulletList", "content": []}]))).is_err());
    assert!(
        check_adf(&doc(json!([{"type": "heading", "attrs": {"level": 7},
                                   "content": [text("h")]}])))
        .is_err()
    );
    assert!(
        check_adf(&doc(json!([{"type": "paragraph", "content": [
        {"type": "text", "text": "x", "marks": [{"type": "link", "attrs": {}}]}]}])))
        .is_err()
    );
    assert!(
        check_adf(&doc(json!([{"type": "paragraph", "content": [
        {"type": "text", "text": "x", "marks": [{"type": "blink"}]}]}])))
        .is_err()
    );
    assert!(check_adf(&json!("plain text")).is_err());

    let event = |action: &str, severity: &str, summary: String, key: &str| {
        json!({"routing_key": key, "event_action": action, "dedup_key": "k",
               "payload": {"summary": summary, "source": "s", "severity": severity}})
    };
    assert!(check_event(&event("trigger", "error", "x".into(), ROUTING_KEY)).is_empty());
    assert!(!check_event(&event("trigger", "high", "x".into(), ROUTING_KEY)).is_empty());
    assert!(!check_event(&event("open", "error", "x".into(), ROUTING_KEY)).is_empty());
    assert!(!check_event(&event("trigger", "error", "x".repeat(1025), ROUTING_KEY)).is_empty());
    assert!(!check_event(&event("trigger", "error", "x".into(), "short")).is_empty());
    assert!(!check_event(&event("resolve", "error", "x".into(), ROUTING_KEY)).is_empty());
}

#[test]
fn the_documented_examples_load_and_validate() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/integrations/ticketing.md"),
    )
    .unwrap();
    let blocks: Vec<&str> = doc
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert_eq!(blocks.len(), 3);
    let jira: JiraParams = aiops_core::yaml::from_str(blocks[0]).unwrap();
    jira.validate().unwrap();
    assert_eq!(jira.priorities[&Severity::Critical], "Highest");
    let sn: ServiceNowParams = aiops_core::yaml::from_str(blocks[1]).unwrap();
    sn.validate().unwrap();
    let pd: PagerDutyParams = aiops_core::yaml::from_str(blocks[2]).unwrap();
    pd.validate().unwrap();
    // The source falls back to `aiops` when the label is missing.
    let mut pd = pd;
    pd.routing_key = SecretRef::Value(Secret::new(ROUTING_KEY));
    let c = PagerDutyClient::from_params(&pd).unwrap();
    let e = c
        .trigger_event(&notification(NotificationKind::IncidentOpened, "inc-1"))
        .unwrap();
    assert_eq!(e.payload.unwrap().source, "aiops");
}
