//! `aiops.alerts`: the alert correlation engine of `aiops_alerts`, fed from Python.
//!
//! Alerts go in as `Alert` objects or as dicts in Alertmanager's API v2 / webhook shape; the
//! configuration as a dict or a YAML file; the topology as a `Topology`. Results come out as
//! typed objects (`IngestOutcome`, `Notification`, `Incident`, `AlertStats`) whose `to_dict()`
//! gives the JSON shape of the Rust crates, converted directly (no JSON text).
//!
//! Time is the caller's: `ingest(alerts, now)` runs at `now`, or, without it, at each alert's
//! own event time (never before the engine's time); `tick(now)` advances it. There is no
//! wall clock.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aiops_alerts::engine::event_time;
use aiops_alerts::grouping::Batch;
use aiops_alerts::{Config, Engine, EngineState, Ingested, Stats};
use aiops_core::time::format_rfc3339;
use aiops_core::{Alert, AlertStatus, Incident, Labels, TimestampMs, Topology};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use serde::{Deserialize, Serialize};

use crate::errors::{Error, Result};
use crate::time::ms_scalar;
use crate::topology::PyTopology;
use crate::{to_py, variant_name};

fn labels_dict<'py>(py: Python<'py>, labels: &Labels) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in labels.iter() {
        d.set_item(k, v)?;
    }
    Ok(d)
}

fn alerts_list(py: Python<'_>, alerts: &[Alert]) -> PyResult<Vec<Py<PyAlert>>> {
    alerts
        .iter()
        .map(|a| Py::new(py, PyAlert { inner: a.clone() }))
        .collect()
}

fn opt_repr<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("None".to_string(), |x| x.to_string())
}

