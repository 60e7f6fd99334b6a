//! `aiops forecast` and `aiops capacity`: read one series, call `aiops-forecast`, print or
//! write the forecast, the capacity report and the plot.

use std::io::Write;
use std::path::{Path, PathBuf};

use aiops_core::CoreError;
use aiops_core::io::{Values, read_values};
use aiops_core::time::{Horizon, format_datetime, format_timestamp};
use aiops_forecast::capacity::{self, CapacityParams, CapacityReport};
use aiops_forecast::registry::{self, DEFAULT_MODEL, MODELS};
use aiops_forecast::{Bounds, Prediction, SeasonalPeriod};
use clap::{Args, ValueEnum};

use crate::error::CliError;
use crate::plot;
use crate::source_args::SourceArgs;

/// Output format of the capacity report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Lines for people.
    Table,
    /// One JSON object for programs.
    Json,
}

fn models_help() -> String {
    let mut s = String::from("Models:\n");
    for (name, summary) in MODELS {
        s.push_str(&format!("  {name:<10} {summary}\n"));
    }
    s.push_str("  ets-XYZ    one ETS form, e.g. ets-AAdA, ets-MNM\n");
    s
}

/// Arguments of `aiops forecast`.
#[derive(Debug, Args)]
#[command(after_long_help = models_help())]
pub(crate) struct ForecastArgs {
    /// Input: `timestamp,value` CSV, a single column of values, `.jsonl` points or a
    /// Prometheus `query_range` response (`.json`); or none with --prometheus and --query.
    #[arg(required_unless_present = "prometheus", conflicts_with = "prometheus")]
    file: Option<PathBuf>,

    #[command(flatten)]
    source: SourceArgs,

    /// How far ahead: steps (`48`) or a duration (`6h`, `7d`, `2w`; needs timestamps).
    #[arg(long)]
    horizon: String,

    /// Seasonal period in steps; repeat for several (e.g. --season 24 --season 168).
    /// Detected when absent: daily and weekly cycles from the timestamps, else from the
    /// autocorrelation of the values; the periods used are printed on standard error.
    #[arg(long = "season", value_name = "STEPS")]
    seasons: Vec<usize>,

    /// Limits of the metric, `LO,HI` (either side may be empty), e.g. `0,100`. Default: 0-100
    /// when the file name says percent (`percent`, `_pct`, `utilization`, `%`) and the values
    /// fit, else 0 below when the series has never been negative.
    #[arg(long, value_name = "LO,HI")]
    bounds: Option<String>,

    /// Model (see the list below).
    #[arg(short, long, default_value = DEFAULT_MODEL)]
    model: String,

    /// Interval levels in percent, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "80,95")]
    level: Vec<f64>,

    /// Write `step,timestamp,mean,lower_<level>,upper_<level>...` to this CSV file instead of
    /// standard output.
    #[arg(short, long, value_name = "OUT.csv")]
    output: Option<PathBuf>,

    /// Also draw history, forecast and interval bands to this SVG file.
    #[arg(long, value_name = "OUT.svg")]
    plot: Option<PathBuf>,
}

/// Arguments of `aiops capacity`.
#[derive(Debug, Args)]
#[command(after_long_help = models_help())]
pub(crate) struct CapacityArgs {
    /// Input, as for `aiops forecast`.
    #[arg(required_unless_present = "prometheus", conflicts_with = "prometheus")]
    file: Option<PathBuf>,

    #[command(flatten)]
    source: SourceArgs,

    /// Saturation threshold in the metric's unit.
    #[arg(long, default_value_t = 85.0)]
    threshold: f64,

    /// How far ahead: steps or a duration (`6h`, `7d`).
    #[arg(long, default_value = "7d")]
    horizon: String,

    /// Seasonal period in steps; repeat for several. Detected when absent (daily and weekly
    /// cycles from the timestamps, else from the values).
    #[arg(long = "season", value_name = "STEPS")]
    seasons: Vec<usize>,

