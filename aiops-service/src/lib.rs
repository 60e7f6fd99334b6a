#![doc = include_str!("../README.md")]

pub mod access;
pub mod alerting;
pub mod alertmanager_api;
pub mod anomaly_api;
pub mod audit;
pub mod auth;
pub mod bus_pipeline;
pub mod capacity_api;
mod checkpoint;
pub mod config;
pub mod deliveries;
pub mod error;
pub mod events_api;
pub mod ha;
pub mod history;
pub mod ingest_api;
pub mod integrations_api;
pub mod knowledge_api;
pub mod log_pipeline;
pub mod log_sources;
pub mod metrics;
pub mod pii;
pub mod rate_limit;
pub mod rca_api;
mod residency;
pub mod retention;
pub mod rules;
mod series_cache;
pub mod service;
pub mod silence_sync;
pub mod telemetry;
#[cfg(test)]
mod testing;
pub mod topology_api;
mod worker;
pub mod workflow_host;
pub mod workflows;

pub use alerting::{
    AlertActionResult, AlertList, AlertPipeline, AlertQuery, AlertStreamEvent, AlertView,
    AlertsConfig, IncidentDetail, IncidentList, IncidentQuery, IncidentSummary, Masker,
    ReceiveReport, TickReport,
};
pub use audit::{AuditEvent, AuditKind, Outcome};
pub use auth::api_token::{
    ApiTokenRecord, Bearer, SecretToken, TokenHash, TokenRecordParts, parse_authorization,
};
pub use auth::jwt::{JwtConfig, JwtVerifier};
pub use auth::rbac::{AuthMethod, Permission, Principal, Role, allows};
pub use config::ServiceConfig;
pub use error::{ErrorBody, ErrorDetail, Result, ServiceError, TokenRejection};
pub use pii::{PiiConfig, PiiMasker, PiiPattern};
pub use service::Service;

/// The wall clock in ms since the Unix epoch (the service's time; the libraries take time
/// from their caller).
pub fn now_ms() -> aiops_core::TimestampMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
