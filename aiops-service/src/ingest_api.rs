//! The ingest endpoints' decoding: Prometheus remote_write bodies and JSON point batches into
//! the metric pipeline's [`SeriesSamples`].

use std::collections::BTreeMap;

use aiops_core::{Labels, TimestampMs};
use aiops_integrations::remote_write::{self, Limits, SeriesOptions, Summary, WriteRequestView};
use serde::Deserialize;

use crate::error::{Result, ServiceError};
use crate::ha::Admission;
use crate::metrics::{MetricPipeline, SeriesSamples};

/// Decodes a remote_write body (snappy block + protobuf `WriteRequest`) into series.
/// Staleness markers and non-finite values are not samples; the summary counts them.
pub fn remote_write_series(
    body: &[u8],
    max_decoded_bytes: usize,
    resource_labels: &[String],
) -> Result<(Vec<SeriesSamples>, Summary)> {
    let batches = remote_write::decode_batches(
        body,
        &Limits { max_decoded_bytes },
        &SeriesOptions {
            resource_labels: resource_labels.to_vec(),
        },
    )?;
    let series = batches
        .series
        .into_iter()
        .filter(|s| !s.samples.is_empty())
        .map(|s| SeriesSamples {
            labels: s.labels,
            metric: s.metric,
            resource: s.resource,
            samples: s.samples,
        })
        .collect();
    Ok((series, batches.summary))
}

/// Stores a remote_write body (snappy block + protobuf `WriteRequest`) through the pipeline:
/// [`MetricPipeline::ingest_remote_write`] on the request read in place. Returns what it held
/// once the samples are committed.
pub async fn ingest_remote_write(
    pipeline: &MetricPipeline,
    body: &[u8],
    max_decoded_bytes: usize,
    now: TimestampMs,
) -> Result<Summary> {
    let raw = remote_write::decompress(body, &Limits { max_decoded_bytes })?;
    let mut view = WriteRequestView::parse(&raw)?;
    if let Some(ha) = pipeline.ha() {
        // Prometheus' external labels are on every entry of a request: the first entry with
        // the replica label names the replica and its cluster.
        let (cluster, replica) = (
            ha.config().cluster_label.as_bytes(),
            ha.config().replica_label.as_bytes(),
        );
        let named = (0..view.len()).find_map(|i| {
            let replica = view.label_value(i, replica)?;
            Some((view.label_value(i, cluster).unwrap_or_default(), replica))
        });
        if let Some((c, r)) = named {
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            let (c, r) = (text(c), text(r));
            if let Admission::Standby { .. } = ha.admit(&c, &r, view.samples_len(), now) {
                return Ok(Summary {
                    entries: view.len(),
                    metadata: view.metadata(),
                    standby_samples: view.samples_len(),
                    ..Summary::default()
                });
            }
            view.drop_label(replica);
        }
    }
    pipeline.ingest_remote_write(&view, now).await
}

/// One point of `POST /api/v1/ingest/points`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataPoint {
    /// Metric name.
    pub metric: String,
    /// Resource (default: from the configured resource labels, else `unknown`).
    #[serde(default)]
    pub resource: Option<String>,
    /// Labels (besides the metric name).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// RFC 3339 text, or seconds / ms since the epoch.
    pub timestamp: serde_json::Value,
    /// Value.
    pub value: f64,
}

/// `POST /api/v1/ingest/points`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointsRequest {
    /// The points, in any order.
    pub points: Vec<DataPoint>,
}

fn time(i: usize, v: &serde_json::Value) -> Result<TimestampMs> {
    time_value(format!("points[{i}].timestamp"), v)
}

/// A JSON timestamp: RFC 3339 text, or seconds / ms since the epoch; the error names `name`.
pub fn time_value(name: String, v: &serde_json::Value) -> Result<TimestampMs> {
    match v {
        serde_json::Value::String(s) => aiops_core::time::parse_timestamp(s)
            .map(|(t, _)| t)
            .map_err(|e| ServiceError::invalid_parameter(name, e.to_string())),
        serde_json::Value::Number(n) => n
            .as_f64()
            .and_then(aiops_core::time::number_to_ms)
            .map(|(t, _)| t)
            .ok_or_else(|| ServiceError::invalid_parameter(name, "not a time")),
        _ => Err(ServiceError::invalid_parameter(
            name,
            "expected RFC 3339 text or a number",
        )),
    }
}

