//! EWMA control chart (Roberts 1959): an exponentially weighted moving average of the values,
//! flagged when it leaves `mean ± l σ √(α / (2 - α))`.
//!
//! The chart statistic `s_t = α x_t + (1 - α) s_{t-1}` (started at the first value) averages
//! away noise, so it catches small sustained shifts that a point-by-point rule misses, and a
//! single large spike still moves it by `α` times its size. The in-control mean and σ are
//! those of the `window` points before `x_t` (sample σ), so the chart follows slow drifts; the
//! limits use the asymptotic variance of the EWMA, `σ² α / (2 - α)`, since the statistic has
//! run for at least `min_periods` points when scoring starts. With the defaults (α = 0.3,
//! L = 3) in-control Gaussian data raise a false alarm every few hundred points; a smaller α
//! with a larger L (0.1 and 3.5, say) is quieter and still catches 1σ shifts.
//!
//! Score: `|s_t - mean| / (σ √(α / (2 - α)))`, in the chart's σ units, flagged at `>= l`. The
//! statistic is not reset after an alarm (the classical chart), so a large spike keeps the
//! following few points flagged while it decays by `1 - α` per point, and a sustained shift
//! stays flagged until the reference window has absorbed it. `lower` / `upper` are the values
//! of `x_t` that would put the statistic on the limits (given `s_{t-1}`), `expected` is the
//! reference mean. σ is floored at 1e-12 × (1 + |mean|) as in `zscore`.
//!
//! Cost: O(1) per point (running sums, see `windowed_gaussian`), O(window) memory.

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::common::Direction;
use crate::common::checks::{check_positive, check_window};
use crate::common::moments::RollingMoments;
use crate::common::score_severity::ratio_severity;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};

crate::detector::params_newtype!(
    /// Unchecked parameters of [`Ewma`].
    ///
    /// ```
    /// use aiops_detect::{Detector, ParamGuard, EwmaParams};
    /// let det = EwmaParams::new().window(50).check()?;
    /// // A shift of 2.5σ: inside a 3σ point rule, caught by the chart within a few points.
    /// let mut values: Vec<f64> = (0..100).map(|i| if i % 2 == 0 { 9.0 } else { 11.0 }).collect();
    /// values.extend(std::iter::repeat_n(12.5, 10));
    /// let ts: Vec<i64> = (0..values.len() as i64).map(|i| i * 60_000).collect();
    /// let d = det.detect(&ts, &values)?;
    /// assert!(!d.is_anomaly[..100].iter().any(|&a| a));
    /// assert!(d.is_anomaly[100..].iter().any(|&a| a));
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    EwmaParams => Ewma
);

crate::detector::setters!(
    EwmaParams:
    alpha: f64, l: f64, window: usize, min_periods: Option<usize>, direction: Direction);

impl ParamGuard for EwmaParams {
    type Checked = Ewma;

    fn check(&self) -> Result<Ewma> {
        if !(self.0.alpha > 0.0 && self.0.alpha <= 1.0) {
            return Err(DetectError::InvalidParameter {
                name: "alpha",
                reason: format!("must be in (0, 1], got {}", self.0.alpha),
            });
        }
        check_positive("l", self.0.l)?;
        check_window(self.0.window, self.0.min_periods, 2)?;
        Ok(self.0)
    }
}

/// Validated EWMA control chart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ewma {
    alpha: f64,
    l: f64,
    window: usize,
    min_periods: Option<usize>,
    direction: Direction,
}

impl Default for Ewma {
    fn default() -> Self {
        Self {
            alpha: 0.3,
            l: 3.0,
            window: 100,
            min_periods: None,
            direction: Direction::Both,
        }
    }
}

impl Ewma {
    fn min_periods(&self) -> usize {
        self.min_periods.unwrap_or(self.window)
    }
}

crate::detector::describe!(
    Ewma, EwmaParams, EwmaKernel.params => EwmaOnline, "ewma",
    "EWMA control chart",
    severity |config, score| ratio_severity(score, config.l), "
    alpha: smoothing weight of the newest value (default 0.3)
    l: control-limit width in chart sigmas (default 3)
    window: points in the reference window for mean and sigma (default 100)
    min_periods: points before scoring starts (default: window)
    direction: both | up | down (default both)
"
);

