//! RCA with the anomaly time found versus given, on both simulators in one run: the quick loop
//! behind the "RCA without a given time" figures of BENCHMARKS.md.
//!
//! ```sh
//! cargo run --release -p aiops-eval --example rca_onset -- [cases]
//! ```

use aiops_eval::dag_sim::FaultParams;
use aiops_eval::microservice_sim::SimParams;
use aiops_eval::rca_ranking::{Simulator, evaluate_with};
use aiops_rca::rank::Method;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cases: usize = std::env::args()
        .nth(1)
        .map(|c| c.parse())
        .transpose()?
        .unwrap_or(300);
    let runs = [
        ("dag", 1_000u64),
        ("dag", 5_000),
        ("microservice", 100_000),
        ("microservice", 200_000),
    ];
    for (name, seed) in runs {
        let sim = Simulator::by_name(name, SimParams::default(), FaultParams::default())?;
        let all = std::env::var_os("ALL").is_some();
        let methods = if all {
            Method::ALL.to_vec()
        } else {
            vec![Method::Default]
        };
        let r = evaluate_with(&sim, &methods, cases, seed)?;
        if all {
            for m in &r.methods {
                println!(
                    "{name:<12} seed {seed:>6} {:<10}: {:.3} / {:.3} / {:.3}",
                    m.method.as_str(),
                    m.given.ac(1),
                    m.given.ac(3),
                    m.found.ac(1)
                );
            }
        }
        let m = &r.methods[0];
        println!(
            "{name:<12} seed {seed:>6}: given AC@1 {:.3} AC@3 {:.3} | found AC@1 {:.3} AC@3 {:.3} | median time error {:.1} points, not found {}",
            m.given.ac(1),
            m.given.ac(3),
            m.found.ac(1),
            m.found.ac(3),
            r.median_time_error,
            r.time_not_found
        );
        for (kind, (given, found)) in &m.per_kind {
            println!(
                "    {kind:?}: given AC@1 {:.3} | found AC@1 {:.3} AC@3 {:.3} ({} cases)",
                given.ac(1),
                found.ac(1),
                found.ac(3),
                given.cases
            );
        }
    }
    Ok(())
}
