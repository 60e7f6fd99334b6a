//! `aiops.integrations`: clients of the systems operators run, from Python. Each wraps a
//! client of `aiops-integrations` (same parameters, same wire handling, same errors); a call
//! blocks on its own single-threaded runtime with the GIL released.

use std::collections::BTreeMap;
use std::future::Future;

use aiops_core::time::{Duration, TimestampMs};
use aiops_integrations::alertmanager_client::{
    AlertFilter, AlertmanagerClient, AlertmanagerParams, GettableAlert,
};
use aiops_integrations::http::AuthParams;
use aiops_integrations::prometheus::{
    PrometheusClient, PrometheusParams, QueryResult, RangeQuery, Sample,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDelta, PyDeltaAccess, PyDict, PyString};

use crate::alerts::{PyAlert, collect_alerts};
use crate::errors::{Error, Result};
use crate::series::PyTimeSeries;
use crate::time::ms_scalar;

/// Runs one request to completion, the GIL released, its error read as the package's.
fn block_on<T: Send>(
    py: Python<'_>,
    fut: impl Future<Output = aiops_integrations::Result<T>> + Send,
) -> Result<T> {
    crate::block_on(py, fut, Error::from)
}

/// Authentication from its configuration shape: `{"bearer": {"env": "TOKEN"}}`,
/// `{"basic": {"username": "u", "password": {"file": "/run/secrets/pw"}}}` or
/// `{"api_key": {"header": "X-API-Key", "key": {"env": "KEY"}}}`.
fn auth_from(auth: Option<&Bound<'_, PyDict>>) -> Result<Option<AuthParams>> {
    auth.map(|d| {
        pythonize::depythonize::<AuthParams>(d.as_any())
            .map_err(|e| Error::Param(format!("invalid parameter auth: {e}")))
    })
    .transpose()
}

/// A duration: text such as `"30s"` or `"1m"`, or a `datetime.timedelta` (whole ms).
fn duration_from(obj: &Bound<'_, PyAny>, what: &str) -> Result<Duration> {
    if let Ok(s) = obj.cast::<PyString>() {
        let d = s
            .to_str()?
            .parse::<Duration>()
            .map_err(|e| Error::Param(format!("invalid parameter {what}: {e}")))?;
        if d.as_millis() <= 0 {
            return Err(Error::Param(format!(
                "invalid parameter {what}: must be positive, got {d}"
            )));
        }
        return Ok(d);
    }
    if let Ok(d) = obj.cast::<PyDelta>() {
        let ms = (d.get_days() as i64 * 86_400 + d.get_seconds() as i64) * 1000
            + d.get_microseconds() as i64 / 1000;
        if ms <= 0 || d.get_microseconds() % 1000 != 0 {
            return Err(Error::Param(format!(
                "invalid parameter {what}: must be a positive whole number of milliseconds"
            )));
        }
        return Ok(Duration(ms));
    }
    Err(Error::Py(PyTypeError::new_err(format!(
        "{what} must be a duration such as \"30s\" or a datetime.timedelta, got {}",
        obj.get_type().name()?
    ))))
}

fn opt_ms(obj: Option<&Bound<'_, PyAny>>, what: &str) -> Result<Option<TimestampMs>> {
    obj.filter(|o| !o.is_none())
        .map(|o| ms_scalar(o, what))
        .transpose()
}

/// One sample of an instant vector.
#[pyclass(frozen, eq, name = "Sample", module = "aiops._aiops")]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PySample {
    inner: Sample,
}

