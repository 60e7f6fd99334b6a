//! Helpers shared by the detectors: order statistics, period detection, alarm suppression and
//! (in tests) the fixtures.

pub mod order_stats;
pub mod period;
pub mod suppression;
#[cfg(test)]
pub(crate) mod testing;
