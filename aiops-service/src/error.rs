//! The crate's error, [`ServiceError`], with a stable machine code and an HTTP status per
//! variant, and [`ErrorBody`], the one JSON shape every error response of the service has.
//!
//! Adding a variant: give it a `#[error]` message, then an arm in [`ServiceError::code`] and
//! [`ServiceError::status`] (both matches are exhaustive, so the compiler asks for them) and a
//! sample in the `every_variant` test. Codes are `snake_case` and never change once published:
//! clients branch on them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::auth::rbac::Permission;
use crate::auth::session::SessionRejection;

/// Result with [`ServiceError`].
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Why a presented token (API token or JWT) was refused. Each reason answers 401.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenRejection {
    /// Not a well-formed API token or JWT (bad segments, base64 or JSON, spaces).
    Malformed,
    /// The JWT header names an algorithm that is refused (`none`, HMAC, or one the key does
    /// not support).
    AlgorithmNotAllowed,
    /// No key of the JWKS matches the JWT's `kid`.
    UnknownKey,
    /// The signature does not verify with the selected key.
    BadSignature,
    /// The `iss` claim is not the configured issuer.
    WrongIssuer,
    /// The `aud` claim does not contain the configured audience.
    WrongAudience,
    /// The token expired (`exp`) longer ago than the allowed clock skew.
    Expired,
    /// The token is not valid yet (`nbf`) beyond the allowed clock skew.
    NotYetValid,
    /// A claim the service needs is absent or of the wrong type; holds the claim's name.
    MissingClaim(String),
    /// No API token with this value exists.
    UnknownToken,
    /// The API token was revoked.
    Revoked,
}

impl fmt::Display for TokenRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("malformed token"),
            Self::AlgorithmNotAllowed => f.write_str("signing algorithm not allowed"),
            Self::UnknownKey => f.write_str("no key of the JWKS matches the token's kid"),
            Self::BadSignature => f.write_str("signature does not verify"),
            Self::WrongIssuer => f.write_str("wrong issuer"),
            Self::WrongAudience => f.write_str("wrong audience"),
            Self::Expired => f.write_str("token expired"),
            Self::NotYetValid => f.write_str("token not valid yet"),
            Self::MissingClaim(claim) => write!(f, "claim '{claim}' missing or not a string"),
            Self::UnknownToken => f.write_str("unknown API token"),
            Self::Revoked => f.write_str("API token revoked"),
        }
    }
}

