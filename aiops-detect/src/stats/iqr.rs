//! Inter-quartile range detector: values outside Tukey's fences `[Q1 - c × IQR, Q3 + c × IQR]`
//! of a reference window, as ADTK's `InterQuartileRangeAD`, causal: by default static, fences
//! fitted once on the first `window` points; with `fit = "rolling"`, on the `window` points
//! before each point.
//!
//! Quartiles interpolate linearly between ranks (numpy's and pandas' default). A value is
//! flagged strictly outside the fences (ADTK's rule); the score is how far beyond the fence it
//! lies, in IQR units (0 inside). A window whose middle half is one value has IQR = 0: the
//! fences close onto it and the score divides by an IQR floored at 1e-12 × (1 + |median|), so
//! any departure scores huge but finite. `c` defaults to 3, ADTK's default.
//!
//! With `fit = "once"` (the default) the fences are fitted on the first `window` points and
//! kept (ADTK's fit-then-detect workflow), O(1) per point after training; see
//! [`crate::quantile::Fit`]. Rolling, the cost per point is O(log w) time (six selects and an
//! update of an [`OrderStats`] tree) and O(w) memory.
//!
//! The fence arithmetic and the "upper fence on a rolling history of absolute differences"
//! used by `level_shift`, `volatility_shift` and `persist` (ADTK builds those detectors the
//! same way) live here too.

use aiops_core::{Severity, TimestampMs};
use serde::{Deserialize, Serialize};

use crate::detector::{
    Detections, Detector, OnlineDetector, OnlineKernel, ParamGuard, PointGuard, PointScore,
    run_online,
};
use crate::error::{DetectError, Result};
use crate::mad::{check_positive, check_window};
use crate::order_stats::{OrderStats, RollingOrderStats};
use crate::quantile::Fit;
use crate::zscore::Direction;

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

/// Severity of a score in IQR units beyond a fence at `c` IQRs: beyond the fence is medium,
/// c / 2 further is high, c further (twice as far from the quartile) critical.
pub(crate) fn fence_severity(score: f64, c: f64) -> Severity {
    if score >= c {
        Severity::Critical
    } else if score >= c / 2.0 {
        Severity::High
    } else if score > 0.0 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// The judge of ADTK's shift and persist detectors, made causal: a signed difference `d` is
/// anomalous when `|d|` exceeds the upper Tukey fence `Q3 + c × IQR` of the previous
/// `history` values of `|d|` and its sign matches the direction. O(log h) per point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DiffFence {
    history: RollingOrderStats,
    min_periods: usize,
    #[serde(default)]
    fit: Fit,
    /// With `Fit::Once`, the fence and scale once the history is full.
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

impl DiffFence {
    pub(crate) fn new(history: usize, min_periods: usize, fit: Fit) -> Self {
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
            if self.fit == Fit::Once && self.history.is_full() {
                self.frozen = upper_fence(self.history.stats(), c);
            }
        }
        verdict
    }
}

/// Checks a history length and its `min_periods` for a [`DiffFence`] (at least 4 values, so
/// quartiles mean something). Returns `min_periods`.
pub(crate) fn check_history(history: usize, min_periods: Option<usize>) -> Result<usize> {
    if history < 4 {
        return Err(DetectError::InvalidParameter {
            name: "history",
            reason: format!("must be at least 4 values, got {history}"),
        });
    }
    let min_periods = min_periods.unwrap_or(history);
    if !(4..=history).contains(&min_periods) {
        return Err(DetectError::InvalidParameter {
            name: "min_periods",
            reason: format!("must be in 4..={history}, got {min_periods}"),
        });
    }
    Ok(min_periods)
}

/// Unchecked parameters of [`Iqr`].
///
/// ```
/// use aiops_detect::iqr::IqrParams;
/// use aiops_detect::{Detector, ParamGuard};
/// let det = IqrParams::new().window(8).check()?;
/// let values = [10.0, 11.0, 9.0, 10.0, 12.0, 8.0, 10.0, 11.0, 30.0, 10.0];
/// let ts: Vec<i64> = (0..values.len() as i64).map(|i| i * 60_000).collect();
/// let d = det.detect(&ts, &values)?;
/// assert!(d.is_anomaly[8] && !d.is_anomaly[9]);
/// # Ok::<(), aiops_detect::DetectError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IqrParams {
    window: usize,
    c: f64,
    min_periods: Option<usize>,
    direction: Direction,
    fit: Fit,
}

