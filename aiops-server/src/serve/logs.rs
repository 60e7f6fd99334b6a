//! Log endpoints: `POST /api/v1/ingest/logs` (lines with labels, masked and committed before
//! the answer) and the queries of lines, templates and anomalous windows.

use aiops_service::ErrorBody;
use aiops_service::log_pipeline::{
    self, LogAnomalyList, LogAnomalyQuery, LogIngestReport, LogList, LogQuery, LogsRequest,
    TemplateList, TemplateQuery,
};
use axum::Json;
use axum::extract::State;

use super::http::{ApiResult, AppState};
use super::ingest::{JsonBody, QueryParams};

/// `POST /api/v1/ingest/logs`: answers what was stored, once committed.
#[utoipa::path(post, path = "/api/v1/ingest/logs", tag = "logs", security(("bearer" = [])), request_body = LogsRequest, responses((status = 200, body = LogIngestReport), (status = 429, body = ErrorBody), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn ingest(
    State(s): State<AppState>,
    body: JsonBody<LogsRequest>,
) -> ApiResult<Json<LogIngestReport>> {
    let now = aiops_service::now_ms();
    let streams = log_pipeline::parse_logs(body.0, now, &s.masker, s.config.logs.max_line_bytes)?;
    if streams.is_empty() {
        return Ok(Json(LogIngestReport {
            streams: 0,
            lines: 0,
        }));
    }
    Ok(Json(s.logs.ingest(streams, now).await?))
}

/// `GET /api/v1/logs`.
#[utoipa::path(get, path = "/api/v1/logs", tag = "logs", security(("bearer" = [])), params(LogQuery), responses((status = 200, body = LogList), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn lines(
    State(s): State<AppState>,
    q: QueryParams<LogQuery>,
) -> ApiResult<Json<LogList>> {
    Ok(Json(s.logs.lines(&q.0).await?))
}

/// `GET /api/v1/logs/templates`.
#[utoipa::path(get, path = "/api/v1/logs/templates", tag = "logs", security(("bearer" = [])), params(TemplateQuery), responses((status = 200, body = TemplateList), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn templates(
    State(s): State<AppState>,
    q: QueryParams<TemplateQuery>,
) -> ApiResult<Json<TemplateList>> {
    Ok(Json(s.logs.templates(&q.0).await?))
}

/// `GET /api/v1/logs/anomalies`.
#[utoipa::path(get, path = "/api/v1/logs/anomalies", tag = "logs", security(("bearer" = [])), params(LogAnomalyQuery), responses((status = 200, body = LogAnomalyList), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn anomalies(
    State(s): State<AppState>,
    q: QueryParams<LogAnomalyQuery>,
) -> ApiResult<Json<LogAnomalyList>> {
    Ok(Json(s.logs.anomalies(&q.0).await?))
}
