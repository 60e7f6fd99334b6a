//! Readers: CSV, wide CSV, JSON lines and Prometheus `query_range` responses.
//!
//! Parsing runs with the GIL released.

use std::path::PathBuf;

use aiops_core::DedupPolicy;
use aiops_core::io::ReadOptions;
use aiops_core::io::{csv, jsonl, prometheus};
use numpy::ndarray::{Array2, ShapeBuilder};
use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::prelude::*;

use crate::errors::{Error, Result};
use crate::series::{PyTimeSeries, parse_variant};

/// Reader options from the Python arguments; `sort` is None or a `DedupPolicy` spelling.
fn options(allow_missing: bool, sort: Option<&str>) -> Result<ReadOptions> {
    let sort = match sort {
        Some(s) => Some(parse_variant!(DedupPolicy, "sort", s)?),
        None => None,
    };
    Ok(ReadOptions {
        allow_missing,
        sort,
    })
}

/// Reads a `timestamp,value` CSV file (header optional) into a TimeSeries.
///
/// Timestamps may be RFC 3339, `YYYY-MM-DD HH:MM:SS` (UTC) or unix seconds / milliseconds.
/// `allow_missing` reads empty / NaN / null values as NaN gaps instead of refusing them.
/// `sort` = None requires strictly increasing timestamps; "error", "first", "last" or "mean"
/// sorts the points and resolves duplicate timestamps that way ("error" refuses them).
///
/// Raises ParseError (with the line number) for malformed input, InvalidInputError for an
/// empty file, AiopsIOError (an OSError) when the file cannot be read.
#[pyfunction]
#[pyo3(signature = (path, allow_missing=false, sort=None))]
pub(crate) fn read_csv(
    py: Python<'_>,
    path: PathBuf,
    allow_missing: bool,
    sort: Option<&str>,
) -> Result<PyTimeSeries> {
    let opts = options(allow_missing, sort)?;
    let read = py.detach(|| csv::read_series_path(&path, &opts));
    Ok(read.map_err(|e| Error::from(e).at(&path))?.series.into())
}

/// Reads `timestamp,value` CSV from a string; see `read_csv`.
#[pyfunction]
#[pyo3(signature = (text, allow_missing=false, sort=None))]
pub(crate) fn read_csv_text(
    py: Python<'_>,
    text: &str,
    allow_missing: bool,
    sort: Option<&str>,
) -> Result<PyTimeSeries> {
    let opts = options(allow_missing, sort)?;
    Ok(py
        .detach(|| csv::read_series(text.as_bytes(), &opts))?
        .series
        .into())
}

/// Reads a wide CSV file: a header `timestamp,<name>,<name>...`, then one row per timestamp.
///
/// Returns `(timestamps, names, values)`: int64 ms, the column names, and a float64 array of
/// shape (rows, columns) in which an empty cell is NaN. Options as for `read_csv`
/// (`allow_missing` is implied for the cells of a wide file).
#[pyfunction]
#[pyo3(signature = (path, allow_missing=false, sort=None))]
#[allow(clippy::type_complexity)]
pub(crate) fn read_wide_csv<'py>(
    py: Python<'py>,
    path: PathBuf,
    allow_missing: bool,
    sort: Option<&str>,
) -> Result<(
    Bound<'py, PyArray1<i64>>,
    Vec<String>,
    Bound<'py, PyArray2<f64>>,
)> {
    let opts = options(allow_missing, sort)?;
    let (timestamps, names, matrix) = py.detach(|| {
        let table = csv::read_wide_path(&path, &opts).map_err(|e| Error::from(e).at(&path))?;
        let shape = (table.timestamps.len(), table.names.len());
        // Column-major, so each column stays contiguous and only one copy is made.
        let flat: Vec<f64> = table.columns.into_iter().flatten().collect();
        let matrix = Array2::from_shape_vec(shape.f(), flat)
            .map_err(|e| Error::Other(format!("wide CSV columns: {e}")))?;
        Ok::<_, Error>((table.timestamps, table.names, matrix))
    })?;
    Ok((timestamps.into_pyarray(py), names, matrix.into_pyarray(py)))
}

/// Reads a JSON lines file, one point per line:
/// `{"timestamp": ..., "value": ..., "labels": {...}}`.
///
/// Returns one TimeSeries per distinct label set, in order of first appearance. Options as for
/// `read_csv`.
#[pyfunction]
#[pyo3(signature = (path, allow_missing=false, sort=None))]
pub(crate) fn read_jsonl(
    py: Python<'_>,
    path: PathBuf,
    allow_missing: bool,
    sort: Option<&str>,
) -> Result<Vec<PyTimeSeries>> {
    let opts = options(allow_missing, sort)?;
    let series = py
        .detach(|| jsonl::read_series_path(&path, &opts))
        .map_err(|e| Error::from(e).at(&path))?;
    Ok(series.into_iter().map(PyTimeSeries::from).collect())
}

/// Parses the JSON of a Prometheus `/api/v1/query_range` response (a matrix) into one
/// TimeSeries per result. NaN and ±Inf values are kept as they are.
///
/// Raises ParseError for malformed JSON or an error / non-matrix response.
#[pyfunction]
pub(crate) fn read_prometheus_matrix(py: Python<'_>, text: &str) -> Result<Vec<PyTimeSeries>> {
    let series = py.detach(|| prometheus::read_query_range(text))?;
    Ok(series.into_iter().map(PyTimeSeries::from).collect())
}
