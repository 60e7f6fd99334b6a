//! Detectors: `Detector` (every detector of the registry, by name), `MultivariateDetector`,
//! their `Detections`, and the registry's names.
//!
//! Each detector object holds the checked Rust detector (for batch `detect`, GIL released) and
//! one streaming state behind a mutex (for `update`), so the same object serves both uses.

use std::sync::{Mutex, MutexGuard};

use aiops_detect::multivariate::{
    MULTIVARIATE_DETECTORS, MultivariateDetector, MultivariateOnline, build_multivariate,
};
use aiops_detect::registry::{self, DETECTORS};
use aiops_detect::{Detections, Detector, OnlineDetector};
use numpy::{AllowTypeChange, IntoPyArray, PyArray1, PyArrayLike1, PyReadonlyArray2};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays::column;
use crate::errors::{Error, Result};
use crate::series::PyTimeSeries;
use crate::time::{is_float_array, ms_array, ms_scalar};

/// Per-point results of a batch detection, as NumPy arrays of the series' length.
///
/// NaN in `expected`, `lower` or `upper` means the detector has no value at that point (for
/// instance while it warms up).
#[pyclass(frozen, name = "Detections", module = "aiops._aiops")]
#[derive(Debug)]
pub(crate) struct PyDetections {
    /// Score per point (float64); the scale is the detector's own (σ for the z-score).
    #[pyo3(get)]
    scores: Py<PyArray1<f64>>,
    /// Whether the detector flags the point (bool).
    #[pyo3(get)]
    is_anomaly: Py<PyArray1<bool>>,
    /// Expected value per point (float64, NaN: none).
    #[pyo3(get)]
    expected: Py<PyArray1<f64>>,
    /// Lower edge of the normal range per point (float64, NaN: none).
    #[pyo3(get)]
    lower: Py<PyArray1<f64>>,
    /// Upper edge of the normal range per point (float64, NaN: none).
    #[pyo3(get)]
    upper: Py<PyArray1<f64>>,
    len: usize,
    flagged: usize,
}

impl PyDetections {
    /// Moves the Rust columns into NumPy arrays (no copy).
    fn new(py: Python<'_>, d: Detections) -> Self {
        let len = d.len();
        let flagged = d.is_anomaly.iter().filter(|&&a| a).count();
        Self {
            scores: d.scores.into_pyarray(py).unbind(),
            is_anomaly: d.is_anomaly.into_pyarray(py).unbind(),
            expected: d.expected.into_pyarray(py).unbind(),
            lower: d.lower.into_pyarray(py).unbind(),
            upper: d.upper.into_pyarray(py).unbind(),
            len,
            flagged,
        }
    }
}

#[pymethods]
impl PyDetections {
    fn __len__(&self) -> usize {
        self.len
    }

    fn __repr__(&self) -> String {
        format!("Detections(len={}, anomalies={})", self.len, self.flagged)
    }
}

/// The arguments of `detect(timestamps, values)`, checked: a TimeSeries alone, both arrays, or
/// values alone (`timestamps=None`: 0, 1, 2...). A float array first is the old
/// `detect(values, timestamps)` order, refused with a TypeError naming the new one.
pub(crate) enum Input<'a> {
    /// A whole series.
    Series(&'a PyTimeSeries),
    /// Timestamps (ms) and values.
    Arrays(Vec<i64>, Vec<f64>),
}

/// The message for a call in the order of aiops 0.1.
const OLD_ORDER: &str = "detect(timestamps, values): the timestamps come first since aiops 0.2 \
    (int ms since the epoch or datetime64) and the values second; a float array was given as \
    the timestamps, which is the old detect(values, timestamps) order. To score values \
    without timestamps, call detect(values=...)";

pub(crate) fn input<'a>(
    timestamps: Option<&'a Bound<'_, PyAny>>,
    values: Option<&Bound<'_, PyAny>>,
) -> Result<Input<'a>> {
    if let Some(t) = timestamps
        && let Ok(series) = t.cast::<PyTimeSeries>()
    {
        if values.is_some() {
            return Err(PyTypeError::new_err(
                "values must be omitted when the first argument is a TimeSeries",
            )
            .into());
        }
        return Ok(Input::Series(series.get()));
    }
    let Some(values) = values else {
        if timestamps.is_some_and(is_float_array) {
            return Err(PyTypeError::new_err(OLD_ORDER).into());
        }
        return Err(PyTypeError::new_err(
            "detect(timestamps, values) needs the values (or a TimeSeries alone)",
        )
        .into());
    };
    let values: PyArrayLike1<'_, f64, AllowTypeChange> = values.extract()?;
    let vs = column(&values).into_owned();
    let ts = match timestamps {
        Some(t) if !t.is_none() => {
            if is_float_array(t) {
                return Err(PyTypeError::new_err(OLD_ORDER).into());
            }
            ms_array(t, "timestamps")?
        }
        _ => (0..vs.len() as i64).collect(),
    };
    Ok(Input::Arrays(ts, vs))
}

