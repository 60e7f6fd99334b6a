//! Replays `default` with a second detector's alarms added (or used as a gate) on the three
//! detection families, without changing `default`: both detectors run once per series and
//! their outputs are combined point by point. Neither learns from the other, so the flags
//! are exactly those of a `default` holding the second detector as an extra part.
//!
//! ```sh
//! cargo run --release -p aiops-eval --example union_replay -- ../shared/data discord [k=v ...]
//! ```
//!
//! Prints, on telemanom (whole files and test parts), `default` alone and `default` OR "the
//! second detector's score >= m" for m in 1, 1.5, 2, 3, 5 (its flag is score >= 1 for
//! `discord`), from point 0, 1,000 or 2,000; then `default` gated by it (an alarm kept only
//! where its score reaches g, or where it does not score yet), with or without the union at
//! m = 2; the segments it finds alone that `default` misses; the synthetic family, seeds
//! 1-3, likewise; with `NAB=1`, NAB's standard profile where the added alarms score
//! `default`'s flag threshold, 0.5 (the bottom of its flagged band, as an integrated part
//! would rank them, under any threshold NAB's sweep picks above it).

use std::path::PathBuf;

use aiops_eval::{events, nab, synthetic};
use rayon::prelude::*;

type Outputs = Vec<(Vec<bool>, Vec<f64>)>;

const MULTIPLES: [f64; 5] = [1.0, 1.5, 2.0, 3.0, 5.0];
const GATES: [f64; 3] = [0.2, 0.35, 0.5];

fn run(
    corpus: &[events::EventSeries],
    name: &str,
    params: &serde_json::Map<String, serde_json::Value>,
) -> Result<Outputs, aiops_detect::DetectError> {
    corpus
        .par_iter()
        .map(|s| {
            let det = aiops_detect::registry::build(name, params)?;
            let d = det.detect(&nab::detection_timestamps(&s.timestamps), &s.values)?;
            Ok((d.is_anomaly, d.scores))
        })
        .collect()
}

/// Mean F1, false alarms and segments found.
fn score(
    corpus: &[events::EventSeries],
    flags: &[Vec<bool>],
    test_only: bool,
) -> Result<(f64, usize, usize, Vec<events::SeriesScore>), aiops_eval::EvalError> {
    let sf: Vec<events::SeriesFlags> = flags
        .iter()
        .map(|f| events::SeriesFlags {
            flags: f.clone(),
            seconds: 0.0,
        })
        .collect();
    let per = events::score_all(corpus, &sf, events::DEFAULT_TOLERANCE, test_only)?;
    let r = events::EventReport::new(
        String::new(),
        String::new(),
        events::DEFAULT_TOLERANCE,
        per.clone(),
        0.0,
    );
    Ok((r.mean.f1.unwrap_or(0.0), r.false_alarms, r.found, per))
}

/// `default`'s flags, kept where the other's score reaches `gate` or it does not score yet,
/// OR the other's score >= `m` from point `from` on.
fn combine(a: &Outputs, b: &Outputs, gate: f64, m: f64, from: usize) -> Vec<Vec<bool>> {
    a.iter()
        .zip(b)
        .map(|((fa, _), (_, sb))| {
            let first = sb.iter().position(|&s| s > 0.0).unwrap_or(sb.len());
            fa.iter()
                .zip(sb)
                .enumerate()
                .map(|(i, (&x, &s))| (x && (i < first || s >= gate)) || (i >= from && s >= m))
                .collect()
        })
        .collect()
}

