//! The Python exception hierarchy and the mapping of the Rust errors onto it.
//!
//! ```text
//! AiopsError(Exception)
//! ├── InvalidInputError(AiopsError, ValueError)
//! │   ├── ParseError                 malformed CSV / JSON / Prometheus text
//! │   └── InvalidParameterError      a detector or reader parameter out of range
//! └── AiopsIOError(AiopsError, OSError)
//!     └── AiopsFileNotFoundError(AiopsIOError, FileNotFoundError)
//! ```
//!
//! `create_exception!` takes a single base, and two of these classes need two (so that
//! `except ValueError` / `except OSError` keep working), so every class is made the way a Python
//! `class` statement makes it: by calling `type(name, bases, namespace)`, once per process.

use std::io;
use std::path::Path;

use aiops_alerts::AlertError;
use aiops_core::CoreError;
use aiops_detect::DetectError;
use aiops_eval::EvalError;
use aiops_forecast::ForecastError;
use aiops_integrations::IntegrationError;
use aiops_logs::LogError;
use aiops_rca::RcaError;
use pyo3::exceptions::{PyException, PyFileNotFoundError, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

/// Module the classes claim to live in, so that pickling and `repr` name them correctly.
const MODULE: &str = "aiops._aiops";

/// The exception classes, created on first use.
#[derive(Debug)]
pub(crate) struct Exceptions {
    /// `AiopsError`.
    pub(crate) aiops: Py<PyType>,
    /// `InvalidInputError`.
    pub(crate) invalid_input: Py<PyType>,
    /// `ParseError`.
    pub(crate) parse: Py<PyType>,
    /// `InvalidParameterError`.
    pub(crate) invalid_parameter: Py<PyType>,
    /// `AiopsIOError`.
    pub(crate) io: Py<PyType>,
    /// `AiopsFileNotFoundError`.
    pub(crate) file_not_found: Py<PyType>,
}

static EXCEPTIONS: PyOnceLock<Exceptions> = PyOnceLock::new();

fn new_class(
    py: Python<'_>,
    name: &str,
    doc: &str,
    bases: &[&Bound<'_, PyType>],
) -> PyResult<Py<PyType>> {
    let namespace = PyDict::new(py);
    namespace.set_item("__module__", MODULE)?;
    namespace.set_item("__qualname__", name)?;
    namespace.set_item("__doc__", doc)?;
    let bases = PyTuple::new(py, bases)?;
    let class = py.get_type::<PyType>().call1((name, bases, namespace))?;
    Ok(class.cast_into::<PyType>()?.unbind())
}

fn create(py: Python<'_>) -> PyResult<Exceptions> {
    let aiops = new_class(
        py,
        "AiopsError",
        "Base class of every error raised by aiops.",
        &[&py.get_type::<PyException>()],
    )?;
    let invalid_input = new_class(
        py,
        "InvalidInputError",
        "Invalid data: empty, unsorted or duplicate timestamps, NaN where a number is needed, \
         mismatched lengths, bad labels. Also a ValueError.",
        &[aiops.bind(py), &py.get_type::<PyValueError>()],
    )?;
    let parse = new_class(
        py,
        "ParseError",
        "Malformed CSV, JSON or Prometheus input; the message names the line.",
        &[invalid_input.bind(py)],
    )?;
    let invalid_parameter = new_class(
        py,
        "InvalidParameterError",
        "A detector or reader parameter is out of its valid range or unknown.",
        &[invalid_input.bind(py)],
    )?;
    let io = new_class(
        py,
        "AiopsIOError",
        "Reading a file failed. Also an OSError, with errno, strerror and filename set.",
        &[aiops.bind(py), &py.get_type::<PyOSError>()],
    )?;
    let file_not_found = new_class(
        py,
        "AiopsFileNotFoundError",
        "The file does not exist. Also a FileNotFoundError.",
        &[io.bind(py), &py.get_type::<PyFileNotFoundError>()],
    )?;
    Ok(Exceptions {
        aiops,
        invalid_input,
        parse,
        invalid_parameter,
        io,
        file_not_found,
    })
}

/// The exception classes (created on first call).
pub(crate) fn exceptions(py: Python<'_>) -> PyResult<&'static Exceptions> {
    EXCEPTIONS.get_or_try_init(py, || create(py))
}

/// Adds the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let e = exceptions(py)?;
    for class in [
        &e.aiops,
        &e.invalid_input,
        &e.parse,
        &e.invalid_parameter,
        &e.io,
        &e.file_not_found,
    ] {
        let class = class.bind(py);
        m.add(class.name()?, class)?;
    }
    Ok(())
}

/// Which Python class an error becomes.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Aiops,
    InvalidInput,
    Parse,
    InvalidParameter,
}

/// An error of the Rust crates on its way to Python.
///
/// The orphan rule forbids `impl From<CoreError> for PyErr`, so binding functions return
/// `Result<T, Error>`: `?` converts the crates' errors into it, and PyO3 converts it into the
/// right exception with `From<Error> for PyErr`.
#[derive(Debug)]
pub(crate) enum Error {
    /// An `aiops-core` error.
    Core(CoreError),
    /// An `aiops-core` error while reading the file at this path (names it in an `OSError`).
    CoreAt(CoreError, String),
    /// An `aiops-detect` error.
    Detect(DetectError),
    /// An `aiops-forecast` error.
    Forecast(ForecastError),
    /// An `aiops-forecast` error with where it happened.
    ForecastAt(ForecastError, String),
    /// An `aiops-rca` error.
    Rca(RcaError),
    /// An `aiops-eval` error.
    Eval(EvalError),
    /// An `aiops-alerts` error.
    Alerts(AlertError),
    /// An `aiops-logs` error.
    Logs(LogError),
    /// An `aiops-integrations` error.
    Integration(IntegrationError),
    /// An error building a detector or checking a parameter: always `InvalidParameterError`.
    Param(String),
    /// Malformed input found by the binding itself (JSON of `from_json`, pickled state).
    Parse(String),
    /// Anything else: a plain `AiopsError`.
    Other(String),
    /// A Python exception, passed through.
    Py(PyErr),
}

impl Error {
    /// The error as an invalid parameter, whatever its kind.
    pub(crate) fn param(e: impl std::fmt::Display) -> Self {
        Error::Param(e.to_string())
    }

    /// Prefixes a forecasting error with where it happened.
    pub(crate) fn context(self, what: &str) -> Self {
        match self {
            Error::Forecast(e) => Error::ForecastAt(e, what.to_string()),
            other => other,
        }
    }

    /// Names the file an IO error is about.
    pub(crate) fn at(self, path: &Path) -> Self {
        match self {
            Error::Core(e) => Error::CoreAt(e, path.display().to_string()),
            other => other,
        }
    }
}

impl From<CoreError> for Error {
    fn from(e: CoreError) -> Self {
        Error::Core(e)
    }
}

impl From<DetectError> for Error {
    fn from(e: DetectError) -> Self {
        Error::Detect(e)
    }
}

impl From<ForecastError> for Error {
    fn from(e: ForecastError) -> Self {
        Error::Forecast(e)
    }
}

impl From<RcaError> for Error {
    fn from(e: RcaError) -> Self {
        Error::Rca(e)
    }
}

impl From<EvalError> for Error {
    fn from(e: EvalError) -> Self {
        Error::Eval(e)
    }
}

impl From<LogError> for Error {
    fn from(e: LogError) -> Self {
        Error::Logs(e)
    }
}

impl From<AlertError> for Error {
    fn from(e: AlertError) -> Self {
        Error::Alerts(e)
    }
}

impl From<IntegrationError> for Error {
    fn from(e: IntegrationError) -> Self {
        Error::Integration(e)
    }
}

impl From<PyErr> for Error {
    fn from(e: PyErr) -> Self {
        Error::Py(e)
    }
}

fn core_kind(e: &CoreError) -> Kind {
    match e {
        CoreError::Empty(_)
        | CoreError::LengthMismatch { .. }
        | CoreError::Unsorted { .. }
        | CoreError::DuplicateTimestamp { .. }
        | CoreError::NonFinite { .. }
        | CoreError::InvalidLabelName(_)
        | CoreError::EmptyLabelValue(_)
        | CoreError::DuplicateLabel(_)
        | CoreError::InvalidTopology(_)
        | CoreError::UnknownResource(_)
        | CoreError::RunsOnCycle(_)
        | CoreError::SeriesCount { .. } => Kind::InvalidInput,
        CoreError::InvalidParameter { .. }
        | CoreError::UnknownVariant { .. }
        | CoreError::InvalidDuration { .. } => Kind::InvalidParameter,
        CoreError::InvalidTimestamp { .. }
        | CoreError::Csv { .. }
        | CoreError::Json { .. }
        | CoreError::NotANumber { .. }
        | CoreError::Prometheus(_) => Kind::Parse,
        _ => Kind::Aiops,
    }
}

fn detect_kind(e: &DetectError) -> Kind {
    match e {
        DetectError::InvalidParameter { .. }
        | DetectError::InconsistentBounds { .. }
        | DetectError::UnknownDetector { .. }
        | DetectError::BadParams { .. } => Kind::InvalidParameter,
        DetectError::Data { .. } => Kind::Parse,
        DetectError::OutOfOrder { .. }
        | DetectError::NonFinite { .. }
        | DetectError::DimensionMismatch { .. }
        | DetectError::OutOfRange { .. } => Kind::InvalidInput,
        DetectError::Core(c) => core_kind(c),
        _ => Kind::Aiops,
    }
}

fn forecast_kind(e: &ForecastError) -> Kind {
    match e {
        ForecastError::NotEnoughData { .. } | ForecastError::NonPositive { .. } => {
            Kind::InvalidInput
        }
        ForecastError::InvalidParameter { .. } | ForecastError::UnknownModel { .. } => {
            Kind::InvalidParameter
        }
        ForecastError::Core(c) => core_kind(c),
        _ => Kind::Aiops,
    }
}

fn rca_kind(e: &RcaError) -> Kind {
    match e {
        RcaError::Config(_) | RcaError::Runbook { .. } => Kind::Parse,
        RcaError::InvalidParameter { .. } => Kind::InvalidParameter,
        RcaError::BadColumnName { .. }
        | RcaError::UnknownColumnResource { .. }
        | RcaError::MetricShape(_)
        | RcaError::EmptyColumn { .. }
        | RcaError::AllConstant
        | RcaError::NotEnoughData(_)
        | RcaError::AnomalyTimeOutside { .. }
        | RcaError::NoChangeFound(_) => Kind::InvalidInput,
        RcaError::UnknownMethod { .. } => Kind::InvalidParameter,
        RcaError::UnknownVariable { .. } | RcaError::ContradictoryConstraints(_) => {
            Kind::InvalidParameter
        }
        RcaError::NonFiniteValue { .. }
        | RcaError::ConstantVariable(_)
        | RcaError::CollinearVariables(_)
        | RcaError::NotEnoughSamples { .. }
        | RcaError::DimensionMismatch { .. } => Kind::InvalidInput,
        RcaError::Core(c) => core_kind(c),
        _ => Kind::Aiops,
    }
}

fn log_kind(e: &LogError) -> Kind {
    match e {
        LogError::InvalidParameter { .. }
        | LogError::BadParams { .. }
        | LogError::LogFormat { .. }
        | LogError::Mask { .. } => Kind::InvalidParameter,
        LogError::Read { .. } => Kind::Parse,
        LogError::Detect(d) => detect_kind(d),
        LogError::Core(c) => core_kind(c),
        _ => Kind::Aiops,
    }
}

fn alert_kind(e: &AlertError) -> Kind {
    match e {
        AlertError::MatcherSyntax { .. } | AlertError::Config(_) => Kind::Parse,
        AlertError::InvalidRegex { .. } | AlertError::InvalidParameter { .. } => {
            Kind::InvalidParameter
        }
        AlertError::Core(c) => core_kind(c),
        _ => Kind::Aiops,
    }
}

fn integration_kind(e: &IntegrationError) -> Kind {
    match e {
        IntegrationError::Payload { .. } => Kind::Parse,
        IntegrationError::Core(c) => core_kind(c),
        _ => Kind::Aiops,
    }
}

fn eval_kind(e: &EvalError) -> Kind {
    match e {
        // As the NAB and M4 harnesses raised them before they moved to aiops-eval.
        EvalError::InvalidParameter { .. } => Kind::InvalidParameter,
        EvalError::Data { .. } => Kind::Aiops,
        EvalError::Detect(d) => detect_kind(d),
        EvalError::Forecast(f) => forecast_kind(f),
        EvalError::Core(c) => core_kind(c),
        EvalError::Alerts(a) => alert_kind(a),
        EvalError::Logs(l) => log_kind(l),
        _ => Kind::Aiops,
    }
}

/// `OSError(errno, strerror, filename)` when the OS gave an error number, else `OSError(msg)`.
fn io_error(py: Python<'_>, e: &io::Error, path: Option<String>) -> PyResult<PyErr> {
    let ex = exceptions(py)?;
    let class = if e.kind() == io::ErrorKind::NotFound {
        &ex.file_not_found
    } else {
        &ex.io
    };
    let class = class.bind(py).clone();
    Ok(match (e.raw_os_error(), path) {
        (Some(errno), Some(path)) => {
            let text = e.to_string();
            // Python prints "[Errno 2] No such file or directory: 'x'": drop Rust's own suffix.
            let suffix = format!(" (os error {errno})");
            let strerror = text.strip_suffix(&suffix).unwrap_or(&text).to_string();
            PyErr::from_type(class, (errno, strerror, path))
        }
        (_, Some(path)) => PyErr::from_type(class, format!("{e}: {path:?}")),
        (_, None) => PyErr::from_type(class, e.to_string()),
    })
}

fn to_pyerr(py: Python<'_>, e: Error) -> PyResult<PyErr> {
    let (kind, message) = match e {
        Error::Py(e) => return Ok(e),
        Error::Core(CoreError::Io(io)) => return io_error(py, &io, None),
        Error::CoreAt(CoreError::Io(io), path) => return io_error(py, &io, Some(path)),
        Error::Detect(DetectError::Core(CoreError::Io(io))) => return io_error(py, &io, None),
        Error::Core(e) | Error::CoreAt(e, _) => (core_kind(&e), e.to_string()),
        Error::Detect(e) => (detect_kind(&e), e.to_string()),
        Error::Forecast(ForecastError::Core(CoreError::Io(io))) => return io_error(py, &io, None),
        Error::Forecast(e) => (forecast_kind(&e), e.to_string()),
        Error::ForecastAt(e, at) => (forecast_kind(&e), format!("{at}: {e}")),
        Error::Rca(RcaError::Core(CoreError::Io(io))) => return io_error(py, &io, None),
        Error::Rca(RcaError::Io { path, source }) => {
            return io_error(py, &source, Some(path.display().to_string()));
        }
        Error::Rca(e) => (rca_kind(&e), e.to_string()),
        Error::Eval(
            EvalError::Core(CoreError::Io(io))
            | EvalError::Detect(DetectError::Core(CoreError::Io(io)))
            | EvalError::Forecast(ForecastError::Core(CoreError::Io(io))),
        ) => return io_error(py, &io, None),
        Error::Eval(e) => (eval_kind(&e), e.to_string()),
        Error::Alerts(AlertError::Core(CoreError::Io(io)))
        | Error::Integration(IntegrationError::Core(CoreError::Io(io))) => {
            return io_error(py, &io, None);
        }
        Error::Alerts(e) => (alert_kind(&e), e.to_string()),
        Error::Logs(e) => (log_kind(&e), e.to_string()),
        Error::Integration(e) => (integration_kind(&e), e.to_string()),
        Error::Param(m) => (Kind::InvalidParameter, m),
        Error::Parse(m) => (Kind::Parse, m),
        Error::Other(m) => (Kind::Aiops, m),
    };
    let ex = exceptions(py)?;
    let class = match kind {
        Kind::Aiops => &ex.aiops,
        Kind::InvalidInput => &ex.invalid_input,
        Kind::Parse => &ex.parse,
        Kind::InvalidParameter => &ex.invalid_parameter,
    };
    Ok(PyErr::from_type(class.bind(py).clone(), message))
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        Python::attach(|py| to_pyerr(py, e).unwrap_or_else(|creating| creating))
    }
}

/// Result of the binding functions.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;
