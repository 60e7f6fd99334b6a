//! Isolation forest over shingled points.
