//! DingTalk custom robots (群机器人, "custom robot" webhooks) as a [`Notifier`].
//!
//! Wire format (DingTalk's "custom robot" documentation): one `POST` of JSON to
//! `https://oapi.dingtalk.com/robot/send?access_token=TOKEN`,
//!
//! ```json
//! {"msgtype": "markdown",
//!  "markdown": {"title": "<shown in the chat list>", "text": "<markdown>"},
//!  "at": {"atMobiles": ["138..."], "isAtAll": false}}
//! ```
//!
//! A robot with the "signature" (加签) security setting also needs `timestamp` (ms since the
//! epoch, within an hour of DingTalk's clock) and `sign` in the query: the base64 of
//! HMAC-SHA256 under the secret (`SEC...`) of `"{timestamp}\n{secret}"`, URL-encoded once in the
//! query. Each attempt is signed anew.
//!
//! DingTalk answers HTTP 200 with `{"errcode": 0, "errmsg": "ok"}`; any other `errcode` is a
//! refusal, returned as [`IntegrationError::Remote`] with `error_type` `errcode N`
//! (`310000`: bad signature, keyword missing or IP not allowed; `300001`: bad token...).
//! `130101` ("send too fast": a robot takes 20 messages a minute) means nothing was posted: it
//! is retried after `throttle_wait`, up to `retries` times. An HTTP `429` or `503` is retried
//! as well; a timeout is not (the message may have been posted).
//!
//! Mobiles in `at_mobiles` are also written as `@138...` at the end of the text: DingTalk
//! only notifies the people its text names.

use serde::Deserialize;
use serde_json::{Value, json};

use aiops_core::time::Duration;

use crate::error::{IntegrationError, Result};
use crate::http::{HttpClient, HttpParams, Request, Secret, SecretRef, check_base_url};
use crate::template::StrictTemplate;
use crate::traits::{
    BoxFuture, Delivery, Notification, Notifier, default_retries, default_timeout,
};

/// The system name in errors and logs.
pub const SYSTEM: &str = "dingtalk";

/// DingTalk's robot endpoint.
pub const DEFAULT_URL: &str = "https://oapi.dingtalk.com/robot/send";

/// The `errcode` of "send too fast" (retried).
pub const ERRCODE_THROTTLED: i64 = 130_101;

/// Parameters of a DingTalk robot, as a configuration writes them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DingTalkParams {
    /// The endpoint (default DingTalk's; another for tests or a proxy).
    #[serde(default = "default_url")]
    pub url: String,
    /// The robot's `access_token`: a secret.
    pub access_token: SecretRef,
    /// The signing secret (`SEC...`) of a robot with the signature setting.
    #[serde(default)]
    pub secret: Option<SecretRef>,
    /// Mobile numbers to mention.
    #[serde(default)]
    pub at_mobiles: Vec<String>,
    /// Mentions everyone in the group.
    #[serde(default)]
    pub at_all: bool,
    /// Template of the title (default: `[SEVERITY] title`).
    #[serde(default)]
    pub title: Option<String>,
    /// Template of the markdown text (default: title, severity, status, summary, labels and a
    /// link).
    #[serde(default)]
    pub text: Option<String>,
    /// Time allowed for one request (default `10s`).
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Retries of a refused or unsent request (default 3).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Wait before sending again after "send too fast" (default `10s`).
    #[serde(default = "default_throttle_wait")]
    pub throttle_wait: Duration,
}

fn default_url() -> String {
    DEFAULT_URL.to_string()
}
fn default_throttle_wait() -> Duration {
    Duration::from_secs(10)
}

impl DingTalkParams {
    /// Parameters for the robot with this token, with the defaults.
    pub fn new(access_token: SecretRef) -> Self {
        Self {
            url: default_url(),
            access_token,
            secret: None,
            at_mobiles: Vec::new(),
            at_all: false,
            title: None,
            text: None,
            timeout: default_timeout(),
            retries: default_retries(),
            throttle_wait: default_throttle_wait(),
        }
    }

