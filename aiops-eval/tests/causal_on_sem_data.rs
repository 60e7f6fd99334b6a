//! Causal discovery (`aiops_rca::causal`: Fisher-z test, Granger, PC) on data simulated from
//! known linear structural equation models (`aiops_eval::dag_sim`): behaviour across the two
//! crates, so these tests live here rather than beside the methods.

use aiops_core::{CoreError, Topology, TopologyGraph};
use aiops_eval::SimRng;
use aiops_eval::causal_discovery::score;
use aiops_eval::dag_sim::{Dag, RandomDagParams};
use aiops_rca::causal::default_names;
use aiops_rca::causal::fisher_z::FisherZ;
use aiops_rca::causal::granger::Granger;
use aiops_rca::causal::pc::{
    Knowledge, PcParams, PcResult, SepsetRule, TopologyPrior, cpdag_of_dag,
};
use aiops_rca::{RcaError, Result};
use ndarray::Array2;

// --- Fisher z ---

#[test]
fn partial_correlation_matches_the_inverse_formula() {
    let dag = Dag::from_edges(
        6,
        &[
            (0, 1, 0.8),
            (1, 2, -1.2),
            (0, 3, 0.5),
            (3, 2, 0.7),
            (4, 5, 1.0),
        ],
    )
    .unwrap();
    let data = dag.sample(500, 1.0, &mut SimRng::new(3));
    let t = FisherZ::new(data.view(), &default_names(6)).unwrap();
    let corr = t.correlation();
    for s in [&[][..], &[3], &[1, 3], &[1, 3, 4], &[1, 3, 4, 5]] {
        let fast = t.test(0, 2, s).unwrap().partial_correlation;
        let slow = by_inverse(&corr, 0, 2, s);
        assert!((fast - slow).abs() < 1e-10, "S={s:?}: {fast} vs {slow}");
    }
}

#[test]
fn chain_is_dependent_but_independent_given_the_middle() {
    let dag = Dag::from_edges(3, &[(0, 1, 1.0), (1, 2, 1.0)]).unwrap();
    let data = dag.sample(2_000, 1.0, &mut SimRng::new(11));
    let t = FisherZ::new(data.view(), &default_names(3)).unwrap();
    assert!(t.test(0, 2, &[]).unwrap().p_value < 1e-10);
    assert!(t.test(0, 2, &[1]).unwrap().p_value > 0.01);
    // Collider 0 -> 1 <- 2: independent alone, dependent given the collider.
    let dag = Dag::from_edges(3, &[(0, 1, 1.0), (2, 1, 1.0)]).unwrap();
    let data = dag.sample(2_000, 1.0, &mut SimRng::new(12));
    let t = FisherZ::new(data.view(), &default_names(3)).unwrap();
    assert!(t.test(0, 2, &[]).unwrap().p_value > 0.01);
    assert!(t.test(0, 2, &[1]).unwrap().p_value < 1e-10);
}

/// Partial correlation from the inverse of the whole sub-matrix (the definition), inverted by
/// linfa-linalg: an independent reference the fast path must match.
fn by_inverse(corr: &Array2<f64>, x: usize, y: usize, s: &[usize]) -> f64 {
    use linfa_linalg::cholesky::InverseC;
    let idx: Vec<usize> = [x, y].iter().chain(s).copied().collect();
    let sub = Array2::from_shape_fn((idx.len(), idx.len()), |(i, j)| corr[[idx[i], idx[j]]]);
    let p = sub.invc().unwrap();
    -p[[0, 1]] / (p[[0, 0]] * p[[1, 1]]).sqrt()
}

// --- Granger ---

