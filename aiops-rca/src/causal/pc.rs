//! The PC algorithm (Spirtes & Glymour), stable variant (Colombo & Maathuis 2014), with a
//! Fisher-z test, domain knowledge and a topology prior: data in, a CPDAG out.
//!
//! 1. **Skeleton.** Start from the complete graph (less the pairs that knowledge forbids in
//!    both directions). At level `l = 0, 1, ...` every variable's adjacency set is *frozen*;
//!    an edge `x - y` is removed when some `S ⊆ adj(x) \ {y}` or `S ⊆ adj(y) \ {x}` of size `l`
//!    (frozen sets) gives `p > alpha`. Its separating set is, by default, the union of every
//!    such `S` of that level (causal-learn's rule, [`SepsetRule::Union`]), or the first one
//!    found in lexicographic order, `x`'s side first ([`SepsetRule::First`], pcalg's). Because
//!    the sets are frozen, the skeleton does not depend on the order of the variables.
//!    The edges of a level are tested in parallel (rayon) and the removals applied after: the
//!    result is the same on any number of threads. Required edges are never tested. Stops
//!    when no edge has `l` neighbours to condition on, or past `max_cond_size`.
//! 2. **Knowledge.** An edge whose one direction is forbidden takes the other; a required edge
//!    takes its direction.
//! 3. **V-structures.** For `x - z - y` with `x, y` not adjacent and `z` outside their separating
//!    set, orient `x -> z <- y`, unless an edge already points out of `z` towards `x` or `y`
//!    (existing orientations win, causal-learn's `uc_priority = 2`).
//! 4. **Meek's rules** R1-R4 until nothing changes (R4 matters only with knowledge).
//!
//! **Topology prior** ([`TopologyPrior`]): variables are named `resource:metric` (the resource
//! is what comes before the first `:`). Edges between variables whose resources are more
//! than `max_hops` apart in the topology (ignoring direction; unconnected counts as infinitely
//! far) are forbidden both ways, so they are never tested. With `follow_dependencies`, an
//! edge from a variable of `A` to one of `B` is also forbidden when `B` depends on `A`
//! (`calls`, `runs_on`, `depends_on`, directly or not) but `A` does not depend on `B`: effects
//! travel from a dependency to its dependents (a slow database slows its callers), never the
//! other way. That is true for latency, errors and saturation, but not for load (a caller's
//! request rate drives its callee's CPU), which is why it is off by default.
//!
//! Domain knowledge can be read from PyRCA's `domain_knowledge.yaml` ([`Knowledge::from_yaml`]):
//! `causal-graph: {root-nodes: [...], leaf-nodes: [...], forbids: [[a, b], ...], requires: ...}`,
//! where `[a, b]` means the edge `a -> b`. Root nodes have no parents, leaf nodes no children.

use std::collections::HashSet;

use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::causal::fisher_z::FisherZ;
use crate::causal::{CausalGraph, Edge, index_of};
use crate::error::{RcaError, Result};
use aiops_core::{CoreError, TopologyGraph};

/// What is known about the graph before looking at the data (variable names).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Knowledge {
    /// Edges `(from, to)` that cannot exist in that direction.
    pub forbidden: Vec<(String, String)>,
    /// Edges `(from, to)` that must exist, in that direction.
    pub required: Vec<(String, String)>,
    /// Variables without parents (nothing causes them).
    pub root_nodes: Vec<String>,
    /// Variables without children (they cause nothing).
    pub leaf_nodes: Vec<String>,
}

/// PyRCA's file: `causal-graph` holds the knowledge, `root-causes` (PyRCA's Bayesian
/// network priors) is accepted and ignored here.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KnowledgeFile {
    #[serde(rename = "causal-graph", default)]
    causal_graph: Option<KnowledgeSection>,
    #[serde(rename = "root-causes", default)]
    _root_causes: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KnowledgeSection {
    #[serde(rename = "root-nodes", default)]
    root_nodes: Option<Vec<String>>,
    #[serde(rename = "leaf-nodes", default)]
    leaf_nodes: Option<Vec<String>>,
    #[serde(default)]
    forbids: Option<Vec<Vec<String>>>,
    #[serde(default)]
    requires: Option<Vec<Vec<String>>>,
}

impl Knowledge {
    /// No knowledge.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forbids the edge `from -> to`.
    pub fn forbid(mut self, from: &str, to: &str) -> Self {
        self.forbidden.push((from.into(), to.into()));
        self
    }

