//! Workflows in the service (`workflows:` in the configuration, `/api/v1/workflows`,
//! `/api/v1/remediation`): the configuration's workflow files are loaded and checked at start
//! (an invalid one refuses the start, with its file, step and position), admins add more
//! through the API (stored, checked the same way), and every run is recorded in the store.
//!
//! Triggers:
//! - alert and incident workflows run when the incident timeline says an incident `opened`
//!   (read after a cursor kept in the store, like the deliveries' outbox: nothing is missed
//!   across a restart); `resolved` releases the per-incident throttle, which is kept in the
//!   store too;
//! - event workflows run for each event posted to `POST /api/v1/events` (after a cursor);
//! - schedule workflows run on [`Workflows::tick`], every minute their cron names;
//! - any workflow runs by hand (`POST /api/v1/workflows/{id}/run`).
//!
//! Remediation runs only what `workflows.remediation` allow-lists; each attempt (run, failed
//! or refused) is written to the audit log with the actor that caused it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use aiops_core::{Incident, TimestampMs};
use aiops_store::{AuditRow, Store, WorkflowRow, WorkflowRunRow};
use aiops_workflow::engine::Admission;
use aiops_workflow::model::{Located, ThrottlePolicy, Trigger};
use aiops_workflow::{
    ActionHost, AuditEntry, Engine, Registry, Remediation, RunOptions, RunRecord, Status, Step,
    StepPolicy, Throttle, TriggerEvent, Workflow, WorkflowSet,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::{AuditEvent, AuditKind, Outcome, SYSTEM};
use crate::error::{Result, ServiceError};

/// The named value holding the id of the last timeline entry the triggers read.
pub const CURSOR_KEY: &str = "workflows.cursor";
/// The named value holding the id of the last event the triggers read.
pub const EVENTS_CURSOR_KEY: &str = "workflows.events_cursor";
/// The named value holding the per-incident throttle.
pub const THROTTLE_KEY: &str = "workflows.throttle";
/// The named value holding the last minute schedules were fired for (ms).
pub const TICK_KEY: &str = "workflows.last_tick";

/// Longest catch-up of missed schedule minutes (a day).
const MAX_CATCH_UP_MIN: i64 = 1_440;
/// Timeline entries and events read per pass.
const BATCH: usize = 256;
/// Heartbeats a `running` run may miss before it counts as interrupted.
const STALE_BEATS: i64 = 5;

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// `workflows:` of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkflowsConfig {
    /// Folders of workflow files (`*.yaml`, `*.yml`), loaded at start.
    pub dirs: Vec<PathBuf>,
    /// Workflow files, loaded at start.
    pub files: Vec<PathBuf>,
    /// The remediation allow-list: `commands`, `http` targets, `defaults`.
    pub remediation: Remediation,
    /// The systems workflow steps name (`jira`, `slack`, `pagerduty`, `grafana`) → the names
    /// of integrations under `integrations:`. A system not listed means the integration of
    /// that very name.
    pub systems: BTreeMap<String, String>,
    /// How often the triggers read the timeline and the events, ms (default 1000).
    pub poll_ms: Option<u64>,
}

impl WorkflowsConfig {
    /// How often the triggers read the timeline and the events (`poll_ms`, at least 10 ms).
    pub fn poll_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.poll_ms.unwrap_or(1_000).max(10))
    }

    /// Checks the systems against the integrations and loads the files.
    pub fn check(
        &self,
        integrations: &BTreeMap<String, aiops_integrations::registry::Integration>,
    ) -> Result<WorkflowSet> {
        for (system, name) in &self.systems {
            if !integrations.contains_key(name) {
                return Err(ServiceError::invalid_config(
                    format!("workflows.systems.{system}"),
                    format!("no integration `{name}` under `integrations:`"),
                ));
            }
        }
        load_files(self)
    }
}

/// Loads and checks every workflow file of the configuration, as one set.
pub fn load_files(config: &WorkflowsConfig) -> Result<WorkflowSet> {
    let registry = Registry::builtin();
    let mut paths = Vec::new();
    for d in &config.dirs {
        paths.extend(
            aiops_workflow::validate::workflow_files(d)
                .map_err(|e| ServiceError::invalid_config("workflows.dirs", e))?,
        );
    }
    paths.extend(config.files.iter().cloned());
    let mut all = WorkflowSet {
        file: None,
        workflows: BTreeMap::new(),
        warnings: Vec::new(),
    };
    for p in paths {
        let set = WorkflowSet::load(&p, &registry)
            .map_err(|e| ServiceError::invalid_config("workflows", e.to_string()))?;
        for (name, w) in set.workflows {
            if all.workflows.insert(name.clone(), w).is_some() {
                return Err(ServiceError::invalid_config(
                    "workflows",
                    format!("{}: workflow `{name}` is defined twice", p.display()),
                ));
            }
        }
        all.warnings.extend(set.warnings);
    }
    Ok(all)
}

/// A workflow as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WorkflowView {
    /// Its id: its name.
    pub id: String,
    /// `config` (a file of the configuration) or `api` (added through the API).
    pub source: String,
    /// What it is for.
    pub description: Option<String>,
    /// What starts it (`{"type": "alert", "severity": [...]}`...).
    #[schema(value_type = Object)]
    pub trigger: Value,
    /// Its steps' names and actions, in order.
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<Value>,
    /// The YAML it was added with (API workflows).
    pub yaml: Option<String>,
    /// When it was just added: what would fail at run time though it checks (a system a
    /// step names that is not configured), with the step and position.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `GET /api/v1/workflows`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WorkflowList {
    /// Every workflow, by name.
    pub workflows: Vec<WorkflowView>,
}

/// `POST /api/v1/workflows`: a `workflows:` document defining one workflow.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowRequest {
    /// The YAML text (`workflows: {name: {trigger: ..., steps: [...]}}`).
    pub yaml: String,
}

/// `POST /api/v1/workflows/{id}/run`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RunRequest {
    /// Decide and render every step, call nothing.
    pub dry_run: bool,
    /// The event: an alert (Alertmanager API v2), an incident, `{source, event_type, ...}`,
    /// or `{"incident_id": "inc-1"}` for a stored incident; none: a manual run.
    #[schema(value_type = Option<Object>)]
    pub event: Option<Value>,
    /// Values bound to `inputs` in a manual run.
    #[schema(value_type = Option<Object>)]
    pub inputs: Option<Value>,
}

/// A run as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RunView {
    /// Run id.
    pub run_id: String,
    /// The workflow.
    pub workflow: String,
    /// What started it.
    pub trigger: String,
    /// How it ended.
    pub status: String,
    /// Started (ms).
    pub started_at: TimestampMs,
    /// Finished (ms).
    pub finished_at: Option<TimestampMs>,
    /// The whole record: each step's decision, input, output, attempts and errors.
    #[schema(value_type = Object)]
    pub record: Value,
}

impl From<WorkflowRunRow> for RunView {
    fn from(r: WorkflowRunRow) -> Self {
        Self {
            run_id: r.id,
            workflow: r.workflow,
            trigger: r.trigger,
            status: r.status,
            started_at: r.started_at,
            finished_at: r.finished_at,
            record: r.record,
        }
    }
}

/// `GET /api/v1/workflows/{id}/runs`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RunList {
    /// Runs, newest first.
    pub runs: Vec<RunView>,
}

/// `POST /api/v1/remediation/execute` (the seed's `RemediationRequest`).
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemediationRequest {
    /// The incident it is for (its alerts and labels are in the templates' context).
    #[serde(default)]
    pub incident_id: Option<String>,
    /// The allow-listed command or HTTP target to run.
    pub action: String,
    /// Values for the command's templates (`params.args.x`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: Value,
    /// Render and check it, run nothing (default false).
    #[serde(default)]
    pub dry_run: bool,
}

