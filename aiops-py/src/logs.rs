//! Log template mining and anomaly detection: `TemplateMiner` and `LogDetector`, thin wrappers
//! of `aiops_logs::TemplateMiner` and `LogDetectorState`. Reports come out as typed objects
//! (`ClosedWindow`, `LogWindow`, `LogLine`, `LogReason`, `LogStats`, `LogReport`) whose
//! `to_dict()` gives the library's JSON shape, converted directly.

use std::sync::{Mutex, MutexGuard};

use aiops_logs::log_detector::{
    ClosedWindow, LineReport, LogReport, LogStats, Reason, WindowReport,
};
use aiops_logs::window_pca::CountPcaParams;
use aiops_logs::{
    Change, DrainParams, LogDetectorParams, LogDetectorState, MaskSpec, TemplateMiner, WindowSpec,
    split_lines, to_loghub,
};
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;

use crate::errors::{Error, Result};

/// A streaming Drain template miner; see `aiops.logs.TemplateMiner` in the stubs.
#[pyclass(frozen, name = "TemplateMiner", module = "aiops._aiops")]
#[derive(Debug)]
pub(crate) struct PyTemplateMiner {
    miner: Mutex<TemplateMiner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Puts the value of `restored` behind `slot` (`__setstate__`).
fn replace<T>(slot: &Mutex<T>, restored: Mutex<T>) {
    *lock(slot) = restored.into_inner().unwrap_or_else(|p| p.into_inner());
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
            let bytes = std::fs::read(&path).map_err(|e| Error::io(e, &path))?;
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
            .map_err(|e| Error::Snapshot(format!("snapshot JSON: {e}")))?;
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
        replace(&self.miner, Self::restore(state)?.miner);
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

    /// Takes one line; returns the window it closed, or None.
    fn update(&self, line: &str) -> Option<PyClosedWindow> {
        lock(&self.state)
            .update(line)
            .map(|inner| PyClosedWindow { inner })
    }

    /// Takes one line as bytes (invalid UTF-8 replaced and counted).
    fn update_bytes(&self, line: &[u8]) -> Option<PyClosedWindow> {
        lock(&self.state)
            .update_bytes(line)
            .map(|inner| PyClosedWindow { inner })
    }

    /// Closes the current window (end of input): the closed window, or None.
    fn finish(&self) -> Option<PyClosedWindow> {
        lock(&self.state)
            .finish()
            .map(|inner| PyClosedWindow { inner })
    }

    /// Runs a whole list of lines from a fresh state (the streaming state is untouched), GIL
    /// released.
    fn detect(&self, py: Python<'_>, lines: Vec<String>) -> PyLogReport {
        let det = lock(&self.state).detector().clone();
        PyLogReport {
            inner: py.detach(|| det.detect(&lines)),
        }
    }

    /// Reads a log file (invalid UTF-8 replaced and counted) and runs it like `detect`.
    fn detect_file(&self, py: Python<'_>, path: std::path::PathBuf) -> Result<PyLogReport> {
        let det = lock(&self.state).detector().clone();
        let report = py.detach(|| -> Result<_> {
            let bytes = std::fs::read(&path).map_err(|e| Error::io(e, &path))?;
            Ok(det.detect_bytes(&bytes))
        })?;
        Ok(PyLogReport { inner: report })
    }

    /// One boolean per line (numpy): whether `detect` reports it.
    fn line_flags<'py>(&self, py: Python<'py>, lines: Vec<String>) -> Bound<'py, PyArray1<bool>> {
        let det = lock(&self.state).detector().clone();
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
    fn stats(&self) -> PyLogStats {
        PyLogStats {
            inner: lock(&self.state).stats(),
        }
    }

    /// How lines are grouped: `"60s"`-style time windows or `"100lines"`.
    #[getter]
    fn window(&self) -> String {
        lock(&self.state).detector().mode().to_string()
    }

