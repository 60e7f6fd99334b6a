#![doc = include_str!("../README.md")]

pub mod bocpd;
pub mod calibration;
pub mod contextual;
pub mod cusum;
pub mod default_detector;
pub mod detector;
pub mod ensemble;
pub mod error;
pub mod esd;
pub mod ewma;
pub mod hampel;
pub mod iqr;
pub mod isolation_forest;
pub mod level_shift;
pub mod mad;
pub mod mahalanobis;
pub mod multivariate;
pub mod novelty;
pub mod order_stats;
pub mod pca;
pub mod period;
pub mod persist;
pub mod quantile;
pub mod random_cut_forest;
pub mod registry;
pub mod seasonal;
pub mod seasonal_esd;
pub mod spectral_residual;
pub mod stl;
pub mod suppression;
#[cfg(test)]
mod testing;
pub mod threshold;
pub mod volatility_shift;
pub mod windowed_gaussian;
pub mod zscore;

pub use detector::{Detections, Detector, OnlineDetector, ParamGuard, PointScore};
pub use error::{DetectError, Result};
pub use threshold::{Threshold, ThresholdOnline, ThresholdParams};
pub use zscore::{Direction, RollingZScore, RollingZScoreOnline, RollingZScoreParams};
