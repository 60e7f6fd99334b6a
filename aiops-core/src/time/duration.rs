//! Durations: the one parser of spans of time in aiops (`30s`, `5m`, `1h30m`, `1.5h`, `7d`),
//! used by the alert configuration, the log detector's windows and the forecast horizon.
//!
//! Syntax (the union of what those inputs have accepted):
//! - one or more terms `<number><unit>`, units from largest to smallest, each at most once
//!   (Prometheus' `model.ParseDuration`, as Alertmanager's configuration writes them);
//! - units `y` (365 days), `w`, `d`, `h`, `m` (or `min`), `s`, `ms`;
//! - a number is digits with an optional decimal fraction (`1.5h`, `.5d`);
//! - `0` alone is zero; surrounding whitespace, whitespace between a number and its unit and
//!   a leading `+` are allowed.
//!
//! The value is rounded to the millisecond. What a bare number means is the caller's choice
//! (the forecast horizon reads it as steps, the log window as seconds, see [`Horizon`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{CoreError, Result};

/// A span of time, in milliseconds, read and written as `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Duration(pub i64);

/// Unit names with their length (ms) and rank (larger rank = smaller unit; `m` and `min` share
/// one). The first spelling of each rank is the one [`Duration`]'s `Display` writes.
const UNITS: [(&str, i64, u8); 8] = [
    ("y", 365 * 24 * 3_600_000, 0),
    ("w", 7 * 24 * 3_600_000, 1),
    ("d", 24 * 3_600_000, 2),
    ("h", 3_600_000, 3),
    ("m", 60_000, 4),
    ("min", 60_000, 4),
    ("s", 1_000, 5),
    ("ms", 1, 6),
];

impl Duration {
    /// A duration of `s` seconds.
    pub const fn from_secs(s: i64) -> Self {
        Self(s * 1_000)
    }
    /// A duration of `m` minutes.
    pub const fn from_mins(m: i64) -> Self {
        Self(m * 60_000)
    }
    /// A duration of `h` hours.
    pub const fn from_hours(h: i64) -> Self {
        Self(h * 3_600_000)
    }
    /// The length in milliseconds.
    pub const fn as_millis(self) -> i64 {
        self.0
    }
}

/// Reads the digits (and optional fraction) starting at byte `i`; returns where they end.
fn number_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
    }
    i
}

impl FromStr for Duration {
    type Err = CoreError;

