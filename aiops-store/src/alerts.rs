//! Alerts, the log of alerts received, incidents and their timelines.
//!
//! Every received alert is appended to `alert_log` in the transaction that acknowledges it;
//! the correlation engine's snapshot records the last log entry it has seen, so a restart
//! replays the entries after it and loses nothing acknowledged.

use std::collections::BTreeMap;

use aiops_core::{Labels, TimestampMs};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::error::{Result, StoreError};
use crate::sql::{Sql, Value, Where};
use crate::store::Store;

/// An alert as stored (the latest state of one fingerprint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRow {
    /// The label fingerprint (16 hex digits), the alert's id.
    pub fingerprint: String,
    /// Labels.
    pub labels: Labels,
    /// Annotations (PII-masked before they are stored).
    pub annotations: BTreeMap<String, String>,
    /// `firing`, `acknowledged` or `resolved`.
    pub status: String,
    /// The `severity` label, if any.
    pub severity: Option<String>,
    /// When it started firing (ms).
    pub starts_at: TimestampMs,
    /// When it ends or ended (ms), if known.
    pub ends_at: Option<TimestampMs>,
    /// When the row last changed (ms).
    pub updated_at: TimestampMs,
    /// Where it came from (`alertmanager`, `webhook`, `rule:NAME`...).
    pub source: String,
    /// The incident holding it.
    pub incident_id: Option<String>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// When (ms).
    pub acknowledged_at: Option<TimestampMs>,
    /// The acknowledgement's comment.
    pub ack_comment: Option<String>,
    /// Who resolved it by hand (`None` when the source resolved it).
    pub resolved_by: Option<String>,
    /// The resolution text.
    pub resolution: Option<String>,
    /// Link back to the source.
    pub generator_url: String,
}

/// An incident as stored: the engine's incident as JSON plus indexed columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentRow {
    /// `inc-N`.
    pub id: String,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: String,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    /// When it started (ms).
    pub started_at: TimestampMs,
    /// When it resolved (ms).
    pub resolved_at: Option<TimestampMs>,
    /// When the row last changed (ms).
    pub updated_at: TimestampMs,
    /// The full incident (JSON of `aiops_core::Incident`).
    pub body: serde_json::Value,
}

/// An incident row to write: [`IncidentRow`] with its body already JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentUpdate {
    /// `inc-N`.
    pub id: String,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: String,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    /// When it started (ms).
    pub started_at: TimestampMs,
    /// When it resolved (ms).
    pub resolved_at: Option<TimestampMs>,
    /// When the row last changed (ms).
    pub updated_at: TimestampMs,
    /// The full incident, JSON text (of `aiops_core::Incident`).
    pub body: String,
}

impl From<&IncidentRow> for IncidentUpdate {
    fn from(r: &IncidentRow) -> Self {
        Self {
            id: r.id.clone(),
            title: r.title.clone(),
            severity: r.severity.clone(),
            status: r.status.clone(),
            started_at: r.started_at,
            resolved_at: r.resolved_at,
            updated_at: r.updated_at,
            body: r.body.to_string(),
        }
    }
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentEvent {
    /// The incident.
    pub incident_id: String,
    /// When (ms).
    pub at: TimestampMs,
    /// `opened`, `alert_added`, `status`, `acknowledged`, `resolved`, `rca`...
    pub kind: String,
    /// Details (JSON).
    pub detail: serde_json::Value,
}

/// One received alert, as logged before it is processed.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedAlert {
    /// Log sequence number (increasing).
    pub seq: i64,
    /// When it was received (ms): the engine's time for it.
    pub received_at: TimestampMs,
    /// Where it came from.
    pub source: String,
    /// The alert (JSON of `aiops_core::Alert`).
    pub body: String,
}

/// What one batch of received alerts changes, committed at once.
#[derive(Debug, Clone, Default)]
pub struct AlertCommit {
    /// Received alerts to log: (received_at ms, source, alert JSON).
    pub log: Vec<(TimestampMs, String, String)>,
    /// Alert rows to insert or replace (acknowledgements and manual resolutions of existing
    /// rows are kept unless the row sets them).
    pub alerts: Vec<AlertRow>,
    /// Incident rows to insert or replace.
    pub incidents: Vec<IncidentUpdate>,
    /// Timeline entries to append.
    pub events: Vec<IncidentEvent>,
}

