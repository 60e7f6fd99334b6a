//! CSV series: `timestamp,value` and wide `timestamp,<col>,<col>...`.
//!
//! Timestamps may be `YYYY-MM-DD HH:MM:SS` (UTC, as in NAB), RFC 3339, or unix seconds /
//! milliseconds (see [`crate::time`]); every row must use the spelling of the first. A header
//! row is optional for `timestamp,value` files (it is recognised because its first cell is not
//! a timestamp) and required for wide files. Lines starting with `#` are comments.

use std::io::Read;
use std::path::Path;

use crate::error::{CoreError, Result};
use crate::io::{ReadOptions, parse_value};
use crate::labels::Labels;
use crate::series::{SortPlan, TimeSeries};
use crate::time::{TimestampFormat, TimestampMs, parse_timestamp};

/// A series read from `timestamp,value` CSV, with what is needed to write results back in the
/// same terms.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvSeries {
    /// The series; its labels hold `__name__` = the value column's header when it is a valid
    /// metric name.
    pub series: TimeSeries,
    /// The spelling of the timestamps.
    pub timestamp_format: TimestampFormat,
    /// The timestamps exactly as written, one per point of `series` (in its order).
    pub raw_timestamps: Vec<String>,
    /// The value column's header, or `value` when the file has none.
    pub value_name: String,
}

/// A wide table: one timestamp column and any number of value columns.
#[derive(Debug, Clone, PartialEq)]
pub struct WideTable {
    /// Timestamps, ms since the epoch, strictly increasing.
    pub timestamps: Vec<TimestampMs>,
    /// The spelling of the timestamps.
    pub timestamp_format: TimestampFormat,
    /// Column headers, without the timestamp column.
    pub names: Vec<String>,
    /// One column per name, each as long as `timestamps`; NaN marks an empty cell.
    pub columns: Vec<Vec<f64>>,
}

impl WideTable {
    /// One series per column, labelled `column="<header>"`.
    pub fn to_series(&self) -> Result<Vec<TimeSeries>> {
        self.names
            .iter()
            .zip(&self.columns)
            .map(|(name, col)| {
                TimeSeries::new(
                    Labels::new().with("column", name.as_str())?,
                    self.timestamps.clone(),
                    col.clone(),
                )
            })
            .collect()
    }
}

fn csv_err(line: u64, message: impl Into<String>) -> CoreError {
    CoreError::Csv {
        line,
        message: message.into(),
    }
}

fn from_csv_error(e: csv::Error) -> CoreError {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    match e.into_kind() {
        csv::ErrorKind::Io(io) => CoreError::Io(io),
        csv::ErrorKind::Utf8 { .. } => csv_err(line, crate::io::INVALID_UTF8),
        other => csv_err(line, format!("{other:?}")),
    }
}

fn reader<R: Read>(r: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(r)
}

/// Parses one timestamp cell and checks it uses the file's spelling.
fn parse_ts(
    cell: &str,
    line: u64,
    format: &mut Option<(TimestampFormat, u64)>,
) -> Result<TimestampMs> {
    let (ms, fmt) = parse_timestamp(cell).map_err(|e| csv_err(line, e.to_string()))?;
    match *format {
        None => *format = Some((fmt, line)),
        Some((f, first)) if f != fmt => {
            return Err(csv_err(
                line,
                format!(
                    "timestamp {cell:?} is written as {fmt}, but line {first} uses {f} (write every timestamp of a file the same way)"
                ),
            ));
        }
        _ => {}
    }
    Ok(ms)
}

/// Checks order as points arrive, so the error names the line.
fn check_order(prev: Option<TimestampMs>, ms: TimestampMs, line: u64, cell: &str) -> Result<()> {
    match prev {
        Some(p) if ms < p => Err(csv_err(
            line,
            format!(
                "timestamp {cell:?} is earlier than the previous row's (timestamps must increase)"
            ),
        )),
        Some(p) if ms == p => Err(csv_err(line, format!("duplicate timestamp {cell:?}"))),
        _ => Ok(()),
    }
}

