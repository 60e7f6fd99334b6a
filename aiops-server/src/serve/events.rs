//! Event endpoints: `POST /api/v1/events` (deployments, configuration changes, from CI with
//! an ingest token) and `GET /api/v1/events`.

use aiops_service::ErrorBody;
use aiops_service::events_api::{self, EventList, EventQuery, EventRequest, EventView};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::http::{ApiResult, AppState};
use super::ingest::{JsonBody, QueryParams};

/// `POST /api/v1/events`: 201 with the stored event, once committed.
#[utoipa::path(post, path = "/api/v1/events", tag = "events", security(("bearer" = [])), request_body = EventRequest, responses((status = 201, body = EventView), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn post(
    State(s): State<AppState>,
    body: JsonBody<EventRequest>,
) -> ApiResult<(StatusCode, Json<EventView>)> {
    let e = events_api::post(&s.store, body.0, aiops_service::now_ms()).await?;
    Ok((StatusCode::CREATED, Json(e)))
}

/// `GET /api/v1/events?start_time&end_time&limit`.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", security(("bearer" = [])), params(EventQuery), responses((status = 200, body = EventList), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn list(
    State(s): State<AppState>,
    q: QueryParams<EventQuery>,
) -> ApiResult<Json<EventList>> {
    Ok(Json(
        events_api::list(&s.store, &q.0, aiops_service::now_ms()).await?,
    ))
}
