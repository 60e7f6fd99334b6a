//! The one error type of `aiops-forecast`.

use aiops_core::CoreError;

/// What can go wrong when fitting or forecasting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// Invalid input data (NaN, unsorted...).
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Result alias of `aiops-forecast`.
pub type Result<T, E = ForecastError> = std::result::Result<T, E>;
