//! Root-cause ranking: a `Topology`, the metrics as NumPy, the report as typed objects.

use aiops_core::RootCause;
use aiops_core::time::format_rfc3339;
use aiops_rca::rank::{AnomalyTimeSource, Method, MetricFrame, Ranking, rank};
use numpy::{AllowTypeChange, PyArrayLike2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{Error, Result};
use crate::runbook::{PyKnowledgeBase, PyRecommendation};
use crate::time::{ms_array, ms_scalar};
use crate::to_py;
use crate::topology::PyTopology;

/// How many root causes get runbooks in a report (as `aiops rca --runbooks`).
const RUNBOOK_CAUSES: usize = 3;

record!(PyRootCause, RootCause, "RootCause", root_cause_repr, "One candidate root cause.",
    "`{\"rank\", \"resource\", \"metric\", \"score\", \"confidence\", \"evidence\", \"affected\"}`.", {
    /// Position, 1 = most likely.
    rank: usize = |c, py| c.rank;
    /// The resource.
    resource: &str = |c, py| &c.resource;
    /// Its most telling metric, if any.
    metric: Option<&str> = |c, py| c.metric.as_deref();
    /// The method's score (higher is more likely).
    score: f64 = |c, py| c.score;
    /// Calibrated probability in [0, 1] that it is the cause.
    confidence: f64 = |c, py| c.confidence;
    /// Sentences built from the data.
    evidence: Vec<String> = |c, py| c.evidence.clone();
    /// Its blast radius: every resource that depends on it, nearest first.
    affected: Vec<String> = |c, py| c.affected.clone();
} {
    /// A root cause, as a ranking makes them (for `KnowledgeBase.recommend`).
    #[new]
    #[pyo3(signature = (rank, resource, metric = None, score = 0.0, confidence = 0.0,
        evidence = Vec::new(), affected = Vec::new()))]
    fn new(
        rank: usize,
        resource: String,
        metric: Option<String>,
        score: f64,
        confidence: f64,
        evidence: Vec<String>,
        affected: Vec<String>,
    ) -> Self {
        Self {
            inner: RootCause {
                rank,
                resource,
                metric,
                score,
                confidence,
                evidence,
                affected,
            },
        }
    }
});

fn root_cause_repr(c: &RootCause) -> String {
    format!(
        "RootCause(rank={}, resource={}, metric={}, score={:?}, confidence={:?})",
        c.rank,
        crate::py_str(&c.resource),
        c.metric
            .as_deref()
            .map_or("None".to_string(), crate::py_str),
        c.score,
        c.confidence
    )
}

/// The report of a root-cause ranking.
#[pyclass(frozen, name = "RcaReport", module = "aiops._aiops")]
#[derive(Debug)]
pub(crate) struct PyRcaReport {
    ranking: Ranking,
    recommended: Vec<aiops_rca::runbook::Recommendation>,
}

#[pymethods]
impl PyRcaReport {
    /// The anomaly time used, int ms since the epoch.
    #[getter]
    fn anomaly_time(&self) -> i64 {
        self.ranking.anomaly_time
    }

    /// How the anomaly time was obtained: "anomaly time given", or how it was found.
    #[getter]
    fn anomaly_time_source(&self) -> String {
        self.ranking.anomaly_time_source.describe()
    }

    /// Whether the anomaly time was found in the data (not given).
    #[getter]
    fn anomaly_time_detected(&self) -> bool {
        matches!(
            self.ranking.anomaly_time_source,
            AnomalyTimeSource::Detected(_)
        )
    }

