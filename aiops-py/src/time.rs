//! The one timestamp convention of the Python API: int milliseconds since the Unix epoch (UTC).
//!
//! Every argument that is a timestamp, or an array of them, also takes NumPy `datetime64`
//! (any unit: converted by NumPy's own cast to `datetime64[ms]`, which is exact for coarser
//! units and rounds finer ones down to the millisecond), pandas `DatetimeIndex` / `Series` of
//! datetimes / `Timestamp` (time-zone aware ones converted to UTC first), and
//! `datetime.datetime` (naive ones read as UTC, like NumPy does). Numbers are never guessed
//! from their magnitude: an int is milliseconds, and a float is refused.

use aiops_core::TimestampMs;
use numpy::{PyArray1, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString};

use crate::errors::{Error, Result};

/// NumPy's `NaT` as int64.
const NAT: i64 = i64::MIN;

fn type_error(msg: String) -> Error {
    Error::Py(PyTypeError::new_err(msg))
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A pandas object with a time-zone aware datetime dtype, made naive UTC; others unchanged.
fn naive_utc<'py>(obj: &Bound<'py, PyAny>) -> Result<Bound<'py, PyAny>> {
    let Ok(dtype) = obj.getattr("dtype") else {
        return Ok(obj.clone());
    };
    let aware = match dtype.getattr("tz") {
        Ok(tz) => !tz.is_none(),
        Err(_) => false,
    };
    if !aware {
        return Ok(obj.clone());
    }
    // A Series goes through its `.dt` accessor, an Index has the methods itself.
    let target = match obj.getattr("dt") {
        Ok(dt) => dt,
        Err(_) => obj.clone(),
    };
    let utc = target.call_method1("tz_convert", ("UTC",))?;
    let utc = match utc.getattr("dt") {
        Ok(dt) if obj.hasattr("dt")? => dt,
        _ => utc,
    };
    Ok(utc.call_method1("tz_localize", (obj.py().None(),))?)
}

/// A `datetime64` NumPy array or scalar as int64 ms (NaT refused).
fn datetime64_ms<'py>(arr: &Bound<'py, PyAny>, what: &str) -> Result<Bound<'py, PyAny>> {
    let ms = arr
        .call_method1("astype", ("datetime64[ms]",))?
        .call_method1("view", ("int64",))?;
    let is_nat = ms.call_method1("__eq__", (NAT,))?;
    let has_nat: bool = ms
        .py()
        .import("numpy")?
        .call_method1("any", (is_nat,))?
        .extract()?;
    if has_nat {
        return Err(Error::Param(format!("{what}: NaT is not a timestamp")));
    }
    Ok(ms)
}

/// One timestamp as int ms: an int (ms), a NumPy `datetime64`, a pandas `Timestamp`, a
/// `datetime.datetime`, or an RFC 3339 string.
pub(crate) fn ms_scalar(obj: &Bound<'_, PyAny>, what: &str) -> Result<TimestampMs> {
    let py = obj.py();
    if obj.is_instance_of::<PyBool>() {
        return Err(type_error(format!("{what}: a bool is not a timestamp")));
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(obj.extract()?);
    }
    if obj.is_instance_of::<PyFloat>() {
        return Err(type_error(format!(
            "{what}: timestamps are int milliseconds since the epoch or datetimes, got the \
             float {obj}"
        )));
    }
    if let Ok(text) = obj.cast::<PyString>() {
        let text = text.to_cow()?;
        let t = text.trim();
        if t.is_empty()
            || t.chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
        {
            return Err(Error::Param(format!(
                "{what}: {t:?} is not an RFC 3339 time (give numbers as int milliseconds)"
            )));
        }
        return Ok(aiops_core::time::parse_timestamp(t)?.0);
    }
    let np = py.import("numpy")?;
    // pandas.Timestamp: to NumPy (UTC, naive) first; NaT has no usable value.
    if obj.hasattr("to_datetime64")? && obj.hasattr("tz")? {
        let v = obj.call_method0("to_datetime64")?;
        return ms_scalar(&v, what);
    }
    if obj.is_instance(&np.getattr("datetime64")?)? {
        let ms = datetime64_ms(obj, what)?;
        return Ok(ms.extract::<i64>()?);
    }
    let datetime = py.import("datetime")?;
    if obj.is_instance(&datetime.getattr("datetime")?)? {
        let utc = datetime.getattr("timezone")?.getattr("utc")?;
        let aware = if obj.getattr("tzinfo")?.is_none() {
            let kwargs = pyo3::types::PyDict::new(py);
            kwargs.set_item("tzinfo", &utc)?;
            obj.call_method("replace", (), Some(&kwargs))?
        } else {
            obj.clone()
        };
        let epoch = datetime
            .getattr("datetime")?
            .call1((1970, 1, 1, 0, 0, 0, 0, &utc))?;
        let delta = aware.call_method1("__sub__", (epoch,))?;
        let days: i64 = delta.getattr("days")?.extract()?;
        let seconds: i64 = delta.getattr("seconds")?.extract()?;
        let micros: i64 = delta.getattr("microseconds")?.extract()?;
        return Ok(days * 86_400_000 + seconds * 1000 + micros.div_euclid(1000));
    }
    // NumPy integer scalars and anything else with __index__.
    if obj.hasattr("__index__")? {
        return Ok(obj.extract()?);
    }
    Err(type_error(format!(
        "{what}: expected int milliseconds since the epoch, numpy.datetime64, \
         pandas.Timestamp or datetime.datetime, got {}",
        type_name(obj)
    )))
}

