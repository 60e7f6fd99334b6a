//! Forecasting: `fit_model` -> `FittedModel` -> `Prediction`, `forecast_many` (parallel) and
//! `capacity`. Every model of `aiops_forecast::registry` is reachable by name; the typed
//! Python classes in `aiops.forecast` are thin wrappers choosing the name.

use aiops_forecast::Prediction;
use aiops_forecast::bounds::Bounds;
use aiops_forecast::capacity::{self, CapacityParams};
use aiops_forecast::registry::{self, BoxedFitted, MODELS};
use aiops_forecast::seasonality::SeasonalPeriod;
use numpy::{AllowTypeChange, IntoPyArray, PyArray1, PyArray2, PyArrayLike1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{Error, Result};

/// Interval levels when none are given, percent.
fn default_levels() -> Vec<f64> {
    vec![80.0, 95.0]
}

fn values(v: &PyArrayLike1<'_, f64, AllowTypeChange>) -> Vec<f64> {
    match v.as_slice() {
        Ok(s) => s.to_vec(),
        Err(_) => v.as_array().to_vec(),
    }
}

/// A forecast: point forecasts and intervals, as NumPy arrays.
#[pyclass(frozen, name = "Prediction", module = "aiops._aiops")]
#[derive(Debug)]
pub(crate) struct PyPrediction {
    /// Point forecast per step (float64, length `horizon`).
    #[pyo3(get)]
    mean: Py<PyArray1<f64>>,
    /// Interval levels in percent, in the order of the rows of `lower` and `upper`.
    #[pyo3(get)]
    levels: Vec<f64>,
    /// Lower bounds, shape (len(levels), horizon).
    #[pyo3(get)]
    lower: Py<PyArray2<f64>>,
    /// Upper bounds, shape (len(levels), horizon).
    #[pyo3(get)]
    upper: Py<PyArray2<f64>>,
    horizon: usize,
}

impl PyPrediction {
    fn new(py: Python<'_>, p: Prediction) -> Result<Self> {
        let horizon = p.mean.len();
        let levels: Vec<f64> = p.intervals.iter().map(|iv| iv.level).collect();
        let k = levels.len();
        let flat = |f: &dyn Fn(&aiops_core::ForecastInterval) -> &Vec<f64>| -> Vec<f64> {
            p.intervals
                .iter()
                .flat_map(|iv| f(iv).iter().copied())
                .collect()
        };
        let lower = numpy::ndarray::Array2::from_shape_vec((k, horizon), flat(&|iv| &iv.lower))
            .map_err(|e| Error::Other(e.to_string()))?;
        let upper = numpy::ndarray::Array2::from_shape_vec((k, horizon), flat(&|iv| &iv.upper))
            .map_err(|e| Error::Other(e.to_string()))?;
        Ok(Self {
            mean: p.mean.into_pyarray(py).unbind(),
            levels,
            lower: lower.into_pyarray(py).unbind(),
            upper: upper.into_pyarray(py).unbind(),
            horizon,
        })
    }
}

#[pymethods]
impl PyPrediction {
    fn __len__(&self) -> usize {
        self.horizon
    }

    fn __repr__(&self) -> String {
        format!(
            "Prediction(horizon={}, levels={:?})",
            self.horizon, self.levels
        )
    }
}

/// A fitted forecasting model (from `fit_model` or the classes of `aiops.forecast`).
#[pyclass(frozen, name = "FittedModel", module = "aiops._aiops")]
pub(crate) struct PyFittedModel {
    model: BoxedFitted,
    /// Name of the model as given to `fit_model`.
    #[pyo3(get)]
    name: String,
    /// Seasonal periods used (given, or detected when none were given).
    #[pyo3(get)]
    periods: Vec<usize>,
}

impl std::fmt::Debug for PyFittedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PyFittedModel")
            .field("name", &self.name)
            .finish()
    }
}

#[pymethods]
impl PyFittedModel {
    /// Forecasts `horizon` steps with intervals at each of `levels` (percent, in (0, 100)).
    #[pyo3(signature = (horizon, levels = None))]
    fn predict(
        &self,
        py: Python<'_>,
        horizon: usize,
        levels: Option<Vec<f64>>,
    ) -> Result<PyPrediction> {
        let levels = levels.unwrap_or_else(default_levels);
        let p = py.detach(|| self.model.predict(horizon, &levels))?;
        PyPrediction::new(py, p)
    }

    fn __repr__(&self) -> String {
        format!(
            "FittedModel(name={:?}, periods={:?})",
            self.name, self.periods
        )
    }
}

/// Fits the model called `name` (see `model_names()`) to `values`; `periods` are the seasonal
/// periods in steps, detected when empty. The GIL is released while fitting.
#[pyfunction]
#[pyo3(signature = (name, values, periods = None))]
pub(crate) fn fit_model(
    py: Python<'_>,
    name: &str,
    values: PyArrayLike1<'_, f64, AllowTypeChange>,
    periods: Option<Vec<usize>>,
) -> Result<PyFittedModel> {
    let y = self::values(&values);
    let periods = periods.unwrap_or_default();
    let (model, periods) = py.detach(|| -> Result<_> {
        let periods = if periods.is_empty() {
            aiops_forecast::seasonality::detect_periods(&y)
        } else {
            periods
        };
        Ok((registry::fit(name, &y, &periods)?, periods))
    })?;
    Ok(PyFittedModel {
        model,
        name: name.to_string(),
        periods,
    })
}