/// Reads `timestamp,value` CSV (header optional).
pub fn read_series<R: Read>(input: R, opts: &ReadOptions) -> Result<CsvSeries> {
    let mut rdr = reader(input);
    let mut rec = csv::StringRecord::new();
    let mut value_name = "value".to_string();
    let (mut ts_col, mut val_col) = (0usize, 1usize);
    let mut format = None;
    let mut timestamps = Vec::new();
    let mut values = Vec::new();
    let mut raw = Vec::new();
    let mut first = true;
    while rdr.read_record(&mut rec).map_err(from_csv_error)? {
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if first {
            first = false;
            if rec.len() < 2 {
                return Err(csv_err(
                    line,
                    format!("expected 2 columns (timestamp,value), found {}", rec.len()),
                ));
            }
            if parse_timestamp(&rec[0]).is_err() {
                // A header: find the columns by name, defaulting to the first two.
                let names: Vec<String> = rec.iter().map(|s| s.to_ascii_lowercase()).collect();
                ts_col = names
                    .iter()
                    .position(|n| matches!(n.as_str(), "timestamp" | "time" | "ts" | "date"))
                    .unwrap_or(0);
                val_col = names
                    .iter()
                    .position(|n| n == "value")
                    .unwrap_or(if ts_col == 0 { 1 } else { 0 });
                if rec.len() > 2 && !names.iter().any(|n| n == "value") {
                    return Err(csv_err(
                        line,
                        format!(
                            "{} columns and none named `value`: for several metrics of one resource use `aiops detect-multi` (Python: read_wide_csv), or name the value column `value`",
                            rec.len()
                        ),
                    ));
                }
                value_name = rec[val_col].to_string();
                continue;
            }
        }
        let (Some(tcell), Some(vcell)) = (rec.get(ts_col), rec.get(val_col)) else {
            return Err(csv_err(
                line,
                format!(
                    "expected at least {} columns, found {}",
                    ts_col.max(val_col) + 1,
                    rec.len()
                ),
            ));
        };
        let ms = parse_ts(tcell, line, &mut format)?;
        if opts.sort.is_none() {
            check_order(timestamps.last().copied(), ms, line, tcell)?;
        }
        let v = parse_value(vcell, opts).map_err(|m| csv_err(line, m))?;
        timestamps.push(ms);
        values.push(v);
        raw.push(tcell.to_string());
    }
    if timestamps.is_empty() {
        return Err(CoreError::Empty("the CSV input has no data rows".into()));
    }
    let labels = if crate::labels::is_valid_metric_name(&value_name) && value_name != "value" {
        Labels::new().with("__name__", value_name.as_str())?
    } else {
        Labels::new()
    };
    let series = match opts.sort {
        None => TimeSeries::new(labels, timestamps, values)?,
        Some(policy) => {
            let plan = SortPlan::new(&timestamps, policy)?;
            // Raw timestamps follow the points kept, one per timestamp.
            raw = plan
                .representatives()
                .map(|k| std::mem::take(&mut raw[k]))
                .collect();
            TimeSeries::new(labels, plan.timestamps(&timestamps), plan.apply(&values))?
        }
    };
    let timestamp_format = format.map(|f| f.0).unwrap_or(TimestampFormat::Rfc3339);
    Ok(CsvSeries {
        series,
        timestamp_format,
        raw_timestamps: raw,
        value_name,
    })
}

/// Reads a `timestamp,value` CSV file.
pub fn read_series_path(path: impl AsRef<Path>, opts: &ReadOptions) -> Result<CsvSeries> {
    read_series(read_text(path.as_ref())?.as_bytes(), opts)
}

/// The text of a CSV file; bytes that are not UTF-8 are a [`CoreError::Csv`] naming the line.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    crate::io::read_text(path, csv_err)
}

/// Reads wide CSV: a header `timestamp,<name>,<name>...`, then one row per timestamp. Empty
/// cells are NaN gaps (wide data usually has them); any other non-number is an error.
/// Timestamps must increase unless `opts.sort` is set.
pub fn read_wide<R: Read>(input: R, opts: &ReadOptions) -> Result<WideTable> {
    read_wide_cells(input, opts, true)
}

/// [`read_wide`] for consumers that take no gaps (the multivariate detectors): an empty,
/// `NaN` or `null` cell is an error naming its line and column.
pub fn read_wide_complete<R: Read>(input: R, opts: &ReadOptions) -> Result<WideTable> {
    read_wide_cells(input, opts, false)
}

