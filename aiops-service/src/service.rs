//! The running service: the store, the pipelines and their background tasks, started and
//! stopped in order (the HTTP layer sits on top and holds no logic).

use std::sync::Arc;

use aiops_store::{AuditFilter, AuditRow, Store, StoreOptions};
use serde::{Deserialize, Serialize};

use crate::audit::AuditEvent;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::access::Access;
use crate::alerting::AlertPipeline;
use crate::auth::jwt::JwtVerifier;
use crate::config::ServiceConfig;
use crate::error::{Result, ServiceError};
use crate::history::History;
use crate::log_pipeline::LogPipeline;
use crate::metrics::MetricPipeline;
use crate::pii::PiiMasker;
use crate::rules::RuleEvaluator;
use crate::telemetry::Telemetry;
use crate::topology_api::TopologyState;
use aiops_core::Topology;
use aiops_rca::runbook::KnowledgeBase;

/// Everything a request handler may call.
#[derive(Debug)]
pub struct Service {
    /// The configuration it started with.
    pub config: ServiceConfig,
    /// The store.
    pub store: Store,
    /// Metric ingest and detection.
    pub metrics: Arc<MetricPipeline>,
    /// Log ingest, template mining and log anomaly detection.
    pub logs: Arc<LogPipeline>,
    /// Alert ingest, correlation and incidents.
    pub alerts: Arc<AlertPipeline>,
    /// Evaluates the alert rules every `rules.eval_interval_s`.
    pub rules: Arc<RuleEvaluator>,
    /// The current topology: the stored one (the last `PUT /api/v1/topology`), else the
    /// configuration's file. A PUT reaches the alert engine too (it is rebuilt with it).
    pub topology: Arc<TopologyState>,
    /// The runbooks of the configuration's `runbooks` folder (empty without one), loaded at
    /// start.
    pub knowledge: Arc<KnowledgeBase>,
    /// Masks personal data before it is stored.
    pub masker: Arc<PiiMasker>,
    /// When it started (ms).
    pub started_at: aiops_core::TimestampMs,
    /// Requests per second per caller.
    pub rate_limiter: crate::rate_limit::RateLimiter,
    /// Failed authentications per client address (`limits.auth_failures_per_minute`).
    pub auth_failures: crate::rate_limit::RateLimiter,
    /// Authentication.
    pub access: Access,
    /// Request metrics.
    pub telemetry: Telemetry,
    /// Metric history for analyses: the store, and `history.prometheus` for what is older.
    pub history: History,
    /// The integrations and the routes of incidents to them.
    pub router: Arc<crate::deliveries::Router>,
    /// Counters of the message-bus pipeline (`bus:`).
    pub bus: Arc<crate::bus_pipeline::BusCounters>,
    /// Workflows, their runs and remediation.
    pub workflows: Arc<crate::workflows::Workflows>,
    stop: watch::Sender<bool>,
    tasks: tokio::sync::Mutex<JoinSet<Result<()>>>,
}

/// Opens the store the configuration names: `store` (PostgreSQL) or SQLite under `data_dir`.
pub async fn open_store(config: &ServiceConfig) -> Result<Store> {
    let options = StoreOptions {
        durability: config.sqlite_durability,
        ..StoreOptions::default()
    };
    Ok(match &config.store {
        Some(url) => Store::open(url, &options).await?,
        None => Store::open_dir(&config.data_dir, &options).await?,
    })
}

/// Checks the OIDC keys without fetching anything: a `jwks_file` is read and parsed, a
/// `jwks_url` is fetched only at start.
fn check_jwks(config: &ServiceConfig) -> Result<()> {
    let Some(oidc) = &config.auth.oidc else {
        return Ok(());
    };
    oidc.validate()?;
    match (&oidc.jwks_file, &oidc.jwks_url) {
        (Some(path), _) => {
            let text = crate::auth::jwks::read_jwks_file(path)?;
            JwtVerifier::from_jwks(oidc.clone(), &text)?;
            Ok(())
        }
        (None, Some(_)) => Ok(()),
        (None, None) => Err(ServiceError::invalid_config(
            "auth.oidc",
            "give jwks_file or jwks_url",
        )),
    }
}