/// Model names and summaries.
#[pyfunction]
pub(crate) fn model_names() -> Vec<(&'static str, &'static str)> {
    MODELS.to_vec()
}

/// Forecasts every series in `series` with the model `name`, in parallel on all cores (GIL
/// released). Returns one `Prediction` per series; the first series that cannot be forecast
/// raises, naming its index.
#[pyfunction]
#[pyo3(signature = (name, series, horizon, periods = None, levels = None))]
pub(crate) fn forecast_many(
    py: Python<'_>,
    name: &str,
    series: Vec<PyArrayLike1<'_, f64, AllowTypeChange>>,
    horizon: usize,
    periods: Option<Vec<usize>>,
    levels: Option<Vec<f64>>,
) -> Result<Vec<PyPrediction>> {
    let periods = periods.unwrap_or_default();
    let levels = levels.unwrap_or_else(default_levels);
    let data: Vec<Vec<f64>> = series.iter().map(values).collect();
    let results = py.detach(|| registry::forecast_many(name, &data, &periods, horizon, &levels));
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| match r {
            Ok(p) => PyPrediction::new(py, p),
            Err(e) => Err(Error::Forecast(e).context(&format!("series {i}"))),
        })
        .collect()
}

/// The sampling interval in seconds: `step_seconds`, or the median spacing of `timestamps`
/// (one per value); `None` when neither is given. Both at once, a non-positive or non-finite
/// step, or timestamps not matching the values are `InvalidParameterError`.
fn sampling_step(
    step_seconds: Option<f64>,
    timestamps: Option<&Bound<'_, PyAny>>,
    n: usize,
) -> Result<Option<f64>> {
    match (step_seconds, timestamps) {
        (Some(_), Some(_)) => Err(Error::Param(
            "give step_seconds or timestamps, not both".into(),
        )),
        (Some(s), None) if !(s.is_finite() && s > 0.0) => Err(Error::Param(format!(
            "step_seconds must be a positive number of seconds, got {s}"
        ))),
        (Some(s), None) => Ok(Some(s)),
        (None, Some(ts)) => {
            let ms = crate::time::ms_array(ts, "timestamps")?;
            if ms.len() != n {
                return Err(Error::Param(format!(
                    "timestamps: {} for {n} values",
                    ms.len()
                )));
            }
            match aiops_core::time::median_step(&ms) {
                Some(step) if step > 0 => Ok(Some(step as f64 / 1000.0)),
                _ => Err(Error::Param(
                    "timestamps: need at least two, increasing".into(),
                )),
            }
        }
        (None, None) => Ok(None),
    }
}

/// The metric's limits: `bounds` as `(lower, upper)` (either `None` for no limit), or inferred
/// from the history and the metric's `name` (non-negative when never negative, 0-100 for a
/// percentage name).
fn metric_bounds(
    y: &[f64],
    bounds: Option<(Option<f64>, Option<f64>)>,
    name: Option<&str>,
) -> Result<Bounds> {
    match bounds {
        Some((lower, upper)) => Ok(Bounds::new(lower, upper)?),
        None => Ok(Bounds::infer(y, name)),
    }
}

fn periods_list<'py>(
    py: Python<'py>,
    periods: &[SeasonalPeriod],
) -> Result<Vec<Bound<'py, PyDict>>> {
    periods
        .iter()
        .map(|p| {
            let d = PyDict::new(py);
            d.set_item("steps", p.steps)?;
            d.set_item("seconds", p.seconds)?;
            d.set_item("source", p.source)?;
            Ok(d)
        })
        .collect()
}

/// Forecasts `values` `horizon` steps ahead with the model `name` as the CLI does: periods
/// found in time units from `step_seconds` or `timestamps` (or the given `periods`, steps),
/// intervals clipped to the metric's `bounds`. Returns `(prediction, periods)`, each period a
/// dict `{"steps", "seconds", "source"}`. The GIL is released while fitting.
#[pyfunction]
#[pyo3(signature = (values, horizon, *, model = "auto", periods = None, levels = None,
    step_seconds = None, timestamps = None, bounds = None, name = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn forecast<'py>(
    py: Python<'py>,
    values: PyArrayLike1<'_, f64, AllowTypeChange>,
    horizon: usize,
    model: &str,
    periods: Option<Vec<usize>>,
    levels: Option<Vec<f64>>,
    step_seconds: Option<f64>,
    timestamps: Option<Bound<'py, PyAny>>,
    bounds: Option<(Option<f64>, Option<f64>)>,
    name: Option<&str>,
) -> Result<(PyPrediction, Vec<Bound<'py, PyDict>>)> {
    let y = self::values(&values);
    let step = sampling_step(step_seconds, timestamps.as_ref(), y.len())?;
    let bounds = metric_bounds(&y, bounds, name)?;
    let periods = periods.unwrap_or_default();
    let levels = levels.unwrap_or_else(default_levels);
    let r = py.detach(|| {
        registry::forecast_report(model, &y, &periods, step, horizon, &levels, Some(bounds))
    })?;
    let found = periods_list(py, &r.periods)?;
    Ok((PyPrediction::new(py, r.prediction)?, found))
}

