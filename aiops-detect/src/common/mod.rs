//! Helpers shared by the detectors: which departures count, parameter checks, severity
//! mappings, Tukey's fences, fit modes, rolling moments and order statistics, period detection,
//! alarm suppression, and the test fixtures.

pub mod cadence;
pub mod checks;
pub mod direction;
pub mod fences;
pub mod fit;
pub mod moments;
pub mod order_stats;
pub mod period;
pub(crate) mod rng;
pub mod score_severity;
pub mod suppression;
#[cfg(test)]
pub(crate) mod testing;

pub use direction::Direction;
pub use fit::FitMode;