/// Analyses each incident that opened or grew, once it has been quiet for `settle_s`, and
/// records the analysis on its timeline.
async fn auto_rca(
    store: Store,
    history: History,
    topology: Arc<TopologyState>,
    runbooks: Arc<aiops_rca::runbook::KnowledgeBase>,
    config: crate::config::RcaConfig,
    mut events: tokio::sync::broadcast::Receiver<crate::alerting::AlertStreamEvent>,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    use std::collections::{BTreeSet, HashMap};
    use tokio::time::{Duration, Instant};
    // incident -> alerts when last analysed; incident -> (alerts, due time of the next
    // analysis), and the same ordered by due time (so that an event costs a lookup, not a
    // scan of every incident waiting).
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut due: HashMap<String, (usize, Instant)> = HashMap::new();
    let mut queue: BTreeSet<(Instant, String)> = BTreeSet::new();
    let settle = Duration::from_secs(config.settle_s);
    loop {
        let next = queue.first().map(|d| d.0);
        tokio::select! {
            e = events.recv() => match e {
                Ok(crate::alerting::AlertStreamEvent::Incident(i)) if i.status != "resolved" => {
                    if seen.get(&i.incident_id).is_none_or(|&n| i.alert_count > n) {
                        let at = Instant::now() + settle;
                        if let Some((_, old)) = due.insert(i.incident_id.clone(), (i.alert_count, at)) {
                            queue.remove(&(old, i.incident_id.clone()));
                        }
                        queue.insert((at, i.incident_id));
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "automatic RCA fell behind incident updates");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
            },
            _ = async { match next { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {
                let now = Instant::now();
                let mut ready = Vec::new();
                while let Some((at, _)) = queue.first()
                    && *at <= now
                {
                    if let Some((_, id)) = queue.pop_first() {
                        ready.push(id);
                    }
                }
                for id in ready {
                    // A long backlog (thousands of incidents opened at once) does not hold
                    // up a shutdown.
                    if *stop.borrow() {
                        return Ok(());
                    }
                    let Some((count, _)) = due.remove(&id) else { continue };
                    seen.insert(id.clone(), count);
                    let req = crate::rca_api::RcaRequest { incident_id: Some(id.clone()), anomaly_ids: None, time_window_minutes: config.window_minutes };
                    let current = topology.get();
                    let graph = current.as_ref().map(|c| &c.graph);
                    match crate::rca_api::analyze(&store, &history, graph, Some(&runbooks), &req, crate::now_ms()).await {
                        Ok(a) => {
                            let ev = aiops_store::IncidentEvent {
                                incident_id: id.clone(),
                                at: crate::now_ms(),
                                kind: "rca".into(),
                                detail: serde_json::json!({"analysis_id": a.analysis_id, "status": a.status,
                                    "top_cause": a.root_causes.first().map(|c| c.resource.clone())}),
                            };
                            if let Err(e) = store.append_incident_events(&[ev]).await {
                                tracing::error!(incident = %id, error = %e, "recording the RCA failed");
                            }
                        }
                        Err(e) => tracing::warn!(incident = %id, error = %e, "automatic RCA failed"),
                    }
                }
            }
            _ = async { let _ = stop.wait_for(|s| *s).await; } => return Ok(()),
        }
    }
}

/// Runs the retention job every `retention.interval`.
async fn retention(
    store: Store,
    config: crate::config::RetentionConfig,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let every = std::time::Duration::from_millis(config.interval.0.max(1_000) as u64);
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => match crate::retention::run_once(&store, &config, crate::now_ms()).await {
                Ok(r) => tracing::info!(samples = r.samples, anomalies = r.anomalies, alerts = r.alerts, log_lines = r.log_lines, log_anomalies = r.log_anomalies, "retention"),
                Err(e) => tracing::warn!(error = %e, "retention failed; retried next interval"),
            },
            _ = async { let _ = stop.wait_for(|s| *s).await; } => return Ok(()),
        }
    }
}

/// Runs the configured capacity forecasts every `interval_s`.
async fn scheduled_capacity(
    store: Store,
    history: History,
    config: crate::capacity_api::CapacityConfig,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(config.interval_s.max(1)));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = crate::capacity_api::run_scheduled(&store, &history, &config, crate::now_ms()).await {
                    tracing::warn!(error = %e, "scheduled capacity forecast failed");
                }
            }
            _ = async { let _ = stop.wait_for(|s| *s).await; } => return Ok(()),
        }
    }
}

/// Checks a configuration and the files it names (topology, JWKS, runbooks) without
/// starting anything: `aiops serve --check`.
pub fn check_files(config: &ServiceConfig) -> Result<()> {
    config.check()?;
    read_topology(config)?;
    check_jwks(config)?;
    if let Some(dir) = &config.runbooks {
        aiops_rca::runbook::KnowledgeBase::load_dir(dir).map_err(|e| {
            ServiceError::invalid_config("runbooks", format!("{}: {e}", dir.display()))
        })?;
    }
    Ok(())
}

fn read_topology(config: &ServiceConfig) -> Result<Option<Topology>> {
    let Some(path) = &config.topology else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        ServiceError::invalid_config("topology", format!("{}: {e}", path.display()))
    })?;
    Topology::from_json(&text)
        .map(Some)
        .map_err(|e| ServiceError::invalid_config("topology", format!("{}: {e}", path.display())))
}

