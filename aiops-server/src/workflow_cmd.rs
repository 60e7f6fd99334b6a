//! `aiops workflow ...`: check workflow files and run them on an event. All logic is in
//! `aiops_workflow`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aiops_workflow::{
    Engine, Level, NoHost, Registry, Remediation, RunOptions, TriggerEvent, WorkflowSet,
};
use clap::{Args, Subcommand};

use crate::error::CliError;

/// Workflow commands.
#[derive(Debug, Subcommand)]
pub(crate) enum WorkflowCommand {
    /// Check workflow files: unknown actions and keys, forward references, expressions and
    /// templates; exits 1 when any workflow is invalid. Systems a step names that are not
    /// configured (--system) are warnings.
    Lint(LintArgs),
    /// Run the workflows of a file on an event and print each run's record (every step's
    /// decision, rendered params, output, attempts and errors) as JSON. Nothing is configured
    /// here but the remediation allow-list: use --dry-run to see what each step would do.
    Run(RunArgs),
}

/// Arguments of `aiops workflow lint`.
#[derive(Debug, Args)]
pub(crate) struct LintArgs {
    /// A workflow file, or a directory of them (`*.yaml`, `*.yml`).
    path: PathBuf,
    /// A configured system (`jira`, `slack`...); repeat for several.
    #[arg(long = "system")]
    systems: Vec<String>,
    /// Print the diagnostics as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `aiops workflow run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The workflow file.
    file: PathBuf,
    /// The workflow to run (by default, every workflow the event triggers).
    #[arg(long)]
    workflow: Option<String>,
    /// The event (JSON): an alert in Alertmanager API v2 form, an incident, or an event with
    /// `source` and `event_type`.
    #[arg(long)]
    event: PathBuf,
    /// Decide and render every step, call nothing.
    #[arg(long)]
    dry_run: bool,
    /// Outputs assumed for steps in a dry run (JSON object: step name → output).
    #[arg(long)]
    assume: Option<PathBuf>,
    /// The remediation allow-list (YAML: `commands`, `http`, `defaults`).
    #[arg(long)]
    remediation: Option<PathBuf>,
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::input(path, aiops_core::CoreError::Io(e)))
}

fn read_json(path: &Path) -> Result<serde_json::Value, CliError> {
    serde_json::from_str(&read(path)?)
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

/// Runs a workflow command.
pub(crate) fn run(cmd: &WorkflowCommand) -> Result<(), CliError> {
    match cmd {
        WorkflowCommand::Lint(a) => {
            let d = aiops_workflow::lint(&a.path, &Registry::builtin(), &a.systems);
            if a.json {
                println!("{}", serde_json::json!(d));
            } else {
                for x in &d {
                    println!("{x}");
                }
            }
            let errors = d.iter().filter(|x| x.level == Level::Error).count();
            if errors > 0 {
                return Err(CliError::Usage(format!(
                    "{errors} error(s) in {}",
                    a.path.display()
                )));
            }
            Ok(())
        }
        WorkflowCommand::Run(a) => {
            let registry = Registry::builtin();
            let set = WorkflowSet::load(&a.file, &registry)
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let event = TriggerEvent::from_json(&read_json(&a.event)?)
                .map_err(|e| CliError::Usage(format!("{}: {e}", a.event.display())))?;
            let remediation: Remediation = match &a.remediation {
                None => Remediation::default(),
                Some(p) => aiops_core::yaml::from_str(&read(p)?)
                    .map_err(|e| CliError::Usage(format!("{}: {e}", p.display())))?,
            };
            let assume: BTreeMap<String, serde_json::Value> = match &a.assume {
                None => BTreeMap::new(),
                Some(p) => serde_json::from_value(read_json(p)?)
                    .map_err(|e| CliError::Usage(format!("{}: {e}", p.display())))?,
            };
            let engine = Engine::new(set, registry, Arc::new(NoHost), remediation);
            let names = match &a.workflow {
                Some(n) => vec![n.clone()],
                None => {
                    let n = engine.triggered_by(&event);
                    if n.is_empty() {
                        return Err(CliError::Usage(format!(
                            "the event triggers none of {}; choose one with --workflow",
                            engine
                                .workflows()
                                .workflows
                                .keys()
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        )));
                    }
                    n
                }
            };
            let opts = RunOptions {
                dry_run: a.dry_run,
                assume,
                run_id: None,
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let mut records = Vec::new();
            for n in &names {
                let r = rt
                    .block_on(engine.run(n, &event, &opts))
                    .map_err(|e| CliError::Usage(e.to_string()))?;
                records.push(r);
            }
            let failed = records
                .iter()
                .any(|r| r.status == aiops_workflow::Status::Failed);
            let out = if records.len() == 1 {
                serde_json::to_string_pretty(&records[0])
            } else {
                serde_json::to_string_pretty(&records)
            }
            .map_err(|e| CliError::Usage(e.to_string()))?;
            println!("{out}");
            if failed {
                return Err(CliError::Usage("a workflow run failed".into()));
            }
            Ok(())
        }
    }
}
