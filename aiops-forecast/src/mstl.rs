//! MSTL (Bandara, Hyndman & Bergmeir 2021): the series is decomposed into several seasonal
//! components (e.g. daily 24 and weekly 168 on hourly data), a trend and a remainder with
//! `stlrs`; each seasonal component is forecast by repeating its last cycle, and the
//! seasonally adjusted series (trend + remainder) by a non-seasonal AutoETS.
//!
//! Periods with fewer than two full cycles in the history are dropped (documented fallback;
//! with none left the model is a plain non-seasonal AutoETS). With `log` set and positive
//! data, everything happens on `ln y`, which turns a multiplicative season into an additive
//! one; the forecast and its bounds are transformed back with `exp` (the bounds stay
//! quantiles, the point forecast becomes a median).
//!
//! Intervals: those of the AutoETS on the adjusted series, shifted by the seasonal forecast
//! (the seasonal components are treated as known).

use crate::auto_ets::{AutoEts, FittedAutoEts};
use crate::error::{ForecastError, Result};
use crate::model::{FittedModel, Model, Prediction, check_history, check_horizon};

/// MSTL decomposition with an ETS forecast of the adjusted series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mstl {
    periods: Vec<usize>,
    log: bool,
    damped_only: bool,
    seasonal_window: Option<usize>,
}

impl Mstl {
    /// MSTL over `periods` (each >= 2), no transform.
    pub fn new(periods: &[usize]) -> Result<Self> {
        if let Some(p) = periods.iter().find(|p| **p < 2) {
            return Err(ForecastError::InvalidParameter {
                name: "period",
                reason: format!("MSTL periods must be >= 2 steps, got {p}"),
            });
        }
        let mut periods = periods.to_vec();
        periods.sort_unstable();
        periods.dedup();
        Ok(Self {
            periods,
            log: false,
            damped_only: false,
            seasonal_window: None,
        })
    }

    /// Works on `ln y` when every value is positive (otherwise falls back to no transform).
    pub fn log(mut self, yes: bool) -> Self {
        self.log = yes;
        self
    }

    /// Seasonal smoother window of STL (odd, >= 7, in cycles; larger = a steadier season).
    /// Default: stlrs' 7 + 4i for the i-th period.
    pub fn seasonal_window(mut self, window: usize) -> Result<Self> {
        if window < 7 || window.is_multiple_of(2) {
            return Err(ForecastError::InvalidParameter {
                name: "seasonal_window",
                reason: format!("must be odd and >= 7, got {window}"),
            });
        }
        self.seasonal_window = Some(window);
        Ok(self)
    }

    /// Restricts the trend of the adjusted series to damped or none.
    pub fn damped_only(mut self, yes: bool) -> Self {
        self.damped_only = yes;
        self
    }
}

/// A fitted [`Mstl`].
#[derive(Debug, Clone, PartialEq)]
pub struct FittedMstl {
    /// Last cycle of each seasonal component, in the order of `periods`.
    cycles: Vec<Vec<f64>>,
    periods: Vec<usize>,
    n: usize,
    log: bool,
    trend: FittedAutoEts,
}

impl FittedMstl {
    /// The periods actually used (those with two full cycles of history).
    pub fn periods(&self) -> &[usize] {
        &self.periods
    }

    /// Whether the model works on `ln y`.
    pub fn is_log(&self) -> bool {
        self.log
    }

    /// The ETS fitted to the seasonally adjusted series.
    pub fn trend_model(&self) -> &FittedAutoEts {
        &self.trend
    }
}

impl Model for Mstl {
    type Fitted = FittedMstl;

    /// Needs 5 finite points; periods need two cycles each to be used.
    fn fit(&self, history: &[f64]) -> Result<FittedMstl> {
        check_history(history, 5)?;
        let n = history.len();
        let log = self.log && history.iter().all(|v| *v > 0.0);
        let y: Vec<f64> = if log {
            history.iter().map(|v| v.ln()).collect()
        } else {
            history.to_vec()
        };
        let periods: Vec<usize> = self
            .periods
            .iter()
            .copied()
            .filter(|p| n >= 2 * p)
            .collect();
        let (adjusted, cycles) = if periods.is_empty() {
            (y, Vec::new())
        } else {
            let mut params = stlrs::Mstl::params();
            if let Some(w) = self.seasonal_window {
                params.seasonal_lengths(&vec![w; periods.len()]);
            }
            let fit = params
                .fit(&y, &periods)
                .map_err(|e| ForecastError::FitFailed {
                    model: "mstl",
                    reason: e.to_string(),
                })?;
            let (seasonal, trend, remainder) = fit.into_parts();
            let adjusted: Vec<f64> = trend.iter().zip(&remainder).map(|(t, r)| t + r).collect();
            let cycles = seasonal
                .iter()
                .zip(&periods)
                .map(|(s, &p)| s[n - p..].to_vec())
                .collect();
            (adjusted, cycles)
        };
        let trend = AutoEts::non_seasonal()
            .damped_only(self.damped_only)
            .fit(&adjusted)?;
        Ok(FittedMstl {
            cycles,
            periods,
            n,
            log,
            trend,
        })
    }
}

impl FittedModel for FittedMstl {
    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction> {
        check_horizon(horizon)?;
        let seasonal: Vec<f64> = (0..horizon)
            .map(|h| {
                self.cycles
                    .iter()
                    .zip(&self.periods)
                    // The cycle holds steps n - p .. n, so step n + h is at (h mod p).
                    .map(|(c, &p)| c[h % p])
                    .sum()
            })
            .collect();
        let p = self.trend.predict(horizon, levels)?.shift(&seasonal);
        Ok(if self.log { p.map(f64::exp) } else { p })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_seasons_are_forecast() {
        let y: Vec<f64> = (0..24 * 7 * 4)
            .map(|t| {
                let d = (t as f64 * std::f64::consts::TAU / 24.0).sin();
                let w = if (t / 24) % 7 >= 5 { -5.0 } else { 0.0 };
                100.0 + 10.0 * d + w
            })
            .collect();
        let n = y.len();
        for log in [false, true] {
            let f = Mstl::new(&[24, 168]).unwrap().log(log).fit(&y).unwrap();
            assert_eq!(f.periods(), [24, 168]);
            let p = f.predict(48, &[95.0]).unwrap();
            for h in 0..48 {
                let t = n + h;
                let d = (t as f64 * std::f64::consts::TAU / 24.0).sin();
                let w = if (t / 24) % 7 >= 5 { -5.0 } else { 0.0 };
                let want = 100.0 + 10.0 * d + w;
                assert!(
                    (p.mean[h] - want).abs() < 0.5,
                    "log={log} h={h}: {} vs {want}",
                    p.mean[h]
                );
            }
        }
    }

    #[test]
    fn short_history_drops_periods() {
        let y: Vec<f64> = (0..100).map(|t| (t % 24) as f64).collect();
        let f = Mstl::new(&[24, 168]).unwrap().fit(&y).unwrap();
        assert_eq!(f.periods(), [24]);
        assert!(Mstl::new(&[1]).is_err());
        assert!(
            Mstl::new(&[24])
                .unwrap()
                .fit(&[1.0, f64::NAN, 2.0, 3.0, 4.0])
                .is_err()
        );
    }
}
