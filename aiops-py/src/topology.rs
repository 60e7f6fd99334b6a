//! `aiops.rca.Topology`: the topology graph of `aiops_core::topology_graph` (who depends on whom, blast
//! radius, distances), built from the topology JSON every aiops command reads.

use aiops_core::Topology;
use aiops_core::TopologyGraph;
use pyo3::prelude::*;

use crate::errors::{Error, Result};

/// A checked topology: `{"nodes": [{"id", "kind"}], "edges": [{"from", "to", "kind"}]}` with
/// edge kinds `calls` (caller -> callee), `runs_on` and `depends_on`. Trouble travels against
/// the edges, so a resource's dependents are its blast radius.
#[pyclass(name = "Topology", module = "aiops._aiops", frozen)]
pub(crate) struct PyTopology {
    graph: TopologyGraph,
    ids: Vec<String>,
}

fn owned(v: Vec<&str>) -> Vec<String> {
    v.into_iter().map(str::to_string).collect()
}

#[pymethods]
impl PyTopology {
    /// From the topology JSON text. Raises ParseError for bad JSON and InvalidInputError for
    /// an edge to an unknown node or a cycle of `runs_on` edges.
    #[new]
    fn new(json: &str) -> Result<Self> {
        let t: Topology =
            serde_json::from_str(json).map_err(|e| Error::Parse(format!("topology: {e}")))?;
        let ids = t.nodes().iter().map(|n| n.id.clone()).collect();
        Ok(Self {
            graph: TopologyGraph::new(&t)?,
            ids,
        })
    }

    fn __len__(&self) -> usize {
        self.graph.len()
    }

    fn __contains__(&self, id: &str) -> bool {
        self.graph.contains(id)
    }

    /// Resource ids, in the order of the JSON.
    fn nodes(&self) -> Vec<String> {
        self.ids.clone()
    }

    /// The kind of a resource (`service`, `host`, ...).
    fn kind(&self, id: &str) -> Result<String> {
        Ok(self.graph.kind(id)?.as_str().to_string())
    }

    /// Everything `id` needs, directly or not, nearest first (`direct=True`: its edges'
    /// targets only, sorted).
    #[pyo3(signature = (id, direct = false))]
    fn dependencies(&self, id: &str, direct: bool) -> Result<Vec<String>> {
        Ok(owned(if direct {
            self.graph.direct_dependencies(id)?
        } else {
            self.graph.dependencies(id)?
        }))
    }

    /// Everything that needs `id`, directly or not, nearest first: its blast radius
    /// (`direct=True`: the sources of edges to it only, sorted).
    #[pyo3(signature = (id, direct = false))]
    fn dependents(&self, id: &str, direct: bool) -> Result<Vec<String>> {
        Ok(owned(if direct {
            self.graph.direct_dependents(id)?
        } else {
            self.graph.dependents(id)?
        }))
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
