//! `aiops logs`: template mining on a log file.

use std::io::Write;
use std::path::PathBuf;

use aiops_detect::ParamGuard;
use aiops_detect::logs::eval::read_log_lines;
use aiops_detect::logs::{DrainParams, LearnOutcome, MaskSpec, to_loghub};
use clap::{Args, Subcommand};

use crate::error::CliError;

/// Log commands.
#[derive(Debug, Subcommand)]
pub(crate) enum LogsCommand {
    /// Mine templates (Drain): print them with their counts, most frequent first, or write
    /// one row per line with --output.
    Parse(ParseArgs),
}

/// Arguments of `aiops logs parse`.
#[derive(Debug, Args)]
pub(crate) struct ParseArgs {
    /// Log file, one record per line (invalid UTF-8 is replaced, never dropped).
    file: PathBuf,

    /// Header format in loghub notation, e.g. "<Date> <Time> <Level> <Component>: <Content>";
    /// only Content is mined. Lines that do not match are mined whole.
    #[arg(long, value_name = "F")]
    log_format: Option<String>,

    /// Masking regex, `NAME=REGEX` (replaced by <:NAME:>) or `REGEX` (replaced by <*>);
    /// repeat for several.
    #[arg(long = "mask", value_name = "REGEX")]
    masks: Vec<String>,

    /// Similarity threshold (0 < st <= 1).
    #[arg(long, default_value_t = 0.5)]
    st: f64,

    /// Tree depth (>= 3).
    #[arg(long, default_value_t = 4)]
    depth: usize,

    /// Branches per tree node.
    #[arg(long, default_value_t = 100)]
    max_children: usize,

    /// Keep at most this many templates (least recently used evicted).
    #[arg(long)]
    max_clusters: Option<usize>,

    /// Switch off the built-in masks (numbers, hex, IPs, ids, dates).
    #[arg(long)]
    no_builtin_masks: bool,

    /// Mask lines on all cores (same result as the sequential run).
    #[arg(long)]
    parallel: bool,

    /// Write `LineId,EventId,EventTemplate` per input line to this CSV.
    #[arg(short, long, value_name = "OUT.csv")]
    output: Option<PathBuf>,
}

pub(crate) fn run(cmd: &LogsCommand) -> Result<(), CliError> {
    match cmd {
        LogsCommand::Parse(args) => parse(args),
    }
}

fn parse(args: &ParseArgs) -> Result<(), CliError> {
    let mut params = DrainParams::new()
        .sim_threshold(args.st)
        .depth(args.depth)
        .max_children(args.max_children)
        .builtin_masks(!args.no_builtin_masks);
    if let Some(f) = &args.log_format {
        params = params.log_format(f);
    }
    if let Some(n) = args.max_clusters {
        params = params.max_clusters(n);
    }
    for m in &args.masks {
        params = params.mask(MaskSpec::parse(m));
    }
    let drain = params.check()?;
    let lines = read_log_lines(&args.file)?;
    let (miner, outcomes): (_, Vec<LearnOutcome>) = if args.parallel {
        drain.learn_parallel(&lines)
    } else {
        let mut miner = drain.miner();
        let outcomes = lines.iter().map(|l| miner.learn(l)).collect();
        (miner, outcomes)
    };
    match &args.output {
        Some(path) => {
            let out_err = |e: std::io::Error| CliError::Output {
                path: path.clone(),
                source: e,
            };
            let file = std::fs::File::create(path).map_err(out_err)?;
            let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
            let csv_err = |e: csv::Error| out_err(std::io::Error::other(e.to_string()));
            w.write_record(["LineId", "EventId", "EventTemplate"])
                .map_err(csv_err)?;
            let mut cache = std::collections::HashMap::new();
            for (i, o) in outcomes.iter().enumerate() {
                // Every line gets its template's final form; an evicted template keeps its id
                // and the last form it had when the line was learned is unknown: write <evicted>.
                let tpl = cache.entry(o.id).or_insert_with(|| {
                    miner
                        .template(o.id)
                        .map_or_else(|| "<evicted>".to_string(), |t| to_loghub(&t))
                });
                w.write_record([(i + 1).to_string(), format!("E{}", o.id), tpl.clone()])
                    .map_err(csv_err)?;
            }
            w.flush().map_err(out_err)?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let unmatched = outcomes.iter().filter(|o| !o.header_matched).count();
            let _ = writeln!(
                out,
                "{} lines, {} templates{}",
                lines.len(),
                miner.len(),
                if args.log_format.is_some() {
                    format!(", {unmatched} lines without a matching header (mined whole)")
                } else {
                    String::new()
                }
            );
            let _ = writeln!(out, "{:>8}  {:<6}  template", "count", "id");
            for t in miner.templates() {
                let _ = writeln!(
                    out,
                    "{:>8}  {:<6}  {}",
                    t.count,
                    format!("E{}", t.id),
                    t.template
                );
            }
        }
    }
    Ok(())
}
