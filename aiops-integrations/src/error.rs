//! The one error type of `aiops-integrations`.

use aiops_core::CoreError;

/// What can go wrong talking to an external system.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntegrationError {
    /// A payload does not follow the system's documented wire format.
    #[error("{system} payload: {message}")]
    Payload {
        /// The system (`alertmanager`...).
        system: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The payload's data is invalid for aiops' model.
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Result alias of `aiops-integrations`.
pub type Result<T, E = IntegrationError> = std::result::Result<T, E>;
