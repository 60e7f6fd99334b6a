//! RCA and capacity endpoints.

use aiops_service::capacity_api::{self, CapacityForecasts, CapacityQuery, Recommendations};
use aiops_service::rca_api::{self, RcaAnalysis, RcaRequest};
use axum::Json;
use axum::extract::{Path, State};

use super::http::{ApiResult, AppState};
use super::ingest::JsonBody;

/// `POST /api/v1/rca/analyze`.
pub(crate) async fn analyze(
    State(s): State<AppState>,
    body: JsonBody<RcaRequest>,
) -> ApiResult<Json<RcaAnalysis>> {
    let a = rca_api::analyze(
        &s.store,
        s.graph.as_ref(),
        s.config.runbooks.as_deref(),
        &body.0,
        aiops_service::now_ms(),
    )
    .await?;
    Ok(Json(a))
}

/// `GET /api/v1/rca/{id}`.
pub(crate) async fn get(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<RcaAnalysis>> {
    Ok(Json(rca_api::get(&s.store, &id).await?))
}

/// `POST /api/v1/capacity/forecast`.
pub(crate) async fn forecast(
    State(s): State<AppState>,
    body: JsonBody<CapacityQuery>,
) -> ApiResult<Json<CapacityForecasts>> {
    Ok(Json(
        capacity_api::forecast(&s.store, &body.0, aiops_service::now_ms()).await?,
    ))
}

/// `GET /api/v1/capacity/recommendations`.
pub(crate) async fn recommendations(State(s): State<AppState>) -> ApiResult<Json<Recommendations>> {
    Ok(Json(capacity_api::recommendations(&s.store).await?))
}
