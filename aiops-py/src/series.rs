//! `TimeSeries`: a frozen wrapper of [`aiops_core::TimeSeries`].

use std::collections::BTreeMap;

use aiops_core::{Aggregation, FillPolicy, Labels, TimeSeries};
use numpy::{AllowTypeChange, PyArray1, PyArrayLike1};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple, PyType};

use crate::arrays::{borrowed_readonly, column};
use crate::errors::{Error, Result};
use crate::time::{ms_array, ms_scalar};

/// Parses `text` as a snake_case variant of the serde enum `$ty` (`"mean"`, `"last"`...), so
/// the accepted spellings are the ones of the Rust crate and its config files.
macro_rules! parse_variant {
    ($ty:ty, $name:literal, $text:expr) => {
        serde_json::from_value::<$ty>(serde_json::Value::String($text.to_owned()))
            .map_err(|e| Error::Param(format!("invalid parameter {}: {e}", $name)))
    };
}
pub(crate) use parse_variant;

/// A series of (timestamp, value) points with labels, stored as two columns.
///
/// Timestamps are int64 milliseconds since the Unix epoch and strictly increase; values are
/// float64, NaN marking a missing point. Immutable: every operation returns a new series.
#[pyclass(frozen, name = "TimeSeries", module = "aiops._aiops")]
#[derive(Debug)]
pub(crate) struct PyTimeSeries {
    pub(crate) inner: TimeSeries,
}

impl From<TimeSeries> for PyTimeSeries {
    fn from(inner: TimeSeries) -> Self {
        Self { inner }
    }
}

/// Labels from a Python `dict[str, str]`, validated by the core.
pub(crate) fn labels_from(map: Option<BTreeMap<String, String>>) -> Result<Labels> {
    Ok(match map {
        Some(m) => Labels::try_from_pairs(m)?,
        None => Labels::new(),
    })
}

#[pymethods]
impl PyTimeSeries {
    /// Builds a series from timestamps (int ms since the epoch or datetime64 / pandas
    /// datetimes, strictly increasing), float64 values (NaN = missing) and optional labels
    /// (Prometheus names, non-empty values).
    #[new]
    #[pyo3(signature = (timestamps, values, labels=None))]
    fn new(
        py: Python<'_>,
        timestamps: &Bound<'_, PyAny>,
        values: PyArrayLike1<'_, f64, AllowTypeChange>,
        labels: Option<BTreeMap<String, String>>,
    ) -> Result<Self> {
        let labels = labels_from(labels)?;
        let ts = ms_array(timestamps, "timestamps")?;
        let vs = column(&values);
        let inner = py.detach(|| TimeSeries::new(labels, ts, vs.into_owned()))?;
        Ok(Self { inner })
    }

    /// Timestamps, int64 ms since the epoch: a read-only view of the series' memory (no copy).
    #[getter]
    fn timestamps<'py>(slf: &Bound<'py, Self>) -> Bound<'py, PyArray1<i64>> {
        // SAFETY: the class is frozen and never changes its series, so the Vec stays put
        // while `slf`, which the array keeps alive, lives.
        unsafe { borrowed_readonly(slf.get().inner.timestamps(), slf.clone().into_any()) }
    }

    /// Values, float64 (NaN = missing): a read-only view of the series' memory (no copy).
    #[getter]
    fn values<'py>(slf: &Bound<'py, Self>) -> Bound<'py, PyArray1<f64>> {
        // SAFETY: as for `timestamps`.
        unsafe { borrowed_readonly(slf.get().inner.values(), slf.clone().into_any()) }
    }

    /// The labels, as a new dict.
    #[getter]
    fn labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in self.inner.labels().iter() {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// Fingerprint of the labels: 16 hex digits, the same as Prometheus / Alertmanager compute.
    #[getter]
    fn fingerprint(&self) -> String {
        self.inner.labels().fingerprint().to_string()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        let s = &self.inner;
        match (s.timestamps().first(), s.timestamps().last()) {
            (Some(a), Some(b)) => format!(
                "TimeSeries(len={}, labels={}, start_ms={a}, end_ms={b})",
                s.len(),
                s.labels()
            ),
            _ => format!("TimeSeries(len=0, labels={})", s.labels()),
        }
    }

    /// Checks what algorithms need: at least one point and every value finite.
    ///
    /// Raises InvalidInputError otherwise.
    fn validate(&self, py: Python<'_>) -> Result<()> {
        let s = &self.inner;
        Ok(py.detach(|| s.validate())?)
    }

    /// The points with `start_ms <= timestamp < end_ms`, as a new series.
    fn slice_time(
        &self,
        py: Python<'_>,
        start_ms: &Bound<'_, PyAny>,
        end_ms: &Bound<'_, PyAny>,
    ) -> Result<Self> {
        let (start, end) = (
            ms_scalar(start_ms, "start_ms")?,
            ms_scalar(end_ms, "end_ms")?,
        );
        let s = &self.inner;
        Ok(py.detach(|| s.slice_time(start, end)).into())
    }

    /// Resamples to a grid of `step_ms` ms aligned to multiples of `step_ms` since the epoch.
    ///
    /// Each bucket takes the `agg` ("mean", "last", "min", "max", "sum") of its finite values;
    /// empty buckets are filled by `fill` ("none": NaN, "previous", "linear").
    #[pyo3(signature = (step_ms, agg="mean", fill="none"))]
    fn resample(&self, py: Python<'_>, step_ms: i64, agg: &str, fill: &str) -> Result<Self> {
        let agg = parse_variant!(Aggregation, "agg", agg)?;
        let fill = parse_variant!(FillPolicy, "fill", fill)?;
        let s = &self.inner;
        Ok(py.detach(|| s.resample(step_ms, agg, fill))?.into())
    }

    /// The series without its missing (NaN) points, and how many points were removed.
    fn drop_missing(&self, py: Python<'_>) -> (Self, usize) {
        let s = &self.inner;
        let (out, removed) = py.detach(|| s.drop_missing());
        (out.into(), removed)
    }

    /// JSON text `{"labels": {...}, "timestamps": [...], "values": [...]}`; NaN is `null`.
    fn to_json(&self, py: Python<'_>) -> Result<String> {
        let s = &self.inner;
        py.detach(|| serde_json::to_string(s))
            .map_err(|e| Error::Other(format!("JSON: {e}")))
    }

    /// Reads the JSON written by `to_json` (a `null` value is read as NaN).
    ///
    /// Raises ParseError for malformed JSON or a series that breaks the invariants.
    #[classmethod]
    fn from_json(_cls: &Bound<'_, PyType>, py: Python<'_>, text: &str) -> Result<Self> {
        py.detach(|| serde_json::from_str::<TimeSeries>(text))
            .map(Self::from)
            .map_err(|e| Error::Parse(format!("JSON: {e}")))
    }

    /// Pickles through the JSON form: `(TimeSeries.from_json, (json,))`.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
        py: Python<'py>,
    ) -> Result<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let from_json = slf.get_type().getattr("from_json")?;
        let args = PyTuple::new(py, [slf.get().to_json(py)?])?;
        Ok((from_json, args))
    }
}
