//! The service configuration (`aiops serve --config aiops.yaml`): every key is documented in
//! `docs/reference.md` ("Service configuration"); unknown keys are refused with their path.
//! Zero configuration works: every section has defaults.

use std::path::{Path, PathBuf};

use aiops_core::time::Duration;
use aiops_store::Durability;
use serde::{Deserialize, Serialize};

use crate::alerting::AlertsConfig;
use crate::auth::jwt::JwtConfig;
use crate::capacity_api::CapacityConfig;
use crate::error::{Result, ServiceError};
use crate::history::HistoryConfig;
use crate::log_pipeline::LogsConfig;
use crate::metrics::MetricsConfig;
use crate::pii::PiiConfig;
use crate::rules::RulesConfig;

/// The environment variable that overrides `store` (it may hold a password).
pub const STORE_ENV: &str = "AIOPS_STORE";

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// Address to listen on (default `127.0.0.1:8080`: loopback only).
    pub listen: String,
    /// Directory of the embedded store (default `./aiops-data`).
    pub data_dir: PathBuf,
    /// `postgres://...` to use PostgreSQL instead of the embedded SQLite store (the
    /// `AIOPS_STORE` environment variable overrides it).
    pub store: Option<String>,
    /// SQLite commit durability: `full` (default: survives a power loss) or `normal`
    /// (survives a crash of the process).
    pub sqlite_durability: Durability,
    /// The metric pipeline.
    pub metrics: MetricsConfig,
    /// The log pipeline: template mining and log anomaly detection per stream.
    pub logs: LogsConfig,
    /// The alert pipeline; its `engine` is the configuration `aiops alerts correlate` reads
    /// (Alertmanager's `route`, `inhibit_rules`, `time_intervals`, plus dedup, correlation,
    /// silences and maintenance windows).
    pub alerts: AlertsConfig,
    /// Evaluation of the alert rules (`POST /api/v1/alert-rules`): `eval_interval_s` (how
    /// often, default 15 s) and `lookback_s` (how old a threshold rule's latest sample may
    /// be, default 300 s).
    pub rules: RulesConfig,
    /// Masking of personal data in log lines and alert annotations before they are stored
    /// (on by default).
    pub pii: PiiConfig,
    /// A topology file (JSON of nodes and edges), used by correlation and RCA. It seeds the
    /// store: once `PUT /api/v1/topology` stored one, the stored one wins at start.
    pub topology: Option<PathBuf>,
    /// A folder of runbooks (Markdown with YAML front matter, or YAML; read recursively at
    /// start): `GET /api/v1/knowledge/runbooks` lists them and `GET
    /// /api/v1/knowledge/search` searches them. None: no runbooks.
    pub runbooks: Option<PathBuf>,
    /// Root-cause analysis run when an incident opens or grows.
    pub rca: RcaConfig,
    /// Scheduled capacity forecasts.
    pub capacity: CapacityConfig,
    /// Authentication.
    pub auth: AuthConfig,
    /// The web console (`/console/`) and its cookie sessions.
    pub console: ConsoleConfig,
    /// Cross-origin requests: off unless origins are listed.
    pub cors: CorsConfig,
    /// Request limits.
    pub limits: LimitsConfig,
    /// How long each kind of data is kept.
    pub retention: RetentionConfig,
    /// Metric history older than the store's, read from Prometheus or VictoriaMetrics by RCA,
    /// anomaly timelines and capacity forecasts (none by default: the store alone).
    pub history: Option<HistoryConfig>,
    /// External systems by name: `{type: slack|jira|grafana|prometheus|..., ...params}`
    /// (see the README's integration sections).
    pub integrations:
        std::collections::BTreeMap<String, aiops_integrations::registry::IntegrationSpec>,
    /// Where incidents are sent: routes to the integrations, retries.
    pub notifications: crate::deliveries::NotificationsConfig,
    /// The seed's pipeline over a message bus: metrics and logs consumed, anomalies published.
    pub bus: crate::bus_pipeline::BusConfig,
    /// Workflows and remediation: workflow files (`dirs`, `files`) loaded and checked at
    /// start, the remediation allow-list (`remediation`: `commands`, `http`, `defaults`) and
    /// the systems steps name mapped to integrations (`systems: {jira: jira-ops}`).
    pub workflows: crate::workflows::WorkflowsConfig,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./aiops-data"),
            store: None,
            sqlite_durability: Durability::Full,
            metrics: MetricsConfig::default(),
            logs: LogsConfig::default(),
            alerts: AlertsConfig::default(),
            rules: RulesConfig::default(),
            pii: PiiConfig::default(),
            topology: None,
            runbooks: None,
            rca: RcaConfig::default(),
            capacity: CapacityConfig::default(),
            auth: AuthConfig::default(),
            console: ConsoleConfig::default(),
            cors: CorsConfig::default(),
            limits: LimitsConfig::default(),
            retention: RetentionConfig::default(),
            history: None,
            integrations: Default::default(),
            notifications: Default::default(),
            bus: Default::default(),
            workflows: Default::default(),
        }
    }
}

