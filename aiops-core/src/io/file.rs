//! Reading a file of series whatever its format, chosen by the file extension: what the `aiops`
//! commands read.
//!
//! - `.csv` (and any other extension): `timestamp,value` ([`crate::io::csv`]);
//! - `.jsonl` / `.ndjson`: JSON lines ([`crate::io::jsonl`]);
//! - `.json`: a Prometheus `query_range` response ([`crate::io::prometheus`]).
//!
//! [`read_values`] also takes a single column of values without timestamps, as forecasting
//! does.

use std::path::Path;

use crate::error::{CoreError, Result};
use crate::io::{ReadOptions, csv, jsonl, prometheus};
use crate::series::TimeSeries;
use crate::time::{TimestampFormat, TimestampMs, format_timestamp};

/// One series of a file, with its timestamps as the file wrote them.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSeries {
    /// The series.
    pub series: TimeSeries,
    /// Each point's timestamp in the file's spelling (re-formatted from the parsed time for
    /// JSON inputs: RFC 3339 for JSON lines, unix seconds for Prometheus).
    pub raw_timestamps: Vec<String>,
    /// The spelling of the timestamps.
    pub format: TimestampFormat,
}

/// Reads every series of the file at `path`, choosing the reader by extension (see the module
/// docs).
pub fn read_path(path: &Path, opts: &ReadOptions) -> Result<Vec<FileSeries>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let with_format = |series: Vec<TimeSeries>, format: TimestampFormat| {
        series
            .into_iter()
            .map(|s| FileSeries {
                raw_timestamps: s
                    .timestamps()
                    .iter()
                    .map(|&t| format_timestamp(t, format))
                    .collect(),
                series: s,
                format,
            })
            .collect()
    };
    Ok(match ext.as_str() {
        "jsonl" | "ndjson" => with_format(
            jsonl::read_series_path(path, opts)?,
            TimestampFormat::Rfc3339,
        ),
        "json" => {
            let text = crate::io::read_text(path, |line, message| CoreError::Json {
                line: Some(line),
                message,
            })?;
            let series = prometheus::read_query_range(&text)?;
            if series.is_empty() {
                return Err(CoreError::Empty(
                    "the Prometheus response has no series".into(),
                ));
            }
            with_format(series, TimestampFormat::UnixSeconds)
        }
        _ => {
            let c = csv::read_series_path(path, opts)?;
            vec![FileSeries {
                series: c.series,
                raw_timestamps: c.raw_timestamps,
                format: c.timestamp_format,
            }]
        }
    })
}

/// The values of one series and, when the file has them, its timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct Values {
    /// The values, in time order.
    pub values: Vec<f64>,
    /// The timestamps (ms) and their spelling; `None` for a single column of values.
    pub times: Option<(Vec<TimestampMs>, TimestampFormat)>,
}

impl Values {
    /// The series' step: the median spacing of its timestamps (ms).
    pub fn step_ms(&self) -> Option<i64> {
        crate::time::median_step(&self.times.as_ref()?.0)
    }

    /// The `n` timestamps after the last one, at the series' step, with their spelling.
    pub fn next_timestamps(&self, n: usize) -> Option<(Vec<TimestampMs>, TimestampFormat)> {
        let (ts, format) = self.times.as_ref()?;
        Some((crate::time::next_timestamps(ts, n)?, *format))
    }
}

/// A single column of numbers (an optional header line first, blank lines skipped); `None`
/// when the first non-blank line has a comma, so the text is CSV with timestamps.
fn single_column(text: &str) -> Result<Option<Vec<f64>>> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, first)) = lines.clone().next() else {
        return Ok(None);
    };
    if first.contains(',') {
        return Ok(None);
    }
    let mut values = Vec::new();
    for (k, (i, line)) in lines.by_ref().enumerate() {
        match line.trim().parse::<f64>() {
            Ok(v) => values.push(v),
            Err(_) if k == 0 => {} // a header
            Err(_) => {
                return Err(CoreError::NotANumber {
                    line: i as u64 + 1,
                    text: line.trim().to_string(),
                });
            }
        }
    }
    Ok(Some(values))
}

/// Reads one series' values from `path`: a single column of values, or any file
/// [`read_path`] reads (with default options) holding exactly one series. More series are a
/// [`CoreError::SeriesCount`] error.
pub fn read_values(path: &Path) -> Result<Values> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !matches!(ext, "json" | "jsonl" | "ndjson")
        && let Some(values) = single_column(&csv::read_text(path)?)?
    {
        return Ok(Values {
            values,
            times: None,
        });
    }
    let mut series = read_path(path, &ReadOptions::default())?;
    if series.len() != 1 {
        return Err(CoreError::SeriesCount {
            found: series.len(),
        });
    }
    let s = series.remove(0);
    Ok(Values {
        values: s.series.values().to_vec(),
        times: Some((s.series.timestamps().to_vec(), s.format)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_by_extension_and_single_columns() {
        let dir = std::env::temp_dir().join(format!("aiops-core-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = write(&dir, "a.csv", "timestamp,value\n0,1\n3600,2\n7200,3\n");
        let v = read_values(&csv).unwrap();
        assert_eq!(v.values, [1.0, 2.0, 3.0]);
        assert_eq!(v.step_ms(), Some(3_600_000));
        assert_eq!(
            v.next_timestamps(1),
            Some((vec![10_800_000], TimestampFormat::UnixSeconds))
        );
        let col = write(&dir, "b.csv", "value\n1\n\n2.5\n");
        let v = read_values(&col).unwrap();
        assert_eq!((v.values, v.times), (vec![1.0, 2.5], None));
        let bad = write(&dir, "c.csv", "1\n2\nx\n");
        assert!(matches!(
            read_values(&bad),
            Err(CoreError::NotANumber { line: 3, .. })
        ));
        let two = write(
            &dir,
            "d.jsonl",
            "{\"timestamp\": 1, \"value\": 1, \"labels\": {\"a\": \"1\"}}\n\
             {\"timestamp\": 1, \"value\": 1, \"labels\": {\"a\": \"2\"}}\n",
        );
        assert!(matches!(
            read_values(&two),
            Err(CoreError::SeriesCount { found: 2 })
        ));
        let s = read_path(&two, &ReadOptions::default()).unwrap();
        assert_eq!(s[0].raw_timestamps, ["1970-01-01T00:00:01.000Z"]);
        assert!(matches!(
            read_path(&dir.join("none.csv"), &ReadOptions::default()),
            Err(CoreError::Io(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