/// Every error of `aiops-service`. Each variant has a stable [`code`](Self::code) and an HTTP
/// [`status`](Self::status); the server answers with [`ErrorBody`].
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request has no `Authorization` header (401, `unauthenticated`).
    #[error("missing Authorization header: a bearer token is required")]
    MissingCredentials,
    /// The `Authorization` header uses another scheme than `Bearer` (401, `unauthenticated`).
    #[error("unsupported authorization scheme '{scheme}': use 'Bearer <token>'")]
    NotBearer {
        /// The scheme the client sent (e.g. `Basic`), at most 32 characters of it.
        scheme: String,
    },
    /// `Authorization: Bearer` with nothing after it (401, `unauthenticated`).
    #[error("empty bearer token")]
    EmptyToken,
    /// The token was presented but refused (401, `invalid_token`, or `token_expired` when it
    /// expired).
    #[error("invalid token: {0}")]
    InvalidToken(TokenRejection),
    /// The session cookie was refused (401, `session_expired` when it expired, else
    /// `invalid_session`).
    #[error("invalid session: {0}")]
    InvalidSession(SessionRejection),
    /// A request authenticated by the session cookie that changes something lacks the
    /// session's CSRF token in `x-aiops-csrf`, or carries another (403, `csrf_failed`).
    #[error(
        "missing or wrong x-aiops-csrf header: a session's mutations must carry its CSRF token"
    )]
    CsrfFailed,
    /// A request authenticated by the session cookie comes from another origin (403,
    /// `cross_origin`).
    #[error("origin {origin:?} may not use the session cookie")]
    CrossOrigin {
        /// The `Origin` header, at most 64 characters of it.
        origin: String,
    },
    /// The caller is authenticated but none of its roles grants the permission (403,
    /// `forbidden`).
    #[error("forbidden: no role of '{subject}' grants '{permission}'")]
    Forbidden {
        /// The caller's subject.
        subject: String,
        /// The permission that was needed.
        permission: Permission,
    },
    /// A valid JWT whose groups map to no role (403, `no_role`).
    #[error("forbidden: the groups of '{subject}' map to no aiops role")]
    NoRole {
        /// The token's subject.
        subject: String,
    },
    /// A role name that is not one of viewer, operator, admin, ingest (400, `bad_request`).
    #[error("unknown role '{given}' (expected one of viewer, operator, admin, ingest)")]
    UnknownRole {
        /// What was given.
        given: String,
    },
    /// A permission name outside the vocabulary (400, `bad_request`).
    #[error("unknown permission '{given}'")]
    UnknownPermission {
        /// What was given.
        given: String,
    },
    /// A request parameter is invalid (400, `bad_request`).
    #[error("invalid parameter '{name}': {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A configuration value is invalid (500, `invalid_config`): reported at start-up.
    #[error("invalid configuration '{key}': {reason}")]
    InvalidConfig {
        /// The configuration key (e.g. `auth.oidc.leeway_seconds`, `pii.extra[2].regex`).
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Something failed that the caller cannot fix (500, `internal`), e.g. the operating
    /// system's random source.
    #[error("internal error: {what}")]
    Internal {
        /// What failed.
        what: String,
    },
    /// An error of `aiops-core` (400, `bad_request`): bad input data.
    #[error(transparent)]
    Core(#[from] aiops_core::CoreError),
    /// The service is at capacity (429, `overloaded`): retry after `retry_after_s`.
    #[error("{what} is full: retry in {retry_after_s} s")]
    Busy {
        /// What is full (the detection queue, the series limit...).
        what: String,
        /// Seconds to wait before retrying (the `Retry-After` header).
        retry_after_s: u64,
    },
    /// The request body is larger than allowed (413, `too_large`).
    #[error("request body too large: at most {limit} bytes")]
    TooLarge {
        /// The limit (bytes).
        limit: usize,
    },
    /// The body's content type or encoding is not the endpoint's (415,
    /// `unsupported_media_type`).
    #[error("unsupported {header} {got:?}: expected {expected}")]
    UnsupportedMediaType {
        /// `Content-Type` or `Content-Encoding`.
        header: &'static str,
        /// What was sent.
        got: String,
        /// What the endpoint takes.
        expected: &'static str,
    },
    /// No such record (404, `not_found`).
    #[error("{kind} '{id}' not found")]
    NotFound {
        /// The kind of record.
        kind: String,
        /// The id asked for.
        id: String,
    },
    /// A store error: 404 / 409 for missing or clashing records, 503 when a retry can
    /// succeed, 500 otherwise.
    #[error(transparent)]
    Store(#[from] aiops_store::StoreError),
    /// A payload does not follow its wire format (400 `bad_request`; 413 `too_large`).
    #[error(transparent)]
    Integration(#[from] aiops_integrations::IntegrationError),
    /// A detector refused its parameters or input (400, `bad_request`).
    #[error(transparent)]
    Detect(#[from] aiops_detect::DetectError),
    /// The alert engine refused a configuration or an alert (400, `bad_request`).
    #[error(transparent)]
    Alert(#[from] aiops_alerts::AlertError),
    /// Root-cause analysis refused its input (400, `bad_request`): too little data...
    #[error(transparent)]
    Rca(#[from] aiops_rca::RcaError),
    /// Forecasting refused its input (400, `bad_request`).
    #[error(transparent)]
    Forecast(#[from] aiops_forecast::ForecastError),
}

impl ServiceError {
    /// The stable machine-readable code (`snake_case`), the `error.code` of [`ErrorBody`].
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingCredentials | Self::NotBearer { .. } | Self::EmptyToken => {
                "unauthenticated"
            }
            Self::InvalidToken(TokenRejection::Expired) => "token_expired",
            Self::InvalidToken(_) => "invalid_token",
            Self::InvalidSession(SessionRejection::Expired) => "session_expired",
            Self::InvalidSession(_) => "invalid_session",
            Self::CsrfFailed => "csrf_failed",
            Self::CrossOrigin { .. } => "cross_origin",
            Self::Forbidden { .. } => "forbidden",
            Self::NoRole { .. } => "no_role",
            Self::UnknownRole { .. }
            | Self::UnknownPermission { .. }
            | Self::InvalidParameter { .. }
            | Self::Core(_) => "bad_request",
            Self::InvalidConfig { .. } => "invalid_config",
            Self::Internal { .. } => "internal",
            Self::Busy { .. } => "overloaded",
            Self::TooLarge { .. } => "too_large",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::NotFound { .. } | Self::Store(aiops_store::StoreError::NotFound { .. }) => {
                "not_found"
            }
            Self::Store(aiops_store::StoreError::Conflict { .. }) => "conflict",
            Self::Store(e) if e.is_transient() => "unavailable",
            Self::Store(_) => "internal",
            Self::Integration(aiops_integrations::IntegrationError::TooLarge { .. }) => "too_large",
            Self::Integration(e) if is_upstream(e) => "bad_gateway",
            Self::Integration(_)
            | Self::Detect(_)
            | Self::Alert(_)
            | Self::Rca(_)
            | Self::Forecast(_) => "bad_request",
        }
    }

    /// The HTTP status code the server answers with (401, 403, 400, 500...).
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingCredentials
            | Self::NotBearer { .. }
            | Self::EmptyToken
            | Self::InvalidToken(_)
            | Self::InvalidSession(_) => 401,
            Self::Forbidden { .. }
            | Self::NoRole { .. }
            | Self::CsrfFailed
            | Self::CrossOrigin { .. } => 403,
            Self::UnknownRole { .. }
            | Self::UnknownPermission { .. }
            | Self::InvalidParameter { .. }
            | Self::Core(_) => 400,
            Self::InvalidConfig { .. } | Self::Internal { .. } => 500,
            Self::Busy { .. } => 429,
            Self::TooLarge { .. } => 413,
            Self::UnsupportedMediaType { .. } => 415,
            Self::NotFound { .. } | Self::Store(aiops_store::StoreError::NotFound { .. }) => 404,
            Self::Store(aiops_store::StoreError::Conflict { .. }) => 409,
            Self::Store(e) if e.is_transient() => 503,
            Self::Store(_) => 500,
            Self::Integration(aiops_integrations::IntegrationError::TooLarge { .. }) => 413,
            Self::Integration(e) if is_upstream(e) => 502,
            Self::Integration(_)
            | Self::Detect(_)
            | Self::Alert(_)
            | Self::Rca(_)
            | Self::Forecast(_) => 400,
        }
    }

    /// True for the errors that mean "who are you?" (401): the server adds a
    /// `WWW-Authenticate: Bearer` header to these.
    pub fn is_unauthenticated(&self) -> bool {
        self.status() == 401
    }

    /// The JSON body for this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody::from(self)
    }

    /// An [`InvalidParameter`](Self::InvalidParameter) error.
    pub fn invalid_parameter(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidParameter {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// An [`InvalidConfig`](Self::InvalidConfig) error.
    pub fn invalid_config(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidConfig {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

impl From<TokenRejection> for ServiceError {
    fn from(reason: TokenRejection) -> Self {
        Self::InvalidToken(reason)
    }
}

/// The JSON shape of every error response: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// Stable machine-readable code ([`ServiceError::code`]).
    pub code: String,
    /// Human-readable message (the error's `Display`).
    pub message: String,
}

impl ErrorBody {
    /// A body from a code and a message, for errors of other crates the server maps itself.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

impl From<&ServiceError> for ErrorBody {
    fn from(e: &ServiceError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

/// An external system that failed or refused a call aiops made (502), as opposed to input
/// aiops received that is wrong (400).
fn is_upstream(e: &aiops_integrations::IntegrationError) -> bool {
    use aiops_integrations::IntegrationError as E;
    matches!(
        e,
        E::Unreachable { .. } | E::Status { .. } | E::Remote { .. } | E::Bus { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One sample of every variant with its code and status: a new variant gets a line here.
    fn every_variant() -> Vec<(ServiceError, &'static str, u16)> {
        let core = aiops_core::CoreError::Empty("points".into());
        vec![
            (ServiceError::MissingCredentials, "unauthenticated", 401),
            (
                ServiceError::NotBearer {
                    scheme: "Basic".into(),
                },
                "unauthenticated",
                401,
            ),
            (ServiceError::EmptyToken, "unauthenticated", 401),
            (
                ServiceError::InvalidToken(TokenRejection::BadSignature),
                "invalid_token",
                401,
            ),
            (
                ServiceError::InvalidToken(TokenRejection::Expired),
                "token_expired",
                401,
            ),
            (
                ServiceError::InvalidSession(SessionRejection::Expired),
                "session_expired",
                401,
            ),
            (
                ServiceError::InvalidSession(SessionRejection::TokenRevoked),
                "invalid_session",
                401,
            ),
            (ServiceError::CsrfFailed, "csrf_failed", 403),
            (
                ServiceError::CrossOrigin {
                    origin: "http://evil.example".into(),
                },
                "cross_origin",
                403,
            ),
            (
                ServiceError::Forbidden {
                    subject: "alice".into(),
                    permission: Permission::WriteRules,
                },
                "forbidden",
                403,
            ),
            (
                ServiceError::NoRole {
                    subject: "bob".into(),
                },
                "no_role",
                403,
            ),
            (
                ServiceError::UnknownRole { given: "x".into() },
                "bad_request",
                400,
            ),
            (
                ServiceError::UnknownPermission { given: "x".into() },
                "bad_request",
                400,
            ),
            (
                ServiceError::invalid_parameter("limit", "must be positive"),
                "bad_request",
                400,
            ),
            (
                ServiceError::invalid_config("auth.oidc.leeway_seconds", "too large"),
                "invalid_config",
                500,
            ),
            (
                ServiceError::Internal {
                    what: "random source".into(),
                },
                "internal",
                500,
            ),
            (ServiceError::Core(core), "bad_request", 400),
        ]
    }

    #[test]
    fn codes_and_statuses_are_pinned() {
        for (e, code, status) in every_variant() {
            assert_eq!(e.code(), code, "{e:?}");
            assert_eq!(e.status(), status, "{e:?}");
            assert_eq!(e.is_unauthenticated(), status == 401);
            assert!(
                e.code()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
        }
    }

    #[test]
    fn body_has_the_one_json_shape() {
        let e = ServiceError::Forbidden {
            subject: "alice".into(),
            permission: Permission::WriteRules,
        };
        let json = serde_json::to_value(e.body()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {
                "code": "forbidden",
                "message": "forbidden: no role of 'alice' grants 'write:rules'"
            }})
        );
        let back: ErrorBody = serde_json::from_value(json).unwrap();
        assert_eq!(back, e.body());
    }
}
