//! `aiops.workflow`: the workflow engine of `aiops_workflow` (check workflow files, see which
//! workflows an event triggers, run them, dry run first). Nothing is configured here but the
//! remediation allow-list, as with `aiops workflow run`: steps that reach an external system
//! are recorded as failed unless the run is a dry run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use aiops_workflow::{
    Diagnostic, Engine, Invalid, NoHost, Registry, Remediation, RunOptions, RunRecord, StepRecord,
    TriggerEvent, WorkflowSet,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{Error, Result};
use crate::{to_py, variant_name};

fn invalid(e: Invalid) -> Error {
    Error::Config(
        e.0.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    )
}

fn event_of(event: &Bound<'_, PyDict>) -> Result<TriggerEvent> {
    let v: serde_json::Value =
        pythonize::depythonize(event.as_any()).map_err(|e| Error::Parse(format!("event: {e}")))?;
    TriggerEvent::from_json(&v).map_err(|e| Error::Parse(format!("event: {e}")))
}

record!(PyDiagnostic, Diagnostic, "Diagnostic", diagnostic_repr, "A finding of the workflow checks: an error or a warning, with where it is.", {
    /// `error` or `warning`.
    level: String = |d, py| variant_name(&d.level);
    /// What is wrong, in words.
    message: &str = |d, py| &d.message;
    /// The file, when the workflows came from one.
    file: Option<String> = |d, py| d.file.as_ref().map(|p| p.display().to_string());
    /// The workflow, when the finding is inside one.
    workflow: Option<String> = |d, py| d.workflow.clone();
    /// The step, when the finding is inside one.
    step: Option<String> = |d, py| d.step.clone();
    /// Line in the file (from 1), when known.
    line: Option<u64> = |d, py| d.pos.map(|p| p.line);
    /// Column in the file (from 1), when known.
    column: Option<u64> = |d, py| d.pos.map(|p| p.column);
});

fn diagnostic_repr(d: &Diagnostic) -> String {
    format!("Diagnostic({})", crate::py_str(&d.to_string()))
}

record!(PyStepRecord, StepRecord, "StepRecord", step_repr, "What one step of a run did.", {
    /// The step.
    name: &str = |s, py| &s.name;
    /// Its action.
    action: &str = |s, py| &s.action;
    /// How it ended: `succeeded`, `failed`, `skipped`, `would_run`, `not_run` or `throttled`.
    status: String = |s, py| variant_name(&s.status);
    /// The condition and what it decided (`{"expr", "value"}`), if it has one.
    condition: Option<Py<PyAny>> = |s, py| s.condition.as_ref().map(|c| to_py(py, c).map(Bound::unbind)).transpose()?;
    /// Rendered params (a list, one per item, for `foreach`).
    input: Option<Py<PyAny>> = |s, py| s.input.as_ref().map(|v| to_py(py, v).map(Bound::unbind)).transpose()?;
    /// What it returned (a list for `foreach`).
    output: Option<Py<PyAny>> = |s, py| s.output.as_ref().map(|v| to_py(py, v).map(Bound::unbind)).transpose()?;
    /// Every attempt, as dicts (`attempt`, `ok`, `error`, `duration_ms`...).
    attempts: Py<PyAny> = |s, py| to_py(py, &s.attempts)?.unbind();
    /// Why it failed.
    error: Option<String> = |s, py| s.error.clone();
    /// Systems it reaches (`jira`, `slack`), with `(not configured)` when none is.
    systems: Vec<String> = |s, py| s.systems.clone();
    /// When it started, ms since the epoch.
    started_at: i64 = |s, py| s.started_at;
    /// How long it took, ms.
    duration_ms: u64 = |s, py| s.duration_ms;
});

fn step_repr(s: &StepRecord) -> String {
    format!(
        "StepRecord(name={}, action={}, status={})",
        crate::py_str(&s.name),
        crate::py_str(&s.action),
        crate::py_str(&variant_name(&s.status))
    )
}

record!(PyRunRecord, RunRecord, "RunRecord", run_repr, "One run of a workflow: every step's decision, rendered params, output, attempts and errors.", {
    /// Its id.
    run_id: &str = |r, py| &r.run_id;
    /// The workflow.
    workflow: &str = |r, py| &r.workflow;
    /// Whether it was a dry run.
    dry_run: bool = |r, py| r.dry_run;
    /// How it ended (`succeeded`, `failed`...).
    status: String = |r, py| variant_name(&r.status);
    /// Each step, in order.
    steps: Vec<PyStepRecord> = |r, py| r.steps.iter().cloned().map(|inner| PyStepRecord { inner }).collect();
    /// The audit entry of every remediation attempted, as dicts.
    audit: Py<PyAny> = |r, py| to_py(py, &r.audit)?.unbind();
    /// Why it failed.
    error: Option<String> = |r, py| r.error.clone();
    /// When it started, ms since the epoch.
    started_at: i64 = |r, py| r.started_at;
    /// How long it took, ms.
    duration_ms: u64 = |r, py| r.duration_ms;
} {
    /// The step called `name`, or None.
    fn step(&self, name: &str) -> Option<PyStepRecord> {
        self.inner.step(name).cloned().map(|inner| PyStepRecord { inner })
    }
});

