//! ServiceNow incidents as [`Ticketing`], through the Table API.
//!
//! Wire format (ServiceNow's "Table API" documentation), every answer being
//! `{"result": ...}`:
//! - open: `GET /api/now/table/incident?sysparm_query=correlation_id=<id>^active=true&
//!   sysparm_limit=1&sysparm_fields=sys_id,number,state` finds the active incident of an aiops
//!   incident (so `open` is idempotent across restarts); when there is none,
//!   `POST /api/now/table/incident` with `short_description`, `description`, `urgency` and
//!   `impact` (`"1"` high to `"3"` low, from the severity), `correlation_id` (the incident id),
//!   `correlation_display` (`aiops`), and `assignment_group` / `caller_id` when configured
//!   (answer `201 {"result": {"sys_id", "number", ...}}`);
//! - update: `PATCH /api/now/table/incident/<sys_id>` with `work_notes`;
//! - close: `GET` of the record's `state`, nothing to do when it is already resolved (`6`),
//!   closed (`7`) or cancelled (`8`); else `PATCH` with `state: "6"`, `close_code` and
//!   `close_notes`.
//!
//! An error answer `{"error": {"message", "detail"}, "status": "failure"}` is
//! [`IntegrationError::Remote`].

use std::sync::Arc;

use aiops_core::Severity;
use aiops_core::time::Duration;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{IntegrationError, Result};
use crate::http::{AuthParams, HttpClient, HttpParams, Request, Response, check_base_url};
use crate::template::StrictTemplate;
use crate::traits::{BoxFuture, Notification, TicketFields, TicketRef, Ticketing};

/// The system name in errors and logs.
pub const SYSTEM: &str = "servicenow";

/// The value of `correlation_display` on the incidents aiops opens.
pub const CORRELATION_DISPLAY: &str = "aiops";

/// Longest `correlation_id` ServiceNow stores (the field's length).
pub const MAX_CORRELATION_ID: usize = 100;

/// Incident states: resolved.
pub const STATE_RESOLVED: &str = "6";

/// Parameters of a ServiceNow instance, as a configuration writes them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNowParams {
    /// The instance (`https://example.service-now.com`).
    pub url: String,
    /// Authentication: `{basic: {username, password}}` (or `{bearer: <OAuth token>}`);
    /// required.
    pub auth: AuthParams,
    /// The `assignment_group` set on new incidents (a sys_id or a name), if any.
    #[serde(default)]
    pub assignment_group: Option<String>,
    /// The `caller_id` set on new incidents (a sys_id or a user name), if any.
    #[serde(default)]
    pub caller: Option<String>,
    /// The `close_code` set when resolving (default `Solved (Permanently)`).
    #[serde(default = "default_close_code")]
    pub close_code: String,
    /// The texts sent.
    #[serde(default)]
    pub templates: ServiceNowTemplates,
    /// Time allowed for one request (default `30s`).
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Retries of a failed request (default 3; see [`crate::http`]).
    #[serde(default = "default_retries")]
    pub retries: u32,
}

/// The templates of the texts sent to ServiceNow, rendered with a [`Notification`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceNowTemplates {
    /// The incident's `short_description` (one line, cut to 160 characters).
    pub short_description: String,
    /// The incident's `description`.
    pub description: String,
    /// The `work_notes` added by `update`.
    pub work_notes: String,
    /// The `close_notes` set when resolving.
    pub close_notes: String,
}

impl Default for ServiceNowTemplates {
    fn default() -> Self {
        Self {
            short_description: "[aiops] {{ title }}".into(),
            description: "{{ summary }}\n\nSeverity: {{ severity }}\
                {% if root_cause %}\nProbable root cause: {{ root_cause }}{% endif %}\
                {% if url %}\n{{ url }}{% endif %}"
                .into(),
            work_notes: "{{ status }} ({{ severity }}): {{ title }}\n{{ summary }}".into(),
            close_notes: "Resolved by aiops: {{ title }}\n{{ summary }}".into(),
        }
    }
}

/// Longest `short_description` ServiceNow stores by default.
pub const MAX_SHORT_DESCRIPTION: usize = 160;

