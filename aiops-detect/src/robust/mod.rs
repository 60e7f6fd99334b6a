//! Robust detectors: median / MAD scores that a few outliers cannot drag.

pub mod hampel;
pub mod mad;
