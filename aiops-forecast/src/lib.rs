#![doc = include_str!("../README.md")]

pub mod auto;
pub mod auto_ets;
pub mod average;
pub mod bounds;
pub mod capacity;
pub mod drift;
pub mod error;
pub mod ets;
mod level_shift;
pub mod linear_trend;
pub mod model;
pub mod mstl;
pub mod naive;
mod optim;
pub mod registry;
pub mod seasonality;
pub mod stats;
pub mod theta;
pub mod trend_test;

pub use auto::{Auto, FittedAuto};
pub use auto_ets::{AutoEts, FittedAutoEts};
pub use average::{FittedWindowAverage, WindowAverage};
pub use bounds::Bounds;
pub use drift::{Drift, FittedDrift};
pub use error::{ForecastError, Result};
pub use ets::{ErrorKind, Ets, EtsParams, EtsSpec, FittedEts, SeasonKind, TrendKind};
pub use linear_trend::{FittedLinearTrend, LinearTrend};
pub use model::{FittedModel, Model, Prediction};
pub use mstl::{FittedMstl, Mstl};
pub use naive::{FittedSeasonalNaive, SeasonalNaive};
pub use seasonality::SeasonalPeriod;
pub use theta::{FittedTheta, Theta, ThetaKind};
pub use trend_test::{TrendDirection, TrendTest, trend_test};
