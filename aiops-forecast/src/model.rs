//! The model API: an unfitted model fits a history into a fitted model, which predicts.
//! Predicting before fitting does not compile.

use aiops_core::{Forecast, ForecastInterval, TimestampMs};
use statrs::distribution::{ContinuousCDF, Normal};

use crate::error::{ForecastError, Result};

/// A forecasting method with its settings, not yet fitted.
pub trait Model {
    /// The fitted model.
    type Fitted: FittedModel;
    /// Fits the model to `history` (finite values, oldest first, evenly spaced).
    fn fit(&self, history: &[f64]) -> Result<Self::Fitted>;
}

/// A fitted model.
pub trait FittedModel {
    /// Point forecasts and intervals for the next `horizon` steps, at each level in `levels`
    /// (percent, in (0, 100)).
    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction>;
}

/// Fits `model` to `history` and predicts `horizon` steps at `levels`, both of which must work.
#[cfg(test)]
pub(crate) fn fit_predict(
    model: &impl Model,
    history: &[f64],
    horizon: usize,
    levels: &[f64],
) -> Prediction {
    model
        .fit(history)
        .unwrap()
        .predict(horizon, levels)
        .unwrap()
}

/// Forecast values without timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Point forecast per step.
    pub mean: Vec<f64>,
    /// One interval per requested level.
    pub intervals: Vec<ForecastInterval>,
}

impl Prediction {
    /// Attaches timestamps: step `h` (1-based) is at `last + h * step_ms`.
    pub fn into_forecast(self, last: TimestampMs, step_ms: i64) -> Forecast {
        let timestamps = (1..=self.mean.len() as i64)
            .map(|h| last + h * step_ms)
            .collect();
        Forecast {
            timestamps,
            mean: self.mean,
            intervals: self.intervals,
        }
    }

    /// Builds a prediction with normal intervals `mean ± z * sd[h]`.
    pub(crate) fn normal(mean: Vec<f64>, sd: &[f64], levels: &[f64]) -> Result<Self> {
        let std_normal = Normal::standard();
        let intervals = levels
            .iter()
            .map(|&level| {
                check_level(level)?;
                let z = std_normal.inverse_cdf(0.5 + level / 200.0);
                Ok(ForecastInterval {
                    level,
                    lower: mean.iter().zip(sd).map(|(m, s)| m - z * s).collect(),
                    upper: mean.iter().zip(sd).map(|(m, s)| m + z * s).collect(),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self { mean, intervals })
    }
}

impl Prediction {
    /// Builds a prediction from simulated sample paths (`paths[k][h]`): each interval is the
    /// pair of empirical quantiles `(1 - level) / 2` and `(1 + level) / 2` of the paths at
    /// each step.
    pub(crate) fn from_paths(mean: Vec<f64>, paths: &[Vec<f64>], levels: &[f64]) -> Result<Self> {
        for &l in levels {
            check_level(l)?;
        }
        let h = mean.len();
        let mut intervals: Vec<ForecastInterval> = levels
            .iter()
            .map(|&level| ForecastInterval {
                level,
                lower: Vec::with_capacity(h),
                upper: Vec::with_capacity(h),
            })
            .collect();
        let mut col = Vec::with_capacity(paths.len());
        for step in 0..h {
            col.clear();
            col.extend(paths.iter().map(|p| p[step]).filter(|v| v.is_finite()));
            col.sort_by(f64::total_cmp);
            for iv in &mut intervals {
                let a = (1.0 - iv.level / 100.0) / 2.0;
                let lo = crate::stats::quantile_sorted(&col, a);
                let hi = crate::stats::quantile_sorted(&col, 1.0 - a);
                // Sampling noise must not push the bounds past the point forecast.
                iv.lower.push(lo.min(mean[step]));
                iv.upper.push(hi.max(mean[step]));
            }
        }
        Ok(Self { mean, intervals })
    }

    /// Applies a monotone increasing transform to the mean and every bound (used to undo a
    /// log or Box-Cox transform: quantiles map to quantiles).
    pub(crate) fn map(mut self, f: impl Fn(f64) -> f64) -> Self {
        self.mean.iter_mut().for_each(|v| *v = f(*v));
        for iv in &mut self.intervals {
            iv.lower.iter_mut().for_each(|v| *v = f(*v));
            iv.upper.iter_mut().for_each(|v| *v = f(*v));
        }
        self
    }

    /// Adds `offset[h]` to the mean and every bound at step h.
    pub(crate) fn shift(mut self, offset: &[f64]) -> Self {
        let add = |col: &mut Vec<f64>| col.iter_mut().zip(offset).for_each(|(v, o)| *v += o);
        add(&mut self.mean);
        for iv in &mut self.intervals {
            add(&mut iv.lower);
            add(&mut iv.upper);
        }
        self
    }

    /// Multiplies the mean and every bound at step h by `factor[h]` (> 0).
    pub(crate) fn scale(mut self, factor: &[f64]) -> Self {
        let mul = |col: &mut Vec<f64>| col.iter_mut().zip(factor).for_each(|(v, o)| *v *= o);
        mul(&mut self.mean);
        for iv in &mut self.intervals {
            mul(&mut iv.lower);
            mul(&mut iv.upper);
        }
        self
    }

    /// The interval at `level`, if it was requested.
    pub fn interval(&self, level: f64) -> Option<&ForecastInterval> {
        self.intervals
            .iter()
            .find(|iv| (iv.level - level).abs() < 1e-9)
    }
}

pub(crate) fn check_level(level: f64) -> Result<()> {
    if level > 0.0 && level < 100.0 {
        Ok(())
    } else {
        Err(ForecastError::InvalidParameter {
            name: "level",
            reason: format!("must be in (0, 100) percent, got {level}"),
        })
    }
}

/// Checks a history: finite values, at least `needed` of them.
pub(crate) fn check_history(history: &[f64], needed: usize) -> Result<()> {
    if history.len() < needed {
        return Err(ForecastError::NotEnoughData {
            needed,
            got: history.len(),
        });
    }
    if let Some(i) = history.iter().position(|v| !v.is_finite()) {
        return Err(aiops_core::CoreError::NonFinite {
            index: i,
            timestamp: i as TimestampMs,
            value: history[i],
        }
        .into());
    }
    Ok(())
}

pub(crate) fn check_horizon(horizon: usize) -> Result<()> {
    at_least_one_step("horizon", horizon)
}

/// Refuses 0 for a count of steps (a horizon, a seasonal period).
pub(crate) fn at_least_one_step(name: &'static str, steps: usize) -> Result<()> {
    if steps == 0 {
        return Err(ForecastError::InvalidParameter {
            name,
            reason: "must be at least 1 step".into(),
        });
    }
    Ok(())
}
