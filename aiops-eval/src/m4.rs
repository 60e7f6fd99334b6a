//! Evaluation on the M4 competition's hourly series (Makridakis, Spiliotis & Assimakopoulos,
//! 2020), with the competition's definitions: sMAPE, MASE (scaled by the in-sample seasonal
//! naive error) and OWA relative to Naive2 (naive on the series seasonally adjusted by a
//! classical multiplicative decomposition when the 90% autocorrelation test finds the season).

use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use aiops_forecast::stats::{classical_indices, seasonality_test};
use aiops_forecast::{ForecastError, Prediction, registry};

use crate::error::{EvalError, Result};

/// One M4 series: its training part and the held-out test part.
#[derive(Debug, Clone, PartialEq)]
pub struct M4Series {
    /// Series id, e.g. `H1`.
    pub id: String,
    /// History to fit.
    pub train: Vec<f64>,
    /// Values to forecast.
    pub test: Vec<f64>,
}

fn read_rows(path: &Path) -> Result<Vec<(String, Vec<f64>)>> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::Data {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let mut cells = line.split(',');
        let Some(id) = cells.next().filter(|s| !s.is_empty()) else {
            continue;
        };
        let values = cells
            .filter(|c| !c.trim().is_empty())
            .map(|c| {
                c.trim()
                    .trim_matches('"')
                    .parse::<f64>()
                    .map_err(|_| EvalError::Data {
                        path: shown.clone(),
                        reason: format!("line {}: {c:?} is not a number", i + 1),
                    })
            })
            .collect::<Result<Vec<f64>>>()?;
        rows.push((id.trim_matches('"').to_string(), values));
    }
    Ok(rows)
}

/// Reads `Hourly-train.csv` and `Hourly-test.csv` (rows `id,v1,v2,...`) from `dir`.
pub fn load(dir: &Path) -> Result<Vec<M4Series>> {
    let train = read_rows(&dir.join("Hourly-train.csv"))?;
    let test = read_rows(&dir.join("Hourly-test.csv"))?;
    if train.len() != test.len() {
        return Err(EvalError::Data {
            path: dir.display().to_string(),
            reason: format!("{} training rows but {} test rows", train.len(), test.len()),
        });
    }
    train
        .into_iter()
        .zip(test)
        .map(|((id, train), (tid, test))| {
            if id != tid {
                return Err(EvalError::Data {
                    path: dir.display().to_string(),
                    reason: format!("training row {id} meets test row {tid}"),
                });
            }
            Ok(M4Series { id, train, test })
        })
        .collect()
}

/// Symmetric MAPE in percent (M4: `200 |y - f| / (|y| + |f|)`, averaged).
pub fn smape(actual: &[f64], forecast: &[f64]) -> f64 {
    let s: f64 = actual
        .iter()
        .zip(forecast)
        .map(|(a, f)| {
            let d = a.abs() + f.abs();
            if d == 0.0 {
                0.0
            } else {
                200.0 * (a - f).abs() / d
            }
        })
        .sum();
    s / actual.len() as f64
}

/// Mean absolute scaled error: forecast MAE over the in-sample MAE of seasonal naive with
/// period `m`.
pub fn mase(insample: &[f64], actual: &[f64], forecast: &[f64], m: usize) -> f64 {
    let m = m.max(1);
    let scale: f64 = (m..insample.len())
        .map(|t| (insample[t] - insample[t - m]).abs())
        .sum::<f64>()
        / (insample.len() - m) as f64;
    let mae: f64 = actual
        .iter()
        .zip(forecast)
        .map(|(a, f)| (a - f).abs())
        .sum::<f64>()
        / actual.len() as f64;
    mae / scale
}

/// The M4 Naive2 benchmark forecast.
pub fn naive2(train: &[f64], horizon: usize, m: usize) -> Vec<f64> {
    // The M4 benchmark's seasonal adjustment: classical multiplicative decomposition when
    // the 90% autocorrelation test finds the season and the data are positive.
    let adjust = if m >= 2 && seasonality_test(train, m) && train.iter().all(|v| *v > 0.0) {
        classical_indices(train, m, true)
    } else {
        None
    };
    let n = train.len();
    let last = match &adjust {
        Some(ix) => train[n - 1] / ix[(n - 1) % m],
        None => train[n - 1],
    };
    (0..horizon)
        .map(|h| match &adjust {
            Some(ix) => last * ix[(n + h) % m],
            None => last,
        })
        .collect()
}

/// Scores of one model over a set of series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct M4Score {
    /// Model name.
    pub model: String,
    /// Number of series.
    pub series: usize,
    /// Mean sMAPE (percent).
    pub smape: f64,
    /// Mean MASE.
    pub mase: f64,
    /// Overall weighted average relative to Naive2 (< 1 beats it).
    pub owa: f64,
    /// Naive2's mean sMAPE on the same series.
    pub naive2_smape: f64,
    /// Naive2's mean MASE on the same series.
    pub naive2_mase: f64,
    /// Share of test values inside the 80% interval.
    pub coverage_80: f64,
    /// Share of test values inside the 95% interval.
    pub coverage_95: f64,
    /// Wall time of fitting and forecasting, seconds.
    pub seconds: f64,
}

