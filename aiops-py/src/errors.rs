//! The Python exception hierarchy and the mapping of the Rust errors onto it.
//!
//! ```text
//! AiopsError(Exception)
//! ├── InvalidInputError(AiopsError, ValueError)
//! │   ├── ParseError                 malformed CSV / JSON / YAML / Prometheus text
//! │   │   ├── ConfigError            an invalid configuration (alert engine, RCA)
//! │   │   └── SnapshotError          a snapshot or pickled state that cannot be restored
//! │   ├── InvalidParameterError      a parameter out of range or unknown
//! │   ├── UnknownResourceError       a resource that is not in the topology
//! │   └── NotEnoughDataError         too few points or samples for the algorithm
//! ├── ModelFitError(AiopsError)      a forecasting model could not be fitted
//! ├── RemoteError(AiopsError)        an external system unreachable or refusing a request
//! └── AiopsIOError(AiopsError, OSError)
//!     └── AiopsFileNotFoundError(AiopsIOError, FileNotFoundError)
//! ```
//!
//! Every variant of every crate's error enum is mapped by a `match` without a catch-all arm
//! (the enums are exhaustive on purpose), so a new variant does not compile until it is given
//! its class. Each mapping also numbers the variants; `_error_variants()` turns one value of
//! each variant into its exception, and the test suite checks that every number appears and
//! that no variant ends in the bare `AiopsError`.
//!
//! `create_exception!` takes a single base, and several of these classes need two (so that
//! `except ValueError` / `except OSError` keep working), so every class is made the way a Python
//! `class` statement makes it: by calling `type(name, bases, namespace)`, once per process.

use std::io;
use std::path::{Path, PathBuf};

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
    /// `ConfigError`.
    pub(crate) config: Py<PyType>,
    /// `SnapshotError`.
    pub(crate) snapshot: Py<PyType>,
    /// `InvalidParameterError`.
    pub(crate) invalid_parameter: Py<PyType>,
    /// `UnknownResourceError`.
    pub(crate) unknown_resource: Py<PyType>,
    /// `NotEnoughDataError`.
    pub(crate) not_enough_data: Py<PyType>,
    /// `ModelFitError`.
    pub(crate) model_fit: Py<PyType>,
    /// `RemoteError`.
    pub(crate) remote: Py<PyType>,
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
        "Malformed CSV, JSON, YAML or Prometheus input; the message names the line.",
        &[invalid_input.bind(py)],
    )?;
    let config = new_class(
        py,
        "ConfigError",
        "An invalid configuration: the alert engine's YAML or dict, an RCA or causal \
         discovery configuration. Also a ParseError.",
        &[parse.bind(py)],
    )?;
    let snapshot = new_class(
        py,
        "SnapshotError",
        "A snapshot or pickled state that cannot be restored. Also a ParseError.",
        &[parse.bind(py)],
    )?;
    let invalid_parameter = new_class(
        py,
        "InvalidParameterError",
        "A parameter is out of its valid range or unknown.",
        &[invalid_input.bind(py)],
    )?;
    let unknown_resource = new_class(
        py,
        "UnknownResourceError",
        "A resource (or a metric column's resource) that is not in the topology.",
        &[invalid_input.bind(py)],
    )?;
    let not_enough_data = new_class(
        py,
        "NotEnoughDataError",
        "Too few points or samples for the algorithm (an empty series included).",
        &[invalid_input.bind(py)],
    )?;
    let model_fit = new_class(
        py,
        "ModelFitError",
        "A forecasting model could not be fitted to otherwise valid data.",
        &[aiops.bind(py)],
    )?;
    let remote = new_class(
        py,
        "RemoteError",
        "An external system (Prometheus...) could not be reached, or refused the request: an \
         HTTP error or an error answer of its own, with its message.",
        &[aiops.bind(py)],
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
        config,
        snapshot,
        invalid_parameter,
        unknown_resource,
        not_enough_data,
        model_fit,
        remote,
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
        &e.config,
        &e.snapshot,
        &e.invalid_parameter,
        &e.unknown_resource,
        &e.not_enough_data,
        &e.model_fit,
        &e.remote,
        &e.io,
        &e.file_not_found,
    ] {
        let class = class.bind(py);
        m.add(class.name()?, class)?;
    }
    Ok(())
}

