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
    /// A compressed body that cannot be decompressed (remote_write uses the snappy block
    /// format).
    #[error("{system} body: bad snappy block: {reason}")]
    Decompress {
        /// The system (`prometheus remote_write`...).
        system: &'static str,
        /// What the decompressor found wrong.
        reason: String,
    },
    /// A body whose decompressed size is over the configured limit; it is refused before
    /// anything is allocated for it.
    #[error("{system} body: decompressed size {size} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// The system (`prometheus remote_write`...).
        system: &'static str,
        /// Size the body declares or needs, bytes.
        size: u64,
        /// The limit, bytes.
        limit: u64,
    },
    /// A body that is not a valid protobuf encoding of the expected message.
    #[error("{system} body: bad protobuf {message}: {reason}")]
    Protobuf {
        /// The system (`prometheus remote_write`...).
        system: &'static str,
        /// The protobuf message expected (`WriteRequest`...).
        message: &'static str,
        /// The decoder's reason.
        reason: String,
    },
    /// One series of a batch is invalid (missing metric name, bad or duplicate label name...).
    #[error("{system} series {index}: {reason}")]
    Series {
        /// The system (`prometheus remote_write`...).
        system: &'static str,
        /// Position of the series in the batch, from 0.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The payload's data is invalid for aiops' model.
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Result alias of `aiops-integrations`.
pub type Result<T, E = IntegrationError> = std::result::Result<T, E>;