impl Kernel for EwmaKernel {
    fn step(&mut self, _: TimestampMs, x: f64) -> PointScore {
        let p = self.params;
        let s = self
            .smoothed
            .map_or(x, |prev| p.alpha * x + (1.0 - p.alpha) * prev);
        let out = if self.reference.len() >= p.min_periods() {
            let mean = self.reference.mean();
            let chart_sd = self.reference.std_floored(1) * (p.alpha / (2.0 - p.alpha)).sqrt();
            let z = ((s - mean) / chart_sd).clamp(-f64::MAX, f64::MAX);
            let score = match p.direction {
                Direction::Both => z.abs(),
                Direction::Up => z.max(0.0),
                Direction::Down => (-z).max(0.0),
            };
            // The x_t that would put s_t on a limit m, given s_{t-1}.
            let at_limit = |m: f64| match self.smoothed {
                Some(prev) => (m - (1.0 - p.alpha) * prev) / p.alpha,
                None => m,
            };
            let half = p.l * chart_sd;
            let lower = (p.direction != Direction::Up).then(|| at_limit(mean - half));
            let upper = (p.direction != Direction::Down).then(|| at_limit(mean + half));
            PointScore {
                score,
                is_anomaly: score >= p.l,
                expected: Some(mean),
                lower,
                upper,
            }
        } else {
            PointScore::NEUTRAL
        };
        self.smoothed = Some(s);
        self.reference.push(x);
        out
    }

    fn new(params: &Ewma) -> Self {
        let params = *params;
        Self {
            params,
            reference: RollingMoments::new(params.window),
            smoothed: None,
        }
    }
}

/// The per-point state of [`Ewma`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EwmaKernel {
    params: Ewma,
    reference: RollingMoments,
    /// The chart statistic, after the last point.
    smoothed: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::flagged;
    use crate::common::testing::prelude::*;
    use crate::common::testing::refused;

    use crate::common::testing::noise;

    #[test]
    fn catches_a_small_sustained_shift_and_a_spike() {
        // Uniform noise, σ ≈ 0.577; a spike of 8 and, later, a shift of 1.2σ for 30 points.
        let mut v: Vec<f64> = noise(2000, 7).iter().map(|x| 50.0 + x).collect();
        v[600] += 8.0;
        for x in &mut v[1500..1530] {
            *x += 0.7;
        }
        let ts: Vec<i64> = (0..v.len() as i64).map(|i| i * 1000).collect();
        // Chart σ = σ √(0.1 / 1.9) ≈ 0.13: the shift settles at 5.3 chart σ.
        let det = EwmaParams::new()
            .alpha(0.1)
            .l(3.5)
            .window(300)
            .check()
            .unwrap();
        let d = det.detect(&ts, &v).unwrap();
        let f = flagged(&d);
        // The spike moves the statistic by 0.1 × 8 = 6 chart σ: flagged, and the next points
        // while it decays below 3.5 chart σ (sooner, as the spike also widens σ).
        let spike: Vec<usize> = f.iter().copied().filter(|&i| i < 1000).collect();
        assert!(spike.len() > 1 && spike.len() <= 6, "{spike:?}");
        assert_eq!(spike, (600..600 + spike.len()).collect::<Vec<_>>());
        let shift: Vec<usize> = f.iter().copied().filter(|&i| i >= 1000).collect();
        assert!(!shift.is_empty(), "the shift is caught");
        assert!(
            shift.iter().all(|&i| (1500..1545).contains(&i)),
            "{shift:?}"
        );
        // No point of the shift lies 3σ out: a point rule misses it.
        assert!(v[1500..1530].iter().all(|x| (x - 50.0).abs() < 3.0 * 0.577));
        assert_eq!(det.severity(d.scores[600]), Severity::High);
    }

    #[test]
    fn bounds_are_where_the_statistic_meets_the_limits() {
        let v: Vec<f64> = noise(300, 3).iter().map(|x| 10.0 + x).collect();
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let det = EwmaParams::new().window(50).check().unwrap();
        let d = det.detect(&ts, &v).unwrap();
        for i in [100, 200, 299] {
            // Feeding the bound itself would score exactly L.
            let mut probe = v[..i].to_vec();
            probe.push(d.upper[i]);
            let p = det.detect(&ts[..=i], &probe).unwrap();
            assert!((p.scores[i] - 3.0).abs() < 1e-9, "{}", p.scores[i]);
        }
    }

    #[test]
    fn bad_params() {
        assert!(refused(EwmaParams::new().alpha(0.0)));
        assert!(refused(EwmaParams::new().alpha(1.5)));
        assert!(refused(EwmaParams::new().alpha(f64::NAN)));
        assert!(refused(EwmaParams::new().l(0.0)));
        assert!(refused(EwmaParams::new().window(1)));
        assert!(refused(EwmaParams::new().window(10).min_periods(11)));
    }
}
