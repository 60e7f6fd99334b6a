//! `aiops forecast` and `aiops capacity`: read one series, call `aiops-forecast`, print or
//! write the forecast, the capacity report and the plot.

use std::io::Write;
use std::path::{Path, PathBuf};

use aiops_core::TimestampFormat;
use aiops_core::io::ReadOptions;
use aiops_core::time::format_timestamp;
use aiops_forecast::Prediction;
use aiops_forecast::capacity::{self, CapacityParams, CapacityReport};
use aiops_forecast::registry::{self, DEFAULT_MODEL, MODELS};
use clap::{Args, ValueEnum};

use crate::error::CliError;
use crate::input;
use crate::plot;

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
    /// Prometheus `query_range` response (`.json`).
    file: PathBuf,

    /// How far ahead: steps (`48`) or a duration (`6h`, `7d`, `2w`; needs timestamps).
    #[arg(long)]
    horizon: String,

    /// Seasonal period in steps; repeat for several (e.g. --season 24 --season 168).
    /// Detected from the data when absent.
    #[arg(long = "season", value_name = "STEPS")]
    seasons: Vec<usize>,

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
    file: PathBuf,

    /// Saturation threshold in the metric's unit.
    #[arg(long, default_value_t = 85.0)]
    threshold: f64,

    /// How far ahead: steps or a duration (`6h`, `7d`).
    #[arg(long, default_value = "7d")]
    horizon: String,

    /// Seasonal period in steps; repeat for several. Detected when absent.
    #[arg(long = "season", value_name = "STEPS")]
    seasons: Vec<usize>,

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

/// The input series: values, and timestamps when the file has them.
struct Loaded {
    values: Vec<f64>,
    times: Option<(Vec<i64>, TimestampFormat)>,
}

impl Loaded {
    /// Median spacing of the timestamps, ms.
    fn step_ms(&self) -> Option<i64> {
        let (ts, _) = self.times.as_ref()?;
        let mut d: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
        if d.is_empty() {
            return None;
        }
        d.sort_unstable();
        Some(d[d.len() / 2])
    }

    fn future(&self, horizon: usize) -> Option<(Vec<i64>, TimestampFormat)> {
        let (ts, format) = self.times.as_ref()?;
        let step = self.step_ms()?;
        let last = *ts.last()?;
        Some((
            (1..=horizon as i64).map(|h| last + h * step).collect(),
            *format,
        ))
    }
}

fn single_column(path: &Path) -> Result<Option<Vec<f64>>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::input(path, aiops_core::CoreError::Io(e)))?;
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
                return Err(CliError::Usage(format!(
                    "{}: line {}: {:?} is not a number",
                    path.display(),
                    i + 1,
                    line.trim()
                )));
            }
        }
    }
    Ok(Some(values))
}

fn load(path: &Path) -> Result<Loaded, CliError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !matches!(ext, "json" | "jsonl" | "ndjson")
        && let Some(values) = single_column(path)?
    {
        return Ok(Loaded {
            values,
            times: None,
        });
    }
    let mut series = input::read(path, &ReadOptions::default())?;
    if series.len() != 1 {
        return Err(CliError::Usage(format!(
            "{}: {} series found; forecast takes one",
            path.display(),
            series.len()
        )));
    }
    let s = series.remove(0);
    Ok(Loaded {
        values: s.series.values().to_vec(),
        times: Some((s.series.timestamps().to_vec(), s.format)),
    })
}

/// Steps (`48`) or a duration (`90s`, `30m`, `6h`, `7d`, `2w`) divided by the series' step.
fn horizon_steps(text: &str, data: &Loaded) -> Result<usize, CliError> {
    let bad = |why: String| CliError::Usage(format!("--horizon {text:?}: {why}"));
    if let Ok(n) = text.parse::<usize>() {
        return if n == 0 {
            Err(bad("must be at least 1 step".into()))
        } else {
            Ok(n)
        };
    }
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or_else(|| bad("expected steps or a duration like 6h or 7d".into()))?;
    let (num, unit) = text.split_at(split);
    let num: f64 = num
        .parse()
        .map_err(|_| bad("expected steps or a duration like 6h or 7d".into()))?;
    let unit_ms = match unit {
        "s" => 1_000.0,
        "m" | "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        "w" => 604_800_000.0,
        _ => return Err(bad(format!("unknown unit {unit:?} (s, m, h, d, w)"))),
    };
    let step = data
        .step_ms()
        .filter(|s| *s > 0)
        .ok_or_else(|| bad("a duration needs timestamps in the input; give steps".into()))?;
    let steps = (num * unit_ms / step as f64).ceil();
    if steps.is_nan() || steps < 1.0 {
        return Err(bad("shorter than one step".into()));
    }
    Ok(steps as usize)
}

