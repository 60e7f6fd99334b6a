//! Python bindings of aiops: the native module `aiops._aiops`, built with maturin.
//!
//! The binding only converts and delegates: every type wraps a value of `aiops-core` or
//! `aiops-detect`. Arrays cross without copies where the memory allows it (series columns are
//! read-only views of the Rust vectors, detection results are moved into NumPy), heavy calls
//! release the GIL, and the crates' errors become a small exception hierarchy ([`errors`]).
//! The Python package around it, its stubs and tests live in `python/` and `tests/`.

/// Defines a frozen wrapper class (`inner` holds the Rust value) with read-only properties, a
/// `to_dict()` giving the value's JSON shape (converted directly, documented by the optional
/// literal after the class doc), `__repr__` by `$repr(&inner)`, and equality; a block after
/// the fields adds methods of the class's own.
macro_rules! record {
    ($class:ident, $inner:ty, $name:literal, $repr:path, $doc:literal, { $($fields:tt)* } $($methods:tt)*) => {
        record!(
            $class, $inner, $name, $repr, $doc,
            "The same fields as a dict (the JSON shape of the Rust crate).",
            { $($fields)* } $($methods)*
        );
    };
    ($class:ident, $inner:ty, $name:literal, $repr:path, $doc:literal, $to_dict_doc:literal, { $($(#[$m:meta])* $field:ident: $ty:ty = |$s:ident, $py:ident| $body:expr;)* } $({ $($methods:tt)* })?) => {
        #[doc = $doc]
        #[pyclass(frozen, eq, name = $name, module = "aiops._aiops")]
        #[derive(Debug, Clone, PartialEq)]
        pub(crate) struct $class {
            pub(crate) inner: $inner,
        }

        #[pymethods]
        impl $class {
            $($($methods)*)?

            $(
                $(#[$m])*
                #[getter]
                #[allow(unused_variables)]
                fn $field(&self, $py: Python<'_>) -> PyResult<$ty> {
                    let $s = &self.inner;
                    Ok($body)
                }
            )*

            #[doc = $to_dict_doc]
            fn to_dict<'py>(&self, py: Python<'py>) -> $crate::errors::Result<Bound<'py, PyAny>> {
                $crate::to_py(py, &self.inner)
            }

            fn __repr__(&self) -> String {
                $repr(&self.inner)
            }
        }
    };
}

mod alerts;
mod arrays;
mod causal;
mod detect;
mod errors;
mod eval;
mod forecast;
mod integrations;
mod io;
mod logs;
mod rca;
mod runbook;
mod series;
mod time;
mod topology;
mod workflow;

use pyo3::prelude::*;

/// A serde value as Python objects (dicts, lists, str, int, float, bool, None), converted
/// directly from the Rust value: the shape of the value's JSON form, without JSON text.
pub(crate) fn to_py<'py, T: serde::Serialize + ?Sized>(
    py: Python<'py>,
    value: &T,
) -> errors::Result<Bound<'py, PyAny>> {
    pythonize::pythonize(py, value).map_err(|e| errors::Error::Other(e.to_string()))
}

/// Runs a future to completion on a runtime of its own with the GIL released, its error
/// mapped by `err` (clients of external systems, workflow runs).
pub(crate) fn block_on<T: Send, E>(
    py: Python<'_>,
    fut: impl std::future::Future<Output = std::result::Result<T, E>> + Send,
    err: impl FnOnce(E) -> errors::Error + Send,
) -> errors::Result<T> {
    py.detach(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| errors::Error::Other(format!("runtime: {e}")))?;
        rt.block_on(fut).map_err(err)
    })
}

/// The snake_case name serde gives a unit variant (`"firing"`, `"would_run"`...).
pub(crate) fn variant_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
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

/// Adds classes and functions to the module `m`, in the order given:
/// `register!(m; class path::Type, function path::function, ...)`.
macro_rules! register {
    ($m:ident; $($kind:ident $item:path),* $(,)?) => {
        $(register!(@$kind $m, $item);)*
    };
    (@class $m:ident, $item:path) => {
        $m.add_class::<$item>()?;
    };
    (@function $m:ident, $item:path) => {
        $m.add_function(wrap_pyfunction!($item, $m)?)?;
    };
}

/// Native part of the `aiops` package: `TimeSeries`, the readers, the detectors and the
/// exception hierarchy. Import it through `aiops`, which re-exports every public name.
#[pymodule]
fn _aiops(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    register!(
        m;
        function errors::_error_variants,
        class series::PyTimeSeries,
        class detect::PyDetections,
        class detect::PyDetector,
        class detect::PyMultivariateDetector,
        function detect::multivariate_detector_names,
        function eval::nab_evaluate,
        function eval::events_evaluate,
        function io::read_csv,
        function io::read_csv_text,
        function io::read_wide_csv,
        function io::read_jsonl,
        function io::read_prometheus_matrix,
        function detect::detector_names,
        function detect::build_detector,
        class forecast::PyPrediction,
        class forecast::PyFittedModel,
        function forecast::fit_model,
        function forecast::model_names,
        function forecast::forecast_many,
        function forecast::capacity_plan,
        function forecast::forecast,
        function forecast::m4_evaluate,
        class logs::PyTemplateMiner,
        class logs::PyLogDetector,
        class logs::PyClosedWindow,
        class logs::PyLogWindow,
        class logs::PyLogLine,
        class logs::PyLogReason,
        class logs::PyLogStats,
        class logs::PyLogReport,
        class alerts::PyAlertEngine,
        class alerts::PyAlert,
        class alerts::PyIncident,
        class alerts::PyNotification,
        class alerts::PyIngestOutcome,
        class alerts::PyAlertStats,
        class runbook::PyKnowledgeBase,
        class topology::PyTopology,
        function logs::loghub_template,
        function rca::rca_rank,
        class rca::PyRcaReport,
        class rca::PyRootCause,
        class runbook::PyRunbook,
        class runbook::PyRecommendation,
        class runbook::PySearchHit,
        function rca::rca_method_names,
        // Causal discovery (aiops.rca).
        class causal::PyCausalGraph,
        class causal::PyGrangerResult,
        function causal::causal_pc,
        function causal::causal_granger,
        // Workflows (aiops.workflow).
        class workflow::PyWorkflows,
        class workflow::PyRunRecord,
        class workflow::PyStepRecord,
        class workflow::PyDiagnostic,
        function workflow::workflow_lint,
        // Clients of external systems (aiops.integrations).
        class integrations::PyPrometheus,
        class integrations::PyQueryResult,
        class integrations::PySample,
        class integrations::PyAlertmanager,
        class integrations::PyAlertmanagerAlert,
    );
    Ok(())
}