    /// The whole streaming state (parameters included) as JSON.
    fn snapshot(&self) -> Result<String> {
        lock(&self.state).snapshot().map_err(Error::from)
    }

    /// A detector restored from `snapshot()`; it continues exactly where the saved one stopped.
    #[staticmethod]
    fn restore(snapshot: &str) -> Result<Self> {
        let state = LogDetectorState::restore(snapshot)
            .map_err(|e| Error::Snapshot(format!("snapshot: {e}")))?;
        Ok(Self {
            state: Mutex::new(state),
        })
    }

    fn __repr__(&self) -> String {
        let s = lock(&self.state);
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
        replace(&self.state, Self::restore(state)?.state);
        Ok(())
    }
}

fn reasons(py: Python<'_>, r: &[Reason]) -> PyResult<Vec<Py<PyLogReason>>> {
    r.iter()
        .map(|x| Py::new(py, PyLogReason { inner: x.clone() }))
        .collect()
}

fn line_reports(py: Python<'_>, l: &[LineReport]) -> PyResult<Vec<Py<PyLogLine>>> {
    l.iter()
        .map(|x| Py::new(py, PyLogLine { inner: x.clone() }))
        .collect()
}

fn window_reports(py: Python<'_>, w: &[WindowReport]) -> PyResult<Vec<Py<PyLogWindow>>> {
    w.iter()
        .map(|x| Py::new(py, PyLogWindow { inner: x.clone() }))
        .collect()
}

record!(PyLogReason, Reason, "LogReason", reason_repr, "Why a line or a window is anomalous.", {
    /// The signal: "new_template", "rare_template", "template_burst", "template_vanish",
    /// "keyword_rate", "spe" or "keyword".
    signal: &'static str = |r, py| r.signal.as_str();
    /// Its strength, in the signal's own scale.
    score: f64 = |r, py| r.score;
    /// The template concerned, when there is one.
    template: Option<u64> = |r, py| r.template;
    /// A sentence for people.
    message: String = |r, py| r.message.clone();
});

record!(PyLogLine, LineReport, "LogLine", line_repr, "An anomalous line.", {
    /// Line number in the input, from 1.
    line: u64 = |l, py| l.line;
    /// Index of its window, from 0.
    window: u64 = |l, py| l.window;
    /// Its template id.
    template_id: u64 = |l, py| l.template_id;
    /// Its template when its window closed (`<*>` and `<:NAME:>` are variables).
    template: String = |l, py| l.template.clone();
    /// The error keywords it holds.
    keywords: Vec<String> = |l, py| l.keywords.clone();
    /// Why it is anomalous.
    reasons: Vec<Py<PyLogReason>> = |l, py| reasons(py, &l.reasons)?;
});

record!(PyLogWindow, WindowReport, "LogWindow", window_repr, "A closed window of log lines.", {
    /// Index from 0, in closing order.
    index: u64 = |w, py| w.index;
    /// Start of a time window, int ms since the epoch (None for line windows).
    start_ms: Option<i64> = |w, py| w.start_ms;
    /// End (exclusive) of a time window, int ms since the epoch.
    end_ms: Option<i64> = |w, py| w.end_ms;
    /// First line number in it.
    first_line: u64 = |w, py| w.first_line;
    /// Last line number in it.
    last_line: u64 = |w, py| w.last_line;
    /// Lines in it.
    lines: u64 = |w, py| w.lines;
    /// Lines in it with an error keyword.
    keyword_lines: u64 = |w, py| w.keyword_lines;
    /// Whether a window signal fired.
    anomalous: bool = |w, py| w.anomalous;
    /// Window signals, strongest first.
    reasons: Vec<Py<PyLogReason>> = |w, py| reasons(py, &w.reasons)?;
    /// Anomalous lines in it.
    anomalous_lines: u64 = |w, py| w.anomalous_lines;
});

