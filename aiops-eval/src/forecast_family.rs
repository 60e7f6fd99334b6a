//! A seeded family of operator-like series for the forecast evaluation: what a new user's
//! metrics look like, not a competition's.
//!
//! Every series is sampled at one of 1 min, 5 min, 15 min or 1 h and has one of six shapes
//! ([`Shape`]): a daily cycle; daily and weekly cycles; a daily cycle on a rising trend; a
//! daily cycle with a level shift late in the history; a daily cycle with a few spikes and
//! dips; no cycle at all. Around a level of 20 to 60 (a percentage-like metric), a daily cycle
//! of amplitude 20-50% of the level (a business-hours shape: a cosine with a second harmonic),
//! weekends at 60% of the weekday level and cycle in the weekly shape, a trend adding 20-40%
//! of the level over the history, a level shift of ±20-40% of the level between 60% and 85%
//! of the history, 3 to 6 anomalies of ±60-120% of the level lasting 1 to 3 points, and AR(1)
//! noise of marginal standard deviation 4-8% of the level whose correlation decays over
//! 30 minutes (0.97 per step at 1 min, 0.14 at 1 h). History: 4 days at 1 min (15 days for the
//! weekly shape), 15 days at 5 min, 21 at 15 min, 28 at 1 h; the next day is held out. The
//! held-out day has no anomalies (they are in the history, where they must not be copied).
//!
//! Scores: MASE scaled by the in-sample error of the daily seasonal naive, sMAPE (M4
//! definitions, [`crate::m4`]) and the share of held-out values inside the 80% and 95%
//! intervals; the models get the sampling interval and no period, so the periods must be
//! found ([`aiops_forecast::registry::forecast_report`]).

use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use aiops_forecast::{ForecastError, registry};

use crate::error::Result;
use crate::m4::{mase, smape};
use crate::rng::SimRng;

/// Sampling intervals of the family, seconds.
pub const INTERVALS: [f64; 4] = [60.0, 300.0, 900.0, 3600.0];

/// Settings of the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FamilyParams {
    /// Series per shape and sampling interval.
    pub per_cell: usize,
    /// Seed of the family.
    pub seed: u64,
}

impl Default for FamilyParams {
    fn default() -> Self {
        Self {
            per_cell: 2,
            seed: 1,
        }
    }
}

/// The shape of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// A daily cycle.
    Daily,
    /// Daily and weekly cycles (quieter weekends).
    Weekly,
    /// A daily cycle on a rising trend.
    Trend,
    /// A daily cycle with a lasting level shift late in the history.
    LevelShift,
    /// A daily cycle with a few spikes and dips in the history.
    Anomalies,
    /// A level and noise, no cycle.
    NoCycle,
}

impl Shape {
    /// Every shape, in order.
    pub const ALL: [Shape; 6] = [
        Shape::Daily,
        Shape::Weekly,
        Shape::Trend,
        Shape::LevelShift,
        Shape::Anomalies,
        Shape::NoCycle,
    ];

    /// Its name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Daily => "daily",
            Shape::Weekly => "weekly",
            Shape::Trend => "trend",
            Shape::LevelShift => "level_shift",
            Shape::Anomalies => "anomalies",
            Shape::NoCycle => "no_cycle",
        }
    }
}

/// One generated series.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilySeries {
    /// Name, e.g. `5m-weekly-1`.
    pub id: String,
    /// Sampling interval, seconds.
    pub step_seconds: f64,
    /// Its shape.
    pub shape: Shape,
    /// History to fit.
    pub train: Vec<f64>,
    /// The held-out next day.
    pub test: Vec<f64>,
}

impl FamilySeries {
    /// Steps per day.
    pub fn day(&self) -> usize {
        (86_400.0 / self.step_seconds).round() as usize
    }
}

fn interval_name(step: f64) -> String {
    if step >= 3600.0 {
        format!("{}h", step / 3600.0)
    } else {
        format!("{}m", step / 60.0)
    }
}

/// Generates the family: for each sampling interval, each shape, `per_cell` series.
pub fn generate(params: &FamilyParams) -> Vec<FamilySeries> {
    let mut g = SimRng::new(params.seed);
    let mut out = Vec::new();
    for step in INTERVALS {
        for shape in Shape::ALL {
            for k in 0..params.per_cell {
                let id = format!("{}-{}-{}", interval_name(step), shape.as_str(), k + 1);
                out.push(one(&mut g, id, step, shape));
            }
        }
    }
    out
}

