//! Workflow and remediation endpoints: `GET|POST /api/v1/workflows`, `GET|PUT|DELETE
//! /api/v1/workflows/{id}`, `POST /api/v1/workflows/{id}/run`, `GET /api/v1/workflows/{id}/runs`, `GET
//! /api/v1/workflow-runs/{run_id}`, `POST /api/v1/remediation/execute`, `GET
//! /api/v1/remediation/{execution_id}`. The logic is in `aiops_service::workflows`; changes
//! and remediation are audited.

use aiops_service::audit::AuditKind;
use aiops_service::workflows::{
    RemediationExecution, RemediationRequest, RunList, RunRequest, RunView, WorkflowList,
    WorkflowRequest, WorkflowView,
};
use aiops_service::{AuditEvent, ErrorBody, Outcome, Principal};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::http::{ApiResult, AppState, RequestId};
use super::ingest::{JsonBody, QueryParams};

async fn record(s: &AppState, e: &AuditEvent, rid: &RequestId) {
    if let Err(err) = s.audit(e, Some(&rid.0)).await {
        tracing::error!(error = %err, "audit log write failed");
    }
}

/// `GET /api/v1/workflows`.
#[utoipa::path(get, path = "/api/v1/workflows", tag = "workflows", security(("bearer" = [])), responses((status = 200, body = WorkflowList), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn list(State(s): State<AppState>) -> Json<WorkflowList> {
    Json(s.workflows.list())
}

/// `POST /api/v1/workflows`: 201 with the workflow; 400 with every diagnostic (file, step,
/// line and column) when it does not check.
#[utoipa::path(post, path = "/api/v1/workflows", tag = "workflows", security(("bearer" = [])), request_body = WorkflowRequest, responses((status = 201, body = WorkflowView), (status = 409, body = ErrorBody), (status = 400, description = "invalid workflow", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn create(
    State(s): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    axum::Extension(rid): axum::Extension<RequestId>,
    body: JsonBody<WorkflowRequest>,
) -> ApiResult<(StatusCode, Json<WorkflowView>)> {
    let view = s.workflows.create(&body.0, aiops_service::now_ms()).await?;
    let e = AuditEvent::mutation(
        aiops_service::now_ms(),
        &who,
        AuditKind::ConfigChange,
        "workflow.create",
        format!("workflow/{}", view.id),
        None,
        serde_json::to_value(&view).ok(),
    );
    record(&s, &e, &rid).await;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /api/v1/workflows/{id}`.
#[utoipa::path(get, path = "/api/v1/workflows/{id}", tag = "workflows", security(("bearer" = [])), params(("id" = String, Path, description = "workflow name")), responses((status = 200, body = WorkflowView), (status = 404, body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn get_one(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<WorkflowView>> {
    Ok(Json(s.workflows.get(&id)?))
}

/// `PUT /api/v1/workflows/{id}`: replaces a workflow added through the API (checked as on
/// creation; the YAML must define that very name). Workflows from the configuration's files
/// are changed there (400).
#[utoipa::path(put, path = "/api/v1/workflows/{id}", tag = "workflows", security(("bearer" = [])), params(("id" = String, Path, description = "workflow name")), request_body = WorkflowRequest, responses((status = 200, body = WorkflowView), (status = 404, body = ErrorBody), (status = 400, description = "invalid workflow, another name, or defined in the configuration", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn update(
    State(s): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    axum::Extension(rid): axum::Extension<RequestId>,
    Path(id): Path<String>,
    body: JsonBody<WorkflowRequest>,
) -> ApiResult<Json<WorkflowView>> {
    let (before, after) = s
        .workflows
        .update(&id, &body.0, aiops_service::now_ms())
        .await?;
    let e = AuditEvent::mutation(
        aiops_service::now_ms(),
        &who,
        AuditKind::ConfigChange,
        "workflow.update",
        format!("workflow/{id}"),
        serde_json::to_value(&before).ok(),
        serde_json::to_value(&after).ok(),
    );
    record(&s, &e, &rid).await;
    Ok(Json(after))
}

/// `DELETE /api/v1/workflows/{id}`: 204; its runs stay recorded.
#[utoipa::path(delete, path = "/api/v1/workflows/{id}", tag = "workflows", security(("bearer" = [])), params(("id" = String, Path, description = "workflow name")), responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody), (status = 400, description = "defined in the configuration", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn delete(
    State(s): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    axum::Extension(rid): axum::Extension<RequestId>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let before = s.workflows.delete(&id).await?;
    let e = AuditEvent::mutation(
        aiops_service::now_ms(),
        &who,
        AuditKind::ConfigChange,
        "workflow.delete",
        format!("workflow/{id}"),
        serde_json::to_value(&before).ok(),
        None,
    );
    record(&s, &e, &rid).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/workflows/{id}/run`: a dry run (`dry_run: true`: every step decided and
/// rendered, nothing called) answers 200 with its record; a real run starts in the
/// background and answers 202 with the run `running` (follow it at `GET
/// /api/v1/workflow-runs/{run_id}`). Both are recorded.
#[utoipa::path(post, path = "/api/v1/workflows/{id}/run", tag = "workflows", security(("bearer" = [])), params(("id" = String, Path, description = "workflow name")), request_body = RunRequest, responses((status = 200, description = "a dry run, decided", body = RunView), (status = 202, description = "started", body = RunView), (status = 404, body = ErrorBody), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn run(
    State(s): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    axum::Extension(rid): axum::Extension<RequestId>,
    Path(id): Path<String>,
    body: JsonBody<RunRequest>,
) -> ApiResult<(StatusCode, Json<RunView>)> {
    let view = s
        .workflows
        .run(&id, &body.0, &who.subject, Some(&rid.0))
        .await?;
    let e = AuditEvent::new(
        aiops_service::now_ms(),
        &who.subject,
        AuditKind::Mutation,
        if body.0.dry_run {
            "workflow.dry_run"
        } else {
            "workflow.run"
        },
        if view.status == "failed" {
            Outcome::Failure
        } else {
            Outcome::Success
        },
    )
    .with_target(format!("workflow/{id}"))
    .with_after(serde_json::json!({"run_id": view.run_id, "status": view.status}));
    record(&s, &e, &rid).await;
    let status = if view.status == "running" {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

/// `GET /api/v1/workflows/{id}/runs?limit` parameters.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunsQuery {
    /// Most runs (1 to 1,000; default 100).
    limit: Option<usize>,
}

/// `GET /api/v1/workflows/{id}/runs`: newest first.
#[utoipa::path(get, path = "/api/v1/workflows/{id}/runs", tag = "workflows", security(("bearer" = [])), params(("id" = String, Path, description = "workflow name"), RunsQuery), responses((status = 200, body = RunList), (status = 404, body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn runs(
    State(s): State<AppState>,
    Path(id): Path<String>,
    q: QueryParams<RunsQuery>,
) -> ApiResult<Json<RunList>> {
    Ok(Json(s.workflows.runs(&id, q.0.limit.unwrap_or(100)).await?))
}

/// `GET /api/v1/workflow-runs/{run_id}`.
#[utoipa::path(get, path = "/api/v1/workflow-runs/{run_id}", tag = "workflows", security(("bearer" = [])), params(("run_id" = String, Path, description = "run id")), responses((status = 200, body = RunView), (status = 404, body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn run_record(
    State(s): State<AppState>,
    Path(run_id): Path<String>,
) -> ApiResult<Json<RunView>> {
    Ok(Json(s.workflows.run_record(&run_id).await?))
}

