//! Log streams, their (masked) lines, the templates mined from them and the anomalous windows
//! found in them.

use aiops_core::{Labels, TimestampMs};
use serde::Serialize;
use sqlx::Row;

use crate::error::{Result, StoreError};
use crate::sql::{Sql, Value, Where};
use crate::store::Store;

/// Rows per multi-row insert (3 arguments a row, far under SQLite's 32,766).
const CHUNK: usize = 1_000;

/// A log stream as the ingest side names it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLogStream {
    /// Canonical identity: the sorted labels written `name="value",...`.
    pub key: String,
    /// The service the stream belongs to (its `service` label, else `unknown`).
    pub service: String,
    /// All labels.
    pub labels: Labels,
}

/// A stored log stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogStreamRow {
    /// Store id.
    pub id: i64,
    /// Canonical identity.
    pub key: String,
    /// The service.
    pub service: String,
    /// All labels.
    pub labels: Labels,
    /// The saved detector state (opaque JSON), if any.
    #[serde(skip)]
    pub state: Option<String>,
    /// The id of the last line the saved state has seen.
    pub state_id: Option<i64>,
}

/// A line to store (already masked).
#[derive(Debug, Clone, PartialEq)]
pub struct NewLogLine {
    /// The stream.
    pub stream_id: i64,
    /// The line's time (ms).
    pub t: TimestampMs,
    /// The text.
    pub line: String,
}

/// A stored line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLineRow {
    /// Store id (increasing in arrival order).
    pub id: i64,
    /// The stream.
    pub stream_id: i64,
    /// The line's time (ms).
    pub t: TimestampMs,
    /// The masked text.
    pub line: String,
    /// Its template in the stream, once mined.
    pub template_id: Option<i64>,
    /// Whether the detector flagged the line.
    pub anomalous: bool,
}

/// What mining decided for one stored line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinedLine {
    /// The line.
    pub id: i64,
    /// Its number in the stream (from 1, as the detector counts).
    pub seq: i64,
    /// Its template.
    pub template_id: i64,
}

/// A template of a stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogTemplateRow {
    /// The stream.
    pub stream_id: i64,
    /// The template's id in the stream.
    pub template_id: i64,
    /// The stream's service.
    pub service: String,
    /// The template (`<*>` and `<:NAME:>` are variables).
    pub template: String,
    /// Lines it matched.
    pub count: i64,
    /// First stored (ms).
    pub first_seen: TimestampMs,
    /// Last updated (ms).
    pub last_seen: TimestampMs,
}

/// An anomalous window of a stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewLogAnomaly {
    /// The stream.
    pub stream_id: i64,
    /// The stream's service.
    pub service: String,
    /// Start of the window (ms).
    pub window_start: TimestampMs,
    /// End of the window, exclusive (ms).
    pub window_end: TimestampMs,
    /// Lines in the window.
    pub lines: i64,
    /// Anomalous lines in it.
    pub anomalous_lines: i64,
    /// The strongest reason's score.
    pub score: f64,
    /// The reasons (JSON array of `{signal, score, template, message}`).
    pub reasons: serde_json::Value,
    /// When it was detected (ms).
    pub detected_at: TimestampMs,
}

/// A stored anomalous window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogAnomalyRow {
    /// Store id.
    pub id: i64,
    /// The window.
    #[serde(flatten)]
    pub anomaly: NewLogAnomaly,
}

/// Filters of [`Store::log_lines`]; every one optional.
#[derive(Debug, Clone, Default)]
pub struct LogLineFilter {
    /// Only these streams (`None`: every stream).
    pub stream_ids: Option<Vec<i64>>,
    /// Only lines at or after this time (ms).
    pub start: Option<TimestampMs>,
    /// Only lines before this time (ms).
    pub end: Option<TimestampMs>,
    /// Only ids below this one (the cursor of the next page; newest first).
    pub before_id: Option<i64>,
}

