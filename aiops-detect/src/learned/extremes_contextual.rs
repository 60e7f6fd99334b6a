//! The `default` detector: what `aiops detect` runs when no detector is named.
//!
//! It needs no parameters, and its scores mean the same on any series, so one threshold works
//! across a fleet. Two signals, each in [0, 1], and the larger wins:
//! 1. **New extremes**: after `warmup` points, a value beyond everything seen so far scores
//!    0.5 and up, growing with the excess measured in units of the seen range
//!    (`0.5 + 0.5 (1 - 1 / (1 + 10 e))`). Operators always want to hear about a metric
//!    leaving its known range, and on labelled benchmarks this is the single strongest sign.
//! 2. **Context** ([`crate::contextual`]): a sequence memory over coarse levels of the value
//!    scores the share of its predictions that failed and of what it had to learn anew,
//!    silenced for a rest period after a high score so one change raises one alarm.
//!    It learns the range of its levels as it goes (the `contextual` detector can also be
//!    given a known range).
//!
//! `expected`, `lower` and `upper` come from a rolling z-score over `window` points, for
//! display. Cost: proportional to the contexts learned (bounded by their capacity); about
//! 1 µs per point on typical metrics.

use aiops_core::{Severity, TimestampMs};
use serde::{Deserialize, Serialize};

use crate::contextual::{Contextual, ContextualKernel, ContextualParams};
use crate::detector::{
    Detections, Detector, OnlineDetector, OnlineKernel, ParamGuard, PointGuard, PointScore,
    run_online,
};
use crate::error::{DetectError, Result};
use crate::zscore::{RollingZScore, RollingZScoreOnline, RollingZScoreParams};

/// Parameters of [`DefaultDetector`]; every one has a default and none needs setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DefaultParams {
    /// Points learned before anything is scored.
    pub warmup: usize,
    /// Score at or above which a point is flagged, in (0, 1].
    pub threshold: f64,
    /// Points in the window of the displayed expectation and bounds.
    pub window: usize,
    /// Settings of the contextual signal (its `warmup` is replaced by the one above).
    pub contextual: ContextualParams,
}

impl Default for DefaultParams {
    fn default() -> Self {
        Self {
            warmup: 300,
            threshold: 0.75,
            window: 100,
            contextual: ContextualParams::default(),
        }
    }
}

impl DefaultParams {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
}

impl ParamGuard for DefaultParams {
    type Checked = DefaultDetector;

    fn check(&self) -> Result<DefaultDetector> {
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(DetectError::InvalidParameter {
                name: "threshold",
                reason: format!("must be in (0, 1], got {}", self.threshold),
            });
        }
        let bounds = RollingZScoreParams::new()
            .window(self.window)
            .min_periods(self.window.clamp(2, 30))
            .check()?;
        let contextual = self.contextual.clone().warmup(self.warmup).check()?;
        Ok(DefaultDetector {
            warmup: self.warmup,
            threshold: self.threshold,
            bounds,
            contextual,
        })
    }
}

/// The validated default detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefaultDetector {
    warmup: usize,
    threshold: f64,
    bounds: RollingZScore,
    contextual: Contextual,
}

impl DefaultDetector {
    /// The streaming state, typed.
    pub fn online_state(&self) -> DefaultOnline {
        DefaultOnline {
            kernel: Kernel::new(self),
            guard: PointGuard::default(),
        }
    }
}

