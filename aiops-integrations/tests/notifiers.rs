//! The notifiers against local fakes on 127.0.0.1 that check the wire format strictly (Slack's
//! Block Kit shapes and limits, DingTalk's signature and timestamp, the webhook's HMAC), answer
//! as the real systems do (rate limits, errors, slowness), and e-mail against a real SMTP
//! server: Python's `aiosmtpd` (found at `AIOPS_PYTHON` or `<workspace>/.venv/bin/python`;
//! the test skips with a message when there is none, unless `AIOPS_REQUIRE_SMTP=1`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use aiops_core::time::Duration;
use aiops_core::{Alert, Incident, IncidentStatus, Labels, Severity};
use aiops_integrations::IntegrationError;
use aiops_integrations::dingtalk::{DingTalkNotifier, DingTalkParams};
use aiops_integrations::email::{EmailNotifier, EmailParams, TlsMode};
use aiops_integrations::http::{Secret, SecretRef, hmac_sha256, hmac_sha256_hex};
use aiops_integrations::slack::{SlackNotifier, SlackParams};
use aiops_integrations::traits::{Notification, NotificationKind, Notifier};
use aiops_integrations::webhook::{WebhookNotifier, WebhookParams};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// Serves `app` on a free loopback port; returns its base URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn value(s: &str) -> SecretRef {
    SecretRef::Value(Secret::new(s))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn notification() -> Notification {
    let alert = |pod: &str| {
        Alert::firing(
            Labels::try_from_pairs([("alertname", "Down"), ("service", "cart"), ("pod", pod)])
                .unwrap(),
            now_ms(),
        )
        .unwrap()
    };
    let inc = Incident {
        id: "inc-42".into(),
        title: "Cart <api> down & failing".into(),
        severity: Severity::Critical,
        status: IncidentStatus::Open,
        resources: vec!["cart".into()],
        alerts: vec![alert("p1"), alert("p2")],
        started_at: now_ms(),
        resolved_at: None,
        probable_origin: Some("postgres".into()),
    };
    Notification::for_incident(
        NotificationKind::IncidentOpened,
        &inc,
        Some("https://aiops.example/incidents/inc-42".into()),
    )
}

/// What a fake saw and how it answers: a count of calls, the bodies received, and a script of
/// answers (the last one repeats).
#[derive(Clone, Default)]
struct Fake {
    calls: Arc<AtomicU32>,
    bodies: Arc<Mutex<Vec<Value>>>,
    script: Arc<Vec<Answer>>,
}

#[derive(Clone)]
enum Answer {
    /// The normal answer of the system.
    Ok,
    /// This status, body and `Retry-After`.
    Status(u16, &'static str, Option<&'static str>),
    /// Waits this long, then answers normally.
    Slow(StdDuration),
    /// DingTalk's HTTP 200 with this errcode.
    Errcode(i64, &'static str),
}

impl Fake {
    fn new(script: Vec<Answer>) -> Self {
        Self {
            script: Arc::new(script),
            ..Self::default()
        }
    }
    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
    /// Counts the call and returns its scripted answer.
    fn next(&self) -> Answer {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) as usize;
        self.script
            .get(n)
            .or(self.script.last())
            .cloned()
            .unwrap_or(Answer::Ok)
    }
}

