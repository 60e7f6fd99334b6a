//! Timestamps: every time in aiops is an `i64` count of milliseconds since the Unix epoch (UTC).
//!
//! Parsing accepts the spellings operators meet: RFC 3339 (`2024-01-02T03:04:05.678Z`), the NAB
//! style `YYYY-MM-DD HH:MM:SS` (taken as UTC), and unix seconds or milliseconds. A bare number
//! is read as milliseconds when its magnitude is at least 10^11 (10^11 s is the year 5138, 10^11
//! ms is 1973), otherwise as seconds, and fractional seconds are kept to the millisecond.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

use crate::error::{CoreError, Result};

pub mod duration;

pub use duration::{Duration, Horizon};

/// Milliseconds since the Unix epoch, UTC.
pub type TimestampMs = i64;

/// Magnitude from which a bare number is taken as milliseconds rather than seconds.
pub const MILLIS_THRESHOLD: f64 = 1e11;

/// How a timestamp was written, so output can be written the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampFormat {
    /// RFC 3339, e.g. `2024-01-02T03:04:05Z`.
    Rfc3339,
    /// `YYYY-MM-DD HH:MM:SS` (UTC), as in the NAB data.
    DateTime,
    /// Unix seconds, possibly fractional.
    UnixSeconds,
    /// Unix milliseconds.
    UnixMillis,
}

impl TimestampFormat {
    /// The spelling in words, for messages: `RFC 3339`, `date and time (YYYY-MM-DD HH:MM:SS)`,
    /// `unix seconds`, `unix milliseconds`.
    pub fn describe(self) -> &'static str {
        match self {
            TimestampFormat::Rfc3339 => "RFC 3339",
            TimestampFormat::DateTime => "date and time (YYYY-MM-DD HH:MM:SS)",
            TimestampFormat::UnixSeconds => "unix seconds",
            TimestampFormat::UnixMillis => "unix milliseconds",
        }
    }
}

impl std::fmt::Display for TimestampFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// Parses one timestamp in any accepted spelling; returns it with the format detected.
pub fn parse_timestamp(text: &str) -> Result<(TimestampMs, TimestampFormat)> {
    let t = text.trim();
    let bad = || CoreError::InvalidTimestamp {
        text: text.to_string(),
    };
    if t.is_empty() {
        return Err(bad());
    }
    let first = t.as_bytes()[0];
    if t.len() >= 10 && t.as_bytes().get(4) == Some(&b'-') {
        if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
            return Ok((dt.timestamp_millis(), TimestampFormat::Rfc3339));
        }
        for fmt in [
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
        ] {
            if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
                return Ok((dt.and_utc().timestamp_millis(), TimestampFormat::DateTime));
            }
        }
        return Err(bad());
    }
    if first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.' {
        let n: f64 = t.parse().map_err(|_| bad())?;
        return number_to_ms(n).ok_or_else(bad);
    }
    Err(bad())
}

/// Interprets a bare number as seconds or milliseconds (see the module docs).
pub fn number_to_ms(n: f64) -> Option<(TimestampMs, TimestampFormat)> {
    if !n.is_finite() {
        return None;
    }
    let (ms, fmt) = if n.abs() >= MILLIS_THRESHOLD {
        (n.round(), TimestampFormat::UnixMillis)
    } else {
        ((n * 1000.0).round(), TimestampFormat::UnixSeconds)
    };
    // i64 ms covers +-292 million years; anything beyond is not a timestamp.
    if ms.abs() > 9.0e15 {
        return None;
    }
    Some((ms as i64, fmt))
}

/// Formats a timestamp for people, in UTC: `YYYY-MM-DD HH:MM:SS`, with `.mmm` when it has
/// milliseconds. What tables and error messages show (JSON and CSV outputs keep the input's
/// spelling, see [`format_timestamp`]).
pub fn format_datetime(ms: TimestampMs) -> String {
    format_timestamp(ms, TimestampFormat::DateTime)
}

/// Formats a timestamp as RFC 3339 in UTC with millisecond precision (`...T03:04:05.678Z`).
pub fn format_rfc3339(ms: TimestampMs) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => ms.to_string(),
    }
}

/// Formats a timestamp in the given format.
pub fn format_timestamp(ms: TimestampMs, format: TimestampFormat) -> String {
    match format {
        TimestampFormat::Rfc3339 => format_rfc3339(ms),
        TimestampFormat::DateTime => match DateTime::<Utc>::from_timestamp_millis(ms) {
            Some(dt) if ms % 1000 == 0 => dt.format("%Y-%m-%d %H:%M:%S").to_string(),
            Some(dt) => dt.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
            None => ms.to_string(),
        },
        TimestampFormat::UnixSeconds if ms % 1000 == 0 => (ms / 1000).to_string(),
        TimestampFormat::UnixSeconds => format!("{}", ms as f64 / 1000.0),
        TimestampFormat::UnixMillis => ms.to_string(),
    }
}

