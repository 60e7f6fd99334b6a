//! Slack incoming webhooks as a [`Notifier`].
//!
//! Wire format (Slack's "Sending messages using incoming webhooks" and Block Kit reference):
//! one `POST` of JSON to the webhook URL,
//!
//! ```json
//! {"text": "<fallback for notifications>",
//!  "attachments": [{"color": "#b71c1c", "fallback": "...", "blocks": [
//!    {"type": "header", "text": {"type": "plain_text", "text": "<title>", "emoji": true}},
//!    {"type": "section", "text": {"type": "mrkdwn", "text": "<summary>"}},
//!    {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Severity*\ncritical"}, ...]},
//!    {"type": "actions", "elements": [{"type": "button", "action_id": "aiops_open",
//!      "text": {"type": "plain_text", "text": "Open in aiops"}, "url": "<notification.url>"}]},
//!    {"type": "context", "elements": [{"type": "mrkdwn", "text": "aiops · incident_opened · ..."}]}
//!  ]}]}
//! ```
//!
//! The attachment carries the colour bar (by severity; green when resolved), the blocks carry
//! the content. Block Kit's limits are kept: a header's text is cut to 150 characters, a
//! section's to 3,000, a field's to 2,000, a button's label to 75 (cut text ends with `…`).
//! Text taken from the notification is escaped for `mrkdwn` (`&`, `<`, `>`); text from the
//! `title` / `text` templates is used as written, so a template may write Slack links
//! (`<url|label>`).
//!
//! Slack answers `200 ok`; a refused message is a 4xx with a short reason in the body
//! (`invalid_payload`, `no_text`, `channel_is_archived`...), returned as
//! [`IntegrationError::Status`]. A `429` (rate limited, with `Retry-After`) or `503` is
//! retried: Slack did not post the message. A timeout is not (it may have been posted).
//!
//! The webhook URL is a secret (whoever has it can post): it is read from a [`SecretRef`], and
//! errors and logs show only `scheme://host/***`.

use serde::Deserialize;
use serde_json::{Value, json};

use aiops_core::Severity;
use aiops_core::time::Duration;

use crate::error::{IntegrationError, Result};
use crate::http::{HttpClient, HttpParams, Request, SecretRef};
use crate::template::StrictTemplate;
use crate::traits::{
    BoxFuture, Delivery, Notification, Notifier, default_retries, default_timeout, short,
};

/// The system name in errors and logs.
pub const SYSTEM: &str = "slack";

/// Longest header text (Block Kit).
pub const MAX_HEADER: usize = 150;
/// Longest section text (Block Kit).
pub const MAX_SECTION: usize = 3_000;
/// Longest text of one section field (Block Kit).
pub const MAX_FIELD: usize = 2_000;
/// Longest button label (Block Kit).
pub const MAX_BUTTON: usize = 75;
/// Longest button URL (Block Kit).
pub const MAX_URL: usize = 3_000;

/// Parameters of a Slack notifier, as a configuration writes them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackParams {
    /// The incoming webhook URL (`https://hooks.slack.com/services/...`): a secret.
    pub url: SecretRef,
    /// Template of the header (plain text; default: the notification's title).
    #[serde(default)]
    pub title: Option<String>,
    /// Template of the main section (`mrkdwn`; default: the notification's summary, and the
    /// root cause when there is one).
    #[serde(default)]
    pub text: Option<String>,
    /// Time allowed for one request (default `10s`).
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Retries of a refused (`429`, `503`) or unsent request (default 3).
    #[serde(default = "default_retries")]
    pub retries: u32,
}

impl SlackParams {
    /// Parameters for the webhook URL in `url` with the defaults.
    pub fn new(url: SecretRef) -> Self {
        Self {
            url,
            title: None,
            text: None,
            timeout: default_timeout(),
            retries: default_retries(),
        }
    }