    /// Limits of the metric, `LO,HI` (either side may be empty), e.g. `0,100`. Default: 0-100
    /// when the file name says percent (`percent`, `_pct`, `utilization`, `%`) and the values
    /// fit, else 0 below when the series has never been negative.
    #[arg(long, value_name = "LO,HI")]
    bounds: Option<String>,

    /// Model.
    #[arg(short, long, default_value = DEFAULT_MODEL)]
    model: String,

    /// Level of the upper bound, percent.
    #[arg(long, default_value_t = 95.0)]
    level: f64,

    /// Warning level in the metric's unit.
    #[arg(long, default_value_t = 70.0)]
    warning: f64,

    /// Critical level in the metric's unit.
    #[arg(long, default_value_t = 85.0)]
    critical: f64,

    /// Current number of replicas (enables replica advice).
    #[arg(long)]
    replicas: Option<usize>,

    /// Target utilisation per replica, metric unit.
    #[arg(long, default_value_t = 70.0)]
    target: f64,

    /// How to print the report.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    format: Format,

    /// Also draw history, forecast, bands, threshold and saturation time to this SVG file.
    #[arg(long, value_name = "OUT.svg")]
    plot: Option<PathBuf>,
}

/// The input series: the one series of `--prometheus`, else the file's (see
/// [`aiops_core::io::read_values`]).
fn load(file: Option<&Path>, source: &SourceArgs) -> Result<Values, CliError> {
    if let Some(mut series) = source.fetch()? {
        if series.len() != 1 {
            return Err(CliError::Usage(format!(
                "{}: {} series found; forecast takes one (aggregate them in the query)",
                source.name(None).display(),
                series.len()
            )));
        }
        let s = series.remove(0);
        return Ok(Values {
            values: s.series.values().to_vec(),
            times: Some((s.series.timestamps().to_vec(), s.format)),
        });
    }
    let Some(path) = file else {
        return Err(CliError::Usage("give a file or --prometheus".into()));
    };
    read_values(path).map_err(|e| match e {
        CoreError::SeriesCount { found } => CliError::Usage(format!(
            "{}: {found} series found; forecast takes one",
            path.display()
        )),
        other => CliError::input(path, other),
    })
}

/// `--horizon`: steps (`48`) or a duration (`90s`, `30m`, `6h`, `7d`, `2w`) divided by the
/// series' step.
fn horizon_steps(text: &str, data: &Values) -> Result<usize, CliError> {
    text.parse::<Horizon>()
        .and_then(|h| h.steps(data.step_ms()))
        .map_err(|e| match e {
            CoreError::InvalidParameter { reason, .. }
            | CoreError::InvalidDuration { reason, .. } => {
                CliError::Usage(format!("--horizon {text:?}: {reason}"))
            }
            other => CliError::Usage(format!("--horizon {text:?}: {other}")),
        })
}

/// `--bounds`, else the limits inferred from the values and the file name.
fn bounds(given: Option<&str>, path: &Path, data: &Values) -> Result<Bounds, CliError> {
    match given {
        Some(text) => Bounds::parse(text).map_err(|e| CliError::Usage(format!("--bounds: {e}"))),
        None => {
            let name = path.file_stem().and_then(|s| s.to_str());
            Ok(Bounds::infer(&data.values, name))
        }
    }
}

/// The sampling interval in seconds, when the series has timestamps.
fn step_seconds(data: &Values) -> Option<f64> {
    data.step_ms().map(|ms| ms as f64 / 1000.0)
}

