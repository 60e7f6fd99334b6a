//! Detectors: `RollingZScore`, `Threshold`, their `Detections`, and the registry.
//!
//! Each detector object holds the checked Rust detector (for batch `detect`, GIL released) and
//! one streaming state behind a mutex (for `update`), so the same object serves both uses.

use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};

use aiops_core::Severity;
use aiops_detect::multivariate::{
    MULTIVARIATE_DETECTORS, MultivariateDetector, MultivariateOnline, build_multivariate,
};
use aiops_detect::registry::{self, DETECTORS};
use aiops_detect::{
    Detections, Detector, Direction, OnlineDetector, ParamGuard, RollingZScore,
    RollingZScoreOnline, RollingZScoreParams, Streams, Threshold, ThresholdOnline, ThresholdParams,
};
use numpy::{AllowTypeChange, IntoPyArray, PyArray1, PyArrayLike1, PyReadonlyArray2};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays::column;
use crate::errors::{Error, Result};
use crate::series::PyTimeSeries;

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

/// Batch detection over a TimeSeries or over `values` (+ optional `timestamps`), GIL released.
fn detect_any<D: Detector + ?Sized>(
    py: Python<'_>,
    det: &D,
    values: &Bound<'_, PyAny>,
    timestamps: Option<PyArrayLike1<'_, i64>>,
) -> Result<PyDetections> {
    if let Ok(series) = values.cast::<PyTimeSeries>() {
        if timestamps.is_some() {
            return Err(PyTypeError::new_err(
                "timestamps must be omitted when the first argument is a TimeSeries",
            )
            .into());
        }
        let s = &series.get().inner;
        let d = py.detach(|| det.detect_series(s))?;
        return Ok(PyDetections::new(py, d));
    }
    let values: PyArrayLike1<'_, f64, AllowTypeChange> = values.extract()?;
    let vs = column(&values);
    let d = match &timestamps {
        Some(t) => {
            let ts = column(t);
            py.detach(|| det.detect(&ts, &vs))?
        }
        None => py.detach(|| {
            let ts: Vec<i64> = (0..vs.len() as i64).collect();
            det.detect(&ts, &vs)
        })?,
    };
    Ok(PyDetections::new(py, d))
}

/// Locks a streaming state. A panic inside `update` (a detector bug, raised in Python as
/// PanicException) poisons the lock; the object stays usable and `reset()` clears the state.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One streaming step: `(score, is_anomaly)`.
fn update_state(
    state: &Mutex<impl OnlineDetector>,
    timestamp: i64,
    value: f64,
) -> Result<(f64, bool)> {
    let p = lock(state).update(timestamp, value)?;
    Ok((p.score, p.is_anomaly))
}

/// A count argument (points) that must not be negative.
fn count(name: &str, v: i64) -> Result<usize> {
    usize::try_from(v)
        .map_err(|_| Error::Param(format!("invalid parameter {name}: must be >= 0, got {v}")))
}

/// Rolling z-score: how many standard deviations a point lies from the mean of the `window`
/// points before it; flagged at |z| >= `threshold`.
///
/// `window` and `min_periods` are counts of points (`min_periods` defaults to `window`:
/// scoring starts once the window is full); `direction` is "both", "up" or "down".
/// Raises InvalidParameterError for out-of-range parameters.
#[pyclass(frozen, name = "RollingZScore", module = "aiops._aiops")]
#[derive(Debug)]
pub(crate) struct PyRollingZScore {
    det: RollingZScore,
    state: Mutex<RollingZScoreOnline>,
    min_periods: Option<usize>,
    direction: String,
}

#[pymethods]
impl PyRollingZScore {
    #[new]
    #[pyo3(signature = (window=60, threshold=3.0, min_periods=None, direction="both"))]
    fn new(window: i64, threshold: f64, min_periods: Option<i64>, direction: &str) -> Result<Self> {
        let mut params = RollingZScoreParams::new()
            .window(count("window", window)?)
            .threshold(threshold)
            .direction(Direction::from_str(direction).map_err(Error::param)?);
        let min_periods = min_periods.map(|m| count("min_periods", m)).transpose()?;
        if let Some(m) = min_periods {
            params = params.min_periods(m);
        }
        let det = params.check().map_err(Error::param)?;
        Ok(Self {
            det,
            state: Mutex::new(det.online_state()),
            min_periods,
            direction: direction.to_owned(),
        })
    }

