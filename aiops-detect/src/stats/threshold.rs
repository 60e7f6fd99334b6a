//! Static threshold: flags values above an upper or below a lower bound.
//!
//! The operator's own rule, as in an alerting rule: no learning, no warm-up. The score is how
//! far the value lies beyond the bound it crosses, in the value's units (0 inside the bounds);
//! a value equal to a bound is not flagged.

use aiops_core::{Severity, TimestampMs};
use serde::{Deserialize, Serialize};

use crate::detector::{
    Detections, Detector, OnlineDetector, OnlineKernel, ParamGuard, PointGuard, PointScore,
    run_online,
};
use crate::error::{DetectError, Result};

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
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThresholdParams {
    upper: Option<f64>,
    lower: Option<f64>,
    severity: Option<Severity>,
}

impl ThresholdParams {
    /// No bounds yet: set at least one.
    pub fn new() -> Self {
        Self::default()
    }

    /// Values above `upper` are anomalous.
    pub fn upper(mut self, upper: f64) -> Self {
        self.upper = Some(upper);
        self
    }

    /// Values below `lower` are anomalous.
    pub fn lower(mut self, lower: f64) -> Self {
        self.lower = Some(lower);
        self
    }

    /// Severity of every breach (default `high`): a static bound is an operator's rule.
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }
}

impl ParamGuard for ThresholdParams {
    type Checked = Threshold;

    fn check(&self) -> Result<Threshold> {
        for (name, v) in [("upper", self.upper), ("lower", self.lower)] {
            if let Some(v) = v
                && !v.is_finite()
            {
                return Err(DetectError::InvalidParameter {
                    name,
                    reason: format!("must be finite, got {v}"),
                });
            }
        }
        match (self.lower, self.upper) {
            (None, None) => Err(DetectError::InvalidParameter {
                name: "upper",
                reason: "set `upper`, `lower` or both".into(),
            }),
            (Some(lower), Some(upper)) if lower >= upper => {
                Err(DetectError::InconsistentBounds { lower, upper })
            }
            _ => Ok(Threshold {
                lower: self.lower,
                upper: self.upper,
                severity: self.severity.unwrap_or(Severity::High),
            }),
        }
    }
}

/// Validated static-threshold detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    lower: Option<f64>,
    upper: Option<f64>,
    severity: Severity,
}

impl Threshold {
    /// Unchecked parameters to start from.
    pub fn params() -> ThresholdParams {
        ThresholdParams::new()
    }

    /// Upper bound, if any.
    pub fn upper(&self) -> Option<f64> {
        self.upper
    }

    /// Lower bound, if any.
    pub fn lower(&self) -> Option<f64> {
        self.lower
    }

    /// The streaming state, typed.
    pub fn online_state(&self) -> ThresholdOnline {
        ThresholdOnline {
            params: *self,
            guard: PointGuard::default(),
        }
    }

    fn score(&self, value: f64) -> PointScore {
        let above = self.upper.map_or(0.0, |u| (value - u).max(0.0));
        let below = self.lower.map_or(0.0, |l| (l - value).max(0.0));
        let score = above.max(below);
        PointScore {
            score,
            is_anomaly: score > 0.0,
            expected: None,
            lower: self.lower,
            upper: self.upper,
        }
    }
}

impl Detector for Threshold {
    fn name(&self) -> &'static str {
        "threshold"
    }

    fn severity(&self, _score: f64) -> Severity {
        self.severity
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
        run_online(*self, timestamps, values, progress)
    }
}

impl OnlineKernel for Threshold {
    fn step(&mut self, value: f64) -> PointScore {
        self.score(value)
    }
}

/// Streaming state of [`Threshold`]: only the order check, the rule itself is stateless.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdOnline {
    params: Threshold,
    guard: PointGuard,
}

impl OnlineDetector for ThresholdOnline {
    crate::detector::snapshot_via_serde!();

    fn update(&mut self, timestamp: TimestampMs, value: f64) -> Result<PointScore> {
        self.guard.admit(timestamp, value)?;
        Ok(self.params.score(value))
    }

    fn reset(&mut self) {
        self.guard = PointGuard::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn online_equals_batch() {
        let det = ThresholdParams::new()
            .lower(-1.0)
            .upper(1.0)
            .check()
            .unwrap();
        let ts: Vec<i64> = (0..500).collect();
        let vs: Vec<f64> = (0..500)
            .map(|i| ((i * 37 % 101) as f64 - 50.0) / 30.0)
            .collect();
        let batch = det.detect(&ts, &vs).unwrap();
        let mut online = det.online();
        for i in 0..ts.len() {
            assert_eq!(online.update(ts[i], vs[i]).unwrap(), batch.point(i));
        }
        assert!(batch.is_anomaly.iter().any(|&a| a));
    }

    #[test]
    fn bad_params_and_input() {
        assert!(ThresholdParams::new().check().is_err());
        assert!(matches!(
            ThresholdParams::new().lower(5.0).upper(5.0).check(),
            Err(DetectError::InconsistentBounds { .. })
        ));
        assert!(ThresholdParams::new().upper(f64::NAN).check().is_err());
        let det = ThresholdParams::new().upper(1.0).check().unwrap();
        assert!(det.detect(&[], &[]).is_err());
        assert!(det.detect(&[2, 1], &[0.0, 0.0]).is_err());
        assert!(det.detect(&[1, 2], &[0.0, f64::NAN]).is_err());
        let mut online = det.online();
        online.update(5, 0.0).unwrap();
        assert!(matches!(
            online.update(5, 0.0),
            Err(DetectError::OutOfOrder { .. })
        ));
        assert!(matches!(
            online.update(6, f64::INFINITY),
            Err(DetectError::NonFinite { .. })
        ));
        // A refused point leaves the state as it was.
        assert!(online.update(6, 2.0).unwrap().is_anomaly);
    }
}
