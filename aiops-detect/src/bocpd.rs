//! Bayesian online change-point detection.
