//! The web console of `aiops serve`: its files with their content types and security policy,
//! and the session cookie the console authenticates with (login, CSRF, RBAC, WebSocket,
//! logout, revocation, expiry, audit).

mod common;

use std::process::Command;
use std::time::Duration;

use common::server::{Server, eventually, json_of, now_ms, token};
use serde_json::{Value, json};

/// A client that does not follow redirects (to see them).
fn plain() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A logged-in console: its cookie header and CSRF token.
struct Login {
    cookie: String,
    csrf: String,
    body: Value,
}

fn login(s: &Server, token: &str) -> Login {
    let r = s
        .http
        .post(format!("{}/api/v1/session", s.url))
        .bearer_auth(token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    let cookie = set.split(';').next().unwrap().to_string();
    let body: Value = r.json().unwrap();
    Login {
        cookie,
        csrf: body["csrf_token"].as_str().unwrap().to_string(),
        body,
    }
}

/// The reason of the close frame the server sends within 20 s.
fn close_reason(
    socket: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
) -> String {
    let started = std::time::Instant::now();
    loop {
        match socket.read() {
            Ok(tungstenite::Message::Close(frame)) => {
                return frame.map(|f| f.reason.to_string()).unwrap_or_default();
            }
            Ok(_) => {}
            Err(e) => panic!("no close frame: {e}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "socket left open"
        );
    }
}

fn with_cookie(
    s: &Server,
    method: &str,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
) -> reqwest::blocking::RequestBuilder {
    let mut r = s
        .http
        .request(method.parse().unwrap(), format!("{}{path}", s.url))
        .header("Cookie", cookie);
    if let Some(c) = csrf {
        r = r.header("x-aiops-csrf", c);
    }
    r
}

fn audit(s: &Server, admin: &str) -> Vec<Value> {
    let (status, a) = json_of(s.get("/api/v1/audit?kind=auth&limit=500", admin));
    assert_eq!(status, 200, "{a}");
    a["entries"].as_array().unwrap().clone()
}

fn alert(name: &str) -> Value {
    json!([{"labels": {"alertname": name, "service": "api", "severity": "high"},
            "annotations": {"summary": format!("{name} on api")},
            "startsAt": aiops_core::time::format_rfc3339(now_ms() - 60_000)}])
}

#[test]
fn the_console_files_are_served_with_their_types_and_a_strict_policy() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), "{}\n");
    let http = plain();
    for path in ["/", "/console"] {
        let r = http.get(format!("{}{path}", s.url)).send().unwrap();
        assert!(r.status().is_redirection(), "{path}: {}", r.status());
        assert_eq!(r.headers()["location"], "/console/");
    }
    for (path, ty) in [
        ("/console/", "text/html; charset=utf-8"),
        ("/console/console.css", "text/css; charset=utf-8"),
        ("/console/js/app.js", "text/javascript; charset=utf-8"),
        (
            "/console/js/views/incident.js",
            "text/javascript; charset=utf-8",
        ),
        ("/console/icon.svg", "image/svg+xml"),
    ] {
        let r = http.get(format!("{}{path}", s.url)).send().unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers().clone();
        assert_eq!(h["content-type"], ty, "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["cache-control"], "no-cache");
        // Revalidation: an unchanged file is a 304.
        let again = http
            .get(format!("{}{path}", s.url))
            .header("If-None-Match", h["etag"].clone())
            .send()
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert!(!r.text().unwrap().is_empty());
    }
    let page = http
        .get(format!("{}/console/", s.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains(r#"<script type="module" src="/console/js/app.js"></script>"#));
    let (status, body) = json_of(
        http.get(format!("{}/console/nope.js", s.url))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    // Turned off: no console, no sessions.
    let dir = tempfile::tempdir().unwrap();
    let off = Server::start(dir.path(), "console:\n  enabled: false\n");
    assert_eq!(
        http.get(format!("{}/console/", off.url))
            .send()
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        http.post(format!("{}/api/v1/session", off.url))
            .send()
            .unwrap()
            .status(),
        404
    );
}

#[test]
fn a_session_cookie_works_like_the_token_that_opened_it_until_logout_or_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let admin = token(dir.path(), "admin", "root");
    let operator = token(dir.path(), "operator", "alice");
    let viewer = token(dir.path(), "viewer", "bob");
    let ingest = token(dir.path(), "ingest", "prom");
    let temp = token(dir.path(), "operator", "temp");
    let s = Server::start(dir.path(), "alerts:\n  tick_interval_s: 1\n");

    // Login sets a strict cookie and answers who is logged in.
    let r = s
        .http
        .post(format!("{}/api/v1/session", s.url))
        .bearer_auth(&operator)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert_eq!(r.headers()["cache-control"], "no-store");
    for flag in [
        "aiops_session=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=",
    ] {
        assert!(set.contains(flag), "{set}");
    }
    assert!(!set.contains("Secure"), "{set}");
    let op: Value = r.json().unwrap();
    assert_eq!(
        (op["name"].as_str(), op["role"].as_str()),
        (Some("alice"), Some("operator"))
    );
    assert_eq!(op["via"], "session");
    assert!(op["expires_at"].is_string());
    let op = Login {
        cookie: set.split(';').next().unwrap().to_string(),
        csrf: op["csrf_token"].as_str().unwrap().to_string(),
        body: op,
    };
    assert!(
        !op.cookie.contains(&operator),
        "the cookie is not the token"
    );

    // The cookie reads like the token, and GET /api/v1/session tells who it is.
    let (status, me) = json_of(
        with_cookie(&s, "GET", "/api/v1/session", &op.cookie, None)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(me["csrf_token"], op.body["csrf_token"]);
    assert!(
        me["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "write:alerts")
    );
    let (status, _) = json_of(
        with_cookie(&s, "GET", "/api/v1/incidents", &op.cookie, None)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    // With a bearer token, GET /api/v1/session tells who that is, without a CSRF token.
    let (status, me) = json_of(s.get("/api/v1/session", &viewer));
    assert_eq!(
        (status, me["via"].as_str(), me["csrf_token"].clone()),
        (200, Some("bearer"), Value::Null)
    );

    // The WebSocket takes the cookie.
    let url = s.url.replace("http://", "ws://") + "/ws/alerts";
    let mut req =
        tungstenite::client::IntoClientRequest::into_client_request(url.as_str()).unwrap();
    req.headers_mut()
        .insert("Cookie", op.cookie.parse().unwrap());
    let (mut socket, _) = tungstenite::connect(req).expect("websocket with the session cookie");
    let mut forged =
        tungstenite::client::IntoClientRequest::into_client_request(url.as_str()).unwrap();
    forged
        .headers_mut()
        .insert("Cookie", op.cookie.parse().unwrap());
    forged
        .headers_mut()
        .insert("Origin", "http://evil.example".parse().unwrap());
    assert!(
        tungstenite::connect(forged).is_err(),
        "another origin may not use the cookie"
    );
    let metrics_url = s.url.replace("http://", "ws://") + "/ws/metrics/api";
    let mut req =
        tungstenite::client::IntoClientRequest::into_client_request(metrics_url.as_str()).unwrap();
    req.headers_mut()
        .insert("Cookie", op.cookie.parse().unwrap());
    assert!(tungstenite::connect(req).is_ok());

    assert_eq!(
        s.post_json("/api/v2/alerts", &ingest, &alert("DiskFull"))
            .status(),
        200
    );
    let pushed = eventually(|| {
        let m = socket.read().ok()?;
        let v: Value = serde_json::from_str(m.to_text().ok()?).ok()?;
        (v["type"] == "alert").then_some(v)
    });
    let alert_id = pushed["alert_id"].as_str().unwrap().to_string();
    let ack = format!("/api/v1/alerts/{alert_id}/acknowledge");

    // A mutation by cookie needs the CSRF header; a bearer call does not.
    let r = with_cookie(&s, "POST", &ack, &op.cookie, None)
        .json(&json!({}))
        .send()
        .unwrap();
    let (status, body) = json_of(r);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("csrf_failed"))
    );
    let (status, _) = json_of(
        with_cookie(&s, "POST", &ack, &op.cookie, Some("0".repeat(64).as_str()))
            .json(&json!({}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 403);
    let (status, body) = json_of(
        with_cookie(&s, "POST", &ack, &op.cookie, Some(&op.csrf))
            .json(&json!({"comment": "on it"}))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("acknowledged")),
        "{body}"
    );
    let r = with_cookie(&s, "POST", &ack, &op.cookie, Some(&op.csrf))
        .header("Origin", "http://evil.example")
        .json(&json!({}))
        .send()
        .unwrap();
    assert_eq!(json_of(r).1["error"]["code"], "cross_origin");
    assert_eq!(s.post_json(&ack, &operator, &json!({})).status(), 200);

    // A viewer's session reads but may not change anything, CSRF token or not.
    let v = login(&s, &viewer);
    assert_eq!(v.body["role"], "viewer");
    assert!(
        !v.body["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "write:alerts")
    );
    let (status, _) = json_of(
        with_cookie(&s, "GET", "/api/v1/alerts", &v.cookie, None)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    let (status, body) = json_of(
        with_cookie(&s, "POST", &ack, &v.cookie, Some(&v.csrf))
            .json(&json!({}))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );

    // An ingest token opens no session; a bad token neither, and both are audited.
    let (status, body) = json_of(
        s.http
            .post(format!("{}/api/v1/session", s.url))
            .bearer_auth(&ingest)
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let r = s
        .http
        .post(format!("{}/api/v1/session", s.url))
        .bearer_auth("aiops_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    assert_eq!(
        s.http
            .post(format!("{}/api/v1/session", s.url))
            .send()
            .unwrap()
            .status(),
        401
    );
    let entries = audit(&s, &admin);
    let logins: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "session.create")
        .collect();
    assert!(
        logins
            .iter()
            .any(|e| e["outcome"] == "ok" && e["target"] == "alice"),
        "{entries:?}"
    );
    assert!(
        logins.iter().any(|e| e["outcome"] == "denied"
            && e["actor"] == "anonymous"
            && e["detail"]["after"]["code"] == "invalid_token")
            || logins
                .iter()
                .any(|e| e["outcome"] == "denied" && e["actor"] == "anonymous"),
        "{entries:?}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "authenticate" && e.to_string().contains("csrf_failed")),
        "{entries:?}"
    );
    // Neither the token nor the session id is ever written down.
    let all = entries.iter().map(Value::to_string).collect::<String>();
    assert!(
        !all.contains(&operator) && !all.contains(op.cookie.trim_start_matches("aiops_session="))
    );

    // Logout ends the session and clears the cookie; the cookie is then refused.
    let r = with_cookie(&s, "DELETE", "/api/v1/session", &op.cookie, None)
        .send()
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "logout is a mutation: it needs the CSRF token"
    );
    let r = with_cookie(&s, "DELETE", "/api/v1/session", &op.cookie, Some(&op.csrf))
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, body) = json_of(
        with_cookie(&s, "GET", "/api/v1/incidents", &op.cookie, None)
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_session"))
    );
    assert!(
        audit(&s, &admin)
            .iter()
            .any(|e| e["action"] == "session.delete" && e["target"] == "alice")
    );

    // Revoking the token ends its sessions at once, and closes their WebSockets.
    let t = login(&s, &temp);
    let mut req =
        tungstenite::client::IntoClientRequest::into_client_request(url.as_str()).unwrap();
    req.headers_mut()
        .insert("Cookie", t.cookie.parse().unwrap());
    let (mut open_socket, _) = tungstenite::connect(req).unwrap();
    if let tungstenite::stream::MaybeTlsStream::Plain(tcp) = open_socket.get_ref() {
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    }
    // So is a socket opened with the token itself.
    let mut req =
        tungstenite::client::IntoClientRequest::into_client_request(url.as_str()).unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Bearer {temp}").parse().unwrap());
    let (mut bearer_socket, _) = tungstenite::connect(req).unwrap();
    if let tungstenite::stream::MaybeTlsStream::Plain(tcp) = bearer_socket.get_ref() {
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    }
    assert_eq!(
        json_of(
            with_cookie(&s, "GET", "/api/v1/alerts", &t.cookie, None)
                .send()
                .unwrap()
        )
        .0,
        200
    );
    let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["token", "revoke", "temp", "--data-dir"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (status, body) = json_of(
        with_cookie(&s, "GET", "/api/v1/alerts", &t.cookie, None)
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_session"))
    );
    assert_eq!(close_reason(&mut open_socket), "session ended");
    assert_eq!(
        close_reason(&mut bearer_socket),
        "credential no longer valid"
    );
    let url = s.url.replace("http://", "ws://") + "/ws/alerts";
    let mut req =
        tungstenite::client::IntoClientRequest::into_client_request(url.as_str()).unwrap();
    req.headers_mut()
        .insert("Cookie", t.cookie.parse().unwrap());
    assert!(tungstenite::connect(req).is_err());
    // A made-up cookie is refused too.
    let (status, _) = json_of(
        with_cookie(&s, "GET", "/api/v1/alerts", "aiops_session=forged", None)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 401);
}

#[test]
fn sessions_expire_and_the_cookie_can_be_secure() {
    let dir = tempfile::tempdir().unwrap();
    let viewer = token(dir.path(), "viewer", "v");
    let s = Server::start(
        dir.path(),
        "console:\n  session_lifetime: 1s\n  secure_cookie: true\n",
    );
    let r = s
        .http
        .post(format!("{}/api/v1/session", s.url))
        .bearer_auth(&viewer)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set.contains("; Secure"), "{set}");
    let cookie = set.split(';').next().unwrap().to_string();
    assert_eq!(
        json_of(
            with_cookie(&s, "GET", "/api/v1/session", &cookie, None)
                .send()
                .unwrap()
        )
        .0,
        200
    );
    std::thread::sleep(Duration::from_millis(1_200));
    let (status, body) = json_of(
        with_cookie(&s, "GET", "/api/v1/session", &cookie, None)
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("session_expired"))
    );
}
