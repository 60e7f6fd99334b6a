//! Detectors that learn what normal sequences look like: contextual memory, n-gram novelty,
//! isolation and random cut forests, and the default detector built on them.
//!
//! Their sequences, shingles and windows count points, not time: a gap in the data is simply
//! not seen.

pub mod contextual;
pub mod discord;
pub mod extremes_contextual;
pub mod isolation_forest;
pub mod novelty;
pub mod random_cut_forest;
