//! Inter-quartile range detector: values outside Tukey's fences `[Q1 - c × IQR, Q3 + c × IQR]`
//! of a reference window, as ADTK's `InterQuartileRangeAD`, causal: by default static, fences
//! fitted once on the first `window` points; with `fit = "rolling"`, on the `window` points
//! before each point.
//!
//! Quartiles interpolate linearly between ranks (numpy's and pandas' default). A value is
//! flagged strictly outside the fences (ADTK's rule); the score is how far beyond the fence it
//! lies, in IQR units (0 inside). A window whose middle half is one value has IQR = 0: the
//! fences close onto it and the score divides by an IQR floored at 1e-12 × (1 + |median|), so
//! any departure scores huge but finite. `c` defaults to 3, ADTK's default.
//!
//! With `fit = "once"` (the default) the fences are fitted on the first `window` points and
//! kept (ADTK's fit-then-detect workflow), O(1) per point after training; see
//! [`FitMode`]. Rolling, the cost per point is O(log w) time (six selects and an
//! update of an [`OrderStats`](crate::common::order_stats::OrderStats) tree) and O(w) memory.
//!
//! The fence arithmetic and the "upper fence on a rolling history of absolute differences"
//! used by `level_shift`, `volatility_shift` and `persist` (ADTK builds those detectors the
//! same way) live here too.

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::common::checks::{check_once_min_periods, check_positive, check_window};
use crate::common::fences::{Fences, finite_ratio, frozen_fences};
use crate::common::order_stats::RollingOrderStats;
use crate::common::score_severity::fence_severity;
use crate::common::{Direction, FitMode};
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::Result;

crate::detector::params_newtype!(
    /// Unchecked parameters of [`Iqr`].
    ///
    /// ```
    /// use aiops_detect::{Detector, IqrParams, ParamGuard};
    /// let det = IqrParams::new().window(8).check()?;
    /// let values = [10.0, 11.0, 9.0, 10.0, 12.0, 8.0, 10.0, 11.0, 30.0, 10.0];
    /// let ts: Vec<i64> = (0..values.len() as i64).map(|i| i * 60_000).collect();
    /// let d = det.detect(&ts, &values)?;
    /// assert!(d.is_anomaly[8] && !d.is_anomaly[9]);
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    IqrParams => Iqr
);

crate::detector::setters!(
    IqrParams:
    window: usize, c: f64, min_periods: Option<usize>, direction: Direction, fit: FitMode);

impl ParamGuard for IqrParams {
    type Checked = Iqr;

    fn check(&self) -> Result<Iqr> {
        let p = &self.0;
        check_window(p.window, p.min_periods, 4)?;
        check_positive("c", p.c)?;
        check_once_min_periods(p.fit, p.min_periods, p.window, "fences")?;
        Ok(self.0)
    }
}

/// Inter-quartile range detector, validated ([`IqrParams::check`] makes it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Iqr {
    fit: FitMode,
    window: usize,
    c: f64,
    min_periods: Option<usize>,
    direction: Direction,
}

impl Default for Iqr {
    fn default() -> Self {
        Self {
            fit: FitMode::Once,
            window: 200,
            c: 3.0,
            min_periods: None,
            direction: Direction::Both,
        }
    }
}

crate::detector::describe!(
    Iqr, IqrParams, IqrKernel.params => IqrOnline, "iqr",
    "inter-quartile range fences of a reference window (fitted once, or rolling)",
    severity |config, score| fence_severity(score, config.c), "
    window: points in the reference window (default 200)
    c: fence distance in IQRs beyond the quartiles (default 3)
    min_periods: points before scoring starts (default: window)
    direction: both | up | down (default both)
    fit: once | rolling (once: fences fitted on the first window, then kept; default once)
"
);

/// The window of [`Iqr`] as an order-statistic tree, or its frozen fences. Counts points, not
/// time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IqrKernel {
    params: Iqr,
    window: RollingOrderStats,
    /// With `FitMode::Once`, the fences once fitted.
    #[serde(with = "frozen_fences")]
    frozen: Option<Fences>,
}

impl Kernel for IqrKernel {
    fn new(params: &Iqr) -> Self {
        Self {
            params: *params,
            window: RollingOrderStats::new(params.window),
            frozen: None,
        }
    }