/// Which Python class an error becomes.
#[derive(Debug)]
enum Kind<'a> {
    /// `AiopsError` itself: only for the binding's own internal failures.
    Aiops,
    InvalidInput,
    Parse,
    Config,
    Snapshot,
    InvalidParameter,
    UnknownResource,
    NotEnoughData,
    ModelFit,
    Remote,
    /// `AiopsIOError` / `AiopsFileNotFoundError`, about this file when known.
    Io(&'a io::Error, Option<&'a Path>),
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
    CoreAt(CoreError, PathBuf),
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
    /// Malformed input found by the binding itself.
    Parse(String),
    /// A configuration the binding could not read (a dict or file of the wrong shape).
    Config(String),
    /// A snapshot or pickled state the binding could not read.
    Snapshot(String),
    /// Anything else: a plain `AiopsError` (internal failures only).
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
            Error::Core(e) => Error::CoreAt(e, path.to_path_buf()),
            other => other,
        }
    }

    /// An IO error reading `path`.
    pub(crate) fn io(e: io::Error, path: &Path) -> Self {
        Error::CoreAt(CoreError::Io(e), path.to_path_buf())
    }
}

macro_rules! from_crate_error {
    ($($ty:ty => $variant:ident),* $(,)?) => {
        $(impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Error::$variant(e)
            }
        })*
    };
}

from_crate_error!(
    CoreError => Core,
    DetectError => Detect,
    ForecastError => Forecast,
    RcaError => Rca,
    EvalError => Eval,
    LogError => Logs,
    AlertError => Alerts,
    IntegrationError => Integration,
    PyErr => Py,
);

// One function per crate error: `(variant number, class)`. No `_` arm anywhere: a new variant
// does not compile until it is mapped here and given the next number (the `*_VARIANTS`
// constant then grows, and the test suite asks for a sample of it).

/// Variants of `CoreError`.
const CORE_VARIANTS: usize = 21;

fn core_kind(e: &CoreError) -> (usize, Kind<'_>) {
    match e {
        CoreError::Empty(_) => (0, Kind::NotEnoughData),
        CoreError::LengthMismatch { .. } => (1, Kind::InvalidInput),
        CoreError::Unsorted { .. } => (2, Kind::InvalidInput),
        CoreError::DuplicateTimestamp { .. } => (3, Kind::InvalidInput),
        CoreError::NonFinite { .. } => (4, Kind::InvalidInput),
        CoreError::InvalidLabelName(_) => (5, Kind::InvalidInput),
        CoreError::EmptyLabelValue(_) => (6, Kind::InvalidInput),
        CoreError::DuplicateLabel(_) => (7, Kind::InvalidInput),
        CoreError::InvalidParameter { .. } => (8, Kind::InvalidParameter),
        CoreError::InvalidTimestamp { .. } => (9, Kind::Parse),
        CoreError::InvalidDuration { .. } => (10, Kind::InvalidParameter),
        CoreError::UnknownVariant { .. } => (11, Kind::InvalidParameter),
        CoreError::InvalidTopology(_) => (12, Kind::InvalidInput),
        CoreError::UnknownResource(_) => (13, Kind::UnknownResource),
        CoreError::RunsOnCycle(_) => (14, Kind::InvalidInput),
        CoreError::Csv { .. } => (15, Kind::Parse),
        CoreError::NotANumber { .. } => (16, Kind::Parse),
        CoreError::SeriesCount { .. } => (17, Kind::InvalidInput),
        CoreError::Json { .. } => (18, Kind::Parse),
        CoreError::Prometheus(_) => (19, Kind::Parse),
        CoreError::Io(io) => (20, Kind::Io(io, None)),
    }
}

/// Variants of `DetectError`.
const DETECT_VARIANTS: usize = 11;

fn detect_kind(e: &DetectError) -> (usize, Kind<'_>) {
    match e {
        DetectError::InvalidParameter { .. } => (0, Kind::InvalidParameter),
        DetectError::InconsistentBounds { .. } => (1, Kind::InvalidParameter),
        DetectError::UnknownDetector { .. } => (2, Kind::InvalidParameter),
        DetectError::BadParams { .. } => (3, Kind::InvalidParameter),
        DetectError::OutOfOrder { .. } => (4, Kind::InvalidInput),
        DetectError::NonFinite { .. } => (5, Kind::InvalidInput),
        DetectError::DimensionMismatch { .. } => (6, Kind::InvalidInput),
        DetectError::OutOfRange { .. } => (7, Kind::InvalidInput),
        DetectError::Snapshot(_) => (8, Kind::Snapshot),
        DetectError::Data { .. } => (9, Kind::Parse),
        DetectError::Core(c) => (10, core_kind(c).1),
    }
}

