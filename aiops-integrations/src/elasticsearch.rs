//! Elasticsearch and OpenSearch as a [`LogSource`]: log documents read in time order with a
//! point in time (PIT) and `search_after`, from a watermark that survives restarts.
//!
//! Wire format (Elasticsearch's "Point in time" and "Paginate search results" documentation,
//! OpenSearch's "Point in Time"):
//! - open a PIT: Elasticsearch `POST /{index}/_pit?keep_alive=1m` answers `{"id": ...}`;
//!   OpenSearch `POST /{index}/_search/point_in_time?keep_alive=1m` answers
//!   `{"pit_id": ...}`;
//! - search it: `POST /_search` (no index: the PIT names it) with `{"size", "pit": {"id",
//!   "keep_alive"}, "sort", "search_after", "query", "track_total_hits": false}`; the answer's
//!   `pit_id` is the id to use next, `hits.hits[]` holds `_index`, `_id`, `_source` and `sort`;
//! - close it: Elasticsearch `DELETE /_pit` with `{"id": ...}`, OpenSearch
//!   `DELETE /_search/point_in_time` with `{"pit_id": [...]}`;
//! - errors: `{"error": {"type", "reason"}, "status"}`, read as [`IntegrationError::Remote`].
//!
//! # Order and watermark
//!
//! A read sorts on the timestamp (`numeric_type: date`, so the sort value is epoch ms whatever
//! the mapping, `date` or `date_nanos`) then a tiebreaker, and pages with `search_after` on
//! those sort values. The tiebreaker (`_shard_doc` on Elasticsearch, `_id` on OpenSearch by
//! default) orders documents of equal timestamps *within one PIT*; `_shard_doc` values are
//! not comparable across PITs (they are shard and Lucene document numbers), and each read
//! opens a fresh PIT (so that it sees the documents that arrived since), so the persisted
//! watermark cannot be a sort array.
//!
//! The watermark is instead `{"t": <ms>, "seen": {"<index>": ["<_id>", ...]}}`: the timestamp
//! of the last record returned and the documents already returned *at that timestamp*. The
//! next read asks for `timestamp >= t` minus the `seen` documents (a `must_not` of
//! `_index` + `ids`). So:
//! - many records with one timestamp across a page or read boundary are each returned once:
//!   those returned are in `seen`, the rest are not;
//! - a record that arrives between reads with a timestamp at or after `t` is returned by the
//!   next read, even one with timestamp exactly `t`;
//! - the watermark grows only with the number of documents sharing the last timestamp.
//!
//! A record that arrives with a timestamp *before* `t` (an ingest delay longer than the read
//! interval) is not read: as with any time watermark, read what is old enough to be complete
//! (add a range on the timestamp to `query`, e.g. `lt: now-30s`).
//!
//! Documents without the timestamp field are not read.

use std::collections::{BTreeMap, BTreeSet};

use aiops_core::TimestampMs;
use aiops_core::time::Duration;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{IntegrationError, Result};
use crate::http::{
    AuthParams, HttpClient, HttpParams, Request, Response, Secret, SecretRef, check_base_url,
};
use crate::traits::{BoxFuture, LogBatch, LogRecord, LogSource};

/// The system name in errors and logs.
pub const SYSTEM: &str = "elasticsearch";

/// Largest page Elasticsearch answers by default (`index.max_result_window`).
pub const MAX_PAGE_SIZE: usize = 10_000;

/// Which of the two APIs the server speaks (they differ in the PIT endpoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavor {
    /// Elasticsearch 7.10 or later.
    #[default]
    Elasticsearch,
    /// OpenSearch 2.4 or later.
    Opensearch,
}

/// How to authenticate: `{basic: {username, password: SECRET}}` or `{api_key: SECRET}` (the
/// base64 `id:api_key` Elasticsearch shows as `encoded`, sent as
/// `Authorization: ApiKey <it>`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ElasticsearchAuth {
    /// A user and password.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: SecretRef,
    },
    /// An encoded API key.
    ApiKey(SecretRef),
}

/// A query: a query DSL object (`{"term": {"service": "cart"}}`) or a `query_string` text
/// (`service:cart AND level:error`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum LogQuery {
    /// A `query_string` query.
    Text(String),
    /// A query DSL object.
    Dsl(serde_json::Map<String, Value>),
}

impl LogQuery {
    fn to_dsl(&self) -> Value {
        match self {
            LogQuery::Text(q) => json!({"query_string": {"query": q}}),
            LogQuery::Dsl(m) => Value::Object(m.clone()),
        }
    }
}

