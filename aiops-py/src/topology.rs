//! `Topology`: a checked `aiops_core::Topology` with its graph (who depends on whom, blast
//! radius, distances), built from nodes and edges, a dict, JSON text or a JSON file.

use std::path::PathBuf;

use aiops_core::TopologyGraph;
use aiops_core::{Edge, Node, Topology};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{Error, Result};
use crate::to_py;

/// A checked topology: resources (`nodes`, each with an `id` and a `kind`) and the edges
/// between them (`calls`: caller -> callee, `runs_on`, `depends_on`). Trouble travels against
/// the edges, so a resource's dependents are its blast radius. Every API that needs the
/// topology (the alert engine, root-cause ranking, PC) takes this object.
#[pyclass(name = "Topology", module = "aiops._aiops", frozen)]
pub(crate) struct PyTopology {
    pub(crate) topology: Topology,
    pub(crate) graph: TopologyGraph,
}

fn owned(v: Vec<&str>) -> Vec<String> {
    v.into_iter().map(str::to_string).collect()
}

/// The resources `near` finds for `id` when `direct`, else those `far` finds.
fn related<'g>(
    graph: &'g TopologyGraph,
    id: &str,
    direct: bool,
    near: fn(&'g TopologyGraph, &str) -> aiops_core::Result<Vec<&'g str>>,
    far: fn(&'g TopologyGraph, &str) -> aiops_core::Result<Vec<&'g str>>,
) -> Result<Vec<String>> {
    let find = if direct { near } else { far };
    Ok(owned(find(graph, id)?))
}

/// A node from a dict (`{"id", "kind", "labels"?}`) or an `(id, kind)` pair.
fn node(item: &Bound<'_, PyAny>) -> Result<Node> {
    if item.is_instance_of::<PyDict>() {
        return pythonize::depythonize(item)
            .map_err(|e| Error::Parse(format!("topology node: {e}")));
    }
    let (id, kind): (String, String) = item.extract().map_err(|_| {
        Error::Py(PyTypeError::new_err(
            "a topology node is a dict {\"id\", \"kind\"} or an (id, kind) pair",
        ))
    })?;
    Ok(Node {
        id,
        kind: kind.parse()?,
        labels: Default::default(),
    })
}

/// An edge from a dict (`{"from", "to", "kind"}`) or a `(from, to, kind)` triple.
fn edge(item: &Bound<'_, PyAny>) -> Result<Edge> {
    if item.is_instance_of::<PyDict>() {
        return pythonize::depythonize(item)
            .map_err(|e| Error::Parse(format!("topology edge: {e}")));
    }
    let (from, to, kind): (String, String, String) = item.extract().map_err(|_| {
        Error::Py(PyTypeError::new_err(
            "a topology edge is a dict {\"from\", \"to\", \"kind\"} or a (from, to, kind) triple",
        ))
    })?;
    Ok(Edge {
        from,
        to,
        kind: kind.parse()?,
    })
}

impl PyTopology {
    pub(crate) fn build(topology: Topology) -> Result<Self> {
        Ok(Self {
            graph: TopologyGraph::new(&topology)?,
            topology,
        })
    }

    fn from_parts(nodes: &Bound<'_, PyAny>, edges: Option<&Bound<'_, PyAny>>) -> Result<Self> {
        let nodes = nodes
            .try_iter()?
            .map(|n| node(&n?))
            .collect::<Result<Vec<_>>>()?;
        let edges = match edges {
            Some(e) if !e.is_none() => e
                .try_iter()?
                .map(|x| edge(&x?))
                .collect::<Result<Vec<_>>>()?,
            _ => Vec::new(),
        };
        Self::build(Topology::new(nodes, edges)?)
    }
}

#[pymethods]
impl PyTopology {
    /// From nodes (dicts `{"id", "kind"}` or `(id, kind)` pairs) and edges (dicts
    /// `{"from", "to", "kind"}` or `(from, to, kind)` triples). Raises InvalidInputError for
    /// a duplicate node, an edge to an unknown node or a cycle of `runs_on` edges, and
    /// InvalidParameterError for an unknown edge kind.
    #[new]
    #[pyo3(signature = (nodes, edges = None))]
    fn new(nodes: &Bound<'_, PyAny>, edges: Option<&Bound<'_, PyAny>>) -> Result<Self> {
        Self::from_parts(nodes, edges)
    }

    /// From a dict shaped like the topology JSON: `{"nodes": [...], "edges": [...]}`.
    #[staticmethod]
    fn from_dict(data: &Bound<'_, PyDict>) -> Result<Self> {
        for key in data.keys() {
            let key: String = key.extract()?;
            if key != "nodes" && key != "edges" {
                return Err(Error::Parse(format!(
                    "topology: unknown key {key:?}; expected \"nodes\" and \"edges\""
                )));
            }
        }
        let nodes = data
            .get_item("nodes")?
            .ok_or_else(|| Error::Parse("topology: missing key \"nodes\"".into()))?;
        let edges = data.get_item("edges")?;
        Self::from_parts(&nodes, edges.as_ref())
    }

    /// From the topology JSON text (`{"nodes": [...], "edges": [...]}`); raises ParseError
    /// for malformed JSON.
    #[staticmethod]
    fn from_json(text: &str) -> Result<Self> {
        Self::build(Topology::from_json(text)?)
    }

    /// Reads a topology JSON file.
    #[staticmethod]
    fn from_file(path: PathBuf) -> Result<Self> {
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(e, &path))?;
        Self::build(Topology::from_json(&text).map_err(|e| Error::from(e).at(&path))?)
    }

    /// The topology as a dict shaped like its JSON: `{"nodes": [...], "edges": [...]}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyAny>> {
        to_py(py, &self.topology)
    }

    /// Edges as `(from, to, kind)`, in declaration order.
    fn edges(&self) -> Vec<(String, String, &'static str)> {
        self.topology
            .edges()
            .iter()
            .map(|e| (e.from.clone(), e.to.clone(), e.kind.as_str()))
            .collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "Topology(nodes={}, edges={})",
            self.topology.nodes().len(),
            self.topology.edges().len()
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyTopology>()
            .is_ok_and(|o| o.get().topology == self.topology)
    }

    fn __getnewargs__<'py>(
        &self,
        py: Python<'py>,
    ) -> Result<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let d = self.to_dict(py)?;
        Ok((d.get_item("nodes")?, d.get_item("edges")?))
    }

    fn __len__(&self) -> usize {
        self.graph.len()
    }

    fn __contains__(&self, id: &str) -> bool {
        self.graph.contains(id)
    }

    /// Resource ids, in declaration order.
    fn nodes(&self) -> Vec<String> {
        self.topology.nodes().iter().map(|n| n.id.clone()).collect()
    }

    /// The kind of a resource (`service`, `host`, ...).
    fn kind(&self, id: &str) -> Result<String> {
        Ok(self.graph.kind(id)?.as_str().to_string())
    }

    /// Everything `id` needs, directly or not, nearest first (`direct=True`: its edges'
    /// targets only, sorted).
    #[pyo3(signature = (id, direct = false))]
    fn dependencies(&self, id: &str, direct: bool) -> Result<Vec<String>> {
        related(
            &self.graph,
            id,
            direct,
            TopologyGraph::direct_dependencies,
            TopologyGraph::dependencies,
        )
    }

    /// Everything that needs `id`, directly or not, nearest first: its blast radius
    /// (`direct=True`: the sources of edges to it only, sorted).
    #[pyo3(signature = (id, direct = false))]
    fn dependents(&self, id: &str, direct: bool) -> Result<Vec<String>> {
        related(
            &self.graph,
            id,
            direct,
            TopologyGraph::direct_dependents,
            TopologyGraph::dependents,
        )
    }

    /// The blast radius of `id`: every resource whose health depends on it.
    fn blast_radius(&self, id: &str) -> Result<Vec<String>> {
        Ok(owned(self.graph.dependents(id)?))
    }

    /// Resources within `k` edges of `id` ignoring direction, as `(id, distance)`, nearest
    /// first.
    fn within(&self, id: &str, k: usize) -> Result<Vec<(String, usize)>> {
        Ok(self
            .graph
            .within(id, k)?
            .into_iter()
            .map(|(r, d)| (r.to_string(), d))
            .collect())
    }

    /// Edges on the shortest path between `a` and `b` ignoring direction; None when they
    /// are not connected.
    fn hops(&self, a: &str, b: &str) -> Result<Option<usize>> {
        Ok(self.graph.hops(a, b)?)
    }
}