    /// Checks the parameters (the secrets are read by [`DingTalkNotifier::new`]).
    pub fn validate(&self) -> Result<ValidDingTalkParams> {
        if self.url.contains('?') {
            // The URL DingTalk shows holds the token: it is not echoed.
            return Err(IntegrationError::Config {
                system: SYSTEM,
                key: "url".into(),
                reason: "the URL takes no query: give the token as `access_token`".into(),
            });
        }
        let url = check_base_url(SYSTEM, "url", &self.url)?;
        for (i, m) in self.at_mobiles.iter().enumerate() {
            let ok = !m.is_empty()
                && m.len() <= 32
                && m.chars()
                    .all(|c| c.is_ascii_digit() || c == '-' || c == '+');
            if !ok {
                return Err(IntegrationError::Config {
                    system: SYSTEM,
                    key: format!("at_mobiles[{i}]"),
                    reason: format!("{m:?} is not a mobile number"),
                });
            }
        }
        if self.throttle_wait.0 < 0 {
            return Err(IntegrationError::Config {
                system: SYSTEM,
                key: "throttle_wait".into(),
                reason: "must not be negative".into(),
            });
        }
        let schema = Notification::schema();
        let compile = |name: &str, src: &Option<String>| {
            src.as_deref()
                .map(|s| StrictTemplate::compile(name, s, &schema))
                .transpose()
        };
        Ok(ValidDingTalkParams {
            url: url.to_string(),
            access_token: self.access_token.clone(),
            secret: self.secret.clone(),
            at_mobiles: self.at_mobiles.clone(),
            at_all: self.at_all,
            title: compile("dingtalk.title", &self.title)?,
            text: compile("dingtalk.text", &self.text)?,
            retries: self.retries,
            throttle_wait: std::time::Duration::from_millis(self.throttle_wait.0.max(0) as u64),
            http: HttpParams {
                timeout: self.timeout,
                retries: self.retries,
                ..HttpParams::default()
            },
        })
    }
}

/// Checked [`DingTalkParams`].
#[derive(Debug)]
pub struct ValidDingTalkParams {
    url: String,
    access_token: SecretRef,
    secret: Option<SecretRef>,
    at_mobiles: Vec<String>,
    at_all: bool,
    title: Option<StrictTemplate>,
    text: Option<StrictTemplate>,
    retries: u32,
    throttle_wait: std::time::Duration,
    http: HttpParams,
}

/// Sends notifications to a DingTalk robot.
#[derive(Debug)]
pub struct DingTalkNotifier {
    url: String,
    access_token: Secret,
    secret: Option<Secret>,
    at_mobiles: Vec<String>,
    at_all: bool,
    title: Option<StrictTemplate>,
    text: Option<StrictTemplate>,
    retries: u32,
    throttle_wait: std::time::Duration,
    http: HttpClient,
}

impl DingTalkNotifier {
    /// Builds the notifier; reads the secrets.
    pub fn new(params: ValidDingTalkParams) -> Result<Self> {
        Ok(Self {
            access_token: params.access_token.resolve(SYSTEM, "access_token")?,
            secret: params
                .secret
                .as_ref()
                .map(|s| s.resolve(SYSTEM, "secret"))
                .transpose()?,
            http: HttpClient::new(SYSTEM, &params.http)?,
            url: params.url,
            at_mobiles: params.at_mobiles,
            at_all: params.at_all,
            title: params.title,
            text: params.text,
            retries: params.retries,
            throttle_wait: params.throttle_wait,
        })
    }

    /// Checks `params` and builds the notifier.
    pub fn from_params(params: &DingTalkParams) -> Result<Self> {
        Self::new(params.validate()?)
    }

    /// The JSON body sent for `n`.
    pub fn body(&self, n: &Notification) -> Result<Value> {
        let title = match &self.title {
            Some(t) => t.render(n)?,
            None => format!("[{}] {}", n.severity.as_str().to_uppercase(), n.title),
        };
        let mut text = match &self.text {
            Some(t) => t.render(n)?,
            None => default_text(n),
        };
        if !self.at_mobiles.is_empty() {
            let mentions: Vec<String> = self.at_mobiles.iter().map(|m| format!("@{m}")).collect();
            text.push_str("\n\n");
            text.push_str(&mentions.join(" "));
        }
        Ok(json!({
            "msgtype": "markdown",
            "markdown": {"title": title, "text": text},
            "at": {"atMobiles": self.at_mobiles, "isAtAll": self.at_all},
        }))
    }

    async fn send(&self, n: &Notification) -> Result<Delivery> {
        let body = self.body(n)?;
        let mut attempts = 0;
        let mut throttled = 0;
        loop {
            let mut req = Request::post_json(&self.url, &body)
                .retry_refused()
                .query("access_token", self.access_token.expose());
            if let Some(secret) = &self.secret {
                let timestamp = now_ms();
                req = req
                    .query("timestamp", timestamp.to_string())
                    .query("sign", sign(secret.expose(), timestamp));
            }
            let resp = self.http.send(&req).await?;
            attempts += resp.attempts;
            if !resp.is_success() {
                return Err(resp.status_error(SYSTEM));
            }
            let answer: Answer =
                serde_json::from_slice(&resp.body).map_err(|e| IntegrationError::Payload {
                    system: SYSTEM,
                    message: format!("the answer is not {{errcode, errmsg}}: {e}"),
                })?;
            if answer.errcode == 0 {
                return Ok(Delivery {
                    attempts,
                    detail: answer.errmsg,
                });
            }
            if answer.errcode == ERRCODE_THROTTLED && throttled < self.retries {
                throttled += 1;
                tracing::debug!(
                    system = SYSTEM,
                    attempt = attempts,
                    "throttled by DingTalk; sending again"
                );
                tokio::time::sleep(self.throttle_wait).await;
                continue;
            }
            return Err(IntegrationError::Remote {
                system: SYSTEM,
                status: resp.status,
                error_type: format!("errcode {}", answer.errcode),
                message: answer.errmsg,
            });
        }
    }
}

