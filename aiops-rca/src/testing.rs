//! Test fixtures of the crate: one small seeded generator of noise, and metric frames over a
//! topology with known changes for the ranking tests. (The simulators that evaluate the
//! methods live in `aiops-eval`; unit tests here only need noise.)

use aiops_core::{Topology, TopologyGraph};

use crate::rank::{Method, MetricFrame, rank};

/// Seeded noise for tests (xorshift64*, Box-Muller normals).
#[derive(Debug, Clone)]
pub(crate) struct Noise(u64);

impl Noise {
    pub(crate) fn new(seed: u64) -> Self {
        // A zero state would stay zero; mix the seed so nearby seeds differ at once.
        Self(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        (bits + 1) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal.
    pub(crate) fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.unit(), self.unit());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

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
            let mut noise = Noise::new(1000 + k as u64);
            (0..POINTS)
                .map(|i| 100.0 + noise.normal() + if i >= onset { shift } else { 0.0 })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_seeded_and_standard() {
        let draw = |seed| {
            let mut n = Noise::new(seed);
            (0..20_000).map(|_| n.normal()).collect::<Vec<f64>>()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
        let xs = draw(7);
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.03,
            "{mean} {var}"
        );
    }
}
