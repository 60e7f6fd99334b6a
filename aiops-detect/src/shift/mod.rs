//! Change detectors: shifts of level or volatility, persistent deviations, Bayesian online
//! change points.

pub mod bocpd;
pub mod level_shift;
pub mod persist;
pub mod volatility_shift;
