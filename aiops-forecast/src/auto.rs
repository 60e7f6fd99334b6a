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
//! A seasonal history is cleaned first ([`clean_anomalies`] over the shortest period, over the
//! week when the weekly cycle was given or found, since a daily profile takes a quiet weekend
//! for an anomaly and replaces it with a weekday): a few
//! spikes are replaced by the trend plus the per-phase median profile, so seasonal naive does
//! not copy a spike into the next cycle and the intervals are not widened by it.
//!
//! The point forecast is the per-step median of the members (with four members, the mean of
//! the middle two), and of the stand-in made at the end of the history when, in the backtest,
//! its mean level beat the last point's level (noise that reverts to a level, as most
//! operations metrics have, rather than a random walk): robust to one member going astray, which matters more across a fleet
//! than any single model's accuracy (M4 showed combinations winning). Members that cannot fit
//! a series (log of non-positive data, too short a history) are left out; at least one must
//! fit. Intervals come from the series' own forecast errors when the history is long enough
//! (four cycles, or 60 points without a season). Seasonal: a simple stand-in forecast (the
//! per-phase median profile, over the week when the weekly cycle was given or found, plus the
//! last cycle's level, plus the trend's Sen slope when the trend test finds one) is made from
//! up to eight past origins one cycle apart and scored on the raw history (so anomalies count
//! in the spread; an origin whose profile rests on fewer cycles than the one made at the end
//! has its errors scaled to the end's profile variance, a median's over that many cycles),
//! with level shifts taken out of that history first
//! ([`crate::level_shift`]: the members follow the new level, so past errors across the shift
//! are not what the next forecast will have); the mean disagreement between the point forecast
//! and the stand-in made at the end over the next cycle is added in quadrature (the members
//! take their level from the last points, whose noise the stand-in's errors did not see).
//! Without a season, the combination itself is refitted at three
//! origins one block (n / 6 points) apart, and so is a level forecast (the recent mean,
//! approached from the last value as an AR(1)); when the level forecast had the smaller
//! absolute errors (noise around a level, not a random walk) it replaces the members' median
//! and its errors give the intervals; the three origins' mean errors are spread by
//! `sqrt(3 / 2)` before centring (three samples of the level error understate its spread).
//! The seasonal path does not do this: the level the point forecast will have is accounted
//! for by the disagreement term, and its eight origins need little correction. The half-width at level `l` is the `l` quantile of
//! the absolute errors around their median over the next cycle or block, growing as
//! `sqrt(h / cycle)` beyond it unless the series reverts to its level. When the given or found periods include the weekly one,
//! seasonal naive runs over the week only (yesterday is no forecast of a Saturday). The members' own intervals assume their model is right and were too wide on
//! operator-like series (80% intervals covering 93%); empirical errors are what a
//! conformal interval uses. Shorter histories average the members' bounds level by level
//! (quantile averaging, "Vincentization").

use aiops_core::stats::median;

use crate::auto_ets::AutoEts;
use crate::error::{ForecastError, Result};
use crate::level_shift::{level_shifts, remove_level_shifts};
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
    /// Sorted absolute backtest errors around their median, and the steps they cover.
    errors: Option<(Vec<f64>, usize)>,
    /// Without a season, the level forecast that replaces the members' median when it beat
    /// them in the backtest (the series reverts to its level); its errors do not grow with
    /// the horizon.
    level: Option<Level>,
    /// The seasonal stand-in made at the end of the history (its length), a further
    /// candidate of the point forecast's median.
    standin: Option<(usize, StandIn)>,
    /// Whether the stand-in joins the median (its mean level beat the last point's level in
    /// the backtest: the series reverts to its level, so errors do not grow past a cycle).
    reverts: bool,
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
        let mut fitted = self.fit_members(history)?;
        let periods = self.periods_for(history.len());
        fitted.errors = match periods.first() {
            Some(&p) => {
                let season = if self.weekly_known() {
                    *periods.last().unwrap_or(&p)
                } else {
                    p
                };
                // Level shifts out of the backtest: the members follow the new level.
                let clean = clean_anomalies(history, season);
                let shifts = level_shifts(&clean, p, season);
                let clean = remove_level_shifts(&clean, &shifts);
                let raw = remove_level_shifts(history, &shifts);
                let slope = trend_test(&clean, p)
                    .ok()
                    .filter(|t| t.p_value < 0.05)
                    .map_or(0.0, |t| t.slope);
                let mut score = (0.0, 0.0);
                let errors = backtest_errors(&raw, &clean, p, season, slope, &mut score);
                // The stand-in joins the median where its mean level forecast the past cycles
                // better than the last point's level did (noise that reverts to the level).
                if history.len() >= season + p {
                    let n = history.len();
                    fitted.standin = Some((n, StandIn::new(&clean, n, p, season, slope)));
                    fitted.reverts = score.0 < score.1;
                }
                errors
            }
            None => {
                let (errors, level) = self.refit_errors(history);
                fitted.level = level;
                errors
            }
        };
        Ok(fitted)
    }
}