#[test]
fn lagged_sem_is_found_in_time_order() {
    // A lagged chain 0 -> 1 -> 2 from the simulator: the direct edges are significant.
    let dag = Dag::from_edges(3, &[(0, 1, 0.9), (1, 2, 0.9)]).unwrap();
    let data = dag.sample_lagged(3_000, 1, 1.0, &mut SimRng::new(4), |_, _| 0.0);
    let r = Granger::params()
        .alpha(0.001)
        .check()
        .unwrap()
        .fit(data.view(), dag.names())
        .unwrap();
    assert!(r.graph.has_directed(0, 1) && r.graph.has_directed(1, 2));
    assert!(!r.graph.is_adjacent(1, 0) || r.graph.has_directed(0, 1));
    assert!(r.p_values[[2, 0]] > 0.001 && r.p_values[[1, 0]] > 0.001);
}

#[test]
fn conditional_drops_the_indirect_edge_of_a_chain() {
    // Lagged chain 0 -> 1 -> 2: pairwise, 0 also predicts 2 (two steps later); given 1's
    // past, it does not.
    let dag = Dag::from_edges(3, &[(0, 1, 0.9), (1, 2, 0.9)]).unwrap();
    let data = dag.sample_lagged(3_000, 1, 1.0, &mut SimRng::new(4), |_, _| 0.0);
    let fit = |conditional| {
        Granger::params()
            .alpha(0.001)
            .conditional(conditional)
            .check()
            .unwrap()
            .fit(data.view(), dag.names())
            .unwrap()
    };
    let (pairwise, conditional) = (fit(false), fit(true));
    assert!(pairwise.graph.has_directed(0, 2));
    assert!(
        !conditional.graph.is_adjacent(0, 2),
        "{:?}",
        conditional.graph
    );
    assert!(conditional.graph.has_directed(0, 1) && conditional.graph.has_directed(1, 2));
    assert_eq!(conditional.graph.edges().len(), 2);
}

// --- PC ---

fn fit(dag: &Dag, n: usize, seed: u64, params: PcParams) -> Result<PcResult> {
    let data = dag.sample(n, 1.0, &mut SimRng::new(seed));
    params.check()?.fit(data.view(), dag.names())
}

#[test]
fn chain_gives_an_undirected_chain() {
    let dag = Dag::from_edges(3, &[(0, 1, 1.0), (1, 2, 1.0)]).unwrap();
    let r = fit(&dag, 2_000, 1, PcParams::new().alpha(0.01)).unwrap();
    let g = &r.graph;
    assert!(g.has_undirected(0, 1) && g.has_undirected(1, 2) && !g.is_adjacent(0, 2));
    assert_eq!(r.sepsets, vec![(0, 2, vec![1])]);
}

#[test]
fn fork_gives_an_undirected_fork() {
    let dag = Dag::from_edges(3, &[(1, 0, 1.0), (1, 2, -0.8)]).unwrap();
    let g = fit(&dag, 2_000, 2, PcParams::new().alpha(0.01))
        .unwrap()
        .graph;
    assert!(g.has_undirected(0, 1) && g.has_undirected(1, 2) && !g.is_adjacent(0, 2));
}

#[test]
fn collider_is_oriented_and_meek_r1_propagates() {
    // 0 -> 2 <- 1, 2 -> 3: the collider is found, then R1 orients 2 -> 3.
    let dag = Dag::from_edges(4, &[(0, 2, 1.0), (1, 2, 1.0), (2, 3, 1.0)]).unwrap();
    let g = fit(&dag, 3_000, 3, PcParams::new().alpha(0.01))
        .unwrap()
        .graph;
    assert_eq!(g.edges().len(), 3);
    assert!(g.has_directed(0, 2) && g.has_directed(1, 2) && g.has_directed(2, 3));
    assert_eq!(
        cpdag_of_dag(&dag.graph().unwrap()).unwrap().edges().len(),
        3
    );
}

/// A random DAG of `variables` nodes with expected degree `expected_degree`, drawn from `seed`.
fn random_dag(variables: usize, expected_degree: f64, seed: u64) -> Dag {
    RandomDagParams::new()
        .variables(variables)
        .expected_degree(expected_degree)
        .generate(&mut SimRng::new(seed))
        .unwrap()
}

