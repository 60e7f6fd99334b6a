//! `aiops eval`: wires the evaluation code of the library crates to the command line.

use std::path::{Path, PathBuf};
use std::time::Instant;

use aiops_alerts::Config;
use aiops_detect::registry::{self, DEFAULT_DETECTOR};
use aiops_eval::alert_correlation::{self as alert_eval, AlertEval};
use aiops_eval::alert_storm::ScenarioParams;
use aiops_eval::events::{self, EventReport};
use aiops_eval::loghub::{self, LoghubReport};
use aiops_eval::logs_anomaly::{self, LogAnomalyReport};
use aiops_eval::m4::M4Score;
use aiops_eval::nab::{self, NabReport};
use aiops_eval::rca_ranking::{self, Accuracy, Report as RcaReport, Simulator};
use aiops_eval::synthetic::{self, SyntheticParams};
use aiops_logs::LogDetectorParams;
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::error::CliError;
use crate::progress;

/// Where the public data sets are, printed by `aiops eval --help`.
const DATA_HELP: &str = "\
Data: `nab`, `events`, `m4`, `loghub`, `logs-anomaly` and `causal` read public data sets in their
published layout from the folder given with --data. Without --data the folder is
$AIOPS_DATA/<name> when the environment variable AIOPS_DATA is set, else
../shared/data/<name> (relative to the current folder):
  nab/     data/<category>/<series>.csv, labels/combined_windows.json   (numenta/NAB)
  telemanom/  data/<channel>.csv (timestamp,value,label), index.csv  (NASA SMAP/MSL, for `events`;
           `events --data` also takes any folder of timestamp,value,label CSVs)
  m4/      Hourly-train.csv, Hourly-test.csv                 (Mcompetitions/M4-methods, Dataset/)
  loghub/  <System>/<System>_2k.log and _2k.log_structured.csv  (logpai/loghub 2k samples),
           settings.json                     (per-system Drain settings; see docs/reference.md)
  pyrca/   data_linear.txt, graph.txt                           (salesforce/PyRCA test data)
`alerts`, `rca` and `events --synthetic` generate their data. Layouts in detail: docs/reference.md, section
\"Evaluation data folders\".";

/// The data folder of a benchmark: `--data`, else `$AIOPS_DATA/<name>`, else
/// `../shared/data/<name>`.
pub(crate) fn data_dir(given: Option<&Path>, name: &str) -> PathBuf {
    match (given, std::env::var_os("AIOPS_DATA")) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(base)) if !base.is_empty() => PathBuf::from(base).join(name),
        _ => Path::new("../shared/data").join(name),
    }
}

