//! Root-cause ranking: the topology as JSON, the metrics as NumPy, the report as JSON text
//! (the `aiops.rca` module turns it into a dict).

use aiops_core::Topology;
use aiops_core::TopologyGraph;
use aiops_core::time::{number_to_ms, parse_timestamp};
use aiops_rca::rank::{Method, MetricFrame, rank};
use numpy::{AllowTypeChange, PyArrayLike1, PyArrayLike2};
use pyo3::prelude::*;

use crate::errors::{Error, Result};

/// The report of `aiops rca` (fields in its order) followed by the notes.
#[derive(serde::Serialize)]
struct WithNotes<'a> {
    #[serde(flatten)]
    report: aiops_rca::rank::Report,
    notes: &'a [String],
}

/// Reads a timestamp given as unix seconds, unix milliseconds (from 1e11) or text.
fn to_ms(t: &Bound<'_, PyAny>) -> Result<i64> {
    if let Ok(s) = t.extract::<String>() {
        return Ok(parse_timestamp(&s)?.0);
    }
    let n: f64 = t
        .extract()
        .map_err(|_| Error::Param("anomaly_time must be a number or a string".into()))?;
    number_to_ms(n)
        .map(|x| x.0)
        .ok_or_else(|| Error::Param(format!("anomaly_time {n} is not a timestamp")))
}

/// Ranks the resources of `topology_json` as the root cause of the incident seen in
/// `values` (shape `(points, columns)`, NaN = missing), whose columns are named
/// `<resource>:<metric>` and whose rows are at `timestamps` (unix seconds, or milliseconds from
/// 1e11). Returns the report as JSON: `anomaly_time`, `method`, `root_causes`, `impact`,
/// `recommended_actions`, plus `notes` (how the time was found, what was filled). The GIL is
/// released while ranking.
#[pyfunction]
#[pyo3(signature = (topology_json, timestamps, values, columns, anomaly_time = None, method = "default"))]
pub(crate) fn rca_rank_json(
    py: Python<'_>,
    topology_json: &str,
    timestamps: PyArrayLike1<'_, f64, AllowTypeChange>,
    values: PyArrayLike2<'_, f64, AllowTypeChange>,
    columns: Vec<String>,
    anomaly_time: Option<&Bound<'_, PyAny>>,
    method: &str,
) -> Result<String> {
    let method: Method = method.parse()?;
    let time = anomaly_time.map(to_ms).transpose()?;
    let ts: Vec<i64> = timestamps
        .as_array()
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            number_to_ms(t)
                .map(|x| x.0)
                .ok_or_else(|| Error::Param(format!("timestamps[{i}] = {t} is not a timestamp")))
        })
        .collect::<Result<_>>()?;
    let v = values.as_array();
    let (rows, cols) = v.dim();
    if rows != ts.len() || cols != columns.len() {
        return Err(Error::Param(format!(
            "values has shape ({rows}, {cols}); expected ({}, {}) = (len(timestamps), len(columns))",
            ts.len(),
            columns.len()
        )));
    }
    let data: Vec<Vec<f64>> = (0..cols).map(|c| v.column(c).to_vec()).collect();
    py.detach(|| -> Result<String> {
        let topology = Topology::from_json(topology_json)?;
        let graph = TopologyGraph::new(&topology)?;
        let frame = MetricFrame::new(&graph, ts, &columns, data)?;
        let ranking = rank(&graph, &frame, time, method)?;
        let out = WithNotes {
            report: ranking.report(Vec::new()),
            notes: &ranking.notes,
        };
        serde_json::to_string(&out).map_err(|e| Error::Other(e.to_string()))
    })
}

/// The ranking methods' names, the default first.
#[pyfunction]
pub(crate) fn rca_method_names() -> Vec<&'static str> {
    Method::ALL.iter().map(|m| m.as_str()).collect()
}
