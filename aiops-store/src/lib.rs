#![doc = include_str!("../README.md")]

pub mod alerts;
pub mod anomalies;
pub mod deliveries;
pub mod error;
mod group;
pub mod logs;
pub mod records;
pub mod samples;
pub mod sessions;
mod sql;
pub mod store;
pub mod workflows;

pub use alerts::{
    AlertCommit, AlertFilter, AlertRow, ClusterLock, IncidentEvent, IncidentFilter, IncidentRow,
    IncidentUpdate, LoggedAlert,
};
pub use anomalies::{AnomalyFilter, AnomalyRow, NewAnomaly};
pub use deliveries::{DeliveryAttempt, DeliveryRow, NewDelivery};
pub use error::{Result, StoreError};
pub use logs::{
    LogAnomalyFilter, LogAnomalyRow, LogLineFilter, LogLineRow, LogStreamRow, LogTemplateRow,
    MinedLine, NewLogAnomaly, NewLogLine, NewLogStream,
};
pub use records::{AuditFilter, AuditRow, Document, EventRow, TokenRow};
pub use samples::{COMPACT_TX, NewSeries, SavedState, SeriesRow};
pub use sessions::{SessionLookup, SessionRow};
pub use store::{Backend, Durability, Store, StoreOptions};
pub use workflows::{WorkflowRow, WorkflowRunRow};

#[cfg(test)]
mod testing {
    use crate::{Store, StoreOptions};

    /// A fresh in-memory SQLite store with the schema applied.
    pub(crate) async fn memory() -> Store {
        Store::open("sqlite::memory:", &StoreOptions::default())
            .await
            .expect("in-memory store")
    }
}
