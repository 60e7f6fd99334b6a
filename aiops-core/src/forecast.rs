//! Forecasts with prediction intervals.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::time::TimestampMs;

/// A prediction interval at one coverage level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastInterval {
    /// Nominal coverage in percent, in (0, 100), e.g. 95.
    pub level: f64,
    /// Lower bound per step.
    pub lower: Vec<f64>,
    /// Upper bound per step.
    pub upper: Vec<f64>,
}

/// Point forecasts for future timestamps, with intervals at any number of levels.
///
/// JSON: `{"timestamps": [ms, ...], "mean": [...], "intervals": [{"level": 95, "lower": [...],
/// "upper": [...]}]}`. Columns are arrays, timestamps in ms, for compactness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forecast {
    /// Future timestamps, ms since the epoch.
    pub timestamps: Vec<TimestampMs>,
    /// Point forecast per step.
    pub mean: Vec<f64>,
    /// Prediction intervals, one per level.
    #[serde(default)]
    pub intervals: Vec<ForecastInterval>,
}

impl Forecast {
    /// Checks that every column has one entry per step, levels lie in (0, 100) and
    /// `lower <= mean <= upper` wherever they are finite.
    pub fn validate(&self) -> Result<()> {
        let n = self.timestamps.len();
        if self.mean.len() != n {
            return Err(CoreError::LengthMismatch {
                timestamps: n,
                values: self.mean.len(),
            });
        }
        for iv in &self.intervals {
            if !(iv.level > 0.0 && iv.level < 100.0) {
                return Err(CoreError::InvalidParameter {
                    name: "level",
                    reason: format!("must be in (0, 100), got {}", iv.level),
                });
            }
            for col in [&iv.lower, &iv.upper] {
                if col.len() != n {
                    return Err(CoreError::LengthMismatch {
                        timestamps: n,
                        values: col.len(),
                    });
                }
            }
            for i in 0..n {
                if iv.lower[i] > self.mean[i] || self.mean[i] > iv.upper[i] {
                    return Err(CoreError::InvalidParameter {
                        name: "intervals",
                        reason: format!(
                            "step {i}: {}% interval [{}, {}] does not contain the mean {}",
                            iv.level, iv.lower[i], iv.upper[i], self.mean[i]
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// The interval at `level` percent, if present.
    pub fn interval(&self, level: f64) -> Option<&ForecastInterval> {
        self.intervals
            .iter()
            .find(|iv| (iv.level - level).abs() < 1e-9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Forecast {
        Forecast {
            timestamps: vec![0, 60_000],
            mean: vec![1.0, 2.0],
            intervals: vec![ForecastInterval {
                level: 95.0,
                lower: vec![0.5, 1.0],
                upper: vec![1.5, 3.0],
            }],
        }
    }

    #[test]
    fn json_shape() {
        let f = sample();
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(
            v,
            json!({"timestamps": [0, 60000], "mean": [1.0, 2.0],
                   "intervals": [{"level": 95.0, "lower": [0.5, 1.0], "upper": [1.5, 3.0]}]})
        );
        assert_eq!(serde_json::from_value::<Forecast>(v).unwrap(), f);
    }

    #[test]
    fn validation() {
        let mut f = sample();
        assert!(f.validate().is_ok());
        assert!(f.interval(95.0).is_some() && f.interval(80.0).is_none());
        f.intervals[0].upper[1] = 1.0;
        assert!(f.validate().is_err());
        let mut f = sample();
        f.mean.pop();
        assert!(matches!(
            f.validate(),
            Err(CoreError::LengthMismatch { .. })
        ));
        let mut f = sample();
        f.intervals[0].level = 100.0;
        assert!(f.validate().is_err());
    }
}
