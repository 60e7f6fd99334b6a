//! Ingest endpoints and the extractors that turn bad bodies and query strings into the API's
//! one error shape.

use aiops_service::ErrorBody;
use aiops_service::ServiceError;
use aiops_service::ingest_api::{self, PointsRequest};
use aiops_service::metrics::IngestReport;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};

use super::http::{ApiError, ApiResult, AppState};

/// A JSON body; a malformed one, a wrong content type or an unknown field is a 400/415 in the
/// API's error shape, naming the problem.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(r) => Err(ApiError(json_rejection(
                r,
                state.config.limits.max_body_bytes,
            ))),
        }
    }
}

fn json_rejection(r: JsonRejection, limit: usize) -> ServiceError {
    match r.status().as_u16() {
        413 => ServiceError::TooLarge { limit },
        415 => ServiceError::UnsupportedMediaType {
            header: "Content-Type",
            got: String::new(),
            expected: "application/json",
        },
        _ => ServiceError::invalid_parameter("body", r.body_text()),
    }
}

/// The raw body; over the size limit is a 413 in the API's error shape.
#[derive(Debug)]
pub(crate) struct RawBody(pub(crate) Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.config.limits.max_body_bytes;
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|r| {
                ApiError(if r.status().as_u16() == 413 {
                    ServiceError::TooLarge { limit }
                } else {
                    ServiceError::invalid_parameter("body", r.body_text())
                })
            })
    }
}

/// A UTF-8 text body (JSON read by a library parser that names lines); over the size limit
/// is a 413.
#[derive(Debug)]
pub(crate) struct TextBody(pub(crate) String);

impl FromRequest<AppState> for TextBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        String::from_utf8(bytes.to_vec())
            .map(TextBody)
            .map_err(|e| {
                ApiError(ServiceError::invalid_parameter(
                    "body",
                    format!("not UTF-8: {e}"),
                ))
            })
    }
}

/// Query-string parameters; unknown or malformed ones are a 400 naming them.
#[derive(Debug)]
pub(crate) struct QueryParams<T>(pub(crate) T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(q) => Ok(QueryParams(q.0)),
            Err(r) => Err(ApiError(query_rejection(&r))),
        }
    }
}

fn query_rejection(r: &QueryRejection) -> ServiceError {
    ServiceError::invalid_parameter("query", r.body_text())
}

/// `POST /api/v1/write`: Prometheus remote_write 1.0 (snappy block + protobuf). 204 once
/// committed; 202 for a standby HA replica's request (`metrics.ha`: acknowledged, not
/// stored); 400 with the reason for a malformed body; 415 for another encoding.
#[utoipa::path(post, path = "/api/v1/write", tag = "ingest", security(("bearer" = [])), request_body(content = Vec<u8>, content_type = "application/x-protobuf", description = "snappy-compressed prometheus.WriteRequest"), responses((status = 204, description = "committed"), (status = 202, description = "a standby HA replica's samples (metrics.ha): acknowledged, not stored"), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 429, description = "queue full, retry after Retry-After", body = ErrorBody), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn remote_write(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<StatusCode> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ctype.starts_with("application/x-protobuf") {
        return Err(ApiError(ServiceError::UnsupportedMediaType {
            header: "Content-Type",
            got: ctype.chars().take(64).collect(),
            expected: "application/x-protobuf",
        }));
    }
    if let Some(enc) = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        && !enc.eq_ignore_ascii_case("snappy")
    {
        return Err(ApiError(ServiceError::UnsupportedMediaType {
            header: "Content-Encoding",
            got: enc.chars().take(64).collect(),
            expected: "snappy",
        }));
    }
    let summary = ingest_api::ingest_remote_write(
        &s.metrics,
        &body,
        s.config.limits.max_decoded_bytes,
        aiops_service::now_ms(),
    )
    .await?;
    tracing::debug!(
        samples = summary.samples,
        series = summary.series,
        standby = summary.standby_samples,
        "remote_write"
    );
    // A standby HA replica's request: acknowledged, not stored (its pair's elected replica
    // sends the same series).
    if summary.standby_samples > 0 {
        return Ok(StatusCode::ACCEPTED);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/ingest/points`: JSON data points; answers what was stored.
#[utoipa::path(post, path = "/api/v1/ingest/points", tag = "ingest", security(("bearer" = [])), request_body = PointsRequest, responses((status = 200, body = IngestReport), (status = 429, body = ErrorBody), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn points(
    State(s): State<AppState>,
    body: JsonBody<PointsRequest>,
) -> ApiResult<Json<IngestReport>> {
    let series = ingest_api::group_points(body.0)?;
    if series.is_empty() {
        return Ok(Json(IngestReport {
            series: 0,
            samples: 0,
            new_samples: 0,
        }));
    }
    Ok(Json(
        s.metrics.ingest(series, aiops_service::now_ms()).await?,
    ))
}
