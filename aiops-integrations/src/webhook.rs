//! A generic webhook as a [`Notifier`]: the notification `POST`ed as JSON to a URL, optionally
//! signed.
//!
//! The body is the [`Notification`] as JSON (its fields as [`Notification::schema`] shows
//! them), or what the `body` template renders, which must be JSON (checked at each render:
//! write strings with `tojson`, as in `{"text": {{ title | tojson }}}`).
//!
//! **Signature.** With a `secret`, each request carries two headers:
//!
//! - `X-Aiops-Timestamp: <unix seconds>`;
//! - `X-Aiops-Signature: sha256=<hex>` (the header's name is the `signature_header`
//!   parameter): the lowercase hex HMAC-SHA256, under the secret, of the string
//!   `"{timestamp}.{body}"`: the timestamp header's value, a dot, and the body's exact bytes.
//!
//! A receiver verifies it by recomputing the HMAC over the raw body it received (before any
//! JSON parsing), comparing in constant time, and refusing timestamps more than a few minutes
//! from its clock (5 minutes is usual), which stops a recorded request from being replayed
//! later. In Python:
//!
//! ```text
//! expected = "sha256=" + hmac.new(secret, f"{ts}.".encode() + raw_body, sha256).hexdigest()
//! ok = hmac.compare_digest(expected, header) and abs(time.time() - int(ts)) < 300
//! ```
//!
//! **Retries.** A connection that could not be made, and an answer `429` or `503` (the
//! receiver says it did not act), are retried. A timeout, `502` or `504` is retried only with
//! `idempotent: true`, for receivers that drop duplicates (the same notification sent twice
//! has the same body); otherwise the message might arrive twice.

use std::collections::BTreeMap;

use serde::Deserialize;

use aiops_core::time::Duration;

use crate::error::{IntegrationError, Result};
use crate::http::{
    AuthParams, HttpClient, HttpParams, Request, Secret, SecretRef, check_header_name,
    hmac_sha256_hex,
};
use crate::template::StrictTemplate;
use crate::traits::{
    BoxFuture, Delivery, Notification, Notifier, default_retries, default_timeout,
};

/// The system name in errors and logs.
pub const SYSTEM: &str = "webhook";

/// The default name of the signature header.
pub const DEFAULT_SIGNATURE_HEADER: &str = "X-Aiops-Signature";

/// The header carrying the timestamp (unix seconds) that the signature covers.
pub const TIMESTAMP_HEADER: &str = "X-Aiops-Timestamp";

/// Parameters of a webhook, as a configuration writes them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookParams {
    /// Where to `POST` (`http://` or `https://`; a query is allowed).
    pub url: String,
    /// Template of the JSON body (default: the notification as JSON).
    #[serde(default)]
    pub body: Option<String>,
    /// The HMAC-SHA256 key; requests are signed when set.
    #[serde(default)]
    pub secret: Option<SecretRef>,
    /// The signature header's name (default `X-Aiops-Signature`).
    #[serde(default = "default_signature_header")]
    pub signature_header: String,
    /// Headers added to every request (`X-Source: aiops`...).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Authentication (none by default).
    #[serde(default)]
    pub auth: Option<AuthParams>,
    /// Whether the receiver drops duplicates, so that timeouts, `502` and `504` may be retried
    /// too (default false).
    #[serde(default)]
    pub idempotent: bool,
    /// Time allowed for one request (default `10s`).
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Retries (default 3).
    #[serde(default = "default_retries")]
    pub retries: u32,
}

fn default_signature_header() -> String {
    DEFAULT_SIGNATURE_HEADER.to_string()
}

