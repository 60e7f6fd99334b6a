//! Prometheus and VictoriaMetrics as a [`MetricSource`]: the HTTP query API (`/api/v1/query`,
//! `/api/v1/query_range`, `/api/v1/series`, `/api/v1/label/<name>/values`), its JSON read into
//! `aiops-core` types, and its errors read into [`IntegrationError::Remote`].
//!
//! Wire format (Prometheus' "HTTP API" documentation): every answer is
//! `{"status": "success" | "error", "data": ..., "errorType": ..., "error": ...}`; a query's
//! `data` is `{"resultType": "vector" | "matrix" | "scalar" | "string", "result": ...}`, a
//! sample is `[<unix seconds, float>, "<value>"]` with values as strings that may be `NaN`,
//! `+Inf` or `-Inf`. Timestamps are kept to the millisecond.
//!
//! Prometheus refuses a `query_range` of more than 11,000 points per series; a longer range is
//! asked in several requests ([`RangeQuery::split`]) whose results are merged per series, in
//! time order, without duplicates.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use aiops_core::labels::is_valid_label_name;
use aiops_core::time::{Duration, TimestampMs};
use aiops_core::{DedupPolicy, Labels, TimeSeries};
use serde::Deserialize;

use crate::error::{IntegrationError, Result};
use crate::http::{AuthParams, HttpClient, HttpParams, Request, Response, check_base_url};

/// The system name in errors and logs.
pub const SYSTEM: &str = "prometheus";

/// Most points per series Prometheus answers in one `query_range` (its documented limit).
pub const MAX_POINTS_PER_SERIES: usize = 11_000;

/// A boxed future, so that [`MetricSource`] can be used as `dyn MetricSource`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A system that answers PromQL: instant and range queries.
pub trait MetricSource: Send + Sync + std::fmt::Debug {
    /// Evaluates `promql` at `at` (ms; the server's now when `None`).
    fn query<'a>(
        &'a self,
        promql: &'a str,
        at: Option<TimestampMs>,
    ) -> BoxFuture<'a, Result<QueryResult>>;

    /// Evaluates `promql` over `range`: one series per result, in time order.
    fn query_range<'a>(
        &'a self,
        promql: &'a str,
        range: RangeQuery,
    ) -> BoxFuture<'a, Result<Vec<TimeSeries>>>;
}

/// One sample of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels (`__name__` included when the result keeps it).
    pub labels: Labels,
    /// When, ms since the epoch.
    pub timestamp: TimestampMs,
    /// The value (may be NaN or infinite).
    pub value: f64,
}

/// The result of an instant query, by Prometheus' `resultType`.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    /// `vector`: one sample per series.
    Vector(Vec<Sample>),
    /// `matrix` (a range selector such as `up[5m]`): one series per result.
    Matrix(Vec<TimeSeries>),
    /// `scalar`: one number.
    Scalar {
        /// When, ms.
        timestamp: TimestampMs,
        /// The value.
        value: f64,
    },
    /// `string`: one string.
    String {
        /// When, ms.
        timestamp: TimestampMs,
        /// The value.
        value: String,
    },
}

/// A time range and resolution of a range query: `start` to `end` inclusive, every `step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeQuery {
    /// First evaluation time, ms.
    pub start: TimestampMs,
    /// Last evaluation time (inclusive), ms.
    pub end: TimestampMs,
    /// Resolution, ms (at least 1).
    pub step: i64,
}

impl RangeQuery {
    /// A range; `end >= start` and `step > 0`.
    pub fn new(start: TimestampMs, end: TimestampMs, step: i64) -> Result<Self> {
        let bad = |key: &str, reason: String| IntegrationError::Config {
            system: SYSTEM,
            key: key.into(),
            reason,
        };
        if step <= 0 {
            return Err(bad("step", format!("must be positive, got {step} ms")));
        }
        if end < start {
            return Err(bad(
                "end",
                format!("{end} ms is before the start {start} ms"),
            ));
        }
        Ok(Self { start, end, step })
    }

    /// Points per series the range asks for.
    pub fn points(&self) -> u64 {
        ((self.end - self.start) / self.step) as u64 + 1
    }

