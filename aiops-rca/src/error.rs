//! The one error type of `aiops-rca`.

use aiops_core::CoreError;

/// What can go wrong in correlation and root-cause analysis.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RcaError {
    /// A resource is not in the topology.
    #[error("unknown resource {0:?}: not in the topology")]
    UnknownResource(String),
    /// `runs_on` edges form a cycle (a host cannot run on what runs on it).
    #[error("runs_on edges form a cycle through {0}")]
    RunsOnCycle(String),
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
    /// A duration such as `5m` could not be parsed.
    #[error("invalid duration {text:?}: {reason}")]
    InvalidDuration {
        /// The text as written.
        text: String,
        /// What is wrong with it.
        reason: String,
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
    /// A runbook document could not be read.
    #[error("runbook {document}: {reason}")]
    Runbook {
        /// The file (or document name) at fault.
        document: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file or folder could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Invalid input data.
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Result alias of `aiops-rca`.
pub type Result<T, E = RcaError> = std::result::Result<T, E>;