/// A remediation execution.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RemediationExecution {
    /// Its id.
    pub execution_id: String,
    /// The incident.
    pub incident_id: Option<String>,
    /// The command or target.
    pub action: String,
    /// Whether it was a dry run.
    pub dry_run: bool,
    /// `succeeded`, `failed`, or `would_run` (a dry run).
    pub status: String,
    /// What ran and its answer (the argv, exit code and output; or the rendered params in a
    /// dry run).
    #[schema(value_type = Object)]
    pub result: Value,
    /// Why it failed.
    pub error: Option<String>,
    /// Started (ms).
    pub started_at: TimestampMs,
    /// Finished (ms).
    pub finished_at: Option<TimestampMs>,
}

/// The workflows of a running service and their engine.
#[derive(Debug)]
pub struct Workflows {
    store: Store,
    host: Arc<dyn ActionHost>,
    registry: Registry,
    remediation: Remediation,
    configured: WorkflowSet,
    engine: RwLock<Arc<Engine>>,
    stored: RwLock<BTreeMap<String, WorkflowRow>>,
    /// Orders the triggers' passes, runs through the throttle and creations.
    lock: tokio::sync::Mutex<()>,
    /// Runs going on in the background.
    tasks: tokio::sync::Mutex<tokio::task::JoinSet<()>>,
    /// This process, in the records of the runs it makes (`owner`).
    instance: String,
    /// The ids of the runs this process has going on.
    inflight: Arc<std::sync::Mutex<BTreeSet<String>>>,
}

fn status_name(s: Status) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn trigger_name(e: &TriggerEvent) -> String {
    e.context()["trigger"]["type"]
        .as_str()
        .unwrap_or("manual")
        .to_string()
}

fn parse_one(yaml: &str, registry: &Registry) -> Result<Workflow> {
    let set = WorkflowSet::parse(yaml, None, registry)
        .map_err(|e| ServiceError::invalid_parameter("yaml", e.to_string()))?;
    if set.workflows.len() != 1 {
        return Err(ServiceError::invalid_parameter(
            "yaml",
            format!(
                "define exactly one workflow under `workflows:` ({} given)",
                set.workflows.len()
            ),
        ));
    }
    set.workflows
        .into_values()
        .next()
        .ok_or_else(|| ServiceError::invalid_parameter("yaml", "no workflow"))
}

impl Workflows {
    /// The configured workflows (`configured`, already checked) and those stored, run with
    /// `host`.
    pub async fn new(
        store: Store,
        host: Arc<dyn ActionHost>,
        configured: WorkflowSet,
        remediation: Remediation,
    ) -> Result<Self> {
        let registry = Registry::builtin();
        let mut stored = BTreeMap::new();
        for row in store.workflows().await? {
            // Checked when added; a workflow that no longer loads (an action renamed) is
            // reported and left out rather than refusing the start.
            match parse_one(&row.body, &registry) {
                Ok(_) => {
                    stored.insert(row.name.clone(), row);
                }
                Err(e) => {
                    tracing::error!(workflow = %row.name, error = %e, "stored workflow left out")
                }
            }
        }
        // Readers that start now begin at the heads: enabling workflows on a store with a
        // history does not replay every incident it ever opened.
        if store.value(CURSOR_KEY).await?.is_none()
            || store.value(EVENTS_CURSOR_KEY).await?.is_none()
        {
            let (timeline, events) = store.timeline_heads().await?;
            let now = crate::now_ms();
            if store.value(CURSOR_KEY).await?.is_none() {
                store
                    .put_value(CURSOR_KEY, &timeline.to_string(), now)
                    .await?;
            }
            if store.value(EVENTS_CURSOR_KEY).await?.is_none() {
                store
                    .put_value(EVENTS_CURSOR_KEY, &events.to_string(), now)
                    .await?;
            }
        }
        let systems = host.systems();
        for d in
            configured
                .warnings
                .iter()
                .cloned()
                .chain(aiops_workflow::validate::missing_systems(
                    &configured,
                    &registry,
                    &systems,
                ))
        {
            tracing::warn!(warning = %d, "workflow");
        }
        let engine = Self::build(&configured, &stored, &registry, &host, &remediation);
        Ok(Self {
            store,
            host,
            registry,
            remediation,
            configured,
            engine: RwLock::new(Arc::new(engine)),
            stored: RwLock::new(stored),
            lock: tokio::sync::Mutex::new(()),
            tasks: tokio::sync::Mutex::new(tokio::task::JoinSet::new()),
            instance: {
                let mut b = [0u8; 4];
                getrandom::fill(&mut b).map_err(|e| ServiceError::Internal {
                    what: format!("random source: {e}"),
                })?;
                format!("{}-{:08x}", std::process::id(), u32::from_le_bytes(b))
            },
            inflight: Arc::default(),
        })
    }

    fn build(
        configured: &WorkflowSet,
        stored: &BTreeMap<String, WorkflowRow>,
        registry: &Registry,
        host: &Arc<dyn ActionHost>,
        remediation: &Remediation,
    ) -> Engine {
        let mut set = configured.clone();
        for row in stored.values() {
            if let Ok(w) = parse_one(&row.body, registry) {
                set.workflows.insert(w.name.clone(), w);
            }
        }
        Engine::new(set, registry.clone(), host.clone(), remediation.clone())
    }

    /// The current engine.
    pub fn engine(&self) -> Arc<Engine> {
        match self.engine.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn view(&self, w: &Workflow) -> WorkflowView {
        let stored = match self.stored.read() {
            Ok(g) => g.get(&w.name).cloned(),
            Err(p) => p.into_inner().get(&w.name).cloned(),
        };
        WorkflowView {
            id: w.name.clone(),
            source: if stored.is_some() { "api" } else { "config" }.into(),
            description: w.description.clone(),
            trigger: serde_json::to_value(&w.trigger).unwrap_or(Value::Null),
            steps: w
                .steps
                .iter()
                .map(|s| json!({"name": s.name, "action": s.action}))
                .collect(),
            yaml: stored.map(|r| r.body),
            warnings: Vec::new(),
        }
    }

    /// Every workflow, by name.
    pub fn list(&self) -> WorkflowList {
        let engine = self.engine();
        WorkflowList {
            workflows: engine
                .workflows()
                .workflows
                .values()
                .map(|w| self.view(w))
                .collect(),
        }
    }

    /// One workflow by name.
    pub fn get(&self, id: &str) -> Result<WorkflowView> {
        Ok(self.view(&self.workflow(id)?))
    }

    fn workflow(&self, id: &str) -> Result<Workflow> {
        self.engine()
            .workflows()
            .workflows
            .get(id)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound {
                kind: "workflow".into(),
                id: id.into(),
            })
    }

    /// Adds a workflow (checked as the files are: 400 with every diagnostic); 409 when one
    /// of that name exists.
    pub async fn create(&self, req: &WorkflowRequest, now: TimestampMs) -> Result<WorkflowView> {
        let w = parse_one(&req.yaml, &self.registry)?;
        let _guard = self.lock.lock().await;
        if self.engine().workflows().workflows.contains_key(&w.name) {
            return Err(aiops_store::StoreError::Conflict {
                kind: "workflow",
                id: w.name.clone(),
            }
            .into());
        }
        let row = WorkflowRow {
            id: w.name.clone(),
            name: w.name.clone(),
            body: req.yaml.clone(),
            created_at: now,
            updated_at: now,
        };
        self.store.create_workflow(&row).await?;
        self.install(|stored| {
            stored.insert(row.name.clone(), row);
        });
        Ok(self.checked_view(w))
    }

