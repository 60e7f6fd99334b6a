//! Grafana: annotations (as an [`Annotator`]) and one dashboard per service.
//!
//! Wire format (Grafana's HTTP API documentation):
//! - `POST /api/annotations` takes `{"time": ms, "timeEnd": ms, "tags": [...], "text": ...,
//!   "dashboardUID": ..., "panelId": n}` (the last two optional: without them the annotation
//!   is an organisation one, shown by dashboards that query annotations by tag) and answers
//!   `{"id": n, "message": "Annotation added"}`; `PUT /api/annotations/{id}` takes the same
//!   body and replaces the annotation.
//! - `POST /api/dashboards/db` takes `{"dashboard": {...}, "folderUid": ..., "overwrite":
//!   true, "message": ...}` and answers `{"id", "uid", "url", "status": "success", "version",
//!   "slug"}`.
//! - Authentication is a service-account token (`Authorization: Bearer ...`) or basic;
//!   `X-Grafana-Org-Id` picks the organisation when the credentials reach several. Errors are
//!   a non-2xx status with `{"message": ...}`, read as [`IntegrationError::Status`].
//!
//! A dashboard upsert (same uid, `overwrite`) and an annotation update are idempotent and
//! retried; creating an annotation is not (a retry after a lost answer would add a second
//! one), so it is not.
//!
//! The service dashboard: its uid is derived from the service name (stable, at most 40
//! characters, Grafana's limit), so upserting again updates the same dashboard. It holds a
//! panel of aiops' anomalies for the service (`anomaly_query`, default the increase of
//! `aiops_anomalies_by_resource_total{resource="$service"}`, the counter aiops' `/metrics`
//! exposes per resource; `$service` stands for the service's name), then one time-series
//! panel per metric.

use aiops_core::TimestampMs;
use aiops_core::labels::is_valid_metric_name;
use aiops_core::time::Duration;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{IntegrationError, Result};
use crate::http::{AuthParams, HttpClient, HttpParams, Request, Response, check_base_url};
use crate::traits::{Annotation, Annotator, BoxFuture};

/// The system name in errors and logs.
pub const SYSTEM: &str = "grafana";

/// The default anomaly panel query (see the module docs).
pub const DEFAULT_ANOMALY_QUERY: &str =
    "sum(increase(aiops_anomalies_by_resource_total{resource=\"$service\"}[5m]))";

/// Grafana's dashboard JSON schema version these dashboards are written in.
pub const SCHEMA_VERSION: u32 = 39;

/// Longest dashboard uid Grafana takes.
pub const MAX_UID_LEN: usize = 40;

/// How to authenticate to Grafana: `{bearer: SECRET}` (a service-account token) or
/// `{basic: {username, password: SECRET}}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum GrafanaAuth {
    /// A service-account token.
    Bearer(crate::http::SecretRef),
    /// A user and password.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: crate::http::SecretRef,
    },
}

/// Parameters of a Grafana client, as a configuration writes them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrafanaParams {
    /// Base URL (`https://grafana.example`, or with the sub-path Grafana is served under).
    pub url: String,
    /// Authentication.
    pub auth: GrafanaAuth,
    /// The organisation (`X-Grafana-Org-Id`); the credentials' own when absent.
    #[serde(default)]
    pub org_id: Option<u64>,
    /// The dashboard annotations are attached to (an organisation annotation when absent).
    #[serde(default)]
    pub dashboard_uid: Option<String>,
    /// The panel annotations are attached to (needs `dashboard_uid`).
    #[serde(default)]
    pub panel_id: Option<u64>,
    /// The anomaly panel's PromQL; `$service` is replaced by the service name.
    #[serde(default = "default_anomaly_query")]
    pub anomaly_query: String,
    /// Time allowed for one request (default `30s`).
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Retries of a failed idempotent request (default 3).
    #[serde(default = "default_retries")]
    pub retries: u32,
}

