//! Jira Cloud as [`Ticketing`]: one issue per incident, through the REST API v3.
//!
//! Wire format (Atlassian's "Jira Cloud platform REST API v3"):
//! - open: the issue carrying the label `aiops-incident-<id>` is searched first with
//!   `GET /rest/api/3/search/jql?jql=...&fields=status&maxResults=1` (answer
//!   `{"issues": [{"id", "key", "fields": {...}}], "nextPageToken": ...}`); when there is
//!   none, `POST /rest/api/3/issue` with `{"fields": {"project": {"key"}, "summary",
//!   "issuetype": {"name"}, "labels": [...], "description": <ADF>, "priority": {"name"}}}`
//!   creates it (answer `201 {"id", "key", "self"}`). The label makes `open` idempotent across
//!   restarts; within one client, the key found or made is also remembered, since Jira's
//!   search index can lag a few seconds behind a creation;
//! - update: `POST /rest/api/3/issue/{key}/comment` with `{"body": <ADF>}`;
//! - close: `GET /rest/api/3/issue/{key}?fields=status` (nothing to do when the status is in
//!   the `done` category), then `GET /rest/api/3/issue/{key}/transitions?expand=transitions.fields`,
//!   the transition whose name (or target status name) is `done_transition` (ignoring case),
//!   and `POST /rest/api/3/issue/{key}/transitions` with `{"transition": {"id"}, "fields":
//!   {"resolution": {"name"}}, "update": {"comment": [{"add": {"body": <ADF>}}]}}`; the
//!   resolution is sent only when the transition's screen has the field (or when Jira does not
//!   say which fields it has).
//!
//! Text is sent as an Atlassian Document Format document (`{"type": "doc", "version": 1,
//! "content": [...]}`, see [`adf_document`]): the rendered templates are plain text where
//! `# ` starts a heading, `- ` a bullet, a blank line a paragraph, and `http(s)://` URLs
//! become links. Errors answered as `{"errorMessages": [...], "errors": {field: message}}`
//! are [`IntegrationError::Remote`].

use std::collections::{BTreeMap, HashMap};
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
pub const SYSTEM: &str = "jira";

/// Prefix of the label that ties an issue to an incident.
pub const LABEL_PREFIX: &str = "aiops-incident-";

/// Longest summary Jira accepts, in characters.
pub const MAX_SUMMARY_CHARS: usize = 255;

/// Longest label Jira accepts, in characters.
pub const MAX_LABEL_CHARS: usize = 255;

/// Parameters of a Jira Cloud project, as a configuration writes them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraParams {
    /// The site (`https://example.atlassian.net`).
    pub url: String,
    /// The project's key (`OPS`).
    pub project: String,
    /// The issue type created (default `Task`).
    #[serde(default = "default_issue_type")]
    pub issue_type: String,
    /// Authentication: `{basic: {username: <e-mail>, password: <API token>}}` or
    /// `{bearer: <token>}` (required).
    pub auth: AuthParams,
    /// The priority name set for each severity (`{critical: Highest, high: High}`); severities
    /// not listed, or all when empty, leave Jira's default priority.
    #[serde(default)]
    pub priorities: BTreeMap<Severity, String>,
    /// Labels added to every issue, besides `aiops-incident-<id>`.
    #[serde(default)]
    pub labels: Vec<String>,
    /// The transition that closes an issue, by its name or its target status' name (default
    /// `Done`, compared ignoring case).
    #[serde(default = "default_done")]
    pub done_transition: String,
    /// The resolution set when closing, if the transition's screen has the field (default
    /// `Done`; `null` never sets one).
    #[serde(default = "default_resolution")]
    pub resolution: Option<String>,
    /// The texts sent.
    #[serde(default)]
    pub templates: JiraTemplates,
    /// Time allowed for one request (default `30s`).
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Retries of a failed request (default 3; see [`crate::http`]).
    #[serde(default = "default_retries")]
    pub retries: u32,
}

/// The templates of the texts sent to Jira, rendered with a [`Notification`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JiraTemplates {
    /// The issue's summary (one line, cut to 255 characters).
    pub summary: String,
    /// The issue's description.
    pub description: String,
    /// A comment added by `update` and when closing.
    pub comment: String,
}

