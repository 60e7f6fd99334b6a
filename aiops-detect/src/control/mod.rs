//! Control charts: EWMA and tabular CUSUM on standardised values.
//!
//! Their windows and smoothing count points, not time: a gap in the data is simply not seen.

pub mod cusum;
pub mod ewma;
