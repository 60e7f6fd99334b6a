#![doc = include_str!("../README.md")]

pub mod alert;
pub mod anomaly;
pub mod error;
pub mod forecast;
pub mod incident;
pub mod io;
pub mod labels;
pub mod root_cause;
pub mod series;
pub mod severity;
pub mod stats;
pub mod time;
pub mod topology;
pub mod topology_graph;
pub mod yaml;

pub use alert::{Alert, AlertStatus, PostableAlert};
pub use anomaly::Anomaly;
pub use error::{CoreError, Result};
pub use forecast::{Forecast, ForecastInterval};
pub use incident::{Incident, IncidentStatus};
pub use labels::{Fingerprint, Labels};
pub use root_cause::RootCause;
pub use series::{Aggregation, DedupPolicy, FillPolicy, TimeSeries};
pub use severity::Severity;
pub use time::{TimestampFormat, TimestampMs};
pub use topology::{Edge, EdgeKind, Node, NodeKind, Topology};
pub use topology_graph::TopologyGraph;
