//! Static threshold: flags values above an upper or below a lower bound.
//!
//! The operator's own rule, as in an alerting rule: no learning, no warm-up. The score is how
//! far the value lies beyond the bound it crosses, in the value's units (0 inside the bounds);
//! a value equal to a bound is not flagged.

use aiops_core::{Severity, TimestampMs};
use serde::{Deserialize, Serialize};

use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};

crate::detector::params_newtype!(
    /// Unchecked parameters of [`Threshold`].
    ///
    /// ```
    /// use aiops_detect::{Detector, ParamGuard, ThresholdParams};
    /// let det = ThresholdParams::new().upper(90.0).check()?;
    /// let d = det.detect(&[0, 1, 2], &[50.0, 95.0, 90.0])?;
    /// assert_eq!(d.is_anomaly, [false, true, false]);
    /// assert_eq!(d.scores[1], 5.0);
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    ThresholdParams => Threshold
);

crate::detector::setters!(
    ThresholdParams:
    upper: Option<f64>, lower: Option<f64>, severity: Severity);

impl ParamGuard for ThresholdParams {
    type Checked = Threshold;

    fn check(&self) -> Result<Threshold> {
        let Threshold { lower, upper, .. } = self.0;
        for (name, v) in [("upper", upper), ("lower", lower)] {
            if let Some(v) = v
                && !v.is_finite()
            {
                return Err(DetectError::InvalidParameter {
                    name,
                    reason: format!("must be finite, got {v}"),
                });
            }
        }
        match (lower, upper) {
            (None, None) => Err(DetectError::InvalidParameter {
                name: "upper",
                reason: "set `upper`, `lower` or both".into(),
            }),
            (Some(lower), Some(upper)) if lower >= upper => {
                Err(DetectError::InconsistentBounds { lower, upper })
            }
            _ => Ok(self.0),
        }
    }
}

/// Static-threshold detector, validated ([`ThresholdParams::check`] makes it). Stateless: it
/// streams through [`ThresholdKernel`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Threshold {
    upper: Option<f64>,
    lower: Option<f64>,
    severity: Severity,
}

impl Default for Threshold {
    fn default() -> Self {
        Self {
            upper: None,
            lower: None,
            severity: Severity::High,
        }
    }
}

impl Threshold {
    /// Upper bound, if any.
    pub fn upper(&self) -> Option<f64> {
        self.upper
    }

    /// Lower bound, if any.
    pub fn lower(&self) -> Option<f64> {
        self.lower
    }
}

crate::detector::describe!(
    Threshold, ThresholdParams, ThresholdKernel.params => ThresholdOnline, "threshold",
    "static threshold: values above `upper` or below `lower`",
    severity |config, _score| config.severity, "
    upper: flag values above this
    lower: flag values below this
    severity: severity of a breach (default high)
"
);

/// The rule of [`Threshold`]: stateless, its serde form is the parameters' (as in 0.1.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ThresholdKernel {
    params: Threshold,
}

impl Kernel for ThresholdKernel {
    fn step(&mut self, _: TimestampMs, value: f64) -> PointScore {
        let Threshold { upper, lower, .. } = self.params;
        let above = upper.map_or(0.0, |u| (value - u).max(0.0));
        let below = lower.map_or(0.0, |l| (l - value).max(0.0));
        let score = above.max(below);
        PointScore {
            score,
            is_anomaly: score > 0.0,
            expected: None,
            lower,
            upper,
        }
    }

    fn new(params: &Threshold) -> Self {
        Self { params: *params }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::prelude::*;
    use crate::common::testing::refused;

    #[test]
    fn flags_outside_bounds_only() {
        let det = ThresholdParams::new()
            .lower(10.0)
            .upper(20.0)
            .check()
            .unwrap();
        let d = det
            .detect(&[1, 2, 3, 4, 5], &[15.0, 25.0, 20.0, 10.0, 4.0])
            .unwrap();
        assert_eq!(d.is_anomaly, [false, true, false, false, true]);
        assert_eq!(d.scores, [0.0, 5.0, 0.0, 0.0, 6.0]);
        assert_eq!(d.upper[0], 20.0);
        assert!(d.expected[0].is_nan());
        let only_lower = ThresholdParams::new().lower(0.0).check().unwrap();
        assert_eq!(
            only_lower.detect(&[1, 2], &[1e9, -1.0]).unwrap().is_anomaly,
            [false, true]
        );
    }

    #[test]
    fn bad_params() {
        assert!(refused(ThresholdParams::new()));
        assert!(matches!(
            ThresholdParams::new().lower(5.0).upper(5.0).check(),
            Err(DetectError::InconsistentBounds { .. })
        ));
        assert!(refused(ThresholdParams::new().upper(f64::NAN)));
    }
}
