//! `aiops.alerts`: the alert correlation engine of `aiops_alerts`, fed from Python.
//!
//! Alerts go in as JSON text (an Alertmanager API v2 alert per line, a JSON array of them, or
//! a webhook payload), results come out as plain Python dicts and lists (parsed from the
//! engine's serde JSON, so there is one serialization format).

use aiops_alerts::engine::event_time;
use aiops_alerts::{Config, Engine, EngineState};
use aiops_core::{Alert, TimestampMs, Topology};
use aiops_integrations::alertmanager::parse_alerts;
use pyo3::prelude::*;

use crate::errors::{Error, Result};
use crate::to_py;

fn parse_topology(text: Option<&str>) -> Result<Option<Topology>> {
    text.map(|t| serde_json::from_str(t).map_err(|e| Error::Parse(format!("topology: {e}"))))
        .transpose()
}

fn parse_config(text: Option<&str>) -> Result<Config> {
    Ok(match text {
        Some(t) => Config::from_yaml(t)?,
        None => Config::default(),
    })
}

/// The correlation engine: dedup, routing and grouping, inhibition, silences and incidents.
/// Time only moves when the caller says so (ms since the epoch).
#[pyclass(name = "AlertEngine", module = "aiops._aiops")]
pub(crate) struct PyAlertEngine {
    engine: Engine,
    config: Option<String>,
    topology: Option<String>,
    now: Option<TimestampMs>,
}

impl PyAlertEngine {
    fn build(
        config: Option<String>,
        topology: Option<String>,
        state: Option<EngineState>,
    ) -> Result<Self> {
        let cfg = parse_config(config.as_deref())?;
        let topo = parse_topology(topology.as_deref())?;
        let engine = match state {
            Some(s) => Engine::restore(cfg, topo.as_ref(), s)?,
            None => Engine::new(cfg, topo.as_ref())?,
        };
        Ok(Self {
            engine,
            config,
            topology,
            now: None,
        })
    }
}

#[pymethods]
impl PyAlertEngine {
    /// An engine from an Alertmanager-shaped YAML configuration and a topology JSON
    /// (`{"nodes": [...], "edges": [...]}`), both optional.
    #[new]
    #[pyo3(signature = (config = None, topology = None))]
    fn new(config: Option<String>, topology: Option<String>) -> Result<Self> {
        Self::build(config, topology, None)
    }

    /// Feeds alerts given as JSON text, in order, each at the later of its own event time and
    /// the engine's time (or at `now`, ms, when given). Returns each alert's incident id.
    #[pyo3(signature = (alerts, now = None))]
    fn ingest(&mut self, alerts: &str, now: Option<TimestampMs>) -> Result<Vec<Option<String>>> {
        let alerts: Vec<Alert> = parse_alerts(alerts)?;
        let mut out = Vec::with_capacity(alerts.len());
        for a in alerts {
            let at = now.unwrap_or_else(|| event_time(&a));
            let t = self.now.map_or(at, |n| n.max(at));
            out.push(self.engine.ingest(a, t)?.incident);
            self.now = Some(t);
        }
        Ok(out)
    }

    /// Advances the engine to `now` (ms) and returns the notification batches due, as dicts.
    fn tick<'py>(&mut self, py: Python<'py>, now: TimestampMs) -> Result<Bound<'py, PyAny>> {
        let batches = self.engine.tick(now)?;
        self.now = Some(self.now.map_or(now, |n| n.max(now)));
        to_py(py, &batches)
    }

    /// The id of the incident that now holds the alerts of incident `id`: `id` itself, or
    /// the incident it was merged into (an alert that links two incidents merges them);
    /// `None` for an id this engine never gave.
    fn current_incident(&self, id: &str) -> Option<String> {
        self.engine.current_incident(id)
    }

    /// Every incident so far, as dicts (`id`, `severity`, `status`, `resources`, `alerts`,
    /// `probable_origin`, ...).
    fn incidents<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyAny>> {
        to_py(py, &self.engine.incidents())
    }

    /// Counters: alerts_in, duplicates, suppressed, inhibited, incidents, noise_reduction.
    fn stats<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyAny>> {
        to_py(py, &self.engine.stats())
    }

    /// The whole state as JSON text (configuration and topology included).
    fn snapshot(&self) -> Result<String> {
        serde_json::to_string(&(&self.config, &self.topology, self.now, self.engine.state()))
            .map_err(|e| Error::Other(e.to_string()))
    }

    /// An engine restored from `snapshot()`; raises ParseError for bad JSON.
    #[staticmethod]
    fn restore(snapshot: &str) -> Result<Self> {
        let (config, topology, now, state): (
            Option<String>,
            Option<String>,
            Option<TimestampMs>,
            EngineState,
        ) = serde_json::from_str(snapshot).map_err(|e| Error::Parse(e.to_string()))?;
        let mut e = Self::build(config, topology, Some(state))?;
        e.now = now;
        Ok(e)
    }
}
