//! A client of Alertmanager's HTTP API v2: pushes alerts (as an [`AlertSink`]), reads them
//! back with their state, and creates, lists and expires silences.
//!
//! Wire format (Alertmanager's OpenAPI `api/v2/openapi.yaml`):
//! - `POST /api/v2/alerts` takes an array of `PostableAlert` (`labels`, `annotations`,
//!   `startsAt`, `endsAt`, `generatorURL`); a resolved alert is one whose `endsAt` is past.
//! - `GET /api/v2/alerts?filter=<matcher>&active=&silenced=&inhibited=&unprocessed=` answers
//!   `GettableAlert`s: the same fields plus `fingerprint`, `receivers: [{name}]`, `updatedAt`
//!   and `status: {state: active|suppressed|unprocessed, silencedBy: [ids], inhibitedBy: [...]}`.
//! - `POST /api/v2/silences` takes a `PostableSilence` (`matchers: [{name, value, isRegex,
//!   isEqual}]`, `startsAt`, `endsAt`, `createdBy`, `comment`) and answers `{"silenceID": id}`;
//!   `GET /api/v2/silences` answers `GettableSilence`s (adds `id`, `updatedAt` and
//!   `status: {state: active|pending|expired}`); `DELETE /api/v2/silence/{id}` expires one.
//! - Errors are answered with a non-2xx status and a JSON string (or text) body, read as
//!   [`IntegrationError::Status`].
//!
//! Pushing alerts is idempotent (Alertmanager merges an alert posted twice), so it is retried;
//! creating a silence is not (a retried request could create two), so it is not.
//!
//! aiops' own silences and maintenance windows ([`aiops_alerts::Silence`],
//! [`aiops_alerts::MaintenanceWindow`]) convert to a [`SilenceRequest`].

use aiops_alerts::{MaintenanceWindow, MatchOp, Silence};
use aiops_core::time::{Duration, serde_rfc3339};
use aiops_core::{Alert, AlertStatus, TimestampMs};
use serde::{Deserialize, Serialize};

use crate::error::{IntegrationError, Result};
use crate::http::{AuthParams, HttpClient, HttpParams, Request, Response, check_base_url};
use crate::traits::{AlertSink, BoxFuture};

/// The system name in errors and logs.
pub const SYSTEM: &str = "alertmanager";

/// Parameters of an Alertmanager client, as a configuration writes them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerParams {
    /// Base URL (`http://alertmanager:9093`, or with a path prefix when Alertmanager runs
    /// with `--web.route-prefix`); `/api/v2/...` is added to it.
    pub url: String,
    /// Authentication, when a proxy in front of Alertmanager asks for one (none by default).
    #[serde(default)]
    pub auth: Option<AuthParams>,
    /// Time allowed for one request (default `30s`).
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Retries of a failed idempotent request (default 3; see [`crate::http`]).
    #[serde(default = "default_retries")]
    pub retries: u32,
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_retries() -> u32 {
    3
}

impl AlertmanagerParams {
    /// Parameters for `url` with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            auth: None,
            timeout: default_timeout(),
            retries: default_retries(),
        }
    }

    /// Checks the parameters (the secrets are read by [`AlertmanagerClient::new`]).
    pub fn validate(&self) -> Result<ValidAlertmanagerParams> {
        let base = check_base_url(SYSTEM, "url", &self.url)?;
        Ok(ValidAlertmanagerParams {
            base: base.as_str().trim_end_matches('/').to_string(),
            http: HttpParams {
                timeout: self.timeout,
                retries: self.retries,
                auth: self.auth.clone(),
                ..HttpParams::default()
            },
        })
    }
}

/// Checked [`AlertmanagerParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidAlertmanagerParams {
    base: String,
    http: HttpParams,
}

/// What Alertmanager says of an alert: `active`, `suppressed` (silenced or inhibited) or
/// `unprocessed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Not muted.
    Active,
    /// Muted by a silence or an inhibition.
    Suppressed,
    /// Received, not yet processed.
    Unprocessed,
}

