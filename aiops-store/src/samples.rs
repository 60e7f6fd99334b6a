//! Series, their samples and the detector state of each.
//!
//! Samples arrive either by [`Store::insert_samples`] (straight into the `samples` table) or,
//! on the remote_write path, by [`Store::append_samples`]: one block row per call in
//! `sample_blocks`, which reads merge with the table and [`Store::compact_samples`] later
//! moves into it. Concurrent appends share a transaction (group commit, see the `group`
//! module): with an fsync per commit, the cost of a commit is paid once per group of
//! requests rather than once per request, and no call returns before its commit.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use aiops_core::{Labels, TimestampMs};
use serde::Serialize;
use sqlx::any::AnyArguments;
use sqlx::{Arguments, AssertSqlSafe, Row};

use crate::error::{Result, StoreError};
use crate::sql::{Sql, Value};
use crate::store::{Backend, Store};

/// `SELECT t, v` of one series' table samples with `from <= t < to`, then `tail` (an order
/// and a limit).
fn window(id: i64, from: TimestampMs, to: TimestampMs, tail: &str) -> Sql {
    let mut q = Sql::new("SELECT t, v FROM samples WHERE series_id = ");
    q.bind(id)
        .push(" AND t >= ")
        .bind(from)
        .push(" AND t < ")
        .bind(to)
        .push(" ")
        .push(tail);
    q
}

/// Rows per multi-row insert (3 arguments a row, far under SQLite's 32,766). Kept small: sqlx
/// asks SQLite for the name of every parameter it binds, a linear scan of the statement's
/// parameters, so binding costs grow with the square of the arguments of one statement (at
/// 1,000 rows that lookup took half of the CPU of remote_write ingest; BENCHMARKS.md,
/// "Service (aiops serve)").
const CHUNK: usize = 100;

/// A series as the ingest side names it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSeries {
    /// Canonical identity: the sorted labels written `name="value",...`.
    pub key: String,
    /// The metric name (`__name__`).
    pub metric: String,
    /// The resource the series belongs to (a service, instance or job).
    pub resource: String,
    /// All labels.
    pub labels: Labels,
}

/// A stored series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesRow {
    /// Store id.
    pub id: i64,
    /// Canonical identity.
    pub key: String,
    /// The metric name.
    pub metric: String,
    /// The resource.
    pub resource: String,
    /// All labels.
    pub labels: Labels,
    /// The detector whose state is saved, if any.
    pub detector: Option<String>,
    /// Its saved state (opaque JSON).
    #[serde(skip)]
    pub state: Option<String>,
    /// The time of the last sample the saved state has seen (ms).
    pub state_t: Option<TimestampMs>,
}

/// One detector state to save.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedState {
    /// The series.
    pub series_id: i64,
    /// The detector name.
    pub detector: String,
    /// The state (opaque JSON from the detector's snapshot).
    pub state: String,
    /// The time of the last sample it has seen (ms).
    pub state_t: TimestampMs,
}

fn series_row(r: &sqlx::any::AnyRow) -> Result<SeriesRow> {
    let labels: String = r.try_get("labels")?;
    Ok(SeriesRow {
        id: r.try_get("id")?,
        key: r.try_get("series_key")?,
        metric: r.try_get("metric")?,
        resource: r.try_get("resource")?,
        labels: serde_json::from_str(&labels).map_err(|e| StoreError::corrupt("labels", e))?,
        detector: r.try_get("detector")?,
        state: r.try_get("state")?,
        state_t: r.try_get("state_t")?,
    })
}

const SERIES_COLUMNS: &str =
    "SELECT id, series_key, metric, resource, labels, detector, state, state_t FROM series";

impl Store {
    /// The ids of the series with these canonical keys, in the order given (None for a key no
    /// series has); nothing is created.
    pub async fn find_series_ids(&self, keys: &[&str]) -> Result<Vec<Option<i64>>> {
        crate::sql::ids_by_key(&self.read, "series", "series_key", keys).await
    }

