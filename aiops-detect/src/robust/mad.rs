//! Robust rolling median / MAD score: the modified z-score of Iglewicz and Hoaglin,
//! `z = (x - median) / (1.4826 × MAD)` over the `window` points before `x`.
//!
//! The median and the median absolute deviation (MAD) ignore up to half the window being
//! outliers, where a mean and a standard deviation are dragged by a single spike. 1.4826 makes
//! `1.4826 × MAD` estimate σ for Gaussian data, so the score reads in σ units as `zscore`'s
//! does; the usual threshold is 3.5.
//!
//! Both statistics are exact. The window is an [`OrderStats`] tree: the median is one or two
//! selects, O(log w), and the MAD, the median of `|x_i - median|`, is found without copying the
//! window by [`OrderStats::kth_distance`], a binary search over the two sorted runs of values
//! either side of the median, O(log² w). Cost per point: O(log² w) time, O(w) memory.
//!
//! A window more than half of whose values are equal has MAD = 0; the robust σ is then floored
//! at 1e-12 × (1 + |median|), as `zscore` floors σ, so any departure from the majority value
//! scores huge but finite.

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::common::Direction;
use crate::common::checks::{check_positive, check_window};
use crate::common::direction::directed;
use crate::common::order_stats::{OrderStats, RollingOrderStats};
use crate::common::score_severity::ratio_severity;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::Result;

/// Makes 1.4826 × MAD a consistent estimator of σ for Gaussian data (1 / Φ⁻¹(3/4)).
pub const MAD_TO_SIGMA: f64 = 1.4826;

/// Median and MAD (median absolute deviation from the median) of the values; `None` when
/// empty. For an even count each is the mean of its two middle values. O(log² n).
pub fn median_mad(stats: &OrderStats) -> Option<(f64, f64)> {
    let n = stats.len();
    let median = stats.median()?;
    let mad = if n % 2 == 1 {
        stats.kth_distance(median, n / 2)?.0
    } else {
        let (lo, hi) = stats.kth_distance(median, n / 2 - 1)?;
        let hi = hi?;
        lo + (hi - lo) / 2.0
    };
    Some((median, mad))
}

/// `1.4826 × MAD`, floored at 1e-12 × (1 + |median|) so a flat window still gives a finite
/// scale.
pub fn robust_sigma(median: f64, mad: f64) -> f64 {
    (MAD_TO_SIGMA * mad).max(1e-12 * (1.0 + median.abs()))
}

crate::detector::params_newtype!(
    /// Unchecked parameters of [`Mad`].
    ///
    /// ```
    /// use aiops_detect::{Detector, MadParams, ParamGuard};
    /// let det = MadParams::new().window(5).check()?;
    /// let values = [10.0, 11.0, 9.0, 10.0, 11.0, 40.0, 10.0];
    /// let ts: Vec<i64> = (0..values.len() as i64).map(|i| i * 60_000).collect();
    /// let d = det.detect(&ts, &values)?;
    /// assert!(d.is_anomaly[5] && !d.is_anomaly[6]);
    /// assert_eq!(d.expected[5], 10.0, "the median");
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    MadParams => Mad
);

crate::detector::setters!(
    MadParams:
    window: usize, threshold: f64, min_periods: Option<usize>, direction: Direction);

impl ParamGuard for MadParams {
    type Checked = Mad;

    fn check(&self) -> Result<Mad> {
        check_window(self.0.window, self.0.min_periods, 3)?;
        check_positive("threshold", self.0.threshold)?;
        Ok(self.0)
    }
}

/// Rolling median / MAD detector, validated ([`MadParams::check`] makes it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mad {
    window: usize,
    threshold: f64,
    min_periods: Option<usize>,
    direction: Direction,
}

impl Default for Mad {
    fn default() -> Self {
        Self {
            window: 100,
            threshold: 3.5,
            min_periods: None,
            direction: Direction::Both,
        }
    }
}

impl Mad {
    /// Points in the reference window.
    pub fn window(&self) -> usize {
        self.window
    }
}

