//! Historic or window average: the mean of the last `window` points (all of them by default).
//!
//! Intervals are normal with `σ √(1 + 1/w)`, σ the standard deviation of the window, the same
//! at every step (the model assumes a stationary level).

use crate::error::{ForecastError, Result};
use crate::model::{FittedModel, Model, Prediction, check_history, check_horizon};

/// The average method over the whole history or its last `window` points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowAverage {
    window: Option<usize>,
}

impl WindowAverage {
    /// Mean of the whole history.
    pub fn historic() -> Self {
        Self { window: None }
    }

    /// Mean of the last `window` points (>= 2).
    pub fn window(window: usize) -> Result<Self> {
        if window < 2 {
            return Err(ForecastError::InvalidParameter {
                name: "window",
                reason: format!("must be at least 2 points, got {window}"),
            });
        }
        Ok(Self {
            window: Some(window),
        })
    }
}

/// A fitted [`WindowAverage`].
#[derive(Debug, Clone, PartialEq)]
pub struct FittedWindowAverage {
    mean: f64,
    sd: f64,
}

impl Model for WindowAverage {
    type Fitted = FittedWindowAverage;

    /// Needs the window (2 points at least for the historic mean).
    fn fit(&self, history: &[f64]) -> Result<FittedWindowAverage> {
        let w = self.window.unwrap_or(history.len()).max(2);
        check_history(history, w)?;
        let tail = &history[history.len() - w..];
        let mean = tail.iter().sum::<f64>() / w as f64;
        let var = tail.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (w - 1) as f64;
        Ok(FittedWindowAverage {
            mean,
            sd: (var * (1.0 + 1.0 / w as f64)).sqrt(),
        })
    }
}

impl FittedModel for FittedWindowAverage {
    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction> {
        check_horizon(horizon)?;
        Prediction::normal(vec![self.mean; horizon], &vec![self.sd; horizon], levels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fit_predict;

    #[test]
    fn window_mean_and_errors() {
        let y = [100.0, 1.0, 2.0, 3.0];
        let p = fit_predict(&WindowAverage::window(3).unwrap(), &y, 2, &[80.0]);
        assert_eq!(p.mean, [2.0, 2.0]);
        let all = fit_predict(&WindowAverage::historic(), &y, 1, &[]);
        assert_eq!(all.mean, [26.5]);
        assert!(WindowAverage::window(1).is_err());
        assert!(WindowAverage::window(5).unwrap().fit(&y).is_err());
        assert!(WindowAverage::historic().fit(&[1.0]).is_err());
    }
}
