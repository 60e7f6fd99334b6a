//! Alertmanager: the alerts of its API v2 and the webhook payload it POSTs to receivers
//! (version 4).
//!
//! Webhook wire format, as documented by Alertmanager's `webhook_config`:
//! `{"version": "4", "groupKey": ..., "truncatedAlerts": n, "status": "firing"|"resolved",
//! "receiver": ..., "groupLabels": {...}, "commonLabels": {...}, "commonAnnotations": {...},
//! "externalURL": ..., "alerts": [{"status", "labels", "annotations", "startsAt", "endsAt",
//! "generatorURL", "fingerprint"}]}`. Reading checks the version and every alert (labels,
//! timestamps, fingerprint); writing produces the same shape, so aiops can stand in for
//! Alertmanager in front of any webhook receiver.
//!
//! API v2 alerts (`PostableAlert`, `GettableAlert`) read as [`aiops_core::Alert`];
//! [`parse_alerts`] reads a stream of them, or of webhook payloads, in arrival order.

use std::collections::BTreeMap;

use aiops_core::{Alert, AlertStatus, CoreError, Labels, TimestampMs};
use serde::{Deserialize, Serialize};

use crate::error::{IntegrationError, Result};

/// The only payload version Alertmanager has sent since 0.7.
pub const WEBHOOK_VERSION: &str = "4";

/// A notification Alertmanager sends to a webhook receiver: one group of alerts.
///
/// Reading needs `version` and `alerts`; the other fields default when absent (empty texts
/// and label sets, `firing`), as `aiops alerts correlate` has always taken payloads with only
/// those two.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPayload {
    /// Payload version, `"4"`.
    pub version: String,
    /// Key identifying the group, e.g. `{}:{alertname="Down"}`.
    #[serde(default)]
    pub group_key: String,
    /// How many alerts were left out because of the receiver's `max_alerts`.
    #[serde(default)]
    pub truncated_alerts: u64,
    /// `firing` when at least one alert fires, else `resolved`.
    #[serde(default)]
    pub status: AlertStatus,
    /// The receiver's name.
    #[serde(default)]
    pub receiver: String,
    /// The labels the group is keyed by.
    #[serde(default)]
    pub group_labels: Labels,
    /// Labels every alert of the group shares.
    #[serde(default)]
    pub common_labels: Labels,
    /// Annotations every alert of the group shares.
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    /// Link back to the sending Alertmanager.
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
    /// The alerts.
    pub alerts: Vec<Alert>,
}

impl WebhookPayload {
    /// Parses and checks a payload.
    pub fn from_json(text: &str) -> Result<Self> {
        let p: WebhookPayload =
            serde_json::from_str(text).map_err(|e| IntegrationError::Payload {
                system: "alertmanager",
                message: format!("line {}: {e}", e.line()),
            })?;
        p.check_version()
            .map_err(|message| IntegrationError::Payload {
                system: "alertmanager",
                message,
            })?;
        Ok(p)
    }

    /// Refuses a version other than [`WEBHOOK_VERSION`].
    fn check_version(&self) -> std::result::Result<(), String> {
        if self.version == WEBHOOK_VERSION {
            Ok(())
        } else {
            Err(format!(
                "webhook version {:?} is not supported (expected \"{WEBHOOK_VERSION}\")",
                self.version
            ))
        }
    }

    /// Builds the payload for one group of alerts, as Alertmanager would: the status is
    /// `firing` if any alert fires, and the common labels and annotations are those every
    /// alert shares.
    pub fn for_group(
        receiver: &str,
        group_labels: Labels,
        alerts: Vec<Alert>,
        external_url: &str,
    ) -> Self {
        let status = if alerts.iter().any(|a| a.status == AlertStatus::Firing) {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        };
        let common_labels = common(alerts.iter().map(|a| {
            a.labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        }));
        let common_annotations = common(alerts.iter().map(|a| a.annotations.clone()));
        Self {
            version: WEBHOOK_VERSION.into(),
            group_key: format!("{{}}:{group_labels}"),
            truncated_alerts: 0,
            status,
            receiver: receiver.into(),
            group_labels,
            // Every name and value comes from a valid label set, so this cannot fail.
            common_labels: Labels::try_from_pairs(common_labels).unwrap_or_default(),
            common_annotations,
            external_url: external_url.into(),
            alerts,
        }
    }
}

