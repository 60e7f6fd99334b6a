//! Quantile detector: values above the `high` quantile or below the `low` quantile of a
//! reference window, as ADTK's `QuantileAD`, causal: by default a static detector whose bounds
//! are fitted once on the first `window` points, or (`fit = "rolling"`) on the `window` points
//! before each point.
//!
//! Quantiles interpolate linearly between ranks (numpy's and pandas' default). A value is
//! flagged strictly beyond a bound (ADTK's rule), so on stationary data about `1 - high` of the
//! points land above the `high` bound: this detector sets a false-alarm rate, not a distance.
//! Either bound can be switched off (`null` in a config, `None` in the builder).
//!
//! The score is the distance beyond the crossed bound divided by the inter-quantile spread
//! `Q(high) - Q(low)` of the window (0 inside the bounds): a score of 1 is "as far beyond the
//! bound as the bounds are apart". With one bound only, the spread is taken between it and its
//! mirror quantile (`Q(high) - Q(1 - high)`), so the other bound must lie on the other side of
//! the median. A flat window gives a spread of 0, floored at 1e-12 × (1 + |median|): any
//! departure scores huge but finite.
//!
//! With `fit = "once"` (the default), the bounds are fitted once, on the first `window`
//! points, and then kept: ADTK's fit-then-detect workflow (train on a known-good period, watch
//! what follows), at O(1) per point after training. `"rolling"` refits at every point, for
//! metrics whose normal range drifts.
//!
//! Cost per point: O(1) once fitted; rolling, O(log w) time (a few selects and an update of an
//! [`OrderStats`] tree) and O(w) memory.
//!
//! [`OrderStats`]: crate::common::order_stats::OrderStats

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::common::FitMode;
use crate::common::checks::{check_once_min_periods, check_window};
use crate::common::fences::{finite_ratio, floor_scale};
use crate::common::order_stats::RollingOrderStats;
use crate::common::score_severity::fence_severity;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};

crate::detector::params_newtype!(
    /// Unchecked parameters of [`Quantile`].
    ///
    /// ```
    /// use aiops_detect::{Detector, ParamGuard, QuantileParams};
    /// let det = QuantileParams::new().window(10).high(0.9).low(None).check()?;
    /// let values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 9.5, 0.0];
    /// let ts: Vec<i64> = (0..values.len() as i64).map(|i| i * 60_000).collect();
    /// let d = det.detect(&ts, &values)?;
    /// assert!(d.is_anomaly[10], "above 6.3, the 90th percentile of the ten before it");
    /// assert!(!d.is_anomaly[11], "no lower bound");
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    QuantileParams => Quantile
);

impl QuantileParams {
    /// Upper bound quantile in [0, 1] (`None`: no upper bound; default 0.99).
    pub fn high(mut self, q: impl Into<Option<f64>>) -> Self {
        self.0.high = q.into();
        self
    }

    /// Lower bound quantile in [0, 1] (`None`: no lower bound; default 0.01).
    pub fn low(mut self, q: impl Into<Option<f64>>) -> Self {
        self.0.low = q.into();
        self
    }
}

crate::detector::setters!(QuantileParams: window: usize, fit: FitMode, min_periods: Option<usize>);

impl ParamGuard for QuantileParams {
    type Checked = Quantile;

    fn check(&self) -> Result<Quantile> {
        let p = &self.0;
        check_window(p.window, p.min_periods, 2)?;
        p.spread()?;
        check_once_min_periods(p.fit, p.min_periods, p.window, "bounds")?;
        Ok(self.0)
    }
}

/// Rolling quantile detector, validated ([`QuantileParams::check`] makes it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quantile {
    fit: FitMode,
    window: usize,
    high: Option<f64>,
    low: Option<f64>,
    min_periods: Option<usize>,
}

impl Default for Quantile {
    fn default() -> Self {
        Self {
            fit: FitMode::Once,
            window: 500,
            high: Some(0.99),
            low: Some(0.01),
            min_periods: None,
        }
    }
}

