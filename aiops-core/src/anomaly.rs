//! Anomalies found by detectors.

use serde::{Deserialize, Serialize};

use crate::labels::Labels;
use crate::severity::Severity;
use crate::time::{TimestampMs, serde_rfc3339};

/// An anomalous stretch of one metric: where, when, how unusual, and what was expected.
///
/// JSON: `{"id": ..., "resource": ..., "metric": ..., "labels": {...}, "start": "<RFC 3339>",
/// "end": "<RFC 3339>", "score": x, "severity": "high", "detector": "zscore", "value": x,
/// "expected": x|null, "lower": x|null, "upper": x|null}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anomaly {
    /// Stable id: the series fingerprint, the detector and the start time.
    pub id: String,
    /// The resource the metric belongs to (service, pod, host...); empty when unknown.
    pub resource: String,
    /// The metric's name; empty when unknown.
    pub metric: String,
    /// The series' labels.
    pub labels: Labels,
    /// First anomalous point, ms since the epoch (RFC 3339 in JSON).
    #[serde(with = "serde_rfc3339")]
    pub start: TimestampMs,
    /// Last anomalous point (inclusive), ms since the epoch (RFC 3339 in JSON).
    #[serde(with = "serde_rfc3339")]
    pub end: TimestampMs,
    /// The highest detector score in the stretch (detector-specific scale).
    pub score: f64,
    /// How bad it is.
    pub severity: Severity,
    /// The detector that found it.
    pub detector: String,
    /// The observed value at the highest-scoring point.
    pub value: f64,
    /// What the detector expected there, when it has an expectation.
    pub expected: Option<f64>,
    /// Lower bound of the normal range there, when the detector has one.
    pub lower: Option<f64>,
    /// Upper bound of the normal range there, when the detector has one.
    pub upper: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_shape() {
        let a = Anomaly {
            id: "0123456789abcdef-zscore-1000".into(),
            resource: "api".into(),
            metric: "cpu".into(),
            labels: Labels::try_from_pairs([("job", "api")]).unwrap(),
            start: 1000,
            end: 3000,
            score: 4.5,
            severity: Severity::High,
            detector: "zscore".into(),
            value: 97.0,
            expected: Some(40.0),
            lower: Some(10.0),
            upper: None,
        };
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(
            v,
            json!({"id": "0123456789abcdef-zscore-1000", "resource": "api", "metric": "cpu",
                   "labels": {"job": "api"}, "start": "1970-01-01T00:00:01.000Z",
                   "end": "1970-01-01T00:00:03.000Z", "score": 4.5, "severity": "high",
                   "detector": "zscore", "value": 97.0, "expected": 40.0, "lower": 10.0,
                   "upper": null})
        );
        assert_eq!(serde_json::from_value::<Anomaly>(v).unwrap(), a);
    }
}