/// The scripted answer as a response; `ok` is the system's success answer.
async fn answer(a: Answer, ok: Response) -> Response {
    match a {
        Answer::Ok => ok,
        Answer::Slow(d) => {
            tokio::time::sleep(d).await;
            ok
        }
        Answer::Status(code, body, retry_after) => {
            let mut h = HeaderMap::new();
            if let Some(ra) = retry_after {
                h.insert("retry-after", ra.parse().unwrap());
            }
            (StatusCode::from_u16(code).unwrap(), h, body).into_response()
        }
        Answer::Errcode(code, msg) => {
            axum::Json(json!({"errcode": code, "errmsg": msg})).into_response()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Slack

/// Checks a text object: `{"type": "plain_text" | "mrkdwn", "text": non-empty, <= max chars}`.
fn check_text(t: &Value, kinds: &[&str], max: usize) -> Result<(), String> {
    let obj = t.as_object().ok_or("a text object is not an object")?;
    for k in obj.keys() {
        if !matches!(k.as_str(), "type" | "text" | "emoji" | "verbatim") {
            return Err(format!("unknown text object field {k}"));
        }
    }
    let kind = t["type"].as_str().ok_or("text object without type")?;
    if !kinds.contains(&kind) {
        return Err(format!("text object of type {kind}, wanted {kinds:?}"));
    }
    if kind == "mrkdwn" && obj.contains_key("emoji") {
        return Err("emoji is for plain_text only".into());
    }
    let text = t["text"].as_str().ok_or("text object without text")?;
    let n = text.chars().count();
    if n == 0 || n > max {
        return Err(format!("text of {n} characters, limit {max}"));
    }
    Ok(())
}

/// Slack's checks of an incoming webhook's body, as its error answers name them.
fn check_slack(body: &Value) -> Result<(), String> {
    let top = body.as_object().ok_or("not an object")?;
    for k in top.keys() {
        if !matches!(k.as_str(), "text" | "blocks" | "attachments") {
            return Err(format!("unknown field {k}"));
        }
    }
    if body["text"].as_str().is_none_or(str::is_empty) {
        return Err("no_text".into());
    }
    let attachments = body["attachments"].as_array().ok_or("no attachments")?;
    if attachments.len() != 1 {
        return Err("one attachment expected".into());
    }
    let a = &attachments[0];
    let color = a["color"].as_str().ok_or("no color")?;
    if !(color.len() == 7
        && color.starts_with('#')
        && color[1..].chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(format!("bad color {color}"));
    }
    let blocks = a["blocks"].as_array().ok_or("no blocks")?;
    if blocks.is_empty() || blocks.len() > 50 {
        return Err("1 to 50 blocks".into());
    }
    for b in blocks {
        match b["type"].as_str().ok_or("block without type")? {
            "header" => check_text(&b["text"], &["plain_text"], 150)?,
            "section" => {
                if let Some(fields) = b.get("fields") {
                    let fields = fields.as_array().ok_or("fields not a list")?;
                    if fields.is_empty() || fields.len() > 10 {
                        return Err("1 to 10 fields".into());
                    }
                    for f in fields {
                        check_text(f, &["plain_text", "mrkdwn"], 2000)?;
                    }
                } else {
                    check_text(&b["text"], &["plain_text", "mrkdwn"], 3000)?;
                }
            }
            "actions" => {
                let els = b["elements"].as_array().ok_or("actions without elements")?;
                if els.is_empty() || els.len() > 25 {
                    return Err("1 to 25 elements".into());
                }
                for e in els {
                    if e["type"] != "button" {
                        return Err("only buttons expected".into());
                    }
                    check_text(&e["text"], &["plain_text"], 75)?;
                    let url = e["url"].as_str().ok_or("button without url")?;
                    if url.len() > 3000 || !url.starts_with("http") {
                        return Err(format!("bad button url {url}"));
                    }
                    let id = e["action_id"].as_str().ok_or("button without action_id")?;
                    if id.is_empty() || id.len() > 255 {
                        return Err("bad action_id".into());
                    }
                }
            }
            "context" => {
                let els = b["elements"].as_array().ok_or("context without elements")?;
                if els.is_empty() || els.len() > 10 {
                    return Err("1 to 10 context elements".into());
                }
                for e in els {
                    check_text(e, &["plain_text", "mrkdwn"], 3000)?;
                }
            }
            other => return Err(format!("unexpected block type {other}")),
        }
    }
    Ok(())
}

async fn slack_hook(State(fake): State<Fake>, body: Bytes) -> Response {
    let a = fake.next();
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    };
    if let Err(e) = check_slack(&v) {
        return (StatusCode::BAD_REQUEST, format!("invalid_blocks: {e}")).into_response();
    }
    fake.bodies.lock().unwrap().push(v);
    answer(a, "ok".into_response()).await
}

/// A Slack fake; returns it and the webhook URL (its path is the secret).
async fn slack_fake(script: Vec<Answer>) -> (Fake, String) {
    let fake = Fake::new(script);
    let app = Router::new()
        .route("/services/T000/B000/XSECRETX", post(slack_hook))
        .with_state(fake.clone());
    let base = serve(app).await;
    (fake, format!("{base}/services/T000/B000/XSECRETX"))
}

fn slack(url: &str, retries: u32, timeout: Duration) -> SlackNotifier {
    let mut p = SlackParams::new(value(url));
    p.retries = retries;
    p.timeout = timeout;
    SlackNotifier::from_params(&p).unwrap()
}

#[tokio::test]
async fn slack_gets_valid_block_kit() {
    let (fake, url) = slack_fake(vec![Answer::Ok]).await;
    let s = slack(&url, 0, Duration::from_secs(5));
    let mut n = notification();
    n.title = "x".repeat(300);
    let d = s.notify(&n).await.unwrap();
    assert_eq!((d.attempts, d.detail.as_str()), (1, "ok"));
    let got = fake.bodies.lock().unwrap()[0].clone();
    assert_eq!(got["attachments"][0]["color"], "#b71c1c");
    assert_eq!(
        got["attachments"][0]["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        150
    );
    // With templates, and resolved (no link when there is none).
    let mut p = SlackParams::new(value(&url));
    p.title = Some("{{ status | upper }} {{ title }}".into());
    p.text = Some("*{{ labels.service }}*: {{ summary }}".into());
    let s = SlackNotifier::from_params(&p).unwrap();
    let mut n = notification();
    n.status = "resolved".into();
    n.url = None;
    s.notify(&n).await.unwrap();
    let got = fake.bodies.lock().unwrap()[1].clone();
    let blocks = &got["attachments"][0]["blocks"];
    assert_eq!(
        blocks[0]["text"]["text"],
        "RESOLVED Cart <api> down & failing"
    );
    assert!(
        blocks[1]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with("*cart*: 2 alert(s)")
    );
    assert_eq!(got["attachments"][0]["color"], "#2e7d32");
}

#[tokio::test]
async fn slack_rate_limits_are_waited_out_and_errors_hide_the_url() {
    let (fake, url) = slack_fake(vec![
        Answer::Status(429, "rate_limited", Some("1")),
        Answer::Ok,
    ])
    .await;
    let s = slack(&url, 3, Duration::from_secs(5));
    let t = Instant::now();
    let d = s.notify(&notification()).await.unwrap();
    assert_eq!((d.attempts, fake.calls()), (2, 2));
    assert!(
        t.elapsed() >= StdDuration::from_secs(1),
        "{:?}",
        t.elapsed()
    );

    // Slack's refusals are a 4xx with a short reason.
    let (fake, url) = slack_fake(vec![Answer::Status(400, "invalid_payload", None)]).await;
    let e = slack(&url, 3, Duration::from_secs(5))
        .notify(&notification())
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, IntegrationError::Status { status: 400, .. }),
        "{text}"
    );
    assert!(
        text.contains("invalid_payload") && text.contains("/***"),
        "{text}"
    );
    assert!(!text.contains("XSECRETX"), "{text}");
    assert_eq!(fake.calls(), 1);

    // Templates that render nothing: placeholders are sent, never an empty text (which the
    // fake refuses as Slack does).
    let (fake, url) = slack_fake(vec![Answer::Ok]).await;
    let mut p = SlackParams::new(value(&url));
    p.title = Some("{% if false %}x{% endif %}".into());
    p.text = Some(" ".into());
    SlackNotifier::from_params(&p)
        .unwrap()
        .notify(&notification())
        .await
        .unwrap();
    assert_eq!(fake.bodies.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn slack_errors_and_unavailability_count_attempts() {
    // 500: Slack may have posted: not retried.
    let (fake, url) = slack_fake(vec![Answer::Status(500, "rollup_error", None)]).await;
    let e = slack(&url, 3, Duration::from_secs(5))
        .notify(&notification())
        .await
        .unwrap_err();
    assert!(
        matches!(e, IntegrationError::Status { status: 500, .. }),
        "{e}"
    );
    assert_eq!(fake.calls(), 1);
    // 503 forever: retried, then the last answer.
    let (fake, url) = slack_fake(vec![Answer::Status(503, "unavailable", Some("0"))]).await;
    let e = slack(&url, 2, Duration::from_secs(5))
        .notify(&notification())
        .await
        .unwrap_err();
    assert!(
        matches!(e, IntegrationError::Status { status: 503, .. }),
        "{e}"
    );
    assert_eq!(fake.calls(), 3);
    // Slower than the timeout: an error, not retried (the message may have been posted).
    let (fake, url) = slack_fake(vec![Answer::Slow(StdDuration::from_secs(3))]).await;
    let t = Instant::now();
    let e = slack(&url, 3, Duration(300))
        .notify(&notification())
        .await
        .unwrap_err();
    assert!(t.elapsed() < StdDuration::from_secs(2), "{:?}", t.elapsed());
    let text = e.to_string();
    assert!(
        matches!(e, IntegrationError::Unreachable { attempts: 1, .. }),
        "{text}"
    );
    assert!(
        text.contains("timed out") && !text.contains("XSECRETX"),
        "{text}"
    );
    assert_eq!(fake.calls(), 1);
}

// ---------------------------------------------------------------------------------------------
// DingTalk

const DING_TOKEN: &str = "tok-0123";
const DING_SECRET: &str = "SECabcdef0123456789";

async fn ding_hook(
    State(fake): State<Fake>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let a = fake.next();
    let refuse = |code: i64, msg: String| {
        axum::Json(json!({"errcode": code, "errmsg": msg})).into_response()
    };
    if q.get("access_token").map(String::as_str) != Some(DING_TOKEN) {
        return refuse(300001, "token is not exist".into());
    }
    let Some(ts) = q.get("timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        return refuse(310000, "sign not match: no timestamp".into());
    };
    // DingTalk allows an hour; the client must sign with the time of sending.
    if (now_ms() - ts).abs() > 60_000 {
        return refuse(310000, format!("sign not match: timestamp {ts} is not now"));
    }
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(
        DING_SECRET.as_bytes(),
        format!("{ts}\n{DING_SECRET}").as_bytes(),
    ));
    if q.get("sign") != Some(&expected) {
        return refuse(310000, format!("sign not match: {:?}", q.get("sign")));
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/json") {
        return refuse(40035, "content-type".into());
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return refuse(40035, "bad json".into());
    };
    let ok = v["msgtype"] == "markdown"
        && v["markdown"]["title"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
        && v["markdown"]["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
        && v["at"]["atMobiles"]
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string))
        && v["at"]["isAtAll"].is_boolean()
        && v.as_object().unwrap().len() == 3;
    if !ok {
        return refuse(40035, format!("bad message {v}"));
    }
    fake.bodies.lock().unwrap().push(v);
    answer(
        a,
        axum::Json(json!({"errcode": 0, "errmsg": "ok"})).into_response(),
    )
    .await
}

async fn ding_fake(script: Vec<Answer>) -> (Fake, String) {
    let fake = Fake::new(script);
    let app = Router::new()
        .route("/robot/send", post(ding_hook))
        .with_state(fake.clone());
    let base = serve(app).await;
    (fake, format!("{base}/robot/send"))
}

fn ding(url: &str, secret: &str) -> DingTalkParams {
    let mut p = DingTalkParams::new(value(DING_TOKEN));
    p.url = url.to_string();
    p.secret = Some(value(secret));
    p.throttle_wait = Duration(20);
    p
}

#[tokio::test]
async fn dingtalk_signs_each_request_and_reads_errcodes() {
    let (fake, url) = ding_fake(vec![Answer::Ok]).await;
    let mut p = ding(&url, DING_SECRET);
    p.at_mobiles = vec!["13800000000".into()];
    let d = DingTalkNotifier::from_params(&p)
        .unwrap()
        .notify(&notification())
        .await
        .unwrap();
    assert_eq!((d.attempts, d.detail.as_str()), (1, "ok"));
    let got = fake.bodies.lock().unwrap()[0].clone();
    assert_eq!(
        got["markdown"]["title"],
        "[CRITICAL] Cart <api> down & failing"
    );
    assert!(
        got["markdown"]["text"]
            .as_str()
            .unwrap()
            .ends_with("@13800000000")
    );

    // A wrong secret: DingTalk's 310000, as a remote error naming it, without any secret.
    let e = DingTalkNotifier::from_params(&ding(&url, "SECwrong"))
        .unwrap()
        .notify(&notification())
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, IntegrationError::Remote { status: 200, .. }),
        "{text}"
    );
    assert!(
        text.contains("errcode 310000") && text.contains("sign not match"),
        "{text}"
    );
    assert!(
        !text.contains(DING_TOKEN) && !text.contains("SECwrong"),
        "{text}"
    );
}

