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

/// Scores a detector event by event ([`aiops_eval::events`]) on a folder `data` of labelled
/// `timestamp,value,label` CSVs (telemanom's layout), or, when `data` is `None`, on the seeded
/// synthetic family (`seed`, 60 series). A labelled segment is found when a flagged point falls
/// within `tol` points after it; `test_only` scores only the points after each series'
/// training part (`index.csv`). Returns `{"detector", "series", "segments", "found", "runs",
/// "false_alarms", "precision", "recall", "f1" (means over series), "pooled_f1",
/// "pa_f1" (point-adjusted, pooled), "us_per_point", "seconds"}`; with the synthetic family
/// also `"recall_by_kind"`. The GIL is released while it runs.
#[pyfunction]
#[pyo3(signature = (data = None, detector = "default", tol = 10, test_only = false, seed = 1, **params))]
pub(crate) fn events_evaluate<'py>(
    py: Python<'py>,
    data: Option<PathBuf>,
    detector: &str,
    tol: usize,
    test_only: bool,
    seed: u64,
    params: Option<&Bound<'py, PyDict>>,
) -> Result<Bound<'py, PyDict>> {
    use aiops_eval::{events, synthetic};
    let map = params_map(detector, params)?;
    registry::build(detector, &map).map_err(Error::param)?;
    let report = py.detach(|| -> Result<_> {
        Ok(match &data {
            None => synthetic::evaluate_detector(
                &synthetic::SyntheticParams {
                    seed,
                    ..Default::default()
                },
                detector,
                &map,
                tol,
                &aiops_eval::no_progress,
            )?,
            Some(dir) => {
                let corpus = events::load_dir(dir)?;
                events::evaluate_detector(
                    &corpus,
                    &dir.display().to_string(),
                    detector,
                    &map,
                    tol,
                    test_only,
                    &aiops_eval::no_progress,
                )?
            }
        })
    })?;
    let out = PyDict::new(py);
    out.set_item("detector", &report.detector)?;
    out.set_item("series", report.series)?;
    out.set_item("segments", report.segments)?;
    out.set_item("found", report.found)?;
    out.set_item("runs", report.runs)?;
    out.set_item("false_alarms", report.false_alarms)?;
    out.set_item("precision", report.mean.precision)?;
    out.set_item("recall", report.mean.recall)?;
    out.set_item("f1", report.mean.f1)?;
    out.set_item("pooled_f1", report.pooled.f1)?;
    out.set_item("pa_f1", report.pa_pooled.f1)?;
    out.set_item("us_per_point", report.us_per_point)?;
    out.set_item("seconds", report.seconds)?;
    if !report.by_kind.is_empty() {
        let kinds = PyDict::new(py);
        for (k, v) in &report.by_kind {
            kinds.set_item(k, v.recall)?;
        }
        out.set_item("recall_by_kind", kinds)?;
    }
    Ok(out)
}