fn str_list_repr(v: &[String]) -> String {
    format!(
        "[{}]",
        v.iter()
            .map(|s| crate::py_str(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// One alert, as Alertmanager knows it; timestamps are int ms since the epoch.
#[pyclass(frozen, eq, name = "Alert", module = "aiops._aiops")]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyAlert {
    pub(crate) inner: Alert,
}

/// An alert from a dict in any of Alertmanager's shapes (`labels`, `annotations`,
/// `startsAt`, `endsAt`, `generatorURL`, `status`, `fingerprint`). `startsAt` / `endsAt` may
/// be RFC 3339 text, or any timestamp the package takes (int ms, datetime64, datetime...).
pub(crate) fn alert_from_dict(d: &Bound<'_, PyDict>) -> Result<Alert> {
    let py = d.py();
    let d = d.copy()?;
    for key in ["startsAt", "endsAt"] {
        if let Some(v) = d.get_item(key)?
            && !v.is_none()
            && !v.is_instance_of::<PyString>()
        {
            let ms = ms_scalar(&v, key)?;
            d.set_item(key, format_rfc3339(ms))?;
        }
    }
    let _ = py;
    pythonize::depythonize::<Alert>(d.as_any()).map_err(|e| Error::Parse(format!("alert: {e}")))
}

/// Every alert of `alerts`: an `Alert`, a dict (one alert, or a webhook payload with
/// `alerts`), or an iterable of them.
pub(crate) fn collect_alerts(obj: &Bound<'_, PyAny>, out: &mut Vec<Alert>) -> Result<()> {
    if let Ok(a) = obj.cast::<PyAlert>() {
        out.push(a.get().inner.clone());
        return Ok(());
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        if let Some(list) = d.get_item("alerts")? {
            return collect_alerts(&list, out);
        }
        out.push(alert_from_dict(d)?);
        return Ok(());
    }
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<pyo3::types::PyBytes>() {
        return Err(PyTypeError::new_err(
            "alerts are Alert objects or dicts (Alertmanager API v2 shape), not text: \
             parse JSON with json.loads first",
        )
        .into());
    }
    if obj.is_instance_of::<PyList>()
        || obj.is_instance_of::<PyTuple>()
        || obj.hasattr("__iter__")?
    {
        for item in obj.try_iter()? {
            collect_alerts(&item?, out)?;
        }
        return Ok(());
    }
    Err(PyTypeError::new_err(format!(
        "expected an Alert, a dict or a list of them, got {}",
        obj.get_type().name()?
    ))
    .into())
}

#[pymethods]
impl PyAlert {
    /// A firing alert with these labels (at least one) starting at `starts_at`.
    #[new]
    #[pyo3(signature = (labels, starts_at, *, annotations = None, ends_at = None,
        status = "firing", generator_url = "", acknowledged = false))]
    fn new(
        labels: BTreeMap<String, String>,
        starts_at: &Bound<'_, PyAny>,
        annotations: Option<BTreeMap<String, String>>,
        ends_at: Option<&Bound<'_, PyAny>>,
        status: &str,
        generator_url: &str,
        acknowledged: bool,
    ) -> Result<Self> {
        let mut a = Alert::firing(
            Labels::try_from_pairs(labels)?,
            ms_scalar(starts_at, "starts_at")?,
        )?;
        a.annotations = annotations.unwrap_or_default();
        a.ends_at = ends_at
            .filter(|e| !e.is_none())
            .map(|e| ms_scalar(e, "ends_at"))
            .transpose()?;
        a.status = match status {
            "firing" => AlertStatus::Firing,
            "resolved" => AlertStatus::Resolved,
            other => {
                return Err(Error::Param(format!(
                    "invalid parameter status: {other:?}; expected \"firing\" or \"resolved\""
                )));
            }
        };
        a.generator_url = generator_url.to_string();
        a.acknowledged = acknowledged;
        Ok(Self { inner: a })
    }

    /// An alert from a dict in Alertmanager's API v2 or webhook shape.
    #[staticmethod]
    fn from_dict(data: &Bound<'_, PyDict>) -> Result<Self> {
        Ok(Self {
            inner: alert_from_dict(data)?,
        })
    }

    /// The alert in the webhook shape: `fingerprint`, `labels`, `annotations`, `status`,
    /// `acknowledged`, `startsAt` / `endsAt` (RFC 3339), `generatorURL` when set.
    fn to_dict<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyAny>> {
        to_py(py, &self.inner)
    }

    /// Fingerprint of the labels: 16 hex digits, as Alertmanager computes it.
    #[getter]
    fn fingerprint(&self) -> String {
        self.inner.fingerprint.to_string()
    }

    /// The identifying labels, as a new dict.
    #[getter]
    fn labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        labels_dict(py, &self.inner.labels)
    }

    /// The annotations.
    #[getter]
    fn annotations(&self) -> BTreeMap<String, String> {
        self.inner.annotations.clone()
    }

    /// "firing" or "resolved" as sent (see `status_at` for the status at a time).
    #[getter]
    fn status(&self) -> String {
        variant_name(&self.inner.status)
    }

    /// Whether an operator has acknowledged it.
    #[getter]
    fn acknowledged(&self) -> bool {
        self.inner.acknowledged
    }

    /// Start, int ms since the epoch.
    #[getter]
    fn starts_at(&self) -> TimestampMs {
        self.inner.starts_at
    }

    /// End (or planned end), int ms since the epoch; None when not set.
    #[getter]
    fn ends_at(&self) -> Option<TimestampMs> {
        self.inner.ends_at
    }

    /// Link to the rule or query that produced it ("" when not set).
    #[getter]
    fn generator_url(&self) -> &str {
        &self.inner.generator_url
    }

    /// The `severity` label when it names a known severity.
    #[getter]
    fn severity(&self) -> Option<&'static str> {
        self.inner.severity().map(|s| s.as_str())
    }

    /// "firing" or "resolved" at time `now`: resolved when sent so, or once `endsAt` passed.
    fn status_at(&self, now: &Bound<'_, PyAny>) -> Result<String> {
        Ok(variant_name(&self.inner.status_at(ms_scalar(now, "now")?)))
    }

    fn __repr__(&self) -> String {
        format!(
            "Alert(labels={}, status={}, starts_at={}, ends_at={})",
            self.inner.labels,
            crate::py_str(&variant_name(&self.inner.status)),
            self.inner.starts_at,
            opt_repr(self.inner.ends_at)
        )
    }

    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
        py: Python<'py>,
    ) -> Result<(Bound<'py, PyAny>, (Bound<'py, PyAny>,))> {
        Ok((
            slf.get_type().getattr("from_dict")?,
            (slf.get().to_dict(py)?,),
        ))
    }
}

