#![doc = include_str!("../README.md")]

pub mod causal;
pub mod error;
pub mod rank;
pub mod runbook;
#[cfg(test)]
mod testing;

pub use error::{RcaError, Result};
