//! Evaluation on public benchmarks, wired to the library's scorers.

use std::path::PathBuf;

use aiops_detect::registry;
use aiops_eval::nab::{self, CostProfile};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::detect::params_map;
use crate::errors::{Error, Result};

/// Runs a detector over the Numenta Anomaly Benchmark folder `data` (holding `data/` and
/// `labels/combined_windows.json`) and returns NAB's normalised scores:
/// `{"detector": ..., "standard": x, "reward_low_FP_rate": y, "reward_low_FN_rate": z,
/// "seconds": t}`. As NAB does, detectors that take a known range get each series' minimum and
/// maximum unless `learn_range` is true. The GIL is released while it runs.
#[pyfunction]
#[pyo3(signature = (data, detector = "default", learn_range = false, **params))]
pub(crate) fn nab_evaluate<'py>(
    py: Python<'py>,
    data: PathBuf,
    detector: &str,
    learn_range: bool,
    params: Option<&Bound<'py, PyDict>>,
) -> Result<Bound<'py, PyDict>> {
    let map = params_map(detector, params)?;
    let det = registry::build(detector, &map).map_err(Error::param)?;
    let start = std::time::Instant::now();
    let results = py.detach(|| -> Result<_> {
        let corpus = nab::load_corpus(&data)?;
        let scores = nab::run_detector(&corpus, detector, &map, !learn_range)?;
        Ok(nab::score_corpus(
            &corpus,
            &scores,
            &CostProfile::nab_profiles(),
        )?)
    })?;
    let out = PyDict::new(py);
    out.set_item("detector", det.name())?;
    for r in &results {
        out.set_item(&r.profile, r.normalized)?;
    }
    out.set_item("seconds", start.elapsed().as_secs_f64())?;
    Ok(out)
}
