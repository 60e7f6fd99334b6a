//! Causal discovery from metrics: which variable drives which.
//!
//! | file | what |
//! |---|---|
//! | [`fisher_z`] | partial-correlation conditional independence test (Fisher z) |
//! | [`pc`] | the PC algorithm (stable variant) with domain knowledge and a topology prior, giving a CPDAG |
//! | [`granger`] | pairwise Granger causality with lag selection (AIC / BIC) and F-test p-values |
//!
//! Data is a matrix with one row per sample (time point) and one column per variable
//! (`resource:metric`), as an [`ndarray::ArrayView2`]. Every method refuses NaN / infinite
//! values and constant columns with a typed error: missing values are not imputed, because
//! filling them would invent the very dependence the tests measure.
//!
//! ```
//! use aiops_rca::causal::pc::PcParams;
//!
//! // A chain x0 -> x1 -> x2 driven by three independent (zero-mean, coprime periods) signals.
//! let e = |i: usize, wave: &[f64]| wave[i % wave.len()];
//! let (a, b, c) = ([3.0, -1.0, -2.0, 1.0, -1.0, 2.0, -2.0], [1.0, -2.0, 3.0, -1.0, 2.0, 0.5, -3.0, 1.5, -1.0, -0.5, 0.5], [2.0, -1.0, 0.5, -2.5, 1.0, 1.5, -0.5, -3.0, 2.5, 0.5, -1.0, 1.0, -1.0]);
//! let mut data = ndarray::Array2::zeros((1001, 3));
//! for i in 0..1001 {
//!     data[[i, 0]] = e(i, &a);
//!     data[[i, 1]] = data[[i, 0]] + e(i, &b);
//!     data[[i, 2]] = data[[i, 1]] + e(i, &c);
//! }
//! let names = ["x0", "x1", "x2"].map(String::from);
//! let result = PcParams::new().alpha(0.01).check()?.fit(data.view(), &names)?;
//! let g = &result.graph;
//! assert!(g.is_adjacent(0, 1) && g.is_adjacent(1, 2) && !g.is_adjacent(0, 2));
//! assert_eq!(result.sepsets, [(0, 2, vec![1])]); // x1 separates x0 from x2
//! # Ok::<(), aiops_rca::RcaError>(())
//! ```
//!
//! `aiops-eval` simulates random DAGs and linear SEM data to score these methods
//! (`aiops eval causal`).

pub mod fisher_z;
pub mod granger;
pub mod pc;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{RcaError, Result};

/// One edge of a learned graph, between variable indices.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    /// Tail (cause) of a directed edge; the smaller index of an undirected one.
    pub from: usize,
    /// Head (effect) of a directed edge; the larger index of an undirected one.
    pub to: usize,
    /// Whether the direction is known (`from -> to`) or not (`from -- to`).
    pub directed: bool,
    /// Strength of the evidence, a p-value: for PC the largest p-value of the independence
    /// tests the edge survived, for Granger the F-test's p-value. Smaller is stronger.
    pub p_value: f64,
}

/// A graph over named variables with directed and undirected edges (a CPDAG for PC, a
/// directed graph for Granger).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CausalGraph {
    names: Vec<String>,
    edges: Vec<Edge>,
}

impl CausalGraph {
    /// A graph from its variable names and edges; edges are sorted (by `from`, then `to`).
    /// Refuses an index out of range, a self loop or two edges between the same pair.
    pub fn new(names: Vec<String>, mut edges: Vec<Edge>) -> Result<Self> {
        let p = names.len();
        for e in &mut edges {
            if e.from >= p || e.to >= p {
                return Err(RcaError::DimensionMismatch {
                    what: "edge endpoint (variable index)",
                    expected: p,
                    got: e.from.max(e.to),
                });
            }
            if e.from == e.to {
                return Err(RcaError::InvalidParameter {
                    name: "edges",
                    reason: format!("self loop on {:?}", names[e.from]),
                });
            }
            if !e.directed && e.from > e.to {
                std::mem::swap(&mut e.from, &mut e.to);
            }
        }
        edges.sort_by_key(|e| (e.from, e.to));
        let mut pairs: Vec<(usize, usize)> = edges
            .iter()
            .map(|e| (e.from.min(e.to), e.from.max(e.to)))
            .collect();
        pairs.sort_unstable();
        if let Some(w) = pairs.windows(2).find(|w| w[0] == w[1]) {
            return Err(RcaError::InvalidParameter {
                name: "edges",
                reason: format!(
                    "two edges between {:?} and {:?}",
                    names[w[0].0], names[w[0].1]
                ),
            });
        }
        Ok(Self { names, edges })
    }

    /// Variable names, in column order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Every edge, sorted by `from`, then `to`.
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// The edge between `a` and `b`, in either direction.
    pub fn edge(&self, a: usize, b: usize) -> Option<&Edge> {
        self.edges
            .iter()
            .find(|e| (e.from == a && e.to == b) || (e.from == b && e.to == a))
    }

    /// Whether `a` and `b` are joined by an edge of any kind.
    pub fn is_adjacent(&self, a: usize, b: usize) -> bool {
        self.edge(a, b).is_some()
    }

    /// Whether the edge `a -> b` is in the graph, directed.
    pub fn has_directed(&self, a: usize, b: usize) -> bool {
        self.edges
            .iter()
            .any(|e| e.directed && e.from == a && e.to == b)
    }

    /// Whether `a -- b` is in the graph, undirected.
    pub fn has_undirected(&self, a: usize, b: usize) -> bool {
        self.edge(a, b).is_some_and(|e| !e.directed)
    }