    /// Requires the edge `from -> to`.
    pub fn require(mut self, from: &str, to: &str) -> Self {
        self.required.push((from.into(), to.into()));
        self
    }

    /// Declares a root node (no parents).
    pub fn root(mut self, v: &str) -> Self {
        self.root_nodes.push(v.into());
        self
    }

    /// Declares a leaf node (no children).
    pub fn leaf(mut self, v: &str) -> Self {
        self.leaf_nodes.push(v.into());
        self
    }

    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.forbidden.is_empty()
            && self.required.is_empty()
            && self.root_nodes.is_empty()
            && self.leaf_nodes.is_empty()
    }

    /// Reads PyRCA's `domain_knowledge.yaml` format (see the module doc). `null` lists are
    /// empty; a pair that is not exactly two names is an error.
    pub fn from_yaml(text: &str) -> Result<Self> {
        let file: KnowledgeFile = aiops_core::yaml::from_str(text).map_err(RcaError::Config)?;
        let Some(s) = file.causal_graph else {
            return Ok(Self::default());
        };
        let pairs = |what: &str, v: Option<Vec<Vec<String>>>| -> Result<Vec<(String, String)>> {
            v.unwrap_or_default()
                .into_iter()
                .map(|p| match <[String; 2]>::try_from(p) {
                    Ok([a, b]) => Ok((a, b)),
                    Err(p) => Err(RcaError::Config(format!(
                        "causal-graph.{what}: each entry is [from, to], got {p:?}"
                    ))),
                })
                .collect()
        };
        Ok(Self {
            forbidden: pairs("forbids", s.forbids)?,
            required: pairs("requires", s.requires)?,
            root_nodes: s.root_nodes.unwrap_or_default(),
            leaf_nodes: s.leaf_nodes.unwrap_or_default(),
        })
    }
}

/// The service topology as a prior on which variables may be joined (see the module doc).
#[derive(Debug, Clone)]
pub struct TopologyPrior {
    /// The topology.
    pub topology: TopologyGraph,
    /// Largest distance (edges, ignoring direction) between two resources whose variables may
    /// be joined; 0 allows edges within a resource only.
    pub max_hops: usize,
    /// Forbid edges from a dependent's variable to its dependency's.
    pub follow_dependencies: bool,
}

impl TopologyPrior {
    /// A prior allowing edges between resources at most `max_hops` apart.
    pub fn new(topology: TopologyGraph, max_hops: usize) -> Self {
        Self {
            topology,
            max_hops,
            follow_dependencies: false,
        }
    }

    /// Also orient along dependencies (dependency -> dependent).
    pub fn follow_dependencies(mut self, yes: bool) -> Self {
        self.follow_dependencies = yes;
        self
    }
}

/// The resource a variable `resource:metric` belongs to.
pub fn resource_of(variable: &str) -> &str {
    variable.split_once(':').map_or(variable, |(r, _)| r)
}

/// Which separating set is kept when an edge is removed (it decides the v-structures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SepsetRule {
    /// Every subset of the removal level is tested, on both sides, and the separating set is
    /// the union of those that gave independence (causal-learn's stable PC). It does not
    /// depend on the order in which subsets are tried, and finite-sample noise creates fewer
    /// spurious colliders: a variable in *any* separating set is not a collider.
    #[default]
    Union,
    /// The first subset that gave independence (textbook PC, pcalg): fewer tests.
    First,
}

impl std::str::FromStr for SepsetRule {
    type Err = RcaError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "union" => Ok(Self::Union),
            "first" => Ok(Self::First),
            _ => Err(RcaError::InvalidParameter {
                name: "sepset_rule",
                reason: format!("{s:?} is not one of union, first"),
            }),
        }
    }
}

/// Unchecked parameters of [`Pc`].
///
/// ```
/// use aiops_rca::causal::pc::{Knowledge, PcParams};
/// let pc = PcParams::new().alpha(0.01).max_cond_size(3)
///     .knowledge(Knowledge::new().root("db:cpu").forbid("web:latency", "db:latency"))
///     .check()?;
/// assert_eq!(pc.alpha(), 0.01);
/// # Ok::<(), aiops_rca::RcaError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PcParams {
    alpha: f64,
    max_cond_size: Option<usize>,
    sepset_rule: SepsetRule,
    knowledge: Knowledge,
    #[serde(skip)]
    topology: Option<TopologyPrior>,
}

