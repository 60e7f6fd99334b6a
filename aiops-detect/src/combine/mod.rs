//! Combining detectors: per-series likelihood calibration of scores, and ensembles.

pub mod ensemble;
pub mod likelihood;
