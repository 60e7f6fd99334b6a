//! Volatility shift: the standard deviation of the last `window` points against that of the
//! `window` points before them, as ADTK's `VolatilityShiftAD` (with its default `agg="std"`),
//! made causal.
//!
//! At each point `t`, `d = ln(σ_recent / σ_older)`, the log ratio of the sample standard
//! deviations of the two adjacent windows. As in ADTK, `d` is flagged when `|d|` exceeds the
//! upper Tukey fence `Q3 + c × IQR` of `|d|` over past values and its sign matches
//! `direction` (`up`: volatility rising); here "past" is the previous `history` values, so the
//! detector is causal and its memory bounded; `c` defaults to ADTK's 6. So `c` is not a ratio
//! of standard deviations: the fence is learnt from how much adjacent windows' σ normally
//! differ on this series.
//!
//! ADTK compares the relative change `(σ_recent - σ_older) / σ_older` instead. For small
//! changes the two agree (`ln(1 + r) ≈ r`), but the relative change of a drop never reaches 1
//! (σ falling ninefold gives 0.89, rising ninefold gives 8), so a fence learnt on rises can
//! never flag a drop; the log ratio is symmetric (±2.2 for both), which makes `direction =
//! down` and `both` meaningful.
//!
//! σ is floored at 1e-12 × (1 + |mean|): a flat older window followed by movement gives a
//! large but finite `d` (about 28 for a σ of the order of the mean); two flat windows give
//! `d = 0`.
//!
//! Score: `(|d| - fence) / IQR` of the history (0 when not flagged). There is no expected
//! value or range for the point itself: `expected`, `lower` and `upper` are empty.
//!
//! Cost per point: O(1) for the two standard deviations (running sums, see
//! `windowed_gaussian`) plus O(log h) for the fence (an order-statistic window over the
//! history); O(w + h) memory.

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::common::Direction;
use crate::common::FitMode;
use crate::common::checks::check_history;
use crate::common::checks::check_min_points;
use crate::common::checks::check_positive;
use crate::common::fences::DiffFence;
use crate::common::moments::RollingMoments;
use crate::common::score_severity::fence_severity;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::Result;

crate::detector::params_newtype!(
    /// Unchecked parameters of [`VolatilityShift`].
    ///
    /// ```
    /// use aiops_detect::{Detector, ParamGuard, VolatilityShiftParams};
    /// let det = VolatilityShiftParams::new().window(6).history(20).check()?;
    /// let mut values: Vec<f64> = (0..80).map(|i| 10.0 + [0.0, 1.0, -1.0][i % 3]).collect();
    /// values.extend((0..20).map(|i| 10.0 + [0.0, 8.0, -8.0][i % 3]));
    /// let ts: Vec<i64> = (0..values.len() as i64).map(|i| i * 60_000).collect();
    /// let d = det.detect(&ts, &values)?;
    /// assert!(!d.is_anomaly[..80].iter().any(|&a| a));
    /// assert!(d.is_anomaly[80..86].iter().any(|&a| a));
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    VolatilityShiftParams => VolatilityShift
);

crate::detector::setters!(
    VolatilityShiftParams:
    window: usize, c: f64, history: usize, min_periods: Option<usize>, direction: Direction, fit:
    FitMode);

impl ParamGuard for VolatilityShiftParams {
    type Checked = VolatilityShift;

    fn check(&self) -> Result<VolatilityShift> {
        check_min_points("window", self.0.window, 2)?;
        check_positive("c", self.0.c)?;
        check_history(self.0.history, Some(self.0.min_periods()))?;
        Ok(self.0)
    }
}

/// Validated volatility-shift detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VolatilityShift {
    window: usize,
    c: f64,
    history: usize,
    min_periods: Option<usize>,
    direction: Direction,
    fit: FitMode,
}

impl Default for VolatilityShift {
    fn default() -> Self {
        Self {
            window: 30,
            c: 6.0,
            history: 500,
            min_periods: None,
            direction: Direction::Both,
            fit: FitMode::Rolling,
        }
    }
}

impl VolatilityShift {
    fn min_periods(&self) -> usize {
        self.min_periods.unwrap_or(self.history.min(100))
    }
}

crate::detector::describe!(
    VolatilityShift, VolatilityShiftParams, VolatilityShiftKernel.params => VolatilityShiftOnline, "volatility_shift",
    "volatility shift: log ratio of the standard deviations of two adjacent windows",
    severity |config, score| fence_severity(score, config.c), "
    window: points in each compared window (default 30)
    c: fence in IQRs (default 6)
    history: past ratios kept for the fence (default 500)
    min_periods: ratios before scoring starts (default min(100, history))
    direction: both | up | down (default both)
    fit: rolling | once (once: fence fitted on the first history values, then kept; default rolling)
"
);

impl Kernel for VolatilityShiftKernel {
    fn step(&mut self, _: TimestampMs, x: f64) -> PointScore {
        if let Some(out) = self.recent.push(x) {
            self.older.push(out);
        }
        if self.older.len() < self.params.window {
            return PointScore::NEUTRAL;
        }
        let now = self.recent.std_floored(1);
        let before = self.older.std_floored(1);
        let d = (now / before).ln().clamp(-f64::MAX, f64::MAX);
        let p = self.params;
        match self.fence.judge_and_learn(d, p.c, p.direction) {
            Some(v) => PointScore {
                score: v.score,
                is_anomaly: v.flagged,
                ..PointScore::NEUTRAL
            },
            None => PointScore::NEUTRAL,
        }
    }