impl Default for PcParams {
    fn default() -> Self {
        Self {
            alpha: 0.05,
            max_cond_size: None,
            sepset_rule: SepsetRule::Union,
            knowledge: Knowledge::default(),
            topology: None,
        }
    }
}

impl PcParams {
    /// Defaults: alpha 0.05, no limit on the conditioning set, no knowledge, no topology.
    pub fn new() -> Self {
        Self::default()
    }

    /// Significance level of the independence tests, in (0, 1): an edge goes when a test
    /// gives `p > alpha`.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// Largest conditioning set tried (variables); `None`: no limit.
    pub fn max_cond_size(mut self, size: impl Into<Option<usize>>) -> Self {
        self.max_cond_size = size.into();
        self
    }

    /// Which separating set an edge removal keeps (default: the union, as causal-learn).
    pub fn sepset_rule(mut self, rule: SepsetRule) -> Self {
        self.sepset_rule = rule;
        self
    }

    /// Domain knowledge.
    pub fn knowledge(mut self, knowledge: Knowledge) -> Self {
        self.knowledge = knowledge;
        self
    }

    /// Topology prior.
    pub fn topology(mut self, prior: TopologyPrior) -> Self {
        self.topology = Some(prior);
        self
    }

    /// Validates the parameters. Knowledge naming variables is checked against the data at
    /// [`Pc::fit`], since the names come with the data.
    pub fn check(&self) -> Result<Pc> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(RcaError::InvalidParameter {
                name: "alpha",
                reason: format!("must be in (0, 1), got {}", self.alpha),
            });
        }
        Ok(Pc {
            alpha: self.alpha,
            max_cond_size: self.max_cond_size,
            sepset_rule: self.sepset_rule,
            knowledge: self.knowledge.clone(),
            topology: self.topology.clone(),
        })
    }
}

/// Validated PC parameters; [`Pc::fit`] learns a graph.
#[derive(Debug, Clone)]
pub struct Pc {
    alpha: f64,
    max_cond_size: Option<usize>,
    sepset_rule: SepsetRule,
    knowledge: Knowledge,
    topology: Option<TopologyPrior>,
}

/// What PC found.
#[derive(Debug, Clone)]
pub struct PcResult {
    /// The CPDAG: directed edges where the data (or knowledge) fixes the direction,
    /// undirected ones where it cannot. `p_value` is the largest p-value of the tests the
    /// edge survived (0 for an edge never tested, such as a required one).
    pub graph: CausalGraph,
    /// Separating sets of the removed edges: `(x, y, S)` with `x < y`, sorted.
    pub sepsets: Vec<(usize, usize, Vec<usize>)>,
    /// Conditional independence tests run.
    pub tests: usize,
    /// Largest conditioning-set size reached.
    pub max_level: usize,
}

/// Knowledge resolved to variable indices: `forbidden[a * p + b]` forbids `a -> b`.
#[derive(Debug, Clone)]
pub(crate) struct Constraints {
    p: usize,
    forbidden: Vec<bool>,
    required: Vec<bool>,
}

impl Constraints {
    fn forbidden(&self, a: usize, b: usize) -> bool {
        self.forbidden[a * self.p + b]
    }

    fn required(&self, a: usize, b: usize) -> bool {
        self.required[a * self.p + b]
    }

    fn resolve(
        knowledge: &Knowledge,
        topology: Option<&TopologyPrior>,
        names: &[String],
    ) -> Result<Self> {
        let p = names.len();
        let mut c = Self {
            p,
            forbidden: vec![false; p * p],
            required: vec![false; p * p],
        };
        for (a, b) in &knowledge.forbidden {
            let (a, b) = (
                index_of(names, a, "forbidden edges")?,
                index_of(names, b, "forbidden edges")?,
            );
            c.forbidden[a * p + b] = true;
        }
        for v in &knowledge.root_nodes {
            let v = index_of(names, v, "root nodes")?;
            (0..p)
                .filter(|&u| u != v)
                .for_each(|u| c.forbidden[u * p + v] = true);
        }
        for v in &knowledge.leaf_nodes {
            let v = index_of(names, v, "leaf nodes")?;
            (0..p)
                .filter(|&u| u != v)
                .for_each(|u| c.forbidden[v * p + u] = true);
        }
        if let Some(prior) = topology {
            c.apply_topology(prior, names)?;
        }
        for (a, b) in &knowledge.required {
            let (ai, bi) = (
                index_of(names, a, "required edges")?,
                index_of(names, b, "required edges")?,
            );
            if ai == bi {
                return Err(RcaError::ContradictoryConstraints(format!(
                    "required self loop on {a:?}"
                )));
            }
            if c.forbidden[ai * p + bi] {
                return Err(RcaError::ContradictoryConstraints(format!(
                    "{a:?} -> {b:?} is required and forbidden (by a forbidden edge, a root or \
                     leaf node, or the topology prior)"
                )));
            }
            c.required[ai * p + bi] = true;
        }
        c.check_required_acyclic(names)?;
        Ok(c)
    }

