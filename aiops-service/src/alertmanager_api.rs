//! The Alertmanager API v2 subset that lets aiops stand where Alertmanager stands: a
//! Prometheus `alerting.alertmanagers` target posts to `POST /api/v2/alerts`; `GET
//! /api/v2/alerts` and `GET /api/v2/status` answer in Alertmanager's shapes (`amtool` and
//! Grafana's Alertmanager data source read them).

use std::collections::BTreeMap;

use aiops_core::time::format_rfc3339;
use serde::Serialize;

use crate::alerting::{AlertPipeline, AlertQuery, AlertView, ReceiveReport};
use crate::error::{Result, ServiceError};

/// The largest number of alerts one `POST /api/v2/alerts` may carry.
pub const MAX_ALERTS_PER_POST: usize = 100_000;

/// Reads a body of Alertmanager API v2 alerts (a JSON array of `PostableAlert`) or of
/// webhook payloads (version 4) and hands them to the pipeline; returns once committed.
pub async fn receive_body(
    pipeline: &AlertPipeline,
    body: &str,
    source: &str,
    now: aiops_core::TimestampMs,
) -> Result<ReceiveReport> {
    // Alertmanager takes a missing `startsAt` as the time it received the alert.
    let alerts = aiops_integrations::alertmanager::parse_alerts_received(body, Some(now))?;
    if alerts.len() > MAX_ALERTS_PER_POST {
        return Err(ServiceError::invalid_parameter(
            "body",
            format!("at most {MAX_ALERTS_PER_POST} alerts per request"),
        ));
    }
    pipeline.receive(alerts, source, now).await
}

/// `GettableAlert.status`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GettableStatus {
    /// `active` (firing or acknowledged), `suppressed` is not reported separately here.
    pub state: &'static str,
    /// Silences muting it.
    pub silenced_by: Vec<String>,
    /// Alerts inhibiting it.
    pub inhibited_by: Vec<String>,
}

/// A receiver name.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Receiver {
    /// Name.
    pub name: String,
}

/// Alertmanager's `GettableAlert`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GettableAlert {
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339 (the zero time when unknown, as Alertmanager writes it).
    pub ends_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Link back to the source.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// 16 hex digits.
    pub fingerprint: String,
    /// State.
    pub status: GettableStatus,
    /// Receivers.
    pub receivers: Vec<Receiver>,
}

impl From<&AlertView> for GettableAlert {
    fn from(a: &AlertView) -> Self {
        Self {
            labels: a
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: a.annotations.clone(),
            starts_at: format_rfc3339(a.starts_at),
            ends_at: a
                .ends_at
                .map_or_else(|| "0001-01-01T00:00:00.000Z".into(), format_rfc3339),
            updated_at: format_rfc3339(a.updated_at),
            generator_url: a.generator_url.clone(),
            fingerprint: a.alert_id.clone(),
            status: GettableStatus {
                state: if a.status == "resolved" {
                    "unprocessed"
                } else {
                    "active"
                },
                silenced_by: Vec::new(),
                inhibited_by: Vec::new(),
            },
            receivers: vec![Receiver {
                name: "aiops".into(),
            }],
        }
    }
}

/// `GET /api/v2/alerts`: the alerts not resolved, as Alertmanager lists them (at most
/// [`crate::alerting::MAX_LIMIT`] per status).
pub async fn active_alerts(pipeline: &AlertPipeline) -> Result<Vec<GettableAlert>> {
    let mut out = Vec::new();
    for status in ["firing", "acknowledged"] {
        let page = pipeline
            .list_alerts(&AlertQuery {
                status: Some(status.into()),
                limit: Some(crate::alerting::MAX_LIMIT),
                ..Default::default()
            })
            .await?;
        out.extend(page.alerts.iter().map(GettableAlert::from));
    }
    Ok(out)
}

/// `GET /api/v2/status` (Alertmanager's `AlertmanagerStatus`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AmStatus {
    /// Cluster state: aiops runs no gossip cluster (`disabled`).
    pub cluster: serde_json::Value,
    /// Version.
    pub version_info: serde_json::Value,
    /// The configuration text (not exposed: `original` is empty).
    pub config: serde_json::Value,
    /// Start time (RFC 3339).
    pub uptime: String,
}

/// The status document.
pub fn status(started_at: aiops_core::TimestampMs) -> AmStatus {
    AmStatus {
        cluster: serde_json::json!({"status": "disabled", "peers": []}),
        version_info: serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "branch": "", "revision": "", "buildUser": "", "buildDate": "", "goVersion": "",
        }),
        config: serde_json::json!({"original": ""}),
        uptime: format_rfc3339(started_at),
    }
}