    /// Parses a duration (see the module docs); an error names the text and the problem.
    fn from_str(text: &str) -> Result<Self> {
        let bad = |reason: &str| CoreError::InvalidDuration {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = text.trim();
        let body = trimmed.strip_prefix('+').unwrap_or(trimmed);
        if body == "0" {
            return Ok(Duration(0));
        }
        if body.is_empty() {
            return Err(bad("empty"));
        }
        let bytes = body.as_bytes();
        let (mut i, mut whole, mut fraction, mut last_rank) = (0usize, 0i64, 0f64, None::<u8>);
        while i < bytes.len() {
            let start = i;
            i = number_end(bytes, i);
            let number = &body[start..i];
            if !number.bytes().any(|b| b.is_ascii_digit()) {
                return Err(bad("expected a number"));
            }
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let ustart = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let unit = &body[ustart..i];
            let Some(&(_, unit_ms, rank)) = UNITS.iter().find(|(u, _, _)| *u == unit) else {
                return Err(bad(
                    "unknown or missing unit (use y, w, d, h, m or min, s, ms)",
                ));
            };
            if last_rank.is_some_and(|l| l >= rank) {
                return Err(bad("units must appear once each, from largest to smallest"));
            }
            last_rank = Some(rank);
            if number.contains('.') {
                let n: f64 = number.parse().map_err(|_| bad("expected a number"))?;
                fraction += n * unit_ms as f64;
            } else {
                whole = number
                    .parse::<i64>()
                    .ok()
                    .and_then(|n| n.checked_mul(unit_ms))
                    .and_then(|v| whole.checked_add(v))
                    .ok_or_else(|| bad("too large"))?;
            }
        }
        let fraction = fraction.round();
        if !fraction.is_finite() || fraction >= i64::MAX as f64 {
            return Err(bad("too large"));
        }
        whole
            .checked_add(fraction as i64)
            .map(Duration)
            .ok_or_else(|| bad("too large"))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (unit, ms, _) in UNITS {
            if unit != "min" && rest >= ms {
                write!(f, "{}{unit}", rest / ms)?;
                rest %= ms;
            }
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// How far ahead to look: a number of steps (`48`) or a duration (`6h`, `7d`) that a series'
/// step turns into steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Horizon {
    /// This many steps (at least 1).
    Steps(usize),
    /// This long.
    Duration(Duration),
}

impl FromStr for Horizon {
    type Err = CoreError;

    /// A bare integer is steps; anything else is a [`Duration`]. Refused: zero steps
    /// ([`CoreError::InvalidParameter`] named `horizon`) and what is not a duration
    /// ([`CoreError::InvalidDuration`]).
    fn from_str(text: &str) -> Result<Self> {
        if let Ok(n) = text.parse::<usize>() {
            return if n == 0 {
                Err(CoreError::InvalidParameter {
                    name: "horizon",
                    reason: "must be at least 1 step".into(),
                })
            } else {
                Ok(Horizon::Steps(n))
            };
        }
        text.parse().map(Horizon::Duration)
    }
}

impl Horizon {
    /// The number of steps: a duration is divided by `step_ms` (the series' step, see
    /// [`crate::time::median_step`]) and rounded up. Errors
    /// ([`CoreError::InvalidParameter`] named `horizon`) for a duration without a positive
    /// step and for a duration shorter than one step.
    pub fn steps(self, step_ms: Option<i64>) -> Result<usize> {
        let bad = |reason: &str| CoreError::InvalidParameter {
            name: "horizon",
            reason: reason.into(),
        };
        match self {
            Horizon::Steps(n) => Ok(n),
            Horizon::Duration(d) => {
                let step = step_ms
                    .filter(|s| *s > 0)
                    .ok_or_else(|| bad("a duration needs timestamps in the input; give steps"))?;
                let steps = (d.as_millis() as f64 / step as f64).ceil();
                if steps.is_nan() || steps < 1.0 {
                    return Err(bad("shorter than one step"));
                }
                Ok(steps as usize)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        text.parse::<Duration>().unwrap().0
    }

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!("30s".parse::<Duration>().unwrap(), Duration::from_secs(30));
        assert_eq!("5m".parse::<Duration>().unwrap(), Duration::from_mins(5));
        assert_eq!("4h".parse::<Duration>().unwrap(), Duration::from_hours(4));
        assert_eq!(ms("1h30m"), 5_400_000);
        assert_eq!("1d".parse::<Duration>().unwrap(), Duration::from_hours(24));
        assert_eq!(ms("250ms"), 250);
        assert_eq!(ms("0"), 0);
        assert_eq!(ms("1y2w3d4h5m6s7ms"), 33_019_506_007);
        for bad in [
            "", "5", "m", "5x", "30m1h", "1h1h", "5m5min", "-5m", "1e3h", "1.5.h", ".",
        ] {
            assert!(
                matches!(
                    bad.parse::<Duration>(),
                    Err(CoreError::InvalidDuration { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn accepts_the_other_spellings_aiops_took() {
        // Forecast horizons: fractions, `min`, a sign; log windows: whitespace.
        assert_eq!(ms("1.5h"), 5_400_000);
        assert_eq!(ms(".5d"), 43_200_000);
        assert_eq!(ms("2.m"), 120_000);
        assert_eq!(ms("90min"), 5_400_000);
        assert_eq!(ms("+6h"), 21_600_000);
        assert_eq!(ms(" 60 s "), 60_000);
        assert_eq!(ms("2w"), 14 * 86_400_000);
        assert_eq!(ms("0.0004s"), 0);
    }

    #[test]
    fn display_round_trips() {
        for t in [
            "30s", "5m", "4h", "1h30m", "1d2h", "250ms", "0s", "1w", "1y",
        ] {
            let d: Duration = t.parse().unwrap();
            assert_eq!(d.to_string(), t);
        }
        assert_eq!("90min".parse::<Duration>().unwrap().to_string(), "1h30m");
    }

    #[test]
    fn horizons_in_steps_and_durations() {
        let hour = Some(3_600_000);
        let steps = |t: &str, step| t.parse::<Horizon>().and_then(|h| h.steps(step));
        assert_eq!(steps("48", hour).unwrap(), 48);
        assert_eq!(steps("48", None).unwrap(), 48);
        assert_eq!(steps("7d", hour).unwrap(), 168);
        assert_eq!(steps("90m", hour).unwrap(), 2);
        assert_eq!(steps("1.5h", hour).unwrap(), 2);
        assert!(steps("0", hour).is_err());
        assert!(steps("30s", Some(0)).is_err());
        assert!(steps("soon", hour).is_err());
        assert!(steps("7d", None).is_err());
        assert!(steps("0h", hour).is_err());
    }
}
