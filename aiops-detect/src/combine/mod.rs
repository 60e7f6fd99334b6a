//! Combining detectors: the `default` detector (statistics of different kinds under learned
//! extreme-value thresholds), per-series likelihood calibration of scores, and ensembles.

pub mod adaptive;
pub mod ensemble;
pub mod likelihood;