    fn step(&mut self, _: TimestampMs, x: f64) -> PointScore {
        let p = self.params;
        let fences = match self.frozen {
            Some(f) => Some(f),
            None if self.window.len() >= p.min_periods.unwrap_or(p.window) => {
                Fences::of(self.window.stats(), p.c)
            }
            None => None,
        };
        if self.frozen.is_none() {
            self.window.push(x);
            if p.fit == FitMode::Once && self.window.is_full() {
                self.frozen = Fences::of(self.window.stats(), p.c);
            }
        }
        let Some(f) = fences else {
            return PointScore::NEUTRAL;
        };
        let above = x - f.upper;
        let below = f.lower - x;
        let (beyond, lower, upper) = match p.direction {
            Direction::Both => (above.max(below), Some(f.lower), Some(f.upper)),
            Direction::Up => (above, None, Some(f.upper)),
            Direction::Down => (below, Some(f.lower), None),
        };
        let is_anomaly = beyond > 0.0;
        PointScore {
            score: if is_anomaly {
                finite_ratio(beyond, f.scale)
            } else {
                0.0
            },
            is_anomaly,
            expected: Some(f.median),
            lower,
            upper,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::prelude::*;
    use crate::common::testing::{assert_trained_once, flagged, noise, refused, run, spiked};

    #[test]
    fn fit_once_keeps_the_training_fences() {
        let v: Vec<f64> = (0..400)
            .map(|i| if i < 300 { (i % 10) as f64 } else { 100.0 })
            .collect();
        let det = IqrParams::new()
            .fit(FitMode::Rolling)
            .window(100)
            .fit(FitMode::Once)
            .check()
            .unwrap();
        assert_trained_once(&det, &v, 250);
        assert!(refused(
            IqrParams::new()
                .fit(FitMode::Rolling)
                .window(100)
                .min_periods(10)
                .fit(FitMode::Once)
        ));
    }

    #[test]
    fn finds_injected_spikes_and_only_them() {
        let (ts, v) = spiked(3000, 7, &[(500, 8.0), (1200, 8.0), (1800, -9.0)]);
        let det = IqrParams::new().fit(FitMode::Rolling).check().unwrap();
        let d = det.detect(&ts, &v).unwrap();
        assert_eq!(flagged(&d), [500, 1200, 1800]);
        assert!(d.scores[..200].iter().all(|&s| s == 0.0), "warm-up");
        // Uniform noise on [99, 101): IQR ≈ 1, upper fence ≈ 100.5 + 3.
        assert!((d.upper[1000] - 103.5).abs() < 0.3, "{}", d.upper[1000]);
        // upper - lower = (1 + 2c) IQR.
        let iqr = (d.upper[500] - d.lower[500]) / 7.0;
        assert!((d.scores[500] - (v[500] - d.upper[500]) / iqr).abs() < 1e-9);
        // About 5.5 IQRs below the lower fence.
        assert_eq!(det.severity(d.scores[1800]), Severity::Critical);
        assert_eq!(det.severity(0.1), Severity::Medium);
        assert_eq!(det.severity(1.5), Severity::High);
        let up = run(
            IqrParams::new()
                .fit(FitMode::Rolling)
                .direction(Direction::Up),
            &ts,
            &v,
        );
        assert!(!up.is_anomaly[1800] && up.is_anomaly[500]);
    }

    #[test]
    fn matches_naive_fences() {
        let v: Vec<f64> = noise(500, 3).iter().map(|x| 1e6 + 50.0 * x).collect();
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let w = 17;
        let d = run(
            IqrParams::new().fit(FitMode::Rolling).window(w).c(1.0),
            &ts,
            &v,
        );
        for i in w..v.len() {
            let mut s = v[i - w..i].to_vec();
            s.sort_by(f64::total_cmp);
            // (w - 1) / 4 = 4 exactly: the quartiles are order statistics.
            let (q1, q3) = (s[4], s[12]);
            assert_eq!(d.upper[i], q3 + (q3 - q1));
            assert_eq!(d.lower[i], q1 - (q3 - q1));
            assert_eq!(d.expected[i], s[8]);
        }
    }

    #[test]
    fn flat_window_scores_finite() {
        let v = [5.0, 5.0, 5.0, 5.0, 5.0, 6.0, 5.0];
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let d = run(IqrParams::new().fit(FitMode::Rolling).window(5), &ts, &v);
        assert!(d.is_anomaly[5] && d.scores[5].is_finite() && d.scores[5] > 1e6);
        assert!(!d.is_anomaly[6]);
    }

    #[test]
    fn bad_params() {
        assert!(refused(IqrParams::new().fit(FitMode::Rolling).window(3)));
        assert!(refused(IqrParams::new().fit(FitMode::Rolling).c(0.0)));
        assert!(refused(IqrParams::new().fit(FitMode::Rolling).c(f64::NAN)));
        assert!(refused(
            IqrParams::new()
                .fit(FitMode::Rolling)
                .window(10)
                .min_periods(11)
        ));
        assert!(refused(
            IqrParams::new().fit(FitMode::Rolling).min_periods(3)
        ));
    }
}
