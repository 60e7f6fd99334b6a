//! Parameter checks shared by the detectors, each a typed [`DetectError::InvalidParameter`]
//! naming the parameter.

use crate::common::FitMode;
use crate::error::{DetectError, Result};

/// Checks a window size (at least `least` points) and its `min_periods` (default: the
/// window); shared by the windowed detectors of this crate. Returns `min_periods`.
pub(crate) fn check_window(
    window: usize,
    min_periods: Option<usize>,
    least: usize,
) -> Result<usize> {
    check_min_points("window", window, least)?;
    let min_periods = min_periods.unwrap_or(window);
    if !(least..=window).contains(&min_periods) {
        return Err(DetectError::InvalidParameter {
            name: "min_periods",
            reason: format!("must be in {least}..={window}, got {min_periods}"),
        });
    }
    Ok(min_periods)
}

/// Checks a count of points (a window, a warm-up) of at least `least`.
pub(crate) fn check_min_points(name: &'static str, value: usize, least: usize) -> Result<()> {
    if value < least {
        return Err(DetectError::InvalidParameter {
            name,
            reason: format!("must be at least {least} points, got {value}"),
        });
    }
    Ok(())
}

/// Checks that with `fit = once` a `min_periods`, if set, is the window: what is fitted
/// once (`what`: the fences, the bounds) is fitted on exactly `window` points.
pub(crate) fn check_once_min_periods(
    fit: FitMode,
    min_periods: Option<usize>,
    window: usize,
    what: &str,
) -> Result<()> {
    if fit == FitMode::Once && min_periods.is_some_and(|m| m != window) {
        return Err(DetectError::InvalidParameter {
            name: "min_periods",
            reason: format!("with fit = once the {what} are fitted on exactly `window` points"),
        });
    }
    Ok(())
}

/// Checks a positive, finite factor.
pub(crate) fn check_positive(name: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(DetectError::InvalidParameter {
            name,
            reason: format!("must be a positive number, got {value}"),
        })
    }
}

/// Checks a history length and its `min_periods` for a [`DiffFence`] (at least 4 values, so
/// quartiles mean something). Returns `min_periods`.
pub(crate) fn check_history(history: usize, min_periods: Option<usize>) -> Result<usize> {
    if history < 4 {
        return Err(DetectError::InvalidParameter {
            name: "history",
            reason: format!("must be at least 4 values, got {history}"),
        });
    }
    let min_periods = min_periods.unwrap_or(history);
    if !(4..=history).contains(&min_periods) {
        return Err(DetectError::InvalidParameter {
            name: "min_periods",
            reason: format!("must be in 4..={history}, got {min_periods}"),
        });
    }
    Ok(min_periods)
}
