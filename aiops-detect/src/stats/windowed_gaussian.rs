//! Windowed Gaussian tail probability: NAB's `windowedGaussian` baseline detector.
//!
//! Each point is scored by how improbable it is under a Gaussian with the mean and standard
//! deviation of a window of past points. As in NAB: the window grows to `window` points
//! (6400, tuned on NAB) and its statistics are refreshed after every point until then; once
//! full it slides by `step` points at a time (100), so the statistics change every `step`
//! points; the standard deviation is the population one (numpy's `std`); scoring starts from
//! the second point (`min_periods` 1).
//!
//! Score: NAB reports `1 - Q(|z|)`, with `Q` the Gaussian upper tail and `z = (x - mean) / σ`,
//! which lies in [0.5, 1). Here the score is `1 - 2 Q(|z|) = erf(|z| / √2)`, the two-sided
//! probability mass closer to the mean than `x`: the same ordering, mapped onto [0, 1) so a
//! point at the mean scores 0 (NAB's score is `(1 + score) / 2`). `threshold` is on this
//! scale: the default 0.999 flags `|z| >= 3.29`. `lower` / `upper` are the values at which
//! the score reaches the threshold.
//!
//! Differences from NAB: a zero σ is floored at 1e-12 × (1 + |mean|), relative to the data,
//! where NAB uses an absolute 1e-6; the result is the same (a departure from a flat window
//! scores ≈ 1).
//!
//! Cost: O(1) amortised per point, O(window + step) memory. The running sums are kept relative
//! to a shift and recomputed exactly every `window` points (`RollingMoments`), so rounding
//! error cannot build up.

use std::collections::VecDeque;
use std::f64::consts::SQRT_2;

use aiops_core::{Severity, TimestampMs};
use serde::{Deserialize, Serialize};
use statrs::function::erf::{erfc, erfc_inv};

use crate::detector::{
    Detections, Detector, OnlineDetector, OnlineKernel, ParamGuard, PointGuard, PointScore,
    run_online,
};
use crate::error::{DetectError, Result};
use crate::zscore::Direction;

/// Mean and variance of the last `capacity` values of a stream in O(1) per value: sums kept
/// relative to a shift (the oldest value at the last refresh), so that a large offset does not
/// cancel the variance, and recomputed from the values every `capacity` pushes, so rounding
/// error cannot build up over long streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RollingMoments {
    capacity: usize,
    buf: VecDeque<f64>,
    shift: f64,
    sum: f64,
    sumsq: f64,
    since_refresh: usize,
}

impl RollingMoments {
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            buf: VecDeque::with_capacity(capacity),
            shift: 0.0,
            sum: 0.0,
            sumsq: 0.0,
            since_refresh: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Appends `x`, returning the value evicted to make room, if any.
    pub(crate) fn push(&mut self, x: f64) -> Option<f64> {
        let evicted = if self.buf.len() == self.capacity {
            self.buf.pop_front()
        } else {
            None
        };
        if let Some(old) = evicted {
            let d = old - self.shift;
            self.sum -= d;
            self.sumsq -= d * d;
        }
        if self.buf.is_empty() {
            // Shift from the first value on, not from 0: a large offset must not cancel the
            // variance before the first refresh either.
            self.shift = x;
            self.sum = 0.0;
            self.sumsq = 0.0;
        }
        self.buf.push_back(x);
        let d = x - self.shift;
        self.sum += d;
        self.sumsq += d * d;
        self.since_refresh += 1;
        if self.since_refresh >= self.capacity {
            self.refresh();
        }
        evicted
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

    /// Mean (0 when empty).
    pub(crate) fn mean(&self) -> f64 {
        if self.buf.is_empty() {
            0.0
        } else {
            self.shift + self.sum / self.buf.len() as f64
        }
    }

    /// Variance with divisor `n - ddof` (0 when `n <= ddof`), never negative.
    ///
    /// A flat window whose values differ from the shift leaves rounding residue of about
    /// ε × `sumsq` in the centred sum of squares; below a few times that the variance is 0,
    /// so a flat window reads as flat (and ratios of two flat windows' σ do not turn noise
    /// into signal).
    pub(crate) fn variance(&self, ddof: usize) -> f64 {
        let n = self.buf.len();
        if n <= ddof {
            return 0.0;
        }
        let nf = n as f64;
        let centred = self.sumsq - self.sum * (self.sum / nf);
        if centred <= 8.0 * f64::EPSILON * self.sumsq {
            return 0.0;
        }
        centred / (n - ddof) as f64
    }

    /// Standard deviation with divisor `n - ddof`, floored at 1e-12 × (1 + |mean|) so that
    /// dividing by it stays finite.
    pub(crate) fn std_floored(&self, ddof: usize) -> f64 {
        self.variance(ddof)
            .sqrt()
            .max(1e-12 * (1.0 + self.mean().abs()))
    }
}

/// Unchecked parameters of [`WindowedGaussian`].
///
/// ```
/// use aiops_detect::windowed_gaussian::WindowedGaussianParams;
/// use aiops_detect::{Detector, ParamGuard};
/// let det = WindowedGaussianParams::new().min_periods(5).check()?;
/// let values = [10.0, 11.0, 9.0, 10.0, 11.0, 9.0, 30.0, 10.0];
/// let ts: Vec<i64> = (0..values.len() as i64).map(|i| i * 60_000).collect();
/// let d = det.detect(&ts, &values)?;
/// assert!(d.is_anomaly[6] && !d.is_anomaly[7]);
/// assert!(d.scores[6] > 0.999 && d.scores[6] < 1.0 + 1e-12);
/// # Ok::<(), aiops_detect::DetectError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WindowedGaussianParams {
    window: usize,
    step: usize,
    threshold: f64,
    min_periods: usize,
    direction: Direction,
}

