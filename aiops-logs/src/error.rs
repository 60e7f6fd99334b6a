//! The one error type of `aiops-logs`.

use aiops_core::CoreError;
use aiops_detect::DetectError;

/// What can go wrong parsing, mining or scoring logs.
#[derive(Debug, thiserror::Error)]
// Exhaustive on purpose: the Python binding maps every variant to an exception class with a
// `match` that has no catch-all arm, so a new variant must be given its Python class.
pub enum LogError {
    /// A parameter is out of its valid range.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// A `key=value` assignment does not fit the log detector's parameters (unknown key,
    /// wrong type...).
    #[error("parameters of logs: {message}")]
    BadParams {
        /// What is wrong.
        message: String,
    },
    /// A loghub-style `log_format` string that cannot be compiled.
    #[error("invalid log format {format:?}: {reason}")]
    LogFormat {
        /// The format string.
        format: String,
        /// Why it was refused.
        reason: String,
    },
    /// A masking regex that does not compile, or a mask name that is not usable.
    #[error("invalid mask {pattern:?}: {reason}")]
    Mask {
        /// The regex or name.
        pattern: String,
        /// Why it was refused.
        reason: String,
    },
    /// A saved streaming state could not be written or read back.
    #[error("snapshot: {0}")]
    Snapshot(String),
    /// A log file could not be read.
    #[error("{path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// The count detector (MAD) refused its parameters.
    #[error(transparent)]
    Detect(#[from] DetectError),
    /// Invalid data.
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Result alias of `aiops-logs`.
pub type Result<T, E = LogError> = std::result::Result<T, E>;
