//! Hampel filter: rolling median and MAD.