impl WebhookParams {
    /// Parameters for `url` with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            body: None,
            secret: None,
            signature_header: default_signature_header(),
            headers: BTreeMap::new(),
            auth: None,
            idempotent: false,
            timeout: default_timeout(),
            retries: default_retries(),
        }
    }

    /// Checks the parameters (the secrets are read by [`WebhookNotifier::new`]).
    pub fn validate(&self) -> Result<ValidWebhookParams> {
        let bad = |key: &str, reason: String| IntegrationError::Config {
            system: SYSTEM,
            key: key.to_string(),
            reason,
        };
        let shown = crate::http::display_url(&self.url);
        let u =
            reqwest::Url::parse(&self.url).map_err(|e| bad("url", format!("{shown:?}: {e}")))?;
        if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
            return Err(bad(
                "url",
                format!("{shown:?}: give an http:// or https:// URL"),
            ));
        }
        check_header_name(SYSTEM, "signature_header", &self.signature_header)?;
        for (name, value) in &self.headers {
            let key = format!("headers.{name}");
            check_header_name(SYSTEM, &key, name)?;
            if reqwest::header::HeaderValue::from_str(value).is_err() {
                return Err(bad(&key, "the value is not a valid header value".into()));
            }
        }
        let body = self
            .body
            .as_deref()
            .map(|s| StrictTemplate::compile("webhook.body", s, &Notification::schema()))
            .transpose()?;
        Ok(ValidWebhookParams {
            url: self.url.clone(),
            body,
            secret: self.secret.clone(),
            signature_header: self.signature_header.clone(),
            headers: self.headers.clone(),
            idempotent: self.idempotent,
            http: HttpParams {
                timeout: self.timeout,
                retries: self.retries,
                auth: self.auth.clone(),
                ..HttpParams::default()
            },
        })
    }
}

/// Checked [`WebhookParams`].
#[derive(Debug)]
pub struct ValidWebhookParams {
    url: String,
    body: Option<StrictTemplate>,
    secret: Option<SecretRef>,
    signature_header: String,
    headers: BTreeMap<String, String>,
    idempotent: bool,
    http: HttpParams,
}

/// Sends notifications to a webhook.
#[derive(Debug)]
pub struct WebhookNotifier {
    url: String,
    body: Option<StrictTemplate>,
    secret: Option<Secret>,
    signature_header: String,
    headers: BTreeMap<String, String>,
    idempotent: bool,
    http: HttpClient,
}

impl WebhookNotifier {
    /// Builds the notifier; reads the secrets.
    pub fn new(params: ValidWebhookParams) -> Result<Self> {
        Ok(Self {
            secret: params
                .secret
                .as_ref()
                .map(|s| s.resolve(SYSTEM, "secret"))
                .transpose()?,
            http: HttpClient::new(SYSTEM, &params.http)?,
            url: params.url,
            body: params.body,
            signature_header: params.signature_header,
            headers: params.headers,
            idempotent: params.idempotent,
        })
    }

    /// Checks `params` and builds the notifier.
    pub fn from_params(params: &WebhookParams) -> Result<Self> {
        Self::new(params.validate()?)
    }

    /// The body's bytes for `n`: the notification as JSON, or the template's output once
    /// checked to be JSON.
    pub fn body(&self, n: &Notification) -> Result<Vec<u8>> {
        match &self.body {
            None => serde_json::to_vec(n).map_err(|e| IntegrationError::Payload {
                system: SYSTEM,
                message: e.to_string(),
            }),
            Some(t) => {
                let text = t.render(n)?;
                serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|e| {
                    IntegrationError::Config {
                        system: SYSTEM,
                        key: "body".into(),
                        reason: format!(
                            "the template did not render JSON ({e}); write strings with `tojson`"
                        ),
                    }
                })?;
                Ok(text.into_bytes())
            }
        }
    }

    /// The request for `body`, signed at `timestamp` (unix seconds) when there is a secret.
    pub fn request(&self, body: Vec<u8>, timestamp: i64) -> Request {
        let mut req = Request::post(&self.url, body, "application/json")
            .retry_refused()
            .idempotent(self.idempotent);
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        if let Some(secret) = &self.secret {
            let signature = signature(secret.expose().as_bytes(), timestamp, req.body());
            req = req
                .header(TIMESTAMP_HEADER, timestamp.to_string())
                .header(&self.signature_header, signature);
        }
        req
    }

    async fn send(&self, n: &Notification) -> Result<Delivery> {
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let req = self.request(self.body(n)?, timestamp);
        let resp = self.http.send(&req).await?;
        if !resp.is_success() {
            return Err(resp.status_error(SYSTEM));
        }
        let text = resp.text();
        let text = text.trim();
        Ok(Delivery {
            attempts: resp.attempts,
            detail: if text.is_empty() {
                format!("HTTP {}", resp.status)
            } else {
                crate::traits::short(text, 200)
            },
        })
    }
}