    /// The range cut into consecutive ranges of at most `max_points` points each, on the same
    /// grid (`start + k * step`), so that no point is asked twice.
    pub fn split(&self, max_points: usize) -> Vec<RangeQuery> {
        let max = max_points.max(1) as i64;
        let mut out = Vec::new();
        let mut start = self.start;
        while start <= self.end {
            let end = start.saturating_add((max - 1) * self.step).min(self.end);
            out.push(RangeQuery {
                start,
                end,
                step: self.step,
            });
            start = end + self.step;
        }
        out
    }
}

/// Parameters of a Prometheus or VictoriaMetrics source, as a configuration writes them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusParams {
    /// Base URL (`http://127.0.0.1:9090`, `http://vm:8428`, or with a path prefix such as
    /// `http://vmselect:8481/select/0/prometheus`); the API paths are added to it.
    pub url: String,
    /// Authentication (none by default).
    #[serde(default)]
    pub auth: Option<AuthParams>,
    /// Time allowed for one request (default `30s`).
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Retries of a failed request (default 3; see [`crate::http`]).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Most points per series asked in one `query_range` (default 11,000, Prometheus' limit).
    #[serde(default = "default_max_points")]
    pub max_points: usize,
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_retries() -> u32 {
    3
}
fn default_max_points() -> usize {
    MAX_POINTS_PER_SERIES
}

impl PrometheusParams {
    /// Parameters for `url` with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            auth: None,
            timeout: default_timeout(),
            retries: default_retries(),
            max_points: default_max_points(),
        }
    }

    /// Checks the parameters (the secrets are read by [`PrometheusClient::new`]).
    pub fn validate(&self) -> Result<ValidPrometheusParams> {
        let base = check_base_url(SYSTEM, "url", &self.url)?;
        if self.max_points < 2 {
            return Err(IntegrationError::Config {
                system: SYSTEM,
                key: "max_points".into(),
                reason: format!("must be at least 2, got {}", self.max_points),
            });
        }
        let http = HttpParams {
            timeout: self.timeout,
            retries: self.retries,
            auth: self.auth.clone(),
            ..HttpParams::default()
        };
        Ok(ValidPrometheusParams {
            base: base.as_str().trim_end_matches('/').to_string(),
            http,
            max_points: self.max_points,
        })
    }
}

/// Checked [`PrometheusParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidPrometheusParams {
    base: String,
    http: HttpParams,
    max_points: usize,
}

/// A client of the Prometheus HTTP query API (Prometheus, VictoriaMetrics, Thanos, Mimir...).
#[derive(Debug, Clone)]
pub struct PrometheusClient {
    base: String,
    http: HttpClient,
    max_points: usize,
}

impl PrometheusClient {
    /// Builds the client; reads the secrets.
    pub fn new(params: ValidPrometheusParams) -> Result<Self> {
        Ok(Self {
            http: HttpClient::new(SYSTEM, &params.http)?,
            base: params.base,
            max_points: params.max_points,
        })
    }

