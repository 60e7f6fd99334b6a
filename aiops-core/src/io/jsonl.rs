//! JSON lines: one point per line, `{"timestamp": ..., "value": ..., "labels": {...}}`.
//!
//! `timestamp` is RFC 3339, `YYYY-MM-DD HH:MM:SS`, or a number of unix seconds / milliseconds;
//! `value` a number (or `null` / `"NaN"` with [`ReadOptions::allow_missing`]); `labels` is
//! optional. Points are grouped into one series per distinct label set, in order of first
//! appearance. Blank lines are skipped.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::Deserialize;

use crate::error::{CoreError, Result};
use crate::io::{ReadOptions, parse_value};
use crate::labels::Labels;
use crate::series::TimeSeries;
use crate::time::{TimestampMs, number_to_ms, parse_timestamp};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    timestamp: serde_json::Value,
    value: serde_json::Value,
    #[serde(default)]
    labels: Labels,
}

fn json_err(line: u64, message: impl Into<String>) -> CoreError {
    CoreError::Json {
        line: Some(line),
        message: message.into(),
    }
}

fn timestamp_of(v: &serde_json::Value) -> Option<TimestampMs> {
    match v {
        serde_json::Value::Number(n) => n.as_f64().and_then(number_to_ms).map(|x| x.0),
        serde_json::Value::String(s) => parse_timestamp(s).ok().map(|x| x.0),
        _ => None,
    }
}

/// Reads JSON lines into one series per label set.
pub fn read_series<R: Read>(input: R, opts: &ReadOptions) -> Result<Vec<TimeSeries>> {
    struct Acc {
        labels: Labels,
        timestamps: Vec<TimestampMs>,
        values: Vec<f64>,
    }
    let mut groups: Vec<Acc> = Vec::new();
    let mut by_labels: HashMap<Labels, usize> = HashMap::new();
    for (i, line) in BufReader::new(input).lines().enumerate() {
        let n = i as u64 + 1;
        let line = line.map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => json_err(n, crate::io::INVALID_UTF8),
            _ => CoreError::Io(e),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let rec: Line = serde_json::from_str(&line).map_err(|e| CoreError::json(&e, Some(n)))?;
        let ms = timestamp_of(&rec.timestamp)
            .ok_or_else(|| json_err(n, format!("invalid timestamp {}", rec.timestamp)))?;
        let value = match &rec.value {
            serde_json::Value::Number(x) => x.as_f64().unwrap_or(f64::NAN),
            serde_json::Value::Null => parse_value("", opts).map_err(|m| json_err(n, m))?,
            serde_json::Value::String(s) => parse_value(s, opts).map_err(|m| json_err(n, m))?,
            other => return Err(json_err(n, format!("value {other} is not a number"))),
        };
        let gi = *by_labels.entry(rec.labels.clone()).or_insert_with(|| {
            groups.push(Acc {
                labels: rec.labels,
                timestamps: Vec::new(),
                values: Vec::new(),
            });
            groups.len() - 1
        });
        let g = &mut groups[gi];
        if opts.sort.is_none()
            && let Some(&prev) = g.timestamps.last()
            && ms <= prev
        {
            return Err(json_err(
                n,
                format!(
                    "timestamp {} is {} the previous point of series {}",
                    rec.timestamp,
                    if ms == prev {
                        "equal to"
                    } else {
                        "earlier than"
                    },
                    g.labels
                ),
            ));
        }
        g.timestamps.push(ms);
        g.values.push(value);
    }
    if groups.is_empty() {
        return Err(CoreError::Empty(
            "the JSON lines input has no points".into(),
        ));
    }
    groups
        .into_iter()
        .map(|g| match opts.sort {
            None => TimeSeries::new(g.labels, g.timestamps, g.values),
            Some(p) => TimeSeries::from_unsorted(g.labels, g.timestamps, g.values, p),
        })
        .collect()
}

/// Reads a JSON lines file.
pub fn read_series_path(path: impl AsRef<Path>, opts: &ReadOptions) -> Result<Vec<TimeSeries>> {
    let text = crate::io::read_text(path.as_ref(), json_err)?;
    read_series(text.as_bytes(), opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_labels() {
        let text = r#"{"timestamp": 1700000000, "value": 1, "labels": {"host": "a"}}
{"timestamp": "2023-11-14T22:13:20Z", "value": 5, "labels": {"host": "b"}}

{"timestamp": 1700000060000, "value": 2.5, "labels": {"host": "a"}}
"#;
        let s = read_series(text.as_bytes(), &ReadOptions::default()).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].labels().get("host"), Some("a"));
        assert_eq!(s[0].timestamps(), [1_700_000_000_000, 1_700_000_060_000]);
        assert_eq!(s[0].values(), [1.0, 2.5]);
        assert_eq!(s[1].values(), [5.0]);
    }

    #[test]
    fn malformed_lines_are_reported() {
        let line_of = |t: &str| match read_series(t.as_bytes(), &ReadOptions::default()) {
            Err(CoreError::Json { line, .. }) => line,
            other => panic!("expected JSON error, got {other:?}"),
        };
        assert_eq!(
            line_of("{\"timestamp\": 1, \"value\": 1}\n{\"timestamp\": 2"),
            Some(2)
        );
        assert_eq!(line_of("{\"timestamp\": \"x\", \"value\": 1}"), Some(1));
        assert_eq!(line_of("{\"timestamp\": 1, \"value\": \"abc\"}"), Some(1));
        assert_eq!(line_of("{\"timestamp\": 1, \"value\": null}"), Some(1));
        assert_eq!(line_of("{\"timestamp\": 1, \"value\": [1]}"), Some(1));
        assert_eq!(
            line_of("{\"timestamp\": 1, \"value\": 1, \"extra\": 0}"),
            Some(1)
        );
        assert_eq!(
            line_of("{\"timestamp\": 2, \"value\": 1}\n{\"timestamp\": 1, \"value\": 1}"),
            Some(2)
        );
        assert_eq!(
            line_of("{\"timestamp\": 1, \"value\": 1, \"labels\": {\"a-b\": \"x\"}}"),
            Some(1)
        );
        assert!(matches!(
            read_series("\n\n".as_bytes(), &ReadOptions::default()),
            Err(CoreError::Empty(_))
        ));
        let gaps = ReadOptions {
            allow_missing: true,
            ..Default::default()
        };
        let s = read_series("{\"timestamp\": 1, \"value\": null}".as_bytes(), &gaps).unwrap();
        assert!(s[0].values()[0].is_nan());
    }
}
