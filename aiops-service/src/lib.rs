#![doc = include_str!("../README.md")]

pub mod audit;
pub mod auth;
pub mod error;
pub mod pii;

pub use audit::{AuditEvent, AuditKind, Outcome};
pub use auth::api_token::{
    ApiTokenRecord, Bearer, SecretToken, TokenHash, TokenRecordParts, parse_authorization,
};
pub use auth::jwt::{JwtConfig, JwtVerifier};
pub use auth::rbac::{AuthMethod, Permission, Principal, Role, allows};
pub use error::{ErrorBody, ErrorDetail, Result, ServiceError, TokenRejection};
pub use pii::{PiiConfig, PiiMasker, PiiPattern};