impl Detector for DefaultDetector {
    fn name(&self) -> &'static str {
        "default"
    }

    fn severity(&self, score: f64) -> Severity {
        if score >= 0.95 {
            Severity::Critical
        } else if score >= 0.85 {
            Severity::High
        } else if score >= self.threshold {
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
        run_online(Kernel::new(self), timestamps, values, progress)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Kernel {
    detector: DefaultDetector,
    bounds: RollingZScoreOnline,
    contextual: ContextualKernel,
    seen: usize,
    min: f64,
    max: f64,
}

impl Kernel {
    fn new(d: &DefaultDetector) -> Self {
        Self {
            detector: d.clone(),
            bounds: d.bounds.online_state(),
            contextual: d.contextual.kernel(),
            seen: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl OnlineKernel for Kernel {
    fn step(&mut self, x: f64) -> PointScore {
        let d = &self.detector;
        let range = self.max - self.min;
        let extreme = if self.seen >= d.warmup && range > 0.0 {
            let excess = (x - self.max).max(self.min - x) / range;
            if excess > 0.0 {
                0.5 + 0.5 * (1.0 - 1.0 / (1.0 + 10.0 * excess))
            } else {
                0.0
            }
        } else {
            0.0
        };
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        self.seen += 1;
        let (_, context) = self.contextual.raw_and_score(x);
        // 0.99: a complete surprise ranks just below a new extreme of the same point.
        let score = extreme.max(0.99 * context);
        // The bounds state has its own order check; a point counter is a valid clock.
        let shown = self
            .bounds
            .update(self.seen as TimestampMs, x)
            .unwrap_or(PointScore::NEUTRAL);
        PointScore {
            score,
            is_anomaly: score >= d.threshold,
            expected: shown.expected,
            lower: shown.lower,
            upper: shown.upper,
        }
    }
}

/// Streaming state of [`DefaultDetector`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefaultOnline {
    kernel: Kernel,
    guard: PointGuard,
}

impl OnlineDetector for DefaultOnline {
    crate::detector::snapshot_via_serde!();

    fn update(&mut self, timestamp: TimestampMs, value: f64) -> Result<PointScore> {
        self.guard.admit(timestamp, value)?;
        Ok(self.kernel.step(value))
    }

    fn reset(&mut self) {
        self.kernel = Kernel::new(&self.kernel.detector);
        self.guard = PointGuard::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy_daily(n: usize) -> Vec<f64> {
        let mut s: u64 = 42;
        (0..n)
            .map(|i| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let noise = ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5;
                50.0 + 10.0 * (i as f64 * std::f64::consts::TAU / 288.0).sin() + noise
            })
            .collect()
    }

    #[test]
    fn flags_a_spike_and_a_level_shift_once_each() {
        let mut v = noisy_daily(3000);
        v[1500] += 40.0;
        for x in &mut v[2400..] {
            *x -= 30.0;
        }
        let ts: Vec<i64> = (0..v.len() as i64).map(|i| i * 300_000).collect();
        let det = DefaultParams::new().check().unwrap();
        let d = det.detect(&ts, &v).unwrap();
        let flagged: Vec<usize> = (0..v.len()).filter(|&i| d.is_anomaly[i]).collect();
        assert!(flagged.contains(&1500), "{flagged:?}");
        assert!(
            flagged.iter().any(|&i| (2400..2410).contains(&i)),
            "{flagged:?}"
        );
        assert!(flagged.len() <= 4, "few alarms: {flagged:?}");
        assert!(d.scores[..300].iter().all(|&s| s == 0.0), "warm-up");
        assert!(d.expected[1000].is_finite());
    }

    #[test]
    fn online_equals_batch_across_snapshots() {
        let mut v = noisy_daily(2000);
        v[1200] -= 25.0;
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let det = DefaultParams::new().check().unwrap();
        let batch = det.detect(&ts, &v).unwrap();
        let mut online = det.online_state();
        for i in 0..v.len() {
            if i == 1000 {
                online = serde_json::from_str(&serde_json::to_string(&online).unwrap()).unwrap();
            }
            assert_eq!(
                online.update(ts[i], v[i]).unwrap(),
                batch.point(i),
                "point {i}"
            );
        }
        online.reset();
        assert_eq!(online.update(ts[0], v[0]).unwrap(), batch.point(0));
    }

    #[test]
    fn bad_params_and_input() {
        let bad = DefaultParams {
            threshold: 1.5,
            ..DefaultParams::new()
        };
        assert!(bad.check().is_err());
        let det = DefaultParams::new().check().unwrap();
        assert!(det.detect(&[], &[]).is_err());
        assert!(det.detect(&[2, 1], &[0.0, 1.0]).is_err());
        assert!(det.detect(&[1, 2], &[0.0, f64::INFINITY]).is_err());
    }
}