#[tokio::test]
async fn dingtalk_throttling_is_retried_with_a_new_signature() {
    let (fake, url) = ding_fake(vec![
        Answer::Errcode(130101, "send too fast, exceed 20 times per minute"),
        Answer::Status(429, "busy", Some("0")),
        Answer::Ok,
    ])
    .await;
    let d = DingTalkNotifier::from_params(&ding(&url, DING_SECRET))
        .unwrap()
        .notify(&notification())
        .await
        .unwrap();
    assert_eq!((d.attempts, fake.calls()), (3, 3));

    // Throttled for good: an error after the retries.
    let (fake, url) = ding_fake(vec![Answer::Errcode(130101, "send too fast")]).await;
    let mut p = ding(&url, DING_SECRET);
    p.retries = 2;
    let e = DingTalkNotifier::from_params(&p)
        .unwrap()
        .notify(&notification())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("errcode 130101"), "{e}");
    assert_eq!(fake.calls(), 3);

    // HTTP 500 and slowness: errors, not retried.
    let (fake, url) = ding_fake(vec![Answer::Status(500, "oops", None)]).await;
    let e = DingTalkNotifier::from_params(&ding(&url, DING_SECRET))
        .unwrap()
        .notify(&notification())
        .await
        .unwrap_err();
    assert!(
        matches!(e, IntegrationError::Status { status: 500, .. }),
        "{e}"
    );
    assert_eq!(fake.calls(), 1);
    let (fake, url) = ding_fake(vec![Answer::Slow(StdDuration::from_secs(3))]).await;
    let mut p = ding(&url, DING_SECRET);
    p.timeout = Duration(300);
    let e = DingTalkNotifier::from_params(&p)
        .unwrap()
        .notify(&notification())
        .await
        .unwrap_err();
    assert!(
        matches!(e, IntegrationError::Unreachable { attempts: 1, .. }),
        "{e}"
    );
    assert_eq!(fake.calls(), 1);
}

