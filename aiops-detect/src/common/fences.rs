//! Tukey's fences `[Q1 - c × IQR, Q3 + c × IQR]` of a window, and the causal "upper fence on a
//! rolling history of absolute differences" that `level_shift`, `volatility_shift` and
//! `persist` judge by (ADTK builds those detectors the same way).

use serde::{Deserialize, Serialize};

use crate::common::direction::Direction;
use crate::common::fit::FitMode;
use crate::common::order_stats::{OrderStats, RollingOrderStats};
use crate::detector::PointScore;

/// Tukey's fences of a set of values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Fences {
    /// Median (the expected value).
    pub(crate) median: f64,
    /// Q1 − c × IQR.
    pub(crate) lower: f64,
    /// Q3 + c × IQR.
    pub(crate) upper: f64,
    /// Q3 − Q1 floored above 0, to divide by.
    pub(crate) scale: f64,
}

impl Fences {
    /// Fences at `c` IQRs from the quartiles; `None` when empty.
    pub(crate) fn of(stats: &OrderStats, c: f64) -> Option<Fences> {
        let q1 = stats.quantile(0.25)?;
        let q3 = stats.quantile(0.75)?;
        let median = stats.median()?;
        let iqr = q3 - q1;
        Some(Fences {
            median,
            lower: q1 - c * iqr,
            upper: q3 + c * iqr,
            scale: floor_scale(iqr, median),
        })
    }
}

/// The upper fence `Q3 + c × IQR` and the floored IQR, without the median (two fewer order
/// statistics than [`Fences::of`], on the hot path of the shift detectors). The floor is taken
/// relative to the mid-quartile.
fn upper_fence(stats: &OrderStats, c: f64) -> Option<(f64, f64)> {
    let q1 = stats.quantile(0.25)?;
    let q3 = stats.quantile(0.75)?;
    let iqr = q3 - q1;
    Some((q3 + c * iqr, floor_scale(iqr, q1 + iqr / 2.0)))
}

/// A spread floored at 1e-12 × (1 + |center|), so that dividing by it stays finite.
pub(crate) fn floor_scale(spread: f64, center: f64) -> f64 {
    spread.max(1e-12 * (1.0 + center.abs()))
}

/// `num / den` clamped to a finite, non-negative score.
pub(crate) fn finite_ratio(num: f64, den: f64) -> f64 {
    (num / den).clamp(0.0, f64::MAX)
}

/// The judge of ADTK's shift and persist detectors, made causal: a signed difference `d` is
/// anomalous when `|d|` exceeds the upper Tukey fence `Q3 + c × IQR` of the previous
/// `history` values of `|d|` and its sign matches the direction. O(log h) per point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DiffFence {
    history: RollingOrderStats,
    min_periods: usize,
    #[serde(default)]
    fit: FitMode,
    /// With `FitMode::Once`, the fence and scale once the history is full.
    #[serde(default)]
    frozen: Option<(f64, f64)>,
}

/// What [`DiffFence::judge`] says about one difference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DiffVerdict {
    /// `(|d| - fence) / IQR` when flagged, else 0.
    pub(crate) score: f64,
    /// `|d| > fence` with the right sign.
    pub(crate) flagged: bool,
    /// The fence on `|d|`.
    pub(crate) fence: f64,
}

impl DiffVerdict {
    /// The point's score for a difference from `center`: the fence drawn around it on the
    /// side(s) `direction` watches.
    pub(crate) fn around(self, center: f64, direction: Direction) -> PointScore {
        PointScore {
            score: self.score,
            is_anomaly: self.flagged,
            expected: Some(center),
            lower: (direction != Direction::Up).then_some(center - self.fence),
            upper: (direction != Direction::Down).then_some(center + self.fence),
        }
    }
}

impl DiffFence {
    pub(crate) fn new(history: usize, min_periods: usize, fit: FitMode) -> Self {
        Self {
            history: RollingOrderStats::new(history),
            min_periods,
            fit,
            frozen: None,
        }
    }

    /// Judges `d` against the history (`None` while it holds fewer than `min_periods`
    /// values), then adds `|d|` to it.
    pub(crate) fn judge_and_learn(
        &mut self,
        d: f64,
        c: f64,
        direction: Direction,
    ) -> Option<DiffVerdict> {
        let fence = match self.frozen {
            Some(f) => Some(f),
            None if self.history.len() >= self.min_periods => upper_fence(self.history.stats(), c),
            None => None,
        };
        let verdict = if let Some((upper, scale)) = fence {
            Some({
                let sign_ok = match direction {
                    Direction::Both => true,
                    Direction::Up => d > 0.0,
                    Direction::Down => d < 0.0,
                };
                let flagged = sign_ok && d.abs() > upper;
                DiffVerdict {
                    score: if flagged {
                        finite_ratio(d.abs() - upper, scale)
                    } else {
                        0.0
                    },
                    flagged,
                    fence: upper,
                }
            })
        } else {
            None
        };
        if self.frozen.is_none() {
            self.history.push(d.abs());
            if self.fit == FitMode::Once && self.history.is_full() {
                self.frozen = upper_fence(self.history.stats(), c);
            }
        }
        verdict
    }
}

/// Serde for the cached fences, as their four numbers.
pub(crate) mod frozen_fences {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Fences;

    pub(crate) fn serialize<S: Serializer>(f: &Option<Fences>, s: S) -> Result<S::Ok, S::Error> {
        f.map(|f| (f.median, f.lower, f.upper, f.scale))
            .serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Fences>, D::Error> {
        Ok(
            Option::<(f64, f64, f64, f64)>::deserialize(d)?.map(|(median, lower, upper, scale)| {
                Fences {
                    median,
                    lower,
                    upper,
                    scale,
                }
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::checks::check_history;

    #[test]
    fn diff_fence_judges_absolute_differences_with_a_sign() {
        let mut f = DiffFence::new(8, 4, FitMode::Rolling);
        for d in [1.0, -1.0, 2.0] {
            assert_eq!(f.judge_and_learn(d, 1.0, Direction::Both), None);
        }
        // History |d| = 1, 1, 2 then 2: Q1 = 1, Q3 = 2, fence at 3.
        assert!(f.judge_and_learn(-2.0, 1.0, Direction::Both).is_none());
        let v = f.judge_and_learn(-5.0, 1.0, Direction::Up).unwrap();
        assert!(!v.flagged && v.score == 0.0);
        let v = f.judge_and_learn(-9.0, 1.0, Direction::Down).unwrap();
        assert!(v.flagged && v.score > 0.0);
        assert!(check_history(3, None).is_err());
        assert!(check_history(10, Some(11)).is_err());
        assert_eq!(check_history(10, None).unwrap(), 10);
    }
}
