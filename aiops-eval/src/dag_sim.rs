//! PyRCA-style simulation: random DAGs, linear structural equation models (SEM) and fault
//! injection with the root cause known, to score causal discovery and root-cause ranking.
//!
//! A [`Dag`] holds weighted edges `parent -> child`; [`Dag::sample`] draws
//! `x_v = Σ w_pv · x_p + ε_v` (ε Gaussian), in topological order. With a lag `L > 0`
//! ([`Dag::sample_lagged`]) the parents act `L` steps later (`x_v(t) = Σ w_pv · x_p(t - L) + ε`),
//! the setting Granger causality is made for; the weight matrix of a DAG is nilpotent, so the
//! process is stable whatever the weights.
//!
//! [`fault_cases`] draws a random DAG per case, picks a root cause among the variables that
//! have descendants (a fault with nowhere to go is not a root-cause question), and adds a
//! shift (level change from `fault_at` on) or a spike (for a few samples) of `magnitude`
//! noise standard deviations to its noise term. The fault propagates through the SEM to every
//! descendant, scaled by the path weights.
//!
//! Everything is seeded ([`SimRng`], splitmix64 with Box-Muller normals): the same seed gives
//! the same cases on every platform.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use aiops_rca::causal::{CausalGraph, Edge, default_names};

use crate::error::{EvalError, Result};
pub use crate::rng::SimRng;

/// A weighted directed acyclic graph over named variables: the true model of a simulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dag {
    names: Vec<String>,
    /// `(parent, weight)` of each variable.
    parents: Vec<Vec<(usize, f64)>>,
    /// A topological order (parents first).
    order: Vec<usize>,
}

impl Dag {
    /// A DAG over `p` variables named `x0..` from `(parent, child, weight)` triples; refuses a
    /// cycle, a self loop, an index out of range or a non-finite weight.
    pub fn from_edges(p: usize, edges: &[(usize, usize, f64)]) -> Result<Self> {
        Self::with_names(default_names(p), edges)
    }

    /// Like [`Dag::from_edges`], with variable names.
    pub fn with_names(names: Vec<String>, edges: &[(usize, usize, f64)]) -> Result<Self> {
        let p = names.len();
        let mut parents = vec![Vec::new(); p];
        for &(a, b, w) in edges {
            if a >= p || b >= p {
                return Err(EvalError::Invalid {
                    what: "edges",
                    reason: format!("edge {a} -> {b}: variable index out of range (< {p})"),
                });
            }
            if a == b || !w.is_finite() {
                return Err(EvalError::Invalid {
                    what: "edges",
                    reason: format!("edge {a} -> {b} with weight {w}: self loop or not finite"),
                });
            }
            if parents[b].iter().any(|&(q, _)| q == a) {
                return Err(EvalError::Invalid {
                    what: "edges",
                    reason: format!("edge {a} -> {b} given twice"),
                });
            }
            parents[b].push((a, w));
        }
        // Kahn's algorithm, smallest index first so the order is deterministic.
        let mut indegree: Vec<usize> = parents.iter().map(Vec::len).collect();
        let mut children = vec![Vec::new(); p];
        for (b, ps) in parents.iter().enumerate() {
            for &(a, _) in ps {
                children[a].push(b);
            }
        }
        let mut ready: std::collections::BTreeSet<usize> =
            (0..p).filter(|&v| indegree[v] == 0).collect();
        let mut order = Vec::with_capacity(p);
        while let Some(v) = ready.pop_first() {
            order.push(v);
            for &c in &children[v] {
                indegree[c] -= 1;
                if indegree[c] == 0 {
                    ready.insert(c);
                }
            }
        }
        if order.len() < p {
            let stuck = (0..p).find(|&v| indegree[v] > 0).unwrap_or(0);
            return Err(EvalError::Invalid {
                what: "edges",
                reason: format!("the edges form a cycle (through {:?})", names[stuck]),
            });
        }
        Ok(Self {
            names,
            parents,
            order,
        })
    }

    /// Variable names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of variables.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the DAG has no variable.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every edge as `(parent, child, weight)`, sorted.
    pub fn edges(&self) -> Vec<(usize, usize, f64)> {
        let mut e: Vec<(usize, usize, f64)> = self
            .parents
            .iter()
            .enumerate()
            .flat_map(|(b, ps)| ps.iter().map(move |&(a, w)| (a, b, w)))
            .collect();
        e.sort_by_key(|&(a, b, _)| (a, b));
        e
    }