/// `POST /api/v1/remediation/execute`: runs one allow-listed command or HTTP target (the
/// seed's `RemediationRequest`; `dry_run` renders it and runs nothing). An action not on the
/// allow-list is refused (400) and audited.
#[utoipa::path(post, path = "/api/v1/remediation/execute", tag = "workflows", security(("bearer" = [])), request_body = RemediationRequest, responses((status = 200, body = RemediationExecution), (status = 404, description = "no such incident", body = ErrorBody), (status = 400, description = "invalid input or not allow-listed", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn execute(
    State(s): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    axum::Extension(rid): axum::Extension<RequestId>,
    body: JsonBody<RemediationRequest>,
) -> ApiResult<Json<RemediationExecution>> {
    let x = s
        .workflows
        .execute(&body.0, &who.subject, Some(&rid.0), aiops_service::now_ms())
        .await?;
    if x.dry_run {
        let e = AuditEvent::new(
            aiops_service::now_ms(),
            &who.subject,
            AuditKind::Remediation,
            "remediation.dry_run",
            Outcome::Success,
        )
        .with_target(format!("remediation/{}", x.action))
        .with_after(serde_json::json!({"execution_id": x.execution_id, "status": x.status}));
        record(&s, &e, &rid).await;
    }
    Ok(Json(x))
}

/// `GET /api/v1/remediation/{execution_id}`.
#[utoipa::path(get, path = "/api/v1/remediation/{execution_id}", tag = "workflows", security(("bearer" = [])), params(("execution_id" = String, Path, description = "execution id")), responses((status = 200, body = RemediationExecution), (status = 404, body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn execution(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<RemediationExecution>> {
    Ok(Json(s.workflows.execution(&id).await?))
}
