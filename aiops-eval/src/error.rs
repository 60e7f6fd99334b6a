//! The one error type of `aiops-eval`.

use aiops_alerts::AlertError;
use aiops_core::CoreError;
use aiops_detect::DetectError;
use aiops_forecast::ForecastError;
use aiops_logs::LogError;
use aiops_rca::RcaError;

/// What can go wrong reading a benchmark or running an evaluation. Errors of the library
/// under evaluation are wrapped unchanged (same message).
#[derive(Debug, thiserror::Error)]
// Exhaustive on purpose: the Python binding maps every variant to an exception class with a
// `match` that has no catch-all arm, so a new variant must be given its Python class.
pub enum EvalError {
    /// A benchmark file or folder that cannot be used (missing, malformed, inconsistent).
    #[error("{path}: {reason}")]
    Data {
        /// The file or folder.
        path: String,
        /// What is wrong, with the line number where there is one.
        reason: String,
    },
    /// A parameter of the evaluation, or a label of the benchmark, is out of its valid range.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// A setting of a simulator, a scenario generator or a scorer is out of range, or what
    /// it is given is inconsistent (a cyclic DAG, graphs over other variables...).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The setting or input.
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// A line of a benchmark fixture is malformed.
    #[error("line {line}: {reason}")]
    Malformed {
        /// Line number, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Root-cause ranking or causal discovery refused its input.
    #[error(transparent)]
    Rca(#[from] RcaError),
    /// The alert correlation engine refused its configuration or an alert.
    #[error(transparent)]
    Alerts(#[from] AlertError),
    /// A detector could not be built or run.
    #[error(transparent)]
    Detect(#[from] DetectError),
    /// A log parser or detector refused its parameters or its input.
    #[error(transparent)]
    Logs(#[from] LogError),
    /// A forecasting model could not be fitted.
    #[error(transparent)]
    Forecast(#[from] ForecastError),
    /// Invalid data or IO (unreadable file, malformed CSV...).
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Result alias of `aiops-eval`.
pub type Result<T, E = EvalError> = std::result::Result<T, E>;
