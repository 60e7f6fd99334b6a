//! Persist: deviation of each point from the median (or mean) of the `window` points before
//! it, as ADTK's `PersistAD`, made causal.
//!
//! At each point `t`, `d = x_t - agg(x[t-w..t])`, where `agg` is the median (ADTK's default)
//! or the mean and `w = 1` (the default) makes it the change from the previous value. As in
//! ADTK, `d` is flagged when `|d|` exceeds the upper Tukey fence `Q3 + c × IQR` of `|d|` over
//! past values and its sign matches `direction`; here "past" is the previous `history` values,
//! so the detector is causal and its memory bounded; `c` defaults to ADTK's 3. The scale is
//! learnt from how much the series normally moves from one point to the next, so a jump is
//! judged against the series' own step sizes, whatever its level.
//!
//! With `w = 1` a one-point spike gives two large steps, up then back down: with `direction =
//! both` the point after the spike is flagged too (as in ADTK); `up` keeps only the rise.
//!
//! Score: `(|d| - fence) / IQR` of the history (0 when not flagged), IQR floored at
//! 1e-12 × (1 + its median). `expected` is `agg` of the window; `lower` / `upper` are
//! `expected ∓ fence`.
//!
//! Cost per point: O(log w + log h) time with the median (order-statistic windows), O(1) +
//! O(log h) with the mean; O(w + h) memory.

use std::str::FromStr;

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::common::Direction;
use crate::common::FitMode;
use crate::common::checks::check_history;
use crate::common::checks::check_positive;
use crate::common::fences::DiffFence;
use crate::common::moments::RollingMoments;
use crate::common::order_stats::RollingOrderStats;
use crate::common::score_severity::fence_severity;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};

crate::detector::params_newtype!(
    /// Unchecked parameters of [`Persist`].
    ///
    /// ```
    /// use aiops_detect::{Detector, ParamGuard, PersistParams};
    /// let det = PersistParams::new().history(20).check()?;
    /// // A slow ramp with small wiggles, then a jump.
    /// let mut values: Vec<f64> = (0..50).map(|i| i as f64 + 0.3 * (i % 2) as f64).collect();
    /// values.push(80.0);
    /// let ts: Vec<i64> = (0..values.len() as i64).map(|i| i * 60_000).collect();
    /// let d = det.detect(&ts, &values)?;
    /// assert!(!d.is_anomaly[..50].iter().any(|&a| a));
    /// assert!(d.is_anomaly[50]);
    /// assert_eq!(d.expected[50], 49.3, "the previous value");
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    PersistParams => Persist
);

crate::detector::setters!(
    PersistParams:
    window: usize, c: f64, agg: Agg, history: usize, min_periods: Option<usize>, direction:
    Direction, fit: FitMode);

impl ParamGuard for PersistParams {
    type Checked = Persist;

    fn check(&self) -> Result<Persist> {
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

/// Validated persist detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Persist {
    window: usize,
    c: f64,
    agg: Agg,
    history: usize,
    min_periods: Option<usize>,
    direction: Direction,
    fit: FitMode,
}

impl Default for Persist {
    fn default() -> Self {
        Self {
            window: 1,
            c: 3.0,
            agg: Agg::Median,
            history: 500,
            min_periods: None,
            direction: Direction::Both,
            fit: FitMode::Rolling,
        }
    }
}

impl Persist {
    fn min_periods(&self) -> usize {
        self.min_periods.unwrap_or(self.history.min(100))
    }
}

crate::detector::describe!(
    Persist, PersistParams, PersistKernel.params => PersistOnline, "persist",
    "persist: deviation from the median or mean of the previous points",
    severity |config, score| fence_severity(score, config.c), "
    window: preceding points, 1 = the previous value (default 1)
    c: fence in IQRs (default 3)
    agg: median | mean (default median)
    history: past deviations kept for the fence (default 500)
    min_periods: deviations before scoring starts (default min(100, history))
    direction: both | up | down (default both)
    fit: rolling | once (once: fence fitted on the first history values, then kept; default rolling)
"
);

impl Kernel for PersistKernel {
    fn step(&mut self, _: TimestampMs, x: f64) -> PointScore {
        let w = self.params.window;
        let center = match &mut self.preceding {
            Preceding::Median(win) => {
                let c = if win.is_full() {
                    win.stats().median()
                } else {
                    None
                };
                win.push(x);
                c
            }
            Preceding::Mean(win) => {
                let c = (win.len() == w).then(|| win.mean());
                win.push(x);
                c
            }
        };
        let Some(center) = center else {
            return PointScore::NEUTRAL;
        };
        let p = self.params;
        let d = (x - center).clamp(-f64::MAX, f64::MAX);
        let Some(v) = self.fence.judge_and_learn(d, p.c, p.direction) else {
            return PointScore::NEUTRAL;
        };
        v.around(center, p.direction)
    }

