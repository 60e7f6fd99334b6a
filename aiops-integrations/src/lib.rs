#![doc = include_str!("../README.md")]

pub mod alertmanager;
pub mod alertmanager_client;
pub mod elasticsearch;
pub mod error;
pub mod grafana;
pub mod http;
pub mod prometheus;
pub mod remote_write;
pub mod template;
pub mod traits;

pub use error::{IntegrationError, Result};