/// Parameters of an Elasticsearch or OpenSearch log source, as a configuration writes them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElasticsearchParams {
    /// Base URL (`https://es.example:9200`).
    pub url: String,
    /// Index, alias, data stream or pattern (`logs-*`, `a,b`).
    pub index: String,
    /// Authentication (none by default).
    #[serde(default)]
    pub auth: Option<ElasticsearchAuth>,
    /// Elasticsearch (default) or OpenSearch.
    #[serde(default)]
    pub flavor: Flavor,
    /// The timestamp field (default `@timestamp`).
    #[serde(default = "default_timestamp_field")]
    pub timestamp_field: String,
    /// The message field (default `message`; a dotted path such as `log.message` reads an
    /// object's field).
    #[serde(default = "default_message_field")]
    pub message_field: String,
    /// Fields read as labels (`service.name`, `host.name`...), named as written here.
    #[serde(default)]
    pub label_fields: Vec<String>,
    /// Which documents (all by default).
    #[serde(default)]
    pub query: Option<LogQuery>,
    /// Hits asked per search (default 1,000, at most 10,000).
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    /// How long a PIT is kept between two searches of a read (default `1m`).
    #[serde(default = "default_keep_alive")]
    pub keep_alive: Duration,
    /// The tiebreaker sort field within a PIT (default `_shard_doc` on Elasticsearch, `_id`
    /// on OpenSearch; see the module docs).
    #[serde(default)]
    pub tiebreaker: Option<String>,
    /// Time allowed for one request (default `30s`).
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Retries of a failed request (default 3; every request of a read is idempotent).
    #[serde(default = "default_retries")]
    pub retries: u32,
}

fn default_timestamp_field() -> String {
    "@timestamp".into()
}
fn default_message_field() -> String {
    "message".into()
}
fn default_page_size() -> usize {
    1_000
}
fn default_keep_alive() -> Duration {
    Duration::from_secs(60)
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_retries() -> u32 {
    3
}

impl ElasticsearchParams {
    /// Parameters for `url` and `index` with the defaults.
    pub fn new(url: impl Into<String>, index: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            index: index.into(),
            auth: None,
            flavor: Flavor::default(),
            timestamp_field: default_timestamp_field(),
            message_field: default_message_field(),
            label_fields: Vec::new(),
            query: None,
            page_size: default_page_size(),
            keep_alive: default_keep_alive(),
            tiebreaker: None,
            timeout: default_timeout(),
            retries: default_retries(),
        }
    }

    /// Checks the parameters and reads the secrets.
    pub fn validate(&self) -> Result<ValidElasticsearchParams> {
        let base = check_base_url(SYSTEM, "url", &self.url)?;
        let bad = |key: &str, reason: String| IntegrationError::Config {
            system: SYSTEM,
            key: key.into(),
            reason,
        };
        if self.index.is_empty()
            || self
                .index
                .chars()
                .any(|c| matches!(c, '/' | '\\' | '?' | '#' | '"' | '<' | '>' | '|' | ' '))
        {
            return Err(bad(
                "index",
                format!("{:?} is not an index name or pattern", self.index),
            ));
        }
        for (key, field) in [
            ("timestamp_field", &self.timestamp_field),
            ("message_field", &self.message_field),
        ] {
            if field.is_empty() {
                return Err(bad(key, "must not be empty".into()));
            }
        }
        if self.label_fields.iter().any(String::is_empty) {
            return Err(bad("label_fields", "a field name is empty".into()));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(bad(
                "page_size",
                format!("must be 1 to {MAX_PAGE_SIZE}, got {}", self.page_size),
            ));
        }
        if self.keep_alive.0 < 1_000 {
            return Err(bad("keep_alive", "must be at least 1s".into()));
        }
        let tiebreaker = match &self.tiebreaker {
            Some(t) if t.is_empty() => return Err(bad("tiebreaker", "must not be empty".into())),
            Some(t) => t.clone(),
            None => match self.flavor {
                Flavor::Elasticsearch => "_shard_doc".into(),
                Flavor::Opensearch => "_id".into(),
            },
        };
        if matches!(&self.query, Some(LogQuery::Text(t)) if t.trim().is_empty()) {
            return Err(bad("query", "must not be empty".into()));
        }
        let auth = match &self.auth {
            None => None,
            Some(ElasticsearchAuth::Basic { username, password }) => Some(AuthParams::Basic {
                username: username.clone(),
                password: password.clone(),
            }),
            Some(ElasticsearchAuth::ApiKey(key)) => {
                let key = key.resolve(SYSTEM, "auth.api_key")?;
                Some(AuthParams::ApiKey {
                    header: "Authorization".into(),
                    key: SecretRef::Value(Secret::new(format!("ApiKey {}", key.expose()))),
                })
            }
        };
        Ok(ValidElasticsearchParams {
            base: base.as_str().trim_end_matches('/').to_string(),
            http: HttpParams {
                timeout: self.timeout,
                retries: self.retries,
                auth,
                ..HttpParams::default()
            },
            index: self.index.clone(),
            flavor: self.flavor,
            timestamp_field: self.timestamp_field.clone(),
            message_field: self.message_field.clone(),
            label_fields: self.label_fields.clone(),
            query: self.query.as_ref().map(LogQuery::to_dsl),
            page_size: self.page_size,
            keep_alive: format_keep_alive(self.keep_alive),
            tiebreaker,
        })
    }
}

