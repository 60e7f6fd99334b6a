//! Seasonal profile: how far a value is from what this phase of the season usually is.
//!
//! The streaming counterpart of ADTK's `SeasonalAD`: the expected value of a point is the mean
//! of the same phase over the last `cycles` seasons (a daily profile for a daily metric), and
//! the residual `x - expected` is judged by Tukey's fences `[Q1 - c IQR, Q3 + c IQR]` of the
//! last `history` residuals. A night-time value at noon-time level is flagged even though it is
//! well inside the series' range. The score is the distance beyond the fence in IQR units
//! (0 inside). A flagged value is learned clipped to the fence, so one outlier does not
//! distort its phase for the next `cycles` seasons.
//!
//! Without a `period`, the first `detect_window` points are buffered and the period is found
//! with [`crate::period::detect_period`] (no period found: the profile is a plain mean of the
//! last `cycles` points); the buffered points then train the profile, so the result depends
//! only on the data, in batch and online alike.
//!
//! Cost: O(cycles + log history) per point; memory O(period × cycles + history).

use std::collections::VecDeque;

use aiops_core::{Severity, TimestampMs};
use serde::{Deserialize, Serialize};

use crate::detector::{
    Detections, Detector, OnlineDetector, OnlineKernel, ParamGuard, PointGuard, PointScore,
    run_online,
};
use crate::error::{DetectError, Result};
use crate::iqr::{Fences, fence_severity, finite_ratio};
use crate::order_stats::RollingOrderStats;
use crate::period::detect_period;
use crate::zscore::Direction;

/// Unchecked parameters of [`Seasonal`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeasonalParams {
    period: Option<usize>,
    detect_window: usize,
    cycles: usize,
    c: f64,
    history: usize,
    min_periods: usize,
    direction: Direction,
}

impl Default for SeasonalParams {
    fn default() -> Self {
        Self {
            period: None,
            detect_window: 1024,
            cycles: 4,
            c: 3.0,
            history: 500,
            min_periods: 100,
            direction: Direction::Both,
        }
    }
}

impl SeasonalParams {
    /// Defaults: period detected on the first 1,024 points, 4 cycles, c = 3 (ADTK's).
    pub fn new() -> Self {
        Self::default()
    }

    /// Seasonal period in points (>= 1); unset: detected.
    pub fn period(mut self, points: usize) -> Self {
        self.period = Some(points);
        self
    }

    crate::detector::setter!(
        /// Points buffered to detect the period (>= 16).
        detect_window: usize
    );

    crate::detector::setter!(
        /// Past seasons averaged into the profile (>= 1).
        cycles: usize
    );

    crate::detector::setter!(
        /// Fence distance in IQRs beyond the residual quartiles (> 0).
        c: f64
    );

    crate::detector::setter!(
        /// Residuals kept for the fences (>= 4).
        history: usize
    );

    crate::detector::setter!(
        /// Residuals needed before scoring starts (4..=history).
        min_periods: usize
    );

    crate::detector::setter!(
        /// Which departures count.
        direction: Direction
    );
}

impl ParamGuard for SeasonalParams {
    type Checked = Seasonal;

    fn check(&self) -> Result<Seasonal> {
        let bad = |name, reason: String| Err(DetectError::InvalidParameter { name, reason });
        if self.period == Some(0) {
            return bad("period", "must be at least 1 point".into());
        }
        if self.detect_window < 16 {
            return bad(
                "detect_window",
                format!("must be at least 16, got {}", self.detect_window),
            );
        }
        if self.cycles == 0 {
            return bad("cycles", "must be at least 1".into());
        }
        if !(self.c.is_finite() && self.c > 0.0) {
            return bad("c", format!("must be positive, got {}", self.c));
        }
        if self.history < 4 {
            return bad(
                "history",
                format!("must be at least 4, got {}", self.history),
            );
        }
        if !(4..=self.history).contains(&self.min_periods) {
            return bad(
                "min_periods",
                format!("must be in 4..={}, got {}", self.history, self.min_periods),
            );
        }
        Ok(Seasonal {
            params: self.clone(),
        })
    }
}

/// Validated seasonal-profile detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seasonal {
    params: SeasonalParams,
}

impl Seasonal {
    /// The streaming state, typed.
    pub fn online_state(&self) -> SeasonalOnline {
        SeasonalOnline {
            kernel: Kernel::new(&self.params),
            guard: PointGuard::default(),
        }
    }
}

