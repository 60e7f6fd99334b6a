//! Hampel filter: rolling median and MAD, with flagged points kept out of the window.
//!
//! The Hampel identifier flags `x` when `|x - median| > t × 1.4826 × MAD` of the `window`
//! points before it; the median is its replacement value, reported as `expected`. The score
//! is `|x - median| / (1.4826 × MAD)`, robust σ, as [`crate::robust::mad`].
//!
//! # How it differs from `mad`
//!
//! `mad` scores against the raw past. Here flagged points are kept out of the window that
//! judges later points, so outliers never contaminate it: a stretch where outliers come more
//! often than normal points (in short bursts) keeps being caught, where `mad`'s median drifts
//! to the outliers' level and stops flagging them. Hampel's filter
//! replaces an outlier by the median; entering that median into the window would pile up
//! copies of one value where outliers are dense and shrink the MAD towards 0 (then every point
//! is flagged), so the flagged point is dropped instead: the window holds the last `window`
//! accepted points.
//!
//! Dropping everything flagged would lock the filter onto the old level after a genuine level
//! change: every later point is flagged and dropped forever. So a run of more than `max_run`
//! consecutive flagged points is taken as a level change: the run's held-back values enter the
//! window (O(max_run log w), once per run), as does the rest of the run, after which the window
//! adapts as `mad`'s does. `max_run = 0` disables the filtering, which gives the plain
//! (non-recursive) Hampel identifier: `mad` with a strict inequality.
//!
//! Cost per point: O(log² w) time (the exact rolling MAD of [`median_mad`]), O(w)
//! memory.

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::common::Direction;
use crate::common::checks::{check_positive, check_window};
use crate::common::direction::directed;
use crate::common::order_stats::RollingOrderStats;
use crate::common::score_severity::ratio_severity;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};
use crate::robust::mad::{median_mad, robust_sigma};

crate::detector::params_newtype!(
    /// Unchecked parameters of [`Hampel`].
    ///
    /// ```
    /// use aiops_detect::{Detector, ParamGuard, HampelParams};
    /// let det = HampelParams::new().window(5).check()?;
    /// let values = [10.0, 11.0, 9.0, 10.0, 11.0, 40.0, 10.0];
    /// let ts: Vec<i64> = (0..values.len() as i64).map(|i| i * 60_000).collect();
    /// let d = det.detect(&ts, &values)?;
    /// assert!(d.is_anomaly[5] && !d.is_anomaly[6]);
    /// assert_eq!(d.expected[5], 10.0, "the median, its replacement");
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    HampelParams => Hampel
);

crate::detector::setters!(
    HampelParams:
    window: usize, threshold: f64, min_periods: Option<usize>, max_run: Option<usize>, direction:
    Direction);

impl ParamGuard for HampelParams {
    type Checked = Hampel;

    fn check(&self) -> Result<Hampel> {
        check_window(self.0.window, self.0.min_periods, 3)?;
        check_positive("threshold", self.0.threshold)?;
        let max_run = self.0.max_run();
        if max_run > self.0.window {
            return Err(DetectError::InvalidParameter {
                name: "max_run",
                reason: format!("must be in 0..={}, got {max_run}", self.0.window),
            });
        }
        Ok(self.0)
    }
}

/// Validated Hampel filter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hampel {
    window: usize,
    threshold: f64,
    min_periods: Option<usize>,
    max_run: Option<usize>,
    direction: Direction,
}

impl Default for Hampel {
    fn default() -> Self {
        Self {
            window: 60,
            threshold: 3.0,
            min_periods: None,
            max_run: None,
            direction: Direction::Both,
        }
    }
}

impl Hampel {
    fn min_periods(&self) -> usize {
        self.min_periods.unwrap_or(self.window)
    }

    fn max_run(&self) -> usize {
        self.max_run.unwrap_or(self.window / 4)
    }
}

crate::detector::describe!(
    Hampel, HampelParams, HampelKernel.params => HampelOnline, "hampel",
    "Hampel identifier; flagged points are kept out of the window",
    severity |config, score| ratio_severity(score, config.threshold), "
    window: points in the reference window (default 60)
    threshold: t, robust sigmas (default 3)
    max_run: flagged points kept out before a run counts as a level change, 0 = none (default window/4)
    min_periods: points before scoring starts (default: window)
    direction: both | up | down (default both)
"
);

