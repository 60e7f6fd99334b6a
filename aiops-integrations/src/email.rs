//! E-mail over SMTP as a [`Notifier`] (lettre, TLS through rustls).
//!
//! Each notification is one message, `multipart/alternative` with a `text/plain` part and a
//! `text/html` part (the same content; every value HTML-escaped), to every address of `to`.
//! The subject is the `subject` template, or `[SEVERITY] title`.
//!
//! Transport security (`tls`): `starttls` (the default: plain connection upgraded with
//! `STARTTLS`, which the server must offer, port 587), `tls` (TLS from the first byte, port
//! 465) or `none` (port 25; credentials are then refused, except to a loopback host, so that a
//! password is never sent in clear). Certificates are checked against the system's roots, plus
//! the PEM certificates of `ca_file` (a private CA).
//!
//! Retries: a connection that could not be made, and a transient refusal (an SMTP `4xx` reply:
//! the server did not take the message), are retried after a backoff; a permanent refusal
//! (`5xx`) is returned at once as [`IntegrationError::Remote`] (`status` is the SMTP reply
//! code), a timeout or a broken connection as [`IntegrationError::Unreachable`] and is not
//! retried (the message may have been taken).

use std::path::PathBuf;
use std::str::FromStr;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;

use aiops_core::time::Duration;

use crate::error::{IntegrationError, Result};
use crate::http::{RetryPolicy, SecretRef};
use crate::template::StrictTemplate;
use crate::traits::{
    BoxFuture, Delivery, Notification, Notifier, default_retries, default_timeout,
};

/// The system name in errors and logs.
pub const SYSTEM: &str = "email";

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// No TLS (port 25).
    None,
    /// A plain connection upgraded with `STARTTLS`, required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte ("implicit TLS", port 465).
    Tls,
}

impl TlsMode {
    /// The usual port of the mode.
    pub fn default_port(self) -> u16 {
        match self {
            TlsMode::None => 25,
            TlsMode::Starttls => 587,
            TlsMode::Tls => 465,
        }
    }
}

/// Parameters of the e-mail notifier, as a configuration writes them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailParams {
    /// The SMTP server's host name or address.
    pub host: String,
    /// Its port (default by `tls`: 25, 587 or 465).
    #[serde(default)]
    pub port: Option<u16>,
    /// `none`, `starttls` (default) or `tls`.
    #[serde(default)]
    pub tls: TlsMode,
    /// A PEM file of CA certificates trusted besides the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The user name to log in with (with `password`).
    #[serde(default)]
    pub username: Option<String>,
    /// The password (with `username`).
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// The sender (`aiops@example.com` or `aiops <aiops@example.com>`).
    pub from: String,
    /// The recipients (at least one).
    pub to: Vec<String>,
    /// Template of the subject (default `[SEVERITY] title`).
    #[serde(default)]
    pub subject: Option<String>,
    /// Time allowed for each SMTP command (default `10s`).
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Retries after a failed connection or a transient refusal (default 3).
    #[serde(default = "default_retries")]
    pub retries: u32,
}

impl EmailParams {
    /// Parameters to send from `from` to `to` through `host` with the defaults.
    pub fn new(host: impl Into<String>, from: impl Into<String>, to: Vec<String>) -> Self {
        Self {
            host: host.into(),
            port: None,
            tls: TlsMode::default(),
            ca_file: None,
            username: None,
            password: None,
            from: from.into(),
            to,
            subject: None,
            timeout: default_timeout(),
            retries: default_retries(),
        }
    }

