//! Topology endpoints: `GET|PUT /api/v1/topology` and `GET
//! /api/v1/topology/{id}/dependencies`. A PUT is audited with the topology before and after.

use aiops_core::Topology;
use aiops_service::ErrorBody;
use aiops_service::audit::AuditKind;
use aiops_service::topology_api::{self, Dependencies, DependencyQuery};
use aiops_service::{AuditEvent, Principal};
use axum::Json;
use axum::extract::{Path, State};

use super::http::{ApiResult, AppState, RequestId};
use super::ingest::{JsonBody, QueryParams};

/// `GET /api/v1/topology`: `{nodes, edges}` (empty when none is set).
#[utoipa::path(get, path = "/api/v1/topology", tag = "topology", security(("bearer" = [])), responses((status = 200, description = "nodes and edges", body = Object), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn get(State(s): State<AppState>) -> Json<Topology> {
    Json(s.topology.topology())
}

/// `PUT /api/v1/topology`: replaces the topology; answers it.
#[utoipa::path(put, path = "/api/v1/topology", tag = "topology", security(("bearer" = [])), request_body(content = Object, description = "nodes and edges"), responses((status = 200, description = "the stored topology", body = Object), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn put(
    State(s): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    axum::Extension(rid): axum::Extension<RequestId>,
    body: JsonBody<Topology>,
) -> ApiResult<Json<Topology>> {
    let now = aiops_service::now_ms();
    let change = s.topology.put(&s.store, body.0, now).await?;
    s.alerts.set_topology(Some(change.after.clone())).await?;
    let e = AuditEvent::mutation(
        now,
        &who,
        AuditKind::ConfigChange,
        "topology.replace",
        "topology",
        serde_json::to_value(&change.before).ok(),
        serde_json::to_value(&change.after).ok(),
    );
    if let Err(err) = s.audit(&e, Some(&rid.0)).await {
        tracing::error!(error = %err, "audit log write failed");
    }
    Ok(Json(change.after))
}

/// `GET /api/v1/topology/{id}/dependencies?direction=upstream|downstream|both`.
#[utoipa::path(get, path = "/api/v1/topology/{id}/dependencies", tag = "topology", security(("bearer" = [])), params(("id" = String, Path, description = "resource id"), DependencyQuery), responses((status = 200, body = Dependencies), (status = 404, body = ErrorBody), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn dependencies(
    State(s): State<AppState>,
    Path(id): Path<String>,
    q: QueryParams<DependencyQuery>,
) -> ApiResult<Json<Dependencies>> {
    let current = s.topology.get();
    Ok(Json(topology_api::dependencies(
        current.as_deref(),
        &id,
        &q.0,
    )?))
}
