//! Per-series AutoETS dump for side-by-side comparisons (see `benches/ets_side_by_side.py`).
//!
//! ```sh
//! cargo run --release -p aiops-forecast --example ets_dump -- TRAIN.csv [HORIZON=48] [PERIOD=24] [FOLDS=3]
//! ```
//!
//! Reads an M4-style training file (`id,v1,v2,...`, ragged rows) and, for every series and
//! every origin (`fold` 0 = the whole training part; fold k = the training part minus
//! `k * HORIZON` points), fits AutoETS with the season `PERIOD` and prints one JSON line: the
//! chosen form, the smoothing parameters, -2 log-likelihood, AICc, the fit + forecast time in
//! microseconds and the `HORIZON`-step point forecast. Scoring is left to the caller.

use std::time::Instant;

use aiops_forecast::{AutoEts, FittedModel, Model, TrendKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .ok_or("usage: ets_dump TRAIN.csv [HORIZON] [PERIOD] [FOLDS]")?;
    let horizon: usize = args.get(1).map_or(Ok(48), |s| s.parse())?;
    let period: usize = args.get(2).map_or(Ok(24), |s| s.parse())?;
    let folds: usize = args.get(3).map_or(Ok(3), |s| s.parse())?;
    let text = std::fs::read_to_string(path)?;
    for line in text.lines().skip(1) {
        let mut cells = line.split(',');
        let id = cells.next().unwrap_or("").trim_matches('"').to_string();
        let y: Vec<f64> = cells
            .filter(|c| !c.is_empty())
            .map(|c| c.trim_matches('"').parse::<f64>())
            .collect::<Result<_, _>>()?;
        for fold in 0..=folds {
            let cut = fold * horizon;
            if y.len() <= cut + 2 * period {
                continue;
            }
            let train = &y[..y.len() - cut];
            let t0 = Instant::now();
            let fitted = AutoEts::new(period)?.fit(train)?;
            let mean = fitted.predict(horizon, &[])?.mean;
            let micros = t0.elapsed().as_secs_f64() * 1e6;
            let m = fitted.model();
            let s = m.spec();
            let p = m.params();
            let code = s.to_string();
            let parts: Vec<&str> = code
                .trim_start_matches("ETS(")
                .trim_end_matches(')')
                .split(',')
                .collect();
            let trend = if s.trend == TrendKind::None { "N" } else { "A" };
            let fc: Vec<String> = mean.iter().map(|v| format!("{v}")).collect();
            println!(
                "{{\"id\":\"{id}\",\"fold\":{fold},\"n\":{},\"error\":\"{}\",\"trend\":\"{trend}\",\"season\":\"{}\",\"damped\":{},\"alpha\":{},\"beta\":{},\"gamma\":{},\"phi\":{},\"neg2loglik\":{},\"aicc\":{},\"micros\":{micros:.1},\"forecast\":[{}]}}",
                train.len(),
                parts[0],
                parts[2],
                s.trend == TrendKind::Damped,
                p.alpha,
                p.beta,
                p.gamma,
                p.phi,
                m.neg2loglik(),
                m.aicc(),
                fc.join(",")
            );
        }
    }
    Ok(())
}