    /// The DAG as a [`CausalGraph`] (every edge directed, p-value 0).
    pub fn graph(&self) -> Result<CausalGraph> {
        let edges = self
            .edges()
            .into_iter()
            .map(|(from, to, _)| Edge {
                from,
                to,
                directed: true,
                p_value: 0.0,
            })
            .collect();
        Ok(CausalGraph::new(self.names.clone(), edges)?)
    }

    /// Every variable reachable from `v` along edges (not `v` itself), sorted.
    pub fn descendants(&self, v: usize) -> Vec<usize> {
        let mut reach = vec![false; self.len()];
        if v < self.len() {
            reach[v] = true;
        }
        // In topological order a variable's parents are settled before it.
        for &u in &self.order {
            if !reach[u] && self.parents[u].iter().any(|&(a, _)| reach[a]) {
                reach[u] = true;
            }
        }
        (0..self.len()).filter(|&u| u != v && reach[u]).collect()
    }

    /// `n` independent samples of the linear SEM with Gaussian noise of standard deviation
    /// `noise_std`: a samples x variables matrix.
    pub fn sample(&self, n: usize, noise_std: f64, rng: &mut SimRng) -> Array2<f64> {
        self.sample_lagged(n, 0, noise_std, rng, |_, _| 0.0)
    }

    /// Samples of the SEM where parents act `lag` steps later (0: at once), with `extra(t, v)`
    /// added to the noise of variable `v` at step `t` (a fault; 0 for none). Steps before
    /// the lag see the parents' values as 0.
    pub fn sample_lagged(
        &self,
        n: usize,
        lag: usize,
        noise_std: f64,
        rng: &mut SimRng,
        extra: impl Fn(usize, usize) -> f64,
    ) -> Array2<f64> {
        let p = self.len();
        let mut x = Array2::<f64>::zeros((n, p));
        for t in 0..n {
            for &v in &self.order {
                let mut value = noise_std * rng.normal() + extra(t, v);
                if t >= lag {
                    for &(a, w) in &self.parents[v] {
                        value += w * x[[t - lag, a]];
                    }
                }
                x[[t, v]] = value;
            }
        }
        x
    }
}

/// Parameters of a random DAG: a random causal order, each forward pair joined with the
/// probability that gives `expected_degree`, weights uniform in ±[`weight_min`, `weight_max`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomDagParams {
    /// Number of variables (>= 2).
    pub variables: usize,
    /// Expected number of neighbours (parents + children) of a variable, in (0, variables - 1].
    pub expected_degree: f64,
    /// Smallest absolute edge weight (> 0).
    pub weight_min: f64,
    /// Largest absolute edge weight (>= weight_min).
    pub weight_max: f64,
}

impl Default for RandomDagParams {
    fn default() -> Self {
        Self {
            variables: 20,
            expected_degree: 3.0,
            weight_min: 0.5,
            weight_max: 2.0,
        }
    }
}

impl RandomDagParams {
    /// Defaults: 20 variables, expected degree 3, |weights| in [0.5, 2].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the number of variables.
    pub fn variables(mut self, variables: usize) -> Self {
        self.variables = variables;
        self
    }

    /// Sets the expected degree.
    pub fn expected_degree(mut self, degree: f64) -> Self {
        self.expected_degree = degree;
        self
    }

    /// Sets the range of absolute weights.
    pub fn weights(mut self, min: f64, max: f64) -> Self {
        self.weight_min = min;
        self.weight_max = max;
        self
    }

    fn check(&self) -> Result<()> {
        let bad = |what, reason: String| Err(EvalError::Invalid { what, reason });
        if self.variables < 2 {
            return bad(
                "variables",
                format!("need at least 2, got {}", self.variables),
            );
        }
        let max = (self.variables - 1) as f64;
        if !(self.expected_degree > 0.0 && self.expected_degree <= max) {
            return bad(
                "expected_degree",
                format!("must be in (0, {max}], got {}", self.expected_degree),
            );
        }
        if !(self.weight_min > 0.0
            && self.weight_max >= self.weight_min
            && self.weight_max.is_finite())
        {
            return bad(
                "weights",
                format!(
                    "need 0 < min <= max, got [{}, {}]",
                    self.weight_min, self.weight_max
                ),
            );
        }
        Ok(())
    }

