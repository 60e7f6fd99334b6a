#![doc = include_str!("../README.md")]

pub mod error;
pub mod ets;
pub mod model;
pub mod naive;
mod optim;
pub mod stats;

pub use error::{ForecastError, Result};
pub use ets::{ErrorKind, Ets, EtsParams, EtsSpec, FittedEts, SeasonKind, TrendKind};
pub use model::{FittedModel, Model, Prediction};
pub use naive::{FittedSeasonalNaive, SeasonalNaive};
