//! Alert and incident endpoints, and the Alertmanager-compatible ones.

use aiops_service::ErrorBody;
use aiops_service::alertmanager_api::{self, AmStatus, GettableAlert};
use aiops_service::audit::AuditKind;
use aiops_service::service::{AuditList, AuditQuery};
use aiops_service::{
    AlertActionResult, AlertList, AlertQuery, AuditEvent, IncidentDetail, IncidentList,
    IncidentQuery, Principal, ReceiveReport,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::http::{ApiResult, AppState, RequestId};
use super::ingest::{JsonBody, QueryParams, TextBody};

/// `POST /api/v2/alerts` (Alertmanager API v2: a JSON array of alerts). 200 once committed.
#[utoipa::path(post, path = "/api/v2/alerts", tag = "alertmanager", security(("bearer" = [])), request_body(content = Vec<Object>, description = "Alertmanager PostableAlerts"), responses((status = 200, description = "committed"), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn post_v2(State(s): State<AppState>, body: TextBody) -> ApiResult<StatusCode> {
    alertmanager_api::receive_body(&s.alerts, &body.0, "alertmanager", aiops_service::now_ms())
        .await?;
    Ok(StatusCode::OK)
}

/// `POST /api/v1/alerts/webhook` (Alertmanager webhook, version 4).
#[utoipa::path(post, path = "/api/v1/alerts/webhook", tag = "alertmanager", security(("bearer" = [])), request_body(content = Object, description = "Alertmanager webhook payload, version 4"), responses((status = 200, body = ReceiveReport), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn webhook(
    State(s): State<AppState>,
    body: TextBody,
) -> ApiResult<Json<ReceiveReport>> {
    Ok(Json(
        alertmanager_api::receive_body(&s.alerts, &body.0, "webhook", aiops_service::now_ms())
            .await?,
    ))
}

/// `GET /api/v2/alerts`.
#[utoipa::path(get, path = "/api/v2/alerts", tag = "alertmanager", security(("bearer" = [])), responses((status = 200, body = Vec<GettableAlert>), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn get_v2(State(s): State<AppState>) -> ApiResult<Json<Vec<GettableAlert>>> {
    Ok(Json(alertmanager_api::active_alerts(&s.alerts).await?))
}

/// `GET /api/v2/status`.
#[utoipa::path(get, path = "/api/v2/status", tag = "alertmanager", security(("bearer" = [])), responses((status = 200, body = AmStatus), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn status_v2(State(s): State<AppState>) -> Json<AmStatus> {
    Json(alertmanager_api::status(s.started_at))
}

/// `GET /api/v1/alerts`.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", security(("bearer" = [])), params(AlertQuery), responses((status = 200, body = AlertList), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn list(
    State(s): State<AppState>,
    q: QueryParams<AlertQuery>,
) -> ApiResult<Json<AlertList>> {
    Ok(Json(s.alerts.list_alerts(&q.0).await?))
}

/// `POST /api/v1/alerts/{id}/acknowledge` body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AckBody {
    comment: Option<String>,
}

/// `POST /api/v1/alerts/{id}/resolve` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResolveBody {
    resolution: String,
}

async fn audited(
    s: &AppState,
    who: &Principal,
    id: &RequestId,
    action: &str,
    target: String,
    after: &AlertActionResult,
) {
    let e = AuditEvent::mutation(
        aiops_service::now_ms(),
        who,
        AuditKind::Mutation,
        action,
        target,
        None,
        serde_json::to_value(after).ok(),
    );
    if let Err(err) = s.audit(&e, Some(&id.0)).await {
        tracing::error!(error = %err, "audit log write failed");
    }
}

/// `POST /api/v1/alerts/{id}/acknowledge`.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/acknowledge", tag = "alerts", security(("bearer" = [])), params(("id" = String, Path, description = "alert fingerprint")), request_body(content = AckBody, description = "optional comment"), responses((status = 200, body = AlertActionResult), (status = 404, body = ErrorBody), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn acknowledge(
    State(s): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    axum::Extension(rid): axum::Extension<RequestId>,
    Path(id): Path<String>,
    body: super::ingest::RawBody,
) -> ApiResult<Json<AlertActionResult>> {
    let body: AckBody = if body.0.iter().all(u8::is_ascii_whitespace) {
        AckBody::default()
    } else {
        serde_json::from_slice(&body.0)
            .map_err(|e| aiops_service::ServiceError::invalid_parameter("body", e.to_string()))?
    };
    let comment = body.comment;
    let r = s
        .alerts
        .acknowledge(&id, &who.name, comment.as_deref(), aiops_service::now_ms())
        .await?;
    audited(
        &s,
        &who,
        &rid,
        "alert.acknowledge",
        format!("alert/{id}"),
        &r,
    )
    .await;
    Ok(Json(r))
}

/// `POST /api/v1/alerts/{id}/resolve`.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/resolve", tag = "alerts", security(("bearer" = [])), params(("id" = String, Path, description = "alert fingerprint")), request_body = ResolveBody, responses((status = 200, body = AlertActionResult), (status = 404, body = ErrorBody), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn resolve(
    State(s): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    axum::Extension(rid): axum::Extension<RequestId>,
    Path(id): Path<String>,
    body: JsonBody<ResolveBody>,
) -> ApiResult<Json<AlertActionResult>> {
    let r = s
        .alerts
        .resolve(&id, &who.name, &body.0.resolution, aiops_service::now_ms())
        .await?;
    audited(&s, &who, &rid, "alert.resolve", format!("alert/{id}"), &r).await;
    Ok(Json(r))
}

/// `GET /api/v1/incidents`.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", security(("bearer" = [])), params(IncidentQuery), responses((status = 200, body = IncidentList), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn incidents(
    State(s): State<AppState>,
    q: QueryParams<IncidentQuery>,
) -> ApiResult<Json<IncidentList>> {
    Ok(Json(s.alerts.list_incidents(&q.0).await?))
}

/// `GET /api/v1/incidents/{id}`.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents", security(("bearer" = [])), params(("id" = String, Path, description = "incident id")), responses((status = 200, body = IncidentDetail), (status = 404, body = ErrorBody), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn incident(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<IncidentDetail>> {
    Ok(Json(s.alerts.get_incident(&id).await?))
}

/// `GET /api/v1/audit` (admins).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery), responses((status = 200, body = AuditList), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn audit(
    State(s): State<AppState>,
    q: QueryParams<AuditQuery>,
) -> ApiResult<Json<AuditList>> {
    Ok(Json(s.audit_log(&q.0).await?))
}
