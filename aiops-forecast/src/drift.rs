//! Random walk with drift: the line through the first and last observations, extended.
//!
//! Forecast `y_T + h (y_T - y_1) / (T - 1)`; intervals are normal with
//! `σ √(h (1 + h / (T - 1)))`, σ from the in-sample one-step errors (Hyndman &
//! Athanasopoulos, *Forecasting: Principles and Practice*, 5.5).

use crate::error::Result;
use crate::model::{FittedModel, Model, Prediction, check_history, check_horizon};

/// The drift method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drift;

/// A fitted [`Drift`].
#[derive(Debug, Clone, PartialEq)]
pub struct FittedDrift {
    last: f64,
    slope: f64,
    sigma: f64,
    n: usize,
}

impl FittedDrift {
    /// Average change per step.
    pub fn slope(&self) -> f64 {
        self.slope
    }
}

impl Model for Drift {
    type Fitted = FittedDrift;

    /// Needs at least 3 points (a slope and one residual degree of freedom).
    fn fit(&self, history: &[f64]) -> Result<FittedDrift> {
        check_history(history, 3)?;
        let n = history.len();
        let slope = (history[n - 1] - history[0]) / (n - 1) as f64;
        let sse: f64 = history
            .windows(2)
            .map(|w| (w[1] - w[0] - slope).powi(2))
            .sum();
        Ok(FittedDrift {
            last: history[n - 1],
            slope,
            sigma: (sse / (n - 2) as f64).sqrt(),
            n,
        })
    }
}

impl FittedModel for FittedDrift {
    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction> {
        check_horizon(horizon)?;
        let t1 = (self.n - 1) as f64;
        let mean = (1..=horizon)
            .map(|h| self.last + h as f64 * self.slope)
            .collect();
        let sd: Vec<f64> = (1..=horizon)
            .map(|h| {
                let h = h as f64;
                self.sigma * (h * (1.0 + h / t1)).sqrt()
            })
            .collect();
        Prediction::normal(mean, &sd, levels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extends_the_line_and_widens() {
        let y: Vec<f64> = (0..11).map(|i| 2.0 * i as f64 + (i % 2) as f64).collect();
        let f = Drift.fit(&y).unwrap();
        assert!((f.slope() - 2.0).abs() < 1e-12);
        let p = f.predict(3, &[95.0]).unwrap();
        assert_eq!(p.mean, [22.0, 24.0, 26.0]);
        let w: Vec<f64> = (0..3)
            .map(|h| p.intervals[0].upper[h] - p.mean[h])
            .collect();
        assert!(w[0] > 0.0 && w[1] > w[0] && w[2] > w[1]);
        assert!(Drift.fit(&[1.0, 2.0]).is_err());
        assert!(Drift.fit(&[1.0, f64::INFINITY, 2.0]).is_err());
    }
}