crate::detector::describe!(
    Mad, MadParams, MadKernel.params => MadOnline, "mad",
    "robust z-score (x - median) / (1.4826 MAD) of the previous window",
    severity |config, score| ratio_severity(score, config.threshold), "
    window: points in the reference window (default 100)
    threshold: robust sigmas at which a point is flagged (default 3.5)
    min_periods: points before scoring starts (default: window)
    direction: both | up | down (default both)
"
);

/// The window of [`Mad`] as an order-statistic tree. Counts points, not time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MadKernel {
    params: Mad,
    window: RollingOrderStats,
}

impl Kernel for MadKernel {
    fn new(params: &Mad) -> Self {
        Self {
            params: *params,
            window: RollingOrderStats::new(params.window),
        }
    }

    fn step(&mut self, _: TimestampMs, x: f64) -> PointScore {
        let p = &self.params;
        let out = match median_mad(self.window.stats()) {
            Some((median, mad)) if self.window.len() >= p.min_periods.unwrap_or(p.window) => {
                let sigma = robust_sigma(median, mad);
                let k = p.threshold;
                let (score, lower, upper) = directed(x, median, sigma, k, p.direction);
                PointScore {
                    score,
                    is_anomaly: score >= k,
                    expected: Some(median),
                    lower,
                    upper,
                }
            }
            _ => PointScore::NEUTRAL,
        };
        self.window.push(x);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::flagged;
    use crate::common::testing::prelude::*;
    use crate::common::testing::{refused, run};

    use crate::common::testing::noise;

    #[test]
    fn median_mad_matches_naive() {
        let v = noise(300, 9);
        for n in 1..60 {
            let w = &v[n..2 * n];
            let stats: OrderStats = w.iter().copied().collect();
            let m = aiops_core::stats::median(&mut w.to_vec());
            let mut dev: Vec<f64> = w.iter().map(|x| (x - m).abs()).collect();
            let mad = aiops_core::stats::median(&mut dev);
            let (m2, mad2) = median_mad(&stats).unwrap();
            assert!((m - m2).abs() < 1e-15, "n={n}");
            assert!((mad - mad2).abs() < 1e-15, "n={n}: {mad} vs {mad2}");
        }
        assert_eq!(median_mad(&OrderStats::new()), None);
        let flat: OrderStats = [2.0, 2.0, 2.0, 7.0].into_iter().collect();
        assert_eq!(median_mad(&flat), Some((2.0, 0.0)));
    }

    #[test]
    fn finds_injected_spikes_and_only_them() {
        let mut v: Vec<f64> = noise(3000, 7).iter().map(|x| 100.0 + x).collect();
        for &i in &[500, 1200, 1800] {
            v[i] += 8.0;
        }
        // A burst of outliers shorter than half the window cannot move the median.
        for x in &mut v[2500..2510] {
            *x -= 20.0;
        }
        let ts: Vec<i64> = (0..v.len() as i64).map(|i| i * 1000).collect();
        let det = MadParams::new().window(60).check().unwrap();
        let d = det.detect(&ts, &v).unwrap();
        let flagged = flagged(&d);
        let mut want = vec![500, 1200, 1800];
        want.extend(2500..2510);
        assert_eq!(flagged, want);
        assert!(d.scores[..60].iter().all(|&s| s == 0.0), "warm-up");
        assert!((d.expected[2509] - 100.0).abs() < 0.2);
        assert_eq!(det.severity(d.scores[2505]), Severity::Critical);
    }

    #[test]
    fn flat_majority_scores_finite() {
        let v = [5.0, 5.0, 5.0, 5.0, 6.0, 5.0, 4.0];
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let d = run(MadParams::new().window(4), &ts, &v);
        assert!(d.is_anomaly[4] && d.scores[4].is_finite());
        let up = run(MadParams::new().window(3).direction(Direction::Up), &ts, &v);
        assert_eq!(up.scores[6], 0.0);
        assert!(up.lower[6].is_nan() && !up.upper[6].is_nan());
    }

    #[test]
    fn bad_params() {
        assert!(refused(MadParams::new().window(2)));
        assert!(refused(MadParams::new().threshold(0.0)));
        assert!(refused(MadParams::new().threshold(f64::INFINITY)));
        assert!(refused(MadParams::new().window(10).min_periods(11)));
        assert!(refused(MadParams::new().min_periods(2)));
    }
}
