#![doc = include_str!("../README.md")]

pub mod error;
pub mod m4;
pub mod nab;

pub use error::{EvalError, Result};