/// A keep-alive as Elasticsearch writes durations: `1m`, `90s`, `1500ms`.
fn format_keep_alive(d: Duration) -> String {
    let ms = d.0;
    if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1_000 == 0 {
        format!("{}s", ms / 1_000)
    } else {
        format!("{ms}ms")
    }
}

/// Checked [`ElasticsearchParams`], secrets read.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidElasticsearchParams {
    base: String,
    http: HttpParams,
    index: String,
    flavor: Flavor,
    timestamp_field: String,
    message_field: String,
    label_fields: Vec<String>,
    query: Option<Value>,
    page_size: usize,
    keep_alive: String,
    tiebreaker: String,
}

impl ValidElasticsearchParams {
    /// The same, with other HTTP settings (backoff, rate limit...); auth is kept.
    pub fn with_http(mut self, http: HttpParams) -> Self {
        let auth = self.http.auth.take();
        self.http = HttpParams { auth, ..http };
        self
    }
}

/// Where the next read starts (see the module docs); persisted as its JSON text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watermark {
    /// Timestamp of the last record read, ms.
    pub t: TimestampMs,
    /// The documents read at that timestamp, by index: `_id`s.
    pub seen: BTreeMap<String, BTreeSet<String>>,
}

impl Watermark {
    /// Reads a persisted watermark.
    pub fn parse(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| IntegrationError::Config {
            system: SYSTEM,
            key: "watermark".into(),
            reason: format!("not a watermark of this source: {e}"),
        })
    }

    /// The text to persist.
    pub fn to_text(&self) -> String {
        // A map of strings to sets of strings always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A client reading logs from Elasticsearch or OpenSearch.
#[derive(Debug, Clone)]
pub struct ElasticsearchClient {
    p: ValidElasticsearchParams,
    http: HttpClient,
}

fn payload(message: String) -> IntegrationError {
    IntegrationError::payload(SYSTEM, message)
}

/// A non-2xx answer: the server's `{"error": {"type", "reason"}}` as
/// [`IntegrationError::Remote`], anything else as [`IntegrationError::Status`].
fn check(resp: Response) -> Result<Value> {
    if resp.is_success() {
        return serde_json::from_slice(&resp.body).map_err(|e| payload(format!("answer: {e}")));
    }
    let v: Option<Value> = serde_json::from_slice(&resp.body).ok();
    match v.as_ref().map(|v| &v["error"]) {
        Some(Value::Object(e)) => Err(IntegrationError::Remote {
            system: SYSTEM,
            status: resp.status,
            error_type: e
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("error")
                .to_string(),
            message: e
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        }),
        Some(Value::String(s)) => Err(IntegrationError::Remote {
            system: SYSTEM,
            status: resp.status,
            error_type: "error".into(),
            message: s.clone(),
        }),
        _ => Err(resp.status_error(SYSTEM)),
    }
}

/// The value at `path` in `source`: the key itself when present (`"service.name"` written
/// flat), else the dotted path through objects.
fn field<'a>(source: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(v) = source.get(path) {
        return Some(v);
    }
    let mut cur = source;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    Some(cur)
}

