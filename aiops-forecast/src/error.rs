//! The one error type of `aiops-forecast`.

use aiops_core::CoreError;

/// What can go wrong when fitting or forecasting.
#[derive(Debug, thiserror::Error)]
// Exhaustive on purpose: the Python binding maps every variant to an exception class with a
// `match` that has no catch-all arm, so a new variant must be given its Python class.
pub enum ForecastError {
    /// The history is too short for the model.
    #[error("not enough data: {needed} points needed, {got} given")]
    NotEnoughData {
        /// Points the model needs.
        needed: usize,
        /// Points given.
        got: usize,
    },
    /// A parameter is out of its valid range.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// A multiplicative model or transform met a value <= 0.
    #[error("{model} needs positive values, got {value} at index {index}")]
    NonPositive {
        /// The model or transform that needs positive data.
        model: &'static str,
        /// Index of the first offending point.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// The model could not be fitted (no finite likelihood anywhere in the parameter space).
    #[error("{model} could not be fitted: {reason}")]
    FitFailed {
        /// The model.
        model: &'static str,
        /// Why.
        reason: String,
    },
    /// An unknown model name.
    #[error("unknown model {name:?}; known: {known}")]
    UnknownModel {
        /// The name given.
        name: String,
        /// The accepted names, comma separated.
        known: String,
    },
    /// Invalid input data (NaN, unsorted...).
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Result alias of `aiops-forecast`.
pub type Result<T, E = ForecastError> = std::result::Result<T, E>;
