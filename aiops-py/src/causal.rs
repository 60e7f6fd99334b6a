//! `aiops.rca` causal discovery: PC and Granger on a NumPy matrix (samples x variables).
//!
//! The functions convert and delegate to `aiops_rca::causal`; the fits run with the GIL
//! released. Results are frozen objects holding NumPy arrays and plain Python lists.

use aiops_rca::causal::granger::{GrangerParams, LagCriterion};
use aiops_rca::causal::pc::{Knowledge, PcParams, SepsetRule, TopologyPrior};
use aiops_rca::causal::{CausalGraph, default_names};
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::errors::{Error, Result};
use crate::topology::PyTopology;

/// A learned causal graph over named variables: a CPDAG from `pc` (directed and undirected
/// edges), a directed graph from `granger`.
#[pyclass(frozen, name = "CausalGraph", module = "aiops._aiops")]
#[derive(Debug)]
pub(crate) struct PyCausalGraph {
    /// Variable names, in column order.
    #[pyo3(get)]
    names: Vec<String>,
    /// `adjacency[i, j] == 1` when `i -> j` or `i -- j` (uint8, shape (p, p)); an undirected
    /// edge sets both `[i, j]` and `[j, i]`.
    #[pyo3(get)]
    adjacency: Py<PyArray2<u8>>,
    /// Edges as `(source, target, directed, p_value)`; an undirected edge lists the earlier
    /// column first. `p_value`: PC's largest p-value among the tests the edge survived,
    /// Granger's F-test p-value.
    #[pyo3(get)]
    edges: Vec<(String, String, bool, f64)>,
    /// Conditional independence tests run (PC; 0 for Granger).
    #[pyo3(get)]
    tests: usize,
    graph: CausalGraph,
}

impl PyCausalGraph {
    fn new(py: Python<'_>, graph: CausalGraph, tests: usize) -> Self {
        let names = graph.names().to_vec();
        let edges = graph
            .edges()
            .iter()
            .map(|e| {
                (
                    names[e.from].clone(),
                    names[e.to].clone(),
                    e.directed,
                    e.p_value,
                )
            })
            .collect();
        Self {
            adjacency: graph.adjacency().into_pyarray(py).unbind(),
            names,
            edges,
            tests,
            graph,
        }
    }

    fn index(&self, name: &str) -> Result<usize> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| Error::Param(format!("unknown variable {name:?}")))
    }
}

#[pymethods]
impl PyCausalGraph {
    /// Parents of `name`: the sources of directed edges into it.
    fn parents(&self, name: &str) -> Result<Vec<String>> {
        let v = self.index(name)?;
        Ok(self
            .graph
            .parents(v)
            .into_iter()
            .map(|p| self.names[p].clone())
            .collect())
    }

    /// Whether the directed edge `source -> target` is in the graph.
    fn has_edge(&self, source: &str, target: &str) -> Result<bool> {
        Ok(self
            .graph
            .has_directed(self.index(source)?, self.index(target)?))
    }

    /// Whether `a` and `b` are joined by an edge of any kind.
    fn is_adjacent(&self, a: &str, b: &str) -> Result<bool> {
        Ok(self.graph.is_adjacent(self.index(a)?, self.index(b)?))
    }

    fn __len__(&self) -> usize {
        self.edges.len()
    }

    fn __repr__(&self) -> String {
        let directed = self.edges.iter().filter(|e| e.2).count();
        format!(
            "CausalGraph(variables={}, edges={}, directed={})",
            self.names.len(),
            self.edges.len(),
            directed
        )
    }
}

/// Pairwise Granger causality: the significant edges and every pair's test.
#[pyclass(frozen, name = "GrangerResult", module = "aiops._aiops")]
#[derive(Debug)]
pub(crate) struct PyGrangerResult {
    /// Edges `x -> y` with p-value below alpha (one per pair: the stronger direction).
    #[pyo3(get)]
    graph: Py<PyCausalGraph>,
    /// `p_values[x, y]`: p-value of "x Granger-causes y" (float64, NaN on the diagonal).
    #[pyo3(get)]
    p_values: Py<PyArray2<f64>>,
    /// `f_statistics[x, y]`: its F statistic (float64, NaN on the diagonal).
    #[pyo3(get)]
    f_statistics: Py<PyArray2<f64>>,
    /// `lags[x, y]`: the lag chosen for that test (int64 samples, 0 on the diagonal).
    #[pyo3(get)]
    lags: Py<PyArray2<i64>>,
}

