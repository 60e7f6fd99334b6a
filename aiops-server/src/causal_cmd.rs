//! `aiops eval causal`: PC and Granger on PyRCA's linear fixture, scored against its DAG.

use std::path::{Path, PathBuf};

use aiops_eval::causal_discovery::{
    self as eval, CausalEval, EdgeScores, MethodEval, SimulatedEval,
};
use aiops_eval::dag_sim::RandomDagParams;
use aiops_rca::causal::granger::GrangerParams;
use aiops_rca::causal::pc::{Knowledge, PcParams, SepsetRule};
use clap::Args;

use crate::error::CliError;
use crate::progress;

/// Arguments of `aiops eval causal`.
#[derive(Debug, Args)]
pub(crate) struct CausalArgs {
    /// Folder holding data_linear.txt (samples x variables, tab separated, header of names)
    /// and graph.txt (the true DAG), as in salesforce/PyRCA's test data.
    /// [default: $AIOPS_DATA/pyrca, else ../shared/data/pyrca]
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,

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

    /// Conditional (multivariate) Granger: regress each target on the lags of every variable.
    #[arg(long)]
    granger_conditional: bool,

    /// Domain knowledge for PC, in PyRCA's domain_knowledge.yaml format.
    #[arg(long)]
    knowledge: Option<PathBuf>,

    /// Instead of the fixture, draw this many random DAGs (`aiops_eval::dag_sim`): PC runs
    /// on independent samples of each linear SEM, Granger on a time series of the same DAG
    /// with a one-step lag; mean scores are printed.
    #[arg(long, value_name = "CASES")]
    simulate: Option<usize>,

    /// Variables of each simulated DAG.
    #[arg(long, default_value_t = 20, requires = "simulate")]
    variables: usize,

    /// Expected degree (parents + children) of a simulated variable.
    #[arg(long, default_value_t = 3.0, requires = "simulate")]
    degree: f64,

    /// Samples per simulated case.
    #[arg(long, default_value_t = 2_000, requires = "simulate")]
    samples: usize,

    /// Seed of the first simulated case.
    #[arg(long, default_value_t = 1, requires = "simulate")]
    seed: u64,

    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &CausalArgs) -> Result<(), CliError> {
    let rca = |path: &PathBuf| {
        let path = path.clone();
        move |source| CliError::Rca { path, source }
    };
    let mut pc = PcParams::new()
        .alpha(args.alpha)
        .max_cond_size(args.max_cond_size)
        .sepset_rule(args.sepset_rule.parse::<SepsetRule>()?);
    if let Some(path) = &args.knowledge {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::input(path, aiops_core::CoreError::Io(e)))?;
        pc = pc.knowledge(Knowledge::from_yaml(&text).map_err(rca(path))?);
    }
    let granger = GrangerParams::new()
        .alpha(args.alpha)
        .max_lag(args.max_lag)
        .conditional(args.granger_conditional);
    if let Some(cases) = args.simulate {
        return run_simulated(args, cases, &pc, &granger);
    }
    let data = crate::eval_cmd::data_dir(args.data.as_deref(), "pyrca");
    let fixture = eval::load_fixture(&data).map_err(|source| CliError::Benchmark {
        path: data.clone(),
        source,
    })?;
    let bar = progress::bar("methods");
    let r = eval::evaluate_with_progress(&fixture, &pc, &granger, &progress::report(&bar))
        .map_err(|e| knowledge_error(args, e))?;
    bar.finish_and_clear();
    crate::eval_cmd::print_report(args.json, &r, |r| print_fixture(r, &data))
}

fn print_fixture(r: &CausalEval, data: &Path) {
    println!(
        "Causal discovery on {}: {} samples x {} variables, {} true edges, alpha {}",
        data.display(),
        r.samples,
        r.variables,
        r.pc.scores.true_edges,
        r.alpha
    );
    header("edges", "dir");
    for m in [&r.pc, &r.granger] {
        row(m);
    }
    println!(
        "SHD: pairs whose edge differs from the true DAG (missing + extra + wrongly oriented);"
    );
    println!("SHD/CP: the same against the true DAG's CPDAG (what data alone can identify).");
}

/// A variable of the domain knowledge that the data does not have: the error names the
/// knowledge file.
fn knowledge_error(args: &CausalArgs, e: aiops_eval::EvalError) -> CliError {
    match (e, &args.knowledge) {
        (
            aiops_eval::EvalError::Rca(source @ aiops_rca::RcaError::UnknownVariable { .. }),
            Some(path),
        ) => CliError::Rca {
            path: path.clone(),
            source,
        },
        (e, _) => e.into(),
    }
}

fn run_simulated(
    args: &CausalArgs,
    cases: usize,
    pc: &PcParams,
    granger: &GrangerParams,
) -> Result<(), CliError> {
    let dag = RandomDagParams::new()
        .variables(args.variables)
        .expected_degree(args.degree);
    let bar = progress::bar("cases");
    let r = eval::evaluate_simulated_with_progress(
        &dag,
        args.samples,
        cases,
        args.seed,
        pc,
        granger,
        &progress::report(&bar),
    )
    .map_err(|e| knowledge_error(args, e))?;
    bar.finish_and_clear();
    crate::eval_cmd::print_report(args.json, &r, |r| print_simulated(r, args))
}

fn print_simulated(r: &SimulatedEval, args: &CausalArgs) {
    println!(
        "Causal discovery on {} random DAGs (seed {}): {} variables, expected degree {}, {} samples, alpha {}",
        r.cases, r.seed, args.variables, args.degree, r.samples, args.alpha
    );
    header("true", "edges");
    for (name, m) in [("pc", &r.pc), ("granger", &r.granger)] {
        println!(
            "{:<8} {:>6.1} {:>6.1} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>6.2} {:>6.2} {:>8.3}",
            name,
            m.true_edges,
            m.learned_edges,
            m.skeleton_precision,
            m.skeleton_recall,
            m.skeleton_f1,
            m.directed_precision,
            m.directed_recall,
            m.directed_f1,
            m.shd,
            m.shd_cpdag,
            m.seconds
        );
    }
    println!(
        "Means per case; PC on independent samples, Granger on a lag-1 time series of the same DAG."
    );
}

/// The column heads of both tables; `second` and `third` name the edge-count columns.
fn header(second: &str, third: &str) {
    let heads = ["skel P", "skel R", "skel F1", "dir P", "dir R", "dir F1"];
    let heads: Vec<String> = heads.iter().map(|h| format!("{h:>7}")).collect();
    println!(
        "{:<8} {second:>6} {third:>6} {} {:>6} {:>6} {:>8}",
        "method",
        heads.join(" "),
        "SHD",
        "SHD/CP",
        "seconds"
    );
}

fn row(m: &MethodEval) {
    let s: &EdgeScores = &m.scores;
    println!(
        "{:<8} {:>6} {:>6} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>6} {:>6} {:>8.3}",
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