    /// Draws a DAG.
    pub fn generate(&self, rng: &mut SimRng) -> Result<Dag> {
        self.check()?;
        let p = self.variables;
        let prob = self.expected_degree / (p - 1) as f64;
        let order = rng.permutation(p);
        let mut edges = Vec::new();
        for i in 0..p {
            for j in i + 1..p {
                if rng.unit() < prob {
                    let w = rng.uniform(self.weight_min, self.weight_max);
                    let w = if rng.unit() < 0.5 { -w } else { w };
                    edges.push((order[i], order[j], w));
                }
            }
        }
        Dag::from_edges(p, &edges)
    }
}

/// The shape of an injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum FaultKind {
    /// A level shift from the fault time to the end.
    Shift,
    /// A spike lasting `duration` samples.
    Spike {
        /// Samples the spike lasts (>= 1).
        duration: usize,
    },
}

/// Parameters of the fault cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultParams {
    /// The random DAG of each case.
    pub dag: RandomDagParams,
    /// Samples per case (time points).
    pub samples: usize,
    /// Fault start as a fraction of the samples, in (0, 1).
    pub fault_at: f64,
    /// Size of the fault, in noise standard deviations (> 0).
    pub magnitude: f64,
    /// Shift or spike.
    pub kind: FaultKind,
    /// Steps from a cause to its effect (0: instantaneous, as PyRCA).
    pub lag: usize,
    /// Standard deviation of every noise term (> 0).
    pub noise_std: f64,
}

impl Default for FaultParams {
    fn default() -> Self {
        Self {
            dag: RandomDagParams::default(),
            samples: 1_000,
            fault_at: 0.75,
            magnitude: 5.0,
            kind: FaultKind::Shift,
            lag: 0,
            noise_std: 1.0,
        }
    }
}

impl FaultParams {
    fn check(&self) -> Result<usize> {
        let bad = |what, reason: String| Err(EvalError::Invalid { what, reason });
        if self.samples < 10 {
            return bad("samples", format!("need at least 10, got {}", self.samples));
        }
        if !(self.fault_at > 0.0 && self.fault_at < 1.0) {
            return bad(
                "fault_at",
                format!("must be in (0, 1), got {}", self.fault_at),
            );
        }
        if !(self.magnitude.is_finite() && self.magnitude > 0.0) {
            return bad("magnitude", format!("must be > 0, got {}", self.magnitude));
        }
        if !(self.noise_std.is_finite() && self.noise_std > 0.0) {
            return bad("noise_std", format!("must be > 0, got {}", self.noise_std));
        }
        if let FaultKind::Spike { duration: 0 } = self.kind {
            return bad("duration", "a spike lasts at least 1 sample".into());
        }
        let at = (self.fault_at * self.samples as f64) as usize;
        if at == 0 || at >= self.samples {
            return bad(
                "fault_at",
                "leaves no sample before or after the fault".into(),
            );
        }
        Ok(at)
    }
}

/// One simulated incident with its ground truth.
#[derive(Debug, Clone)]
pub struct FaultCase {
    /// The true causal model.
    pub dag: Dag,
    /// Samples x variables, the fault included.
    pub data: Array2<f64>,
    /// Index of the root-cause variable.
    pub root_cause: usize,
    /// First faulty sample (row index).
    pub fault_at: usize,
    /// Shape of the fault.
    pub kind: FaultKind,
    /// Variables the fault reaches (the root cause's descendants), sorted.
    pub affected: Vec<usize>,
}

