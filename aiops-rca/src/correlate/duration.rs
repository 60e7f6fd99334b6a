//! Prometheus-style durations (`30s`, `5m`, `4h`, `1h30m`, `1d`), as Alertmanager's
//! configuration writes them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{RcaError, Result};

/// A non-negative span of time, in milliseconds, read and written as `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Duration(pub i64);

const UNITS: [(&str, i64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
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

impl FromStr for Duration {
    type Err = RcaError;

    /// Parses like Prometheus' `model.ParseDuration`: units `y w d h m s ms`, each at most
    /// once and from largest to smallest; `0` alone is zero.
    fn from_str(text: &str) -> Result<Self> {
        let bad = |reason: &str| RcaError::InvalidDuration {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        if text == "0" {
            return Ok(Duration(0));
        }
        if text.is_empty() {
            return Err(bad("empty"));
        }
        let bytes = text.as_bytes();
        let (mut i, mut total, mut last_unit) = (0usize, 0i64, None::<usize>);
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if start == i {
                return Err(bad("expected a number"));
            }
            let n: i64 = text[start..i]
                .parse()
                .map_err(|_| bad("number too large"))?;
            let ustart = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let unit = &text[ustart..i];
            let Some(pos) = UNITS.iter().position(|(u, _)| *u == unit) else {
                return Err(bad("unknown or missing unit (use y, w, d, h, m, s, ms)"));
            };
            if last_unit.is_some_and(|l| l >= pos) {
                return Err(bad("units must appear once each, from largest to smallest"));
            }
            last_unit = Some(pos);
            total = n
                .checked_mul(UNITS[pos].1)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| bad("too large"))?;
        }
        Ok(Duration(total))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (unit, ms) in UNITS {
            if rest >= ms {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!("30s".parse::<Duration>().unwrap(), Duration::from_secs(30));
        assert_eq!("5m".parse::<Duration>().unwrap(), Duration::from_mins(5));
        assert_eq!("4h".parse::<Duration>().unwrap(), Duration::from_hours(4));
        assert_eq!("1h30m".parse::<Duration>().unwrap().0, 5_400_000);
        assert_eq!("1d".parse::<Duration>().unwrap(), Duration::from_hours(24));
        assert_eq!("250ms".parse::<Duration>().unwrap().0, 250);
        assert_eq!("0".parse::<Duration>().unwrap().0, 0);
        for bad in ["", "5", "m", "5x", "30m1h", "1h1h", "-5m", "1.5h", " 5m"] {
            assert!(
                matches!(
                    bad.parse::<Duration>(),
                    Err(RcaError::InvalidDuration { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for t in ["30s", "5m", "4h", "1h30m", "1d2h", "250ms", "0s"] {
            let d: Duration = t.parse().unwrap();
            assert_eq!(d.to_string(), t);
        }
    }
}