/// The alert pipelines' lock across processes ([`Store::lock_alerts`]); released on drop.
#[derive(Debug)]
pub struct ClusterLock {
    _conn: Option<sqlx::pool::PoolConnection<sqlx::Any>>,
}

/// Filters of [`Store::alerts`].
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// Only this status.
    pub status: Option<String>,
    /// Only this severity.
    pub severity: Option<String>,
    /// Only this incident.
    pub incident_id: Option<String>,
    /// Only rows updated before this cursor `(updated_at, fingerprint)`, newest first.
    pub before: Option<(TimestampMs, String)>,
}

/// Filters of [`Store::incidents`].
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    /// Only this status.
    pub status: Option<String>,
    /// Only this severity.
    pub severity: Option<String>,
    /// Only rows updated before this cursor `(updated_at, id)`, newest first.
    pub before: Option<(TimestampMs, String)>,
}

fn json<T: serde::de::DeserializeOwned>(what: &'static str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(what, e))
}

fn to_json<T: Serialize>(what: &'static str, v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::corrupt(what, e))
}

const ALERT_COLUMNS: &str = "SELECT fingerprint, labels, annotations, status, severity, starts_at, \
     ends_at, updated_at, source, incident_id, acknowledged_by, acknowledged_at, ack_comment, \
     resolved_by, resolution, generator_url FROM alerts";

/// A paged listing: how to count the rows a filter matches, the columns its rows are read
/// from and its order (ending in `LIMIT `).
struct Listing {
    count: &'static str,
    columns: &'static str,
    order: &'static str,
}

impl Store {
    /// The number of rows `build` matches and the first `limit` of them (after its cursor) in
    /// the listing's order, read by `row`. `build(select, cursor)` writes the query's
    /// filter after `select`, with the cursor's condition when `cursor` is true.
    async fn page<T>(
        &self,
        listing: Listing,
        build: impl Fn(&str, bool) -> Sql,
        limit: usize,
        row: fn(&sqlx::any::AnyRow) -> Result<T>,
    ) -> Result<(u64, Vec<T>)> {
        let total: i64 = build(listing.count, false)
            .query()
            .fetch_one(&self.read)
            .await?
            .try_get(0)?;
        let mut q = build(listing.columns, true);
        q.push(listing.order).bind(limit as i64);
        let rows = q.query().fetch_all(&self.read).await?;
        Ok((total as u64, rows.iter().map(row).collect::<Result<_>>()?))
    }
}

fn alert_row(r: &sqlx::any::AnyRow) -> Result<AlertRow> {
    Ok(AlertRow {
        fingerprint: r.try_get("fingerprint")?,
        labels: json("alert labels", &r.try_get::<String, _>("labels")?)?,
        annotations: json("alert annotations", &r.try_get::<String, _>("annotations")?)?,
        status: r.try_get("status")?,
        severity: r.try_get("severity")?,
        starts_at: r.try_get("starts_at")?,
        ends_at: r.try_get("ends_at")?,
        updated_at: r.try_get("updated_at")?,
        source: r.try_get("source")?,
        incident_id: r.try_get("incident_id")?,
        acknowledged_by: r.try_get("acknowledged_by")?,
        acknowledged_at: r.try_get("acknowledged_at")?,
        ack_comment: r.try_get("ack_comment")?,
        resolved_by: r.try_get("resolved_by")?,
        resolution: r.try_get("resolution")?,
        generator_url: r.try_get("generator_url")?,
    })
}

const INCIDENT_COLUMNS: &str =
    "SELECT id, title, severity, status, started_at, resolved_at, updated_at, body FROM incidents";

fn incident_row(r: &sqlx::any::AnyRow) -> Result<IncidentRow> {
    Ok(IncidentRow {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        severity: r.try_get("severity")?,
        status: r.try_get("status")?,
        started_at: r.try_get("started_at")?,
        resolved_at: r.try_get("resolved_at")?,
        updated_at: r.try_get("updated_at")?,
        body: json("incident", &r.try_get::<String, _>("body")?)?,
    })
}