/// An alert as `GET /api/v2/alerts` answers it (a `GettableAlert`).
#[derive(Debug, Clone, PartialEq)]
pub struct GettableAlert {
    /// The alert (labels, annotations, times, generator URL, fingerprint).
    pub alert: Alert,
    /// Its state.
    pub state: AlertState,
    /// Ids of the silences muting it.
    pub silenced_by: Vec<String>,
    /// Fingerprints of the alerts inhibiting it.
    pub inhibited_by: Vec<String>,
    /// Receivers it is routed to.
    pub receivers: Vec<String>,
    /// When Alertmanager last updated it, ms.
    pub updated_at: Option<TimestampMs>,
    /// Alertmanager's fingerprint (its own hash of the labels, 16 hex digits).
    pub fingerprint: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawGettableStatus {
    state: AlertState,
    #[serde(default)]
    silenced_by: Vec<String>,
    #[serde(default)]
    inhibited_by: Vec<String>,
}

#[derive(Deserialize)]
struct RawReceiver {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawGettableAlert {
    status: RawGettableStatus,
    #[serde(default)]
    receivers: Vec<RawReceiver>,
    #[serde(default, with = "serde_rfc3339::option")]
    updated_at: Option<TimestampMs>,
    fingerprint: String,
}

impl GettableAlert {
    /// Reads one `GettableAlert` object.
    pub fn from_value(v: serde_json::Value) -> Result<Self> {
        let raw: RawGettableAlert =
            serde_json::from_value(v.clone()).map_err(|e| payload(format!("alert status: {e}")))?;
        // Alertmanager's fingerprint is its own hash, not aiops': the alert's is recomputed
        // from the labels.
        let mut v = v;
        if let Some(o) = v.as_object_mut() {
            o.remove("fingerprint");
        }
        let mut alert: Alert =
            serde_json::from_value(v).map_err(|e| payload(format!("alert: {e}")))?;
        if alert.ends_at.is_some_and(|e| e <= now_ms()) {
            alert.status = AlertStatus::Resolved;
        }
        Ok(Self {
            alert,
            state: raw.status.state,
            silenced_by: raw.status.silenced_by,
            inhibited_by: raw.status.inhibited_by,
            receivers: raw.receivers.into_iter().map(|r| r.name).collect(),
            updated_at: raw.updated_at,
            fingerprint: raw.fingerprint,
        })
    }
}

/// Which alerts `GET /api/v2/alerts` answers: those matching every `filter` matcher
/// (`alertname="Down"`, `severity=~"crit.*"`), among the kinds asked (each `None` leaves
/// Alertmanager's default, which includes them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// Matchers in Alertmanager's syntax, all of which must match.
    pub matchers: Vec<String>,
    /// Include active alerts.
    pub active: Option<bool>,
    /// Include silenced alerts.
    pub silenced: Option<bool>,
    /// Include inhibited alerts.
    pub inhibited: Option<bool>,
    /// Include unprocessed alerts.
    pub unprocessed: Option<bool>,
    /// Only alerts routed to this receiver (a regex).
    pub receiver: Option<String>,
}

/// One matcher of a silence, as Alertmanager writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceMatcher {
    /// Label name.
    pub name: String,
    /// Value, or regex when `is_regex`.
    pub value: String,
    /// Whether `value` is a (fully anchored) regex.
    pub is_regex: bool,
    /// `true` for `=`/`=~`, `false` for `!=`/`!~`.
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl SilenceMatcher {
    /// An equality matcher `name="value"`.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            is_regex: false,
            is_equal: true,
        }
    }
}

impl From<&aiops_alerts::Matcher> for SilenceMatcher {
    fn from(m: &aiops_alerts::Matcher) -> Self {
        let (is_regex, is_equal) = match m.op() {
            MatchOp::Equal => (false, true),
            MatchOp::NotEqual => (false, false),
            MatchOp::Regex => (true, true),
            MatchOp::NotRegex => (true, false),
        };
        Self {
            name: m.name().to_string(),
            value: m.value().to_string(),
            is_regex,
            is_equal,
        }
    }
}

/// A silence to create (a `PostableSilence` without an id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceRequest {
    /// All must match; at least one, and Alertmanager refuses a set that matches everything.
    pub matchers: Vec<SilenceMatcher>,
    /// Start, ms.
    #[serde(with = "serde_rfc3339")]
    pub starts_at: TimestampMs,
    /// End, ms (after the start).
    #[serde(with = "serde_rfc3339")]
    pub ends_at: TimestampMs,
    /// Who creates it.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

