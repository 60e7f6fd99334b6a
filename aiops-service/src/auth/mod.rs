//! Authentication and authorisation: API tokens, OIDC JWTs, roles and permissions.

pub mod jwt;
pub mod rbac;
pub mod token;