fn default_close_code() -> String {
    "Solved (Permanently)".into()
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_retries() -> u32 {
    3
}

impl ServiceNowParams {
    /// Parameters with the defaults.
    pub fn new(url: impl Into<String>, auth: AuthParams) -> Self {
        Self {
            url: url.into(),
            auth,
            assignment_group: None,
            caller: None,
            close_code: default_close_code(),
            templates: ServiceNowTemplates::default(),
            timeout: default_timeout(),
            retries: default_retries(),
        }
    }

    /// Checks the parameters and compiles the templates (the secrets are read by
    /// [`ServiceNowClient::new`]).
    pub fn validate(&self) -> Result<ValidServiceNowParams> {
        let base = check_base_url(SYSTEM, "url", &self.url)?;
        if !matches!(self.auth, AuthParams::Basic { .. } | AuthParams::Bearer(_)) {
            return Err(config(
                "auth",
                "the Table API takes basic or bearer (OAuth) authentication".into(),
            ));
        }
        if self.close_code.trim().is_empty() {
            return Err(config("close_code", "must not be empty".into()));
        }
        for (key, v) in [
            ("assignment_group", &self.assignment_group),
            ("caller", &self.caller),
        ] {
            if matches!(v, Some(s) if s.trim().is_empty()) {
                return Err(config(key, "must not be empty when given".into()));
            }
        }
        let schema = Notification::schema();
        let compile = |key: &str, source: &str| {
            StrictTemplate::compile(&format!("{SYSTEM}.templates.{key}"), source, &schema)
        };
        let t = &self.templates;
        let templates = Templates {
            short_description: compile("short_description", &t.short_description)?,
            description: compile("description", &t.description)?,
            work_notes: compile("work_notes", &t.work_notes)?,
            close_notes: compile("close_notes", &t.close_notes)?,
        };
        Ok(ValidServiceNowParams {
            base: base.as_str().trim_end_matches('/').to_string(),
            assignment_group: self.assignment_group.clone(),
            caller: self.caller.clone(),
            close_code: self.close_code.clone(),
            templates: Arc::new(templates),
            http: HttpParams {
                timeout: self.timeout,
                retries: self.retries,
                auth: Some(self.auth.clone()),
                ..HttpParams::default()
            },
        })
    }
}

#[derive(Debug)]
struct Templates {
    short_description: StrictTemplate,
    description: StrictTemplate,
    work_notes: StrictTemplate,
    close_notes: StrictTemplate,
}

/// Checked [`ServiceNowParams`], templates compiled.
#[derive(Debug, Clone)]
pub struct ValidServiceNowParams {
    base: String,
    assignment_group: Option<String>,
    caller: Option<String>,
    close_code: String,
    templates: Arc<Templates>,
    http: HttpParams,
}

impl ValidServiceNowParams {
    /// The HTTP parameters (to change retries or timeouts after validation).
    pub fn http_mut(&mut self) -> &mut HttpParams {
        &mut self.http
    }
}

/// A client of the incident table of one ServiceNow instance.
#[derive(Debug)]
pub struct ServiceNowClient {
    params: ValidServiceNowParams,
    http: HttpClient,
    /// Held while opening, so that two opens of one incident do not both create.
    opening: tokio::sync::Mutex<()>,
}

/// `urgency` and `impact` (`1` high, `2` medium, `3` low) for a severity: critical is 1/1,
/// high 1/2, medium 2/2, low 3/3, info 3/3.
pub fn urgency_impact(s: Severity) -> (&'static str, &'static str) {
    match s {
        Severity::Critical => ("1", "1"),
        Severity::High => ("1", "2"),
        Severity::Medium => ("2", "2"),
        Severity::Low | Severity::Info => ("3", "3"),
    }
}

impl ServiceNowClient {
    /// Builds the client; reads the secrets.
    pub fn new(params: ValidServiceNowParams) -> Result<Self> {
        Ok(Self {
            http: HttpClient::new(SYSTEM, &params.http)?,
            params,
            opening: tokio::sync::Mutex::new(()),
        })
    }

    /// Checks `params` and builds the client.
    pub fn from_params(params: &ServiceNowParams) -> Result<Self> {
        Self::new(params.validate()?)
    }

    fn table_url(&self) -> String {
        format!("{}/api/now/table/incident", self.params.base)
    }

    fn record_url(&self, sys_id: &str) -> String {
        format!("{}/{sys_id}", self.table_url())
    }

    fn ticket(&self, sys_id: String) -> TicketRef {
        TicketRef {
            system: SYSTEM.into(),
            url: Some(format!(
                "{}/nav_to.do?uri=incident.do%3Fsys_id%3D{sys_id}",
                self.params.base
            )),
            key: sys_id,
        }
    }

    async fn call(&self, req: Request) -> Result<Value> {
        let resp = self
            .http
            .send(&req.header("Accept", "application/json"))
            .await?;
        read_result(&resp)
    }

    /// The sys_id of the active incident correlated with `incident_id`, if any.
    pub async fn find(&self, incident_id: &str) -> Result<Option<String>> {
        let id = correlation_id(incident_id)?;
        let req = Request::get(self.table_url())
            .query("sysparm_query", format!("correlation_id={id}^active=true"))
            .query("sysparm_limit", "1")
            .query("sysparm_fields", "sys_id,number,state");
        let rows: Vec<Record> = parse(self.call(req).await?, "incident query")?;
        Ok(rows.into_iter().next().map(|r| r.sys_id))
    }

    /// The record created for `n`.
    pub fn create_body(&self, n: &Notification, incident_id: &str) -> Result<Value> {
        let t = &self.params.templates;
        let mut short: String = t
            .short_description
            .render(n)?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if short.is_empty() {
            short.clone_from(&n.title);
        }
        let short: String = short.chars().take(MAX_SHORT_DESCRIPTION).collect();
        let (urgency, impact) = urgency_impact(n.severity);
        let mut body = json!({
            "short_description": short,
            "description": t.description.render(n)?,
            "urgency": urgency,
            "impact": impact,
            "correlation_id": correlation_id(incident_id)?,
            "correlation_display": CORRELATION_DISPLAY,
        });
        if let Some(g) = &self.params.assignment_group {
            body["assignment_group"] = json!(g);
        }
        if let Some(c) = &self.params.caller {
            body["caller_id"] = json!(c);
        }
        Ok(body)
    }

    async fn open_ticket(&self, n: &Notification) -> Result<TicketRef> {
        let id = incident_id(n)?;
        let _held = self.opening.lock().await;
        if let Some(sys_id) = self.find(id).await? {
            check_sys_id(&sys_id)?;
            return Ok(self.ticket(sys_id));
        }
        let body = self.create_body(n, id)?;
        // Not idempotent: repeating it after a timeout could make a second incident.
        let req = Request::post_json(self.table_url(), &body)
            .query("sysparm_fields", "sys_id,number,state");
        let created: Record = parse(self.call(req).await?, "incident creation")?;
        check_sys_id(&created.sys_id)?;
        tracing::info!(system = SYSTEM, number = %created.number.as_deref().unwrap_or("?"), incident = id, "incident created");
        Ok(self.ticket(created.sys_id))
    }

    async fn work_notes(&self, t: &TicketRef, n: &Notification) -> Result<()> {
        check_sys_id(&t.key)?;
        let body = json!({"work_notes": self.params.templates.work_notes.render(n)?});
        let req =
            Request::patch_json(self.record_url(&t.key), &body).query("sysparm_fields", "sys_id");
        self.call(req).await.map(drop)
    }

    /// The body that resolves an incident.
    pub fn resolve_body(&self, n: &Notification) -> Result<Value> {
        Ok(json!({
            "state": STATE_RESOLVED,
            "close_code": self.params.close_code,
            "close_notes": self.params.templates.close_notes.render(n)?,
        }))
    }

    async fn resolve(&self, t: &TicketRef, n: &Notification) -> Result<()> {
        check_sys_id(&t.key)?;
        let req = Request::get(self.record_url(&t.key)).query("sysparm_fields", "sys_id,state");
        let record: Record = parse(self.call(req).await?, "incident")?;
        if matches!(record.state.as_deref(), Some("6" | "7" | "8")) {
            return Ok(());
        }
        let body = self.resolve_body(n)?;
        // Setting the same state and notes twice leaves the record as once.
        let req = Request::patch_json(self.record_url(&t.key), &body)
            .query("sysparm_fields", "sys_id,state")
            .idempotent(true);
        self.call(req).await.map(drop)
    }
}

impl Ticketing for ServiceNowClient {
    fn system(&self) -> &'static str {
        SYSTEM
    }
    fn open_as<'a>(
        &'a self,
        n: &'a Notification,
        _fields: &'a TicketFields,
    ) -> BoxFuture<'a, Result<TicketRef>> {
        Box::pin(self.open_ticket(n))
    }
    fn update<'a>(&'a self, t: &'a TicketRef, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.work_notes(t, n))
    }
    fn close<'a>(&'a self, t: &'a TicketRef, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.resolve(t, n))
    }
}