    fn new(params: &VolatilityShift) -> Self {
        let params = *params;
        Self {
            params,
            recent: RollingMoments::new(params.window),
            older: RollingMoments::new(params.window),
            fence: DiffFence::new(params.history, params.min_periods(), params.fit),
        }
    }
}

/// The per-point state of [`VolatilityShift`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolatilityShiftKernel {
    params: VolatilityShift,
    recent: RollingMoments,
    older: RollingMoments,
    fence: DiffFence,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::prelude::*;
    use crate::common::testing::{
        assert_once_flags_more_late, flagged, flagged_around, noise, refused, run,
    };

    #[test]
    fn fit_once_freezes_the_fence_and_streams_alike() {
        // Steady noise first, then its amplitude switching between 1 and 10 every 50 points:
        // a rolling fence learns that switching is the new normal, a fence fitted once keeps
        // judging by the steady start.
        let mut s: u64 = 3;
        let v: Vec<f64> = (0..3000)
            .map(|i| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let u = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                let amp = if i >= 1500 && (i / 50) % 2 == 1 {
                    10.0
                } else {
                    1.0
                };
                amp * u
            })
            .collect();
        let p = VolatilityShiftParams::new().history(200);
        let once = p.clone().fit(FitMode::Once).check().unwrap();
        assert_once_flags_more_late(&once, &p.check().unwrap(), &v);
    }

    fn sample_std(s: &[f64]) -> f64 {
        let m = s.iter().sum::<f64>() / s.len() as f64;
        (s.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (s.len() - 1) as f64).sqrt()
    }

    #[test]
    fn flags_volatility_rises_and_drops() {
        // Noise amplitude ×5 from 1000 to 2000. (A level step of several σ would be flagged
        // too, as in ADTK: a window straddling it has a large σ.)
        let n = noise(3000, 7);
        let v: Vec<f64> = (0..3000)
            .map(|i| {
                let amp = if (1000..2000).contains(&i) { 5.0 } else { 1.0 };
                50.0 + amp * n[i]
            })
            .collect();
        let ts: Vec<i64> = (0..v.len() as i64).map(|i| i * 1000).collect();
        let det = VolatilityShiftParams::new().check().unwrap();
        let d = det.detect(&ts, &v).unwrap();
        let (up, down) = flagged_around(&d, 1500);
        assert!(up.iter().all(|&i| (1000..1060).contains(&i)), "{up:?}");
        assert!(down.iter().all(|&i| (2000..2060).contains(&i)), "{down:?}");
        assert!(d.expected.iter().all(|x| x.is_nan()));
        // A volatility drop is a negative change: an up-only detector ignores it.
        let only_up = run(
            VolatilityShiftParams::new().direction(Direction::Up),
            &ts,
            &v,
        );
        assert_eq!(flagged(&only_up), up);
    }

    #[test]
    fn matches_the_definition() {
        let v: Vec<f64> = noise(300, 3).iter().map(|x| 1e4 + 8.0 * x).collect();
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let (w, h) = (5, 12);
        let det = VolatilityShiftParams::new()
            .window(w)
            .history(h)
            .c(0.5)
            .check()
            .unwrap();
        let d = det.detect(&ts, &v).unwrap();
        let diff =
            |t: usize| (sample_std(&v[t + 1 - w..=t]) / sample_std(&v[t + 1 - 2 * w..=t - w])).ln();
        let first = 2 * w - 1;
        let mut checked = 0;
        for t in first + h..v.len() {
            let mut past: Vec<f64> = (t - h..t).map(|u| diff(u).abs()).collect();
            past.sort_by(f64::total_cmp);
            // (h - 1) × 0.25 = 2.75 and × 0.75 = 8.25.
            let q1 = past[2] + 0.75 * (past[3] - past[2]);
            let q3 = past[8] + 0.25 * (past[9] - past[8]);
            let fence = q3 + 0.5 * (q3 - q1);
            // Running sums and direct sums may differ in the last bits: skip near-ties.
            if (diff(t).abs() - fence).abs() > 1e-9 {
                assert_eq!(d.is_anomaly[t], diff(t).abs() > fence, "t={t}");
                checked += 1;
            }
        }
        assert!(checked > 250);
    }

    #[test]
    fn flat_windows_are_quiet() {
        // Flat, a burst of movement, flat again at another value: flat-to-flat is no change.
        let mut v = vec![5.0; 300];
        for (i, x) in v.iter_mut().enumerate().skip(200).take(20) {
            *x = 5.0 + (i % 3) as f64;
        }
        for x in &mut v[220..] {
            *x = 7.25;
        }
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let d = run(
            VolatilityShiftParams::new()
                .window(5)
                .history(50)
                .min_periods(20),
            &ts,
            &v,
        );
        assert!(d.scores.iter().all(|s| s.is_finite()));
        assert!(d.is_anomaly[200..206].iter().any(|&a| a), "flat to moving");
        assert!(!d.is_anomaly[240..].iter().any(|&a| a), "flat to flat");
    }

    #[test]
    fn bad_params() {
        assert!(refused(VolatilityShiftParams::new().window(1)));
        assert!(refused(VolatilityShiftParams::new().c(-1.0)));
        assert!(refused(VolatilityShiftParams::new().c(f64::INFINITY)));
        assert!(refused(VolatilityShiftParams::new().history(3)));
        assert!(refused(
            VolatilityShiftParams::new().history(10).min_periods(3)
        ));
    }
}
