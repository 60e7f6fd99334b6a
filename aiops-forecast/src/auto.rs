//! `auto`, the default model: a combination of several models fitted to the same series.
//!
//! Members (each only when it can be fitted; at least one must be): MSTL on log values over the
//! given periods, AutoETS with the first period, the optimised Theta, and seasonal naive.
//! The point forecast is the per-step median of the members' forecasts (robust to one member
//! going astray, which matters more than any single model's accuracy across a fleet: M4
//! showed combinations winning). Intervals average the members' bounds level by level
//! (quantile averaging, "Vincentization"), which keeps them ordered and calibrated when
//! the members are.

use crate::auto_ets::AutoEts;
use crate::error::{ForecastError, Result};
use crate::model::{FittedModel, Model, Prediction, check_history, check_horizon};
use crate::mstl::Mstl;
use crate::naive::SeasonalNaive;
use crate::registry::BoxedFitted;
use crate::theta::{Theta, ThetaKind};

/// The default combination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auto {
    periods: Vec<usize>,
}

impl Auto {
    /// Combination for `periods` (steps; empty = non-seasonal).
    pub fn new(periods: &[usize]) -> Result<Self> {
        if let Some(p) = periods.iter().find(|p| **p == 0) {
            return Err(ForecastError::InvalidParameter {
                name: "period",
                reason: format!("must be at least 1 step, got {p}"),
            });
        }
        Ok(Self {
            periods: periods.iter().copied().filter(|p| *p >= 2).collect(),
        })
    }
}

/// A fitted [`Auto`].
pub struct FittedAuto {
    members: Vec<(&'static str, BoxedFitted)>,
}

impl std::fmt::Debug for FittedAuto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FittedAuto")
            .field("members", &self.member_names())
            .finish()
    }
}

impl FittedAuto {
    /// Names of the models in the combination.
    pub fn member_names(&self) -> Vec<&'static str> {
        self.members.iter().map(|(n, _)| *n).collect()
    }
}

impl Model for Auto {
    type Fitted = FittedAuto;

    /// Needs 5 finite points; members that cannot fit the series are left out.
    fn fit(&self, history: &[f64]) -> Result<FittedAuto> {
        check_history(history, 5)?;
        let first = self.periods.first().copied().unwrap_or(1);
        let mut members: Vec<(&'static str, BoxedFitted)> = Vec::new();
        let mut last_err = None;
        let mut add = |name: &'static str, r: Result<BoxedFitted>| match r {
            Ok(f) => members.push((name, f)),
            Err(e) => last_err = Some(e),
        };
        fn b<F: FittedModel + Send + Sync + 'static>(r: Result<F>) -> Result<BoxedFitted> {
            r.map(|f| Box::new(f) as BoxedFitted)
        }
        add("mstl-log", b(Mstl::new(&self.periods).map(|m| m.log(true)).and_then(|m| m.fit(history))));
        add("ets", b(AutoEts::new(first).and_then(|m| m.fit(history))));
        add("otm", b(Theta::new(first, ThetaKind::Optimized).and_then(|m| m.fit(history))));
        if first >= 2 {
            add("snaive", b(SeasonalNaive::new(first).and_then(|m| m.fit(history))));
        }
        if members.is_empty() {
            return Err(last_err.unwrap_or(ForecastError::FitFailed {
                model: "auto",
                reason: "no member could be fitted".into(),
            }));
        }
        Ok(FittedAuto { members })
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

impl FittedModel for FittedAuto {
    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction> {
        check_horizon(horizon)?;
        let preds: Vec<Prediction> = self
            .members
            .iter()
            .map(|(_, m)| m.predict(horizon, levels))
            .collect::<Result<_>>()?;
        let k = preds.len() as f64;
        let mut buf = Vec::with_capacity(preds.len());
        let mean: Vec<f64> = (0..horizon)
            .map(|h| {
                buf.clear();
                buf.extend(preds.iter().map(|p| p.mean[h]));
                median(&mut buf)
            })
            .collect();
        let mut out = Prediction {
            mean,
            intervals: preds[0].intervals.clone(),
        };
        for (i, iv) in out.intervals.iter_mut().enumerate() {
            for h in 0..horizon {
                let lo = preds.iter().map(|p| p.intervals[i].lower[h]).sum::<f64>() / k;
                let hi = preds.iter().map(|p| p.intervals[i].upper[h]).sum::<f64>() / k;
                iv.lower[h] = lo.min(out.mean[h]);
                iv.upper[h] = hi.max(out.mean[h]);
            }
        }
        Ok(out)
    }
}
