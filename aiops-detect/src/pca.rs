//! PCA reconstruction error over several metrics.
