//! Alert correlation with Alertmanager's semantics: matchers, dedup, inhibition, silences,
//! routing and grouping timers. A pure library: every call takes the current time, so runs
//! are deterministic, and all state serializes with serde.

pub mod dedup;
pub mod engine;
pub mod eval;
pub mod grouping;
pub mod incidents;
pub mod inhibit;
pub mod input;
pub mod matchers;
pub mod route;
pub mod scenario;
pub mod silence;
pub mod time_interval;

pub use aiops_core::time::Duration;
pub use dedup::{DedupOutcome, DedupParams, Deduplicator};
pub use engine::{Config, Engine, EngineState, Ingested, Report, Stats, correlate_batch};
pub use grouping::{Batch, Grouper, Mute, NoMute};
pub use incidents::{
    CorrelationParams, CorrelationRule, Correlator, ResolvePolicy, TopologyParams,
};
pub use inhibit::{InhibitRule, Inhibitor, SourceIndex};
pub use input::parse_alerts;
pub use matchers::{MatchOp, Matcher, Matchers};
pub use route::{GroupBy, Route, RouteConfig};
pub use silence::{MaintenanceWindow, Silence, Silences};
pub use time_interval::{NamedTimeIntervalConfig, TimeIntervalConfig, TimeIntervals};
