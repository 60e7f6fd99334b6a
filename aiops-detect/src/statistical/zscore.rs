//! Rolling z-score (n-sigma): how many standard deviations a point lies from the mean of the
//! `window` points before it.
//!
//! The point is scored against the previous window, then joins it, so a spike cannot hide
//! itself by inflating the statistics it is judged by. The standard deviation is the sample one
//! (divisor n - 1), as pandas' `rolling().std()`. A constant window would give σ = 0; σ is
//! floored at 1e-12 × (1 + |mean|) so that any departure from a flat line scores huge but finite.
//!
//! Cost: O(1) per point. Running sums are kept relative to a shift (the window's first value
//! at the last refresh) to avoid cancellation, and recomputed exactly from the window every
//! `window` points, so rounding error cannot build up over long streams.

use std::collections::VecDeque;

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::common::Direction;
use crate::common::checks::{check_positive, check_window};
use crate::common::moments::shifted_sums;
use crate::common::score_severity::ratio_severity;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::Result;

crate::detector::params_newtype!(
    /// Unchecked parameters of [`RollingZScore`].
    ///
    /// ```
    /// use aiops_detect::{Detector, ParamGuard, RollingZScoreParams};
    /// let det = RollingZScoreParams::new().window(5).threshold(3.0).check()?;
    /// let values = [10.0, 11.0, 9.0, 10.0, 11.0, 9.0, 30.0, 10.0];
    /// let ts: Vec<i64> = (0..values.len() as i64).map(|i| i * 60_000).collect();
    /// let d = det.detect(&ts, &values)?;
    /// assert!(d.is_anomaly[6] && !d.is_anomaly[7]);
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    RollingZScoreParams => RollingZScore
);

crate::detector::setters!(
    RollingZScoreParams:
    window: usize, threshold: f64, min_periods: Option<usize>, direction: Direction);

impl ParamGuard for RollingZScoreParams {
    type Checked = RollingZScore;

    fn check(&self) -> Result<RollingZScore> {
        check_window(self.0.window, self.0.min_periods, 2)?;
        check_positive("threshold", self.0.threshold)?;
        Ok(self.0)
    }
}

/// Rolling z-score detector, validated ([`RollingZScoreParams::check`] makes it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RollingZScore {
    window: usize,
    threshold: f64,
    min_periods: Option<usize>,
    direction: Direction,
}

impl Default for RollingZScore {
    fn default() -> Self {
        Self {
            window: 60,
            threshold: 3.0,
            min_periods: None,
            direction: Direction::Both,
        }
    }
}

impl RollingZScore {
    /// Points in the reference window.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Flagging threshold, σ.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Points needed before scoring starts.
    pub fn min_periods(&self) -> usize {
        self.min_periods.unwrap_or(self.window)
    }

    /// Which departures count.
    pub fn direction(&self) -> Direction {
        self.direction
    }
}

crate::detector::describe!(
    RollingZScore, RollingZScoreParams, ZScoreKernel.params => RollingZScoreOnline, "zscore",
    "rolling z-score: distance from the mean of the previous window, in sigmas",
    severity |config, score| ratio_severity(score, config.threshold), "
    window: points in the reference window (default 60)
    threshold: sigmas at which a point is flagged (default 3)
    min_periods: points before scoring starts (default: window)
    direction: both | up | down (default both)
"
);

/// The rolling statistics of [`RollingZScore`]: the window and its running sums. Counts
/// points, not time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZScoreKernel {
    params: RollingZScore,
    buf: VecDeque<f64>,
    shift: f64,
    sum: f64,
    sumsq: f64,
    since_refresh: usize,
}

impl ZScoreKernel {
    fn refresh(&mut self) {
        (self.shift, self.sum, self.sumsq) = shifted_sums(&self.buf);
        self.since_refresh = 0;
    }

    fn push(&mut self, x: f64) {
        if self.buf.len() == self.params.window {
            let old = self.buf.pop_front().unwrap_or(x) - self.shift;
            self.sum -= old;
            self.sumsq -= old * old;
        }
        self.buf.push_back(x);
        let d = x - self.shift;
        self.sum += d;
        self.sumsq += d * d;
        self.since_refresh += 1;
        if self.since_refresh >= self.params.window {
            self.refresh();
        }
    }
}

