//! Automatic seasonality detection from the autocorrelation function.
//!
//! The primary period is the smallest lag whose autocorrelation is a local peak, passes the M4
//! 90% significance test and comes within 90% of the highest such peak (so 24 wins over its
//! multiple 48 on hourly data). A longer period that is a multiple of it (e.g. 168 = 7 x 24)
//! is added when its autocorrelation stands clearly (> 0.05) above the lags one primary period
//! on either side, i.e. when the weekly pattern is more than the daily one repeated.

use serde::Serialize;

use crate::stats::{acf, seasonality_test};

/// Detected periods (steps), primary first; empty when nothing is significant. Only lags
/// with at least three cycles in the history (`3 * p <= n`) are considered.
pub fn detect_periods(y: &[f64]) -> Vec<usize> {
    let n = y.len();
    let max_lag = n / 3;
    if max_lag < 4 || y.iter().any(|v| !v.is_finite()) {
        return Vec::new();
    }
    let r = acf(y, max_lag + 1);
    let at = |k: usize| r[k - 1];
    let peaks: Vec<usize> = (2..=max_lag)
        .filter(|&k| at(k) > 0.2 && at(k) > at(k - 1).max(if k > 1 { at(k - 1) } else { 0.0 }))
        .filter(|&k| at(k) >= at(k + 1))
        .filter(|&k| seasonality_test(y, k))
        .collect();
    let Some(top) = peaks.iter().map(|&k| at(k)).reduce(f64::max) else {
        return Vec::new();
    };
    let Some(&primary) = peaks.iter().find(|&&k| at(k) >= 0.9 * top) else {
        return Vec::new();
    };
    let mut out = vec![primary];
    let mut best: Option<(usize, f64)> = None;
    let mut k = 2 * primary;
    while k + primary <= max_lag + 1 && k + primary <= r.len() {
        let gap = at(k) - at(k - primary).max(at(k + primary));
        if gap > 0.05 && best.is_none_or(|(_, g)| gap > g) {
            best = Some((k, gap));
        }
        k += primary;
    }
    if let Some((k, _)) = best {
        out.push(k);
    }
    out
}

/// One day, seconds.
pub const DAY_SECONDS: f64 = 86_400.0;
/// One week, seconds.
pub const WEEK_SECONDS: f64 = 7.0 * DAY_SECONDS;

/// A seasonal period of a series, in steps and, when the sampling interval is known, in time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SeasonalPeriod {
    /// Length, steps.
    pub steps: usize,
    /// Length, seconds (`None` without timestamps).
    pub seconds: Option<f64>,
    /// Where it comes from: `given`, `daily`, `weekly` (found from the timestamps) or
    /// `autocorrelation` (found in the values alone).
    pub source: &'static str,
}

impl SeasonalPeriod {
    /// The length as a duration (`1d`, `1w`, `12h`, `90m`...), or `N steps` without one.
    pub fn describe(&self) -> String {
        match self.seconds {
            Some(s) => format!("{} steps ({})", self.steps, short_duration(s)),
            None => format!("{} steps", self.steps),
        }
    }
}

/// `604800` -> `1w`, `86400` -> `1d`, `5400` -> `90m`.
fn short_duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    for (unit, len) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)] {
        if s >= len && s.is_multiple_of(len) {
            return format!("{}{unit}", s / len);
        }
    }
    format!("{s}s")
}

/// The seasonal periods of `y` sampled every `step_seconds` (the median spacing of its
/// timestamps; `None` without timestamps), or the `given` ones (steps) when there are any.
///
/// With timestamps, the candidates are one day and one week converted into steps; each is kept
/// when the history holds two full cycles and the data show the cycle
/// ([`has_cycle`]; the weekly one only when it is more than the daily one repeated). When
/// neither is found, or without timestamps, the autocorrelation search
/// ([`detect_periods`]) runs on the values alone.
pub fn resolve_periods(
    y: &[f64],
    given: &[usize],
    step_seconds: Option<f64>,
) -> Vec<SeasonalPeriod> {
    let seconds = |steps: usize| step_seconds.map(|s| s * steps as f64);
    if !given.is_empty() {
        return given
            .iter()
            .map(|&steps| SeasonalPeriod {
                steps,
                seconds: seconds(steps),
                source: "given",
            })
            .collect();
    }
    let mut out = Vec::new();
    if let Some(step) = step_seconds.filter(|s| s.is_finite() && *s > 0.0) {
        if let Some(day) = steps_of(DAY_SECONDS, step).filter(|d| has_cycle(y, *d, None)) {
            out.push(SeasonalPeriod {
                steps: day,
                seconds: seconds(day),
                source: "daily",
            });
        }
        let daily = out.first().map(|p| p.steps);
        if let Some(week) = steps_of(WEEK_SECONDS, step).filter(|w| has_cycle(y, *w, daily)) {
            out.push(SeasonalPeriod {
                steps: week,
                seconds: seconds(week),
                source: "weekly",
            });
        }
    }
    if out.is_empty() {
        out = detect_periods(y)
            .into_iter()
            .map(|steps| SeasonalPeriod {
                steps,
                seconds: seconds(steps),
                source: "autocorrelation",
            })
            .collect();
    }
    out
}

