//! Log intelligence: template mining and its evaluation.
//!
//! - [`format`]: header parsing with a loghub `log_format` string;
//! - [`mask`]: named masks (`<:IP:>`, `<:NUM:>`), user regexes and a fast built-in classifier;
//! - [`drain`]: the streaming Drain parser ([`DrainParams`] -> [`Drain`] -> [`TemplateMiner`]);
//! - [`eval`]: grouping and template accuracy against the loghub ground truth.

pub mod drain;
pub mod eval;
pub mod format;
pub mod mask;
mod token;

pub use drain::{
    Change, Drain, DrainParams, LearnOutcome, TemplateId, TemplateInfo, TemplateMiner,
    extract_parameters,
};
pub use format::LogFormat;
pub use mask::{MaskSpec, MaskedLine, Masker, to_loghub};
