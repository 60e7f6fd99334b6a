//! `aiops push`: send a series file to a remote_write endpoint (`aiops serve`, Prometheus'
//! receiver, VictoriaMetrics...), as Prometheus would: snappy-compressed protobuf batches.
//! For backfills, demos and tests. The token comes from `AIOPS_TOKEN` or `--token-file`,
//! never from the command line.

use std::path::PathBuf;

use aiops_core::io::ReadOptions;
use aiops_core::io::file::read_path;
use aiops_integrations::remote_write::{Label, Sample, TimeSeries, WriteRequest, encode};
use clap::Args;

use crate::error::CliError;

/// `aiops push` arguments.
#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// The series file (CSV, JSON lines or a Prometheus query_range response).
    file: PathBuf,
    /// The remote_write URL (e.g. http://127.0.0.1:8080/api/v1/write).
    #[arg(long)]
    url: String,
    /// The metric name.
    #[arg(long)]
    metric: String,
    /// Labels, `name=value` (repeat).
    #[arg(long = "label", value_name = "NAME=VALUE")]
    labels: Vec<String>,
    /// Shift the timestamps so that the last sample is now (replaying old data as live).
    #[arg(long)]
    shift_to_now: bool,
    /// Samples per request.
    #[arg(long, default_value_t = 2000)]
    batch: usize,
    /// A file holding the bearer token (else the AIOPS_TOKEN environment variable).
    #[arg(long)]
    token_file: Option<PathBuf>,
}

fn usage(m: impl Into<String>) -> CliError {
    CliError::Usage(m.into())
}

pub(crate) fn run(args: &PushArgs) -> Result<(), CliError> {
    let token = match &args.token_file {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| usage(format!("--token-file {}: {e}", p.display())))?
                .trim()
                .to_string(),
        ),
        None => std::env::var("AIOPS_TOKEN").ok().filter(|t| !t.is_empty()),
    };
    let mut labels = vec![Label {
        name: "__name__".into(),
        value: args.metric.clone(),
    }];
    for l in &args.labels {
        let (k, v) = l
            .split_once('=')
            .ok_or_else(|| usage(format!("--label {l:?}: expected NAME=VALUE")))?;
        labels.push(Label {
            name: k.into(),
            value: v.into(),
        });
    }
    let series = read_path(&args.file, &ReadOptions::default())
        .map_err(|e| CliError::input(&args.file, e))?;
    let s = &series
        .first()
        .ok_or_else(|| usage("the file holds no series"))?
        .series;
    let (ts, vs) = (s.timestamps(), s.values());
    let shift = if args.shift_to_now {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        now - ts.last().copied().unwrap_or(now)
    } else {
        0
    };
    let http = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| usage(e.to_string()))?;
    let mut sent = 0;
    for (tc, vc) in ts
        .chunks(args.batch.max(1))
        .zip(vs.chunks(args.batch.max(1)))
    {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: labels.clone(),
                samples: tc
                    .iter()
                    .zip(vc)
                    .map(|(&t, &v)| Sample {
                        value: v,
                        timestamp: t + shift,
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let body = encode(&req).map_err(|e| usage(e.to_string()))?;
        let mut r = http
            .post(&args.url)
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body);
        if let Some(t) = &token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().map_err(|e| usage(format!("{}: {e}", args.url)))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let text = resp.text().unwrap_or_default();
            return Err(usage(format!("{}: {status} {text}", args.url)));
        }
        sent += tc.len();
    }
    eprintln!("pushed {sent} samples of {}", args.metric);
    Ok(())
}
