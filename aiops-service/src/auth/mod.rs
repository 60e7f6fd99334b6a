//! Authentication and authorisation: API tokens, OIDC JWTs, roles and permissions.

pub mod api_token;
pub mod jwks;
pub mod jwt;
pub mod rbac;
pub mod session;
