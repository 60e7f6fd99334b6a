//! `aiops serve` with OIDC keys by URL (`auth.oidc.jwks_url`): a JWKS served on 127.0.0.1 by
//! the test is fetched at start, a token signed by the provider's key is accepted, and after
//! the provider rotates its key a token with the new `kid` is accepted too (fetched again for
//! the unknown `kid`). The keys are the test-only ones of `aiops-service/tests/fixtures`.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::server::{Server, now_ms};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

const JWKS: &str = include_str!("../../aiops-service/tests/fixtures/jwks.json");
const RSA_A: &str = include_str!("../../aiops-service/tests/fixtures/rsa_a.pem");
const EC_A: &str = include_str!("../../aiops-service/tests/fixtures/ec_a.pem");
const ISS: &str = "https://sso.example.test/realms/ops";

/// The fixture JWKS with only the key `kid`.
fn jwks_with(kid: &str) -> String {
    let mut doc: Value = serde_json::from_str(JWKS).unwrap();
    doc["keys"]
        .as_array_mut()
        .unwrap()
        .retain(|k| k["kid"] == kid);
    doc.to_string()
}

/// Serves `doc` at any path on a free loopback port, one connection at a time.
fn provider(doc: Arc<Mutex<String>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/certs", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let mut req = Vec::new();
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let body = doc.lock().unwrap().clone();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

fn token(kid: &str) -> String {
    let (alg, key) = if kid == "ec-a" {
        (Algorithm::ES256, EncodingKey::from_ec_pem(EC_A.as_bytes()))
    } else {
        (
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(RSA_A.as_bytes()),
        )
    };
    let mut h = Header::new(alg);
    h.kid = Some(kid.to_string());
    let now = now_ms() / 1000;
    let claims = json!({"iss": ISS, "aud": "aiops", "sub": "u-1", "email": "alice@example.test",
        "exp": now + 300, "groups": ["sre"]});
    encode(&h, &claims, &key.unwrap()).unwrap()
}

#[test]
fn keys_by_url_are_fetched_at_start_and_again_after_a_rotation() {
    let doc = Arc::new(Mutex::new(jwks_with("rsa-a")));
    let url = provider(doc.clone());
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "auth:\n  oidc:\n    issuer: {ISS}\n    audience: aiops\n    jwks_url: {url}\n    jwks_min_refresh_seconds: 0\n    role_groups: {{viewer: [sre]}}\n"
    );
    let s = Server::start(dir.path(), &config);
    assert_eq!(s.get("/api/v1/anomalies", &token("rsa-a")).status(), 200);
    assert_eq!(s.get("/api/v1/anomalies", &token("ec-a")).status(), 401);
    // The provider rotates its key: the new kid is fetched, the old one is gone.
    *doc.lock().unwrap() = jwks_with("ec-a");
    assert_eq!(s.get("/api/v1/anomalies", &token("ec-a")).status(), 200);
    assert_eq!(s.get("/api/v1/anomalies", &token("rsa-a")).status(), 401);
}

#[test]
fn a_jwt_opens_a_console_session_that_ends_with_the_jwt() {
    let doc = Arc::new(Mutex::new(jwks_with("rsa-a")));
    let url = provider(doc);
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "auth:\n  oidc:\n    issuer: {ISS}\n    audience: aiops\n    jwks_url: {url}\n    role_groups: {{viewer: [sre]}}\n"
    );
    let s = Server::start(dir.path(), &config);
    let jwt = token("rsa-a");
    let r = s
        .http
        .post(format!("{}/api/v1/session", s.url))
        .bearer_auth(&jwt)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let me: Value = r.json().unwrap();
    assert_eq!(
        (
            me["name"].as_str(),
            me["subject"].as_str(),
            me["role"].as_str()
        ),
        (Some("alice@example.test"), Some("u-1"), Some("viewer"))
    );
    // The session ends when the JWT does (five minutes), not after the default 12 hours.
    let (expires, _) =
        aiops_core::time::parse_timestamp(me["expires_at"].as_str().unwrap()).unwrap();
    assert!(expires <= now_ms() + 301_000, "{me}");
    let r = s
        .http
        .get(format!("{}/api/v1/anomalies", s.url))
        .header("Cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}
