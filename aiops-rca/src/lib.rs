#![doc = include_str!("../README.md")]

pub mod causal;
pub mod error;
pub mod rank;
pub mod runbook;

pub use error::{RcaError, Result};
