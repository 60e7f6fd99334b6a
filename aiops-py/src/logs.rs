//! Log template mining and anomaly detection: `TemplateMiner` and `LogDetector`, thin wrappers
//! of `aiops_logs::TemplateMiner` and `LogDetectorState`. Reports come out as plain
//! Python dicts parsed from the library's serde JSON (one serialization format).

use std::sync::{Mutex, MutexGuard};

use aiops_logs::window_pca::CountPcaParams;
use aiops_logs::{
    Change, DrainParams, LogDetectorParams, LogDetectorState, MaskSpec, TemplateMiner, WindowSpec,
    split_lines, to_loghub,
};
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;

use crate::errors::{Error, Result};
use crate::to_py;

/// A streaming Drain template miner; see `aiops.logs.TemplateMiner` in the stubs.
#[pyclass(frozen, name = "TemplateMiner", module = "aiops._aiops")]
#[derive(Debug)]
pub(crate) struct PyTemplateMiner {
    miner: Mutex<TemplateMiner>,
}

fn lock(m: &Mutex<TemplateMiner>) -> MutexGuard<'_, TemplateMiner> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn change_name(c: Change) -> &'static str {
    match c {
        Change::New => "new",
        Change::Changed => "changed",
        Change::Unchanged => "unchanged",
    }
}

#[pymethods]
impl PyTemplateMiner {
    /// Checks the parameters and makes an empty miner.
    #[new]
    #[pyo3(signature = (
        log_format=None,
        masks=Vec::new(),
        sim_threshold=0.5,
        depth=4,
        max_children=100,
        max_clusters=None,
        builtin_masks=true,
    ))]
    fn new(
        log_format: Option<String>,
        masks: Vec<String>,
        sim_threshold: f64,
        depth: usize,
        max_children: usize,
        max_clusters: Option<usize>,
        builtin_masks: bool,
    ) -> Result<Self> {
        let mut p = DrainParams::new()
            .sim_threshold(sim_threshold)
            .depth(depth)
            .max_children(max_children)
            .builtin_masks(builtin_masks);
        if let Some(f) = &log_format {
            p = p.log_format(f);
        }
        if let Some(n) = max_clusters {
            p = p.max_clusters(n);
        }
        for m in &masks {
            p = p.mask(MaskSpec::parse(m));
        }
        let drain = p.check().map_err(Error::param)?;
        Ok(Self {
            miner: Mutex::new(drain.miner()),
        })
    }

    /// Learns one line: `(template_id, change)`, change one of "new", "changed", "unchanged".
    fn learn(&self, line: &str) -> (u64, &'static str) {
        let o = lock(&self.miner).learn(line);
        (o.id, change_name(o.change))
    }

    /// Learns every line in order, GIL released; returns the template id of each (uint64).
    #[pyo3(signature = (lines, parallel=false))]
    fn learn_many<'py>(
        &self,
        py: Python<'py>,
        lines: Vec<String>,
        parallel: bool,
    ) -> Bound<'py, PyArray1<u64>> {
        let ids: Vec<u64> = py.detach(|| learn_lines(&mut lock(&self.miner), &lines, parallel));
        ids.into_pyarray(py)
    }

    /// Reads a log file (invalid UTF-8 replaced) and learns every line, GIL released.
    #[pyo3(signature = (path, parallel=false))]
    fn learn_file<'py>(
        &self,
        py: Python<'py>,
        path: std::path::PathBuf,
        parallel: bool,
    ) -> Result<Bound<'py, PyArray1<u64>>> {
        let ids = py.detach(|| -> Result<Vec<u64>> {
            let bytes = std::fs::read(&path)
                .map_err(|e| Error::Core(aiops_core::CoreError::Io(e)).at(&path))?;
            let lines = split_lines(&bytes);
            Ok(learn_lines(&mut lock(&self.miner), &lines, parallel))
        })?;
        Ok(ids.into_pyarray(py))
    }

    /// The template a line matches, without learning; None when no template covers it.
    #[pyo3(name = "match")]
    fn match_line(&self, line: &str) -> Option<u64> {
        lock(&self.miner).match_line(line)
    }

    /// The current template of an id (`<:NAME:>` and `<*>` are variables), or None.
    fn template(&self, template_id: u64) -> Option<String> {
        lock(&self.miner).template(template_id)
    }

    /// Every template as `(id, template, count)`, most frequent first.
    fn templates(&self) -> Vec<(u64, String, u64)> {
        lock(&self.miner)
            .templates()
            .into_iter()
            .map(|t| (t.id, t.template, t.count))
            .collect()
    }

    /// The values of the template's variables in a line, or None when it does not fit.
    fn parameters(&self, template_id: u64, line: &str) -> Option<Vec<String>> {
        lock(&self.miner).parameters(template_id, line)
    }

    /// The whole state (parameters included) as JSON.
    fn snapshot(&self) -> Result<String> {
        serde_json::to_string(&*lock(&self.miner)).map_err(|e| Error::Other(e.to_string()))
    }

    /// A miner restored from `snapshot()`; it continues exactly where the saved one stopped.
    #[staticmethod]
    fn restore(snapshot: &str) -> Result<Self> {
        let miner: TemplateMiner = serde_json::from_str(snapshot)
            .map_err(|e| Error::Parse(format!("snapshot JSON: {e}")))?;
        Ok(Self {
            miner: Mutex::new(miner),
        })
    }

    fn __len__(&self) -> usize {
        lock(&self.miner).len()
    }

    fn __repr__(&self) -> String {
        format!("TemplateMiner(templates={})", lock(&self.miner).len())
    }

    /// The state, as JSON (pickle support).
    fn __getstate__(&self) -> Result<String> {
        self.snapshot()
    }

    /// Replaces the whole miner by the one saved by `__getstate__`.
    fn __setstate__(&self, state: &str) -> Result<()> {
        let restored = Self::restore(state)?;
        *lock(&self.miner) = restored
            .miner
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
        Ok(())
    }
}