impl Auto {
    /// Whether the weekly period was given or found (not only implied by a daily one).
    fn weekly_known(&self) -> bool {
        self.periods.len() >= 2
    }

    /// The members alone, without backtest errors.
    fn fit_members(&self, history: &[f64]) -> Result<FittedAuto> {
        check_history(history, 5)?;
        let periods = self.periods_for(history.len());
        // A weekly cycle given or found in the data: yesterday is no forecast of a Saturday.
        let weekly_known = self.weekly_known();
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
                let cleaned = clean_anomalies(history, if weekly_known { long } else { short });
                let history = &cleaned[..];
                if positive {
                    add("mstl-log", b(Mstl::new(&periods)?.log(true).fit(history)));
                }
                add("mstl", b(Mstl::new(&periods)?.fit(history)));
                // Seasonal naive carries the trend only where the trend test finds one.
                let drift = trend_test(history, short).is_ok_and(|t| t.p_value < 0.05);
                if !(weekly_known && long != short) {
                    add(
                        "snaive",
                        b(SeasonalNaive::new(short)?.with_drift(drift).fit(history)),
                    );
                }
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
        Ok(FittedAuto {
            members,
            errors: None,
            level: None,
            standin: None,
            reverts: false,
        })
    }

    /// Without a season: the combination itself refitted at three past origins, one block
    /// (n / 6 points, at most 1440) apart, and its absolute errors over the next block (the
    /// origins' level errors with the small-sample correction of [`centred_abs_origins`]); or,
    /// when the level forecast ([`Level`]) made at the same origins had the smaller absolute
    /// errors, the level forecast made at the end of the history and its errors.
    fn refit_errors(&self, y: &[f64]) -> (Option<(Vec<f64>, usize)>, Option<Level>) {
        let n = y.len();
        let block = (n / 6).min(1440);
        if n < 60 || block < 2 {
            return (None, None);
        }
        let mut e = Vec::new();
        let mut el = Vec::new();
        for k in 1..=3 {
            let o = n - k * block;
            let Some(mean) = self
                .fit_members(&y[..o])
                .and_then(|f| f.predict(block, &[]))
                .ok()
                .map(|p| p.mean)
            else {
                return (None, None);
            };
            let level = Level::new(&y[..o], block);
            e.extend((0..block).map(|h| y[o + h] - mean[h]));
            el.extend((0..block).map(|h| y[o + h] - level.at(h)));
        }
        let mae = |v: &[f64]| v.iter().map(|x| x.abs()).sum::<f64>();
        if mae(&el) < mae(&e) {
            (
                Some(centred_abs_origins(el, block)),
                Some(Level::new(y, block)),
            )
        } else {
            (Some(centred_abs_origins(e, block)), None)
        }
    }
}

/// The level forecast of a series without a season: the mean `mu` of the last `window` points,
/// approached from the last value at the rate of the window's lag-1 autocorrelation `phi`
/// (`mu + phi^h (last - mu)`, an AR(1) around the recent level), so that noise correlated
/// over a few steps is followed briefly and then forgotten.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Level {
    mu: f64,
    phi: f64,
    last: f64,
}

