//! Interval coverage of a model on the operator-like forecast family over the twelve runs of
//! BENCHMARKS.md (seeds 1-3 with 2 series per cell; 7 and 10-17 with 6), the groups outside 5
//! points of nominal, and per series (ids containing GROUP, or `all`): coverage, bias, RMSE,
//! the half-widths over the RMSE, and the 80% coverage an interval of 1.2816 x the day's own
//! RMSE (`crmse`) or standard deviation around its bias (`csd`) would have had.
//!
//! With GROUP `further`, the eleven further seeds instead (4-6 with 2 per cell, 20-27 with 6).
//!
//! ```sh
//! cargo run --release -p aiops-eval --example fc_diag -- [MODEL] [GROUP]
//! M4=../shared/data/m4 cargo run --release -p aiops-eval --example fc_diag   # and M4 hourly
//! ```

use aiops_eval::forecast_family::{FamilyParams, evaluate, generate};
use aiops_forecast::registry;
use rayon::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let model = args.next().unwrap_or_else(|| "auto".into());
    let filter = args.next();
    let further = filter.as_deref() == Some("further");
    let runs: Vec<(u64, usize)> = if further {
        [(4, 2), (5, 2), (6, 2)]
            .into_iter()
            .chain((20..=27).map(|s| (s, 6)))
            .collect()
    } else {
        vec![
            (1, 2),
            (2, 2),
            (3, 2),
            (7, 6),
            (10, 6),
            (11, 6),
            (12, 6),
            (13, 6),
            (14, 6),
            (15, 6),
            (16, 6),
            (17, 6),
        ]
    };
    let mut total = 0;
    for (seed, per_cell) in runs {
        let p = FamilyParams { per_cell, seed };
        let fam = generate(&p);
        let s = evaluate(&fam, &model, p)?;
        let mut bad = Vec::new();
        for g in std::iter::once(&s.all)
            .chain(&s.by_interval)
            .chain(&s.by_shape)
        {
            if !(0.75..=0.85).contains(&g.coverage_80) {
                bad.push(format!("{} 80% {:.3}", g.group, g.coverage_80));
            }
            if !(0.90..=1.0).contains(&g.coverage_95) {
                bad.push(format!("{} 95% {:.3}", g.group, g.coverage_95));
            }
        }
        total += bad.len();
        println!(
            "seed {seed}: MASE {:.4} 80 {:.3} 95 {:.3} out {:?}",
            s.all.mase, s.all.coverage_80, s.all.coverage_95, bad
        );
        if let Some(f) = &filter {
            let rows: Vec<String> = fam
                .par_iter()
                .filter(|x| x.id.contains(f.as_str()) || f == "all")
                .map(|x| {
                    let r = registry::forecast_report(
                        &model,
                        &x.train,
                        &[],
                        Some(x.step_seconds),
                        x.test.len(),
                        &[80.0, 95.0],
                        None,
                    )
                    .unwrap();
                    let p = &r.prediction;
                    let n = x.test.len() as f64;
                    let e: Vec<f64> = x.test.iter().zip(&p.mean).map(|(a, b)| a - b).collect();
                    let bias = e.iter().sum::<f64>() / n;
                    let rmse = (e.iter().map(|v| v * v).sum::<f64>() / n).sqrt();
                    let hw = |i: usize| {
                        p.intervals[i]
                            .upper
                            .iter()
                            .zip(&p.intervals[i].lower)
                            .map(|(u, l)| (u - l) / 2.0)
                            .sum::<f64>()
                            / n
                    };
                    let cov = |i: usize| {
                        x.test
                            .iter()
                            .enumerate()
                            .filter(|(h, v)| {
                                **v >= p.intervals[i].lower[*h] && **v <= p.intervals[i].upper[*h]
                            })
                            .count() as f64
                            / n
                    };
                    let sd = (rmse * rmse - bias * bias).max(0.0).sqrt();
                    let c_rmse = e.iter().filter(|v| v.abs() <= 1.2816 * rmse).count() as f64 / n;
                    let c_sd = e.iter().filter(|v| (**v - bias).abs() <= 1.2816 * sd).count() as f64 / n;
                    format!(
                        "  {:<22} n {:>6} cov80 {:.3} cov95 {:.3} bias {:>7.2} rmse {:>6.2} hw80/rmse {:.2} hw95/rmse {:.2} crmse {:.3} csd {:.3} periods {:?}",
                        x.id,
                        x.train.len(),
                        cov(0),
                        cov(1),
                        bias,
                        rmse,
                        hw(0) / rmse,
                        hw(1) / rmse,
                        c_rmse,
                        c_sd,
                        r.periods.iter().map(|q| q.steps).collect::<Vec<_>>()
                    )
                })
                .collect();
            for r in rows {
                println!("{r}");
            }
        }
    }
    println!("total outside {total}");
    if let Some(dir) = std::env::var_os("M4") {
        let series = aiops_eval::m4::load(std::path::Path::new(&dir))?;
        let s = aiops_eval::m4::evaluate(&series, &model, 48, 24)?;
        println!(
            "m4: sMAPE {:.4} MASE {:.4} OWA {:.4} 80 {:.3} 95 {:.3} s {:.2}",
            s.smape, s.mase, s.owa, s.coverage_80, s.coverage_95, s.seconds
        );
    }
    Ok(())
}
