//! `aiops detect-multi`: several metrics of one resource, scored together.

use std::io::Write;
use std::path::PathBuf;

use aiops_core::io::{ReadOptions, csv};
use aiops_core::time::{format_datetime, format_timestamp};
use aiops_detect::multivariate::{MULTIVARIATE_DETECTORS, build_multivariate};
use aiops_detect::registry;
use aiops_detect::{SuppressionParams, Suppressor};
use clap::Args;
use serde_json::json;

use crate::detect_cmd::{Format, registry_help};
use crate::error::CliError;

fn detectors_help() -> String {
    registry_help("Multivariate detectors:", 12, MULTIVARIATE_DETECTORS)
}

/// Arguments of `aiops detect-multi`.
#[derive(Debug, Args)]
#[command(after_long_help = detectors_help())]
pub(crate) struct MultiArgs {
    /// Wide CSV: `timestamp,<metric>,<metric>...`, one row per timestamp.
    file: PathBuf,

    /// Multivariate detector to run.
    #[arg(short, long, default_value = "mahalanobis")]
    detector: String,

    /// Detector parameter as key=value; repeat for several.
    #[arg(short, long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,

    /// Write one row per input row, `timestamp,score,label`, to this CSV file.
    #[arg(short, long, value_name = "OUT.csv")]
    output: Option<PathBuf>,

    /// Flagged rows in a row needed before an alarm.
    #[arg(long, value_name = "ROWS", default_value_t = 1)]
    min_duration: usize,

    /// Rows after an alarm during which no new alarm is raised.
    #[arg(long, value_name = "ROWS", default_value_t = 0)]
    min_gap: usize,

    /// How to print the anomalous windows.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub(crate) fn run(args: &MultiArgs) -> Result<(), CliError> {
    let params = registry::parse_assignments(&args.params)?;
    let det = build_multivariate(&args.detector, &params)?;
    let suppression = SuppressionParams {
        min_duration: args.min_duration,
        min_gap: args.min_gap,
    };
    suppression.build()?;
    let table = csv::read_wide_complete_path(&args.file, &ReadOptions::default())
        .map_err(|e| CliError::input(&args.file, e))?;
    let columns: Vec<&[f64]> = table.columns.iter().map(Vec::as_slice).collect();
    let mut d = det
        .detect_columns(&table.timestamps, &columns)
        .map_err(|e| match e {
            aiops_detect::DetectError::Core(c) => CliError::input(&args.file, c),
            other => other.into(),
        })?;
    d.is_anomaly = Suppressor::filter(&suppression, &d.is_anomaly)?;
    let ts = |i: usize| format_timestamp(table.timestamps[i], table.timestamp_format);

    let out_err = |path: PathBuf| move |source| CliError::Output { path, source };
    if let Some(path) = &args.output {
        let write = || -> std::io::Result<()> {
            let mut w = ::csv::Writer::from_path(path)?;
            w.write_record(["timestamp", "score", "label"])?;
            for i in 0..d.len() {
                let label = if d.is_anomaly[i] { "1" } else { "0" };
                w.write_record([ts(i).as_str(), &d.scores[i].to_string(), label])?;
            }
            w.flush()
        };
        return write().map_err(out_err(path.clone()));
    }

    let windows: Vec<(usize, usize, f64)> = d
        .windows()
        .into_iter()
        .map(|(a, b, best)| (a, b, d.scores[best]))
        .collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let res = match args.format {
        Format::Json => {
            let list: Vec<_> = windows
                .iter()
                .map(|&(a, b, s)| {
                    json!({"start": ts(a), "end": ts(b), "score": s,
                           "severity": det.severity(s).to_string()})
                })
                .collect();
            writeln!(
                out,
                "{}",
                json!({"detector": det.name(), "metrics": table.names, "rows": d.len(),
                       "anomalies": list})
            )
        }
        Format::Table => (|| {
            writeln!(
                out,
                "{} anomal{} in {} rows of {} metrics, detector {}; times in UTC",
                windows.len(),
                if windows.len() == 1 { "y" } else { "ies" },
                d.len(),
                table.names.len(),
                det.name()
            )?;
            if windows.is_empty() {
                return Ok(());
            }
            let date = |i: usize| format_datetime(table.timestamps[i]);
            let rows: Vec<Vec<String>> = windows
                .iter()
                .map(|&(a, b, s)| {
                    vec![
                        date(a),
                        date(b),
                        det.severity(s).to_string(),
                        format!("{s:.3}"),
                    ]
                })
                .collect();
            crate::table::write(&mut out, &["start", "end", "severity", "score"], &rows)
        })(),
    };
    match res {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(out_err("stdout".into())),
    }
}
