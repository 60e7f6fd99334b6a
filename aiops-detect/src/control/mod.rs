//! Control charts: EWMA and tabular CUSUM on standardised values.

pub mod cusum;
pub mod ewma;