impl Level {
    fn new(y: &[f64], window: usize) -> Self {
        let w = &y[y.len() - window.clamp(1, y.len())..];
        let mu = w.iter().sum::<f64>() / w.len() as f64;
        let ss: f64 = w.iter().map(|v| (v - mu).powi(2)).sum();
        let phi = if ss > 0.0 {
            w.windows(2).map(|p| (p[0] - mu) * (p[1] - mu)).sum::<f64>() / ss
        } else {
            0.0
        };
        Self {
            mu,
            phi: phi.clamp(0.0, 0.99),
            last: *w.last().unwrap_or(&mu),
        }
    }

    /// The forecast `h + 1` steps ahead.
    fn at(&self, h: usize) -> f64 {
        self.mu + self.phi.powi(h as i32 + 1) * (self.last - self.mu)
    }
}

/// [`centred_abs`] of the errors of a forecast made at a few origins, `chunk` steps each, with
/// the origins' mean errors spread by `sqrt(m / (m - 1))` around their mean first (`m`
/// origins): centring removes the average of the origins' level errors, and with three
/// origins the spread left is a biased estimate of theirs, as a variance with `m` rather than
/// `m - 1` in the denominator is.
fn centred_abs_origins(mut e: Vec<f64>, chunk: usize) -> (Vec<f64>, usize) {
    let m = e.len() / chunk.max(1);
    if m >= 2 && m * chunk == e.len() {
        let all = e.iter().sum::<f64>() / e.len() as f64;
        let f = (m as f64 / (m - 1) as f64).sqrt();
        for c in e.chunks_mut(chunk) {
            let d = c.iter().sum::<f64>() / chunk as f64 - all;
            c.iter_mut().for_each(|v| *v += (f - 1.0) * d);
        }
    }
    centred_abs(e, chunk)
}

/// Sorted absolute values of `e` around its median, with the steps they cover.
fn centred_abs(e: Vec<f64>, cycle: usize) -> (Vec<f64>, usize) {
    let mut buf = e.clone();
    let mid = median(&mut buf);
    let mut abs: Vec<f64> = e.iter().map(|v| (v - mid).abs()).collect();
    abs.sort_by(f64::total_cmp);
    (abs, cycle)
}

/// The seasonal stand-in forecast made at origin `o` of a cleaned history `y`: the per-phase
/// median profile of `season` steps over the last five cycles of `cycle` steps (at least two
/// seasons), plus the mean level of the last cycle, plus `slope` per step from the middle of
/// that cycle.
struct StandIn {
    profile: Vec<f64>,
    start: usize,
    origin: usize,
    level: f64,
    slope: f64,
    mid: f64,
}

impl StandIn {
    fn new(y: &[f64], o: usize, cycle: usize, season: usize, slope: f64) -> Self {
        let start = o.saturating_sub((5 * cycle).max(2 * season));
        let train = &y[start..o];
        let d = crate::seasonality::detrend_ma(train, season);
        let profile = if season > cycle && season.is_multiple_of(cycle) {
            weekly_profile(&d, cycle, season)
        } else {
            crate::seasonality::phase_medians(&d, season, train.len())
        };
        let seasonal = |t: usize| profile[(t - start) % season];
        let level = (o - cycle..o).map(|t| y[t] - seasonal(t)).sum::<f64>() / cycle as f64;
        Self {
            level,
            start,
            origin: o,
            slope,
            mid: o as f64 - (cycle as f64 + 1.0) / 2.0,
            profile,
        }
    }

    /// Cycles of the profile's season in its window.
    fn cycles(&self) -> usize {
        (self.origin - self.start) / self.profile.len()
    }

    /// The forecast at time `t` (on or after the origin).
    fn at(&self, t: usize) -> f64 {
        let season = self.profile.len();
        self.level + self.profile[(t - self.start) % season] + self.slope * (t as f64 - self.mid)
    }
}

/// Variance of the median of `k` independent standard normal values (exact for 1 and 2,
/// within 2% of the exact values for 3 to 5, `pi / (2k)` for large `k`).
fn median_var(k: usize) -> f64 {
    match k {
        0 => 1.0,
        1 | 2 => 1.0 / k as f64,
        _ => std::f64::consts::PI / (2 * k + 1) as f64,
    }
}