/// `288 steps (1d, daily)`, or `none`.
fn describe_periods(periods: &[SeasonalPeriod]) -> String {
    if periods.is_empty() {
        return "none".into();
    }
    periods
        .iter()
        .map(|p| format!("{} {}", p.describe(), p.source))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `0 to 100`, `>= 0`, `none`.
fn describe_bounds(b: &Bounds) -> String {
    match (b.lower, b.upper) {
        (Some(lo), Some(hi)) => format!("{lo} to {hi}"),
        (Some(lo), None) => format!(">= {lo}"),
        (None, Some(hi)) => format!("<= {hi}"),
        (None, None) => "none".into(),
    }
}

/// A spinner while a model is fitted on a long series (10,000 points or more), on a terminal.
fn fitting(model: &str, points: usize) -> indicatif::ProgressBar {
    crate::progress::spinner(
        points >= 10_000,
        format!("fitting {model} on {points} points"),
    )
}

fn write_forecast(out: &mut dyn Write, p: &Prediction, data: &Values) -> std::io::Result<()> {
    let future = data.next_timestamps(p.mean.len());
    write!(out, "step,timestamp,mean")?;
    for iv in &p.intervals {
        write!(out, ",lower_{0},upper_{0}", iv.level)?;
    }
    writeln!(out)?;
    for h in 0..p.mean.len() {
        let ts = future
            .as_ref()
            .map(|(t, f)| format_timestamp(t[h], *f))
            .unwrap_or_default();
        write!(out, "{},{ts},{}", h + 1, p.mean[h])?;
        for iv in &p.intervals {
            write!(out, ",{},{}", iv.lower[h], iv.upper[h])?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn draw(
    path: &Path,
    title: &str,
    data: &Values,
    p: &Prediction,
    threshold: Option<(f64, Option<usize>)>,
) -> Result<(), CliError> {
    let n = data.values.len();
    // Show at most four horizons of history, so the forecast is readable.
    let keep = (4 * p.mean.len()).max(48).min(n);
    let (hx, fx, time_axis): (Vec<f64>, Vec<f64>, bool) =
        match (&data.times, data.next_timestamps(p.mean.len())) {
            (Some((ts, _)), Some((fut, _))) => (
                ts[n - keep..].iter().map(|t| *t as f64).collect(),
                fut.iter().map(|t| *t as f64).collect(),
                true,
            ),
            _ => (
                (n - keep..n).map(|i| i as f64).collect(),
                (n..n + p.mean.len()).map(|i| i as f64).collect(),
                false,
            ),
        };
    let threshold = threshold.map(|(v, step)| (v, step.map(|s| fx[s - 1])));
    plot::draw_forecast(
        path,
        title,
        &hx,
        &data.values[n - keep..],
        &fx,
        p,
        threshold,
        time_axis,
    )
    .map_err(|e| CliError::Output {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })
}

pub(crate) fn run_forecast(args: &ForecastArgs) -> Result<(), CliError> {
    let data = load(args.file.as_deref(), &args.source)?;
    let horizon = horizon_steps(&args.horizon, &data)?;
    let limits = bounds(
        args.bounds.as_deref(),
        &args.source.name(args.file.as_deref()),
        &data,
    )?;
    let spinner = fitting(&args.model, data.values.len());
    let r = registry::forecast_report(
        &args.model,
        &data.values,
        &args.seasons,
        step_seconds(&data),
        horizon,
        &args.level,
        Some(limits),
    );
    spinner.finish_and_clear();
    let r = r?;
    eprintln!(
        "seasonal periods: {}; bounds: {}",
        describe_periods(&r.periods),
        describe_bounds(&r.bounds)
    );
    let p = r.prediction;
    match &args.output {
        Some(path) => {
            let err = |e| CliError::Output {
                path: path.clone(),
                source: e,
            };
            let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(err)?);
            write_forecast(&mut f, &p, &data).map_err(err)?;
            f.flush().map_err(err)?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            write_forecast(&mut lock, &p, &data).map_err(|e| CliError::Output {
                path: "<stdout>".into(),
                source: e,
            })?;
        }
    }
    if let Some(path) = &args.plot {
        let title = format!(
            "{} - {} forecast",
            args.source.name(args.file.as_deref()).display(),
            args.model
        );
        draw(path, &title, &data, &p, None)?;
    }
    Ok(())
}

fn when(step: Option<usize>, data: &Values) -> String {
    match step {
        None => "not within the horizon".into(),
        Some(s) => match data.next_timestamps(s) {
            Some((t, _)) => format!("step {s} ({} UTC)", format_datetime(t[s - 1])),
            None => format!("step {s}"),
        },
    }
}

fn print_report(r: &CapacityReport, data: &Values, model: &str) {
    println!("model {model}, horizon {} steps", r.horizon);
    println!("seasonal periods   {}", describe_periods(&r.periods));
    println!("bounds             {}", describe_bounds(&r.bounds));
    println!("current            {:.3} ({})", r.current, r.status_now);
    println!(
        "forecast peak      {:.3} ({}), upper {:.0}% {:.3}",
        r.peak, r.status_forecast, r.level, r.peak_upper
    );
    println!(
        "trend              {}, {:+.4}/step (Mann-Kendall p = {:.3})",
        r.trend.direction, r.trend.slope, r.trend.p_value
    );
    if r.trend.period > 1 {
        println!(
            "                   (tested without the {}-step season)",
            r.trend.period
        );
    }
    println!("threshold          {}", r.threshold);
    println!("saturation (mean)  {}", when(r.saturation_step, data));
    println!("saturation (upper) {}", when(r.saturation_step_upper, data));
    println!("P(cross) >=        {:.3}", r.probability);
    if let Some(a) = &r.replicas {
        let verb = match a.needed.cmp(&a.current) {
            std::cmp::Ordering::Greater => "scale up to",
            std::cmp::Ordering::Less => "can scale down to",
            std::cmp::Ordering::Equal => "keep",
        };
        println!(
            "replicas           {} now: {verb} {} for {}% target ({} for the upper bound)",
            a.current, a.needed, a.target, a.needed_upper
        );
    }
}

pub(crate) fn run_capacity(args: &CapacityArgs) -> Result<(), CliError> {
    let data = load(args.file.as_deref(), &args.source)?;
    let horizon = horizon_steps(&args.horizon, &data)?;
    let limits = bounds(
        args.bounds.as_deref(),
        &args.source.name(args.file.as_deref()),
        &data,
    )?;
    let params = CapacityParams {
        threshold: args.threshold,
        horizon,
        warning: args.warning,
        critical: args.critical,
        level: args.level,
        model: args.model.clone(),
        periods: args.seasons.clone(),
        step_seconds: step_seconds(&data),
        bounds: Some(limits),
        replicas: args.replicas,
        target: args.target,
    };
    let spinner = fitting(&args.model, data.values.len());
    let r = capacity::analyze(&data.values, &params);
    spinner.finish_and_clear();
    let r = r?;
    match args.format {
        Format::Json => {
            let mut v = serde_json::to_value(&r).map_err(|e| CliError::Usage(e.to_string()))?;
            let ts = |s: Option<usize>| {
                s.and_then(|s| {
                    data.next_timestamps(s)
                        .map(|(t, f)| format_timestamp(t[s - 1], f))
                })
            };
            v["saturation_time"] = serde_json::json!(ts(r.saturation_step));
            v["saturation_time_upper"] = serde_json::json!(ts(r.saturation_step_upper));
            v["model"] = serde_json::json!(args.model);
            println!("{v}");
        }
        Format::Table => print_report(&r, &data, &args.model),
    }
    if let Some(path) = &args.plot {
        let title = format!(
            "{} - capacity, threshold {}",
            args.source.name(args.file.as_deref()).display(),
            args.threshold
        );
        draw(
            path,
            &title,
            &data,
            &r.prediction,
            Some((
                args.threshold,
                r.saturation_step.or(r.saturation_step_upper),
            )),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiops_core::TimestampFormat;

    #[test]
    fn horizons_in_steps_and_durations() {
        let hourly = Values {
            values: vec![1.0; 3],
            times: Some((vec![0, 3_600_000, 7_200_000], TimestampFormat::UnixSeconds)),
        };
        assert_eq!(horizon_steps("48", &hourly).unwrap(), 48);
        assert_eq!(horizon_steps("7d", &hourly).unwrap(), 168);
        assert_eq!(horizon_steps("90m", &hourly).unwrap(), 2);
        assert!(horizon_steps("0", &hourly).is_err());
        assert!(horizon_steps("7x", &hourly).is_err());
        assert!(horizon_steps("soon", &hourly).is_err());
        let bare = Values {
            values: vec![1.0; 3],
            times: None,
        };
        let e = horizon_steps("7d", &bare).unwrap_err().to_string();
        assert!(e.contains("needs timestamps"), "{e}");
    }
}