impl Service {
    /// Opens the store (applying migrations), restores the pipelines' saved state and starts
    /// their background tasks.
    pub async fn start(config: ServiceConfig) -> Result<Arc<Self>> {
        config.check()?;
        let jwt = match &config.auth.oidc {
            Some(oidc) => Some(crate::auth::jwks::JwtAuth::load(oidc).await?),
            None => None,
        };
        let configured = read_topology(&config)?;
        if let Some(t) = &configured {
            crate::topology_api::CurrentTopology::new(t.clone())
                .map_err(|e| ServiceError::invalid_config("topology", e.to_string()))?;
        }
        let history = History::new(config.history.as_ref())?
            .with_resource_labels(&config.metrics.resource_labels);
        let knowledge = Arc::new(crate::knowledge_api::load(config.runbooks.as_deref())?);
        let masker = Arc::new(PiiMasker::new(&config.pii)?);
        let store = open_store(&config).await?;
        let topology = Arc::new(TopologyState::load(&store, configured).await?);
        let metrics = MetricPipeline::new(store.clone(), config.metrics.clone()).await?;
        let logs = LogPipeline::new(store.clone(), config.logs.clone()).await?;
        let m = masker.clone();
        let alerts = AlertPipeline::with_masker(
            store.clone(),
            config.alerts.clone(),
            topology.get().map(|c| c.topology.clone()),
            Some(Arc::new(move |t: &str| m.mask(t).into_owned())),
        )
        .await?;
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut rx = stopped.clone();
        tasks.spawn(metrics.clone().run(async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
        let mut rx = stopped.clone();
        tasks.spawn(logs.clone().run(async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
        let mut rx = stopped.clone();
        let a = alerts.clone();
        tasks.spawn(a.run(async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
        let router = Arc::new(crate::deliveries::Router::new(
            &config.integrations,
            &config.notifications,
        )?);
        let sources = router
            .integrations()
            .iter()
            .filter_map(|(name, i)| Some((name.clone(), i.metric_source.clone()?)))
            .collect();
        let rules = Arc::new(
            RuleEvaluator::new(store.clone(), alerts.clone(), config.rules.clone())?
                .with_sources(sources),
        );
        let mut rx = stopped.clone();
        tasks.spawn(rules.clone().run(async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
        if config.rca.on_incident {
            tasks.spawn(auto_rca(
                store.clone(),
                history.clone(),
                topology.clone(),
                knowledge.clone(),
                config.rca.clone(),
                alerts.subscribe(),
                stopped.clone(),
            ));
        }
        tasks.spawn(retention(
            store.clone(),
            config.retention.clone(),
            stopped.clone(),
        ));
        if !config.capacity.metrics.is_empty() {
            tasks.spawn(scheduled_capacity(
                store.clone(),
                history.clone(),
                config.capacity.clone(),
                stopped.clone(),
            ));
        }
        for (source, c) in crate::log_sources::sources(router.integrations(), &config.logs.sources)?
        {
            let reader = crate::log_sources::LogSourceReader::new(
                source,
                c,
                store.clone(),
                logs.clone(),
                masker.clone(),
            )?;
            tasks.spawn(reader.run(stopped.clone()));
        }
        config.bus.check(router.integrations())?;
        let bus_counters = Arc::new(crate::bus_pipeline::BusCounters::default());
        let bus =
            |name: &str| crate::bus_pipeline::bus_of(router.integrations(), name, "bus").cloned();
        if let Some(name) = &config.bus.metrics {
            let consumer = bus(name)?.consumer().await?;
            tasks.spawn(crate::bus_pipeline::consume_metrics(
                consumer,
                metrics.clone(),
                bus_counters.clone(),
                stopped.clone(),
            ));
        }
        if let Some(name) = &config.bus.logs {
            let consumer = bus(name)?.consumer().await?;
            tasks.spawn(crate::bus_pipeline::consume_logs(
                consumer,
                logs.clone(),
                masker.clone(),
                bus_counters.clone(),
                stopped.clone(),
            ));
        }
        if let Some(out) = &config.bus.anomalies {
            let producer = bus(&out.integration)?.producer().await?;
            tasks.spawn(crate::bus_pipeline::run_publisher(
                store.clone(),
                producer,
                out.topic.clone(),
                bus_counters.clone(),
                stopped.clone(),
            ));
        }
        let silence_targets = crate::silence_sync::targets(
            router.integrations(),
            &config.notifications.maintenance_silences,
            &config.alerts.engine.maintenance_windows,
        )?;
        if !silence_targets.is_empty() {
            tasks.spawn(crate::silence_sync::run(
                store.clone(),
                silence_targets,
                config.alerts.engine.maintenance_windows.clone(),
                config.notifications.silence_sync_s,
                stopped.clone(),
            ));
        }
        if !router.is_empty() {
            tasks.spawn(crate::deliveries::run(
                crate::deliveries::Dispatcher::new(store.clone(), router.clone()),
                stopped.clone(),
            ));
        }
        let configured = config.workflows.check(router.integrations())?;
        let host = crate::workflow_host::ServiceHost {
            store: store.clone(),
            history: history.clone(),
            topology: topology.clone(),
            knowledge: knowledge.clone(),
            integrations: router.integrations().clone(),
            systems: config.workflows.systems.clone(),
            capacity: config.capacity.clone(),
        };
        let workflows = Arc::new(
            crate::workflows::Workflows::new(
                store.clone(),
                Arc::new(host),
                configured,
                config.workflows.remediation.clone(),
            )
            .await?,
        );
        tasks.spawn(crate::workflows::run(
            workflows.clone(),
            config.workflows.poll_interval(),
            stopped.clone(),
        ));
        let rate_limiter = crate::rate_limit::RateLimiter::new(config.limits.requests_per_second);
        let auth_failures =
            crate::rate_limit::RateLimiter::per_minute(config.limits.auth_failures_per_minute);
        Ok(Arc::new(Self {
            access: Access::new(store.clone(), jwt),
            config,
            store,
            metrics,
            logs,
            alerts,
            rules,
            topology,
            knowledge,
            masker,
            started_at: crate::now_ms(),
            rate_limiter,
            auth_failures,
            telemetry: Telemetry::default(),
            history,
            router,
            bus: bus_counters,
            workflows,
            stop,
            tasks: tokio::sync::Mutex::new(tasks),
        }))
    }

    /// Appends an event to the audit log (an error is logged by the caller, never hidden).
    pub async fn audit(&self, e: &AuditEvent, request_id: Option<&str>) -> Result<()> {
        self.store
            .append_audit(&AuditRow {
                id: 0,
                at: e.at,
                actor: e.actor.clone(),
                action: e.action.clone(),
                kind: e.kind.as_str().to_string(),
                target: e.target.clone(),
                outcome: e.outcome.as_str().to_string(),
                request_id: e.request_id.clone().or(request_id.map(str::to_string)),
                detail: e.detail(),
            })
            .await?;
        Ok(())
    }

    /// Audit log entries, newest first (`GET /api/v1/audit`).
    pub async fn audit_log(&self, q: &AuditQuery) -> Result<AuditList> {
        let limit = crate::anomaly_api::parse_limit(q.limit)?;
        let filter = AuditFilter {
            actor: q.actor.clone(),
            kind: q.kind.clone(),
            start: q
                .start_time
                .as_deref()
                .map(|t| crate::anomaly_api::parse_time("start_time", t))
                .transpose()?,
            end: q
                .end_time
                .as_deref()
                .map(|t| crate::anomaly_api::parse_time("end_time", t))
                .transpose()?,
            before_id: q
                .cursor
                .as_deref()
                .map(|c| {
                    c.parse::<i64>().map_err(|_| {
                        ServiceError::invalid_parameter("cursor", "not a cursor of this list")
                    })
                })
                .transpose()?,
        };
        let entries = self.store.audit(&filter, limit).await?;
        let next_cursor = (entries.len() == limit)
            .then(|| entries.last().map(|e| e.id.to_string()))
            .flatten();
        Ok(AuditList {
            entries,
            next_cursor,
        })
    }

    /// Stops the background tasks after they finished their queued work and saved their
    /// state, then closes the store. Call after the HTTP server stopped taking requests.
    pub async fn shutdown(&self) -> Result<()> {
        let _ = self.stop.send(true);
        let mut tasks = self.tasks.lock().await;
        let mut first_error = None;
        while let Some(r) = tasks.join_next().await {
            let r = r.map_err(|e| ServiceError::Internal {
                what: format!("a background task failed: {e}"),
            });
            if let Err(e) | Ok(Err(e)) = r
                && first_error.is_none()
            {
                first_error = Some(e);
            }
        }
        self.store.close().await;
        first_error.map_or(Ok(()), Err)
    }
}

/// `GET /api/v1/audit` parameters.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this actor.
    pub actor: Option<String>,
    /// Only this kind (`auth`, `mutation`, `config_change`, `remediation`, `data_access`).
    pub kind: Option<String>,
    /// Only at or after.
    pub start_time: Option<String>,
    /// Only before.
    pub end_time: Option<String>,
    /// Page size (1 to 1,000; default 100).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditList {
    /// Entries, newest first.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<AuditRow>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}
