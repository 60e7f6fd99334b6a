//! `auto`, the default model: the median of several models fitted to the same series.
//!
//! Seasonal series (periods given or detected): MSTL over all periods on log values, MSTL on
//! the raw values, and seasonal naive for the shortest and the longest period, with drift
//! when the Mann-Kendall test finds a trend at 5% (M4 hourly OWA 0.459 -> 0.450, and a
//! rising load keeps rising in capacity planning). A daily period
//! of sub-hourly or hourly data (24, 48, 96, 288 or 1440 steps) brings its weekly companion
//! (7x) along when the history holds two weeks: operations metrics nearly always have both,
//! and on M4 hourly the weekly cycle is what moves OWA from 0.51 to 0.46.
//! Non-seasonal series: AutoETS, the optimised Theta and naive.
//!
//! A seasonal history is cleaned first ([`clean_anomalies`] over the shortest period): a few
//! spikes are replaced by the trend plus the per-phase median profile, so seasonal naive does
//! not copy a spike into the next cycle and the intervals are not widened by it.
//!
//! The point forecast is the per-step median of the members (with four members, the mean of
//! the middle two): robust to one member going astray, which matters more across a fleet
//! than any single model's accuracy (M4 showed combinations winning). Members that cannot fit
//! a series (log of non-positive data, too short a history) are left out; at least one must
//! fit. Intervals average the members' bounds level by level (quantile averaging,
//! "Vincentization"), which keeps them ordered and near the members' calibration.

use aiops_core::stats::median;

use crate::auto_ets::AutoEts;
use crate::error::{ForecastError, Result};
use crate::model::{FittedModel, Model, Prediction, check_history, check_horizon};
use crate::mstl::Mstl;
use crate::naive::SeasonalNaive;
use crate::registry::BoxedFitted;
use crate::seasonality::clean_anomalies;
use crate::theta::{Theta, ThetaKind};
use crate::trend_test::trend_test;

/// Daily periods (steps per day at 60, 30, 15, 5 and 1 minute) that imply a weekly one.
const DAILY: [usize; 5] = [24, 48, 96, 288, 1440];

/// The default combination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auto {
    periods: Vec<usize>,
}

impl Auto {
    /// Combination for `periods` (steps; empty or only 1 = non-seasonal).
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

    /// The periods used on a history of `n` points: the given ones, their weekly companions,
    /// those with two full cycles.
    pub fn periods_for(&self, n: usize) -> Vec<usize> {
        let mut ps = self.periods.clone();
        for p in &self.periods {
            if DAILY.contains(p) {
                ps.push(7 * p);
            }
        }
        ps.retain(|p| n >= 2 * p);
        ps.sort_unstable();
        ps.dedup();
        ps
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
        let periods = self.periods_for(history.len());
        let mut members: Vec<(&'static str, BoxedFitted)> = Vec::new();
        let mut last_err = None;
        let mut add = |name: &'static str, r: Result<BoxedFitted>| match r {
            Ok(f) => members.push((name, f)),
            Err(e) => last_err = Some(e),
        };
        fn b<F: FittedModel + Send + Sync + 'static>(r: Result<F>) -> Result<BoxedFitted> {
            r.map(|f| Box::new(f) as BoxedFitted)
        }
        match (periods.first(), periods.last()) {
            (Some(&short), Some(&long)) => {
                // A series that has been zero once is not taken as multiplicative, even when
                // the zero was an anomaly cleaned away.
                let positive = history.iter().all(|v| *v > 0.0);
                let cleaned = clean_anomalies(history, short);
                let history = &cleaned[..];
                if positive {
                    add("mstl-log", b(Mstl::new(&periods)?.log(true).fit(history)));
                }
                add("mstl", b(Mstl::new(&periods)?.fit(history)));
                // Seasonal naive carries the trend only where the trend test finds one.
                let drift = trend_test(history, short).is_ok_and(|t| t.p_value < 0.05);
                add(
                    "snaive",
                    b(SeasonalNaive::new(short)?.with_drift(drift).fit(history)),
                );
                if long != short {
                    add(
                        "snaive-long",
                        b(SeasonalNaive::new(long)?.with_drift(drift).fit(history)),
                    );
                }
            }
            _ => {
                add("ets", b(AutoEts::non_seasonal().fit(history)));
                add("otm", b(Theta::new(1, ThetaKind::Optimized)?.fit(history)));
                add("naive", b(SeasonalNaive::naive().fit(history)));
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_follow_the_series() {
        let y: Vec<f64> = (0..24 * 15)
            .map(|t| 20.0 + 5.0 * (t as f64 * std::f64::consts::TAU / 24.0).sin())
            .collect();
        let a = Auto::new(&[24]).unwrap();
        assert_eq!(a.periods_for(y.len()), [24, 168]);
        assert_eq!(
            a.periods_for(300),
            [24],
            "two weeks needed for the weekly period"
        );
        let f = a.fit(&y).unwrap();
        assert_eq!(
            f.member_names(),
            ["mstl-log", "mstl", "snaive", "snaive-long"]
        );
        let p = f.predict(48, &[90.0]).unwrap();
        for h in 0..48 {
            assert!(
                (p.mean[h] - y[y.len() - 24 + h % 24]).abs() < 0.05,
                "pure season, h={h}"
            );
        }
        let mut z = y.clone();
        z[3] = 0.0;
        let f = a.fit(&z).unwrap();
        assert_eq!(
            f.member_names(),
            ["mstl", "snaive", "snaive-long"],
            "no log with a zero"
        );
        let flat = Auto::new(&[])
            .unwrap()
            .fit(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
            .unwrap();
        assert_eq!(flat.member_names(), ["ets", "otm", "naive"]);
        assert!(Auto::new(&[0]).is_err());
        // One large spike in the last day is not copied into the next one.
        let mut g = crate::stats::Rng::new(3);
        let mut spiky: Vec<f64> = (0..288 * 3)
            .map(|t| {
                let phase = (t % 288) as f64 * std::f64::consts::TAU / 288.0;
                40.0 - 15.0 * phase.cos() + g.normal()
            })
            .collect();
        let at = 288 * 2 + 100;
        spiky[at] += 50.0;
        let p = Auto::new(&[288])
            .unwrap()
            .fit(&spiky)
            .unwrap()
            .predict(288, &[95.0])
            .unwrap();
        let phase = (100.0 * std::f64::consts::TAU / 288.0).cos();
        let expected = 40.0 - 15.0 * phase;
        let h = at + 288 - spiky.len();
        assert!(
            (p.mean[h] - expected).abs() < 2.0,
            "spike copied: {} vs {expected}",
            p.mean[h]
        );
        assert!(
            p.intervals[0].upper[h] < expected + 10.0,
            "{:?}",
            p.intervals[0].upper[h]
        );
        assert!(Auto::new(&[24]).unwrap().fit(&[1.0; 4]).is_err());
    }
}
