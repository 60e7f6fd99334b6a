#![doc = include_str!("../README.md")]

pub mod alertmanager;
pub mod alertmanager_client;
pub mod bus;
pub mod dingtalk;
pub mod elasticsearch;
pub mod email;
pub mod error;
pub mod grafana;
pub mod http;
pub mod jira;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod nats;
pub mod pagerduty;
pub mod prometheus;
pub mod registry;
pub mod remote_write;
pub mod servicenow;
pub mod slack;
pub mod template;
pub mod traits;
pub mod webhook;

pub use error::{IntegrationError, Result};