/// The dtype kind letter of a NumPy array (`"i"`, `"f"`, `"M"`...).
pub(crate) fn dtype_kind(arr: &Bound<'_, PyAny>) -> Result<String> {
    Ok(arr.getattr("dtype")?.getattr("kind")?.extract()?)
}

/// Whether `obj` looks like an array of floats (a NumPy float array, or a list of floats):
/// used to catch the old `detect(values, timestamps)` order.
pub(crate) fn is_float_array(obj: &Bound<'_, PyAny>) -> bool {
    let Ok(np) = obj.py().import("numpy") else {
        return false;
    };
    if obj.is_none() || obj.is_instance_of::<PyString>() {
        return false;
    }
    match np.call_method1("asarray", (obj,)) {
        Ok(a) => dtype_kind(&a).map(|k| k == "f").unwrap_or(false),
        Err(_) => false,
    }
}

/// An array of timestamps as int ms: ints (ms), NumPy `datetime64` (any unit), pandas
/// `DatetimeIndex` / datetime `Series` (aware ones converted to UTC), or a sequence of
/// timestamps `ms_scalar` reads.
pub(crate) fn ms_array(obj: &Bound<'_, PyAny>, what: &str) -> Result<Vec<TimestampMs>> {
    let py = obj.py();
    let np = py.import("numpy")?;
    let obj = naive_utc(obj)?;
    let arr = np.call_method1("asarray", (obj,))?;
    let ndim: usize = arr.getattr("ndim")?.extract()?;
    if ndim != 1 {
        return Err(Error::Param(format!(
            "{what} must be one-dimensional, got {ndim} dimensions"
        )));
    }
    let kind = dtype_kind(&arr)?;
    let ints = match kind.as_str() {
        "M" => datetime64_ms(&arr, what)?,
        "i" | "u" => arr.call_method1("astype", ("int64",))?,
        "O" => {
            let out = arr
                .try_iter()?
                .map(|x| ms_scalar(&x?, what))
                .collect::<Result<Vec<_>>>()?;
            return Ok(out);
        }
        "f" => {
            return Err(type_error(format!(
                "{what}: timestamps are int milliseconds since the epoch or datetime64, got a \
                 float array"
            )));
        }
        _ => {
            return Err(type_error(format!(
                "{what}: expected int milliseconds since the epoch or datetime64, got dtype {}",
                arr.getattr("dtype")?
            )));
        }
    };
    let ints = ints.cast_into::<PyArray1<i64>>().map_err(PyErr::from)?;
    let ro = ints.readonly();
    debug_assert_eq!(ro.ndim(), 1);
    Ok(match ro.as_slice() {
        Ok(s) => s.to_vec(),
        Err(_) => ro.as_array().to_vec(),
    })
}