impl Quantile {
    /// The quantiles whose distance is the score's unit: both bounds, or one bound and its
    /// mirror; an error when the bounds are missing or inconsistent.
    fn spread(&self) -> Result<(f64, f64)> {
        for (name, q) in [("high", self.high), ("low", self.low)] {
            if let Some(q) = q
                && !(0.0..=1.0).contains(&q)
            {
                return Err(DetectError::InvalidParameter {
                    name,
                    reason: format!("must be a quantile in [0, 1], got {q}"),
                });
            }
        }
        match (self.low, self.high) {
            (None, None) => Err(DetectError::InvalidParameter {
                name: "high",
                reason: "set `high`, `low` or both".into(),
            }),
            (Some(low), Some(high)) if low >= high => Err(DetectError::InconsistentBounds {
                lower: low,
                upper: high,
            }),
            (Some(low), Some(high)) => Ok((low, high)),
            (None, Some(high)) if high > 0.5 => Ok((1.0 - high, high)),
            (Some(low), None) if low < 0.5 => Ok((low, 1.0 - low)),
            (None, Some(q)) => Err(DetectError::InvalidParameter {
                name: "high",
                reason: format!("alone, must be above the median (> 0.5), got {q}"),
            }),
            (Some(q), None) => Err(DetectError::InvalidParameter {
                name: "low",
                reason: format!("alone, must be below the median (< 0.5), got {q}"),
            }),
        }
    }
}

crate::detector::describe!(
    Quantile, QuantileParams, QuantileKernel.params => QuantileOnline, "quantile",
    "quantile bounds of a reference window (fitted once, or rolling): values beyond high/low",
    severity |_, score| fence_severity(score, 1.0), "
    window: points in the reference window (default 500)
    high: upper quantile, null = none (default 0.99)
    low: lower quantile, null = none (default 0.01)
    min_periods: points before scoring starts (default: window)
    fit: once | rolling (once: bounds fitted on the first window, then kept; default once)
"
);

/// The window of [`Quantile`] as an order-statistic tree, or its frozen bounds. Counts points,
/// not time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantileKernel {
    /// Read without the derived `spread_low` / `spread_high` that 0.1.0 stored with it.
    #[serde(deserialize_with = "legacy_params")]
    params: Quantile,
    window: RollingOrderStats,
    /// With `FitMode::Once`, the bounds once fitted: (lower, upper, median, spread).
    frozen: Option<(Option<f64>, Option<f64>, f64, f64)>,
}

fn legacy_params<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Quantile, D::Error> {
    crate::detector::without_keys(d, &["spread_low", "spread_high"])
}

impl QuantileKernel {
    /// (lower, upper, median, spread) of the current window.
    fn bounds(&self) -> Option<(Option<f64>, Option<f64>, f64, f64)> {
        let s = self.window.stats();
        let p = &self.params;
        let (spread_low, spread_high) = p.spread().ok()?;
        let upper = p.high.and_then(|q| s.quantile(q));
        let lower = p.low.and_then(|q| s.quantile(q));
        let median = s.median()?;
        let top = upper.or_else(|| s.quantile(spread_high))?;
        let bottom = lower.or_else(|| s.quantile(spread_low))?;
        Some((lower, upper, median, floor_scale(top - bottom, median)))
    }

    fn score(&self, x: f64) -> Option<PointScore> {
        let p = &self.params;
        let (lower, upper, median, spread) = match self.frozen {
            Some(b) => b,
            None if self.window.len() < p.min_periods.unwrap_or(p.window) => return None,
            None => self.bounds()?,
        };
        let beyond = upper
            .map_or(f64::NEG_INFINITY, |u| x - u)
            .max(lower.map_or(f64::NEG_INFINITY, |l| l - x));
        let is_anomaly = beyond > 0.0;
        Some(PointScore {
            score: if is_anomaly {
                finite_ratio(beyond, spread)
            } else {
                0.0
            },
            is_anomaly,
            expected: Some(median),
            lower,
            upper,
        })
    }
}

impl Kernel for QuantileKernel {
    fn new(params: &Quantile) -> Self {
        Self {
            params: *params,
            window: RollingOrderStats::new(params.window),
            frozen: None,
        }
    }

