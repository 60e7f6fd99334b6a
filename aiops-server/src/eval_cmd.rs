//! `aiops eval`: wires the evaluation code of the library crates to the command line.

use std::path::PathBuf;
use std::time::Instant;

use aiops_alerts::Config;
use aiops_detect::registry::{self, DEFAULT_DETECTOR};
use aiops_eval::alert_correlation as alert_eval;
use aiops_eval::alert_storm::ScenarioParams;
use aiops_eval::nab::{self, CostProfile, ProfileResult};
use aiops_eval::{loghub, logs_anomaly};
use aiops_logs::LogDetectorParams;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::error::CliError;

/// Benchmarks to evaluate on.
#[derive(Debug, Subcommand)]
pub(crate) enum EvalCommand {
    /// Numenta Anomaly Benchmark: run a detector over the 58 series and print NAB's three
    /// normalised scores (standard, reward_low_FP_rate, reward_low_FN_rate).
    Nab(NabArgs),
    /// M4 hourly: forecast 48 steps of every series and print sMAPE, MASE and OWA (relative to
    /// Naive2, M4 definitions).
    M4(M4Args),
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

/// Arguments of `aiops eval m4`.
#[derive(Debug, Args)]
pub(crate) struct M4Args {
    /// Folder holding Hourly-train.csv and Hourly-test.csv.
    #[arg(long, default_value = "../shared/data/m4")]
    data: PathBuf,

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
    /// Loghub folder (one sub-folder per system).
    #[arg(long, default_value = "../shared/data/loghub")]
    data: PathBuf,

    /// Settings JSON (system -> log_format, regex, st, depth); default: settings.json in the
    /// data folder.
    #[arg(long)]
    settings: Option<PathBuf>,

    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `aiops eval logs-anomaly`.
#[derive(Debug, Args)]
pub(crate) struct LogsAnomalyArgs {
    /// Loghub folder (one sub-folder per system).
    #[arg(long, default_value = "../shared/data/loghub")]
    data: PathBuf,

    /// Settings JSON; default: settings.json in the data folder. Systems whose log_format
    /// starts with <Label> are scored.
    #[arg(long)]
    settings: Option<PathBuf>,

