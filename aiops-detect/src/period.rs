//! Automatic period detection (ACF / periodogram).
