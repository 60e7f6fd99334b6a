//! `aiops`: the command-line interface of the aiops toolkit. Every command parses its
//! arguments, calls the library crates and prints; no algorithm lives here.

mod alerts_cmd;
mod causal_cmd;
mod detect_cmd;
mod error;
mod eval_cmd;
mod forecast_cmd;
mod logs_cmd;
mod multi_cmd;
mod plot;
mod progress;
mod push_cmd;
mod rca_cmd;
mod runbooks_cmd;
mod serve;
mod source_args;
mod table;
mod token_cmd;
mod workflow_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// aiops: anomaly detection on metrics and logs, alert correlation, root-cause ranking and
/// forecasting, as a service (`aiops serve`: remote_write, Alertmanager and JSON ingest, REST
/// and WebSocket API) or on files (CSV, JSON lines, Prometheus `query_range` JSON,
/// Alertmanager alerts, log files); plus the evaluations on public benchmarks.
#[derive(Debug, Parser)]
#[command(name = "aiops", version, long_about = None, propagate_version = true)]
#[command(after_help = "File formats, configuration keys and examples: docs/reference.md.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Find anomalies in a metric series.
    ///
    /// Reads the series, runs the detector over every point, and prints the anomalies merged
    /// into windows, or writes per-point scores with --output.
    Detect(detect_cmd::DetectArgs),
    /// Find anomalies across several metrics of one resource (wide CSV), scored together.
    DetectMulti(multi_cmd::MultiArgs),
    /// Forecast a metric series with prediction intervals.
    Forecast(forecast_cmd::ForecastArgs),
    /// Capacity planning: trend, time to saturation, crossing probability, replica advice.
    Capacity(forecast_cmd::CapacityArgs),
    /// List the detectors and their parameters.
    Detectors,
    /// Logs: template mining (`logs parse`) and anomaly detection (`logs detect`).
    #[command(subcommand)]
    Logs(logs_cmd::LogsCommand),
    /// Evaluate on a public benchmark with labelled data.
    #[command(subcommand)]
    Eval(eval_cmd::EvalCommand),
    /// Alert correlation: dedup, grouping, inhibition, silences, incidents.
    #[command(subcommand)]
    Alerts(alerts_cmd::AlertsCommand),
    /// Root-cause analysis: rank the resources of a topology as the cause of an incident from
    /// their metrics, with confidence, evidence and blast radius (JSON).
    Rca(rca_cmd::RcaArgs),
    /// Runbook knowledge base: list and full-text search.
    #[command(subcommand)]
    Runbooks(runbooks_cmd::RunbooksCommand),
    /// Run the service: remote_write, Alertmanager and JSON ingest, online detection,
    /// correlation and the REST API, on an embedded store (bound to 127.0.0.1:8080).
    Serve(serve::ServeArgs),
    /// Send a series file to a remote_write endpoint (aiops serve, VictoriaMetrics...), as
    /// Prometheus does: snappy + protobuf batches. The token comes from AIOPS_TOKEN.
    Push(push_cmd::PushArgs),
    /// API tokens of the service (stored as hashes; a new token is printed once).
    #[command(subcommand)]
    Token(token_cmd::TokenCommand),
    /// Workflows: check files (`workflow lint`) and run them on an event (`workflow run`,
    /// with --dry-run to see what each step would do).
    #[command(subcommand)]
    Workflow(workflow_cmd::WorkflowCommand),
}

fn main() -> ExitCode {
    // Die quietly on a closed stdout (`aiops ... | head`), as command-line tools do, instead
    // of panicking in `println!` (Rust ignores SIGPIPE by default).
    sigpipe::reset();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Detect(args) => detect_cmd::run(args),
        Command::Eval(cmd) => eval_cmd::run(cmd),
        Command::Alerts(cmd) => alerts_cmd::run(cmd),
        Command::Rca(args) => rca_cmd::run(args),
        Command::Runbooks(cmd) => runbooks_cmd::run(cmd),
        Command::Serve(args) => serve::run(args),
        Command::Push(args) => push_cmd::run(args),
        Command::Token(cmd) => token_cmd::run(cmd),
        Command::Workflow(cmd) => workflow_cmd::run(cmd),
        Command::Logs(cmd) => logs_cmd::run(cmd),
        Command::DetectMulti(args) => multi_cmd::run(args),
        Command::Forecast(args) => forecast_cmd::run_forecast(args),
        Command::Capacity(args) => forecast_cmd::run_capacity(args),
        Command::Detectors => {
            let width = aiops_detect::registry::DETECTORS
                .iter()
                .map(|d| d.name.len())
                .max()
                .unwrap_or(0);
            for d in aiops_detect::registry::DETECTORS {
                println!("{:<width$} {}", d.name, d.summary);
                for p in d.param_lines() {
                    println!("{:<width$}   {p}", "");
                }
            }
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
