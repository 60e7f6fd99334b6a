#![doc = include_str!("../README.md")]

pub mod alertmanager;
pub mod error;

pub use error::{IntegrationError, Result};
