//! Mann-Kendall trend test with Sen's slope, on block means.
//!
//! Blocks of one season (or of n/500 points when longer) remove the season and most
//! short-range autocorrelation, which would make a raw test over-confident. Significant at 5%.

use serde::Serialize;

use crate::error::Result;
use crate::model::check_history;
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
}

/// Mann-Kendall test with Sen's slope on block means of `y`.
pub fn trend_test(y: &[f64], period: usize) -> Result<TrendTest> {
    check_history(y, 3)?;
    let block = period.max(y.len().div_ceil(500)).max(1);
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
    let nf = n as f64;
    let var = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0;
    let z = if s > 0 {
        (s as f64 - 1.0) / var.sqrt()
    } else if s < 0 {
        (s as f64 + 1.0) / var.sqrt()
    } else {
        0.0
    };
    let p_value = 2.0 * (1.0 - normal_cdf(z.abs()));
    slopes.sort_by(f64::total_cmp);
    let sen = crate::stats::quantile_sorted(&slopes, 0.5) / block as f64;
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
    })
}
