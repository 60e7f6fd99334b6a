//! The topology endpoints' logic: the current topology (`GET|PUT /api/v1/topology`) and a
//! resource's dependencies (`GET /api/v1/topology/{id}/dependencies`).
//!
//! The current topology lives in [`TopologyState`]: a PUT validates it (node ids, edges,
//! no `runs_on` cycle), stores it under [`TOPOLOGY_KEY`] and swaps it in, so readers see it
//! at once. At start the stored one wins over the configuration's `topology` file (the file
//! only seeds a store that has none).
//!
//! Edges point from the dependent to its dependency (`calls`: caller -> callee), so a
//! resource's *upstream* are the resources it needs (following edges) and its *downstream*
//! the ones that need it (its blast radius), both transitive, nearest first.

use std::sync::{Arc, RwLock};

use aiops_core::{TimestampMs, Topology, TopologyGraph};
use aiops_store::Store;
use serde::{Deserialize, Serialize};

use crate::error::{Result, ServiceError};

/// The store's key of the current topology (JSON of nodes and edges).
pub const TOPOLOGY_KEY: &str = "topology";

/// A validated topology with its graph.
#[derive(Debug, Clone)]
pub struct CurrentTopology {
    /// Nodes and edges.
    pub topology: Topology,
    /// The graph.
    pub graph: TopologyGraph,
}

impl CurrentTopology {
    /// Validates a topology into its graph (a `runs_on` cycle is refused, 400).
    pub fn new(topology: Topology) -> Result<Self> {
        let graph = TopologyGraph::new(&topology)?;
        Ok(Self { topology, graph })
    }
}

/// The current topology, shared by the request handlers.
#[derive(Debug, Default)]
pub struct TopologyState {
    current: RwLock<Option<Arc<CurrentTopology>>>,
    /// Orders writers, so that the stored topology and the one in memory stay the same.
    writer: tokio::sync::Mutex<()>,
}

/// What a PUT changed (for the audit log).
#[derive(Debug, Clone, PartialEq)]
pub struct TopologyChange {
    /// The topology before (empty when there was none).
    pub before: Topology,
    /// The topology after.
    pub after: Topology,
}

impl TopologyState {
    /// A state holding `topology` (None: empty).
    pub fn new(topology: Option<Topology>) -> Result<Self> {
        Ok(Self {
            current: RwLock::new(
                topology
                    .map(CurrentTopology::new)
                    .transpose()?
                    .map(Arc::new),
            ),
            writer: tokio::sync::Mutex::new(()),
        })
    }

    /// The state at start: the stored topology if any, else `configured` (the file's).
    pub async fn load(store: &Store, configured: Option<Topology>) -> Result<Self> {
        let stored = match store.value(TOPOLOGY_KEY).await? {
            Some(text) => Some(
                Topology::from_json(&text).map_err(|e| ServiceError::Internal {
                    what: format!("the stored topology does not read: {e}"),
                })?,
            ),
            None => None,
        };
        Self::new(stored.or(configured))
    }

    /// The current topology and its graph, if any.
    pub fn get(&self) -> Option<Arc<CurrentTopology>> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The current topology (empty when there is none), as `GET /api/v1/topology` shows it.
    pub fn topology(&self) -> Topology {
        self.get().map(|c| c.topology.clone()).unwrap_or_default()
    }

    /// Validates, stores and swaps in a new topology (`PUT /api/v1/topology`); returns it
    /// with the previous one.
    pub async fn put(
        &self,
        store: &Store,
        topology: Topology,
        now: TimestampMs,
    ) -> Result<TopologyChange> {
        let next = Arc::new(CurrentTopology::new(topology)?);
        let text = serde_json::to_string(&next.topology).map_err(|e| ServiceError::Internal {
            what: format!("topology JSON: {e}"),
        })?;
        let _writer = self.writer.lock().await;
        store.put_value(TOPOLOGY_KEY, &text, now).await?;
        let before = {
            let mut cur = match self.current.write() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            cur.replace(next.clone())
        };
        Ok(TopologyChange {
            before: before.map(|b| b.topology.clone()).unwrap_or_default(),
            after: next.topology.clone(),
        })
    }
}

/// Which way `GET /api/v1/topology/{id}/dependencies` looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// What the resource needs.
    Upstream,
    /// What needs the resource.
    Downstream,
    /// Both.
    Both,
}

impl Direction {
    /// Reads `upstream`, `downstream` or `both` (default `both`); else 400 naming
    /// `direction`.
    pub fn parse(text: Option<&str>) -> Result<Self> {
        match text.unwrap_or("both") {
            "upstream" => Ok(Self::Upstream),
            "downstream" => Ok(Self::Downstream),
            "both" => Ok(Self::Both),
            other => Err(ServiceError::invalid_parameter(
                "direction",
                format!("{other:?}: expected upstream, downstream or both"),
            )),
        }
    }
}