record!(PyIncident, Incident, "Incident", incident_repr,
    "One incident: the alerts that belong to it, the resources they touch, its likely origin.",
    "The incident in the JSON shape of the Rust crate (timestamps as RFC 3339 text).", {
    /// Id, `inc-<n>`.
    id: &str = |i, py| &i.id;
    /// Title, from its first alert.
    title: &str = |i, py| &i.title;
    /// The highest severity of its alerts ("critical", "high", "medium", "low", "info").
    severity: &'static str = |i, py| i.severity.as_str();
    /// "open", "acknowledged" or "resolved".
    status: String = |i, py| variant_name(&i.status);
    /// Resources its alerts touch, sorted.
    resources: Vec<String> = |i, py| i.resources.clone();
    /// Its alerts.
    alerts: Vec<Py<PyAlert>> = |i, py| alerts_list(py, &i.alerts)?;
    /// When it started, int ms since the epoch.
    started_at: TimestampMs = |i, py| i.started_at;
    /// When it resolved, int ms; None while open.
    resolved_at: Option<TimestampMs> = |i, py| i.resolved_at;
    /// The resource the trouble most likely started at (from the topology), if known.
    probable_origin: Option<&str> = |i, py| i.probable_origin.as_deref();
});

fn incident_repr(i: &Incident) -> String {
    format!(
        "Incident(id={}, severity={}, status={}, resources={}, alerts={}, probable_origin={})",
        crate::py_str(&i.id),
        crate::py_str(i.severity.as_str()),
        crate::py_str(&variant_name(&i.status)),
        str_list_repr(&i.resources),
        i.alerts.len(),
        i.probable_origin
            .as_deref()
            .map_or("None".to_string(), crate::py_str)
    )
}

record!(PyNotification, Batch, "Notification", notification_repr,
    "One notification: what a receiver gets for one alert group at one time.",
    "The notification in the JSON shape of the Rust crate.", {
    /// When it is sent (engine time), int ms since the epoch.
    at: TimestampMs = |n, py| n.at;
    /// The receiver of the route.
    receiver: &str = |n, py| &n.receiver;
    /// The group key (`route path:group labels`).
    group_key: &str = |n, py| &n.group_key;
    /// The labels the group shares.
    group_labels: Py<PyDict> = |n, py| labels_dict(py, &n.group_labels)?.unbind();
    /// Firing alerts, by fingerprint.
    firing: Vec<Py<PyAlert>> = |n, py| alerts_list(py, &n.firing)?;
    /// Resolved alerts, by fingerprint (empty without `send_resolved`).
    resolved: Vec<Py<PyAlert>> = |n, py| alerts_list(py, &n.resolved)?;
});

fn notification_repr(n: &Batch) -> String {
    format!(
        "Notification(at={}, receiver={}, group_key={}, firing={}, resolved={})",
        n.at,
        crate::py_str(&n.receiver),
        crate::py_str(&n.group_key),
        n.firing.len(),
        n.resolved.len()
    )
}

