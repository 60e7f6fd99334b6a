//! `--prometheus URL --query PROMQL --start T --end T --step D`: the series of `aiops detect`,
//! `aiops forecast` and `aiops capacity` read from Prometheus or VictoriaMetrics instead of a
//! file.

use std::path::{Path, PathBuf};

use aiops_core::io::FileSeries;
use aiops_core::time::{Duration, TimestampFormat, format_timestamp};
use aiops_integrations::http::{AuthParams, SecretRef};
use aiops_integrations::prometheus::{self, PrometheusClient, PrometheusParams, RangeQuery};
use clap::Args;

use crate::error::CliError;

/// The environment variable holding a bearer token for `--prometheus`.
pub(crate) const TOKEN_ENV: &str = "AIOPS_PROMETHEUS_TOKEN";

/// Where the series come from when not from a file.
#[derive(Debug, Args)]
pub(crate) struct SourceArgs {
    /// Read the series from this Prometheus or VictoriaMetrics (its base URL) with --query,
    /// instead of a file. A bearer token, if needed, comes from AIOPS_PROMETHEUS_TOKEN.
    #[arg(long, value_name = "URL", requires = "query")]
    pub(crate) prometheus: Option<String>,

    /// PromQL evaluated over the range (with --prometheus): one series per result.
    #[arg(long, value_name = "PROMQL", requires = "prometheus")]
    pub(crate) query: Option<String>,

    /// Start of the range: RFC 3339, unix seconds, `now` or `now-<duration>` (`now-6h`).
    #[arg(long, value_name = "TIME", default_value = "now-1h")]
    start: String,

    /// End of the range, as --start.
    #[arg(long, value_name = "TIME", default_value = "now")]
    end: String,

    /// Resolution of the range (`15s`, `1m`); ranges over 11,000 points are read in parts.
    #[arg(long, value_name = "DURATION", default_value = "15s")]
    step: String,
}

impl SourceArgs {
    /// The input's name in messages: the file, else the query.
    pub(crate) fn name(&self, file: Option<&Path>) -> PathBuf {
        match (file, &self.query) {
            (Some(f), _) => f.to_path_buf(),
            (None, Some(q)) => PathBuf::from(q),
            (None, None) => PathBuf::from("-"),
        }
    }

    /// The series of the query (timestamps spelt as unix seconds), or `None` without
    /// `--prometheus`.
    pub(crate) fn fetch(&self) -> Result<Option<Vec<FileSeries>>, CliError> {
        let (Some(url), Some(query)) = (&self.prometheus, &self.query) else {
            return Ok(None);
        };
        let now = aiops_service::now_ms();
        let time = |flag: &str, text: &str| {
            prometheus::parse_time(text, now).map_err(|_| {
                CliError::Usage(format!(
                    "{flag} {text:?}: give RFC 3339, unix seconds, now or now-<duration> (now-1h)"
                ))
            })
        };
        let start = time("--start", &self.start)?;
        let end = time("--end", &self.end)?;
        let step: Duration = self
            .step
            .parse()
            .map_err(|e| CliError::Usage(format!("--step {:?}: {e}", self.step)))?;
        if end < start {
            return Err(CliError::Usage(format!(
                "--end {} UTC is before --start {} UTC",
                aiops_core::time::format_datetime(end),
                aiops_core::time::format_datetime(start)
            )));
        }
        let range = RangeQuery::new(start, end, step.0)?;
        let mut params = PrometheusParams::new(url.clone());
        if std::env::var_os(TOKEN_ENV).is_some() {
            params.auth = Some(AuthParams::Bearer(SecretRef::Env(TOKEN_ENV.into())));
        }
        let client = PrometheusClient::from_params(&params)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CliError::Usage(format!("cannot start the HTTP runtime: {e}")))?;
        let series = rt.block_on(client.range(query, range))?;
        if series.is_empty() {
            return Err(CliError::Usage(format!(
                "{query}: no series between {} and {}",
                aiops_core::time::format_datetime(start),
                aiops_core::time::format_datetime(end)
            )));
        }
        Ok(Some(
            series
                .into_iter()
                .map(|s| FileSeries {
                    raw_timestamps: s
                        .timestamps()
                        .iter()
                        .map(|&t| format_timestamp(t, TimestampFormat::UnixSeconds))
                        .collect(),
                    series: s,
                    format: TimestampFormat::UnixSeconds,
                })
                .collect(),
        ))
    }
}