    /// Registry name: "zscore".
    #[getter]
    fn name(&self) -> &'static str {
        self.det.name()
    }

    /// Points in the reference window.
    #[getter]
    fn window(&self) -> usize {
        self.det.window()
    }

    /// Flagging threshold, in standard deviations.
    #[getter]
    fn threshold(&self) -> f64 {
        self.det.threshold()
    }

    /// Points needed before scoring starts, as given (None: the window).
    #[getter]
    fn min_periods(&self) -> Option<usize> {
        self.min_periods
    }

    /// Which departures count: "both", "up" or "down".
    #[getter]
    fn direction(&self) -> &str {
        &self.direction
    }

    /// Severity name ("critical", "high", "medium", "low") of an anomaly with this score.
    fn severity(&self, score: f64) -> &'static str {
        self.det.severity(score).as_str()
    }

    /// Scores every point, GIL released.
    ///
    /// `values` is a float64 array (or a TimeSeries, then `timestamps` must be omitted);
    /// `timestamps` are int64 ms, default 0, 1, 2, ... Input must be non-empty, timestamps
    /// strictly increasing and values finite, else InvalidInputError.
    #[pyo3(signature = (values, timestamps=None))]
    fn detect(
        &self,
        py: Python<'_>,
        values: &Bound<'_, PyAny>,
        timestamps: Option<PyArrayLike1<'_, i64>>,
    ) -> Result<PyDetections> {
        detect_any(py, &self.det, values, timestamps)
    }

    /// Scores one point of a stream, then learns from it: returns `(score, is_anomaly)`.
    ///
    /// Feeding a series point by point gives exactly the results of `detect`. Timestamps must
    /// strictly increase and values be finite (else InvalidInputError, state unchanged).
    fn update(&self, timestamp: i64, value: f64) -> Result<(f64, bool)> {
        update_state(&self.state, timestamp, value)
    }

    /// Forgets every point seen by `update`.
    fn reset(&self) {
        lock(&self.state).reset();
    }

    fn __repr__(&self) -> String {
        // Parsed spellings hold no quote, so '...' is their Python repr.
        let mp = self
            .min_periods
            .map_or("None".to_string(), |m| m.to_string());
        format!(
            "RollingZScore(window={}, threshold={:?}, min_periods={mp}, direction='{}')",
            self.det.window(),
            self.det.threshold(),
            self.direction
        )
    }

    /// Constructor arguments (pickle support).
    fn __getnewargs__(&self) -> (usize, f64, Option<usize>, String) {
        (
            self.det.window(),
            self.det.threshold(),
            self.min_periods,
            self.direction.clone(),
        )
    }

    /// The streaming state, as JSON (pickle support).
    fn __getstate__(&self) -> Result<String> {
        serde_json::to_string(&*lock(&self.state)).map_err(|e| Error::Other(e.to_string()))
    }

    /// Restores the streaming state saved by `__getstate__`.
    fn __setstate__(&self, state: &str) -> Result<()> {
        let s: RollingZScoreOnline =
            serde_json::from_str(state).map_err(|e| Error::Parse(format!("state JSON: {e}")))?;
        *lock(&self.state) = s;
        Ok(())
    }
}

/// Static threshold: flags values above `upper` or below `lower` (at least one is needed).
///
/// The score is how far the value lies beyond the bound, in the value's units (0 inside).
/// `severity` (default "high") is the severity of every breach. Raises InvalidParameterError
/// when no bound is set, a bound is not finite, or `lower >= upper`.
#[pyclass(frozen, name = "Threshold", module = "aiops._aiops")]
#[derive(Debug)]
pub(crate) struct PyThreshold {
    det: Threshold,
    state: Mutex<ThresholdOnline>,
    upper: Option<f64>,
    lower: Option<f64>,
    severity: Option<String>,
}