/// What happened to one incoming alert.
#[pyclass(frozen, eq, get_all, name = "IngestOutcome", module = "aiops._aiops")]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyIngestOutcome {
    /// The engine time it was ingested at, int ms since the epoch.
    at: TimestampMs,
    /// The fingerprint of its labels.
    fingerprint: String,
    /// "new", "duplicate" (same content as before) or "updated" (same labels, new content).
    outcome: &'static str,
    /// Names of the silences / maintenance windows muting it.
    muted_by: Vec<String>,
    /// Fingerprint of the alert inhibiting it, if any.
    inhibited_by: Option<String>,
    /// The incident it belongs to, if any.
    incident: Option<String>,
}

impl PyIngestOutcome {
    fn new(at: TimestampMs, fingerprint: String, i: Ingested) -> Self {
        use aiops_alerts::dedup::DedupOutcome;
        Self {
            at,
            fingerprint,
            outcome: match i.outcome {
                DedupOutcome::New => "new",
                DedupOutcome::Duplicate => "duplicate",
                DedupOutcome::Updated => "updated",
            },
            muted_by: i.muted_by,
            inhibited_by: i.inhibited_by.map(|f| f.to_string()),
            incident: i.incident,
        }
    }
}

#[pymethods]
impl PyIngestOutcome {
    /// The outcome as a dict of the same fields.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("at", self.at)?;
        d.set_item("fingerprint", &self.fingerprint)?;
        d.set_item("outcome", self.outcome)?;
        d.set_item("muted_by", &self.muted_by)?;
        d.set_item("inhibited_by", &self.inhibited_by)?;
        d.set_item("incident", &self.incident)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "IngestOutcome(at={}, fingerprint={}, outcome={}, muted_by={}, inhibited_by={}, incident={})",
            self.at,
            crate::py_str(&self.fingerprint),
            crate::py_str(self.outcome),
            str_list_repr(&self.muted_by),
            self.inhibited_by
                .as_deref()
                .map_or("None".to_string(), crate::py_str),
            self.incident
                .as_deref()
                .map_or("None".to_string(), crate::py_str)
        )
    }
}

/// Counters over everything an engine was fed.
#[pyclass(frozen, eq, get_all, name = "AlertStats", module = "aiops._aiops")]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyAlertStats {
    /// Alerts received, duplicates included.
    alerts_in: u64,
    /// Repeats with unchanged content.
    duplicates: u64,
    /// Firing alerts muted by a silence or maintenance window on arrival.
    suppressed: u64,
    /// Firing alerts inhibited on arrival.
    inhibited: u64,
    /// Incidents opened, less those merged into another one.
    incidents: u64,
    /// `1 - incidents / alerts_in` (0 with no alert).
    noise_reduction: f64,
}

impl From<Stats> for PyAlertStats {
    fn from(s: Stats) -> Self {
        Self {
            alerts_in: s.alerts_in,
            duplicates: s.duplicates,
            suppressed: s.suppressed,
            inhibited: s.inhibited,
            incidents: s.incidents,
            noise_reduction: s.noise_reduction,
        }
    }
}

#[pymethods]
impl PyAlertStats {
    /// The counters as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyAny>> {
        to_py(
            py,
            &Stats {
                alerts_in: self.alerts_in,
                duplicates: self.duplicates,
                suppressed: self.suppressed,
                inhibited: self.inhibited,
                incidents: self.incidents,
                noise_reduction: self.noise_reduction,
            },
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "AlertStats(alerts_in={}, duplicates={}, suppressed={}, inhibited={}, incidents={}, noise_reduction={:?})",
            self.alerts_in,
            self.duplicates,
            self.suppressed,
            self.inhibited,
            self.incidents,
            self.noise_reduction
        )
    }
}

/// Where the configuration came from, kept for snapshots.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ConfigSource {
    /// YAML text (read from a file, or an 0.1 snapshot).
    Yaml(String),
    /// A dict, as its JSON value.
    Dict(serde_json::Value),
}