/// `rca:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RcaConfig {
    /// Analyse incidents automatically when they open or grow (default true).
    pub on_incident: bool,
    /// Minutes of metrics before the incident's start (default 30).
    pub window_minutes: u32,
    /// Wait this long after the last change of an incident before analysing it (seconds,
    /// default 10), so a burst of alerts gives one analysis.
    pub settle_s: u64,
}

impl Default for RcaConfig {
    fn default() -> Self {
        Self {
            on_incident: true,
            window_minutes: 30,
            settle_s: 10,
        }
    }
}

/// `auth:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// OIDC: accept JWTs from this issuer (off when absent; API tokens always work).
    pub oidc: Option<JwtConfig>,
}

/// `console:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Serve the web console and its session endpoints (default true).
    pub enabled: bool,
    /// How long a console session lasts after login (default `12h`, from 1 s to 30 days),
    /// never longer than the token that opened it.
    pub session_lifetime: Duration,
    /// Mark the session cookie `Secure` (default false): set it when a proxy terminates TLS in
    /// front of the service, so the browser sends the cookie over HTTPS only.
    pub secure_cookie: bool,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            session_lifetime: "12h".parse().expect("valid default duration"),
            secure_cookie: false,
        }
    }
}

impl ConsoleConfig {
    fn check(&self) -> Result<()> {
        if !(1_000..=30 * 86_400_000).contains(&self.session_lifetime.0) {
            return Err(ServiceError::invalid_config(
                "console.session_lifetime",
                "must be from 1s to 30d",
            ));
        }
        Ok(())
    }
}

/// `cors:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins allowed to call the API from a browser (`https://console.example.com`);
    /// `*` is refused: credentials are never offered to every origin.
    pub origins: Vec<String>,
}

/// `limits:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body (bytes, default 16 MiB); larger ones get 413.
    pub max_body_bytes: usize,
    /// Largest decompressed remote_write body (bytes, default 64 MiB).
    pub max_decoded_bytes: usize,
    /// Requests per second allowed per token (0: unlimited; default 0). Over it: 429.
    pub requests_per_second: u32,
    /// Failed authentications allowed per client address and minute (default 20; 0:
    /// unlimited). Past them the address gets 429 + `Retry-After` before its credential is
    /// checked, until a failure has aged out. Behind a proxy every client shares its address.
    pub auth_failures_per_minute: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 << 20,
            max_decoded_bytes: 64 << 20,
            requests_per_second: 0,
            auth_failures_per_minute: 20,
        }
    }
}

/// `retention:` (defaults from the design document; the audit log is kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Samples (default `90d`).
    pub metrics: Duration,
    /// Anomalies (default `90d`).
    pub anomalies: Duration,
    /// Log lines and anomalous log windows (default `30d`).
    pub logs: Duration,
    /// Resolved alerts (default `365d`).
    pub alerts: Duration,
    /// How often the retention job runs (default `1h`).
    pub interval: Duration,
    /// Rows deleted per statement (default 10,000), so a job never holds the store long.
    pub batch: usize,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        let d = |s: &str| s.parse::<Duration>().expect("valid default duration");
        Self {
            metrics: d("90d"),
            anomalies: d("90d"),
            logs: d("30d"),
            alerts: d("365d"),
            interval: d("1h"),
            batch: 10_000,
        }
    }
}

impl ServiceConfig {
    /// Reads a configuration from YAML text; an error names the key's path and position.
    pub fn from_yaml(text: &str) -> Result<Self> {
        let c: ServiceConfig = aiops_core::yaml::from_str(text).map_err(|e| {
            let (key, reason) = match e.split_once(": ") {
                Some((k, r)) if !k.contains(' ') => (k.to_string(), r.to_string()),
                _ => ("(top)".to_string(), e),
            };
            ServiceError::invalid_config(key, reason)
        })?;
        c.check()?;
        Ok(c)
    }

