#![doc = include_str!("../README.md")]

pub mod alert_correlation;
pub mod alert_storm;
pub mod error;
pub mod loghub;
pub mod logs_anomaly;
pub mod m4;
pub mod nab;

pub use error::{EvalError, Result};