    /// Window: 60s, 5m, 1h... or 1000lines.
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

/// Arguments of `aiops eval nab`.
#[derive(Debug, Args)]
pub(crate) struct NabArgs {
    /// NAB folder (holding data/ and labels/combined_windows.json).
    #[arg(long, default_value = "../shared/data/nab")]
    data: PathBuf,

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
        EvalCommand::M4(args) => run_m4(args),
        EvalCommand::Loghub(args) => run_loghub(args),
        EvalCommand::LogsAnomaly(args) => run_logs_anomaly(args),
        EvalCommand::Alerts(args) => run_alerts(args),
        EvalCommand::Causal(args) => crate::causal_cmd::run(args),
        EvalCommand::Rca(args) => run_rca(args),
    }
}

fn run_alerts(args: &AlertsArgs) -> Result<(), CliError> {
    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::input(path, aiops_core::CoreError::Io(e)))?;
            Config::from_yaml(&text).map_err(|source| CliError::Alerts {
                path: path.clone(),
                source,
            })?
        }
        None => Config::default(),
    };
    let start = Instant::now();
    let r = alert_eval::evaluate(&config, &args.scenario(), args.cases, args.seed)?;
    let seconds = start.elapsed().as_secs_f64();
    let s = r.scores;
    if args.json {
        println!(
            "{}",
            json!({"noise_reduction": s.noise_reduction, "purity": s.purity,
                "completeness": s.completeness, "origin_accuracy": s.origin_accuracy,
                "episode_reduction": s.episode_reduction,
                "cases": r.cases, "seed": args.seed, "alerts_in": r.alerts_in,
                "incidents": r.incidents, "faults": r.faults, "seconds": seconds})
        );
    } else {
        println!(
            "Alert correlation, {} generated cases (seed {}): {} alerts in, {} incidents, {} faults, {:.2} s",
            r.cases, args.seed, r.alerts_in, r.incidents, r.faults, seconds
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
    Ok(())
}

fn run_rca(args: &RcaEvalArgs) -> Result<(), CliError> {
    use aiops_eval::rca_ranking::{Accuracy, Simulator, evaluate_with};
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
    let start = Instant::now();
    let simulator = match args.simulator.as_str() {
        "microservice" => {
            Simulator::Microservice(aiops_eval::microservice_sim::SimParams::default())
        }
        "dag" => {
            let mut p = aiops_eval::dag_sim::FaultParams::default();
            p.dag.variables = args.dag_variables;
            p.magnitude = args.dag_magnitude;
            Simulator::RandomDag(p)
        }
        other => {
            return Err(CliError::Usage(format!(
                "unknown simulator {other:?}: microservice or dag"
            )));
        }
    };
    let r = evaluate_with(&simulator, &methods, args.cases, args.seed)?;
    let seconds = start.elapsed().as_secs_f64();
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
    let acc =
        |a: &Accuracy| json!({"ac1": a.ac(1), "ac3": a.ac(3), "avg5": a.avg5(), "cases": a.cases});
    if args.json {
        let methods: Vec<serde_json::Value> = r
            .methods
            .iter()
            .map(|m| {
                let kinds: serde_json::Map<String, serde_json::Value> = m
                    .per_kind
                    .iter()
                    .map(|(k, (g, f))| {
                        (
                            k.as_str().to_string(),
                            json!({"given": acc(g), "found": acc(f)}),
                        )
                    })
                    .collect();
                json!({"method": m.method.as_str(), "given": acc(&m.given), "found": acc(&m.found),
                       "per_kind": kinds, "confident": m.confident,
                       "confident_precision": m.confident_precision()})
            })
            .collect();
        println!(
            "{}",
            json!({"cases": r.cases, "seed": r.seed, "simulator": args.simulator, "methods": methods,
                   "median_time_error_points": r.median_time_error,
                   "time_not_found": r.time_not_found, "seconds": seconds})
        );
        return Ok(());
    }
    println!(
        "Root-cause ranking, {} simulated incidents ({} simulator, seed {}), {:.2} s",
        r.cases, args.simulator, r.seed, seconds
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
    Ok(())
}

fn run_m4(args: &M4Args) -> Result<(), CliError> {
    let series = aiops_eval::m4::load(&args.data)?;
    let s = aiops_eval::m4::evaluate(&series, &args.model, args.horizon, args.season)?;
    if args.json {
        println!(
            "{}",
            json!({"model": s.model, "smape": s.smape, "mase": s.mase, "owa": s.owa,
                "seconds": s.seconds, "coverage_80": s.coverage_80, "coverage_95": s.coverage_95})
        );
    } else {
        println!(
            "M4 hourly, model {}: {} series, horizon {}, {:.2} s",
            s.model, s.series, args.horizon, s.seconds
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
    Ok(())
}

fn run_loghub(args: &LoghubArgs) -> Result<(), CliError> {
    let settings_path = args
        .settings
        .clone()
        .unwrap_or_else(|| args.data.join("settings.json"));
    let settings = loghub::load_settings(&settings_path)?;
    let scores = loghub::evaluate_loghub(&args.data, &settings)?;
    let n = scores.len() as f64;
    let mean_ga = scores.iter().map(|s| s.ga).sum::<f64>() / n;
    let mean_pa = scores.iter().map(|s| s.pa).sum::<f64>() / n;
    if args.json {
        let systems: serde_json::Map<String, serde_json::Value> = scores
            .iter()
            .map(|s| (s.system.clone(), json!({"ga": s.ga, "pa": s.pa})))
            .collect();
        println!(
            "{}",
            json!({"systems": systems, "mean_ga": mean_ga, "mean_pa": mean_pa})
        );
    } else {
        println!(
            "{:<12} {:>6} {:>7} {:>7} {:>9} {:>10} {:>9}",
            "system", "lines", "GA", "PA", "Drain GA", "templates", "truth"
        );
        for s in &scores {
            let drain = s.drain_ga.map_or("-".to_string(), |g| format!("{g:.4}"));
            println!(
                "{:<12} {:>6} {:>7.4} {:>7.4} {:>9} {:>10} {:>9}",
                s.system, s.lines, s.ga, s.pa, drain, s.templates, s.truth_templates
            );
        }
        println!("{:<12} {:>6} {:>7.4} {:>7.4}", "mean", "", mean_ga, mean_pa);
    }
    Ok(())
}

fn run_logs_anomaly(args: &LogsAnomalyArgs) -> Result<(), CliError> {
    let settings_path = args
        .settings
        .clone()
        .unwrap_or_else(|| args.data.join("settings.json"));
    let settings = loghub::load_settings(&settings_path)?;
    let params =
        crate::logs_cmd::detector_params(LogDetectorParams::new(), &args.window, &args.params)?;
    let start = Instant::now();
    let scores = logs_anomaly::evaluate_log_anomaly(&args.data, &settings, &params)?;
    let seconds = start.elapsed().as_secs_f64();
    if args.json {
        let systems: serde_json::Map<String, serde_json::Value> = scores
            .iter()
            .map(|s| {
                (
                    s.system.clone(),
                    json!({
                        "lines": s.lines,
                        "alerts": s.alerts,
                        "window": s.window,
                        "windows": s.windows,
                        "detector": s.detector,
                        "keyword_baseline": s.keyword_baseline,
                        "level_keyword_baseline": s.level_keyword_baseline,
                    }),
                )
            })
            .collect();
        println!("{}", json!({"systems": systems, "seconds": seconds}));
    } else {
        println!(
            "{:<12} {:<22} {:>6} {:>6} {:>8} {:>7} {:>9} {:>6} {:>6}",
            "system",
            "method",
            "lines",
            "alerts",
            "windows",
            "flagged",
            "precision",
            "recall",
            "F1"
        );
        for s in &scores {
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
             or Level; level-keyword: the same unless Level is INFO/DEBUG/...; {seconds:.2} s",
            scores.first().map_or("", |s| s.window.as_str())
        );
    }
    Ok(())
}

fn run_nab(args: &NabArgs) -> Result<(), CliError> {
    let start = Instant::now();
    let corpus = nab::load_corpus(&args.data)?;
    let (name, scores) = match &args.results {
        Some(dir) => {
            let name = dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("results")
                .to_string();
            (name, nab::load_result_scores(dir, &corpus)?)
        }
        None => {
            let params = registry::parse_assignments(&args.params)?;
            let det = registry::build(&args.detector, &params)?;
            (
                det.name().to_string(),
                nab::run_detector(&corpus, &args.detector, &params, !args.learn_range)?,
            )
        }
    };
    let results = nab::score_corpus(&corpus, &scores, &CostProfile::nab_profiles())?;
    let seconds = start.elapsed().as_secs_f64();
    let by = |p: &str| {
        results
            .iter()
            .find(|r| r.profile == p)
            .map(|r| r.normalized)
    };
    if args.json {
        println!(
            "{}",
            json!({
                "detector": name,
                "standard": by("standard"),
                "reward_low_FP_rate": by("reward_low_FP_rate"),
                "reward_low_FN_rate": by("reward_low_FN_rate"),
                "seconds": seconds,
            })
        );
    } else {
        print_table(&name, corpus.len(), &results, seconds);
    }
    Ok(())
}

fn print_table(name: &str, files: usize, results: &[ProfileResult], seconds: f64) {
    println!("NAB, detector {name}: {files} series, {seconds:.2} s");
    println!(
        "{:<20} {:>10} {:>10} {:>10} {:>6} {:>6} {:>6}",
        "profile", "score", "raw", "threshold", "TP", "FP", "FN"
    );
    for r in results {
        println!(
            "{:<20} {:>10.2} {:>10.3} {:>10.4} {:>6} {:>6} {:>6}",
            r.profile, r.normalized, r.raw, r.threshold, r.counts.tp, r.counts.fp, r.counts.fn_
        );
    }
}