impl Kernel for ZScoreKernel {
    fn new(params: &RollingZScore) -> Self {
        Self {
            params: *params,
            buf: VecDeque::with_capacity(params.window),
            shift: 0.0,
            sum: 0.0,
            sumsq: 0.0,
            since_refresh: 0,
        }
    }

    fn step(&mut self, _: TimestampMs, x: f64) -> PointScore {
        let n = self.buf.len();
        let out = if n >= self.params.min_periods() {
            let nf = n as f64;
            let mean_d = self.sum / nf;
            let var = ((self.sumsq - self.sum * mean_d) / (nf - 1.0)).max(0.0);
            let mean = self.shift + mean_d;
            let sd = var.sqrt().max(1e-12 * (1.0 + mean.abs()));
            let z = (x - mean) / sd;
            let k = self.params.threshold;
            let (score, lower, upper) = match self.params.direction {
                Direction::Both => (z.abs(), Some(mean - k * sd), Some(mean + k * sd)),
                Direction::Up => (z.max(0.0), None, Some(mean + k * sd)),
                Direction::Down => ((-z).max(0.0), Some(mean - k * sd), None),
            };
            PointScore {
                score,
                is_anomaly: score >= k,
                expected: Some(mean),
                lower,
                upper,
            }
        } else {
            PointScore::NEUTRAL
        };
        self.push(x);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::flagged;
    use crate::common::testing::{refused, run, spiked};

    use crate::common::testing::noise;

    fn naive_z(values: &[f64], i: usize, w: usize) -> f64 {
        let win = &values[i - w..i];
        let m = win.iter().sum::<f64>() / w as f64;
        let v = win.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (w - 1) as f64;
        (values[i] - m) / v.sqrt()
    }

    #[test]
    fn finds_injected_spikes_and_only_them() {
        let (ts, v) = spiked(2000, 7, &[(500, 15.0), (1200, 15.0), (1800, 15.0)]);
        let d = run(
            RollingZScoreParams::new().window(100).threshold(4.0),
            &ts,
            &v,
        );
        assert_eq!(flagged(&d), [500, 1200, 1800]);
        assert!(
            d.scores[..100].iter().all(|&s| s == 0.0),
            "warm-up scores 0"
        );
        assert!((d.expected[500] - 100.0).abs() < 0.2);
    }

    #[test]
    fn matches_naive_computation_over_long_streams() {
        // Large offset and many refreshes: the shifted sums must stay exact enough.
        let v: Vec<f64> = noise(20_000, 3).iter().map(|x| 1e9 + 5.0 * x).collect();
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let w = 37;
        let d = run(RollingZScoreParams::new().window(w), &ts, &v);
        for i in (w..v.len()).step_by(997) {
            let z = naive_z(&v, i, w).abs();
            assert!(
                (d.scores[i] - z).abs() < 1e-6 * (1.0 + z),
                "i={i}: {} vs {z}",
                d.scores[i]
            );
        }
    }

    #[test]
    fn directions_and_flat_lines() {
        let v = [5.0, 5.0, 5.0, 5.0, 6.0, 5.0, 4.0];
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let both = run(RollingZScoreParams::new().window(4), &ts, &v);
        assert!(both.is_anomaly[4], "departure from a flat line");
        assert!(both.scores[4].is_finite());
        let up = run(
            RollingZScoreParams::new()
                .window(3)
                .direction(Direction::Up),
            &ts,
            &v,
        );
        assert_eq!(up.scores[6], 0.0);
        assert!(up.lower[6].is_nan() && !up.upper[6].is_nan());
    }

    #[test]
    fn bad_params() {
        assert!(refused(RollingZScoreParams::new().window(1)));
        assert!(refused(RollingZScoreParams::new().threshold(0.0)));
        assert!(refused(RollingZScoreParams::new().threshold(f64::NAN)));
        assert!(refused(
            RollingZScoreParams::new().window(10).min_periods(11)
        ));
        assert!(refused(RollingZScoreParams::new().min_periods(1)));
        assert!("sideways".parse::<Direction>().is_err());
    }
}
