//! Who is calling: API tokens kept in the store (hashes only) and OIDC JWTs, checked before a
//! request's body is read; and the token commands (`aiops token create|list|revoke`).

use std::str::FromStr;

use aiops_core::TimestampMs;
use aiops_store::{SessionRow, Store, StoreError, TokenRow};
use serde::Serialize;

use crate::auth::api_token::{
    ApiTokenRecord, Bearer, SecretToken, TokenHash, generate, parse_authorization, record_parts,
};
use crate::auth::jwks::JwtAuth;
use crate::auth::rbac::{AuthMethod, Principal, Role};
use crate::auth::session::{
    self, Authenticated, Credentials, LOGIN_PERMISSION, Session, SessionRejection, SessionSecret,
};
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
        Ok(self.authenticate_bearer(header, now).await?.0)
    }

    /// [`authenticate`](Self::authenticate), with when the credential expires (ms), if it
    /// does.
    async fn authenticate_bearer(
        &self,
        header: Option<&str>,
        now: TimestampMs,
    ) -> Result<(Principal, Option<TimestampMs>)> {
        let token = parse_authorization(header)?;
        match Bearer::classify(token)? {
            Bearer::ApiToken(t) => {
                let parts = record_parts(t)?;
                let row = self
                    .store
                    .token_by_hash(&parts.hash.to_hex())
                    .await?
                    .ok_or(ServiceError::InvalidToken(TokenRejection::UnknownToken))?;
                let rec = record(row)?;
                Ok((rec.authenticate(t, now)?, rec.expires_at))
            }
            Bearer::Jwt(t) => match &self.jwt {
                Some(v) => Ok((v.verify_at(t, now).await?, session::jwt_expiry_ms(t))),
                None => Err(TokenRejection::Malformed.into()),
            },
        }
    }

    /// The caller of a request from what it presents at `now` (ms): the bearer header when
    /// there is one, else the session cookie, whose requests must come from the server's own
    /// origin or one of `allowed_origins` and, when they change something, carry the
    /// session's CSRF token (403 otherwise).
    pub async fn authenticate_request(
        &self,
        c: &Credentials<'_>,
        allowed_origins: &[String],
        now: TimestampMs,
    ) -> Result<Authenticated> {
        let Some(cookie) = c.session_cookie.filter(|_| c.authorization.is_none()) else {
            return Ok(Authenticated {
                principal: self.authenticate(c.authorization, now).await?,
                session: None,
            });
        };
        let secret = SessionSecret::parse(cookie)?;
        let s = self.session(&secret, now).await?;
        if let Some(origin) = c.origin
            && !session::origin_allowed(origin, c.host, allowed_origins)
        {
            return Err(ServiceError::CrossOrigin {
                origin: origin.chars().take(64).collect(),
            });
        }
        if !c.safe_method && !c.csrf.is_some_and(|t| secret.csrf_matches(t)) {
            return Err(ServiceError::CsrfFailed);
        }
        Ok(Authenticated {
            principal: s.principal.clone(),
            session: Some(s),
        })
    }

    /// Opens a console session for the bearer token of this `Authorization` header at `now`
    /// (ms), valid `lifetime_ms` or until the token expires, whichever comes first. The token
    /// must be valid and grant [`LOGIN_PERMISSION`].
    pub async fn open_session(
        &self,
        authorization: Option<&str>,
        lifetime_ms: i64,
        now: TimestampMs,
    ) -> Result<Session> {
        let (principal, credential_expiry) = self.authenticate_bearer(authorization, now).await?;
        principal.require(LOGIN_PERMISSION)?;
        let secret = SessionSecret::generate()?;
        let expires_at = session::session_expiry(now, lifetime_ms, credential_expiry);
        let token_id = match &principal.via {
            AuthMethod::ApiToken { token_id } => Some(token_id.clone()),
            AuthMethod::Jwt { .. } => None,
        };
        let principal_json =
            serde_json::to_value(&principal).map_err(|e| ServiceError::Internal {
                what: format!("session principal: {e}"),
            })?;
        self.store
            .insert_session(&SessionRow {
                hash: secret.hash_hex(),
                principal: principal_json,
                token_id,
                created_at: now,
                expires_at,
            })
            .await?;
        Ok(Session {
            secret,
            principal,
            expires_at,
        })
    }

    /// The open session of this id at `now` (ms): 401 when it is unknown, expired, or its
    /// API token was revoked or expired since.
    pub async fn session(&self, secret: &SessionSecret, now: TimestampMs) -> Result<Session> {
        let reject = |r| Err(ServiceError::InvalidSession(r));
        let Some(found) = self.store.session_by_hash(&secret.hash_hex()).await? else {
            return reject(SessionRejection::Unknown);
        };
        if found.session.expires_at <= now {
            return reject(SessionRejection::Expired);
        }
        if found.session.token_id.is_some()
            && (!found.token_found
                || found.token_revoked_at.is_some_and(|r| r <= now)
                || found.token_expires_at.is_some_and(|e| e <= now))
        {
            return reject(SessionRejection::TokenRevoked);
        }
        let principal: Principal =
            serde_json::from_value(found.session.principal).map_err(|e| StoreError::Corrupt {
                what: "session",
                reason: e.to_string(),
            })?;
        Ok(Session {
            secret: secret.clone(),
            principal,
            expires_at: found.session.expires_at,
        })
    }

    /// Ends a session (logging out); returns whether it was open.
    pub async fn close_session(&self, secret: &SessionSecret) -> Result<bool> {
        Ok(self.store.delete_session(&secret.hash_hex()).await?)
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

    async fn access() -> Access {
        let store = Store::open("sqlite::memory:", &StoreOptions::default())
            .await
            .unwrap();
        Access::new(store, None)
    }

    fn cookie<'a>(secret: &'a SessionSecret, safe: bool, csrf: Option<&'a str>) -> Credentials<'a> {
        Credentials {
            session_cookie: Some(secret.expose()),
            csrf,
            safe_method: safe,
            ..Credentials::default()
        }
    }

    #[tokio::test]
    async fn sessions_carry_the_tokens_role_until_they_expire_or_it_is_revoked() {
        let a = access().await;
        let (secret, _) = a
            .create_token("alice", Role::Operator, Some(50_000), 0)
            .await
            .unwrap();
        let header = format!("Bearer {}", secret.expose());
        // Capped by the token's expiry.
        let s = a.open_session(Some(&header), 100_000, 10).await.unwrap();
        assert_eq!(s.expires_at, 50_000);
        let s = a.open_session(Some(&header), 1_000, 10).await.unwrap();
        assert_eq!(s.expires_at, 1_010);
        assert_eq!(s.principal.roles, vec![Role::Operator]);
        // Reads need no CSRF token; mutations need the session's.
        let got = a
            .authenticate_request(&cookie(&s.secret, true, None), &[], 20)
            .await
            .unwrap();
        assert_eq!(got.principal.name, "alice");
        assert!(got.session.is_some());
        let e = a
            .authenticate_request(&cookie(&s.secret, false, None), &[], 20)
            .await
            .unwrap_err();
        assert_eq!((e.status(), e.code()), (403, "csrf_failed"));
        let e = a
            .authenticate_request(&cookie(&s.secret, false, Some("nope")), &[], 20)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "csrf_failed");
        let csrf = s.secret.csrf_token();
        assert!(
            a.authenticate_request(&cookie(&s.secret, false, Some(&csrf)), &[], 20)
                .await
                .is_ok()
        );
        // Another origin may not use the cookie.
        let mut c = cookie(&s.secret, true, None);
        c.origin = Some("http://evil.example");
        c.host = Some("127.0.0.1:8080");
        let e = a.authenticate_request(&c, &[], 20).await.unwrap_err();
        assert_eq!((e.status(), e.code()), (403, "cross_origin"));
        // A bearer header wins over the cookie and needs no CSRF token.
        let mut c = cookie(&s.secret, false, None);
        c.authorization = Some(&header);
        let got = a.authenticate_request(&c, &[], 20).await.unwrap();
        assert!(got.session.is_none());
        // Expired.
        let e = a.session(&s.secret, 1_010).await.unwrap_err();
        assert_eq!((e.status(), e.code()), (401, "session_expired"));
        // Revoking the token ends its sessions.
        let s = a.open_session(Some(&header), 1_000, 10).await.unwrap();
        a.revoke_token("alice", 30).await.unwrap();
        let e = a.session(&s.secret, 40).await.unwrap_err();
        assert_eq!((e.status(), e.code()), (401, "invalid_session"));
        // Logged out.
        let (secret, _) = a.create_token("bob", Role::Viewer, None, 0).await.unwrap();
        let s = a
            .open_session(Some(&format!("Bearer {}", secret.expose())), 1_000, 10)
            .await
            .unwrap();
        assert!(a.close_session(&s.secret).await.unwrap());
        assert!(!a.close_session(&s.secret).await.unwrap());
        let e = a.session(&s.secret, 20).await.unwrap_err();
        assert_eq!(e.code(), "invalid_session");
    }

    #[tokio::test]
    async fn only_readers_with_valid_tokens_open_sessions() {
        let a = access().await;
        let (ingest, _) = a.create_token("prom", Role::Ingest, None, 0).await.unwrap();
        let e = a
            .open_session(Some(&format!("Bearer {}", ingest.expose())), 1_000, 0)
            .await
            .unwrap_err();
        assert_eq!((e.status(), e.code()), (403, "forbidden"));
        let (other, _) = generate().unwrap();
        let e = a
            .open_session(Some(&format!("Bearer {}", other.expose())), 1_000, 0)
            .await
            .unwrap_err();
        assert_eq!(e.status(), 401);
        assert_eq!(
            a.open_session(None, 1_000, 0).await.unwrap_err().status(),
            401
        );
        let bogus = SessionSecret::generate().unwrap();
        let e = a
            .authenticate_request(&cookie(&bogus, true, None), &[], 0)
            .await
            .unwrap_err();
        assert_eq!((e.status(), e.code()), (401, "invalid_session"));
        let e = a
            .authenticate_request(
                &Credentials {
                    session_cookie: Some("not-a-session"),
                    safe_method: true,
                    ..Credentials::default()
                },
                &[],
                0,
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), "invalid_session");
        let e = a
            .authenticate_request(&Credentials::default(), &[], 0)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "unauthenticated");
    }
}