    /// Checks the parameters: the templates compile and read only known variables (the
    /// secret is read by [`SlackNotifier::new`]).
    pub fn validate(&self) -> Result<ValidSlackParams> {
        let schema = Notification::schema();
        let compile = |name: &str, src: &Option<String>| {
            src.as_deref()
                .map(|s| StrictTemplate::compile(name, s, &schema))
                .transpose()
        };
        Ok(ValidSlackParams {
            url: self.url.clone(),
            title: compile("slack.title", &self.title)?,
            text: compile("slack.text", &self.text)?,
            http: HttpParams {
                timeout: self.timeout,
                retries: self.retries,
                ..HttpParams::default()
            },
        })
    }
}

/// Checked [`SlackParams`].
#[derive(Debug)]
pub struct ValidSlackParams {
    url: SecretRef,
    title: Option<StrictTemplate>,
    text: Option<StrictTemplate>,
    http: HttpParams,
}

/// Sends notifications to a Slack incoming webhook.
#[derive(Debug)]
pub struct SlackNotifier {
    url: crate::http::Secret,
    shown: String,
    title: Option<StrictTemplate>,
    text: Option<StrictTemplate>,
    http: HttpClient,
}

impl SlackNotifier {
    /// Builds the notifier; reads the webhook URL and checks it is an `http(s)` URL (errors
    /// never show it).
    pub fn new(params: ValidSlackParams) -> Result<Self> {
        let url = params.url.resolve(SYSTEM, "url")?;
        let shown = secret_url_shown(SYSTEM, "url", url.expose())?;
        Ok(Self {
            url,
            shown,
            title: params.title,
            text: params.text,
            http: HttpClient::new(SYSTEM, &params.http)?,
        })
    }

    /// Checks `params` and builds the notifier.
    pub fn from_params(params: &SlackParams) -> Result<Self> {
        Self::new(params.validate()?)
    }

    /// The JSON body sent for `n`.
    pub fn body(&self, n: &Notification) -> Result<Value> {
        let title = match &self.title {
            Some(t) => t.render(n)?,
            None => n.title.clone(),
        };
        let text = match &self.text {
            Some(t) => t.render(n)?,
            None => default_text(n),
        };
        Ok(message(n, &title, &text))
    }

    async fn send(&self, n: &Notification) -> Result<Delivery> {
        let body = self.body(n)?;
        let req = Request::post_json(self.url.expose(), &body)
            .retry_refused()
            .shown_as(&self.shown);
        let resp = self.http.send(&req).await?;
        if !resp.is_success() {
            return Err(resp.status_error(SYSTEM));
        }
        Ok(Delivery {
            attempts: resp.attempts,
            detail: short(resp.text().trim(), 200),
        })
    }
}

impl Notifier for SlackNotifier {
    fn system(&self) -> &'static str {
        SYSTEM
    }

    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<Delivery>> {
        Box::pin(self.send(n))
    }
}

/// The colour bar of a notification: green when resolved, else by severity.
pub fn color(n: &Notification) -> &'static str {
    if n.status == "resolved" {
        return "#2e7d32";
    }
    match n.severity {
        Severity::Critical => "#b71c1c",
        Severity::High => "#e65100",
        Severity::Medium => "#f9a825",
        Severity::Low => "#1e88e5",
        Severity::Info => "#9e9e9e",
    }
}

/// The default main text: the summary, and the root cause when known (escaped for mrkdwn).
fn default_text(n: &Notification) -> String {
    let mut text = escape(&n.summary);
    if let Some(rc) = &n.root_cause {
        text.push_str(&format!("\n*Probable root cause:* {}", escape(rc)));
    }
    text
}

