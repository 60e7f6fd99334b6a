#![doc = include_str!("../README.md")]

pub mod auth;
pub mod error;
pub mod pii;

pub use auth::jwt::{JwtConfig, JwtVerifier};
pub use auth::rbac::{AuthMethod, Permission, Principal, Role, allows};
pub use auth::token::{ApiTokenRecord, Bearer, SecretToken, TokenHash, TokenRecordParts};
pub use error::{ErrorBody, ErrorDetail, Result, ServiceError, TokenRejection};
pub use pii::{PiiConfig, PiiMasker, PiiPattern};
