//! `aiops logs`: template mining and anomaly detection on a log file.

use std::io::Write;
use std::path::PathBuf;

use aiops_logs::{
    DrainParams, LineIds, LineReader, LogDetectorParams, MaskSpec, TemplateId, WindowSpec,
    learn_reader, to_loghub,
};
use clap::{Args, Subcommand};

use crate::error::CliError;

/// Log commands.
#[derive(Debug, Subcommand)]
pub(crate) enum LogsCommand {
    /// Mine templates (Drain): print them with their counts, most frequent first, or write
    /// one row per line with --output.
    Parse(ParseArgs),
    /// Detect anomalies: new and rare templates, template counts per window that burst or
    /// vanish, error-keyword rates, and windows whose template mix PCA does not explain.
    /// Prints anomalous windows and lines with their reasons.
    Detect(DetectArgs),
}

/// Output format of `aiops logs detect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DetectFormat {
    /// Anomalous windows and lines with their reasons, for people.
    Text,
    /// One JSON object: `window`, `windows` (anomalous windows, or windows holding an
    /// anomalous line), `lines` (anomalous lines) and `stats`.
    Json,
}

/// Arguments of `aiops logs detect`.
#[derive(Debug, Args)]
pub(crate) struct DetectArgs {
    /// Log file, one record per line (invalid UTF-8 is replaced and counted, never dropped).
    file: PathBuf,

    /// Header format in loghub notation, e.g. "<Date> <Time> <Level> <Component>: <Content>".
    /// Its Date/Time/Timestamp fields give time windows; its Level field is scanned for
    /// keywords.
    #[arg(long, value_name = "F")]
    log_format: Option<String>,

    /// Masking regex, `NAME=REGEX` or `REGEX`; repeat for several.
    #[arg(long = "mask", value_name = "REGEX")]
    masks: Vec<String>,

    /// Window: a duration (500ms, 60s, 5m, 1h) when the format has time fields, else (or
    /// with e.g. 1000lines) a number of lines.
    #[arg(long, default_value = "60s")]
    window: String,

    /// Similarity threshold of the template miner (0 < st <= 1).
    #[arg(long, default_value_t = 0.5)]
    st: f64,

    /// Tree depth of the template miner (>= 3).
    #[arg(long, default_value_t = 4)]
    depth: usize,

    /// Detector parameter as key=value (warmup_lines=1000, rare_ratio=0.0005,
    /// count_threshold=5, pca.alpha=0.01, pca=null); repeat for several.
    #[arg(short, long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = DetectFormat::Text)]
    format: DetectFormat,
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

    /// Keep at most this many templates (least recently used evicted; default 10000).
    #[arg(long)]
    max_clusters: Option<usize>,

    /// Switch off the built-in masks (numbers, hex, IPs, ids, dates).
    #[arg(long)]
    no_builtin_masks: bool,

    /// Write `LineId,EventId,EventTemplate` per input line to this CSV.
    #[arg(short, long, value_name = "OUT.csv")]
    output: Option<PathBuf>,
}

pub(crate) fn run(cmd: &LogsCommand) -> Result<(), CliError> {
    match cmd {
        LogsCommand::Parse(args) => parse(args),
        LogsCommand::Detect(args) => detect(args),
    }
}

/// Detector parameters from a window text and `key=value` assignments over `base`.
pub(crate) fn detector_params(
    base: LogDetectorParams,
    window: &str,
    assignments: &[String],
) -> Result<LogDetectorParams, CliError> {
    let mut params = base.window(WindowSpec::parse(window)?);
    for a in assignments {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("--param {a:?} is not key=value")))?;
        params = params.assign(k.trim(), v.trim())?;
    }
    Ok(params)
}

