#![doc = include_str!("../README.md")]

pub mod detector;
pub mod error;
pub mod registry;
pub mod threshold;
pub mod zscore;

pub use detector::{Detections, Detector, OnlineDetector, ParamGuard, PointScore};
pub use error::{DetectError, Result};
pub use threshold::{Threshold, ThresholdOnline, ThresholdParams};
pub use zscore::{Direction, RollingZScore, RollingZScoreOnline, RollingZScoreParams};