fn one(g: &mut SimRng, id: String, step: f64, shape: Shape) -> FamilySeries {
    let day = (86_400.0 / step).round() as usize;
    let days = match (step as u64, shape) {
        (60, Shape::Weekly) => 15,
        (60, _) => 4,
        (300, _) => 15,
        (900, _) => 21,
        _ => 28,
    };
    let n_train = days * day;
    let n = n_train + day;
    let level = g.uniform(20.0, 60.0);
    let amp = level * g.uniform(0.2, 0.5);
    let sigma = level * g.uniform(0.04, 0.08);
    let phi = (-step / 1800.0).exp();
    let innov = sigma * (1.0 - phi * phi).sqrt();
    let slope = level * g.uniform(0.2, 0.4) / n_train as f64;
    let shift_at = (n_train as f64 * g.uniform(0.6, 0.85)) as usize;
    let shift = level * g.uniform(0.2, 0.4) * if g.unit() < 0.5 { -1.0 } else { 1.0 };
    let offset = g.below(day);
    let mut noise = sigma * g.normal();
    let mut y: Vec<f64> = (0..n)
        .map(|t| {
            let tt = t + offset;
            let phase = (tt % day) as f64 / day as f64 * std::f64::consts::TAU;
            let weekend = shape == Shape::Weekly && (tt / day) % 7 >= 5;
            let cycle = amp * (-0.5 * phase.cos() + 0.15 * (2.0 * phase).sin());
            let mut v = match shape {
                Shape::NoCycle => level,
                _ if weekend => 0.6 * (level + cycle),
                _ => level + cycle,
            };
            if shape == Shape::Trend {
                v += slope * t as f64;
            }
            if shape == Shape::LevelShift && t >= shift_at {
                v += shift;
            }
            noise = phi * noise + innov * g.normal();
            v + noise
        })
        .collect();
    if shape == Shape::Anomalies {
        for _ in 0..3 + g.below(4) {
            let at = day + g.below(n_train - day - 3);
            let size = level * g.uniform(0.6, 1.2) * if g.unit() < 0.7 { 1.0 } else { -0.6 };
            for v in &mut y[at..at + 1 + g.below(3)] {
                *v += size;
            }
        }
    }
    // Metrics of this kind are never negative.
    for v in y.iter_mut() {
        *v = v.max(0.0);
    }
    let test = y.split_off(n_train);
    FamilySeries {
        id,
        step_seconds: step,
        shape,
        train: y,
        test,
    }
}

/// Scores of a group of series (all, one sampling interval, one shape).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupScore {
    /// The group: `all`, an interval (`5m`) or a shape (`weekly`).
    pub group: String,
    /// Series in it.
    pub series: usize,
    /// Mean MASE (scaled by the in-sample daily seasonal naive error).
    pub mase: f64,
    /// Mean sMAPE, percent.
    pub smape: f64,
    /// Share of held-out values inside the 80% interval.
    pub coverage_80: f64,
    /// Share of held-out values inside the 95% interval.
    pub coverage_95: f64,
    /// Series whose daily period was found (for shapes with a cycle) or not found (no cycle).
    pub periods_right: usize,
}

/// The scores of one model on the family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FamilyScore {
    /// Model name.
    pub model: String,
    /// Settings of the family.
    pub params: FamilyParams,
    /// Over every series.
    pub all: GroupScore,
    /// Per sampling interval.
    pub by_interval: Vec<GroupScore>,
    /// Per shape.
    pub by_shape: Vec<GroupScore>,
    /// Wall time of fitting and forecasting, seconds.
    pub seconds: f64,
}

struct One {
    mase: f64,
    smape: f64,
    in80: usize,
    in95: usize,
    points: usize,
    period_right: bool,
}

fn group(name: String, items: &[&One]) -> GroupScore {
    let k = items.len().max(1) as f64;
    let points = items.iter().map(|o| o.points).sum::<usize>().max(1) as f64;
    GroupScore {
        group: name,
        series: items.len(),
        mase: items.iter().map(|o| o.mase).sum::<f64>() / k,
        smape: items.iter().map(|o| o.smape).sum::<f64>() / k,
        coverage_80: items.iter().map(|o| o.in80).sum::<usize>() as f64 / points,
        coverage_95: items.iter().map(|o| o.in95).sum::<usize>() as f64 / points,
        periods_right: items.iter().filter(|o| o.period_right).count(),
    }
}