#[pymethods]
impl PyThreshold {
    #[new]
    #[pyo3(signature = (upper=None, lower=None, severity=None))]
    fn new(upper: Option<f64>, lower: Option<f64>, severity: Option<String>) -> Result<Self> {
        let mut params = ThresholdParams::new();
        if let Some(u) = upper {
            params = params.upper(u);
        }
        if let Some(l) = lower {
            params = params.lower(l);
        }
        if let Some(s) = &severity {
            params = params.severity(Severity::from_str(s).map_err(Error::param)?);
        }
        let det = params.check().map_err(Error::param)?;
        Ok(Self {
            det,
            state: Mutex::new(det.online_state()),
            upper,
            lower,
            severity,
        })
    }

    /// Registry name: "threshold".
    #[getter]
    fn name(&self) -> &'static str {
        self.det.name()
    }

    /// Values above this are anomalous (None: no upper bound).
    #[getter]
    fn upper(&self) -> Option<f64> {
        self.upper
    }

    /// Values below this are anomalous (None: no lower bound).
    #[getter]
    fn lower(&self) -> Option<f64> {
        self.lower
    }

    /// Severity name of every breach ("critical", "high", ...).
    fn severity(&self, score: f64) -> &'static str {
        self.det.severity(score).as_str()
    }

    /// Scores every point, GIL released; see `RollingZScore.detect`.
    #[pyo3(signature = (values, timestamps=None))]
    fn detect(
        &self,
        py: Python<'_>,
        values: &Bound<'_, PyAny>,
        timestamps: Option<PyArrayLike1<'_, i64>>,
    ) -> Result<PyDetections> {
        detect_any(py, &self.det, values, timestamps)
    }

    /// Scores one point of a stream: returns `(score, is_anomaly)`; see `RollingZScore.update`.
    fn update(&self, timestamp: i64, value: f64) -> Result<(f64, bool)> {
        update_state(&self.state, timestamp, value)
    }

    /// Forgets every point seen by `update`.
    fn reset(&self) {
        lock(&self.state).reset();
    }

    fn __repr__(&self) -> String {
        let opt = |v: Option<f64>| v.map_or("None".to_string(), |x| format!("{x:?}"));
        let sev = self
            .severity
            .as_ref()
            .map_or("None".to_string(), |s| format!("'{s}'"));
        format!(
            "Threshold(upper={}, lower={}, severity={sev})",
            opt(self.upper),
            opt(self.lower)
        )
    }

    /// Constructor arguments (pickle support).
    fn __getnewargs__(&self) -> (Option<f64>, Option<f64>, Option<String>) {
        (self.upper, self.lower, self.severity.clone())
    }

    /// The streaming state, as JSON (pickle support).
    fn __getstate__(&self) -> Result<String> {
        serde_json::to_string(&*lock(&self.state)).map_err(|e| Error::Other(e.to_string()))
    }

    /// Restores the streaming state saved by `__getstate__`.
    fn __setstate__(&self, state: &str) -> Result<()> {
        let s: ThresholdOnline =
            serde_json::from_str(state).map_err(|e| Error::Parse(format!("state JSON: {e}")))?;
        *lock(&self.state) = s;
        Ok(())
    }
}

/// Names of the available detectors, in the registry's order.
#[pyfunction]
pub(crate) fn detector_names() -> Vec<&'static str> {
    DETECTORS.iter().map(|d| d.name).collect()
}

/// Builds a detector by registry name ("zscore", "threshold") from keyword parameters, as the
/// CLI and config files do: `build_detector("zscore", window=30)`.
///
/// Raises InvalidParameterError for an unknown name, an unknown parameter, or a bad value.
#[pyfunction]
#[pyo3(signature = (name, **params))]
pub(crate) fn build_detector<'py>(
    py: Python<'py>,
    name: &str,
    params: Option<&Bound<'py, PyDict>>,
) -> Result<Bound<'py, PyAny>> {
    // The registry checks names, keys and types and words the errors; the typed class is then
    // built from the same parameters.
    let json: String = match params {
        Some(p) => py.import("json")?.call_method1("dumps", (p,))?.extract()?,
        None => "{}".to_owned(),
    };
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&json)
        .map_err(|e| Error::Param(format!("parameters of {name}: {e}")))?;
    registry::build(name, &map).map_err(Error::param)?;
    let class = match name {
        "zscore" => py.get_type::<PyRollingZScore>(),
        "threshold" => py.get_type::<PyThreshold>(),
        _ => py.get_type::<PyDetector>(),
    };
    if name == "zscore" || name == "threshold" {
        return Ok(class.call((), params)?);
    }
    Ok(class.call((name,), params)?)
}