/// Most values bound in one multi-row statement: SQLite's driver looks each argument up by
/// name, which costs time quadratic in a statement's arguments.
const MAX_ARGS: usize = 256;

/// Most rows in one multi-row statement.
const MAX_ROWS: usize = 64;

/// The row counts of the statements writing `n` rows of `columns` values: full statements
/// of the largest power of two that fits, then the rest in smaller powers of two, so that a
/// handful of statement texts (each prepared once per connection) serve every batch size.
fn statement_sizes(n: usize, columns: usize) -> Vec<usize> {
    let full = (MAX_ARGS / columns.max(1)).clamp(1, MAX_ROWS);
    let full = if full.is_power_of_two() {
        full
    } else {
        full.next_power_of_two() / 2
    };
    let mut sizes = vec![full; n / full];
    let mut rest = n % full;
    while rest > 0 {
        let size = 1 << rest.ilog2();
        sizes.push(size);
        rest -= size;
    }
    sizes
}

/// Writes `rows` with multi-row `head VALUES (...), (...) tail` statements, in order; with
/// `returning`, collects the first column of what each statement returns.
async fn write_rows<T>(
    tx: &mut sqlx::AnyConnection,
    head: &str,
    tail: &str,
    columns: usize,
    rows: &[T],
    values: impl Fn(&T) -> Result<Vec<Value>>,
    returning: bool,
) -> Result<Vec<i64>> {
    let mut out = Vec::new();
    let mut rest = rows;
    for size in statement_sizes(rows.len(), columns) {
        let (now, later) = rest.split_at(size);
        rest = later;
        let mut q = Sql::new(head);
        for (i, r) in now.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.row(values(r)?);
        }
        q.push(tail);
        if returning {
            for r in q.query().fetch_all(&mut *tx).await? {
                out.push(r.try_get(0)?);
            }
        } else {
            q.query().execute(&mut *tx).await?;
        }
    }
    Ok(out)
}

const ALERT_INSERT: &str = "INSERT INTO alerts (fingerprint, labels, annotations, status, severity, \
     starts_at, ends_at, updated_at, source, incident_id, acknowledged_by, acknowledged_at, \
     ack_comment, resolved_by, resolution, generator_url) VALUES ";

const ALERT_UPSERT: &str = " ON CONFLICT (fingerprint) DO UPDATE SET labels = excluded.labels, \
     annotations = excluded.annotations, status = excluded.status, \
     severity = excluded.severity, starts_at = excluded.starts_at, ends_at = excluded.ends_at, \
     updated_at = excluded.updated_at, source = excluded.source, \
     incident_id = COALESCE(excluded.incident_id, alerts.incident_id), \
     acknowledged_by = COALESCE(excluded.acknowledged_by, alerts.acknowledged_by), \
     acknowledged_at = COALESCE(excluded.acknowledged_at, alerts.acknowledged_at), \
     ack_comment = COALESCE(excluded.ack_comment, alerts.ack_comment), \
     resolved_by = COALESCE(excluded.resolved_by, alerts.resolved_by), \
     resolution = COALESCE(excluded.resolution, alerts.resolution), \
     generator_url = excluded.generator_url";

fn alert_values(a: &&AlertRow) -> Result<Vec<Value>> {
    Ok(vec![
        Value::from(a.fingerprint.as_str()),
        to_json("labels", &a.labels)?.into(),
        to_json("annotations", &a.annotations)?.into(),
        a.status.as_str().into(),
        a.severity.clone().into(),
        a.starts_at.into(),
        a.ends_at.into(),
        a.updated_at.into(),
        a.source.as_str().into(),
        a.incident_id.clone().into(),
        a.acknowledged_by.clone().into(),
        a.acknowledged_at.into(),
        a.ack_comment.clone().into(),
        a.resolved_by.clone().into(),
        a.resolution.clone().into(),
        a.generator_url.as_str().into(),
    ])
}