    fn apply_topology(&mut self, prior: &TopologyPrior, names: &[String]) -> Result<()> {
        let p = self.p;
        let resources: Vec<&str> = names.iter().map(|n| resource_of(n)).collect();
        for r in &resources {
            if !prior.topology.contains(r) {
                return Err(CoreError::UnknownResource((*r).to_string()).into());
            }
        }
        let mut near: Vec<HashSet<&str>> = Vec::with_capacity(p);
        let mut deps: Vec<HashSet<&str>> = Vec::with_capacity(p);
        for r in &resources {
            near.push(
                prior
                    .topology
                    .within(r, prior.max_hops)?
                    .into_iter()
                    .map(|(n, _)| n)
                    .collect(),
            );
            deps.push(prior.topology.dependencies(r)?.into_iter().collect());
        }
        for a in 0..p {
            for b in 0..p {
                if a == b || resources[a] == resources[b] {
                    continue;
                }
                if !near[a].contains(resources[b]) {
                    self.forbidden[a * p + b] = true;
                }
                // b's resource depends on a's, not the reverse: effects go a -> b only.
                let b_needs_a = deps[b].contains(resources[a]);
                let a_needs_b = deps[a].contains(resources[b]);
                if prior.follow_dependencies && b_needs_a && !a_needs_b {
                    self.forbidden[b * p + a] = true;
                }
            }
        }
        Ok(())
    }

    fn check_required_acyclic(&self, names: &[String]) -> Result<()> {
        let p = self.p;
        // Depth-first search for a cycle of required edges.
        let mut state = vec![0u8; p]; // 0 new, 1 on stack, 2 done
        for start in 0..p {
            if state[start] != 0 {
                continue;
            }
            let mut stack = vec![(start, 0usize)];
            state[start] = 1;
            while let Some(&mut (v, ref mut next)) = stack.last_mut() {
                if let Some(w) = (*next..p).find(|&w| self.required(v, w)) {
                    *next = w + 1;
                    match state[w] {
                        1 => {
                            return Err(RcaError::ContradictoryConstraints(format!(
                                "required edges form a cycle through {:?}",
                                names[w]
                            )));
                        }
                        0 => {
                            state[w] = 1;
                            stack.push((w, 0));
                        }
                        _ => {}
                    }
                } else {
                    state[v] = 2;
                    stack.pop();
                }
            }
        }
        Ok(())
    }
}

impl Pc {
    /// Unchecked parameters to start from.
    pub fn params() -> PcParams {
        PcParams::new()
    }

    /// Significance level.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Largest conditioning set tried, if limited.
    pub fn max_cond_size(&self) -> Option<usize> {
        self.max_cond_size
    }

    /// Learns the CPDAG of a samples x variables matrix whose columns are `names`.
    ///
    /// Errors: NaN / infinite values, constant or collinear columns, fewer than
    /// `variables + 2` samples, knowledge naming an unknown variable, contradictory
    /// knowledge, a variable whose resource is not in the topology prior.
    pub fn fit(&self, data: ArrayView2<'_, f64>, names: &[String]) -> Result<PcResult> {
        let test = FisherZ::new(data, names)?;
        self.fit_test(&test, names)
    }