/// The incident id as a `correlation_id`: at most 100 characters, and none of `^` (the
/// encoded query's separator) or control characters, so that it can be searched for.
fn correlation_id(incident_id: &str) -> Result<&str> {
    if incident_id.chars().count() > MAX_CORRELATION_ID {
        return Err(config(
            "incident_id",
            format!(
                "{incident_id:?} is longer than the {MAX_CORRELATION_ID} characters of correlation_id"
            ),
        ));
    }
    if incident_id.contains('^') || incident_id.chars().any(char::is_control) {
        return Err(config(
            "incident_id",
            format!(
                "{incident_id:?} cannot be searched for as a correlation_id (^ or a control character)"
            ),
        ));
    }
    Ok(incident_id)
}

/// Refuses a sys_id that is not 32 hex digits (it goes into URL paths).
fn check_sys_id(sys_id: &str) -> Result<()> {
    if sys_id.len() == 32 && sys_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(payload(format!("{sys_id:?} is not a sys_id")))
    }
}

fn incident_id(n: &Notification) -> Result<&str> {
    match n.incident_id.as_deref() {
        Some(id) if !id.is_empty() => Ok(id),
        _ => Err(config(
            "incident_id",
            "a ticket is about an incident: the notification has no incident id".into(),
        )),
    }
}

