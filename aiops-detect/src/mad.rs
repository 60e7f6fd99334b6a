//! Robust rolling median / MAD score.