/// `length` (seconds) in steps of `step` seconds, when that is a whole number of at least 2
/// steps (within 1%).
fn steps_of(length: f64, step: f64) -> Option<usize> {
    let k = (length / step).round();
    (k >= 2.0 && (k * step - length).abs() <= 0.01 * length).then_some(k as usize)
}

/// Does `y` repeat with period `p` (steps)? Needs two full cycles. The series is detrended
/// (a centred moving average over one cycle; a straight line when `within` is given, since a
/// moving average over a week would also remove the weekly pattern), the profile of the
/// shorter cycle `within` is removed when given (so a weekly cycle must be more than the
/// daily one repeated), values are clipped at 5 robust deviations (a few anomalies do not make
/// or break a cycle), and the correlation between each point and the point one cycle later
/// must reach 0.3 and 2.5 standard errors.
pub fn has_cycle(y: &[f64], p: usize, within: Option<usize>) -> bool {
    let n = y.len();
    if p < 2 || n < 2 * p || y.iter().any(|v| !v.is_finite()) {
        return false;
    }
    let mut x: Vec<f64> = match within {
        None => detrend_ma(y, p),
        Some(_) => {
            let (a, b) = crate::stats::linear_fit(y);
            y.iter()
                .enumerate()
                .map(|(t, v)| v - a - b * t as f64)
                .collect()
        }
    };
    if let Some(q) = within.filter(|q| *q >= 2 && *q < p) {
        let prof = phase_medians(&x, q, x.len());
        for (t, v) in x.iter_mut().enumerate() {
            *v -= prof[t % q];
        }
    }
    clip_robust(&mut x, 5.0);
    let m = n - p;
    let r = correlation(&x[..m], &x[p..]);
    r >= 0.3_f64.max(2.5 / (m as f64).sqrt())
}

/// `y` minus its centred moving average over `p` steps (the average at the nearest point
/// where the window fits, near the ends).
pub(crate) fn detrend_ma(y: &[f64], p: usize) -> Vec<f64> {
    let ma = crate::stats::centred_ma(y, p);
    let first = ma.iter().flatten().next().copied();
    let last = ma.iter().rev().flatten().next().copied();
    let (Some(first), Some(last)) = (first, last) else {
        let mean = y.iter().sum::<f64>() / y.len().max(1) as f64;
        return y.iter().map(|v| v - mean).collect();
    };
    let mut seen_first = false;
    y.iter()
        .zip(&ma)
        .map(|(v, m)| match m {
            Some(m) => {
                seen_first = true;
                v - m
            }
            None if !seen_first => v - first,
            None => v - last,
        })
        .collect()
}

/// Median of `x` at each phase `t % p`, over the cycles among the last `window` points.
pub(crate) fn phase_medians(x: &[f64], p: usize, window: usize) -> Vec<f64> {
    let n = x.len();
    let start = n - window.min(n);
    let mut buf = Vec::new();
    (0..p)
        .map(|phase| {
            buf.clear();
            // The first t >= start with t % p == phase, then every p-th: O(n) in all.
            let first = start + (phase + p - start % p) % p;
            buf.extend((first..n).step_by(p).map(|t| x[t]));
            if buf.is_empty() {
                0.0
            } else {
                aiops_core::stats::median(&mut buf)
            }
        })
        .collect()
}

