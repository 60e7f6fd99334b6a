//! Capacity planning: where a utilisation metric is heading, when it crosses a threshold, how
//! sure we are, and how many replicas keep it under a target.
//!
//! - Seasons: the given periods, or those found from the sampling interval (daily and weekly
//!   cycles) or the values ([`crate::seasonality::resolve_periods`]), reported.
//! - Trend: Mann-Kendall test on block means of the deseasonalised series, with Sen's slope
//!   ([`trend_test`]); significant at 5%.
//! - Bounds: the forecast and its intervals are clipped to the metric's limits
//!   ([`Bounds`]: given, else non-negative when the history has never been negative), and
//!   the probability of crossing is that of the bounded distribution (0 for a threshold above
//!   the upper limit, 1 at or below the lower one).
//! - Saturation: the first step where the forecast mean, and the first where the upper bound
//!   of the interval at `level`, reach the threshold.
//! - Probability of crossing within the horizon: `max_h P(y_h >= threshold)`, each from a
//!   normal with the step's mean and the sd implied by its interval. That is the probability
//!   at the worst single step, a lower bound of the probability that the path crosses at some
//!   step (for a random walk the path probability is up to twice it, by the reflection
//!   principle); we report the bound rather than an optimistic guess.
//! - Status: `ok` / `warning` / `critical` for the current value and for the forecast peak,
//!   against the warning and critical levels (70 and 85 by default, in the metric's unit).
//! - Replicas: with `N` replicas at utilisation `u` per replica, the load is `N u`; keeping the
//!   forecast peak under `target` needs `ceil(N peak / target)` replicas (`needed`), and
//!   `needed_upper` uses the upper bound instead of the mean.

use serde::Serialize;

use crate::bounds::Bounds;
use crate::error::{ForecastError, Result};
use crate::model::{Prediction, check_history};
use crate::registry;
use crate::seasonality::SeasonalPeriod;
use crate::stats::{normal_cdf, z_of_level};
use crate::trend_test::trend_test;
pub use crate::trend_test::{TrendDirection, TrendTest};

/// Settings of a capacity analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityParams {
    /// Saturation threshold, in the metric's unit (e.g. 85 for 85% CPU).
    pub threshold: f64,
    /// Steps ahead to look.
    pub horizon: usize,
    /// Warning level (metric unit).
    pub warning: f64,
    /// Critical level (metric unit).
    pub critical: f64,
    /// Interval level for the upper bound, percent.
    pub level: f64,
    /// Model name from [`registry::MODELS`].
    pub model: String,
    /// Seasonal periods in steps (empty: detected, then used by the forecast and the trend
    /// test alike).
    pub periods: Vec<usize>,
    /// Sampling interval, seconds (the median spacing of the timestamps), so daily and weekly
    /// cycles can be looked for; `None` without timestamps.
    pub step_seconds: Option<f64>,
    /// Limits of the metric (`None`: [`Bounds::infer`] from the history).
    pub bounds: Option<Bounds>,
    /// Current number of replicas, for replica advice.
    pub replicas: Option<usize>,
    /// Target utilisation per replica (metric unit).
    pub target: f64,
}

impl Default for CapacityParams {
    fn default() -> Self {
        Self {
            threshold: 85.0,
            horizon: 24,
            warning: 70.0,
            critical: 85.0,
            level: 95.0,
            model: registry::DEFAULT_MODEL.to_string(),
            periods: Vec::new(),
            step_seconds: None,
            bounds: None,
            replicas: None,
            target: 70.0,
        }
    }
}

/// Status against the warning and critical levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Below the warning level.
    Ok,
    /// At or above warning, below critical.
    Warning,
    /// At or above the critical level.
    Critical,
}

impl Status {
    /// Its name, as in JSON: `ok`, `warning`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Replica advice.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReplicaAdvice {
    /// Replicas now.
    pub current: usize,
    /// Replicas keeping the forecast peak (mean) under the target.
    pub needed: usize,
    /// Replicas keeping the upper bound's peak under the target.
    pub needed_upper: usize,
    /// Target utilisation per replica.
    pub target: f64,
}