/// Variants of `LogError`.
const LOG_VARIANTS: usize = 8;

fn log_kind(e: &LogError) -> (usize, Kind<'_>) {
    match e {
        LogError::InvalidParameter { .. } => (0, Kind::InvalidParameter),
        LogError::BadParams { .. } => (1, Kind::InvalidParameter),
        LogError::LogFormat { .. } => (2, Kind::InvalidParameter),
        LogError::Mask { .. } => (3, Kind::InvalidParameter),
        LogError::Snapshot(_) => (4, Kind::Snapshot),
        LogError::Read { .. } => (5, Kind::Parse),
        LogError::Detect(d) => (6, detect_kind(d).1),
        LogError::Core(c) => (7, core_kind(c).1),
    }
}

/// Variants of `AlertError`.
const ALERT_VARIANTS: usize = 5;

fn alert_kind(e: &AlertError) -> (usize, Kind<'_>) {
    match e {
        AlertError::MatcherSyntax { .. } => (0, Kind::Parse),
        AlertError::InvalidRegex { .. } => (1, Kind::InvalidParameter),
        AlertError::InvalidParameter { .. } => (2, Kind::InvalidParameter),
        AlertError::Config(_) => (3, Kind::Config),
        AlertError::Core(c) => (4, core_kind(c).1),
    }
}

/// Variants of `RcaError`.
const RCA_VARIANTS: usize = 21;

fn rca_kind(e: &RcaError) -> (usize, Kind<'_>) {
    match e {
        RcaError::InvalidParameter { .. } => (0, Kind::InvalidParameter),
        RcaError::Config(_) => (1, Kind::Config),
        RcaError::BadColumnName { .. } => (2, Kind::InvalidInput),
        RcaError::UnknownColumnResource { .. } => (3, Kind::UnknownResource),
        RcaError::MetricShape(_) => (4, Kind::InvalidInput),
        RcaError::EmptyColumn { .. } => (5, Kind::InvalidInput),
        RcaError::AllConstant => (6, Kind::InvalidInput),
        RcaError::NotEnoughData(_) => (7, Kind::NotEnoughData),
        RcaError::AnomalyTimeOutside { .. } => (8, Kind::InvalidInput),
        RcaError::NoChangeFound(_) => (9, Kind::InvalidInput),
        RcaError::UnknownMethod { .. } => (10, Kind::InvalidParameter),
        RcaError::NonFiniteValue { .. } => (11, Kind::InvalidInput),
        RcaError::ConstantVariable(_) => (12, Kind::InvalidInput),
        RcaError::CollinearVariables(_) => (13, Kind::InvalidInput),
        RcaError::NotEnoughSamples { .. } => (14, Kind::NotEnoughData),
        RcaError::DimensionMismatch { .. } => (15, Kind::InvalidInput),
        RcaError::UnknownVariable { .. } => (16, Kind::InvalidParameter),
        RcaError::ContradictoryConstraints(_) => (17, Kind::InvalidParameter),
        RcaError::Runbook { .. } => (18, Kind::Parse),
        RcaError::Io { path, source } => (19, Kind::Io(source, Some(path))),
        RcaError::Core(c) => (20, core_kind(c).1),
    }
}

/// Variants of `ForecastError`.
const FORECAST_VARIANTS: usize = 6;

fn forecast_kind(e: &ForecastError) -> (usize, Kind<'_>) {
    match e {
        ForecastError::NotEnoughData { .. } => (0, Kind::NotEnoughData),
        ForecastError::InvalidParameter { .. } => (1, Kind::InvalidParameter),
        ForecastError::NonPositive { .. } => (2, Kind::InvalidInput),
        ForecastError::FitFailed { .. } => (3, Kind::ModelFit),
        ForecastError::UnknownModel { .. } => (4, Kind::InvalidParameter),
        ForecastError::Core(c) => (5, core_kind(c).1),
    }
}

/// Variants of `EvalError`.
const EVAL_VARIANTS: usize = 10;