impl Default for WindowedGaussianParams {
    fn default() -> Self {
        Self {
            window: 6400,
            step: 100,
            threshold: 0.999,
            min_periods: 1,
            direction: Direction::Both,
        }
    }
}

impl WindowedGaussianParams {
    /// NAB's defaults: window 6400 points sliding by 100, scoring from the second point; flag
    /// at score 0.999 (|z| ≈ 3.29), both directions.
    pub fn new() -> Self {
        Self::default()
    }

    crate::detector::setter!(
        /// Points in the window (>= 2).
        window: usize
    );

    crate::detector::setter!(
        /// Points by which a full window slides at once (1..=window; 1: every point).
        step: usize
    );

    crate::detector::setter!(
        /// Flag at score `>= threshold`, in (0, 1).
        threshold: f64
    );

    crate::detector::setter!(
        /// Points in the window before scoring starts (1..=window; default 1, as NAB).
        min_periods: usize
    );

    crate::detector::setter!(
        /// Which departures count.
        direction: Direction
    );
}

impl ParamGuard for WindowedGaussianParams {
    type Checked = WindowedGaussian;

    fn check(&self) -> Result<WindowedGaussian> {
        if self.window < 2 {
            return Err(DetectError::InvalidParameter {
                name: "window",
                reason: format!("must be at least 2 points, got {}", self.window),
            });
        }
        if !(1..=self.window).contains(&self.step) {
            return Err(DetectError::InvalidParameter {
                name: "step",
                reason: format!("must be in 1..={}, got {}", self.window, self.step),
            });
        }
        if !(1..=self.window).contains(&self.min_periods) {
            return Err(DetectError::InvalidParameter {
                name: "min_periods",
                reason: format!("must be in 1..={}, got {}", self.window, self.min_periods),
            });
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(DetectError::InvalidParameter {
                name: "threshold",
                reason: format!("must be a probability in (0, 1), got {}", self.threshold),
            });
        }
        Ok(WindowedGaussian {
            window: self.window,
            step: self.step,
            threshold: self.threshold,
            z_threshold: SQRT_2 * erfc_inv(1.0 - self.threshold),
            min_periods: self.min_periods,
            direction: self.direction,
        })
    }
}

/// Validated windowed Gaussian detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowedGaussian {
    window: usize,
    step: usize,
    threshold: f64,
    /// `|z|` at which the score reaches the threshold.
    z_threshold: f64,
    min_periods: usize,
    direction: Direction,
}

impl WindowedGaussian {
    /// Unchecked parameters to start from.
    pub fn params() -> WindowedGaussianParams {
        WindowedGaussianParams::new()
    }

    /// Points in the window.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Points by which a full window slides.
    pub fn step(&self) -> usize {
        self.step
    }

    /// Flagging threshold on the score.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Points in the window before scoring starts.
    pub fn min_periods(&self) -> usize {
        self.min_periods
    }

    /// Which departures count.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The streaming state, typed (serde-able, for snapshots).
    pub fn online_state(&self) -> WindowedGaussianOnline {
        WindowedGaussianOnline {
            kernel: Kernel::new(*self),
            guard: PointGuard::default(),
        }
    }
}

