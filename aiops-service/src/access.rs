//! Who is calling: API tokens kept in the store (hashes only) and OIDC JWTs, checked before a
//! request's body is read; and the token commands (`aiops token create|list|revoke`).

use std::str::FromStr;

use aiops_core::TimestampMs;
use aiops_store::{Store, StoreError, TokenRow};
use serde::Serialize;

use crate::auth::api_token::{
    ApiTokenRecord, Bearer, SecretToken, TokenHash, generate, parse_authorization, record_parts,
};
use crate::auth::jwks::JwtAuth;
use crate::auth::rbac::{Principal, Role};
use crate::error::{Result, ServiceError, TokenRejection};

/// A token as `aiops token list` shows it (never the secret, never the hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// Non-secret id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Created (ms).
    pub created_at: TimestampMs,
    /// Expires (ms).
    pub expires_at: Option<TimestampMs>,
    /// Revoked (ms).
    pub revoked_at: Option<TimestampMs>,
}

fn record(row: TokenRow) -> Result<ApiTokenRecord> {
    let corrupt = |e: String| StoreError::Corrupt {
        what: "token",
        reason: e,
    };
    Ok(ApiTokenRecord {
        id: row.id,
        hash: TokenHash::from_hex(&row.hash).map_err(|e| corrupt(e.to_string()))?,
        name: row.name,
        role: Role::from_str(&row.role).map_err(|e| corrupt(e.to_string()))?,
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
    })
}

fn info(r: ApiTokenRecord) -> TokenInfo {
    TokenInfo {
        id: r.id,
        name: r.name,
        role: r.role,
        created_at: r.created_at,
        expires_at: r.expires_at,
        revoked_at: r.revoked_at,
    }
}

/// Authenticates requests against the store's tokens and an optional JWT verifier.
#[derive(Debug, Clone)]
pub struct Access {
    store: Store,
    jwt: Option<std::sync::Arc<JwtAuth>>,
}

impl Access {
    /// Tokens from `store`; JWTs accepted only when a verifier is given.
    pub fn new(store: Store, jwt: Option<JwtAuth>) -> Self {
        Self {
            store,
            jwt: jwt.map(std::sync::Arc::new),
        }
    }

    /// The caller of a request with this `Authorization` header value at `now` (ms):
    /// 401-class errors for a missing, malformed, unknown, revoked or expired credential.
    pub async fn authenticate(&self, header: Option<&str>, now: TimestampMs) -> Result<Principal> {
        let token = parse_authorization(header)?;
        match Bearer::classify(token)? {
            Bearer::ApiToken(t) => {
                let parts = record_parts(t)?;
                let row = self
                    .store
                    .token_by_hash(&parts.hash.to_hex())
                    .await?
                    .ok_or(ServiceError::InvalidToken(TokenRejection::UnknownToken))?;
                record(row)?.authenticate(t, now)
            }
            Bearer::Jwt(t) => match &self.jwt {
                Some(v) => v.verify_at(t, now).await,
                None => Err(TokenRejection::Malformed.into()),
            },
        }
    }

    /// Makes a token: returns the plaintext (shown once; only its hash is stored).
    pub async fn create_token(
        &self,
        name: &str,
        role: Role,
        expires_at: Option<TimestampMs>,
        now: TimestampMs,
    ) -> Result<(SecretToken, TokenInfo)> {
        let (secret, parts) = generate()?;
        let rec = ApiTokenRecord::new(parts, name, role, now, expires_at)?;
        self.store
            .insert_token(&TokenRow {
                id: rec.id.clone(),
                name: rec.name.clone(),
                role: rec.role.as_str().to_string(),
                hash: rec.hash.to_hex(),
                created_at: rec.created_at,
                expires_at: rec.expires_at,
                revoked_at: None,
            })
            .await?;
        Ok((secret, info(rec)))
    }

    /// Every token, revoked ones included.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>> {
        let rows = self.store.tokens().await?;
        rows.into_iter().map(|r| Ok(info(record(r)?))).collect()
    }

    /// Revokes a token by id or name (idempotent).
    pub async fn revoke_token(&self, id_or_name: &str, now: TimestampMs) -> Result<TokenInfo> {
        Ok(info(record(
            self.store.revoke_token(id_or_name, now).await?,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiops_store::StoreOptions;

    #[tokio::test]
    async fn tokens_authenticate_until_revoked_or_expired() {
        let store = Store::open("sqlite::memory:", &StoreOptions::default())
            .await
            .unwrap();
        let a = Access::new(store, None);
        let (secret, info) = a
            .create_token("prometheus", Role::Ingest, Some(1_000), 0)
            .await
            .unwrap();
        let header = format!("Bearer {}", secret.expose());
        let p = a.authenticate(Some(&header), 10).await.unwrap();
        assert_eq!(p.roles, vec![Role::Ingest]);
        assert_eq!(p.name, "prometheus");
        let e = a.authenticate(Some(&header), 1_000).await.unwrap_err();
        assert_eq!(e.code(), "token_expired");
        // A well-formed token nobody made.
        let (other, _) = generate().unwrap();
        let e = a
            .authenticate(Some(&format!("Bearer {}", other.expose())), 10)
            .await
            .unwrap_err();
        assert_eq!((e.code(), e.status()), ("invalid_token", 401));
        assert_eq!(a.authenticate(None, 10).await.unwrap_err().status(), 401);
        assert_eq!(
            a.revoke_token(&info.id, 20).await.unwrap().revoked_at,
            Some(20)
        );
        let e = a.authenticate(Some(&header), 30).await.unwrap_err();
        assert!(e.to_string().contains("revoked"), "{e}");
        // JWT-shaped tokens without a verifier are refused.
        assert_eq!(
            a.authenticate(Some("Bearer a.b.c"), 10)
                .await
                .unwrap_err()
                .status(),
            401
        );
        let list = a.list_tokens().await.unwrap();
        assert_eq!(list.len(), 1);
        assert!(
            !serde_json::to_string(&list)
                .unwrap()
                .contains(secret.expose())
        );
        // Names are unique.
        let e = a
            .create_token("prometheus", Role::Viewer, None, 0)
            .await
            .unwrap_err();
        assert_eq!(e.status(), 409);
    }
}