    /// The ids of these series, created when new (in the given order).
    pub async fn series_ids(&self, series: &[NewSeries], now: TimestampMs) -> Result<Vec<i64>> {
        // Rows are written in key order, whatever the given order: two writers (replicas on
        // one PostgreSQL) adding the same new series wait for each other instead of deadlocking.
        let mut order: Vec<usize> = (0..series.len()).collect();
        order.sort_by(|&a, &b| series[a].key.cmp(&series[b].key));
        let mut tx = self.write.begin().await?;
        let mut ids = vec![0; series.len()];
        for i in order {
            let s = &series[i];
            let labels =
                serde_json::to_string(&s.labels).map_err(|e| StoreError::corrupt("labels", e))?;
            let mut q = Sql::new(
                "INSERT INTO series (series_key, metric, resource, labels, created_at) VALUES ",
            );
            q.row([
                Value::from(s.key.as_str()),
                s.metric.as_str().into(),
                s.resource.as_str().into(),
                labels.into(),
                now.into(),
            ])
            .push(" ON CONFLICT (series_key) DO NOTHING");
            q.query().execute(&mut *tx).await?;
            let mut q = Sql::new("SELECT id FROM series WHERE series_key = ");
            q.bind(s.key.as_str());
            ids[i] = q.query().fetch_one(&mut *tx).await?.try_get(0)?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Stores samples `(series id, time ms, value)` in one transaction (a NaN value is refused,
    /// nothing stored); a sample whose series and time are stored already is kept as it was (a resent batch changes nothing).
    /// Returns the number of new samples. Pending blocks ([`Store::append_samples`]) are moved
    /// into the sample table first, in the same transaction, so that the count is exact and
    /// the first stored value of a sample wins.
    pub async fn insert_samples(&self, samples: &[(i64, TimestampMs, f64)]) -> Result<u64> {
        refuse_nan(samples)?;
        let samples = sorted(samples);
        let mut tx = self.write.begin().await?;
        compact_in(&mut tx, self.backend(), usize::MAX).await?;
        let added = insert_rows(&mut tx, self.backend(), &samples).await?;
        tx.commit().await?;
        Ok(added)
    }

    /// Stores samples `(series id, time ms, value)` as one block (a NaN value is refused,
    /// nothing stored): a single row, durable and
    /// visible to every read of samples when this returns. Cheaper than
    /// [`Store::insert_samples`] for many series at once (a few sequential pages instead of one
    /// B-tree page per series); [`Store::compact_samples`] later moves blocks into the sample
    /// table. A sample whose series and time are stored already, or appear in an earlier
    /// block, is dropped there (the first stored value wins), so reads never see it.
    ///
    /// Concurrent calls share a commit (group commit): the blocks of the calls waiting while
    /// a commit runs are written together in the next transaction, in the order the calls
    /// came, and each call returns once that transaction committed. An error fails every call
    /// of the group ([`StoreError::Shared`]) and stores none of their samples. A lone call is
    /// written at once (no waiting for company).
    pub async fn append_samples(&self, samples: &[(i64, TimestampMs, f64)]) -> Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        refuse_nan(samples)?;
        let samples = sorted(samples);
        let (t_min, t_max) = samples
            .iter()
            .fold((i64::MAX, i64::MIN), |(lo, hi), &(_, t, _)| {
                (lo.min(t), hi.max(t))
            });
        self.append_block(t_min, t_max, samples.len() as i64, encode_block(&samples))
            .await
    }

    /// Moves the oldest pending blocks, about `max_samples` samples (at least one block), into
    /// the sample table; returns the samples moved (0: none was pending). The samples are
    /// inserted in (series, time) order in transactions of at most [`COMPACT_TX`] rows, the
    /// last one deleting the blocks: the more samples a compaction moves, the more of them
    /// share each page it writes, and no transaction holds SQLite's writer for long. Safe to
    /// run concurrently with appends, reads and other compactions (replicas on one
    /// PostgreSQL), and to interrupt: a sample moved twice is stored once, with the same value.
    pub async fn compact_samples(&self, max_samples: usize) -> Result<u64> {
        let mut conn = self.write.acquire().await?;
        let Some((last, rows, read)) = load_blocks(&mut conn, max_samples).await? else {
            return Ok(0);
        };
        drop(conn);
        let chunks: Vec<&[(i64, TimestampMs, f64)]> = rows.chunks(COMPACT_TX).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let mut tx = self.write.begin().await?;
            insert_rows(&mut tx, self.backend(), chunk).await?;
            if i + 1 == chunks.len() {
                let mut q = Sql::new("DELETE FROM sample_blocks WHERE id <= ");
                q.bind(last);
                q.query().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
        Ok(read)
    }

    /// A series by id.
    pub async fn series(&self, id: i64) -> Result<SeriesRow> {
        let mut q = Sql::new(SERIES_COLUMNS);
        q.push(" WHERE id = ").bind(id);
        match q.query().fetch_optional(&self.read).await? {
            Some(r) => series_row(&r),
            None => Err(StoreError::NotFound {
                kind: "series",
                id: id.to_string(),
            }),
        }
    }

    /// Every series, with its saved detector state (for a restart).
    pub async fn all_series(&self) -> Result<Vec<SeriesRow>> {
        let rows = Sql::new(&format!("{SERIES_COLUMNS} ORDER BY id"))
            .query()
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(series_row).collect()
    }

    /// Every series without its saved state (`state` None): what readers that filter series by
    /// metric, resource or labels need, without the states' bytes.
    pub async fn series_heads(&self) -> Result<Vec<SeriesRow>> {
        let rows = Sql::new(
            "SELECT id, series_key, metric, resource, labels, detector, \
             CAST(NULL AS TEXT) AS state, state_t FROM series ORDER BY id",
        )
        .query()
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(series_row).collect()
    }

    /// The series with a saved state, with it; with `since`, only those whose state has seen
    /// a sample at or after that time (ms).
    pub async fn series_with_states(&self, since: Option<TimestampMs>) -> Result<Vec<SeriesRow>> {
        let mut q = Sql::new(SERIES_COLUMNS);
        q.push(" WHERE state IS NOT NULL");
        if let Some(t) = since {
            q.push(" AND state_t >= ").bind(t);
        }
        q.push(" ORDER BY id");
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter().map(series_row).collect()
    }

    /// The series of a resource (every metric), or of several resources.
    pub async fn series_of_resources(&self, resources: &[String]) -> Result<Vec<SeriesRow>> {
        let mut out = Vec::new();
        for r in resources {
            let mut q = Sql::new(SERIES_COLUMNS);
            q.push(" WHERE resource = ")
                .bind(r.as_str())
                .push(" ORDER BY id");
            for row in q.query().fetch_all(&self.read).await? {
                out.push(series_row(&row)?);
            }
        }
        Ok(out)
    }

    /// The samples of a series with `from <= t < to`, oldest first, at most `limit`.
    pub async fn samples(
        &self,
        series_id: i64,
        from: TimestampMs,
        to: TimestampMs,
        limit: usize,
    ) -> Result<Vec<(TimestampMs, f64)>> {
        let mut all = self.samples_of(&[series_id], from, to, limit).await?;
        Ok(all.remove(&series_id).unwrap_or_default())
    }

    /// The samples of each series of `ids` with `from <= t < to`, oldest first, at most
    /// `limit` a series (an entry for every id, empty when it has none). The pending blocks
    /// overlapping the window are read once for all of them, not once a series: a reader of
    /// many series (root-cause analysis over a topology) pays one pass over them.
    pub async fn samples_of(
        &self,
        ids: &[i64],
        from: TimestampMs,
        to: TimestampMs,
        limit: usize,
    ) -> Result<HashMap<i64, Vec<(TimestampMs, f64)>>> {
        let wanted = distinct(ids);
        let mut out: HashMap<i64, Vec<(TimestampMs, f64)>> =
            wanted.iter().map(|&id| (id, Vec::new())).collect();
        if wanted.is_empty() || from >= to || limit == 0 {
            return Ok(out);
        }
        // Blocks first, then the table: a block compacted in between is seen in both (the
        // table's value wins, as compaction keeps it), never in neither. Blocks in append
        // order: for one time, the first stored value wins.
        let mut pending: HashMap<i64, BTreeMap<TimestampMs, f64>> = HashMap::new();
        for data in self.blocks_overlapping(from, to).await? {
            let block = Block::new(&data)?;
            for &id in &wanted {
                for (_, t, v) in block.series(id) {
                    if t >= from && t < to {
                        pending.entry(id).or_default().entry(t).or_insert(v);
                    }
                }
            }
        }
        for &id in &wanted {
            let mut q = window(id, from, to, "ORDER BY t LIMIT ");
            q.bind(limit.min(i64::MAX as usize) as i64);
            let rows = q.query().fetch_all(&self.read).await?;
            let stored: Vec<(TimestampMs, f64)> = rows
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_>>()?;
            let merged = match pending.remove(&id) {
                None => stored,
                Some(mut p) => {
                    for (t, v) in stored {
                        p.insert(t, v);
                    }
                    p.into_iter().take(limit).collect()
                }
            };
            out.insert(id, merged);
        }
        Ok(out)
    }

    /// The pending blocks overlapping `[from, to)`, in append order.
    async fn blocks_overlapping(&self, from: TimestampMs, to: TimestampMs) -> Result<Vec<Vec<u8>>> {
        let mut q = Sql::new("SELECT data FROM sample_blocks WHERE t_max >= ");
        q.bind(from)
            .push(" AND t_min < ")
            .bind(to)
            .push(" ORDER BY id");
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// The time of the oldest sample the store holds of each series of `ids` that has one.
    /// The table answers from its index; only the pending blocks that start before the oldest
    /// of those times are read (none, once every series has compacted samples older than the
    /// blocks), instead of every block once a series.
    pub async fn oldest_samples(&self, ids: &[i64]) -> Result<HashMap<i64, TimestampMs>> {
        let mut oldest: HashMap<i64, TimestampMs> = HashMap::new();
        let wanted = distinct(ids);
        for &id in &wanted {
            let mut q = Sql::new("SELECT t FROM samples WHERE series_id = ");
            q.bind(id).push(" ORDER BY t LIMIT 1");
            if let Some(r) = q.query().fetch_optional(&self.read).await? {
                oldest.insert(id, r.try_get(0)?);
            }
        }
        // A block can only hold an older sample of a series if it starts before that series'
        // oldest in the table (or the series has none there).
        let bound = wanted
            .iter()
            .map(|id| oldest.get(id).copied().unwrap_or(TimestampMs::MAX))
            .max()
            .unwrap_or(TimestampMs::MIN);
        let mut q = Sql::new("SELECT data FROM sample_blocks WHERE t_min < ");
        q.bind(bound);
        for r in q.query().fetch_all(&self.read).await? {
            let data: Vec<u8> = r.try_get(0)?;
            let block = Block::new(&data)?;
            for &id in &wanted {
                if let Some((_, t, _)) = block.series(id).min_by_key(|p| p.1)
                    && oldest.get(&id).is_none_or(|&o| t < o)
                {
                    oldest.insert(id, t);
                }
            }
        }
        Ok(oldest)
    }

    /// The latest sample with `from <= t < to` of each series of `ids` that has one (the
    /// value [`Store::samples`] would end with). The pending blocks overlapping the window are
    /// read once for all of them, not once a series: a reader of many series (an alert rule's
    /// selector) pays one pass over them.
    pub async fn latest_samples(
        &self,
        ids: &[i64],
        from: TimestampMs,
        to: TimestampMs,
    ) -> Result<HashMap<i64, (TimestampMs, f64)>> {
        let mut latest: HashMap<i64, (TimestampMs, f64)> = HashMap::new();
        if ids.is_empty() || from >= to {
            return Ok(latest);
        }
        let wanted = distinct(ids);
        // Blocks in append order: for one time, the first stored value wins.
        for data in self.blocks_overlapping(from, to).await? {
            let block = Block::new(&data)?;
            for &id in &wanted {
                for (_, t, v) in block.series(id) {
                    if t >= from && t < to && latest.get(&id).is_none_or(|&(lt, _)| t > lt) {
                        latest.insert(id, (t, v));
                    }
                }
            }
        }
        // The table's value wins for a time in both (compaction keeps it).
        for &id in &wanted {
            let q = window(id, from, to, "ORDER BY t DESC LIMIT 1");
            if let Some(r) = q.query().fetch_optional(&self.read).await? {
                let (t, v): (TimestampMs, f64) = (r.try_get(0)?, r.try_get(1)?);
                if latest.get(&id).is_none_or(|&(lt, _)| t >= lt) {
                    latest.insert(id, (t, v));
                }
            }
        }
        Ok(latest)
    }

    /// The samples a saved state has not seen: for every series, those after its `state_t`
    /// (all of them when no state is saved), by series then time. A restart feeds them to
    /// the restored detectors so that nothing acknowledged goes unexamined.
    pub async fn samples_after_states(&self) -> Result<Vec<(i64, TimestampMs, f64)>> {
        let mut pending: BTreeMap<(i64, TimestampMs), f64> = BTreeMap::new();
        let blocks = Sql::new("SELECT data FROM sample_blocks ORDER BY id")
            .query()
            .fetch_all(&self.read)
            .await?;
        if !blocks.is_empty() {
            let mut seen: HashMap<i64, Option<TimestampMs>> = HashMap::new();
            for r in Sql::new("SELECT id, state_t FROM series")
                .query()
                .fetch_all(&self.read)
                .await?
            {
                seen.insert(r.try_get(0)?, r.try_get(1)?);
            }
            for r in &blocks {
                let data: Vec<u8> = r.try_get(0)?;
                for (id, t, v) in Block::new(&data)?.iter() {
                    if let Some(state_t) = seen.get(&id)
                        && state_t.is_none_or(|st| t > st)
                    {
                        pending.entry((id, t)).or_insert(v);
                    }
                }
            }
        }
        let rows = Sql::new(
            "SELECT s.series_id, s.t, s.v FROM series x JOIN samples s ON s.series_id = x.id \
             AND (x.state_t IS NULL OR s.t > x.state_t) ORDER BY s.series_id, s.t",
        )
        .query()
        .fetch_all(&self.read)
        .await?;
        let stored: Vec<(i64, TimestampMs, f64)> = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<_>>()?;
        if pending.is_empty() {
            return Ok(stored);
        }
        for &(id, t, v) in &stored {
            pending.insert((id, t), v);
        }
        Ok(pending.into_iter().map(|((id, t), v)| (id, t, v)).collect())
    }

    /// Saves detector states in one transaction.
    pub async fn save_states(&self, states: &[SavedState]) -> Result<()> {
        let mut tx = self.write.begin().await?;
        for s in states {
            let mut q = Sql::new("UPDATE series SET detector = ");
            q.bind(s.detector.as_str())
                .push(", state = ")
                .bind(s.state.as_str())
                .push(", state_t = ")
                .bind(s.state_t)
                .push(" WHERE id = ")
                .bind(s.series_id);
            q.query().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes samples older than `before` (ms), at most `batch` of them; returns how many.
    /// Pending blocks are moved into the sample table first.
    pub async fn delete_samples_before(&self, before: TimestampMs, batch: usize) -> Result<u64> {
        while self.compact_samples(COMPACT_MAX).await? > 0 {}
        let mut q = Sql::new(
            "DELETE FROM samples WHERE (series_id, t) IN (SELECT series_id, t FROM samples WHERE t < ",
        );
        q.bind(before).push(" LIMIT ").bind(batch as i64).push(")");
        Ok(q.query().execute(&self.write).await?.rows_affected())
    }
}

/// The ids of `ids` once each, in ascending order.
fn distinct(ids: &[i64]) -> Vec<i64> {
    let mut out = ids.to_vec();
    out.sort_unstable();
    out.dedup();
    out
}

/// Samples a compaction moves at most when draining every block.
const COMPACT_MAX: usize = 1_000_000;

/// Rows one compaction transaction inserts at most (SQLite's writer is held that long).
pub const COMPACT_TX: usize = 100_000;

/// Bytes of one sample in a block: series id, time, value (little-endian).
const RECORD: usize = 24;

/// The samples in (series, time) order, copied only when they are not.
fn sorted(samples: &[(i64, TimestampMs, f64)]) -> Cow<'_, [(i64, TimestampMs, f64)]> {
    // In (series, time) order: concurrent writers of the same samples take their locks in
    // one order (no deadlock on PostgreSQL), and blocks can be searched by series.
    if samples.is_sorted_by_key(|&(id, t, _)| (id, t)) {
        Cow::Borrowed(samples)
    } else {
        let mut v = samples.to_vec();
        v.sort_by_key(|&(id, t, _)| (id, t));
        Cow::Owned(v)
    }
}

/// Inserts rows (sorted); returns the new ones.
///
/// PostgreSQL: statements of [`CHUNK`] rows with `$n` placeholders. SQLite: anonymous `?`
/// placeholders, which sqlx binds by position without asking SQLite for their names (the
/// quadratic cost described at [`CHUNK`]), so statements can be long: chunks of 1,000 rows,
/// the rest in chunks of 100, 10 and 1, so that only four statements are ever prepared.
async fn insert_rows(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    samples: &[(i64, TimestampMs, f64)],
) -> Result<u64> {
    let mut added = 0;
    if backend == Backend::Sqlite {
        let mut rest = samples;
        for size in [1000, 100, 10, 1] {
            let text = sqlite_insert(size);
            while rest.len() >= size {
                let (chunk, tail) = rest.split_at(size);
                rest = tail;
                let mut args = AnyArguments::default();
                for &(id, t, v) in chunk {
                    // Adding a value of a supported type cannot fail.
                    let _ = args.add(id);
                    let _ = args.add(t);
                    let _ = args.add(v);
                }
                added += sqlx::query_with(AssertSqlSafe(text.clone()), args)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
            }
        }
        return Ok(added);
    }
    for chunk in samples.chunks(CHUNK) {
        let mut q = Sql::new("INSERT INTO samples (series_id, t, v) VALUES ");
        for (i, &(id, t, v)) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.row([id.into(), t.into(), v.into()]);
        }
        q.push(" ON CONFLICT (series_id, t) DO NOTHING");
        added += q.query().execute(&mut *conn).await?.rows_affected();
    }
    Ok(added)
}

/// The SQLite insert of `rows` samples with `?` placeholders.
///
/// `OR IGNORE` rather than `ON CONFLICT DO NOTHING`: both keep the stored row of a sample
/// stored already, but the upsert form leaves the NOT NULL constraints able to abort the
/// statement halfway, so SQLite keeps a statement journal for every multi-row insert in a
/// transaction, a copy of each page before the statement changes it, written to a temporary
/// file: as many bytes again as the compaction writes to the WAL. With `OR IGNORE` no
/// constraint can abort the statement and no journal is written. The one row it would
/// skip besides a stored sample, a NULL value, cannot occur: NaN (which SQLite stores as
/// NULL) is refused before anything is written ([`refuse_nan`]).
fn sqlite_insert(rows: usize) -> String {
    let mut text = String::with_capacity(64 + rows * 11);
    text.push_str("INSERT OR IGNORE INTO samples (series_id, t, v) VALUES ");
    for i in 0..rows {
        if i > 0 {
            text.push_str(", ");
        }
        text.push_str("(?, ?, ?)");
    }
    text
}

/// Refuses a NaN value ([`aiops_core::CoreError::NonFinite`]): SQLite would store it as NULL,
/// which the sample table cannot hold.
fn refuse_nan(samples: &[(i64, TimestampMs, f64)]) -> Result<()> {
    match samples.iter().position(|s| s.2.is_nan()) {
        Some(index) => Err(StoreError::Core(aiops_core::CoreError::NonFinite {
            index,
            timestamp: samples[index].1,
            value: samples[index].2,
        })),
        None => Ok(()),
    }
}

/// The oldest blocks, about `max_samples` samples (at least one block): the id of the last
/// one, their samples sorted by series and time with the first of equal samples kept, and the
/// samples read. None when no block is pending.
async fn load_blocks(
    conn: &mut sqlx::AnyConnection,
    max_samples: usize,
) -> Result<Option<(i64, Vec<(i64, TimestampMs, f64)>, u64)>> {
    let heads = Sql::new("SELECT id, n FROM sample_blocks ORDER BY id")
        .query()
        .fetch_all(&mut *conn)
        .await?;
    let (mut last, mut total) = (None, 0usize);
    for r in &heads {
        if last.is_some() && total >= max_samples {
            break;
        }
        let (id, n): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
        last = Some(id);
        total += usize::try_from(n).unwrap_or(0);
    }
    let Some(last) = last else { return Ok(None) };
    let mut q = Sql::new("SELECT data FROM sample_blocks WHERE id <= ");
    q.bind(last).push(" ORDER BY id");
    let mut rows = Vec::with_capacity(total);
    for r in q.query().fetch_all(&mut *conn).await? {
        let data: Vec<u8> = r.try_get(0)?;
        rows.extend(Block::new(&data)?.iter());
    }
    let read = rows.len() as u64;
    // Stable: of equal samples the earliest block's comes first and is the one kept.
    rows.sort_by_key(|&(id, t, _)| (id, t));
    rows.dedup_by_key(|&mut (id, t, _)| (id, t));
    Ok(Some((last, rows, read)))
}

/// Moves the oldest blocks, about `max_samples` samples (at least one block), into the sample
/// table inside the caller's transaction; returns the samples read from them.
async fn compact_in(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    max_samples: usize,
) -> Result<u64> {
    let Some((last, rows, read)) = load_blocks(conn, max_samples).await? else {
        return Ok(0);
    };
    insert_rows(conn, backend, &rows).await?;
    let mut q = Sql::new("DELETE FROM sample_blocks WHERE id <= ");
    q.bind(last);
    q.query().execute(&mut *conn).await?;
    Ok(read)
}

/// Writes samples (sorted by series then time) as a block.
fn encode_block(samples: &[(i64, TimestampMs, f64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len() * RECORD);
    for &(id, t, v) in samples {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&t.to_le_bytes());
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// A stored block of samples, sorted by series then time.
struct Block<'a> {
    data: &'a [u8],
}

impl<'a> Block<'a> {
    fn new(data: &'a [u8]) -> Result<Self> {
        if !data.len().is_multiple_of(RECORD) {
            return Err(StoreError::Corrupt {
                what: "sample block",
                reason: format!("{} bytes is not a multiple of {RECORD}", data.len()),
            });
        }
        Ok(Self { data })
    }

    fn len(&self) -> usize {
        self.data.len() / RECORD
    }

    fn get(&self, i: usize) -> (i64, TimestampMs, f64) {
        let r = &self.data[i * RECORD..(i + 1) * RECORD];
        let word = |k: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&r[k * 8..k * 8 + 8]);
            b
        };
        (
            i64::from_le_bytes(word(0)),
            i64::from_le_bytes(word(1)),
            f64::from_le_bytes(word(2)),
        )
    }

    fn series_id(&self, i: usize) -> i64 {
        self.get(i).0
    }

    fn iter(&self) -> impl Iterator<Item = (i64, TimestampMs, f64)> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The samples of one series (binary search: a block is sorted by series).
    fn series(&self, id: i64) -> impl Iterator<Item = (i64, TimestampMs, f64)> + '_ {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.series_id(mid) < id {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        (lo..self.len())
            .map(|i| self.get(i))
            .take_while(move |&(s, _, _)| s == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_read_back_exactly() {
        let samples = vec![
            (1, -5, f64::MIN_POSITIVE),
            (1, 7, -0.0),
            (2, i64::MIN, 1e300),
            (2, i64::MAX, f64::MAX),
            (9, 0, 3.25),
        ];
        let data = encode_block(&samples);
        let b = Block::new(&data).unwrap();
        let back: Vec<_> = b.iter().collect();
        assert_eq!(back.len(), samples.len());
        for (a, b) in back.iter().zip(&samples) {
            assert_eq!((a.0, a.1, a.2.to_bits()), (b.0, b.1, b.2.to_bits()));
        }
        assert_eq!(
            b.series(2).map(|s| s.1).collect::<Vec<_>>(),
            [i64::MIN, i64::MAX]
        );
        assert_eq!(b.series(9).count(), 1);
        assert_eq!(b.series(3).count(), 0);
        assert_eq!(b.series(0).count(), 0);
        assert_eq!(b.series(10).count(), 0);
        assert!(Block::new(&data[..data.len() - 1]).is_err());
    }
}

#[cfg(test)]
mod read_cost {
    use crate::{NewSeries, Store, StoreOptions};
    use aiops_core::Labels;

    /// What one series' read costs with a million samples pending in blocks (10,000 series,
    /// requests of 2,000 samples, as remote_write appends them), and the latest sample of
    /// 1,000 series read at once. A measurement, not a check:
    /// `cargo test --release -p aiops-store read_cost -- --ignored --nocapture`.
    #[tokio::test]
    #[ignore = "a measurement, run in release"]
    async fn one_series_read_with_a_million_samples_pending() {
        let dir = std::env::temp_dir().join(format!("aiops-read-cost-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/s.db?mode=rwc", dir.display());
        let store = Store::open(&url, &StoreOptions::default()).await.unwrap();
        let new: Vec<NewSeries> = (0..10_000)
            .map(|i| {
                let labels =
                    Labels::try_from_pairs([("__name__", "m"), ("i", &i.to_string())]).unwrap();
                NewSeries {
                    key: labels.to_string(),
                    metric: "m".into(),
                    resource: format!("r{i}"),
                    labels,
                }
            })
            .collect();
        let ids = store.series_ids(&new, 0).await.unwrap();
        for r in 0..500_i64 {
            let block: Vec<_> = (0..2_000)
                .map(|k| {
                    let s = (r * 2_000 + k) as usize;
                    (ids[s % ids.len()], (s / ids.len()) as i64 * 15_000, 1.0)
                })
                .collect();
            store.append_samples(&block).await.unwrap();
        }
        for (what, from, to) in [
            ("last 15 min", 85 * 15_000, 100 * 15_000),
            ("everything", i64::MIN, i64::MAX),
        ] {
            let t = std::time::Instant::now();
            let n = 20;
            for k in 0..n {
                let got = store.samples(ids[k * 37], from, to, 100_000).await.unwrap();
                assert!(!got.is_empty());
            }
            eprintln!(
                "{what}: {:.2} ms a series read",
                t.elapsed().as_secs_f64() * 1e3 / n as f64
            );
        }
        let many: Vec<i64> = ids.iter().step_by(10).copied().collect();
        let t = std::time::Instant::now();
        let latest = store
            .latest_samples(&many, 85 * 15_000, 100 * 15_000)
            .await
            .unwrap();
        assert_eq!(latest.len(), many.len());
        eprintln!(
            "latest sample of {} series at once: {:.1} ms",
            many.len(),
            t.elapsed().as_secs_f64() * 1e3
        );
        // What root-cause analysis reads: 50 series over 15 minutes, one by one and at once,
        // and their oldest samples (all still in blocks: the worst case).
        let fifty: Vec<i64> = ids.iter().step_by(200).copied().collect();
        let t = std::time::Instant::now();
        for &id in &fifty {
            store
                .samples(id, 85 * 15_000, 100 * 15_000, 100_000)
                .await
                .unwrap();
        }
        let one_by_one = t.elapsed();
        let t = std::time::Instant::now();
        let at_once = store
            .samples_of(&fifty, 85 * 15_000, 100 * 15_000, 100_000)
            .await
            .unwrap();
        let bulk = t.elapsed();
        assert!(at_once.values().all(|v| v.len() == 15));
        let t = std::time::Instant::now();
        let oldest = store.oldest_samples(&fifty).await.unwrap();
        assert_eq!(oldest.len(), 50);
        eprintln!(
            "50 series, last 15 min: {:.1} ms one by one, {:.1} ms at once; their oldest samples {:.1} ms",
            one_by_one.as_secs_f64() * 1e3,
            bulk.as_secs_f64() * 1e3,
            t.elapsed().as_secs_f64() * 1e3
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