fn json_err(line: usize, message: String) -> IntegrationError {
    IntegrationError::Core(CoreError::Json {
        line: Some(line as u64),
        message,
    })
}

/// Appends the alerts of one JSON value: an alert, a webhook payload (an object with
/// `alerts`), or an array of either. A plain alert without `startsAt` gets `received_at`
/// when given.
fn alerts_of(
    value: serde_json::Value,
    line: usize,
    received_at: Option<TimestampMs>,
    out: &mut Vec<Alert>,
) -> Result<()> {
    match value {
        serde_json::Value::Array(items) => {
            for v in items {
                alerts_of(v, line, received_at, out)?;
            }
            Ok(())
        }
        v if v.get("alerts").is_some() => {
            let hook: WebhookPayload = serde_json::from_value(v)
                .map_err(|e| json_err(line, format!("webhook payload: {e}")))?;
            hook.check_version().map_err(|m| json_err(line, m))?;
            out.extend(hook.alerts);
            Ok(())
        }
        mut v => {
            if let (Some(at), Some(obj)) = (received_at, v.as_object_mut()) {
                obj.entry("startsAt")
                    .or_insert_with(|| aiops_core::time::format_rfc3339(at).into());
            }
            out.push(serde_json::from_value(v).map_err(|e| json_err(line, e.to_string()))?);
            Ok(())
        }
    }
}

/// Reads alerts in arrival order: JSON lines of Alertmanager API v2 alert objects
/// (`PostableAlert` or `GettableAlert`), JSON arrays of them, or webhook payloads
/// ([`WebhookPayload`]), one per line or as the whole (pretty-printed) input. Blank lines are
/// skipped; any malformed alert or payload is a [`CoreError::Json`] naming its line.
pub fn parse_alerts(text: &str) -> Result<Vec<Alert>> {
    parse_alerts_received(text, None)
}

/// [`parse_alerts`] for alerts received now: as Alertmanager does, an alert without
/// `startsAt` starts at `received_at` (ms) when that is given.
pub fn parse_alerts_received(text: &str, received_at: Option<TimestampMs>) -> Result<Vec<Alert>> {
    let mut out = Vec::new();
    let trimmed = text.trim_start();
    // A single document spanning several lines (pretty-printed webhook payload or array).
    if (trimmed.starts_with('[') || (trimmed.starts_with('{') && text.trim().lines().count() > 1))
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(text)
    {
        alerts_of(v, 1, received_at, &mut out)?;
        return Ok(out);
    }
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| json_err(i + 1, e.to_string()))?;
        alerts_of(v, i + 1, received_at, &mut out)?;
    }
    Ok(out)
}