impl Default for JiraTemplates {
    fn default() -> Self {
        Self {
            summary: "[aiops] {{ title }}".into(),
            description: DEFAULT_DESCRIPTION.into(),
            comment: "{{ status }} ({{ severity }}): {{ title }}\n\n{{ summary }}".into(),
        }
    }
}

/// The default description: the summary, the root cause and the labels as a list.
const DEFAULT_DESCRIPTION: &str = "{{ summary }}\n\n# Details\n\
- Severity: {{ severity }}\n\
{% if root_cause %}- Probable root cause: {{ root_cause }}\n{% endif %}\
{% for k, v in labels | items %}- {{ k }}: {{ v }}\n{% endfor %}";

fn default_issue_type() -> String {
    "Task".into()
}
fn default_done() -> String {
    "Done".into()
}
fn default_resolution() -> Option<String> {
    Some("Done".into())
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_retries() -> u32 {
    3
}

impl JiraParams {
    /// Parameters with the defaults.
    pub fn new(url: impl Into<String>, project: impl Into<String>, auth: AuthParams) -> Self {
        Self {
            url: url.into(),
            project: project.into(),
            issue_type: default_issue_type(),
            auth,
            priorities: BTreeMap::new(),
            labels: Vec::new(),
            done_transition: default_done(),
            resolution: default_resolution(),
            templates: JiraTemplates::default(),
            timeout: default_timeout(),
            retries: default_retries(),
        }
    }

    /// Checks the parameters and compiles the templates (the secrets are read by
    /// [`JiraClient::new`]).
    pub fn validate(&self) -> Result<ValidJiraParams> {
        let base = check_base_url(SYSTEM, "url", &self.url)?;
        if !is_project_key(&self.project) {
            return Err(config(
                "project",
                format!(
                    "{:?} is not a project key (an upper-case letter, then upper-case letters, \
                     digits or _)",
                    self.project
                ),
            ));
        }
        if self.issue_type.trim().is_empty() {
            return Err(config("issue_type", "must not be empty".into()));
        }
        if self.done_transition.trim().is_empty() {
            return Err(config("done_transition", "must not be empty".into()));
        }
        if matches!(&self.resolution, Some(r) if r.trim().is_empty()) {
            return Err(config(
                "resolution",
                "must not be empty (null sets none)".into(),
            ));
        }
        for (sev, name) in &self.priorities {
            if name.trim().is_empty() {
                return Err(config(
                    &format!("priorities.{sev}"),
                    "must not be empty".into(),
                ));
            }
        }
        for (i, label) in self.labels.iter().enumerate() {
            if label.is_empty()
                || label.chars().count() > MAX_LABEL_CHARS
                || label.chars().any(char::is_whitespace)
            {
                return Err(config(
                    &format!("labels[{i}]"),
                    format!("{label:?}: a label is 1 to 255 characters without spaces"),
                ));
            }
        }
        if !matches!(self.auth, AuthParams::Basic { .. } | AuthParams::Bearer(_)) {
            return Err(config(
                "auth",
                "Jira Cloud takes basic (e-mail and API token) or bearer authentication".into(),
            ));
        }
        let schema = Notification::schema();
        let compile = |key: &str, source: &str| {
            StrictTemplate::compile(&format!("{SYSTEM}.templates.{key}"), source, &schema)
        };
        let templates = Templates {
            summary: compile("summary", &self.templates.summary)?,
            description: compile("description", &self.templates.description)?,
            comment: compile("comment", &self.templates.comment)?,
        };
        Ok(ValidJiraParams {
            base: base.as_str().trim_end_matches('/').to_string(),
            project: self.project.clone(),
            issue_type: self.issue_type.clone(),
            priorities: self.priorities.clone(),
            labels: self.labels.clone(),
            done_transition: self.done_transition.clone(),
            resolution: self.resolution.clone(),
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
    summary: StrictTemplate,
    description: StrictTemplate,
    comment: StrictTemplate,
}

/// Checked [`JiraParams`], templates compiled.
#[derive(Debug, Clone)]
pub struct ValidJiraParams {
    base: String,
    project: String,
    issue_type: String,
    priorities: BTreeMap<Severity, String>,
    labels: Vec<String>,
    done_transition: String,
    resolution: Option<String>,
    templates: Arc<Templates>,
    http: HttpParams,
}

impl ValidJiraParams {
    /// The HTTP parameters (to change retries or timeouts after validation).
    pub fn http_mut(&mut self) -> &mut HttpParams {
        &mut self.http
    }
}

/// A client of one Jira Cloud project.
#[derive(Debug)]
pub struct JiraClient {
    params: ValidJiraParams,
    http: HttpClient,
    /// Incident id → issue key, found or made by this client. Held while opening, so that two
    /// opens of one incident do not both create.
    opened: tokio::sync::Mutex<HashMap<String, String>>,
}

impl JiraClient {
    /// Builds the client; reads the secrets.
    pub fn new(params: ValidJiraParams) -> Result<Self> {
        Ok(Self {
            http: HttpClient::new(SYSTEM, &params.http)?,
            params,
            opened: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Checks `params` and builds the client.
    pub fn from_params(params: &JiraParams) -> Result<Self> {
        Self::new(params.validate()?)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.params.base)
    }

    fn ticket(&self, key: String) -> TicketRef {
        TicketRef {
            system: SYSTEM.into(),
            url: Some(self.url(&format!("/browse/{key}"))),
            key,
        }
    }

    async fn call(&self, req: Request) -> Result<Value> {
        let resp = self
            .http
            .send(&req.header("Accept", "application/json"))
            .await?;
        read_answer(&resp)
    }

    /// The key of the issue labelled for `incident_id`, if any (the oldest if several).
    pub async fn find(&self, project: &str, incident_id: &str) -> Result<Option<String>> {
        let jql = format!(
            "project = \"{}\" AND labels = \"{}\" ORDER BY created ASC",
            project,
            incident_label(incident_id)
        );
        let req = Request::get(self.url("/rest/api/3/search/jql"))
            .query("jql", jql)
            .query("fields", "status")
            .query("maxResults", "1");
        let answer: SearchAnswer = parse(self.call(req).await?, "search")?;
        Ok(answer.issues.into_iter().next().map(|i| i.key))
    }

    /// The project an issue goes to: the caller's (checked as the configured one is, since
    /// it goes into JQL), else the configured one.
    fn project<'a>(&'a self, f: &'a TicketFields) -> Result<&'a str> {
        match f.project.as_deref() {
            None => Ok(&self.params.project),
            Some(p) if is_project_key(p) => Ok(p),
            Some(p) => Err(config("project", format!("not a project key: {p:?}"))),
        }
    }

    /// The `fields` of the issue created for `n`, with the caller's `f` over the configured
    /// project, issue type and priority.
    pub fn create_body(
        &self,
        n: &Notification,
        incident_id: &str,
        f: &TicketFields,
    ) -> Result<Value> {
        let t = &self.params.templates;
        let mut summary = one_line(&t.summary.render(n)?, MAX_SUMMARY_CHARS);
        if summary.is_empty() {
            summary = one_line(&n.title, MAX_SUMMARY_CHARS);
        }
        let mut labels = vec![incident_label(incident_id)];
        labels.extend(self.params.labels.iter().cloned());
        let project = self.project(f)?;
        let mut fields = json!({
            "project": {"key": project},
            "summary": summary,
            "issuetype": {"name": f.issue_type.as_deref().unwrap_or(&self.params.issue_type)},
            "labels": labels,
            "description": adf_document(&t.description.render(n)?, n.url.as_deref()),
        });
        // A severity goes through the configured priorities; any other name is Jira's own.
        let priority = match &f.priority {
            Some(p) => match p.parse::<Severity>() {
                Ok(sev) => self.params.priorities.get(&sev).cloned(),
                Err(_) => Some(p.clone()).filter(|p| !p.trim().is_empty()),
            },
            None => self.params.priorities.get(&n.severity).cloned(),
        };
        if let Some(p) = priority {
            fields["priority"] = json!({ "name": p });
        }
        Ok(json!({ "fields": fields }))
    }

    async fn open_ticket(&self, n: &Notification, f: &TicketFields) -> Result<TicketRef> {
        let id = incident_id(n)?;
        let project = self.project(f)?;
        // One issue per incident and project.
        let slot = format!("{project}\u{0}{id}");
        let mut opened = self.opened.lock().await;
        if let Some(key) = opened.get(&slot) {
            return Ok(self.ticket(key.clone()));
        }
        let key = match self.find(project, id).await? {
            Some(key) => key,
            None => {
                let body = self.create_body(n, id, f)?;
                // Not idempotent: repeating it after a timeout could make a second issue.
                let req = Request::post_json(self.url("/rest/api/3/issue"), &body);
                let created: Created = parse(self.call(req).await?, "create issue")?;
                tracing::info!(system = SYSTEM, key = %created.key, incident = id, "issue created");
                created.key
            }
        };
        check_key(&key)?;
        opened.insert(slot, key.clone());
        Ok(self.ticket(key))
    }

    async fn comment(&self, t: &TicketRef, n: &Notification) -> Result<()> {
        check_key(&t.key)?;
        let text = self.params.templates.comment.render(n)?;
        let body = json!({ "body": adf_document(&text, n.url.as_deref()) });
        let req = Request::post_json(
            self.url(&format!("/rest/api/3/issue/{}/comment", t.key)),
            &body,
        );
        self.call(req).await.map(drop)
    }

    async fn close_ticket(&self, t: &TicketRef, n: &Notification) -> Result<()> {
        check_key(&t.key)?;
        let req = Request::get(self.url(&format!("/rest/api/3/issue/{}", t.key)))
            .query("fields", "status");
        let issue: Issue = parse(self.call(req).await?, "issue")?;
        if issue.is_done() {
            return Ok(());
        }
        let req = Request::get(self.url(&format!("/rest/api/3/issue/{}/transitions", t.key)))
            .query("expand", "transitions.fields");
        let answer: TransitionsAnswer = parse(self.call(req).await?, "transitions")?;
        let transition = choose_transition(&answer.transitions, &self.params.done_transition)
            .ok_or_else(|| {
                let names: Vec<&str> = answer.transitions.iter().map(|t| t.name.as_str()).collect();
                config(
                    "done_transition",
                    format!(
                        "issue {} has no transition named {:?} (it has: {})",
                        t.key,
                        self.params.done_transition,
                        names.join(", ")
                    ),
                )
            })?;
        let comment = adf_document(&self.params.templates.comment.render(n)?, n.url.as_deref());
        let body = transition_body(transition, self.params.resolution.as_deref(), comment);
        let req = Request::post_json(
            self.url(&format!("/rest/api/3/issue/{}/transitions", t.key)),
            &body,
        );
        self.call(req).await.map(drop)
    }
}

impl Ticketing for JiraClient {
    fn system(&self) -> &'static str {
        SYSTEM
    }
    fn open_as<'a>(
        &'a self,
        n: &'a Notification,
        fields: &'a TicketFields,
    ) -> BoxFuture<'a, Result<TicketRef>> {
        Box::pin(self.open_ticket(n, fields))
    }
    fn update<'a>(&'a self, t: &'a TicketRef, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.comment(t, n))
    }
    fn close<'a>(&'a self, t: &'a TicketRef, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.close_ticket(t, n))
    }
}

/// The transition request: the transition, the resolution when its screen has that field (or
/// when Jira did not list the fields), and a comment.
fn transition_body(t: &Transition, resolution: Option<&str>, comment: Value) -> Value {
    let mut body = json!({
        "transition": {"id": t.id},
        "update": {"comment": [{"add": {"body": comment}}]},
    });
    let screen_has_resolution = t
        .fields
        .as_ref()
        .is_none_or(|f| f.contains_key("resolution"));
    if let Some(r) = resolution
        && screen_has_resolution
    {
        body["fields"] = json!({"resolution": {"name": r}});
    }
    body
}

/// The transition named `name`, or going to a status named `name` (ignoring case); a match on
/// the transition's name wins.
fn choose_transition<'t>(transitions: &'t [Transition], name: &str) -> Option<&'t Transition> {
    transitions
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(name))
        .or_else(|| {
            transitions.iter().find(|t| {
                t.to.as_ref()
                    .is_some_and(|s| s.name.eq_ignore_ascii_case(name))
            })
        })
}