impl Notifier for WebhookNotifier {
    fn system(&self) -> &'static str {
        SYSTEM
    }

    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<Delivery>> {
        Box::pin(self.send(n))
    }
}

/// The signature header's value: `sha256=` and the hex HMAC-SHA256 under `secret` of
/// `"{timestamp}.{body}"`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!("sha256={}", hmac_sha256_hex(secret, &signed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traits::tests::sample;
    use serde_json::{Value, json};

    #[test]
    fn the_default_body_is_the_notification_and_a_template_must_render_json() {
        let w = WebhookNotifier::from_params(&WebhookParams::new("http://127.0.0.1:1/h")).unwrap();
        let n = sample();
        let v: Value = serde_json::from_slice(&w.body(&n).unwrap()).unwrap();
        assert_eq!(v["title"], "cart <down> & out");
        assert_eq!(v["status"], "firing");
        assert_eq!(v["labels"]["service"], "cart");
        assert_eq!(serde_json::from_value::<Notification>(v).unwrap(), n);

        let mut p = WebhookParams::new("http://127.0.0.1:1/h");
        p.body = Some(r#"{"text": {{ title | tojson }}, "sev": "{{ severity }}"}"#.into());
        let w = WebhookNotifier::from_params(&p).unwrap();
        let v: Value = serde_json::from_slice(&w.body(&n).unwrap()).unwrap();
        assert_eq!(v, json!({"text": "cart <down> & out", "sev": "high"}));
        p.body = Some(r#"{"text": {{ title }}}"#.into());
        let w = WebhookNotifier::from_params(&p).unwrap();
        let e = w.body(&n).unwrap_err().to_string();
        assert!(e.contains("webhook body") && e.contains("tojson"), "{e}");
        p.body = Some(r#"{"text": {{ titel | tojson }}}"#.into());
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("webhook.body") && e.contains("titel"), "{e}");
    }

    #[test]
    fn requests_are_signed_over_timestamp_dot_body() {
        let mut p = WebhookParams::new("http://127.0.0.1:1/h");
        p.secret = Some(SecretRef::Value(Secret::new("hunter2")));
        p.headers.insert("X-Source".into(), "aiops".into());
        let w = WebhookNotifier::from_params(&p).unwrap();
        let req = w.request(br#"{"a":1}"#.to_vec(), 1_700_000_000);
        // Python: hmac.new(b"hunter2", b'1700000000.{"a":1}', sha256).hexdigest()
        let expected = signature(b"hunter2", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            expected,
            format!(
                "sha256={}",
                hmac_sha256_hex(b"hunter2", br#"1700000000.{"a":1}"#)
            )
        );
        let shown = format!("{req:?}");
        assert!(shown.contains(&expected), "{shown}");
        assert!(shown.contains("X-Aiops-Timestamp") && shown.contains("X-Source"));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!format!("{w:?}").contains("hunter2"));
    }

    #[test]
    fn validation_refuses_unknown_keys_bad_urls_and_headers() {
        let e =
            serde_json::from_value::<WebhookParams>(json!({"url": "http://a", "method": "PUT"}))
                .unwrap_err();
        assert!(e.to_string().contains("method"), "{e}");
        assert!(WebhookParams::new("ftp://a/b").validate().is_err());
        assert!(WebhookParams::new("not a url").validate().is_err());
        assert!(WebhookParams::new("http://a/b?x=1").validate().is_ok());
        let mut p = WebhookParams::new("http://a");
        p.signature_header = "bad header".into();
        assert!(p.validate().is_err());
        let mut p = WebhookParams::new("http://a");
        p.headers.insert("X-Ok".into(), "line\nbreak".into());
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("headers.X-Ok"), "{e}");
    }
}
