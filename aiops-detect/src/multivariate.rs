//! The multivariate detector API.
