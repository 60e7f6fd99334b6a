//! `aiops runbooks ...`: the runbook knowledge base on a folder. All logic is in
//! `aiops_rca::runbook`.

use std::path::{Path, PathBuf};

use aiops_rca::runbook::KnowledgeBase;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::error::CliError;

/// Runbook commands.
#[derive(Debug, Subcommand)]
pub(crate) enum RunbooksCommand {
    /// List the runbooks of a folder with what they apply to.
    List(ListArgs),
    /// Full-text search (BM25) over the runbooks of a folder.
    Search(SearchArgs),
}

/// Arguments of `aiops runbooks list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Folder of runbooks (`.md` with YAML front matter, `.yaml`, `.yml`; searched
    /// recursively).
    #[arg(long)]
    dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Arguments of `aiops runbooks search`.
#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// Folder of runbooks.
    #[arg(long)]
    dir: PathBuf,
    /// Words to look for.
    query: Vec<String>,
    /// Most hits to print.
    #[arg(long, default_value_t = 10)]
    limit: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn load(dir: &Path) -> Result<KnowledgeBase, CliError> {
    KnowledgeBase::load_dir(dir).map_err(|source| CliError::Rca {
        path: dir.to_path_buf(),
        source,
    })
}

/// Runs a runbooks command.
pub(crate) fn run(cmd: &RunbooksCommand) -> Result<(), CliError> {
    match cmd {
        RunbooksCommand::List(a) => {
            let kb = load(&a.dir)?;
            if a.json {
                println!("{}", json!(kb.runbooks()));
            } else {
                for r in kb.runbooks() {
                    let sel = |name: &str, v: &[String]| {
                        if v.is_empty() {
                            String::new()
                        } else {
                            format!(" {name}={}", v.join(","))
                        }
                    };
                    println!(
                        "{:<24} {}{}{}{} ({} actions)",
                        r.id,
                        r.title,
                        sel("kinds", &r.kinds),
                        sel("metrics", &r.metrics),
                        sel("resources", &r.resources),
                        r.actions.len()
                    );
                }
            }
        }
        RunbooksCommand::Search(a) => {
            let kb = load(&a.dir)?;
            let hits = kb.search(&a.query.join(" "), a.limit);
            if a.json {
                println!("{}", json!({ "hits": hits }));
            } else if hits.is_empty() {
                eprintln!("no runbook matches");
            } else {
                for h in hits {
                    println!("{:>7.3}  {:<24} {}", h.score, h.runbook, h.title);
                }
            }
        }
    }
    Ok(())
}