    /// Reads a configuration file, then applies the environment ([`STORE_ENV`]).
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let mut c = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    ServiceError::invalid_config(p.display().to_string(), e.to_string())
                })?;
                Self::from_yaml(&text)?
            }
            None => Self::default(),
        };
        if let Ok(url) = std::env::var(STORE_ENV)
            && !url.is_empty()
        {
            c.store = Some(url);
        }
        Ok(c)
    }

    /// Checks what the types alone do not.
    pub fn check(&self) -> Result<()> {
        self.metrics.check()?;
        self.logs.check()?;
        self.alerts.check()?;
        self.rules.check()?;
        crate::pii::PiiMasker::new(&self.pii)?;
        self.console.check()?;
        if let Some(o) = self
            .cors
            .origins
            .iter()
            .find(|o| o.trim() == "*" || o.is_empty())
        {
            return Err(ServiceError::invalid_config(
                "cors.origins",
                format!(
                    "{o:?} is not allowed: list each origin (credentials are never offered to every origin)"
                ),
            ));
        }
        if let Some(oidc) = &self.auth.oidc {
            oidc.validate()?;
        }
        if let Some(h) = &self.history {
            h.check()?;
        }
        if self.limits.max_body_bytes == 0 || self.retention.batch == 0 {
            return Err(ServiceError::invalid_config(
                "limits.max_body_bytes / retention.batch",
                "must be at least 1",
            ));
        }
        let router = crate::deliveries::Router::new(&self.integrations, &self.notifications)?;
        crate::log_sources::sources(router.integrations(), &self.logs.sources)?;
        self.bus.check(router.integrations())?;
        crate::silence_sync::targets(
            router.integrations(),
            &self.notifications.maintenance_silences,
            &self.alerts.engine.maintenance_windows,
        )?;
        self.workflows.check(router.integrations())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_configuration_is_the_default() {
        let c = ServiceConfig::from_yaml("{}").unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.retention.metrics.0, 90 * 86_400_000);
        assert_eq!(c.retention.logs.0, 30 * 86_400_000);
        assert_eq!(c.logs.queue_capacity, 256);
        assert_eq!(
            c.metrics.resource_labels,
            vec!["service", "instance", "job"]
        );
    }

    #[test]
    fn unknown_keys_are_refused_with_their_path() {
        let e =
            ServiceConfig::from_yaml("metrics:\n  queue_capacity: 4\n  bogus: 1\n").unwrap_err();
        assert_eq!(e.code(), "invalid_config");
        assert!(e.to_string().contains("metrics"), "{e}");
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = ServiceConfig::from_yaml("retention:\n  metrics: soon\n").unwrap_err();
        assert!(e.to_string().contains("retention.metrics"), "{e}");
    }

    #[test]
    fn the_console_section_loads_and_is_checked() {
        let c = ServiceConfig::default();
        assert!(c.console.enabled);
        assert_eq!(c.console.session_lifetime.0, 12 * 3_600_000);
        let c = ServiceConfig::from_yaml(
            "console:\n  enabled: false\n  session_lifetime: 30m\n  secure_cookie: true\n",
        )
        .unwrap();
        assert!(!c.console.enabled && c.console.secure_cookie);
        assert_eq!(c.console.session_lifetime.0, 30 * 60_000);
        let e = ServiceConfig::from_yaml("console:\n  session_lifetime: 60d\n").unwrap_err();
        assert!(e.to_string().contains("console.session_lifetime"), "{e}");
        let e = ServiceConfig::from_yaml("console:\n  theme: dark\n").unwrap_err();
        assert!(e.to_string().contains("theme"), "{e}");
    }

    #[test]
    fn a_wildcard_origin_is_refused() {
        let e = ServiceConfig::from_yaml("cors:\n  origins: ['*']\n").unwrap_err();
        assert!(e.to_string().contains("cors.origins"), "{e}");
    }

    #[test]
    fn sections_load() {
        let c = ServiceConfig::from_yaml(
            "listen: 127.0.0.1:9999\nsqlite_durability: normal\nmetrics:\n  detectors:\n    - metric: 'cpu*'\n      detector: zscore\n      params: {window: 30}\nalerts:\n  engine:\n    route:\n      receiver: ops\n      group_by: [service]\nretention:\n  metrics: 7d\n",
        )
        .unwrap();
        assert_eq!(c.sqlite_durability, Durability::Normal);
        assert_eq!(c.metrics.detectors[0].detector, "zscore");
        assert_eq!(c.retention.metrics.0, 7 * 86_400_000);
        let e = ServiceConfig::from_yaml(
            "metrics:\n  detectors:\n    - metric: x\n      detector: nope\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("metrics.detectors[0]"), "{e}");
        let c = ServiceConfig::from_yaml(
            "logs:\n  queue_capacity: 8\n  max_streams: 5\n  detector:\n    window: 5m\n    warmup_lines: 50\n",
        )
        .unwrap();
        assert_eq!((c.logs.queue_capacity, c.logs.max_streams), (8, 5));
        let e = ServiceConfig::from_yaml("logs:\n  detector:\n    rare_ratio: 2\n").unwrap_err();
        assert!(e.to_string().contains("logs.detector"), "{e}");
        let e = ServiceConfig::from_yaml("logs:\n  detector:\n    bogus: 1\n").unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
    }

    #[test]
    fn rules_and_runbooks_load() {
        let c = ServiceConfig::from_yaml("rules:\n  eval_interval_s: 2\nrunbooks: ./runbooks\n")
            .unwrap();
        assert_eq!(c.rules.eval_interval_s, 2);
        assert_eq!(c.rules.lookback_s, 300);
        assert_eq!(c.runbooks.as_deref(), Some(Path::new("./runbooks")));
        assert_eq!(ServiceConfig::default().rules.eval_interval_s, 15);
        let e = ServiceConfig::from_yaml("rules:\n  eval_interval_s: 0\n").unwrap_err();
        assert!(e.to_string().contains("rules.eval_interval_s"), "{e}");
        let e = ServiceConfig::from_yaml("rules:\n  every: 1\n").unwrap_err();
        assert!(e.to_string().contains("every"), "{e}");
    }
}
