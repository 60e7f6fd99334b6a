//! The regular step of a series, for the detectors whose meaning depends on evenly spaced
//! points (a seasonal phase, a period search, an FFT).
//!
//! Points are rarely exactly evenly spaced: collectors jitter (NAB's 600 s series have 540 s
//! and 660 s intervals), repeated timestamps are made strictly increasing by 1 ms, and whole
//! stretches go missing. [`Cadence`] learns the step as the median of the first
//! [`LEARN_INTERVALS`] intervals and then counts each new point as one step, unless it lies
//! more than 1.5 steps after the previous one: a gap, of `round(dt / step)` steps. A kernel
//! that keeps a phase advances it by that many slots (filling what it needs for the missing
//! ones, never scoring them), so a gap never shifts the phase of what follows.
//!
//! Before the step is learned every point counts as one step, as do all points of a series
//! with a step of 0 or 1 ms.

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

/// Intervals whose median is the learned step.
pub const LEARN_INTERVALS: usize = 9;

/// The learned step of a series and the previous timestamp (serde-able, part of a kernel's
/// snapshot; a state of 0.1.0 without one starts learning afresh).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cadence {
    last: Option<TimestampMs>,
    step: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    intervals: Vec<i64>,
}

impl Cadence {
    /// How many steps `timestamp` lies after the previous point (1 for the first point, for
    /// an interval up to 1.5 steps, and while the step is being learned), then remembers it.
    /// Timestamps must increase (the detectors' order check guarantees it).
    pub fn advance(&mut self, timestamp: TimestampMs) -> u64 {
        let Some(last) = self.last.replace(timestamp) else {
            return 1;
        };
        let dt = timestamp.saturating_sub(last).max(0);
        match self.step {
            Some(step) if step > 1 && dt.saturating_mul(2) > step.saturating_mul(3) => {
                ((dt as f64 / step as f64).round() as u64).max(2)
            }
            Some(_) => 1,
            None => {
                self.intervals.push(dt);
                if self.intervals.len() == LEARN_INTERVALS {
                    self.intervals.sort_unstable();
                    self.step = Some(self.intervals[LEARN_INTERVALS / 2]);
                    self.intervals = Vec::new();
                }
                1
            }
        }
    }

    /// The learned step, ms (`None` while learning).
    pub fn step(&self) -> Option<i64> {
        self.step
    }
}

/// `n` values evenly between `from` and `to`, both excluded: what a gap of `n + 1` steps
/// between two points is filled with where no better estimate exists.
pub(crate) fn interpolate(from: f64, to: f64, n: usize) -> impl Iterator<Item = f64> {
    let slots = (n + 1) as f64;
    (1..=n).map(move |j| from + (to - from) * j as f64 / slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_the_step_through_jitter_and_counts_gaps() {
        let mut c = Cadence::default();
        let mut t = 0;
        // Jittered 600 s steps, with a repeated timestamp made increasing by 1 ms.
        for dt in [600, 540, 660, 600, 1, 599, 600, 660, 540] {
            assert_eq!(c.advance(t), 1);
            t += dt * 1000;
        }
        assert_eq!(c.advance(t), 1);
        assert_eq!(c.step(), Some(600_000));
        assert_eq!(c.advance(t + 660_000), 1, "jitter is one step");
        assert_eq!(c.advance(t + 660_000 + 1), 1, "a repeated timestamp too");
        assert_eq!(c.advance(t + 660_001 + 3_000_000), 5, "a gap of 5 steps");
        assert_eq!(
            c.advance(t + 660_001 + 3_000_000 + 950_000),
            2,
            "1.58 steps"
        );
    }

    #[test]
    fn interpolates_between_two_points() {
        let v: Vec<f64> = interpolate(0.0, 4.0, 3).collect();
        assert_eq!(v, [1.0, 2.0, 3.0]);
        assert_eq!(interpolate(1.0, 2.0, 0).count(), 0);
    }
}