/// Clips `x` to its median ± `k` robust standard deviations (1.4826 MAD); unchanged when
/// the MAD is zero.
pub(crate) fn clip_robust(x: &mut [f64], k: f64) {
    let mut buf = x.to_vec();
    let med = aiops_core::stats::median(&mut buf);
    for v in buf.iter_mut() {
        *v = (*v - med).abs();
    }
    let mad = 1.4826 * aiops_core::stats::median(&mut buf);
    if mad > 0.0 {
        for v in x.iter_mut() {
            *v = v.clamp(med - k * mad, med + k * mad);
        }
    }
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    if n < 2.0 {
        return 0.0;
    }
    let ma = a.iter().sum::<f64>() / n;
    let mb = b.iter().sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    if saa <= 0.0 || sbb <= 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// `y` with its anomalies replaced (a copy): points whose remainder after a moving-average
/// trend and the per-phase median profile of period `p` lies beyond 3 interquartile ranges
/// of the remainders' quartiles (the rule of R's `tsclean`) take the trend plus profile
/// value instead, so a spike is neither copied into the next cycle nor widens the intervals
/// for ever. Unchanged when the history has fewer than two cycles.
pub fn clean_anomalies(y: &[f64], p: usize) -> Vec<f64> {
    let n = y.len();
    if p < 2 || n < 2 * p || y.iter().any(|v| !v.is_finite()) {
        return y.to_vec();
    }
    let d = detrend_ma(y, p);
    let prof = phase_medians(&d, p, n);
    let e: Vec<f64> = d.iter().enumerate().map(|(t, v)| v - prof[t % p]).collect();
    let mut s = e.clone();
    s.sort_by(f64::total_cmp);
    let q1 = crate::stats::quantile_sorted(&s, 0.25);
    let q3 = crate::stats::quantile_sorted(&s, 0.75);
    let iqr = q3 - q1;
    if iqr <= 0.0 {
        return y.to_vec();
    }
    let (lo, hi) = (q1 - 3.0 * iqr, q3 + 3.0 * iqr);
    let flagged: Vec<usize> = (0..n).filter(|&t| e[t] < lo || e[t] > hi).collect();
    if flagged.is_empty() {
        return y.to_vec();
    }
    let mut out = y.to_vec();
    for &t in &flagged {
        out[t] = y[t] - e[t];
    }
    // Once more without the anomalies, whose weight also moved the moving average.
    let d = detrend_ma(&out, p);
    let prof = phase_medians(&d, p, n);
    for &t in &flagged {
        out[t] -= d[t] - prof[t % p];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Rng;

    #[test]
    fn finds_daily_and_weekly_periods() {
        let mut g = Rng::new(5);
        let y: Vec<f64> = (0..24 * 7 * 6)
            .map(|t| {
                let d = (t as f64 * std::f64::consts::TAU / 24.0).sin();
                let w = if (t / 24) % 7 >= 5 { -2.0 } else { 0.0 };
                10.0 + 3.0 * d + w + 0.3 * g.normal()
            })
            .collect();
        assert_eq!(detect_periods(&y), [24, 168]);
        let daily: Vec<f64> = (0..24 * 20)
            .map(|t| (t as f64 * std::f64::consts::TAU / 24.0).sin() + 0.2 * g.normal())
            .collect();
        assert_eq!(detect_periods(&daily), [24]);
        let noise: Vec<f64> = (0..500).map(|_| g.normal()).collect();
        assert!(detect_periods(&noise).is_empty());
        assert!(detect_periods(&[1.0; 5]).is_empty());
    }

    /// Daily and weekly cycles at 1 min, 15 min and 1 h; none in noise or a random walk; a few
    /// spikes change nothing.
    #[test]
    fn periods_from_the_sampling_interval() {
        let mut g = Rng::new(11);
        for step in [60.0, 900.0, 3600.0] {
            let day = (DAY_SECONDS / step) as usize;
            let days = if step < 100.0 { 3 } else { 21 };
            let mut y: Vec<f64> = (0..day * days)
                .map(|t| {
                    let phase = (t % day) as f64 * std::f64::consts::TAU / day as f64;
                    let weekend = if step > 100.0 && (t / day) % 7 >= 5 {
                        -8.0
                    } else {
                        0.0
                    };
                    30.0 - 10.0 * phase.cos() + weekend + 2.0 * g.normal()
                })
                .collect();
            for k in 1..4 {
                let at = k * y.len() / 4;
                y[at] += 80.0;
            }
            let found = resolve_periods(&y, &[], Some(step));
            let steps: Vec<usize> = found.iter().map(|p| p.steps).collect();
            let want = if step < 100.0 {
                vec![day]
            } else {
                vec![day, 7 * day]
            };
            assert_eq!(steps, want, "step {step}");
            assert_eq!(found[0].seconds, Some(DAY_SECONDS));
            assert_eq!(found[0].source, "daily");
        }
        let daily_only: Vec<f64> = (0..24 * 21)
            .map(|t| (t as f64 * std::f64::consts::TAU / 24.0).sin() + 0.2 * g.normal())
            .collect();
        let found = resolve_periods(&daily_only, &[], Some(3600.0));
        assert_eq!(
            found.len(),
            1,
            "no weekly cycle in a daily one repeated: {found:?}"
        );
        assert_eq!(found[0].describe(), "24 steps (1d)");
        let noise: Vec<f64> = (0..24 * 21).map(|_| g.normal()).collect();
        assert!(!has_cycle(&noise, 24, None));
        let mut walk = vec![0.0];
        for _ in 1..24 * 21 {
            let last = walk[walk.len() - 1];
            walk.push(last + g.normal());
        }
        assert!(!has_cycle(&walk, 24, None));
        assert!(!has_cycle(&daily_only[..30], 24, None), "two cycles needed");
        assert_eq!(
            resolve_periods(&noise, &[12], Some(3600.0))[0].source,
            "given"
        );
    }

    #[test]
    fn anomalies_are_cleaned_not_copied() {
        let mut g = Rng::new(2);
        let mut y: Vec<f64> = (0..24 * 5)
            .map(|t| {
                10.0 + 3.0 * (t as f64 * std::f64::consts::TAU / 24.0).sin() + 0.2 * g.normal()
            })
            .collect();
        let clean = clean_anomalies(&y, 24);
        assert_eq!(clean, y, "nothing to clean");
        y[100] += 30.0;
        let clean = clean_anomalies(&y, 24);
        assert!((clean[100] - (y[100] - 30.0)).abs() < 1.0, "{}", clean[100]);
        assert_eq!(clean.iter().zip(&y).filter(|(a, b)| a != b).count(), 1);
    }
}
