//! Integration endpoints: `GET /api/v1/integrations` and
//! `POST /api/v1/integrations/{name}/dashboards` (audited).

use aiops_service::ErrorBody;
use aiops_service::audit::AuditKind;
use aiops_service::integrations_api::{self, DashboardRequest, DashboardView, IntegrationList};
use aiops_service::{AuditEvent, Principal};
use axum::Json;
use axum::extract::{Path, State};

use super::http::{ApiResult, AppState, RequestId};
use super::ingest::JsonBody;

/// `GET /api/v1/integrations`: the configured integrations and their roles (no parameters,
/// never a secret).
#[utoipa::path(get, path = "/api/v1/integrations", tag = "integrations", security(("bearer" = [])), responses((status = 200, body = IntegrationList), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn list(State(s): State<AppState>) -> Json<IntegrationList> {
    Json(integrations_api::list(&s.router))
}

/// `POST /api/v1/integrations/{name}/dashboards`: creates or updates a service's dashboard in
/// the Grafana integration `name`.
#[utoipa::path(post, path = "/api/v1/integrations/{name}/dashboards", tag = "integrations", security(("bearer" = [])), params(("name" = String, Path, description = "a grafana integration")), request_body = DashboardRequest, responses((status = 200, body = DashboardView), (status = 404, body = ErrorBody), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody), (status = 502, description = "Grafana refused or failed", body = ErrorBody)))]
pub(crate) async fn dashboard(
    State(s): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    axum::Extension(rid): axum::Extension<RequestId>,
    Path(name): Path<String>,
    body: JsonBody<DashboardRequest>,
) -> ApiResult<Json<DashboardView>> {
    let view = integrations_api::upsert_dashboard(&s.router, &name, &body.0).await?;
    let e = AuditEvent::mutation(
        aiops_service::now_ms(),
        &who,
        AuditKind::ConfigChange,
        "integration.dashboard",
        format!("integration/{name}/dashboard/{}", view.uid),
        None,
        serde_json::to_value(&view).ok(),
    );
    if let Err(err) = s.audit(&e, Some(&rid.0)).await {
        tracing::error!(error = %err, "audit log write failed");
    }
    Ok(Json(view))
}
