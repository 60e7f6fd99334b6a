//! The one HTTP layer of every integration: timeouts, retries with exponential backoff and
//! jitter that honour `Retry-After`, a per-integration rate limit, authentication (bearer,
//! basic, API key header; [`hmac_sha256_hex`] for the systems that sign bodies) with secrets
//! read from the environment or files, and TLS through rustls.
//!
//! What is retried, and why:
//! - a connection that could not be made (refused, DNS, TLS handshake): nothing reached the
//!   server, so every request is retried;
//! - a request that timed out, or an answer `429`, `502`, `503` or `504`: only idempotent
//!   requests (GET, and the POSTs a caller marks idempotent, such as a Prometheus query),
//!   since the server may have acted on the first one;
//! - an answer `429` or `503` to a request marked [`Request::retry_refused`] (a notification):
//!   the server says it did not act, so sending again does not send twice; a timeout, `502` or
//!   `504` is not retried for it (the message may have gone out).
//!
//! The wait before attempt `n + 1` is `backoff * 2^(n-1)` capped at `max_backoff`, with full
//! jitter in its upper half (a random wait in `[d/2, d]`), so that clients that failed together
//! do not retry together. A `Retry-After` answer (seconds or an HTTP date) waits at least that
//! long; one longer than `max_retry_after` is not waited for: the answer is returned as is.
//!
//! Secrets are never logged and never shown by `Debug` ([`Secret`] prints `***`); request logs
//! (`tracing`, level debug) name the system, the method, the URL without its query and the
//! status.

use std::path::PathBuf;
use std::time::Duration as StdDuration;

use aiops_core::time::Duration;
use serde::{Deserialize, Serialize};

use crate::error::{IntegrationError, Result};

/// A secret value (a token, a password): `Debug` shows `***`, and nothing prints it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Where a secret comes from: `{env: NAME}` (an environment variable), `{file: PATH}` (the
/// file's content, without its trailing newline) or `{value: TEXT}` (in the configuration
/// itself: prefer the other two).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretRef {
    /// The value of this environment variable.
    Env(String),
    /// The content of this file.
    File(PathBuf),
    /// This value.
    Value(Secret),
}

impl SecretRef {
    /// Reads the secret; an error names where it looked (`key` is the parameter's path), never
    /// the value.
    pub fn resolve(&self, system: &'static str, key: &str) -> Result<Secret> {
        let bad = |reason: String| IntegrationError::Config {
            system,
            key: key.to_string(),
            reason,
        };
        let value = match self {
            SecretRef::Env(name) => std::env::var(name)
                .map_err(|_| bad(format!("environment variable {name} is not set")))?,
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
            SecretRef::Value(s) => s.0.clone(),
        };
        if value.is_empty() {
            return Err(bad("the secret is empty".into()));
        }
        Ok(Secret(value))
    }
}

/// How to authenticate: `{bearer: SECRET}`, `{basic: {username: NAME, password: SECRET}}` or
/// `{api_key: {header: NAME, key: SECRET}}`, each SECRET being a [`SecretRef`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthParams {
    /// `Authorization: Bearer <token>`.
    Bearer(SecretRef),
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        /// The user name (not a secret).
        username: String,
        /// The password.
        password: SecretRef,
    },
    /// An API key sent in a header of its own (`X-API-Key`, `Authorization: GenieKey`...).
    ApiKey {
        /// The header's name.
        header: String,
        /// The key (the header's whole value).
        key: SecretRef,
    },
}

/// Authentication with its secrets read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// A bearer token.
    Bearer(Secret),
    /// A user name and password.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// A header carrying a key.
    ApiKey {
        /// The header's name.
        header: String,
        /// The key.
        key: Secret,
    },
}

