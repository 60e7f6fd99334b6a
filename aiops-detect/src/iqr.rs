//! Inter-quartile range detector.
