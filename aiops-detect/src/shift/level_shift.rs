//! Level shift: the median of the last `window` points against the median of the `window`
//! points before them, as ADTK's `LevelShiftAD`, made causal.
//!
//! At each point `t`, `d = median(x[t-w+1..=t]) - median(x[t-2w+1..=t-w])`. ADTK flags `d`
//! when `|d|` exceeds the upper Tukey fence `Q3 + c × IQR` of `|d|` over its training series,
//! and its sign matches `side`. Here the fence comes from the previous `history` values of
//! `|d|` (a rolling history, so the detector is causal and its memory bounded); `c` defaults
//! to ADTK's 6. The scale is learnt from how much adjacent medians normally differ on this
//! series, so it needs no noise model.
//!
//! A causal detector sees a step only once the recent window's median has moved: a level
//! change at `t0` is flagged from about `t0 + w/2` until the older window's median follows,
//! about `t0 + 3w/2`.
//!
//! Score: `(|d| - fence) / IQR` of the history (0 when not flagged), IQR floored at
//! 1e-12 × (1 + its median). `expected` is the older window's median, the level before;
//! `lower` / `upper` bound the recent window's median (the level), not the point itself:
//! `expected ∓ fence`.
//!
//! Cost per point: O(log w + log h) time (two order-statistic windows for the medians and one
//! for the history), O(w + h) memory.

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::common::Direction;
use crate::common::FitMode;
use crate::common::checks::check_history;
use crate::common::checks::check_positive;
use crate::common::fences::DiffFence;
use crate::common::order_stats::RollingOrderStats;
use crate::common::score_severity::fence_severity;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};

crate::detector::params_newtype!(
    /// Unchecked parameters of [`LevelShift`].
    ///
    /// ```
    /// use aiops_detect::{Detector, ParamGuard, LevelShiftParams};
    /// let det = LevelShiftParams::new().window(5).history(20).check()?;
    /// let mut values: Vec<f64> = (0..60).map(|i| 10.0 + (i % 3) as f64).collect();
    /// values.extend((0..20).map(|i| 30.0 + (i % 3) as f64));
    /// let ts: Vec<i64> = (0..values.len() as i64).map(|i| i * 60_000).collect();
    /// let d = det.detect(&ts, &values)?;
    /// assert!(!d.is_anomaly[..60].iter().any(|&a| a));
    /// assert!(d.is_anomaly[60..70].iter().any(|&a| a));
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    LevelShiftParams => LevelShift
);

crate::detector::setters!(
    LevelShiftParams:
    window: usize, c: f64, history: usize, min_periods: Option<usize>, direction: Direction, fit:
    FitMode);

impl ParamGuard for LevelShiftParams {
    type Checked = LevelShift;

    fn check(&self) -> Result<LevelShift> {
        if self.0.window == 0 {
            return Err(DetectError::InvalidParameter {
                name: "window",
                reason: "must be at least 1 point".into(),
            });
        }
        check_positive("c", self.0.c)?;
        check_history(self.0.history, Some(self.0.min_periods()))?;
        Ok(self.0)
    }
}

/// Validated level-shift detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LevelShift {
    window: usize,
    c: f64,
    history: usize,
    min_periods: Option<usize>,
    direction: Direction,
    fit: FitMode,
}

impl Default for LevelShift {
    fn default() -> Self {
        Self {
            window: 10,
            c: 6.0,
            history: 500,
            min_periods: None,
            direction: Direction::Both,
            fit: FitMode::Rolling,
        }
    }
}

impl LevelShift {
    fn min_periods(&self) -> usize {
        self.min_periods.unwrap_or(self.history.min(100))
    }
}

crate::detector::describe!(
    LevelShift, LevelShiftParams, LevelShiftKernel.params => LevelShiftOnline, "level_shift",
    "level shift: median of the last window against the window before it",
    severity |config, score| fence_severity(score, config.c), "
    window: points in each compared window (default 10)
    c: fence in IQRs above Q3 of past differences (default 6)
    history: past differences kept for the fence (default 500)
    min_periods: differences before scoring starts (default min(100, history))
    direction: both | up | down (default both)
    fit: rolling | once (once: fence fitted on the first history values, then kept; default rolling)
"
);

impl Kernel for LevelShiftKernel {
    fn step(&mut self, _: TimestampMs, x: f64) -> PointScore {
        if let Some(out) = self.recent.push(x) {
            self.older.push(out);
        }
        if !self.older.is_full() {
            return PointScore::NEUTRAL;
        }
        let (Some(now), Some(before)) = (self.recent.stats().median(), self.older.stats().median())
        else {
            return PointScore::NEUTRAL;
        };
        let p = self.params;
        let Some(v) = self.fence.judge_and_learn(now - before, p.c, p.direction) else {
            return PointScore::NEUTRAL;
        };
        v.around(before, p.direction)
    }

