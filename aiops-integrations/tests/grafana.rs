//! The Grafana client against a strict local fake of Grafana's HTTP API (annotations and
//! dashboards): it checks credentials, the organisation header, every JSON field and its
//! type, keeps what it is sent, and answers 429, 5xx or slowly when told to, for the retries,
//! backoff and timeouts.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use aiops_core::time::Duration;
use aiops_integrations::IntegrationError;
use aiops_integrations::grafana::{GrafanaAuth, GrafanaClient, GrafanaParams};
use aiops_integrations::http::{HttpParams, Secret, SecretRef};
use aiops_integrations::traits::{Annotation, Annotator};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use serde::Deserialize;
use serde_json::{Value, json};

/// A trouble to answer with, instead of handling the request.
#[derive(Debug, Clone)]
enum Trouble {
    /// This status, with this Retry-After.
    Status(u16, Option<&'static str>),
    /// Wait this long, then handle it.
    Slow(StdDuration),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AnnotationIn {
    time: i64,
    time_end: Option<i64>,
    tags: Vec<String>,
    text: String,
    #[serde(rename = "dashboardUID")]
    dashboard_uid: Option<String>,
    panel_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DashboardIn {
    dashboard: Value,
    folder_uid: String,
    overwrite: bool,
    message: String,
}

#[derive(Default)]
struct Fake {
    /// The `Authorization` value expected.
    auth: String,
    /// The `X-Grafana-Org-Id` expected, when one is.
    org: Option<String>,
    troubles: VecDeque<Trouble>,
    calls: u32,
    annotations: BTreeMap<u64, AnnotationIn>,
    dashboards: BTreeMap<String, (Value, String, u64)>,
}

type Shared = Arc<Mutex<Fake>>;

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"message": message}))).into_response()
}

/// Counts the call, checks the headers, plays the next trouble; `Some` answers instead.
async fn gate(s: &Shared, h: &HeaderMap) -> Option<Response> {
    let trouble = {
        let mut f = s.lock().unwrap();
        f.calls += 1;
        f.troubles.pop_front()
    };
    match trouble {
        Some(Trouble::Status(code, retry_after)) => {
            let mut r = error(StatusCode::from_u16(code).unwrap(), "trouble");
            if let Some(ra) = retry_after {
                r.headers_mut().insert("retry-after", ra.parse().unwrap());
            }
            return Some(r);
        }
        Some(Trouble::Slow(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    let f = s.lock().unwrap();
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some(f.auth.as_str()) {
        return Some(error(StatusCode::UNAUTHORIZED, "invalid API key"));
    }
    if h.get("x-grafana-org-id").and_then(|v| v.to_str().ok()) != f.org.as_deref() {
        return Some(error(StatusCode::BAD_REQUEST, "wrong organisation"));
    }
    if h.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/json") {
        return Some(error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "json only"));
    }
    None
}

fn check_annotation(body: &str) -> Result<AnnotationIn, Response> {
    let a: AnnotationIn = serde_json::from_str(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("bad annotation: {e}")))?;
    if a.time <= 0 || a.time_end.is_some_and(|e| e < a.time) || a.text.is_empty() {
        return Err(error(StatusCode::BAD_REQUEST, "bad times or text"));
    }
    if a.panel_id.is_some() && a.dashboard_uid.is_none() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "panelId without dashboardUID",
        ));
    }
    Ok(a)
}

