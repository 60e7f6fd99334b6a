//! Statistical detectors on a window of recent points: static threshold, rolling z-score,
//! quantile bounds, Tukey's IQR fences, NAB's windowed Gaussian, generalized ESD.
//!
//! Their windows count points, not time: a gap in the data is simply not seen.

pub mod esd;
pub mod iqr;
pub mod quantile;
pub mod threshold;
pub mod windowed_gaussian;
pub mod zscore;
