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
    /// Parameters of an integration that cannot be used (a bad URL, a secret that cannot be
    /// read...). Never holds a secret's value.
    #[error("{system} {key}: {reason}")]
    Config {
        /// The system (`prometheus`...).
        system: &'static str,
        /// The parameter (`url`, `auth.bearer`...).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The system could not be reached, or did not answer in time, after every attempt.
    #[error("{system} {url}: {reason} (after {attempts} attempt(s))")]
    Unreachable {
        /// The system (`prometheus`...).
        system: &'static str,
        /// The URL without its query (which may be long), never with credentials.
        url: String,
        /// The transport's reason (connection refused, timed out...).
        reason: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The system answered with an HTTP status that is not a success, and no error of its own
    /// format in the body.
    #[error("{system} {url}: HTTP {status}: {body}")]
    Status {
        /// The system (`prometheus`...).
        system: &'static str,
        /// The URL without its query.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the body (at most 512 bytes), for the reader.
        body: String,
    },
    /// The system refused the request with an error of its own format (Prometheus'
    /// `{"status": "error", "errorType": ..., "error": ...}`).
    #[error("{system}: {error_type}: {message}")]
    Remote {
        /// The system (`prometheus`...).
        system: &'static str,
        /// The HTTP status code.
        status: u16,
        /// The system's error kind (`bad_data`, `execution`, `timeout`...).
        error_type: String,
        /// The system's message.
        message: String,
    },
    /// A message bus (NATS, Kafka) refused or failed an operation: connect, publish, fetch,
    /// acknowledge. Never holds a credential.
    #[error("{system}: {reason}")]
    Bus {
        /// The system (`nats`, `kafka`).
        system: &'static str,
        /// What failed and the client's reason.
        reason: String,
    },
}

impl IntegrationError {
    /// A bad parameter `key` of `system`'s configuration.
    pub fn config(system: &'static str, key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Config {
            system,
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// An answer of `system` that could not be understood.
    pub fn payload(system: &'static str, message: impl Into<String>) -> Self {
        Self::Payload {
            system,
            message: message.into(),
        }
    }

    /// `v`, an answer of `system` to `what`, read as a `T`.
    pub(crate) fn parse<T: serde::de::DeserializeOwned>(
        system: &'static str,
        v: serde_json::Value,
        what: &str,
    ) -> Result<T> {
        serde_json::from_value(v).map_err(|e| Self::payload(system, format!("{what} answer: {e}")))
    }
}

/// Result alias of `aiops-integrations`.
pub type Result<T, E = IntegrationError> = std::result::Result<T, E>;