/// A JSON text as Python objects.
fn json_loads<'py>(py: Python<'py>, text: &str) -> Result<Bound<'py, PyAny>> {
    Ok(py.import("json")?.call_method1("loads", (text,))?)
}

/// Parameters given as Python keywords, as the registry's JSON map.
pub(crate) fn params_map(
    py: Python<'_>,
    name: &str,
    params: Option<&Bound<'_, PyDict>>,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let json: String = match params {
        Some(p) => py.import("json")?.call_method1("dumps", (p,))?.extract()?,
        None => "{}".to_owned(),
    };
    serde_json::from_str(&json).map_err(|e| Error::Param(format!("parameters of {name}: {e}")))
}

/// Any detector of the registry, by name: `Detector("default")`, `Detector("mad", window=50)`.
///
/// `detect` scores a whole series (GIL released); `update` streams one point into the state
/// the object holds; both give the same scores on the same data. Pickling keeps the name, the
/// parameters and the streaming state.
#[pyclass(frozen, name = "Detector", module = "aiops._aiops")]
#[derive(Debug)]
pub(crate) struct PyDetector {
    det: Box<dyn Detector>,
    state: Mutex<Box<dyn OnlineDetector>>,
    params: String,
}

#[pymethods]
impl PyDetector {
    /// Builds the detector `name` with keyword parameters; raises InvalidParameterError for
    /// an unknown name or parameter, or a bad value.
    #[new]
    #[pyo3(signature = (name = "default", **params))]
    fn new(py: Python<'_>, name: &str, params: Option<&Bound<'_, PyDict>>) -> Result<Self> {
        let map = params_map(py, name, params)?;
        let det = registry::build(name, &map).map_err(Error::param)?;
        let state = Mutex::new(det.online());
        Ok(Self {
            det,
            state,
            params: serde_json::Value::Object(map).to_string(),
        })
    }

    /// The registry name.
    #[getter]
    fn name(&self) -> &'static str {
        self.det.name()
    }

    /// The parameters given at construction (defaults are not listed).
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyAny>> {
        json_loads(py, &self.params)
    }

    /// Scores every point: `values` (float64) with optional `timestamps` (int64 ms; default
    /// 0, 1, 2...), or a TimeSeries.
    #[pyo3(signature = (values, timestamps = None))]
    fn detect(
        &self,
        py: Python<'_>,
        values: &Bound<'_, PyAny>,
        timestamps: Option<PyArrayLike1<'_, i64>>,
    ) -> Result<PyDetections> {
        detect_any(py, self.det.as_ref(), values, timestamps)
    }

    /// Streams one point; returns `(score, is_anomaly)`.
    fn update(&self, timestamp: i64, value: f64) -> Result<(f64, bool)> {
        let p = lock(&self.state).update(timestamp, value)?;
        Ok((p.score, p.is_anomaly))
    }

    /// Forgets the streamed points.
    fn reset(&self) {
        lock(&self.state).reset();
    }

    /// The severity name of an anomaly with this score.
    fn severity(&self, score: f64) -> &'static str {
        self.det.severity(score).as_str()
    }

    /// The streaming state, as JSON (pickle support).
    fn __getstate__(&self) -> Result<String> {
        Ok(lock(&self.state).snapshot()?)
    }

    /// Restores the streaming state saved by `__getstate__`.
    fn __setstate__(&self, state: &str) -> Result<()> {
        lock(&self.state)
            .restore(state)
            .map_err(|e| Error::Parse(e.to_string()))
    }

    fn __getnewargs_ex__<'py>(
        &self,
        py: Python<'py>,
    ) -> Result<((&'static str,), Bound<'py, PyAny>)> {
        Ok(((self.det.name(),), self.params(py)?))
    }

    fn __repr__(&self) -> String {
        format!("Detector({:?}, params={})", self.det.name(), self.params)
    }
}

