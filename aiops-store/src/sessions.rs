//! Console sessions: only the SHA-256 of a session id is stored, with the principal that
//! opened it, the API token it came from and its expiry.

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::error::{Result, StoreError};
use crate::sql::{Sql, Value};
use crate::store::Store;

/// A stored session (never its id: the hash of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRow {
    /// Hex SHA-256 of the session id.
    pub hash: String,
    /// Who opened it (the service's principal, JSON).
    pub principal: serde_json::Value,
    /// The id of the API token that opened it (`None` for a JWT).
    pub token_id: Option<String>,
    /// Opened (ms).
    pub created_at: TimestampMs,
    /// Valid until (ms, exclusive).
    pub expires_at: TimestampMs,
}

/// A session as read back, with the state of the API token that opened it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionLookup {
    /// The session.
    pub session: SessionRow,
    /// When its API token was revoked, if it was.
    pub token_revoked_at: Option<TimestampMs>,
    /// When its API token expires, if it does.
    pub token_expires_at: Option<TimestampMs>,
    /// False when the session names an API token the store no longer has.
    pub token_found: bool,
}

impl Store {
    /// Stores a new session.
    pub async fn insert_session(&self, s: &SessionRow) -> Result<()> {
        let mut q = Sql::new(
            "INSERT INTO sessions (hash, principal, token_id, created_at, expires_at) VALUES ",
        );
        q.row([
            Value::from(s.hash.as_str()),
            s.principal.to_string().into(),
            s.token_id.clone().into(),
            s.created_at.into(),
            s.expires_at.into(),
        ]);
        q.query().execute(&self.write).await.map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict {
                kind: "session",
                id: "(hash)".into(),
            },
            _ => StoreError::Database(e),
        })?;
        Ok(())
    }

    /// The session with this hash and its token's state, if it exists (expired or not: the
    /// caller decides).
    pub async fn session_by_hash(&self, hash: &str) -> Result<Option<SessionLookup>> {
        let mut q = Sql::new(
            "SELECT s.hash, s.principal, s.token_id, s.created_at, s.expires_at, t.id, t.revoked_at, t.expires_at \
             FROM sessions s LEFT JOIN tokens t ON t.id = s.token_id WHERE s.hash = ",
        );
        q.bind(hash);
        let Some(r) = q.query().fetch_optional(&self.read).await? else {
            return Ok(None);
        };
        let principal: String = r.try_get(1)?;
        let token_row_id: Option<String> = r.try_get(5)?;
        Ok(Some(SessionLookup {
            session: SessionRow {
                hash: r.try_get(0)?,
                principal: serde_json::from_str(&principal)
                    .map_err(|e| StoreError::corrupt("session", e))?,
                token_id: r.try_get(2)?,
                created_at: r.try_get(3)?,
                expires_at: r.try_get(4)?,
            },
            token_found: token_row_id.is_some(),
            token_revoked_at: r.try_get(6)?,
            token_expires_at: r.try_get(7)?,
        }))
    }

    /// Deletes the session with this hash; returns whether there was one.
    pub async fn delete_session(&self, hash: &str) -> Result<bool> {
        let mut q = Sql::new("DELETE FROM sessions WHERE hash = ");
        q.bind(hash);
        Ok(q.query().execute(&self.write).await?.rows_affected() > 0)
    }

    /// Deletes the sessions that expired at or before `now` (ms); returns how many.
    pub async fn delete_expired_sessions(&self, now: TimestampMs) -> Result<u64> {
        let mut q = Sql::new("DELETE FROM sessions WHERE expires_at <= ");
        q.bind(now);
        Ok(q.query().execute(&self.write).await?.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TokenRow;
    use crate::testing::memory;

    fn session(hash: &str, token: Option<&str>, expires_at: TimestampMs) -> SessionRow {
        SessionRow {
            hash: hash.into(),
            principal: serde_json::json!({"subject": "token:abc"}),
            token_id: token.map(str::to_string),
            created_at: 0,
            expires_at,
        }
    }

    #[tokio::test]
    async fn sessions_are_found_with_their_token_and_deleted() {
        let s = memory().await;
        s.insert_token(&TokenRow {
            id: "abcdefgh".into(),
            name: "alice".into(),
            role: "operator".into(),
            hash: "00".repeat(32),
            created_at: 0,
            expires_at: Some(5_000),
            revoked_at: None,
        })
        .await
        .unwrap();
        s.insert_session(&session("h1", Some("abcdefgh"), 1_000))
            .await
            .unwrap();
        s.insert_session(&session("h2", Some("gone"), 2_000))
            .await
            .unwrap();
        assert_eq!(
            s.insert_session(&session("h1", None, 1))
                .await
                .unwrap_err()
                .to_string(),
            "session \"(hash)\" already exists"
        );
        let l = s.session_by_hash("h1").await.unwrap().unwrap();
        assert_eq!(l.session, session("h1", Some("abcdefgh"), 1_000));
        assert!(l.token_found);
        assert_eq!(
            (l.token_revoked_at, l.token_expires_at),
            (None, Some(5_000))
        );
        s.revoke_token("alice", 10).await.unwrap();
        let l = s.session_by_hash("h1").await.unwrap().unwrap();
        assert_eq!(l.token_revoked_at, Some(10));
        assert!(!s.session_by_hash("h2").await.unwrap().unwrap().token_found);
        assert!(s.session_by_hash("h3").await.unwrap().is_none());
        assert_eq!(s.delete_expired_sessions(1_000).await.unwrap(), 1);
        assert!(s.session_by_hash("h1").await.unwrap().is_none());
        assert!(s.delete_session("h2").await.unwrap());
        assert!(!s.delete_session("h2").await.unwrap());
    }
}
