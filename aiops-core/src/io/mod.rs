//! Reading series from the formats operators have at hand.
//!
//! - [`csv`]: `timestamp,value` (NAB style) and wide `timestamp,<col>,<col>...` CSV.
//! - [`jsonl`]: one JSON object per line, `{"timestamp": ..., "value": ..., "labels": {...}}`.
//! - [`prometheus`]: the JSON of Prometheus' `/api/v1/query_range` (a matrix);
//! - [`file`](mod@file): any of them by file extension ([`read_path`]), and [`read_values`] for one
//!   series' values, with or without timestamps.
//!
//! Every reader reports malformed input with its 1-based line number and never drops a point
//! silently: a missing value is an error unless [`ReadOptions::allow_missing`] turns it into a
//! NaN gap, and out-of-order timestamps are an error unless [`ReadOptions::sort`] says how to
//! sort and de-duplicate.

pub mod csv;
pub mod file;
pub mod jsonl;
pub mod prometheus;

pub use file::{FileSeries, Values, read_path, read_values};

use crate::series::DedupPolicy;

/// Options shared by the readers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Read empty, `NaN` and `null` values as NaN gaps instead of refusing them.
    /// Infinite values are always refused.
    pub allow_missing: bool,
    /// `None`: timestamps must strictly increase, in file order. `Some(policy)`: points are
    /// sorted by time and duplicates resolved by `policy`.
    pub sort: Option<DedupPolicy>,
}

/// What every reader says of bytes that are not UTF-8 text, after its `CSV line N` /
/// `JSON line N`.
pub(crate) const INVALID_UTF8: &str = "not UTF-8 text (is this a text file?)";

/// The text of a file, or `bad_utf8(line, message)` naming the line of the first byte that is
/// not UTF-8 (one message for every reader).
pub(crate) fn read_text(
    path: &std::path::Path,
    bad_utf8: impl Fn(u64, String) -> crate::CoreError,
) -> crate::Result<String> {
    let bytes = std::fs::read(path)?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        bad_utf8(line, INVALID_UTF8.to_string())
    })
}

/// Parses a value cell. Returns `Err(message)` for a value that is not acceptable.
pub(crate) fn parse_value(text: &str, opts: &ReadOptions) -> Result<f64, String> {
    let t = text.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("nan") || t == "null" {
        return if opts.allow_missing {
            Ok(f64::NAN)
        } else {
            Err(format!(
                "missing value {t:?}: every point needs a number (fill it in or delete the line)"
            ))
        };
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("value {t:?} is not finite")),
        Err(_) => Err(format!("value {t:?} is not a number")),
    }
}