/// `GET /api/v1/topology/{id}/dependencies` parameters.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DependencyQuery {
    /// `upstream`, `downstream` or `both` (default).
    pub direction: Option<String>,
}

/// A resource's dependencies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Dependencies {
    /// The resource.
    pub resource_id: String,
    /// What it needs, directly or not, nearest first (empty when not asked).
    pub upstream: Vec<String>,
    /// What needs it, directly or not, nearest first (empty when not asked).
    pub downstream: Vec<String>,
}

/// The dependencies of `id` in `current` (no topology or an unknown id: 404).
pub fn dependencies(
    current: Option<&CurrentTopology>,
    id: &str,
    q: &DependencyQuery,
) -> Result<Dependencies> {
    let direction = Direction::parse(q.direction.as_deref())?;
    let Some(g) = current.map(|c| &c.graph).filter(|g| g.contains(id)) else {
        return Err(ServiceError::NotFound {
            kind: "resource".into(),
            id: id.into(),
        });
    };
    let own = |v: Vec<&str>| v.into_iter().map(str::to_string).collect::<Vec<_>>();
    Ok(Dependencies {
        resource_id: id.to_string(),
        upstream: if direction == Direction::Downstream {
            Vec::new()
        } else {
            own(g.dependencies(id)?)
        },
        downstream: if direction == Direction::Upstream {
            Vec::new()
        } else {
            own(g.dependents(id)?)
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        Topology::from_json(
            r#"{"nodes": [{"id": "web", "kind": "service"}, {"id": "api", "kind": "service"},
                {"id": "db", "kind": "database"}],
               "edges": [{"from": "web", "to": "api", "kind": "calls"},
                {"from": "api", "to": "db", "kind": "calls"}]}"#,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_put_is_stored_seen_at_once_and_wins_at_the_next_start() {
        let store = Store::open("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        let state = TopologyState::load(&store, None).await.unwrap();
        assert!(state.get().is_none());
        assert_eq!(
            serde_json::to_value(state.topology()).unwrap(),
            serde_json::json!({"nodes": [], "edges": []})
        );
        let change = state.put(&store, topology(), 5).await.unwrap();
        assert!(change.before.nodes().is_empty());
        assert_eq!(state.get().unwrap().graph.len(), 3);
        // Stored: it wins over the configuration's.
        let other = Topology::from_json(r#"{"nodes": [{"id": "x", "kind": "host"}]}"#).unwrap();
        let again = TopologyState::load(&store, Some(other.clone()))
            .await
            .unwrap();
        assert_eq!(again.topology(), topology());
        let fresh = Store::open("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        assert_eq!(
            TopologyState::load(&fresh, Some(other.clone()))
                .await
                .unwrap()
                .topology(),
            other
        );
        // A runs_on cycle is refused and changes nothing.
        let cycle = Topology::from_json(
            r#"{"nodes": [{"id": "a", "kind": "host"}, {"id": "b", "kind": "host"}],
               "edges": [{"from": "a", "to": "b", "kind": "runs_on"}, {"from": "b", "to": "a", "kind": "runs_on"}]}"#,
        )
        .unwrap();
        assert_eq!(state.put(&store, cycle, 6).await.unwrap_err().status(), 400);
        assert_eq!(state.topology(), topology());
    }

    #[test]
    fn dependencies_follow_the_edges() {
        let cur = CurrentTopology::new(topology()).unwrap();
        let q = |d: &str| DependencyQuery {
            direction: Some(d.into()),
        };
        let d = dependencies(Some(&cur), "api", &DependencyQuery::default()).unwrap();
        assert_eq!(
            (d.upstream, d.downstream),
            (vec!["db".into()], vec!["web".into()])
        );
        let d = dependencies(Some(&cur), "web", &q("upstream")).unwrap();
        assert_eq!(d.upstream, vec!["api", "db"]);
        assert!(d.downstream.is_empty());
        let d = dependencies(Some(&cur), "web", &q("downstream")).unwrap();
        assert!(d.upstream.is_empty() && d.downstream.is_empty());
        assert_eq!(
            dependencies(Some(&cur), "web", &q("sideways"))
                .unwrap_err()
                .status(),
            400
        );
        assert_eq!(
            dependencies(Some(&cur), "nope", &q("both"))
                .unwrap_err()
                .status(),
            404
        );
        assert_eq!(
            dependencies(None, "web", &DependencyQuery::default())
                .unwrap_err()
                .status(),
            404
        );
    }
}