// ---------------------------------------------------------------------------------------------
// Webhook

const HOOK_SECRET: &str = "whsec-0123";

async fn webhook_hook(State(fake): State<Fake>, headers: HeaderMap, body: Bytes) -> Response {
    let a = fake.next();
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let Ok(ts) = h("x-aiops-timestamp").parse::<i64>() else {
        return (StatusCode::UNAUTHORIZED, "no timestamp").into_response();
    };
    if (now_ms() / 1000 - ts).abs() > 300 {
        return (StatusCode::UNAUTHORIZED, "stale timestamp").into_response();
    }
    let mut signed = format!("{ts}.").into_bytes();
    signed.extend_from_slice(&body);
    let expected = format!(
        "sha256={}",
        hmac_sha256_hex(HOOK_SECRET.as_bytes(), &signed)
    );
    if h("x-hook-signature") != expected {
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    if h("x-source") != "aiops" || h("content-type") != "application/json" {
        return (StatusCode::BAD_REQUEST, "headers").into_response();
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not json").into_response();
    };
    fake.bodies.lock().unwrap().push(v);
    answer(a, StatusCode::NO_CONTENT.into_response()).await
}

async fn webhook_fake(script: Vec<Answer>) -> (Fake, String) {
    let fake = Fake::new(script);
    let app = Router::new()
        .route("/hook", post(webhook_hook))
        .with_state(fake.clone());
    let base = serve(app).await;
    (fake, format!("{base}/hook"))
}

fn webhook(url: &str) -> WebhookParams {
    let mut p = WebhookParams::new(url);
    p.secret = Some(value(HOOK_SECRET));
    p.signature_header = "X-Hook-Signature".into();
    p.headers.insert("X-Source".into(), "aiops".into());
    p
}

#[tokio::test]
async fn webhook_bodies_are_signed_and_verified() {
    let (fake, url) = webhook_fake(vec![Answer::Ok]).await;
    let n = notification();
    let d = WebhookNotifier::from_params(&webhook(&url))
        .unwrap()
        .notify(&n)
        .await
        .unwrap();
    assert_eq!((d.attempts, d.detail.as_str()), (1, "HTTP 204"));
    let got = fake.bodies.lock().unwrap()[0].clone();
    assert_eq!(serde_json::from_value::<Notification>(got).unwrap(), n);

    let mut p = webhook(&url);
    p.body = Some(r#"{"msg": {{ title | tojson }}, "sev": {{ severity | tojson }}}"#.into());
    WebhookNotifier::from_params(&p)
        .unwrap()
        .notify(&n)
        .await
        .unwrap();
    assert_eq!(
        fake.bodies.lock().unwrap()[1],
        json!({"msg": "Cart <api> down & failing", "sev": "critical"})
    );

    // The wrong key: the receiver refuses it.
    let mut p = webhook(&url);
    p.secret = Some(value("other"));
    let e = WebhookNotifier::from_params(&p)
        .unwrap()
        .notify(&n)
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("HTTP 401") && text.contains("bad signature"),
        "{text}"
    );
    assert!(!text.contains(HOOK_SECRET), "{text}");
}

#[tokio::test]
async fn webhook_retries_refusals_and_idempotent_timeouts_only() {
    let (fake, url) = webhook_fake(vec![
        Answer::Status(429, "slow down", Some("1")),
        Answer::Ok,
    ])
    .await;
    let d = WebhookNotifier::from_params(&webhook(&url))
        .unwrap()
        .notify(&notification())
        .await
        .unwrap();
    assert_eq!((d.attempts, fake.calls()), (2, 2));

    let (fake, url) = webhook_fake(vec![Answer::Status(500, "boom", None)]).await;
    let e = WebhookNotifier::from_params(&webhook(&url))
        .unwrap()
        .notify(&notification())
        .await
        .unwrap_err();
    assert!(
        matches!(e, IntegrationError::Status { status: 500, .. }),
        "{e}"
    );
    assert_eq!(fake.calls(), 1);

    // Slow: one attempt; with `idempotent` (the receiver drops duplicates), every retry.
    for (idempotent, calls) in [(false, 1), (true, 3)] {
        let (fake, url) = webhook_fake(vec![Answer::Slow(StdDuration::from_secs(3))]).await;
        let mut p = webhook(&url);
        p.timeout = Duration(200);
        p.retries = 2;
        p.idempotent = idempotent;
        let e = WebhookNotifier::from_params(&p)
            .unwrap()
            .notify(&notification())
            .await
            .unwrap_err();
        assert!(
            matches!(e, IntegrationError::Unreachable { attempts, .. } if attempts == calls),
            "{e}"
        );
        assert_eq!(fake.calls(), calls);
    }
}

// ---------------------------------------------------------------------------------------------
// E-mail, against aiosmtpd

/// A Python that has aiosmtpd, or `None` after saying why the test skips (a failure when
/// `AIOPS_REQUIRE_SMTP=1`).
fn python_with_aiosmtpd() -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let candidates: Vec<PathBuf> = std::env::var_os("AIOPS_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([workspace.join(".venv/bin/python")])
        .collect();
    let found = candidates.into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if found.is_none() {
        assert!(
            std::env::var("AIOPS_REQUIRE_SMTP").as_deref() != Ok("1"),
            "AIOPS_REQUIRE_SMTP=1 but no python with aiosmtpd (AIOPS_PYTHON or .venv)"
        );
        eprintln!(
            "skipped: no python with aiosmtpd (set AIOPS_PYTHON, or pip install -r aiops-py/requirements-dev.txt into .venv)"
        );
    }
    found
}

fn sink_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py")
}

