//! Authentication and authorisation: API tokens, OIDC JWTs, roles and permissions.

pub mod rbac;
pub mod token;