/// The median spacing of `timestamps` (ms): the step of a regularly sampled series, robust to
/// a few gaps. `None` for fewer than two timestamps.
pub fn median_step(timestamps: &[TimestampMs]) -> Option<i64> {
    let mut d: Vec<i64> = timestamps.windows(2).map(|w| w[1] - w[0]).collect();
    if d.is_empty() {
        return None;
    }
    d.sort_unstable();
    Some(d[d.len() / 2])
}

/// The `n` timestamps that follow `timestamps` at its [`median_step`]: where a forecast's
/// steps fall. `None` for fewer than two timestamps.
pub fn next_timestamps(timestamps: &[TimestampMs], n: usize) -> Option<Vec<TimestampMs>> {
    let step = median_step(timestamps)?;
    let last = *timestamps.last()?;
    Some((1..=n as i64).map(|h| last + h * step).collect())
}

/// Serde helpers: a timestamp in ms written as an RFC 3339 string; read from RFC 3339, the NAB
/// style, or a number of seconds / milliseconds.
pub mod serde_rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    use super::{TimestampMs, format_rfc3339, number_to_ms, parse_timestamp};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(i64),
        Float(f64),
        Text(String),
    }

    fn to_ms<E: serde::de::Error>(raw: Raw) -> Result<TimestampMs, E> {
        match raw {
            Raw::Int(i) => number_to_ms(i as f64)
                .map(|(ms, _)| ms)
                .ok_or_else(|| E::custom(format!("invalid timestamp {i}"))),
            Raw::Float(f) => number_to_ms(f)
                .map(|(ms, _)| ms)
                .ok_or_else(|| E::custom(format!("invalid timestamp {f}"))),
            Raw::Text(s) => parse_timestamp(&s)
                .map(|(ms, _)| ms)
                .map_err(|e| E::custom(e.to_string())),
        }
    }

    /// Writes `ms` as RFC 3339.
    pub fn serialize<S: Serializer>(ms: &TimestampMs, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_rfc3339(*ms))
    }

    /// Reads a timestamp in any accepted spelling.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TimestampMs, D::Error> {
        to_ms(Raw::deserialize(d).map_err(|_| {
            D::Error::custom("expected a timestamp (RFC 3339 string or unix seconds/ms)")
        })?)
    }

    /// The same for an optional timestamp; `null`, a missing field and Alertmanager's zero time
    /// (`0001-01-01T00:00:00Z`) all mean "not set".
    pub mod option {
        use super::*;

        /// Writes `Some(ms)` as RFC 3339 and `None` as `null`.
        pub fn serialize<S: Serializer>(v: &Option<TimestampMs>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(ms) => s.serialize_str(&format_rfc3339(*ms)),
                None => s.serialize_none(),
            }
        }

        /// Reads an optional timestamp.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<TimestampMs>, D::Error> {
            let raw: Option<Raw> = Option::deserialize(d).map_err(|_| {
                D::Error::custom("expected a timestamp (RFC 3339 string or unix seconds/ms)")
            })?;
            match raw {
                None => Ok(None),
                Some(Raw::Text(s)) if s.is_empty() || s.starts_with("0001-01-01") => Ok(None),
                Some(r) => to_ms(r).map(Some),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling() {
        let want = 1_388_538_000_000; // 2014-01-01 01:00:00 UTC
        assert_eq!(
            parse_timestamp("2014-01-01 01:00:00").unwrap(),
            (want, TimestampFormat::DateTime)
        );
        assert_eq!(
            parse_timestamp("2014-01-01T01:00:00Z").unwrap(),
            (want, TimestampFormat::Rfc3339)
        );
        assert_eq!(
            parse_timestamp("2014-01-01T03:00:00+02:00").unwrap().0,
            want
        );
        assert_eq!(
            parse_timestamp("1388538000").unwrap(),
            (want, TimestampFormat::UnixSeconds)
        );
        assert_eq!(parse_timestamp("1388538000.5").unwrap().0, want + 500);
        assert_eq!(
            parse_timestamp("1388538000000").unwrap(),
            (want, TimestampFormat::UnixMillis)
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "abc", "2014-13-01 00:00:00", "12:00", "nan", "1e300"] {
            assert!(
                matches!(
                    parse_timestamp(bad),
                    Err(CoreError::InvalidTimestamp { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn steps_of_a_series() {
        let ts = [0, 3_600_000, 7_200_000, 14_400_000];
        assert_eq!(median_step(&ts), Some(3_600_000));
        assert_eq!(median_step(&ts[..1]), None);
        assert_eq!(next_timestamps(&ts, 2), Some(vec![18_000_000, 21_600_000]));
        assert_eq!(next_timestamps(&[5], 2), None);
    }

    #[test]
    fn formats_round_trip() {
        for fmt in [
            TimestampFormat::Rfc3339,
            TimestampFormat::DateTime,
            TimestampFormat::UnixSeconds,
            TimestampFormat::UnixMillis,
        ] {
            for ms in [0, 1_388_538_000_000, 1_388_538_000_250] {
                let text = format_timestamp(ms, fmt);
                assert_eq!(parse_timestamp(&text).unwrap().0, ms, "{fmt:?} {text}");
            }
        }
        assert_eq!(
            format_rfc3339(1_388_538_000_000),
            "2014-01-01T01:00:00.000Z"
        );
    }
}