#[pymethods]
impl PySample {
    /// The series' labels (`__name__` included when the result keeps it), as a new dict.
    #[getter]
    fn labels(&self) -> BTreeMap<String, String> {
        self.inner
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// When, int ms since the epoch.
    #[getter]
    fn timestamp(&self) -> TimestampMs {
        self.inner.timestamp
    }

    /// The value (may be NaN or infinite).
    #[getter]
    fn value(&self) -> f64 {
        self.inner.value
    }

    fn __repr__(&self) -> String {
        format!(
            "Sample(labels={}, timestamp={}, value={})",
            self.inner.labels, self.inner.timestamp, self.inner.value
        )
    }
}

/// The result of an instant query, by Prometheus' `resultType`: `samples` for a `vector`,
/// `series` for a `matrix`, `value` and `timestamp` for a `scalar` or `string`.
#[pyclass(frozen, name = "QueryResult", module = "aiops._aiops")]
#[derive(Debug)]
pub(crate) struct PyQueryResult {
    inner: QueryResult,
}

#[pymethods]
impl PyQueryResult {
    /// `"vector"`, `"matrix"`, `"scalar"` or `"string"`.
    #[getter]
    fn result_type(&self) -> &'static str {
        match self.inner {
            QueryResult::Vector(_) => "vector",
            QueryResult::Matrix(_) => "matrix",
            QueryResult::Scalar { .. } => "scalar",
            QueryResult::String { .. } => "string",
        }
    }

    /// The samples of a vector (empty for other types).
    #[getter]
    fn samples(&self) -> Vec<PySample> {
        match &self.inner {
            QueryResult::Vector(v) => v.iter().map(|s| PySample { inner: s.clone() }).collect(),
            _ => Vec::new(),
        }
    }

    /// The series of a matrix (empty for other types).
    #[getter]
    fn series(&self) -> Vec<PyTimeSeries> {
        match &self.inner {
            QueryResult::Matrix(m) => m.iter().cloned().map(PyTimeSeries::from).collect(),
            _ => Vec::new(),
        }
    }

    /// The value of a scalar (float) or string (str); `None` for vectors and matrices.
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        Ok(match &self.inner {
            QueryResult::Scalar { value, .. } => Some(value.into_pyobject(py)?.into_any()),
            QueryResult::String { value, .. } => Some(value.into_pyobject(py)?.into_any()),
            _ => None,
        })
    }

    /// When a scalar or string was evaluated, int ms; `None` for vectors and matrices.
    #[getter]
    fn timestamp(&self) -> Option<TimestampMs> {
        match &self.inner {
            QueryResult::Scalar { timestamp, .. } | QueryResult::String { timestamp, .. } => {
                Some(*timestamp)
            }
            _ => None,
        }
    }

    fn __len__(&self) -> usize {
        match &self.inner {
            QueryResult::Vector(v) => v.len(),
            QueryResult::Matrix(m) => m.len(),
            _ => 1,
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "QueryResult(result_type='{}', len={})",
            self.result_type(),
            self.__len__()
        )
    }
}

/// A client of the Prometheus HTTP query API (Prometheus, VictoriaMetrics, Thanos, Mimir).
///
/// `auth` takes the configuration's shape (`{"bearer": {"env": "PROM_TOKEN"}}`; secrets come
/// from the environment or files, never from arguments you may log); `timeout` is a duration
/// (`"30s"` or a `datetime.timedelta`); `retries` retries a failed request with backoff;
/// `max_points` splits a long range query into requests of at most that many points per
/// series (Prometheus refuses more than 11,000) and merges the answers.
#[pyclass(frozen, name = "Prometheus", module = "aiops._aiops")]
pub(crate) struct PyPrometheus {
    client: PrometheusClient,
    url: String,
}

#[pymethods]
impl PyPrometheus {
    #[new]
    #[pyo3(signature = (url, *, auth=None, timeout=None, retries=3, max_points=11_000))]
    fn new(
        url: String,
        auth: Option<&Bound<'_, PyDict>>,
        timeout: Option<&Bound<'_, PyAny>>,
        retries: u32,
        max_points: usize,
    ) -> Result<Self> {
        let mut p = PrometheusParams::new(url.clone());
        p.auth = auth_from(auth)?;
        if let Some(t) = timeout {
            p.timeout = duration_from(t, "timeout")?;
        }
        p.retries = retries;
        p.max_points = max_points;
        Ok(Self {
            client: PrometheusClient::from_params(&p)?,
            url,
        })
    }

