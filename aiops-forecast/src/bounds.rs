//! The range a metric can take, applied to forecasts: a series that has never been negative
//! gets non-negative point forecasts and intervals, and a percentage stays within 0-100.
//!
//! Clipping the bounds of an interval at a hard limit keeps its coverage (the mass beyond the
//! limit is impossible anyway), and clipping the point forecast keeps it inside its interval.

use serde::Serialize;

use crate::error::{ForecastError, Result};
use crate::model::Prediction;

/// Lower and upper limits of a metric, in its unit; `None` = unbounded on that side.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Bounds {
    /// Lowest possible value.
    pub lower: Option<f64>,
    /// Highest possible value.
    pub upper: Option<f64>,
}

/// Words in a metric's name or unit that mark a percentage (0-100).
pub const PERCENT_MARKERS: &[&str] =
    &["percent", "_pct", "pct_", "utilization", "utilisation", "%"];

impl Bounds {
    /// No limits.
    pub const NONE: Bounds = Bounds {
        lower: None,
        upper: None,
    };
    /// A percentage: 0 to 100.
    pub const PERCENT: Bounds = Bounds {
        lower: Some(0.0),
        upper: Some(100.0),
    };

    /// Explicit limits; refused when not finite or when `lower > upper`.
    pub fn new(lower: Option<f64>, upper: Option<f64>) -> Result<Self> {
        let bad = |reason: String| ForecastError::InvalidParameter {
            name: "bounds",
            reason,
        };
        if lower.is_some_and(|v| !v.is_finite()) || upper.is_some_and(|v| !v.is_finite()) {
            return Err(bad("limits must be finite".into()));
        }
        if let (Some(lo), Some(hi)) = (lower, upper)
            && lo > hi
        {
            return Err(bad(format!("lower {lo} is above upper {hi}")));
        }
        Ok(Self { lower, upper })
    }

    /// Parses `lo,hi` (either side may be empty for no limit), e.g. `0,100` or `0,`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || ForecastError::InvalidParameter {
            name: "bounds",
            reason: format!("{text:?}: expected lo,hi (e.g. 0,100 or 0,)"),
        };
        let (lo, hi) = text.split_once(',').ok_or_else(bad)?;
        let side = |s: &str| -> Result<Option<f64>> {
            let s = s.trim();
            if s.is_empty() {
                Ok(None)
            } else {
                s.parse::<f64>().map(Some).map_err(|_| bad())
            }
        };
        Self::new(side(lo)?, side(hi)?)
    }

    /// Does a metric's name or unit (`name`) say it is a percentage?
    pub fn is_percent_name(name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        PERCENT_MARKERS.iter().any(|m| lower.contains(m))
    }

    /// The default limits of a history: 0-100 when `name` (the metric's name or unit) marks a
    /// percentage and the values lie within it; otherwise 0 below when the series has never
    /// been negative, and no limit above.
    pub fn infer(y: &[f64], name: Option<&str>) -> Self {
        let finite = || y.iter().filter(|v| v.is_finite());
        let never_negative = !y.is_empty() && finite().all(|v| *v >= 0.0);
        let within_percent = never_negative && finite().all(|v| *v <= 100.0);
        if within_percent && name.is_some_and(Self::is_percent_name) {
            Self::PERCENT
        } else if never_negative {
            Self {
                lower: Some(0.0),
                upper: None,
            }
        } else {
            Self::NONE
        }
    }

    /// `v` brought within the limits.
    pub fn clip(&self, v: f64) -> f64 {
        let v = self.lower.map_or(v, |lo| v.max(lo));
        self.upper.map_or(v, |hi| v.min(hi))
    }

    /// Clips the point forecast and every interval bound of `p`.
    pub fn apply(&self, p: &mut Prediction) {
        if self.lower.is_none() && self.upper.is_none() {
            return;
        }
        for v in p.mean.iter_mut() {
            *v = self.clip(*v);
        }
        for iv in p.intervals.iter_mut() {
            for v in iv.lower.iter_mut().chain(iv.upper.iter_mut()) {
                *v = self.clip(*v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiops_core::ForecastInterval;

    #[test]
    fn inferred_parsed_and_applied() {
        assert_eq!(Bounds::infer(&[1.0, 0.0, 3.0], None).lower, Some(0.0));
        assert_eq!(Bounds::infer(&[1.0, -1.0], None), Bounds::NONE);
        assert_eq!(
            Bounds::infer(&[20.0, 80.0], Some("node_cpu_utilization")),
            Bounds::PERCENT
        );
        assert_eq!(
            Bounds::infer(&[20.0, 80.0], Some("disk_used_pct")),
            Bounds::PERCENT
        );
        assert_eq!(
            Bounds::infer(&[20.0, 180.0], Some("cpu_percent")).upper,
            None,
            "values above 100 are not a 0-100 percentage"
        );
        assert_eq!(Bounds::infer(&[20.0, 80.0], Some("cpu")).upper, None);
        assert_eq!(Bounds::parse("0,100").unwrap(), Bounds::PERCENT);
        assert_eq!(
            Bounds::parse(" 0 , ").unwrap(),
            Bounds {
                lower: Some(0.0),
                upper: None
            }
        );
        assert!(Bounds::parse("100,0").is_err());
        assert!(Bounds::parse("0").is_err());
        assert!(Bounds::parse("a,1").is_err());
        let mut p = Prediction {
            mean: vec![-5.0, 50.0, 120.0],
            intervals: vec![ForecastInterval {
                level: 95.0,
                lower: vec![-20.0, 10.0, 90.0],
                upper: vec![10.0, 117.0, 150.0],
            }],
        };
        Bounds::PERCENT.apply(&mut p);
        assert_eq!(p.mean, [0.0, 50.0, 100.0]);
        assert_eq!(p.intervals[0].lower, [0.0, 10.0, 90.0]);
        assert_eq!(p.intervals[0].upper, [10.0, 100.0, 100.0]);
    }
}