/// The `result` of a success answer; an error answer becomes [`IntegrationError::Remote`], an
/// answer in no ServiceNow shape [`IntegrationError::Status`] or [`IntegrationError::Payload`].
pub fn read_result(resp: &Response) -> Result<Value> {
    let answer: Answer = match serde_json::from_slice(&resp.body) {
        Ok(a) => a,
        Err(_) if !resp.is_success() => return Err(resp.status_error(SYSTEM)),
        Err(e) => {
            return Err(payload(format!(
                "{}: not a Table API answer: {e}",
                resp.url()
            )));
        }
    };
    match (resp.is_success(), answer.result, answer.error) {
        (_, _, Some(e)) => Err(IntegrationError::Remote {
            system: SYSTEM,
            status: resp.status,
            error_type: answer.status.unwrap_or_else(|| "failure".into()),
            message: match e.detail {
                Some(d) if !d.is_empty() => format!("{}: {d}", e.message),
                _ => e.message,
            },
        }),
        (true, Some(result), None) => Ok(result),
        (true, None, None) => Err(payload(format!(
            "{}: an answer without `result`",
            resp.url()
        ))),
        (false, _, None) => Err(resp.status_error(SYSTEM)),
    }
}

fn parse<T: serde::de::DeserializeOwned>(v: Value, what: &str) -> Result<T> {
    IntegrationError::parse(SYSTEM, v, what)
}

fn config(key: &str, reason: String) -> IntegrationError {
    IntegrationError::config(SYSTEM, key, reason)
}

fn payload(message: String) -> IntegrationError {
    IntegrationError::payload(SYSTEM, message)
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error: Option<ErrorBody>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    detail: Option<String>,
}

