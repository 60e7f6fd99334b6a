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
//! with [`crate::common::period::detect_period`] (no period found: the profile is a plain mean of the
//! last `cycles` points); the buffered points then train the profile, so the result depends
//! only on the data, in batch and online alike.
//!
//! Cost: O(cycles + log history) per point; memory O(period × cycles + history).

use std::collections::VecDeque;

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::common::Direction;
use crate::common::cadence::{Cadence, interpolate};
use crate::common::fences::{Fences, finite_ratio};
use crate::common::order_stats::RollingOrderStats;
use crate::common::period::detect_period;
use crate::common::score_severity::fence_severity;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};

crate::detector::params_newtype!(
    /// Unchecked parameters of [`Seasonal`].
    SeasonalParams => Seasonal
);

/// Seasonal profile detector, validated ([`SeasonalParams::check`] makes it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Seasonal {
    period: Option<usize>,
    detect_window: usize,
    cycles: usize,
    c: f64,
    history: usize,
    min_periods: usize,
    direction: Direction,
}

impl Default for Seasonal {
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

crate::detector::setters!(
    SeasonalParams:
    period: Option<usize>, detect_window: usize, cycles: usize, c: f64, history: usize,
    min_periods: usize, direction: Direction);

impl ParamGuard for SeasonalParams {
    type Checked = Seasonal;

    fn check(&self) -> Result<Seasonal> {
        let bad = |name, reason: String| Err(DetectError::InvalidParameter { name, reason });
        if self.0.period == Some(0) {
            return bad("period", "must be at least 1 point".into());
        }
        if self.0.detect_window < 16 {
            return bad(
                "detect_window",
                format!("must be at least 16, got {}", self.0.detect_window),
            );
        }
        if self.0.cycles == 0 {
            return bad("cycles", "must be at least 1".into());
        }
        if !(self.0.c.is_finite() && self.0.c > 0.0) {
            return bad("c", format!("must be positive, got {}", self.0.c));
        }
        if self.0.history < 4 {
            return bad(
                "history",
                format!("must be at least 4, got {}", self.0.history),
            );
        }
        if !(4..=self.0.history).contains(&self.0.min_periods) {
            return bad(
                "min_periods",
                format!(
                    "must be in 4..={}, got {}",
                    self.0.history, self.0.min_periods
                ),
            );
        }
        Ok(self.0)
    }
}

crate::detector::describe!(
    Seasonal, SeasonalParams, SeasonalKernel.params => SeasonalOnline, "seasonal",
    "seasonal profile: residual from the mean of the same phase over past seasons",
    severity |config, score| fence_severity(score, config.c), "
    period: seasonal period in points (default: detected on the first detect_window points)
    detect_window: points buffered to detect the period (default 1024)
    cycles: past seasons averaged into the profile (default 4)
    c: fence distance in IQRs beyond the residual quartiles (default 3)
    history: residuals kept for the fences (default 500)
    min_periods: residuals before scoring starts (default 100)
    direction: both | up | down (default both)
"
);

/// The per-point state of [`Seasonal`]: the phase profiles and the residual history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeasonalKernel {
    params: Seasonal,
    /// Points waiting for period detection (empty once the period is known).
    pending: Vec<f64>,
    period: Option<usize>,
    /// Per phase, its last `cycles` values.
    phases: Vec<VecDeque<f64>>,
    /// Steps since the period became known (the phase clock; a gap advances it by its
    /// missing steps).
    clock: usize,
    residuals: RollingOrderStats,
    /// Indices of `pending` that fill a gap (interpolated, never learned).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    filled: Vec<usize>,
    /// The series' step, to tell gaps.
    #[serde(default)]
    cadence: Cadence,
}

impl Kernel for SeasonalKernel {
    fn new(p: &Seasonal) -> Self {
        let mut k = Self {
            params: *p,
            pending: Vec::new(),
            period: None,
            phases: Vec::new(),
            clock: 0,
            residuals: RollingOrderStats::new(p.history),
            filled: Vec::new(),
            cadence: Cadence::default(),
        };
        if let Some(period) = p.period {
            k.start(period);
        }
        k
    }

    fn step(&mut self, timestamp: TimestampMs, x: f64) -> PointScore {
        let missing = (self.cadence.advance(timestamp) - 1) as usize;
        if missing > 0 {
            self.skip(missing, x);
        }
        self.point(x)
    }
}

impl SeasonalKernel {
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

impl SeasonalKernel {
    /// Steps over `missing` slots before `x`: the phase clock advances past them; while the
    /// period is searched for they are filled by interpolation (for the search, never
    /// learned), and a gap longer than the search window starts the search afresh.
    fn skip(&mut self, missing: usize, x: f64) {
        if self.period.is_some() {
            self.clock += missing;
        } else if self.pending.len() + missing >= self.params.detect_window {
            self.pending.clear();
            self.filled.clear();
        } else if let Some(&last) = self.pending.last() {
            let at = self.pending.len();
            self.filled.extend(at..at + missing);
            self.pending.extend(interpolate(last, x, missing));
        }
    }

    fn point(&mut self, x: f64) -> PointScore {
        if self.period.is_some() {
            return self.learn(x);
        }
        self.pending.push(x);
        if self.pending.len() >= self.params.detect_window {
            let buffered = std::mem::take(&mut self.pending);
            let filled = std::mem::take(&mut self.filled);
            let max = self.params.detect_window / 3;
            self.start(detect_period(&buffered, Some(max)).unwrap_or(1));
            for (i, v) in buffered.into_iter().enumerate() {
                if filled.binary_search(&i).is_ok() {
                    self.clock += 1;
                } else {
                    self.learn(v);
                }
            }
        }
        PointScore::NEUTRAL
    }
}

impl SeasonalKernel {
    /// The seasonal period in use, once known.
    pub fn period(&self) -> Option<usize> {
        self.period
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::prelude::*;
    use crate::common::testing::refused;
    use crate::common::testing::{flagged, streamed};

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
            assert_eq!(flagged(&d), [1490], "{det:?}");
            assert!((d.expected[1490] - 10.0).abs() < 1.0);
        }
        let det = SeasonalParams::new().check().unwrap();
        let online = streamed(&det, &ts[..1100], &v[..1100]);
        assert_eq!(online.kernel().period(), Some(24), "detected");
    }

    #[test]
    fn bad_params() {
        assert!(refused(SeasonalParams::new().period(0)));
        assert!(refused(SeasonalParams::new().cycles(0)));
        assert!(refused(SeasonalParams::new().c(0.0)));
        assert!(refused(SeasonalParams::new().history(2)));
        assert!(refused(SeasonalParams::new().min_periods(600)));
        assert!(refused(SeasonalParams::new().detect_window(3)));
    }
}