    /// Changes the stored workflows with `change` and rebuilds the engine from them: the
    /// runs going on keep the engine they started with.
    fn install(&self, change: impl FnOnce(&mut BTreeMap<String, WorkflowRow>)) {
        let mut stored = match self.stored.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        change(&mut stored);
        let engine = Self::build(
            &self.configured,
            &stored,
            &self.registry,
            &self.host,
            &self.remediation,
        );
        drop(stored);
        match self.engine.write() {
            Ok(mut g) => *g = Arc::new(engine),
            Err(p) => *p.into_inner() = Arc::new(engine),
        }
    }

    /// The stored workflow `id`: 404 when there is none, 400 when it comes from the
    /// configuration's files (changed there, not through the API).
    fn stored_one(&self, id: &str) -> Result<WorkflowRow> {
        let stored = match self.stored.read() {
            Ok(g) => g.get(id).cloned(),
            Err(p) => p.into_inner().get(id).cloned(),
        };
        match stored {
            Some(row) => Ok(row),
            None if self.configured.workflows.contains_key(id) => {
                Err(ServiceError::invalid_parameter(
                    "id",
                    format!(
                        "`{id}` is defined in the configuration's workflow files: change it there"
                    ),
                ))
            }
            None => Err(ServiceError::NotFound {
                kind: "workflow".into(),
                id: id.into(),
            }),
        }
    }

    /// Replaces stored workflow `id` (checked as on creation; the YAML must define that very
    /// name). Runs going on finish with the old definition.
    pub async fn update(
        &self,
        id: &str,
        req: &WorkflowRequest,
        now: TimestampMs,
    ) -> Result<(WorkflowView, WorkflowView)> {
        let w = parse_one(&req.yaml, &self.registry)?;
        if w.name != id {
            return Err(ServiceError::invalid_parameter(
                "yaml",
                format!(
                    "defines `{}`, not `{id}`: a workflow keeps its name",
                    w.name
                ),
            ));
        }
        let _guard = self.lock.lock().await;
        let mut row = self.stored_one(id)?;
        let before = self.view(&self.workflow(id)?);
        self.store.update_workflow(id, &req.yaml, now).await?;
        row.body = req.yaml.clone();
        row.updated_at = now;
        self.install(|stored| {
            stored.insert(row.name.clone(), row);
        });
        Ok((before, self.checked_view(w)))
    }

    /// Deletes stored workflow `id`; returns what it was. Its runs stay recorded.
    pub async fn delete(&self, id: &str) -> Result<WorkflowView> {
        let _guard = self.lock.lock().await;
        self.stored_one(id)?;
        let before = self.view(&self.workflow(id)?);
        self.store.delete_workflow(id).await?;
        self.install(|stored| {
            stored.remove(id);
        });
        Ok(before)
    }

    /// The view of `w` with the warnings about the systems its steps name that are not
    /// configured.
    fn checked_view(&self, w: Workflow) -> WorkflowView {
        let mut view = self.view(&w);
        let mut one = WorkflowSet {
            file: None,
            workflows: BTreeMap::new(),
            warnings: Vec::new(),
        };
        one.workflows.insert(w.name.clone(), w);
        view.warnings =
            aiops_workflow::validate::missing_systems(&one, &self.registry, &self.host.systems())
                .iter()
                .map(ToString::to_string)
                .collect();
        view
    }

    async fn event_of(&self, req: &RunRequest) -> Result<TriggerEvent> {
        match &req.event {
            None | Some(Value::Null) => Ok(TriggerEvent::Manual {
                inputs: req.inputs.clone().unwrap_or_else(|| json!({})),
            }),
            Some(v) => {
                if let Some(id) = v.get("incident_id").and_then(Value::as_str)
                    && v.as_object().is_some_and(|m| m.len() == 1)
                {
                    return Ok(TriggerEvent::Incident {
                        incident: self.incident(id).await?,
                    });
                }
                TriggerEvent::from_json(v).map_err(|e| ServiceError::invalid_parameter("event", e))
            }
        }
    }

    async fn incident(&self, id: &str) -> Result<Incident> {
        let row = self.store.incident(id).await?;
        serde_json::from_value(row.body).map_err(|e| ServiceError::Internal {
            what: format!("incident {id}: {e}"),
        })
    }

    /// Runs workflow `id` by hand for `actor`. A dry run is decided at once and returned
    /// ended; a real run starts in the background and is returned `running` (its record
    /// replaces it when it ends: `GET /api/v1/workflow-runs/{run_id}`). Both are recorded.
    pub async fn run(
        &self,
        id: &str,
        req: &RunRequest,
        actor: &str,
        request_id: Option<&str>,
    ) -> Result<RunView> {
        self.workflow(id)?;
        let event = self.event_of(req).await?;
        let engine = self.engine();
        if !req.dry_run {
            let seq = EXEC_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let run_id = format!("run-manual-{}-{seq}", crate::now_ms());
            let started = self
                .start(
                    engine,
                    id,
                    event,
                    run_id.clone(),
                    "manual",
                    actor,
                    request_id,
                )
                .await?;
            return started
                .map(RunView::from)
                .ok_or_else(|| ServiceError::Internal {
                    what: format!("run id {run_id} taken"),
                });
        }
        let opts = RunOptions {
            dry_run: true,
            ..Default::default()
        };
        let record = engine
            .run(id, &event, &opts)
            .await
            .map_err(|e| ServiceError::NotFound {
                kind: "workflow".into(),
                id: e.to_string(),
            })?;
        persist(&self.store, &record, "manual", actor, request_id).await
    }

    /// Records run `run_id` of workflow `name` as `running` (owned by this process) unless
    /// a run of that id is recorded, and then runs it in the background; its record replaces
    /// the row when it ends. Returns the row recorded, or `None` when the id was taken (by
    /// another replica, or before a crash).
    #[allow(clippy::too_many_arguments)]
    async fn start(
        &self,
        engine: Arc<Engine>,
        name: &str,
        event: TriggerEvent,
        run_id: String,
        trigger: &str,
        actor: &str,
        request_id: Option<&str>,
    ) -> Result<Option<WorkflowRunRow>> {
        let now = crate::now_ms();
        let row = WorkflowRunRow {
            id: run_id.clone(),
            workflow: name.to_string(),
            trigger: trigger.to_string(),
            status: "running".into(),
            started_at: now,
            finished_at: None,
            record: json!({"status": "running", "owner": self.instance, "heartbeat": now}),
        };
        if !self.store.claim_workflow_run(&row).await? {
            return Ok(None);
        }
        lock(&self.inflight).insert(run_id.clone());
        let (store, inflight, claimed) = (self.store.clone(), self.inflight.clone(), row.clone());
        let (name, trigger, actor) = (name.to_string(), trigger.to_string(), actor.to_string());
        let request_id = request_id.map(str::to_string);
        let opts = RunOptions {
            run_id: Some(run_id.clone()),
            ..Default::default()
        };
        self.tasks.lock().await.spawn(async move {
            let saved = match engine.run(&name, &event, &opts).await {
                Ok(r) => persist(&store, &r, &trigger, &actor, request_id.as_deref())
                    .await
                    .map(|_| ()),
                Err(e) => {
                    let failed = WorkflowRunRow {
                        status: "failed".into(),
                        finished_at: Some(crate::now_ms()),
                        record: json!({"status": "failed", "error": e.to_string()}),
                        ..claimed
                    };
                    store
                        .update_running_workflow_run(&failed)
                        .await
                        .map(|_| ())
                        .map_err(Into::into)
                }
            };
            if let Err(e) = saved {
                tracing::error!(workflow = %name, error = %e, "recording a workflow run failed");
            }
            lock(&inflight).remove(&run_id);
        });
        Ok(Some(row))
    }