impl AuthParams {
    /// Reads the secrets (`key` is the parameter's path, for errors).
    pub fn resolve(&self, system: &'static str, key: &str) -> Result<Auth> {
        Ok(match self {
            AuthParams::Bearer(s) => Auth::Bearer(s.resolve(system, &format!("{key}.bearer"))?),
            AuthParams::Basic { username, password } => Auth::Basic {
                username: username.clone(),
                password: password.resolve(system, &format!("{key}.basic.password"))?,
            },
            AuthParams::ApiKey { header, key: k } => {
                if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
                    return Err(IntegrationError::Config {
                        system,
                        key: format!("{key}.api_key.header"),
                        reason: format!("{header:?} is not a valid header name"),
                    });
                }
                Auth::ApiKey {
                    header: header.clone(),
                    key: k.resolve(system, &format!("{key}.api_key.key"))?,
                }
            }
        })
    }
}

/// Parameters of the HTTP layer, as an integration's configuration writes them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpParams {
    /// Time allowed for a whole request, answer included (default `30s`).
    pub timeout: Duration,
    /// Time allowed to connect (default `5s`).
    pub connect_timeout: Duration,
    /// Retries after the first attempt (default 3; 0: none).
    pub retries: u32,
    /// Wait before the first retry, doubled at each next one (default `200ms`).
    pub backoff: Duration,
    /// Longest wait between two attempts (default `10s`).
    pub max_backoff: Duration,
    /// Longest `Retry-After` waited for (default `60s`); a longer one ends the retries.
    pub max_retry_after: Duration,
    /// Authentication (none by default).
    pub auth: Option<AuthParams>,
    /// Most requests per second sent to this system, averaged (a token bucket that holds one
    /// second's worth); none by default. Requests over it wait, they are not refused.
    pub rate_limit: Option<f64>,
}

impl Default for HttpParams {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retries: 3,
            backoff: Duration(200),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
            auth: None,
            rate_limit: None,
        }
    }
}

