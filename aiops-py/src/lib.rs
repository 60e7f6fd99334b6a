//! Python bindings of aiops: the native module `aiops._aiops`, built with maturin.
//!
//! The binding only converts and delegates: every type wraps a value of `aiops-core` or
//! `aiops-detect`. Arrays cross without copies where the memory allows it (series columns are
//! read-only views of the Rust vectors, detection results are moved into NumPy), heavy calls
//! release the GIL, and the crates' errors become a small exception hierarchy ([`errors`]).
//! The Python package around it, its stubs and tests live in `python/` and `tests/`.

mod alerts;
mod arrays;
mod causal;
mod detect;
mod errors;
mod eval;
mod forecast;
mod io;
mod logs;
mod rca;
mod runbook;
mod series;
mod time;
mod topology;

use pyo3::prelude::*;

/// A serde value as Python objects (dicts, lists, str, int, float, bool, None), converted
/// directly from the Rust value: the shape of the value's JSON form, without JSON text.
pub(crate) fn to_py<'py, T: serde::Serialize + ?Sized>(
    py: Python<'py>,
    value: &T,
) -> errors::Result<Bound<'py, PyAny>> {
    pythonize::pythonize(py, value).map_err(|e| errors::Error::Other(e.to_string()))
}

/// A JSON value written as a Python literal, for reprs: `'text'`, `True`, `None`, `[1, 2]`.
pub(crate) fn py_literal(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_str(s),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(py_literal).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", py_str(k), py_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A string as a Python literal (`'text'`, quotes and backslashes escaped).
pub(crate) fn py_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Native part of the `aiops` package: `TimeSeries`, the readers, the detectors and the
/// exception hierarchy. Import it through `aiops`, which re-exports every public name.
#[pymodule]
fn _aiops(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_function(wrap_pyfunction!(errors::_error_variants, m)?)?;
    m.add_class::<series::PyTimeSeries>()?;
    m.add_class::<detect::PyDetections>()?;
    m.add_class::<detect::PyDetector>()?;
    m.add_class::<detect::PyMultivariateDetector>()?;
    m.add_function(wrap_pyfunction!(detect::multivariate_detector_names, m)?)?;
    m.add_function(wrap_pyfunction!(eval::nab_evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(io::read_csv, m)?)?;
    m.add_function(wrap_pyfunction!(io::read_csv_text, m)?)?;
    m.add_function(wrap_pyfunction!(io::read_wide_csv, m)?)?;
    m.add_function(wrap_pyfunction!(io::read_jsonl, m)?)?;
    m.add_function(wrap_pyfunction!(io::read_prometheus_matrix, m)?)?;
    m.add_function(wrap_pyfunction!(detect::detector_names, m)?)?;
    m.add_function(wrap_pyfunction!(detect::build_detector, m)?)?;
    m.add_class::<forecast::PyPrediction>()?;
    m.add_class::<forecast::PyFittedModel>()?;
    m.add_function(wrap_pyfunction!(forecast::fit_model, m)?)?;
    m.add_function(wrap_pyfunction!(forecast::model_names, m)?)?;
    m.add_function(wrap_pyfunction!(forecast::forecast_many, m)?)?;
    m.add_function(wrap_pyfunction!(forecast::capacity_plan, m)?)?;
    m.add_function(wrap_pyfunction!(forecast::m4_evaluate, m)?)?;
    m.add_class::<logs::PyTemplateMiner>()?;
    m.add_class::<logs::PyLogDetector>()?;
    m.add_class::<logs::PyClosedWindow>()?;
    m.add_class::<logs::PyLogWindow>()?;
    m.add_class::<logs::PyLogLine>()?;
    m.add_class::<logs::PyLogReason>()?;
    m.add_class::<logs::PyLogStats>()?;
    m.add_class::<logs::PyLogReport>()?;
    m.add_class::<alerts::PyAlertEngine>()?;
    m.add_class::<alerts::PyAlert>()?;
    m.add_class::<alerts::PyIncident>()?;
    m.add_class::<alerts::PyNotification>()?;
    m.add_class::<alerts::PyIngestOutcome>()?;
    m.add_class::<alerts::PyAlertStats>()?;
    m.add_class::<runbook::PyKnowledgeBase>()?;
    m.add_class::<topology::PyTopology>()?;
    m.add_function(wrap_pyfunction!(logs::loghub_template, m)?)?;
    m.add_function(wrap_pyfunction!(rca::rca_rank, m)?)?;
    m.add_class::<rca::PyRcaReport>()?;
    m.add_class::<rca::PyRootCause>()?;
    m.add_class::<runbook::PyRunbook>()?;
    m.add_class::<runbook::PyRecommendation>()?;
    m.add_class::<runbook::PySearchHit>()?;
    m.add_function(wrap_pyfunction!(rca::rca_method_names, m)?)?;
    // Causal discovery (aiops.rca).
    m.add_class::<causal::PyCausalGraph>()?;
    m.add_class::<causal::PyGrangerResult>()?;
    m.add_function(wrap_pyfunction!(causal::causal_pc, m)?)?;
    m.add_function(wrap_pyfunction!(causal::causal_granger, m)?)?;
    Ok(())
}