fn write_forecast(out: &mut dyn Write, p: &Prediction, data: &Loaded) -> std::io::Result<()> {
    let future = data.future(p.mean.len());
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
    data: &Loaded,
    p: &Prediction,
    threshold: Option<(f64, Option<usize>)>,
) -> Result<(), CliError> {
    let n = data.values.len();
    // Show at most four horizons of history, so the forecast is readable.
    let keep = (4 * p.mean.len()).max(48).min(n);
    let (hx, fx, time_axis): (Vec<f64>, Vec<f64>, bool) =
        match (&data.times, data.future(p.mean.len())) {
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
    let data = load(&args.file)?;
    let horizon = horizon_steps(&args.horizon, &data)?;
    let p = registry::forecast(
        &args.model,
        &data.values,
        &args.seasons,
        horizon,
        &args.level,
    )?;
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
        let title = format!("{} - {} forecast", args.file.display(), args.model);
        draw(path, &title, &data, &p, None)?;
    }
    Ok(())
}

fn when(step: Option<usize>, data: &Loaded) -> String {
    match step {
        None => "not within the horizon".into(),
        Some(s) => match data.future(s) {
            Some((t, f)) => format!("step {s} ({})", format_timestamp(t[s - 1], f)),
            None => format!("step {s}"),
        },
    }
}

fn print_report(r: &CapacityReport, data: &Loaded, model: &str) {
    println!("model {model}, horizon {} steps", r.horizon);
    println!("current            {:.3} ({:?})", r.current, r.status_now);
    println!(
        "forecast peak      {:.3} ({:?}), upper {:.0}% {:.3}",
        r.peak, r.status_forecast, r.level, r.peak_upper
    );
    println!(
        "trend              {:?}, {:+.4}/step (Mann-Kendall p = {:.3})",
        r.trend.direction, r.trend.slope, r.trend.p_value
    );
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
    let data = load(&args.file)?;
    let horizon = horizon_steps(&args.horizon, &data)?;
    let params = CapacityParams {
        threshold: args.threshold,
        horizon,
        warning: args.warning,
        critical: args.critical,
        level: args.level,
        model: args.model.clone(),
        periods: args.seasons.clone(),
        replicas: args.replicas,
        target: args.target,
    };
    let r = capacity::analyze(&data.values, &params)?;
    match args.format {
        Format::Json => {
            let mut v = serde_json::to_value(&r).map_err(|e| CliError::Usage(e.to_string()))?;
            let ts = |s: Option<usize>| {
                s.and_then(|s| data.future(s).map(|(t, f)| format_timestamp(t[s - 1], f)))
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
            args.file.display(),
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

    #[test]
    fn horizons_in_steps_and_durations() {
        let hourly = Loaded {
            values: vec![1.0; 3],
            times: Some((vec![0, 3_600_000, 7_200_000], TimestampFormat::UnixSeconds)),
        };
        assert_eq!(horizon_steps("48", &hourly).unwrap(), 48);
        assert_eq!(horizon_steps("7d", &hourly).unwrap(), 168);
        assert_eq!(horizon_steps("90m", &hourly).unwrap(), 2);
        assert!(horizon_steps("0", &hourly).is_err());
        assert!(horizon_steps("7y", &hourly).is_err());
        assert!(horizon_steps("soon", &hourly).is_err());
        let bare = Loaded {
            values: vec![1.0; 3],
            times: None,
        };
        assert!(horizon_steps("7d", &bare).is_err());
    }
}
