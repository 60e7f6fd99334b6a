//! The topology as a graph: who depends on whom, how far apart, and what a failure reaches.
//!
//! Every edge kind points from the dependent to its dependency (`calls`: caller -> callee,
//! `runs_on`: workload -> host, `depends_on`: dependent -> dependency), so trouble travels
//! against the edges: the *dependents* of a resource are its blast radius.

use std::collections::{HashMap, VecDeque};

use petgraph::Direction;
use petgraph::algo::is_cyclic_directed;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeFiltered;

use crate::error::{CoreError, Result};
use crate::topology::{EdgeKind, NodeKind, Topology};

/// A validated topology graph (petgraph), with lookups by resource id.
#[derive(Debug, Clone)]
pub struct TopologyGraph {
    graph: DiGraph<(String, NodeKind), EdgeKind>,
    index: HashMap<String, NodeIndex>,
}

impl TopologyGraph {
    /// Builds the graph; refuses a cycle of `runs_on` edges. (Cycles of `calls` are legal:
    /// services do call each other back.)
    pub fn new(topology: &Topology) -> Result<Self> {
        let mut graph = DiGraph::with_capacity(topology.nodes().len(), topology.edges().len());
        let mut index = HashMap::with_capacity(topology.nodes().len());
        for n in topology.nodes() {
            index.insert(n.id.clone(), graph.add_node((n.id.clone(), n.kind.clone())));
        }
        for e in topology.edges() {
            // Topology::new guarantees both ends exist.
            if let (Some(&a), Some(&b)) = (index.get(&e.from), index.get(&e.to)) {
                graph.add_edge(a, b, e.kind);
            }
        }
        let runs_on = EdgeFiltered::from_fn(&graph, |e| *e.weight() == EdgeKind::RunsOn);
        if is_cyclic_directed(&runs_on) {
            let members: Vec<&str> = petgraph::algo::tarjan_scc(&runs_on)
                .into_iter()
                .find(|c| c.len() > 1)
                .unwrap_or_default()
                .into_iter()
                .map(|i| graph[i].0.as_str())
                .collect();
            return Err(CoreError::RunsOnCycle(members.join(", ")));
        }
        Ok(Self { graph, index })
    }

    fn idx(&self, id: &str) -> Result<NodeIndex> {
        self.index
            .get(id)
            .copied()
            .ok_or_else(|| CoreError::UnknownResource(id.to_string()))
    }

    /// Number of resources.
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    /// Whether the graph has no resource.
    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// The kind of a resource.
    pub fn kind(&self, id: &str) -> Result<&NodeKind> {
        Ok(&self.graph[self.idx(id)?].1)
    }

    /// Everything `id` needs, directly or not (following edges), nearest first.
    pub fn dependencies(&self, id: &str) -> Result<Vec<&str>> {
        self.reach(id, Direction::Outgoing)
    }

    /// Everything that needs `id`, directly or not: its blast radius, nearest first.
    pub fn dependents(&self, id: &str) -> Result<Vec<&str>> {
        self.reach(id, Direction::Incoming)
    }

    /// What `id` needs directly (the targets of its edges), sorted by id.
    pub fn direct_dependencies(&self, id: &str) -> Result<Vec<&str>> {
        self.direct(id, Direction::Outgoing)
    }

    /// What needs `id` directly (the sources of edges to it), sorted by id.
    pub fn direct_dependents(&self, id: &str) -> Result<Vec<&str>> {
        self.direct(id, Direction::Incoming)
    }

    /// The kinds of the edges from `from` to `to` (empty when there is none).
    pub fn edge_kinds(&self, from: &str, to: &str) -> Vec<EdgeKind> {
        match (self.index.get(from), self.index.get(to)) {
            (Some(&a), Some(&b)) => self
                .graph
                .edges_connecting(a, b)
                .map(|e| *e.weight())
                .collect(),
            _ => Vec::new(),
        }
    }

