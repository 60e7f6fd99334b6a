//! Two-sided CUSUM control chart.
