//! Scores one registry detector on the three detection families at once (NAB, telemanom whole
//! files and test parts, the seeded synthetic family) and prints one line per family: the
//! quick loop behind the detector tables of BENCHMARKS.md.
//!
//! ```sh
//! cargo run --release -p aiops-eval --example families -- ../shared/data default [k=v ...]
//! ```
//!
//! `NO_NAB=1` skips NAB; `PER=1` lists the 25 telemanom channels with the most false alarms;
//! `SEED=N` generates the synthetic family with seed N (default 1, the seed of the tables).

use std::path::PathBuf;

use aiops_eval::{events, nab, synthetic};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let data = PathBuf::from(
        args.next()
            .ok_or("usage: families DATA DETECTOR [k=v ...]")?,
    );
    let name = args.next().unwrap_or_else(|| "default".to_string());
    let rest: Vec<String> = args.collect();
    let params = aiops_detect::registry::parse_assignments(&rest)?;
    let tol = events::DEFAULT_TOLERANCE;

    let tele = events::load_dir(&data.join("telemanom"))?;
    let (_, flags) = events::run_detector(&tele, &name, &params, &aiops_eval::no_progress)?;
    for test_only in [false, true] {
        let per = events::score_all(&tele, &flags, tol, test_only)?;
        if std::env::var_os("PER").is_some() && !test_only {
            let mut v: Vec<_> = per.iter().collect();
            v.sort_by_key(|s| std::cmp::Reverse(s.false_alarms));
            for s in v.iter().take(25) {
                println!(
                    "  {:<8} fa {:>4} found {}/{} f1 {:.2}",
                    s.name,
                    s.false_alarms,
                    s.found,
                    s.segments,
                    s.f1.unwrap_or(0.0)
                );
            }
        }
        let r = events::EventReport::new("telemanom".into(), name.clone(), tol, per, 0.0);
        println!(
            "telemanom{:<6} F1 {:.3} P {:.3} R {:.3} false alarms {:>5} pooled {:.3} us/pt {:.2}",
            if test_only { "-test" } else { "" },
            r.mean.f1.unwrap_or(0.0),
            r.mean.precision.unwrap_or(0.0),
            r.mean.recall.unwrap_or(0.0),
            r.false_alarms,
            r.pooled.f1.unwrap_or(0.0),
            r.us_per_point
        );
    }
    let mut family = synthetic::SyntheticParams::default();
    if let Some(seed) = std::env::var("SEED").ok().and_then(|s| s.parse().ok()) {
        family.seed = seed;
    }
    let r = synthetic::evaluate_detector(&family, &name, &params, tol, &aiops_eval::no_progress)?;
    let kinds: Vec<String> = r
        .by_kind
        .iter()
        .map(|(k, v)| format!("{k} {:.2}", v.recall))
        .collect();
    println!(
        "synthetic       F1 {:.3} P {:.3} R {:.3} false alarms {:>5} pooled {:.3} us/pt {:.2} | {}",
        r.mean.f1.unwrap_or(0.0),
        r.mean.precision.unwrap_or(0.0),
        r.mean.recall.unwrap_or(0.0),
        r.false_alarms,
        r.pooled.f1.unwrap_or(0.0),
        r.us_per_point,
        kinds.join(", ")
    );
    if std::env::var_os("NO_NAB").is_none() {
        let corpus = nab::load_corpus(&data.join("nab"))?;
        let r = nab::evaluate_detector(&corpus, &name, &params, true, &aiops_eval::no_progress)?;
        println!(
            "NAB             standard {:.1} low FP {:.1} low FN {:.1}",
            r.standard.unwrap_or(f64::NAN),
            r.reward_low_fp_rate.unwrap_or(f64::NAN),
            r.reward_low_fn_rate.unwrap_or(f64::NAN)
        );
        if let Some(p) = r.profiles.first() {
            println!(
                "  {}: threshold {:.3}, TP {} FP {} FN {}",
                p.profile, p.threshold, p.counts.tp, p.counts.fp, p.counts.fn_
            );
        }
    }
    Ok(())
}
