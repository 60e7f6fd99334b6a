//! Two-sided tabular CUSUM (Page 1954) on standardised values.
//!
//! Each value is standardised against the mean and sample σ of the `window` points before it,
//! `z = (x - mean) / σ`, and accumulated into two one-sided sums with slack `k`:
//! `C⁺ = max(0, C⁺ + z - k)` and `C⁻ = max(0, C⁻ - z - k)`. Noise within `k` σ of the mean
//! drains the sums; a sustained shift of `δ > k` σ grows one of them by about `δ - k` per point
//! until it crosses the decision interval `h`. The defaults `k = 0.5`, `h = 5` are the textbook
//! ones (Montgomery), tuned to detect 1σ shifts fast; on in-control Gaussian data they give a
//! false alarm every ~465 points (ARL₀), so raise `h` on long, quiet series.
//!
//! Score: `max(C⁺, C⁻)` (only the side of `direction`), in σ units, flagged when it exceeds
//! `h`. After an alarm both sums restart from 0, so a shift that persists raises a new alarm
//! every `≈ h / (δ - k)` points until the reference window has absorbed it, rather than
//! flagging every point. `lower` / `upper` are the values that would push the sums to `h`
//! at this point, `expected` the reference mean. σ is floored at 1e-12 × (1 + |mean|) as in
//! `zscore`; the sums are capped at `f64::MAX`.
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
    /// Unchecked parameters of [`Cusum`].
    ///
    /// ```
    /// use aiops_detect::{Detector, ParamGuard, CusumParams};
    /// let det = CusumParams::new().window(50).check()?;
    /// // A 1.5σ shift: no single point stands out, the sum crosses h within a few points.
    /// let mut values: Vec<f64> = (0..100).map(|i| if i % 2 == 0 { 9.0 } else { 11.0 }).collect();
    /// values.extend(std::iter::repeat_n(11.5, 10));
    /// let ts: Vec<i64> = (0..values.len() as i64).map(|i| i * 60_000).collect();
    /// let d = det.detect(&ts, &values)?;
    /// assert!(!d.is_anomaly[..100].iter().any(|&a| a));
    /// assert!(d.is_anomaly[100..].iter().any(|&a| a));
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    CusumParams => Cusum
);

crate::detector::setters!(
    CusumParams:
    k: f64, h: f64, window: usize, min_periods: Option<usize>, direction: Direction);

impl ParamGuard for CusumParams {
    type Checked = Cusum;

    fn check(&self) -> Result<Cusum> {
        if !(self.0.k.is_finite() && self.0.k >= 0.0) {
            return Err(DetectError::InvalidParameter {
                name: "k",
                reason: format!("must be a non-negative number of sigmas, got {}", self.0.k),
            });
        }
        check_positive("h", self.0.h)?;
        check_window(self.0.window, self.0.min_periods, 2)?;
        Ok(self.0)
    }
}

/// Validated two-sided CUSUM detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cusum {
    k: f64,
    h: f64,
    window: usize,
    min_periods: Option<usize>,
    direction: Direction,
}

impl Default for Cusum {
    fn default() -> Self {
        Self {
            k: 0.5,
            h: 5.0,
            window: 100,
            min_periods: None,
            direction: Direction::Both,
        }
    }
}

impl Cusum {
    fn min_periods(&self) -> usize {
        self.min_periods.unwrap_or(self.window)
    }
}

crate::detector::describe!(
    Cusum, CusumParams, CusumKernel.params => CusumOnline, "cusum",
    "two-sided tabular CUSUM on standardised values",
    severity |config, score| ratio_severity(score, config.h), "
    k: slack in sigmas (default 0.5)
    h: decision interval in sigmas (default 5)
    window: points in the reference window (default 100)
    min_periods: points before scoring starts (default: window)
    direction: both | up | down (default both)
"
);

