//! Detected anomalies: one row per anomalous sample of a series.

use aiops_core::TimestampMs;
use serde::Serialize;
use sqlx::Row;

use crate::error::{Result, StoreError};
use crate::sql::{Sql, Value, Where};
use crate::store::Store;

/// An anomaly to store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewAnomaly {
    /// The series.
    pub series_id: i64,
    /// The sample's time (ms).
    pub t: TimestampMs,
    /// Its resource.
    pub resource: String,
    /// Its metric.
    pub metric: String,
    /// The sample's value.
    pub value: f64,
    /// The detector's score.
    pub score: f64,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// The expected value, if the detector models one.
    pub expected: Option<f64>,
    /// The lower bound of normal, if known.
    pub lower: Option<f64>,
    /// The upper bound of normal, if known.
    pub upper: Option<f64>,
    /// The detector's name.
    pub detector: String,
    /// When it was detected (ms).
    pub detected_at: TimestampMs,
}

/// A stored anomaly.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnomalyRow {
    /// Store id.
    pub id: i64,
    /// The anomaly.
    #[serde(flatten)]
    pub anomaly: NewAnomaly,
}

/// Filters of [`Store::anomalies`]; every one optional.
#[derive(Debug, Clone, Default)]
pub struct AnomalyFilter {
    /// Only this resource.
    pub resource: Option<String>,
    /// Only this metric.
    pub metric: Option<String>,
    /// Only samples at or after this time (ms).
    pub start: Option<TimestampMs>,
    /// Only samples before this time (ms).
    pub end: Option<TimestampMs>,
    /// Only this severity.
    pub severity: Option<String>,
    /// Only ids below this one (the cursor of the next page; newest first).
    pub before_id: Option<i64>,
}

const COLUMNS: &str = "SELECT id, series_id, t, resource, metric, value, score, severity, expected, \
                       lower_bound, upper_bound, detector, detected_at FROM anomalies";

fn row(r: &sqlx::any::AnyRow) -> Result<AnomalyRow> {
    Ok(AnomalyRow {
        id: r.try_get("id")?,
        anomaly: NewAnomaly {
            series_id: r.try_get("series_id")?,
            t: r.try_get("t")?,
            resource: r.try_get("resource")?,
            metric: r.try_get("metric")?,
            value: r.try_get("value")?,
            score: r.try_get("score")?,
            severity: r.try_get("severity")?,
            expected: r.try_get("expected")?,
            lower: r.try_get("lower_bound")?,
            upper: r.try_get("upper_bound")?,
            detector: r.try_get("detector")?,
            detected_at: r.try_get("detected_at")?,
        },
    })
}

fn filtered(select: &str, f: &AnomalyFilter, with_cursor: bool) -> Sql {
    let mut w = Where::new(select);
    w.opt("resource", "=", f.resource.clone());
    w.opt("metric", "=", f.metric.clone());
    w.opt("t", ">=", f.start);
    w.opt("t", "<", f.end);
    w.opt("severity", "=", f.severity.clone());
    if with_cursor {
        w.opt("id", "<", f.before_id);
    }
    w.done()
}

