//! Detectors that model a seasonal cycle or a spectrum: they need evenly spaced points and
//! handle gaps by their timestamps.

pub mod profile;
pub mod seasonal_esd;
pub mod spectral_residual;
pub mod stl;