/// `cases` simulated incidents: a new random DAG, root cause and noise for each, all
/// following from `seed`.
pub fn fault_cases(params: &FaultParams, cases: usize, seed: u64) -> Result<Vec<FaultCase>> {
    let at = params.check()?;
    params.dag.check()?;
    let mut seeds = SimRng::new(seed);
    (0..cases)
        .map(|_| {
            let mut rng = SimRng::new(seeds.next_u64());
            let dag = params.dag.generate(&mut rng)?;
            let with_children: Vec<usize> = (0..dag.len())
                .filter(|&v| !dag.descendants(v).is_empty())
                .collect();
            let root = if with_children.is_empty() {
                rng.below(dag.len())
            } else {
                with_children[rng.below(with_children.len())]
            };
            let shift = params.magnitude * params.noise_std;
            let end = match params.kind {
                FaultKind::Shift => usize::MAX,
                FaultKind::Spike { duration } => at.saturating_add(duration),
            };
            let data = dag.sample_lagged(
                params.samples,
                params.lag,
                params.noise_std,
                &mut rng,
                |t, v| {
                    if v == root && t >= at && t < end {
                        shift
                    } else {
                        0.0
                    }
                },
            );
            let affected = dag.descendants(root);
            Ok(FaultCase {
                dag,
                data,
                root_cause: root,
                fault_at: at,
                kind: params.kind,
                affected,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dag_refuses_cycles_and_orders_parents_first() {
        assert!(Dag::from_edges(3, &[(0, 1, 1.0), (1, 2, 1.0), (2, 0, 1.0)]).is_err());
        assert!(Dag::from_edges(2, &[(0, 2, 1.0)]).is_err());
        assert!(Dag::from_edges(2, &[(0, 1, f64::NAN)]).is_err());
        let d = Dag::from_edges(4, &[(3, 1, 1.0), (1, 0, 1.0), (2, 0, 1.0)]).unwrap();
        assert_eq!(d.descendants(3), vec![0, 1]);
        assert_eq!(d.descendants(0), Vec::<usize>::new());
    }

    #[test]
    fn sem_reproduces_the_weights() {
        // x1 = 2 x0 + e: the regression slope of x1 on x0 is 2.
        let d = Dag::from_edges(2, &[(0, 1, 2.0)]).unwrap();
        let x = d.sample(20_000, 1.0, &mut SimRng::new(5));
        let (a, b) = (x.column(0), x.column(1));
        let slope = a.dot(&b) / a.dot(&a);
        assert!((slope - 2.0).abs() < 0.03, "{slope}");
    }

    #[test]
    fn random_dag_has_the_expected_degree() {
        let params = RandomDagParams::new().variables(50).expected_degree(4.0);
        let mut rng = SimRng::new(9);
        let mut edges = 0;
        for _ in 0..20 {
            edges += params.generate(&mut rng).unwrap().edges().len();
        }
        let degree = 2.0 * edges as f64 / (20.0 * 50.0);
        assert!((degree - 4.0).abs() < 0.3, "{degree}");
        assert!(
            RandomDagParams::new()
                .expected_degree(0.0)
                .generate(&mut rng)
                .is_err()
        );
    }

    #[test]
    fn fault_shifts_the_root_and_its_descendants_only() {
        let params = FaultParams {
            samples: 2_000,
            ..FaultParams::default()
        };
        let cases = fault_cases(&params, 5, 42).unwrap();
        let again = fault_cases(&params, 5, 42).unwrap();
        for (c, d) in cases.iter().zip(&again) {
            assert_eq!(c.data, d.data); // seeded
            assert!(!c.affected.is_empty());
            let before = c
                .data
                .slice(ndarray::s![..c.fault_at, c.root_cause])
                .mean()
                .unwrap();
            let after = c
                .data
                .slice(ndarray::s![c.fault_at.., c.root_cause])
                .mean()
                .unwrap();
            assert!(after - before > 4.0, "root shift {}", after - before);
            // A variable that is not a descendant of the root keeps its mean.
            for v in 0..c.dag.len() {
                if v != c.root_cause && !c.affected.contains(&v) {
                    let col = c.data.column(v);
                    let sd = col.std(0.0);
                    let b = col.slice(ndarray::s![..c.fault_at]).mean().unwrap();
                    let a = col.slice(ndarray::s![c.fault_at..]).mean().unwrap();
                    assert!((a - b).abs() < 0.3 * sd.max(1.0), "v{v}: {b} -> {a}");
                }
            }
        }
        let bad = FaultParams {
            fault_at: 1.0,
            ..FaultParams::default()
        };
        assert!(fault_cases(&bad, 1, 0).is_err());
    }
}
