//! The telemetry envelope and the records it carries: log lines, spans, events.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::severity::Severity;
use crate::time::{TimestampMs, serde_rfc3339};

/// The kind of telemetry a [`DataPoint`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    /// A metric sample.
    Metric,
    /// A log record.
    Log,
    /// A trace span.
    Trace,
    /// A discrete event (deploy, config change, restart...).
    Event,
}

/// The envelope every source's telemetry travels in before it is typed.
///
/// JSON: `{"source": "prometheus", "kind": "metric", "timestamp": "2024-01-02T03:04:05.000Z",
/// "resource": "api", "data": {...}, "tags": {"env": "prod"}}`. `data` holds the payload as
/// the source sent it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataPoint {
    /// Where it came from (`prometheus`, `fluentbit`, `otlp`...).
    pub source: String,
    /// What it is.
    pub kind: DataKind,
    /// When it happened, ms since the epoch (RFC 3339 in JSON).
    #[serde(with = "serde_rfc3339")]
    pub timestamp: TimestampMs,
    /// The resource it describes (service, pod, host...).
    pub resource: String,
    /// The payload.
    #[serde(default)]
    pub data: serde_json::Value,
    /// Free-form tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// One log line, parsed into its parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogRecord {
    /// When it was written, ms since the epoch (RFC 3339 in JSON).
    #[serde(with = "serde_rfc3339")]
    pub timestamp: TimestampMs,
    /// The resource that wrote it.
    pub resource: String,
    /// Its level, when the line has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Severity>,
    /// The message text.
    pub message: String,
    /// Structured fields (component, thread, trace id...).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// The outcome of a span, as OpenTelemetry names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanStatus {
    /// Not set by the instrumentation.
    #[default]
    Unset,
    /// Completed successfully.
    Ok,
    /// Failed.
    Error,
}

/// One operation of a distributed trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Span {
    /// The trace it belongs to (hex).
    pub trace_id: String,
    /// Its own id (hex).
    pub span_id: String,
    /// The calling span, absent for a root span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    /// Operation name.
    pub name: String,
    /// The service that ran it.
    pub service: String,
    /// Start, ms since the epoch (RFC 3339 in JSON).
    #[serde(with = "serde_rfc3339")]
    pub start: TimestampMs,
    /// Duration in microseconds.
    pub duration_us: u64,
    /// Outcome.
    #[serde(default)]
    pub status: SpanStatus,
    /// Attributes (`http.status_code`, `peer.service`...).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// A discrete change or occurrence: a deploy, a config change, a restart, a scaling action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// When it happened, ms since the epoch (RFC 3339 in JSON).
    #[serde(with = "serde_rfc3339")]
    pub timestamp: TimestampMs,
    /// The resource it concerns.
    pub resource: String,
    /// What kind of event (`deploy`, `config_change`, `restart`, `scale`...).
    pub kind: String,
    /// Human-readable description.
    #[serde(default)]
    pub message: String,
    /// Extra fields (version, actor...).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn datapoint_json_shape() {
        let dp = DataPoint {
            source: "prometheus".into(),
            kind: DataKind::Metric,
            timestamp: 1_700_000_000_000,
            resource: "api".into(),
            data: json!({"value": 0.5}),
            tags: BTreeMap::from([("env".into(), "prod".into())]),
        };
        let v = serde_json::to_value(&dp).unwrap();
        assert_eq!(
            v,
            json!({"source": "prometheus", "kind": "metric", "timestamp": "2023-11-14T22:13:20.000Z",
                   "resource": "api", "data": {"value": 0.5}, "tags": {"env": "prod"}})
        );
        assert_eq!(serde_json::from_value::<DataPoint>(v).unwrap(), dp);
        // Numeric timestamps are accepted too.
        let dp2: DataPoint = serde_json::from_value(json!({"source": "s", "kind": "log",
            "timestamp": 1_700_000_000, "resource": "r"}))
        .unwrap();
        assert_eq!(dp2.timestamp, 1_700_000_000_000);
        assert!(
            serde_json::from_value::<DataPoint>(json!({"source": "s", "kind": "metrics",
            "timestamp": 1, "resource": "r"}))
            .is_err()
        );
    }

    #[test]
    fn log_span_event_json_shape() {
        let log = LogRecord {
            timestamp: 0,
            resource: "db".into(),
            level: Some(Severity::High),
            message: "connection refused".into(),
            attributes: BTreeMap::new(),
        };
        assert_eq!(
            serde_json::to_value(&log).unwrap(),
            json!({"timestamp": "1970-01-01T00:00:00.000Z", "resource": "db", "level": "high",
                   "message": "connection refused", "attributes": {}})
        );
        let span = Span {
            trace_id: "ab".into(),
            span_id: "cd".into(),
            parent_span_id: None,
            name: "GET /cart".into(),
            service: "cart".into(),
            start: 1000,
            duration_us: 1500,
            status: SpanStatus::Error,
            attributes: BTreeMap::new(),
        };
        let v = serde_json::to_value(&span).unwrap();
        assert_eq!(
            v,
            json!({"trace_id": "ab", "span_id": "cd", "name": "GET /cart", "service": "cart",
                   "start": "1970-01-01T00:00:01.000Z", "duration_us": 1500, "status": "error",
                   "attributes": {}})
        );
        assert_eq!(serde_json::from_value::<Span>(v).unwrap(), span);
        let ev = Event {
            timestamp: 0,
            resource: "cart".into(),
            kind: "deploy".into(),
            message: "v2".into(),
            attributes: BTreeMap::new(),
        };
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(
            v,
            json!({"timestamp": "1970-01-01T00:00:00.000Z", "resource": "cart", "kind": "deploy",
                   "message": "v2", "attributes": {}})
        );
        assert_eq!(serde_json::from_value::<Event>(v).unwrap(), ev);
    }
}
