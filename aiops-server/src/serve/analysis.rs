//! RCA and capacity endpoints.

use aiops_service::ErrorBody;
use aiops_service::capacity_api::{self, CapacityForecasts, CapacityQuery, Recommendations};
use aiops_service::rca_api::{self, RcaAnalysis, RcaRequest};
use axum::Json;
use axum::extract::{Path, State};

use super::http::{ApiResult, AppState};
use super::ingest::JsonBody;

/// `POST /api/v1/rca/analyze`.
#[utoipa::path(post, path = "/api/v1/rca/analyze", tag = "rca", security(("bearer" = [])), request_body = RcaRequest, responses((status = 200, body = RcaAnalysis), (status = 404, body = ErrorBody), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn analyze(
    State(s): State<AppState>,
    body: JsonBody<RcaRequest>,
) -> ApiResult<Json<RcaAnalysis>> {
    let current = s.topology.get();
    let a = rca_api::analyze(
        &s.store,
        &s.history,
        current.as_ref().map(|c| &c.graph),
        Some(&s.knowledge),
        &body.0,
        aiops_service::now_ms(),
    )
    .await?;
    Ok(Json(a))
}

/// `GET /api/v1/rca/{id}`.
#[utoipa::path(get, path = "/api/v1/rca/{id}", tag = "rca", security(("bearer" = [])), params(("id" = String, Path, description = "analysis id")), responses((status = 200, body = RcaAnalysis), (status = 404, body = ErrorBody), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn get(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<RcaAnalysis>> {
    Ok(Json(rca_api::get(&s.store, &id).await?))
}

/// `POST /api/v1/capacity/forecast`.
#[utoipa::path(post, path = "/api/v1/capacity/forecast", tag = "capacity", security(("bearer" = [])), request_body = CapacityQuery, responses((status = 200, body = CapacityForecasts), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn forecast(
    State(s): State<AppState>,
    body: JsonBody<CapacityQuery>,
) -> ApiResult<Json<CapacityForecasts>> {
    Ok(Json(
        capacity_api::forecast(&s.store, &s.history, &body.0, aiops_service::now_ms()).await?,
    ))
}

/// `GET /api/v1/capacity/recommendations`.
#[utoipa::path(get, path = "/api/v1/capacity/recommendations", tag = "capacity", security(("bearer" = [])), responses((status = 200, body = Recommendations), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn recommendations(State(s): State<AppState>) -> ApiResult<Json<Recommendations>> {
    Ok(Json(capacity_api::recommendations(&s.store).await?))
}