impl Detector for WindowedGaussian {
    fn name(&self) -> &'static str {
        "windowed_gaussian"
    }

    /// By the two-sided tail `1 - score`: at most the threshold's tail is medium, a tenth of
    /// it high, a hundredth critical.
    fn severity(&self, score: f64) -> Severity {
        let tail = 1.0 - score;
        let limit = 1.0 - self.threshold;
        if tail <= limit / 100.0 {
            Severity::Critical
        } else if tail <= limit / 10.0 {
            Severity::High
        } else if tail <= limit {
            Severity::Medium
        } else {
            Severity::Low
        }
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Kernel {
    params: WindowedGaussian,
    window: RollingMoments,
    /// Points waiting to slide a full window forward.
    pending: Vec<f64>,
}

impl Kernel {
    fn new(params: WindowedGaussian) -> Self {
        Self {
            params,
            window: RollingMoments::new(params.window),
            pending: Vec::with_capacity(params.step),
        }
    }

    fn learn(&mut self, x: f64) {
        if self.window.len() < self.params.window {
            self.window.push(x);
            return;
        }
        self.pending.push(x);
        if self.pending.len() == self.params.step {
            for p in self.pending.drain(..) {
                self.window.push(p);
            }
        }
    }
}

impl OnlineKernel for Kernel {
    fn step(&mut self, x: f64) -> PointScore {
        let out = if self.window.len() >= self.params.min_periods {
            let mean = self.window.mean();
            let sd = self.window.std_floored(0);
            let z = (x - mean) / sd;
            let p = &self.params;
            let deviation = match p.direction {
                Direction::Both => z.abs(),
                Direction::Up => z.max(0.0),
                Direction::Down => (-z).max(0.0),
            };
            // erf(|z| / √2) through erfc, which keeps its precision in the far tail.
            let score = (1.0 - erfc(deviation / SQRT_2)).clamp(0.0, 1.0);
            let half = p.z_threshold * sd;
            let (lower, upper) = match p.direction {
                Direction::Both => (Some(mean - half), Some(mean + half)),
                Direction::Up => (None, Some(mean + half)),
                Direction::Down => (Some(mean - half), None),
            };
            PointScore {
                score,
                is_anomaly: score >= p.threshold,
                expected: Some(mean),
                lower,
                upper,
            }
        } else {
            PointScore::NEUTRAL
        };
        self.learn(x);
        out
    }
}

/// Streaming state of [`WindowedGaussian`]: the window's running sums and the points waiting
/// to slide it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowedGaussianOnline {
    kernel: Kernel,
    guard: PointGuard,
}

impl OnlineDetector for WindowedGaussianOnline {
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

    /// NAB's algorithm, literally: the window as a list, statistics recomputed from it.
    fn nab_reference(values: &[f64], window: usize, step: usize) -> Vec<f64> {
        let mut data: Vec<f64> = Vec::new();
        let mut buffer = Vec::new();
        let (mut mean, mut std) = (0.0, 1.0);
        let update = |data: &[f64], mean: &mut f64, std: &mut f64| {
            let n = data.len() as f64;
            *mean = data.iter().sum::<f64>() / n;
            *std = (data.iter().map(|x| (x - *mean).powi(2)).sum::<f64>() / n).sqrt();
        };
        let mut out = Vec::new();
        for &x in values {
            if data.is_empty() {
                out.push(0.0);
            } else {
                let z = (x - mean).abs() / std;
                out.push(1.0 - erfc(z / SQRT_2));
            }
            if data.len() < window {
                data.push(x);
                update(&data, &mut mean, &mut std);
            } else {
                buffer.push(x);
                if buffer.len() == step {
                    data.drain(..step);
                    data.append(&mut buffer);
                    update(&data, &mut mean, &mut std);
                }
            }
        }
        out
    }

    #[test]
    fn follows_nab_windowing() {
        let v: Vec<f64> = noise(3000, 5)
            .iter()
            .enumerate()
            .map(|(i, x)| 1e6 + 0.01 * i as f64 + 3.0 * x)
            .collect();
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let det = WindowedGaussianParams::new()
            .window(700)
            .step(30)
            .check()
            .unwrap();
        let d = det.detect(&ts, &v).unwrap();
        let want = nab_reference(&v, 700, 30);
        assert_eq!(d.scores[0], 0.0);
        for (i, (got, want)) in d.scores.iter().zip(&want).enumerate().skip(2) {
            assert!((got - want).abs() < 1e-9, "i={i}: {got} vs {want}");
        }
    }

