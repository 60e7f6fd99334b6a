#![doc = include_str!("../README.md")]

pub mod dedup;
pub mod engine;
pub mod error;
pub mod grouping;
pub mod incidents;
pub mod inhibit;
pub mod matchers;
pub mod route;
mod shared;
pub mod silence;
#[cfg(test)]
mod testing;
pub mod time_interval;

pub use aiops_core::time::Duration;
pub use dedup::{DedupOutcome, DedupParams, Deduplicator};
pub use engine::{Config, Engine, EngineState, Ingested, Report, Stats, correlate_batch};
pub use error::{AlertError, Result};
pub use grouping::{Batch, Grouper, Mute, NoMute};
pub use incidents::{
    CorrelationParams, CorrelationRule, Correlator, ResolvePolicy, TopologyParams,
};
pub use inhibit::{InhibitRule, Inhibitor, SourceIndex};
pub use matchers::{MatchOp, Matcher, Matchers};
pub use route::{GroupBy, Route, RouteConfig};
pub use silence::{MaintenanceWindow, Silence, Silences};
pub use time_interval::{NamedTimeIntervalConfig, TimeIntervalConfig, TimeIntervals};