    /// Checks `params` and builds the client.
    pub fn from_params(params: &PrometheusParams) -> Result<Self> {
        Self::new(params.validate()?)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request and returns the `data` of a success answer; an error answer becomes
    /// [`IntegrationError::Remote`], an answer in no Prometheus shape
    /// [`IntegrationError::Status`] or [`IntegrationError::Payload`].
    async fn call(&self, req: Request) -> Result<serde_json::Value> {
        let resp = self.http.send(&req).await?;
        read_envelope(&resp)
    }

    /// An instant query: `promql` at `at` (ms; the server's now when `None`).
    pub async fn instant(&self, promql: &str, at: Option<TimestampMs>) -> Result<QueryResult> {
        let mut form = vec![("query", promql.to_string())];
        if let Some(t) = at {
            form.push(("time", format_seconds(t)));
        }
        let data = self
            .call(post_form(self.url("/api/v1/query"), &form))
            .await?;
        parse_query_data(data)
    }

    /// A range query, split into requests of at most `max_points` points per series and
    /// merged per series (time order, first answer wins on a timestamp asked twice).
    pub async fn range(&self, promql: &str, range: RangeQuery) -> Result<Vec<TimeSeries>> {
        let mut merged: Vec<(Labels, Vec<TimestampMs>, Vec<f64>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for part in range.split(self.max_points) {
            let form = [
                ("query", promql.to_string()),
                ("start", format_seconds(part.start)),
                ("end", format_seconds(part.end)),
                ("step", format_seconds(part.step)),
            ];
            let data = self
                .call(post_form(self.url("/api/v1/query_range"), &form))
                .await?;
            let series = match parse_query_data(data)? {
                QueryResult::Matrix(m) => m,
                other => {
                    return Err(payload(format!(
                        "query_range answered a {} instead of a matrix",
                        result_type(&other)
                    )));
                }
            };
            for s in series {
                let (labels, ts, vs) = s.into_parts();
                let key = labels.to_string();
                let i = *index.entry(key).or_insert_with(|| {
                    merged.push((labels, Vec::new(), Vec::new()));
                    merged.len() - 1
                });
                merged[i].1.extend(ts);
                merged[i].2.extend(vs);
            }
        }
        merged
            .into_iter()
            .map(|(labels, ts, vs)| {
                TimeSeries::from_unsorted(labels, ts, vs, DedupPolicy::First).map_err(Into::into)
            })
            .collect()
    }

    /// The series that match any of `matchers` (`up`, `{job="api"}`) in `[start, end]` (ms;
    /// the server's default range when `None`).
    pub async fn series(
        &self,
        matchers: &[&str],
        start: Option<TimestampMs>,
        end: Option<TimestampMs>,
    ) -> Result<Vec<Labels>> {
        if matchers.is_empty() {
            return Err(IntegrationError::Config {
                system: SYSTEM,
                key: "match[]".into(),
                reason: "give at least one series selector".into(),
            });
        }
        let mut form: Vec<(&str, String)> = matchers
            .iter()
            .map(|m| ("match[]", m.to_string()))
            .collect();
        push_range(&mut form, start, end);
        let data = self
            .call(post_form(self.url("/api/v1/series"), &form))
            .await?;
        let rows: Vec<HashMap<String, String>> =
            serde_json::from_value(data).map_err(|e| payload(format!("series: {e}")))?;
        rows.into_iter()
            .map(|r| Labels::try_from_pairs(r).map_err(Into::into))
            .collect()
    }

    /// The values of label `name` (sorted as the server sorts them), over the series that
    /// match any of `matchers` (all series when empty) in `[start, end]` (ms).
    pub async fn label_values(
        &self,
        name: &str,
        matchers: &[&str],
        start: Option<TimestampMs>,
        end: Option<TimestampMs>,
    ) -> Result<Vec<String>> {
        if !is_valid_label_name(name) {
            return Err(IntegrationError::Config {
                system: SYSTEM,
                key: "label".into(),
                reason: format!("{name:?} is not a label name"),
            });
        }
        let mut req = Request::get(self.url(&format!("/api/v1/label/{name}/values")));
        for m in matchers {
            req = req.query("match[]", *m);
        }
        let mut range = Vec::new();
        push_range(&mut range, start, end);
        for (k, v) in range {
            req = req.query(k, v);
        }
        let data = self.call(req).await?;
        serde_json::from_value(data).map_err(|e| payload(format!("label values: {e}")))
    }
}

impl MetricSource for PrometheusClient {
    fn query<'a>(
        &'a self,
        promql: &'a str,
        at: Option<TimestampMs>,
    ) -> BoxFuture<'a, Result<QueryResult>> {
        Box::pin(self.instant(promql, at))
    }

    fn query_range<'a>(
        &'a self,
        promql: &'a str,
        range: RangeQuery,
    ) -> BoxFuture<'a, Result<Vec<TimeSeries>>> {
        Box::pin(self.range(promql, range))
    }
}

/// A query is a read: sent as a form (a long PromQL fits) and marked idempotent (retried).
fn post_form(url: String, form: &[(&str, String)]) -> Request {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Request::post_form(url, &pairs).idempotent(true)
}