/// Capacity planning on `values` (see `aiops_forecast::capacity`): returns a dict with the
/// trend test, saturation steps, crossing probability, statuses, replica advice, the seasonal
/// periods used and the forecast (`prediction`). The sampling interval (`step_seconds`, or the
/// median spacing of `timestamps`) lets daily and weekly cycles be found in time units;
/// `bounds` `(lower, upper)` limit the forecast (inferred from the history and `name` when
/// not given).
#[pyfunction]
#[pyo3(signature = (values, threshold = 85.0, horizon = 24, *, model = "auto", periods = None,
    level = 95.0, warning = 70.0, critical = 85.0, replicas = None, target = 70.0,
    step_seconds = None, timestamps = None, bounds = None, name = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn capacity_plan<'py>(
    py: Python<'py>,
    values: PyArrayLike1<'_, f64, AllowTypeChange>,
    threshold: f64,
    horizon: usize,
    model: &str,
    periods: Option<Vec<usize>>,
    level: f64,
    warning: f64,
    critical: f64,
    replicas: Option<usize>,
    target: f64,
    step_seconds: Option<f64>,
    timestamps: Option<Bound<'py, PyAny>>,
    bounds: Option<(Option<f64>, Option<f64>)>,
    name: Option<&str>,
) -> Result<Bound<'py, PyDict>> {
    let y = self::values(&values);
    let step_seconds = sampling_step(step_seconds, timestamps.as_ref(), y.len())?;
    let bounds = Some(metric_bounds(&y, bounds, name)?);
    let params = CapacityParams {
        step_seconds,
        bounds,
        threshold,
        horizon,
        warning,
        critical,
        level,
        model: model.to_string(),
        periods: periods.unwrap_or_default(),
        replicas,
        target,
    };
    let r = py.detach(|| capacity::analyze(&y, &params))?;
    let d = PyDict::new(py);
    d.set_item("current", r.current)?;
    d.set_item("peak", r.peak)?;
    d.set_item("peak_upper", r.peak_upper)?;
    d.set_item("threshold", r.threshold)?;
    d.set_item("horizon", r.horizon)?;
    d.set_item("level", r.level)?;
    d.set_item("saturation_step", r.saturation_step)?;
    d.set_item("saturation_step_upper", r.saturation_step_upper)?;
    d.set_item("probability", r.probability)?;
    let trend = PyDict::new(py);
    let dir = match r.trend.direction {
        capacity::TrendDirection::Increasing => "increasing",
        capacity::TrendDirection::Decreasing => "decreasing",
        capacity::TrendDirection::Stable => "stable",
    };
    trend.set_item("direction", dir)?;
    trend.set_item("slope", r.trend.slope)?;
    trend.set_item("p_value", r.trend.p_value)?;
    d.set_item("trend", trend)?;
    let status = |s: capacity::Status| match s {
        capacity::Status::Ok => "ok",
        capacity::Status::Warning => "warning",
        capacity::Status::Critical => "critical",
    };
    d.set_item("status_now", status(r.status_now))?;
    d.set_item("status_forecast", status(r.status_forecast))?;
    match r.replicas {
        Some(a) => {
            let adv = PyDict::new(py);
            adv.set_item("current", a.current)?;
            adv.set_item("needed", a.needed)?;
            adv.set_item("needed_upper", a.needed_upper)?;
            adv.set_item("target", a.target)?;
            d.set_item("replicas", adv)?;
        }
        None => d.set_item("replicas", py.None())?,
    }
    d.set_item("periods", periods_list(py, &r.periods)?)?;
    d.set_item("bounds", (r.bounds.lower, r.bounds.upper))?;
    d.set_item(
        "prediction",
        Py::new(py, PyPrediction::new(py, r.prediction)?)?,
    )?;
    Ok(d)
}

/// Scores `model` on the M4 hourly series in `data` (48 steps, season 24 by default): a dict
/// `{"model", "smape", "mase", "owa", "seconds"}`. The GIL is released while it runs.
#[pyfunction]
#[pyo3(signature = (data, model = "auto", horizon = 48, season = 24))]
pub(crate) fn m4_evaluate<'py>(
    py: Python<'py>,
    data: std::path::PathBuf,
    model: &str,
    horizon: usize,
    season: usize,
) -> Result<Bound<'py, PyDict>> {
    let s = py.detach(|| -> Result<_> {
        let series = aiops_eval::m4::load(&data)?;
        Ok(aiops_eval::m4::evaluate(&series, model, horizon, season)?)
    })?;
    let d = PyDict::new(py);
    d.set_item("model", s.model)?;
    d.set_item("smape", s.smape)?;
    d.set_item("mase", s.mase)?;
    d.set_item("owa", s.owa)?;
    d.set_item("seconds", s.seconds)?;
    Ok(d)
}