impl SilenceRequest {
    /// Checks what Alertmanager would refuse, before sending: no matcher, an empty name, an
    /// end not after the start.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, reason: &str| IntegrationError::Config {
            system: SYSTEM,
            key: format!("silence.{key}"),
            reason: reason.to_string(),
        };
        if self.matchers.is_empty() {
            return Err(bad("matchers", "at least one matcher is needed"));
        }
        if self.matchers.iter().any(|m| m.name.is_empty()) {
            return Err(bad("matchers", "a matcher has an empty label name"));
        }
        if self.ends_at <= self.starts_at {
            return Err(bad("endsAt", "must be after startsAt"));
        }
        if self.created_by.is_empty() {
            return Err(bad("createdBy", "must not be empty"));
        }
        if self.comment.is_empty() {
            return Err(bad("comment", "must not be empty"));
        }
        Ok(())
    }

    /// The same silence as aiops' own ([`Silence`]): matchers, times, author and comment (an
    /// empty author becomes `aiops`, an empty comment names the silence).
    pub fn from_silence(s: &Silence) -> Self {
        Self {
            matchers: s.matchers.0.iter().map(SilenceMatcher::from).collect(),
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            created_by: if s.created_by.is_empty() {
                "aiops".into()
            } else {
                s.created_by.clone()
            },
            comment: if s.comment.is_empty() {
                format!("aiops silence {}", s.id)
            } else {
                s.comment.clone()
            },
        }
    }

    /// A silence for the occurrence of maintenance window `w` open at `now`, or the next one
    /// when it is closed (`None` when a one-off window is over). A window without matchers
    /// covers every alert, which Alertmanager refuses: that is a
    /// [`IntegrationError::Config`].
    pub fn from_maintenance_window(
        w: &MaintenanceWindow,
        now: TimestampMs,
    ) -> Result<Option<Self>> {
        if w.matchers.is_empty() {
            return Err(IntegrationError::Config {
                system: SYSTEM,
                key: format!("maintenance window {}", w.name),
                reason: "a window without matchers covers every alert; Alertmanager refuses such a silence".into(),
            });
        }
        let len = w.end - w.start;
        let start = match w.every {
            _ if now < w.start => w.start,
            Some(p) if p.0 > 0 => {
                let k = (now - w.start).div_euclid(p.0);
                let cur = w.start + k * p.0;
                if now < cur + len { cur } else { cur + p.0 }
            }
            _ if now < w.end => w.start,
            _ => return Ok(None),
        };
        Ok(Some(Self {
            matchers: w.matchers.0.iter().map(SilenceMatcher::from).collect(),
            starts_at: start,
            ends_at: start + len,
            created_by: "aiops".into(),
            comment: format!("aiops maintenance window {}", w.name),
        }))
    }
}

/// A silence's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SilenceState {
    /// Muting now.
    Active,
    /// Starts later.
    Pending,
    /// Over or expired.
    Expired,
}

#[derive(Deserialize)]
struct RawSilenceStatus {
    state: SilenceState,
}

/// A silence as `GET /api/v2/silences` answers it (a `GettableSilence`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GettableSilence {
    /// Its id.
    pub id: String,
    /// Its state.
    #[serde(deserialize_with = "silence_state")]
    pub status: SilenceState,
    /// Matchers.
    pub matchers: Vec<SilenceMatcher>,
    /// Start, ms.
    #[serde(with = "serde_rfc3339")]
    pub starts_at: TimestampMs,
    /// End, ms (moved to the expiry time when expired early).
    #[serde(with = "serde_rfc3339")]
    pub ends_at: TimestampMs,
    /// Last change, ms.
    #[serde(default, with = "serde_rfc3339::option")]
    pub updated_at: Option<TimestampMs>,
    /// Author.
    #[serde(default)]
    pub created_by: String,
    /// Comment.
    #[serde(default)]
    pub comment: String,
}