fn read_wide_cells<R: Read>(input: R, opts: &ReadOptions, gaps: bool) -> Result<WideTable> {
    let mut rdr = reader(input);
    let mut rec = csv::StringRecord::new();
    if !rdr.read_record(&mut rec).map_err(from_csv_error)? {
        return Err(CoreError::Empty("the CSV input is empty".into()));
    }
    let header_line = rec.position().map(|p| p.line()).unwrap_or(1);
    if rec.len() < 2 {
        return Err(csv_err(
            header_line,
            "expected a header timestamp,<column>,...",
        ));
    }
    if parse_timestamp(&rec[0]).is_ok() {
        return Err(csv_err(header_line, "wide CSV needs a header row"));
    }
    let names: Vec<String> = rec.iter().skip(1).map(str::to_string).collect();
    if let Some(i) = names.iter().position(|n| n.is_empty()) {
        return Err(csv_err(
            header_line,
            format!("column {} has an empty header", i + 2),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(csv_err(
            header_line,
            format!("column {dup:?} appears twice"),
        ));
    }
    let cell_opts = ReadOptions {
        allow_missing: gaps,
        ..*opts
    };
    let mut format = None;
    let mut timestamps = Vec::new();
    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    while rdr.read_record(&mut rec).map_err(from_csv_error)? {
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.len() != names.len() + 1 {
            return Err(csv_err(
                line,
                format!("expected {} columns, found {}", names.len() + 1, rec.len()),
            ));
        }
        let ms = parse_ts(&rec[0], line, &mut format)?;
        if opts.sort.is_none() {
            check_order(timestamps.last().copied(), ms, line, &rec[0])?;
        }
        timestamps.push(ms);
        for (c, col) in columns.iter_mut().enumerate() {
            let v = parse_value(&rec[c + 1], &cell_opts)
                .map_err(|m| csv_err(line, format!("column {:?}: {m}", names[c])))?;
            col.push(v);
        }
    }
    if timestamps.is_empty() {
        return Err(CoreError::Empty("the CSV input has no data rows".into()));
    }
    if let Some(policy) = opts.sort {
        // One sort for every column.
        let plan = SortPlan::new(&timestamps, policy)?;
        for col in columns.iter_mut() {
            *col = plan.apply(col);
        }
        timestamps = plan.timestamps(&timestamps);
    }
    Ok(WideTable {
        timestamps,
        timestamp_format: format.map(|f| f.0).unwrap_or(TimestampFormat::Rfc3339),
        names,
        columns,
    })
}

/// Reads a wide CSV file.
pub fn read_wide_path(path: impl AsRef<Path>, opts: &ReadOptions) -> Result<WideTable> {
    read_wide(read_text(path.as_ref())?.as_bytes(), opts)
}

/// Reads a wide CSV file in which every cell holds a number ([`read_wide_complete`]).
pub fn read_wide_complete_path(path: impl AsRef<Path>, opts: &ReadOptions) -> Result<WideTable> {
    read_wide_complete(read_text(path.as_ref())?.as_bytes(), opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::DedupPolicy;

    fn strict() -> ReadOptions {
        ReadOptions::default()
    }

    fn err_line(r: Result<impl std::fmt::Debug>) -> u64 {
        match r {
            Err(CoreError::Csv { line, .. }) => line,
            other => panic!("expected a CSV error, got {other:?}"),
        }
    }

    #[test]
    fn reads_nab_style() {
        let text = "timestamp,value\n2014-04-01 00:00:00,1.5\n2014-04-01 00:05:00,2\n";
        let c = read_series(text.as_bytes(), &strict()).unwrap();
        assert_eq!(
            c.series.timestamps(),
            [1_396_310_400_000, 1_396_310_700_000]
        );
        assert_eq!(c.series.values(), [1.5, 2.0]);
        assert_eq!(c.timestamp_format, TimestampFormat::DateTime);
        assert_eq!(
            c.raw_timestamps,
            ["2014-04-01 00:00:00", "2014-04-01 00:05:00"]
        );
        assert!(c.series.labels().is_empty());
    }

    #[test]
    fn reads_headerless_unix_and_named_columns() {
        let c = read_series("1700000000,1\n1700000060,2\n".as_bytes(), &strict()).unwrap();
        assert_eq!(c.timestamp_format, TimestampFormat::UnixSeconds);
        assert_eq!(c.series.timestamps()[1], 1_700_000_060_000);
        let c = read_series(
            "value,time\n3,2024-01-01T00:00:00Z\n4,2024-01-01T00:01:00Z\n".as_bytes(),
            &strict(),
        )
        .unwrap();
        assert_eq!(c.series.values(), [3.0, 4.0]);
        let c = read_series("ts,cpu_usage\n1700000000000,1\n".as_bytes(), &strict()).unwrap();
        assert_eq!(c.timestamp_format, TimestampFormat::UnixMillis);
        assert_eq!(c.series.labels().get("__name__"), Some("cpu_usage"));
    }

    #[test]
    fn malformed_input_names_the_line() {
        let r = |t: &str| read_series(t.as_bytes(), &strict());
        assert_eq!(err_line(r("timestamp,value\n2014-04-01 00:00:00,abc\n")), 2);
        assert_eq!(err_line(r("timestamp,value\n1,1\n2,2\nnot-a-time,3\n")), 4);
        assert_eq!(err_line(r("timestamp,value\n5,1\n3,2\n")), 3);
        assert_eq!(err_line(r("timestamp,value\n5,1\n5,2\n")), 3);
        assert_eq!(err_line(r("timestamp,value\n5,1\n6,\n")), 3);
        assert_eq!(err_line(r("timestamp,value\n5,1\n6,inf\n")), 3);
        assert_eq!(err_line(r("timestamp,value\n5,1\n6\n")), 3);
        assert_eq!(err_line(r("timestamp\n5\n")), 1);
        // Seconds then milliseconds: a unit mix-up, refused.
        assert_eq!(err_line(r("1700000000,1\n1700000060000,2\n")), 2);
        assert_eq!(err_line(r("t,a,b\n1,2,3\n")), 1);
        assert!(matches!(r(""), Err(CoreError::Empty(_))));
        assert!(matches!(r("timestamp,value\n"), Err(CoreError::Empty(_))));
        let bad_utf8: &[u8] = b"timestamp,value\n1,\xff\xfe\n";
        assert!(matches!(
            read_series(bad_utf8, &strict()),
            Err(CoreError::Csv { line: 2, .. })
        ));
    }

    #[test]
    fn options_allow_gaps_and_sorting() {
        let opts = ReadOptions {
            allow_missing: true,
            sort: Some(DedupPolicy::Last),
        };
        let c = read_series("3,30\n1,\n2,20\n1,11\n".as_bytes(), &opts).unwrap();
        assert_eq!(c.series.timestamps(), [1000, 2000, 3000]);
        assert_eq!(c.series.values(), [11.0, 20.0, 30.0]);
        assert_eq!(c.raw_timestamps, ["1", "2", "3"]);
        let c = read_series("1,\n2,NaN\n".as_bytes(), &opts).unwrap();
        assert!(c.series.values().iter().all(|v| v.is_nan()));
    }

    #[test]
    fn reads_wide() {
        let text = "timestamp,cart:cpu,frontend:latency\n1700000000,0.5,120\n1700000060,,130\n";
        let w = read_wide(text.as_bytes(), &strict()).unwrap();
        assert_eq!(w.names, ["cart:cpu", "frontend:latency"]);
        assert_eq!(w.timestamps, [1_700_000_000_000, 1_700_000_060_000]);
        assert_eq!(w.columns[1], [120.0, 130.0]);
        assert!(w.columns[0][1].is_nan());
        let series = w.to_series().unwrap();
        assert_eq!(series[0].labels().get("column"), Some("cart:cpu"));
        let bad = |t: &str| read_wide(t.as_bytes(), &strict());
        assert_eq!(err_line(bad("timestamp,a\n1,2,3\n")), 2);
        assert_eq!(err_line(bad("timestamp,a\n1,x\n")), 2);
        assert_eq!(err_line(bad("timestamp,a,a\n1,2,3\n")), 1);
        assert_eq!(err_line(bad("1,2\n")), 1);
        assert_eq!(err_line(bad("timestamp,a\n2,1\n1,1\n")), 3);
        let sorted = read_wide(
            "timestamp,a\n2,20\n1,10\n".as_bytes(),
            &ReadOptions {
                sort: Some(DedupPolicy::Error),
                ..strict()
            },
        )
        .unwrap();
        assert_eq!(sorted.columns[0], [10.0, 20.0]);
    }
}
