//! Small record kinds: alert rules, RCA analyses, events, API tokens, the audit log and
//! named values (snapshots, checkpoints, the topology).

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::error::{Result, StoreError};
use crate::sql::{Sql, Value, Where};
use crate::store::Store;

/// A stored JSON document with an id (alert rules, RCA analyses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Id.
    pub id: String,
    /// Created (ms).
    pub created_at: TimestampMs,
    /// Last changed (ms).
    pub updated_at: TimestampMs,
    /// The content.
    pub body: serde_json::Value,
}

/// An operational event (a deployment, a configuration change).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    /// Store id (0 before it is stored).
    pub id: i64,
    /// When it happened (ms).
    pub at: TimestampMs,
    /// Who reported it (`ci`, `argo`...).
    pub source: String,
    /// `deployment`, `config_change`...
    pub event_type: String,
    /// The resource it concerns.
    pub resource: Option<String>,
    /// Everything else (JSON).
    pub body: serde_json::Value,
}

/// A stored API token (never the token itself: its SHA-256).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRow {
    /// Short public id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Role (`viewer`, `operator`, `admin`, `ingest`).
    pub role: String,
    /// Hex SHA-256 of the token.
    #[serde(skip_serializing)]
    pub hash: String,
    /// Created (ms).
    pub created_at: TimestampMs,
    /// Expires (ms), if ever.
    pub expires_at: Option<TimestampMs>,
    /// Revoked (ms), if it was.
    pub revoked_at: Option<TimestampMs>,
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    /// Store id (0 before it is stored).
    pub id: i64,
    /// When (ms).
    pub at: TimestampMs,
    /// Who (token name, JWT subject, or `anonymous`).
    pub actor: String,
    /// What (`POST /api/v1/alert-rules`, `token.create`...).
    pub action: String,
    /// `auth`, `mutation`, `config_change`, `remediation`, `data_access`.
    pub kind: String,
    /// The record concerned, if any.
    pub target: Option<String>,
    /// `ok`, `denied`, `failed`...
    pub outcome: String,
    /// The request id.
    pub request_id: Option<String>,
    /// Before / after and other details (JSON).
    pub detail: serde_json::Value,
}

/// Filters of [`Store::audit`].
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this actor.
    pub actor: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only at or after (ms).
    pub start: Option<TimestampMs>,
    /// Only before (ms).
    pub end: Option<TimestampMs>,
    /// Only ids below (cursor; newest first).
    pub before_id: Option<i64>,
}

fn json(what: &'static str, text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(what, e))
}

fn unique(kind: &'static str, id: &str, e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict {
            kind,
            id: id.to_string(),
        },
        _ => StoreError::Database(e),
    }
}

impl Store {
    /// Creates an alert rule with a unique `name`.
    pub async fn create_rule(
        &self,
        id: &str,
        name: &str,
        body: &serde_json::Value,
        at: TimestampMs,
    ) -> Result<()> {
        let mut q =
            Sql::new("INSERT INTO alert_rules (id, name, body, created_at, updated_at) VALUES ");
        q.row([
            Value::from(id),
            name.into(),
            body.to_string().into(),
            at.into(),
            at.into(),
        ]);
        q.query()
            .execute(&self.write)
            .await
            .map_err(|e| unique("alert rule", name, e))?;
        Ok(())
    }