    /// Keeps the runs of this process alive in the store (their `heartbeat`), and marks
    /// `interrupted` the runs still `running` whose heartbeat is older than `stale_ms`: the
    /// process that ran them is gone (killed, or a replica that stopped). Returns how many
    /// it marked.
    pub async fn keep_alive(&self, now: TimestampMs, stale_ms: i64) -> Result<usize> {
        let mine = lock(&self.inflight).clone();
        let mut marked = 0;
        for row in self.store.running_workflow_runs(1_000).await? {
            if mine.contains(&row.id) {
                let mut record = row.record.clone();
                record["heartbeat"] = json!(now);
                self.store
                    .update_running_workflow_run(&WorkflowRunRow { record, ..row })
                    .await?;
                continue;
            }
            let beat = row.record["heartbeat"].as_i64().unwrap_or(row.started_at);
            if now - beat > stale_ms
                && self
                    .interrupt(row, beat, "the process running it stopped")
                    .await?
            {
                marked += 1;
            }
        }
        Ok(marked)
    }

    /// Marks a `running` run `interrupted`, ended at `at`; whether it still was running.
    async fn interrupt(&self, row: WorkflowRunRow, at: TimestampMs, why: &str) -> Result<bool> {
        tracing::warn!(run = %row.id, workflow = %row.workflow, reason = why, "workflow run interrupted");
        let mut record = row.record.clone();
        record["status"] = json!("interrupted");
        record["error"] = json!(format!(
            "interrupted: {why}; its steps after the last recorded one may or may not have run"
        ));
        Ok(self
            .store
            .update_running_workflow_run(&WorkflowRunRow {
                status: "interrupted".into(),
                finished_at: Some(at),
                record,
                ..row
            })
            .await?)
    }

    /// Stops: waits up to `grace` for the runs going on, then stops the others and records
    /// them `interrupted`.
    pub async fn stop(&self, grace: std::time::Duration) {
        if tokio::time::timeout(grace, self.settle()).await.is_ok() {
            return;
        }
        self.tasks.lock().await.abort_all();
        self.settle().await;
        let ids = std::mem::take(&mut *lock(&self.inflight));
        let now = crate::now_ms();
        for id in ids {
            let marked = match self.store.workflow_run(&id).await {
                Ok(row) if row.status == "running" => {
                    self.interrupt(row, now, "the service stopped during the run")
                        .await
                }
                Ok(_) => Ok(false),
                Err(e) => Err(e.into()),
            };
            if let Err(e) = marked {
                tracing::error!(run = %id, error = %e, "recording an interrupted run failed");
            }
        }
    }

    /// The runs of workflow `id`, newest first.
    pub async fn runs(&self, id: &str, limit: usize) -> Result<RunList> {
        self.workflow(id)?;
        Ok(RunList {
            runs: self
                .store
                .workflow_runs(id, limit.clamp(1, 1_000))
                .await?
                .into_iter()
                .map(RunView::from)
                .collect(),
        })
    }

    /// One run.
    pub async fn run_record(&self, run_id: &str) -> Result<RunView> {
        Ok(self.store.workflow_run(run_id).await?.into())
    }

    /// Whether `action` is on the allow-list.
    pub fn allowed(&self, action: &str) -> bool {
        self.remediation.commands.contains_key(action) || self.remediation.http.contains_key(action)
    }

    /// Runs one allow-listed command or HTTP target (`execute_remediation`) for `actor`; the
    /// execution is recorded and audited. An action not on the allow-list is refused (400)
    /// and audited as denied.
    pub async fn execute(
        &self,
        req: &RemediationRequest,
        actor: &str,
        request_id: Option<&str>,
        now: TimestampMs,
    ) -> Result<RemediationExecution> {
        if !self.allowed(&req.action) {
            let entry = AuditEntry {
                time: now,
                workflow: format!("remediation:{}", req.action),
                step: "execute".into(),
                action: "execute_remediation".into(),
                target: req.action.clone(),
                argv: Vec::new(),
                outcome: "refused".into(),
                detail: "not on the remediation allow-list".into(),
            };
            audit(&self.store, actor, request_id, "", &entry).await;
            return Err(ServiceError::invalid_parameter(
                "action",
                format!(
                    "`{}` is not on the remediation allow-list (workflows.remediation)",
                    req.action
                ),
            ));
        }
        let event = match &req.incident_id {
            Some(id) => TriggerEvent::Incident {
                incident: self.incident(id).await?,
            },
            None => TriggerEvent::Manual { inputs: json!({}) },
        };
        let key = if self.remediation.commands.contains_key(&req.action) {
            "command"
        } else {
            "target"
        };
        let mut params = BTreeMap::new();
        let at = |v: Value| Located {
            value: v,
            pos: None,
        };
        params.insert(key.to_string(), at(json!(req.action)));
        if !req.parameters.is_null() {
            params.insert("args".to_string(), at(req.parameters.clone()));
        }
        let w = Workflow {
            name: "remediation".into(),
            description: None,
            trigger: Trigger::Manual,
            steps: vec![Step {
                name: "execute".into(),
                action: "execute_remediation".into(),
                params,
                condition: None,
                foreach: None,
                policy: StepPolicy::default(),
                pos: None,
            }],
            throttle: ThrottlePolicy::None,
            pos: None,
        };
        let mut set = WorkflowSet {
            file: None,
            workflows: BTreeMap::new(),
            warnings: Vec::new(),
        };
        set.workflows.insert(w.name.clone(), w);
        let engine = Engine::new(
            set,
            self.registry.clone(),
            self.host.clone(),
            self.remediation.clone(),
        );
        let seq = EXEC_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let opts = RunOptions {
            dry_run: req.dry_run,
            run_id: Some(format!("rem-{now}-{seq}")),
            ..Default::default()
        };
        let mut record = engine
            .run("remediation", &event, &opts)
            .await
            .map_err(|e| ServiceError::Internal {
                what: e.to_string(),
            })?;
        record.workflow = format!("remediation:{}", req.action);
        for a in &mut record.audit {
            a.workflow = record.workflow.clone();
        }
        let view = persist(&self.store, &record, "api", actor, request_id).await?;
        Ok(execution(&view, req))
    }

    /// A remediation execution by id.
    pub async fn execution(&self, id: &str) -> Result<RemediationExecution> {
        let row = self.store.workflow_run(id).await?;
        if !row.workflow.starts_with("remediation:") {
            return Err(ServiceError::NotFound {
                kind: "remediation execution".into(),
                id: id.into(),
            });
        }
        let view = RunView::from(row);
        let req = RemediationRequest {
            incident_id: view.record["trigger"]["incident"]["id"]
                .as_str()
                .map(str::to_string),
            action: view.workflow.trim_start_matches("remediation:").to_string(),
            parameters: Value::Null,
            dry_run: view.record["dry_run"].as_bool().unwrap_or(false),
        };
        Ok(execution(&view, &req))
    }