impl Kernel for HampelKernel {
    fn step(&mut self, _: TimestampMs, x: f64) -> PointScore {
        let scored = match median_mad(self.window.stats()) {
            Some((median, mad)) if self.window.len() >= self.params.min_periods() => {
                Some((median, robust_sigma(median, mad)))
            }
            _ => None,
        };
        let Some((median, sigma)) = scored else {
            self.window.push(x);
            return PointScore::NEUTRAL;
        };
        let t = self.params.threshold;
        let (score, lower, upper) = directed(x, median, sigma, t, self.params.direction);
        let flagged = score > t;
        if !flagged {
            self.run.clear();
            self.level_change = false;
            self.window.push(x);
        } else if self.params.max_run() == 0 || self.level_change {
            self.window.push(x);
        } else if self.run.len() < self.params.max_run() {
            self.run.push(x);
        } else {
            // Too long for outliers: the held-back run joins the window, in order.
            for held in self.run.drain(..) {
                self.window.push(held);
            }
            self.window.push(x);
            self.level_change = true;
        }
        PointScore {
            score,
            is_anomaly: flagged,
            expected: Some(median),
            lower,
            upper,
        }
    }

    fn new(params: &Hampel) -> Self {
        let params = *params;
        Self {
            params,
            window: RollingOrderStats::new(params.window),
            run: Vec::with_capacity(params.max_run()),
            level_change: false,
        }
    }
}

/// The per-point state of [`Hampel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HampelKernel {
    params: Hampel,
    /// The last `window` accepted points.
    window: RollingOrderStats,
    /// Values of the current run of flagged points, held back from the window.
    run: Vec<f64>,
    /// The current run outgrew `max_run`: its points enter the window until it ends.
    level_change: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::flagged;
    use crate::common::testing::prelude::*;
    use crate::common::testing::refused;
    use crate::robust::mad::MadParams;

    use crate::common::testing::{noise, ts};

    #[test]
    fn finds_injected_spikes_and_only_them() {
        let mut v: Vec<f64> = noise(3000, 7).iter().map(|x| 100.0 + x).collect();
        for &i in &[500, 1200, 1800] {
            v[i] += 8.0;
        }
        let det = HampelParams::new().check().unwrap();
        let d = det.detect(&ts(v.len()), &v).unwrap();
        assert_eq!(flagged(&d), [500, 1200, 1800]);
        assert!((d.expected[500] - 100.0).abs() < 0.3);
        assert!(d.scores[..60].iter().all(|&s| s == 0.0), "warm-up");
    }

    #[test]
    fn dense_outliers_stay_out_of_the_window() {
        // From point 200 on, two points in three are outliers (in runs of two): enough to
        // drag a plain rolling median onto them.
        let mut v: Vec<f64> = noise(600, 3).iter().map(|x| 50.0 + x).collect();
        let outliers: Vec<usize> = (200..600).filter(|i| i % 3 != 0).collect();
        for &i in &outliers {
            v[i] += 30.0;
        }
        let hampel = HampelParams::new().window(30).max_run(2).check().unwrap();
        let d = hampel.detect(&ts(v.len()), &v).unwrap();
        assert_eq!(flagged(&d), outliers, "every outlier, and only them");
        assert!(
            d.expected[599] < 52.0,
            "the median stays at the normal level"
        );

        let plain = MadParams::new().window(30).threshold(3.0).check().unwrap();
        let m = plain.detect(&ts(v.len()), &v).unwrap();
        assert!(
            (400..600)
                .filter(|&i| m.is_anomaly[i] && i % 3 != 0)
                .count()
                < 10,
            "mad's window fills with outliers and stops flagging them"
        );
        // Without replacement Hampel is `mad` with a strict inequality.
        let no_replace = HampelParams::new().window(30).max_run(0).check().unwrap();
        let h0 = no_replace.detect(&ts(v.len()), &v).unwrap();
        assert_eq!(h0.scores, m.scores);
    }

    #[test]
    fn a_level_change_is_learned_not_flagged_forever() {
        let mut v: Vec<f64> = noise(400, 5).iter().map(|x| 10.0 + x).collect();
        for x in &mut v[200..] {
            *x += 20.0;
        }
        let det = HampelParams::new().check().unwrap();
        assert_eq!(det.max_run(), 15);
        let d = det.detect(&ts(v.len()), &v).unwrap();
        let f = flagged(&d);
        assert_eq!(f.first(), Some(&200));
        // Flagged until the new level holds half the window, then quiet again.
        assert!(f.iter().all(|&i| i < 200 + 16 + 30), "{f:?}");
        assert!(!d.is_anomaly[250..].iter().any(|&a| a));
        assert!((d.expected[399] - 30.0).abs() < 1.0);
    }

    #[test]
    fn bad_params() {
        assert!(refused(HampelParams::new().window(2)));
        assert!(refused(HampelParams::new().threshold(-1.0)));
        assert!(refused(HampelParams::new().threshold(f64::NAN)));
        assert!(refused(HampelParams::new().window(10).max_run(11)));
        assert!(refused(HampelParams::new().window(10).min_periods(11)));
    }
}