#[pymethods]
impl PyGrangerResult {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!("GrangerResult({})", self.graph.borrow(py).__repr__())
    }
}

fn names_or_default(names: Option<Vec<String>>, p: usize) -> Vec<String> {
    names.unwrap_or_else(|| default_names(p))
}

fn pairs(v: Option<Vec<(String, String)>>) -> Vec<(String, String)> {
    v.unwrap_or_default()
}

/// PC (stable, Fisher z) on `data` (float64, shape (samples, variables)).
#[pyfunction]
#[pyo3(signature = (data, names = None, alpha = 0.05, max_cond_size = None, forbidden = None,
    required = None, root_nodes = None, leaf_nodes = None, knowledge = None, topology = None,
    max_hops = 1, follow_dependencies = false, sepset_rule = "union"))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn causal_pc(
    py: Python<'_>,
    data: PyReadonlyArray2<'_, f64>,
    names: Option<Vec<String>>,
    alpha: f64,
    max_cond_size: Option<usize>,
    forbidden: Option<Vec<(String, String)>>,
    required: Option<Vec<(String, String)>>,
    root_nodes: Option<Vec<String>>,
    leaf_nodes: Option<Vec<String>>,
    knowledge: Option<&str>,
    topology: Option<PyRef<'_, PyTopology>>,
    max_hops: usize,
    follow_dependencies: bool,
    sepset_rule: &str,
) -> Result<PyCausalGraph> {
    let view = data.as_array();
    let names = names_or_default(names, view.ncols());
    let mut k = match knowledge {
        Some(text) => Knowledge::from_yaml(text)?,
        None => Knowledge::new(),
    };
    k.forbidden.extend(pairs(forbidden));
    k.required.extend(pairs(required));
    k.root_nodes.extend(root_nodes.unwrap_or_default());
    k.leaf_nodes.extend(leaf_nodes.unwrap_or_default());
    let mut params = PcParams::new()
        .alpha(alpha)
        .max_cond_size(max_cond_size)
        .sepset_rule(sepset_rule.parse::<SepsetRule>()?)
        .knowledge(k);
    if let Some(topo) = topology {
        let prior = TopologyPrior::new(topo.graph.clone(), max_hops)
            .follow_dependencies(follow_dependencies);
        params = params.topology(prior);
    }
    let pc = params.check()?;
    let r = py.detach(|| pc.fit(view, &names))?;
    Ok(PyCausalGraph::new(py, r.graph, r.tests))
}

/// Pairwise Granger causality on `data` (float64, shape (samples, variables), rows in time
/// order).
#[pyfunction]
#[pyo3(signature = (data, names = None, max_lag = 5, criterion = "bic", alpha = 0.05,
    conditional = false))]
pub(crate) fn causal_granger(
    py: Python<'_>,
    data: PyReadonlyArray2<'_, f64>,
    names: Option<Vec<String>>,
    max_lag: usize,
    criterion: &str,
    alpha: f64,
    conditional: bool,
) -> Result<PyGrangerResult> {
    let view = data.as_array();
    let names = names_or_default(names, view.ncols());
    let criterion: LagCriterion = criterion.parse()?;
    let g = GrangerParams::new()
        .max_lag(max_lag)
        .criterion(criterion)
        .alpha(alpha)
        .conditional(conditional)
        .check()?;
    let r = py.detach(|| g.fit(view, &names))?;
    let graph = Py::new(py, PyCausalGraph::new(py, r.graph, 0))?;
    Ok(PyGrangerResult {
        graph,
        p_values: r.p_values.into_pyarray(py).unbind(),
        f_statistics: r.f_statistics.into_pyarray(py).unbind(),
        lags: r.lags.mapv(|l| l as i64).into_pyarray(py).unbind(),
    })
}
