//! Which departures from normal count: above, below or both.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{DetectError, Result};

/// Which departures count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Above or below.
    #[default]
    Both,
    /// Above only (latency, error rate).
    Up,
    /// Below only (throughput, free space).
    Down,
}

impl FromStr for Direction {
    type Err = DetectError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "both" => Ok(Direction::Both),
            "up" => Ok(Direction::Up),
            "down" => Ok(Direction::Down),
            _ => Err(DetectError::InvalidParameter {
                name: "direction",
                reason: format!("{s:?} is not one of both, up, down"),
            }),
        }
    }
}

/// A robust z-score of `x` against `median` and robust σ `sigma`, with the bounds at
/// `k` σ, for a direction. Returns (score, lower, upper).
pub(crate) fn directed(
    x: f64,
    center: f64,
    sigma: f64,
    k: f64,
    direction: Direction,
) -> (f64, Option<f64>, Option<f64>) {
    let z = ((x - center) / sigma).clamp(-f64::MAX, f64::MAX);
    match direction {
        Direction::Both => (z.abs(), Some(center - k * sigma), Some(center + k * sigma)),
        Direction::Up => (z.max(0.0), None, Some(center + k * sigma)),
        Direction::Down => ((-z).max(0.0), Some(center - k * sigma), None),
    }
}

crate::detector::plain_set_arg!(Direction);
