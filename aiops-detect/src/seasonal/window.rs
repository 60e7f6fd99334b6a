//! The trailing window shared by the seasonal-forecast detectors (`stl`, `seasonal_esd`): the
//! values, the period search on the first window, the forecast of the last decomposition, and
//! the filling of gaps so that a gap never shifts the seasonal phase.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::common::cadence::interpolate;
use crate::common::period::detect_period;
use crate::detector::PointScore;
use crate::error::{DetectError, Result};
use crate::seasonal::stl::{MIN_WINDOW, SeasonalForecast, decompose_window};

/// Cycles in the default window.
const DEFAULT_CYCLES: usize = 8;
/// The default refit interval is the window divided by this.
const REFITS_PER_WINDOW: usize = 16;

/// Checks a given `period`: at least 2 points.
pub(crate) fn check_period(period: Option<usize>) -> Result<()> {
    if let Some(p) = period
        && p < 2
    {
        return Err(DetectError::InvalidParameter {
            name: "period",
            reason: format!("must be at least 2 points, got {p}"),
        });
    }
    Ok(())
}

/// Checks a given `window`: at least [`MIN_WINDOW`] points, and two periods when `period` is
/// given.
pub(crate) fn check_window(period: Option<usize>, window: Option<usize>) -> Result<()> {
    if let Some(w) = window {
        let least = period.map_or(MIN_WINDOW, |p| (2 * p).max(MIN_WINDOW));
        if w < least {
            return Err(DetectError::InvalidParameter {
                name: "window",
                reason: match period {
                    Some(p) => format!(
                        "must hold two periods and {MIN_WINDOW} points: at least {least} for a period of {p}, got {w}"
                    ),
                    None => format!("must be at least {MIN_WINDOW} points, got {w}"),
                },
            });
        }
    }
    Ok(())
}

/// Everything that depends on the period, fixed once it is known.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Plan {
    /// The period, points (`None`: non-seasonal).
    pub(crate) period: Option<usize>,
    /// Points decomposed.
    pub(crate) window: usize,
    /// Points between decompositions (`seasonal_esd` called it `hop`).
    #[serde(alias = "hop")]
    pub(crate) refit_every: usize,
    /// Scored points needed before flagging (`seasonal_esd`: `min_residuals`).
    #[serde(alias = "min_residuals")]
    pub(crate) min_errors: usize,
}

impl Plan {
    /// The plan once the period is known (`None`: non-seasonal), from the `window` and
    /// `refit_every` parameters or their defaults: 8 cycles but at least `floor` points
    /// (`nonseasonal` points without a period), and 16 refits a window. Scoring waits for
    /// `max(min_errors, period)` errors, at most a window.
    pub(crate) fn new(
        period: Option<usize>,
        window: Option<usize>,
        refit_every: Option<usize>,
        floor: usize,
        nonseasonal: usize,
        min_errors: usize,
    ) -> Self {
        let window = window.unwrap_or(match period {
            Some(p) => (DEFAULT_CYCLES * p).max(floor),
            None => nonseasonal,
        });
        Plan {
            period,
            window,
            refit_every: refit_every.unwrap_or((window / REFITS_PER_WINDOW).max(1)),
            min_errors: period.unwrap_or(0).max(min_errors).min(window),
        }
    }
}

/// The window, the last fit's forecast and the points since it. Flattened into the kernels'
/// serde form, which stays that of 0.1.0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ForecastWindow {
    /// `None` while the first window is searched for a period.
    pub(crate) plan: Option<Plan>,
    /// Values for STL, flagged ones clipped to their bounds, gaps filled.
    values: VecDeque<f64>,
    forecast: Option<SeasonalForecast>,
    /// Points since the last fit.
    age: usize,
}

impl ForecastWindow {
    /// An empty window, with the plan when the period is given.
    pub(crate) fn new(plan: Option<Plan>) -> Self {
        Self {
            plan,
            values: VecDeque::new(),
            forecast: None,
            age: 0,
        }
    }