    /// Learns the CPDAG from a prepared Fisher-z test (a correlation matrix and its sample
    /// count), for callers that reuse one across runs.
    pub fn fit_test(&self, test: &FisherZ, names: &[String]) -> Result<PcResult> {
        let p = test.variables();
        if names.len() != p {
            return Err(RcaError::DimensionMismatch {
                what: "variable names (one per column)",
                expected: p,
                got: names.len(),
            });
        }
        let c = Constraints::resolve(&self.knowledge, self.topology.as_ref(), names)?;
        let skeleton = self.skeleton(test, &c);
        let mut pdag = Pdag::from_skeleton(p, &skeleton.adjacent);
        pdag.apply_knowledge(&c);
        pdag.orient_v_structures(|x, y, z| {
            skeleton.sepset[x * p + y]
                .as_ref()
                .is_some_and(|s| !s.contains(&z))
        });
        pdag.meek();
        let edges = pdag.edges(|a, b| skeleton.pmax[a.min(b) * p + a.max(b)]);
        let mut sepsets: Vec<(usize, usize, Vec<usize>)> = Vec::new();
        for x in 0..p {
            for y in x + 1..p {
                if let Some(s) = &skeleton.sepset[x * p + y] {
                    sepsets.push((x, y, s.clone()));
                }
            }
        }
        Ok(PcResult {
            graph: CausalGraph::new(names.to_vec(), edges)?,
            sepsets,
            tests: skeleton.tests,
            max_level: skeleton.level,
        })
    }

    fn skeleton(&self, test: &FisherZ, c: &Constraints) -> Skeleton {
        let p = test.variables();
        let mut adjacent = vec![false; p * p];
        for a in 0..p {
            for b in 0..p {
                adjacent[a * p + b] = a != b && !(c.forbidden(a, b) && c.forbidden(b, a));
            }
        }
        let mut sk = Skeleton {
            adjacent,
            sepset: vec![None; p * p],
            pmax: vec![0.0; p * p],
            tests: 0,
            level: 0,
        };
        let mut level = 0;
        loop {
            if self.max_cond_size.is_some_and(|m| level > m) {
                break;
            }
            let neighbours: Vec<Vec<usize>> = (0..p)
                .map(|a| (0..p).filter(|&b| sk.adjacent[a * p + b]).collect())
                .collect();
            let edges: Vec<(usize, usize)> = (0..p)
                .flat_map(|x| (x + 1..p).map(move |y| (x, y)))
                .filter(|&(x, y)| sk.adjacent[x * p + y] && !c.required(x, y) && !c.required(y, x))
                .filter(|&(x, y)| neighbours[x].len() > level || neighbours[y].len() > level)
                .collect();
            if edges.is_empty() {
                break;
            }
            sk.level = level;
            let (alpha, rule) = (self.alpha, self.sepset_rule);
            let outcomes: Vec<EdgeOutcome> = edges
                .par_iter()
                .map(|&pair| test_edge(test, &neighbours, pair, level, alpha, rule))
                .collect();
            for ((x, y), o) in edges.into_iter().zip(outcomes) {
                sk.tests += o.tests;
                let k = x * p + y;
                sk.pmax[k] = sk.pmax[k].max(o.pmax);
                if let Some(s) = o.sepset {
                    sk.adjacent[x * p + y] = false;
                    sk.adjacent[y * p + x] = false;
                    sk.sepset[y * p + x] = Some(s.clone());
                    sk.sepset[x * p + y] = Some(s);
                }
            }
            level += 1;
        }
        sk
    }
}

struct Skeleton {
    adjacent: Vec<bool>,
    /// Symmetric: the separating set of a removed pair.
    sepset: Vec<Option<Vec<usize>>>,
    /// Largest p-value seen, at `[min * p + max]`.
    pmax: Vec<f64>,
    tests: usize,
    level: usize,
}

struct EdgeOutcome {
    sepset: Option<Vec<usize>>,
    pmax: f64,
    tests: usize,
}

