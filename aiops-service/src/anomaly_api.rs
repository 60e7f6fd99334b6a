//! The anomaly endpoints' logic: synchronous detection on posted points, listing stored
//! anomalies, and one anomaly with its series around it and what else happened near it.
//! Request and response fields follow the design document's API (`anomaly_id`, `resource`,
//! `metric`, `value`, `threshold`, `severity`, `detected_at`, `timeline`, `related_metrics`,
//! `suggested_causes`).

use std::time::Instant;

use aiops_core::time::{format_rfc3339, parse_timestamp};
use aiops_core::{Severity, TimestampMs, TopologyGraph};
use aiops_detect::registry;
use aiops_store::{AnomalyFilter, AnomalyRow, Store};
use serde::{Deserialize, Serialize};

use crate::error::{Result, ServiceError};
use crate::history::History;

/// Largest page of a list.
pub const MAX_LIMIT: usize = 1_000;
/// Most points `POST /api/v1/anomalies/detect` scores in one request.
pub const MAX_DETECT_POINTS: usize = 1_000_000;

/// A time parameter: RFC 3339 text or a number (seconds or ms, as everywhere in aiops).
pub fn parse_time(name: &str, text: &str) -> Result<TimestampMs> {
    parse_timestamp(text)
        .map(|(t, _)| t)
        .map_err(|e| ServiceError::invalid_parameter(name, e.to_string()))
}

/// A `limit` parameter: 1 to [`MAX_LIMIT`], default 100.
pub fn parse_limit(limit: Option<usize>) -> Result<usize> {
    match limit.unwrap_or(100) {
        0 => Err(ServiceError::invalid_parameter(
            "limit",
            "must be at least 1",
        )),
        n if n > MAX_LIMIT => Err(ServiceError::invalid_parameter(
            "limit",
            format!("at most {MAX_LIMIT}"),
        )),
        n => Ok(n),
    }
}

/// A `severity` parameter: one of info, low, medium, high, critical.
pub fn parse_severity(text: &str) -> Result<Severity> {
    let s: Severity = text.parse().map_err(|e: aiops_core::CoreError| {
        ServiceError::invalid_parameter("severity", e.to_string())
    })?;
    if s.as_str() != text.trim().to_ascii_lowercase() {
        return Err(ServiceError::invalid_parameter(
            "severity",
            "expected info, low, medium, high or critical",
        ));
    }
    Ok(s)
}

/// One point of a detection request.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostedPoint {
    /// RFC 3339 text, or seconds / ms since the epoch.
    pub timestamp: serde_json::Value,
    /// The value.
    pub value: f64,
}

/// `POST /api/v1/anomalies/detect`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectRequest {
    /// The series, oldest first.
    pub points: Vec<PostedPoint>,
    /// Detector name (default `default`; `aiops detectors` lists them).
    #[serde(default)]
    pub detector: Option<String>,
    /// Its parameters.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Echoed labels of the series (resource, metric), not used for scoring.
    #[serde(default)]
    pub resource: Option<String>,
    /// Echoed metric name.
    #[serde(default)]
    pub metric: Option<String>,
}

/// One scored point.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ScoredPoint {
    /// RFC 3339.
    pub timestamp: String,
    /// The value.
    pub value: f64,
    /// The detector's score.
    pub score: f64,
    /// Whether it is anomalous.
    pub is_anomaly: bool,
    /// Expected value, if the detector models one.
    pub expected: Option<f64>,
    /// Lower bound of normal.
    pub lower: Option<f64>,
    /// Upper bound of normal.
    pub upper: Option<f64>,
}

/// The answer of `POST /api/v1/anomalies/detect`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DetectResponse {
    /// The request id.
    pub request_id: String,
    /// Whether the last point is anomalous (the question a caller sending its latest
    /// window asks); `anomalies` counts all of them.
    pub is_anomaly: bool,
    /// The last point's score.
    pub anomaly_score: f64,
    /// Anomalous points in the request.
    pub anomalies: usize,
    /// Time spent detecting (ms).
    pub detection_time_ms: f64,
    /// The detector used.
    pub detector: String,
    /// Every point's score.
    pub points: Vec<ScoredPoint>,
}