fn default_anomaly_query() -> String {
    DEFAULT_ANOMALY_QUERY.into()
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_retries() -> u32 {
    3
}

impl GrafanaParams {
    /// Parameters for `url` and `auth` with the defaults.
    pub fn new(url: impl Into<String>, auth: GrafanaAuth) -> Self {
        Self {
            url: url.into(),
            auth,
            org_id: None,
            dashboard_uid: None,
            panel_id: None,
            anomaly_query: default_anomaly_query(),
            timeout: default_timeout(),
            retries: default_retries(),
        }
    }

    /// Checks the parameters (the secrets are read by [`GrafanaClient::new`]).
    pub fn validate(&self) -> Result<ValidGrafanaParams> {
        let base = check_base_url(SYSTEM, "url", &self.url)?;
        let bad = |key: &str, reason: String| IntegrationError::Config {
            system: SYSTEM,
            key: key.into(),
            reason,
        };
        if let Some(uid) = &self.dashboard_uid
            && !is_valid_uid(uid)
        {
            return Err(bad(
                "dashboard_uid",
                format!("{uid:?}: 1 to 40 letters, digits, '-' or '_'"),
            ));
        }
        if self.panel_id.is_some() && self.dashboard_uid.is_none() {
            return Err(bad("panel_id", "needs dashboard_uid".into()));
        }
        if self.anomaly_query.trim().is_empty() {
            return Err(bad("anomaly_query", "must not be empty".into()));
        }
        let auth = match &self.auth {
            GrafanaAuth::Bearer(s) => AuthParams::Bearer(s.clone()),
            GrafanaAuth::Basic { username, password } => AuthParams::Basic {
                username: username.clone(),
                password: password.clone(),
            },
        };
        Ok(ValidGrafanaParams {
            base: base.as_str().trim_end_matches('/').to_string(),
            http: HttpParams {
                timeout: self.timeout,
                retries: self.retries,
                auth: Some(auth),
                ..HttpParams::default()
            },
            org_id: self.org_id,
            dashboard_uid: self.dashboard_uid.clone(),
            panel_id: self.panel_id,
            anomaly_query: self.anomaly_query.clone(),
        })
    }
}

/// Checked [`GrafanaParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidGrafanaParams {
    base: String,
    http: HttpParams,
    org_id: Option<u64>,
    dashboard_uid: Option<String>,
    panel_id: Option<u64>,
    anomaly_query: String,
}

impl ValidGrafanaParams {
    /// The same, with other HTTP settings (backoff, rate limit...); auth is kept.
    pub fn with_http(mut self, http: HttpParams) -> Self {
        let auth = self.http.auth.take();
        self.http = HttpParams { auth, ..http };
        self
    }
}