impl Notifier for DingTalkNotifier {
    fn system(&self) -> &'static str {
        SYSTEM
    }

    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<Delivery>> {
        Box::pin(self.send(n))
    }
}

/// DingTalk's answer.
#[derive(Debug, Deserialize)]
struct Answer {
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

/// The `sign` of a signed robot's request at `timestamp` (ms): base64 of
/// HMAC-SHA256(`secret`, `"{timestamp}\n{secret}"`), before URL encoding.
pub fn sign(secret: &str, timestamp: i64) -> String {
    use base64::Engine;
    let mac = crate::http::hmac_sha256(
        secret.as_bytes(),
        format!("{timestamp}\n{secret}").as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(mac)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The default markdown text.
fn default_text(n: &Notification) -> String {
    let mut t = format!(
        "### {}\n\n**{}** · {}\n\n{}",
        n.title,
        n.severity.as_str().to_uppercase(),
        n.status,
        n.summary
    );
    if let Some(rc) = &n.root_cause {
        t.push_str(&format!("\n\nProbable root cause: {rc}"));
    }
    if !n.labels.is_empty() {
        t.push_str("\n\n");
        let lines: Vec<String> = n
            .labels
            .iter()
            .map(|(k, v)| format!("- {k}: {v}"))
            .collect();
        t.push_str(&lines.join("\n"));
    }
    if let Some(url) = &n.url {
        t.push_str(&format!("\n\n[Open in aiops]({url})"));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traits::tests::sample;

    fn params() -> DingTalkParams {
        DingTalkParams::new(SecretRef::Value(Secret::new("tok-hunter2")))
    }

    #[test]
    fn the_body_is_a_markdown_message_with_mentions() {
        let mut p = params();
        p.at_mobiles = vec!["13800000000".into()];
        let d = DingTalkNotifier::from_params(&p).unwrap();
        let b = d.body(&sample()).unwrap();
        assert_eq!(b["msgtype"], "markdown");
        assert_eq!(b["markdown"]["title"], "[HIGH] cart <down> & out");
        let text = b["markdown"]["text"].as_str().unwrap();
        assert!(
            text.starts_with("### cart <down> & out\n\n**HIGH** · firing"),
            "{text}"
        );
        assert!(text.contains("- service: cart"), "{text}");
        assert!(
            text.contains("[Open in aiops](https://aiops.example/i/inc-7)"),
            "{text}"
        );
        assert!(text.ends_with("@13800000000"), "{text}");
        assert_eq!(
            b["at"],
            json!({"atMobiles": ["13800000000"], "isAtAll": false})
        );
    }

    #[test]
    fn the_signature_matches_the_documented_algorithm() {
        // HMAC-SHA256("SECx", "1700000000000\nSECx"), base64: computed independently with
        // Python's hmac and base64 modules.
        assert_eq!(
            sign("SECx", 1_700_000_000_000),
            "rgcjbH+yFyES+S0llX+cAPCwVRpsr7sbiX5Lnyo/ocU="
        );
    }

    #[test]
    fn validation_refuses_unknown_keys_bad_urls_mobiles_and_templates() {
        let e = serde_json::from_value::<DingTalkParams>(
            json!({"access_token": {"value": "t"}, "webhook": "x"}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("webhook"), "{e}");
        let mut p = params();
        p.url = "oapi.dingtalk.com/robot/send".into();
        assert!(p.validate().is_err());
        p.url = "https://oapi.dingtalk.com/robot/send?access_token=hunter2".into();
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("access_token") && !e.contains("hunter2"), "{e}");
        let mut p = params();
        p.at_mobiles = vec!["alice".into()];
        assert!(
            p.validate()
                .unwrap_err()
                .to_string()
                .contains("at_mobiles[0]")
        );
        let mut p = params();
        p.text = Some("{{ nope }}".into());
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("dingtalk.text") && e.contains("nope"), "{e}");
        let mut p = params();
        p.secret = Some(SecretRef::Value(Secret::new("SEC-hunter2")));
        let d = DingTalkNotifier::from_params(&p).unwrap();
        assert!(!format!("{d:?}").contains("hunter2"));
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
