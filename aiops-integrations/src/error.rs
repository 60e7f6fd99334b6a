//! The one error type of `aiops-integrations`.

use aiops_core::CoreError;

/// What can go wrong talking to an external system.
#[derive(Debug, thiserror::Error)]
// Exhaustive on purpose: the Python binding maps every variant to an exception class with a
// `match` that has no catch-all arm, so a new variant must be given its Python class.
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