fn silence_state<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<SilenceState, D::Error> {
    RawSilenceStatus::deserialize(d).map(|s| s.state)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SilenceCreated {
    #[serde(rename = "silenceID")]
    silence_id: String,
}

/// A client of Alertmanager's API v2.
#[derive(Debug, Clone)]
pub struct AlertmanagerClient {
    base: String,
    http: HttpClient,
}

fn payload(message: String) -> IntegrationError {
    IntegrationError::payload(SYSTEM, message)
}

fn now_ms() -> TimestampMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn success(resp: Response) -> Result<Response> {
    if resp.is_success() {
        Ok(resp)
    } else {
        Err(resp.status_error(SYSTEM))
    }
}

impl AlertmanagerClient {
    /// Builds the client; reads the secrets.
    pub fn new(params: ValidAlertmanagerParams) -> Result<Self> {
        Ok(Self {
            http: HttpClient::new(SYSTEM, &params.http)?,
            base: params.base,
        })
    }

    /// Checks `params` and builds the client.
    pub fn from_params(params: &AlertmanagerParams) -> Result<Self> {
        Self::new(params.validate()?)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v2{path}", self.base)
    }

    /// Posts alerts to `POST /api/v2/alerts`. A resolved alert without an end time is sent
    /// as ending now, since Alertmanager reads "resolved" from a past `endsAt`.
    pub async fn post_alerts(&self, alerts: &[Alert]) -> Result<()> {
        if alerts.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let body: Vec<_> = alerts
            .iter()
            .map(|a| {
                let mut p = a.to_postable();
                if a.status == AlertStatus::Resolved && p.ends_at.is_none() {
                    p.ends_at = Some(now.max(a.starts_at));
                }
                p
            })
            .collect();
        let req = Request::post_json(self.url("/alerts"), &body).idempotent(true);
        success(self.http.send(&req).await?).map(|_| ())
    }

    /// The alerts `filter` selects, as `GET /api/v2/alerts` answers them.
    pub async fn alerts(&self, filter: &AlertFilter) -> Result<Vec<GettableAlert>> {
        let mut req = Request::get(self.url("/alerts"));
        for m in &filter.matchers {
            req = req.query("filter", m.as_str());
        }
        for (name, v) in [
            ("active", filter.active),
            ("silenced", filter.silenced),
            ("inhibited", filter.inhibited),
            ("unprocessed", filter.unprocessed),
        ] {
            if let Some(v) = v {
                req = req.query(name, v.to_string());
            }
        }
        if let Some(r) = &filter.receiver {
            req = req.query("receiver", r.as_str());
        }
        let resp = success(self.http.send(&req).await?)?;
        let values: Vec<serde_json::Value> =
            serde_json::from_slice(&resp.body).map_err(|e| payload(format!("alerts: {e}")))?;
        values.into_iter().map(GettableAlert::from_value).collect()
    }

    /// Creates a silence (checked first with [`SilenceRequest::validate`]); returns its id.
    pub async fn create_silence(&self, s: &SilenceRequest) -> Result<String> {
        s.validate()?;
        let req = Request::post_json(self.url("/silences"), s);
        let resp = success(self.http.send(&req).await?)?;
        let created: SilenceCreated = serde_json::from_slice(&resp.body)
            .map_err(|e| payload(format!("silence created: {e}")))?;
        Ok(created.silence_id)
    }

    /// Expires silence `id` (`DELETE /api/v2/silence/{id}`).
    pub async fn expire_silence(&self, id: &str) -> Result<()> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(IntegrationError::Config {
                system: SYSTEM,
                key: "silence id".into(),
                reason: format!("{id:?} is not a silence id"),
            });
        }
        let req = Request::delete(self.url(&format!("/silence/{id}")));
        success(self.http.send(&req).await?).map(|_| ())
    }

    /// Every silence Alertmanager holds (expired ones included, until it forgets them).
    pub async fn silences(&self) -> Result<Vec<GettableSilence>> {
        let resp = success(self.http.send(&Request::get(self.url("/silences"))).await?)?;
        serde_json::from_slice(&resp.body).map_err(|e| payload(format!("silences: {e}")))
    }
}

