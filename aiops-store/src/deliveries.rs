//! Deliveries to integrations (notifications, tickets, annotations): an outbox filled from the
//! incident timeline and drained by the service's dispatcher.
//!
//! The dispatcher reads timeline entries after its cursor ([`Store::incident_events_after`]),
//! and [`Store::enqueue_deliveries`] inserts the deliveries they call for and moves the cursor
//! in one transaction: an entry is turned into deliveries exactly once, even across a crash.
//! A delivery is unique per (incident, timeline entry, channel), so reading some entries again (the
//! dispatcher re-reads a few behind its cursor, in case a concurrent transaction committed a
//! lower id late) adds nothing.
//!
//! Per incident and channel, deliveries are made in order: [`Store::due_deliveries`] returns a
//! pending delivery only when no earlier one of the same incident and channel is pending (a
//! ticket is closed only after it was opened).

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::alerts::IncidentEvent;
use crate::error::{Result, StoreError};
use crate::sql::{Sql, Value};
use crate::store::Store;

/// A delivery to make.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    /// The timeline entry it comes from.
    pub event_id: i64,
    /// The incident.
    pub incident_id: String,
    /// The integration's name in the configuration.
    pub channel: String,
    /// `notify`, `ticket` or `annotate`.
    pub role: String,
    /// `opened`, `updated`, `resolved`.
    pub kind: String,
    /// What to send (JSON).
    pub payload: serde_json::Value,
}

/// A delivery and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRow {
    /// Store id.
    pub id: i64,
    /// The timeline entry it comes from.
    pub event_id: i64,
    /// The incident.
    pub incident_id: String,
    /// The integration's name.
    pub channel: String,
    /// `notify`, `ticket` or `annotate`.
    pub role: String,
    /// `opened`, `updated`, `resolved`.
    pub kind: String,
    /// What is sent (JSON).
    pub payload: serde_json::Value,
    /// `pending`, `delivered` or `failed` (given up after the last attempt).
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// What the integration answered (a ticket reference, an annotation id...).
    pub result: Option<serde_json::Value>,
    /// When the next attempt is due (ms).
    pub next_at: TimestampMs,
    /// Created (ms).
    pub created_at: TimestampMs,
    /// Last changed (ms).
    pub updated_at: TimestampMs,
}

/// The outcome of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryAttempt {
    /// `pending` (retry at `next_at`), `delivered` or `failed`.
    pub status: String,
    /// The error, when it failed.
    pub error: Option<String>,
    /// The answer, when delivered.
    pub result: Option<serde_json::Value>,
    /// When to retry.
    pub next_at: TimestampMs,
}

const COLUMNS: &str = "SELECT id, event_id, incident_id, channel, role, kind, payload, status, \
     attempts, last_error, result, next_at, created_at, updated_at FROM deliveries";

fn row(r: &sqlx::any::AnyRow) -> Result<DeliveryRow> {
    let json = |what: &'static str, text: String| {
        serde_json::from_str(&text).map_err(|e| StoreError::corrupt(what, e))
    };
    Ok(DeliveryRow {
        id: r.try_get(0)?,
        event_id: r.try_get(1)?,
        incident_id: r.try_get(2)?,
        channel: r.try_get(3)?,
        role: r.try_get(4)?,
        kind: r.try_get(5)?,
        payload: json("delivery payload", r.try_get(6)?)?,
        status: r.try_get(7)?,
        attempts: r.try_get(8)?,
        last_error: r.try_get(9)?,
        result: r
            .try_get::<Option<String>, _>(10)?
            .map(|t| json("delivery result", t))
            .transpose()?,
        next_at: r.try_get(11)?,
        created_at: r.try_get(12)?,
        updated_at: r.try_get(13)?,
    })
}