impl ConfigSource {
    fn config(&self) -> Result<Config> {
        match self {
            ConfigSource::Yaml(text) => Ok(Config::from_yaml(text)?),
            ConfigSource::Dict(v) => serde_json::from_value(v.clone())
                .map_err(|e| Error::Config(format!("invalid configuration: {e}"))),
        }
    }
}

/// The snapshot written since aiops 0.2.
#[derive(Serialize, Deserialize)]
struct SnapshotV2 {
    version: u32,
    config: Option<ConfigSource>,
    topology: Option<Topology>,
    state: EngineState,
}

/// The snapshot of aiops 0.1: `(config YAML, topology JSON, binding clock, state)`.
type SnapshotV1 = (
    Option<String>,
    Option<String>,
    Option<TimestampMs>,
    EngineState,
);

/// The correlation engine: dedup, routing and grouping, inhibition, silences and incidents.
/// Time only moves when the caller says so (int ms since the epoch).
#[pyclass(name = "AlertEngine", module = "aiops._aiops")]
pub(crate) struct PyAlertEngine {
    engine: Engine,
    config: Option<ConfigSource>,
    topology: Option<Topology>,
}

impl PyAlertEngine {
    fn build(
        config: Option<ConfigSource>,
        topology: Option<Topology>,
        state: Option<EngineState>,
    ) -> Result<Self> {
        let cfg = match &config {
            Some(c) => c.config()?,
            None => Config::default(),
        };
        let engine = match state {
            Some(s) => Engine::restore(cfg, topology.as_ref(), s)?,
            None => Engine::new(cfg, topology.as_ref())?,
        };
        Ok(Self {
            engine,
            config,
            topology,
        })
    }
}

/// The configuration argument: a dict, or the path of a YAML file.
fn config_source(config: &Bound<'_, PyAny>) -> Result<ConfigSource> {
    if let Ok(d) = config.cast::<PyDict>() {
        let v: serde_json::Value = pythonize::depythonize(d.as_any())
            .map_err(|e| Error::Config(format!("invalid configuration: {e}")))?;
        return Ok(ConfigSource::Dict(v));
    }
    let path: PathBuf = config.extract().map_err(|_| {
        Error::Py(PyTypeError::new_err(
            "config is a dict or the path of a YAML file (AlertEngine.from_yaml takes YAML text)",
        ))
    })?;
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(e, &path))?;
    Ok(ConfigSource::Yaml(text))
}

#[pymethods]
impl PyAlertEngine {
    /// An engine from a configuration (a dict shaped like Alertmanager's YAML, or the path of
    /// a YAML file; None: one route, receiver "default") and a `Topology` (optional).
    #[new]
    #[pyo3(signature = (config = None, topology = None))]
    fn new(
        config: Option<&Bound<'_, PyAny>>,
        topology: Option<PyRef<'_, PyTopology>>,
    ) -> Result<Self> {
        let config = config
            .filter(|c| !c.is_none())
            .map(config_source)
            .transpose()?;
        Self::build(config, topology.map(|t| t.topology.clone()), None)
    }

    /// An engine from YAML text (Alertmanager's configuration format) and a `Topology`.
    #[staticmethod]
    #[pyo3(signature = (text, topology = None))]
    fn from_yaml(text: String, topology: Option<PyRef<'_, PyTopology>>) -> Result<Self> {
        Self::build(
            Some(ConfigSource::Yaml(text)),
            topology.map(|t| t.topology.clone()),
            None,
        )
    }