/// Inserts or replaces alert rows (one statement per [`statement_sizes`] chunk).
async fn upsert_alerts(tx: &mut sqlx::AnyConnection, alerts: &[&AlertRow]) -> Result<()> {
    write_rows(
        tx,
        ALERT_INSERT,
        ALERT_UPSERT,
        16,
        alerts,
        alert_values,
        false,
    )
    .await?;
    Ok(())
}

fn incident_values(i: &&IncidentUpdate) -> Result<Vec<Value>> {
    Ok(vec![
        Value::from(i.id.as_str()),
        i.title.as_str().into(),
        i.severity.as_str().into(),
        i.status.as_str().into(),
        i.started_at.into(),
        i.resolved_at.into(),
        i.updated_at.into(),
        i.body.as_str().into(),
    ])
}

async fn upsert_incidents(
    tx: &mut sqlx::AnyConnection,
    incidents: &[&IncidentUpdate],
) -> Result<()> {
    write_rows(
        tx,
        "INSERT INTO incidents (id, title, severity, status, started_at, resolved_at, \
         updated_at, body) VALUES ",
        " ON CONFLICT (id) DO UPDATE SET title = excluded.title, severity = excluded.severity, \
         status = excluded.status, started_at = excluded.started_at, \
         resolved_at = excluded.resolved_at, updated_at = excluded.updated_at, body = excluded.body",
        8,
        incidents,
        incident_values,
        false,
    )
    .await?;
    Ok(())
}

fn event_values(e: &IncidentEvent) -> Result<Vec<Value>> {
    Ok(vec![
        Value::from(e.incident_id.as_str()),
        e.at.into(),
        e.kind.as_str().into(),
        to_json("incident event", &e.detail)?.into(),
    ])
}

/// Appends timeline entries, in order.
async fn append_events(tx: &mut sqlx::AnyConnection, events: &[IncidentEvent]) -> Result<()> {
    write_rows(
        tx,
        "INSERT INTO incident_events (incident_id, at, kind, detail) VALUES ",
        "",
        4,
        events,
        event_values,
        false,
    )
    .await?;
    Ok(())
}

/// Keeps the last of the rows sharing a key, sorted by key (a stable sort: the last row of a
/// key wins as given), so that replicas committing the same rows at once on PostgreSQL wait
/// for each other instead of deadlocking, and no statement touches a row twice.
fn last_by_key<T>(rows: &[T], key: impl Fn(&T) -> &str) -> Vec<&T> {
    let mut sorted: Vec<&T> = rows.iter().collect();
    sorted.sort_by(|a, b| key(a).cmp(key(b)));
    let mut out: Vec<&T> = Vec::with_capacity(sorted.len());
    for r in sorted {
        match out.last_mut() {
            Some(last) if key(last) == key(r) => *last = r,
            _ => out.push(r),
        }
    }
    out
}

/// Adds `(updated_at, key) < (at, id)` (rows after the cursor, newest first).
fn after_cursor(q: &mut Sql, before: Option<&(TimestampMs, String)>, key: &str) {
    let Some((at, id)) = before else { return };
    q.push(if q.text.contains(" WHERE ") {
        " AND "
    } else {
        " WHERE "
    })
    .push("(updated_at < ")
    .bind(*at)
    .push(" OR (updated_at = ")
    .bind(*at)
    .push(&format!(" AND {key} < "))
    .bind(id.as_str())
    .push("))");
}

impl Store {
    /// Commits a batch of received alerts and what they changed, atomically. Returns the log
    /// sequence numbers given to `commit.log`, in order.
    pub async fn commit_alerts(&self, commit: &AlertCommit) -> Result<Vec<i64>> {
        let mut tx = self.write.begin().await?;
        let mut seqs = write_rows(
            &mut tx,
            "INSERT INTO alert_log (received_at, source, body) VALUES ",
            " RETURNING seq",
            3,
            &commit.log,
            |(at, source, body)| {
                Ok(vec![
                    Value::from(*at),
                    source.as_str().into(),
                    body.as_str().into(),
                ])
            },
            true,
        )
        .await?;
        // One statement gives its rows increasing numbers in the order of its values (the
        // order it returns them in is not specified).
        seqs.sort_unstable();
        upsert_alerts(&mut tx, &last_by_key(&commit.alerts, |a| &a.fingerprint)).await?;
        upsert_incidents(&mut tx, &last_by_key(&commit.incidents, |i| &i.id)).await?;
        append_events(&mut tx, &commit.events).await?;
        tx.commit().await?;
        Ok(seqs)
    }