    /// Evaluates `promql` at `at` (a timestamp; the server's now when `None`).
    #[pyo3(signature = (promql, at=None))]
    fn query(
        &self,
        py: Python<'_>,
        promql: &str,
        at: Option<&Bound<'_, PyAny>>,
    ) -> Result<PyQueryResult> {
        let at = opt_ms(at, "at")?;
        let inner = block_on(py, self.client.instant(promql, at))?;
        Ok(PyQueryResult { inner })
    }

    /// Evaluates `promql` from `start` to `end` (inclusive) every `step` (`"1m"` or a
    /// `datetime.timedelta`): one `TimeSeries` per result series, in time order, its labels
    /// as Prometheus answers them.
    fn query_range(
        &self,
        py: Python<'_>,
        promql: &str,
        start: &Bound<'_, PyAny>,
        end: &Bound<'_, PyAny>,
        step: &Bound<'_, PyAny>,
    ) -> Result<Vec<PyTimeSeries>> {
        let start = ms_scalar(start, "start")?;
        let end = ms_scalar(end, "end")?;
        let step = duration_from(step, "step")?;
        let range = RangeQuery::new(start, end, step.as_millis())?;
        let series = block_on(py, self.client.range(promql, range))?;
        Ok(series.into_iter().map(PyTimeSeries::from).collect())
    }

    /// The label sets of the series matching any of `matchers` (`"up"`,
    /// `'{job="api"}'`) between `start` and `end` (the server's default range when `None`).
    #[pyo3(signature = (matchers, start=None, end=None))]
    fn series(
        &self,
        py: Python<'_>,
        matchers: Vec<String>,
        start: Option<&Bound<'_, PyAny>>,
        end: Option<&Bound<'_, PyAny>>,
    ) -> Result<Vec<BTreeMap<String, String>>> {
        let (start, end) = (opt_ms(start, "start")?, opt_ms(end, "end")?);
        let m: Vec<&str> = matchers.iter().map(String::as_str).collect();
        let rows = block_on(py, self.client.series(&m, start, end))?;
        Ok(rows
            .iter()
            .map(|l| {
                l.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .collect())
    }

    /// The values of label `name` over the series matching any of `matchers` (all series
    /// when none), sorted as the server sorts them.
    #[pyo3(signature = (name, matchers=None, start=None, end=None))]
    fn label_values(
        &self,
        py: Python<'_>,
        name: &str,
        matchers: Option<Vec<String>>,
        start: Option<&Bound<'_, PyAny>>,
        end: Option<&Bound<'_, PyAny>>,
    ) -> Result<Vec<String>> {
        let (start, end) = (opt_ms(start, "start")?, opt_ms(end, "end")?);
        let matchers = matchers.unwrap_or_default();
        let m: Vec<&str> = matchers.iter().map(String::as_str).collect();
        block_on(py, self.client.label_values(name, &m, start, end))
    }

    fn __repr__(&self) -> String {
        format!("Prometheus(url={})", crate::py_str(&self.url))
    }
}

/// An alert as Alertmanager's `GET /api/v2/alerts` answers it: the `alert` and what
/// Alertmanager says of it.
#[pyclass(frozen, name = "AlertmanagerAlert", module = "aiops._aiops")]
#[derive(Debug)]
pub(crate) struct PyAlertmanagerAlert {
    inner: GettableAlert,
}

#[pymethods]
impl PyAlertmanagerAlert {
    /// The alert (labels, annotations, times, generator URL; its fingerprint is aiops' own).
    #[getter]
    fn alert(&self) -> PyAlert {
        PyAlert {
            inner: self.inner.alert.clone(),
        }
    }

    /// `"active"`, `"suppressed"` (silenced or inhibited) or `"unprocessed"`.
    #[getter]
    fn state(&self) -> String {
        crate::variant_name(&self.inner.state)
    }

    /// Ids of the silences muting it.
    #[getter]
    fn silenced_by(&self) -> Vec<String> {
        self.inner.silenced_by.clone()
    }

    /// Fingerprints of the alerts inhibiting it.
    #[getter]
    fn inhibited_by(&self) -> Vec<String> {
        self.inner.inhibited_by.clone()
    }

    /// The receivers it is routed to.
    #[getter]
    fn receivers(&self) -> Vec<String> {
        self.inner.receivers.clone()
    }

    /// When Alertmanager last updated it, int ms.
    #[getter]
    fn updated_at(&self) -> Option<TimestampMs> {
        self.inner.updated_at
    }

    /// Alertmanager's fingerprint (its own hash of the labels).
    #[getter]
    fn fingerprint(&self) -> String {
        self.inner.fingerprint.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "AlertmanagerAlert(alertname={}, state='{}', fingerprint='{}')",
            crate::py_str(self.inner.alert.labels.get("alertname").unwrap_or("")),
            self.state(),
            self.inner.fingerprint
        )
    }
}

/// A client of Alertmanager's API v2: send alerts to it, read what it holds.
///
/// `auth`, `timeout` and `retries` as for [`PyPrometheus`] (`auth` when a proxy in front of
/// Alertmanager asks for one).
#[pyclass(frozen, name = "Alertmanager", module = "aiops._aiops")]
pub(crate) struct PyAlertmanager {
    client: AlertmanagerClient,
    url: String,
}

#[pymethods]
impl PyAlertmanager {
    #[new]
    #[pyo3(signature = (url, *, auth=None, timeout=None, retries=3))]
    fn new(
        url: String,
        auth: Option<&Bound<'_, PyDict>>,
        timeout: Option<&Bound<'_, PyAny>>,
        retries: u32,
    ) -> Result<Self> {
        let mut p = AlertmanagerParams::new(url.clone());
        p.auth = auth_from(auth)?;
        if let Some(t) = timeout {
            p.timeout = duration_from(t, "timeout")?;
        }
        p.retries = retries;
        Ok(Self {
            client: AlertmanagerClient::from_params(&p)?,
            url,
        })
    }

