//! Reads the series a command works on, choosing the reader by file extension.

use std::path::Path;

use aiops_core::io::{ReadOptions, csv, jsonl, prometheus};
use aiops_core::time::format_timestamp;
use aiops_core::{TimeSeries, TimestampFormat};

use crate::error::CliError;

/// One series of the input, with its timestamps as the input wrote them.
#[derive(Debug)]
pub(crate) struct InputSeries {
    pub(crate) series: TimeSeries,
    pub(crate) raw_timestamps: Vec<String>,
    pub(crate) format: TimestampFormat,
}

/// `.csv` (and anything unknown): `timestamp,value`; `.jsonl` / `.ndjson`: JSON lines;
/// `.json`: a Prometheus `query_range` response.
pub(crate) fn read(path: &Path, opts: &ReadOptions) -> Result<Vec<InputSeries>, CliError> {
    let err = |e| CliError::input(path, e);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let with_format = |series: Vec<TimeSeries>, format: TimestampFormat| {
        series
            .into_iter()
            .map(|s| InputSeries {
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
            jsonl::read_series_path(path, opts).map_err(err)?,
            TimestampFormat::Rfc3339,
        ),
        "json" => {
            let text = std::fs::read_to_string(path).map_err(|e| err(e.into()))?;
            let series = prometheus::read_query_range(&text).map_err(err)?;
            if series.is_empty() {
                return Err(err(aiops_core::CoreError::Empty(
                    "the Prometheus response has no series".into(),
                )));
            }
            with_format(series, TimestampFormat::UnixSeconds)
        }
        _ => {
            let c = csv::read_series_path(path, opts).map_err(err)?;
            vec![InputSeries {
                series: c.series,
                raw_timestamps: c.raw_timestamps,
                format: c.timestamp_format,
            }]
        }
    })
}
