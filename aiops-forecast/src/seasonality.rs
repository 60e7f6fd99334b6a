//! Automatic seasonality detection from the autocorrelation function.
//!
//! The primary period is the smallest lag whose autocorrelation is a local peak, passes the M4
//! 90% significance test and comes within 90% of the highest such peak (so 24 wins over its
//! multiple 48 on hourly data). A longer period that is a multiple of it (e.g. 168 = 7 x 24)
//! is added when its autocorrelation stands clearly (> 0.05) above the lags one primary period
//! on either side, i.e. when the weekly pattern is more than the daily one repeated.

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
}