    /// Replaces an alert rule.
    pub async fn update_rule(
        &self,
        id: &str,
        name: &str,
        body: &serde_json::Value,
        at: TimestampMs,
    ) -> Result<()> {
        let mut q = Sql::new("UPDATE alert_rules SET name = ");
        q.bind(name)
            .push(", body = ")
            .bind(body.to_string())
            .push(", updated_at = ")
            .bind(at)
            .push(" WHERE id = ")
            .bind(id);
        let n = q
            .query()
            .execute(&self.write)
            .await
            .map_err(|e| unique("alert rule", name, e))?;
        if n.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                kind: "alert rule",
                id: id.into(),
            });
        }
        Ok(())
    }

    /// Deletes an alert rule.
    pub async fn delete_rule(&self, id: &str) -> Result<()> {
        let mut q = Sql::new("DELETE FROM alert_rules WHERE id = ");
        q.bind(id);
        if q.query().execute(&self.write).await?.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                kind: "alert rule",
                id: id.into(),
            });
        }
        Ok(())
    }

    /// Every alert rule, oldest first.
    pub async fn rules(&self) -> Result<Vec<Document>> {
        let rows = Sql::new(
            "SELECT id, created_at, updated_at, body FROM alert_rules ORDER BY created_at, id",
        )
        .query()
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(document).collect()
    }

    /// One alert rule.
    pub async fn rule(&self, id: &str) -> Result<Document> {
        let mut q =
            Sql::new("SELECT id, created_at, updated_at, body FROM alert_rules WHERE id = ");
        q.bind(id);
        match q.query().fetch_optional(&self.read).await? {
            Some(r) => document(&r),
            None => Err(StoreError::NotFound {
                kind: "alert rule",
                id: id.into(),
            }),
        }
    }

    /// Stores (or replaces) an RCA analysis.
    pub async fn put_analysis(
        &self,
        id: &str,
        incident_id: Option<&str>,
        status: &str,
        body: &serde_json::Value,
        at: TimestampMs,
    ) -> Result<()> {
        let mut q = Sql::new(
            "INSERT INTO rca_analyses (id, incident_id, created_at, status, body) VALUES ",
        );
        q.row([
            Value::from(id),
            incident_id.map(str::to_string).into(),
            at.into(),
            status.into(),
            body.to_string().into(),
        ])
        .push(" ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body");
        q.query().execute(&self.write).await?;
        Ok(())
    }

    /// One RCA analysis.
    pub async fn analysis(&self, id: &str) -> Result<Document> {
        let mut q = Sql::new(
            "SELECT id, created_at, created_at AS updated_at, body FROM rca_analyses WHERE id = ",
        );
        q.bind(id);
        match q.query().fetch_optional(&self.read).await? {
            Some(r) => document(&r),
            None => Err(StoreError::NotFound {
                kind: "analysis",
                id: id.into(),
            }),
        }
    }

    /// The analyses of an incident, newest first.
    pub async fn analyses_of_incident(&self, incident_id: &str) -> Result<Vec<Document>> {
        let mut q = Sql::new(
            "SELECT id, created_at, created_at AS updated_at, body FROM rca_analyses WHERE incident_id = ",
        );
        q.bind(incident_id)
            .push(" ORDER BY created_at DESC, id DESC");
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter().map(document).collect()
    }

    /// Stores an event; returns its id.
    pub async fn insert_event(&self, e: &EventRow) -> Result<i64> {
        let mut q = Sql::new("INSERT INTO events (at, source, event_type, resource, body) VALUES ");
        q.row([
            Value::from(e.at),
            e.source.as_str().into(),
            e.event_type.as_str().into(),
            e.resource.clone().into(),
            e.body.to_string().into(),
        ])
        .push(" RETURNING id");
        Ok(q.query().fetch_one(&self.write).await?.try_get(0)?)
    }

    /// Events with `from <= at < to`, oldest first, at most `limit`.
    pub async fn events(
        &self,
        from: TimestampMs,
        to: TimestampMs,
        limit: usize,
    ) -> Result<Vec<EventRow>> {
        let mut q = Sql::new(EVENT_COLUMNS);
        q.push(" WHERE at >= ")
            .bind(from)
            .push(" AND at < ")
            .bind(to)
            .push(" ORDER BY at, id LIMIT ")
            .bind(limit as i64);
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter().map(event_row).collect()
    }

    /// Events with an id over `after`, in id order, at most `limit`.
    pub async fn events_after(&self, after: i64, limit: usize) -> Result<Vec<EventRow>> {
        let mut q = Sql::new(EVENT_COLUMNS);
        q.push(" WHERE id > ")
            .bind(after)
            .push(" ORDER BY id LIMIT ")
            .bind(limit as i64);
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter().map(event_row).collect()
    }

    /// Stores a new token.
    pub async fn insert_token(&self, t: &TokenRow) -> Result<()> {
        let mut q = Sql::new(
            "INSERT INTO tokens (id, name, role, hash, created_at, expires_at, revoked_at) VALUES ",
        );
        q.row([
            Value::from(t.id.as_str()),
            t.name.as_str().into(),
            t.role.as_str().into(),
            t.hash.as_str().into(),
            t.created_at.into(),
            t.expires_at.into(),
            t.revoked_at.into(),
        ]);
        q.query()
            .execute(&self.write)
            .await
            .map_err(|e| unique("token", &t.name, e))?;
        Ok(())
    }

    /// Every token, revoked ones included, oldest first.
    pub async fn tokens(&self) -> Result<Vec<TokenRow>> {
        let rows = Sql::new("SELECT id, name, role, hash, created_at, expires_at, revoked_at FROM tokens ORDER BY created_at, id")
            .query().fetch_all(&self.read).await?;
        rows.iter().map(token_row).collect()
    }

    /// The token with this hash, if any (revoked or not: the caller decides).
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRow>> {
        let mut q = Sql::new(
            "SELECT id, name, role, hash, created_at, expires_at, revoked_at FROM tokens WHERE hash = ",
        );
        q.bind(hash);
        q.query()
            .fetch_optional(&self.read)
            .await?
            .as_ref()
            .map(token_row)
            .transpose()
    }

    /// Revokes a token by id or name; revoking twice keeps the first time.
    pub async fn revoke_token(&self, id_or_name: &str, at: TimestampMs) -> Result<TokenRow> {
        let mut q = Sql::new("UPDATE tokens SET revoked_at = COALESCE(revoked_at, ");
        q.bind(at)
            .push(") WHERE id = ")
            .bind(id_or_name)
            .push(" OR name = ")
            .bind(id_or_name);
        if q.query().execute(&self.write).await?.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                kind: "token",
                id: id_or_name.into(),
            });
        }
        let mut q = Sql::new(
            "SELECT id, name, role, hash, created_at, expires_at, revoked_at FROM tokens WHERE id = ",
        );
        q.bind(id_or_name).push(" OR name = ").bind(id_or_name);
        token_row(&q.query().fetch_one(&self.read).await?)
    }

    /// Appends an audit entry (the log is append-only: nothing updates or deletes it).
    pub async fn append_audit(&self, a: &AuditRow) -> Result<i64> {
        let mut q = Sql::new(
            "INSERT INTO audit (at, actor, action, kind, target, outcome, request_id, detail) VALUES ",
        );
        q.row([
            Value::from(a.at),
            a.actor.as_str().into(),
            a.action.as_str().into(),
            a.kind.as_str().into(),
            a.target.clone().into(),
            a.outcome.as_str().into(),
            a.request_id.clone().into(),
            a.detail.to_string().into(),
        ])
        .push(" RETURNING id");
        Ok(q.query().fetch_one(&self.write).await?.try_get(0)?)
    }

    /// Audit entries matching `filter`, newest first, at most `limit`.
    pub async fn audit(&self, filter: &AuditFilter, limit: usize) -> Result<Vec<AuditRow>> {
        let mut w = Where::new(
            "SELECT id, at, actor, action, kind, target, outcome, request_id, detail FROM audit",
        );
        w.opt("actor", "=", filter.actor.clone());
        w.opt("kind", "=", filter.kind.clone());
        w.opt("at", ">=", filter.start);
        w.opt("at", "<", filter.end);
        w.opt("id", "<", filter.before_id);
        let mut q = w.done();
        q.push(" ORDER BY id DESC LIMIT ").bind(limit as i64);
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRow {
                    id: r.try_get(0)?,
                    at: r.try_get(1)?,
                    actor: r.try_get(2)?,
                    action: r.try_get(3)?,
                    kind: r.try_get(4)?,
                    target: r.try_get(5)?,
                    outcome: r.try_get(6)?,
                    request_id: r.try_get(7)?,
                    detail: json("audit detail", &r.try_get::<String, _>(8)?)?,
                })
            })
            .collect()
    }

    /// Sets a named value.
    pub async fn put_value(&self, key: &str, value: &str, at: TimestampMs) -> Result<()> {
        let mut q = Sql::new("INSERT INTO kv (k, v, updated_at) VALUES ");
        q.row([Value::from(key), value.into(), at.into()]).push(
            " ON CONFLICT (k) DO UPDATE SET v = excluded.v, updated_at = excluded.updated_at",
        );
        q.query().execute(&self.write).await?;
        Ok(())
    }

    /// A named value, if set.
    pub async fn value(&self, key: &str) -> Result<Option<String>> {
        let mut q = Sql::new("SELECT v FROM kv WHERE k = ");
        q.bind(key);
        Ok(q.query()
            .fetch_optional(&self.read)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?)
    }
}

fn document(r: &sqlx::any::AnyRow) -> Result<Document> {
    Ok(Document {
        id: r.try_get(0)?,
        created_at: r.try_get(1)?,
        updated_at: r.try_get(2)?,
        body: json("document", &r.try_get::<String, _>(3)?)?,
    })
}

/// The columns [`event_row`] reads, in its order.
const EVENT_COLUMNS: &str = "SELECT id, at, source, event_type, resource, body FROM events";

fn event_row(r: &sqlx::any::AnyRow) -> Result<EventRow> {
    Ok(EventRow {
        id: r.try_get(0)?,
        at: r.try_get(1)?,
        source: r.try_get(2)?,
        event_type: r.try_get(3)?,
        resource: r.try_get(4)?,
        body: json("event", &r.try_get::<String, _>(5)?)?,
    })
}

fn token_row(r: &sqlx::any::AnyRow) -> Result<TokenRow> {
    Ok(TokenRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        role: r.try_get(2)?,
        hash: r.try_get(3)?,
        created_at: r.try_get(4)?,
        expires_at: r.try_get(5)?,
        revoked_at: r.try_get(6)?,
    })
}
