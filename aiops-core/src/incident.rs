//! Incidents: correlated alerts treated as one problem.

use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::severity::Severity;
use crate::time::{TimestampMs, serde_rfc3339};

/// Lifecycle state of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// Open and not yet taken by anyone.
    #[default]
    Open,
    /// Open, and an operator has acknowledged it.
    Acknowledged,
    /// Over; a resolved incident is never reopened.
    Resolved,
}

/// One problem: the alerts that belong to it, the resources they touch, and its likely origin.
///
/// JSON: `{"id": ..., "title": ..., "severity": "critical", "status": "open", "resources":
/// [...], "alerts": [<Alert>...], "started_at": "<RFC 3339>", "resolved_at": <RFC 3339 or
/// null>, "probable_origin": <resource or null>}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// Unique id.
    pub id: String,
    /// One-line summary.
    pub title: String,
    /// The highest severity among its alerts.
    pub severity: Severity,
    /// Lifecycle state.
    pub status: IncidentStatus,
    /// Resources touched by its alerts, sorted.
    pub resources: Vec<String>,
    /// Its alerts.
    pub alerts: Vec<Alert>,
    /// When its first alert started, ms since the epoch (RFC 3339 in JSON).
    #[serde(with = "serde_rfc3339")]
    pub started_at: TimestampMs,
    /// When it was resolved.
    #[serde(default, with = "serde_rfc3339::option")]
    pub resolved_at: Option<TimestampMs>,
    /// The resource most likely at its origin, when one stands out.
    #[serde(default)]
    pub probable_origin: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;
    use serde_json::json;

    #[test]
    fn json_shape() {
        let alert =
            Alert::firing(Labels::try_from_pairs([("alertname", "Down")]).unwrap(), 0).unwrap();
        let inc = Incident {
            id: "inc-1".into(),
            title: "cart down".into(),
            severity: Severity::Critical,
            status: IncidentStatus::Open,
            resources: vec!["cart".into()],
            alerts: vec![alert.clone()],
            started_at: 0,
            resolved_at: None,
            probable_origin: Some("cart".into()),
        };
        let v = serde_json::to_value(&inc).unwrap();
        assert_eq!(
            v,
            json!({"id": "inc-1", "title": "cart down", "severity": "critical", "status": "open",
                   "resources": ["cart"], "alerts": [serde_json::to_value(&alert).unwrap()],
                   "started_at": "1970-01-01T00:00:00.000Z", "resolved_at": null,
                   "probable_origin": "cart"})
        );
        assert_eq!(serde_json::from_value::<Incident>(v).unwrap(), inc);
    }
}
