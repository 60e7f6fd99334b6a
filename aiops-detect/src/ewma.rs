//! EWMA control chart.
