#![doc = include_str!("../README.md")]

/// Builder methods that set fields of a parameter struct, one per `/// doc` `name: Type`
/// entry: `fields!(/// Tree depth.\n depth: usize, /// ...\n sim_threshold: f64);`.
macro_rules! fields {
    ($($(#[$doc:meta])* $name:ident: $t:ty),+ $(,)?) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: $t) -> Self {
                self.$name = value;
                self
            }
        )+
    };
}
pub(crate) use fields;

pub mod drain;
pub mod error;
pub mod format;
pub mod keywords;
pub mod lines;
pub mod log_detector;
pub mod mask;
pub mod parse;
pub mod timestamp;
mod token;
pub mod window_pca;

#[cfg(test)]
#[path = "../tests/support/synthetic_log.rs"]
mod synthetic_log;

pub use drain::{
    Change, DEFAULT_DEPTH, DEFAULT_MAX_CLUSTERS, DEFAULT_SIM_THRESHOLD, Drain, DrainParams,
    LEAF_CAPACITY, LearnOutcome, SECOND_CHANCE_SCAN, TemplateId, TemplateInfo, TemplateMiner,
    extract_parameters,
};
pub use error::{LogError, Result};
pub use format::LogFormat;
pub use lines::{LineReader, TextCheck, read_log_lines, split_lines};
pub use log_detector::{
    ClosedWindow, LineReport, LogDetector, LogDetectorParams, LogDetectorState, LogReport,
    LogStats, Reason, Signal, WindowReport, WindowSpec,
};
pub use mask::{MaskSpec, MaskedLine, Masker, to_loghub};
pub use parse::{LineIds, ParseSummary, learn_reader};