/// A field's value as text: a string as it is, `null` as nothing, anything else as JSON.
fn text_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A sort value read as epoch ms (a number, or a number in a string).
fn sort_ms(v: &Value) -> Option<TimestampMs> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl ElasticsearchClient {
    /// Builds the client.
    pub fn new(params: ValidElasticsearchParams) -> Result<Self> {
        Ok(Self {
            http: HttpClient::new(SYSTEM, &params.http)?,
            p: params,
        })
    }

    /// Checks `params` and builds the client.
    pub fn from_params(params: &ElasticsearchParams) -> Result<Self> {
        Self::new(params.validate()?)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.p.base)
    }

    /// Opens a PIT over the index; returns its id.
    async fn open_pit(&self) -> Result<String> {
        let (path, key) = match self.p.flavor {
            Flavor::Elasticsearch => (format!("/{}/_pit", self.p.index), "id"),
            Flavor::Opensearch => (format!("/{}/_search/point_in_time", self.p.index), "pit_id"),
        };
        // Opening twice only leaves a PIT to expire: retrying is harmless.
        let req = Request::post(self.url(&path), Vec::new(), "application/json")
            .query("keep_alive", self.p.keep_alive.as_str())
            .idempotent(true);
        let v = check(self.http.send(&req).await?)?;
        v[key]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| payload(format!("point in time opened without {key:?}: {v}")))
    }

    /// Closes a PIT.
    async fn close_pit(&self, id: &str) -> Result<()> {
        let req = match self.p.flavor {
            Flavor::Elasticsearch => Request::delete_json(self.url("/_pit"), &json!({"id": id})),
            Flavor::Opensearch => {
                Request::delete_json(self.url("/_search/point_in_time"), &json!({"pit_id": [id]}))
            }
        };
        check(self.http.send(&req).await?).map(|_| ())
    }

    /// The query of a read after `wm`: the configured query, the time range, the documents
    /// already read at the watermark's timestamp left out.
    fn query(&self, wm: Option<&Watermark>) -> Value {
        let ts = &self.p.timestamp_field;
        let mut filter = Vec::new();
        if let Some(q) = &self.p.query {
            filter.push(q.clone());
        }
        let mut must_not = Vec::new();
        match wm {
            Some(w) => {
                filter.push(
                    json!({"range": {(ts.as_str()): {"gte": w.t, "format": "epoch_millis"}}}),
                );
                for (index, ids) in &w.seen {
                    must_not.push(json!({"bool": {"filter": [
                        {"term": {"_index": index}},
                        {"ids": {"values": ids}},
                    ]}}));
                }
            }
            None => filter.push(json!({"exists": {"field": ts}})),
        }
        let mut b = json!({"filter": filter});
        if !must_not.is_empty() {
            b["must_not"] = Value::Array(must_not);
        }
        json!({"bool": b})
    }

    /// At most `limit` records after `watermark`, and the watermark after them.
    pub async fn read_logs(&self, watermark: Option<&str>, limit: usize) -> Result<LogBatch> {
        let wm = watermark.map(Watermark::parse).transpose()?;
        if limit == 0 {
            return Ok(LogBatch {
                records: Vec::new(),
                watermark: watermark.map(str::to_string),
            });
        }
        let pit = self.open_pit().await?;
        let mut pit_id = pit.clone();
        let result = self.read_in(&mut pit_id, wm.as_ref(), limit).await;
        // Closed whatever happened; a PIT that cannot be closed expires after keep_alive.
        if let Err(e) = self.close_pit(&pit_id).await {
            tracing::warn!(system = SYSTEM, error = %e, "closing the point in time");
        }
        let (records, last) = result?;
        let watermark = match last {
            None => watermark.map(str::to_string),
            Some(w) => Some(w.to_text()),
        };
        Ok(LogBatch { records, watermark })
    }

    async fn read_in(
        &self,
        pit_id: &mut String,
        wm: Option<&Watermark>,
        limit: usize,
    ) -> Result<(Vec<LogRecord>, Option<Watermark>)> {
        let query = self.query(wm);
        let ts = &self.p.timestamp_field;
        let sort = json!([
            {(ts.as_str()): {"order": "asc", "numeric_type": "date"}},
            {(self.p.tiebreaker.as_str()): "asc"},
        ]);
        let mut records = Vec::new();
        let mut last: Option<Watermark> = wm.cloned();
        let mut changed = false;
        let mut after: Option<Value> = None;
        while records.len() < limit {
            let size = self.p.page_size.min(limit - records.len());
            let mut body = json!({
                "size": size,
                "pit": {"id": pit_id.as_str(), "keep_alive": self.p.keep_alive},
                "sort": sort,
                "query": query,
                "track_total_hits": false,
            });
            if let Some(a) = &after {
                body["search_after"] = a.clone();
            }
            let req = Request::post_json(self.url("/_search"), &body).idempotent(true);
            let v = check(self.http.send(&req).await?)?;
            if v["timed_out"] == Value::Bool(true) {
                return Err(payload("the search timed out on the server".into()));
            }
            if v["_shards"]["failed"].as_u64().unwrap_or(0) > 0 {
                // Reading on would skip what the failed shards hold.
                return Err(IntegrationError::Remote {
                    system: SYSTEM,
                    status: 200,
                    error_type: "shard_failure".into(),
                    message: v["_shards"]["failures"].to_string(),
                });
            }
            if let Some(id) = v["pit_id"].as_str() {
                *pit_id = id.to_string();
            }
            let hits = v["hits"]["hits"]
                .as_array()
                .ok_or_else(|| payload("search answer without hits.hits".into()))?;
            for h in hits {
                let sort_values = h["sort"]
                    .as_array()
                    .ok_or_else(|| payload(format!("hit without sort values: {h}")))?;
                let t = sort_values
                    .first()
                    .and_then(sort_ms)
                    .ok_or_else(|| payload(format!("hit with a bad timestamp sort value: {h}")))?;
                let (Some(index), Some(id)) = (h["_index"].as_str(), h["_id"].as_str()) else {
                    return Err(payload(format!("hit without _index or _id: {h}")));
                };
                let source = &h["_source"];
                let labels = self
                    .p
                    .label_fields
                    .iter()
                    .filter_map(|f| text_of(field(source, f)).map(|v| (f.clone(), v)))
                    .collect();
                records.push(LogRecord {
                    timestamp: t,
                    message: text_of(field(source, &self.p.message_field)).unwrap_or_default(),
                    labels,
                });
                let w = last.get_or_insert_with(Watermark::default);
                if w.t != t {
                    w.t = t;
                    w.seen.clear();
                }
                changed = true;
                w.seen
                    .entry(index.to_string())
                    .or_default()
                    .insert(id.to_string());
                after = Some(Value::Array(sort_values.clone()));
            }
            if hits.len() < size {
                break;
            }
        }
        Ok((records, if changed { last } else { None }))
    }
}