    #[test]
    fn finds_injected_spikes_and_only_them() {
        let mut v: Vec<f64> = noise(5000, 7).iter().map(|x| 100.0 + x).collect();
        for &i in &[1500, 3000] {
            v[i] += 4.0;
        }
        v[4000] -= 4.0;
        let ts: Vec<i64> = (0..v.len() as i64).map(|i| i * 1000).collect();
        let det = WindowedGaussianParams::new()
            .min_periods(100)
            .check()
            .unwrap();
        let d = det.detect(&ts, &v).unwrap();
        let flagged: Vec<usize> = (0..v.len()).filter(|&i| d.is_anomaly[i]).collect();
        // Uniform noise: σ ≈ 0.577, the spikes lie 5σ out or more, the noise within 1.8σ.
        assert_eq!(flagged, [1500, 3000, 4000]);
        assert!(d.scores[..100].iter().all(|&s| s == 0.0), "warm-up");
        assert_eq!(det.severity(d.scores[1500]), Severity::Critical);
        // Bounds at |z| = 3.29.
        assert!(
            (d.upper[2000] - 100.0 - 3.29 * 0.577).abs() < 0.05,
            "{}",
            d.upper[2000]
        );
        let up = WindowedGaussianParams::new()
            .min_periods(100)
            .direction(Direction::Up)
            .check()
            .unwrap()
            .detect(&ts, &v)
            .unwrap();
        assert!(up.is_anomaly[1500] && !up.is_anomaly[4000] && up.scores[4000] == 0.0);
    }

    #[test]
    fn online_equals_batch_even_across_snapshots() {
        let mut v: Vec<f64> = noise(3000, 11).iter().map(|x| 10.0 * x).collect();
        v[2500] = 80.0;
        let ts: Vec<i64> = (0..v.len() as i64)
            .map(|i| 1_700_000_000_000 + i * 15_000)
            .collect();
        for det in [
            WindowedGaussianParams::new().check().unwrap(),
            WindowedGaussianParams::new()
                .window(200)
                .step(7)
                .min_periods(20)
                .direction(Direction::Up)
                .check()
                .unwrap(),
            WindowedGaussianParams::new()
                .window(2)
                .step(1)
                .direction(Direction::Down)
                .check()
                .unwrap(),
        ] {
            let batch = det.detect(&ts, &v).unwrap();
            assert!(batch.is_anomaly.iter().any(|&a| a));
            let mut online = det.online_state();
            for i in 0..v.len() {
                if i == 1234 || i == 1240 {
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
    fn rolling_moments_stay_exact() {
        let mut m = RollingMoments::new(10);
        let v: Vec<f64> = noise(10_000, 2).iter().map(|x| 1e9 + x).collect();
        for &x in &v {
            m.push(x);
        }
        let w = &v[v.len() - 10..];
        let mean = w.iter().sum::<f64>() / 10.0;
        let var = w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 9.0;
        assert!((m.mean() - mean).abs() < 1e-6);
        assert!((m.variance(1) - var).abs() < 1e-9 * (1.0 + var));
        assert_eq!(RollingMoments::new(3).variance(1), 0.0);
        // Flat after a level change, before any refresh moves the shift onto it.
        let mut f = RollingMoments::new(8);
        for x in [0.1, 7.3, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0] {
            f.push(x);
        }
        assert_eq!(f.variance(1), 0.0);
        assert!(f.std_floored(0) > 0.0 && f.std_floored(0) < 1e-10);
    }

    #[test]
    fn bad_params_and_input() {
        assert!(WindowedGaussianParams::new().window(1).check().is_err());
        assert!(WindowedGaussianParams::new().step(0).check().is_err());
        assert!(
            WindowedGaussianParams::new()
                .window(10)
                .step(11)
                .check()
                .is_err()
        );
        assert!(
            WindowedGaussianParams::new()
                .threshold(1.0)
                .check()
                .is_err()
        );
        assert!(
            WindowedGaussianParams::new()
                .threshold(0.0)
                .check()
                .is_err()
        );
        assert!(
            WindowedGaussianParams::new()
                .threshold(f64::NAN)
                .check()
                .is_err()
        );
        assert!(
            WindowedGaussianParams::new()
                .min_periods(0)
                .check()
                .is_err()
        );
        let det = WindowedGaussianParams::new().check().unwrap();
        assert!(matches!(det.detect(&[], &[]), Err(DetectError::Core(_))));
        assert!(matches!(
            det.detect(&[1, 1], &[0.0, 0.0]),
            Err(DetectError::Core(_))
        ));
        assert!(matches!(
            det.detect(&[1, 2], &[0.0, f64::NAN]),
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
