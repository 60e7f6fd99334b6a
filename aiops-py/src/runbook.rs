//! `aiops.rca.KnowledgeBase`: the runbook knowledge base of `aiops_rca::runbook`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aiops_core::RootCause;
use aiops_rca::runbook::{KnowledgeBase, Runbook};
use pyo3::prelude::*;

use crate::errors::{Error, Result};
use crate::to_py;

/// Runbooks matched to root causes by resource kind, metric and resource, with BM25
/// full-text search.
#[pyclass(name = "KnowledgeBase", module = "aiops._aiops", frozen)]
pub(crate) struct PyKnowledgeBase {
    kb: KnowledgeBase,
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

    /// The runbooks as dicts (`id`, `title`, `kinds`, `metrics`, `resources`, `tags`,
    /// `actions`, `body`, `source`).
    fn runbooks<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyAny>> {
        to_py(py, &self.kb.runbooks())
    }

    /// BM25 search: at most `limit` hits `{"runbook", "title", "score"}`, best first.
    #[pyo3(signature = (query, limit = 10))]
    fn search<'py>(&self, py: Python<'py>, query: &str, limit: usize) -> Result<Bound<'py, PyAny>> {
        to_py(py, &self.kb.search(query, limit))
    }

    /// Runbooks for the first `top` root causes (dicts shaped like `aiops rca`'s
    /// `root_causes`), given each resource's kind in `kinds`: a list of `{"runbook",
    /// "title", "resource", "metric", "cause_rank", "score", "actions"}`.
    #[pyo3(signature = (causes, kinds, top = 3))]
    fn recommend<'py>(
        &self,
        py: Python<'py>,
        causes: &Bound<'py, PyAny>,
        kinds: BTreeMap<String, String>,
        top: usize,
    ) -> Result<Bound<'py, PyAny>> {
        let text: String = py
            .import("json")?
            .call_method1("dumps", (causes,))?
            .extract()?;
        let causes: Vec<RootCause> =
            serde_json::from_str(&text).map_err(|e| Error::Parse(format!("causes: {e}")))?;
        let rec = self.kb.recommend(&causes, |r| kinds.get(r).cloned(), top);
        to_py(py, &rec)
    }
}
