//! Causal discovery speed: PC (Fisher z, stable) on 50 variables x 2,000 samples of a sparse
//! random linear SEM (issue 7 asks for < 2 s), with and without a limit on the conditioning
//! set; pairwise and conditional Granger causality on 20 variables x 2,000 samples. All on the rayon pool
//! (2 cores here); results do not depend on the thread count.
//!
//! `cargo bench -p aiops-benches --bench causal`

use std::hint::black_box;

use aiops_eval::SimRng;
use aiops_eval::dag_sim::RandomDagParams;
use aiops_rca::causal::granger::GrangerParams;
use aiops_rca::causal::pc::PcParams;
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("causal");
    group.sample_size(10);
    for (vars, degree) in [(50, 2.0), (50, 4.0)] {
        let dag = RandomDagParams::new()
            .variables(vars)
            .expected_degree(degree)
            .generate(&mut SimRng::new(7))
            .unwrap();
        let data = dag.sample(2_000, 1.0, &mut SimRng::new(8));
        let pc = PcParams::new().alpha(0.05).check().unwrap();
        let r = pc.fit(data.view(), dag.names()).unwrap();
        eprintln!(
            "{vars} variables, degree {degree}: {} true edges, {} learned, {} CI tests, level {}",
            dag.edges().len(),
            r.graph.edges().len(),
            r.tests,
            r.max_level
        );
        group.bench_function(format!("pc_{vars}x2000_degree{degree}"), |b| {
            b.iter(|| black_box(pc.fit(black_box(data.view()), dag.names()).unwrap()))
        });
    }
    let dag = RandomDagParams::new()
        .variables(20)
        .expected_degree(2.0)
        .generate(&mut SimRng::new(9))
        .unwrap();
    let data = dag.sample_lagged(2_000, 1, 1.0, &mut SimRng::new(10), |_, _| 0.0);
    let granger = GrangerParams::new().max_lag(5).check().unwrap();
    group.bench_function("granger_20x2000_lag5", |b| {
        b.iter(|| black_box(granger.fit(black_box(data.view()), dag.names()).unwrap()))
    });
    let conditional = GrangerParams::new()
        .max_lag(5)
        .conditional(true)
        .check()
        .unwrap();
    group.bench_function("granger_conditional_20x2000_lag5", |b| {
        b.iter(|| {
            black_box(
                conditional
                    .fit(black_box(data.view()), dag.names())
                    .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
