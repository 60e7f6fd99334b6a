//! Service topology: what runs where and who calls whom.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{CoreError, Result};

/// What a topology node is. Unknown kinds are kept as [`NodeKind::Other`] rather than refused,
/// since every platform has its own (`lambda`, `bucket`...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeKind {
    /// An application service.
    Service,
    /// A Kubernetes pod.
    Pod,
    /// A container.
    Container,
    /// A physical or virtual machine.
    Host,
    /// A database.
    Database,
    /// A message queue or stream.
    Queue,
    /// A cache.
    Cache,
    /// A load balancer or ingress.
    LoadBalancer,
    /// A network device or link.
    Network,
    /// Anything else, by name.
    Other(String),
}

impl NodeKind {
    /// The lower-case name.
    pub fn as_str(&self) -> &str {
        match self {
            NodeKind::Service => "service",
            NodeKind::Pod => "pod",
            NodeKind::Container => "container",
            NodeKind::Host => "host",
            NodeKind::Database => "database",
            NodeKind::Queue => "queue",
            NodeKind::Cache => "cache",
            NodeKind::LoadBalancer => "load_balancer",
            NodeKind::Network => "network",
            NodeKind::Other(s) => s,
        }
    }
}

impl FromStr for NodeKind {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        Ok(match lower.as_str() {
            "service" => NodeKind::Service,
            "pod" => NodeKind::Pod,
            "container" => NodeKind::Container,
            "host" | "node" | "vm" | "machine" => NodeKind::Host,
            "database" | "db" => NodeKind::Database,
            "queue" | "topic" => NodeKind::Queue,
            "cache" => NodeKind::Cache,
            "load_balancer" | "loadbalancer" | "lb" | "ingress" => NodeKind::LoadBalancer,
            "network" => NodeKind::Network,
            "" => {
                return Err(CoreError::InvalidTopology("empty node kind".into()));
            }
            _ => NodeKind::Other(lower),
        })
    }
}

impl fmt::Display for NodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How two nodes are related. Direction matters: `calls` goes from caller to callee,
/// `runs_on` from the workload to what hosts it, `depends_on` from the dependent to its
/// dependency. In all three, trouble at `to` can cause trouble at `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EdgeKind {
    /// `from` sends requests to `to`.
    Calls,
    /// `from` runs on `to` (pod on host, container in pod).
    RunsOn,
    /// `from` needs `to` in some other way (shared storage, config, DNS).
    DependsOn,
}

impl EdgeKind {
    /// The snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Calls => "calls",
            EdgeKind::RunsOn => "runs_on",
            EdgeKind::DependsOn => "depends_on",
        }
    }
}

impl FromStr for EdgeKind {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "calls" => Ok(EdgeKind::Calls),
            "runs_on" => Ok(EdgeKind::RunsOn),
            "depends_on" => Ok(EdgeKind::DependsOn),
            _ => Err(CoreError::UnknownVariant {
                what: "edge kind",
                text: s.to_string(),
                expected: "calls, runs_on, depends_on",
            }),
        }
    }
}

impl fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! serde_via_str {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                String::deserialize(d)?
                    .parse()
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}
serde_via_str!(NodeKind);
serde_via_str!(EdgeKind);

/// A resource in the topology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Unique id, the name metrics and alerts use for the resource.
    pub id: String,
    /// What it is.
    pub kind: NodeKind,
    /// Free-form attributes (namespace, zone...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A directed relation between two nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// Source node id.
    pub from: String,
    /// Target node id.
    pub to: String,
    /// The relation.
    pub kind: EdgeKind,
}

/// A set of nodes and directed edges between them.
///
/// JSON: `{"nodes": [{"id": "cart", "kind": "service"}], "edges": [{"from": "frontend", "to":
/// "cart", "kind": "calls"}]}`. Reading validates: node ids are unique and non-empty, and every
/// edge names existing nodes and is not a self-loop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Topology {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    #[serde(skip)]
    index: HashMap<String, usize>,
}

impl<'de> Deserialize<'de> for Topology {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            nodes: Vec<Node>,
            #[serde(default)]
            edges: Vec<Edge>,
        }
        let raw = Raw::deserialize(d)?;
        Topology::new(raw.nodes, raw.edges).map_err(serde::de::Error::custom)
    }
}

