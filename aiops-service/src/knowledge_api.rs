//! The knowledge endpoints' logic: the runbooks of the configuration's `runbooks` folder
//! (`GET /api/v1/knowledge/runbooks`) and full-text search over them (`GET
//! /api/v1/knowledge/search?query=`, BM25 of `aiops_rca::runbook`).
//!
//! The folder is read once at start (a runbook that does not parse stops the start, naming
//! the file); change it and restart to see the change.

use std::path::Path;

use aiops_rca::runbook::{KnowledgeBase, Runbook, SearchHit};
use serde::{Deserialize, Serialize};

use crate::error::{Result, ServiceError};

/// Most results of one search.
pub const MAX_RESULTS: usize = 100;

/// Loads the runbooks of `dir` (None: none).
pub fn load(dir: Option<&Path>) -> Result<KnowledgeBase> {
    match dir {
        None => Ok(KnowledgeBase::default()),
        Some(d) => KnowledgeBase::load_dir(d)
            .map_err(|e| ServiceError::invalid_config("runbooks", format!("{}: {e}", d.display()))),
    }
}

/// A runbook as the API shows it (its file stays on the server).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RunbookView {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Resource kinds it applies to (empty: any).
    pub kinds: Vec<String>,
    /// Metric name patterns (empty: any).
    pub metrics: Vec<String>,
    /// Resource ids (empty: any).
    pub resources: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Steps to take.
    pub actions: Vec<String>,
    /// Free text (Markdown).
    pub body: String,
}

impl From<&Runbook> for RunbookView {
    fn from(r: &Runbook) -> Self {
        Self {
            id: r.id.clone(),
            title: r.title.clone(),
            kinds: r.kinds.clone(),
            metrics: r.metrics.clone(),
            resources: r.resources.clone(),
            tags: r.tags.clone(),
            actions: r.actions.clone(),
            body: r.body.clone(),
        }
    }
}

/// `GET /api/v1/knowledge/runbooks`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RunbookList {
    /// Every runbook, in load (path) order.
    pub runbooks: Vec<RunbookView>,
}

/// Every runbook.
pub fn runbooks(kb: &KnowledgeBase) -> RunbookList {
    RunbookList {
        runbooks: kb.runbooks().iter().map(RunbookView::from).collect(),
    }
}

/// `GET /api/v1/knowledge/search` parameters.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// The words to look for (required, not empty).
    pub query: Option<String>,
    /// Most results (1 to 100; default 10).
    pub limit: Option<usize>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SearchResult {
    /// Runbook id.
    pub runbook_id: String,
    /// Its title.
    pub title: String,
    /// BM25 score (higher is better).
    pub score: f64,
    /// Its steps.
    pub actions: Vec<String>,
}

/// `GET /api/v1/knowledge/search`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    /// Best first.
    pub results: Vec<SearchResult>,
}

/// Searches the runbooks; a missing or blank `query` is a 400.
pub fn search(kb: &KnowledgeBase, q: &SearchQuery) -> Result<SearchResults> {
    let query = q
        .query
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ServiceError::invalid_parameter("query", "required, not empty"))?;
    let limit = match q.limit.unwrap_or(10) {
        n @ 1..=MAX_RESULTS => n,
        _ => {
            return Err(ServiceError::invalid_parameter(
                "limit",
                format!("must be 1 to {MAX_RESULTS}"),
            ));
        }
    };
    let results = kb
        .search(query, limit)
        .into_iter()
        .map(
            |SearchHit {
                 runbook,
                 title,
                 score,
             }| SearchResult {
                actions: kb
                    .runbooks()
                    .iter()
                    .find(|r| r.id == runbook)
                    .map(|r| r.actions.clone())
                    .unwrap_or_default(),
                runbook_id: runbook,
                title,
                score,
            },
        )
        .collect();
    Ok(SearchResults { results })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runbooks_are_listed_and_searched() {
        let dir = std::env::temp_dir().join(format!("aiops-kb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("db.md"),
            "---\nid: db-cpu\nkinds: [database]\nactions: [Kill the slow query]\n---\n# Database CPU saturation\nPostgres queries pile up.\n",
        )
        .unwrap();
        let kb = load(Some(&dir)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let list = runbooks(&kb);
        assert_eq!(list.runbooks.len(), 1);
        assert_eq!(list.runbooks[0].title, "Database CPU saturation");
        let r = search(
            &kb,
            &SearchQuery {
                query: Some("postgres queries".into()),
                limit: None,
            },
        )
        .unwrap();
        assert_eq!(r.results[0].runbook_id, "db-cpu");
        assert_eq!(r.results[0].actions, vec!["Kill the slow query"]);
        for q in [None, Some("  ".to_string())] {
            let e = search(
                &kb,
                &SearchQuery {
                    query: q,
                    limit: None,
                },
            )
            .unwrap_err();
            assert!(e.to_string().contains("'query'"), "{e}");
        }
        assert!(runbooks(&load(None).unwrap()).runbooks.is_empty());
        let e = load(Some(Path::new("/nonexistent/runbooks"))).unwrap_err();
        assert!(e.to_string().contains("runbooks"), "{e}");
    }
}