    fn new(params: &Persist) -> Self {
        let params = *params;
        Self {
            params,
            preceding: match params.agg {
                Agg::Median => Preceding::Median(RollingOrderStats::new(params.window)),
                Agg::Mean => Preceding::Mean(RollingMoments::new(params.window)),
            },
            fence: DiffFence::new(params.history, params.min_periods(), params.fit),
        }
    }
}

/// How the preceding window is summarised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Agg {
    /// Median (robust to a spike in the window; ADTK's default).
    #[default]
    Median,
    /// Mean.
    Mean,
}

impl FromStr for Agg {
    type Err = DetectError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "median" => Ok(Agg::Median),
            "mean" => Ok(Agg::Mean),
            _ => Err(DetectError::InvalidParameter {
                name: "agg",
                reason: format!("{s:?} is not one of median, mean"),
            }),
        }
    }
}

/// The preceding window, kept as its summary needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Preceding {
    Median(RollingOrderStats),
    Mean(RollingMoments),
}

/// The per-point state of [`Persist`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersistKernel {
    params: Persist,
    preceding: Preceding,
    fence: DiffFence,
}

crate::detector::plain_set_arg!(Agg);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::prelude::*;
    use crate::common::testing::{
        assert_once_flags_more_late, flagged, noise, refused, run, stepping_then_louder,
    };

    #[test]
    fn fit_once_freezes_the_fence_and_streams_alike() {
        let p = PersistParams::new().history(200);
        let once = p.clone().fit(FitMode::Once).check().unwrap();
        assert_once_flags_more_late(&once, &p.check().unwrap(), &stepping_then_louder());
    }

    #[test]
    fn flags_jumps_on_a_moving_series() {
        // A slow wave (up to 0.063 per step) with noise: steps of up to ~2 are normal. A
        // spike at 800 and a step at 1500 are jumps of 12.
        let n = noise(3000, 7);
        let mut v: Vec<f64> = (0..3000)
            .map(|i| 100.0 + 20.0 * (i as f64 / 318.0).sin() + n[i])
            .collect();
        v[800] += 12.0;
        for x in &mut v[1500..] {
            *x += 12.0;
        }
        let ts: Vec<i64> = (0..v.len() as i64).map(|i| i * 1000).collect();
        let det = PersistParams::new().check().unwrap();
        let d = det.detect(&ts, &v).unwrap();
        // The spike's return is a jump too (ADTK's behaviour with window 1).
        assert_eq!(flagged(&d), [800, 801, 1500]);
        assert_eq!(d.expected[800], v[799]);
        assert!(d.scores[..101].iter().all(|&s| s == 0.0), "warm-up");
        let up = run(PersistParams::new().direction(Direction::Up), &ts, &v);
        assert_eq!(flagged(&up), [800, 1500]);
        // A median over 5 points shrugs the spike off for the following points.
        let med5 = run(PersistParams::new().window(5), &ts, &v);
        assert_eq!(flagged(&med5)[..1], [800]);
        assert!(!med5.is_anomaly[801]);
    }

    #[test]
    fn matches_the_definition_with_the_mean() {
        let v: Vec<f64> = noise(300, 3).iter().map(|x| (8.0 * x).round()).collect();
        let ts: Vec<i64> = (0..v.len() as i64).collect();
        let (w, h) = (3, 13);
        let det = PersistParams::new()
            .window(w)
            .agg(Agg::Mean)
            .history(h)
            .c(0.5)
            .check()
            .unwrap();
        let d = det.detect(&ts, &v).unwrap();
        let diff = |t: usize| v[t] - v[t - w..t].iter().sum::<f64>() / w as f64;
        let mut checked = 0;
        for t in w + h..v.len() {
            let mut past: Vec<f64> = (t - h..t).map(|u| diff(u).abs()).collect();
            past.sort_by(f64::total_cmp);
            // (h - 1) × 0.25 = 3 and × 0.75 = 9: the quartiles are order statistics.
            let fence = past[9] + 0.5 * (past[9] - past[3]);
            if (diff(t).abs() - fence).abs() > 1e-9 {
                assert_eq!(d.is_anomaly[t], diff(t).abs() > fence, "t={t}");
                checked += 1;
            }
        }
        assert!(checked > 200, "{checked}");
    }

    #[test]
    fn bad_params() {
        assert!(refused(PersistParams::new().window(0)));
        assert!(refused(PersistParams::new().c(0.0)));
        assert!(refused(PersistParams::new().history(2)));
        assert!(refused(PersistParams::new().history(10).min_periods(11)));
        assert!("mode".parse::<Agg>().is_err());
        assert_eq!("mean".parse::<Agg>().unwrap(), Agg::Mean);
        let p: PersistParams = serde_json::from_str(r#"{"agg": "mean", "window": 3}"#).unwrap();
        assert_eq!(p, PersistParams::new().agg(Agg::Mean).window(3));
        assert!(serde_json::from_str::<PersistParams>(r#"{"agg": "max"}"#).is_err());
    }
}