impl AlertSink for AlertmanagerClient {
    fn system(&self) -> &'static str {
        SYSTEM
    }

    fn push<'a>(&'a self, alerts: &'a [Alert]) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.post_alerts(alerts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiops_alerts::Matchers;

    #[test]
    fn aiops_silences_and_windows_convert() {
        let s = Silence {
            id: "s1".into(),
            matchers: Matchers::parse(r#"service="cart", severity=~"crit.*", env!="dev""#).unwrap(),
            starts_at: 1_000,
            ends_at: 2_000,
            created_by: String::new(),
            comment: String::new(),
        };
        let r = SilenceRequest::from_silence(&s);
        assert_eq!(
            r.matchers[1],
            SilenceMatcher {
                name: "severity".into(),
                value: "crit.*".into(),
                is_regex: true,
                is_equal: true
            }
        );
        assert!(!r.matchers[2].is_equal && !r.matchers[2].is_regex);
        assert_eq!(
            (r.created_by.as_str(), r.comment.as_str()),
            ("aiops", "aiops silence s1")
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["startsAt"], "1970-01-01T00:00:01.000Z");
        assert_eq!(v["matchers"][0]["isEqual"], true);

        let w = MaintenanceWindow {
            name: "nightly".into(),
            matchers: Matchers::parse(r#"service="db""#).unwrap(),
            start: 10_000,
            end: 12_000,
            every: Some(Duration(10_000)),
        };
        let at = |now| {
            SilenceRequest::from_maintenance_window(&w, now)
                .unwrap()
                .map(|r| (r.starts_at, r.ends_at))
        };
        assert_eq!(at(0), Some((10_000, 12_000)));
        assert_eq!(at(21_000), Some((20_000, 22_000)));
        assert_eq!(at(23_000), Some((30_000, 32_000)));
        let once = MaintenanceWindow {
            every: None,
            ..w.clone()
        };
        assert_eq!(
            SilenceRequest::from_maintenance_window(&once, 13_000).unwrap(),
            None
        );
        let all = MaintenanceWindow {
            matchers: Matchers::default(),
            ..w
        };
        assert!(SilenceRequest::from_maintenance_window(&all, 0).is_err());
    }

    #[test]
    fn gettable_alerts_and_silences_read() {
        let a = serde_json::json!({
            "annotations": {"summary": "x"}, "endsAt": "2999-01-01T00:00:00.000Z",
            "fingerprint": "0123456789abcdef", "receivers": [{"name": "null"}],
            "startsAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:01.000Z",
            "generatorURL": "http://g", "labels": {"alertname": "A"},
            "status": {"inhibitedBy": [], "silencedBy": ["abc"], "state": "suppressed"}
        });
        let g = GettableAlert::from_value(a).unwrap();
        assert_eq!(g.state, AlertState::Suppressed);
        assert_eq!(g.silenced_by, ["abc"]);
        assert_eq!(g.receivers, ["null"]);
        assert_eq!(g.alert.status, AlertStatus::Firing);
        assert!(GettableAlert::from_value(serde_json::json!({"labels": {}})).is_err());
        let s: GettableSilence = serde_json::from_value(serde_json::json!({
            "id": "abc", "status": {"state": "expired"}, "updatedAt": "2024-01-01T00:00:00Z",
            "comment": "c", "createdBy": "me", "startsAt": "2024-01-01T00:00:00Z",
            "endsAt": "2024-01-01T01:00:00Z",
            "matchers": [{"name": "a", "value": "1", "isRegex": false}]
        }))
        .unwrap();
        assert_eq!(s.status, SilenceState::Expired);
        assert!(s.matchers[0].is_equal);
    }

    #[test]
    fn params_and_silences_are_checked() {
        assert!(AlertmanagerParams::new("ftp://x").validate().is_err());
        let p: AlertmanagerParams =
            serde_json::from_str(r#"{"url": "http://am:9093/", "retries": 1}"#).unwrap();
        assert_eq!(p.validate().unwrap().base, "http://am:9093");
        assert!(serde_json::from_str::<AlertmanagerParams>(r#"{"url": "x", "nope": 1}"#).is_err());
        let mut r = SilenceRequest {
            matchers: vec![SilenceMatcher::equal("a", "1")],
            starts_at: 0,
            ends_at: 1,
            created_by: "me".into(),
            comment: "c".into(),
        };
        assert!(r.validate().is_ok());
        r.ends_at = 0;
        assert!(r.validate().is_err());
        r.ends_at = 1;
        r.matchers.clear();
        assert!(r.validate().is_err());
    }
}
