//! Seasonal hybrid ESD.