/// Filters of [`Store::log_anomalies`]; every one optional.
#[derive(Debug, Clone, Default)]
pub struct LogAnomalyFilter {
    /// Only this service.
    pub service: Option<String>,
    /// Only this stream.
    pub stream_id: Option<i64>,
    /// Only windows starting at or after this time (ms).
    pub start: Option<TimestampMs>,
    /// Only windows starting before this time (ms).
    pub end: Option<TimestampMs>,
    /// Only ids below this one (the cursor of the next page; newest first).
    pub before_id: Option<i64>,
}

const STREAM_COLUMNS: &str =
    "SELECT id, stream_key, service, labels, state, state_id FROM log_streams";
const LINE_COLUMNS: &str = "SELECT id, stream_id, t, line, template_id, anomalous FROM log_lines";
const ANOMALY_COLUMNS: &str = "SELECT id, stream_id, service, window_start, window_end, lines, \
                               anomalous_lines, score, reasons, detected_at FROM log_anomalies";

fn stream_row(r: &sqlx::any::AnyRow) -> Result<LogStreamRow> {
    let labels: String = r.try_get("labels")?;
    Ok(LogStreamRow {
        id: r.try_get("id")?,
        key: r.try_get("stream_key")?,
        service: r.try_get("service")?,
        labels: serde_json::from_str(&labels).map_err(|e| StoreError::corrupt("labels", e))?,
        state: r.try_get("state")?,
        state_id: r.try_get("state_id")?,
    })
}

fn line_row(r: &sqlx::any::AnyRow) -> Result<LogLineRow> {
    Ok(LogLineRow {
        id: r.try_get("id")?,
        stream_id: r.try_get("stream_id")?,
        t: r.try_get("t")?,
        line: r.try_get("line")?,
        template_id: r.try_get("template_id")?,
        anomalous: r.try_get::<i64, _>("anomalous")? != 0,
    })
}

fn anomaly_row(r: &sqlx::any::AnyRow) -> Result<LogAnomalyRow> {
    let reasons: String = r.try_get("reasons")?;
    Ok(LogAnomalyRow {
        id: r.try_get("id")?,
        anomaly: NewLogAnomaly {
            stream_id: r.try_get("stream_id")?,
            service: r.try_get("service")?,
            window_start: r.try_get("window_start")?,
            window_end: r.try_get("window_end")?,
            lines: r.try_get("lines")?,
            anomalous_lines: r.try_get("anomalous_lines")?,
            score: r.try_get("score")?,
            reasons: serde_json::from_str(&reasons)
                .map_err(|e| StoreError::corrupt("log anomaly reasons", e))?,
            detected_at: r.try_get("detected_at")?,
        },
    })
}

fn anomaly_filtered(select: &str, f: &LogAnomalyFilter, with_cursor: bool) -> Sql {
    let mut w = Where::new(select);
    w.opt("service", "=", f.service.clone());
    w.opt("stream_id", "=", f.stream_id);
    w.opt("window_start", ">=", f.start);
    w.opt("window_start", "<", f.end);
    if with_cursor {
        w.opt("id", "<", f.before_id);
    }
    w.done()
}

impl Store {
    /// The ids of the log streams with these keys, in the order given (None for a key no
    /// stream has); nothing is created.
    pub async fn find_log_stream_ids(&self, keys: &[&str]) -> Result<Vec<Option<i64>>> {
        crate::sql::ids_by_key(&self.read, "log_streams", "stream_key", keys).await
    }