impl Default for IqrParams {
    fn default() -> Self {
        Self {
            window: 200,
            c: 3.0,
            min_periods: None,
            direction: Direction::Both,
            fit: Fit::Once,
        }
    }
}

impl IqrParams {
    /// Defaults: window 200 points, c = 3 IQRs, both directions, scoring from a full window.
    pub fn new() -> Self {
        Self::default()
    }

    crate::detector::setter!(
        /// Points in the reference window (>= 4).
        window: usize
    );

    crate::detector::setter!(
        /// Fences at `c` IQRs beyond the quartiles (> 0).
        c: f64
    );

    /// Points needed before scoring starts (4..=window; default: window).
    pub fn min_periods(mut self, points: usize) -> Self {
        self.min_periods = Some(points);
        self
    }

    crate::detector::setter!(
        /// Which departures count (`up`: only above the upper fence).
        direction: Direction
    );

    crate::detector::setter!(
        /// When the fences are fitted (default: rolling).
        fit: Fit
    );
}

impl ParamGuard for IqrParams {
    type Checked = Iqr;

    fn check(&self) -> Result<Iqr> {
        let min_periods = check_window(self.window, self.min_periods, 4)?;
        check_positive("c", self.c)?;
        if self.fit == Fit::Once && self.min_periods.is_some_and(|m| m != self.window) {
            return Err(DetectError::InvalidParameter {
                name: "min_periods",
                reason: "with fit = once the fences are fitted on exactly `window` points".into(),
            });
        }
        Ok(Iqr {
            fit: self.fit,
            window: self.window,
            c: self.c,
            min_periods,
            direction: self.direction,
        })
    }
}

/// Validated inter-quartile range detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Iqr {
    fit: Fit,
    window: usize,
    c: f64,
    min_periods: usize,
    direction: Direction,
}

impl Iqr {
    /// Unchecked parameters to start from.
    pub fn params() -> IqrParams {
        IqrParams::new()
    }

    /// Points in the reference window.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Fence distance from the quartiles, IQRs.
    pub fn c(&self) -> f64 {
        self.c
    }

    /// Points needed before scoring starts.
    pub fn min_periods(&self) -> usize {
        self.min_periods
    }

    /// Which departures count.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The streaming state, typed (serde-able, for snapshots).
    pub fn online_state(&self) -> IqrOnline {
        IqrOnline {
            kernel: Kernel::new(*self),
            guard: PointGuard::default(),
        }
    }
}