#[derive(Deserialize)]
struct Record {
    sys_id: String,
    #[serde(default)]
    number: Option<String>,
    #[serde(default)]
    state: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Secret, SecretRef};

    fn params() -> ServiceNowParams {
        ServiceNowParams::new(
            "https://example.service-now.com",
            AuthParams::Basic {
                username: "aiops".into(),
                password: SecretRef::Value(Secret::new("sn-pa55word")),
            },
        )
    }

    fn sample() -> Notification {
        crate::traits::tests::incident_sample()
    }

    fn notification() -> Notification {
        let mut n = sample();
        n.labels.clear();
        n.incident_id = Some("inc-9".into());
        n.severity = Severity::High;
        n
    }

    #[test]
    fn the_create_body_maps_severity_and_correlates() {
        let mut p = params();
        p.assignment_group = Some("Network".into());
        p.caller = Some("aiops.bot".into());
        let c = ServiceNowClient::from_params(&p).unwrap();
        let n = notification();
        let b = c.create_body(&n, "inc-9").unwrap();
        assert_eq!(b["short_description"], format!("[aiops] {}", n.title));
        assert_eq!(
            (b["urgency"].as_str(), b["impact"].as_str()),
            (Some("1"), Some("2"))
        );
        assert_eq!(b["correlation_id"], "inc-9");
        assert_eq!(b["correlation_display"], "aiops");
        assert_eq!(b["assignment_group"], "Network");
        assert_eq!(b["caller_id"], "aiops.bot");
        assert!(
            b["description"]
                .as_str()
                .unwrap()
                .contains("Severity: high")
        );
        let r = c.resolve_body(&n).unwrap();
        assert_eq!(r["state"], "6");
        assert_eq!(r["close_code"], "Solved (Permanently)");
        assert!(
            r["close_notes"]
                .as_str()
                .unwrap()
                .starts_with("Resolved by aiops")
        );
        assert_eq!(urgency_impact(Severity::Critical), ("1", "1"));
        assert_eq!(urgency_impact(Severity::Info), ("3", "3"));
        assert!(c.create_body(&n, "a^b").is_err());
        assert!(c.create_body(&n, &"x".repeat(101)).is_err());
    }

    #[test]
    fn validation_refuses_unknown_keys_bad_urls_and_templates() {
        let e = serde_json::from_value::<ServiceNowParams>(json!({
            "url": "https://x", "auth": {"bearer": {"value": "t"}}, "table": "problem"}))
        .unwrap_err();
        assert!(e.to_string().contains("table"), "{e}");
        let mut bad = params();
        bad.url = "example.service-now.com".into();
        assert!(bad.validate().is_err());
        let mut bad = params();
        bad.templates.close_notes = "{{ incident.nope }}".into();
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("servicenow.templates.close_notes"), "{e}");
        let mut bad = params();
        bad.close_code = " ".into();
        assert!(bad.validate().is_err());
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let p = params();
        assert!(!format!("{p:?}").contains("sn-pa55word"));
        let c = ServiceNowClient::from_params(&p).unwrap();
        assert!(!format!("{c:?}").contains("sn-pa55word"));
    }

    #[test]
    fn answers_and_errors_are_read() {
        let resp = |status: u16, body: &str| Response {
            status,
            body: body.as_bytes().to_vec(),
            attempts: 1,
            url: "https://x/api/now/table/incident".into(),
        };
        assert_eq!(
            read_result(&resp(200, r#"{"result": []}"#)).unwrap(),
            json!([])
        );
        let e = read_result(&resp(
            404,
            r#"{"error": {"message": "No Record found", "detail": "ACL"}, "status": "failure"}"#,
        ))
        .unwrap_err();
        assert!(
            matches!(&e, IntegrationError::Remote { status: 404, error_type, message, .. }
                if error_type == "failure" && message == "No Record found: ACL"),
            "{e}"
        );
        assert!(matches!(
            read_result(&resp(503, "down")).unwrap_err(),
            IntegrationError::Status { status: 503, .. }
        ));
        assert!(matches!(
            read_result(&resp(200, "{}")).unwrap_err(),
            IntegrationError::Payload { .. }
        ));
        assert!(check_sys_id("0123456789abcdef0123456789abcdef").is_ok());
        assert!(check_sys_id("../x").is_err());
    }
}
