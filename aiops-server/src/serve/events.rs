//! Event endpoints: `POST /api/v1/events` (deployments, configuration changes, from CI with
//! an ingest token) and `GET /api/v1/events`.

use aiops_service::events_api::{self, EventList, EventQuery, EventRequest, EventView};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::http::{ApiResult, AppState};
use super::ingest::{JsonBody, QueryParams};

/// `POST /api/v1/events`: 201 with the stored event, once committed.
pub(crate) async fn post(
    State(s): State<AppState>,
    body: JsonBody<EventRequest>,
) -> ApiResult<(StatusCode, Json<EventView>)> {
    let e = events_api::post(&s.store, body.0, aiops_service::now_ms()).await?;
    Ok((StatusCode::CREATED, Json(e)))
}

/// `GET /api/v1/events?start_time&end_time&limit`.
pub(crate) async fn list(
    State(s): State<AppState>,
    q: QueryParams<EventQuery>,
) -> ApiResult<Json<EventList>> {
    Ok(Json(
        events_api::list(&s.store, &q.0, aiops_service::now_ms()).await?,
    ))
}