record!(PyLogStats, LogStats, "LogStats", stats_repr, "Counts of a run, and of the input problems met.", {
    /// Lines read.
    lines: u64 = |s, py| s.lines;
    /// Windows closed.
    windows: u64 = |s, py| s.windows;
    /// Windows with a window signal.
    anomalous_windows: u64 = |s, py| s.anomalous_windows;
    /// Anomalous lines.
    anomalous_lines: u64 = |s, py| s.anomalous_lines;
    /// Templates mined.
    templates: u64 = |s, py| s.templates;
    /// Lines whose header did not match the log format (mined whole).
    header_unmatched: u64 = |s, py| s.header_unmatched;
    /// Lines without a readable time in time windows.
    untimed: u64 = |s, py| s.untimed;
    /// Lines older than their window's start.
    late: u64 = |s, py| s.late;
    /// Lines with invalid UTF-8 (replaced by U+FFFD).
    invalid_utf8: u64 = |s, py| s.invalid_utf8;
});

record!(PyClosedWindow, ClosedWindow, "ClosedWindow", closed_repr, "What closing a window produced: the window and its anomalous lines.", {
    /// The window.
    window: PyLogWindow = |c, py| PyLogWindow { inner: c.window.clone() };
    /// Its anomalous lines, in line order.
    lines: Vec<Py<PyLogLine>> = |c, py| line_reports(py, &c.lines)?;
});

record!(PyLogReport, LogReport, "LogReport", report_repr, "The result of a whole run.", {
    /// How windows were made: "60s"-style or "100lines".
    window: String = |r, py| r.window.clone();
    /// Windows that are anomalous or hold an anomalous line, in order.
    windows: Vec<Py<PyLogWindow>> = |r, py| window_reports(py, &r.windows)?;
    /// Anomalous lines, in order.
    lines: Vec<Py<PyLogLine>> = |r, py| line_reports(py, &r.lines)?;
    /// Counts.
    stats: PyLogStats = |r, py| PyLogStats { inner: r.stats.clone() };
});

fn reason_repr(inner: &Reason) -> String {
    let this = inner;
    {
        format!(
            "LogReason(signal={}, score={:?}, message={})",
            crate::py_str(this.signal.as_str()),
            this.score,
            crate::py_str(&this.message)
        )
    }
}

fn line_repr(inner: &LineReport) -> String {
    let this = inner;
    {
        let signals: Vec<String> = this
            .reasons
            .iter()
            .map(|r| crate::py_str(r.signal.as_str()))
            .collect();
        format!(
            "LogLine(line={}, window={}, template_id={}, reasons=[{}])",
            this.line,
            this.window,
            this.template_id,
            signals.join(", ")
        )
    }
}

fn window_repr(inner: &WindowReport) -> String {
    let this = inner;
    {
        let w = &this;
        format!(
            "LogWindow(index={}, start_ms={}, end_ms={}, lines={}, anomalous={}, anomalous_lines={})",
            w.index,
            w.start_ms.map_or("None".into(), |t| t.to_string()),
            w.end_ms.map_or("None".into(), |t| t.to_string()),
            w.lines,
            if w.anomalous { "True" } else { "False" },
            w.anomalous_lines
        )
    }
}

fn stats_repr(inner: &LogStats) -> String {
    let this = inner;
    {
        let s = &this;
        format!(
            "LogStats(lines={}, windows={}, anomalous_windows={}, anomalous_lines={}, templates={})",
            s.lines, s.windows, s.anomalous_windows, s.anomalous_lines, s.templates
        )
    }
}

fn closed_repr(inner: &ClosedWindow) -> String {
    let this = inner;
    {
        format!(
            "ClosedWindow(index={}, anomalous={}, lines={})",
            this.window.index,
            if this.window.anomalous {
                "True"
            } else {
                "False"
            },
            this.lines.len()
        )
    }
}

fn report_repr(inner: &LogReport) -> String {
    let this = inner;
    {
        format!(
            "LogReport(window={}, windows={}, lines={}, stats={})",
            crate::py_str(&this.window),
            this.windows.len(),
            this.lines.len(),
            stats_repr(&this.stats)
        )
    }
}