impl LogSource for ElasticsearchClient {
    fn system(&self) -> &'static str {
        SYSTEM
    }

    fn read<'a>(
        &'a self,
        watermark: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<LogBatch>> {
        Box::pin(self.read_logs(watermark, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_checked_and_the_api_key_is_sent_as_documented() {
        let p: ElasticsearchParams = serde_json::from_str(
            r#"{"url": "http://es:9200", "index": "logs-*", "auth": {"api_key": {"value": "aWQ6a2V5"}},
                "label_fields": ["service.name"], "query": "level:error", "keep_alive": "2m"}"#,
        )
        .unwrap();
        let v = p.validate().unwrap();
        assert_eq!(v.keep_alive, "2m");
        assert_eq!(v.tiebreaker, "_shard_doc");
        assert_eq!(
            v.query,
            Some(json!({"query_string": {"query": "level:error"}}))
        );
        assert!(!format!("{v:?}").contains("aWQ6a2V5"));
        match &v.http.auth {
            Some(AuthParams::ApiKey { header, key }) => {
                assert_eq!(header, "Authorization");
                assert_eq!(key.resolve("t", "k").unwrap().expose(), "ApiKey aWQ6a2V5");
            }
            other => panic!("{other:?}"),
        }
        let mut bad = p.clone();
        bad.index = "a/b".into();
        assert!(bad.validate().is_err());
        let mut bad = p.clone();
        bad.page_size = 0;
        assert!(bad.validate().is_err());
        let os: ElasticsearchParams = serde_json::from_str(
            r#"{"url": "http://os:9200", "index": "l", "flavor": "opensearch",
                "query": {"term": {"level": "error"}}}"#,
        )
        .unwrap();
        assert_eq!(os.validate().unwrap().tiebreaker, "_id");
        assert!(
            serde_json::from_str::<ElasticsearchParams>(
                r#"{"url": "http://os:9200", "index": "l", "flavour": "opensearch"}"#
            )
            .is_err()
        );
        assert_eq!(format_keep_alive(Duration(1_500)), "1500ms");
        assert_eq!(format_keep_alive(Duration(30_000)), "30s");
    }

    #[test]
    fn fields_read_flat_or_dotted() {
        let s = json!({"service.name": "a", "log": {"level": "warn", "n": 3}});
        assert_eq!(text_of(field(&s, "service.name")).as_deref(), Some("a"));
        assert_eq!(text_of(field(&s, "log.level")).as_deref(), Some("warn"));
        assert_eq!(text_of(field(&s, "log.n")).as_deref(), Some("3"));
        assert_eq!(text_of(field(&s, "nope")), None);
        assert!(Watermark::parse("[1, 2]").is_err());
        let w = Watermark {
            t: 5,
            seen: [("i".to_string(), ["a".to_string()].into())].into(),
        };
        assert_eq!(Watermark::parse(&w.to_text()).unwrap(), w);
    }
}