fn eval_kind(e: &EvalError) -> (usize, Kind<'_>) {
    match e {
        EvalError::Data { .. } => (0, Kind::Parse),
        EvalError::InvalidParameter { .. } => (1, Kind::InvalidParameter),
        EvalError::Invalid { .. } => (2, Kind::InvalidInput),
        EvalError::Malformed { .. } => (3, Kind::Parse),
        EvalError::Rca(r) => (4, rca_kind(r).1),
        EvalError::Alerts(a) => (5, alert_kind(a).1),
        EvalError::Detect(d) => (6, detect_kind(d).1),
        EvalError::Logs(l) => (7, log_kind(l).1),
        EvalError::Forecast(f) => (8, forecast_kind(f).1),
        EvalError::Core(c) => (9, core_kind(c).1),
    }
}

/// Variants of `IntegrationError`.
const INTEGRATION_VARIANTS: usize = 11;

fn integration_kind(e: &IntegrationError) -> (usize, Kind<'_>) {
    match e {
        IntegrationError::Payload { .. } => (0, Kind::Parse),
        IntegrationError::Core(c) => (1, core_kind(c).1),
        IntegrationError::Decompress { .. } => (2, Kind::Parse),
        IntegrationError::TooLarge { .. } => (3, Kind::InvalidInput),
        IntegrationError::Protobuf { .. } => (4, Kind::Parse),
        IntegrationError::Series { .. } => (5, Kind::InvalidInput),
        IntegrationError::Config { .. } => (6, Kind::Config),
        IntegrationError::Unreachable { .. } => (7, Kind::Remote),
        IntegrationError::Status { .. } => (8, Kind::Remote),
        IntegrationError::Remote { .. } => (9, Kind::Remote),
        IntegrationError::Bus { .. } => (10, Kind::Remote),
    }
}

/// `OSError(errno, strerror, filename)` when the OS gave an error number, else `OSError(msg)`.
fn io_error(py: Python<'_>, e: &io::Error, path: Option<&Path>) -> PyResult<PyErr> {
    let ex = exceptions(py)?;
    let class = if e.kind() == io::ErrorKind::NotFound {
        &ex.file_not_found
    } else {
        &ex.io
    };
    let class = class.bind(py).clone();
    let path = path.map(|p| p.display().to_string());
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

fn make(py: Python<'_>, kind: Kind<'_>, path: Option<&Path>, message: String) -> PyResult<PyErr> {
    let ex = exceptions(py)?;
    let class = match kind {
        Kind::Io(io, at) => return io_error(py, io, at.or(path)),
        Kind::Aiops => &ex.aiops,
        Kind::InvalidInput => &ex.invalid_input,
        Kind::Parse => &ex.parse,
        Kind::Config => &ex.config,
        Kind::Snapshot => &ex.snapshot,
        Kind::InvalidParameter => &ex.invalid_parameter,
        Kind::UnknownResource => &ex.unknown_resource,
        Kind::NotEnoughData => &ex.not_enough_data,
        Kind::ModelFit => &ex.model_fit,
        Kind::Remote => &ex.remote,
    };
    Ok(PyErr::from_type(class.bind(py).clone(), message))
}

fn to_pyerr(py: Python<'_>, e: Error) -> PyResult<PyErr> {
    match e {
        Error::Py(e) => Ok(e),
        Error::Core(e) => make(py, core_kind(&e).1, None, e.to_string()),
        Error::CoreAt(e, path) => make(py, core_kind(&e).1, Some(&path), e.to_string()),
        Error::Detect(e) => make(py, detect_kind(&e).1, None, e.to_string()),
        Error::Forecast(e) => make(py, forecast_kind(&e).1, None, e.to_string()),
        Error::ForecastAt(e, at) => make(py, forecast_kind(&e).1, None, format!("{at}: {e}")),
        Error::Rca(e) => make(py, rca_kind(&e).1, None, e.to_string()),
        Error::Eval(e) => make(py, eval_kind(&e).1, None, e.to_string()),
        Error::Alerts(e) => make(py, alert_kind(&e).1, None, e.to_string()),
        Error::Logs(e) => make(py, log_kind(&e).1, None, e.to_string()),
        Error::Integration(e) => make(py, integration_kind(&e).1, None, e.to_string()),
        Error::Param(m) => make(py, Kind::InvalidParameter, None, m),
        Error::Parse(m) => make(py, Kind::Parse, None, m),
        Error::Config(m) => make(py, Kind::Config, None, m),
        Error::Snapshot(m) => make(py, Kind::Snapshot, None, m),
        Error::Other(m) => make(py, Kind::Aiops, None, m),
    }
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        Python::attach(|py| to_pyerr(py, e).unwrap_or_else(|creating| creating))
    }
}