fn push_range(
    form: &mut Vec<(&str, String)>,
    start: Option<TimestampMs>,
    end: Option<TimestampMs>,
) {
    if let Some(t) = start {
        form.push(("start", format_seconds(t)));
    }
    if let Some(t) = end {
        form.push(("end", format_seconds(t)));
    }
}

/// A PromQL selector that matches exactly the series with these labels:
/// `{__name__="cpu",service="api"}` (values escaped as PromQL strings).
pub fn selector(labels: &Labels) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(k);
        s.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s.push('}');
    s
}

/// Reads a query time: RFC 3339 (`2024-03-01T10:00:00Z`), unix seconds (`1709287200`),
/// `now`, or `now` minus or plus a duration (`now-1h`, `now-30m`); `now` is given in ms.
pub fn parse_time(text: &str, now: TimestampMs) -> Result<TimestampMs> {
    let t = text.trim();
    let bad = |reason: String| IntegrationError::Config {
        system: SYSTEM,
        key: "time".into(),
        reason: format!("{text:?}: {reason}"),
    };
    if let Some(rest) = t.strip_prefix("now") {
        let rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(now);
        }
        let (sign, d) = match rest.split_at(1) {
            ("-", d) => (-1, d),
            ("+", d) => (1, d),
            _ => return Err(bad("write now, now-1h or now+30m".into())),
        };
        let d: Duration = d.trim().parse().map_err(|e| bad(format!("{e}")))?;
        return Ok(now + sign * d.0);
    }
    aiops_core::time::parse_timestamp(t)
        .map(|(ms, _)| ms)
        .map_err(|_| bad("not RFC 3339, unix seconds, now or now-<duration>".into()))
}

/// Milliseconds as the API's unix seconds (`1700000000.5`).
fn format_seconds(ms: i64) -> String {
    if ms < 0 {
        return format!("-{}", format_seconds(ms.saturating_neg()));
    }
    let (s, frac) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    if frac == 0 {
        s.to_string()
    } else {
        format!("{s}.{frac:03}")
    }
}

fn payload(message: String) -> IntegrationError {
    IntegrationError::payload(SYSTEM, message)
}