/// The whole message for `n` with its header `title` and main text `text`.
fn message(n: &Notification, title: &str, text: &str) -> Value {
    let plain =
        |t: &str, max: usize| json!({"type": "plain_text", "text": short(t, max), "emoji": true});
    let mrkdwn = |t: &str, max: usize| json!({"type": "mrkdwn", "text": short(t, max)});
    let labels = if n.labels.is_empty() {
        "-".to_string()
    } else {
        n.labels
            .iter()
            .map(|(k, v)| format!("`{}={}`", escape(k), escape(v)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let title = if title.trim().is_empty() {
        "(no title)"
    } else {
        title
    };
    let text = if text.trim().is_empty() { "-" } else { text };
    let mut blocks = vec![
        json!({"type": "header", "text": plain(title, MAX_HEADER)}),
        json!({"type": "section", "text": mrkdwn(text, MAX_SECTION)}),
        json!({"type": "section", "fields": [
            mrkdwn(&format!("*Severity*\n{}", n.severity), MAX_FIELD),
            mrkdwn(&format!("*Status*\n{}", n.status), MAX_FIELD),
            mrkdwn(&format!("*Labels*\n{labels}"), MAX_FIELD),
        ]}),
    ];
    if let Some(url) = n.url.as_deref().filter(|u| is_link(u)) {
        blocks.push(json!({"type": "actions", "elements": [{
            "type": "button",
            "action_id": "aiops_open",
            "text": plain("Open in aiops", MAX_BUTTON),
            "url": url,
        }]}));
    }
    let mut context = format!("aiops · {}", kind_name(n));
    if let Some(id) = &n.incident_id {
        context.push_str(&format!(" · {}", escape(id)));
    }
    let secs = n.timestamp.div_euclid(1000);
    let iso = aiops_core::time::format_rfc3339(n.timestamp);
    context.push_str(&format!(
        " · <!date^{secs}^{{date_short_pretty}} {{time}}|{iso}>"
    ));
    blocks.push(json!({"type": "context", "elements": [mrkdwn(&context, MAX_FIELD)]}));
    let fallback = format!("[{}] {}", n.severity.as_str().to_uppercase(), n.title);
    json!({
        "text": short(&fallback, MAX_SECTION),
        "attachments": [{
            "color": color(n),
            "fallback": short(&fallback, MAX_SECTION),
            "blocks": blocks,
        }],
    })
}

fn kind_name(n: &Notification) -> String {
    serde_json::to_value(n.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Whether `url` can be a button's link (http(s), at most 3,000 characters).
fn is_link(url: &str) -> bool {
    url.chars().count() <= MAX_URL
        && reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// Escapes text for Slack's `mrkdwn`: `&`, `<` and `>`.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Checks a URL that is a secret (`http(s)://host/...`) and returns what errors show of it:
/// `scheme://host[:port]/***`. The error never holds the URL.
pub(crate) fn secret_url_shown(system: &'static str, key: &str, url: &str) -> Result<String> {
    let bad = |reason: &str| IntegrationError::Config {
        system,
        key: key.to_string(),
        reason: reason.to_string(),
    };
    let u = reqwest::Url::parse(url).map_err(|e| bad(&format!("the secret is not a URL ({e})")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(bad("the secret is not an http:// or https:// URL"));
    }
    let Some(host) = u.host_str() else {
        return Err(bad("the secret URL has no host"));
    };
    Ok(match u.port() {
        Some(p) => format!("{}://{host}:{p}/***", u.scheme()),
        None => format!("{}://{host}/***", u.scheme()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Secret;
    use crate::traits::tests::sample;

    fn params(url: &str) -> SlackParams {
        SlackParams::new(SecretRef::Value(Secret::new(url)))
    }

    #[test]
    fn the_body_has_the_block_kit_shape() {
        let s = SlackNotifier::from_params(&params("https://hooks.slack.invalid/services/T/B/X"))
            .unwrap();
        let n = sample();
        let b = s.body(&n).unwrap();
        assert_eq!(b["text"], "[HIGH] cart <down> & out");
        let a = &b["attachments"][0];
        assert_eq!(a["color"], "#e65100");
        let blocks = a["blocks"].as_array().unwrap();
        let types: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            ["header", "section", "section", "actions", "context"]
        );
        assert_eq!(blocks[0]["text"]["type"], "plain_text");
        assert_eq!(blocks[0]["text"]["text"], "cart <down> & out");
        assert_eq!(blocks[1]["text"]["type"], "mrkdwn");
        let text = blocks[1]["text"]["text"].as_str().unwrap();
        assert!(text.contains("&lt;b&gt;"), "{text}");
        assert!(text.contains("*Probable root cause:* db"), "{text}");
        let fields = blocks[2]["fields"].as_array().unwrap();
        assert_eq!(fields[0]["text"], "*Severity*\nhigh");
        assert_eq!(fields[1]["text"], "*Status*\nfiring");
        assert_eq!(fields[2]["text"], "*Labels*\n`service=cart`");
        assert_eq!(
            blocks[3]["elements"][0]["url"],
            "https://aiops.example/i/inc-7"
        );
        assert_eq!(blocks[3]["elements"][0]["type"], "button");
        let ctx = blocks[4]["elements"][0]["text"].as_str().unwrap();
        assert!(
            ctx.starts_with("aiops · incident_opened · inc-7 · <!date^1700000000^"),
            "{ctx}"
        );

        let mut resolved = n.clone();
        resolved.status = "resolved".into();
        resolved.url = None;
        let b = s.body(&resolved).unwrap();
        assert_eq!(b["attachments"][0]["color"], "#2e7d32");
        assert_eq!(b["attachments"][0]["blocks"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn long_texts_are_cut_to_block_kit_limits() {
        let s = SlackNotifier::from_params(&params("http://127.0.0.1:1/hook")).unwrap();
        let mut n = sample();
        n.title = "t".repeat(400);
        n.summary = "s".repeat(5000);
        let b = s.body(&n).unwrap();
        let blocks = &b["attachments"][0]["blocks"];
        let header = blocks[0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), MAX_HEADER);
        assert!(header.ends_with('…'));
        assert_eq!(
            blocks[1]["text"]["text"].as_str().unwrap().chars().count(),
            MAX_SECTION
        );
    }

    #[test]
    fn templates_are_checked_at_validate_time_and_rendered() {
        let mut p = params("https://hooks.slack.invalid/services/T/B/X");
        p.title = Some("{{ labels.service | upper }}: {{ title }}".into());
        p.text = Some("<{{ url }}|{{ incident_id }}>".into());
        let s = SlackNotifier::from_params(&p).unwrap();
        let b = s.body(&sample()).unwrap();
        let blocks = &b["attachments"][0]["blocks"];
        assert_eq!(blocks[0]["text"]["text"], "CART: cart <down> & out");
        assert_eq!(
            blocks[1]["text"]["text"],
            "<https://aiops.example/i/inc-7|inc-7>"
        );
        p.text = Some("{{ incident.titel }}".into());
        let e = p.validate().unwrap_err().to_string();
        assert!(
            e.contains("slack.text") && e.contains("incident.titel"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_and_bad_urls_are_refused_without_showing_the_secret() {
        let e = serde_json::from_value::<SlackParams>(
            json!({"url": {"value": "https://x/y"}, "channel": "#ops"}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("channel"), "{e}");
        for bad in ["not a url hunter2", "ftp://hooks/hunter2", "unix:/hunter2"] {
            let e = SlackNotifier::from_params(&params(bad))
                .unwrap_err()
                .to_string();
            assert!(!e.contains("hunter2"), "{e}");
            assert!(e.contains("slack url"), "{e}");
        }
        let s = SlackNotifier::from_params(&params("https://hooks.slack.invalid/services/hunter2"))
            .unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.shown, "https://hooks.slack.invalid/***");
        let p: SlackParams =
            serde_json::from_value(json!({"url": {"value": "https://h/hunter2"}})).unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