/// Scores posted points with a detector, in batch.
pub fn detect(request: &DetectRequest, request_id: &str) -> Result<DetectResponse> {
    if request.points.is_empty() {
        return Err(ServiceError::invalid_parameter(
            "points",
            "must not be empty",
        ));
    }
    if request.points.len() > MAX_DETECT_POINTS {
        return Err(ServiceError::invalid_parameter(
            "points",
            format!("at most {MAX_DETECT_POINTS} points"),
        ));
    }
    let mut ts = Vec::with_capacity(request.points.len());
    let mut vs = Vec::with_capacity(request.points.len());
    for (i, p) in request.points.iter().enumerate() {
        let t = crate::ingest_api::time_value(format!("points[{i}].timestamp"), &p.timestamp)?;
        if let Some(&last) = ts.last()
            && t <= last
        {
            return Err(ServiceError::invalid_parameter(
                format!("points[{i}].timestamp"),
                "timestamps must strictly increase",
            ));
        }
        if !p.value.is_finite() {
            return Err(ServiceError::invalid_parameter(
                format!("points[{i}].value"),
                "must be a finite number",
            ));
        }
        ts.push(t);
        vs.push(p.value);
    }
    let name = request
        .detector
        .as_deref()
        .unwrap_or(registry::DEFAULT_DETECTOR);
    let detector = registry::build(name, &request.params)?;
    let started = Instant::now();
    let d = detector.detect(&ts, &vs)?;
    let took = started.elapsed().as_secs_f64() * 1e3;
    let points: Vec<ScoredPoint> = (0..d.len())
        .map(|i| {
            let p = d.point(i);
            ScoredPoint {
                timestamp: format_rfc3339(ts[i]),
                value: vs[i],
                score: p.score,
                is_anomaly: p.is_anomaly,
                expected: p.expected,
                lower: p.lower,
                upper: p.upper,
            }
        })
        .collect();
    let last = points.last().cloned();
    Ok(DetectResponse {
        request_id: request_id.to_string(),
        is_anomaly: last.as_ref().is_some_and(|p| p.is_anomaly),
        anomaly_score: last.map_or(0.0, |p| p.score),
        anomalies: points.iter().filter(|p| p.is_anomaly).count(),
        detection_time_ms: took,
        detector: detector.name().to_string(),
        points,
    })
}

/// `GET /api/v1/anomalies` parameters (all optional).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AnomalyQuery {
    /// Only this resource.
    pub resource: Option<String>,
    /// Only this metric.
    pub metric: Option<String>,
    /// Only anomalies at or after (RFC 3339 or epoch seconds/ms).
    pub start_time: Option<String>,
    /// Only anomalies before.
    pub end_time: Option<String>,
    /// Only this severity.
    pub severity: Option<String>,
    /// Page size (1 to 1,000; default 100).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// An anomaly as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AnomalyView {
    /// Id.
    pub anomaly_id: String,
    /// Resource.
    pub resource: String,
    /// Metric.
    pub metric: String,
    /// The anomalous value.
    pub value: f64,
    /// The bound of normal it crossed (the upper bound above the expected value, the lower
    /// one below), if the detector gives bounds.
    pub threshold: Option<f64>,
    /// Expected value, if modelled.
    pub expected: Option<f64>,
    /// Score.
    pub score: f64,
    /// Severity.
    pub severity: String,
    /// The sample's time (RFC 3339).
    pub timestamp: String,
    /// When it was detected (RFC 3339).
    pub detected_at: String,
    /// The detector.
    pub detector: String,
}

