//! RCA with the anomaly time found versus given, on both simulators in one run: the quick loop
//! behind the "RCA without a given time" figures of BENCHMARKS.md.
//!
//! ```sh
//! cargo run --release -p aiops-eval --example rca_onset -- [cases]
//! ```
//!
//! Environment: `ALL=1` ranks with every method; `SEEDS=100000,200000` and
//! `SIMS=dag,microservice` choose the runs (default: dag on 1000 and 5000, microservice on
//! 100000 and 200000); `MISSES=1` lists the cases whose root is not first with the time found
//! (fault kind, true and found onset, rank and the top three); with `SHOW=1` every case, with
//! the top three's evidence, and with `NOTES=1` the ranking's notes; `COUNT=1` prints how many
//! candidate onsets the cases have.

use aiops_core::TopologyGraph;
use aiops_eval::dag_sim::FaultParams;
use aiops_eval::microservice_sim::SimParams;
use aiops_eval::rca_ranking::{Simulator, evaluate_with};
use aiops_rca::rank::changepoint::{MAX_CANDIDATES, candidate_onsets};
use aiops_rca::rank::{Method, MetricFrame, find_anomaly_time, rank};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cases: usize = std::env::args()
        .nth(1)
        .map(|c| c.parse())
        .transpose()?
        .unwrap_or(300);
    let list = |var: &str| std::env::var(var).ok().filter(|s| !s.is_empty());
    let runs: Vec<(String, u64)> = match (list("SIMS"), list("SEEDS")) {
        (None, None) => vec![
            ("dag".into(), 1_000u64),
            ("dag".into(), 5_000),
            ("microservice".into(), 100_000),
            ("microservice".into(), 200_000),
        ],
        (sims, seeds) => {
            let sims = sims.unwrap_or_else(|| "dag,microservice".into());
            let seeds = seeds.unwrap_or_else(|| "100000,200000".into());
            let mut out = Vec::new();
            for sim in sims.split(',') {
                for seed in seeds.split(',') {
                    out.push((sim.trim().to_string(), seed.trim().parse()?));
                }
            }
            out
        }
    };
    let all = std::env::var_os("ALL").is_some();
    let misses = std::env::var_os("MISSES").is_some();
    for (name, seed) in runs {
        let sim = Simulator::by_name(&name, SimParams::default(), FaultParams::default())?;
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
            "{name:<12} seed {seed:>6}: given AC@1 {:.3} AC@3 {:.3} Avg@5 {:.3} | found AC@1 {:.3} AC@3 {:.3} Avg@5 {:.3} | median time error {:.1} points, not found {}",
            m.given.ac(1),
            m.given.ac(3),
            m.given.avg5(),
            m.found.ac(1),
            m.found.ac(3),
            m.found.avg5(),
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
        if std::env::var_os("COUNT").is_some() {
            let mut hist = [0usize; 6];
            for i in 0..cases as u64 {
                let case = sim.case(seed + i)?;
                let graph = TopologyGraph::new(&case.topology)?;
                let frame = MetricFrame::new(&graph, case.timestamps, &case.names, case.columns)?;
                let n = candidate_onsets(&frame, MAX_CANDIDATES).map_or(0, |c| c.len());
                hist[n.min(5)] += 1;
            }
            println!("    candidate onsets per case (0..=5): {hist:?}");
        }
        if misses {
            for i in 0..cases as u64 {
                print_miss(&sim, seed + i)?;
            }
        }
    }
    Ok(())
}

/// One line for a case whose root is not first with the time found.
fn print_miss(sim: &Simulator, seed: u64) -> Result<(), Box<dyn std::error::Error>> {
    let case = sim.case(seed)?;
    let graph = TopologyGraph::new(&case.topology)?;
    let frame = MetricFrame::new(
        &graph,
        case.timestamps.clone(),
        &case.names,
        case.columns.clone(),
    )?;
    let step = case.timestamps[1] - case.timestamps[0];
    let truth = (case.fault_time - case.timestamps[0]) / step;
    let found = find_anomaly_time(&frame).ok();
    let r = rank(&graph, &frame, None, Method::Default).ok();
    let position = |r: &aiops_rca::rank::Ranking| {
        r.root_causes
            .iter()
            .position(|c| c.resource == case.root)
            .map_or(0, |p| p + 1)
    };
    let Some(r) = r else {
        println!("  miss {seed}: {:?} {} no ranking", case.fault, case.root);
        return Ok(());
    };
    let p = position(&r);
    if p == 1 && std::env::var_os("SHOW").is_none() {
        return Ok(());
    }
    let given = rank(&graph, &frame, Some(case.fault_time), Method::Default)
        .map(|g| position(&g))
        .unwrap_or(0);
    let at = (r.anomaly_time - case.timestamps[0]) / step;
    let top: Vec<String> = r
        .root_causes
        .iter()
        .take(3)
        .map(|c| format!("{}({:.2})", c.resource, c.score))
        .collect();
    println!(
        "  miss {seed}: {:?} root {} truth {truth} used {at} (cp {:?}) rank found {p} given {given} | top {} | {}",
        case.fault,
        case.root,
        found.as_ref().map(|c| c.index),
        top.join(" "),
        found.map(|c| c.first_column).unwrap_or_default()
    );
    if std::env::var_os("SHOW").is_some() {
        for c in r.root_causes.iter().take(3) {
            println!(
                "    #{} {} conf {:.3} score {:.2}",
                c.rank, c.resource, c.confidence, c.score
            );
            for e in &c.evidence {
                println!("        {e}");
            }
        }
    }
    if std::env::var_os("NOTES").is_some() {
        for n in &r.notes {
            println!("      {n}");
        }
    }
    Ok(())
}
