//! Rolling quantile detector.