/// A weekly profile from few weeks: the daily profile (per-phase medians over every day) plus
/// the per-phase-of-week median of what remains, median-filtered over one hour either side
/// (a weekly pattern is broad: quieter weekends, a busier Monday; the filter keeps the step
/// at midnight). Per-phase-of-week medians alone rest on one or two values per phase in two
/// weeks of history, and that noise widened the intervals (80% covering 86%).
fn weekly_profile(d: &[f64], cycle: usize, season: usize) -> Vec<f64> {
    let daily = crate::seasonality::phase_medians(d, cycle, d.len());
    let rest: Vec<f64> = d
        .iter()
        .enumerate()
        .map(|(t, v)| v - daily[t % cycle])
        .collect();
    let week = crate::seasonality::phase_medians(&rest, season, rest.len());
    let w = cycle / 24;
    let mut buf = Vec::with_capacity(2 * w + 1);
    (0..season)
        .map(|i| {
            buf.clear();
            buf.extend((0..=2 * w).map(|j| week[(i + season + j - w) % season]));
            daily[i % cycle] + median(&mut buf)
        })
        .collect()
}

/// Absolute errors (sorted, around their median) of the seasonal stand-in forecast made on the
/// cleaned history `y` from up to eight past origins one `cycle` apart (each with one `season`
/// and one cycle before it), measured against the raw history (anomalies count in the
/// spread) and scaled for the cycles behind each origin's profile (a daily profile from two
/// cycles is noisier than the one made at the end from four or five), and the steps ahead they
/// cover (one cycle); `None` when fewer than two origins fit.
/// `score` accumulates, on the cleaned history, the stand-in's absolute errors and those of
/// the same forecast moved to the level of the last point before each origin.
fn backtest_errors(
    raw: &[f64],
    y: &[f64],
    cycle: usize,
    season: usize,
    slope: f64,
    score: &mut (f64, f64),
) -> Option<(Vec<f64>, usize)> {
    let n = y.len();
    let origins = (n / cycle.max(1)).saturating_sub(2).min(8);
    if cycle < 2 || origins < 2 {
        return None;
    }
    let mut e = Vec::with_capacity(origins * cycle);
    // Cycles behind the profile of the stand-in made at the end, whose errors these stand for.
    let at_end = StandIn::new(y, n, cycle, season, slope).cycles();
    for k in 1..=origins {
        let o = n - k * cycle;
        if o < season + cycle {
            break;
        }
        let f = StandIn::new(y, o, cycle, season, slope);
        // A profile of per-phase medians over fewer cycles is noisier: scale the errors to
        // the variance the profile made at the end has (noise variance 1, profile variance
        // that of a median of that many values). Only for a daily profile; the weekly one is
        // a sum of two medians and a filter.
        let scale = if season == cycle {
            ((1.0 + median_var(at_end)) / (1.0 + median_var(f.cycles()))).sqrt()
        } else {
            1.0
        };
        // The same with the last point's level instead of the last cycle's mean.
        let jump = y[o - 1] - f.at(o - 1);
        for t in o..o + cycle {
            let err = scale * (raw[t] - f.at(t));
            e.push(err);
            score.0 += (y[t] - f.at(t)).abs();
            score.1 += (y[t] - f.at(t) - jump).abs();
        }
    }
    if e.len() < 2 * cycle {
        return None;
    }
    Some(centred_abs(e, cycle))
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
                if let Some(level) = &self.level {
                    return level.at(h);
                }
                buf.clear();
                buf.extend(preds.iter().map(|p| p.mean[h]));
                if let Some((n, s)) = self.standin.as_ref().filter(|_| self.reverts) {
                    buf.push(s.at(n + h));
                }
                median(&mut buf)
            })
            .collect();
        let mut out = Prediction {
            mean,
            intervals: preds[0].intervals.clone(),
        };
        if let Some((abs, cycle)) = &self.errors {
            // The members take their level from the last points, the stand-in from the last
            // cycle: their mean disagreement over the next cycle is error the stand-in's
            // backtest did not see, added in quadrature.
            let d2 = match &self.standin {
                Some((n, s)) => {
                    let m = horizon.min(*cycle);
                    let d = (0..m).map(|h| out.mean[h] - s.at(n + h)).sum::<f64>() / m as f64;
                    d * d
                }
                None => 0.0,
            };
            // A series that reverts to its level has errors that stop growing.
            let flat = self.level.is_some() || self.reverts;
            for iv in out.intervals.iter_mut() {
                let q = crate::stats::quantile_sorted(abs, iv.level / 100.0);
                let z = crate::stats::z_of_level(iv.level);
                let q = (q * q + z * z * d2).sqrt();
                for h in 0..horizon {
                    let grow = if flat {
                        1.0
                    } else {
                        ((h + 1) as f64 / *cycle as f64).max(1.0).sqrt()
                    };
                    iv.lower[h] = out.mean[h] - q * grow;
                    iv.upper[h] = out.mean[h] + q * grow;
                }
            }
            return Ok(out);
        }
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

    /// Intervals from the series' own errors: a daily cycle with unit noise gets 80% and 95%
    /// half-widths near 1.28 and 1.96.
    #[test]
    fn intervals_from_backtest_errors() {
        let mut g = crate::stats::Rng::new(8);
        let y: Vec<f64> = (0..24 * 12)
            .map(|t| 30.0 + 8.0 * (t as f64 * std::f64::consts::TAU / 24.0).sin() + g.normal())
            .collect();
        let p = Auto::new(&[24])
            .unwrap()
            .fit(&y)
            .unwrap()
            .predict(24, &[80.0, 95.0])
            .unwrap();
        let hw80 = p.intervals[0].upper[5] - p.mean[5];
        let hw95 = p.intervals[1].upper[5] - p.mean[5];
        assert!((1.0..1.7).contains(&hw80), "{hw80}");
        assert!((1.6..2.6).contains(&hw95), "{hw95}");
        let flat: Vec<f64> = (0..300).map(|_| 10.0 + g.normal()).collect();
        let p = Auto::new(&[])
            .unwrap()
            .fit(&flat)
            .unwrap()
            .predict(10, &[80.0])
            .unwrap();
        let hw = p.intervals[0].upper[0] - p.mean[0];
        assert!((0.9..1.8).contains(&hw), "{hw}");
    }

    /// Three origins' level errors get the small-sample spread; within an origin nothing
    /// changes.
    #[test]
    fn origins_level_errors_spread() {
        let e: Vec<f64> = [1.0, 2.0, 3.0]
            .iter()
            .flat_map(|v| [*v - 0.5, *v + 0.5])
            .collect();
        let (abs, chunk) = centred_abs_origins(e, 2);
        assert_eq!(chunk, 2);
        let f = 1.5f64.sqrt();
        let mut want = vec![0.5, 0.5, f - 0.5, f - 0.5, f + 0.5, f + 0.5];
        want.sort_by(f64::total_cmp);
        for (a, b) in abs.iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "{abs:?} vs {want:?}");
        }
        // Not whole chunks: left as they are.
        assert_eq!(
            centred_abs_origins(vec![1.0, 2.0, 3.0], 2).0,
            [0.0, 1.0, 1.0]
        );
    }

    /// The variance of a median of k normal values, against its exact values.
    #[test]
    fn median_variance() {
        for (k, exact) in [(1, 1.0), (2, 0.5), (3, 0.4487), (4, 0.3433), (5, 0.2868)] {
            let v = median_var(k);
            assert!((v / exact - 1.0).abs() < 0.02, "{k}: {v} vs {exact}");
        }
        assert!((median_var(100) * 200.0 / std::f64::consts::PI - 1.0).abs() < 0.01);
    }

    /// Four cycles of history (two backtest origins, with profiles of two and three cycles)
    /// give about the half-widths that twelve cycles give: the backtest's noisier profiles do
    /// not widen the intervals of a forecast whose profile rests on more cycles.
    #[test]
    fn few_cycles_do_not_widen_the_intervals() {
        let mut g = crate::stats::Rng::new(21);
        let mut mean_hw = |cycles: usize| {
            let runs = 40;
            (0..runs)
                .map(|_| {
                    let y: Vec<f64> = (0..48 * cycles)
                        .map(|t| {
                            30.0 + 8.0 * (t as f64 * std::f64::consts::TAU / 48.0).sin()
                                + g.normal()
                        })
                        .collect();
                    let p = Auto::new(&[48])
                        .unwrap()
                        .fit(&y)
                        .unwrap()
                        .predict(48, &[80.0])
                        .unwrap();
                    p.intervals[0].upper[10] - p.mean[10]
                })
                .sum::<f64>()
                / runs as f64
        };
        let (short, long) = (mean_hw(4), mean_hw(12));
        eprintln!("80% half-width: 4 cycles {short}, 12 cycles {long}");
        assert!((short / long - 1.0).abs() < 0.03, "{short} vs {long}");
    }

    /// A weekly cycle found in the data: quiet weekends are neither cleaned away as anomalies
    /// nor forecast as weekdays, and the intervals do not take the weekend for noise.
    #[test]
    fn weekends_stay_weekends() {
        let mut g = crate::stats::Rng::new(11);
        let shape = |t: usize| {
            let phase = (t % 24) as f64 * std::f64::consts::TAU / 24.0;
            let v = 40.0 - 12.0 * phase.cos();
            if (t / 24) % 7 >= 5 { 0.6 * v } else { v }
        };
        // Four weeks ending on a Friday: the next day is a Saturday.
        let y: Vec<f64> = (0..24 * 26).map(|t| shape(t) + g.normal()).collect();
        let p = Auto::new(&[24, 168])
            .unwrap()
            .fit(&y)
            .unwrap()
            .predict(24, &[80.0])
            .unwrap();
        let n = y.len();
        let mae = (0..24)
            .map(|h| (p.mean[h] - shape(n + h)).abs())
            .sum::<f64>()
            / 24.0;
        assert!(mae < 1.5, "Saturday forecast off by {mae}");
        let hw = (p.intervals[0].upper[12] - p.intervals[0].lower[12]) / 2.0;
        assert!((0.9..2.2).contains(&hw), "80% half-width {hw}");
    }

    /// Noise correlated over a few steps around a level: the forecast returns to the level
    /// and the intervals do not grow; a random walk keeps the members and grows.
    #[test]
    fn no_cycle_level_or_walk() {
        let mut g = crate::stats::Rng::new(21);
        let mut e = 0.0;
        let y: Vec<f64> = (0..2000)
            .map(|_| {
                e = 0.9 * e + 0.5 * g.normal();
                40.0 + e
            })
            .collect();
        let f = Auto::new(&[]).unwrap().fit(&y).unwrap();
        assert!(f.level.is_some());
        let p = f.predict(300, &[80.0]).unwrap();
        assert!((p.mean[299] - 40.0).abs() < 0.5, "{}", p.mean[299]);
        let hw = |h: usize| p.intervals[0].upper[h] - p.mean[h];
        assert!((hw(299) - hw(0)).abs() < 1e-9);
        // Marginal sd 0.5 / sqrt(1 - 0.81) = 1.15: 80% half-width near 1.47.
        assert!((1.1..1.9).contains(&hw(0)), "{}", hw(0));
        let mut w = 0.0;
        let walk: Vec<f64> = (0..2000)
            .map(|_| {
                w += g.normal();
                100.0 + w
            })
            .collect();
        let f = Auto::new(&[]).unwrap().fit(&walk).unwrap();
        assert!(f.level.is_none());
        let p = f.predict(600, &[80.0]).unwrap();
        assert!(p.intervals[0].upper[599] - p.mean[599] > p.intervals[0].upper[0] - p.mean[0]);
    }

    /// A level shift in the history does not widen the intervals of the forecast made after
    /// it (the members already follow the new level).
    #[test]
    fn a_past_level_shift_does_not_widen_the_intervals() {
        let mut g = crate::stats::Rng::new(4);
        let base = |t: usize| 30.0 + 8.0 * (t as f64 * std::f64::consts::TAU / 24.0).sin();
        let y: Vec<f64> = (0..24 * 12)
            .map(|t| base(t) + if t >= 24 * 8 + 5 { 10.0 } else { 0.0 } + g.normal())
            .collect();
        let p = Auto::new(&[24])
            .unwrap()
            .fit(&y)
            .unwrap()
            .predict(24, &[80.0])
            .unwrap();
        let hw = p.intervals[0].upper[5] - p.mean[5];
        assert!((0.9..2.0).contains(&hw), "80% half-width {hw}");
        let mae = (0..24)
            .map(|h| (p.mean[h] - base(y.len() + h) - 10.0).abs())
            .sum::<f64>()
            / 24.0;
        assert!(mae < 1.0, "{mae}");
    }

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
