//! `aiops rca`: read the topology and the metrics, rank root causes, print JSON.

use std::path::PathBuf;

use aiops_core::Topology;
use aiops_core::TopologyGraph;
use aiops_core::io::ReadOptions;
use aiops_core::io::csv::read_wide_path;
use aiops_core::time::parse_timestamp;
use aiops_rca::rank::{Method, MetricFrame, rank};
use aiops_rca::runbook::KnowledgeBase;
use clap::Args;

use crate::error::CliError;

/// Root causes (best first) that runbooks are recommended for.
const RUNBOOK_CAUSES: usize = 3;

/// Arguments of `aiops rca`.
#[derive(Debug, Args)]
pub(crate) struct RcaArgs {
    /// Topology JSON: `{"nodes": [{"id", "kind"}], "edges": [{"from", "to", "kind"}]}` with
    /// edge kinds `calls`, `runs_on`, `depends_on`.
    #[arg(long, value_name = "TOPOLOGY.json")]
    topology: PathBuf,

    /// Wide CSV: first column `timestamp` (unix seconds or RFC 3339), then one column per
    /// `<resource>:<metric>`. Empty cells are filled by linear interpolation.
    #[arg(long, value_name = "METRICS.csv")]
    metrics: PathBuf,

    /// When the incident started (unix seconds or RFC 3339); found in the data when absent.
    #[arg(long, value_name = "T")]
    anomaly_time: Option<String>,

    /// Ranking method: default, baro, nsigma, hypothesis or pagerank.
    #[arg(long, default_value = "default")]
    method: String,

    /// Folder of runbooks (Markdown with front matter, or YAML; see `aiops runbooks`): those
    /// matching the three best root causes by kind, metric and resource fill
    /// `recommended_actions`. Without it the list is empty.
    #[arg(long, value_name = "DIR")]
    runbooks: Option<PathBuf>,
}

pub(crate) fn run(args: &RcaArgs) -> Result<(), CliError> {
    let method: Method = args.method.parse()?;
    let text = std::fs::read_to_string(&args.topology)
        .map_err(|e| CliError::input(&args.topology, aiops_core::CoreError::Io(e)))?;
    let topology = Topology::from_json(&text).map_err(|e| CliError::input(&args.topology, e))?;
    let graph = TopologyGraph::new(&topology).map_err(|e| CliError::input(&args.topology, e))?;
    let table = read_wide_path(&args.metrics, &ReadOptions::default())
        .map_err(|e| CliError::input(&args.metrics, e))?;
    let frame = MetricFrame::from_wide(&graph, &table).map_err(|source| CliError::Rca {
        path: args.metrics.clone(),
        source,
    })?;
    let time = match &args.anomaly_time {
        Some(t) => Some(
            parse_timestamp(t)
                .map_err(|e| CliError::Usage(format!("--anomaly-time: {e}")))?
                .0,
        ),
        None => None,
    };
    let knowledge = match &args.runbooks {
        Some(dir) => Some(
            KnowledgeBase::load_dir(dir).map_err(|source| CliError::Rca {
                path: dir.clone(),
                source,
            })?,
        ),
        None => None,
    };
    let ranking = rank(&graph, &frame, time, method)?;
    let actions: Vec<serde_json::Value> = match &knowledge {
        Some(kb) => kb
            .recommend(
                &ranking.root_causes,
                |id| graph.kind(id).ok().map(|k| k.as_str().to_string()),
                RUNBOOK_CAUSES,
            )
            .iter()
            .map(|r| serde_json::to_value(r).map_err(|e| CliError::Usage(e.to_string())))
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    for note in &ranking.notes {
        eprintln!("note: {note}");
    }
    let out = ranking.report(actions);
    println!(
        "{}",
        serde_json::to_string_pretty(&out).map_err(|e| CliError::Usage(e.to_string()))?
    );
    Ok(())
}