/// The answer of [`analyze`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityReport {
    /// Last observed value.
    pub current: f64,
    /// Highest forecast mean within the horizon.
    pub peak: f64,
    /// Highest upper bound within the horizon.
    pub peak_upper: f64,
    /// Threshold used.
    pub threshold: f64,
    /// Horizon, steps.
    pub horizon: usize,
    /// Interval level of the upper bound, percent.
    pub level: f64,
    /// First step (1-based) where the forecast mean reaches the threshold.
    pub saturation_step: Option<usize>,
    /// First step (1-based) where the upper bound reaches the threshold.
    pub saturation_step_upper: Option<usize>,
    /// Probability (lower bound) that the metric reaches the threshold within the horizon.
    pub probability: f64,
    /// Trend test.
    pub trend: TrendTest,
    /// Seasonal periods used by the forecast and the trend test.
    pub periods: Vec<SeasonalPeriod>,
    /// Limits the forecast was clipped to.
    pub bounds: Bounds,
    /// Status of the current value.
    pub status_now: Status,
    /// Status of the forecast peak.
    pub status_forecast: Status,
    /// Replica advice, when the current number of replicas was given.
    pub replicas: Option<ReplicaAdvice>,
    /// The forecast behind the report.
    #[serde(skip)]
    pub prediction: Prediction,
}

fn bad(name: &'static str, reason: String) -> ForecastError {
    ForecastError::InvalidParameter { name, reason }
}

fn status(v: f64, p: &CapacityParams) -> Status {
    if v >= p.critical {
        Status::Critical
    } else if v >= p.warning {
        Status::Warning
    } else {
        Status::Ok
    }
}