    /// The period in use, points: `None` while it is being searched for or when the series
    /// was found non-seasonal.
    pub(crate) fn period(&self) -> Option<usize> {
        self.plan.and_then(|p| p.period)
    }

    /// What joins the window for a scored point: a flagged point clipped to the edge of its
    /// normal range. A spike then cannot bend the next fits (and come back one cycle later as
    /// a false alarm), while a lasting shift still pulls the fit, by the clipped amount,
    /// until it is followed.
    pub(crate) fn kept(x: f64, out: &PointScore) -> f64 {
        match (out.is_anomaly, out.lower, out.upper) {
            (true, Some(lo), Some(hi)) => x.clamp(lo, hi),
            _ => x,
        }
    }

    /// The forecast of the next point, once there is a fit, with the plan.
    pub(crate) fn expected(&self) -> Option<(f64, Plan)> {
        match (&self.forecast, self.plan) {
            (Some(f), Some(plan)) => Some((f.value(self.age + 1), plan)),
            _ => None,
        }
    }

    /// Appends a value. Once the first `search` values are in without a period, searches
    /// them for one and fixes the plan with `plan_of`. Returns the plan when a decomposition
    /// is due: the window is full and there is no fit yet, or `refit_every` points passed.
    pub(crate) fn push(
        &mut self,
        kept: f64,
        search: usize,
        plan_of: impl Fn(Option<usize>) -> Plan,
    ) -> Option<Plan> {
        let capacity = self.plan.map_or(search, |p| p.window);
        if self.values.len() >= capacity {
            self.values.pop_front();
        }
        self.values.push_back(kept);
        self.age += 1;
        if self.plan.is_none() && self.values.len() == capacity {
            let plan = plan_of(detect_period(self.values.make_contiguous(), None));
            while self.values.len() > plan.window {
                self.values.pop_front();
            }
            self.plan = Some(plan);
        }
        self.plan.filter(|plan| {
            self.values.len() == plan.window
                && (self.forecast.is_none() || self.age >= plan.refit_every)
        })
    }

    /// Decomposes the window and keeps the forecast (unchanged when the window cannot be
    /// decomposed).
    pub(crate) fn refit(&mut self, plan: Plan, robust: bool) {
        if let Some(d) = decompose_window(self.values.make_contiguous(), plan.period, robust) {
            self.forecast = Some(SeasonalForecast::new(&d, plan.period));
            self.age = 0;
        }
    }

    /// The stand-ins for `missing` slots before the value `x`, to push (never scored) one
    /// after the other: a straight line from the last value to `x`, where [`Self::stand_in`]
    /// has no forecast. Past a whole window only the remainder modulo the period is filled:
    /// the window then holds stand-ins only, in phase.
    pub(crate) fn gap(&self, missing: usize, x: f64, search: usize) -> impl Iterator<Item = f64> {
        let capacity = self.plan.map_or(search, |p| p.window);
        let period = self.plan.and_then(|p| p.period).unwrap_or(1).max(1);
        let n = if missing > capacity {
            capacity + (missing - capacity) % period
        } else {
            missing
        };
        interpolate(self.values.back().copied().unwrap_or(x), x, n)
    }

    /// What a missing slot holds: the forecast once there is a fit, else `line`.
    pub(crate) fn stand_in(&self, line: f64) -> f64 {
        self.expected()
            .map(|(e, _)| e)
            .filter(|e| e.is_finite())
            .unwrap_or(line)
    }
}

/// Pushes the stand-ins for the `missing` slots before the value `x` into `kernel`'s window
/// (`window` finds it, `keep` pushes a value) one after the other, each from the state the
/// previous one left; `search` is the window searched for a period.
pub(crate) fn fill_gap<K>(
    kernel: &mut K,
    missing: usize,
    x: f64,
    search: usize,
    window: fn(&K) -> &ForecastWindow,
    keep: fn(&mut K, f64),
) {
    for line in window(kernel).gap(missing, x, search).collect::<Vec<_>>() {
        let kept = window(kernel).stand_in(line);
        keep(kernel, kept);
    }
}