impl From<&AnomalyRow> for AnomalyView {
    fn from(r: &AnomalyRow) -> Self {
        let a = &r.anomaly;
        let above = a.expected.is_none_or(|e| a.value >= e);
        Self {
            anomaly_id: r.id.to_string(),
            resource: a.resource.clone(),
            metric: a.metric.clone(),
            value: a.value,
            threshold: if above { a.upper } else { a.lower },
            expected: a.expected,
            score: a.score,
            severity: a.severity.clone(),
            timestamp: format_rfc3339(a.t),
            detected_at: format_rfc3339(a.detected_at),
            detector: a.detector.clone(),
        }
    }
}

/// `GET /api/v1/anomalies`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AnomalyList {
    /// How many match (all pages).
    pub total: u64,
    /// This page, newest first.
    pub anomalies: Vec<AnomalyView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Lists stored anomalies.
pub async fn list(store: &Store, q: &AnomalyQuery) -> Result<AnomalyList> {
    let limit = parse_limit(q.limit)?;
    let filter = AnomalyFilter {
        resource: q.resource.clone(),
        metric: q.metric.clone(),
        start: q
            .start_time
            .as_deref()
            .map(|t| parse_time("start_time", t))
            .transpose()?,
        end: q
            .end_time
            .as_deref()
            .map(|t| parse_time("end_time", t))
            .transpose()?,
        severity: q
            .severity
            .as_deref()
            .map(|s| parse_severity(s).map(|s| s.to_string()))
            .transpose()?,
        before_id: q
            .cursor
            .as_deref()
            .map(|c| {
                c.parse::<i64>().ok().filter(|&n| n > 0).ok_or_else(|| {
                    ServiceError::invalid_parameter("cursor", "not a cursor of this list")
                })
            })
            .transpose()?,
    };
    let (total, rows) = store.anomalies(&filter, limit).await?;
    let next_cursor = (rows.len() == limit)
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(AnomalyList {
        total,
        anomalies: rows.iter().map(AnomalyView::from).collect(),
        next_cursor,
    })
}

/// One sample of a timeline.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TimelinePoint {
    /// RFC 3339.
    pub timestamp: String,
    /// Value.
    pub value: f64,
}

/// A cause worth a look, with the fact behind it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SuggestedCause {
    /// The resource.
    pub resource: String,
    /// What points at it.
    pub reason: String,
    /// When (RFC 3339).
    pub at: String,
}

/// `GET /api/v1/anomalies/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AnomalyDetail {
    /// The anomaly.
    #[serde(flatten)]
    pub anomaly: AnomalyView,
    /// Its series from `window` before to `window` after it (for a counter, its per-second
    /// increase: the values its detector scored).
    pub timeline: Vec<TimelinePoint>,
    /// Anomalies on the same resource and its topology neighbours in that window.
    pub related_metrics: Vec<AnomalyView>,
    /// Earlier anomalies and events (deployments, changes) on those resources, earliest first.
    pub suggested_causes: Vec<SuggestedCause>,
}

