#![doc = include_str!("../README.md")]

pub mod combine;
pub mod common;
pub mod control;
pub mod detector;
pub mod error;
pub mod learned;
pub mod multivariate;
pub mod registry;
pub mod robust;
pub mod seasonal;
pub mod shift;
pub mod statistical;

pub use combine::adaptive::{Adaptive, AdaptiveKernel, AdaptiveOnline, AdaptiveParams};
pub use combine::calibrated::{Calibrated, CalibratedKernel, CalibratedOnline, CalibratedParams};
pub use combine::ensemble::{Combine, Ensemble, EnsembleOnline, EnsembleParams, Member};
pub use combine::likelihood::{Likelihood, LikelihoodParams};
pub use common::suppression::{SuppressionParams, Suppressor};
pub use common::{Direction, FitMode};
pub use control::cusum::{Cusum, CusumKernel, CusumOnline, CusumParams};
pub use control::ewma::{Ewma, EwmaKernel, EwmaOnline, EwmaParams};
pub use detector::{
    Configured, Described, Detections, Detector, Kernel, OnlineDetector, ParamGuard, PointScore,
    Streaming, Streams,
};
pub use error::{DetectError, Result};
pub use learned::contextual::{Contextual, ContextualKernel, ContextualOnline, ContextualParams};
pub use learned::discord::{Discord, DiscordKernel, DiscordNorm, DiscordOnline, DiscordParams};
pub use learned::extremes_contextual::{
    ExtremesContextual, ExtremesContextualKernel, ExtremesContextualOnline,
    ExtremesContextualParams,
};
pub use learned::isolation_forest::{
    IsolationForest, IsolationForestKernel, IsolationForestOnline, IsolationForestParams,
};
pub use learned::novelty::{Novelty, NoveltyKernel, NoveltyOnline, NoveltyParams};
pub use learned::random_cut_forest::{
    RandomCutForest, RandomCutForestKernel, RandomCutForestOnline, RandomCutForestParams,
};
pub use multivariate::mahalanobis::{Mahalanobis, MahalanobisOnline, MahalanobisParams};
pub use multivariate::pca::{Pca, PcaOnline, PcaParams};
pub use multivariate::{MultivariateDetector, MultivariateOnline};
pub use registry::{DETECTORS, DetectorInfo};
pub use robust::hampel::{Hampel, HampelKernel, HampelOnline, HampelParams};
pub use robust::mad::{Mad, MadKernel, MadOnline, MadParams};
pub use seasonal::profile::{Seasonal, SeasonalKernel, SeasonalOnline, SeasonalParams};
pub use seasonal::seasonal_esd::{
    SeasonalEsd, SeasonalEsdKernel, SeasonalEsdOnline, SeasonalEsdParams,
};
pub use seasonal::spectral_residual::{
    SpectralResidual, SpectralResidualKernel, SpectralResidualOnline, SpectralResidualParams,
};
pub use seasonal::stl::{Stl, StlKernel, StlOnline, StlParams};
pub use shift::bocpd::{Bocpd, BocpdKernel, BocpdOnline, BocpdParams};
pub use shift::level_shift::{LevelShift, LevelShiftKernel, LevelShiftOnline, LevelShiftParams};
pub use shift::persist::{Agg, Persist, PersistKernel, PersistOnline, PersistParams};
pub use shift::volatility_shift::{
    VolatilityShift, VolatilityShiftKernel, VolatilityShiftOnline, VolatilityShiftParams,
};
pub use statistical::esd::{Esd, EsdKernel, EsdOnline, EsdParams};
pub use statistical::iqr::{Iqr, IqrKernel, IqrOnline, IqrParams};
pub use statistical::quantile::{Quantile, QuantileKernel, QuantileOnline, QuantileParams};
pub use statistical::threshold::{Threshold, ThresholdKernel, ThresholdOnline, ThresholdParams};
pub use statistical::windowed_gaussian::{
    WindowedGaussian, WindowedGaussianKernel, WindowedGaussianOnline, WindowedGaussianParams,
};
pub use statistical::zscore::{
    RollingZScore, RollingZScoreOnline, RollingZScoreParams, ZScoreKernel,
};
