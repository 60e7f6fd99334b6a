//! Detectors that learn what normal sequences look like: contextual memory, n-gram novelty,
//! isolation and random cut forests, and the default detector built on them.

pub mod contextual;
pub mod extremes_contextual;
pub mod isolation_forest;
pub mod novelty;
pub mod random_cut_forest;
