//! The one error type of `aiops-alerts`.

use aiops_core::CoreError;

/// What can go wrong configuring or running the alert correlation engine.
#[derive(Debug, thiserror::Error)]
// Exhaustive on purpose: the Python binding maps every variant to an exception class with a
// `match` that has no catch-all arm, so a new variant must be given its Python class.
pub enum AlertError {
    /// A label matcher could not be parsed.
    #[error("bad matcher {input:?} at byte {position}: {reason}")]
    MatcherSyntax {
        /// The whole text being parsed.
        input: String,
        /// Byte offset of the problem in `input`.
        position: usize,
        /// What was expected or found.
        reason: String,
    },
    /// The regular expression of a `=~` / `!~` matcher does not compile.
    #[error("invalid regular expression {pattern:?} for label {label:?}: {message}")]
    InvalidRegex {
        /// Label the matcher applies to.
        label: String,
        /// The pattern as written.
        pattern: String,
        /// The regex engine's message.
        message: String,
    },
    /// A parameter or configuration value is out of range or inconsistent.
    #[error("invalid {name}: {reason}")]
    InvalidParameter {
        /// Which parameter.
        name: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// The YAML configuration could not be read.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Invalid data: labels, timestamps, topology, durations.
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Result alias of `aiops-alerts`.
pub type Result<T, E = AlertError> = std::result::Result<T, E>;
