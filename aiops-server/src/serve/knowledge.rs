//! Knowledge endpoints: `GET /api/v1/knowledge/runbooks` and `GET
//! /api/v1/knowledge/search?query=`.

use aiops_service::ErrorBody;
use aiops_service::knowledge_api::{self, RunbookList, SearchQuery, SearchResults};
use axum::Json;
use axum::extract::State;

use super::http::{ApiResult, AppState};
use super::ingest::QueryParams;

/// `GET /api/v1/knowledge/runbooks`.
#[utoipa::path(get, path = "/api/v1/knowledge/runbooks", tag = "knowledge", security(("bearer" = [])), responses((status = 200, body = RunbookList), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn runbooks(State(s): State<AppState>) -> Json<RunbookList> {
    Json(knowledge_api::runbooks(&s.knowledge))
}

/// `GET /api/v1/knowledge/search?query=`.
#[utoipa::path(get, path = "/api/v1/knowledge/search", tag = "knowledge", security(("bearer" = [])), params(SearchQuery), responses((status = 200, body = SearchResults), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn search(
    State(s): State<AppState>,
    q: QueryParams<SearchQuery>,
) -> ApiResult<Json<SearchResults>> {
    Ok(Json(knowledge_api::search(&s.knowledge, &q.0)?))
}