fn detect(args: &DetectArgs) -> Result<(), CliError> {
    let mut drain = DrainParams::new().sim_threshold(args.st).depth(args.depth);
    if let Some(f) = &args.log_format {
        drain = drain.log_format(f);
    }
    for m in &args.masks {
        drain = drain.mask(MaskSpec::parse(m));
    }
    let params = detector_params(
        LogDetectorParams::new().drain(drain),
        &args.window,
        &args.params,
    )?;
    let det = params.check()?;
    let mut reader = LineReader::open(&args.file)?;
    if let Some(warning) = reader.not_text()? {
        eprintln!("warning: {warning}");
    }
    let total = std::fs::metadata(&args.file).map_or(0, |m| m.len());
    let bar = crate::progress::bytes_bar(total, 4 << 20);
    let report = det.detect_reader(&mut reader, &mut |done| bar.set_position(done))?;
    bar.finish_and_clear();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.format == DetectFormat::Json {
        let text = serde_json::to_string(&report)
            .map_err(|e| CliError::Usage(format!("cannot write JSON: {e}")))?;
        let _ = writeln!(out, "{text}");
        return Ok(());
    }
    // The text of the flagged lines, from a second pass that keeps only them.
    let mut texts: std::collections::HashMap<u64, String> = std::collections::HashMap::new();
    if !report.lines.is_empty() {
        let wanted: std::collections::HashSet<u64> = report.lines.iter().map(|l| l.line).collect();
        let mut again = LineReader::open(&args.file)?;
        let mut n = 0;
        while let Some(line) = again.next_line()? {
            n += 1;
            if wanted.contains(&n) {
                texts.insert(n, line.into_owned());
            }
        }
    }
    let s = &report.stats;
    let _ = writeln!(
        out,
        "{} lines, {} templates, {} windows of {}: {} anomalous windows, {} anomalous lines",
        s.lines, s.templates, s.windows, report.window, s.anomalous_windows, s.anomalous_lines
    );
    let problems: Vec<String> = [
        (
            s.header_unmatched,
            "without a matching header (mined whole)",
        ),
        (
            s.untimed,
            "without a readable time (put in the current window)",
        ),
        (
            s.late,
            "older than their window (put in the current window)",
        ),
        (s.invalid_utf8, "with invalid UTF-8 (replaced)"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} lines {what}"))
    .collect();
    if !problems.is_empty() {
        let _ = writeln!(out, "input: {}", problems.join("; "));
    }
    let mut flagged = report.lines.iter().peekable();
    for w in &report.windows {
        let span = match (w.start_ms, w.end_ms) {
            (Some(a), Some(b)) => format!(
                " {} .. {}",
                aiops_core::time::format_rfc3339(a),
                aiops_core::time::format_rfc3339(b)
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "\nwindow {}{span}, lines {}-{} ({} lines, {} with keywords){}",
            w.index,
            w.first_line,
            w.last_line,
            w.lines,
            w.keyword_lines,
            if w.anomalous { ": ANOMALOUS" } else { "" }
        );
        for r in &w.reasons {
            let _ = writeln!(out, "  - {}: {}", r.signal.as_str(), r.message);
        }
        while let Some(l) = flagged.next_if(|l| l.window == w.index) {
            let why: Vec<String> = l.reasons.iter().map(|r| r.message.clone()).collect();
            let text = texts.get(&l.line).map_or("", String::as_str);
            let _ = writeln!(
                out,
                "  line {} [E{}]: {}",
                l.line,
                l.template_id,
                why.join("; ")
            );
            let _ = writeln!(out, "    {text}");
        }
    }
    Ok(())
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
    // One pass, a line at a time: memory holds the templates, not the lines.
    let mut reader = LineReader::open(&args.file)?;
    if let Some(warning) = reader.not_text()? {
        eprintln!("warning: {warning}");
    }
    let total = std::fs::metadata(&args.file).map_or(0, |m| m.len());
    let bar = crate::progress::bytes_bar(total, 4 << 20);
    let mut miner = drain.miner();
    // Each line's template id goes to a temporary file, so that every line can be written with
    // its template's final form.
    let mut ids = args.output.as_ref().map(|_| LineIds::new()).transpose()?;
    let summary = learn_reader(
        &mut miner,
        &mut reader,
        |_, o| ids.as_mut().map_or(Ok(()), |ids| ids.push(o.id)),
        &mut |done| bar.set_position(done),
    )?;
    bar.finish_and_clear();
    match (&args.output, ids) {
        (Some(path), Some(ids)) => {
            let out_err = |e: std::io::Error| CliError::Output {
                path: path.clone(),
                source: e,
            };
            let file = std::fs::File::create(path).map_err(out_err)?;
            let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
            let csv_err = |e: csv::Error| out_err(std::io::Error::other(e.to_string()));
            w.write_record(["LineId", "EventId", "EventTemplate"])
                .map_err(csv_err)?;
            // Every line gets its template's final form; a template evicted by the cap keeps
            // its id, and its last form is gone: `<evicted>`.
            let held: std::collections::HashMap<TemplateId, String> = miner
                .templates()
                .into_iter()
                .map(|t| (t.id, to_loghub(&t.template)))
                .collect();
            for (i, id) in ids.into_ids()?.enumerate() {
                let id = id?;
                let tpl = held.get(&id).map_or("<evicted>", String::as_str);
                w.write_record([(i + 1).to_string(), format!("E{id}"), tpl.to_string()])
                    .map_err(csv_err)?;
            }
            w.flush().map_err(out_err)?;
        }
        _ => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let _ = writeln!(
                out,
                "{} lines, {} templates{}",
                summary.lines,
                miner.len(),
                if args.log_format.is_some() {
                    format!(
                        ", {} lines without a matching header (mined whole)",
                        summary.header_unmatched
                    )
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