impl Detector for Iqr {
    fn name(&self) -> &'static str {
        "iqr"
    }

    /// Beyond a fence is medium, c / 2 IQRs beyond it high, c IQRs beyond it critical.
    fn severity(&self, score: f64) -> Severity {
        fence_severity(score, self.c)
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
        run_online(Kernel::new(*self), timestamps, values, progress)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Kernel {
    params: Iqr,
    window: RollingOrderStats,
    /// With `Fit::Once`, the fences once fitted.
    #[serde(with = "frozen_fences")]
    frozen: Option<Fences>,
}

/// Serde for the cached fences, as their four numbers.
mod frozen_fences {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Fences;

    pub(super) fn serialize<S: Serializer>(f: &Option<Fences>, s: S) -> Result<S::Ok, S::Error> {
        f.map(|f| (f.median, f.lower, f.upper, f.scale))
            .serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Fences>, D::Error> {
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

impl Kernel {
    fn new(params: Iqr) -> Self {
        Self {
            params,
            window: RollingOrderStats::new(params.window),
            frozen: None,
        }
    }
}

impl OnlineKernel for Kernel {
    fn step(&mut self, x: f64) -> PointScore {
        let fences = match self.frozen {
            Some(f) => Some(f),
            None if self.window.len() >= self.params.min_periods => {
                Fences::of(self.window.stats(), self.params.c)
            }
            None => None,
        };
        if self.frozen.is_none() {
            self.window.push(x);
            if self.params.fit == Fit::Once && self.window.is_full() {
                self.frozen = Fences::of(self.window.stats(), self.params.c);
            }
        }
        let Some(f) = fences else {
            return PointScore::NEUTRAL;
        };
        let above = x - f.upper;
        let below = f.lower - x;
        let (beyond, lower, upper) = match self.params.direction {
            Direction::Both => (above.max(below), Some(f.lower), Some(f.upper)),
            Direction::Up => (above, None, Some(f.upper)),
            Direction::Down => (below, Some(f.lower), None),
        };
        let is_anomaly = beyond > 0.0;
        PointScore {
            score: if is_anomaly {
                finite_ratio(beyond, f.scale)
            } else {
                0.0
            },
            is_anomaly,
            expected: Some(f.median),
            lower,
            upper,
        }
    }
}

/// Streaming state of [`Iqr`]: the window as an order-statistic tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IqrOnline {
    kernel: Kernel,
    guard: PointGuard,
}

impl OnlineDetector for IqrOnline {
    crate::detector::snapshot_via_serde!();

    fn update(&mut self, timestamp: TimestampMs, value: f64) -> Result<PointScore> {
        self.guard.admit(timestamp, value)?;
        Ok(self.kernel.step(value))
    }

    fn reset(&mut self) {
        self.kernel = Kernel::new(self.kernel.params);
        self.guard = PointGuard::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_once_keeps_the_training_fences() {
        let v: Vec<f64> = (0..400)
            .map(|i| if i < 300 { (i % 10) as f64 } else { 100.0 })
            .collect();
        let ts: Vec<i64> = (0..400).collect();
        let det = IqrParams::new()
            .fit(Fit::Rolling)
            .window(100)
            .fit(Fit::Once)
            .check()
            .unwrap();
        let d = det.detect(&ts, &v).unwrap();
        assert!(d.scores[..100].iter().all(|&s| s == 0.0), "training");
        assert!(
            d.is_anomaly[300..].iter().all(|&a| a),
            "100 stays anomalous"
        );
        let mut online = det.online_state();
        for i in 0..v.len() {
            if i == 250 {
                online = serde_json::from_str(&serde_json::to_string(&online).unwrap()).unwrap();
            }
            assert_eq!(online.update(ts[i], v[i]).unwrap(), d.point(i), "point {i}");
        }
        assert!(
            IqrParams::new()
                .fit(Fit::Rolling)
                .window(100)
                .min_periods(10)
                .fit(Fit::Once)
                .check()
                .is_err()
        );
    }

    use crate::testing::noise;

    #[test]
    fn finds_injected_spikes_and_only_them() {
        let mut v: Vec<f64> = noise(3000, 7).iter().map(|x| 100.0 + x).collect();
        for &i in &[500, 1200] {
            v[i] += 8.0;
        }
        v[1800] -= 9.0;
        let ts: Vec<i64> = (0..v.len() as i64).map(|i| i * 1000).collect();
        let det = IqrParams::new().fit(Fit::Rolling).check().unwrap();
        let d = det.detect(&ts, &v).unwrap();
        let flagged: Vec<usize> = (0..v.len()).filter(|&i| d.is_anomaly[i]).collect();
        assert_eq!(flagged, [500, 1200, 1800]);
        assert!(d.scores[..200].iter().all(|&s| s == 0.0), "warm-up");
        // Uniform noise on [99, 101): IQR ≈ 1, upper fence ≈ 100.5 + 3.
        assert!((d.upper[1000] - 103.5).abs() < 0.3, "{}", d.upper[1000]);
        // upper - lower = (1 + 2c) IQR.
        let iqr = (d.upper[500] - d.lower[500]) / 7.0;
        assert!((d.scores[500] - (v[500] - d.upper[500]) / iqr).abs() < 1e-9);
        // About 5.5 IQRs below the lower fence.
        assert_eq!(det.severity(d.scores[1800]), Severity::Critical);
        assert_eq!(det.severity(0.1), Severity::Medium);
        assert_eq!(det.severity(1.5), Severity::High);
        let up = IqrParams::new()
            .fit(Fit::Rolling)
            .direction(Direction::Up)
            .check()
            .unwrap()
            .detect(&ts, &v)
            .unwrap();
        assert!(!up.is_anomaly[1800] && up.is_anomaly[500]);
    }

    #[test]
    fn matches_naive_fences() {
        let v: Vec<f64> = noise(500, 3).iter().map(|x| 1e6 + 50.0 * x).collect();
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let w = 17;
        let d = IqrParams::new()
            .fit(Fit::Rolling)
            .window(w)
            .c(1.0)
            .check()
            .unwrap()
            .detect(&ts, &v)
            .unwrap();
        for i in w..v.len() {
            let mut s = v[i - w..i].to_vec();
            s.sort_by(f64::total_cmp);
            // (w - 1) / 4 = 4 exactly: the quartiles are order statistics.
            let (q1, q3) = (s[4], s[12]);
            assert_eq!(d.upper[i], q3 + (q3 - q1));
            assert_eq!(d.lower[i], q1 - (q3 - q1));
            assert_eq!(d.expected[i], s[8]);
        }
    }

    #[test]
    fn online_equals_batch_even_across_snapshots() {
        let mut v: Vec<f64> = noise(3000, 11).iter().map(|x| (10.0 * x).round()).collect();
        v[2500] = 80.0;
        let ts: Vec<i64> = (0..v.len() as i64)
            .map(|i| 1_700_000_000_000 + i * 15_000)
            .collect();
        for det in [
            IqrParams::new()
                .fit(Fit::Rolling)
                .window(50)
                .check()
                .unwrap(),
            IqrParams::new()
                .fit(Fit::Rolling)
                .window(20)
                .min_periods(5)
                .c(0.5)
                .direction(Direction::Up)
                .check()
                .unwrap(),
            IqrParams::new()
                .fit(Fit::Rolling)
                .window(4)
                .direction(Direction::Down)
                .check()
                .unwrap(),
        ] {
            let batch = det.detect(&ts, &v).unwrap();
            assert!(batch.is_anomaly.iter().any(|&a| a));
            let mut online = det.online_state();
            for i in 0..v.len() {
                if i == 1234 {
                    let snap = serde_json::to_string(&online).unwrap();
                    online = serde_json::from_str(&snap).unwrap();
                }
                assert_eq!(
                    online.update(ts[i], v[i]).unwrap(),
                    batch.point(i),
                    "point {i}"
                );
            }
            let mut boxed = det.online();
            boxed.update(0, 1.0).unwrap();
            boxed.reset();
            assert_eq!(boxed.update(ts[0], v[0]).unwrap(), batch.point(0));
        }
    }

    #[test]
    fn flat_window_scores_finite() {
        let v = [5.0, 5.0, 5.0, 5.0, 5.0, 6.0, 5.0];
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let d = IqrParams::new()
            .fit(Fit::Rolling)
            .window(5)
            .check()
            .unwrap()
            .detect(&ts, &v)
            .unwrap();
        assert!(d.is_anomaly[5] && d.scores[5].is_finite() && d.scores[5] > 1e6);
        assert!(!d.is_anomaly[6]);
    }

    #[test]
    fn diff_fence_judges_absolute_differences_with_a_sign() {
        let mut f = DiffFence::new(8, 4, Fit::Rolling);
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

    #[test]
    fn bad_params_and_input() {
        assert!(
            IqrParams::new()
                .fit(Fit::Rolling)
                .window(3)
                .check()
                .is_err()
        );
        assert!(IqrParams::new().fit(Fit::Rolling).c(0.0).check().is_err());
        assert!(
            IqrParams::new()
                .fit(Fit::Rolling)
                .c(f64::NAN)
                .check()
                .is_err()
        );
        assert!(
            IqrParams::new()
                .fit(Fit::Rolling)
                .window(10)
                .min_periods(11)
                .check()
                .is_err()
        );
        assert!(
            IqrParams::new()
                .fit(Fit::Rolling)
                .min_periods(3)
                .check()
                .is_err()
        );
        let det = IqrParams::new()
            .fit(Fit::Rolling)
            .window(4)
            .check()
            .unwrap();
        assert!(matches!(det.detect(&[], &[]), Err(DetectError::Core(_))));
        assert!(matches!(
            det.detect(&[1, 1], &[0.0, 0.0]),
            Err(DetectError::Core(_))
        ));
        assert!(matches!(
            det.detect(&[1, 2], &[0.0, f64::NAN]),
            Err(DetectError::Core(_))
        ));
        let mut o = det.online_state();
        o.update(10, 1.0).unwrap();
        assert!(matches!(
            o.update(9, 1.0),
            Err(DetectError::OutOfOrder { .. })
        ));
        assert!(matches!(
            o.update(11, f64::NEG_INFINITY),
            Err(DetectError::NonFinite { .. })
        ));
    }
}
