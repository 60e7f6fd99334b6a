//! The Numenta Anomaly Benchmark scorer.
