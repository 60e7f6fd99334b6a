//! `aiops detect`: parse arguments, call the detector, print.

use std::io::Write;
use std::path::PathBuf;

use aiops_core::Anomaly;
use aiops_core::io::{FileSeries, ReadOptions, read_path};
use aiops_core::time::format_datetime;
use aiops_detect::registry::{self, DEFAULT_DETECTOR, DETECTORS};
use aiops_detect::{Detections, Detector};
use aiops_detect::{SuppressionParams, Suppressor};
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use serde::Serialize;

use crate::error::CliError;
use crate::source_args::SourceArgs;

/// Output format for the anomaly list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON object for programs.
    Json,
}

/// Arguments of `aiops detect`.
#[derive(Debug, Args)]
#[command(after_long_help = detectors_help())]
pub(crate) struct DetectArgs {
    /// Input: `timestamp,value` CSV (NAB style), `.jsonl` points, or a Prometheus
    /// `query_range` response (`.json`); or none with --prometheus and --query.
    #[arg(required_unless_present = "prometheus", conflicts_with = "prometheus")]
    file: Option<PathBuf>,

    #[command(flatten)]
    source: SourceArgs,

    /// Detector to run (see the list below).
    #[arg(short, long, default_value = DEFAULT_DETECTOR)]
    detector: String,

    /// Detector parameter as key=value; repeat for several (e.g. -p window=30 -p threshold=4).
    #[arg(short, long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,

    /// Write one row per input point, `timestamp,value,score,label`, to this CSV file instead
    /// of printing anomalies.
    #[arg(short, long, value_name = "OUT.csv")]
    output: Option<PathBuf>,

    /// Flagged points in a row needed before an alarm (filters one-point blips).
    #[arg(long, value_name = "POINTS", default_value_t = 1)]
    min_duration: usize,

    /// Points after an alarm during which no new alarm is raised.
    #[arg(long, value_name = "POINTS", default_value_t = 0)]
    min_gap: usize,

    /// Also draw the series, its anomaly windows and the scores to this SVG file (the first
    /// series when the input has several).
    #[arg(long, value_name = "OUT.svg")]
    plot: Option<PathBuf>,

    /// How to print anomalies (merged into windows of consecutive flagged points).
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn detectors_help() -> String {
    registry_help("Detectors:", 10, DETECTORS)
}

/// The help text listing `detectors` under `title`: each name padded to `width`, its summary,
/// then one line per parameter.
pub(crate) fn registry_help<D: ?Sized + 'static>(
    title: &str,
    width: usize,
    detectors: &[registry::DetectorInfo<D>],
) -> String {
    let mut s = format!("{title}\n");
    for d in detectors {
        s.push_str(&format!("  {:<width$} {}\n", d.name, d.summary));
        for p in d.param_lines() {
            s.push_str(&format!("  {:<width$}   -p {p}\n", ""));
        }
    }
    s
}

#[derive(Serialize)]
struct JsonReport<'a> {
    detector: &'a str,
    points: usize,
    anomalies: &'a [Anomaly],
}

