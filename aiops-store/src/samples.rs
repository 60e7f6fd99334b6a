//! Series, their samples and the detector state of each.

use std::borrow::Cow;

use aiops_core::{Labels, TimestampMs};
use serde::Serialize;
use sqlx::Row;

use crate::error::{Result, StoreError};
use crate::sql::{Sql, Value};
use crate::store::Store;

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

    /// Stores samples `(series id, time ms, value)` in one transaction; a sample whose series
    /// and time are stored already is kept as it was (a resent batch changes nothing).
    /// Returns the number of new samples.
    pub async fn insert_samples(&self, samples: &[(i64, TimestampMs, f64)]) -> Result<u64> {
        // In (series, time) order, like `series_ids`: concurrent writers of the same samples
        // take their locks in one order (no deadlock on PostgreSQL).
        let samples: Cow<'_, [(i64, TimestampMs, f64)]> =
            if samples.is_sorted_by_key(|&(id, t, _)| (id, t)) {
                Cow::Borrowed(samples)
            } else {
                let mut v = samples.to_vec();
                v.sort_by_key(|&(id, t, _)| (id, t));
                Cow::Owned(v)
            };
        let mut tx = self.write.begin().await?;
        let mut added = 0;
        for chunk in samples.chunks(CHUNK) {
            let mut q = Sql::new("INSERT INTO samples (series_id, t, v) VALUES ");
            for (i, &(id, t, v)) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.row([id.into(), t.into(), v.into()]);
            }
            q.push(" ON CONFLICT (series_id, t) DO NOTHING");
            added += q.query().execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(added)
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
        let mut q = Sql::new("SELECT t, v FROM samples WHERE series_id = ");
        q.bind(series_id)
            .push(" AND t >= ")
            .bind(from)
            .push(" AND t < ")
            .bind(to)
            .push(" ORDER BY t LIMIT ")
            .bind(limit.min(i64::MAX as usize) as i64);
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// The samples a saved state has not seen: for every series, those after its `state_t`
    /// (all of them when no state is saved), by series then time. A restart feeds them to
    /// the restored detectors so that nothing acknowledged goes unexamined.
    pub async fn samples_after_states(&self) -> Result<Vec<(i64, TimestampMs, f64)>> {
        let rows = Sql::new(
            "SELECT s.series_id, s.t, s.v FROM series x JOIN samples s ON s.series_id = x.id \
             AND (x.state_t IS NULL OR s.t > x.state_t) ORDER BY s.series_id, s.t",
        )
        .query()
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
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
    pub async fn delete_samples_before(&self, before: TimestampMs, batch: usize) -> Result<u64> {
        let mut q = Sql::new(
            "DELETE FROM samples WHERE (series_id, t) IN (SELECT series_id, t FROM samples WHERE t < ",
        );
        q.bind(before).push(" LIMIT ").bind(batch as i64).push(")");
        Ok(q.query().execute(&self.write).await?.rows_affected())
    }
}