/// When and how long to wait between attempts (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Wait before the first retry.
    pub backoff: StdDuration,
    /// Longest wait between two attempts.
    pub max_backoff: StdDuration,
    /// Longest `Retry-After` waited for.
    pub max_retry_after: StdDuration,
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` after `attempt` failed (from 1), given a random
    /// number `r` in `[0, 1)`: in `[d/2, d]` with `d = backoff * 2^(attempt-1)` capped.
    pub fn backoff(&self, attempt: u32, r: f64) -> StdDuration {
        let factor = 2f64.powi(attempt.saturating_sub(1).min(30) as i32);
        let d = (self.backoff.as_secs_f64() * factor).min(self.max_backoff.as_secs_f64());
        StdDuration::from_secs_f64(d * (0.5 + 0.5 * r.clamp(0.0, 1.0)))
    }

    /// The wait after an answer that said `Retry-After: retry_after`: the larger of it and the
    /// backoff; `None` when it is over `max_retry_after` (do not retry).
    pub fn wait_after(
        &self,
        attempt: u32,
        r: f64,
        retry_after: Option<StdDuration>,
    ) -> Option<StdDuration> {
        let backoff = self.backoff(attempt, r);
        match retry_after {
            Some(ra) if ra > self.max_retry_after => None,
            Some(ra) => Some(ra.max(backoff)),
            None => Some(backoff),
        }
    }
}

/// Whether an HTTP status is worth retrying (idempotent requests only): 429, 502, 503, 504.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// Reads a `Retry-After` value: delay seconds, or an HTTP date (from `now`).
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<StdDuration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(StdDuration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let at = std::time::UNIX_EPOCH + StdDuration::from_millis(at.timestamp_millis().max(0) as u64);
    Some(at.duration_since(now).unwrap_or(StdDuration::ZERO))
}

/// An HTTP method the layer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET (idempotent).
    Get,
    /// POST (idempotent only when marked so).
    Post,
    /// PUT (idempotent only when marked so: many APIs make it so, not all).
    Put,
    /// PATCH (idempotent only when marked so).
    Patch,
    /// DELETE (idempotent).
    Delete,
}

/// One request: method, URL, query, body, and whether repeating it is harmless.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    query: Vec<(String, String)>,
    body: Option<(Vec<u8>, &'static str)>,
    headers: Vec<(String, String)>,
    idempotent: bool,
    retry_refused: bool,
    shown: Option<String>,
}

impl Request {
    /// A GET of `url` (idempotent).
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: Method::Get,
            url: url.into(),
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
            idempotent: true,
            retry_refused: false,
            shown: None,
        }
    }

    /// A DELETE of `url` (idempotent).
    pub fn delete(url: impl Into<String>) -> Self {
        Self {
            method: Method::Delete,
            ..Self::get(url)
        }
    }

    /// A POST of `body` with this content type to `url` (not idempotent unless marked).
    pub fn post(url: impl Into<String>, body: Vec<u8>, content_type: &'static str) -> Self {
        Self {
            method: Method::Post,
            url: url.into(),
            query: Vec::new(),
            body: Some((body, content_type)),
            headers: Vec::new(),
            idempotent: false,
            retry_refused: false,
            shown: None,
        }
    }

    /// A POST of `value` as JSON to `url` (not idempotent unless marked).
    pub fn post_json(url: impl Into<String>, value: &impl Serialize) -> Self {
        Self::with_json(Method::Post, url, value)
    }

    /// A PUT of `value` as JSON to `url` (not idempotent unless marked).
    pub fn put_json(url: impl Into<String>, value: &impl Serialize) -> Self {
        Self::with_json(Method::Put, url, value)
    }

    /// A DELETE with `value` as a JSON body (Elasticsearch's `DELETE /_pit`); idempotent.
    pub fn delete_json(url: impl Into<String>, value: &impl Serialize) -> Self {
        Self::with_json(Method::Delete, url, value).idempotent(true)
    }

    /// A PATCH of `value` as JSON to `url` (not idempotent unless marked).
    pub fn patch_json(url: impl Into<String>, value: &impl Serialize) -> Self {
        Self::with_json(Method::Patch, url, value)
    }

    fn with_json(method: Method, url: impl Into<String>, value: &impl Serialize) -> Self {
        // Serialising plain data to a Vec cannot fail; a map with non-string keys would, and
        // no caller sends one.
        let body = serde_json::to_vec(value).unwrap_or_default();
        Self {
            method,
            ..Self::post(url, body, "application/json")
        }
    }

    /// The body (for signing it).
    pub fn body(&self) -> &[u8] {
        self.body.as_ref().map_or(&[], |(b, _)| b.as_slice())
    }

    /// Adds a header (a signature, `Accept`...). The caller checks names it takes from
    /// configuration with [`check_header_name`].
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A POST of a form (`application/x-www-form-urlencoded`) to `url`.
    pub fn post_form(url: impl Into<String>, form: &[(&str, &str)]) -> Self {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        Self::post(url, body.into_bytes(), "application/x-www-form-urlencoded")
    }

    /// Adds a query parameter (repeatable, as Prometheus' `match[]`).
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Marks the request idempotent (or not): only idempotent requests are retried after a
    /// timeout or a retryable status.
    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    /// Retries the answers `429` and `503` even when the request is not idempotent: the server
    /// refused it without acting (a notification is not sent twice by it).
    pub fn retry_refused(mut self) -> Self {
        self.retry_refused = true;
        self
    }

    /// What errors and logs show instead of the URL, for a URL whose path is a secret (a
    /// Slack webhook's).
    pub fn shown_as(mut self, url: impl Into<String>) -> Self {
        self.shown = Some(url.into());
        self
    }
}

/// `application/x-www-form-urlencoded` encoding of one name or value.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// An answer: status and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    /// Attempts it took (1: no retry).
    pub attempts: u32,
    pub(crate) url: String,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The URL asked, without its query or credentials.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// This answer as an [`IntegrationError::Status`] (the body cut to 512 bytes).
    pub fn status_error(&self, system: &'static str) -> IntegrationError {
        let text = self.text();
        let mut end = text.len().min(512);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        IntegrationError::Status {
            system,
            url: self.url.clone(),
            status: self.status,
            body: text[..end].trim().to_string(),
        }
    }
}

/// An HTTP client for one system, shared by its requests (cheap to clone).
#[derive(Debug, Clone)]
pub struct HttpClient {
    system: &'static str,
    inner: reqwest::Client,
    auth: Option<Auth>,
    retry: RetryPolicy,
    limiter: Option<std::sync::Arc<RateLimiter>>,
}

/// A token bucket shared by the clones of one client: `rate` tokens a second, at most `rate`
/// (and at least one) held.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    state: tokio::sync::Mutex<(f64, tokio::time::Instant)>,
}

impl RateLimiter {
    /// A bucket of `rate` tokens a second (positive and finite: checked by the caller).
    pub fn new(rate: f64) -> Self {
        Self {
            rate,
            state: tokio::sync::Mutex::new((rate.max(1.0), tokio::time::Instant::now())),
        }
    }

    /// Waits for a token. The lock is held while waiting, so waiters are served in order.
    pub async fn acquire(&self) {
        let mut state = self.state.lock().await;
        let cap = self.rate.max(1.0);
        let now = tokio::time::Instant::now();
        let tokens = (state.0 + now.duration_since(state.1).as_secs_f64() * self.rate).min(cap);
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now);
            return;
        }
        let wait = StdDuration::from_secs_f64((1.0 - tokens) / self.rate);
        tokio::time::sleep(wait).await;
        *state = (0.0, tokio::time::Instant::now());
    }
}

fn std_duration(d: Duration) -> StdDuration {
    StdDuration::from_millis(d.0.max(0) as u64)
}

impl HttpClient {
    /// Builds the client of `system` (`prometheus`...) from its parameters; reads the secrets.
    pub fn new(system: &'static str, params: &HttpParams) -> Result<Self> {
        let bad = |key: &str, reason: &str| IntegrationError::Config {
            system,
            key: key.to_string(),
            reason: reason.to_string(),
        };
        if params.timeout.0 <= 0 {
            return Err(bad("timeout", "must be positive"));
        }
        if params.connect_timeout.0 <= 0 {
            return Err(bad("connect_timeout", "must be positive"));
        }
        if params.backoff.0 < 0 || params.max_backoff.0 < params.backoff.0 {
            return Err(bad("backoff", "must be at least 0 and at most max_backoff"));
        }
        let limiter = match params.rate_limit {
            Some(r) if !(r.is_finite() && r > 0.0) => {
                return Err(bad(
                    "rate_limit",
                    "must be a positive number of requests a second",
                ));
            }
            Some(r) => Some(std::sync::Arc::new(RateLimiter::new(r))),
            None => None,
        };
        let auth = params
            .auth
            .as_ref()
            .map(|a| a.resolve(system, "auth"))
            .transpose()?;
        let inner = reqwest::Client::builder()
            .timeout(std_duration(params.timeout))
            .connect_timeout(std_duration(params.connect_timeout))
            .user_agent(concat!("aiops/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| bad("tls", &e.to_string()))?;
        Ok(Self {
            system,
            inner,
            auth,
            retry: RetryPolicy {
                retries: params.retries,
                backoff: std_duration(params.backoff),
                max_backoff: std_duration(params.max_backoff),
                max_retry_after: std_duration(params.max_retry_after),
            },
            limiter,
        })
    }

    /// The system this client talks to.
    pub fn system(&self) -> &'static str {
        self.system
    }

    /// Sends `req`, retrying as the module docs say; any status is an `Ok` answer (the caller
    /// reads the system's error format), a transport failure after the last attempt is
    /// [`IntegrationError::Unreachable`].
    pub async fn send(&self, req: &Request) -> Result<Response> {
        let shown = req.shown.clone().unwrap_or_else(|| display_url(&req.url));
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if let Some(limiter) = &self.limiter {
                limiter.acquire().await;
            }
            let mut b = match req.method {
                Method::Get => self.inner.get(&req.url),
                Method::Post => self.inner.post(&req.url),
                Method::Put => self.inner.put(&req.url),
                Method::Patch => self.inner.patch(&req.url),
                Method::Delete => self.inner.delete(&req.url),
            };
            for (name, value) in &req.headers {
                b = b.header(name.as_str(), value.as_str());
            }
            if !req.query.is_empty() {
                b = b.query(&req.query);
            }
            if let Some((body, content_type)) = &req.body {
                b = b
                    .header(reqwest::header::CONTENT_TYPE, *content_type)
                    .body(body.clone());
            }
            b = match &self.auth {
                Some(Auth::Bearer(t)) => b.bearer_auth(t.expose()),
                Some(Auth::Basic { username, password }) => {
                    b.basic_auth(username, Some(password.expose()))
                }
                Some(Auth::ApiKey { header, key }) => b.header(header.as_str(), key.expose()),
                None => b,
            };
            let more = attempt <= self.retry.retries;
            match b.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let refused = req.retry_refused && matches!(status, 429 | 503);
                    if more && ((req.idempotent && is_retryable_status(status)) || refused) {
                        let retry_after = resp
                            .headers()
                            .get(reqwest::header::RETRY_AFTER)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
                        if let Some(wait) = self.retry.wait_after(attempt, jitter(), retry_after) {
                            tracing::debug!(system = self.system, url = %shown, status, attempt, wait_ms = wait.as_millis() as u64, "retrying");
                            drop(resp);
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                    }
                    let body = resp
                        .bytes()
                        .await
                        .map_err(|e| IntegrationError::Unreachable {
                            system: self.system,
                            url: shown.clone(),
                            reason: format!("reading the answer: {}", reason(e)),
                            attempts: attempt,
                        })?;
                    tracing::debug!(system = self.system, method = ?req.method, url = %shown, status, attempt, "answered");
                    return Ok(Response {
                        status,
                        body: body.to_vec(),
                        attempts: attempt,
                        url: shown,
                    });
                }
                Err(e) => {
                    let retry = more && (e.is_connect() || (req.idempotent && e.is_timeout()));
                    if retry {
                        let wait = self.retry.backoff(attempt, jitter());
                        tracing::debug!(system = self.system, url = %shown, error = %reason(e), attempt, wait_ms = wait.as_millis() as u64, "retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(IntegrationError::Unreachable {
                        system: self.system,
                        url: shown,
                        reason: reason(e),
                        attempts: attempt,
                    });
                }
            }
        }
    }
}

/// A transport error's reason with its causes, without the URL (errors show it apart,
/// without its query, which may hold anything).
fn reason(e: reqwest::Error) -> String {
    let e = e.without_url();
    let kind = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        e.to_string()
    };
    // The root cause says what happened (`Connection refused (os error 111)`); the layers
    // between (hyper's "client error (Connect)"...) add nothing for the reader.
    let mut root = None;
    let mut source = std::error::Error::source(&e);
    while let Some(c) = source {
        root = Some(c.to_string());
        source = c.source();
    }
    match root {
        Some(r) if !kind.ends_with(&r) => format!("{kind}: {r}"),
        _ => kind,
    }
}

/// `url` without query, fragment or credentials: what errors and logs show.
pub fn display_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_string(),
    }
}

/// A random number in `[0, 1)` for the jitter (the OS generator; 0.5 if it fails).
fn jitter() -> f64 {
    let mut b = [0u8; 8];
    match getrandom::fill(&mut b) {
        Ok(()) => (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

/// Checks a header name taken from configuration.
pub fn check_header_name(system: &'static str, key: &str, name: &str) -> Result<()> {
    reqwest::header::HeaderName::from_bytes(name.as_bytes())
        .map(|_| ())
        .map_err(|_| IntegrationError::Config {
            system,
            key: key.to_string(),
            reason: format!("{name:?} is not a valid header name"),
        })
}

/// HMAC-SHA256 of `message` under `key`, lowercase hex (webhook signatures).
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    hmac_sha256(key, message)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// HMAC-SHA256 of `message` under `key` (RFC 2104), the raw 32 bytes.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key)
        .expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Checks an integration's base URL: `http://` or `https://` with a host.