/// Forecasts `y` and answers the capacity questions.
pub fn analyze(y: &[f64], params: &CapacityParams) -> Result<CapacityReport> {
    if !params.threshold.is_finite() {
        return Err(bad("threshold", "must be finite".into()));
    }
    if params.horizon == 0 {
        return Err(bad("horizon", "must be at least 1 step".into()));
    }
    if params.warning.is_nan() || params.critical.is_nan() || params.warning > params.critical {
        return Err(bad(
            "warning",
            format!(
                "warning level {} must not exceed the critical level {}",
                params.warning, params.critical
            ),
        ));
    }
    if params.target.is_nan() || params.target <= 0.0 {
        return Err(bad("target", format!("must be > 0, got {}", params.target)));
    }
    if params.replicas == Some(0) {
        return Err(bad("replicas", "must be at least 1".into()));
    }
    check_history(y, 5)?;
    // Resolved once here so the forecast and the trend test see the same season.
    let periods = crate::seasonality::resolve_periods(y, &params.periods, params.step_seconds);
    let steps: Vec<usize> = periods.iter().map(|p| p.steps).collect();
    let raw = registry::forecast_report(
        &params.model,
        y,
        &steps,
        None,
        params.horizon,
        &[params.level],
        Some(Bounds::NONE),
    )?
    .prediction;
    let bounds = params.bounds.unwrap_or_else(|| Bounds::infer(y, None));
    let z = z_of_level(params.level);
    let crossing = |col: &[f64]| {
        col.iter()
            .position(|v| *v >= params.threshold)
            .map(|i| i + 1)
    };
    // The unclipped normal gives P(y >= threshold) for any threshold inside the limits
    // (clipping moves only mass beyond them); outside, the answer is 0 or 1.
    let probability = if bounds.upper.is_some_and(|hi| params.threshold > hi) {
        0.0
    } else if bounds.lower.is_some_and(|lo| params.threshold <= lo) {
        1.0
    } else {
        let iv = &raw.intervals[0];
        raw.mean
            .iter()
            .zip(&iv.lower)
            .zip(&iv.upper)
            .map(|((m, lo), hi)| {
                let sd = (hi - lo) / (2.0 * z);
                if sd > 0.0 {
                    1.0 - normal_cdf((params.threshold - m) / sd)
                } else if *m >= params.threshold {
                    1.0
                } else {
                    0.0
                }
            })
            .fold(0.0, f64::max)
    };
    let mut prediction = raw;
    bounds.apply(&mut prediction);
    let iv = &prediction.intervals[0];
    let peak = prediction
        .mean
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let peak_upper = iv.upper.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let current = y[y.len() - 1];
    let period = steps.first().copied().unwrap_or(1);
    let replicas = params.replicas.map(|n| {
        let need = |v: f64| ((n as f64 * v / params.target).ceil().max(1.0)) as usize;
        ReplicaAdvice {
            current: n,
            needed: need(peak),
            needed_upper: need(peak_upper),
            target: params.target,
        }
    });
    Ok(CapacityReport {
        current,
        peak,
        peak_upper,
        threshold: params.threshold,
        horizon: params.horizon,
        level: params.level,
        saturation_step: crossing(&prediction.mean),
        saturation_step_upper: crossing(&iv.upper),
        probability,
        trend: trend_test(y, period)?,
        periods,
        bounds,
        status_now: status(current, params),
        status_forecast: status(peak, params),
        replicas,
        prediction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Rng;

    fn rising(n: usize, slope: f64, seed: u64) -> Vec<f64> {
        let mut g = Rng::new(seed);
        (0..n)
            .map(|t| {
                40.0 + slope * t as f64
                    + 5.0 * (t as f64 * std::f64::consts::TAU / 24.0).sin()
                    + g.normal()
            })
            .collect()
    }

    #[test]
    fn rising_load_saturates_and_needs_replicas() {
        let y = rising(24 * 14, 0.1, 1);
        let p = CapacityParams {
            periods: vec![24],
            horizon: 24 * 7,
            replicas: Some(4),
            ..Default::default()
        };
        let r = analyze(&y, &p).unwrap();
        assert_eq!(r.trend.direction, TrendDirection::Increasing);
        assert!((r.trend.slope - 0.1).abs() < 0.02, "{:?}", r.trend);
        // Mean level 40 + 0.1 t reaches 85 - 5 (season peak) around t = 400, i.e. ~64 steps on.
        let s = r.saturation_step.unwrap();
        assert!((30..=110).contains(&s), "saturation at {s}");
        assert!(r.saturation_step_upper.unwrap() <= s);
        assert!(r.probability > 0.9, "{r:?}");
        assert_eq!(r.status_now, Status::Warning);
        assert_eq!(r.status_forecast, Status::Critical);
        let adv = r.replicas.unwrap();
        assert!(adv.needed > 4 && adv.needed_upper >= adv.needed, "{adv:?}");
    }

    #[test]
    fn flat_load_is_stable_and_safe() {
        let y = rising(24 * 14, 0.0, 2);
        let p = CapacityParams {
            periods: vec![24],
            horizon: 48,
            replicas: Some(3),
            ..Default::default()
        };
        let r = analyze(&y, &p).unwrap();
        assert_eq!(r.trend.direction, TrendDirection::Stable, "{:?}", r.trend);
        let detected = analyze(
            &y,
            &CapacityParams {
                periods: vec![],
                ..p.clone()
            },
        )
        .unwrap();
        assert_eq!(
            detected.trend.period, 24,
            "the detected daily period is removed before the trend test"
        );
        assert_eq!(r.saturation_step, None);
        assert!(r.probability < 0.01, "{}", r.probability);
        assert_eq!(r.status_forecast, Status::Ok);
        let want = (3.0 * r.peak / 70.0).ceil() as usize;
        assert_eq!(r.replicas.unwrap().needed, want);
        assert!(want <= 3, "a peak under 70% needs no more replicas");
        let falling: Vec<f64> = (0..100).map(|t| 90.0 - 0.5 * t as f64).collect();
        assert_eq!(
            trend_test(&falling, 1).unwrap().direction,
            TrendDirection::Decreasing
        );
    }

    #[test]
    fn flat_cycle_at_five_minutes_is_stable_bounded_and_safe() {
        let mut g = Rng::new(4);
        let y: Vec<f64> = (0..288 * 3)
            .map(|t| {
                let phase = (t % 288) as f64 * std::f64::consts::TAU / 288.0;
                40.0 - 18.0 * phase.cos() + 1.5 * g.normal()
            })
            .collect();
        let p = CapacityParams {
            horizon: 288 * 7,
            step_seconds: Some(300.0),
            bounds: Some(Bounds::PERCENT),
            ..Default::default()
        };
        let r = analyze(&y, &p).unwrap();
        assert_eq!(r.periods[0].steps, 288, "{:?}", r.periods);
        assert_eq!(r.trend.direction, TrendDirection::Stable, "{:?}", r.trend);
        assert!(r.peak_upper < 75.0, "{r:?}");
        assert!(r.probability < 0.05, "{}", r.probability);
        assert_eq!(r.saturation_step, None);
        let above = analyze(
            &y,
            &CapacityParams {
                threshold: 120.0,
                ..p.clone()
            },
        )
        .unwrap();
        assert_eq!(above.probability, 0.0, "a percentage never reaches 120");
        let unbounded = analyze(&y, &CapacityParams { bounds: None, ..p }).unwrap();
        assert_eq!(
            unbounded.bounds.lower,
            Some(0.0),
            "never negative by default"
        );
        assert_eq!(unbounded.bounds.upper, None);
    }

    #[test]
    fn bad_parameters() {
        let y = rising(100, 0.0, 3);
        let with = |f: fn(&mut CapacityParams)| {
            let mut p = CapacityParams::default();
            f(&mut p);
            analyze(&y, &p)
        };
        assert!(with(|p| p.horizon = 0).is_err());
        assert!(with(|p| p.threshold = f64::NAN).is_err());
        assert!(with(|p| p.warning = 90.0).is_err());
        assert!(with(|p| p.target = 0.0).is_err());
        assert!(with(|p| p.replicas = Some(0)).is_err());
        assert!(with(|p| p.model = "nope".into()).is_err());
        assert!(analyze(&[1.0, 2.0], &CapacityParams::default()).is_err());
    }
}