/// The label of an incident's issue: `aiops-incident-` and the id with every character other
/// than an ASCII letter, digit or `-` written `_XX` (its UTF-8 bytes in hex), so that two ids
/// never share a label and the label never needs quoting.
pub fn incident_label(incident_id: &str) -> String {
    let mut out = String::from(LABEL_PREFIX);
    for b in incident_id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02X}"));
        }
    }
    out
}

/// Whether `key` is a Jira project key: `[A-Z][A-Z0-9_]*`.
fn is_project_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Refuses an issue key that is not `PROJECT-123` (it goes into URL paths).
fn check_key(key: &str) -> Result<()> {
    let ok = key.rsplit_once('-').is_some_and(|(p, n)| {
        is_project_key(p) && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    });
    if ok {
        Ok(())
    } else {
        Err(payload(format!("{key:?} is not an issue key")))
    }
}

/// `text` on one line (line breaks as spaces), trimmed, cut to `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    joined.chars().take(max).collect()
}

/// An Atlassian Document Format document of `text`: a line starting with `#` to `######` and
/// a space is a heading, lines starting with `- ` or `* ` a bullet list, other lines
/// paragraphs (consecutive lines joined by hard breaks, a blank line between paragraphs);
/// `http://` and `https://` URLs are links. A link to `url` ends the document when given. The
/// document has at least one paragraph and no empty text node.
pub fn adf_document(text: &str, url: Option<&str>) -> Value {
    let mut content: Vec<Value> = Vec::new();
    let mut paragraph: Vec<Value> = Vec::new();
    let mut bullets: Vec<Value> = Vec::new();
    let flush_paragraph = |p: &mut Vec<Value>, content: &mut Vec<Value>| {
        if !p.is_empty() {
            content.push(json!({"type": "paragraph", "content": std::mem::take(p)}));
        }
    };
    let flush_bullets = |b: &mut Vec<Value>, content: &mut Vec<Value>| {
        if !b.is_empty() {
            content.push(json!({"type": "bulletList", "content": std::mem::take(b)}));
        }
    };
    for raw in text.lines() {
        let line = raw.trim_end();
        if line.trim().is_empty() {
            flush_paragraph(&mut paragraph, &mut content);
            flush_bullets(&mut bullets, &mut content);
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed == "-" || trimmed == "*" {
            // An empty bullet: nothing to show.
            continue;
        }
        if let Some(item) = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "))
        {
            flush_paragraph(&mut paragraph, &mut content);
            let inline = inline_nodes(item.trim());
            if !inline.is_empty() {
                bullets.push(json!({"type": "listItem", "content": [
                    {"type": "paragraph", "content": inline}
                ]}));
            }
            continue;
        }
        let hashes = trimmed.bytes().take_while(|&b| b == b'#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
            flush_paragraph(&mut paragraph, &mut content);
            flush_bullets(&mut bullets, &mut content);
            let inline = inline_nodes(trimmed[hashes..].trim());
            if !inline.is_empty() {
                content.push(json!({"type": "heading", "attrs": {"level": hashes},
                                    "content": inline}));
            }
            continue;
        }
        flush_bullets(&mut bullets, &mut content);
        if !paragraph.is_empty() {
            paragraph.push(json!({"type": "hardBreak"}));
        }
        paragraph.extend(inline_nodes(line));
    }
    flush_paragraph(&mut paragraph, &mut content);
    flush_bullets(&mut bullets, &mut content);
    if let Some(u) = url.filter(|u| !u.is_empty()) {
        content.push(json!({"type": "paragraph", "content": [
            {"type": "text", "text": "aiops: "},
            {"type": "text", "text": u, "marks": [{"type": "link", "attrs": {"href": u}}]},
        ]}));
    }
    if content.is_empty() {
        content.push(json!({"type": "paragraph", "content": [{"type": "text", "text": "-"}]}));
    }
    json!({"type": "doc", "version": 1, "content": content})
}

/// Text nodes of one line, URLs marked as links; never an empty node.
fn inline_nodes(line: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut rest = line;
    let text = |s: &str| json!({"type": "text", "text": s});
    while !rest.is_empty() {
        let at = [rest.find("https://"), rest.find("http://")]
            .into_iter()
            .flatten()
            .min();
        let Some(at) = at else {
            out.push(text(rest));
            break;
        };
        if at > 0 {
            out.push(text(&rest[..at]));
        }
        let tail = &rest[at..];
        let mut end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        // Punctuation after a URL ends the sentence, not the URL.
        while end > 0 && tail[..end].ends_with(['.', ',', ')', ';', ':', '!', '?']) {
            end -= 1;
        }
        let u = &tail[..end];
        if u.len() <= "https://".len() {
            // A scheme with nothing after it: plain text.
            out.push(text(&tail[..end.max(1).min(tail.len())]));
            rest = &tail[end.max(1).min(tail.len())..];
            continue;
        }
        out.push(
            json!({"type": "text", "text": u, "marks": [{"type": "link", "attrs": {"href": u}}]}),
        );
        rest = &tail[end..];
    }
    out.retain(|n| n["text"].as_str().is_some_and(|s| !s.is_empty()));
    out
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

/// The JSON of a success answer (`null` for an empty body); a Jira error answer becomes
/// [`IntegrationError::Remote`], any other failure [`IntegrationError::Status`].
pub fn read_answer(resp: &Response) -> Result<Value> {
    if resp.is_success() {
        if resp.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        return serde_json::from_slice(&resp.body)
            .map_err(|e| payload(format!("{}: not JSON: {e}", resp.url())));
    }
    match serde_json::from_slice::<ErrorAnswer>(&resp.body) {
        Ok(e) if !e.error_messages.is_empty() || !e.errors.is_empty() => {
            let mut parts = e.error_messages;
            parts.extend(e.errors.into_iter().map(|(k, v)| format!("{k}: {v}")));
            Err(IntegrationError::Remote {
                system: SYSTEM,
                status: resp.status,
                error_type: format!("HTTP {}", resp.status),
                message: parts.join("; "),
            })
        }
        _ => Err(resp.status_error(SYSTEM)),
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
#[serde(rename_all = "camelCase")]
struct ErrorAnswer {
    #[serde(default)]
    error_messages: Vec<String>,
    #[serde(default)]
    errors: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct SearchAnswer {
    #[serde(default)]
    issues: Vec<FoundIssue>,
}

#[derive(Deserialize)]
struct FoundIssue {
    key: String,
}

#[derive(Deserialize)]
struct Created {
    key: String,
}

#[derive(Deserialize)]
struct Issue {
    fields: IssueFields,
}

#[derive(Deserialize)]
struct IssueFields {
    status: Status,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    name: String,
    #[serde(default)]
    status_category: Option<StatusCategory>,
}

#[derive(Deserialize)]
struct StatusCategory {
    key: String,
}

impl Issue {
    fn is_done(&self) -> bool {
        self.fields
            .status
            .status_category
            .as_ref()
            .is_some_and(|c| c.key == "done")
    }
}

#[derive(Deserialize)]
struct TransitionsAnswer {
    #[serde(default)]
    transitions: Vec<Transition>,
}

#[derive(Deserialize)]
struct Transition {
    id: String,
    name: String,
    #[serde(default)]
    to: Option<Status>,
    #[serde(default)]
    fields: Option<serde_json::Map<String, Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Secret, SecretRef};

    fn params() -> JiraParams {
        JiraParams::new(
            "https://example.atlassian.net",
            "OPS",
            AuthParams::Basic {
                username: "me@example.com".into(),
                password: SecretRef::Value(Secret::new("api-t0ken-xyz")),
            },
        )
    }

    fn sample() -> Notification {
        crate::traits::tests::incident_sample()
    }

    fn notification() -> Notification {
        let mut n = sample();
        n.labels = [("service".to_string(), "cart".to_string())].into();
        n.incident_id = Some("inc 7/a".into());
        n.severity = Severity::High;
        n.root_cause = Some("db".into());
        n
    }

    #[test]
    fn labels_are_injective_and_safe() {
        assert_eq!(incident_label("inc-7"), "aiops-incident-inc-7");
        assert_eq!(incident_label("inc_7"), "aiops-incident-inc_5F7");
        assert_eq!(incident_label("inc 7/a"), "aiops-incident-inc_207_2Fa");
        assert_ne!(incident_label("a_5F"), incident_label("a__5F"));
        assert_ne!(incident_label("a b"), incident_label("a_b"));
    }

    #[test]
    fn the_create_body_has_project_type_labels_priority_and_an_adf_description() {
        let mut p = params();
        p.priorities.insert(Severity::High, "High".into());
        p.labels = vec!["aiops".into()];
        let c = JiraClient::from_params(&p).unwrap();
        let n = notification();
        let body = c
            .create_body(&n, "inc 7/a", &TicketFields::default())
            .unwrap();
        let f = &body["fields"];
        assert_eq!(f["project"]["key"], "OPS");
        assert_eq!(f["issuetype"]["name"], "Task");
        assert_eq!(f["summary"], format!("[aiops] {}", n.title));
        assert_eq!(f["labels"], json!(["aiops-incident-inc_207_2Fa", "aiops"]));
        assert_eq!(f["priority"]["name"], "High");
        let d = &f["description"];
        assert_eq!(
            (d["type"].as_str(), d["version"].as_u64()),
            (Some("doc"), Some(1))
        );
        let types: Vec<&str> = d["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["paragraph", "heading", "bulletList", "paragraph"]);
        let items = d["content"][2]["content"].as_array().unwrap();
        assert_eq!(items.len(), 3, "{items:?}");
        assert_eq!(
            items[2]["content"][0]["content"][0]["text"],
            "service: cart"
        );
        // The link back to aiops.
        let link = &d["content"][3]["content"][1];
        assert_eq!(link["marks"][0]["type"], "link");
        assert_eq!(link["marks"][0]["attrs"]["href"], "http://127.0.0.1/");
        // No priority for a severity without one.
        let mut n = n;
        n.severity = Severity::Low;
        assert!(
            c.create_body(&n, "x", &TicketFields::default()).unwrap()["fields"]
                .get("priority")
                .is_none()
        );
    }

    #[test]
    fn a_callers_fields_override_the_configured_ones() {
        let mut p = params();
        p.priorities.insert(Severity::Critical, "Highest".into());
        let c = JiraClient::from_params(&p).unwrap();
        let n = notification();
        let f = TicketFields {
            project: Some("CAP".into()),
            issue_type: Some("Incident".into()),
            priority: Some("critical".into()),
        };
        let fields = &c.create_body(&n, "x", &f).unwrap()["fields"];
        assert_eq!(fields["project"]["key"], "CAP");
        assert_eq!(fields["issuetype"]["name"], "Incident");
        // A severity goes through the configured priorities...
        assert_eq!(fields["priority"]["name"], "Highest");
        // ...another name is Jira's own, and a severity without a priority sets none.
        let own = TicketFields {
            priority: Some("Blocker".into()),
            ..Default::default()
        };
        let fields = &c.create_body(&n, "x", &own).unwrap()["fields"];
        assert_eq!(
            (&fields["priority"]["name"], &fields["project"]["key"]),
            (&json!("Blocker"), &json!(p.project))
        );
        let unmapped = TicketFields {
            priority: Some("low".into()),
            ..Default::default()
        };
        assert!(
            c.create_body(&n, "x", &unmapped).unwrap()["fields"]
                .get("priority")
                .is_none()
        );
        let bad = TicketFields {
            project: Some("A\"B".into()),
            ..Default::default()
        };
        assert!(c.create_body(&n, "x", &bad).is_err());
    }

    #[test]
    fn adf_marks_links_joins_lines_and_never_has_empty_text() {
        let d = adf_document(
            "see https://x.example/a. then\nnext line\n\n\n## Head\n* b1\n-  \n",
            None,
        );
        let c = d["content"].as_array().unwrap();
        assert_eq!(c[0]["type"], "paragraph");
        let p = c[0]["content"].as_array().unwrap();
        assert_eq!(p[0]["text"], "see ");
        assert_eq!(p[1]["text"], "https://x.example/a");
        assert_eq!(p[1]["marks"][0]["attrs"]["href"], "https://x.example/a");
        assert_eq!(p[2]["text"], ". then");
        assert_eq!(p[3]["type"], "hardBreak");
        assert_eq!(p[4]["text"], "next line");
        assert_eq!(c[1]["attrs"]["level"], 2);
        assert_eq!(c[2]["type"], "bulletList");
        assert_eq!(c.len(), 3);
        let empty = adf_document("\n\n", None);
        assert_eq!(empty["content"][0]["content"][0]["text"], "-");
        let bare = adf_document("http:// x", None);
        assert!(!bare.to_string().contains("\"text\":\"\""), "{bare}");
    }

    #[test]
    fn the_done_transition_is_chosen_by_name_or_target_status_and_resolution_when_on_screen() {
        let ts: TransitionsAnswer = serde_json::from_value(json!({"transitions": [
            {"id": "11", "name": "Start", "to": {"name": "In Progress"}},
            {"id": "31", "name": "Finish", "to": {"name": "Done"}, "fields": {}},
            {"id": "41", "name": "Close", "to": {"name": "Closed"},
             "fields": {"resolution": {"required": true}}},
        ]}))
        .unwrap();
        let t = choose_transition(&ts.transitions, "done").unwrap();
        assert_eq!(t.id, "31");
        let b = transition_body(t, Some("Done"), json!({}));
        assert!(b.get("fields").is_none(), "{b}");
        let t = choose_transition(&ts.transitions, "CLOSE").unwrap();
        let b = transition_body(t, Some("Fixed"), json!({}));
        assert_eq!(b["fields"]["resolution"]["name"], "Fixed");
        assert_eq!(b["transition"]["id"], "41");
        assert!(transition_body(t, None, json!({})).get("fields").is_none());
        assert!(choose_transition(&ts.transitions, "Nope").is_none());
    }

    #[test]
    fn validation_refuses_unknown_keys_bad_urls_projects_and_templates() {
        let e = serde_json::from_value::<JiraParams>(json!({
            "url": "https://x", "project": "OPS",
            "auth": {"bearer": {"value": "t"}}, "projekt": "x"}))
        .unwrap_err();
        assert!(e.to_string().contains("projekt"), "{e}");
        let p: JiraParams = serde_json::from_value(json!({
            "url": "https://x.atlassian.net", "project": "OPS",
            "auth": {"bearer": {"value": "t"}},
            "priorities": {"critical": "Highest", "p2": "High"},
            "resolution": null}))
        .unwrap();
        assert_eq!(p.priorities.get(&Severity::High).unwrap(), "High");
        assert_eq!(p.resolution, None);
        assert_eq!(p.issue_type, "Task");
        p.validate().unwrap();

        let mut bad = params();
        bad.url = "ftp://x".into();
        assert!(bad.validate().is_err());
        let mut bad = params();
        bad.project = "ops".into();
        assert!(bad.validate().unwrap_err().to_string().contains("project"));
        let mut bad = params();
        bad.templates.summary = "{{ titel }}".into();
        let e = bad.validate().unwrap_err().to_string();
        assert!(
            e.contains("jira.templates.summary") && e.contains("titel"),
            "{e}"
        );
        let mut bad = params();
        bad.labels = vec!["two words".into()];
        assert!(bad.validate().is_err());
        let mut bad = params();
        bad.auth =
            serde_json::from_value(json!({"api_key": {"header": "X-Key", "key": {"value": "k"}}}))
                .unwrap();
        assert!(bad.validate().is_err());
    }

    #[test]
    fn secrets_stay_out_of_debug_and_errors() {
        let p = params();
        assert!(!format!("{p:?}").contains("api-t0ken-xyz"));
        let c = JiraClient::from_params(&p).unwrap();
        assert!(!format!("{c:?}").contains("api-t0ken-xyz"));
        let mut p = params();
        p.auth = AuthParams::Bearer(SecretRef::Env("AIOPS_TEST_UNSET_JIRA_TOKEN".into()));
        let e = JiraClient::from_params(&p).unwrap_err().to_string();
        assert!(e.contains("AIOPS_TEST_UNSET_JIRA_TOKEN"), "{e}");
    }

    #[test]
    fn keys_and_error_answers_are_read() {
        assert!(check_key("OPS-12").is_ok());
        assert!(check_key("OPS-12/../x").is_err());
        assert!(check_key("ops-1").is_err());
        let resp = Response {
            status: 400,
            body: br#"{"errorMessages":["bad"],"errors":{"summary":"too long"}}"#.to_vec(),
            attempts: 1,
            url: "https://x/rest/api/3/issue".into(),
        };
        let e = read_answer(&resp).unwrap_err();
        assert!(
            matches!(&e, IntegrationError::Remote { status: 400, message, .. }
                if message == "bad; summary: too long"),
            "{e}"
        );
        let resp = Response {
            status: 502,
            body: b"<html>".to_vec(),
            attempts: 1,
            url: "https://x/".into(),
        };
        assert!(matches!(
            read_answer(&resp).unwrap_err(),
            IntegrationError::Status { status: 502, .. }
        ));
    }

    #[test]
    fn a_notification_without_incident_id_is_refused() {
        let mut n = notification();
        n.incident_id = None;
        assert!(incident_id(&n).is_err());
    }
}