    /// Feeds alerts in order: an `Alert`, a dict (Alertmanager API v2 or webhook shape, or a
    /// webhook payload with `alerts`), or a list of them. Each is ingested at `now` (int ms
    /// or any timestamp; it must not be before the engine's time), or, when `now` is None, at
    /// its own event time (`endsAt` when resolved, else `startsAt`), or the engine's time if
    /// that is later (a late or re-sent alert). Returns one `IngestOutcome` per alert.
    #[pyo3(signature = (alerts, now = None))]
    fn ingest(
        &mut self,
        py: Python<'_>,
        alerts: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> Result<Vec<PyIngestOutcome>> {
        let now = now
            .filter(|n| !n.is_none())
            .map(|n| ms_scalar(n, "now"))
            .transpose()?;
        let mut list = Vec::new();
        collect_alerts(alerts, &mut list)?;
        let engine = &mut self.engine;
        py.detach(|| {
            list.into_iter()
                .map(|a| {
                    let at = match now {
                        Some(n) => n,
                        None => {
                            let t = event_time(&a);
                            engine.now().map_or(t, |e| e.max(t))
                        }
                    };
                    let fp = a.fingerprint.to_string();
                    Ok(PyIngestOutcome::new(at, fp, engine.ingest(a, at)?))
                })
                .collect()
        })
    }

    /// Advances the engine to `now` and returns the notifications due.
    fn tick(&mut self, py: Python<'_>, now: &Bound<'_, PyAny>) -> Result<Vec<PyNotification>> {
        let now = ms_scalar(now, "now")?;
        let engine = &mut self.engine;
        let batches = py.detach(|| engine.tick(now))?;
        Ok(batches
            .into_iter()
            .map(|inner| PyNotification { inner })
            .collect())
    }

    /// The engine's time (int ms): the latest `now` it ran at; None before the first call.
    #[getter]
    fn now(&self) -> Option<TimestampMs> {
        self.engine.now()
    }

    /// The id of the incident that now holds the alerts of incident `id`: `id` itself, or
    /// the incident it was merged into (an alert that links two incidents merges them);
    /// `None` for an id this engine never gave.
    fn current_incident(&self, id: &str) -> Option<String> {
        self.engine.current_incident(id)
    }

    /// Every incident so far, open and resolved, in opening order.
    fn incidents(&self) -> Vec<PyIncident> {
        self.engine
            .incidents()
            .into_iter()
            .map(|inner| PyIncident { inner })
            .collect()
    }

    /// The counters.
    fn stats(&self) -> PyAlertStats {
        self.engine.stats().into()
    }

    /// The whole state (configuration and topology included) as text, for `restore`.
    fn snapshot(&self) -> Result<String> {
        serde_json::to_string(&SnapshotV2 {
            version: 2,
            config: self.config.clone(),
            topology: self.topology.clone(),
            state: self.engine.state().clone(),
        })
        .map_err(|e| Error::Other(e.to_string()))
    }

    /// An engine restored from `snapshot()` (those of aiops 0.1 included); it continues
    /// exactly where the saved one stopped. Raises SnapshotError for a bad snapshot.
    #[staticmethod]
    fn restore(snapshot: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(snapshot).map_err(|e| Error::Snapshot(e.to_string()))?;
        if value.is_array() {
            let (config, topology, _clock, state): SnapshotV1 =
                serde_json::from_value(value).map_err(|e| Error::Snapshot(e.to_string()))?;
            let topology = topology.map(|t| Topology::from_json(&t)).transpose()?;
            return Self::build(config.map(ConfigSource::Yaml), topology, Some(state));
        }
        let s: SnapshotV2 =
            serde_json::from_value(value).map_err(|e| Error::Snapshot(e.to_string()))?;
        if s.version != 2 {
            return Err(Error::Snapshot(format!(
                "snapshot version {} is newer than this aiops reads (2)",
                s.version
            )));
        }
        Self::build(s.config, s.topology, Some(s.state))
    }

    /// Pickles through the snapshot.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
        _py: Python<'py>,
    ) -> Result<(Bound<'py, PyAny>, (String,))> {
        Ok((
            slf.get_type().getattr("restore")?,
            (slf.borrow().snapshot()?,),
        ))
    }

    fn __repr__(&self) -> String {
        let s = self.engine.stats();
        format!(
            "AlertEngine(now={}, alerts_in={}, incidents={})",
            opt_repr(self.engine.now()),
            s.alerts_in,
            s.incidents
        )
    }
}
