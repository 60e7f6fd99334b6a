#![doc = include_str!("../README.md")]

pub mod alert_correlation;
pub mod alert_storm;
pub mod causal_discovery;
pub mod dag_sim;
pub mod error;
pub mod events;
pub mod forecast_family;
pub mod loghub;
pub mod logs_anomaly;
pub mod m4;
pub mod microservice_sim;
pub mod nab;
pub mod progress;
pub mod rca_ranking;
pub mod rng;
pub mod synthetic;

pub use error::{EvalError, Result};
pub use progress::{Progress, no_progress};
pub use rng::SimRng;
