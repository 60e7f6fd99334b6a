//! Alertmanager: the webhook payload it POSTs to receivers (version 4).
//!
//! Wire format, as documented by Alertmanager's `webhook_config`:
//! `{"version": "4", "groupKey": ..., "truncatedAlerts": n, "status": "firing"|"resolved",
//! "receiver": ..., "groupLabels": {...}, "commonLabels": {...}, "commonAnnotations": {...},
//! "externalURL": ..., "alerts": [{"status", "labels", "annotations", "startsAt", "endsAt",
//! "generatorURL", "fingerprint"}]}`. Reading checks the version and every alert (labels,
//! timestamps, fingerprint); writing produces the same shape, so aiops can stand in for
//! Alertmanager in front of any webhook receiver.

use std::collections::BTreeMap;

use aiops_core::{Alert, AlertStatus, Labels};
use serde::{Deserialize, Serialize};

use crate::error::{IntegrationError, Result};

/// The only payload version Alertmanager has sent since 0.7.
pub const WEBHOOK_VERSION: &str = "4";

/// A notification Alertmanager sends to a webhook receiver: one group of alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPayload {
    /// Payload version, `"4"`.
    pub version: String,
    /// Key identifying the group, e.g. `{}:{alertname="Down"}`.
    pub group_key: String,
    /// How many alerts were left out because of the receiver's `max_alerts`.
    #[serde(default)]
    pub truncated_alerts: u64,
    /// `firing` when at least one alert fires, else `resolved`.
    pub status: AlertStatus,
    /// The receiver's name.
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
        if p.version != WEBHOOK_VERSION {
            return Err(IntegrationError::Payload {
                system: "alertmanager",
                message: format!(
                    "webhook version {:?} is not supported (expected \"{WEBHOOK_VERSION}\")",
                    p.version
                ),
            });
        }
        Ok(p)
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
}
