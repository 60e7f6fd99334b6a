//! The input of root-cause ranking: `<resource>:<metric>` columns over shared timestamps.
//!
//! A [`MetricFrame`] is validated once, against the topology, and then ranked by any method:
//!
//! - **Column names** are `<resource>:<metric>`; the resource is the longest prefix before a
//!   `:` that is a topology node (so `db:pg:connections` is resource `db:pg` if the topology has
//!   it, else resource `db`). A column whose prefix is no topology node is an error
//!   ([`RcaError::UnknownColumnResource`]); a name without `:` is [`RcaError::BadColumnName`].
//! - **Timestamps** must strictly increase (`CoreError::Unsorted` / `DuplicateTimestamp`).
//! - **Missing values** (NaN cells) are filled by linear interpolation between the nearest
//!   present neighbours, and by the nearest present value at either end. The column is kept and
//!   a note says how many cells were filled. A column with no value at all is an error
//!   ([`RcaError::EmptyColumn`]): no column is ever dropped silently.
//! - **Constant columns** are kept and score 0 in every method, with a note; only when every
//!   column is constant is it an error ([`RcaError::AllConstant`]).

use aiops_core::TimestampMs;
use aiops_core::io::csv::WideTable;

use crate::error::{RcaError, Result};
use aiops_core::TopologyGraph;

/// Fewest points a frame may have.
pub const MIN_POINTS: usize = 8;

/// One metric of one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricColumn {
    /// The resource (a topology node id).
    pub resource: String,
    /// The metric name (after the resource and `:`).
    pub metric: String,
    /// Values, one per timestamp of the frame, missing cells filled.
    pub values: Vec<f64>,
    /// How many cells were missing and filled by interpolation.
    pub filled: usize,
    /// Whether every value is the same (the column then scores 0).
    pub constant: bool,
}

impl MetricColumn {
    /// `<resource>:<metric>`.
    pub fn name(&self) -> String {
        format!("{}:{}", self.resource, self.metric)
    }
}

/// Validated metric columns over shared, strictly increasing timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFrame {
    timestamps: Vec<TimestampMs>,
    columns: Vec<MetricColumn>,
    notes: Vec<String>,
}

impl MetricFrame {
    /// Validates columns named `<resource>:<metric>` against the topology (see the module docs).
    pub fn new(
        graph: &TopologyGraph,
        timestamps: Vec<TimestampMs>,
        names: &[String],
        columns: Vec<Vec<f64>>,
    ) -> Result<Self> {
        if names.len() != columns.len() {
            return Err(RcaError::MetricShape(format!(
                "{} names for {} columns",
                names.len(),
                columns.len()
            )));
        }
        if columns.is_empty() {
            return Err(RcaError::MetricShape("no metric column".into()));
        }
        if timestamps.len() < MIN_POINTS {
            return Err(RcaError::NotEnoughData(format!(
                "{} timestamps; ranking needs at least {MIN_POINTS}",
                timestamps.len()
            )));
        }
        aiops_core::series::check_sorted(&timestamps)?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(columns.len());
        let mut notes = Vec::new();
        for (name, mut values) in names.iter().zip(columns) {
            if values.len() != timestamps.len() {
                return Err(RcaError::MetricShape(format!(
                    "column {name:?} has {} values for {} timestamps",
                    values.len(),
                    timestamps.len()
                )));
            }
            if !seen.insert(name.as_str()) {
                return Err(RcaError::MetricShape(format!(
                    "column {name:?} appears twice"
                )));
            }
            let (resource, metric) = split_name(graph, name)?;
            if values.iter().any(|v| v.is_infinite()) {
                return Err(RcaError::MetricShape(format!(
                    "column {name:?} has an infinite value"
                )));
            }
            let filled = fill_missing(&mut values).ok_or_else(|| RcaError::EmptyColumn {
                column: name.clone(),
            })?;
            if filled > 0 {
                notes.push(format!(
                    "{name}: {filled} missing values filled by linear interpolation"
                ));
            }
            let constant = values.iter().all(|&v| v == values[0]);
            if constant {
                notes.push(format!("{name}: constant, scored 0"));
            }
            out.push(MetricColumn {
                resource,
                metric,
                values,
                filled,
                constant,
            });
        }
        if out.iter().all(|c| c.constant) {
            return Err(RcaError::AllConstant);
        }
        Ok(Self {
            timestamps,
            columns: out,
            notes,
        })
    }

    /// Validates a wide CSV table (as read by [`aiops_core::io::csv::read_wide`]).
    pub fn from_wide(graph: &TopologyGraph, table: &WideTable) -> Result<Self> {
        Self::new(
            graph,
            table.timestamps.clone(),
            &table.names,
            table.columns.clone(),
        )
    }

    /// The timestamps (ms since the epoch), strictly increasing.
    pub fn timestamps(&self) -> &[TimestampMs] {
        &self.timestamps
    }

    /// The columns, in input order.
    pub fn columns(&self) -> &[MetricColumn] {
        &self.columns
    }

    /// Number of timestamps.
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// Whether the frame has no point (never true for a validated frame).
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// What was done to the input (filled gaps, constant columns), one sentence each.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The resources that have at least one column, in order of first appearance.
    pub fn resources(&self) -> Vec<&str> {
        let mut seen = std::collections::HashSet::new();
        self.columns
            .iter()
            .filter(|c| seen.insert(c.resource.as_str()))
            .map(|c| c.resource.as_str())
            .collect()
    }
}

