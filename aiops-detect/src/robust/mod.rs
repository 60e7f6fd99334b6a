//! Robust detectors: median / MAD scores that a few outliers cannot drag.
//!
//! Their windows count points, not time: a gap in the data is simply not seen.

pub mod hampel;
pub mod mad;
