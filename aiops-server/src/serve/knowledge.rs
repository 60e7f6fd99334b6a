//! Knowledge endpoints: `GET /api/v1/knowledge/runbooks` and `GET
//! /api/v1/knowledge/search?query=`.

use aiops_service::knowledge_api::{self, RunbookList, SearchQuery, SearchResults};
use axum::Json;
use axum::extract::State;

use super::http::{ApiResult, AppState};
use super::ingest::QueryParams;

/// `GET /api/v1/knowledge/runbooks`.
pub(crate) async fn runbooks(State(s): State<AppState>) -> Json<RunbookList> {
    Json(knowledge_api::runbooks(&s.knowledge))
}

/// `GET /api/v1/knowledge/search?query=`.
pub(crate) async fn search(
    State(s): State<AppState>,
    q: QueryParams<SearchQuery>,
) -> ApiResult<Json<SearchResults>> {
    Ok(Json(knowledge_api::search(&s.knowledge, &q.0)?))
}