pub(crate) fn run(args: &DetectArgs) -> Result<(), CliError> {
    let params = registry::parse_assignments(&args.params)?;
    let suppression = SuppressionParams {
        min_duration: args.min_duration,
        min_gap: args.min_gap,
    };
    suppression.build()?;
    let det = registry::build(&args.detector, &params)?;
    let name = args.source.name(args.file.as_deref());
    let inputs = match (args.source.fetch()?, &args.file) {
        (Some(series), _) => series,
        (None, Some(file)) => {
            read_path(file, &ReadOptions::default()).map_err(|e| CliError::input(file, e))?
        }
        (None, None) => return Err(CliError::Usage("give a file or --prometheus".into())),
    };
    let total: usize = inputs.iter().map(|i| i.series.len()).sum();
    let bar = progress_bar(total);
    let mut results = Vec::with_capacity(inputs.len());
    let mut done = 0;
    for inp in &inputs {
        let s = &inp.series;
        let mut d = det
            .detect_with_progress(s.timestamps(), s.values(), &mut |n| {
                bar.set_position((done + n) as u64)
            })
            .map_err(|e| match e {
                aiops_detect::DetectError::Core(c) => CliError::input(&name, c),
                other => other.into(),
            })?;
        done += s.len();
        d.is_anomaly = Suppressor::filter(&suppression, &d.is_anomaly)?;
        results.push(d);
    }
    bar.finish_and_clear();

    if let Some(plot) = &args.plot
        && let (Some(inp), Some(d)) = (inputs.first(), results.first())
    {
        let s = &inp.series;
        let anomalies = d.anomalies(det.as_ref(), s.timestamps(), s.values(), s.labels());
        let title = format!("{} — detector {}", name.display(), det.name());
        crate::plot::draw(plot, &title, s, d, &anomalies).map_err(|message| CliError::Output {
            path: plot.clone(),
            source: std::io::Error::other(message),
        })?;
    }
    if let Some(out) = &args.output {
        return write_points(out, &inputs, &results).map_err(|source| CliError::Output {
            path: out.clone(),
            source,
        });
    }
    let mut anomalies = Vec::new();
    for (inp, d) in inputs.iter().zip(&results) {
        let s = &inp.series;
        anomalies.extend(d.anomalies(det.as_ref(), s.timestamps(), s.values(), s.labels()));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let res = match args.format {
        Format::Json => serde_json::to_writer_pretty(
            &mut out,
            &JsonReport {
                detector: det.name(),
                points: total,
                anomalies: &anomalies,
            },
        )
        .map_err(std::io::Error::from)
        .and_then(|_| writeln!(out)),
        Format::Table => print_table(&mut out, det.as_ref(), &inputs, &anomalies, total),
    };
    match res {
        // A closed pipe (`aiops detect ... | head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|source| CliError::Output {
            path: "stdout".into(),
            source,
        }),
    }
}

/// A bar on stderr for long inputs (200,000 points or more) when a person is watching.
fn progress_bar(total: usize) -> ProgressBar {
    if total < 200_000 {
        return ProgressBar::hidden();
    }
    let bar = crate::progress::bar("points");
    bar.set_length(total as u64);
    bar
}

fn write_points(
    path: &std::path::Path,
    inputs: &[FileSeries],
    results: &[Detections],
) -> std::io::Result<()> {
    let multi = inputs.len() > 1;
    let mut w = csv::Writer::from_path(path)?;
    let mut header = vec!["timestamp", "value", "score", "label"];
    if multi {
        header.insert(0, "series");
    }
    w.write_record(&header)?;
    for (inp, d) in inputs.iter().zip(results) {
        let labels = inp.series.labels().to_string();
        for (i, &v) in inp.series.values().iter().enumerate() {
            let (value, score) = (v.to_string(), d.scores[i].to_string());
            let label = if d.is_anomaly[i] { "1" } else { "0" };
            let mut row = vec![inp.raw_timestamps[i].as_str(), &value, &score, label];
            if multi {
                row.insert(0, &labels);
            }
            w.write_record(&row)?;
        }
    }
    w.flush()
}

fn print_table(
    out: &mut impl Write,
    det: &dyn Detector,
    inputs: &[FileSeries],
    anomalies: &[Anomaly],
    total: usize,
) -> std::io::Result<()> {
    let opt = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"));
    let multi = inputs.len() > 1;
    let mut header = vec![
        "start", "end", "severity", "score", "value", "expected", "lower", "upper",
    ];
    if multi {
        header.push("series");
    }
    let rows: Vec<Vec<String>> = anomalies
        .iter()
        .map(|a| {
            let mut r = vec![
                format_datetime(a.start),
                format_datetime(a.end),
                a.severity.to_string(),
                format!("{:.3}", a.score),
                format!("{:.4}", a.value),
                opt(a.expected),
                opt(a.lower),
                opt(a.upper),
            ];
            if multi {
                r.push(a.labels.to_string());
            }
            r
        })
        .collect();
    writeln!(
        out,
        "{} anomal{} in {} points ({} series), detector {}; times in UTC",
        anomalies.len(),
        if anomalies.len() == 1 { "y" } else { "ies" },
        total,
        inputs.len(),
        det.name()
    )?;
    if anomalies.is_empty() {
        return Ok(());
    }
    crate::table::write(out, &header, &rows)
}
