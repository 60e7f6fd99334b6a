//! Root-cause ranking: which resource caused an incident, how sure we are, why, and what
//! else it hits.
//!
//! Input: the topology ([`TopologyGraph`]) and `<resource>:<metric>` columns over shared
//! timestamps ([`MetricFrame`]), plus the anomaly time when known; without it,
//! [`changepoint`] finds it. Every method scores each resource that has metrics; [`rank`]
//! sorts them, attaches a calibrated confidence ([`confidence`]), evidence sentences built
//! from the data, and the blast radius of the best candidate.
//!
//! | method | file | idea |
//! |---|---|---|
//! | `default` | [`default`] | sustained robust deviation, discounted when a dependency changed first and explains it, credited when the resource's dependents changed after it |
//! | `baro` | [`baro`] | BARO: median and IQR of the normal period, max deviation after |
//! | `nsigma` | [`nsigma`] | mean and standard deviation of the normal period, max \|z\| after |
//! | `hypothesis` | [`hypothesis`] | regress each metric on its dependencies' metrics in the normal period; score the residual after |
//! | `pagerank` | [`pagerank`] | personalized PageRank walking from symptoms towards dependencies (MicroRCA / CloudRanger) |
//!
//! Without an anomaly time, each method ranks under every candidate onset and the rankings
//! are combined ([`onsets`]).
//!
//! ```
//! use aiops_core::Topology;
//! use aiops_core::TopologyGraph;
//! use aiops_rca::rank::{Method, MetricFrame, rank};
//! let topo = Topology::from_json(r#"{"nodes": [{"id": "frontend", "kind": "service"},
//!     {"id": "cart", "kind": "service"}],
//!     "edges": [{"from": "frontend", "to": "cart", "kind": "calls"}]}"#)?;
//! let g = TopologyGraph::new(&topo)?;
//! let ts: Vec<i64> = (0..120).map(|i| i * 60_000).collect();
//! let wiggle = |i: usize| [0.0, 1.0, -1.0, 0.5, -0.5][i % 5];
//! let cart: Vec<f64> = (0..120).map(|i| 20.0 + wiggle(i) + if i >= 90 { 30.0 } else { 0.0 }).collect();
//! let front: Vec<f64> = (0..120).map(|i| 50.0 + wiggle(i + 2) + if i >= 91 { 30.0 } else { 0.0 }).collect();
//! let frame = MetricFrame::new(&g, ts, &["cart:latency".into(), "frontend:latency".into()],
//!     vec![cart, front])?;
//! let r = rank(&g, &frame, Some(90 * 60_000), Method::Default)?;
//! assert_eq!(r.root_causes[0].resource, "cart");
//! assert_eq!(r.affected, ["frontend"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod baro;
pub mod changepoint;
pub(crate) mod column_stats;
pub mod confidence;
pub mod default;
pub mod hypothesis;
pub mod metrics;
pub mod nsigma;
pub mod onsets;
pub mod pagerank;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use aiops_core::time::format_rfc3339;
use aiops_core::{RootCause, TimestampMs};
use serde::Serialize;
use serde_json::Value;

pub use changepoint::{ChangePoint, find_anomaly_time};
pub use metrics::{MetricColumn, MetricFrame};

use crate::error::{RcaError, Result};
use aiops_core::TopologyGraph;
use column_stats::ColumnStats;

/// Fewest points the normal period (before the anomaly time) must have.
pub const MIN_NORMAL_POINTS: usize = 5;
/// Most points before the anomaly time that form the normal period: older data says less
/// about what "normal" is at the time of the incident (daily cycles move the level).
pub const MAX_NORMAL_POINTS: usize = 240;
/// Most points after the anomaly time that are scored: a fault shows first and most clearly
/// near its start, and later data mixes in recovery, the daily cycle and unrelated events.
pub const MAX_ABNORMAL_POINTS: usize = 60;

/// A ranking method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Robust scoring combined with the topology and timing ([`default`]).
    Default,
    /// BARO-style robust scoring ([`baro`]).
    Baro,
    /// Classic n-sigma ([`nsigma`]).
    NSigma,
    /// Regression on the dependencies' metrics ([`hypothesis`]).
    Hypothesis,
    /// Personalized PageRank on the topology ([`pagerank`]).
    PageRank,
}