impl Topology {
    /// Builds and validates a topology.
    pub fn new(nodes: Vec<Node>, edges: Vec<Edge>) -> Result<Self> {
        let mut index = HashMap::with_capacity(nodes.len());
        for (i, n) in nodes.iter().enumerate() {
            if n.id.is_empty() {
                return Err(CoreError::InvalidTopology(format!(
                    "node {i} has an empty id"
                )));
            }
            if index.insert(n.id.clone(), i).is_some() {
                return Err(CoreError::InvalidTopology(format!(
                    "node {:?} is declared twice",
                    n.id
                )));
            }
        }
        for e in &edges {
            for end in [&e.from, &e.to] {
                if !index.contains_key(end) {
                    return Err(CoreError::InvalidTopology(format!(
                        "edge {} -[{}]-> {} names unknown node {:?}",
                        e.from, e.kind, e.to, end
                    )));
                }
            }
            if e.from == e.to {
                return Err(CoreError::InvalidTopology(format!(
                    "edge {} -[{}]-> {} is a self-loop",
                    e.from, e.kind, e.to
                )));
            }
        }
        Ok(Self {
            nodes,
            edges,
            index,
        })
    }

    /// Parses and validates topology JSON.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| CoreError::json(&e, None))
    }

    /// The nodes, in declaration order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The edges, in declaration order.
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// The node with this id.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.index.get(id).map(|&i| &self.nodes[i])
    }

    /// Position of the node in [`Topology::nodes`].
    pub fn node_index(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Edges leaving `id` (what it calls, runs on, depends on).
    pub fn outgoing<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Edge> + 'a {
        self.edges.iter().filter(move |e| e.from == id)
    }

    /// Edges arriving at `id` (who calls it, runs on it, depends on it).
    pub fn incoming<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Edge> + 'a {
        self.edges.iter().filter(move |e| e.to == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SAMPLE: &str = r#"{"nodes": [{"id": "frontend", "kind": "service"},
        {"id": "cart", "kind": "service"}, {"id": "host1", "kind": "host"},
        {"id": "fn1", "kind": "lambda"}],
        "edges": [{"from": "frontend", "to": "cart", "kind": "calls"},
                  {"from": "cart", "to": "host1", "kind": "runs_on"}]}"#;

    #[test]
    fn json_shape_and_queries() {
        let t = Topology::from_json(SAMPLE).unwrap();
        assert_eq!(
            t.node("fn1").unwrap().kind,
            NodeKind::Other("lambda".into())
        );
        assert_eq!(
            t.outgoing("cart")
                .map(|e| e.to.as_str())
                .collect::<Vec<_>>(),
            ["host1"]
        );
        assert_eq!(
            t.incoming("cart")
                .map(|e| e.from.as_str())
                .collect::<Vec<_>>(),
            ["frontend"]
        );
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            json!({"nodes": [{"id": "frontend", "kind": "service"}, {"id": "cart", "kind": "service"},
                             {"id": "host1", "kind": "host"}, {"id": "fn1", "kind": "lambda"}],
                   "edges": [{"from": "frontend", "to": "cart", "kind": "calls"},
                             {"from": "cart", "to": "host1", "kind": "runs_on"}]})
        );
        let back: Topology = serde_json::from_value(serde_json::to_value(&t).unwrap()).unwrap();
        assert_eq!(back.node_index("host1"), Some(2));
    }

    #[test]
    fn rejects_bad_topologies() {
        for bad in [
            r#"{"nodes": [{"id": "a", "kind": "service"}, {"id": "a", "kind": "host"}]}"#,
            r#"{"nodes": [{"id": "a", "kind": "service"}], "edges": [{"from": "a", "to": "b", "kind": "calls"}]}"#,
            r#"{"nodes": [{"id": "a", "kind": "service"}, {"id": "b", "kind": "service"}], "edges": [{"from": "a", "to": "b", "kind": "eats"}]}"#,
            r#"{"nodes": [{"id": "a", "kind": "service"}], "edges": [{"from": "a", "to": "a", "kind": "calls"}]}"#,
            r#"{"nodes": [{"id": "", "kind": "service"}]}"#,
            r#"{"nodes": [{"id": "a"}]}"#,
            r#"{"nodes": "#,
        ] {
            assert!(Topology::from_json(bad).is_err(), "{bad}");
        }
    }
}