impl Detector for Seasonal {
    fn name(&self) -> &'static str {
        "seasonal"
    }

    fn severity(&self, score: f64) -> Severity {
        fence_severity(score, self.params.c)
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
        run_online(Kernel::new(&self.params), timestamps, values, progress)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Kernel {
    params: SeasonalParams,
    /// Points waiting for period detection (empty once the period is known).
    pending: Vec<f64>,
    period: Option<usize>,
    /// Per phase, its last `cycles` values.
    phases: Vec<VecDeque<f64>>,
    /// Points seen since the period became known (the phase clock).
    clock: usize,
    residuals: RollingOrderStats,
}

impl Kernel {
    fn new(p: &SeasonalParams) -> Self {
        let mut k = Self {
            params: p.clone(),
            pending: Vec::new(),
            period: None,
            phases: Vec::new(),
            clock: 0,
            residuals: RollingOrderStats::new(p.history),
        };
        if let Some(period) = p.period {
            k.start(period);
        }
        k
    }

    fn start(&mut self, period: usize) {
        self.period = Some(period);
        self.phases = vec![VecDeque::with_capacity(self.params.cycles); period];
    }

    /// Scores `x` against its phase's profile (if known) and learns it.
    fn learn(&mut self, x: f64) -> PointScore {
        let period = self.period.unwrap_or(1);
        let phase = self.clock % period;
        self.clock += 1;
        let slot = &self.phases[phase];
        let expected = (!slot.is_empty()).then(|| slot.iter().sum::<f64>() / slot.len() as f64);
        let mut learned = x;
        let out = match expected {
            None => PointScore::NEUTRAL,
            Some(expected) => {
                let r = x - expected;
                let out = match Fences::of(self.residuals.stats(), self.params.c) {
                    Some(f) if self.residuals.len() >= self.params.min_periods => {
                        let above = (r - f.upper).max(0.0);
                        let below = (f.lower - r).max(0.0);
                        let excess = match self.params.direction {
                            Direction::Both => above.max(below),
                            Direction::Up => above,
                            Direction::Down => below,
                        };
                        // An outlier would pull its phase's profile for `cycles` seasons and
                        // raise false alarms there: the profile learns it clipped to the fence.
                        if above > 0.0 || below > 0.0 {
                            learned = expected + r.clamp(f.lower, f.upper);
                        }
                        let score = finite_ratio(excess, f.scale);
                        PointScore {
                            score,
                            is_anomaly: score > 0.0,
                            expected: Some(expected + f.median),
                            lower: Some(expected + f.lower),
                            upper: Some(expected + f.upper),
                        }
                    }
                    _ => PointScore::NEUTRAL,
                };
                self.residuals.push(learned - expected);
                out
            }
        };
        let slot = &mut self.phases[phase];
        if slot.len() == self.params.cycles {
            slot.pop_front();
        }
        slot.push_back(learned);
        out
    }
}

impl OnlineKernel for Kernel {
    fn step(&mut self, x: f64) -> PointScore {
        if self.period.is_some() {
            return self.learn(x);
        }
        self.pending.push(x);
        if self.pending.len() >= self.params.detect_window {
            let buffered = std::mem::take(&mut self.pending);
            let max = self.params.detect_window / 3;
            self.start(detect_period(&buffered, Some(max)).unwrap_or(1));
            for v in buffered {
                self.learn(v);
            }
        }
        PointScore::NEUTRAL
    }
}

/// Streaming state of [`Seasonal`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeasonalOnline {
    kernel: Kernel,
    guard: PointGuard,
}

impl SeasonalOnline {
    /// The seasonal period in use, once known.
    pub fn period(&self) -> Option<usize> {
        self.kernel.period
    }
}

impl OnlineDetector for SeasonalOnline {
    crate::detector::snapshot_via_serde!();

    fn update(&mut self, timestamp: TimestampMs, value: f64) -> Result<PointScore> {
        self.guard.admit(timestamp, value)?;
        Ok(self.kernel.step(value))
    }

    fn reset(&mut self) {
        self.kernel = Kernel::new(&self.kernel.params);
        self.guard = PointGuard::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hourly-like: period 24, a square day/night profile plus small noise;
    /// night-time point (1,490) takes a day-time value, inside the global range.
    fn daily() -> (Vec<i64>, Vec<f64>) {
        let mut s: u64 = 17;
        let v = (0..2400)
            .map(|i| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let noise = ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5;
                let day = if i % 24 >= 8 && i % 24 < 20 {
                    100.0
                } else {
                    10.0
                };
                let wrong = if i == 1490 { 90.0 } else { 0.0 };
                day + noise + wrong
            })
            .collect();
        ((0..2400).collect(), v)
    }

    #[test]
    fn flags_a_value_wrong_for_its_phase() {
        let (ts, v) = daily();
        assert!(v[1490] < 101.0, "inside the global range");
        for det in [
            SeasonalParams::new().period(24).check().unwrap(),
            SeasonalParams::new().check().unwrap(),
        ] {
            let d = det.detect(&ts, &v).unwrap();
            let flagged: Vec<usize> = (0..v.len()).filter(|&i| d.is_anomaly[i]).collect();
            assert_eq!(flagged, [1490], "{det:?}");
            assert!((d.expected[1490] - 10.0).abs() < 1.0);
        }
        let mut online = SeasonalParams::new().check().unwrap().online_state();
        for i in 0..1100 {
            online.update(ts[i], v[i]).unwrap();
        }
        assert_eq!(online.period(), Some(24), "detected");
    }

    #[test]
    fn online_equals_batch_across_snapshots() {
        let (ts, v) = daily();
        for det in [
            SeasonalParams::new().check().unwrap(),
            SeasonalParams::new()
                .period(12)
                .cycles(1)
                .direction(Direction::Up)
                .check()
                .unwrap(),
        ] {
            let batch = det.detect(&ts, &v).unwrap();
            let mut online = det.online_state();
            for i in 0..v.len() {
                if i == 500 || i == 1700 {
                    online =
                        serde_json::from_str(&serde_json::to_string(&online).unwrap()).unwrap();
                }
                assert_eq!(
                    online.update(ts[i], v[i]).unwrap(),
                    batch.point(i),
                    "point {i}"
                );
            }
        }
    }

    #[test]
    fn bad_params_and_input() {
        assert!(SeasonalParams::new().period(0).check().is_err());
        assert!(SeasonalParams::new().cycles(0).check().is_err());
        assert!(SeasonalParams::new().c(0.0).check().is_err());
        assert!(SeasonalParams::new().history(2).check().is_err());
        assert!(SeasonalParams::new().min_periods(600).check().is_err());
        assert!(SeasonalParams::new().detect_window(3).check().is_err());
        let det = SeasonalParams::new().check().unwrap();
        assert!(det.detect(&[], &[]).is_err());
        assert!(det.detect(&[2, 1], &[0.0, 1.0]).is_err());
        assert!(det.detect(&[1, 2], &[0.0, f64::NAN]).is_err());
    }
}