/// Prints `value` as one JSON object.
pub(crate) fn print_json(value: &impl Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string(value)
        .map_err(|e| CliError::Usage(format!("cannot write JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// Prints `report` as JSON when `json` is set, else as the text `table`.
pub(crate) fn print_report<T: Serialize>(
    json: bool,
    report: &T,
    table: impl FnOnce(&T),
) -> Result<(), CliError> {
    if json {
        return print_json(report);
    }
    table(report);
    Ok(())
}

/// Benchmarks to evaluate on.
#[derive(Debug, Subcommand)]
#[command(after_long_help = DATA_HELP)]
pub(crate) enum EvalCommand {
    /// Numenta Anomaly Benchmark: run a detector over the 58 series and print NAB's three
    /// normalised scores (standard, reward_low_FP_rate, reward_low_FN_rate).
    Nab(NabArgs),
    /// Event-level detection: run a detector over labelled `timestamp,value,label` series
    /// (NASA SMAP/MSL telemetry by default, any folder of such CSVs, or the seeded synthetic
    /// family) and print event precision, recall and F1 per series, their means, and the
    /// point-adjusted F1.
    Events(EventsArgs),
    /// Write the seeded synthetic family of `eval events --synthetic` as CSVs:
    /// DIR/data/<series>.csv (timestamp,value,label) and DIR/anomalies.csv (what was injected).
    SyntheticExport(SyntheticExportArgs),
    /// M4 hourly: forecast 48 steps of every series and print sMAPE, MASE and OWA (relative to
    /// Naive2, M4 definitions).
    M4(M4Args),
    /// Forecasts on a seeded family of operator-like series (1 min to 1 h sampling, daily and
    /// weekly cycles, trends, level shifts, anomalies, no cycle): forecast the next day from
    /// the timestamps alone and print MASE, sMAPE and 80% / 95% interval coverage, overall,
    /// per sampling interval and per shape.
    ForecastFamily(ForecastFamilyArgs),
    /// Loghub log parsing: mine templates in every `<System>/<System>_2k.log` with that
    /// system's settings and print grouping accuracy (GA) and template accuracy (PA) against
    /// the ground truth, per system and the mean.
    Loghub(LoghubArgs),
    /// Log anomaly detection on the labelled loghub systems (BGL, Thunderbird): strip each
    /// line's label, run the log detector and print line-level precision, recall and F1,
    /// with a keyword baseline alongside.
    LogsAnomaly(LogsAnomalyArgs),
    /// Alert correlation: generate alert storms with ground truth (random topology, injected
    /// faults propagating upstream, re-sends, background and flapping alerts), run the
    /// correlation engine and print noise reduction, incident purity and completeness.
    Alerts(AlertsArgs),
    /// Causal discovery: run PC (Fisher z, stable) and Granger on PyRCA's linear fixture
    /// (data_linear.txt) and print edge precision, recall, F1 and structural Hamming distance
    /// against its true DAG (graph.txt).
    Causal(crate::causal_cmd::CausalArgs),
    /// Root-cause ranking: simulate microservice incidents (random call graphs with hosts,
    /// faults propagating to callers with lags, daily cycles, noise, distractor spikes), rank
    /// with each method and print AC@1, AC@3 and Avg@5 at resource level, per method and per
    /// fault kind, with the anomaly time given and found; plus the calibration of the top
    /// candidate's confidence.
    Rca(RcaEvalArgs),
}

/// Arguments of `aiops eval rca`.
#[derive(Debug, Args)]
pub(crate) struct RcaEvalArgs {
    /// Number of simulated incidents.
    #[arg(long, default_value_t = 200)]
    cases: usize,

    /// Seed of the first case (case i uses seed + i).
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Rank with this method only (and BARO, the reference); default: every method.
    #[arg(long)]
    method: Option<String>,

    /// Fit the confidence calibration on these cases and print its knots (for
    /// aiops-rca/src/rank/confidence.rs) instead of the table.
    #[arg(long)]
    fit_calibration: bool,

    /// Where cases come from: `microservice` (call graphs with hosts) or `dag` (PyRCA-style
    /// random linear causal models, a shift at one variable).
    #[arg(long, default_value = "microservice")]
    simulator: String,

    /// With `--simulator dag`: variables per model.
    #[arg(long, default_value_t = 20)]
    dag_variables: usize,

    /// With `--simulator dag`: size of the shift, in noise standard deviations.
    #[arg(long, default_value_t = 5.0)]
    dag_magnitude: f64,

    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `aiops eval alerts`.
#[derive(Debug, Args)]
pub(crate) struct AlertsArgs {
    /// Number of generated cases.
    #[arg(long, default_value_t = 100)]
    cases: usize,

    /// Seed of the first case (the rest follow from it).
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Engine configuration (Alertmanager YAML plus our sections); default: built-in defaults.
    #[arg(long)]
    config: Option<PathBuf>,

    /// Services per generated topology (default mix: 30).
    #[arg(long)]
    services: Option<usize>,

    /// Faults injected per case (default mix: 3).
    #[arg(long)]
    faults: Option<usize>,

    /// Re-sends of each firing alert, as Prometheus re-sends every evaluation (default mix: 19).
    #[arg(long)]
    resends: Option<usize>,

    /// Random delay added to each alert's arrival, in seconds (default mix: 25).
    #[arg(long)]
    jitter: Option<u32>,

    /// Delay per hop of fault propagation, in seconds (default mix: 30).
    #[arg(long)]
    hop_delay: Option<u32>,

    /// Unrelated background alerts per case (default mix: 8).
    #[arg(long)]
    background: Option<usize>,

    /// Flapping alerts per case (default mix: 2).
    #[arg(long)]
    flapping: Option<usize>,

    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

impl AlertsArgs {
    /// The generator's default mix with the flags' overrides.
    fn scenario(&self) -> ScenarioParams {
        let mut p = ScenarioParams::default();
        if let Some(v) = self.services {
            p.services = v;
        }
        if let Some(v) = self.faults {
            p.faults = v;
        }
        if let Some(v) = self.resends {
            p.resends = v;
        }
        if let Some(v) = self.jitter {
            p.jitter_ms = i64::from(v) * 1000;
        }
        if let Some(v) = self.hop_delay {
            p.hop_delay_ms = i64::from(v) * 1000;
        }
        if let Some(v) = self.background {
            p.background = v;
        }
        if let Some(v) = self.flapping {
            p.flapping = v;
        }
        p
    }
}

/// Arguments of `aiops eval forecast-family`.
#[derive(Debug, Args)]
pub(crate) struct ForecastFamilyArgs {
    /// Model to evaluate (`aiops forecast --help` lists them).
    #[arg(short, long, default_value = aiops_forecast::registry::DEFAULT_MODEL)]
    model: String,

    /// Series per shape and sampling interval.
    #[arg(long, default_value_t = 2)]
    per_cell: usize,

    /// Seed of the family.
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `aiops eval m4`.
#[derive(Debug, Args)]
pub(crate) struct M4Args {
    /// M4 folder: Hourly-train.csv and Hourly-test.csv as published by the M4 competition
    /// (Mcompetitions/M4-methods, Dataset/Train and Dataset/Test); series H1..H200 or all 414.
    /// [default: $AIOPS_DATA/m4, else ../shared/data/m4]
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,

    /// Model to evaluate (`aiops forecast --help` lists them).
    #[arg(short, long, default_value = aiops_forecast::registry::DEFAULT_MODEL)]
    model: String,

    /// Steps to forecast.
    #[arg(long, default_value_t = 48)]
    horizon: usize,

    /// Seasonal period (steps).
    #[arg(long, default_value_t = 24)]
    season: usize,

    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `aiops eval loghub`.
#[derive(Debug, Args)]
pub(crate) struct LoghubArgs {
    /// Loghub folder: one sub-folder per system with <System>_2k.log and
    /// <System>_2k.log_structured.csv (logpai/loghub's 2k samples), and settings.json (see
    /// --settings). [default: $AIOPS_DATA/loghub, else ../shared/data/loghub]
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,

    /// Settings JSON (system -> log_format, regex, st, depth); default: settings.json in the
    /// data folder.
    #[arg(long)]
    settings: Option<PathBuf>,

    /// Parse as a user would without tuning for each system: its header format only, no
    /// masking regexes, the default similarity threshold and depth.
    #[arg(long, conflicts_with = "predicted")]
    untuned: bool,

    /// Score another parser's output instead of parsing: DIR/<System>/<System>_2k.log_structured.csv
    /// with EventId and EventTemplate (`<*>` for variables) per line, in the log's order.
    #[arg(long, value_name = "DIR")]
    predicted: Option<PathBuf>,

    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `aiops eval logs-anomaly`.
#[derive(Debug, Args)]
pub(crate) struct LogsAnomalyArgs {
    /// Loghub folder, as for `aiops eval loghub`; the labelled systems (BGL, Thunderbird: a
    /// label first on each line, `-` for normal) are scored.
    /// [default: $AIOPS_DATA/loghub, else ../shared/data/loghub]
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,

    /// Settings JSON; default: settings.json in the data folder. Systems whose log_format
    /// starts with <Label> are scored.
    #[arg(long)]
    settings: Option<PathBuf>,

    /// Window: a duration (60s, 5m, 1h30m) or a line count (1000lines).
    #[arg(long, default_value = "60s")]
    window: String,

    /// Detector parameter as key=value (rare_ratio=0.01, pca.alpha=0.01, pca=null);
    /// repeat for several.
    #[arg(short, long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,

    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `aiops eval events`.
#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    /// Folder of `timestamp,value,label` CSVs (label 1 = anomalous point): DIR/*.csv, or
    /// DIR/data/*.csv with DIR/index.csv (the NASA telemetry layout).
    /// [default: $AIOPS_DATA/telemanom, else ../shared/data/telemanom]
    #[arg(long, value_name = "DIR", conflicts_with = "synthetic")]
    data: Option<PathBuf>,

    /// Score the seeded synthetic family instead of a folder.
    #[arg(long)]
    synthetic: bool,

    /// With --synthetic: seed of the family.
    #[arg(long, default_value_t = 1, requires = "synthetic")]
    seed: u64,

    /// With --synthetic: series to generate.
    #[arg(long, default_value_t = 60, requires = "synthetic")]
    series: usize,

    /// Detector to run.
    #[arg(short, long, default_value = DEFAULT_DETECTOR)]
    detector: String,

    /// Detector parameter as key=value; repeat for several.
    #[arg(short, long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,

    /// Points after a labelled segment's end where a flag still finds it.
    #[arg(long, default_value_t = aiops_eval::events::DEFAULT_TOLERANCE)]
    tol: usize,

    /// Score only each channel's test part (after index.csv's train_points, as papers on the
    /// NASA telemetry do); the detector still runs over the whole series.
    #[arg(long, conflicts_with = "synthetic")]
    test_only: bool,

    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `aiops eval synthetic-export`.
#[derive(Debug, Args)]
pub(crate) struct SyntheticExportArgs {
    /// Folder to write (created when missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,

    /// Seed of the family.
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Series to generate.
    #[arg(long, default_value_t = 60)]
    series: usize,
}

/// Arguments of `aiops eval nab`.
#[derive(Debug, Args)]
pub(crate) struct NabArgs {
    /// NAB folder: data/<category>/<series>.csv and labels/combined_windows.json, as in the
    /// numenta/NAB repository (its results/ for --results).
    /// [default: $AIOPS_DATA/nab, else ../shared/data/nab]
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,

    /// Detector to run.
    #[arg(short, long, default_value = DEFAULT_DETECTOR)]
    detector: String,

    /// Detector parameter as key=value; repeat for several.
    #[arg(short, long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,

    /// Do not hand detectors the series' minimum and maximum (NAB gives them to every
    /// detector, and detectors that take a known range use them); they learn the range.
    #[arg(long, conflicts_with = "results")]
    learn_range: bool,

    /// Score a published detector's per-point results instead of running one: a folder
    /// `results/<detector>` of NAB's layout (the golden check of the scorer).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["detector", "params"])]
    results: Option<PathBuf>,

    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: &EvalCommand) -> Result<(), CliError> {
    match cmd {
        EvalCommand::Nab(args) => run_nab(args),
        EvalCommand::Events(args) => run_events(args),
        EvalCommand::SyntheticExport(args) => run_synthetic_export(args),
        EvalCommand::M4(args) => run_m4(args),
        EvalCommand::ForecastFamily(args) => run_forecast_family(args),
        EvalCommand::Loghub(args) => run_loghub(args),
        EvalCommand::LogsAnomaly(args) => run_logs_anomaly(args),
        EvalCommand::Alerts(args) => run_alerts(args),
        EvalCommand::Causal(args) => crate::causal_cmd::run(args),
        EvalCommand::Rca(args) => run_rca(args),
    }
}

fn run_alerts(args: &AlertsArgs) -> Result<(), CliError> {
    let config = match &args.config {
        Some(path) => crate::alerts_cmd::load_config(path)?,
        None => Config::default(),
    };
    let bar = progress::bar("cases");
    let r = alert_eval::evaluate_with_progress(
        &config,
        &args.scenario(),
        args.cases,
        args.seed,
        &progress::report(&bar),
    )
    .map_err(|e| match (e, &args.config) {
        // The engine refused the configuration (after reading it): name the file.
        (aiops_eval::EvalError::Alerts(source), Some(path)) => CliError::Alerts {
            path: path.clone(),
            source,
        },
        (e, _) => e.into(),
    })?;
    bar.finish_and_clear();
    print_report(args.json, &r, print_alerts)
}

fn print_alerts(r: &AlertEval) {
    let s = &r.scores;
    println!(
        "Alert correlation, {} generated cases (seed {}): {} alerts in, {} incidents, {} faults, {:.2} s",
        r.cases, r.seed, r.alerts_in, r.incidents, r.faults, r.seconds
    );
    println!("noise reduction  {:.4}", s.noise_reduction);
    println!("purity           {:.4}", s.purity);
    println!("completeness     {:.4}", s.completeness);
    println!("origin accuracy  {:.4}", s.origin_accuracy);
    println!(
        "episode reduction {:.4} (1 - incidents / distinct alerts)",
        s.episode_reduction
    );
}

fn run_rca(args: &RcaEvalArgs) -> Result<(), CliError> {
    use aiops_rca::rank::Method;
    let methods: Vec<Method> = match &args.method {
        None => Method::ALL.to_vec(),
        Some(name) => {
            let m: Method = name.parse()?;
            if m == Method::Baro {
                vec![m]
            } else {
                vec![m, Method::Baro]
            }
        }
    };
    let mut dag = aiops_eval::dag_sim::FaultParams::default();
    dag.dag.variables = args.dag_variables;
    dag.magnitude = args.dag_magnitude;
    let simulator = Simulator::by_name(&args.simulator, Default::default(), dag)?;
    let bar = progress::bar("cases");
    let r = rca_ranking::evaluate_with_progress(
        &simulator,
        &methods,
        args.cases,
        args.seed,
        &progress::report(&bar),
    )?;
    bar.finish_and_clear();
    if args.fit_calibration {
        for m in &r.methods {
            let knots: Vec<String> = m
                .fit_calibration()
                .knots()
                .iter()
                .map(|(x, p)| format!("({x:.3}, {p:.3})"))
                .collect();
            println!("{}: &[{}]", m.method, knots.join(", "));
        }
        return Ok(());
    }
    print_report(args.json, &r, print_rca)
}

fn print_rca(r: &RcaReport) {
    println!(
        "Root-cause ranking, {} simulated incidents ({} simulator, seed {}), {:.2} s",
        r.cases, r.simulator, r.seed, r.seconds
    );
    let kinds: Vec<String> = r
        .kinds
        .iter()
        .map(|(k, n)| format!("{} {n}", k.as_str()))
        .collect();
    println!("fault kinds: {}", kinds.join(", "));
    println!(
        "anomaly time found: median error {:.1} points, not found in {} cases",
        r.median_time_error, r.time_not_found
    );
    println!(
        "{:<11} {:>7} {:>7} {:>7}   {:>7} {:>7} {:>7}",
        "", "time given", "", "", "time found", "", ""
    );
    println!(
        "{:<11} {:>7} {:>7} {:>7}   {:>7} {:>7} {:>7}",
        "method", "AC@1", "AC@3", "Avg@5", "AC@1", "AC@3", "Avg@5"
    );
    let row = |label: &str, g: &Accuracy, f: &Accuracy| {
        println!(
            "{:<11} {:>7.3} {:>7.3} {:>7.3}   {:>7.3} {:>7.3} {:>7.3}",
            label,
            g.ac(1),
            g.ac(3),
            g.avg5(),
            f.ac(1),
            f.ac(3),
            f.avg5()
        );
    };
    for m in &r.methods {
        row(m.method.as_str(), &m.given, &m.found);
    }
    for m in &r.methods {
        println!("\nper fault kind, {}:", m.method);
        for (k, (g, f)) in &m.per_kind {
            row(&format!("  {}", k.as_str()), g, f);
        }
    }
    println!();
    for m in &r.methods {
        match m.confident_precision() {
            Some(p) => println!(
                "calibration, {}: {} rank-1 answers with confidence >= 0.8, {:.3} of them right",
                m.method, m.confident, p
            ),
            None => println!(
                "calibration, {}: no rank-1 answer with confidence >= 0.8",
                m.method
            ),
        }
    }
}

fn run_m4(args: &M4Args) -> Result<(), CliError> {
    let data = data_dir(args.data.as_deref(), "m4");
    let series = aiops_eval::m4::load(&data)?;
    let bar = progress::bar("series");
    let s = aiops_eval::m4::evaluate_with_progress(
        &series,
        &args.model,
        args.horizon,
        args.season,
        &progress::report(&bar),
    )?;
    bar.finish_and_clear();
    print_report(args.json, &s, |s| print_m4(s, args.horizon))
}

fn run_forecast_family(args: &ForecastFamilyArgs) -> Result<(), CliError> {
    use aiops_eval::forecast_family::{self, FamilyParams};
    let params = FamilyParams {
        per_cell: args.per_cell,
        seed: args.seed,
    };
    let series = forecast_family::generate(&params);
    let bar = progress::bar("series");
    let s = forecast_family::evaluate_with_progress(
        &series,
        &args.model,
        params,
        &progress::report(&bar),
    )?;
    bar.finish_and_clear();
    print_report(args.json, &s, print_forecast_family)
}

fn print_forecast_family(s: &aiops_eval::forecast_family::FamilyScore) {
    println!(
        "forecast family (seed {}), model {}: {} series, next day, {:.2} s",
        s.params.seed, s.model, s.all.series, s.seconds
    );
    println!(
        "{:<12} {:>6} {:>7} {:>7} {:>7} {:>7} {:>8}",
        "group", "series", "MASE", "sMAPE", "cov80", "cov95", "periods"
    );
    for g in std::iter::once(&s.all)
        .chain(&s.by_interval)
        .chain(&s.by_shape)
    {
        println!(
            "{:<12} {:>6} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>5}/{:<2}",
            g.group,
            g.series,
            g.mase,
            g.smape,
            g.coverage_80,
            g.coverage_95,
            g.periods_right,
            g.series
        );
    }
}

fn print_m4(s: &M4Score, horizon: usize) {
    println!(
        "M4 hourly, model {}: {} series, horizon {}, {:.2} s",
        s.model, s.series, horizon, s.seconds
    );
    println!("{:<8} {:>8} {:>8} {:>8}", "", "sMAPE", "MASE", "OWA");
    println!(
        "{:<8} {:>8.3} {:>8.3} {:>8.3}",
        s.model, s.smape, s.mase, s.owa
    );
    println!(
        "{:<8} {:>8.3} {:>8.3} {:>8.3}",
        "Naive2", s.naive2_smape, s.naive2_mase, 1.0
    );
    println!(
        "interval coverage: 80% -> {:.3}, 95% -> {:.3}",
        s.coverage_80, s.coverage_95
    );
}

/// The settings file: `--settings`, else `settings.json` in the data folder.
fn settings_path(given: Option<&Path>, data: &Path) -> PathBuf {
    given.map_or_else(|| data.join("settings.json"), Path::to_path_buf)
}

fn run_loghub(args: &LoghubArgs) -> Result<(), CliError> {
    let data = data_dir(args.data.as_deref(), "loghub");
    let mut settings = loghub::load_settings(&settings_path(args.settings.as_deref(), &data))?;
    if args.untuned {
        settings = settings
            .into_iter()
            .map(|(k, s)| (k, s.untuned()))
            .collect();
    }
    let bar = progress::bar("systems");
    let scores = loghub::evaluate_loghub_systems(
        &data,
        &settings,
        args.predicted.as_deref(),
        &progress::report(&bar),
    )?;
    bar.finish_and_clear();
    let report = LoghubReport::new(scores);
    print_report(args.json, &report, print_loghub)
}

fn print_loghub(r: &LoghubReport) {
    println!(
        "{:<12} {:>6} {:>7} {:>7} {:>7} {:>9} {:>10} {:>9}",
        "system", "lines", "GA", "PA", "PA corr", "Drain GA", "templates", "truth"
    );
    for s in r.systems.values() {
        let drain = s.drain_ga.map_or("-".to_string(), |g| format!("{g:.4}"));
        println!(
            "{:<12} {:>6} {:>7.4} {:>7.4} {:>7.4} {:>9} {:>10} {:>9}",
            s.system, s.lines, s.ga, s.pa, s.pa_corrected, drain, s.templates, s.truth_templates
        );
    }
    println!(
        "{:<12} {:>6} {:>7.4} {:>7.4} {:>7.4}",
        "mean", "", r.mean_ga, r.mean_pa, r.mean_pa_corrected
    );
}

fn run_logs_anomaly(args: &LogsAnomalyArgs) -> Result<(), CliError> {
    let data = data_dir(args.data.as_deref(), "loghub");
    let settings = loghub::load_settings(&settings_path(args.settings.as_deref(), &data))?;
    let params =
        crate::logs_cmd::detector_params(LogDetectorParams::new(), &args.window, &args.params)?;
    let start = Instant::now();
    let bar = progress::bar("systems");
    let scores = logs_anomaly::evaluate_log_anomaly_with_progress(
        &data,
        &settings,
        &params,
        &progress::report(&bar),
    )?;
    bar.finish_and_clear();
    let report = LogAnomalyReport::new(scores, start.elapsed().as_secs_f64());
    print_report(args.json, &report, print_logs_anomaly)
}

fn print_logs_anomaly(r: &LogAnomalyReport) {
    println!(
        "{:<12} {:<22} {:>6} {:>6} {:>8} {:>7} {:>9} {:>6} {:>6}",
        "system", "method", "lines", "alerts", "windows", "flagged", "precision", "recall", "F1"
    );
    for s in r.systems.values() {
        for (name, p) in [
            ("detector", &s.detector),
            ("keyword baseline", &s.keyword_baseline),
            ("level-keyword baseline", &s.level_keyword_baseline),
        ] {
            println!(
                "{:<12} {:<22} {:>6} {:>6} {:>8} {:>7} {:>9.3} {:>6.3} {:>6.3}",
                s.system,
                name,
                s.lines,
                s.alerts,
                s.windows,
                p.flagged,
                p.precision,
                p.recall,
                p.f1
            );
        }
    }
    println!(
        "window {}; keyword baseline: error, exception, warn, fatal or fail in the message \
         or Level; level-keyword: the same unless Level is INFO/DEBUG/...; {:.2} s",
        r.systems.values().next().map_or("", |s| s.window.as_str()),
        r.seconds
    );
}

fn run_nab(args: &NabArgs) -> Result<(), CliError> {
    let data = data_dir(args.data.as_deref(), "nab");
    let corpus = nab::load_corpus(&data)?;
    let report = match &args.results {
        Some(dir) => nab::evaluate_results(&corpus, dir)?,
        None => {
            let params = registry::parse_assignments(&args.params)?;
            let bar = progress::bar("series");
            let r = nab::evaluate_detector(
                &corpus,
                &args.detector,
                &params,
                !args.learn_range,
                &progress::report(&bar),
            )?;
            bar.finish_and_clear();
            r
        }
    };
    print_report(args.json, &report, print_nab)
}

fn print_nab(r: &NabReport) {
    println!(
        "NAB, detector {}: {} series, {:.2} s",
        r.detector, r.series, r.seconds
    );
    println!(
        "{:<20} {:>10} {:>10} {:>10} {:>6} {:>6} {:>6}",
        "profile", "score", "raw", "threshold", "TP", "FP", "FN"
    );
    for p in &r.profiles {
        println!(
            "{:<20} {:>10.2} {:>10.3} {:>10.4} {:>6} {:>6} {:>6}",
            p.profile, p.normalized, p.raw, p.threshold, p.counts.tp, p.counts.fp, p.counts.fn_
        );
    }
}

fn run_events(args: &EventsArgs) -> Result<(), CliError> {
    let params = registry::parse_assignments(&args.params)?;
    let bar = progress::bar("series");
    let report = if args.synthetic {
        let family = SyntheticParams {
            series: args.series,
            seed: args.seed,
        };
        synthetic::evaluate_detector(
            &family,
            &args.detector,
            &params,
            args.tol,
            &progress::report(&bar),
        )?
    } else {
        let data = data_dir(args.data.as_deref(), "telemanom");
        let corpus = events::load_dir(&data)?;
        events::evaluate_detector(
            &corpus,
            &data.display().to_string(),
            &args.detector,
            &params,
            args.tol,
            args.test_only,
            &progress::report(&bar),
        )?
    };
    bar.finish_and_clear();
    print_report(args.json, &report, print_events)
}

fn run_synthetic_export(args: &SyntheticExportArgs) -> Result<(), CliError> {
    let family = synthetic::generate(&SyntheticParams {
        series: args.series,
        seed: args.seed,
    })?;
    synthetic::write_family(&args.out, &family)?;
    let anomalies: usize = family.iter().map(|s| s.injected.len()).sum();
    let points: usize = family.iter().map(|s| s.series.values.len()).sum();
    eprintln!(
        "wrote {} series ({points} points, {anomalies} anomalies) to {}",
        family.len(),
        args.out.display()
    );
    Ok(())
}

fn opt(x: Option<f64>) -> String {
    x.map_or("-".to_string(), |v| format!("{v:.3}"))
}

fn print_events(r: &EventReport) {
    println!(
        "Events, detector {} on {}{}: {} series, {} points, {} segments, tolerance {} points, \
         detector {:.2} s ({:.2} us/point), {:.2} s in all",
        r.detector,
        r.data,
        if r.test_only { " (test parts)" } else { "" },
        r.series,
        r.points,
        r.segments,
        r.tolerance,
        r.detector_seconds,
        r.us_per_point,
        r.seconds
    );
    let rows: Vec<Vec<String>> = r
        .per_series
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.points.to_string(),
                s.segments.to_string(),
                s.found.to_string(),
                s.runs.to_string(),
                s.false_alarms.to_string(),
                opt(s.precision),
                opt(s.recall),
                opt(s.f1),
                opt(s.pa_f1),
                format!("{:.3}", s.seconds),
            ]
        })
        .collect();
    let header = [
        "series", "points", "segments", "found", "runs", "false", "P", "R", "F1", "PA F1",
        "seconds",
    ];
    let _ = crate::table::write(&mut std::io::stdout(), &header, &rows);
    println!();
    println!("{:<28} {:>9} {:>9} {:>9}", "", "precision", "recall", "F1");
    for (label, p) in [
        ("event, mean over series", &r.mean),
        ("event, pooled", &r.pooled),
        ("point-adjusted, mean", &r.pa_mean),
        ("point-adjusted, pooled", &r.pa_pooled),
    ] {
        println!(
            "{label:<28} {:>9} {:>9} {:>9}",
            opt(p.precision),
            opt(p.recall),
            opt(p.f1)
        );
    }
    println!(
        "{} runs of flagged points, {} false alarms; F1 means over the {} series with segments",
        r.runs, r.false_alarms, r.series_with_segments
    );
    if !r.by_kind.is_empty() {
        println!();
        for (kind, k) in &r.by_kind {
            println!(
                "{kind:<16} found {:>4} of {:>4}  recall {:.3}",
                k.found, k.segments, k.recall
            );
        }
    }
}
