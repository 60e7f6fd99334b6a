//! When a detector fits its bounds: once on the first window, or on a rolling window.

use serde::{Deserialize, Serialize};

/// When bounds are fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FitMode {
    /// At every point, on the `window` points before it.
    Rolling,
    /// Once, on the first `window` points; kept afterwards.
    #[default]
    Once,
}

crate::detector::plain_set_arg!(FitMode);
