//! `aiops.rca.KnowledgeBase`: the runbook knowledge base of `aiops_rca::runbook`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aiops_rca::runbook::{KnowledgeBase, Recommendation, Runbook, SearchHit};
use pyo3::prelude::*;

use crate::errors::{Error, Result};
use crate::rca::root_cause;
use crate::to_py;
use crate::topology::PyTopology;

record!(PyRunbook, Runbook, "Runbook", runbook_repr, "One runbook.", "The runbook as a dict of the same fields.", {
    /// Unique id (by default the file name without its extension).
    id: &str = |r, py| &r.id;
    /// Title.
    title: &str = |r, py| &r.title;
    /// Resource kinds it applies to, lower case (empty: any).
    kinds: Vec<String> = |r, py| r.kinds.clone();
    /// Metric name patterns (`*` wildcard; empty: any).
    metrics: Vec<String> = |r, py| r.metrics.clone();
    /// Resource ids it applies to (empty: any).
    resources: Vec<String> = |r, py| r.resources.clone();
    /// Free tags.
    tags: Vec<String> = |r, py| r.tags.clone();
    /// Steps to take.
    actions: Vec<String> = |r, py| r.actions.clone();
    /// The automatic remediation it suggests (an allow-listed name), if any.
    remediation: Option<String> = |r, py| r.remediation.clone();
    /// Free text.
    body: &str = |r, py| &r.body;
    /// The file it came from, if any.
    source: Option<PathBuf> = |r, py| r.source.clone();
});

fn runbook_repr(r: &Runbook) -> String {
    format!(
        "Runbook(id={}, title={}, actions={})",
        crate::py_str(&r.id),
        crate::py_str(&r.title),
        r.actions.len()
    )
}

/// A runbook recommended for a root cause.
#[pyclass(frozen, eq, get_all, name = "Recommendation", module = "aiops._aiops")]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyRecommendation {
    /// Runbook id.
    runbook: String,
    /// Runbook title.
    title: String,
    /// The root cause's resource.
    resource: String,
    /// The root cause's metric, if any.
    metric: Option<String>,
    /// Rank of the root cause it is for.
    cause_rank: usize,
    /// How well it fits (the cause's confidence times the runbook's specificity).
    score: f64,
    /// Steps to take.
    actions: Vec<String>,
    /// The runbook's suggested automatic remediation (an allow-listed name), if any.
    remediation: Option<String>,
}

impl From<Recommendation> for PyRecommendation {
    fn from(r: Recommendation) -> Self {
        Self {
            runbook: r.runbook,
            title: r.title,
            resource: r.resource,
            metric: r.metric,
            cause_rank: r.cause_rank,
            score: r.score,
            actions: r.actions,
            remediation: r.remediation,
        }
    }
}

#[pymethods]
impl PyRecommendation {
    /// The recommendation as a dict of the same fields.
    fn to_dict<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyAny>> {
        to_py(
            py,
            &Recommendation {
                runbook: self.runbook.clone(),
                title: self.title.clone(),
                resource: self.resource.clone(),
                metric: self.metric.clone(),
                cause_rank: self.cause_rank,
                score: self.score,
                actions: self.actions.clone(),
                remediation: self.remediation.clone(),
            },
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "Recommendation(runbook={}, resource={}, cause_rank={}, score={:?})",
            crate::py_str(&self.runbook),
            crate::py_str(&self.resource),
            self.cause_rank,
            self.score
        )
    }
}

/// A full-text search hit.
#[pyclass(frozen, eq, get_all, name = "SearchHit", module = "aiops._aiops")]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PySearchHit {
    /// Runbook id.
    runbook: String,
    /// Runbook title.
    title: String,
    /// BM25 score (higher is better).
    score: f64,
}

impl From<SearchHit> for PySearchHit {
    fn from(h: SearchHit) -> Self {
        Self {
            runbook: h.runbook,
            title: h.title,
            score: h.score,
        }
    }
}

#[pymethods]
impl PySearchHit {
    fn __repr__(&self) -> String {
        format!(
            "SearchHit(runbook={}, score={:?})",
            crate::py_str(&self.runbook),
            self.score
        )
    }
}

/// Runbooks matched to root causes by resource kind, metric and resource, with BM25
/// full-text search.
#[pyclass(name = "KnowledgeBase", module = "aiops._aiops", frozen)]
pub(crate) struct PyKnowledgeBase {
    pub(crate) kb: KnowledgeBase,
}

#[pymethods]
impl PyKnowledgeBase {
    /// A knowledge base from documents given as `{file name: text}` (`.md` with YAML front
    /// matter, or `.yaml` / `.yml`; the name gives the default id).
    #[new]
    fn new(documents: BTreeMap<String, String>) -> Result<Self> {
        let runbooks = documents
            .iter()
            .map(|(name, text)| Runbook::parse(name, text))
            .collect::<aiops_rca::Result<Vec<_>>>()?;
        Ok(Self {
            kb: KnowledgeBase::new(runbooks)?,
        })
    }

    /// Loads every `.md`, `.markdown`, `.yaml` and `.yml` file under a folder.
    #[staticmethod]
    fn load_dir(path: PathBuf) -> Result<Self> {
        Ok(Self {
            kb: KnowledgeBase::load_dir(&path)?,
        })
    }

    fn __len__(&self) -> usize {
        self.kb.len()
    }

    fn __repr__(&self) -> String {
        format!("KnowledgeBase(runbooks={})", self.kb.len())
    }

    /// The runbooks, sorted by id.
    fn runbooks(&self) -> Vec<PyRunbook> {
        self.kb
            .runbooks()
            .iter()
            .map(|r| PyRunbook { inner: r.clone() })
            .collect()
    }

    /// BM25 search: at most `limit` hits, best first.
    #[pyo3(signature = (query, limit = 10))]
    fn search(&self, query: &str, limit: usize) -> Vec<PySearchHit> {
        self.kb
            .search(query, limit)
            .into_iter()
            .map(PySearchHit::from)
            .collect()
    }

    /// Runbooks for the first `top` root causes (`RootCause` objects, as in an `RcaReport`,
    /// or dicts of their fields), given each resource's kind by a `Topology` or a dict
    /// `{resource: kind}`.
    #[pyo3(signature = (causes, kinds, top = 3))]
    fn recommend(
        &self,
        causes: Vec<Bound<'_, PyAny>>,
        kinds: &Bound<'_, PyAny>,
        top: usize,
    ) -> Result<Vec<PyRecommendation>> {
        let causes = causes.iter().map(root_cause).collect::<Result<Vec<_>>>()?;
        let rec = if let Ok(t) = kinds.cast::<PyTopology>() {
            let g = &t.get().graph;
            self.kb.recommend(
                &causes,
                |r| g.kind(r).ok().map(|k| k.as_str().to_string()),
                top,
            )
        } else {
            let map: BTreeMap<String, String> = kinds.extract().map_err(|_| {
                Error::Py(pyo3::exceptions::PyTypeError::new_err(
                    "kinds is a Topology or a dict {resource: kind}",
                ))
            })?;
            self.kb.recommend(&causes, |r| map.get(r).cloned(), top)
        };
        Ok(rec.into_iter().map(PyRecommendation::from).collect())
    }
}