/// Batch detection, GIL released.
fn detect_any<D: Detector + ?Sized>(
    py: Python<'_>,
    det: &D,
    input: Input<'_>,
) -> Result<PyDetections> {
    let d = match input {
        Input::Series(s) => py.detach(|| det.detect_series(&s.inner))?,
        Input::Arrays(ts, vs) => py.detach(|| det.detect(&ts, &vs))?,
    };
    Ok(PyDetections::new(py, d))
}

/// Locks a streaming state. A panic inside `update` (a detector bug, raised in Python as
/// PanicException) poisons the lock; the object stays usable and `reset()` clears the state.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Names of the available detectors, in the registry's order.
#[pyfunction]
pub(crate) fn detector_names() -> Vec<&'static str> {
    DETECTORS.iter().map(|d| d.name).collect()
}

/// Builds a detector by registry name from keyword parameters, as the CLI and config files
/// do: `build_detector("zscore", window=30)` is `Detector("zscore", window=30)`.
///
/// Raises InvalidParameterError for an unknown name, an unknown parameter, or a bad value.
#[pyfunction]
#[pyo3(signature = (name, **params))]
pub(crate) fn build_detector(name: &str, params: Option<&Bound<'_, PyDict>>) -> Result<PyDetector> {
    PyDetector::new(name, params)
}

/// Parameters given as Python keywords, as the registry's map.
pub(crate) fn params_map(
    name: &str,
    params: Option<&Bound<'_, PyDict>>,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let Some(params) = params else {
        return Ok(serde_json::Map::new());
    };
    for (k, v) in params.iter() {
        if let Ok(x) = v.extract::<f64>()
            && !x.is_finite()
        {
            return Err(Error::Param(format!(
                "invalid parameter {k}: must be finite, got {x}"
            )));
        }
    }
    pythonize::depythonize(params.as_any())
        .map_err(|e| Error::Param(format!("parameters of {name}: {e}")))
}

/// A parameter map as a Python dict.
fn params_dict<'py>(
    py: Python<'py>,
    params: &serde_json::Map<String, serde_json::Value>,
) -> Result<Bound<'py, PyAny>> {
    crate::to_py(py, params)
}

/// `{"a": 1}` as `a=1`, for reprs.
fn params_repr(params: &serde_json::Map<String, serde_json::Value>) -> String {
    params
        .iter()
        .map(|(k, v)| format!(", {k}={}", crate::py_literal(v)))
        .collect()
}

