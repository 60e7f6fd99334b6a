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
    /// Invalid input data.
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Result alias of `aiops-rca`.
pub type Result<T, E = RcaError> = std::result::Result<T, E>;
