//! Generalized ESD test, fitted once: ADTK's `GeneralizedESDTestAD`, streaming.
//!
//! The first `window` points train the detector: Rosner's generalized extreme Studentized
//! deviate test removes, one at a time, the value farthest from the mean while its statistic
//! `R = |x - mean| / std` exceeds the critical value `λ` (Student t at significance `alpha`),
//! and the remaining values are "normal". Every later point is judged by one more ESD step:
//! added to the normal values, is it farther than `λ` from their mean? The score is `R / λ`
//! (above 1: flagged). For values that are roughly independent and normal (residuals, error
//! counts), not for trending or seasonal series (see `seasonal_esd` for those).
//!
//! Cost: O(window²) once, at the end of training (as ADTK's fit), then O(1) per point.

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::common::checks::check_min_points;
use crate::common::score_severity::tiered;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};
use crate::seasonal::seasonal_esd::lambda;

crate::detector::params_newtype!(
    /// Unchecked parameters of [`Esd`].
    EsdParams => Esd
);

crate::detector::setters!(EsdParams: window: usize, alpha: f64);

impl ParamGuard for EsdParams {
    type Checked = Esd;

    fn check(&self) -> Result<Esd> {
        check_min_points("window", self.0.window, 8)?;
        if !(self.0.alpha > 0.0 && self.0.alpha < 1.0) {
            return Err(DetectError::InvalidParameter {
                name: "alpha",
                reason: format!("must be in (0, 1), got {}", self.0.alpha),
            });
        }
        Ok(self.0)
    }
}

/// Validated ESD detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Esd {
    window: usize,
    alpha: f64,
}

impl Default for Esd {
    fn default() -> Self {
        Self {
            window: 500,
            alpha: 0.05,
        }
    }
}

crate::detector::describe!(
    Esd, EsdParams, EsdKernel.params => EsdOnline, "esd",
    "generalized ESD test fitted on the first window, then one ESD step per point",
    severity |_, score| tiered(score, 1.0_f64.next_up(), 1.5, 2.0), "
    window: points the test is fitted on (default 500)
    alpha: significance level (default 0.05)
"
);

impl Kernel for EsdKernel {
    fn step(&mut self, _: TimestampMs, x: f64) -> PointScore {
        let Some(nm) = self.normal else {
            self.training.push(x);
            if self.training.len() == self.params.window {
                self.normal = Some(self.fit());
                self.training = Vec::new();
            }
            return PointScore::NEUTRAL;
        };
        let d = x - nm.shift;
        let n = nm.count + 1.0;
        let mean = (nm.sum + d) / n;
        let var = ((nm.sumsq + d * d - n * mean * mean) / (n - 1.0)).max(0.0);
        let sd = var.sqrt().max(1e-12 * (1.0 + (nm.shift + mean).abs()));
        let r = (d - mean).abs() / sd;
        let score = (r / nm.lambda).clamp(0.0, f64::MAX);
        let half = nm.lambda * sd;
        PointScore {
            score,
            is_anomaly: score > 1.0,
            expected: Some(nm.shift + mean),
            lower: Some(nm.shift + mean - half),
            upper: Some(nm.shift + mean + half),
        }
    }

    fn new(params: &Esd) -> Self {
        let params = *params;
        Self {
            params,
            training: Vec::with_capacity(params.window),
            normal: None,
        }
    }
}

/// The normal values' sums, shifted by their mean at fit time against cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Normal {
    shift: f64,
    sum: f64,
    sumsq: f64,
    count: f64,
    lambda: f64,
}

/// The per-point state of [`Esd`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EsdKernel {
    params: Esd,
    training: Vec<f64>,
    normal: Option<Normal>,
}

impl EsdKernel {
    /// Rosner's procedure on the training values: drop the farthest value while it is an
    /// outlier; what remains is normal.
    fn fit(&self) -> Normal {
        let mut vals = self.training.clone();
        let n = vals.len();
        // Stop before too few values remain for a standard deviation.
        while vals.len() > 3 {
            let m = vals.len() as f64;
            let mean = vals.iter().sum::<f64>() / m;
            let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (m - 1.0);
            let (far, dev) = vals
                .iter()
                .enumerate()
                .map(|(i, v)| (i, (v - mean).abs()))
                .fold((0, -1.0), |a, b| if b.1 > a.1 { b } else { a });
            let sd = var.sqrt();
            let removed = n - vals.len() + 1;
            let r = if sd > 0.0 { dev / sd } else { 0.0 };
            if r <= lambda(n - removed, self.params.alpha) {
                break;
            }
            vals.swap_remove(far);
        }
        let count = vals.len() as f64;
        let shift = vals.iter().sum::<f64>() / count;
        let (sum, sumsq) = vals
            .iter()
            .map(|v| v - shift)
            .fold((0.0, 0.0), |(s, q), d| (s + d, q + d * d));
        // One more value joins `count` normal ones: the first step of a test on count + 1.
        let lambda = lambda(vals.len(), self.params.alpha);
        Normal {
            shift,
            sum,
            sumsq,
            count,
            lambda,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::flagged;
    use crate::common::testing::prelude::*;
    use crate::common::testing::refused;

    fn noise(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                // Sum of four uniforms: close enough to normal for the test.
                (0..4)
                    .map(|_| {
                        s = s
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
                    })
                    .sum::<f64>()
            })
            .collect()
    }

    #[test]
    fn training_outliers_are_excluded_and_new_ones_flagged() {
        let mut v: Vec<f64> = noise(2000, 5).iter().map(|x| 100.0 + x).collect();
        v[100] = 180.0; // in training: must not inflate the normal spread
        v[1500] = 106.0;
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let det = EsdParams::new().check().unwrap();
        let d = det.detect(&ts, &v).unwrap();
        assert!(d.scores[..500].iter().all(|&s| s == 0.0), "training");
        let flagged = flagged(&d);
        assert!(flagged.contains(&1500), "{flagged:?}");
        assert!(flagged.len() <= 3, "few false alarms: {flagged:?}");
        assert!((d.expected[1000] - 100.0).abs() < 0.1);
    }

    #[test]
    fn bad_params() {
        assert!(refused(EsdParams::new().window(4)));
        assert!(refused(EsdParams::new().alpha(0.0)));
        assert!(refused(EsdParams::new().alpha(1.0)));
    }
}