    /// Reads the incident timeline and the events after their cursors and starts the
    /// workflows they trigger; returns the ids of the runs started.
    pub async fn poll(&self) -> Result<Vec<String>> {
        let _guard = self.lock.lock().await;
        let mut out = Vec::new();
        let cursor = self.cursor(CURSOR_KEY).await?;
        let entries = self.store.incident_events_after(cursor, BATCH).await?;
        for (id, ev) in entries {
            if ev.kind == "opened" || ev.kind == "resolved" {
                match self.incident(&ev.incident_id).await {
                    Ok(incident) => {
                        for (k, event) in incident_events(incident, ev.kind == "opened")
                            .iter()
                            .enumerate()
                        {
                            out.extend(self.handle(event, &format!("tl{id}.{k}")).await?);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(incident = %ev.incident_id, error = %e, "workflow trigger skipped")
                    }
                }
            }
            self.store
                .put_value(CURSOR_KEY, &id.to_string(), crate::now_ms())
                .await?;
        }
        let cursor = self.cursor(EVENTS_CURSOR_KEY).await?;
        for e in self.store.events_after(cursor, BATCH).await? {
            let id = e.id;
            let at = e.at;
            let view = crate::events_api::EventView::from(e);
            let mut event = serde_json::to_value(view).unwrap_or(Value::Null);
            // `time` (ms) is when it happened: monitoring windows start there.
            event["time"] = json!(at);
            let event = TriggerEvent::Event { event };
            out.extend(self.handle(&event, &format!("ev{id}")).await?);
            self.store
                .put_value(EVENTS_CURSOR_KEY, &id.to_string(), crate::now_ms())
                .await?;
        }
        Ok(out)
    }

    async fn cursor(&self, key: &str) -> Result<i64> {
        Ok(self
            .store
            .value(key)
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Starts what `event` triggers, through the stored throttle (one run per incident until
    /// it resolves, for `throttle: per_incident` workflows); returns the ids of the runs
    /// started. Each run is recorded `running` at once and replaced by its record when it
    /// ends: runs go on in the background, so a long step (a monitoring window) holds up no
    /// other trigger.
    ///
    /// `occurrence` names what fired (`tl12.0`: the first event of timeline entry 12); a
    /// run's id is made of it and the workflow's name, and a run is started only by the
    /// process that records it first, so replicas sharing a store (and a pass repeated after
    /// a crash) never start one twice.
    async fn handle(&self, event: &TriggerEvent, occurrence: &str) -> Result<Vec<String>> {
        let engine = self.engine();
        let names = engine.triggered_by(event);
        let resolved = is_resolved(event);
        if names.is_empty() && !resolved {
            return Ok(Vec::new());
        }
        let mut throttle: Throttle = self
            .store
            .value(THROTTLE_KEY)
            .await?
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default();
        let mut admitted = Vec::new();
        let mut throttled = Vec::new();
        for name in names {
            let per_incident = engine
                .workflows()
                .workflows
                .get(&name)
                .is_some_and(|w| w.throttle == ThrottlePolicy::PerIncident);
            if !per_incident {
                admitted.push(name);
                continue;
            }
            match throttle.admit(&name, event) {
                Admission::Run => admitted.push(name),
                Admission::Throttled => {
                    tracing::debug!(workflow = %name, "workflow throttled: it ran for this incident");
                    throttled.push(name);
                }
                Admission::Resolved => {}
            }
        }
        if resolved {
            // A resolution releases the throttle of the workflows it does not trigger too.
            for name in engine.workflows().workflows.keys() {
                throttle.admit(name, event);
            }
        }
        self.store
            .put_value(
                THROTTLE_KEY,
                &serde_json::to_string(&throttle).unwrap_or_default(),
                crate::now_ms(),
            )
            .await?;
        let trigger = trigger_name(event);
        // A throttled trigger is recorded as a run that ended at once, so an operator sees
        // why the workflow did not run again.
        for name in throttled {
            if let Some(w) = engine.workflows().workflows.get(&name) {
                let opts = RunOptions {
                    run_id: Some(format!("run-{occurrence}-{name}")),
                    ..Default::default()
                };
                persist(
                    &self.store,
                    &engine.throttled(w, event, &opts),
                    &trigger,
                    SYSTEM,
                    None,
                )
                .await?;
            }
        }
        let mut ids = Vec::new();
        for name in admitted {
            let id = format!("run-{occurrence}-{name}");
            let started = self
                .start(
                    engine.clone(),
                    &name,
                    event.clone(),
                    id.clone(),
                    &trigger,
                    SYSTEM,
                    None,
                )
                .await?;
            if started.is_some() {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Waits for the runs started in the background to end.
    pub async fn settle(&self) {
        let mut tasks = self.tasks.lock().await;
        while tasks.join_next().await.is_some() {}
    }

    /// Forgets the runs that ended (their records are stored).
    async fn reap(&self) {
        let mut tasks = self.tasks.lock().await;
        while tasks.try_join_next().is_some() {}
    }

    /// Fires the schedules due at the minutes since the last tick, up to `now` (ms): the
    /// first tick fires `now`'s minute only; missed minutes are caught up (a day at most).
    pub async fn tick(&self, now: TimestampMs) -> Result<Vec<String>> {
        let minute = now - now.rem_euclid(60_000);
        let last = {
            let _guard = self.lock.lock().await;
            self.store
                .value(TICK_KEY)
                .await?
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(minute - 60_000)
        };
        if minute <= last {
            return Ok(Vec::new());
        }
        let from = (last + 60_000).max(minute - MAX_CATCH_UP_MIN * 60_000);
        let has_schedules = self
            .engine()
            .workflows()
            .workflows
            .values()
            .any(|w| matches!(w.trigger, Trigger::Schedule { .. }));
        let mut out = Vec::new();
        let mut m = from;
        while has_schedules && m <= minute {
            let event = TriggerEvent::Schedule { time: m };
            let _guard = self.lock.lock().await;
            out.extend(self.handle(&event, &format!("cron{m}")).await?);
            m += 60_000;
        }
        self.store
            .put_value(TICK_KEY, &minute.to_string(), crate::now_ms())
            .await?;
        Ok(out)
    }
}

static EXEC_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Whether `event` says its incident (or alert) resolved.
fn is_resolved(event: &TriggerEvent) -> bool {
    use aiops_core::{AlertStatus, IncidentStatus};
    match event {
        TriggerEvent::Incident { incident }
        | TriggerEvent::Alert {
            incident: Some(incident),
            ..
        } => incident.status == IncidentStatus::Resolved,
        TriggerEvent::Alert { alert, .. } => alert.status == AlertStatus::Resolved,
        _ => false,
    }
}

/// Stores a run's record and writes its remediation attempts to the audit log.
async fn persist(
    store: &Store,
    record: &RunRecord,
    trigger: &str,
    actor: &str,
    request_id: Option<&str>,
) -> Result<RunView> {
    let row = WorkflowRunRow {
        id: record.run_id.clone(),
        workflow: record.workflow.clone(),
        trigger: trigger.to_string(),
        status: status_name(record.status),
        started_at: record.started_at,
        finished_at: Some(record.started_at + record.duration_ms as i64),
        record: serde_json::to_value(record).unwrap_or(Value::Null),
    };
    store.put_workflow_run(&row).await?;
    for a in &record.audit {
        audit(store, actor, request_id, &record.run_id, a).await;
    }
    Ok(row.into())
}

/// Writes one remediation attempt to the audit log.
async fn audit(store: &Store, actor: &str, request_id: Option<&str>, run_id: &str, a: &AuditEntry) {
    let outcome = match a.outcome.as_str() {
        "succeeded" => Outcome::Success,
        "refused" => Outcome::Denied,
        _ => Outcome::Failure,
    };
    let e = AuditEvent::new(
        a.time,
        actor,
        AuditKind::Remediation,
        "remediation.execute",
        outcome,
    )
    .with_target(format!("workflow/{}/{}", a.workflow, a.step))
    .with_after(json!({"run_id": run_id, "entry": a}));
    let row = AuditRow {
        id: 0,
        at: e.at,
        actor: e.actor.clone(),
        action: e.action.clone(),
        kind: e.kind.as_str().to_string(),
        target: e.target.clone(),
        outcome: e.outcome.as_str().to_string(),
        request_id: request_id.map(str::to_string),
        detail: e.detail(),
    };
    if let Err(err) = store.append_audit(&row).await {
        tracing::error!(error = %err, "audit log write failed");
    }
}

fn execution(view: &RunView, req: &RemediationRequest) -> RemediationExecution {
    let step = &view.record["steps"][0];
    let status = step["status"].as_str().unwrap_or(&view.status).to_string();
    RemediationExecution {
        execution_id: view.run_id.clone(),
        incident_id: req.incident_id.clone(),
        action: req.action.clone(),
        dry_run: req.dry_run,
        result: if status == "would_run" {
            step["input"].clone()
        } else {
            step["output"].clone()
        },
        error: step["error"].as_str().map(str::to_string),
        status,
        started_at: view.started_at,
        finished_at: view.finished_at,
    }
}

/// The trigger events an incident's timeline entry gives: the incident, and its most severe
/// alert with it (for alert workflows) when it opened.
fn incident_events(incident: Incident, opened: bool) -> Vec<TriggerEvent> {
    let mut out = Vec::new();
    if opened {
        let alert = incident
            .alerts
            .iter()
            .max_by_key(|a| {
                a.labels
                    .get("severity")
                    .and_then(|s| s.parse::<aiops_core::Severity>().ok())
            })
            .cloned();
        if let Some(alert) = alert {
            out.push(TriggerEvent::Alert {
                alert,
                incident: Some(incident.clone()),
            });
        }
    }
    out.push(TriggerEvent::Incident { incident });
    out
}

/// Runs the triggers every `interval` until `stop`: the timeline and events, and the
/// schedules.
pub async fn run(
    w: Arc<Workflows>,
    interval: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let mut tick = tokio::time::interval(interval);
    // Heartbeats every ten passes; a run whose heartbeat is five beats old is interrupted.
    let beat_ms = (interval.as_millis() as i64).saturating_mul(10).max(100);
    let mut last_beat = i64::MIN / 2;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = w.poll().await {
                    tracing::warn!(error = %e, "workflow triggers failed; retried next pass");
                }
                if let Err(e) = w.tick(crate::now_ms()).await {
                    tracing::warn!(error = %e, "workflow schedules failed; retried next pass");
                }
                w.reap().await;
                let now = crate::now_ms();
                if now - last_beat >= beat_ms {
                    last_beat = now;
                    if let Err(e) = w.keep_alive(now, STALE_BEATS * beat_ms).await {
                        tracing::warn!(error = %e, "workflow run heartbeat failed; retried next pass");
                    }
                }
            }
            _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                // Runs about to end are recorded; longer ones are stopped and recorded
                // `interrupted`.
                w.stop(std::time::Duration::from_secs(5)).await;
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use aiops_core::{Alert, Labels};
    use aiops_integrations::traits::{Delivery, Notification, TicketRef};
    use aiops_store::AuditFilter;
    use aiops_workflow::action::BoxFuture;
    use aiops_workflow::host::{
        CommandSpec, HostResult, RcaRequest, RcaResult, ResourceForecast, TicketRequest,
    };

    use super::*;

    const SEED: &str = include_str!("../../examples/workflows/seed.yaml");

    /// A host whose RCA confidence and forecast saturation the test sets; it records calls.
    #[derive(Debug, Default)]
    struct Fake {
        confidence: Mutex<f64>,
        saturation_days: Mutex<f64>,
        /// Metric values after the deployment are this many times those before.
        regression: Mutex<f64>,
        /// When the deployment happened (ms).
        deployed_at: Mutex<TimestampMs>,
        calls: Mutex<Vec<String>>,
    }

    impl Fake {
        fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap().clone()
        }
    }

    impl ActionHost for Fake {
        fn systems(&self) -> Vec<String> {
            vec!["jira".into(), "slack".into(), "pagerduty".into()]
        }
        fn fetch_context<'a>(
            &'a self,
            _context: &'a Value,
            include: &'a [String],
        ) -> BoxFuture<'a, HostResult<Value>> {
            Box::pin(async move {
                Ok(Value::Object(
                    include.iter().map(|k| (k.clone(), json!([]))).collect(),
                ))
            })
        }
        fn run_rca<'a>(&'a self, _req: &'a RcaRequest) -> BoxFuture<'a, HostResult<RcaResult>> {
            Box::pin(async move {
                self.calls.lock().unwrap().push("rca".into());
                Ok(RcaResult {
                    confidence: *self.confidence.lock().unwrap(),
                    root_cause: Some("db".into()),
                    candidates: Vec::new(),
                    remediation: None,
                })
            })
        }
        fn forecast_capacity<'a>(
            &'a self,
            _req: &'a aiops_workflow::host::CapacityRequest,
        ) -> BoxFuture<'a, HostResult<Vec<ResourceForecast>>> {
            Box::pin(async move {
                let days = *self.saturation_days.lock().unwrap();
                Ok(vec![ResourceForecast {
                    resource: "db:disk".into(),
                    current: 0.6,
                    peak: 0.95,
                    saturation_ms: Some((days * 86_400_000.0) as i64),
                }])
            })
        }
        fn notify<'a>(
            &'a self,
            channel: &'a str,
            _n: &'a Notification,
        ) -> BoxFuture<'a, HostResult<Delivery>> {
            Box::pin(async move {
                self.calls.lock().unwrap().push(format!("notify {channel}"));
                Ok(Delivery {
                    attempts: 1,
                    detail: "ok".into(),
                })
            })
        }
        fn wait<'a>(&'a self, _ms: i64) -> BoxFuture<'a, ()> {
            Box::pin(async {})
        }
        fn metric_values<'a>(
            &'a self,
            _metric: &'a str,
            _labels: &'a BTreeMap<String, String>,
            from: TimestampMs,
            _to: TimestampMs,
        ) -> BoxFuture<'a, HostResult<Vec<f64>>> {
            Box::pin(async move {
                let after = from >= *self.deployed_at.lock().unwrap();
                let k = *self.regression.lock().unwrap();
                Ok(vec![if after { 10.0 * k } else { 10.0 }; 5])
            })
        }
        fn annotate<'a>(
            &'a self,
            dashboard: &'a str,
            _a: &'a aiops_integrations::traits::Annotation,
        ) -> BoxFuture<'a, HostResult<String>> {
            Box::pin(async move {
                self.calls
                    .lock()
                    .unwrap()
                    .push(format!("annotate {dashboard}"));
                Ok("1".into())
            })
        }
        fn open_ticket<'a>(
            &'a self,
            system: &'a str,
            req: &'a TicketRequest,
        ) -> BoxFuture<'a, HostResult<TicketRef>> {
            Box::pin(async move {
                let project = req.project.clone().unwrap_or_default();
                self.calls
                    .lock()
                    .unwrap()
                    .push(format!("ticket {system} {project}"));
                Ok(TicketRef {
                    system: system.into(),
                    key: format!("{project}-1"),
                    url: None,
                })
            })
        }
    }

    /// The records of runs started, once they ended.
    async fn settled(w: &Workflows, ids: Vec<String>) -> Vec<RunView> {
        w.settle().await;
        let mut out = Vec::new();
        for id in ids {
            out.push(w.run_record(&id).await.unwrap());
        }
        out
    }

    fn allow_list(marker: &std::path::Path) -> Remediation {
        let mut r = Remediation::default();
        r.commands.insert(
            "restart".into(),
            CommandSpec {
                program: "touch".into(),
                args: vec![marker.display().to_string()],
                rollback: None,
                timeout: None,
            },
        );
        r.defaults
            .insert("execute_remediation".into(), "restart".into());
        r.defaults
            .insert("rollback_deployment".into(), "restart".into());
        r
    }

    async fn setup(marker: &std::path::Path) -> (Store, Arc<Fake>, Workflows) {
        let (store, _) = crate::testing::store_with_cpu_series().await;
        let fake = Arc::new(Fake::default());
        let set = WorkflowSet::parse(SEED, None, &Registry::builtin()).unwrap();
        let w = Workflows::new(store.clone(), fake.clone(), set, allow_list(marker))
            .await
            .unwrap();
        (store, fake, w)
    }

    fn critical(service: &str, at: TimestampMs) -> Alert {
        let labels = Labels::try_from_pairs([
            ("alertname", "Down"),
            ("service", service),
            ("severity", "critical"),
        ])
        .unwrap();
        Alert::firing(labels, at).unwrap()
    }

    fn marker(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!(
            "aiops-wf-{name}-{}-{}",
            std::process::id(),
            crate::now_ms()
        ));
        let _ = std::fs::remove_file(&p);
        p
    }

    async fn remediation_audit(store: &Store) -> Vec<AuditRow> {
        store
            .audit(
                &AuditFilter {
                    kind: Some("remediation".into()),
                    ..AuditFilter::default()
                },
                100,
            )
            .await
            .unwrap()
    }

    /// The alert pipeline of `store`, with the default correlation.
    async fn pipeline(store: &Store) -> Arc<crate::alerting::AlertPipeline> {
        crate::alerting::AlertPipeline::new(store.clone(), Default::default(), None)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_incident_runs_alert_response_once_and_remediates_only_when_confident() {
        let m = marker("alert");
        let (store, fake, w) = setup(&m).await;
        let pipeline = pipeline(&store).await;
        *fake.confidence.lock().unwrap() = 0.5;
        let t0 = crate::now_ms();
        pipeline
            .receive(vec![critical("cart", t0)], "test", t0)
            .await
            .unwrap();
        let runs = settled(&w, w.poll().await.unwrap()).await;
        assert_eq!(runs.len(), 1, "{runs:?}");
        let run = &runs[0];
        assert_eq!(
            (run.workflow.as_str(), run.status.as_str()),
            ("alert_response", "succeeded")
        );
        assert_eq!(run.trigger, "alert");
        let steps = run.record["steps"].as_array().unwrap();
        let status = |name: &str| {
            steps.iter().find(|s| s["name"] == name).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(status("attempt_auto_remediation"), "skipped");
        assert_eq!(
            fake.calls(),
            ["rca", "ticket jira OPS", "notify slack", "notify pagerduty"]
        );
        assert!(!m.exists());
        // Read once: the next pass finds nothing new.
        assert!(settled(&w, w.poll().await.unwrap()).await.is_empty());
        assert_eq!(w.runs("alert_response", 10).await.unwrap().runs.len(), 1);
        assert_eq!(w.run_record(&run.run_id).await.unwrap(), *run);

        // A confident RCA: the remediation runs (the allow-listed default), and is audited.
        *fake.confidence.lock().unwrap() = 0.9;
        pipeline
            .receive(vec![critical("db", t0 + 1_000)], "test", t0 + 1_000)
            .await
            .unwrap();
        let runs = settled(&w, w.poll().await.unwrap()).await;
        assert_eq!(runs.len(), 1, "{runs:?}");
        let steps = runs[0].record["steps"].as_array().unwrap();
        let step = steps
            .iter()
            .find(|s| s["name"] == "attempt_auto_remediation")
            .unwrap();
        assert_eq!(step["status"], "succeeded", "{step}");
        assert!(m.exists());
        let audit = remediation_audit(&store).await;
        assert_eq!(audit.len(), 1);
        assert_eq!(
            (audit[0].actor.as_str(), audit[0].outcome.as_str()),
            (SYSTEM, "ok")
        );
        let _ = std::fs::remove_file(&m);
    }

    #[tokio::test]
    async fn the_capacity_workflow_fires_on_its_schedule_and_tickets_under_three_days() {
        let m = marker("capacity");
        let (_store, fake, w) = setup(&m).await;
        *fake.saturation_days.lock().unwrap() = 5.0;
        let day = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        let h = 3_600_000;
        let runs = settled(&w, w.tick(day + 6 * h).await.unwrap()).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(
            (runs[0].workflow.as_str(), runs[0].trigger.as_str()),
            ("capacity_alert", "schedule")
        );
        let steps = runs[0].record["steps"].as_array().unwrap();
        assert_eq!(steps[2]["status"], "succeeded"); // recommendations: under 7 days
        assert_eq!(steps[3]["status"], "skipped"); // no ticket: not under 3 days
        assert!(fake.calls().is_empty());
        // The same minute again, and the minutes up to the next firing, fire nothing.
        assert!(w.tick(day + 6 * h + 30_000).await.unwrap().is_empty());
        assert!(w.tick(day + 7 * h).await.unwrap().is_empty());
        *fake.saturation_days.lock().unwrap() = 2.0;
        // Missed firings are caught up: 12:00 fires once.
        let runs = settled(&w, w.tick(day + 12 * h + 1_000).await.unwrap()).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].record["steps"][3]["status"], "succeeded");
        assert_eq!(fake.calls(), ["ticket jira CAP"]);
    }

    #[tokio::test]
    async fn remediation_runs_allow_listed_actions_only_and_dry_runs_call_nothing() {
        let m = marker("execute");
        let (store, _fake, w) = setup(&m).await;
        let req = |action: &str, dry_run: bool| RemediationRequest {
            incident_id: None,
            action: action.into(),
            parameters: json!({}),
            dry_run,
        };
        let e = w
            .execute(&req("rm_rf", false), "alice", None, 1)
            .await
            .unwrap_err();
        assert_eq!(e.status(), 400);
        let audit = remediation_audit(&store).await;
        assert_eq!(audit.len(), 1);
        assert_eq!(
            (audit[0].actor.as_str(), audit[0].outcome.as_str()),
            ("alice", "denied")
        );
        let x = w
            .execute(&req("restart", true), "alice", None, 2)
            .await
            .unwrap();
        assert_eq!(x.status, "would_run");
        assert!(!m.exists());
        let x = w
            .execute(&req("restart", false), "alice", None, 3)
            .await
            .unwrap();
        assert_eq!(x.status, "succeeded", "{x:?}");
        assert!(m.exists());
        assert_eq!(
            w.execution(&x.execution_id).await.unwrap().status,
            "succeeded"
        );
        let audit = remediation_audit(&store).await;
        assert_eq!(audit[0].outcome, "ok");
        let e = w
            .execute(
                &RemediationRequest {
                    incident_id: Some("inc-none".into()),
                    ..req("restart", false)
                },
                "alice",
                None,
                4,
            )
            .await
            .unwrap_err();
        assert_eq!(e.status(), 404);
        let _ = std::fs::remove_file(&m);
    }

    #[tokio::test]
    async fn workflows_added_are_checked_unique_and_runnable() {
        let m = marker("create");
        let (_store, _fake, w) = setup(&m).await;
        let bad = WorkflowRequest {
            yaml: "workflows:\n  x:\n    trigger: {type: manual}\n    steps:\n      - name: a\n        action: nope\n".into(),
        };
        let e = w.create(&bad, 1).await.unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("nope"), "{e}");
        let dup = WorkflowRequest {
            yaml: SEED.replace("capacity_alert:", "capacity_alert_2:"),
        };
        assert_eq!(w.create(&dup, 1).await.unwrap_err().status(), 400);
        let ok = WorkflowRequest {
            yaml: "workflows:\n  page:\n    trigger: {type: manual}\n    steps:\n      - name: tell\n        action: send_notification\n        params: {channels: [slack]}\n".into(),
        };
        let v = w.create(&ok, 1).await.unwrap();
        assert_eq!((v.id.as_str(), v.source.as_str()), ("page", "api"));
        assert!(v.warnings.is_empty(), "{:?}", v.warnings);
        let unknown = WorkflowRequest {
            yaml: ok
                .yaml
                .replace("page:", "chat:")
                .replace("[slack]", "[teams]"),
        };
        let v = w.create(&unknown, 1).await.unwrap();
        assert!(v.warnings[0].contains("teams"), "{:?}", v.warnings);
        assert_eq!(w.create(&ok, 2).await.unwrap_err().status(), 409);
        assert_eq!(w.list().workflows.len(), 5);
        let r = w
            .run(
                "page",
                &RunRequest {
                    dry_run: true,
                    ..RunRequest::default()
                },
                "alice",
                None,
            )
            .await
            .unwrap();
        assert_eq!(r.record["steps"][0]["status"], "would_run");
        assert_eq!(
            w.run("nope", &RunRequest::default(), "a", None)
                .await
                .unwrap_err()
                .status(),
            404
        );
    }

    #[tokio::test]
    async fn a_deployment_event_rolls_back_only_after_a_regression() {
        let m = marker("deploy");
        let (store, fake, w) = setup(&m).await;
        let deploy = |at: TimestampMs| crate::events_api::EventRequest {
            source: "kubernetes".into(),
            event_type: "deployment".into(),
            resource: Some("cart".into()),
            timestamp: Some(json!(at)),
            details: serde_json::Map::from_iter([(
                "labels".to_string(),
                json!({"service": "cart"}),
            )]),
        };
        let t0 = crate::now_ms() - 3_600_000;
        *fake.deployed_at.lock().unwrap() = t0;
        *fake.regression.lock().unwrap() = 1.0;
        crate::events_api::post(&store, deploy(t0), t0)
            .await
            .unwrap();
        let runs = settled(&w, w.poll().await.unwrap()).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(
            (runs[0].workflow.as_str(), runs[0].trigger.as_str()),
            ("deployment_monitoring", "event")
        );
        let steps = runs[0].record["steps"].as_array().unwrap();
        assert_eq!(steps[2]["output"]["detected"], false, "{}", runs[0].record);
        assert_eq!(steps[3]["status"], "skipped");
        assert!(!m.exists());
        assert_eq!(fake.calls(), ["annotate production-overview"]);

        // Three times the baseline on every metric: a critical regression, rolled back.
        let t1 = t0 + 60_000;
        *fake.deployed_at.lock().unwrap() = t1;
        *fake.regression.lock().unwrap() = 3.0;
        crate::events_api::post(&store, deploy(t1), t1)
            .await
            .unwrap();
        let runs = settled(&w, w.poll().await.unwrap()).await;
        assert_eq!(runs.len(), 1);
        let steps = runs[0].record["steps"].as_array().unwrap();
        assert_eq!(
            steps[2]["output"]["severity"], "critical",
            "{}",
            runs[0].record
        );
        assert_eq!(steps[3]["status"], "succeeded", "{}", runs[0].record);
        assert!(m.exists());
        let audit = remediation_audit(&store).await;
        assert_eq!(audit.len(), 1);
        assert_eq!(
            audit[0].target.as_deref(),
            Some("workflow/deployment_monitoring/auto_rollback")
        );
        let _ = std::fs::remove_file(&m);
    }

    #[tokio::test]
    async fn what_happened_before_the_first_start_is_not_replayed() {
        let (store, _) = crate::testing::store_with_cpu_series().await;
        let pipeline = pipeline(&store).await;
        let t0 = crate::now_ms();
        pipeline
            .receive(vec![critical("cart", t0)], "test", t0)
            .await
            .unwrap();
        let fake = Arc::new(Fake::default());
        let set = WorkflowSet::parse(SEED, None, &Registry::builtin()).unwrap();
        let w = Workflows::new(store.clone(), fake.clone(), set, Remediation::default())
            .await
            .unwrap();
        assert!(w.poll().await.unwrap().is_empty());
        // What comes after does run.
        pipeline
            .receive(vec![critical("db", t0 + 1)], "test", t0 + 1)
            .await
            .unwrap();
        assert_eq!(settled(&w, w.poll().await.unwrap()).await.len(), 1);
    }

    #[tokio::test]
    async fn a_trigger_read_twice_starts_one_run() {
        let m = marker("twice");
        let (store, fake, a) = setup(&m).await;
        let set = WorkflowSet::parse(SEED, None, &Registry::builtin()).unwrap();
        let b = Workflows::new(store.clone(), fake.clone(), set, allow_list(&m))
            .await
            .unwrap();
        let pipeline = pipeline(&store).await;
        let t0 = crate::now_ms();
        pipeline
            .receive(vec![critical("cart", t0)], "test", t0)
            .await
            .unwrap();
        assert_eq!(settled(&a, a.poll().await.unwrap()).await.len(), 1);
        // Another replica reading the same entry (or this one after a crash before its
        // cursor was saved) starts nothing.
        store.put_value(CURSOR_KEY, "0", t0).await.unwrap();
        store.put_value(THROTTLE_KEY, "{}", t0).await.unwrap();
        assert!(settled(&b, b.poll().await.unwrap()).await.is_empty());
        assert_eq!(a.runs("alert_response", 10).await.unwrap().runs.len(), 1);
        assert_eq!(fake.calls().iter().filter(|c| *c == "rca").count(), 1);
    }

    #[tokio::test]
    async fn a_throttled_trigger_is_recorded_and_a_resolution_releases_it() {
        let m = marker("throttle");
        let (store, fake, w) = setup(&m).await;
        let pipeline = pipeline(&store).await;
        let t0 = crate::now_ms();
        pipeline
            .receive(vec![critical("cart", t0)], "test", t0)
            .await
            .unwrap();
        assert_eq!(settled(&w, w.poll().await.unwrap()).await.len(), 1);
        let (_, rows) = store
            .incidents(&aiops_store::IncidentFilter::default(), 10)
            .await
            .unwrap();
        let id = rows[0].id.clone();
        let mut incident = w.incident(&id).await.unwrap();
        let alert = incident.alerts[0].clone();
        // The same incident's alert again (another occurrence): throttled, and recorded so.
        let again = TriggerEvent::Alert {
            alert: alert.clone(),
            incident: Some(incident.clone()),
        };
        assert!(w.handle(&again, "again").await.unwrap().is_empty());
        let runs = w.runs("alert_response", 10).await.unwrap().runs;
        assert_eq!(runs.len(), 2, "{runs:?}");
        let throttled = runs.iter().find(|r| r.status == "throttled").unwrap();
        assert_eq!(throttled.run_id, "run-again-alert_response");
        assert!(
            throttled.record["error"]
                .as_str()
                .unwrap()
                .contains(&format!("incident:{id}")),
            "{throttled:?}"
        );
        assert_eq!(fake.calls().iter().filter(|c| *c == "rca").count(), 1);
        // Resolved, then firing again: it runs again.
        incident.status = aiops_core::IncidentStatus::Resolved;
        w.handle(
            &TriggerEvent::Incident {
                incident: incident.clone(),
            },
            "resolved",
        )
        .await
        .unwrap();
        incident.status = aiops_core::IncidentStatus::Open;
        let ids = w
            .handle(
                &TriggerEvent::Alert {
                    alert,
                    incident: Some(incident),
                },
                "reopened",
            )
            .await
            .unwrap();
        assert_eq!(ids, ["run-reopened-alert_response"]);
        w.settle().await;
    }
}
