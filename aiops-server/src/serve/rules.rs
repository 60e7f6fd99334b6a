//! Alert rule endpoints: `POST|GET /api/v1/alert-rules`, `GET|PUT|DELETE
//! /api/v1/alert-rules/{id}`. Changes are audited with the rule before and after.

use aiops_service::ErrorBody;
use aiops_service::audit::AuditKind;
use aiops_service::rules::{self, RuleChange, RuleList, RuleRequest, RuleView};
use aiops_service::{AuditEvent, Principal};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::http::{ApiResult, AppState, RequestId};
use super::ingest::JsonBody;

async fn audited(
    s: &AppState,
    who: &Principal,
    rid: &RequestId,
    action: &str,
    id: &str,
    change: &RuleChange,
) {
    let e = AuditEvent::mutation(
        aiops_service::now_ms(),
        who,
        AuditKind::ConfigChange,
        action,
        format!("rule/{id}"),
        change
            .before
            .as_ref()
            .and_then(|v| serde_json::to_value(v).ok()),
        change
            .after
            .as_ref()
            .and_then(|v| serde_json::to_value(v).ok()),
    );
    if let Err(err) = s.audit(&e, Some(&rid.0)).await {
        tracing::error!(error = %err, "audit log write failed");
    }
}

/// `POST /api/v1/alert-rules`: 201 with the rule.
#[utoipa::path(post, path = "/api/v1/alert-rules", tag = "rules", security(("bearer" = [])), request_body = RuleRequest, responses((status = 201, body = RuleView), (status = 409, body = ErrorBody), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn create(
    State(s): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    axum::Extension(rid): axum::Extension<RequestId>,
    body: JsonBody<RuleRequest>,
) -> ApiResult<(StatusCode, Json<RuleView>)> {
    let change = rules::create(&s.store, &body.0, aiops_service::now_ms()).await?;
    let Some(view) = change.after.clone() else {
        return Err(aiops_service::ServiceError::Internal {
            what: "a created rule has no state".into(),
        }
        .into());
    };
    audited(&s, &who, &rid, "rule.create", &view.rule_id, &change).await;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /api/v1/alert-rules`.
#[utoipa::path(get, path = "/api/v1/alert-rules", tag = "rules", security(("bearer" = [])), responses((status = 200, body = RuleList), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn list(State(s): State<AppState>) -> ApiResult<Json<RuleList>> {
    Ok(Json(rules::list(&s.store).await?))
}

/// `GET /api/v1/alert-rules/{id}`.
#[utoipa::path(get, path = "/api/v1/alert-rules/{id}", tag = "rules", security(("bearer" = [])), params(("id" = String, Path, description = "rule id")), responses((status = 200, body = RuleView), (status = 404, body = ErrorBody), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn get(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<RuleView>> {
    Ok(Json(rules::get(&s.store, &id).await?))
}

/// `PUT /api/v1/alert-rules/{id}`: the whole rule, replaced.
#[utoipa::path(put, path = "/api/v1/alert-rules/{id}", tag = "rules", security(("bearer" = [])), params(("id" = String, Path, description = "rule id")), request_body = RuleRequest, responses((status = 200, body = RuleView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn update(
    State(s): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    axum::Extension(rid): axum::Extension<RequestId>,
    Path(id): Path<String>,
    body: JsonBody<RuleRequest>,
) -> ApiResult<Json<RuleView>> {
    let change = rules::update(&s.store, &id, &body.0, aiops_service::now_ms()).await?;
    audited(&s, &who, &rid, "rule.update", &id, &change).await;
    match change.after {
        Some(v) => Ok(Json(v)),
        None => Err(aiops_service::ServiceError::Internal {
            what: "an updated rule has no state".into(),
        }
        .into()),
    }
}

/// `DELETE /api/v1/alert-rules/{id}`: 204.
#[utoipa::path(delete, path = "/api/v1/alert-rules/{id}", tag = "rules", security(("bearer" = [])), params(("id" = String, Path, description = "rule id")), responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn delete(
    State(s): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    axum::Extension(rid): axum::Extension<RequestId>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let change = rules::delete(&s.store, &id).await?;
    audited(&s, &who, &rid, "rule.delete", &id, &change).await;
    Ok(StatusCode::NO_CONTENT)
}
