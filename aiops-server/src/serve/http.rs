//! The router, authentication and errors: every route names the permission it needs, checked
//! from the `Authorization` header before the body is read.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use aiops_service::auth::session::{self, Credentials};
use aiops_service::{AuditEvent, Permission, Service, ServiceError};
use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};

use super::{
    alerts, analysis, api, console, events, ingest, integrations, knowledge, logs, rules,
    session as session_api, topology, workflows, ws,
};

/// Shared state of every handler.
pub(crate) type AppState = Arc<Service>;

/// An error as the API answers it: the status of the error and the one JSON shape.
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) ServiceError);

impl<E: Into<ServiceError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %e, "request failed");
        }
        let mut r = (status, axum::Json(e.body())).into_response();
        if e.is_unauthenticated() {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ServiceError::Busy { retry_after_s, .. } = &e
            && let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

/// Result of a handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The request id: the caller's `X-Request-Id` when it is short and printable, else made here.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) String);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(
            || {
                format!(
                    "req-{:x}-{}",
                    std::process::id(),
                    NEXT_ID.fetch_add(1, Ordering::Relaxed)
                )
            },
            str::to_string,
        )
}

/// Logs every request as one JSON line and records its latency under its route template.
async fn observe(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(req.headers());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let mut resp = next.run(req).await;
    let secs = started.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    s.telemetry.observe(&method, &route, status, secs);
    tracing::info!(request_id = %id, %method, %route, status, ms = secs * 1e3, "request");
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// The address a request came from ("unknown" when the listener does not say).
pub(crate) fn client_address(req: &axum::http::Extensions) -> String {
    req.get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string())
}

/// Refuses (429) a client address whose failed authentications used up
/// `limits.auth_failures_per_minute`, before its credential is checked.
pub(crate) fn failures_allowed(s: &AppState, client: &str, now: i64) -> Result<(), ApiError> {
    s.auth_failures.allowed(client, now).map_err(|e| match e {
        ServiceError::Busy { retry_after_s, .. } => ApiError(ServiceError::Busy {
            what: format!("allowance of failed authentications from {client}"),
            retry_after_s,
        }),
        e => ApiError(e),
    })
}

/// Authenticates the caller (the bearer header, else the console's session cookie) and checks
/// `permission`, before anything reads the body. A client address that presented too many bad
/// credentials is refused first.
async fn authorize(s: AppState, permission: Permission, mut req: Request, next: Next) -> Response {
    let now = aiops_service::now_ms();
    let rid = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let client = client_address(req.extensions());
    let presented = req.headers().contains_key(header::AUTHORIZATION)
        || req.headers().contains_key(header::COOKIE);
    if presented && let Err(e) = failures_allowed(&s, &client, now) {
        return e.into_response();
    }
    let authenticated = {
        let h = req.headers();
        let text = |name: &str| h.get(name).map(|v| v.to_str().unwrap_or("\u{0}"));
        let credentials = Credentials {
            authorization: text(header::AUTHORIZATION.as_str()),
            // With the console off, no cookie is a credential.
            session_cookie: session::session_cookie(
                h.get_all(header::COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
            )
            .filter(|_| s.config.console.enabled),
            csrf: text(session::CSRF_HEADER),
            origin: text(header::ORIGIN.as_str()),
            host: text(header::HOST.as_str()),
            safe_method: matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS),
        };
        s.access
            .authenticate_request(&credentials, &s.config.cors.origins, now)
            .await
    };
    let authenticated = match authenticated {
        Ok(a) => a,
        Err(e) => {
            if matches!(e.status(), 401 | 403) {
                record(&s, &AuditEvent::auth_failure(now, &e), rid.as_deref()).await;
            }
            if presented && e.status() == 401 {
                s.auth_failures.take(&client, now);
            }
            return ApiError(e).into_response();
        }
    };
    let principal = authenticated.principal;
    if let Err(e) = principal.require(permission) {
        record(
            &s,
            &AuditEvent::forbidden(now, &principal, permission),
            rid.as_deref(),
        )
        .await;
        return ApiError(e).into_response();
    }
    if let Err(e) = s.rate_limiter.check(&principal.subject, now) {
        return ApiError(e).into_response();
    }
    req.extensions_mut().insert(principal);
    if let Some(session) = authenticated.session {
        req.extensions_mut().insert(session);
    }
    next.run(req).await
}