/// Whether `uid` is a Grafana uid: 1 to 40 of `[A-Za-z0-9_-]`.
pub fn is_valid_uid(uid: &str) -> bool {
    !uid.is_empty()
        && uid.len() <= MAX_UID_LEN
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The uid of `service`'s dashboard: `aiops-<service>` when that is a valid uid, else
/// `aiops-<service cleaned, cut>-<16 hex digits of a hash of the name>` (stable across
/// runs and versions: FNV-1a 64, so that two names that clean to the same text differ).
pub fn service_dashboard_uid(service: &str) -> String {
    let plain = format!("aiops-{service}");
    if is_valid_uid(&plain) {
        return plain;
    }
    let cleaned: String = service
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(MAX_UID_LEN - "aiops-".len() - 17)
        .collect();
    format!("aiops-{cleaned}-{:016x}", fnv1a64(service.as_bytes()))
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `s` escaped for a PromQL double-quoted string (without the quotes).
fn promql_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// What Grafana answered to a dashboard upsert.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DashboardSaved {
    /// Its numeric id.
    pub id: u64,
    /// Its uid.
    pub uid: String,
    /// Its path (`/d/<uid>/<slug>`).
    pub url: String,
    /// Its version after the save.
    pub version: u64,
    /// `success`.
    pub status: String,
}

#[derive(Deserialize)]
struct AnnotationAdded {
    id: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AnnotationBody<'a> {
    time: TimestampMs,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_end: Option<TimestampMs>,
    tags: &'a [String],
    text: &'a str,
    #[serde(rename = "dashboardUID", skip_serializing_if = "Option::is_none")]
    dashboard_uid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    panel_id: Option<u64>,
}

/// A client of Grafana's HTTP API.
#[derive(Debug, Clone)]
pub struct GrafanaClient {
    base: String,
    http: HttpClient,
    org_id: Option<u64>,
    dashboard_uid: Option<String>,
    panel_id: Option<u64>,
    anomaly_query: String,
}

fn payload(message: String) -> IntegrationError {
    IntegrationError::payload(SYSTEM, message)
}

fn success(resp: Response) -> Result<Response> {
    if resp.is_success() {
        Ok(resp)
    } else {
        Err(resp.status_error(SYSTEM))
    }
}

impl GrafanaClient {
    /// Builds the client; reads the secrets.
    pub fn new(params: ValidGrafanaParams) -> Result<Self> {
        Ok(Self {
            http: HttpClient::new(SYSTEM, &params.http)?,
            base: params.base,
            org_id: params.org_id,
            dashboard_uid: params.dashboard_uid,
            panel_id: params.panel_id,
            anomaly_query: params.anomaly_query,
        })
    }

    /// Checks `params` and builds the client.
    pub fn from_params(params: &GrafanaParams) -> Result<Self> {
        Self::new(params.validate()?)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn with_org(&self, req: Request) -> Request {
        match self.org_id {
            Some(id) => req.header("X-Grafana-Org-Id", id.to_string()),
            None => req,
        }
    }

    fn annotation_body<'a>(&'a self, a: &'a Annotation) -> Result<AnnotationBody<'a>> {
        if let Some(end) = a.time_end
            && end < a.time
        {
            return Err(IntegrationError::Config {
                system: SYSTEM,
                key: "annotation.time_end".into(),
                reason: format!("{end} ms is before the start {} ms", a.time),
            });
        }
        Ok(AnnotationBody {
            time: a.time,
            time_end: a.time_end,
            tags: &a.tags,
            text: &a.text,
            dashboard_uid: self.dashboard_uid.as_deref(),
            panel_id: self.panel_id,
        })
    }

    /// Creates an annotation; returns Grafana's id for it.
    pub async fn create_annotation(&self, a: &Annotation) -> Result<u64> {
        let body = self.annotation_body(a)?;
        let req = self.with_org(Request::post_json(self.url("/api/annotations"), &body));
        let resp = success(self.http.send(&req).await?)?;
        let added: AnnotationAdded = serde_json::from_slice(&resp.body)
            .map_err(|e| payload(format!("annotation added: {e}")))?;
        Ok(added.id)
    }

    /// Replaces annotation `id` (to end a region when an incident resolves).
    pub async fn update_annotation(&self, id: &str, a: &Annotation) -> Result<()> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IntegrationError::Config {
                system: SYSTEM,
                key: "annotation id".into(),
                reason: format!("{id:?} is not a Grafana annotation id"),
            });
        }
        let body = self.annotation_body(a)?;
        let req = self.with_org(
            Request::put_json(self.url(&format!("/api/annotations/{id}")), &body).idempotent(true),
        );
        success(self.http.send(&req).await?).map(|_| ())
    }

    /// The dashboard JSON of `service` (see [`GrafanaClient::upsert_service_dashboard`]).
    pub fn service_dashboard(
        &self,
        service: &str,
        metrics: &[String],
        datasource_uid: &str,
    ) -> serde_json::Value {
        let datasource = json!({"type": "prometheus", "uid": datasource_uid});
        let panel = |id: usize, title: String, expr: String, grid: serde_json::Value| {
            json!({
                "id": id,
                "type": "timeseries",
                "title": title,
                "datasource": datasource,
                "gridPos": grid,
                "targets": [{"refId": "A", "datasource": datasource, "expr": expr}],
                "fieldConfig": {"defaults": {}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
            })
        };
        let escaped = promql_escape(service);
        let selector = format!("{{service=\"{escaped}\"}}");
        let anomaly = self.anomaly_query.replace("$service", &escaped);
        let mut panels = vec![panel(
            1,
            "aiops anomalies".into(),
            anomaly,
            json!({"h": 8, "w": 24, "x": 0, "y": 0}),
        )];
        for (i, m) in metrics.iter().enumerate() {
            let expr = if is_valid_metric_name(m) {
                format!("{m}{selector}")
            } else {
                m.clone()
            };
            panels.push(panel(
                i + 2,
                m.clone(),
                expr,
                json!({"h": 8, "w": 12, "x": (i % 2) * 12, "y": 8 + (i / 2) * 8}),
            ));
        }
        json!({
            "id": null,
            "uid": service_dashboard_uid(service),
            "title": format!("aiops: {service}"),
            "tags": ["aiops", format!("service:{service}")],
            "timezone": "browser",
            "editable": true,
            "time": {"from": "now-6h", "to": "now"},
            "refresh": "1m",
            "panels": panels,
            "schemaVersion": SCHEMA_VERSION,
            "version": 0,
        })
    }

    /// Creates or replaces `service`'s dashboard in folder `folder_uid`: the anomaly panel,
    /// then one time-series panel per entry of `metrics` querying datasource
    /// `datasource_uid` (a Prometheus one). A bare metric name becomes
    /// `name{service="<service>"}`; anything else is used as the PromQL it is.
    pub async fn upsert_service_dashboard(
        &self,
        service: &str,
        metrics: &[String],
        datasource_uid: &str,
        folder_uid: &str,
    ) -> Result<DashboardSaved> {
        let bad = |key: &str, reason: String| IntegrationError::Config {
            system: SYSTEM,
            key: key.into(),
            reason,
        };
        if service.is_empty() {
            return Err(bad("service", "must not be empty".into()));
        }
        if !is_valid_uid(datasource_uid) {
            return Err(bad(
                "datasource_uid",
                format!("{datasource_uid:?} is not a uid"),
            ));
        }
        if !folder_uid.is_empty() && !is_valid_uid(folder_uid) {
            return Err(bad("folder_uid", format!("{folder_uid:?} is not a uid")));
        }
        let body = json!({
            "dashboard": self.service_dashboard(service, metrics, datasource_uid),
            "folderUid": folder_uid,
            "overwrite": true,
            "message": format!("aiops: dashboard of {service}"),
        });
        let req = self
            .with_org(Request::post_json(self.url("/api/dashboards/db"), &body).idempotent(true));
        let resp = success(self.http.send(&req).await?)?;
        serde_json::from_slice(&resp.body).map_err(|e| payload(format!("dashboard saved: {e}")))
    }
}