/// Forecasts the held-out day of every series with model `name` (in parallel) and scores it.
pub fn evaluate(series: &[FamilySeries], name: &str, params: FamilyParams) -> Result<FamilyScore> {
    evaluate_with_progress(series, name, params, &crate::no_progress)
}

/// [`evaluate`], reporting each forecast series to `progress`.
pub fn evaluate_with_progress(
    series: &[FamilySeries],
    name: &str,
    params: FamilyParams,
    progress: crate::Progress<'_>,
) -> Result<FamilyScore> {
    if series.is_empty() {
        return Err(ForecastError::NotEnoughData { needed: 1, got: 0 }.into());
    }
    let start = Instant::now();
    let counter = crate::progress::Counter::new(series.len(), progress);
    let scored: Vec<One> = series
        .par_iter()
        .map(|s| {
            let r = registry::forecast_report(
                name,
                &s.train,
                &[],
                Some(s.step_seconds),
                s.test.len(),
                &[80.0, 95.0],
                None,
            )
            .map_err(|e| ForecastError::FitFailed {
                model: "forecast family",
                reason: format!("series {}: {e}", s.id),
            })?;
            counter.tick();
            let p = &r.prediction;
            let inside = |i: usize| {
                let iv = &p.intervals[i];
                s.test
                    .iter()
                    .enumerate()
                    .filter(|(h, v)| **v >= iv.lower[*h] && **v <= iv.upper[*h])
                    .count()
            };
            let found_daily = r.periods.iter().any(|p| p.steps == s.day());
            Ok(One {
                mase: mase(&s.train, &s.test, &p.mean, s.day()),
                smape: smape(&s.test, &p.mean),
                in80: inside(0),
                in95: inside(1),
                points: s.test.len(),
                period_right: found_daily == (s.shape != Shape::NoCycle),
            })
        })
        .collect::<Result<_, ForecastError>>()?;
    let seconds = start.elapsed().as_secs_f64();
    let pick = |f: &dyn Fn(&FamilySeries) -> bool| -> Vec<&One> {
        series
            .iter()
            .zip(&scored)
            .filter(|(s, _)| f(s))
            .map(|(_, o)| o)
            .collect()
    };
    Ok(FamilyScore {
        model: name.to_string(),
        params,
        all: group("all".into(), &pick(&|_| true)),
        by_interval: INTERVALS
            .iter()
            .map(|&st| group(interval_name(st), &pick(&|s| s.step_seconds == st)))
            .collect(),
        by_shape: Shape::ALL
            .iter()
            .map(|&sh| group(sh.as_str().into(), &pick(&|s| s.shape == sh)))
            .collect(),
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_is_seeded_and_shaped() {
        let p = FamilyParams {
            per_cell: 1,
            seed: 3,
        };
        let a = generate(&p);
        assert_eq!(a, generate(&p));
        assert_eq!(a.len(), INTERVALS.len() * Shape::ALL.len());
        for s in &a {
            assert_eq!(s.test.len(), s.day(), "{}", s.id);
            assert!(s.train.len() >= 4 * s.day());
            assert!(s.train.iter().chain(&s.test).all(|v| *v >= 0.0));
        }
        let hourly_weekly = a.iter().find(|s| s.id == "1h-weekly-1").unwrap();
        assert_eq!(hourly_weekly.train.len(), 28 * 24);
    }

    #[test]
    fn scores_a_small_family() {
        let p = FamilyParams {
            per_cell: 1,
            seed: 5,
        };
        let hourly: Vec<FamilySeries> = generate(&p)
            .into_iter()
            .filter(|s| s.step_seconds == 3600.0)
            .collect();
        let r = evaluate(&hourly, "snaive", p).unwrap();
        assert_eq!(r.all.series, 6);
        assert!(r.all.mase > 0.3 && r.all.mase < 3.0, "{r:?}");
        assert!(r.all.coverage_95 >= r.all.coverage_80);
        assert_eq!(r.by_shape.len(), 6);
        assert!(evaluate(&[], "auto", p).is_err());
    }
}
