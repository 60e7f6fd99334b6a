//! `aiops alerts ...`: alert correlation on files. All logic is in `aiops_alerts`; alerts are
//! read by `aiops_integrations::alertmanager`.

use std::path::{Path, PathBuf};

use aiops_alerts::{AlertError, Config, Report, correlate_batch};
use aiops_core::{CoreError, Topology};
use aiops_integrations::alertmanager::parse_alerts;
use clap::{Args, Subcommand, ValueEnum};

use crate::error::CliError;

/// Alert commands.
#[derive(Debug, Subcommand)]
pub(crate) enum AlertsCommand {
    /// Deduplicate, inhibit, silence and correlate alerts into incidents.
    Correlate(CorrelateArgs),
}

/// Output formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    /// `{"incidents": [...], "stats": {...}}`.
    Json,
    /// One line per incident, then the counters.
    Text,
}

/// Arguments of `aiops alerts correlate`.
#[derive(Debug, Args)]
pub(crate) struct CorrelateArgs {
    /// Alerts in arrival order: JSON lines of Alertmanager API v2 alerts, or webhook
    /// payloads (version 4).
    #[arg(long)]
    input: PathBuf,
    /// YAML configuration (Alertmanager's route and inhibit_rules, plus dedup,
    /// correlation, silences, maintenance_windows).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Topology JSON: {"nodes": [...], "edges": [...]}.
    #[arg(long)]
    topology: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
}

/// Reads and parses an alert correlation configuration; errors name the file.
pub(crate) fn load_config(path: &Path) -> Result<Config, CliError> {
    let config = Config::from_yaml(&read(path)?).map_err(alerts(path))?;
    config.check().map_err(alerts(path))?;
    Ok(config)
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::input(path, CoreError::Io(e)))
}

fn alerts(path: &Path) -> impl Fn(AlertError) -> CliError + '_ {
    move |source| CliError::Alerts {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs an alerts command.
pub(crate) fn run(cmd: &AlertsCommand) -> Result<(), CliError> {
    match cmd {
        AlertsCommand::Correlate(args) => {
            let report = correlate(args)?;
            match args.format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("report serializes")
                ),
                Format::Text => print_text(&report),
            }
            Ok(())
        }
    }
}

fn correlate(args: &CorrelateArgs) -> Result<Report, CliError> {
    let config = match &args.config {
        Some(p) => load_config(p)?,
        None => Config::default(),
    };
    let topology = match &args.topology {
        Some(p) => Some(Topology::from_json(&read(p)?).map_err(|e| CliError::input(p, e))?),
        None => None,
    };
    let input = parse_alerts(&read(&args.input)?).map_err(|source| CliError::Integration {
        path: args.input.clone(),
        source,
    })?;
    Ok(correlate_batch(config, topology.as_ref(), input)?)
}

fn print_text(r: &Report) {
    for i in &r.incidents {
        println!(
            "{:<8} {:<8} {:<9} {:>4} alerts  origin={:<12} {}",
            i.id,
            i.severity.to_string(),
            format!("{:?}", i.status).to_lowercase(),
            i.alerts.len(),
            i.probable_origin.as_deref().unwrap_or("-"),
            i.resources.join(",")
        );
    }
    let s = &r.stats;
    println!(
        "alerts_in={} duplicates={} suppressed={} inhibited={} incidents={} noise_reduction={:.3}",
        s.alerts_in, s.duplicates, s.suppressed, s.inhibited, s.incidents, s.noise_reduction
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlates_files() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("alerts.jsonl");
        std::fs::write(
            &input,
            concat!(
                r#"{"labels": {"alertname": "Down", "service": "db", "severity": "critical"}, "startsAt": "2024-01-01T00:00:00Z"}"#,
                "\n",
                r#"{"labels": {"alertname": "Errors", "service": "web"}, "startsAt": "2024-01-01T00:01:00Z"}"#,
                "\n"
            ),
        )
        .unwrap();
        let topo = dir.path().join("topo.json");
        std::fs::write(
            &topo,
            r#"{"nodes": [{"id": "web", "kind": "service"}, {"id": "db", "kind": "database"}],
                "edges": [{"from": "web", "to": "db", "kind": "calls"}]}"#,
        )
        .unwrap();
        let args = CorrelateArgs {
            input: input.clone(),
            config: None,
            topology: Some(topo),
            format: Format::Json,
        };
        let r = correlate(&args).unwrap();
        assert_eq!(r.incidents.len(), 1);
        assert_eq!(r.incidents[0].probable_origin.as_deref(), Some("db"));
        let cfg = dir.path().join("bad.yaml");
        std::fs::write(&cfg, "route: {receiver: r, matchers: ['a=~\"(\"']}").unwrap();
        let bad = CorrelateArgs {
            config: Some(cfg),
            ..args
        };
        let e = correlate(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.yaml"), "{e}");
    }
}