    fn direct(&self, id: &str, dir: Direction) -> Result<Vec<&str>> {
        let n = self.idx(id)?;
        let mut out: Vec<&str> = self
            .graph
            .neighbors_directed(n, dir)
            .map(|m| self.graph[m].0.as_str())
            .collect();
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Breadth-first reach; ties at one distance are ordered by id, so results are stable.
    fn reach(&self, id: &str, dir: Direction) -> Result<Vec<&str>> {
        let start = self.idx(id)?;
        let mut seen = vec![false; self.graph.node_count()];
        seen[start.index()] = true;
        let mut frontier = vec![start];
        let mut out = Vec::new();
        while !frontier.is_empty() {
            let mut next: Vec<NodeIndex> = Vec::new();
            for &n in &frontier {
                for m in self.graph.neighbors_directed(n, dir) {
                    if !seen[m.index()] {
                        seen[m.index()] = true;
                        next.push(m);
                    }
                }
            }
            next.sort_by(|a, b| self.graph[*a].0.cmp(&self.graph[*b].0));
            out.extend(next.iter().map(|&i| self.graph[i].0.as_str()));
            frontier = next;
        }
        Ok(out)
    }

    /// Every resource within `k` edges of `id`, ignoring direction, with its distance
    /// (`id` itself at 0), nearest first and by id within a distance.
    pub fn within(&self, id: &str, k: usize) -> Result<Vec<(&str, usize)>> {
        let start = self.idx(id)?;
        let mut seen = vec![false; self.graph.node_count()];
        seen[start.index()] = true;
        let mut out = vec![(self.graph[start].0.as_str(), 0)];
        let mut frontier = vec![start];
        for d in 1..=k {
            let mut next: Vec<NodeIndex> = Vec::new();
            for &n in &frontier {
                for m in self.graph.neighbors_undirected(n) {
                    if !seen[m.index()] {
                        seen[m.index()] = true;
                        next.push(m);
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            next.sort_by(|a, b| self.graph[*a].0.cmp(&self.graph[*b].0));
            out.extend(next.iter().map(|&i| (self.graph[i].0.as_str(), d)));
            frontier = next;
        }
        Ok(out)
    }

    /// Whether `id` is a resource of the topology.
    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    /// Number of edges on the shortest path between `a` and `b`, ignoring direction;
    /// `None` when they are not connected.
    pub fn hops(&self, a: &str, b: &str) -> Result<Option<usize>> {
        let (s, t) = (self.idx(a)?, self.idx(b)?);
        let mut dist = vec![usize::MAX; self.graph.node_count()];
        dist[s.index()] = 0;
        let mut queue = VecDeque::from([s]);
        while let Some(n) = queue.pop_front() {
            if n == t {
                return Ok(Some(dist[n.index()]));
            }
            for m in self.graph.neighbors_undirected(n) {
                if dist[m.index()] == usize::MAX {
                    dist[m.index()] = dist[n.index()] + 1;
                    queue.push_back(m);
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// frontend -> cart -> redis, frontend -> checkout -> payment; cart and redis run on host1.
    fn shop() -> TopologyGraph {
        let t = Topology::from_json(
            r#"{"nodes": [
                {"id": "frontend", "kind": "service"}, {"id": "cart", "kind": "service"},
                {"id": "redis", "kind": "cache"}, {"id": "checkout", "kind": "service"},
                {"id": "payment", "kind": "service"}, {"id": "host1", "kind": "host"},
                {"id": "lonely", "kind": "service"}],
              "edges": [
                {"from": "frontend", "to": "cart", "kind": "calls"},
                {"from": "cart", "to": "redis", "kind": "calls"},
                {"from": "frontend", "to": "checkout", "kind": "calls"},
                {"from": "checkout", "to": "payment", "kind": "calls"},
                {"from": "cart", "to": "host1", "kind": "runs_on"},
                {"from": "redis", "to": "host1", "kind": "runs_on"}]}"#,
        )
        .unwrap();
        TopologyGraph::new(&t).unwrap()
    }

    #[test]
    fn within_k_hops() {
        let g = shop();
        assert_eq!(g.within("cart", 0).unwrap(), [("cart", 0)]);
        assert_eq!(
            g.within("cart", 1).unwrap(),
            [("cart", 0), ("frontend", 1), ("host1", 1), ("redis", 1)]
        );
        let two: Vec<&str> = g
            .within("payment", 2)
            .unwrap()
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(two, ["payment", "checkout", "frontend"]);
        assert!(g.within("nope", 1).is_err());
        assert!(g.contains("lonely") && !g.contains("nope"));
    }

    #[test]
    fn blast_radius_follows_dependents() {
        let g = shop();
        assert_eq!(
            g.dependents("host1").unwrap(),
            ["cart", "redis", "frontend"]
        );
        assert_eq!(g.dependents("payment").unwrap(), ["checkout", "frontend"]);
        assert!(g.dependents("frontend").unwrap().is_empty());
        assert_eq!(
            g.dependencies("frontend").unwrap(),
            ["cart", "checkout", "host1", "payment", "redis"]
        );
        assert_eq!(g.kind("redis").unwrap(), &NodeKind::Cache);
        assert_eq!(g.direct_dependencies("cart").unwrap(), ["host1", "redis"]);
        assert_eq!(g.direct_dependents("host1").unwrap(), ["cart", "redis"]);
    }

    #[test]
    fn hops_ignore_direction() {
        let g = shop();
        assert_eq!(g.hops("redis", "payment").unwrap(), Some(4));
        assert_eq!(g.hops("cart", "cart").unwrap(), Some(0));
        assert_eq!(g.hops("host1", "redis").unwrap(), Some(1));
        assert_eq!(g.hops("lonely", "cart").unwrap(), None);
    }

    /// Nodes `a` and `b` of these kinds, linked by an edge of kind `edge` each way.
    fn both_ways(a_kind: &str, b_kind: &str, edge: &str) -> Topology {
        Topology::from_json(&format!(
            r#"{{"nodes": [{{"id": "a", "kind": "{a_kind}"}}, {{"id": "b", "kind": "{b_kind}"}}],
                "edges": [{{"from": "a", "to": "b", "kind": "{edge}"}},
                          {{"from": "b", "to": "a", "kind": "{edge}"}}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn bad_input() {
        let g = shop();
        assert!(matches!(
            g.dependents("nope"),
            Err(CoreError::UnknownResource(_))
        ));
        let cyc = both_ways("pod", "host", "runs_on");
        assert!(matches!(
            TopologyGraph::new(&cyc),
            Err(CoreError::RunsOnCycle(_))
        ));
        // A cycle of calls is legal.
        let calls = both_ways("service", "service", "calls");
        assert_eq!(
            TopologyGraph::new(&calls).unwrap().dependents("a").unwrap(),
            ["b"]
        );
    }
}