impl Method {
    /// Every method, in report order.
    pub const ALL: [Method; 5] = [
        Method::Default,
        Method::Baro,
        Method::NSigma,
        Method::Hypothesis,
        Method::PageRank,
    ];

    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Default => "default",
            Method::Baro => "baro",
            Method::NSigma => "nsigma",
            Method::Hypothesis => "hypothesis",
            Method::PageRank => "pagerank",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = RcaError;
    fn from_str(s: &str) -> Result<Self> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| RcaError::UnknownMethod {
                name: s.to_string(),
                known: Method::ALL.map(Method::as_str).join(", "),
            })
    }
}

/// How the anomaly time was obtained.
#[derive(Debug, Clone, PartialEq)]
pub enum AnomalyTimeSource {
    /// Given by the caller.
    Given,
    /// Found in the data.
    Detected(ChangePoint),
}

impl AnomalyTimeSource {
    /// One sentence saying how the time was obtained.
    pub fn describe(&self) -> String {
        match self {
            AnomalyTimeSource::Given => "anomaly time given".to_string(),
            AnomalyTimeSource::Detected(c) => c.how.clone(),
        }
    }
}

/// The result of a ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// The anomaly time used (ms since the epoch).
    pub anomaly_time: TimestampMs,
    /// How it was obtained.
    pub anomaly_time_source: AnomalyTimeSource,
    /// The method that ranked.
    pub method: Method,
    /// Every candidate resource (each resource with at least one metric column), best first.
    /// Each one's `affected` is its own blast radius.
    pub root_causes: Vec<RootCause>,
    /// The blast radius of the best candidate: every resource that depends on it, directly
    /// or not, nearest first.
    pub affected: Vec<String>,
    /// What was done to the input (gaps filled, constant columns scored 0).
    pub notes: Vec<String>,
}

impl Ranking {
    /// The report printed by `aiops rca`, fields in this order: `{"anomaly_time", "method",
    /// "root_causes": [{"rank", "resource", "metric", "score", "confidence", "evidence"}],
    /// "impact": {"affected"}, "recommended_actions"}`. The ranking knows no runbook, so it
    /// takes `recommended_actions` from the caller (the knowledge base matches runbooks to the
    /// root causes; without one the list is empty).
    pub fn report(&self, recommended_actions: Vec<Value>) -> Report {
        Report {
            anomaly_time: format_rfc3339(self.anomaly_time),
            method: self.method.as_str().to_string(),
            root_causes: self
                .root_causes
                .iter()
                .map(|c| ReportCause {
                    rank: c.rank,
                    resource: c.resource.clone(),
                    metric: c.metric.clone(),
                    score: c.score,
                    confidence: c.confidence,
                    evidence: c.evidence.clone(),
                })
                .collect(),
            impact: Impact {
                affected: self.affected.clone(),
            },
            recommended_actions,
        }
    }

    /// [`Ranking::report`] as a JSON value.
    pub fn to_json(&self, recommended_actions: Vec<Value>) -> Value {
        serde_json::to_value(self.report(recommended_actions)).unwrap_or(Value::Null)
    }
}

/// The JSON shape of `aiops rca` (see [`Ranking::report`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The anomaly time, RFC 3339 (UTC).
    pub anomaly_time: String,
    /// The method's name.
    pub method: String,
    /// Every candidate, best first.
    pub root_causes: Vec<ReportCause>,
    /// What the best candidate hits.
    pub impact: Impact,
    /// Runbook actions matched by the knowledge base (empty without one).
    pub recommended_actions: Vec<Value>,
}

/// One candidate in a [`Report`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportCause {
    /// Position, 1 = most likely.
    pub rank: usize,
    /// The resource.
    pub resource: String,
    /// Its most telling metric.
    pub metric: Option<String>,
    /// The method's score (higher is more likely).
    pub score: f64,
    /// Calibrated probability in [0, 1] that it is the cause.
    pub confidence: f64,
    /// Sentences built from the data.
    pub evidence: Vec<String>,
}

/// The impact part of a [`Report`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impact {
    /// Blast radius of the best candidate, nearest first.
    pub affected: Vec<String>,
}