fn learn_lines<S: AsRef<str> + Sync>(
    miner: &mut TemplateMiner,
    lines: &[S],
    parallel: bool,
) -> Vec<u64> {
    if parallel {
        miner
            .learn_all_parallel(lines)
            .into_iter()
            .map(|o| o.id)
            .collect()
    } else {
        lines.iter().map(|l| miner.learn(l.as_ref()).id).collect()
    }
}

/// A template in the loghub notation: every `<:NAME:>` becomes `<*>`.
#[pyfunction]
pub(crate) fn loghub_template(template: &str) -> String {
    to_loghub(template)
}

/// The streaming log anomaly detector; see `aiops.logs.LogDetector` in the stubs.
#[pyclass(frozen, name = "LogDetector", module = "aiops._aiops")]
#[derive(Debug)]
pub(crate) struct PyLogDetector {
    state: Mutex<LogDetectorState>,
}

fn lock_state(m: &Mutex<LogDetectorState>) -> MutexGuard<'_, LogDetectorState> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[pymethods]
impl PyLogDetector {
    /// Checks the parameters and makes a fresh detector.
    #[new]
    #[pyo3(signature = (
        log_format=None,
        masks=Vec::new(),
        window="60s",
        sim_threshold=0.5,
        depth=4,
        fallback_lines=100,
        warmup_lines=500,
        rare_ratio=0.005,
        rare_min_lines=1000,
        count_history=60,
        count_min_windows=10,
        count_threshold=4.0,
        level_keywords=true,
        line_rule="keyword",
        pca=true,
        pca_alpha=0.001,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        log_format: Option<String>,
        masks: Vec<String>,
        window: &str,
        sim_threshold: f64,
        depth: usize,
        fallback_lines: usize,
        warmup_lines: u64,
        rare_ratio: f64,
        rare_min_lines: u64,
        count_history: usize,
        count_min_windows: usize,
        count_threshold: f64,
        level_keywords: bool,
        line_rule: &str,
        pca: bool,
        pca_alpha: f64,
    ) -> Result<Self> {
        let mut drain = DrainParams::new().sim_threshold(sim_threshold).depth(depth);
        if let Some(f) = &log_format {
            drain = drain.log_format(f);
        }
        for m in &masks {
            drain = drain.mask(MaskSpec::parse(m));
        }
        let params = LogDetectorParams::new()
            .drain(drain)
            .window(WindowSpec::parse(window).map_err(Error::param)?)
            .fallback_lines(fallback_lines)
            .warmup_lines(warmup_lines)
            .rare_ratio(rare_ratio)
            .rare_min_lines(rare_min_lines)
            .count_history(count_history)
            .count_min_windows(count_min_windows)
            .count_threshold(count_threshold)
            .level_keywords(level_keywords)
            .pca(pca.then(|| CountPcaParams::new().alpha(pca_alpha)))
            // The library reads the rule's name, as `aiops logs detect -p line_rule=...` does.
            .assign("line_rule", line_rule)
            .map_err(Error::param)?;
        let det = params.check().map_err(Error::param)?;
        Ok(Self {
            state: Mutex::new(det.state()),
        })
    }

    /// Takes one line; returns the window it closed (`{"window": ..., "lines": [...]}`) or
    /// None.
    fn update<'py>(&self, py: Python<'py>, line: &str) -> Result<Option<Bound<'py, PyAny>>> {
        let closed = lock_state(&self.state).update(line);
        closed.map(|c| to_py(py, &c)).transpose()
    }

    /// Takes one line as bytes (invalid UTF-8 replaced and counted).
    fn update_bytes<'py>(&self, py: Python<'py>, line: &[u8]) -> Result<Option<Bound<'py, PyAny>>> {
        let closed = lock_state(&self.state).update_bytes(line);
        closed.map(|c| to_py(py, &c)).transpose()
    }

    /// Closes the current window (end of input): the closed window, or None.
    fn finish<'py>(&self, py: Python<'py>) -> Result<Option<Bound<'py, PyAny>>> {
        let closed = lock_state(&self.state).finish();
        closed.map(|c| to_py(py, &c)).transpose()
    }

    /// Runs a whole list of lines from a fresh state (the streaming state is untouched), GIL
    /// released: `{"window", "windows", "lines", "stats"}`.
    fn detect<'py>(&self, py: Python<'py>, lines: Vec<String>) -> Result<Bound<'py, PyAny>> {
        let det = lock_state(&self.state).detector().clone();
        let report = py.detach(|| det.detect(&lines));
        to_py(py, &report)
    }

    /// Reads a log file (invalid UTF-8 replaced and counted) and runs it like `detect`.
    fn detect_file<'py>(
        &self,
        py: Python<'py>,
        path: std::path::PathBuf,
    ) -> Result<Bound<'py, PyAny>> {
        let det = lock_state(&self.state).detector().clone();
        let report = py.detach(|| -> Result<_> {
            let bytes = std::fs::read(&path)
                .map_err(|e| Error::Core(aiops_core::CoreError::Io(e)).at(&path))?;
            Ok(det.detect_bytes(&bytes))
        })?;
        to_py(py, &report)
    }

    /// One boolean per line (numpy): whether `detect` reports it.
    fn line_flags<'py>(&self, py: Python<'py>, lines: Vec<String>) -> Bound<'py, PyArray1<bool>> {
        let det = lock_state(&self.state).detector().clone();
        let flags = py.detach(|| {
            let report = det.detect(&lines);
            let mut flags = vec![false; lines.len()];
            for l in &report.lines {
                flags[(l.line - 1) as usize] = true;
            }
            flags
        });
        flags.into_pyarray(py)
    }

    /// Counts of the streaming run so far.
    fn stats<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyAny>> {
        let s = lock_state(&self.state).stats();
        to_py(py, &s)
    }

    /// How lines are grouped: `"60s"`-style time windows or `"100lines"`.
    #[getter]
    fn window(&self) -> String {
        lock_state(&self.state).detector().mode().to_string()
    }

    /// The whole streaming state (parameters included) as JSON.
    fn snapshot(&self) -> Result<String> {
        lock_state(&self.state).snapshot().map_err(Error::from)
    }

    /// A detector restored from `snapshot()`; it continues exactly where the saved one stopped.
    #[staticmethod]
    fn restore(snapshot: &str) -> Result<Self> {
        let state = LogDetectorState::restore(snapshot)
            .map_err(|e| Error::Parse(format!("snapshot: {e}")))?;
        Ok(Self {
            state: Mutex::new(state),
        })
    }

    fn __repr__(&self) -> String {
        let s = lock_state(&self.state);
        format!(
            "LogDetector(window={:?}, lines={})",
            s.detector().mode().to_string(),
            s.stats().lines
        )
    }

    /// The state, as JSON (pickle support).
    fn __getstate__(&self) -> Result<String> {
        self.snapshot()
    }

    /// Replaces the whole state by the one saved by `__getstate__`.
    fn __setstate__(&self, state: &str) -> Result<()> {
        let restored = Self::restore(state)?;
        *lock_state(&self.state) = restored
            .state
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
        Ok(())
    }
}
