//! Change detectors: shifts of level or volatility, persistent deviations, Bayesian online
//! change points.
//!
//! Their windows and run lengths count points, not time: a gap in the data is simply not seen.

pub mod bocpd;
pub mod level_shift;
pub mod persist;
pub mod volatility_shift;
