//! Streaming random cut forest over shingled points.