/// One candidate as a method scores it (before sorting and calibration).
#[derive(Debug, Clone, Default)]
pub(crate) struct Scored {
    /// Higher is more likely; >= 0.
    pub(crate) score: f64,
    /// The column index of the most telling metric.
    pub(crate) column: Option<usize>,
    /// Sentences built from the data.
    pub(crate) evidence: Vec<String>,
}

/// What every method sees: the data, the split, per-column statistics and the candidates.
#[derive(Debug)]
pub(crate) struct Prepared<'a> {
    pub(crate) graph: &'a TopologyGraph,
    pub(crate) frame: &'a MetricFrame,
    /// First point of the normal period.
    pub(crate) begin: usize,
    /// Index of the first point at or after the anomaly time.
    pub(crate) split: usize,
    /// One past the last point scored.
    pub(crate) end: usize,
    pub(crate) stats: Vec<ColumnStats>,
    /// Candidate resources (those with columns), in order of first column.
    pub(crate) resources: Vec<&'a str>,
    /// Column indices of each candidate.
    pub(crate) columns_of: Vec<Vec<usize>>,
    pub(crate) index: HashMap<&'a str, usize>,
}

impl<'a> Prepared<'a> {
    pub(crate) fn new(graph: &'a TopologyGraph, frame: &'a MetricFrame, split: usize) -> Self {
        let resources = frame.resources();
        let index: HashMap<&str, usize> =
            resources.iter().enumerate().map(|(i, r)| (*r, i)).collect();
        let mut columns_of = vec![Vec::new(); resources.len()];
        for (c, col) in frame.columns().iter().enumerate() {
            columns_of[index[col.resource.as_str()]].push(c);
        }
        let begin = split.saturating_sub(MAX_NORMAL_POINTS);
        let end = (split + MAX_ABNORMAL_POINTS).min(frame.len());
        Self {
            graph,
            frame,
            begin,
            split,
            end,
            stats: column_stats::column_stats(frame, begin, split, end),
            resources,
            columns_of,
            index,
        }
    }

    /// `<resource>:<metric>` of column `c`.
    pub(crate) fn name(&self, c: usize) -> String {
        self.frame.columns()[c].name()
    }

    /// `HH:MM:SS` (UTC) of point `i`.
    pub(crate) fn clock(&self, i: usize) -> String {
        let t = self.frame.timestamps()[i.min(self.frame.len() - 1)];
        let s = format_rfc3339(t);
        s.get(11..19).map(str::to_string).unwrap_or(s)
    }

    /// Direct dependencies (callees, hosts, depends_on targets) of candidate `r` that are
    /// candidates too.
    pub(crate) fn deps(&self, r: usize) -> Vec<usize> {
        self.neighbours(r, true)
    }

    /// Direct dependents (callers, residents) of candidate `r` that are candidates too.
    pub(crate) fn dependents(&self, r: usize) -> Vec<usize> {
        self.neighbours(r, false)
    }

