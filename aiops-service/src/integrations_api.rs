//! The integrations endpoints: `GET /api/v1/integrations` (what is configured, never a
//! secret) and `POST /api/v1/integrations/{name}/dashboards` (a Grafana dashboard for a
//! service: its metrics and its anomalies).

use serde::{Deserialize, Serialize};

use crate::deliveries::Router;
use crate::error::{Result, ServiceError};

/// One configured integration.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IntegrationView {
    /// Its name in the configuration.
    pub name: String,
    /// Its `type`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The roles it plays (`notify`, `ticket`, `annotate`, `metrics`, `alerts`, `logs`, `bus`).
    pub roles: Vec<String>,
}

/// `GET /api/v1/integrations`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IntegrationList {
    /// Every configured integration, by name.
    pub integrations: Vec<IntegrationView>,
}

/// The configured integrations.
pub fn list(router: &Router) -> IntegrationList {
    IntegrationList {
        integrations: router
            .integrations()
            .values()
            .map(|i| IntegrationView {
                name: i.name.clone(),
                kind: i.kind.clone(),
                roles: i.roles().into_iter().map(String::from).collect(),
            })
            .collect(),
    }
}

/// `POST /api/v1/integrations/{name}/dashboards`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DashboardRequest {
    /// The service (its dashboard's uid is derived from it: the same service updates the same
    /// dashboard).
    pub service: String,
    /// Its metrics: names (`http_requests_total`, shown for the service) or PromQL.
    pub metrics: Vec<String>,
    /// The uid of the Grafana data source that holds them (a Prometheus scraping aiops too).
    pub datasource_uid: String,
    /// The folder to save it in (the General folder when absent).
    #[serde(default)]
    pub folder_uid: Option<String>,
}

/// The dashboard Grafana saved.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DashboardView {
    /// Its uid.
    pub uid: String,
    /// Its path in Grafana.
    pub url: String,
    /// Its version after this save.
    pub version: u64,
}

/// Creates or updates the dashboard of `req.service` in the Grafana integration `name`.
pub async fn upsert_dashboard(
    router: &Router,
    name: &str,
    req: &DashboardRequest,
) -> Result<DashboardView> {
    let integration = router
        .integrations()
        .get(name)
        .ok_or_else(|| ServiceError::NotFound {
            kind: "integration".into(),
            id: name.to_string(),
        })?;
    let grafana = integration.grafana.as_ref().ok_or_else(|| {
        ServiceError::invalid_parameter("name", format!("{name:?} is not a grafana integration"))
    })?;
    let saved = grafana
        .upsert_service_dashboard(
            &req.service,
            &req.metrics,
            &req.datasource_uid,
            req.folder_uid.as_deref().unwrap_or(""),
        )
        .await?;
    Ok(DashboardView {
        uid: saved.uid,
        url: saved.url,
        version: saved.version,
    })
}