/// Forecasts `horizon` steps of every series with the model `name` (season `m`) in parallel
/// and scores them. A series the model cannot fit is an error naming it.
pub fn evaluate(series: &[M4Series], name: &str, horizon: usize, m: usize) -> Result<M4Score> {
    evaluate_with_progress(series, name, horizon, m, &crate::no_progress)
}

/// [`evaluate`], reporting each forecast series to `progress`.
pub fn evaluate_with_progress(
    series: &[M4Series],
    name: &str,
    horizon: usize,
    m: usize,
    progress: crate::Progress<'_>,
) -> Result<M4Score> {
    if series.is_empty() {
        return Err(ForecastError::NotEnoughData { needed: 1, got: 0 }.into());
    }
    let start = Instant::now();
    let counter = crate::progress::Counter::new(series.len(), progress);
    let forecasts: Vec<Prediction> = series
        .par_iter()
        .map(|s| {
            let p = registry::forecast(name, &s.train, &[m], horizon, &[80.0, 95.0]).map_err(|e| {
                ForecastError::FitFailed {
                    model: "m4",
                    reason: format!("series {}: {e}", s.id),
                }
            });
            counter.tick();
            p
        })
        .collect::<Result<_, ForecastError>>()?;
    let seconds = start.elapsed().as_secs_f64();
    let k = series.len() as f64;
    let (mut s1, mut m1, mut s2, mut m2) = (0.0, 0.0, 0.0, 0.0);
    let (mut in80, mut in95, mut points) = (0usize, 0usize, 0usize);
    for (s, p) in series.iter().zip(&forecasts) {
        let test = &s.test[..horizon.min(s.test.len())];
        let f = &p.mean[..test.len()];
        for (h, v) in test.iter().enumerate() {
            let inside = |i: usize| {
                let iv = &p.intervals[i];
                (*v >= iv.lower[h] && *v <= iv.upper[h]) as usize
            };
            in80 += inside(0);
            in95 += inside(1);
            points += 1;
        }
        let nv = naive2(&s.train, test.len(), m);
        s1 += smape(test, f);
        m1 += mase(&s.train, test, f, m);
        s2 += smape(test, &nv);
        m2 += mase(&s.train, test, &nv, m);
    }
    let (smape_, mase_, n2s, n2m) = (s1 / k, m1 / k, s2 / k, m2 / k);
    Ok(M4Score {
        model: name.to_string(),
        series: series.len(),
        smape: smape_,
        mase: mase_,
        owa: 0.5 * (smape_ / n2s + mase_ / n2m),
        naive2_smape: n2s,
        naive2_mase: n2m,
        coverage_80: in80 as f64 / points.max(1) as f64,
        coverage_95: in95 as f64 / points.max(1) as f64,
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_follow_the_m4_definitions() {
        assert!((smape(&[100.0, 50.0], &[110.0, 50.0]) - 100.0 * 10.0 / 210.0).abs() < 1e-12);
        let ins = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert!((mase(&ins, &[6.0, 7.0], &[6.5, 7.5], 1) - 0.5).abs() < 1e-12);
        // A clean multiplicative season: Naive2 keeps the pattern, scaled to the last level.
        let pat = [0.5, 1.5];
        let y: Vec<f64> = (0..40).map(|t| 10.0 * pat[t % 2]).collect();
        assert_eq!(naive2(&y, 4, 2), [5.0, 15.0, 5.0, 15.0]);
        let flat: Vec<f64> = (0..10).map(|t| t as f64).collect();
        assert_eq!(
            naive2(&flat, 2, 24),
            [9.0, 9.0],
            "too short to test: plain naive"
        );
    }

    #[test]
    fn evaluates_and_refuses_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let row = |id: &str, n: usize, off: usize| {
            let v: Vec<String> = (0..n)
                .map(|t| {
                    let t = t + off;
                    (10.0 + (t % 24) as f64 + 0.01 * t as f64).to_string()
                })
                .collect();
            format!("{id},{}\n", v.join(","))
        };
        std::fs::write(
            dir.path().join("Hourly-train.csv"),
            format!("id,v1\n{}{}", row("H1", 96, 0), row("H2", 120, 0)),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("Hourly-test.csv"),
            format!("id,v1\n{}{}", row("H1", 48, 96), row("H2", 48, 120)),
        )
        .unwrap();
        let s = load(dir.path()).unwrap();
        assert_eq!(s.len(), 2);
        let score = evaluate(&s, "snaive", 48, 24).unwrap();
        // Seasonal naive misses the trend by 0.24 a season: MASE (0.24 + 0.48) / 2 / 0.24.
        assert!((score.mase - 1.5).abs() < 1e-9, "{score:?}");
        assert!(score.smape > 0.0 && score.owa.is_finite(), "{score:?}");
        assert!((0.0..=1.0).contains(&score.coverage_80));
        assert!(score.coverage_95 >= score.coverage_80);
        std::fs::write(dir.path().join("Hourly-test.csv"), "id,v1\nH1,1,x\n").unwrap();
        assert!(matches!(load(dir.path()), Err(EvalError::Data { .. })));
        assert!(load(&dir.path().join("missing")).is_err());
    }
}