/// One anomaly with its context; `window_ms` on each side (default 30 min).
pub async fn detail(
    store: &Store,
    history: &History,
    topology: Option<&TopologyGraph>,
    metrics: &crate::metrics::MetricsConfig,
    id: &str,
    window_ms: i64,
) -> Result<AnomalyDetail> {
    let id_n: i64 = id.parse().map_err(|_| ServiceError::NotFound {
        kind: "anomaly".into(),
        id: id.into(),
    })?;
    let row = store.anomaly(id_n).await?;
    let a = &row.anomaly;
    let (from, to) = (a.t.saturating_sub(window_ms), a.t.saturating_add(window_ms));
    let series = store.series(a.series_id).await?;
    let mut samples = history.samples(store, &series, from, to, 10_000).await?;
    if metrics.is_counter(&series.metric) {
        samples = crate::metrics::counter_rates(&samples);
    }
    let timeline = samples
        .into_iter()
        .map(|(t, v)| TimelinePoint {
            timestamp: format_rfc3339(t),
            value: v,
        })
        .collect();
    let mut resources = vec![a.resource.clone()];
    if let Some(g) = topology.filter(|g| g.contains(&a.resource)) {
        for n in g
            .direct_dependencies(&a.resource)?
            .into_iter()
            .chain(g.direct_dependents(&a.resource)?)
        {
            if !resources.iter().any(|r| r == n) {
                resources.push(n.to_string());
            }
        }
    }
    let near = store
        .anomalies_of_resources(&resources, from, to, 500)
        .await?;
    let related: Vec<AnomalyView> = near
        .iter()
        .filter(|r| r.id != row.id)
        .map(AnomalyView::from)
        .collect();
    let mut causes: Vec<(TimestampMs, SuggestedCause)> = Vec::new();
    // The first anomaly of each other resource that started before this one.
    for r in &resources {
        if let Some(first) = near.iter().find(|n| {
            &n.anomaly.resource == r && n.anomaly.t < a.t && n.anomaly.resource != a.resource
        }) {
            causes.push((
                first.anomaly.t,
                SuggestedCause {
                    resource: r.clone(),
                    reason: format!(
                        "{} on {} was anomalous {} s earlier ({} vs expected {})",
                        first.anomaly.metric,
                        r,
                        (a.t - first.anomaly.t) / 1000,
                        first.anomaly.value,
                        first
                            .anomaly
                            .expected
                            .map_or("unknown".into(), |e| format!("{e:.3}")),
                    ),
                    at: format_rfc3339(first.anomaly.t),
                },
            ));
        }
    }
    for e in store.events(from, a.t.saturating_add(1), 100).await? {
        if e.resource.as_ref().is_none_or(|r| resources.contains(r)) {
            causes.push((
                e.at,
                SuggestedCause {
                    resource: e.resource.clone().unwrap_or_default(),
                    reason: format!("{} from {} before the anomaly", e.event_type, e.source),
                    at: format_rfc3339(e.at),
                },
            ));
        }
    }
    causes.sort_by_key(|(t, _)| *t);
    Ok(AnomalyDetail {
        anomaly: AnomalyView::from(&row),
        timeline,
        related_metrics: related,
        suggested_causes: causes.into_iter().map(|(_, c)| c).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(n: usize, spike: usize) -> DetectRequest {
        DetectRequest {
            points: (0..n)
                .map(|i| PostedPoint {
                    timestamp: serde_json::json!(1_700_000_000_000i64 + i as i64 * 60_000),
                    value: if i == spike {
                        100.0
                    } else {
                        10.0 + (i % 5) as f64 * 0.1
                    },
                })
                .collect(),
            detector: Some("zscore".into()),
            params: serde_json::from_str(r#"{"window": 20}"#).unwrap(),
            resource: None,
            metric: None,
        }
    }

    #[test]
    fn detection_scores_every_point_and_reports_the_last() {
        let r = detect(&request(60, 59), "req-1").unwrap();
        assert_eq!(r.points.len(), 60);
        assert!(r.is_anomaly);
        assert_eq!(r.anomalies, 1);
        assert_eq!(r.detector, "zscore");
        let r = detect(&request(60, 40), "req-2").unwrap();
        assert!(!r.is_anomaly);
        assert!(r.points[40].is_anomaly);
    }

    #[test]
    fn bad_points_are_named() {
        let mut q = request(10, 3);
        q.points[4].timestamp = q.points[3].timestamp.clone();
        let e = detect(&q, "x").unwrap_err();
        assert!(e.to_string().contains("points[4].timestamp"), "{e}");
        q.points.clear();
        assert_eq!(detect(&q, "x").unwrap_err().status(), 400);
        let mut q = request(10, 3);
        q.detector = Some("nope".into());
        assert_eq!(detect(&q, "x").unwrap_err().status(), 400);
    }

    #[test]
    fn parameters_are_checked() {
        assert!(parse_severity("high").is_ok());
        assert!(parse_severity("urgent").is_err());
        assert!(parse_limit(Some(0)).is_err());
        assert!(parse_limit(Some(5000)).is_err());
        assert!(parse_time("start_time", "yesterday").is_err());
    }
}