impl Store {
    /// Stores anomalies; one already stored for the same series and time is kept (a replay
    /// after a restart finds the same ones). Returns the new rows' ids.
    pub async fn insert_anomalies(&self, anomalies: &[NewAnomaly]) -> Result<Vec<AnomalyRow>> {
        // In (series, time) order (see `insert_samples`); the result in the given order.
        let mut order: Vec<usize> = (0..anomalies.len()).collect();
        order.sort_by_key(|&i| (anomalies[i].series_id, anomalies[i].t));
        let mut tx = self.write.begin().await?;
        let mut out = Vec::new();
        for i in order {
            let a = &anomalies[i];
            let mut q = Sql::new(
                "INSERT INTO anomalies (series_id, t, resource, metric, value, score, severity, \
                 expected, lower_bound, upper_bound, detector, detected_at) VALUES ",
            );
            q.row([
                Value::from(a.series_id),
                a.t.into(),
                a.resource.as_str().into(),
                a.metric.as_str().into(),
                a.value.into(),
                a.score.into(),
                a.severity.as_str().into(),
                a.expected.into(),
                a.lower.into(),
                a.upper.into(),
                a.detector.as_str().into(),
                a.detected_at.into(),
            ])
            .push(" ON CONFLICT (series_id, t) DO NOTHING RETURNING id");
            if let Some(r) = q.query().fetch_optional(&mut *tx).await? {
                out.push((
                    i,
                    AnomalyRow {
                        id: r.try_get(0)?,
                        anomaly: a.clone(),
                    },
                ));
            }
        }
        tx.commit().await?;
        out.sort_by_key(|&(i, _)| i);
        Ok(out.into_iter().map(|(_, a)| a).collect())
    }

    /// Anomalies matching `filter`, newest first (by id), at most `limit`, and how many match
    /// in all (ignoring the cursor).
    pub async fn anomalies(
        &self,
        filter: &AnomalyFilter,
        limit: usize,
    ) -> Result<(u64, Vec<AnomalyRow>)> {
        let total: i64 = filtered("SELECT COUNT(*) FROM anomalies", filter, false)
            .query()
            .fetch_one(&self.read)
            .await?
            .try_get(0)?;
        let mut q = filtered(COLUMNS, filter, true);
        q.push(" ORDER BY id DESC LIMIT ").bind(limit as i64);
        let rows = q.query().fetch_all(&self.read).await?;
        Ok((total as u64, rows.iter().map(row).collect::<Result<_>>()?))
    }

    /// Anomalies with an id over `after`, oldest first, at most `limit`.
    pub async fn anomalies_after(&self, after: i64, limit: usize) -> Result<Vec<AnomalyRow>> {
        let mut q = Sql::new(COLUMNS);
        q.push(" WHERE id > ")
            .bind(after)
            .push(" ORDER BY id LIMIT ")
            .bind(limit as i64);
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter().map(row).collect()
    }

    /// One anomaly.
    pub async fn anomaly(&self, id: i64) -> Result<AnomalyRow> {
        let mut q = Sql::new(COLUMNS);
        q.push(" WHERE id = ").bind(id);
        match q.query().fetch_optional(&self.read).await? {
            Some(r) => row(&r),
            None => Err(StoreError::NotFound {
                kind: "anomaly",
                id: id.to_string(),
            }),
        }
    }

    /// Anomalies of these resources with `from <= t < to`, oldest first (for RCA and for an
    /// anomaly's related metrics), at most `limit`.
    pub async fn anomalies_of_resources(
        &self,
        resources: &[String],
        from: TimestampMs,
        to: TimestampMs,
        limit: usize,
    ) -> Result<Vec<AnomalyRow>> {
        let mut out = Vec::new();
        for r in resources {
            let mut q = Sql::new(COLUMNS);
            q.push(" WHERE resource = ")
                .bind(r.as_str())
                .push(" AND t >= ")
                .bind(from)
                .push(" AND t < ")
                .bind(to)
                .push(" ORDER BY t LIMIT ")
                .bind(limit as i64);
            for row_ in q.query().fetch_all(&self.read).await? {
                out.push(row(&row_)?);
            }
        }
        out.sort_by_key(|a| (a.anomaly.t, a.id));
        out.truncate(limit);
        Ok(out)
    }
}

impl Store {
    /// Deletes anomalies of samples older than `before` (ms), at most `batch`; returns how
    /// many.
    pub async fn delete_anomalies_before(&self, before: TimestampMs, batch: usize) -> Result<u64> {
        let mut q =
            Sql::new("DELETE FROM anomalies WHERE id IN (SELECT id FROM anomalies WHERE t < ");
        q.bind(before).push(" LIMIT ").bind(batch as i64).push(")");
        Ok(q.query().execute(&self.write).await?.rows_affected())
    }
}