/// A detector class (`PyDetector`, `PyMultivariateDetector`): the Rust detector, its streaming
/// state behind a mutex and the parameters given; its `#[pymethods]` are the class's own
/// methods, then those the two share (construction from a name and keyword parameters,
/// `name`, `params`, `reset`, pickling, `__repr__`).
macro_rules! detector_class {
    (
        $(#[$class_doc:meta])*
        $ty:ident, $class:tt, $det:ident, $online:ident, $build:path,
        signature = $sig:tt,
        $(#[$new_doc:meta])*
        reset = $reset_doc:literal,
        $($methods:tt)*
    ) => {
        $(#[$class_doc])*
        #[pyclass(frozen, name = $class, module = "aiops._aiops")]
        #[derive(Debug)]
        pub(crate) struct $ty {
            det: Box<dyn $det>,
            state: Mutex<Box<dyn $online>>,
            params: serde_json::Map<String, serde_json::Value>,
        }

        #[pymethods]
        impl $ty {
            $(#[$new_doc])*
            #[new]
            #[pyo3(signature = $sig)]
            fn new(name: &str, params: Option<&Bound<'_, PyDict>>) -> Result<Self> {
                let map = params_map(name, params)?;
                let det = $build(name, &map).map_err(Error::param)?;
                let state = Mutex::new(det.online());
                Ok(Self {
                    det,
                    state,
                    params: map,
                })
            }

            /// The registry name.
            #[getter]
            fn name(&self) -> &'static str {
                self.det.name()
            }

            /// The parameters given at construction (defaults are not listed), as a new dict.
            #[getter]
            fn params<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyAny>> {
                params_dict(py, &self.params)
            }

            $($methods)*

            #[doc = $reset_doc]
            fn reset(&self) {
                lock(&self.state).reset();
            }

            /// The streaming state (pickle support).
            fn __getstate__(&self) -> Result<String> {
                Ok(lock(&self.state).snapshot()?)
            }

            /// Restores the streaming state saved by `__getstate__`.
            fn __setstate__(&self, state: &str) -> Result<()> {
                lock(&self.state)
                    .restore(state)
                    .map_err(|e| Error::Snapshot(e.to_string()))
            }

            fn __getnewargs_ex__<'py>(
                &self,
                py: Python<'py>,
            ) -> Result<((&'static str,), Bound<'py, PyAny>)> {
                Ok(((self.det.name(),), self.params(py)?))
            }

            fn __repr__(&self) -> String {
                format!(
                    concat!($class, "({}{})"),
                    crate::py_str(self.det.name()),
                    params_repr(&self.params)
                )
            }
        }
    };
}

detector_class! {
    /// Any detector of the registry, by name: `Detector("default")`, `Detector("mad", window=50)`.
    ///
    /// `detect` scores a whole series (GIL released); `update` streams one point into the state
    /// the object holds; both give the same scores on the same data. Pickling keeps the name, the
    /// parameters and the streaming state.
    PyDetector, "Detector", Detector, OnlineDetector, registry::build,
    signature = (name = "default", **params),
    /// Builds the detector `name` with keyword parameters; raises InvalidParameterError for
    /// an unknown name or parameter, or a bad value.
    reset = "Forgets the streamed points.",

    /// Scores every point, GIL released: `detect(timestamps, values)`, `detect(series)`, or
    /// `detect(values=...)` (timestamps 0, 1, 2...).
    #[pyo3(signature = (timestamps = None, values = None))]
    fn detect(
        &self,
        py: Python<'_>,
        timestamps: Option<&Bound<'_, PyAny>>,
        values: Option<&Bound<'_, PyAny>>,
    ) -> Result<PyDetections> {
        detect_any(py, self.det.as_ref(), input(timestamps, values)?)
    }

    /// Streams one point; returns `(score, is_anomaly)`.
    fn update(&self, timestamp: &Bound<'_, PyAny>, value: f64) -> Result<(f64, bool)> {
        let t = ms_scalar(timestamp, "timestamp")?;
        let p = lock(&self.state).update(t, value)?;
        Ok((p.score, p.is_anomaly))
    }

    /// The severity name of an anomaly with this score.
    fn severity(&self, score: f64) -> &'static str {
        self.det.severity(score).as_str()
    }
}

detector_class! {
    /// A detector over several metrics of one resource, by name: `MultivariateDetector("pca")`,
    /// `MultivariateDetector("mahalanobis", window=100)`.
    ///
    /// Rows are points in time, columns are metrics. `detect` scores every row of a 2-D float64
    /// array (GIL released); `update` streams one row into the state the object holds; both give
    /// the same scores on the same data.
    PyMultivariateDetector, "MultivariateDetector", MultivariateDetector, MultivariateOnline,
    build_multivariate,
    signature = (name, **params),
    /// Builds the multivariate detector `name` ("mahalanobis", "pca") with keyword parameters;
    /// raises InvalidParameterError for an unknown name or parameter, or a bad value.
    reset = "Forgets the streamed rows.",

    /// Scores every row of `rows` (shape (n, metrics), float64) at `timestamps` (int ms or
    /// datetime64; None: 0, 1, 2...).
    #[pyo3(signature = (timestamps, rows))]
    fn detect(
        &self,
        py: Python<'_>,
        timestamps: Option<&Bound<'_, PyAny>>,
        rows: &Bound<'_, PyAny>,
    ) -> Result<PyDetections> {
        if timestamps.is_some_and(|t| {
            t.py()
                .import("numpy")
                .and_then(|np| np.call_method1("ndim", (t,)))
                .and_then(|n| n.extract::<usize>())
                .is_ok_and(|n| n == 2)
        }) {
            return Err(PyTypeError::new_err(
                "detect(timestamps, rows): the timestamps come first since aiops 0.2; a 2-D \
                 array was given as the timestamps (the old detect(rows, timestamps) order)",
            )
            .into());
        }
        let rows: PyReadonlyArray2<'_, f64> = rows.extract()?;
        let view = rows.as_array();
        let ts: Vec<i64> = match timestamps {
            Some(t) if !t.is_none() => ms_array(t, "timestamps")?,
            _ => (0..view.nrows() as i64).collect(),
        };
        let d = py.detach(|| self.det.detect(&ts, view))?;
        Ok(PyDetections::new(py, d))
    }

    /// Streams one row (one value per metric); returns `(score, is_anomaly)`.
    fn update(
        &self,
        timestamp: &Bound<'_, PyAny>,
        row: PyArrayLike1<'_, f64, AllowTypeChange>,
    ) -> Result<(f64, bool)> {
        let t = ms_scalar(timestamp, "timestamp")?;
        let r = column(&row);
        let p = lock(&self.state).update(t, &r)?;
        Ok((p.score, p.is_anomaly))
    }
}

/// Names of the multivariate detectors.
#[pyfunction]
pub(crate) fn multivariate_detector_names() -> Vec<&'static str> {
    MULTIVARIATE_DETECTORS.iter().map(|d| d.name).collect()
}
