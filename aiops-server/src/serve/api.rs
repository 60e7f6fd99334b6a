//! Query and analysis endpoints.

use aiops_service::ErrorBody;
use aiops_service::anomaly_api::{
    self, AnomalyDetail, AnomalyList, AnomalyQuery, DetectRequest, DetectResponse,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;

use super::http::{ApiResult, AppState, RequestId};

/// `GET /api/v1/health`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    status: &'static str,
    timestamp: String,
    version: &'static str,
}

#[utoipa::path(get, path = "/api/v1/health", tag = "service", responses((status = 200, description = "alive", body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        status: "healthy",
        timestamp: aiops_core::time::format_rfc3339(aiops_service::now_ms()),
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// `GET /-/ready`: 200 when the store answers, else 503.
#[utoipa::path(get, path = "/-/ready", tag = "service", responses((status = 200, description = "the store answers"), (status = 503, description = "the store does not answer")))]
pub(crate) async fn ready(State(s): State<AppState>) -> impl IntoResponse {
    if s.store.ping().await {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n")
    }
}

/// `GET /metrics`: the service's own metrics.
#[utoipa::path(get, path = "/metrics", tag = "service", security(("bearer" = [])), responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain"), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.telemetry.render(&s.metrics)
            + &s.logs.exposition()
            + &s.alerts.exposition()
            + &s.bus.exposition(),
    )
}

/// `POST /api/v1/anomalies/detect`.
#[utoipa::path(post, path = "/api/v1/anomalies/detect", tag = "anomalies", security(("bearer" = [])), request_body = DetectRequest, responses((status = 200, body = DetectResponse), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn detect(
    axum::Extension(id): axum::Extension<RequestId>,
    body: super::ingest::JsonBody<DetectRequest>,
) -> ApiResult<Json<DetectResponse>> {
    let request = body.0;
    let r = tokio::task::spawn_blocking(move || anomaly_api::detect(&request, &id.0))
        .await
        .map_err(|e| aiops_service::ServiceError::Internal {
            what: e.to_string(),
        })??;
    Ok(Json(r))
}

/// `GET /api/v1/anomalies`.
#[utoipa::path(get, path = "/api/v1/anomalies", tag = "anomalies", security(("bearer" = [])), params(AnomalyQuery), responses((status = 200, body = AnomalyList), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn list_anomalies(
    State(s): State<AppState>,
    q: super::ingest::QueryParams<AnomalyQuery>,
) -> ApiResult<Json<AnomalyList>> {
    Ok(Json(anomaly_api::list(&s.store, &q.0).await?))
}

/// `GET /api/v1/anomalies/{id}` (`?window_minutes=`, default 30).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct DetailQuery {
    window_minutes: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/anomalies/{id}", tag = "anomalies", security(("bearer" = [])), params(("id" = String, Path, description = "anomaly id"), DetailQuery), responses((status = 200, body = AnomalyDetail), (status = 404, body = ErrorBody), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn anomaly(
    State(s): State<AppState>,
    Path(id): Path<String>,
    q: super::ingest::QueryParams<DetailQuery>,
) -> ApiResult<Json<AnomalyDetail>> {
    let window = i64::from(q.0.window_minutes.unwrap_or(30).clamp(1, 24 * 60)) * 60_000;
    let topology = s.topology.get();
    Ok(Json(
        anomaly_api::detail(
            &s.store,
            &s.history,
            topology.as_ref().map(|t| &t.graph),
            s.metrics.config(),
            &id,
            window,
        )
        .await?,
    ))
}