#[test]
fn recovers_the_cpdag_of_random_sparse_dags() {
    // Random weights of either sign sometimes nearly cancel along two paths (a near
    // violation of faithfulness that no CI-based method survives), so the bar is on the
    // average of ten graphs, not on each.
    let (mut f1, mut shd, mut prec) = (0.0, 0, 0.0);
    for seed in 0..10 {
        let dag = random_dag(12, 2.0, seed);
        let r = fit(&dag, 5_000, seed + 100, PcParams::new().alpha(0.01)).unwrap();
        let s = score(&r.graph, &dag.graph().unwrap()).unwrap();
        f1 += s.skeleton_f1 / 10.0;
        prec += s.skeleton_precision / 10.0;
        shd += s.shd_cpdag;
    }
    assert!(
        f1 >= 0.95 && prec >= 0.97,
        "skeleton F1 {f1}, precision {prec}"
    );
    assert!(
        shd <= 24,
        "total SHD to the true CPDAGs {shd} (about 120 true edges)"
    );
}

#[test]
fn same_result_on_one_thread_and_many_and_independent_of_order() {
    let dag = random_dag(15, 3.0, 5);
    let data = dag.sample(1_000, 1.0, &mut SimRng::new(6));
    let pc = PcParams::new().alpha(0.05).check().unwrap();
    let many = pc.fit(data.view(), dag.names()).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let one = pool.install(|| pc.fit(data.view(), dag.names()).unwrap());
    assert_eq!(many.graph, one.graph);
    assert_eq!(many.sepsets, one.sepsets);
    // Stable PC: reversing the column order gives the same skeleton.
    let p = dag.len();
    let rev: Vec<usize> = (0..p).rev().collect();
    let data_rev = data.select(ndarray::Axis(1), &rev);
    let names_rev: Vec<String> = rev.iter().map(|&i| dag.names()[i].clone()).collect();
    let back = pc.fit(data_rev.view(), &names_rev).unwrap();
    for a in 0..p {
        for b in 0..p {
            assert_eq!(
                many.graph.is_adjacent(a, b),
                back.graph.is_adjacent(p - 1 - a, p - 1 - b)
            );
        }
    }
}

#[test]
fn knowledge_orients_and_removes() {
    // Chain 0 -> 1 -> 2 has no v-structure: alone, PC leaves it undirected. With 0 a
    // root node, R1 orients the whole chain.
    let dag = Dag::from_edges(3, &[(0, 1, 1.0), (1, 2, 1.0)]).unwrap();
    let k = Knowledge::new().root("x0");
    let g = fit(&dag, 2_000, 1, PcParams::new().alpha(0.01).knowledge(k))
        .unwrap()
        .graph;
    assert!(g.has_directed(0, 1) && g.has_directed(1, 2));
    // A leaf node: 2 has no children, so 1 -> 2; the rest stays undirected.
    let k = Knowledge::new().leaf("x2");
    let g = fit(&dag, 2_000, 1, PcParams::new().alpha(0.01).knowledge(k))
        .unwrap()
        .graph;
    assert!(g.has_directed(1, 2) && g.has_undirected(0, 1));
    // Forbidding both directions removes a true edge; requiring keeps an absent one.
    let k = Knowledge::new()
        .forbid("x0", "x1")
        .forbid("x1", "x0")
        .require("x0", "x2");
    let g = fit(&dag, 2_000, 1, PcParams::new().alpha(0.01).knowledge(k))
        .unwrap()
        .graph;
    assert!(!g.is_adjacent(0, 1) && g.has_directed(0, 2));
}

