//! Log intelligence: template mining, log anomaly detection and their evaluation.
//!
//! - [`format`]: header parsing with a loghub `log_format` string;
//! - [`mask`]: named masks (`<:IP:>`, `<:NUM:>`), user regexes and a fast built-in classifier;
//! - [`drain`]: the streaming Drain parser ([`DrainParams`] -> [`Drain`] -> [`TemplateMiner`]);
//! - [`eval`]: grouping and template accuracy against the loghub ground truth;
//! - [`timestamp`]: line times from the header fields;
//! - [`keywords`]: error, exception, warning, fatal and failure words;
//! - [`pca`]: PCA reconstruction error (SPE, Q statistic) of per-window template counts;
//! - [`detect`]: the windowed log anomaly detector ([`LogDetectorParams`] -> [`LogDetector`]
//!   -> [`LogDetectorState`]);
//! - [`anomaly_eval`]: line-level precision, recall and F1 on labelled loghub systems (BGL).

pub mod anomaly_eval;
pub mod detect;
pub mod drain;
pub mod eval;
pub mod format;
pub mod keywords;
pub mod mask;
pub mod pca;
pub mod timestamp;
mod token;

pub use detect::{
    ClosedWindow, LineReport, LogDetector, LogDetectorParams, LogDetectorState, LogReport,
    LogStats, Reason, Signal, WindowReport, WindowSpec,
};
pub use drain::{
    Change, Drain, DrainParams, LearnOutcome, TemplateId, TemplateInfo, TemplateMiner,
    extract_parameters,
};
pub use format::LogFormat;
pub use mask::{MaskSpec, MaskedLine, Masker, to_loghub};
