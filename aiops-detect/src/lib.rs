#![doc = include_str!("../README.md")]

pub mod combine;
pub mod common;
pub mod control;
pub mod detector;
pub mod error;
pub mod learned;
pub mod logs;
pub mod multivariate;
pub mod nab;
pub mod registry;
pub mod robust;
pub mod seasonal;
pub mod shift;
pub mod stats;

// Paths of 0.1.0, kept while the detectors move into folders.
pub use combine::ensemble;
pub use combine::likelihood as calibration;
pub use common::{order_stats, period, suppression};
pub use control::{cusum, ewma};
pub use learned::extremes_contextual as default_detector;
pub use learned::{contextual, isolation_forest, novelty, random_cut_forest};
pub use multivariate::{mahalanobis, pca};
pub use robust::{hampel, mad};
pub use seasonal::profile as seasonal_profile;
pub use seasonal::{seasonal_esd, spectral_residual, stl};
pub use shift::{bocpd, level_shift, persist, volatility_shift};
pub use stats::{esd, iqr, quantile, threshold, windowed_gaussian, zscore};
#[cfg(test)]
use common::testing;

pub use detector::{Detections, Detector, OnlineDetector, ParamGuard, PointScore};
pub use error::{DetectError, Result};
pub use threshold::{Threshold, ThresholdOnline, ThresholdParams};
pub use zscore::{Direction, RollingZScore, RollingZScoreOnline, RollingZScoreParams};
