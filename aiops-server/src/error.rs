//! The one error type of the `aiops` binary.

use std::path::PathBuf;

use aiops_core::CoreError;
use aiops_detect::DetectError;

/// What can stop a command. Displayed as one line.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// The service could not start, run or stop, or a token command failed.
    #[error("{0}")]
    Service(#[from] aiops_service::ServiceError),
    /// The input file could not be read or parsed.
    #[error("{path}: {source}")]
    Input {
        /// The file.
        path: PathBuf,
        /// Why.
        source: CoreError,
    },
    /// The output file could not be written.
    #[error("cannot write {path}: {source}")]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A detector could not be built or run.
    #[error("{0}")]
    Detect(#[from] DetectError),
    /// A file given to `aiops rca` or `aiops runbooks` is invalid.
    #[error("{path}: {source}")]
    Rca {
        /// The file.
        path: PathBuf,
        /// Why.
        source: aiops_rca::RcaError,
    },
    /// Root-cause analysis failed.
    #[error("{0}")]
    RcaFailed(#[from] aiops_rca::RcaError),
    /// A configuration given to `aiops alerts` or `aiops eval alerts` is invalid.
    #[error("{path}: {source}")]
    Alerts {
        /// The file.
        path: PathBuf,
        /// Why.
        source: aiops_alerts::AlertError,
    },
    /// Correlation failed.
    #[error("{0}")]
    Correlate(#[from] aiops_alerts::AlertError),
    /// An input file does not follow an external system's format (Alertmanager alerts).
    #[error("{path}: {source}")]
    Integration {
        /// The file.
        path: PathBuf,
        /// Why.
        source: aiops_integrations::IntegrationError,
    },
    /// Prometheus or VictoriaMetrics (`--prometheus`) could not be queried.
    #[error("{0}")]
    Source(#[from] aiops_integrations::IntegrationError),
    /// A log could not be parsed or scored.
    #[error("{0}")]
    Logs(#[from] aiops_logs::LogError),
    /// A bad argument or input the parsers do not cover.
    #[error("{0}")]
    Usage(String),
    /// A forecast could not be made.
    #[error("{0}")]
    Forecast(#[from] aiops_forecast::ForecastError),
    /// A benchmark folder could not be read.
    #[error("{path}: {source}")]
    Benchmark {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: aiops_eval::EvalError,
    },
    /// An evaluation could not run.
    #[error("{0}")]
    Eval(#[from] aiops_eval::EvalError),
}

impl CliError {
    pub(crate) fn input(path: &std::path::Path, source: CoreError) -> Self {
        let source = match source {
            CoreError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
                CoreError::Io(std::io::Error::new(e.kind(), "no such file"))
            }
            other => other,
        };
        CliError::Input {
            path: path.to_path_buf(),
            source,
        }
    }
}