/// Result of the binding functions.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// One value of every variant of every crate error, for the exhaustiveness test.
fn samples() -> Vec<(&'static str, usize, usize, Error)> {
    let s = || "x".to_string();
    let io = || io::Error::new(io::ErrorKind::PermissionDenied, "denied");
    let core = || CoreError::Empty(s());
    let core_all = vec![
        CoreError::Empty(s()),
        CoreError::LengthMismatch {
            timestamps: 1,
            values: 2,
        },
        CoreError::Unsorted {
            index: 1,
            timestamp: 1,
            previous: 2,
        },
        CoreError::DuplicateTimestamp {
            index: 1,
            timestamp: 1,
        },
        CoreError::NonFinite {
            index: 0,
            timestamp: 0,
            value: f64::NAN,
        },
        CoreError::InvalidLabelName(s()),
        CoreError::EmptyLabelValue(s()),
        CoreError::DuplicateLabel(s()),
        CoreError::InvalidParameter {
            name: "x",
            reason: s(),
        },
        CoreError::InvalidTimestamp { text: s() },
        CoreError::InvalidDuration {
            text: s(),
            reason: s(),
        },
        CoreError::UnknownVariant {
            what: "x",
            text: s(),
            expected: "y",
        },
        CoreError::InvalidTopology(s()),
        CoreError::UnknownResource(s()),
        CoreError::RunsOnCycle(s()),
        CoreError::Csv {
            line: 1,
            message: s(),
        },
        CoreError::NotANumber { line: 1, text: s() },
        CoreError::SeriesCount { found: 2 },
        CoreError::Json {
            line: None,
            message: s(),
        },
        CoreError::Prometheus(s()),
        CoreError::Io(io()),
    ];
    let detect_all = vec![
        DetectError::InvalidParameter {
            name: "x",
            reason: s(),
        },
        DetectError::InconsistentBounds {
            lower: 1.0,
            upper: 0.0,
        },
        DetectError::UnknownDetector {
            name: s(),
            known: s(),
        },
        DetectError::BadParams {
            detector: "x",
            message: s(),
        },
        DetectError::OutOfOrder {
            timestamp: 1,
            previous: 2,
        },
        DetectError::NonFinite {
            timestamp: 1,
            value: f64::NAN,
        },
        DetectError::DimensionMismatch {
            timestamp: 1,
            expected: 2,
            found: 1,
        },
        DetectError::OutOfRange {
            timestamp: 1,
            value: 1e300,
            limit: 1e150,
        },
        DetectError::Snapshot(s()),
        DetectError::Data {
            path: s(),
            reason: s(),
        },
        DetectError::Core(core()),
    ];
    let log_all = vec![
        LogError::InvalidParameter {
            name: "x",
            reason: s(),
        },
        LogError::BadParams { message: s() },
        LogError::LogFormat {
            format: s(),
            reason: s(),
        },
        LogError::Mask {
            pattern: s(),
            reason: s(),
        },
        LogError::Snapshot(s()),
        LogError::Read {
            path: s(),
            reason: s(),
        },
        LogError::Detect(DetectError::Snapshot(s())),
        LogError::Core(core()),
    ];
    let alert_all = vec![
        AlertError::MatcherSyntax {
            input: s(),
            position: 0,
            reason: s(),
        },
        AlertError::InvalidRegex {
            label: s(),
            pattern: s(),
            message: s(),
        },
        AlertError::InvalidParameter {
            name: "x",
            reason: s(),
        },
        AlertError::Config(s()),
        AlertError::Core(core()),
    ];
    let rca_all = vec![
        RcaError::InvalidParameter {
            name: "x",
            reason: s(),
        },
        RcaError::Config(s()),
        RcaError::BadColumnName { column: s() },
        RcaError::UnknownColumnResource {
            column: s(),
            resource: s(),
        },
        RcaError::MetricShape(s()),
        RcaError::EmptyColumn { column: s() },
        RcaError::AllConstant,
        RcaError::NotEnoughData(s()),
        RcaError::AnomalyTimeOutside {
            time: 0,
            first: 1,
            last: 2,
            reason: s(),
        },
        RcaError::NoChangeFound(s()),
        RcaError::UnknownMethod {
            name: s(),
            known: s(),
        },
        RcaError::NonFiniteValue {
            row: 0,
            variable: s(),
            value: f64::NAN,
        },
        RcaError::ConstantVariable(s()),
        RcaError::CollinearVariables(s()),
        RcaError::NotEnoughSamples {
            samples: 1,
            needed: 2,
            reason: s(),
        },
        RcaError::DimensionMismatch {
            what: "x",
            expected: 1,
            got: 2,
        },
        RcaError::UnknownVariable {
            name: s(),
            context: s(),
            known: s(),
        },
        RcaError::ContradictoryConstraints(s()),
        RcaError::Runbook {
            document: s(),
            reason: s(),
        },
        RcaError::Io {
            path: PathBuf::from("x"),
            source: io::Error::from_raw_os_error(2),
        },
        RcaError::Core(core()),
    ];
    let forecast_all = vec![
        ForecastError::NotEnoughData { needed: 2, got: 1 },
        ForecastError::InvalidParameter {
            name: "x",
            reason: s(),
        },
        ForecastError::NonPositive {
            model: "x",
            index: 0,
            value: 0.0,
        },
        ForecastError::FitFailed {
            model: "x",
            reason: s(),
        },
        ForecastError::UnknownModel {
            name: s(),
            known: s(),
        },
        ForecastError::Core(core()),
    ];
    let eval_all = vec![
        EvalError::Data {
            path: s(),
            reason: s(),
        },
        EvalError::InvalidParameter {
            name: "x",
            reason: s(),
        },
        EvalError::Invalid {
            what: "x",
            reason: s(),
        },
        EvalError::Malformed {
            line: 1,
            reason: s(),
        },
        EvalError::Rca(RcaError::AllConstant),
        EvalError::Alerts(AlertError::Config(s())),
        EvalError::Detect(DetectError::Snapshot(s())),
        EvalError::Logs(LogError::Snapshot(s())),
        EvalError::Forecast(ForecastError::NotEnoughData { needed: 2, got: 1 }),
        EvalError::Core(core()),
    ];
    let integration_all = vec![
        IntegrationError::Payload {
            system: "x",
            message: s(),
        },
        IntegrationError::Core(core()),
        IntegrationError::Decompress {
            system: "x",
            reason: s(),
        },
        IntegrationError::TooLarge {
            system: "x",
            size: 2,
            limit: 1,
        },
        IntegrationError::Protobuf {
            system: "x",
            message: "x",
            reason: s(),
        },
        IntegrationError::Series {
            system: "x",
            index: 0,
            reason: s(),
        },
        IntegrationError::Config {
            system: "x",
            key: s(),
            reason: s(),
        },
        IntegrationError::Unreachable {
            system: "x",
            url: s(),
            reason: s(),
            attempts: 1,
        },
        IntegrationError::Status {
            system: "x",
            url: s(),
            status: 500,
            body: s(),
        },
        IntegrationError::Remote {
            system: "x",
            status: 400,
            error_type: s(),
            message: s(),
        },
        IntegrationError::Bus {
            system: "x",
            reason: s(),
        },
    ];
    let mut out = Vec::new();
    macro_rules! push {
        ($name:literal, $list:expr, $kind:ident, $count:expr) => {
            for e in $list {
                let n = $kind(&e).0;
                out.push(($name, n, $count, Error::from(e)));
            }
        };
    }
    push!("CoreError", core_all, core_kind, CORE_VARIANTS);
    push!("DetectError", detect_all, detect_kind, DETECT_VARIANTS);
    push!("LogError", log_all, log_kind, LOG_VARIANTS);
    push!("AlertError", alert_all, alert_kind, ALERT_VARIANTS);
    push!("RcaError", rca_all, rca_kind, RCA_VARIANTS);
    push!(
        "ForecastError",
        forecast_all,
        forecast_kind,
        FORECAST_VARIANTS
    );
    push!("EvalError", eval_all, eval_kind, EVAL_VARIANTS);
    push!(
        "IntegrationError",
        integration_all,
        integration_kind,
        INTEGRATION_VARIANTS
    );
    out
}

/// For the test suite: one exception per variant of every crate error, as
/// `(enum name, variant number, number of variants, exception)`.
#[pyfunction]
pub(crate) fn _error_variants(py: Python<'_>) -> Vec<(&'static str, usize, usize, Py<PyAny>)> {
    samples()
        .into_iter()
        .map(|(name, n, count, e)| {
            let err = PyErr::from(e);
            (name, n, count, err.into_value(py).into_any())
        })
        .collect()
}
