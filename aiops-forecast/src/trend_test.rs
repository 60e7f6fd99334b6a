//! Mann-Kendall trend test with Sen's slope, on block means of the deseasonalised series.
//!
//! A cycle is not a trend: with a period of at least two steps and two full cycles in the
//! history, the seasonal profile (the median per phase of the series minus its moving average
//! over one cycle) is removed first, and the test runs on the means of about 60 blocks. Without
//! a season, blocks of n/500 points. Block means and a variance inflated by the lag-1
//! autocorrelation of the blocks' residuals around Sen's line, `(1 + r) / (1 - r)`, keep
//! short-range autocorrelation from making the test over-confident. Significant at 5%.

use serde::Serialize;

use crate::error::Result;
use crate::model::check_history;
use crate::seasonality::{detrend_ma, phase_medians};
use crate::stats::normal_cdf;

/// Direction of the trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrendDirection {
    /// Significantly rising.
    Increasing,
    /// Significantly falling.
    Decreasing,
    /// No significant trend.
    Stable,
}

impl TrendDirection {
    /// Its name, as in JSON: `increasing`, `decreasing`, `stable`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrendDirection::Increasing => "increasing",
            TrendDirection::Decreasing => "decreasing",
            TrendDirection::Stable => "stable",
        }
    }
}

impl std::fmt::Display for TrendDirection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Result of the trend test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrendTest {
    /// Classification at 5% significance.
    pub direction: TrendDirection,
    /// Sen's slope, metric units per step.
    pub slope: f64,
    /// Two-sided p-value of the Mann-Kendall test.
    pub p_value: f64,
    /// Points per block the test ran on.
    pub block: usize,
    /// Seasonal period removed before the test, steps (1 = none).
    pub period: usize,
}

/// Mann-Kendall test with Sen's slope on block means of `y` with its season of `period`
/// steps removed (see the module docs).
pub fn trend_test(y: &[f64], period: usize) -> Result<TrendTest> {
    check_history(y, 3)?;
    let seasonal = period >= 2 && y.len() >= 2 * period;
    let adjusted;
    let (y, block, period) = if seasonal {
        let prof = phase_medians(&detrend_ma(y, period), period, y.len());
        let mean = prof.iter().sum::<f64>() / period as f64;
        adjusted = y
            .iter()
            .enumerate()
            .map(|(t, v)| v - (prof[t % period] - mean))
            .collect::<Vec<f64>>();
        (&adjusted[..], y.len().div_ceil(60), period)
    } else {
        (y, period.max(y.len().div_ceil(500)), 1)
    };
    let block = block.max(1);
    let mut x: Vec<f64> = y
        .chunks(block)
        .filter(|c| c.len() == block)
        .map(|c| c.iter().sum::<f64>() / block as f64)
        .collect();
    let block = if x.len() < 3 {
        x = y.to_vec();
        1
    } else {
        block
    };
    let n = x.len();
    let mut s = 0i64;
    let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            let d = x[j] - x[i];
            s += (d > 0.0) as i64 - (d < 0.0) as i64;
            slopes.push(d / (j - i) as f64);
        }
    }
    slopes.sort_by(f64::total_cmp);
    let per_block = crate::stats::quantile_sorted(&slopes, 0.5);
    let nf = n as f64;
    let var = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0 * inflation(&x, per_block);
    let z = if s > 0 {
        (s as f64 - 1.0) / var.sqrt()
    } else if s < 0 {
        (s as f64 + 1.0) / var.sqrt()
    } else {
        0.0
    };
    let p_value = 2.0 * (1.0 - normal_cdf(z.abs()));
    let sen = per_block / block as f64;
    let direction = if p_value < 0.05 && sen > 0.0 {
        TrendDirection::Increasing
    } else if p_value < 0.05 && sen < 0.0 {
        TrendDirection::Decreasing
    } else {
        TrendDirection::Stable
    };
    Ok(TrendTest {
        direction,
        slope: sen,
        p_value,
        block,
        period,
    })
}

/// `(1 + r) / (1 - r)` for the lag-1 autocorrelation `r` (clamped to [0, 0.9]) of the
/// residuals of `x` around the line of slope `slope` through their medians.
fn inflation(x: &[f64], slope: f64) -> f64 {
    let e: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, v)| v - slope * i as f64)
        .collect();
    let r = crate::stats::acf(&e, 1)[0].clamp(0.0, 0.9);
    (1.0 + r) / (1.0 - r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Rng;

    fn daily(days: usize, slope: f64, seed: u64) -> Vec<f64> {
        let mut g = Rng::new(seed);
        (0..288 * days)
            .map(|t| {
                let phase = (t % 288) as f64 * std::f64::consts::TAU / 288.0;
                40.0 + slope * t as f64 - 15.0 * phase.cos() + 2.0 * g.normal()
            })
            .collect()
    }

    #[test]
    fn a_cycle_is_not_a_trend() {
        for seed in 0..5 {
            // Starts at the trough and ends before it: a raw test on 2-point blocks sees a
            // rise in every day, a test without the season one large cycle.
            let y = daily(3, 0.0, seed);
            let t = trend_test(&y[40..800], 288).unwrap();
            assert_eq!(t.direction, TrendDirection::Stable, "seed {seed}: {t:?}");
            assert_eq!(t.period, 288);
            let up = daily(4, 0.01, seed);
            let t = trend_test(&up, 288).unwrap();
            assert_eq!(
                t.direction,
                TrendDirection::Increasing,
                "seed {seed}: {t:?}"
            );
            assert!((t.slope - 0.01).abs() < 0.003, "{t:?}");
        }
        let falling: Vec<f64> = (0..100).map(|t| 90.0 - 0.5 * t as f64).collect();
        let t = trend_test(&falling, 1).unwrap();
        assert_eq!(t.direction, TrendDirection::Decreasing);
        assert!((t.slope + 0.5).abs() < 1e-9);
    }
}