/// Groups points by series (metric + labels), each sorted by time; a point is refused with
/// its index when its metric, labels, time or value is invalid.
pub fn group_points(request: PointsRequest) -> Result<Vec<SeriesSamples>> {
    let mut series: BTreeMap<Labels, SeriesSamples> = BTreeMap::new();
    for (i, p) in request.points.into_iter().enumerate() {
        let t = time(i, &p.timestamp)?;
        if !aiops_core::labels::is_valid_metric_name(&p.metric) {
            return Err(ServiceError::invalid_parameter(
                format!("points[{i}].metric"),
                format!("{:?} is not a metric name", p.metric),
            ));
        }
        let mut labels =
            Labels::try_from_pairs(p.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(|e| {
                    ServiceError::invalid_parameter(format!("points[{i}].labels"), e.to_string())
                })?;
        labels = labels.with("__name__", p.metric.as_str()).map_err(|e| {
            ServiceError::invalid_parameter(format!("points[{i}].labels"), e.to_string())
        })?;
        if p.resource.as_deref() == Some("") {
            return Err(ServiceError::invalid_parameter(
                format!("points[{i}].resource"),
                "must not be empty",
            ));
        }
        let entry = series
            .entry(labels.clone())
            .or_insert_with(|| SeriesSamples {
                labels,
                metric: p.metric.clone(),
                resource: p.resource.clone(),
                samples: Vec::new(),
            });
        entry.samples.push((t, p.value));
    }
    let mut out: Vec<SeriesSamples> = series.into_values().collect();
    for s in &mut out {
        s.samples.sort_by_key(|&(t, _)| t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiops_integrations::remote_write::{Label, Sample, TimeSeries, WriteRequest, encode};

    #[test]
    fn remote_write_bodies_become_series_with_resources() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![
                    Label {
                        name: "__name__".into(),
                        value: "up".into(),
                    },
                    Label {
                        name: "job".into(),
                        value: "node".into(),
                    },
                ],
                samples: vec![
                    Sample {
                        value: 1.0,
                        timestamp: 2_000,
                    },
                    Sample {
                        value: 0.0,
                        timestamp: 1_000,
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let body = encode(&req).unwrap();
        let (series, summary) =
            remote_write_series(&body, 1 << 20, &["service".into(), "job".into()]).unwrap();
        assert_eq!(summary.samples, 2);
        assert_eq!(series[0].resource.as_deref(), Some("node"));
        assert_eq!(series[0].samples, vec![(1_000, 0.0), (2_000, 1.0)]);
        let e = remote_write_series(b"not snappy", 1 << 20, &[]).unwrap_err();
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn points_group_by_series_and_bad_ones_are_named() {
        let req: PointsRequest = serde_json::from_str(
            r#"{"points": [
                {"metric": "cpu", "labels": {"host": "a"}, "timestamp": "2024-01-01T00:01:00Z", "value": 2},
                {"metric": "cpu", "labels": {"host": "a"}, "timestamp": 1704067200, "value": 1},
                {"metric": "cpu", "labels": {"host": "b"}, "resource": "db", "timestamp": 1704067200000, "value": 5}
            ]}"#,
        )
        .unwrap();
        let s = group_points(req).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0].samples,
            vec![(1_704_067_200_000, 1.0), (1_704_067_260_000, 2.0)]
        );
        assert_eq!(s[1].resource.as_deref(), Some("db"));
        let bad: PointsRequest = serde_json::from_str(
            r#"{"points": [{"metric": "cpu", "timestamp": "soon", "value": 1}]}"#,
        )
        .unwrap();
        assert!(
            group_points(bad)
                .unwrap_err()
                .to_string()
                .contains("points[0].timestamp")
        );
        let bad: PointsRequest =
            serde_json::from_str(r#"{"points": [{"metric": "9cpu", "timestamp": 1, "value": 1}]}"#)
                .unwrap();
        assert!(
            group_points(bad)
                .unwrap_err()
                .to_string()
                .contains("points[0].metric")
        );
    }
}
