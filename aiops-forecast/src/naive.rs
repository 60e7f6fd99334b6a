//! Naive and seasonal naive forecasts: the benchmarks every other model must beat.
//!
//! Naive repeats the last value; seasonal naive repeats the last season. Intervals assume
//! normal one-step errors with σ estimated from the in-sample residuals (`y_t - y_{t-m}`,
//! m = 1 for naive), widening as σ√h for naive and σ√(k + 1), k = ⌊(h - 1) / m⌋, for
//! seasonal naive (Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, 5.5).

use crate::error::Result;
use crate::model::{FittedModel, Model, Prediction, check_history, check_horizon};

/// Seasonal naive with period `m` (m = 1 is plain naive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeasonalNaive {
    period: usize,
    drift: bool,
}

impl SeasonalNaive {
    /// Seasonal naive with `period` steps per season (>= 1).
    pub fn new(period: usize) -> Result<Self> {
        crate::model::at_least_one_step("period", period)?;
        Ok(Self {
            period,
            drift: false,
        })
    }

    /// Adds the average change per step (the mean seasonal difference divided by the period),
    /// so a trending series' last season is carried forward along the trend.
    pub fn with_drift(mut self, yes: bool) -> Self {
        self.drift = yes;
        self
    }

    /// Plain naive: repeat the last value.
    pub fn naive() -> Self {
        Self {
            period: 1,
            drift: false,
        }
    }
}

/// A fitted [`SeasonalNaive`].
#[derive(Debug, Clone, PartialEq)]
pub struct FittedSeasonalNaive {
    last_season: Vec<f64>,
    sigma: f64,
    drift: f64,
}

impl FittedSeasonalNaive {
    /// Standard deviation of the one-season-ahead in-sample errors.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }
}

impl Model for SeasonalNaive {
    type Fitted = FittedSeasonalNaive;

    /// Needs one full season plus one point, so at least one residual exists.
    fn fit(&self, history: &[f64]) -> Result<FittedSeasonalNaive> {
        let m = self.period;
        check_history(history, m + 1)?;
        let k = (history.len() - m) as f64;
        let drift = if self.drift {
            (m..history.len())
                .map(|t| history[t] - history[t - m])
                .sum::<f64>()
                / k
                / m as f64
        } else {
            0.0
        };
        let sse: f64 = (m..history.len())
            .map(|t| (history[t] - history[t - m] - drift * m as f64).powi(2))
            .sum();
        let sigma = (sse / k).sqrt();
        Ok(FittedSeasonalNaive {
            last_season: history[history.len() - m..].to_vec(),
            sigma,
            drift,
        })
    }
}

impl FittedModel for FittedSeasonalNaive {
    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction> {
        check_horizon(horizon)?;
        let m = self.last_season.len();
        // Step h + 1 repeats a value from (h / m + 1) seasons back.
        let mean = (0..horizon)
            .map(|h| self.last_season[h % m] + self.drift * (m * (h / m + 1)) as f64)
            .collect();
        let sd: Vec<f64> = (0..horizon)
            .map(|h| self.sigma * (((h / m) + 1) as f64).sqrt())
            .collect();
        Prediction::normal(mean, &sd, levels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ForecastError;
    use crate::model::fit_predict;

    #[test]
    fn pure_seasonal_series_is_forecast_exactly() {
        let season = [3.0, 5.0, 9.0, 4.0];
        let y: Vec<f64> = (0..40).map(|i| season[i % 4]).collect();
        let f = SeasonalNaive::new(4).unwrap().fit(&y).unwrap();
        let p = f.predict(10, &[95.0]).unwrap();
        let want: Vec<f64> = (40..50).map(|i| season[i % 4]).collect();
        assert_eq!(p.mean, want);
        assert_eq!(f.sigma(), 0.0);
        assert_eq!(p.intervals[0].lower, want, "no error, no width");
    }

    #[test]
    fn naive_intervals_widen_with_sqrt_h() {
        let y = [1.0, 2.0, 1.0, 2.0, 1.0];
        let f = SeasonalNaive::naive().fit(&y).unwrap();
        assert_eq!(f.sigma(), 1.0);
        let p = f.predict(4, &[80.0, 95.0]).unwrap();
        assert_eq!(p.mean, [1.0; 4]);
        let w95: Vec<f64> = p.intervals[1].upper.iter().map(|u| u - 1.0).collect();
        assert!((w95[0] - 1.959_963_985).abs() < 1e-6, "{w95:?}");
        assert!((w95[3] - 2.0 * w95[0]).abs() < 1e-9, "sqrt(4) = 2");
        assert!(p.intervals[0].upper[0] < p.intervals[1].upper[0]);
        let fc = p.into_forecast(1000, 60_000);
        assert_eq!(fc.timestamps, [61_000, 121_000, 181_000, 241_000]);
        fc.validate().unwrap();
    }

    #[test]
    fn seasonal_intervals_step_per_season() {
        let y: Vec<f64> = (0..48)
            .map(|i| (i % 24) as f64 + if i % 3 == 0 { 1.0 } else { 0.0 })
            .collect();
        let p = fit_predict(&SeasonalNaive::new(24).unwrap(), &y, 48, &[95.0]);
        let w: Vec<f64> = (0..48)
            .map(|h| p.intervals[0].upper[h] - p.mean[h])
            .collect();
        assert!((w[23] - w[0]).abs() < 1e-12);
        assert!((w[24] - w[0] * 2f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn drift_follows_a_trended_season() {
        let y: Vec<f64> = (0..48).map(|t| (t % 4) as f64 + 0.5 * t as f64).collect();
        let f = SeasonalNaive::new(4)
            .unwrap()
            .with_drift(true)
            .fit(&y)
            .unwrap();
        let p = f.predict(8, &[]).unwrap();
        let want: Vec<f64> = (48..56).map(|t| (t % 4) as f64 + 0.5 * t as f64).collect();
        for (a, b) in p.mean.iter().zip(&want) {
            assert!((a - b).abs() < 1e-9, "{:?} vs {want:?}", p.mean);
        }
        assert!(f.sigma() < 1e-9);
    }

    #[test]
    fn bad_input() {
        assert!(SeasonalNaive::new(0).is_err());
        let m = SeasonalNaive::new(24).unwrap();
        assert!(matches!(
            m.fit(&[1.0; 24]),
            Err(ForecastError::NotEnoughData {
                needed: 25,
                got: 24
            })
        ));
        assert!(m.fit(&[]).is_err());
        let mut y = vec![1.0; 30];
        y[7] = f64::NAN;
        assert!(matches!(m.fit(&y), Err(ForecastError::Core(_))));
        let f = SeasonalNaive::naive().fit(&[1.0, 2.0]).unwrap();
        assert!(f.predict(0, &[]).is_err());
        assert!(f.predict(3, &[100.0]).is_err());
        assert!(f.predict(3, &[0.0]).is_err());
    }
}