/// Tests one edge at one level: subsets of `adj(x) \ {y}`, then the subsets of `adj(y) \ {x}`
/// not already tried, each in lexicographic order. With [`SepsetRule::First`] it stops at the
/// first independence; with [`SepsetRule::Union`] it runs every subset of the level and the
/// separating set is the union of those that gave independence.
fn test_edge(
    test: &FisherZ,
    neighbours: &[Vec<usize>],
    (x, y): (usize, usize),
    level: usize,
    alpha: f64,
    rule: SepsetRule,
) -> EdgeOutcome {
    let mut out = EdgeOutcome {
        sepset: None,
        pmax: 0.0,
        tests: 0,
    };
    let from_x: Vec<usize> = neighbours[x].iter().copied().filter(|&v| v != y).collect();
    let from_y: Vec<usize> = neighbours[y].iter().copied().filter(|&v| v != x).collect();
    for (side, cands) in [&from_x, &from_y].into_iter().enumerate() {
        if cands.len() < level {
            continue;
        }
        let mut idx: Vec<usize> = (0..level).collect();
        let mut s = vec![0; level];
        loop {
            for (slot, &i) in s.iter_mut().zip(&idx) {
                *slot = cands[i];
            }
            // On y's side, a subset that also lies within adj(x) was tried already.
            let seen = side == 1 && s.iter().all(|v| from_x.contains(v));
            if !seen {
                let r = test.test_unchecked(x, y, &s);
                out.tests += 1;
                out.pmax = out.pmax.max(r.p_value);
                if r.p_value > alpha {
                    match rule {
                        SepsetRule::First => {
                            out.sepset = Some(s);
                            return out;
                        }
                        SepsetRule::Union => {
                            let u = out.sepset.get_or_insert_with(Vec::new);
                            for &v in &s {
                                if !u.contains(&v) {
                                    u.push(v);
                                }
                            }
                        }
                    }
                }
            }
            if !next_combination(&mut idx, cands.len()) {
                break;
            }
        }
    }
    if let Some(u) = &mut out.sepset {
        u.sort_unstable();
    }
    out
}

/// Advances `idx` (sorted, distinct, < n) to the next combination in lexicographic order;
/// false after the last. The empty combination has no successor.
fn next_combination(idx: &mut [usize], n: usize) -> bool {
    let k = idx.len();
    let mut i = k;
    while i > 0 {
        i -= 1;
        if idx[i] < n - k + i {
            idx[i] += 1;
            for j in i + 1..k {
                idx[j] = idx[j - 1] + 1;
            }
            return true;
        }
    }
    false
}

/// A partially directed graph as edge marks: `m[a * p + b]` means "an edge leaves `a`
/// towards `b`". `a -- b` sets both, `a -> b` only `m[a * p + b]`.
#[derive(Debug, Clone)]
pub(crate) struct Pdag {
    p: usize,
    m: Vec<bool>,
}

impl Pdag {
    pub(crate) fn from_skeleton(p: usize, adjacent: &[bool]) -> Self {
        Self {
            p,
            m: adjacent.to_vec(),
        }
    }

    fn mark(&self, a: usize, b: usize) -> bool {
        self.m[a * self.p + b]
    }

    fn adjacent(&self, a: usize, b: usize) -> bool {
        self.mark(a, b) || self.mark(b, a)
    }

    fn undirected(&self, a: usize, b: usize) -> bool {
        self.mark(a, b) && self.mark(b, a)
    }

    fn directed(&self, a: usize, b: usize) -> bool {
        self.mark(a, b) && !self.mark(b, a)
    }

    /// Turns `a -- b` into `a -> b`; false when the edge is not undirected.
    fn orient(&mut self, a: usize, b: usize) -> bool {
        if self.undirected(a, b) {
            self.m[b * self.p + a] = false;
            true
        } else {
            false
        }
    }

    fn apply_knowledge(&mut self, c: &Constraints) {
        let p = self.p;
        for a in 0..p {
            for b in 0..p {
                if self.undirected(a, b) && (c.required(a, b) || c.forbidden(b, a)) {
                    self.orient(a, b);
                }
            }
        }
    }

    /// Orients `x -> z <- y` for every unshielded triple the predicate `collider(x, y, z)`
    /// (with `x < y`) accepts, unless an edge already points from `z` to `x` or `y`.
    pub(crate) fn orient_v_structures(&mut self, collider: impl Fn(usize, usize, usize) -> bool) {
        let p = self.p;
        for z in 0..p {
            for x in 0..p {
                if x == z || !self.adjacent(x, z) {
                    continue;
                }
                for y in x + 1..p {
                    if y == z || !self.adjacent(y, z) || self.adjacent(x, y) {
                        continue;
                    }
                    if !collider(x, y, z) || self.directed(z, x) || self.directed(z, y) {
                        continue;
                    }
                    self.orient(x, z);
                    self.orient(y, z);
                }
            }
        }
    }

