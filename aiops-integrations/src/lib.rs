#![doc = include_str!("../README.md")]

pub mod alertmanager;
pub mod bus;
pub mod error;
pub mod http;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod nats;
pub mod prometheus;
pub mod remote_write;
pub mod template;
pub mod traits;

pub use error::{IntegrationError, Result};