/// Splits `<resource>:<metric>`, taking the longest prefix that is a topology node.
fn split_name(graph: &TopologyGraph, name: &str) -> Result<(String, String)> {
    let colons: Vec<usize> = name.match_indices(':').map(|(i, _)| i).collect();
    if colons.is_empty() {
        return Err(RcaError::BadColumnName {
            column: name.to_string(),
        });
    }
    for &i in colons.iter().rev() {
        let (res, metric) = (&name[..i], &name[i + 1..]);
        if graph.contains(res) {
            if metric.is_empty() {
                return Err(RcaError::BadColumnName {
                    column: name.to_string(),
                });
            }
            return Ok((res.to_string(), metric.to_string()));
        }
    }
    Err(RcaError::UnknownColumnResource {
        column: name.to_string(),
        resource: name[..colons[0]].to_string(),
    })
}

/// Fills NaN cells by linear interpolation (nearest value at the ends). Returns how many were
/// filled, or `None` when every cell is NaN.
fn fill_missing(v: &mut [f64]) -> Option<usize> {
    let present: Vec<usize> = (0..v.len()).filter(|&i| !v[i].is_nan()).collect();
    let (&first, &last) = (present.first()?, present.last()?);
    let missing = v.len() - present.len();
    if missing == 0 {
        return Some(0);
    }
    let (a, b) = (v[first], v[last]);
    v[..first].fill(a);
    v[last + 1..].fill(b);
    for w in present.windows(2) {
        let (i, j) = (w[0], w[1]);
        if j > i + 1 {
            let (x, y) = (v[i], v[j]);
            for (k, slot) in v[i + 1..j].iter_mut().enumerate() {
                *slot = x + (y - x) * (k + 1) as f64 / (j - i) as f64;
            }
        }
    }
    Some(missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiops_core::{CoreError, Topology};

    fn graph() -> TopologyGraph {
        let t = Topology::from_json(
            r#"{"nodes": [{"id": "frontend", "kind": "service"}, {"id": "db", "kind": "database"},
                {"id": "db:pg", "kind": "database"}],
              "edges": [{"from": "frontend", "to": "db", "kind": "calls"}]}"#,
        )
        .unwrap();
        TopologyGraph::new(&t).unwrap()
    }

    fn ts(n: usize) -> Vec<i64> {
        (0..n as i64).map(|i| i * 1000).collect()
    }

    #[test]
    fn names_gaps_and_constants() {
        let g = graph();
        let names = vec![
            "frontend:latency".to_string(),
            "db:pg:conns".to_string(),
            "db:cpu".to_string(),
        ];
        let mut gap = vec![
            1.0,
            f64::NAN,
            3.0,
            4.0,
            5.0,
            6.0,
            7.0,
            f64::NAN,
            f64::NAN,
            10.0,
        ];
        gap[0] = f64::NAN;
        let f = MetricFrame::new(
            &g,
            ts(10),
            &names,
            vec![gap, vec![2.0; 10], (0..10).map(f64::from).collect()],
        )
        .unwrap();
        let c = &f.columns()[0];
        assert_eq!(c.filled, 4);
        assert_eq!(
            c.values,
            [3.0, 3.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
        );
        assert_eq!(
            (
                f.columns()[1].resource.as_str(),
                f.columns()[1].metric.as_str()
            ),
            ("db:pg", "conns")
        );
        assert!(f.columns()[1].constant && !f.columns()[2].constant);
        assert_eq!(f.notes().len(), 2);
        assert_eq!(f.resources(), ["frontend", "db:pg", "db"]);
    }

    #[test]
    fn bad_input_is_typed() {
        let g = graph();
        let one = |name: &str, t: Vec<i64>, v: Vec<f64>| {
            MetricFrame::new(&g, t, &[name.to_string()], vec![v])
        };
        let ramp: Vec<f64> = (0..10).map(f64::from).collect();
        assert!(matches!(
            one("cart:cpu", ts(10), ramp.clone()),
            Err(RcaError::UnknownColumnResource { ref resource, .. }) if resource == "cart"
        ));
        assert!(matches!(
            one("cpu", ts(10), ramp.clone()),
            Err(RcaError::BadColumnName { .. })
        ));
        assert!(matches!(
            one("db:", ts(10), ramp.clone()),
            Err(RcaError::BadColumnName { .. })
        ));
        let mut t = ts(10);
        t.swap(3, 4);
        assert!(matches!(
            one("db:cpu", t, ramp.clone()),
            Err(RcaError::Core(CoreError::Unsorted { index: 4, .. }))
        ));
        let mut t = ts(10);
        t[5] = t[4];
        assert!(matches!(
            one("db:cpu", t, ramp.clone()),
            Err(RcaError::Core(CoreError::DuplicateTimestamp {
                index: 5,
                ..
            }))
        ));
        assert!(matches!(
            one("db:cpu", ts(10), vec![f64::NAN; 10]),
            Err(RcaError::EmptyColumn { .. })
        ));
        assert!(matches!(
            one("db:cpu", ts(10), vec![1.0; 10]),
            Err(RcaError::AllConstant)
        ));
        assert!(matches!(
            one("db:cpu", ts(3), vec![1.0, 2.0, 3.0]),
            Err(RcaError::NotEnoughData(_))
        ));
        assert!(matches!(
            one("db:cpu", ts(10), vec![1.0; 9]),
            Err(RcaError::MetricShape(_))
        ));
    }
}