#[test]
fn bad_knowledge_is_a_typed_error() {
    let dag = Dag::from_edges(3, &[(0, 1, 1.0), (1, 2, 1.0)]).unwrap();
    let run = |k: Knowledge| fit(&dag, 200, 1, PcParams::new().knowledge(k));
    assert!(matches!(
        run(Knowledge::new().forbid("x0", "nope")),
        Err(RcaError::UnknownVariable { name, .. }) if name == "nope"
    ));
    assert!(matches!(
        run(Knowledge::new().forbid("x0", "x1").require("x0", "x1")),
        Err(RcaError::ContradictoryConstraints(_))
    ));
    assert!(matches!(
        run(Knowledge::new().root("x1").require("x0", "x1")),
        Err(RcaError::ContradictoryConstraints(_))
    ));
    assert!(matches!(
        run(Knowledge::new()
            .require("x0", "x1")
            .require("x1", "x2")
            .require("x2", "x0")),
        Err(RcaError::ContradictoryConstraints(m)) if m.contains("cycle")
    ));
    assert!(PcParams::new().alpha(1.0).check().is_err());
    assert!(PcParams::new().alpha(f64::NAN).check().is_err());
    // Fewer samples than variables.
    let wide = Dag::from_edges(10, &[(0, 1, 1.0)]).unwrap();
    assert!(matches!(
        fit(&wide, 8, 1, PcParams::new()),
        Err(RcaError::NotEnoughSamples { .. })
    ));
}

#[test]
fn topology_prior_forbids_far_pairs_and_orients_along_dependencies() {
    // web calls api calls db; each has one metric, a true chain db -> api -> web, plus
    // an unrelated "batch" service connected to nothing.
    let topo = Topology::from_json(
        r#"{"nodes": [{"id": "web", "kind": "service"}, {"id": "api", "kind": "service"},
                     {"id": "db", "kind": "database"}, {"id": "batch", "kind": "service"}],
           "edges": [{"from": "web", "to": "api", "kind": "calls"},
                     {"from": "api", "to": "db", "kind": "calls"}]}"#,
    )
    .unwrap();
    let graph = TopologyGraph::new(&topo).unwrap();
    let names: Vec<String> = ["web:latency", "api:latency", "db:latency", "batch:cpu"]
        .map(String::from)
        .to_vec();
    let dag = Dag::with_names(names.clone(), &[(2, 1, 1.0), (1, 0, 1.0), (2, 3, 1.0)]).unwrap();
    let data = dag.sample(2_000, 1.0, &mut SimRng::new(8));
    // Without the prior, db -> batch is found (it is in the data).
    let plain = PcParams::new().alpha(0.01).check().unwrap();
    assert!(
        plain
            .fit(data.view(), &names)
            .unwrap()
            .graph
            .is_adjacent(2, 3)
    );
    // With it, batch is unreachable from db, and the chain is oriented db -> api -> web.
    let prior = TopologyPrior::new(graph.clone(), 1).follow_dependencies(true);
    let pc = PcParams::new().alpha(0.01).topology(prior).check().unwrap();
    let g = pc.fit(data.view(), &names).unwrap().graph;
    assert!(!g.is_adjacent(2, 3));
    assert!(g.has_directed(2, 1) && g.has_directed(1, 0));
    // A column for a resource that is not in the topology.
    let mut unknown = names.clone();
    unknown[3] = "ghost:cpu".into();
    assert!(matches!(
        pc.fit(data.view(), &unknown),
        Err(RcaError::Core(CoreError::UnknownResource(r))) if r == "ghost"
    ));
}

#[test]
fn max_cond_size_limits_the_levels() {
    let dag = random_dag(10, 4.0, 2);
    let r = fit(&dag, 1_000, 3, PcParams::new().max_cond_size(1)).unwrap();
    assert!(r.max_level <= 1);
    let first = PcParams::new()
        .max_cond_size(1)
        .sepset_rule(SepsetRule::First);
    let f = fit(&dag, 1_000, 3, first).unwrap();
    assert!(f.sepsets.iter().all(|(_, _, s)| s.len() <= 1));
    // Same skeleton either way; the union holds the first set found, and costs tests.
    assert_eq!(f.sepsets.len(), r.sepsets.len());
    for ((x, y, a), (u, v, b)) in f.sepsets.iter().zip(&r.sepsets) {
        assert_eq!((x, y), (u, v));
        assert!(a.iter().all(|k| b.contains(k)), "{a:?} not in {b:?}");
    }
    assert!(f.tests <= r.tests);
    assert!("first".parse::<SepsetRule>().is_ok() && "x".parse::<SepsetRule>().is_err());
}