/// The SMTP sink, stopped (its standard input closed, then killed) when dropped.
struct Sink {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Sink {
    fn start(python: &Path, dir: &Path, tls: Option<(&Path, &Path)>) -> Sink {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = dir.join(format!("mail-{port}"));
        let mut cmd = Command::new(python);
        cmd.arg(sink_script()).arg(port.to_string()).arg(&out);
        if let Some((cert, key)) = tls {
            cmd.arg(cert).arg(key);
        }
        // Its log (handshakes the tests make fail on purpose...) is kept out of the output.
        let log = dir.join(format!("sink-{port}.log"));
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "the SMTP sink did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Sink {
            child,
            port,
            dir: out,
        }
    }

    /// The messages received so far, in order.
    fn messages(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        v.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        v.sort();
        v
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let t = Instant::now();
        while t.elapsed() < StdDuration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(StdDuration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The message parsed by Python's `email` package.
fn parse_mail(python: &Path, file: &Path) -> Value {
    let out = Command::new(python)
        .arg(sink_script())
        .arg("parse")
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn check_mail(mail: &Value, n: &Notification) {
    assert_eq!(mail["from"], "aiops <aiops@example.invalid>");
    assert_eq!(mail["to"], "ops@example.invalid, oncall@example.invalid");
    assert_eq!(mail["subject"], format!("[CRITICAL] {}", n.title));
    assert_eq!(mail["type"], "multipart/alternative");
    assert_eq!(mail["defects"], json!([]));
    let parts = mail["parts"].as_array().unwrap();
    let types: Vec<&str> = parts.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["text/plain", "text/html"]);
    let text = parts[0]["content"].as_str().unwrap();
    assert!(text.contains(&n.title), "{text}");
    let html = parts[1]["content"].as_str().unwrap();
    assert!(
        html.contains("Cart &lt;api&gt; down &amp; failing"),
        "{html}"
    );
    assert!(
        html.contains("href=\"https://aiops.example/incidents/inc-42\""),
        "{html}"
    );
}

fn email_params(port: u16, tls: TlsMode) -> EmailParams {
    let mut p = EmailParams::new(
        "127.0.0.1",
        "aiops <aiops@example.invalid>",
        vec![
            "ops@example.invalid".into(),
            "oncall@example.invalid".into(),
        ],
    );
    p.port = Some(port);
    p.tls = tls;
    p.retries = 0;
    p.timeout = Duration::from_secs(10);
    p
}

#[tokio::test]
async fn email_reaches_a_real_smtp_server() {
    let Some(python) = python_with_aiosmtpd() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&python, dir.path(), None);
    let n = notification();
    let e = EmailNotifier::from_params(&email_params(sink.port, TlsMode::None)).unwrap();
    let d = e.notify(&n).await.unwrap();
    assert_eq!(d.attempts, 1);
    assert!(d.detail.starts_with("250"), "{}", d.detail);
    let mails = sink.messages();
    assert_eq!(mails.len(), 1);
    check_mail(&parse_mail(&python, &mails[0]), &n);
    let rcpt = std::fs::read_to_string(mails[0].with_extension("rcpt")).unwrap();
    assert_eq!(
        rcpt,
        "aiops@example.invalid\nops@example.invalid\noncall@example.invalid\n"
    );

    // STARTTLS required, and this server does not offer it: an error, nothing sent.
    let e = EmailNotifier::from_params(&email_params(sink.port, TlsMode::Starttls))
        .unwrap()
        .notify(&n)
        .await
        .unwrap_err();
    assert!(matches!(e, IntegrationError::Unreachable { .. }), "{e}");
    assert_eq!(sink.messages().len(), 1);
}

/// A CA and a certificate for 127.0.0.1 signed by it (openssl), or `None` without openssl.
fn test_certificates(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let run = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    std::fs::write(
        dir.join("ext.cnf"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let ok = run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=aiops test CA",
        ],
    ]
    .concat())
        && run(&[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "srv.key",
                "-out",
                "srv.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat())
        && run(&[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
    if !ok {
        eprintln!("skipped STARTTLS: openssl could not make test certificates");
        return None;
    }
    Some((dir.join("ca.pem"), dir.join("srv.pem"), dir.join("srv.key")))
}

#[tokio::test]
async fn email_over_starttls_checks_the_certificate() {
    let Some(python) = python_with_aiosmtpd() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some((ca, cert, key)) = test_certificates(dir.path()) else {
        return;
    };
    let sink = Sink::start(&python, dir.path(), Some((&cert, &key)));
    let n = notification();
    // Not trusted without the CA.
    let e = EmailNotifier::from_params(&email_params(sink.port, TlsMode::Starttls))
        .unwrap()
        .notify(&n)
        .await
        .unwrap_err();
    assert!(matches!(e, IntegrationError::Unreachable { .. }), "{e}");
    assert!(sink.messages().is_empty());
    // Trusted with it.
    let mut p = email_params(sink.port, TlsMode::Starttls);
    p.ca_file = Some(ca);
    let d = EmailNotifier::from_params(&p)
        .unwrap()
        .notify(&n)
        .await
        .unwrap();
    assert!(d.detail.starts_with("250"), "{}", d.detail);
    let mails = sink.messages();
    assert_eq!(mails.len(), 1);
    check_mail(&parse_mail(&python, &mails[0]), &n);
    // Plain text to a server that requires STARTTLS: refused before any mail.
    let e = EmailNotifier::from_params(&email_params(sink.port, TlsMode::None))
        .unwrap()
        .notify(&n)
        .await
        .unwrap_err();
    assert!(matches!(e, IntegrationError::Remote { .. }), "{e}");
    assert_eq!(sink.messages().len(), 1);
}
