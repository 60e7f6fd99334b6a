//! Statistical detectors on a window of recent points: static threshold, rolling z-score,
//! quantile bounds, Tukey's IQR fences, NAB's windowed Gaussian, generalized ESD.

pub mod esd;
pub mod iqr;
pub mod quantile;
pub mod threshold;
pub mod windowed_gaussian;
pub mod zscore;