/// Writes an audit entry; a failed write is logged, never returned to the caller.
pub(crate) async fn record(s: &AppState, e: &AuditEvent, request_id: Option<&str>) {
    if let Err(err) = s.audit(e, request_id).await {
        tracing::error!(error = %err, "audit log write failed");
    }
}

/// `route` guarded by `permission`.
fn guarded(
    s: &AppState,
    permission: Permission,
    route: axum::routing::MethodRouter<AppState>,
) -> axum::routing::MethodRouter<AppState> {
    let s = s.clone();
    route.route_layer(middleware::from_fn(move |req: Request, next: Next| {
        authorize(s.clone(), permission, req, next)
    }))
}

async fn not_found() -> ApiError {
    ApiError(ServiceError::NotFound {
        kind: "route".into(),
        id: "this path".into(),
    })
}

/// Cross-origin requests from the listed origins only (none: no CORS headers at all).
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if list.is_empty() {
        return tower_http::cors::CorsLayer::new();
    }
    tower_http::cors::CorsLayer::new()
        .allow_origin(list)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static(session::CSRF_HEADER),
        ])
        .allow_credentials(true)
        .max_age(std::time::Duration::from_secs(600))
}

/// Every route of the API.
pub(crate) fn router(s: AppState) -> Router {
    use Permission as P;
    let limit = s.config.limits.max_body_bytes;
    let g = |p, r| guarded(&s, p, r);
    let mut router = Router::new();
    if s.config.console.enabled {
        router = router
            .route("/", get(console::root))
            .route("/console", get(console::root))
            .route("/console/", get(console::asset))
            .route("/console/{*path}", get(console::asset))
            .route(
                "/api/v1/session",
                post(session_api::login)
                    .merge(g(P::ReadAlerts, get(session_api::whoami)))
                    .merge(g(P::ReadAlerts, delete(session_api::logout))),
            );
    }
    router
        .route("/api/v1/health", get(api::health))
        .route("/-/ready", get(api::ready))
        .route("/-/healthy", get(api::health))
        .route("/metrics", g(P::ReadMetrics, get(api::metrics)))
        .route(
            "/api/v1/write",
            g(P::IngestWrite, post(ingest::remote_write)),
        )
        .route(
            "/api/v1/ingest/points",
            g(P::IngestWrite, post(ingest::points)),
        )
        .route(
            "/api/v1/anomalies/detect",
            g(P::ExecuteAnalysis, post(api::detect)),
        )
        .route(
            "/api/v1/anomalies",
            g(P::ReadAnomalies, get(api::list_anomalies)),
        )
        .route(
            "/api/v1/anomalies/{id}",
            g(P::ReadAnomalies, get(api::anomaly)),
        )
        .route(
            "/api/v2/alerts",
            g(P::IngestWrite, post(alerts::post_v2)).merge(g(P::ReadAlerts, get(alerts::get_v2))),
        )
        .route("/api/v2/status", g(P::ReadAlerts, get(alerts::status_v2)))
        .route(
            "/api/v1/alerts/webhook",
            g(P::IngestWrite, post(alerts::webhook)),
        )
        .route("/api/v1/alerts", g(P::ReadAlerts, get(alerts::list)))
        .route(
            "/api/v1/alerts/{id}/acknowledge",
            g(P::WriteAlerts, post(alerts::acknowledge)),
        )
        .route(
            "/api/v1/alerts/{id}/resolve",
            g(P::WriteAlerts, post(alerts::resolve)),
        )
        .route(
            "/api/v1/incidents",
            g(P::ReadIncidents, get(alerts::incidents)),
        )
        .route(
            "/api/v1/incidents/{id}",
            g(P::ReadIncidents, get(alerts::incident)),
        )
        .route("/api/v1/audit", g(P::ReadAudit, get(alerts::audit)))
        .route(
            "/api/v1/alert-rules",
            g(P::WriteRules, post(rules::create)).merge(g(P::ReadRules, get(rules::list))),
        )
        .route(
            "/api/v1/alert-rules/{id}",
            g(P::ReadRules, get(rules::get))
                .merge(g(P::WriteRules, put(rules::update)))
                .merge(g(P::WriteRules, delete(rules::delete))),
        )
        .route(
            "/api/v1/topology",
            g(P::ReadTopology, get(topology::get)).merge(g(P::WriteTopology, put(topology::put))),
        )
        .route(
            "/api/v1/topology/{id}/dependencies",
            g(P::ReadTopology, get(topology::dependencies)),
        )
        .route(
            "/api/v1/knowledge/runbooks",
            g(P::ReadKnowledge, get(knowledge::runbooks)),
        )
        .route(
            "/api/v1/knowledge/search",
            g(P::ReadKnowledge, get(knowledge::search)),
        )
        .route(
            "/api/v1/integrations",
            g(P::ReadDashboards, get(integrations::list)),
        )
        .route(
            "/api/v1/integrations/{name}/dashboards",
            g(P::WriteConfig, post(integrations::dashboard)),
        )
        .route(
            "/api/v1/events",
            g(P::IngestWrite, post(events::post)).merge(g(P::ReadAlerts, get(events::list))),
        )
        .route(
            "/api/v1/rca/analyze",
            g(P::ExecuteAnalysis, post(analysis::analyze)),
        )
        .route("/api/v1/rca/{id}", g(P::ReadIncidents, get(analysis::get)))
        .route(
            "/api/v1/capacity/forecast",
            g(P::ExecuteAnalysis, post(analysis::forecast)),
        )
        .route(
            "/api/v1/capacity/recommendations",
            g(P::ReadReports, get(analysis::recommendations)),
        )
        .route("/ws/alerts", g(P::ReadAlerts, get(ws::alerts)))
        .route(
            "/ws/metrics/{resource}",
            g(P::ReadMetrics, get(ws::metrics)),
        )
        .route("/api/v1/ingest/logs", g(P::IngestWrite, post(logs::ingest)))
        .route("/api/v1/logs", g(P::ReadMetrics, get(logs::lines)))
        .route(
            "/api/v1/logs/templates",
            g(P::ReadMetrics, get(logs::templates)),
        )
        .route(
            "/api/v1/logs/anomalies",
            g(P::ReadMetrics, get(logs::anomalies)),
        )
        .route(
            "/api/v1/workflows",
            g(P::ReadRules, get(workflows::list)).merge(g(P::WriteConfig, post(workflows::create))),
        )
        .route(
            "/api/v1/workflows/{id}",
            g(P::ReadRules, get(workflows::get_one))
                .merge(g(P::WriteConfig, put(workflows::update)))
                .merge(g(P::WriteConfig, delete(workflows::delete))),
        )
        .route(
            "/api/v1/workflows/{id}/run",
            g(P::ExecuteRemediation, post(workflows::run)),
        )
        .route(
            "/api/v1/workflows/{id}/runs",
            g(P::ReadReports, get(workflows::runs)),
        )
        .route(
            "/api/v1/workflow-runs/{run_id}",
            g(P::ReadReports, get(workflows::run_record)),
        )
        .route(
            "/api/v1/remediation/execute",
            g(P::ExecuteRemediation, post(workflows::execute)),
        )
        .route(
            "/api/v1/remediation/{execution_id}",
            g(P::ReadReports, get(workflows::execution)),
        )
        .merge(
            utoipa_swagger_ui::SwaggerUi::new("/api/docs")
                .url("/api/openapi.json", super::openapi::document()),
        )
        // After every route: it wraps the routes added before it.
        .route_layer(middleware::from_fn_with_state(s.clone(), observe))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(cors(&s.config.cors.origins))
        .with_state(s)
}
