//! Alerts, in Alertmanager's shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{CoreError, Result};
use crate::labels::{Fingerprint, Labels};
use crate::severity::Severity;
use crate::time::{TimestampMs, serde_rfc3339};

/// Whether an alert is firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// The condition holds.
    #[default]
    Firing,
    /// The condition no longer holds.
    Resolved,
}

/// An alert as Alertmanager's API v2 and webhook know it, plus aiops' `acknowledged` flag.
///
/// Reads every shape Alertmanager uses: a `PostableAlert` (what Prometheus posts: labels,
/// annotations, startsAt, endsAt, generatorURL), a `GettableAlert` (adds fingerprint and a
/// status *object* `{"state": "active"|"suppressed"|"unprocessed", ...}`), and a webhook alert
/// (status *string* `"firing"|"resolved"`). A missing fingerprint is computed from the labels,
/// as Alertmanager does. A missing status is `firing`; whether an alert with an `endsAt` has
/// resolved by a given time is [`Alert::status_at`]'s question, since it depends on the clock.
/// Alertmanager's zero time `0001-01-01T00:00:00Z` means "not set".
///
/// Writes: `{"fingerprint": "<16 hex>", "labels": {...}, "annotations": {...},
/// "status": "firing", "acknowledged": false, "startsAt": "<RFC 3339>", "endsAt": <RFC 3339 or
/// null>, "generatorURL": "..."}` (the webhook shape). [`Alert::to_postable`] gives the shape to
/// POST to `/api/v2/alerts`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// Fingerprint of the labels (see [`Fingerprint`]).
    pub fingerprint: Fingerprint,
    /// Identifying labels; at least one.
    pub labels: Labels,
    /// Non-identifying information (summary, description, runbook_url...).
    pub annotations: BTreeMap<String, String>,
    /// Firing or resolved.
    pub status: AlertStatus,
    /// Whether an operator has acknowledged it.
    pub acknowledged: bool,
    /// When it started, ms since the epoch (RFC 3339 in JSON).
    #[serde(with = "serde_rfc3339")]
    pub starts_at: TimestampMs,
    /// When it ended or will end unless refreshed, ms since the epoch.
    #[serde(with = "serde_rfc3339::option")]
    pub ends_at: Option<TimestampMs>,
    /// Link to the rule or query that produced it.
    #[serde(rename = "generatorURL", skip_serializing_if = "String::is_empty")]
    pub generator_url: String,
}

/// An alert in the shape Alertmanager's `POST /api/v2/alerts` accepts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableAlert<'a> {
    /// Identifying labels.
    pub labels: &'a Labels,
    /// Annotations.
    pub annotations: &'a BTreeMap<String, String>,
    /// Start time.
    #[serde(with = "serde_rfc3339")]
    pub starts_at: TimestampMs,
    /// End time, when known.
    #[serde(
        with = "serde_rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub ends_at: Option<TimestampMs>,
    /// Generator link.
    #[serde(rename = "generatorURL", skip_serializing_if = "str::is_empty")]
    pub generator_url: &'a str,
}

impl Alert {
    /// A firing alert with the given labels, started at `starts_at` (ms).
    pub fn firing(labels: Labels, starts_at: TimestampMs) -> Result<Self> {
        if labels.is_empty() {
            return Err(CoreError::InvalidParameter {
                name: "labels",
                reason: "an alert needs at least one label".into(),
            });
        }
        Ok(Self {
            fingerprint: labels.fingerprint(),
            labels,
            annotations: BTreeMap::new(),
            status: AlertStatus::Firing,
            acknowledged: false,
            starts_at,
            ends_at: None,
            generator_url: String::new(),
        })
    }

    /// Parses one alert from JSON text in any of Alertmanager's shapes.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| CoreError::json(&e, None))
    }

    /// The status at time `now` (ms): resolved when marked so, or when `endsAt <= now`.
    pub fn status_at(&self, now: TimestampMs) -> AlertStatus {
        match (self.status, self.ends_at) {
            (AlertStatus::Resolved, _) => AlertStatus::Resolved,
            (AlertStatus::Firing, Some(end)) if end <= now => AlertStatus::Resolved,
            _ => AlertStatus::Firing,
        }
    }

    /// The `severity` label parsed as a [`Severity`], if present and known.
    pub fn severity(&self) -> Option<Severity> {
        self.labels.get("severity").and_then(|s| s.parse().ok())
    }

    /// The shape to POST to Alertmanager's `/api/v2/alerts`.
    pub fn to_postable(&self) -> PostableAlert<'_> {
        PostableAlert {
            labels: &self.labels,
            annotations: &self.annotations,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            generator_url: &self.generator_url,
        }
    }
}

impl<'de> Deserialize<'de> for Alert {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;

        /// `"firing"` / `"resolved"` (webhook) or `{"state": ...}` (API).
        enum RawStatus {
            Webhook(AlertStatus),
            Api,
        }