async fn add_annotation(State(s): State<Shared>, h: HeaderMap, body: String) -> Response {
    if let Some(r) = gate(&s, &h).await {
        return r;
    }
    let a = match check_annotation(&body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut f = s.lock().unwrap();
    let id = f.annotations.len() as u64 + 1;
    f.annotations.insert(id, a);
    axum::Json(json!({"id": id, "message": "Annotation added"})).into_response()
}

async fn update_annotation(
    State(s): State<Shared>,
    Path(id): Path<u64>,
    h: HeaderMap,
    body: String,
) -> Response {
    if let Some(r) = gate(&s, &h).await {
        return r;
    }
    let a = match check_annotation(&body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut f = s.lock().unwrap();
    match f.annotations.get_mut(&id) {
        Some(slot) => {
            *slot = a;
            axum::Json(json!({"message": "Annotation updated"})).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "Annotation not found"),
    }
}

/// The checks Grafana's dashboard model makes, and a few of ours on its shape.
fn check_dashboard(d: &Value) -> Result<String, String> {
    let uid = d["uid"].as_str().ok_or("uid")?;
    if uid.is_empty()
        || uid.len() > 40
        || !uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!("bad uid {uid:?}"));
    }
    if !d["id"].is_null() {
        return Err("id must be null with a uid".into());
    }
    d["title"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or("title")?;
    let tags = d["tags"].as_array().ok_or("tags")?;
    if tags.first() != Some(&json!("aiops")) || !tags.iter().all(Value::is_string) {
        return Err("tags".into());
    }
    d["schemaVersion"].as_u64().ok_or("schemaVersion")?;
    d["version"].as_u64().ok_or("version")?;
    let panels = d["panels"].as_array().ok_or("panels")?;
    let mut ids = std::collections::BTreeSet::new();
    for p in panels {
        if p["type"] != "timeseries" || !ids.insert(p["id"].as_u64().ok_or("panel id")?) {
            return Err(format!("panel type or id: {p}"));
        }
        for k in ["h", "w", "x", "y"] {
            p["gridPos"][k].as_u64().ok_or(format!("gridPos.{k}"))?;
        }
        if p["gridPos"]["x"].as_u64().unwrap() + p["gridPos"]["w"].as_u64().unwrap() > 24 {
            return Err("panel wider than the grid".into());
        }
        let targets = p["targets"]
            .as_array()
            .filter(|t| !t.is_empty())
            .ok_or("targets")?;
        for t in targets {
            t["refId"].as_str().ok_or("refId")?;
            t["expr"].as_str().filter(|e| !e.is_empty()).ok_or("expr")?;
            t["datasource"]["uid"].as_str().ok_or("datasource.uid")?;
            t["datasource"]["type"].as_str().ok_or("datasource.type")?;
        }
    }
    Ok(uid.to_string())
}

async fn save_dashboard(State(s): State<Shared>, h: HeaderMap, body: String) -> Response {
    if let Some(r) = gate(&s, &h).await {
        return r;
    }
    let d: DashboardIn = match serde_json::from_str(&body) {
        Ok(d) => d,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad body: {e}")),
    };
    let uid = match check_dashboard(&d.dashboard) {
        Ok(u) => u,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    if d.message.is_empty() {
        return error(StatusCode::BAD_REQUEST, "message");
    }
    let mut f = s.lock().unwrap();
    let next_id = f.dashboards.len() as u64 + 1;
    let (id, version) = match f.dashboards.get(&uid) {
        Some(_) if !d.overwrite => {
            return error(StatusCode::PRECONDITION_FAILED, "version-mismatch");
        }
        Some((dash, _, v)) => (dash["id"].as_u64().unwrap(), v + 1),
        None => (next_id, 1),
    };
    let mut stored = d.dashboard;
    stored["id"] = json!(id);
    f.dashboards
        .insert(uid.clone(), (stored, d.folder_uid, version));
    axum::Json(
        json!({"id": id, "uid": uid, "url": format!("/d/{uid}/x"), "status": "success",
                      "version": version, "slug": "x"}),
    )
    .into_response()
}

async fn start(auth: &str, org: Option<&str>) -> (String, Shared) {
    let s: Shared = Arc::new(Mutex::new(Fake {
        auth: auth.into(),
        org: org.map(str::to_string),
        ..Fake::default()
    }));
    let app = Router::new()
        .route("/grafana/api/annotations", post(add_annotation))
        .route("/grafana/api/annotations/{id}", put(update_annotation))
        .route("/grafana/api/dashboards/db", post(save_dashboard))
        .with_state(s.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/grafana"), s)
}

fn client(url: &str, auth: GrafanaAuth, f: impl FnOnce(&mut GrafanaParams)) -> GrafanaClient {
    let mut p = GrafanaParams::new(url, auth);
    f(&mut p);
    let http = HttpParams {
        timeout: p.timeout,
        retries: p.retries,
        backoff: Duration(20),
        max_backoff: Duration(80),
        ..HttpParams::default()
    };
    GrafanaClient::new(p.validate().unwrap().with_http(http)).unwrap()
}

fn bearer(t: &str) -> GrafanaAuth {
    GrafanaAuth::Bearer(SecretRef::Value(Secret::new(t)))
}

#[tokio::test]
async fn annotations_are_created_and_updated_with_token_and_organisation() {
    let (url, s) = start("Bearer glsa_tok", Some("3")).await;
    let c = client(&url, bearer("glsa_tok"), |p| {
        p.org_id = Some(3);
        p.dashboard_uid = Some("aiops-cart".into());
        p.panel_id = Some(2);
    });
    let ann: &dyn Annotator = &c;
    let mut a = Annotation {
        time: 1_700_000_000_000,
        time_end: None,
        tags: vec!["aiops".into(), "incident".into(), "service:cart".into()],
        text: "cart: p99 latency anomaly".into(),
    };
    let id = ann.annotate(&a).await.unwrap();
    assert_eq!(id, "1");
    a.time_end = Some(1_700_000_600_000);
    a.text.push_str(" (resolved)");
    ann.update(&id, &a).await.unwrap();
    {
        let f = s.lock().unwrap();
        let got = &f.annotations[&1];
        assert_eq!(got.time, 1_700_000_000_000);
        assert_eq!(got.time_end, Some(1_700_000_600_000));
        assert_eq!(got.tags, a.tags);
        assert_eq!(got.text, "cart: p99 latency anomaly (resolved)");
        assert_eq!(got.dashboard_uid.as_deref(), Some("aiops-cart"));
        assert_eq!(got.panel_id, Some(2));
    }
    // An organisation annotation has neither dashboard nor panel.
    let org_wide = client(&url, bearer("glsa_tok"), |p| p.org_id = Some(3));
    assert_eq!(org_wide.annotate(&a).await.unwrap(), "2");
    assert!(s.lock().unwrap().annotations[&2].dashboard_uid.is_none());
    // Updating one Grafana does not know, or with an id that is not one, is an error.
    match ann.update("99", &a).await {
        Err(IntegrationError::Status { status: 404, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(ann.update("1/../2", &a).await.is_err());
    // A region that ends before it starts is refused before sending.
    let calls = s.lock().unwrap().calls;
    a.time_end = Some(1);
    assert!(ann.annotate(&a).await.is_err());
    assert_eq!(s.lock().unwrap().calls, calls);
}

#[tokio::test]
async fn wrong_credentials_or_organisation_are_errors_that_show_no_secret() {
    let (url, _s) = start("Basic YWRtaW46cHc=", None).await;
    let basic = |pw: &str| GrafanaAuth::Basic {
        username: "admin".into(),
        password: SecretRef::Value(Secret::new(pw)),
    };
    let a = Annotation {
        time: 1_700_000_000_000,
        time_end: None,
        tags: vec![],
        text: "t".into(),
    };
    let ok = client(&url, basic("pw"), |_| {});
    assert_eq!(ok.annotate(&a).await.unwrap(), "1");
    let e = client(&url, basic("wrong-pw"), |_| {})
        .annotate(&a)
        .await
        .unwrap_err();
    assert!(
        matches!(e, IntegrationError::Status { status: 401, .. }),
        "{e}"
    );
    assert!(!e.to_string().contains("wrong-pw") && !format!("{e:?}").contains("wrong-pw"));
    let e = client(&url, basic("pw"), |p| p.org_id = Some(2))
        .annotate(&a)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("organisation"), "{e}");
}

#[tokio::test]
async fn the_service_dashboard_is_upserted_under_a_stable_uid() {
    let (url, s) = start("Bearer t", None).await;
    let c = client(&url, bearer("t"), |p| {
        p.anomaly_query = "aiops_anomaly_score{service=\"$service\"}".into();
    });
    let metrics = vec![
        "http_request_duration_seconds".to_string(),
        "http_requests_total".to_string(),
        "sum(rate(errors_total{service=\"checkout-api\"}[5m]))".to_string(),
    ];
    let saved = c
        .upsert_service_dashboard("checkout-api", &metrics, "prom-main", "ops")
        .await
        .unwrap();
    assert_eq!(
        (saved.uid.as_str(), saved.version, saved.status.as_str()),
        ("aiops-checkout-api", 1, "success")
    );
    let again = c
        .upsert_service_dashboard("checkout-api", &metrics[..1], "prom-main", "ops")
        .await
        .unwrap();
    assert_eq!(
        (again.id, again.uid.as_str(), again.version),
        (saved.id, "aiops-checkout-api", 2)
    );
    let (d, folder) = {
        let f = s.lock().unwrap();
        assert_eq!(f.dashboards.len(), 1);
        let (d, folder, _) = &f.dashboards["aiops-checkout-api"];
        (d.clone(), folder.clone())
    };
    assert_eq!(folder, "ops");
    let panels = d["panels"].as_array().unwrap();
    assert_eq!(panels.len(), 2, "the second upsert replaced the first");
    assert_eq!(
        panels[0]["targets"][0]["expr"],
        "aiops_anomaly_score{service=\"checkout-api\"}"
    );
    assert_eq!(
        panels[1]["targets"][0]["expr"],
        "http_request_duration_seconds{service=\"checkout-api\"}"
    );
    assert_eq!(panels[1]["targets"][0]["datasource"]["uid"], "prom-main");
    assert_eq!(d["title"], "aiops: checkout-api");
    assert!(
        c.upsert_service_dashboard("x", &metrics, "bad uid", "ops")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn busy_and_failing_answers_are_retried_with_backoff_and_retry_after() {
    let (url, s) = start("Bearer t", None).await;
    let c = client(&url, bearer("t"), |p| p.retries = 3);
    s.lock().unwrap().troubles = VecDeque::from([
        Trouble::Status(429, Some("1")),
        Trouble::Status(503, None),
        Trouble::Status(502, None),
    ]);
    let t = std::time::Instant::now();
    let saved = c
        .upsert_service_dashboard("cart", &["up".into()], "prom", "")
        .await
        .unwrap();
    assert_eq!(saved.version, 1);
    assert_eq!(s.lock().unwrap().calls, 4);
    // At least the 1 s Retry-After, then two backoffs of 10 to 40 ms.
    assert!(
        t.elapsed() >= StdDuration::from_secs(1),
        "{:?}",
        t.elapsed()
    );

    // Out of retries: the last answer is the error.
    s.lock().unwrap().troubles = VecDeque::from(vec![Trouble::Status(503, None); 4]);
    match c.upsert_service_dashboard("cart", &[], "prom", "").await {
        Err(IntegrationError::Status { status: 503, .. }) => {}
        other => panic!("{other:?}"),
    }

    // An annotation update is retried; creating one is not (it could be added twice).
    let a = Annotation {
        time: 1_700_000_000_000,
        time_end: None,
        tags: vec![],
        text: "t".into(),
    };
    let id = c.annotate(&a).await.unwrap();
    s.lock().unwrap().troubles = VecDeque::from([Trouble::Status(503, None)]);
    c.update(&id, &a).await.unwrap();
    let calls = s.lock().unwrap().calls;
    s.lock().unwrap().troubles = VecDeque::from([Trouble::Status(503, None)]);
    assert!(c.annotate(&a).await.is_err());
    assert_eq!(s.lock().unwrap().calls, calls + 1);
    assert_eq!(s.lock().unwrap().annotations.len(), 1);
}

#[tokio::test]
async fn a_slow_answer_times_out_and_is_retried_when_harmless() {
    let (url, s) = start("Bearer t", None).await;
    let c = client(&url, bearer("t"), |p| {
        p.timeout = Duration(300);
        p.retries = 1;
    });
    // Slow once: the upsert times out, is retried, succeeds.
    s.lock().unwrap().troubles = VecDeque::from([Trouble::Slow(StdDuration::from_secs(2))]);
    c.upsert_service_dashboard("cart", &["up".into()], "prom", "")
        .await
        .unwrap();
    assert_eq!(s.lock().unwrap().calls, 2);
    // Slow every time: a timeout error after both attempts.
    s.lock().unwrap().troubles = VecDeque::from(vec![Trouble::Slow(StdDuration::from_secs(2)); 2]);
    match c.upsert_service_dashboard("cart", &[], "prom", "").await {
        Err(IntegrationError::Unreachable {
            attempts: 2,
            reason,
            ..
        }) => assert!(reason.contains("timed out"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // A slow annotation creation is not retried.
    s.lock().unwrap().troubles = VecDeque::from([Trouble::Slow(StdDuration::from_secs(2))]);
    let a = Annotation {
        time: 1_700_000_000_000,
        time_end: None,
        tags: vec![],
        text: "t".into(),
    };
    match c.annotate(&a).await {
        Err(IntegrationError::Unreachable { attempts: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
}