impl Kernel for CusumKernel {
    fn step(&mut self, _: TimestampMs, x: f64) -> PointScore {
        let p = self.params;
        let out = if self.reference.len() >= p.min_periods() {
            let mean = self.reference.mean();
            let sd = self.reference.std_floored(1);
            let z = ((x - mean) / sd).clamp(-f64::MAX, f64::MAX);
            let high = (self.high + z - p.k).clamp(0.0, f64::MAX);
            let low = (self.low - z - p.k).clamp(0.0, f64::MAX);
            let (score, lower, upper) = match p.direction {
                Direction::Both => (
                    high.max(low),
                    Some(mean - sd * (p.h + p.k - self.low)),
                    Some(mean + sd * (p.h + p.k - self.high)),
                ),
                Direction::Up => (high, None, Some(mean + sd * (p.h + p.k - self.high))),
                Direction::Down => (low, Some(mean - sd * (p.h + p.k - self.low)), None),
            };
            let is_anomaly = score > p.h;
            if is_anomaly {
                self.high = 0.0;
                self.low = 0.0;
            } else {
                self.high = high;
                self.low = low;
            }
            PointScore {
                score,
                is_anomaly,
                expected: Some(mean),
                lower,
                upper,
            }
        } else {
            PointScore::NEUTRAL
        };
        self.reference.push(x);
        out
    }

    fn new(params: &Cusum) -> Self {
        let params = *params;
        Self {
            params,
            reference: RollingMoments::new(params.window),
            high: 0.0,
            low: 0.0,
        }
    }
}

/// The per-point state of [`Cusum`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CusumKernel {
    params: Cusum,
    reference: RollingMoments,
    /// C⁺: evidence of an upward shift, σ.
    high: f64,
    /// C⁻: evidence of a downward shift, σ.
    low: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::flagged;
    use crate::common::testing::prelude::*;
    use crate::common::testing::{refused, run};

    use crate::common::testing::noise;

    #[test]
    fn catches_small_shifts_both_ways_and_resets() {
        // Uniform noise, σ ≈ 0.577; shifts of +1.5σ and -1.5σ for 40 points each.
        let mut v: Vec<f64> = noise(3000, 7).iter().map(|x| 20.0 + x).collect();
        for x in &mut v[1000..1040] {
            *x += 0.87;
        }
        for x in &mut v[2000..2040] {
            *x -= 0.87;
        }
        let ts: Vec<i64> = (0..v.len() as i64).map(|i| i * 1000).collect();
        // h = 8 rather than 5: in-control false alarms become rare (ARL0 in the thousands).
        let det = CusumParams::new().window(300).h(8.0).check().unwrap();
        let d = det.detect(&ts, &v).unwrap();
        let f = flagged(&d);
        let first_up = f.iter().copied().find(|&i| i >= 1000).unwrap();
        let first_down = f.iter().copied().find(|&i| i >= 2000).unwrap();
        // About h / (δ - k) = 8 points to the first alarm.
        assert!((1004..1016).contains(&first_up), "{first_up}");
        assert!((2004..2016).contains(&first_down), "{first_down}");
        assert!(
            f.iter()
                .all(|&i| (1000..1045).contains(&i) || (2000..2045).contains(&i)),
            "nothing else: {f:?}"
        );
        // Reset after each alarm: repeated alarms, not a flagged run.
        let up: Vec<usize> = f.iter().copied().filter(|&i| i < 1100).collect();
        assert!(up.len() >= 2 && up.len() < 10, "{up:?}");
        assert!(up.windows(2).all(|w| w[1] > w[0] + 1), "{up:?}");
        // The down alarms come from C⁻: an up-only chart stays quiet there.
        let only_up = run(
            CusumParams::new()
                .window(300)
                .h(8.0)
                .direction(Direction::Up),
            &ts,
            &v,
        );
        assert!(!only_up.is_anomaly[2000..2100].iter().any(|&a| a));
        assert!(only_up.lower[2000].is_nan());
    }

    #[test]
    fn bounds_are_where_a_sum_reaches_h() {
        let v: Vec<f64> = noise(300, 3).iter().map(|x| 10.0 + x).collect();
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let det = CusumParams::new().window(50).check().unwrap();
        let d = det.detect(&ts, &v).unwrap();
        for i in [100, 200, 299] {
            for bound in [d.upper[i], d.lower[i]] {
                let mut probe = v[..i].to_vec();
                probe.push(bound);
                let p = det.detect(&ts[..=i], &probe).unwrap();
                assert!((p.scores[i] - 5.0).abs() < 1e-9, "{}", p.scores[i]);
            }
        }
    }

    #[test]
    fn bad_params() {
        assert!(refused(CusumParams::new().k(-0.1)));
        assert!(refused(CusumParams::new().k(f64::NAN)));
        assert!(refused(CusumParams::new().h(0.0)));
        assert!(refused(CusumParams::new().h(f64::INFINITY)));
        assert!(refused(CusumParams::new().window(1)));
        assert!(refused(CusumParams::new().window(10).min_periods(11)));
    }
}