    /// Meek's rules R1-R4 until no edge changes.
    pub(crate) fn meek(&mut self) {
        let p = self.p;
        loop {
            let mut changed = false;
            for a in 0..p {
                for b in 0..p {
                    if a != b && self.undirected(a, b) && self.meek_orients(a, b) {
                        self.orient(a, b);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// Whether one of Meek's rules turns `a -- b` into `a -> b`.
    fn meek_orients(&self, a: usize, b: usize) -> bool {
        let p = self.p;
        let others = || (0..p).filter(move |&c| c != a && c != b);
        // R1: c -> a -- b, c and b not adjacent.
        if others().any(|c| self.directed(c, a) && !self.adjacent(c, b)) {
            return true;
        }
        // R2: a -> c -> b.
        if others().any(|c| self.directed(a, c) && self.directed(c, b)) {
            return true;
        }
        // R3: a -- c -> b and a -- d -> b, c and d not adjacent.
        let kites: Vec<usize> = others()
            .filter(|&c| self.undirected(a, c) && self.directed(c, b))
            .collect();
        for (i, &c) in kites.iter().enumerate() {
            if kites[i + 1..].iter().any(|&d| !self.adjacent(c, d)) {
                return true;
            }
        }
        // R4: a -- c (or a -> c), c -> d -> b, a adjacent to d, c and b not adjacent.
        for c in others() {
            if !(self.undirected(a, c) || self.directed(a, c)) || self.adjacent(c, b) {
                continue;
            }
            if others().any(|d| {
                d != c && self.directed(c, d) && self.directed(d, b) && self.adjacent(a, d)
            }) {
                return true;
            }
        }
        false
    }

    /// The edges, each with `p_value(a, b)`.
    pub(crate) fn edges(&self, p_value: impl Fn(usize, usize) -> f64) -> Vec<Edge> {
        let p = self.p;
        let mut out = Vec::new();
        for a in 0..p {
            for b in 0..p {
                if self.directed(a, b) || (a < b && self.undirected(a, b)) {
                    out.push(Edge {
                        from: a,
                        to: b,
                        directed: self.directed(a, b),
                        p_value: p_value(a, b),
                    });
                }
            }
        }
        out
    }
}

/// The CPDAG (Markov equivalence class) of a DAG given as a [`CausalGraph`] of directed
/// edges: its skeleton, its v-structures, and Meek's rules. The reference that PC's output
/// is compared with.
pub fn cpdag_of_dag(dag: &CausalGraph) -> Result<CausalGraph> {
    let p = dag.names().len();
    let mut parent = vec![false; p * p];
    let mut adjacent = vec![false; p * p];
    for e in dag.edges() {
        if !e.directed {
            return Err(RcaError::InvalidParameter {
                name: "dag",
                reason: "every edge of a DAG is directed".into(),
            });
        }
        parent[e.from * p + e.to] = true;
        adjacent[e.from * p + e.to] = true;
        adjacent[e.to * p + e.from] = true;
    }
    let mut pdag = Pdag::from_skeleton(p, &adjacent);
    pdag.orient_v_structures(|x, y, z| parent[x * p + z] && parent[y * p + z]);
    pdag.meek();
    CausalGraph::new(dag.names().to_vec(), pdag.edges(|_, _| 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::causal::default_names;

    #[test]
    fn reads_pyrca_domain_knowledge() {
        let text = r#"
# Domain knowledge for the causal graph
causal-graph:
  root-nodes: ["DB_CPU", "APP_GC"]
  leaf-nodes: ["APT"]
  forbids:
    - ["A", "B"]
  requires: null

root-causes:
  - name: "Root_APP_GC"
    P(r=1): 0.5
"#;
        let k = Knowledge::from_yaml(text).unwrap();
        assert_eq!(k.root_nodes, ["DB_CPU", "APP_GC"]);
        assert_eq!(k.leaf_nodes, ["APT"]);
        assert_eq!(k.forbidden, [("A".to_string(), "B".to_string())]);
        assert!(k.required.is_empty());
        assert!(Knowledge::from_yaml("causal-graph:\n  forbids: [[a, b, c]]\n").is_err());
        assert!(Knowledge::from_yaml("causal-graph:\n  forbid: [[a, b]]\n").is_err());
        assert!(Knowledge::from_yaml("").unwrap().is_empty());
    }

    #[test]
    fn combinations_in_lexicographic_order() {
        let mut idx = vec![0, 1];
        let mut all = vec![idx.clone()];
        while next_combination(&mut idx, 4) {
            all.push(idx.clone());
        }
        assert_eq!(
            all,
            [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]].map(|a| a.to_vec())
        );
        assert!(!next_combination(&mut [], 3));
        let _ = default_names(1);
    }
}