    /// Checks the parameters (the password and the CA file are read by
    /// [`EmailNotifier::new`]).
    pub fn validate(&self) -> Result<ValidEmailParams> {
        let bad = |key: &str, reason: String| IntegrationError::Config {
            system: SYSTEM,
            key: key.to_string(),
            reason,
        };
        let host = self.host.trim();
        if host.is_empty() || (host.contains(['/', ' ', ':']) && !host.starts_with('[')) {
            return Err(bad("host", format!("{:?} is not a host name", self.host)));
        }
        if self.port == Some(0) {
            return Err(bad("port", "must be 1 to 65535".into()));
        }
        if self.timeout.0 <= 0 {
            return Err(bad("timeout", "must be positive".into()));
        }
        let from = Mailbox::from_str(&self.from)
            .map_err(|e| bad("from", format!("{:?}: {e}", self.from)))?;
        if self.to.is_empty() {
            return Err(bad("to", "give at least one recipient".into()));
        }
        let to = self
            .to
            .iter()
            .enumerate()
            .map(|(i, t)| {
                Mailbox::from_str(t).map_err(|e| bad(&format!("to[{i}]"), format!("{t:?}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let login = match (&self.username, &self.password) {
            (Some(u), Some(p)) => Some((u.clone(), p.clone())),
            (None, None) => None,
            (Some(_), None) => return Err(bad("password", "a username needs a password".into())),
            (None, Some(_)) => return Err(bad("username", "a password needs a username".into())),
        };
        if login.is_some() && self.tls == TlsMode::None && !is_loopback(host) {
            return Err(bad(
                "tls",
                "`none` would send the password in clear: use `starttls` or `tls`".into(),
            ));
        }
        let subject = self
            .subject
            .as_deref()
            .map(|s| StrictTemplate::compile("email.subject", s, &Notification::schema()))
            .transpose()?;
        Ok(ValidEmailParams {
            host: host.to_string(),
            port: self.port.unwrap_or(self.tls.default_port()),
            tls: self.tls,
            ca_file: self.ca_file.clone(),
            login,
            from,
            to,
            subject,
            timeout: std::time::Duration::from_millis(self.timeout.0 as u64),
            retries: self.retries,
        })
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checked [`EmailParams`].
#[derive(Debug)]
pub struct ValidEmailParams {
    host: String,
    port: u16,
    tls: TlsMode,
    ca_file: Option<PathBuf>,
    login: Option<(String, SecretRef)>,
    from: Mailbox,
    to: Vec<Mailbox>,
    subject: Option<StrictTemplate>,
    timeout: std::time::Duration,
    retries: u32,
}

/// Sends notifications by e-mail.
pub struct EmailNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    server: String,
    from: Mailbox,
    to: Vec<Mailbox>,
    subject: Option<StrictTemplate>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for EmailNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the credentials: it is not shown.
        f.debug_struct("EmailNotifier")
            .field("server", &self.server)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl EmailNotifier {
    /// Builds the notifier; reads the password and the CA file.
    pub fn new(params: ValidEmailParams) -> Result<Self> {
        let bad = |key: &str, reason: String| IntegrationError::Config {
            system: SYSTEM,
            key: key.to_string(),
            reason,
        };
        let tls_params = || -> Result<TlsParameters> {
            let mut b = TlsParameters::builder(params.host.trim_matches(['[', ']']).to_string());
            if let Some(path) = &params.ca_file {
                let pem = std::fs::read(path)
                    .map_err(|e| bad("ca_file", format!("cannot read {}: {e}", path.display())))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| bad("ca_file", format!("{}: {e}", path.display())))?;
                b = b.add_root_certificate(cert);
            }
            b.build_rustls().map_err(|e| bad("tls", e.to_string()))
        };
        let tls = match params.tls {
            TlsMode::None => Tls::None,
            TlsMode::Starttls => Tls::Required(tls_params()?),
            TlsMode::Tls => Tls::Wrapper(tls_params()?),
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&params.host)
            .port(params.port)
            .tls(tls)
            .timeout(Some(params.timeout));
        if let Some((user, password)) = &params.login {
            let password = password.resolve(SYSTEM, "password")?;
            b = b.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(Self {
            transport: b.build(),
            server: format!("smtp://{}:{}", params.host, params.port),
            from: params.from,
            to: params.to,
            subject: params.subject,
            retry: RetryPolicy {
                retries: params.retries,
                backoff: std::time::Duration::from_millis(500),
                max_backoff: std::time::Duration::from_secs(10),
                max_retry_after: std::time::Duration::ZERO,
            },
        })
    }

    /// Checks `params` and builds the notifier.
    pub fn from_params(params: &EmailParams) -> Result<Self> {
        Self::new(params.validate()?)
    }

    /// The message for `n`.
    pub fn message(&self, n: &Notification) -> Result<Message> {
        let subject = match &self.subject {
            Some(t) => t.render(n)?,
            None => format!("[{}] {}", n.severity.as_str().to_uppercase(), n.title),
        };
        // A subject is one line.
        let subject = subject.replace(['\r', '\n'], " ");
        let mut b = Message::builder().from(self.from.clone()).subject(subject);
        for to in &self.to {
            b = b.to(to.clone());
        }
        b.multipart(MultiPart::alternative_plain_html(
            text_body(n),
            html_body(n),
        ))
        .map_err(|e| IntegrationError::Payload {
            system: SYSTEM,
            message: e.to_string(),
        })
    }

    async fn send(&self, n: &Notification) -> Result<Delivery> {
        let message = self.message(n)?;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let more = attempt <= self.retry.retries;
            match self.transport.send(message.clone()).await {
                Ok(resp) => {
                    let text: Vec<&str> = resp.message().collect();
                    return Ok(Delivery {
                        attempts: attempt,
                        detail: format!("{} {}", resp.code(), text.join(" "))
                            .trim()
                            .to_string(),
                    });
                }
                Err(e) => {
                    // lettre says "Connection error" when no connection was made: nothing
                    // was sent, so sending again is safe; so is a 4xx reply.
                    let unsent = e.to_string().starts_with("Connection error");
                    if more && (unsent || e.is_transient()) {
                        let wait = self.retry.backoff(attempt, 1.0);
                        tracing::debug!(system = SYSTEM, server = %self.server, error = %e, attempt, "retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(self.error(e, attempt));
                }
            }
        }
    }

    fn error(&self, e: lettre::transport::smtp::Error, attempts: u32) -> IntegrationError {
        match e.status() {
            Some(code) => IntegrationError::Remote {
                system: SYSTEM,
                status: code.to_string().parse().unwrap_or(0),
                error_type: if e.is_transient() {
                    format!("transient {code}")
                } else {
                    format!("permanent {code}")
                },
                message: chain(&e),
            },
            None => IntegrationError::Unreachable {
                system: SYSTEM,
                url: self.server.clone(),
                reason: chain(&e),
                attempts,
            },
        }
    }
}

impl Notifier for EmailNotifier {
    fn system(&self) -> &'static str {
        SYSTEM
    }

    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<Delivery>> {
        Box::pin(self.send(n))
    }
}

/// The error and its causes not already in its text.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        source = c.source();
    }
    out
}

/// The `text/plain` part.
pub fn text_body(n: &Notification) -> String {
    let mut t = format!(
        "{}\n\nSeverity: {}\nStatus: {}\n\n{}\n",
        n.title, n.severity, n.status, n.summary
    );
    if let Some(rc) = &n.root_cause {
        t.push_str(&format!("Probable root cause: {rc}\n"));
    }
    if !n.labels.is_empty() {
        t.push_str("\nLabels:\n");
        for (k, v) in &n.labels {
            t.push_str(&format!("  {k}={v}\n"));
        }
    }
    if let Some(url) = &n.url {
        t.push_str(&format!("\nOpen in aiops: {url}\n"));
    }
    t
}

/// The `text/html` part: the same content, every value escaped.
pub fn html_body(n: &Notification) -> String {
    let e = escape_html;
    let mut h = format!(
        "<!DOCTYPE html>\n<html><body>\n<h2>{}</h2>\n<p><b>Severity:</b> {}<br>\n<b>Status:</b> {}</p>\n<p>{}</p>\n",
        e(&n.title),
        e(n.severity.as_str()),
        e(&n.status),
        e(&n.summary).replace('\n', "<br>\n"),
    );
    if let Some(rc) = &n.root_cause {
        h.push_str(&format!("<p><b>Probable root cause:</b> {}</p>\n", e(rc)));
    }
    if !n.labels.is_empty() {
        h.push_str("<table>\n");
        for (k, v) in &n.labels {
            h.push_str(&format!("<tr><td>{}</td><td>{}</td></tr>\n", e(k), e(v)));
        }
        h.push_str("</table>\n");
    }
    if let Some(url) = n
        .url
        .as_deref()
        .filter(|u| reqwest::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https")))
    {
        h.push_str(&format!(
            "<p><a href=\"{}\">Open in aiops</a></p>\n",
            e(url)
        ));
    }
    h.push_str("</body></html>\n");
    h
}

/// Escapes text for HTML content and quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Secret;
    use crate::traits::tests::sample;

    fn params() -> EmailParams {
        EmailParams::new(
            "smtp.example.invalid",
            "aiops <aiops@example.invalid>",
            vec!["ops@example.invalid".into()],
        )
    }

    #[test]
    fn the_message_is_multipart_alternative_with_escaped_html() {
        let n = sample();
        let html = html_body(&n);
        assert!(
            html.contains("<h2>cart &lt;down&gt; &amp; out</h2>"),
            "{html}"
        );
        assert!(html.contains("&lt;b&gt;cart&lt;/b&gt;"), "{html}");
        assert!(
            html.contains("<a href=\"https://aiops.example/i/inc-7\">"),
            "{html}"
        );
        let text = text_body(&n);
        assert!(text.starts_with("cart <down> & out\n"), "{text}");
        assert!(text.contains("  service=cart\n"), "{text}");

        let mut p = params();
        p.subject = Some("{{ status }}: {{ title }}\nBcc: x@y".into());
        let e = EmailNotifier::from_params(&p).unwrap();
        let m = String::from_utf8(e.message(&n).unwrap().formatted()).unwrap();
        assert!(
            m.contains("Subject: firing: cart <down> & out Bcc: x@y"),
            "{m}"
        );
        assert!(!m.contains("\nBcc:"), "{m}");
        assert!(m.contains("multipart/alternative"), "{m}");
        assert!(m.contains("text/plain") && m.contains("text/html"), "{m}");
        assert!(m.contains("To: ops@example.invalid"), "{m}");
    }

    #[test]
    fn validation_refuses_bad_params_and_hides_the_password() {
        let e = serde_json::from_value::<EmailParams>(serde_json::json!({
            "host": "h", "from": "a@b.c", "to": ["d@e.f"], "cc": ["x@y.z"]}))
        .unwrap_err();
        assert!(e.to_string().contains("cc"), "{e}");
        let tls: EmailParams = serde_json::from_value(serde_json::json!({
            "host": "h", "from": "a@b.c", "to": ["d@e.f"], "tls": "tls"}))
        .unwrap();
        assert_eq!(tls.validate().unwrap().port, 465);
        let mut p = params();
        p.to.clear();
        assert!(p.validate().unwrap_err().to_string().contains("email to"));
        let mut p = params();
        p.to.push("not an address".into());
        assert!(p.validate().unwrap_err().to_string().contains("to[1]"));
        let mut p = params();
        p.from = "nobody".into();
        assert!(p.validate().is_err());
        let mut p = params();
        p.subject = Some("{{ incident.titel }}".into());
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("email.subject") && e.contains("titel"), "{e}");
        let mut p = params();
        p.username = Some("u".into());
        assert!(p.validate().is_err());
        p.password = Some(SecretRef::Value(Secret::new("hunter2")));
        p.tls = TlsMode::None;
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("in clear") && !e.contains("hunter2"), "{e}");
        p.tls = TlsMode::Starttls;
        let n = EmailNotifier::from_params(&p).unwrap();
        assert!(!format!("{n:?}").contains("hunter2"));
        assert!(!format!("{p:?}").contains("hunter2"));
        p.host = "127.0.0.1".into();
        p.tls = TlsMode::None;
        assert!(p.validate().is_ok());
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried_then_unreachable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut p = params();
        p.host = "127.0.0.1".into();
        p.port = Some(port);
        p.tls = TlsMode::None;
        p.retries = 1;
        let e = EmailNotifier::from_params(&p)
            .unwrap()
            .notify(&sample())
            .await
            .unwrap_err();
        assert!(
            matches!(e, IntegrationError::Unreachable { attempts: 2, .. }),
            "{e}"
        );
    }
}