/// A detector over several metrics of one resource, by name: `MultivariateDetector("pca")`,
/// `MultivariateDetector("mahalanobis", window=100)`.
///
/// Rows are points in time, columns are metrics. `detect` scores every row of a 2-D float64
/// array (GIL released); `update` streams one row into the state the object holds; both give
/// the same scores on the same data.
#[pyclass(frozen, name = "MultivariateDetector", module = "aiops._aiops")]
#[derive(Debug)]
pub(crate) struct PyMultivariateDetector {
    det: Box<dyn MultivariateDetector>,
    state: Mutex<Box<dyn MultivariateOnline>>,
    params: String,
}

#[pymethods]
impl PyMultivariateDetector {
    /// Builds the multivariate detector `name` ("mahalanobis", "pca") with keyword parameters;
    /// raises InvalidParameterError for an unknown name or parameter, or a bad value.
    #[new]
    #[pyo3(signature = (name, **params))]
    fn new(py: Python<'_>, name: &str, params: Option<&Bound<'_, PyDict>>) -> Result<Self> {
        let map = params_map(py, name, params)?;
        let det = build_multivariate(name, &map).map_err(Error::param)?;
        let state = Mutex::new(det.online());
        Ok(Self {
            det,
            state,
            params: serde_json::Value::Object(map).to_string(),
        })
    }

    /// The registry name.
    #[getter]
    fn name(&self) -> &'static str {
        self.det.name()
    }

    /// Scores every row of `rows` (shape (n, metrics), float64) at `timestamps` (int64 ms;
    /// default 0, 1, 2...).
    #[pyo3(signature = (rows, timestamps = None))]
    fn detect(
        &self,
        py: Python<'_>,
        rows: PyReadonlyArray2<'_, f64>,
        timestamps: Option<PyArrayLike1<'_, i64>>,
    ) -> Result<PyDetections> {
        let view = rows.as_array();
        let ts: Vec<i64> = match &timestamps {
            Some(t) => column(t).into_owned(),
            None => (0..view.nrows() as i64).collect(),
        };
        let d = py.detach(|| self.det.detect(&ts, view))?;
        Ok(PyDetections::new(py, d))
    }

    /// Streams one row (one value per metric); returns `(score, is_anomaly)`.
    fn update(
        &self,
        timestamp: i64,
        row: PyArrayLike1<'_, f64, AllowTypeChange>,
    ) -> Result<(f64, bool)> {
        let r = column(&row);
        let p = lock(&self.state).update(timestamp, &r)?;
        Ok((p.score, p.is_anomaly))
    }

    /// Forgets the streamed rows.
    fn reset(&self) {
        lock(&self.state).reset();
    }

    /// The streaming state, as JSON (pickle support).
    fn __getstate__(&self) -> Result<String> {
        Ok(lock(&self.state).snapshot()?)
    }

    /// Restores the streaming state saved by `__getstate__`.
    fn __setstate__(&self, state: &str) -> Result<()> {
        lock(&self.state)
            .restore(state)
            .map_err(|e| Error::Parse(e.to_string()))
    }

    fn __getnewargs_ex__<'py>(
        &self,
        py: Python<'py>,
    ) -> Result<((&'static str,), Bound<'py, PyAny>)> {
        Ok(((self.det.name(),), json_loads(py, &self.params)?))
    }

    fn __repr__(&self) -> String {
        format!(
            "MultivariateDetector({:?}, params={})",
            self.det.name(),
            self.params
        )
    }
}

/// Names of the multivariate detectors.
#[pyfunction]
pub(crate) fn multivariate_detector_names() -> Vec<&'static str> {
    MULTIVARIATE_DETECTORS.iter().map(|d| d.name).collect()
}
