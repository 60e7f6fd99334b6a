//! Small fixtures for the ranking tests: a topology and columns with known changes.

use aiops_core::Topology;

use super::sim::Rng;
use super::{Method, MetricFrame, rank};
use aiops_core::TopologyGraph;

/// Points in a fixture.
pub(crate) const POINTS: usize = 100;

/// Builds a frame over `topology`: each column is 100 + unit Gaussian noise (seeded by its
/// position), plus `shift` from index `onset` on.
pub(crate) fn build(topology: &str, cols: &[(&str, f64, usize)]) -> (TopologyGraph, MetricFrame) {
    let g = TopologyGraph::new(&Topology::from_json(topology).unwrap()).unwrap();
    let ts: Vec<i64> = (0..POINTS as i64)
        .map(|i| 1_700_000_000_000 + i * 60_000)
        .collect();
    let names: Vec<String> = cols.iter().map(|c| c.0.to_string()).collect();
    let columns = cols
        .iter()
        .enumerate()
        .map(|(k, &(_, shift, onset))| {
            let mut rng = Rng::new(1000 + k as u64);
            (0..POINTS)
                .map(|i| 100.0 + rng.normal() + if i >= onset { shift } else { 0.0 })
                .collect()
        })
        .collect();
    let f = MetricFrame::new(&g, ts, &names, columns).unwrap();
    (g, f)
}

/// `a` calls `b` calls `c`; every column shifts at `onset`.
pub(crate) fn chain(cols: &[(&str, f64)], onset: usize) -> (TopologyGraph, MetricFrame) {
    let cols: Vec<(&str, f64, usize)> = cols.iter().map(|&(n, s)| (n, s, onset)).collect();
    build(
        r#"{"nodes": [{"id": "a", "kind": "service"}, {"id": "b", "kind": "service"},
            {"id": "c", "kind": "service"}],
          "edges": [{"from": "a", "to": "b", "kind": "calls"},
                    {"from": "b", "to": "c", "kind": "calls"}]}"#,
        &cols,
    )
}

/// The resources in rank order, with the anomaly time at point 60.
pub(crate) fn ranked(g: &TopologyGraph, f: &MetricFrame, method: Method) -> Vec<String> {
    rank(g, f, Some(f.timestamps()[60]), method)
        .unwrap()
        .root_causes
        .into_iter()
        .map(|c| c.resource)
        .collect()
}