/// The (key, value) pairs present with the same value in every map.
fn common(mut maps: impl Iterator<Item = BTreeMap<String, String>>) -> BTreeMap<String, String> {
    let Some(mut acc) = maps.next() else {
        return BTreeMap::new();
    };
    for m in maps {
        acc.retain(|k, v| m.get(k) == Some(v));
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYLOAD: &str = r#"{
      "receiver": "aiops", "status": "firing",
      "alerts": [
        {"status": "firing", "labels": {"alertname": "HighLatency", "service": "cart", "severity": "critical"},
         "annotations": {"summary": "p99 high"}, "startsAt": "2024-03-01T10:00:00.000Z",
         "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom/graph", "fingerprint": "FP1"},
        {"status": "resolved", "labels": {"alertname": "HighLatency", "service": "web", "severity": "critical"},
         "annotations": {"summary": "p99 high"}, "startsAt": "2024-03-01T09:00:00Z",
         "endsAt": "2024-03-01T09:30:00Z", "generatorURL": "http://prom/graph", "fingerprint": "FP2"}
      ],
      "groupLabels": {"alertname": "HighLatency"},
      "commonLabels": {"alertname": "HighLatency", "severity": "critical"},
      "commonAnnotations": {"summary": "p99 high"},
      "externalURL": "http://am:9093", "version": "4",
      "groupKey": "{}:{alertname=\"HighLatency\"}", "truncatedAlerts": 0
    }"#;

    fn payload() -> String {
        let fp = |pairs: [(&str, &str); 3]| Labels::try_from_pairs(pairs).unwrap().fingerprint();
        PAYLOAD
            .replace(
                "FP1",
                &fp([
                    ("alertname", "HighLatency"),
                    ("service", "cart"),
                    ("severity", "critical"),
                ])
                .to_string(),
            )
            .replace(
                "FP2",
                &fp([
                    ("alertname", "HighLatency"),
                    ("service", "web"),
                    ("severity", "critical"),
                ])
                .to_string(),
            )
    }

    #[test]
    fn reads_a_documented_payload() {
        let p = WebhookPayload::from_json(&payload()).unwrap();
        assert_eq!(p.alerts.len(), 2);
        assert_eq!(p.status, AlertStatus::Firing);
        assert_eq!(p.alerts[0].ends_at, None);
        assert_eq!(p.alerts[1].status, AlertStatus::Resolved);
        assert_eq!(p.common_labels.get("severity"), Some("critical"));
    }

    #[test]
    fn writes_what_it_reads() {
        let p = WebhookPayload::from_json(&payload()).unwrap();
        let rebuilt = WebhookPayload::for_group(
            "aiops",
            p.group_labels.clone(),
            p.alerts.clone(),
            "http://am:9093",
        );
        assert_eq!(rebuilt, p);
        let text = serde_json::to_string(&rebuilt).unwrap();
        assert_eq!(WebhookPayload::from_json(&text).unwrap(), p);
    }

    #[test]
    fn rejects_malformed_payloads() {
        let wrong_version = payload().replace(r#""version": "4""#, r#""version": "3""#);
        assert!(WebhookPayload::from_json(&wrong_version).is_err());
        let bad_fp = PAYLOAD.to_string();
        assert!(
            WebhookPayload::from_json(&bad_fp).is_err(),
            "fingerprints must match labels"
        );
        let no_alerts = r#"{"version": "4", "groupKey": "", "status": "firing", "receiver": "r"}"#;
        assert!(WebhookPayload::from_json(no_alerts).is_err());
        let e = WebhookPayload::from_json("{").unwrap_err().to_string();
        assert!(e.contains("alertmanager"), "{e}");
    }

    #[test]
    fn reads_alert_lines_arrays_and_webhooks() {
        let lines = "{\"labels\": {\"alertname\": \"A\"}, \"startsAt\": \"2024-01-01T00:00:00Z\"}\n\n\
                     {\"labels\": {\"alertname\": \"B\"}, \"startsAt\": \"2024-01-01T00:01:00Z\", \"endsAt\": \"2024-01-01T00:02:00Z\"}\n";
        let a = parse_alerts(lines).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[1].ends_at, Some(1_704_067_320_000));
        let hook = r#"{
  "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "resolved",
  "receiver": "web", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
  "externalURL": "http://am:9093",
  "alerts": [
    {"status": "resolved", "labels": {"alertname": "Down", "service": "cart"},
     "annotations": {}, "startsAt": "2024-01-01T00:00:00Z",
     "endsAt": "2024-01-01T00:05:00Z", "generatorURL": "http://prom/graph"}
  ]
}"#;
        let a = parse_alerts(hook).unwrap();
        assert_eq!((a.len(), a[0].status), (1, AlertStatus::Resolved));
        let one_line = hook.replace('\n', " ");
        assert_eq!(
            parse_alerts(&format!("{one_line}\n{one_line}"))
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            parse_alerts(&format!("[{}]", lines.lines().next().unwrap()))
                .unwrap()
                .len(),
            1
        );
        // Only version and alerts are needed in a payload.
        let minimal = r#"{"version": "4", "alerts": [{"labels": {"a": "1"}, "startsAt": "2024-01-01T00:00:00Z"}]}"#;
        assert_eq!(parse_alerts(minimal).unwrap().len(), 1);
    }

    #[test]
    fn malformed_alerts_name_the_line() {
        let bad = "{\"labels\": {\"a\": \"1\"}, \"startsAt\": \"2024-01-01T00:00:00Z\"}\n{\"labels\": {}, \"startsAt\": \"2024-01-01T00:00:00Z\"}";
        match parse_alerts(bad) {
            Err(IntegrationError::Core(CoreError::Json { line: Some(2), .. })) => {}
            other => panic!("{other:?}"),
        }
        assert!(parse_alerts("{\"labels\": {\"a\": \"1\"}, \"startsAt\": \"soon\"}").is_err());
        assert!(parse_alerts("not json").is_err());
        let received =
            parse_alerts_received("[{\"labels\": {\"a\": \"1\"}}]", Some(60_000)).unwrap();
        assert_eq!(received[0].starts_at, 60_000);
        assert!(parse_alerts(r#"{"version": "3", "alerts": []}"#).is_err());
    }
}
