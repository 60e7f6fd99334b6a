//! The one error type of `aiops-detect`.

use aiops_core::{CoreError, TimestampMs};

/// Everything that can go wrong when building or running a detector.
#[derive(Debug, thiserror::Error)]
// Exhaustive on purpose: the Python binding maps every variant to an exception class with a
// `match` that has no catch-all arm, so a new variant must be given its Python class.
pub enum DetectError {
    /// A parameter is out of its valid range.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },

    /// Lower and upper bounds contradict each other.
    #[error("inconsistent bounds: lower {lower} must be below upper {upper}")]
    InconsistentBounds {
        /// The lower bound.
        lower: f64,
        /// The upper bound.
        upper: f64,
    },

    /// No detector has this name.
    #[error("unknown detector {name:?}; known detectors: {known}")]
    UnknownDetector {
        /// The name asked for.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },

    /// Parameters given as a map or `key=value` text do not fit the detector.
    #[error("parameters of {detector}: {message}")]
    BadParams {
        /// The detector.
        detector: &'static str,
        /// What is wrong (unknown key, wrong type...).
        message: String,
    },

    /// An online update arrived with a timestamp not after the previous one.
    #[error("timestamp {timestamp} ms is not after the previous point's {previous} ms")]
    OutOfOrder {
        /// The refused timestamp.
        timestamp: TimestampMs,
        /// The last accepted timestamp.
        previous: TimestampMs,
    },

    /// An online update carried a NaN or infinite value.
    #[error("value at timestamp {timestamp} ms is not finite: {value}")]
    NonFinite {
        /// Its timestamp.
        timestamp: TimestampMs,
        /// The value.
        value: f64,
    },

    /// A multivariate row has a different number of metrics than the rows before it.
    #[error("row at timestamp {timestamp} ms has {found} metrics, expected {expected}")]
    DimensionMismatch {
        /// The row's timestamp.
        timestamp: TimestampMs,
        /// Metrics per row fixed by the first row.
        expected: usize,
        /// Metrics in this row.
        found: usize,
    },

    /// A value so large that the detectors' sums of squares would overflow.
    #[error("value at timestamp {timestamp} ms is out of range: |{value}| > {limit}")]
    OutOfRange {
        /// Its timestamp.
        timestamp: TimestampMs,
        /// The value.
        value: f64,
        /// The largest magnitude accepted.
        limit: f64,
    },

    /// A saved streaming state could not be written or read back.
    #[error("snapshot: {0}")]
    Snapshot(String),

    /// Benchmark or settings data that cannot be used (missing column, bad JSON...).
    #[error("{path}: {reason}")]
    Data {
        /// The file or folder.
        path: String,
        /// What is wrong, with the line number where there is one.
        reason: String,
    },

    /// Invalid input data (empty, unsorted, non-finite series...).
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Result alias of `aiops-detect`.
pub type Result<T, E = DetectError> = std::result::Result<T, E>;
