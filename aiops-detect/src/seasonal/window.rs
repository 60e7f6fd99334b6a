//! The trailing window shared by the seasonal-forecast detectors (`stl`, `seasonal_esd`): the
//! values, the period search on the first window, the forecast of the last decomposition, and
//! the filling of gaps so that a gap never shifts the seasonal phase.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::common::cadence::interpolate;
use crate::common::period::detect_period;
use crate::detector::PointScore;
use crate::seasonal::stl::{SeasonalForecast, decompose_window};

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
