//! Windowed Gaussian tail probability.