    fn new(params: &LevelShift) -> Self {
        let params = *params;
        Self {
            params,
            recent: RollingOrderStats::new(params.window),
            older: RollingOrderStats::new(params.window),
            fence: DiffFence::new(params.history, params.min_periods(), params.fit),
        }
    }
}

/// The per-point state of [`LevelShift`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelShiftKernel {
    params: LevelShift,
    /// The last `window` points.
    recent: RollingOrderStats,
    /// The `window` points before them.
    older: RollingOrderStats,
    fence: DiffFence,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::prelude::*;
    use crate::common::testing::{
        assert_once_flags_more_late, flagged_around, noise, refused, run, stepping_then_louder,
    };

    #[test]
    fn fit_once_freezes_the_fence_and_streams_alike() {
        let p = LevelShiftParams::new().history(200);
        let once = p.clone().fit(FitMode::Once).check().unwrap();
        assert_once_flags_more_late(&once, &p.check().unwrap(), &stepping_then_louder());
    }

    #[test]
    fn flags_level_changes_not_spikes() {
        // Up by 4 at 1000, back down at 2000.
        let mut v: Vec<f64> = noise(3000, 7).iter().map(|x| 100.0 + x).collect();
        for x in &mut v[1000..2000] {
            *x += 4.0;
        }
        // Spikes, even in a pair, do not move a 10-point median much.
        v[600] += 50.0;
        v[1500] -= 50.0;
        v[1501] -= 50.0;
        let ts: Vec<i64> = (0..v.len() as i64).map(|i| i * 1000).collect();
        let det = LevelShiftParams::new().check().unwrap();
        let d = det.detect(&ts, &v).unwrap();
        let (up, down) = flagged_around(&d, 1500);
        // Flagged from about w/2 after the change to about 3w/2 after it.
        assert!(up.iter().all(|&i| (1003..1016).contains(&i)), "{up:?}");
        assert!(down.iter().all(|&i| (2003..2016).contains(&i)), "{down:?}");
        assert!(
            d.scores[..2 * 10 - 1 + 100].iter().all(|&s| s == 0.0),
            "warm-up"
        );
        assert!((d.expected[1010] - 100.0).abs() < 1.0);
        let only_up = run(LevelShiftParams::new().direction(Direction::Up), &ts, &v);
        assert!(only_up.is_anomaly[1003..1016].iter().any(|&a| a));
        assert!(!only_up.is_anomaly[2000..].iter().any(|&a| a));
        assert!(only_up.lower[1010].is_nan() && !only_up.upper[1010].is_nan());
    }

    #[test]
    fn matches_the_definition() {
        let v: Vec<f64> = noise(400, 3).iter().map(|x| (8.0 * x).round()).collect();
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let (w, h) = (4, 30);
        let det = LevelShiftParams::new()
            .window(w)
            .history(h)
            .c(1.0)
            .check()
            .unwrap();
        let d = det.detect(&ts, &v).unwrap();
        let median = |s: &[f64]| {
            let mut s = s.to_vec();
            s.sort_by(f64::total_cmp);
            (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0
        };
        let diff = |t: usize| median(&v[t + 1 - w..=t]) - median(&v[t + 1 - 2 * w..=t - w]);
        let first = 2 * w - 1;
        for t in first + h..v.len() {
            let mut past: Vec<f64> = (t - h..t).map(|u| diff(u).abs()).collect();
            past.sort_by(f64::total_cmp);
            // (h - 1) × 0.25 = 7.25 and × 0.75 = 21.75: interpolated quartiles.
            let q1 = past[7] + 0.25 * (past[8] - past[7]);
            let q3 = past[21] + 0.75 * (past[22] - past[21]);
            let fence = q3 + (q3 - q1);
            assert_eq!(d.is_anomaly[t], diff(t).abs() > fence, "t={t}");
            assert!((d.upper[t] - (median(&v[t + 1 - 2 * w..=t - w]) + fence)).abs() < 1e-9);
        }
    }

    #[test]
    fn bad_params() {
        assert!(refused(LevelShiftParams::new().window(0)));
        assert!(refused(LevelShiftParams::new().c(0.0)));
        assert!(refused(LevelShiftParams::new().c(f64::NAN)));
        assert!(refused(LevelShiftParams::new().history(3)));
        assert!(refused(LevelShiftParams::new().history(10).min_periods(11)));
        assert_eq!(
            LevelShiftParams::new()
                .history(10)
                .check()
                .unwrap()
                .min_periods(),
            10
        );
    }
}