    /// Logged alerts after sequence number `seq`, in order (a restart's replay).
    pub async fn alert_log_after(&self, seq: i64) -> Result<Vec<LoggedAlert>> {
        let mut q = Sql::new("SELECT seq, received_at, source, body FROM alert_log WHERE seq > ");
        q.bind(seq).push(" ORDER BY seq");
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                Ok(LoggedAlert {
                    seq: r.try_get(0)?,
                    received_at: r.try_get(1)?,
                    source: r.try_get(2)?,
                    body: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// The highest `alert_log` sequence number (0 when empty).
    pub async fn alert_log_last_seq(&self) -> Result<i64> {
        let r = Sql::new("SELECT COALESCE(MAX(seq), 0) FROM alert_log")
            .query()
            .fetch_one(&self.write)
            .await?;
        Ok(r.try_get(0)?)
    }

    /// Takes the lock that orders the alert pipelines of every process sharing this store
    /// (PostgreSQL: a session advisory lock on a connection closed when the guard drops, so
    /// the lock can never outlive it; SQLite: one process, nothing to take).
    pub async fn lock_alerts(&self) -> Result<ClusterLock> {
        if self.backend() != crate::store::Backend::Postgres {
            return Ok(ClusterLock { _conn: None });
        }
        let mut conn = self.write.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock(7305021)")
            .execute(&mut *conn)
            .await?;
        conn.close_on_drop();
        Ok(ClusterLock { _conn: Some(conn) })
    }

    /// Drops logged alerts up to `seq` (once a snapshot covers them); returns how many.
    pub async fn prune_alert_log(&self, seq: i64) -> Result<u64> {
        let mut q = Sql::new("DELETE FROM alert_log WHERE seq <= ");
        q.bind(seq);
        Ok(q.query().execute(&self.write).await?.rows_affected())
    }

    /// Alerts matching `filter`, most recently updated first, and the total matching.
    pub async fn alerts(&self, filter: &AlertFilter, limit: usize) -> Result<(u64, Vec<AlertRow>)> {
        let build = |select: &str, cursor: bool| {
            let mut w = Where::new(select);
            w.opt("status", "=", filter.status.clone());
            w.opt("severity", "=", filter.severity.clone());
            w.opt("incident_id", "=", filter.incident_id.clone());
            let mut q = w.done();
            if cursor {
                after_cursor(&mut q, filter.before.as_ref(), "fingerprint");
            }
            q
        };
        let listing = Listing {
            count: "SELECT COUNT(*) FROM alerts",
            columns: ALERT_COLUMNS,
            order: " ORDER BY updated_at DESC, fingerprint DESC LIMIT ",
        };
        self.page(listing, build, limit, alert_row).await
    }

    /// One alert by fingerprint.
    pub async fn alert(&self, fingerprint: &str) -> Result<AlertRow> {
        let mut q = Sql::new(ALERT_COLUMNS);
        q.push(" WHERE fingerprint = ").bind(fingerprint);
        match q.query().fetch_optional(&self.read).await? {
            Some(r) => alert_row(&r),
            None => Err(StoreError::NotFound {
                kind: "alert",
                id: fingerprint.to_string(),
            }),
        }
    }

    /// The stored rows of these fingerprints (those that have one), in no particular order:
    /// a query per [`MAX_ROWS`] fingerprints.
    pub async fn alerts_by_fingerprint(&self, fingerprints: &[&str]) -> Result<Vec<AlertRow>> {
        let mut out = Vec::with_capacity(fingerprints.len());
        let mut rest = fingerprints;
        for size in statement_sizes(fingerprints.len(), 1) {
            let (part, later) = rest.split_at(size);
            rest = later;
            let mut q = Sql::new(ALERT_COLUMNS);
            q.push(" WHERE fingerprint IN ")
                .row(part.iter().map(|&f| Value::from(f)));
            for r in q.query().fetch_all(&self.read).await? {
                out.push(alert_row(&r)?);
            }
        }
        Ok(out)
    }

    /// Replaces an alert row and appends timeline entries (an acknowledgement or a manual
    /// resolution), atomically.
    pub async fn update_alert(&self, alert: &AlertRow, events: &[IncidentEvent]) -> Result<()> {
        let mut tx = self.write.begin().await?;
        upsert_alerts(&mut tx, &[alert]).await?;
        append_events(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Incidents matching `filter`, most recently updated first, and the total matching.
    pub async fn incidents(
        &self,
        filter: &IncidentFilter,
        limit: usize,
    ) -> Result<(u64, Vec<IncidentRow>)> {
        let build = |select: &str, cursor: bool| {
            let mut w = Where::new(select);
            w.opt("status", "=", filter.status.clone());
            w.opt("severity", "=", filter.severity.clone());
            let mut q = w.done();
            if cursor {
                after_cursor(&mut q, filter.before.as_ref(), "id");
            }
            q
        };
        let listing = Listing {
            count: "SELECT COUNT(*) FROM incidents",
            columns: INCIDENT_COLUMNS,
            order: " ORDER BY updated_at DESC, id DESC LIMIT ",
        };
        self.page(listing, build, limit, incident_row).await
    }

    /// One incident.
    pub async fn incident(&self, id: &str) -> Result<IncidentRow> {
        let mut q = Sql::new(INCIDENT_COLUMNS);
        q.push(" WHERE id = ").bind(id);
        match q.query().fetch_optional(&self.read).await? {
            Some(r) => incident_row(&r),
            None => Err(StoreError::NotFound {
                kind: "incident",
                id: id.to_string(),
            }),
        }
    }

    /// An incident's timeline, oldest first.
    pub async fn incident_events(&self, id: &str) -> Result<Vec<IncidentEvent>> {
        let mut q = Sql::new(
            "SELECT incident_id, at, kind, detail FROM incident_events WHERE incident_id = ",
        );
        q.bind(id).push(" ORDER BY at, id");
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                Ok(IncidentEvent {
                    incident_id: r.try_get(0)?,
                    at: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    detail: json("incident event", &r.try_get::<String, _>(3)?)?,
                })
            })
            .collect()
    }

    /// Appends timeline entries.
    pub async fn append_incident_events(&self, events: &[IncidentEvent]) -> Result<()> {
        let mut tx = self.write.begin().await?;
        append_events(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes resolved alerts last updated before `before` (ms), at most `batch`.
    pub async fn delete_alerts_before(&self, before: TimestampMs, batch: usize) -> Result<u64> {
        let mut q = Sql::new(
            "DELETE FROM alerts WHERE fingerprint IN (SELECT fingerprint FROM alerts WHERE \
             status = 'resolved' AND updated_at < ",
        );
        q.bind(before).push(" LIMIT ").bind(batch as i64).push(")");
        Ok(q.query().execute(&self.write).await?.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_take_a_few_sizes_and_every_row() {
        assert_eq!(statement_sizes(0, 16), Vec::<usize>::new());
        assert_eq!(statement_sizes(100, 16), vec![16, 16, 16, 16, 16, 16, 4]);
        assert_eq!(statement_sizes(100, 3), vec![64, 32, 4]);
        assert_eq!(statement_sizes(7, 100), vec![2, 2, 2, 1]);
        assert_eq!(statement_sizes(3, 1000), vec![1, 1, 1]);
        for n in 0..300 {
            for cols in [1, 3, 4, 8, 16] {
                let sizes = statement_sizes(n, cols);
                assert_eq!(sizes.iter().sum::<usize>(), n);
                assert!(
                    sizes
                        .iter()
                        .all(|s| s.is_power_of_two() && s * cols <= MAX_ARGS.max(cols))
                );
            }
        }
    }

    #[test]
    fn the_last_row_of_a_key_wins() {
        let rows = [("b", 1), ("a", 2), ("b", 3), ("c", 4), ("a", 5)];
        let kept: Vec<_> = last_by_key(&rows, |r| r.0).into_iter().copied().collect();
        assert_eq!(kept, [("a", 5), ("b", 3), ("c", 4)]);
    }
}