fn flags_of(o: &Outputs) -> Vec<Vec<bool>> {
    o.iter().map(|x| x.0.clone()).collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let data = PathBuf::from(
        args.next()
            .ok_or("usage: union_replay DATA DETECTOR [k=v ...]")?,
    );
    let name = args.next().unwrap_or_else(|| "discord".to_string());
    let rest: Vec<String> = args.collect();
    let params = aiops_detect::registry::parse_assignments(&rest)?;
    let none = serde_json::Map::new();

    let tele = events::load_dir(&data.join("telemanom"))?;
    let a = run(&tele, "default", &none)?;
    let b = run(&tele, &name, &params)?;
    let (f, fa, found, per0) = score(&tele, &flags_of(&a), false)?;
    let (ft, fat, _, _) = score(&tele, &flags_of(&a), true)?;
    println!("telemanom default: {f:.3} ({fa}) found {found}; test parts {ft:.3} ({fat})");
    let (f, fa, found, perb) = score(&tele, &flags_of(&b), false)?;
    println!("telemanom {name}: {f:.3} ({fa}) found {found}");
    for from in [0, 1000, 2000] {
        for m in MULTIPLES {
            let u = combine(&a, &b, 0.0, m, from);
            let (f, fa, found, _) = score(&tele, &u, false)?;
            let (ft, fat, _, _) = score(&tele, &u, true)?;
            println!(
                "telemanom union m {m} from {from}: {f:.3} ({fa}) found {found}; test parts {ft:.3} ({fat})"
            );
        }
    }
    for gate in GATES {
        for m in [2.0, f64::INFINITY] {
            let u = combine(&a, &b, gate, m, 0);
            let (f, fa, found, _) = score(&tele, &u, false)?;
            let (ft, fat, _, _) = score(&tele, &u, true)?;
            println!(
                "telemanom gate {gate} union m {m}: {f:.3} ({fa}) found {found}; test parts {ft:.3} ({fat})"
            );
        }
    }
    let gained: Vec<String> = per0
        .iter()
        .zip(&perb)
        .filter(|(p0, pb)| pb.found > p0.found)
        .map(|(p0, pb)| {
            format!(
                "{} {}->{}/{} ({} false alarms)",
                p0.name, p0.found, pb.found, p0.segments, pb.false_alarms
            )
        })
        .collect();
    println!(
        "{name} alone finds more than default in: {}",
        gained.join(", ")
    );

    if std::env::var_os("NAB").is_some() {
        let corpus = nab::load_corpus(&data.join("nab"))?;
        let a = nab::run_detector(&corpus, "default", &none, true)?;
        let b = nab::run_detector(&corpus, &name, &params, true)?;
        let profiles = nab::CostProfile::nab_profiles();
        let r = nab::score_corpus(&corpus, &a, &profiles)?;
        print!("NAB standard: default {:.1}", r[0].normalized);
        for m in [1.0, 2.0, 3.0] {
            let u: Vec<Vec<f64>> = a
                .iter()
                .zip(&b)
                .map(|(x, y)| {
                    x.iter()
                        .zip(y)
                        .map(|(&p, &q)| if q >= m { p.max(0.5) } else { p })
                        .collect()
                })
                .collect();
            let r = nab::score_corpus(&corpus, &u, &profiles)?;
            print!(" | union m {m} {:.1}", r[0].normalized);
        }
        println!();
    }

    for seed in [1u64, 2, 3] {
        let fam = synthetic::SyntheticParams {
            seed,
            ..Default::default()
        };
        let family = synthetic::generate(&fam)?;
        let corpus: Vec<events::EventSeries> = family.iter().map(|s| s.series.clone()).collect();
        let a = run(&corpus, "default", &none)?;
        let b = run(&corpus, &name, &params)?;
        let (f, fa, _, _) = score(&corpus, &flags_of(&a), false)?;
        let (fb, fab, _, _) = score(&corpus, &flags_of(&b), false)?;
        print!("synthetic seed {seed}: default {f:.3} ({fa}), {name} {fb:.3} ({fab}); union");
        for m in MULTIPLES {
            let (f, fa, _, _) = score(&corpus, &combine(&a, &b, 0.0, m, 0), false)?;
            print!(" m {m} {f:.3} ({fa})");
        }
        print!("; gate");
        for gate in GATES {
            let (f, fa, _, _) = score(&corpus, &combine(&a, &b, gate, f64::INFINITY, 0), false)?;
            print!(" {gate} {f:.3} ({fa})");
        }
        println!();
    }
    Ok(())
}