    /// Sends alerts (`POST /api/v2/alerts`): `Alert` objects, dicts in Alertmanager's shape,
    /// or a list of them.
    fn post_alerts(&self, py: Python<'_>, alerts: &Bound<'_, PyAny>) -> Result<()> {
        let mut list = Vec::new();
        collect_alerts(alerts, &mut list)?;
        block_on(py, self.client.post_alerts(&list))
    }

    /// The alerts Alertmanager holds (`GET /api/v2/alerts`) that match every matcher of
    /// `filter` (`'alertname="Down"'`, `'severity=~"crit.*"'`), among the kinds asked
    /// (`None` leaves Alertmanager's default, which includes them), routed to `receiver` (a
    /// regex) when given.
    #[pyo3(signature = (filter=None, *, active=None, silenced=None, inhibited=None,
        unprocessed=None, receiver=None))]
    #[allow(clippy::too_many_arguments)]
    fn alerts(
        &self,
        py: Python<'_>,
        filter: Option<Vec<String>>,
        active: Option<bool>,
        silenced: Option<bool>,
        inhibited: Option<bool>,
        unprocessed: Option<bool>,
        receiver: Option<String>,
    ) -> Result<Vec<PyAlertmanagerAlert>> {
        let f = AlertFilter {
            matchers: filter.unwrap_or_default(),
            active,
            silenced,
            inhibited,
            unprocessed,
            receiver,
        };
        let alerts = block_on(py, self.client.alerts(&f))?;
        Ok(alerts
            .into_iter()
            .map(|inner| PyAlertmanagerAlert { inner })
            .collect())
    }

    fn __repr__(&self) -> String {
        format!("Alertmanager(url={})", crate::py_str(&self.url))
    }
}
