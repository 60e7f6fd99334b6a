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

use std::f64::consts::SQRT_2;

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};
use statrs::function::erf::{erfc, erfc_inv};

use crate::common::Direction;
use crate::common::checks::check_min_points;
use crate::common::moments::RollingMoments;
use crate::common::score_severity::tiered;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};

crate::detector::params_newtype!(
    /// Unchecked parameters of [`WindowedGaussian`].
    ///
    /// ```
    /// use aiops_detect::{Detector, ParamGuard, WindowedGaussianParams};
    /// let det = WindowedGaussianParams::new().min_periods(5).check()?;
    /// let values = [10.0, 11.0, 9.0, 10.0, 11.0, 9.0, 30.0, 10.0];
    /// let ts: Vec<i64> = (0..values.len() as i64).map(|i| i * 60_000).collect();
    /// let d = det.detect(&ts, &values)?;
    /// assert!(d.is_anomaly[6] && !d.is_anomaly[7]);
    /// assert!(d.scores[6] > 0.999 && d.scores[6] < 1.0 + 1e-12);
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    WindowedGaussianParams => WindowedGaussian
);

crate::detector::setters!(
    WindowedGaussianParams:
    window: usize, step: usize, threshold: f64, min_periods: usize, direction: Direction);

impl ParamGuard for WindowedGaussianParams {
    type Checked = WindowedGaussian;

    fn check(&self) -> Result<WindowedGaussian> {
        check_min_points("window", self.0.window, 2)?;
        if !(1..=self.0.window).contains(&self.0.step) {
            return Err(DetectError::InvalidParameter {
                name: "step",
                reason: format!("must be in 1..={}, got {}", self.0.window, self.0.step),
            });
        }
        if !(1..=self.0.window).contains(&self.0.min_periods) {
            return Err(DetectError::InvalidParameter {
                name: "min_periods",
                reason: format!(
                    "must be in 1..={}, got {}",
                    self.0.window, self.0.min_periods
                ),
            });
        }
        if !(self.0.threshold > 0.0 && self.0.threshold < 1.0) {
            return Err(DetectError::InvalidParameter {
                name: "threshold",
                reason: format!("must be a probability in (0, 1), got {}", self.0.threshold),
            });
        }
        Ok(self.0)
    }
}

/// Validated windowed Gaussian detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WindowedGaussian {
    window: usize,
    step: usize,
    threshold: f64,
    min_periods: usize,
    direction: Direction,
}

impl Default for WindowedGaussian {
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

impl WindowedGaussian {
    /// The |z| at which the score reaches the threshold.
    fn z_threshold(&self) -> f64 {
        SQRT_2 * erfc_inv(1.0 - self.threshold)
    }
}

crate::detector::describe!(
    WindowedGaussian, WindowedGaussianParams, WindowedGaussianKernel.params => WindowedGaussianOnline, "windowed_gaussian",
    "NAB's windowed Gaussian: erf(|z|/sqrt 2) against a sliding window",
    severity |config, score| {
        let (tail, limit) = (1.0 - score, 1.0 - config.threshold);
        tiered(-tail, -limit, -limit / 10.0, -limit / 100.0)
    }, "
    window: points in the window (default 6400)
    step: points by which a full window slides (default 100)
    threshold: score at which a point is flagged, in (0,1) (default 0.999)
    min_periods: points before scoring starts (default 1)
    direction: both | up | down (default both)
"
);

impl Kernel for WindowedGaussianKernel {
    fn step(&mut self, _: TimestampMs, x: f64) -> PointScore {
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
            let half = p.z_threshold() * sd;
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

    fn new(params: &WindowedGaussian) -> Self {
        let params = *params;
        Self {
            params,
            window: RollingMoments::new(params.window),
            pending: Vec::with_capacity(params.step),
        }
    }
}

/// The per-point state of [`WindowedGaussian`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowedGaussianKernel {
    /// Read without the derived `z_threshold` that 0.1.0 stored with it.
    #[serde(deserialize_with = "legacy_params")]
    params: WindowedGaussian,
    window: RollingMoments,
    /// Points waiting to slide a full window forward.
    pending: Vec<f64>,
}

fn legacy_params<'de, D: serde::Deserializer<'de>>(d: D) -> Result<WindowedGaussian, D::Error> {
    crate::detector::without_keys(d, &["z_threshold"])
}

impl WindowedGaussianKernel {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::flagged;
    use crate::common::testing::prelude::*;
    use crate::common::testing::{refused, run, spiked};

    use crate::common::testing::noise;

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
        let d = run(WindowedGaussianParams::new().window(700).step(30), &ts, &v);
        let want = nab_reference(&v, 700, 30);
        assert_eq!(d.scores[0], 0.0);
        for (i, (got, want)) in d.scores.iter().zip(&want).enumerate().skip(2) {
            assert!((got - want).abs() < 1e-9, "i={i}: {got} vs {want}");
        }
    }

    #[test]
    fn finds_injected_spikes_and_only_them() {
        let (ts, v) = spiked(5000, 7, &[(1500, 4.0), (3000, 4.0), (4000, -4.0)]);
        let det = WindowedGaussianParams::new()
            .min_periods(100)
            .check()
            .unwrap();
        let d = det.detect(&ts, &v).unwrap();
        let flagged = flagged(&d);
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
        let up = run(
            WindowedGaussianParams::new()
                .min_periods(100)
                .direction(Direction::Up),
            &ts,
            &v,
        );
        assert!(up.is_anomaly[1500] && !up.is_anomaly[4000] && up.scores[4000] == 0.0);
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
    fn bad_params() {
        assert!(refused(WindowedGaussianParams::new().window(1)));
        assert!(refused(WindowedGaussianParams::new().step(0)));
        assert!(refused(WindowedGaussianParams::new().window(10).step(11)));
        assert!(refused(WindowedGaussianParams::new().threshold(1.0)));
        assert!(refused(WindowedGaussianParams::new().threshold(0.0)));
        assert!(refused(WindowedGaussianParams::new().threshold(f64::NAN)));
        assert!(refused(WindowedGaussianParams::new().min_periods(0)));
    }
}