        impl<'de> Deserialize<'de> for RawStatus {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let bad = |what: &str| {
                    D::Error::custom(format!(
                        "invalid status {what}: expected \"firing\" or \"resolved\" (webhook), or an object with a \"state\" (API)"
                    ))
                };
                match serde_json::Value::deserialize(d)? {
                    serde_json::Value::String(s) => match s.as_str() {
                        "firing" => Ok(RawStatus::Webhook(AlertStatus::Firing)),
                        "resolved" => Ok(RawStatus::Webhook(AlertStatus::Resolved)),
                        _ => Err(bad(&format!("{s:?}"))),
                    },
                    serde_json::Value::Object(m)
                        if m.get("state").is_some_and(|v| v.is_string()) =>
                    {
                        Ok(RawStatus::Api)
                    }
                    other => Err(bad(&other.to_string())),
                }
            }
        }

        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw {
            labels: Labels,
            #[serde(default)]
            annotations: BTreeMap<String, String>,
            #[serde(default)]
            fingerprint: Option<Fingerprint>,
            #[serde(default)]
            status: Option<RawStatus>,
            #[serde(default)]
            acknowledged: bool,
            #[serde(default, with = "serde_rfc3339::option")]
            starts_at: Option<TimestampMs>,
            #[serde(default, with = "serde_rfc3339::option")]
            ends_at: Option<TimestampMs>,
            #[serde(default, rename = "generatorURL")]
            generator_url: String,
        }

        let raw = Raw::deserialize(d)?;
        if raw.labels.is_empty() {
            return Err(D::Error::custom("an alert needs at least one label"));
        }
        let computed = raw.labels.fingerprint();
        if let Some(fp) = raw.fingerprint
            && fp != computed
        {
            return Err(D::Error::custom(format!(
                "fingerprint {fp} does not match the labels (expected {computed})"
            )));
        }
        let starts_at = raw
            .starts_at
            .ok_or_else(|| D::Error::custom("missing field `startsAt`"))?;
        let status = match raw.status {
            Some(RawStatus::Webhook(s)) => s,
            // The API's state (active / suppressed / unprocessed) says nothing about
            // resolution; status_at() decides that from endsAt.
            Some(RawStatus::Api) | None => AlertStatus::Firing,
        };
        Ok(Alert {
            fingerprint: computed,
            labels: raw.labels,
            annotations: raw.annotations,
            status,
            acknowledged: raw.acknowledged,
            starts_at,
            ends_at: raw.ends_at,
            generator_url: raw.generator_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Alert {
        let mut a = Alert::firing(
            Labels::try_from_pairs([("alertname", "HighLatency"), ("service", "cart")]).unwrap(),
            1_700_000_000_000,
        )
        .unwrap();
        a.annotations.insert("summary".into(), "p99 > 1s".into());
        a.generator_url = "http://prom:9090/graph".into();
        a
    }

    #[test]
    fn json_shape() {
        let a = sample();
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(
            v,
            json!({"fingerprint": a.labels.fingerprint().to_string(),
                   "labels": {"alertname": "HighLatency", "service": "cart"},
                   "annotations": {"summary": "p99 > 1s"}, "status": "firing",
                   "acknowledged": false, "startsAt": "2023-11-14T22:13:20.000Z", "endsAt": null,
                   "generatorURL": "http://prom:9090/graph"})
        );
        assert_eq!(serde_json::from_value::<Alert>(v).unwrap(), a);
        assert_eq!(
            serde_json::to_value(a.to_postable()).unwrap(),
            json!({"labels": {"alertname": "HighLatency", "service": "cart"},
                   "annotations": {"summary": "p99 > 1s"}, "startsAt": "2023-11-14T22:13:20.000Z",
                   "generatorURL": "http://prom:9090/graph"})
        );
    }

    #[test]
    fn reads_alertmanager_shapes() {
        // GettableAlert from GET /api/v2/alerts.
        let gettable = r#"{"annotations": {}, "endsAt": "2023-11-14T22:20:00.123456789Z",
            "fingerprint": "FP", "receivers": [{"name": "web"}],
            "startsAt": "2023-11-14T22:13:20Z",
            "status": {"inhibitedBy": [], "silencedBy": [], "state": "active"},
            "updatedAt": "2023-11-14T22:13:21Z", "generatorURL": "",
            "labels": {"alertname": "Down", "job": "node"}}"#;
        let fp = Labels::try_from_pairs([("alertname", "Down"), ("job", "node")])
            .unwrap()
            .fingerprint();
        let a = Alert::from_json(&gettable.replace("FP", &fp.to_string())).unwrap();
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(a.ends_at, Some(1_700_000_400_123));
        assert_eq!(a.status_at(1_700_000_400_000), AlertStatus::Firing);
        assert_eq!(a.status_at(1_700_000_400_123), AlertStatus::Resolved);
        // Webhook alert with a resolved status and AM's zero time.
        let hook = r#"{"status": "resolved", "labels": {"alertname": "Down"},
            "annotations": {}, "startsAt": "2023-11-14T22:13:20Z",
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "x"}"#;
        // The fingerprint "x" cannot be right for these labels.
        assert!(Alert::from_json(hook).is_err());
        let hook = hook.replace(r#", "fingerprint": "x""#, "");
        let a = Alert::from_json(&hook).unwrap();
        assert_eq!(a.status, AlertStatus::Resolved);
        assert_eq!(a.ends_at, None);
    }

    #[test]
    fn rejects_malformed_alerts() {
        for bad in [
            r#"{"labels": {}, "startsAt": "2023-11-14T22:13:20Z"}"#,
            r#"{"startsAt": "2023-11-14T22:13:20Z"}"#,
            r#"{"labels": {"a": "b"}}"#,
            r#"{"labels": {"a": "b"}, "startsAt": "yesterday"}"#,
            r#"{"labels": {"a-b": "c"}, "startsAt": "2023-11-14T22:13:20Z"}"#,
            r#"{"labels": {"a": "b"}, "startsAt": "2023-11-14T22:13:20Z", "status": "open"}"#,
            r#"{"labels": {"a": "b"}"#,
        ] {
            assert!(
                matches!(Alert::from_json(bad), Err(CoreError::Json { .. })),
                "{bad}"
            );
        }
        assert!(Alert::firing(Labels::new(), 0).is_err());
    }

    #[test]
    fn severity_from_label() {
        let mut a = sample();
        assert_eq!(a.severity(), None);
        a.labels.insert("severity", "warning").unwrap();
        assert_eq!(a.severity(), Some(Severity::Medium));
    }
}
