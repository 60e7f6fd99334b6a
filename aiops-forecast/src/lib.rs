#![doc = include_str!("../README.md")]

pub mod error;
pub mod model;
pub mod naive;

pub use error::{ForecastError, Result};
pub use model::{FittedModel, Model, Prediction};
pub use naive::{FittedSeasonalNaive, SeasonalNaive};
