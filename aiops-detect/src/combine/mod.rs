//! Combining detectors: `adaptive` (statistics of different kinds under learned extreme-value
//! thresholds), `calibrated` (the `default` detector: its alarms checked against and ranked with a contextual
//! memory),
//! per-series likelihood calibration of scores, and ensembles.

pub mod adaptive;
pub mod calibrated;
pub mod ensemble;
pub mod likelihood;