    /// The ranking method's name.
    #[getter]
    fn method(&self) -> &'static str {
        self.ranking.method.as_str()
    }

    /// Every candidate resource, best first.
    #[getter]
    fn root_causes(&self, py: Python<'_>) -> PyResult<Vec<Py<PyRootCause>>> {
        self.ranking
            .root_causes
            .iter()
            .map(|c| Py::new(py, PyRootCause { inner: c.clone() }))
            .collect()
    }

    /// The impact: the blast radius of the best candidate, nearest first.
    #[getter]
    fn affected(&self) -> Vec<String> {
        self.ranking.affected.clone()
    }

    /// Runbooks matched to the first root causes (empty without a knowledge base).
    #[getter]
    fn recommended_actions(&self, py: Python<'_>) -> PyResult<Vec<Py<PyRecommendation>>> {
        self.recommended
            .iter()
            .map(|r| Py::new(py, PyRecommendation::from(r.clone())))
            .collect()
    }

    /// What was done to the input (how the time was found, gaps filled...).
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.ranking.notes.clone()
    }

    /// The report of `aiops rca` (`anomaly_time` as RFC 3339 text, `method`, `root_causes`,
    /// `impact` `{"affected"}`, `recommended_actions`) plus `notes`.
    fn to_dict<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyAny>> {
        let actions = self
            .recommended
            .iter()
            .map(|r| serde_json::to_value(r).map_err(|e| Error::Other(e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        let d = to_py(py, &self.ranking.report(actions))?;
        d.set_item("notes", &self.ranking.notes)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let best = self
            .ranking
            .root_causes
            .first()
            .map_or("None".to_string(), |c| crate::py_str(&c.resource));
        format!(
            "RcaReport(anomaly_time={} ({}), method={}, best={best}, candidates={})",
            self.ranking.anomaly_time,
            format_rfc3339(self.ranking.anomaly_time),
            crate::py_str(self.ranking.method.as_str()),
            self.ranking.root_causes.len()
        )
    }
}

/// Ranks the resources of `topology` as the root cause of the incident seen in `values`
/// (shape `(len(timestamps), len(columns))`, NaN = missing), whose columns are named
/// `<resource>:<metric>` and whose rows are at `timestamps` (int ms or datetime64).
/// `anomaly_time` (a timestamp or RFC 3339 text) is found in the data when None. With a
/// `knowledge_base`, the report recommends its runbooks for the first three causes. The GIL
/// is released while ranking.
#[pyfunction]
#[pyo3(signature = (topology, timestamps, values, columns, anomaly_time = None,
    method = "default", knowledge_base = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn rca_rank(
    py: Python<'_>,
    topology: PyRef<'_, PyTopology>,
    timestamps: &Bound<'_, PyAny>,
    values: PyArrayLike2<'_, f64, AllowTypeChange>,
    columns: Vec<String>,
    anomaly_time: Option<&Bound<'_, PyAny>>,
    method: &str,
    knowledge_base: Option<PyRef<'_, PyKnowledgeBase>>,
) -> Result<PyRcaReport> {
    let method: Method = method.parse()?;
    let time = anomaly_time
        .filter(|t| !t.is_none())
        .map(|t| ms_scalar(t, "anomaly_time"))
        .transpose()?;
    let ts = ms_array(timestamps, "timestamps")?;
    let v = values.as_array();
    let (rows, cols) = v.dim();
    if rows != ts.len() || cols != columns.len() {
        return Err(Error::Param(format!(
            "values has shape ({rows}, {cols}); expected ({}, {}) = (len(timestamps), len(columns))",
            ts.len(),
            columns.len()
        )));
    }
    let data: Vec<Vec<f64>> = (0..cols).map(|c| v.column(c).to_vec()).collect();
    let graph = &topology.graph;
    let kb = knowledge_base.as_ref().map(|k| &k.kb);
    py.detach(|| -> Result<PyRcaReport> {
        let frame = MetricFrame::new(graph, ts, &columns, data)?;
        let ranking = rank(graph, &frame, time, method)?;
        let recommended = match kb {
            Some(kb) => kb.recommend(
                &ranking.root_causes,
                |id| graph.kind(id).ok().map(|k| k.as_str().to_string()),
                RUNBOOK_CAUSES,
            ),
            None => Vec::new(),
        };
        Ok(PyRcaReport {
            ranking,
            recommended,
        })
    })
}

/// The ranking methods' names, the default first.
#[pyfunction]
pub(crate) fn rca_method_names() -> Vec<&'static str> {
    Method::ALL.iter().map(|m| m.as_str()).collect()
}

/// A root cause from a `RootCause` or a dict of its fields.
pub(crate) fn root_cause(obj: &Bound<'_, PyAny>) -> Result<RootCause> {
    if let Ok(c) = obj.cast::<PyRootCause>() {
        return Ok(c.get().inner.clone());
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        return pythonize::depythonize(d.as_any())
            .map_err(|e| Error::Parse(format!("root cause: {e}")));
    }
    Err(Error::Py(pyo3::exceptions::PyTypeError::new_err(
        "a root cause is a RootCause or a dict of its fields",
    )))
}