    fn neighbours(&self, r: usize, outgoing: bool) -> Vec<usize> {
        let list = if outgoing {
            self.graph.direct_dependencies(self.resources[r])
        } else {
            self.graph.direct_dependents(self.resources[r])
        };
        let mut out: Vec<usize> = list
            .unwrap_or_default()
            .into_iter()
            .filter_map(|id| self.index.get(id).copied())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// One sentence on a column's deviation: "cart:cpu rose 6.1 robust sigma at 12:03:15".
    pub(crate) fn deviation_sentence(&self, c: usize, z: f64, at: usize, unit: &str) -> String {
        format!(
            "{} {} {:.1} {unit} at {}",
            self.name(c),
            if z >= 0.0 { "rose" } else { "fell" },
            z.abs(),
            self.clock(at)
        )
    }
}

/// Finds the split index of an anomaly time, checking it leaves a normal period of at least
/// [`MIN_NORMAL_POINTS`] points and at least one point after it.
pub fn split_index(frame: &MetricFrame, anomaly_time: TimestampMs) -> Result<usize> {
    let ts = frame.timestamps();
    let first = ts[MIN_NORMAL_POINTS.min(ts.len() - 1)];
    let last = ts[ts.len() - 1];
    let outside = |reason: &str| RcaError::AnomalyTimeOutside {
        time: anomaly_time,
        first,
        last,
        reason: reason.to_string(),
    };
    if anomaly_time < ts[0] || anomaly_time > last {
        return Err(outside("it is not within the data's time range"));
    }
    let split = ts.partition_point(|&t| t < anomaly_time);
    if split < MIN_NORMAL_POINTS {
        return Err(outside(&format!(
            "fewer than {MIN_NORMAL_POINTS} points before it to learn normal behaviour from"
        )));
    }
    Ok(split)
}

/// Ranks every resource with metrics as the root cause of the change at `anomaly_time`.
/// Every method looks at the same window: at most [`MAX_NORMAL_POINTS`] points before the
/// anomaly time as the normal period and at most [`MAX_ABNORMAL_POINTS`] from it on.
///
/// Without an anomaly time, [`changepoint::candidate_onsets`] finds up to
/// [`changepoint::MAX_CANDIDATES`] moments at which metrics changed; the resources are
/// ranked under each and the rankings combined, each weighted by how clearly its onset
/// singles out one cause ([`onsets`]). With one candidate that is the ranking under it.
pub fn rank(
    graph: &TopologyGraph,
    frame: &MetricFrame,
    anomaly_time: Option<TimestampMs>,
    method: Method,
) -> Result<Ranking> {
    let Some(time) = anomaly_time else {
        let candidates = changepoint::candidate_onsets(frame, changepoint::MAX_CANDIDATES)?;
        let mut rankings = Vec::with_capacity(candidates.len());
        let mut first_error = None;
        for cp in candidates {
            match rank_at(
                graph,
                frame,
                cp.time,
                AnomalyTimeSource::Detected(cp),
                method,
            ) {
                Ok(r) => rankings.push(r),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        return match (onsets::combine(rankings), first_error) {
            (Some(r), _) => Ok(r),
            (None, Some(e)) => Err(e),
            (None, None) => Err(RcaError::NoChangeFound("no candidate onset".into())),
        };
    };
    rank_at(graph, frame, time, AnomalyTimeSource::Given, method)
}

/// [`rank`] at one anomaly time.
fn rank_at(
    graph: &TopologyGraph,
    frame: &MetricFrame,
    time: TimestampMs,
    source: AnomalyTimeSource,
    method: Method,
) -> Result<Ranking> {
    let split = split_index(frame, time)?;
    let prep = Prepared::new(graph, frame, split);
    let scored = match method {
        Method::Default => default::score(&prep),
        Method::Baro => baro::score(&prep),
        Method::NSigma => nsigma::score(&prep),
        Method::Hypothesis => hypothesis::score(&prep),
        Method::PageRank => pagerank::score(&prep),
    };
    let mut order: Vec<usize> = (0..scored.len()).collect();
    // Best first; ties by resource id so the output is stable.
    order.sort_by(|&a, &b| {
        scored[b]
            .score
            .total_cmp(&scored[a].score)
            .then_with(|| prep.resources[a].cmp(prep.resources[b]))
    });
    let sorted: Vec<f64> = order.iter().map(|&i| scored[i].score).collect();
    let confidences = confidence::for_method(method).confidences(&sorted);
    let mut root_causes = Vec::with_capacity(order.len());
    for (k, &i) in order.iter().enumerate() {
        let s = &scored[i];
        let resource = prep.resources[i];
        root_causes.push(RootCause {
            rank: k + 1,
            resource: resource.to_string(),
            metric: s.column.map(|c| frame.columns()[c].metric.clone()),
            score: s.score,
            confidence: confidences[k],
            evidence: s.evidence.clone(),
            affected: graph
                .dependents(resource)?
                .into_iter()
                .map(str::to_string)
                .collect(),
        });
    }
    let affected = root_causes
        .first()
        .map(|c| c.affected.clone())
        .unwrap_or_default();
    let mut notes = frame.notes().to_vec();
    notes.insert(0, source.describe());
    Ok(Ranking {
        anomaly_time: time,
        anomaly_time_source: source,
        method,
        root_causes,
        affected,
        notes,
    })
}