fn run_repr(r: &RunRecord) -> String {
    format!(
        "RunRecord(workflow={}, status={}, steps={}, dry_run={})",
        crate::py_str(&r.workflow),
        crate::py_str(&variant_name(&r.status)),
        r.steps.len(),
        if r.dry_run { "True" } else { "False" }
    )
}

/// Workflows loaded from a YAML file or text and checked, ready to run.
#[pyclass(frozen, name = "Workflows", module = "aiops._aiops")]
#[derive(Debug)]
pub(crate) struct PyWorkflows {
    engine: Engine,
}

impl PyWorkflows {
    fn with(set: WorkflowSet, remediation: Option<&Bound<'_, PyDict>>) -> Result<Self> {
        let remediation: Remediation = match remediation {
            None => Remediation::default(),
            Some(d) => pythonize::depythonize(d.as_any())
                .map_err(|e| Error::Config(format!("remediation: {e}")))?,
        };
        Ok(Self {
            engine: Engine::new(set, Registry::builtin(), Arc::new(NoHost), remediation),
        })
    }
}

#[pymethods]
impl PyWorkflows {
    /// Loads and checks the workflows of a YAML file; `remediation` is the allow-list
    /// (`{"commands": {...}, "http": {...}, "defaults": {...}}`). Invalid workflows raise
    /// `ConfigError` listing every problem.
    #[staticmethod]
    #[pyo3(signature = (path, remediation=None))]
    fn load(path: PathBuf, remediation: Option<&Bound<'_, PyDict>>) -> Result<Self> {
        let set = WorkflowSet::load(&path, &Registry::builtin()).map_err(invalid)?;
        Self::with(set, remediation)
    }

    /// Parses and checks workflows from YAML text (see [`load`](Self::load)).
    #[staticmethod]
    #[pyo3(signature = (text, remediation=None))]
    fn from_yaml(text: &str, remediation: Option<&Bound<'_, PyDict>>) -> Result<Self> {
        let set = WorkflowSet::parse(text, None, &Registry::builtin()).map_err(invalid)?;
        Self::with(set, remediation)
    }

    /// The workflows' names, sorted.
    #[getter]
    fn names(&self) -> Vec<String> {
        self.engine.workflows().workflows.keys().cloned().collect()
    }

    /// Warnings found while loading.
    #[getter]
    fn warnings(&self) -> Vec<PyDiagnostic> {
        self.engine
            .workflows()
            .warnings
            .iter()
            .cloned()
            .map(|inner| PyDiagnostic { inner })
            .collect()
    }

    /// The workflows this event triggers: an alert in Alertmanager API v2 form, an incident,
    /// or an event with `source` and `event_type` (a dict).
    fn triggered_by(&self, event: &Bound<'_, PyDict>) -> Result<Vec<String>> {
        Ok(self.engine.triggered_by(&event_of(event)?))
    }

    /// Runs the workflow `name` on `event` and returns its record. `dry_run` decides and
    /// renders every step and calls nothing; `assume` gives the outputs assumed for steps in
    /// a dry run (step name -> output). The GIL is released while it runs.
    #[pyo3(signature = (name, event, *, dry_run=false, assume=None))]
    fn run(
        &self,
        py: Python<'_>,
        name: &str,
        event: &Bound<'_, PyDict>,
        dry_run: bool,
        assume: Option<&Bound<'_, PyDict>>,
    ) -> Result<PyRunRecord> {
        let event = event_of(event)?;
        let assume: BTreeMap<String, serde_json::Value> = match assume {
            None => BTreeMap::new(),
            Some(d) => pythonize::depythonize(d.as_any())
                .map_err(|e| Error::Parse(format!("assume: {e}")))?,
        };
        let opts = RunOptions {
            dry_run,
            assume,
            run_id: None,
        };
        let record = crate::block_on(py, self.engine.run(name, &event, &opts), Error::param)?;
        Ok(PyRunRecord { inner: record })
    }

    fn __repr__(&self) -> String {
        format!("Workflows(names={:?})", self.names())
    }
}

/// Checks a workflow file or a directory of them (`*.yaml`, `*.yml`): unknown actions and
/// keys, forward references, expressions and templates. `systems` are the configured systems
/// (`jira`, `slack`...); steps naming others get warnings. Returns every finding.
#[pyfunction]
#[pyo3(signature = (path, systems=None))]
pub(crate) fn workflow_lint(path: PathBuf, systems: Option<Vec<String>>) -> Vec<PyDiagnostic> {
    aiops_workflow::lint(&path, &Registry::builtin(), &systems.unwrap_or_default())
        .into_iter()
        .map(|inner| PyDiagnostic { inner })
        .collect()
}
