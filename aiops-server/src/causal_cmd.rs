//! `aiops eval causal`: PC and Granger on PyRCA's linear fixture, scored against its DAG.

use std::path::PathBuf;

use aiops_rca::causal::eval::{self, EdgeScores, MethodEval};
use aiops_rca::causal::granger::GrangerParams;
use aiops_rca::causal::pc::{Knowledge, PcParams, SepsetRule};
use clap::Args;

use crate::error::CliError;

/// Arguments of `aiops eval causal`.
#[derive(Debug, Args)]
pub(crate) struct CausalArgs {
    /// Folder holding data_linear.txt (samples x variables, tab separated, header of names)
    /// and graph.txt (the true DAG).
    #[arg(long, default_value = "../shared/data/pyrca")]
    data: PathBuf,

    /// Significance level of PC's independence tests (and of Granger's F-tests).
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,

    /// Largest conditioning set PC tries (default: no limit).
    #[arg(long)]
    max_cond_size: Option<usize>,

    /// Separating set PC keeps when it removes an edge: `union` of every independent subset
    /// of the level (causal-learn) or the `first` one found (pcalg).
    #[arg(long, default_value = "union")]
    sepset_rule: String,

    /// Largest lag Granger tries (samples).
    #[arg(long, default_value_t = 5)]
    max_lag: usize,

    /// Domain knowledge for PC, in PyRCA's domain_knowledge.yaml format.
    #[arg(long)]
    knowledge: Option<PathBuf>,

    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &CausalArgs) -> Result<(), CliError> {
    let rca = |path: &PathBuf| {
        let path = path.clone();
        move |source| CliError::Rca { path, source }
    };
    let fixture = eval::load_fixture(&args.data).map_err(rca(&args.data))?;
    let mut pc = PcParams::new()
        .alpha(args.alpha)
        .max_cond_size(args.max_cond_size)
        .sepset_rule(args.sepset_rule.parse::<SepsetRule>()?);
    if let Some(path) = &args.knowledge {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::input(path, aiops_core::CoreError::Io(e)))?;
        pc = pc.knowledge(Knowledge::from_yaml(&text).map_err(rca(path))?);
    }
    let granger = GrangerParams::new().alpha(args.alpha).max_lag(args.max_lag);
    let r = eval::evaluate(&fixture, &pc, &granger)?;
    if args.json {
        let text = serde_json::to_string(&r).map_err(|e| CliError::Usage(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    println!(
        "Causal discovery on {}: {} samples x {} variables, {} true edges, alpha {}",
        args.data.display(),
        r.samples,
        r.variables,
        r.pc.scores.true_edges,
        r.alpha
    );
    println!(
        "{:<8} {:>6} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>5} {:>6} {:>8}",
        "method",
        "edges",
        "dir",
        "skel P",
        "skel R",
        "skel F1",
        "dir P",
        "dir R",
        "dir F1",
        "SHD",
        "SHD/CP",
        "seconds"
    );
    for m in [&r.pc, &r.granger] {
        row(m);
    }
    println!(
        "SHD: pairs whose edge differs from the true DAG (missing + extra + wrongly oriented);"
    );
    println!("SHD/CP: the same against the true DAG's CPDAG (what data alone can identify).");
    Ok(())
}

fn row(m: &MethodEval) {
    let s: &EdgeScores = &m.scores;
    println!(
        "{:<8} {:>6} {:>6} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>5} {:>6} {:>8.3}",
        m.method,
        s.learned_edges,
        s.learned_directed,
        s.skeleton_precision,
        s.skeleton_recall,
        s.skeleton_f1,
        s.directed_precision,
        s.directed_recall,
        s.directed_f1,
        s.shd,
        s.shd_cpdag,
        m.seconds
    );
}