    /// The adjacency matrix: `m[[i, j]] == 1` when `i -> j` or `i -- j`; an undirected edge
    /// sets both `m[[i, j]]` and `m[[j, i]]`, a directed one only `m[[from, to]]`.
    pub fn adjacency(&self) -> Array2<u8> {
        let p = self.names.len();
        let mut m = Array2::zeros((p, p));
        for e in &self.edges {
            m[[e.from, e.to]] = 1;
            if !e.directed {
                m[[e.to, e.from]] = 1;
            }
        }
        m
    }

    /// Parents of `v`: the tails of directed edges into it.
    pub fn parents(&self, v: usize) -> Vec<usize> {
        self.edges
            .iter()
            .filter(|e| e.directed && e.to == v)
            .map(|e| e.from)
            .collect()
    }
}

/// The index of `name` in `names`, or [`RcaError::UnknownVariable`] naming `context`.
pub fn index_of(names: &[String], name: &str, context: &str) -> Result<usize> {
    names
        .iter()
        .position(|n| n == name)
        .ok_or_else(|| RcaError::UnknownVariable {
            name: name.to_string(),
            context: context.to_string(),
            known: known_names(names),
        })
}

fn known_names(names: &[String]) -> String {
    let mut s: Vec<&str> = names.iter().take(12).map(String::as_str).collect();
    if names.len() > 12 {
        s.push("...");
    }
    s.join(", ")
}

/// Checks a samples x variables matrix: names match the columns and are unique, every value
/// is finite, no column is constant, and there are at least `min_rows` rows (`why` says why).
pub(crate) fn check_data(
    data: ArrayView2<'_, f64>,
    names: &[String],
    min_rows: usize,
    why: &str,
) -> Result<()> {
    let (n, p) = data.dim();
    if names.len() != p {
        return Err(RcaError::DimensionMismatch {
            what: "variable names (one per column)",
            expected: p,
            got: names.len(),
        });
    }
    if p == 0 {
        return Err(RcaError::InvalidParameter {
            name: "data",
            reason: "no variable (the matrix has no column)".into(),
        });
    }
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(RcaError::InvalidParameter {
            name: "names",
            reason: format!("variable {:?} appears twice", w[0]),
        });
    }
    if n < min_rows {
        return Err(RcaError::NotEnoughSamples {
            samples: n,
            needed: min_rows,
            reason: why.to_string(),
        });
    }
    for (j, col) in data.columns().into_iter().enumerate() {
        let first = col[0];
        let mut constant = true;
        for (i, &v) in col.iter().enumerate() {
            if !v.is_finite() {
                return Err(RcaError::NonFiniteValue {
                    row: i,
                    variable: names[j].clone(),
                    value: v,
                });
            }
            constant &= v == first;
        }
        if constant {
            return Err(RcaError::ConstantVariable(names[j].clone()));
        }
    }
    Ok(())
}

/// `x0`, `x1`, ... for data given without names.
pub fn default_names(p: usize) -> Vec<String> {
    (0..p).map(|i| format!("x{i}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn names(p: usize) -> Vec<String> {
        default_names(p)
    }

    #[test]
    fn bad_data_is_refused_with_the_right_variant() {
        let ok = array![[1.0, 2.0], [2.0, 1.0], [3.0, 5.0]];
        assert!(check_data(ok.view(), &names(2), 3, "").is_ok());
        let nan = array![[1.0, 2.0], [f64::NAN, 1.0], [3.0, 5.0]];
        assert!(matches!(
            check_data(nan.view(), &names(2), 3, ""),
            Err(RcaError::NonFiniteValue { row: 1, .. })
        ));
        let constant = array![[1.0, 2.0], [2.0, 2.0], [3.0, 2.0]];
        assert!(matches!(
            check_data(constant.view(), &names(2), 3, ""),
            Err(RcaError::ConstantVariable(v)) if v == "x1"
        ));
        assert!(matches!(
            check_data(ok.view(), &names(2), 4, "why"),
            Err(RcaError::NotEnoughSamples {
                samples: 3,
                needed: 4,
                ..
            })
        ));
        assert!(matches!(
            check_data(ok.view(), &names(3), 3, ""),
            Err(RcaError::DimensionMismatch { .. })
        ));
        let dup = vec!["a".to_string(), "a".to_string()];
        assert!(matches!(
            check_data(ok.view(), &dup, 3, ""),
            Err(RcaError::InvalidParameter { name: "names", .. })
        ));
    }

    #[test]
    fn graph_refuses_duplicates_and_builds_adjacency() {
        let e = |from, to, directed| Edge {
            from,
            to,
            directed,
            p_value: 0.0,
        };
        let g = CausalGraph::new(names(3), vec![e(0, 1, true), e(2, 1, false)]).unwrap();
        assert_eq!(g.edges()[1].from, 1); // undirected edges are stored low -> high
        assert_eq!(g.adjacency(), array![[0, 1, 0], [0, 0, 1], [0, 1, 0]]);
        assert!(g.has_directed(0, 1) && !g.has_directed(1, 0) && g.has_undirected(2, 1));
        assert!(CausalGraph::new(names(3), vec![e(0, 1, true), e(1, 0, true)]).is_err());
        assert!(CausalGraph::new(names(3), vec![e(0, 3, true)]).is_err());
        assert!(CausalGraph::new(names(3), vec![e(1, 1, true)]).is_err());
    }
}
