//! Mahalanobis distance over several metrics.
