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
use std::str::FromStr;

use aiops_core::{Severity, TimestampMs};
use serde::{Deserialize, Serialize};

use crate::detector::{
    Detections, Detector, OnlineDetector, OnlineKernel, ParamGuard, PointGuard, PointScore,
    run_online,
};
use crate::error::{DetectError, Result};

/// Which departures count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Above or below.
    #[default]
    Both,
    /// Above only (latency, error rate).
    Up,
    /// Below only (throughput, free space).
    Down,
}

impl FromStr for Direction {
    type Err = DetectError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "both" => Ok(Direction::Both),
            "up" => Ok(Direction::Up),
            "down" => Ok(Direction::Down),
            _ => Err(DetectError::InvalidParameter {
                name: "direction",
                reason: format!("{s:?} is not one of both, up, down"),
            }),
        }
    }
}

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RollingZScoreParams {
    window: usize,
    threshold: f64,
    min_periods: Option<usize>,
    direction: Direction,
}

impl Default for RollingZScoreParams {
    fn default() -> Self {
        Self {
            window: 60,
            threshold: 3.0,
            min_periods: None,
            direction: Direction::Both,
        }
    }
}

impl RollingZScoreParams {
    /// Defaults: window 60 points, threshold 3σ, both directions, scoring from a full window.
    pub fn new() -> Self {
        Self::default()
    }

    crate::detector::setter!(
        /// Points in the reference window (>= 2).
        window: usize
    );

    crate::detector::setter!(
        /// Flag at `|z| >= threshold` σ (> 0).
        threshold: f64
    );

    /// Points needed before scoring starts (2..=window; default: window).
    pub fn min_periods(mut self, points: usize) -> Self {
        self.min_periods = Some(points);
        self
    }

    crate::detector::setter!(
        /// Which departures count.
        direction: Direction
    );
}

impl ParamGuard for RollingZScoreParams {
    type Checked = RollingZScore;

    fn check(&self) -> Result<RollingZScore> {
        if self.window < 2 {
            return Err(DetectError::InvalidParameter {
                name: "window",
                reason: format!("must be at least 2 points, got {}", self.window),
            });
        }
        if !(self.threshold.is_finite() && self.threshold > 0.0) {
            return Err(DetectError::InvalidParameter {
                name: "threshold",
                reason: format!(
                    "must be a positive number of sigmas, got {}",
                    self.threshold
                ),
            });
        }
        let min_periods = self.min_periods.unwrap_or(self.window);
        if !(2..=self.window).contains(&min_periods) {
            return Err(DetectError::InvalidParameter {
                name: "min_periods",
                reason: format!("must be in 2..={}, got {min_periods}", self.window),
            });
        }
        Ok(RollingZScore {
            window: self.window,
            threshold: self.threshold,
            min_periods,
            direction: self.direction,
        })
    }
}

/// Validated rolling z-score detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RollingZScore {
    window: usize,
    threshold: f64,
    min_periods: usize,
    direction: Direction,
}

impl RollingZScore {
    /// Unchecked parameters to start from.
    pub fn params() -> RollingZScoreParams {
        RollingZScoreParams::new()
    }

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
        self.min_periods
    }

    /// Which departures count.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The streaming state, typed (serde-able, for snapshots).
    pub fn online_state(&self) -> RollingZScoreOnline {
        RollingZScoreOnline {
            kernel: Kernel::new(*self),
            guard: PointGuard::default(),
        }
    }
}

impl Detector for RollingZScore {
    fn name(&self) -> &'static str {
        "zscore"
    }

    /// `|z|` of 1×, 1.5× and 2× the threshold map to medium, high and critical.
    fn severity(&self, score: f64) -> Severity {
        crate::mad::ratio_severity(score, self.threshold)
    }

    fn online(&self) -> Box<dyn OnlineDetector> {
        Box::new(self.online_state())
    }

    fn detect_with_progress(
        &self,
        timestamps: &[TimestampMs],
        values: &[f64],
        progress: &mut dyn FnMut(usize),
    ) -> Result<Detections> {
        run_online(Kernel::new(*self), timestamps, values, progress)
    }
}

/// The rolling statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Kernel {
    params: RollingZScore,
    buf: VecDeque<f64>,
    shift: f64,
    sum: f64,
    sumsq: f64,
    since_refresh: usize,
}

impl Kernel {
    fn new(params: RollingZScore) -> Self {
        Self {
            params,
            buf: VecDeque::with_capacity(params.window),
            shift: 0.0,
            sum: 0.0,
            sumsq: 0.0,
            since_refresh: 0,
        }
    }