fn result_type(r: &QueryResult) -> &'static str {
    match r {
        QueryResult::Vector(_) => "vector",
        QueryResult::Matrix(_) => "matrix",
        QueryResult::Scalar { .. } => "scalar",
        QueryResult::String { .. } => "string",
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// The `data` of a success answer, or the error the answer carries.
pub fn read_envelope(resp: &Response) -> Result<serde_json::Value> {
    let env: Envelope = match serde_json::from_slice(&resp.body) {
        Ok(e) => e,
        Err(_) if !resp.is_success() => return Err(resp.status_error(SYSTEM)),
        Err(e) => {
            return Err(payload(format!(
                "{}: not a Prometheus answer: {e}",
                resp.url()
            )));
        }
    };
    match env.status.as_str() {
        "success" if resp.is_success() => env
            .data
            .ok_or_else(|| payload("a success answer without `data`".into())),
        "error" | "success" => Err(IntegrationError::Remote {
            system: SYSTEM,
            status: resp.status,
            error_type: env.error_type.unwrap_or_else(|| "unknown".into()),
            message: env
                .error
                .unwrap_or_else(|| format!("HTTP {} without a message", resp.status)),
        }),
        other => Err(payload(format!("unknown status {other:?}"))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryData {
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct RawVectorSample {
    metric: HashMap<String, String>,
    value: (f64, String),
}

#[derive(Deserialize)]
struct RawMatrixSeries {
    metric: HashMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
    #[serde(default)]
    histograms: Option<serde_json::Value>,
}

/// Reads a query's `data` (`{"resultType": ..., "result": ...}`).
pub fn parse_query_data(data: serde_json::Value) -> Result<QueryResult> {
    let d: QueryData =
        serde_json::from_value(data).map_err(|e| payload(format!("query data: {e}")))?;
    let bad = |e: serde_json::Error| payload(format!("{} result: {e}", d.result_type));
    Ok(match d.result_type.as_str() {
        "vector" => {
            let raw: Vec<RawVectorSample> = serde_json::from_value(d.result).map_err(bad)?;
            QueryResult::Vector(
                raw.into_iter()
                    .map(|s| {
                        let labels = Labels::try_from_pairs(s.metric)?;
                        Ok(Sample {
                            timestamp: seconds_to_ms(s.value.0)?,
                            value: parse_value(&s.value.1)?,
                            labels,
                        })
                    })
                    .collect::<Result<_>>()?,
            )
        }
        "matrix" => {
            let raw: Vec<RawMatrixSeries> = serde_json::from_value(d.result).map_err(bad)?;
            QueryResult::Matrix(
                raw.into_iter()
                    .map(|s| {
                        let labels = Labels::try_from_pairs(s.metric)?;
                        if s.values.is_empty() && s.histograms.is_some() {
                            return Err(payload(format!(
                                "series {labels}: native histograms are not supported"
                            )));
                        }
                        let mut ts = Vec::with_capacity(s.values.len());
                        let mut vs = Vec::with_capacity(s.values.len());
                        for (t, v) in &s.values {
                            ts.push(seconds_to_ms(*t)?);
                            vs.push(parse_value(v)?);
                        }
                        TimeSeries::from_unsorted(labels, ts, vs, DedupPolicy::First)
                            .map_err(Into::into)
                    })
                    .collect::<Result<_>>()?,
            )
        }
        "scalar" => {
            let (t, v): (f64, String) = serde_json::from_value(d.result).map_err(bad)?;
            QueryResult::Scalar {
                timestamp: seconds_to_ms(t)?,
                value: parse_value(&v)?,
            }
        }
        "string" => {
            let (t, v): (f64, String) = serde_json::from_value(d.result).map_err(bad)?;
            QueryResult::String {
                timestamp: seconds_to_ms(t)?,
                value: v,
            }
        }
        other => return Err(payload(format!("unknown resultType {other:?}"))),
    })
}

/// A sample value: a decimal, `NaN`, `+Inf`, `-Inf` (Prometheus' spellings).
fn parse_value(v: &str) -> Result<f64> {
    match v {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => v
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| payload(format!("value {v:?} is not a number"))),
    }
}

fn seconds_to_ms(t: f64) -> Result<TimestampMs> {
    if !t.is_finite() || t.abs() > 9.0e12 {
        return Err(payload(format!("timestamp {t} is not a time")));
    }
    Ok((t * 1000.0).round() as TimestampMs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> Response {
        Response {
            status,
            body: body.as_bytes().to_vec(),
            attempts: 1,
            url: "http://x/api/v1/query".into(),
        }
    }

    #[test]
    fn a_range_is_split_on_its_grid_under_the_point_limit() {
        let r = RangeQuery::new(0, 25_000, 1_000).unwrap();
        assert_eq!(r.points(), 26);
        let parts = r.split(10);
        assert_eq!(
            parts.iter().map(|p| (p.start, p.end)).collect::<Vec<_>>(),
            [(0, 9_000), (10_000, 19_000), (20_000, 25_000)]
        );
        assert_eq!(parts.iter().map(|p| p.points()).sum::<u64>(), 26);
        assert_eq!(RangeQuery::new(5, 5, 1).unwrap().split(11_000).len(), 1);
        // The grid is the start's, even when the end is not on it.
        let parts = RangeQuery::new(0, 1_500, 1_000).unwrap().split(1);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].start, 1_000);
        assert!(RangeQuery::new(10, 5, 1).is_err());
        assert!(RangeQuery::new(0, 5, 0).is_err());
    }

    #[test]
    fn every_result_type_is_read_with_special_values() {
        let v = serde_json::json!({"resultType": "vector", "result": [
            {"metric": {"__name__": "up", "job": "api"}, "value": [1700000000.123, "1"]},
            {"metric": {"job": "db"}, "value": [1700000000.123, "NaN"]}]});
        let QueryResult::Vector(s) = parse_query_data(v).unwrap() else {
            panic!()
        };
        assert_eq!(s[0].timestamp, 1_700_000_000_123);
        assert_eq!(s[0].labels.get("__name__"), Some("up"));
        assert!(s[1].value.is_nan());
        let m = serde_json::json!({"resultType": "matrix", "result": [
            {"metric": {"x": "1"}, "values": [[1, "+Inf"], [2, "-Inf"], [3, "2.5"]]}]});
        let QueryResult::Matrix(m) = parse_query_data(m).unwrap() else {
            panic!()
        };
        assert_eq!(m[0].timestamps(), [1000, 2000, 3000]);
        assert_eq!(m[0].values()[2], 2.5);
        assert!(m[0].values()[0].is_infinite() && m[0].values()[1] < 0.0);
        let sc = serde_json::json!({"resultType": "scalar", "result": [10, "2"]});
        assert_eq!(
            parse_query_data(sc).unwrap(),
            QueryResult::Scalar {
                timestamp: 10_000,
                value: 2.0
            }
        );
        let st = serde_json::json!({"resultType": "string", "result": [10, "hi"]});
        assert!(
            matches!(parse_query_data(st).unwrap(), QueryResult::String { value, .. } if value == "hi")
        );
        let bad = serde_json::json!({"resultType": "vector", "result": [
            {"metric": {}, "value": [1, "one"]}]});
        assert!(
            parse_query_data(bad)
                .unwrap_err()
                .to_string()
                .contains("one")
        );
        let bad = serde_json::json!({"resultType": "tensor", "result": []});
        assert!(parse_query_data(bad).is_err());
    }

    #[test]
    fn error_answers_become_typed_errors_with_the_message() {
        let e = read_envelope(&resp(
            400,
            r#"{"status": "error", "errorType": "bad_data", "error": "parse error at char 5"}"#,
        ))
        .unwrap_err();
        match &e {
            IntegrationError::Remote {
                status,
                error_type,
                message,
                ..
            } => {
                assert_eq!((*status, error_type.as_str()), (400, "bad_data"));
                assert_eq!(message, "parse error at char 5");
            }
            other => panic!("{other:?}"),
        }
        let e = read_envelope(&resp(502, "<html>bad gateway</html>")).unwrap_err();
        assert!(
            matches!(e, IntegrationError::Status { status: 502, .. }),
            "{e}"
        );
        let e = read_envelope(&resp(200, "hello")).unwrap_err();
        assert!(matches!(e, IntegrationError::Payload { .. }), "{e}");
        let ok = read_envelope(&resp(200, r#"{"status": "success", "data": [1]}"#)).unwrap();
        assert_eq!(ok, serde_json::json!([1]));
    }

    #[test]
    fn selectors_and_times_are_written_as_promql_reads_them() {
        let l = Labels::try_from_pairs([("__name__", "cpu"), ("path", "a\"b\\c")]).unwrap();
        assert_eq!(selector(&l), r#"{__name__="cpu",path="a\"b\\c"}"#);
        assert_eq!(format_seconds(1_700_000_000_500), "1700000000.500");
        assert_eq!(format_seconds(15_000), "15");
        assert_eq!(format_seconds(-500), "-0.500");
    }

    #[test]
    fn times_are_rfc3339_unix_seconds_or_relative_to_now() {
        let now = 1_700_000_000_000;
        assert_eq!(parse_time("now", now).unwrap(), now);
        assert_eq!(parse_time("now-1h", now).unwrap(), now - 3_600_000);
        assert_eq!(parse_time("now + 30s", now).unwrap(), now + 30_000);
        assert_eq!(parse_time("1700000000", now).unwrap(), now);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", now).unwrap(),
            1_700_000_000_000
        );
        assert!(parse_time("now*2", now).is_err());
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("now-soon", now).is_err());
    }

    #[test]
    fn params_are_checked_and_unknown_keys_refused() {
        let p: PrometheusParams =
            serde_json::from_str(r#"{"url": "http://127.0.0.1:9090/", "retries": 1}"#).unwrap();
        let v = p.validate().unwrap();
        assert_eq!(v.base, "http://127.0.0.1:9090");
        assert!(serde_json::from_str::<PrometheusParams>(r#"{"url": "x", "bogus": 1}"#).is_err());
        assert!(PrometheusParams::new("localhost:9090").validate().is_err());
        let mut p = PrometheusParams::new("http://a");
        p.max_points = 1;
        assert!(p.validate().is_err());
    }
}
