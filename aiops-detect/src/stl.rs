//! Robust STL decomposition and residual scoring.
