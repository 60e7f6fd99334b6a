//! Log template mining: `TemplateMiner`, a thin wrapper of `aiops_detect::logs::TemplateMiner`.

use std::sync::{Mutex, MutexGuard};

use aiops_detect::ParamGuard;
use aiops_detect::logs::eval::split_lines;
use aiops_detect::logs::{Change, DrainParams, MaskSpec, TemplateMiner, to_loghub};
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;

use crate::errors::{Error, Result};

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