impl Annotator for GrafanaClient {
    fn system(&self) -> &'static str {
        SYSTEM
    }

    fn annotate<'a>(&'a self, a: &'a Annotation) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move { self.create_annotation(a).await.map(|id| id.to_string()) })
    }

    fn update<'a>(&'a self, id: &'a str, a: &'a Annotation) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.update_annotation(id, a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Secret, SecretRef};

    fn client(query: &str) -> GrafanaClient {
        let mut p = GrafanaParams::new(
            "http://grafana.example",
            GrafanaAuth::Bearer(SecretRef::Value(Secret::new("t"))),
        );
        p.anomaly_query = query.into();
        GrafanaClient::from_params(&p).unwrap()
    }

    #[test]
    fn uids_are_stable_valid_and_distinct() {
        assert_eq!(service_dashboard_uid("cart"), "aiops-cart");
        let long = "a-very-long-service-name-that-goes-on-and-on";
        let u = service_dashboard_uid(long);
        assert!(is_valid_uid(&u) && u.len() == MAX_UID_LEN, "{u}");
        assert_eq!(u, service_dashboard_uid(long));
        let (a, b) = (service_dashboard_uid("a.b"), service_dashboard_uid("a/b"));
        assert!(is_valid_uid(&a) && is_valid_uid(&b) && a != b, "{a} {b}");
    }

    #[test]
    fn the_dashboard_has_the_anomaly_panel_then_one_per_metric() {
        let c = client("aiops_anomaly_score{service=\"$service\"}");
        let d = c.service_dashboard(
            "ca\"rt",
            &["http_requests_total".into(), "sum(rate(x[5m]))".into()],
            "prom",
        );
        let panels = d["panels"].as_array().unwrap();
        assert_eq!(panels.len(), 3);
        assert_eq!(
            panels[0]["targets"][0]["expr"],
            "aiops_anomaly_score{service=\"ca\\\"rt\"}"
        );
        assert_eq!(
            panels[1]["targets"][0]["expr"],
            "http_requests_total{service=\"ca\\\"rt\"}"
        );
        assert_eq!(panels[2]["targets"][0]["expr"], "sum(rate(x[5m]))");
        assert_eq!(
            panels[2]["gridPos"],
            json!({"h": 8, "w": 12, "x": 12, "y": 8})
        );
        assert_eq!(panels[1]["targets"][0]["datasource"]["uid"], "prom");
        assert_eq!(d["tags"], json!(["aiops", "service:ca\"rt"]));
        assert!(is_valid_uid(d["uid"].as_str().unwrap()));
    }

    #[test]
    fn params_are_checked() {
        let p: GrafanaParams = serde_json::from_str(
            r#"{"url": "http://g:3000/", "auth": {"basic": {"username": "admin", "password": {"value": "pw"}}},
                "org_id": 2, "dashboard_uid": "abc", "panel_id": 4}"#,
        )
        .unwrap();
        let v = p.validate().unwrap();
        assert_eq!(v.base, "http://g:3000");
        assert!(!format!("{v:?}").contains("pw"));
        let mut bad = p.clone();
        bad.dashboard_uid = Some("no spaces".into());
        assert!(bad.validate().is_err());
        bad.dashboard_uid = None;
        assert!(bad.validate().is_err(), "panel_id without dashboard_uid");
        assert!(
            serde_json::from_str::<GrafanaParams>(
                r#"{"url": "http://g", "auth": {"api_key": "x"}}"#
            )
            .is_err()
        );
    }
}
