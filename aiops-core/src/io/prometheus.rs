//! Prometheus HTTP API responses: the matrix of `/api/v1/query_range`.
//!
//! Shape: `{"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {...},
//! "values": [[<unix seconds>, "<value>"], ...]}]}}`. Values are strings and may be `NaN`,
//! `+Inf` or `-Inf` (kept as is: a Prometheus series may hold them); timestamps are float
//! seconds, kept to the millisecond. An error response becomes [`CoreError::Prometheus`] with
//! Prometheus' `errorType` and `error`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{CoreError, Result};
use crate::labels::Labels;
use crate::series::TimeSeries;
use crate::time::TimestampMs;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct MatrixSeries {
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
    #[serde(default)]
    histograms: Option<serde_json::Value>,
}

/// Parses a `query_range` response into one series per result, in response order.
pub fn read_query_range(text: &str) -> Result<Vec<TimeSeries>> {
    let resp: Response = serde_json::from_str(text).map_err(|e| CoreError::json(&e, None))?;
    if resp.status != "success" {
        return Err(CoreError::Prometheus(format!(
            "status {:?}: {}: {}",
            resp.status,
            resp.error_type.unwrap_or_default(),
            resp.error.unwrap_or_default()
        )));
    }
    let data = resp
        .data
        .ok_or_else(|| CoreError::Prometheus("success response without `data`".into()))?;
    if data.result_type != "matrix" {
        return Err(CoreError::Prometheus(format!(
            "expected resultType \"matrix\" (a query_range response), got {:?}",
            data.result_type
        )));
    }
    let result: Vec<MatrixSeries> =
        serde_json::from_value(data.result).map_err(|e| CoreError::Prometheus(e.to_string()))?;
    result
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let labels = Labels::try_from_pairs(s.metric)?;
            if s.values.is_empty() && s.histograms.is_some() {
                return Err(CoreError::Prometheus(format!(
                    "series {labels}: native histograms are not supported"
                )));
            }
            let mut timestamps: Vec<TimestampMs> = Vec::with_capacity(s.values.len());
            let mut values = Vec::with_capacity(s.values.len());
            for (t, v) in s.values {
                let value: f64 = v.parse().map_err(|_| {
                    CoreError::Prometheus(format!(
                        "result {i} ({labels}): value {v:?} is not a number"
                    ))
                })?;
                if !t.is_finite() {
                    return Err(CoreError::Prometheus(format!(
                        "result {i} ({labels}): timestamp {t} is not finite"
                    )));
                }
                timestamps.push((t * 1000.0).round() as TimestampMs);
                values.push(value);
            }
            TimeSeries::new(labels, timestamps, values)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_matrix() {
        let text = r#"{"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"__name__": "up", "job": "prometheus", "instance": "localhost:9090"},
             "values": [[1435781430.781, "1"], [1435781445.781, "NaN"], [1435781460.781, "+Inf"]]},
            {"metric": {"job": "node"}, "values": [[1435781430, "0.5"]]}]}}"#;
        let s = read_query_range(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].labels().get("__name__"), Some("up"));
        assert_eq!(
            s[0].timestamps(),
            [1_435_781_430_781, 1_435_781_445_781, 1_435_781_460_781]
        );
        assert_eq!(s[0].values()[0], 1.0);
        assert!(s[0].values()[1].is_nan());
        assert_eq!(s[0].values()[2], f64::INFINITY);
        assert_eq!(s[1].values(), [0.5]);
    }

    #[test]
    fn errors_are_clear() {
        let e = read_query_range(
            r#"{"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("bad_data") && e.to_string().contains("parse error"));
        let e = read_query_range(
            r#"{"status": "success", "data": {"resultType": "vector", "result": []}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("matrix"));
        assert!(matches!(read_query_range("{"), Err(CoreError::Json { .. })));
        assert!(
            read_query_range(
                r#"{"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "x"]]}]}}"#
            )
            .is_err()
        );
        assert!(
            read_query_range(
                r#"{"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[2, "1"], [1, "1"]]}]}}"#
            )
            .is_err()
        );
    }
}