    /// The ids of these streams, creating the missing ones (in one transaction).
    pub async fn log_stream_ids(
        &self,
        streams: &[NewLogStream],
        now: TimestampMs,
    ) -> Result<Vec<i64>> {
        let mut tx = self.write.begin().await?;
        let mut ids = Vec::with_capacity(streams.len());
        for s in streams {
            let labels =
                serde_json::to_string(&s.labels).map_err(|e| StoreError::corrupt("labels", e))?;
            let mut q = Sql::new(
                "INSERT INTO log_streams (stream_key, service, labels, created_at) VALUES ",
            );
            q.row([
                Value::from(s.key.as_str()),
                s.service.as_str().into(),
                labels.into(),
                now.into(),
            ])
            .push(" ON CONFLICT (stream_key) DO NOTHING");
            q.query().execute(&mut *tx).await?;
            let mut q = Sql::new("SELECT id FROM log_streams WHERE stream_key = ");
            q.bind(s.key.as_str());
            ids.push(q.query().fetch_one(&mut *tx).await?.try_get(0)?);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// A log stream by id, with its saved detector state.
    pub async fn log_stream(&self, id: i64) -> Result<LogStreamRow> {
        let mut q = Sql::new(STREAM_COLUMNS);
        q.push(" WHERE id = ").bind(id);
        match q.query().fetch_optional(&self.read).await? {
            Some(r) => stream_row(&r),
            None => Err(StoreError::NotFound {
                kind: "log stream",
                id: id.to_string(),
            }),
        }
    }

    /// Log streams without their saved states: those of `ids` when given (in id order; ids no
    /// stream has are left out), with the given key and service when given.
    pub async fn log_stream_heads(
        &self,
        ids: Option<&[i64]>,
        key: Option<&str>,
        service: Option<&str>,
    ) -> Result<Vec<LogStreamRow>> {
        let mut out = Vec::new();
        let all = [];
        let chunks: Vec<&[i64]> = match ids {
            Some(ids) => ids.chunks(CHUNK).collect(),
            None => vec![&all[..]],
        };
        for chunk in chunks {
            let mut w = Where::new(
                "SELECT id, stream_key, service, labels, CAST(NULL AS TEXT) AS state, \
                 CAST(NULL AS BIGINT) AS state_id FROM log_streams",
            );
            w.opt("stream_key", "=", key);
            w.opt("service", "=", service);
            let mut q = w.done();
            if ids.is_some() {
                q.push(if q.text.contains(" WHERE ") {
                    " AND id IN ("
                } else {
                    " WHERE id IN ("
                });
                for (i, id) in chunk.iter().enumerate() {
                    if i > 0 {
                        q.push(", ");
                    }
                    q.bind(*id);
                }
                q.push(")");
            }
            q.push(" ORDER BY id");
            for r in q.query().fetch_all(&self.read).await? {
                out.push(stream_row(&r)?);
            }
        }
        Ok(out)
    }

    /// The log streams with a saved state, with it; with `since`, only those whose state's
    /// last line was received at or after that time (ms).
    pub async fn log_streams_with_states(
        &self,
        since: Option<TimestampMs>,
    ) -> Result<Vec<LogStreamRow>> {
        let mut q = Sql::new(
            "SELECT s.id, s.stream_key, s.service, s.labels, s.state, s.state_id \
             FROM log_streams s WHERE s.state IS NOT NULL",
        );
        if let Some(t) = since {
            q.push(
                " AND EXISTS (SELECT 1 FROM log_lines l WHERE l.id = s.state_id \
                 AND l.received_at >= ",
            )
            .bind(t)
            .push(")");
        }
        q.push(" ORDER BY s.id");
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter().map(stream_row).collect()
    }

    /// Every log stream, with its saved detector state (for a restart).
    pub async fn all_log_streams(&self) -> Result<Vec<LogStreamRow>> {
        let rows = Sql::new(&format!("{STREAM_COLUMNS} ORDER BY id"))
            .query()
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(stream_row).collect()
    }

    /// Stores lines in one transaction, in the order given; returns their ids in that order.
    pub async fn insert_log_lines(
        &self,
        lines: &[NewLogLine],
        received_at: TimestampMs,
    ) -> Result<Vec<i64>> {
        let mut tx = self.write.begin().await?;
        let mut ids = Vec::with_capacity(lines.len());
        for chunk in lines.chunks(CHUNK) {
            let mut q = Sql::new("INSERT INTO log_lines (stream_id, t, line, received_at) VALUES ");
            for (i, l) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.row([
                    l.stream_id.into(),
                    l.t.into(),
                    l.line.as_str().into(),
                    received_at.into(),
                ]);
            }
            q.push(" RETURNING id");
            let mut got: Vec<i64> = q
                .query()
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<std::result::Result<_, _>>()?;
            // The ids of one statement's rows increase in the order of its VALUES.
            got.sort_unstable();
            ids.extend(got);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// The lines a saved state has not seen: for every stream, those after its `state_id`
    /// (all of them when no state is saved), by stream then id. A restart feeds them to the
    /// restored detectors so that nothing acknowledged goes unexamined.
    pub async fn log_lines_after_states(&self) -> Result<Vec<LogLineRow>> {
        let rows = Sql::new(
            "SELECT l.id, l.stream_id, l.t, l.line, l.template_id, l.anomalous FROM log_streams s \
             JOIN log_lines l ON l.stream_id = s.id AND l.id > COALESCE(s.state_id, 0) \
             ORDER BY l.stream_id, l.id",
        )
        .query()
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(line_row).collect()
    }

    /// Records what mining decided for lines, the templates as they stand now and the lines
    /// the detector flagged (`(stream, seq)`), in one transaction. A replay records the same.
    pub async fn record_log_mining(
        &self,
        lines: &[MinedLine],
        templates: &[LogTemplateRow],
        anomalous: &[(i64, i64)],
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        for l in lines {
            let mut q = Sql::new("UPDATE log_lines SET seq = ");
            q.bind(l.seq)
                .push(", template_id = ")
                .bind(l.template_id)
                .push(" WHERE id = ")
                .bind(l.id);
            q.query().execute(&mut *tx).await?;
        }
        for t in templates {
            let mut q = Sql::new(
                "INSERT INTO log_templates (stream_id, template_id, service, template, count, \
                 first_seen, last_seen) VALUES ",
            );
            q.row([
                Value::from(t.stream_id),
                t.template_id.into(),
                t.service.as_str().into(),
                t.template.as_str().into(),
                t.count.into(),
                t.first_seen.into(),
                t.last_seen.into(),
            ])
            .push(
                " ON CONFLICT (stream_id, template_id) DO UPDATE SET template = excluded.template, \
                 count = excluded.count, last_seen = excluded.last_seen",
            );
            q.query().execute(&mut *tx).await?;
        }
        for &(stream_id, seq) in anomalous {
            let mut q = Sql::new("UPDATE log_lines SET anomalous = 1 WHERE stream_id = ");
            q.bind(stream_id).push(" AND seq = ").bind(seq);
            q.query().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stores anomalous windows; one already stored for the same stream and window start is
    /// kept (a replay after a restart finds the same ones). Returns the new rows.
    pub async fn insert_log_anomalies(
        &self,
        anomalies: &[NewLogAnomaly],
    ) -> Result<Vec<LogAnomalyRow>> {
        let mut tx = self.write.begin().await?;
        let mut out = Vec::new();
        for a in anomalies {
            let reasons = serde_json::to_string(&a.reasons)
                .map_err(|e| StoreError::corrupt("log anomaly reasons", e))?;
            let mut q = Sql::new(
                "INSERT INTO log_anomalies (stream_id, service, window_start, window_end, lines, \
                 anomalous_lines, score, reasons, detected_at) VALUES ",
            );
            q.row([
                Value::from(a.stream_id),
                a.service.as_str().into(),
                a.window_start.into(),
                a.window_end.into(),
                a.lines.into(),
                a.anomalous_lines.into(),
                a.score.into(),
                reasons.into(),
                a.detected_at.into(),
            ])
            .push(" ON CONFLICT (stream_id, window_start) DO NOTHING RETURNING id");
            if let Some(r) = q.query().fetch_optional(&mut *tx).await? {
                out.push(LogAnomalyRow {
                    id: r.try_get(0)?,
                    anomaly: a.clone(),
                });
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Saves detector states `(stream, state, id of the last line seen)` in one transaction.
    pub async fn save_log_states(&self, states: &[(i64, String, i64)]) -> Result<()> {
        let mut tx = self.write.begin().await?;
        for (stream_id, state, state_id) in states {
            let mut q = Sql::new("UPDATE log_streams SET state = ");
            q.bind(state.as_str())
                .push(", state_id = ")
                .bind(*state_id)
                .push(" WHERE id = ")
                .bind(*stream_id);
            q.query().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Lines matching `filter`, newest first (by id), at most `limit`.
    pub async fn log_lines(&self, filter: &LogLineFilter, limit: usize) -> Result<Vec<LogLineRow>> {
        let mut w = Where::new(LINE_COLUMNS);
        w.opt("t", ">=", filter.start);
        w.opt("t", "<", filter.end);
        w.opt("id", "<", filter.before_id);
        let mut q = w.done();
        if let Some(ids) = &filter.stream_ids {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            q.push(if q.text.contains(" WHERE ") {
                " AND stream_id IN ("
            } else {
                " WHERE stream_id IN ("
            });
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(*id);
            }
            q.push(")");
        }
        q.push(" ORDER BY id DESC LIMIT ").bind(limit as i64);
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter().map(line_row).collect()
    }

    /// Templates, most frequent first, of one service or of every one, at most `limit`.
    pub async fn log_templates(
        &self,
        service: Option<&str>,
        limit: usize,
    ) -> Result<Vec<LogTemplateRow>> {
        let mut w = Where::new(
            "SELECT stream_id, template_id, service, template, count, first_seen, last_seen \
             FROM log_templates",
        );
        w.opt("service", "=", service);
        let mut q = w.done();
        q.push(" ORDER BY count DESC, stream_id, template_id LIMIT ")
            .bind(limit as i64);
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                Ok(LogTemplateRow {
                    stream_id: r.try_get("stream_id")?,
                    template_id: r.try_get("template_id")?,
                    service: r.try_get("service")?,
                    template: r.try_get("template")?,
                    count: r.try_get("count")?,
                    first_seen: r.try_get("first_seen")?,
                    last_seen: r.try_get("last_seen")?,
                })
            })
            .collect()
    }

    /// Anomalous windows matching `filter`, newest first (by id), at most `limit`, and how
    /// many match in all (ignoring the cursor).
    pub async fn log_anomalies(
        &self,
        filter: &LogAnomalyFilter,
        limit: usize,
    ) -> Result<(u64, Vec<LogAnomalyRow>)> {
        let total: i64 = anomaly_filtered("SELECT COUNT(*) FROM log_anomalies", filter, false)
            .query()
            .fetch_one(&self.read)
            .await?
            .try_get(0)?;
        let mut q = anomaly_filtered(ANOMALY_COLUMNS, filter, true);
        q.push(" ORDER BY id DESC LIMIT ").bind(limit as i64);
        let rows = q.query().fetch_all(&self.read).await?;
        Ok((
            total as u64,
            rows.iter().map(anomaly_row).collect::<Result<_>>()?,
        ))
    }

    /// Deletes lines older than `before` (ms), at most `batch` of them; returns how many.
    pub async fn delete_log_lines_before(&self, before: TimestampMs, batch: usize) -> Result<u64> {
        let mut q =
            Sql::new("DELETE FROM log_lines WHERE id IN (SELECT id FROM log_lines WHERE t < ");
        q.bind(before).push(" LIMIT ").bind(batch as i64).push(")");
        Ok(q.query().execute(&self.write).await?.rows_affected())
    }

    /// Deletes anomalous windows that started before `before` (ms), at most `batch` of them;
    /// returns how many.
    pub async fn delete_log_anomalies_before(
        &self,
        before: TimestampMs,
        batch: usize,
    ) -> Result<u64> {
        let mut q = Sql::new(
            "DELETE FROM log_anomalies WHERE id IN (SELECT id FROM log_anomalies WHERE window_start < ",
        );
        q.bind(before).push(" LIMIT ").bind(batch as i64).push(")");
        Ok(q.query().execute(&self.write).await?.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::memory;

    fn stream(service: &str, source: &str) -> NewLogStream {
        let labels = Labels::try_from_pairs([("service", service), ("source", source)]).unwrap();
        NewLogStream {
            key: labels.to_string(),
            service: service.into(),
            labels,
        }
    }

    fn lines(stream_id: i64, n: i64) -> Vec<NewLogLine> {
        (0..n)
            .map(|i| NewLogLine {
                stream_id,
                t: i * 1000,
                line: format!("line {i}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn streams_lines_and_replay_after_the_saved_state() {
        let s = memory().await;
        let ids = s
            .log_stream_ids(&[stream("api", "app.log"), stream("db", "pg.log")], 1)
            .await
            .unwrap();
        assert_ne!(ids[0], ids[1]);
        assert_eq!(
            s.log_stream_ids(&[stream("db", "pg.log")], 2)
                .await
                .unwrap(),
            vec![ids[1]]
        );
        let a = s.insert_log_lines(&lines(ids[0], 1500), 5).await.unwrap();
        assert_eq!(a.len(), 1500);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        let b = s.insert_log_lines(&lines(ids[1], 3), 6).await.unwrap();
        assert_eq!(s.log_lines_after_states().await.unwrap().len(), 1503);
        s.save_log_states(&[(ids[0], "{}".into(), a[1499])])
            .await
            .unwrap();
        let left = s.log_lines_after_states().await.unwrap();
        assert_eq!(left.iter().map(|l| l.id).collect::<Vec<_>>(), b);
        let all = s.all_log_streams().await.unwrap();
        assert_eq!(all[0].state.as_deref(), Some("{}"));
        assert_eq!(all[0].labels.get("source"), Some("app.log"));
        // Pages, newest first, by stream and time.
        let page = s
            .log_lines(
                &LogLineFilter {
                    stream_ids: Some(vec![ids[0]]),
                    start: Some(10_000),
                    end: Some(20_000),
                    ..Default::default()
                },
                4,
            )
            .await
            .unwrap();
        assert_eq!(
            page.iter().map(|l| l.t).collect::<Vec<_>>(),
            vec![19_000, 18_000, 17_000, 16_000]
        );
        let next = s
            .log_lines(
                &LogLineFilter {
                    stream_ids: Some(vec![ids[0]]),
                    start: Some(10_000),
                    end: Some(20_000),
                    before_id: Some(page[3].id),
                },
                100,
            )
            .await
            .unwrap();
        assert_eq!(next.len(), 6);
        // Retention in batches.
        assert_eq!(s.delete_log_lines_before(1000, 10).await.unwrap(), 2);
        assert_eq!(s.delete_log_lines_before(100_000, 50).await.unwrap(), 50);
    }

    #[tokio::test]
    async fn mining_results_templates_and_anomalies() {
        let s = memory().await;
        let id = s.log_stream_ids(&[stream("api", "a")], 1).await.unwrap()[0];
        let ids = s.insert_log_lines(&lines(id, 3), 1).await.unwrap();
        let mined: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, &l)| MinedLine {
                id: l,
                seq: i as i64 + 1,
                template_id: 1,
            })
            .collect();
        let template = |count| LogTemplateRow {
            stream_id: id,
            template_id: 1,
            service: "api".into(),
            template: "line <:NUM:>".into(),
            count,
            first_seen: 1,
            last_seen: 2,
        };
        s.record_log_mining(&mined, &[template(2)], &[(id, 3)])
            .await
            .unwrap();
        s.record_log_mining(&[], &[template(3)], &[]).await.unwrap();
        let t = s.log_templates(Some("api"), 10).await.unwrap();
        assert_eq!((t.len(), t[0].count), (1, 3));
        assert!(s.log_templates(Some("db"), 10).await.unwrap().is_empty());
        let got = s.log_lines(&LogLineFilter::default(), 10).await.unwrap();
        assert_eq!(got[0].template_id, Some(1));
        assert!(got[0].anomalous && !got[1].anomalous);
        let a = NewLogAnomaly {
            stream_id: id,
            service: "api".into(),
            window_start: 60_000,
            window_end: 120_000,
            lines: 10,
            anomalous_lines: 2,
            score: 5.0,
            reasons: serde_json::json!([{"signal": "keyword_rate"}]),
            detected_at: 3,
        };
        assert_eq!(
            s.insert_log_anomalies(std::slice::from_ref(&a))
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(s.insert_log_anomalies(&[a]).await.unwrap().is_empty());
        let (total, rows) = s
            .log_anomalies(
                &LogAnomalyFilter {
                    service: Some("api".into()),
                    ..Default::default()
                },
                10,
            )
            .await
            .unwrap();
        assert_eq!(total, 1);
        assert_eq!(rows[0].anomaly.reasons[0]["signal"], "keyword_rate");
        assert_eq!(s.delete_log_anomalies_before(100_000, 10).await.unwrap(), 1);
    }
}
