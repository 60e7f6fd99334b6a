//! The events endpoints' logic: operational events (deployments, configuration changes)
//! posted by CI or a deploy tool (`POST /api/v1/events`) and listed by time (`GET
//! /api/v1/events`). Stored events show on anomaly timelines as suggested causes.
//!
//! A posted event is `{"source": "ci", "event_type": "deployment", "resource": "api",
//! "timestamp": "2026-01-01T10:00:00Z", ...}`: every other key is kept as it was sent and
//! shown back beside the named fields.

use aiops_core::TimestampMs;
use aiops_core::time::serde_rfc3339;
use aiops_store::{EventRow, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::anomaly_api::{parse_limit, parse_time};
use crate::error::{Result, ServiceError};

/// Longest `source`, `event_type` and `resource` (characters).
pub const MAX_FIELD: usize = 200;
/// How far back `GET /api/v1/events` looks without a `start_time` (ms: 24 h).
pub const DEFAULT_WINDOW_MS: i64 = 24 * 3_600_000;

/// `POST /api/v1/events`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
pub struct EventRequest {
    /// Who reports it (`ci`, `argo`...).
    pub source: String,
    /// What happened (`deployment`, `config_change`...).
    pub event_type: String,
    /// The resource it concerns, if one.
    #[serde(default)]
    pub resource: Option<String>,
    /// When (RFC 3339, or seconds / ms since the epoch; default: when received).
    #[serde(default)]
    pub timestamp: Option<Value>,
    /// Everything else (version, commit, author...), kept as sent.
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

/// An event as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EventView {
    /// Id.
    pub event_id: String,
    /// Who reported it.
    pub source: String,
    /// What happened.
    pub event_type: String,
    /// The resource, if one.
    pub resource: Option<String>,
    /// When (RFC 3339).
    #[serde(with = "serde_rfc3339")]
    pub timestamp: TimestampMs,
    /// The other keys as sent.
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

impl From<EventRow> for EventView {
    fn from(e: EventRow) -> Self {
        Self {
            event_id: e.id.to_string(),
            source: e.source,
            event_type: e.event_type,
            resource: e.resource,
            timestamp: e.at,
            details: match e.body {
                Value::Object(m) => m,
                Value::Null => Map::new(),
                other => Map::from_iter([("details".to_string(), other)]),
            },
        }
    }
}

fn text(name: &str, v: &str) -> Result<String> {
    let t = v.trim();
    if t.is_empty() || t.chars().count() > MAX_FIELD {
        return Err(ServiceError::invalid_parameter(
            name,
            format!("must be 1 to {MAX_FIELD} characters"),
        ));
    }
    Ok(t.to_string())
}

/// Stores an event received at `now` (ms); returns it as stored.
pub async fn post(store: &Store, e: EventRequest, now: TimestampMs) -> Result<EventView> {
    let at = match &e.timestamp {
        None | Some(Value::Null) => now,
        Some(Value::String(s)) => parse_time("timestamp", s)?,
        Some(Value::Number(n)) => n
            .as_f64()
            .and_then(aiops_core::time::number_to_ms)
            .map(|(t, _)| t)
            .ok_or_else(|| ServiceError::invalid_parameter("timestamp", "not a time"))?,
        Some(_) => {
            return Err(ServiceError::invalid_parameter(
                "timestamp",
                "expected RFC 3339 text or a number",
            ));
        }
    };
    if e.details.contains_key("event_id") {
        return Err(ServiceError::invalid_parameter(
            "event_id",
            "is given by the service",
        ));
    }
    let mut row = EventRow {
        id: 0,
        at,
        source: text("source", &e.source)?,
        event_type: text("event_type", &e.event_type)?,
        resource: e
            .resource
            .as_deref()
            .map(|r| text("resource", r))
            .transpose()?,
        body: Value::Object(e.details),
    };
    row.id = store.insert_event(&row).await?;
    Ok(row.into())
}

/// `GET /api/v1/events` parameters.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// Events at or after (default: 24 h ago).
    pub start_time: Option<String>,
    /// Events before (default: no bound).
    pub end_time: Option<String>,
    /// At most this many (1 to 1,000; default 100), oldest first.
    pub limit: Option<usize>,
}

/// `GET /api/v1/events`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EventList {
    /// Oldest first.
    pub events: Vec<EventView>,
}

/// Events in the asked window at `now` (ms).
pub async fn list(store: &Store, q: &EventQuery, now: TimestampMs) -> Result<EventList> {
    let limit = parse_limit(q.limit)?;
    let from = q
        .start_time
        .as_deref()
        .map(|t| parse_time("start_time", t))
        .transpose()?
        .unwrap_or(now.saturating_sub(DEFAULT_WINDOW_MS));
    let to = q
        .end_time
        .as_deref()
        .map(|t| parse_time("end_time", t))
        .transpose()?
        .unwrap_or(i64::MAX);
    if to <= from {
        return Err(ServiceError::invalid_parameter(
            "end_time",
            "must be after start_time",
        ));
    }
    Ok(EventList {
        events: store
            .events(from, to, limit)
            .await?
            .into_iter()
            .map(EventView::from)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn events_are_stored_with_their_extra_keys_and_listed_by_time() {
        let store = Store::open("sqlite::memory:", &Default::default())
            .await
            .unwrap();
        let now = 1_767_225_600_000;
        let e: EventRequest = serde_json::from_value(json!({
            "source": "ci", "event_type": "deployment", "resource": "api",
            "timestamp": "2026-01-01T00:00:00Z", "version": "1.2.3"
        }))
        .unwrap();
        let v = post(&store, e, now + 5).await.unwrap();
        assert_eq!(v.timestamp, now);
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            json!({"event_id": v.event_id, "source": "ci", "event_type": "deployment",
                   "resource": "api", "timestamp": "2026-01-01T00:00:00.000Z", "version": "1.2.3"})
        );
        let e: EventRequest =
            serde_json::from_value(json!({"source": "argo", "event_type": "config_change"}))
                .unwrap();
        assert_eq!(post(&store, e, now + 10).await.unwrap().timestamp, now + 10);
        let all = list(&store, &EventQuery::default(), now + 20)
            .await
            .unwrap();
        assert_eq!(all.events.len(), 2);
        assert_eq!(all.events[0].details["version"], "1.2.3");
        let q = EventQuery {
            start_time: Some((now + 1).to_string()),
            ..Default::default()
        };
        assert_eq!(list(&store, &q, now + 20).await.unwrap().events.len(), 1);
        for (body, field) in [
            (json!({"source": "", "event_type": "x"}), "'source'"),
            (
                json!({"source": "ci", "event_type": "x", "timestamp": "soon"}),
                "'timestamp'",
            ),
            (
                json!({"source": "ci", "event_type": "x", "event_id": "1"}),
                "'event_id'",
            ),
        ] {
            let e: EventRequest = serde_json::from_value(body).unwrap();
            let err = post(&store, e, now).await.unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
        let q = EventQuery {
            start_time: Some("yesterday".into()),
            ..Default::default()
        };
        assert_eq!(list(&store, &q, now).await.unwrap_err().status(), 400);
    }
}