impl Store {
    /// Timeline entries with an id over `after`, in id order, at most `limit`: `(id, entry)`.
    pub async fn incident_events_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, IncidentEvent)>> {
        let mut q =
            Sql::new("SELECT id, incident_id, at, kind, detail FROM incident_events WHERE id > ");
        q.bind(after).push(" ORDER BY id LIMIT ").bind(limit as i64);
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                let detail: String = r.try_get(4)?;
                Ok((
                    r.try_get(0)?,
                    IncidentEvent {
                        incident_id: r.try_get(1)?,
                        at: r.try_get(2)?,
                        kind: r.try_get(3)?,
                        detail: serde_json::from_str(&detail)
                            .map_err(|e| StoreError::corrupt("incident event", e))?,
                    },
                ))
            })
            .collect()
    }

    /// Inserts deliveries (those already there are kept as they are) and sets the named value
    /// `cursor_key` to `cursor`, in one transaction; returns how many were new.
    pub async fn enqueue_deliveries(
        &self,
        deliveries: &[NewDelivery],
        cursor_key: &str,
        cursor: i64,
        now: TimestampMs,
    ) -> Result<u64> {
        let mut added = 0;
        let mut tx = self.write.begin().await?;
        for chunk in deliveries.chunks(64) {
            let mut q = Sql::new(
                "INSERT INTO deliveries (event_id, incident_id, channel, role, kind, payload, \
                 status, attempts, next_at, created_at, updated_at) VALUES ",
            );
            for (i, d) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.row([
                    Value::from(d.event_id),
                    d.incident_id.as_str().into(),
                    d.channel.as_str().into(),
                    d.role.as_str().into(),
                    d.kind.as_str().into(),
                    d.payload.to_string().into(),
                    "pending".into(),
                    0i64.into(),
                    now.into(),
                    now.into(),
                    now.into(),
                ]);
            }
            q.push(" ON CONFLICT (incident_id, event_id, channel) DO NOTHING");
            added += q.query().execute(&mut *tx).await?.rows_affected();
        }
        let mut q = Sql::new("INSERT INTO kv (k, v, updated_at) VALUES ");
        q.row([
            Value::from(cursor_key),
            cursor.to_string().into(),
            now.into(),
        ])
        .push(" ON CONFLICT (k) DO UPDATE SET v = excluded.v, updated_at = excluded.updated_at");
        q.query().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(added)
    }

    /// Pending deliveries due at `now`, oldest first, at most `limit`, each the earliest
    /// pending one of its incident and channel.
    pub async fn due_deliveries(&self, now: TimestampMs, limit: usize) -> Result<Vec<DeliveryRow>> {
        let mut q = Sql::new(COLUMNS);
        q.push(" d WHERE status = 'pending' AND next_at <= ")
            .bind(now)
            .push(
                " AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.incident_id = d.incident_id \
                 AND e.channel = d.channel AND e.status = 'pending' AND e.id < d.id) \
                 ORDER BY id LIMIT ",
            )
            .bind(limit as i64);
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter().map(row).collect()
    }

    /// Claims delivery `id` for an attempt: moves its due time from `due` (as read) to
    /// `until`. False when another dispatcher claimed it first.
    pub async fn claim_delivery(
        &self,
        id: i64,
        due: TimestampMs,
        until: TimestampMs,
    ) -> Result<bool> {
        let mut q = Sql::new("UPDATE deliveries SET next_at = ");
        q.bind(until)
            .push(" WHERE id = ")
            .bind(id)
            .push(" AND status = 'pending' AND next_at = ")
            .bind(due);
        Ok(q.query().execute(&self.write).await?.rows_affected() == 1)
    }

    /// Records one attempt of delivery `id`.
    pub async fn record_delivery_attempt(
        &self,
        id: i64,
        attempt: &DeliveryAttempt,
        now: TimestampMs,
    ) -> Result<()> {
        let mut q = Sql::new("UPDATE deliveries SET attempts = attempts + 1, status = ");
        q.bind(attempt.status.as_str())
            .push(", last_error = ")
            .bind(attempt.error.clone())
            .push(", result = ")
            .bind(attempt.result.as_ref().map(|v| v.to_string()))
            .push(", next_at = ")
            .bind(attempt.next_at)
            .push(", updated_at = ")
            .bind(now)
            .push(" WHERE id = ")
            .bind(id);
        q.query().execute(&self.write).await?;
        Ok(())
    }

    /// An incident's deliveries, oldest first.
    pub async fn deliveries_of_incident(&self, incident_id: &str) -> Result<Vec<DeliveryRow>> {
        let mut q = Sql::new(COLUMNS);
        q.push(" WHERE incident_id = ")
            .bind(incident_id)
            .push(" ORDER BY id");
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter().map(row).collect()
    }

    /// The result of the last delivered `kind` delivery of an incident on a channel (the
    /// ticket an `opened` delivery made...).
    pub async fn delivered_result(
        &self,
        incident_id: &str,
        channel: &str,
        kind: &str,
    ) -> Result<Option<serde_json::Value>> {
        let mut q = Sql::new(COLUMNS);
        q.push(" WHERE incident_id = ")
            .bind(incident_id)
            .push(" AND channel = ")
            .bind(channel)
            .push(" AND kind = ")
            .bind(kind)
            .push(" AND status = 'delivered' ORDER BY id DESC LIMIT 1");
        Ok(match q.query().fetch_optional(&self.read).await? {
            Some(r) => row(&r)?.result,
            None => None,
        })
    }

    /// Deliveries by status: `(pending, delivered, failed)`.
    pub async fn delivery_counts(&self) -> Result<(u64, u64, u64)> {
        let q = Sql::new("SELECT status, COUNT(*) FROM deliveries GROUP BY status");
        let mut out = (0, 0, 0);
        for r in q.query().fetch_all(&self.read).await? {
            let status: String = r.try_get(0)?;
            let n = r.try_get::<i64, _>(1)?.max(0) as u64;
            match status.as_str() {
                "pending" => out.0 = n,
                "delivered" => out.1 = n,
                _ => out.2 += n,
            }
        }
        Ok(out)
    }
}