    fn refresh(&mut self) {
        self.shift = self.buf.front().copied().unwrap_or(0.0);
        let (mut s, mut q) = (0.0, 0.0);
        for &x in &self.buf {
            let d = x - self.shift;
            s += d;
            q += d * d;
        }
        self.sum = s;
        self.sumsq = q;
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

impl OnlineKernel for Kernel {
    fn step(&mut self, x: f64) -> PointScore {
        let n = self.buf.len();
        let out = if n >= self.params.min_periods {
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

/// Streaming state of [`RollingZScore`]: the window and its running sums.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollingZScoreOnline {
    kernel: Kernel,
    guard: PointGuard,
}

impl OnlineDetector for RollingZScoreOnline {
    crate::detector::snapshot_via_serde!();

    fn update(&mut self, timestamp: TimestampMs, value: f64) -> Result<PointScore> {
        self.guard.admit(timestamp, value)?;
        Ok(self.kernel.step(value))
    }

    fn reset(&mut self) {
        self.kernel = Kernel::new(self.kernel.params);
        self.guard = PointGuard::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::noise;

    fn naive_z(values: &[f64], i: usize, w: usize) -> f64 {
        let win = &values[i - w..i];
        let m = win.iter().sum::<f64>() / w as f64;
        let v = win.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (w - 1) as f64;
        (values[i] - m) / v.sqrt()
    }

    #[test]
    fn finds_injected_spikes_and_only_them() {
        let mut v: Vec<f64> = noise(2000, 7).iter().map(|x| 100.0 + x).collect();
        for &i in &[500, 1200, 1800] {
            v[i] += 15.0;
        }
        let ts: Vec<i64> = (0..v.len() as i64).map(|i| i * 1000).collect();
        let det = RollingZScoreParams::new()
            .window(100)
            .threshold(4.0)
            .check()
            .unwrap();
        let d = det.detect(&ts, &v).unwrap();
        let flagged: Vec<usize> = (0..v.len()).filter(|&i| d.is_anomaly[i]).collect();
        assert_eq!(flagged, [500, 1200, 1800]);
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
        let d = RollingZScoreParams::new()
            .window(w)
            .check()
            .unwrap()
            .detect(&ts, &v)
            .unwrap();
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
    fn online_equals_batch_even_across_snapshots() {
        let mut v: Vec<f64> = noise(3000, 11).iter().map(|x| 10.0 * x).collect();
        v[2500] = 80.0;
        let ts: Vec<i64> = (0..v.len() as i64)
            .map(|i| 1_700_000_000_000 + i * 15_000)
            .collect();
        for det in [
            RollingZScoreParams::new().window(50).check().unwrap(),
            RollingZScoreParams::new()
                .window(20)
                .min_periods(5)
                .direction(Direction::Up)
                .check()
                .unwrap(),
            RollingZScoreParams::new()
                .window(2)
                .direction(Direction::Down)
                .check()
                .unwrap(),
        ] {
            let batch = det.detect(&ts, &v).unwrap();
            let mut online = det.online_state();
            for i in 0..v.len() {
                if i == 1234 {
                    // A restarted process continues from a snapshot.
                    let snap = serde_json::to_string(&online).unwrap();
                    online = serde_json::from_str(&snap).unwrap();
                }
                assert_eq!(
                    online.update(ts[i], v[i]).unwrap(),
                    batch.point(i),
                    "point {i}"
                );
            }
            let mut boxed = det.online();
            boxed.update(0, 1.0).unwrap();
            boxed.reset();
            assert_eq!(boxed.update(ts[0], v[0]).unwrap(), batch.point(0));
        }
    }

    #[test]
    fn directions_and_flat_lines() {
        let v = [5.0, 5.0, 5.0, 5.0, 6.0, 5.0, 4.0];
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let both = RollingZScoreParams::new()
            .window(4)
            .check()
            .unwrap()
            .detect(&ts, &v)
            .unwrap();
        assert!(both.is_anomaly[4], "departure from a flat line");
        assert!(both.scores[4].is_finite());
        let up = RollingZScoreParams::new()
            .window(3)
            .direction(Direction::Up)
            .check()
            .unwrap()
            .detect(&ts, &v)
            .unwrap();
        assert_eq!(up.scores[6], 0.0);
        assert!(up.lower[6].is_nan() && !up.upper[6].is_nan());
    }

    #[test]
    fn bad_params_and_input() {
        assert!(RollingZScoreParams::new().window(1).check().is_err());
        assert!(RollingZScoreParams::new().threshold(0.0).check().is_err());
        assert!(
            RollingZScoreParams::new()
                .threshold(f64::NAN)
                .check()
                .is_err()
        );
        assert!(
            RollingZScoreParams::new()
                .window(10)
                .min_periods(11)
                .check()
                .is_err()
        );
        assert!(RollingZScoreParams::new().min_periods(1).check().is_err());
        assert!("sideways".parse::<Direction>().is_err());
        let det = RollingZScoreParams::new().window(3).check().unwrap();
        assert!(matches!(det.detect(&[], &[]), Err(DetectError::Core(_))));
        assert!(matches!(
            det.detect(&[1, 1], &[0.0, 0.0]),
            Err(DetectError::Core(_))
        ));
        assert!(matches!(
            det.detect(&[1, 2], &[0.0, f64::NAN]),
            Err(DetectError::Core(_))
        ));
        assert!(matches!(
            det.detect(&[1, 2], &[0.0]),
            Err(DetectError::Core(_))
        ));
        let mut o = det.online_state();
        o.update(10, 1.0).unwrap();
        assert!(matches!(
            o.update(9, 1.0),
            Err(DetectError::OutOfOrder { .. })
        ));
        assert!(matches!(
            o.update(11, f64::NAN),
            Err(DetectError::NonFinite { .. })
        ));
    }
}