pub fn check_base_url(system: &'static str, key: &str, url: &str) -> Result<reqwest::Url> {
    let bad = |reason: String| IntegrationError::Config {
        system,
        key: key.to_string(),
        reason,
    };
    let u = reqwest::Url::parse(url).map_err(|e| bad(format!("{url:?}: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(bad(format!("{url:?}: give an http:// or https:// URL")));
    }
    if u.query().is_some() {
        return Err(bad(format!("{url:?}: the base URL takes no query")));
    }
    Ok(u)
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        // A configuration written back (`--print-config`...) never shows a secret.
        s.serialize_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use axum::Router;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};

    fn fast(retries: u32) -> HttpParams {
        HttpParams {
            retries,
            backoff: Duration(10),
            max_backoff: Duration(40),
            timeout: Duration::from_secs(5),
            ..HttpParams::default()
        }
    }

    /// Serves `app` on a free loopback port; returns its base URL.
    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    /// A route that answers `status` (with `Retry-After: retry_after` when given) to the first
    /// `failures` calls, then 200; counts the calls.
    fn flaky(
        failures: u32,
        status: StatusCode,
        retry_after: Option<&'static str>,
    ) -> (Router, Arc<AtomicU32>) {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let handler = move || {
            let c = c.clone();
            async move {
                let n = c.fetch_add(1, Ordering::SeqCst);
                let mut h = HeaderMap::new();
                if n < failures {
                    if let Some(ra) = retry_after {
                        h.insert("retry-after", ra.parse().unwrap());
                    }
                    (status, h, "busy")
                } else {
                    (StatusCode::OK, h, "ok")
                }
            }
        };
        (
            Router::new()
                .route("/r", get(handler.clone()))
                .route("/r", post(handler)),
            calls,
        )
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered_in_its_upper_half() {
        let p = RetryPolicy {
            retries: 5,
            backoff: StdDuration::from_millis(100),
            max_backoff: StdDuration::from_millis(1000),
            max_retry_after: StdDuration::from_secs(60),
        };
        assert_eq!(p.backoff(1, 1.0), StdDuration::from_millis(100));
        assert_eq!(p.backoff(1, 0.0), StdDuration::from_millis(50));
        assert_eq!(p.backoff(3, 1.0), StdDuration::from_millis(400));
        assert_eq!(p.backoff(10, 1.0), StdDuration::from_millis(1000));
        assert_eq!(p.backoff(40, 0.0), StdDuration::from_millis(500));
        // Retry-After wins when longer, the backoff when longer, and too long ends retries.
        let ra = Some(StdDuration::from_secs(2));
        assert_eq!(p.wait_after(1, 1.0, ra), ra);
        assert_eq!(
            p.wait_after(1, 1.0, Some(StdDuration::ZERO)),
            Some(StdDuration::from_millis(100))
        );
        assert_eq!(p.wait_after(1, 1.0, Some(StdDuration::from_secs(61))), None);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = std::time::UNIX_EPOCH + StdDuration::from_secs(784_111_777);
        assert_eq!(
            parse_retry_after("120", now),
            Some(StdDuration::from_secs(120))
        );
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(StdDuration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(StdDuration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn secrets_are_redacted_and_read_from_env_and_files() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "***");
        let p: AuthParams = serde_json::from_str(r#"{"bearer": {"value": "hunter2"}}"#).unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
        let a = p.resolve("x", "auth").unwrap();
        assert!(!format!("{a:?}").contains("hunter2"));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"***\"");

        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret\n").unwrap();
        let r = SecretRef::File(f);
        assert_eq!(r.resolve("x", "k").unwrap().expose(), "s3cret");
        let e = SecretRef::Env("AIOPS_TEST_SURELY_UNSET_VAR".into())
            .resolve("x", "auth.bearer")
            .unwrap_err();
        assert!(e.to_string().contains("AIOPS_TEST_SURELY_UNSET_VAR"), "{e}");
        let e = serde_json::from_str::<AuthParams>(r#"{"bearer": {"val": "x"}}"#).unwrap_err();
        assert!(e.to_string().contains("val"), "{e}");
    }

    #[tokio::test]
    async fn a_get_is_retried_after_503_and_honours_retry_after() {
        let (app, calls) = flaky(2, StatusCode::SERVICE_UNAVAILABLE, Some("1"));
        let base = serve(app).await;
        let c = HttpClient::new("test", &fast(3)).unwrap();
        let t = std::time::Instant::now();
        let r = c.send(&Request::get(format!("{base}/r"))).await.unwrap();
        assert_eq!((r.status, r.text().as_str(), r.attempts), (200, "ok", 3));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // Two waits of at least the 1 s Retry-After, not the 10-40 ms backoff.
        assert!(
            t.elapsed() >= StdDuration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
    }

    #[tokio::test]
    async fn retries_stop_at_the_limit_and_return_the_last_answer() {
        let (app, calls) = flaky(10, StatusCode::TOO_MANY_REQUESTS, None);
        let base = serve(app).await;
        let c = HttpClient::new("test", &fast(2)).unwrap();
        let r = c.send(&Request::get(format!("{base}/r"))).await.unwrap();
        assert_eq!((r.status, r.attempts), (429, 3));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let e = r.status_error("test").to_string();
        assert!(e.contains("HTTP 429") && e.contains("busy"), "{e}");
    }

    #[tokio::test]
    async fn a_too_long_retry_after_is_not_waited_for() {
        let (app, calls) = flaky(1, StatusCode::SERVICE_UNAVAILABLE, Some("3600"));
        let base = serve(app).await;
        let c = HttpClient::new("test", &fast(3)).unwrap();
        let r = c.send(&Request::get(format!("{base}/r"))).await.unwrap();
        assert_eq!((r.status, calls.load(Ordering::SeqCst)), (503, 1));
    }

    #[tokio::test]
    async fn a_non_idempotent_post_is_not_retried_an_idempotent_one_is() {
        let (app, calls) = flaky(1, StatusCode::BAD_GATEWAY, None);
        let base = serve(app).await;
        let c = HttpClient::new("test", &fast(3)).unwrap();
        let url = format!("{base}/r");
        let r = c
            .send(&Request::post(&url, b"x".to_vec(), "text/plain"))
            .await
            .unwrap();
        assert_eq!((r.status, calls.load(Ordering::SeqCst)), (502, 1));
        let r = c
            .send(&Request::post_form(&url, &[("query", "up")]).idempotent(true))
            .await
            .unwrap();
        assert_eq!((r.status, calls.load(Ordering::SeqCst)), (200, 2));
    }

    #[tokio::test]
    async fn refusals_are_retried_for_notifications_other_failures_are_not() {
        let (app, calls) = flaky(1, StatusCode::SERVICE_UNAVAILABLE, Some("0"));
        let base = serve(app).await;
        let c = HttpClient::new("test", &fast(3)).unwrap();
        let url = format!("{base}/r");
        let note = || Request::post(&url, b"x".to_vec(), "text/plain").retry_refused();
        let r = c.send(&note()).await.unwrap();
        assert_eq!(
            (r.status, r.attempts, calls.load(Ordering::SeqCst)),
            (200, 2, 2)
        );
        // A 502 may come after the server acted: not retried.
        let (app, calls) = flaky(1, StatusCode::BAD_GATEWAY, None);
        let base = serve(app).await;
        let url = format!("{base}/r");
        let r = c
            .send(&Request::post(&url, b"x".to_vec(), "text/plain").retry_refused())
            .await
            .unwrap();
        assert_eq!((r.status, calls.load(Ordering::SeqCst)), (502, 1));
        // What errors show instead of a secret URL.
        let r = c
            .send(&Request::post(&url, vec![], "text/plain").shown_as("http://h/***"))
            .await
            .unwrap();
        assert_eq!(r.url(), "http://h/***");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = HttpClient::new("test", &fast(0))
            .unwrap()
            .send(&Request::get(format!("http://127.0.0.1:{port}/hunter2")).shown_as("x/***"))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("x/***") && !e.contains("hunter2"), "{e}");
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let (app, calls) = flaky(1, StatusCode::BAD_REQUEST, None);
        let base = serve(app).await;
        let c = HttpClient::new("test", &fast(3)).unwrap();
        let r = c.send(&Request::get(format!("{base}/r"))).await.unwrap();
        assert_eq!((r.status, calls.load(Ordering::SeqCst)), (400, 1));
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried_then_reported_without_the_query() {
        // A port that was free a moment ago: nothing listens there.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let c = HttpClient::new("test", &fast(2)).unwrap();
        let e = c
            .send(&Request::get(format!("http://127.0.0.1:{port}/x")).query("token", "hunter2"))
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(e, IntegrationError::Unreachable { attempts: 3, .. }),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[tokio::test]
    async fn bearer_and_basic_credentials_are_sent() {
        let app = Router::new().route(
            "/who",
            get(|h: HeaderMap| async move {
                h.get("authorization")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default()
            }),
        );
        let base = serve(app).await;
        let mut p = fast(0);
        p.auth = Some(AuthParams::Bearer(SecretRef::Value(Secret::new("t0k"))));
        let c = HttpClient::new("test", &p).unwrap();
        let r = c.send(&Request::get(format!("{base}/who"))).await.unwrap();
        assert_eq!(r.text(), "Bearer t0k");
        assert!(!format!("{c:?}").contains("t0k"));
        p.auth = Some(AuthParams::Basic {
            username: "u".into(),
            password: SecretRef::Value(Secret::new("p")),
        });
        let c = HttpClient::new("test", &p).unwrap();
        let r = c.send(&Request::get(format!("{base}/who"))).await.unwrap();
        assert_eq!(r.text(), "Basic dTpw");
    }

    #[test]
    fn urls_are_shown_without_query_or_credentials() {
        assert_eq!(
            display_url("https://u:p@vm.example:8428/api/v1/query?query=up#x"),
            "https://vm.example:8428/api/v1/query"
        );
        assert!(check_base_url("x", "url", "ftp://a").is_err());
        assert!(check_base_url("x", "url", "http://a?b=c").is_err());
        assert!(check_base_url("x", "url", "http://127.0.0.1:9090/prefix").is_ok());
        assert_eq!(form_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231, test case 2.
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[tokio::test]
    async fn api_key_headers_and_methods_reach_the_server() {
        let app = Router::new().route(
            "/m",
            axum::routing::any(
                |m: axum::http::Method, h: HeaderMap, body: String| async move {
                    format!(
                        "{m} {} {} {body}",
                        h.get("x-api-key")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-"),
                        h.get("x-sig").and_then(|v| v.to_str().ok()).unwrap_or("-"),
                    )
                },
            ),
        );
        let base = serve(app).await;
        let params = HttpParams {
            auth: Some(
                serde_json::from_str(
                    r#"{"api_key": {"header": "X-API-Key", "key": {"value": "k1"}}}"#,
                )
                .unwrap(),
            ),
            ..fast(0)
        };
        let c = HttpClient::new("t", &params).unwrap();
        let url = format!("{base}/m");
        let put = Request::put_json(&url, &serde_json::json!({"a": 1})).header("X-Sig", "abc");
        assert_eq!(put.body(), br#"{"a":1}"#);
        assert_eq!(c.send(&put).await.unwrap().text(), r#"PUT k1 abc {"a":1}"#);
        let patch = Request::patch_json(&url, &serde_json::json!([]));
        assert_eq!(c.send(&patch).await.unwrap().text(), "PATCH k1 - []");
        assert_eq!(
            c.send(&Request::delete(&url)).await.unwrap().text(),
            "DELETE k1 - "
        );
        let bad: AuthParams =
            serde_json::from_str(r#"{"api_key": {"header": "bad header", "key": {"value": "k"}}}"#)
                .unwrap();
        assert!(bad.resolve("t", "auth").is_err());
    }

    #[tokio::test]
    async fn the_rate_limit_spaces_requests() {
        let (app, calls) = flaky(0, StatusCode::OK, None);
        let base = serve(app).await;
        let params = HttpParams {
            rate_limit: Some(20.0),
            ..fast(0)
        };
        let c = HttpClient::new("t", &params).unwrap();
        let t0 = std::time::Instant::now();
        for _ in 0..30 {
            c.send(&Request::get(format!("{base}/r"))).await.unwrap();
        }
        // 20 held at first, then 10 more at 20 a second: at least ~0.5 s.
        assert!(
            t0.elapsed() >= StdDuration::from_millis(450),
            "{:?}",
            t0.elapsed()
        );
        assert_eq!(calls.load(Ordering::SeqCst), 30);
        let bad = HttpParams {
            rate_limit: Some(0.0),
            ..fast(0)
        };
        assert!(HttpClient::new("t", &bad).is_err());
    }
}