    fn step(&mut self, _: TimestampMs, x: f64) -> PointScore {
        let out = self.score(x).unwrap_or(PointScore::NEUTRAL);
        if self.frozen.is_none() {
            self.window.push(x);
            if self.params.fit == FitMode::Once && self.window.is_full() {
                self.frozen = self.bounds();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::prelude::*;
    use crate::common::testing::{assert_trained_once, noise, refused, run, spiked};

    #[test]
    fn fit_once_keeps_the_training_bounds() {
        // Trained on 0..100, the bounds stay there even when the level moves.
        let v: Vec<f64> = (0..400)
            .map(|i| if i < 300 { (i % 100) as f64 } else { 1000.0 })
            .collect();
        let det = QuantileParams::new()
            .fit(FitMode::Rolling)
            .window(100)
            .high(0.99)
            .low(0.01)
            .fit(FitMode::Once)
            .check()
            .unwrap();
        let (d, ts) = assert_trained_once(&det, &v, 200);
        assert_eq!(d.upper[350], d.upper[150]);
        let rolling = run(
            QuantileParams::new().fit(FitMode::Rolling).window(100),
            &ts,
            &v,
        );
        assert!(!rolling.is_anomaly[399], "a rolling window adapts");
        assert!(refused(
            QuantileParams::new()
                .fit(FitMode::Rolling)
                .window(100)
                .min_periods(50)
                .fit(FitMode::Once)
        ));
    }

    #[test]
    fn flags_beyond_the_quantiles() {
        let (ts, v) = spiked(5000, 7, &[(1500, 5.0), (3000, 5.0), (4000, -5.0)]);
        let det = QuantileParams::new().fit(FitMode::Rolling).check().unwrap();
        let d = det.detect(&ts, &v).unwrap();
        for &i in &[1500, 3000, 4000] {
            assert!(d.is_anomaly[i], "point {i}");
            // About 4 units beyond a bound, with bounds about 2 apart.
            assert!(d.scores[i] > 1.5 && d.scores[i] < 2.5, "{}", d.scores[i]);
            assert_eq!(det.severity(d.scores[i]), Severity::Critical);
        }
        // The rest is the expected false-alarm rate of a 1% / 99% rule, with small scores.
        let others = (500..5000)
            .filter(|&i| d.is_anomaly[i] && ![1500, 3000, 4000].contains(&i))
            .count() as f64
            / 4500.0;
        assert!(others > 0.005 && others < 0.04, "{others}");
        assert!(
            (500..5000)
                .filter(|&i| ![1500, 3000, 4000].contains(&i))
                .all(|i| d.scores[i] < 0.05)
        );
        assert!(d.scores[..500].iter().all(|&s| s == 0.0), "warm-up");
        assert!((d.upper[2000] - 100.98).abs() < 0.05, "{}", d.upper[2000]);
        assert!((d.lower[2000] - 99.02).abs() < 0.05, "{}", d.lower[2000]);
    }

    #[test]
    fn one_sided_bounds() {
        let mut v: Vec<f64> = noise(400, 3).to_vec();
        v[300] = 5.0;
        v[350] = -5.0;
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let high = run(
            QuantileParams::new()
                .fit(FitMode::Rolling)
                .window(100)
                .low(None),
            &ts,
            &v,
        );
        assert!(high.is_anomaly[300] && !high.is_anomaly[350]);
        assert!(high.lower[350].is_nan());
        // One-sided: the spread is Q(0.99) - Q(0.01) anyway, about 2.
        assert!((high.scores[300] - 2.0).abs() < 0.2, "{}", high.scores[300]);
        let low = run(
            QuantileParams::new()
                .fit(FitMode::Rolling)
                .window(100)
                .high(None)
                .low(0.05),
            &ts,
            &v,
        );
        assert!(!low.is_anomaly[300] && low.is_anomaly[350]);
        let from_json: QuantileParams = serde_json::from_str(r#"{"high": null}"#).unwrap();
        assert_eq!(from_json, QuantileParams::new().high(None));
    }

    #[test]
    fn flat_window_scores_finite() {
        let v = [5.0, 5.0, 5.0, 5.0, 6.0];
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let d = run(
            QuantileParams::new().fit(FitMode::Rolling).window(4),
            &ts,
            &v,
        );
        assert!(d.is_anomaly[4] && d.scores[4].is_finite());
    }

    #[test]
    fn bad_params() {
        assert!(refused(
            QuantileParams::new().fit(FitMode::Rolling).window(1)
        ));
        assert!(refused(
            QuantileParams::new().fit(FitMode::Rolling).high(1.5)
        ));
        assert!(refused(
            QuantileParams::new().fit(FitMode::Rolling).low(-0.1)
        ));
        assert!(refused(
            QuantileParams::new().fit(FitMode::Rolling).high(f64::NAN)
        ));
        assert!(matches!(
            QuantileParams::new()
                .fit(FitMode::Rolling)
                .low(0.6)
                .high(0.4)
                .check(),
            Err(DetectError::InconsistentBounds { .. })
        ));
        assert!(refused(
            QuantileParams::new()
                .fit(FitMode::Rolling)
                .high(None)
                .low(None)
        ));
        assert!(refused(
            QuantileParams::new()
                .fit(FitMode::Rolling)
                .low(None)
                .high(0.3)
        ));
        assert!(refused(
            QuantileParams::new()
                .fit(FitMode::Rolling)
                .high(None)
                .low(0.7)
        ));
        assert!(refused(
            QuantileParams::new()
                .fit(FitMode::Rolling)
                .window(10)
                .min_periods(11)
        ));
    }
}
