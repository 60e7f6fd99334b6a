//! Root-cause analysis of stored data: `POST /api/v1/rca/analyze` (an incident, or anomalies)
//! and the analysis run when an incident opens or grows. The metrics come from the store
//! (every series of the topology's resources in the window, aligned on one grid), the ranking
//! from `aiops-rca`, the recommended actions from the runbooks; each analysis is stored.

use std::collections::{BTreeMap, BTreeSet};

use aiops_core::time::format_rfc3339;
use aiops_core::{Node, NodeKind, TimestampMs, Topology, TopologyGraph};
use aiops_rca::rank::{Method, MetricFrame, rank};
use aiops_rca::runbook::KnowledgeBase;
use aiops_store::Store;
use serde::{Deserialize, Serialize};

use crate::error::{Result, ServiceError};
use crate::history::History;

/// Most series one analysis reads.
pub const MAX_SERIES: usize = 500;
/// Most grid points of one analysis.
const MAX_POINTS: i64 = 2_000;

/// `POST /api/v1/rca/analyze`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RcaRequest {
    /// Analyse this incident (its resources and start).
    #[serde(default)]
    pub incident_id: Option<String>,
    /// Or these anomalies (their resources and the earliest time).
    #[serde(default)]
    pub anomaly_ids: Option<Vec<String>>,
    /// Minutes of metrics before the anchor time (default 30, 5 to 1,440).
    #[serde(default = "default_window")]
    pub time_window_minutes: u32,
}

fn default_window() -> u32 {
    30
}

/// One root cause as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RcaCause {
    /// 1 = most likely.
    pub rank: usize,
    /// The resource.
    pub resource: String,
    /// What is wrong, in words (its most anomalous metric).
    pub issue: String,
    /// The metric behind it.
    pub metric: Option<String>,
    /// Confidence, 0 to 1.
    pub confidence: f64,
    /// Ranking score.
    pub score: f64,
    /// Facts behind the rank.
    pub evidence: Vec<String>,
}

/// Blast radius.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImpactAnalysis {
    /// Resources that depend on the top cause, nearest first.
    pub affected_services: Vec<String>,
}

/// A stored analysis (`GET /api/v1/rca/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RcaAnalysis {
    /// `rca-N`.
    pub analysis_id: String,
    /// `completed` or `failed`.
    pub status: String,
    /// The incident analysed, if any.
    pub incident_id: Option<String>,
    /// The anomalies analysed, if any.
    pub anomaly_ids: Vec<String>,
    /// When it ran (RFC 3339).
    pub created_at: String,
    /// The onset used (RFC 3339) and how it was found.
    pub anomaly_time: Option<String>,
    /// `given` (from anomalies) or found in the metrics.
    pub anomaly_time_source: Option<String>,
    /// Ranked causes, best first.
    pub root_causes: Vec<RcaCause>,
    /// Blast radius of the top cause.
    pub impact_analysis: ImpactAnalysis,
    /// Runbook steps matched to the causes.
    pub recommended_actions: Vec<serde_json::Value>,
    /// What was done to the data (gaps filled...).
    pub notes: Vec<String>,
    /// Why it failed (not enough data...).
    pub error: Option<String>,
}

/// What to analyse: resources, the time and whether it is a known onset.
struct Target {
    incident_id: Option<String>,
    anomaly_ids: Vec<String>,
    resources: Vec<String>,
    anchor: TimestampMs,
    given: bool,
}

async fn target(store: &Store, req: &RcaRequest) -> Result<Target> {
    match (&req.incident_id, &req.anomaly_ids) {
        (Some(id), None) => {
            let row = store.incident(id).await?;
            let inc: aiops_core::Incident =
                serde_json::from_value(row.body.clone()).map_err(|e| ServiceError::Internal {
                    what: format!("stored incident {id}: {e}"),
                })?;
            Ok(Target {
                incident_id: Some(id.clone()),
                anomaly_ids: Vec::new(),
                resources: inc.resources,
                anchor: row.started_at,
                given: false,
            })
        }
        (None, Some(ids)) if !ids.is_empty() => {
            let mut resources = BTreeSet::new();
            let mut anchor = TimestampMs::MAX;
            for id in ids {
                let n: i64 = id.parse().map_err(|_| ServiceError::NotFound {
                    kind: "anomaly".into(),
                    id: id.clone(),
                })?;
                let a = store.anomaly(n).await?;
                resources.insert(a.anomaly.resource.clone());
                anchor = anchor.min(a.anomaly.t);
            }
            Ok(Target {
                incident_id: None,
                anomaly_ids: ids.clone(),
                resources: resources.into_iter().collect(),
                anchor,
                given: true,
            })
        }
        _ => Err(ServiceError::invalid_parameter(
            "incident_id",
            "give exactly one of incident_id and anomaly_ids (non-empty)",
        )),
    }
}

/// The graph to rank on: the topology's, or (without one) the analysed resources alone.
fn graph_for(topology: Option<&TopologyGraph>, resources: &[String]) -> Result<TopologyGraph> {
    if let Some(g) = topology {
        return Ok(g.clone());
    }
    let nodes = resources
        .iter()
        .map(|r| Node {
            id: r.clone(),
            kind: NodeKind::Service,
            labels: BTreeMap::new(),
        })
        .collect();
    Ok(TopologyGraph::new(&Topology::new(nodes, Vec::new())?)?)
}

/// Every stored series of the graph's resources in `[from, to)`, and the history source's
/// series of them that aiops does not store, on one grid (bucket means; empty buckets are
/// missing and filled by the ranking's interpolation). Also returns the names of the series
/// read from the source alone.
async fn frame(
    store: &Store,
    history: &History,
    graph: &TopologyGraph,
    resources: &[String],
    from: TimestampMs,
    to: TimestampMs,
) -> Result<(MetricFrame, Vec<String>)> {
    let series: Vec<_> = store
        .series_of_resources(resources)
        .await?
        .into_iter()
        .filter(|s| graph.contains(&s.resource))
        .take(MAX_SERIES)
        .collect();
    let points = history
        .samples_of(store, &series, from, to, 100_000)
        .await?;
    let mut data: Vec<_> = series
        .into_iter()
        .zip(points)
        .filter(|(_, pts)| pts.len() >= 2)
        .collect();
    let mut discovered = Vec::new();
    if history.has_source() && data.len() < MAX_SERIES {
        let known: BTreeSet<String> = data
            .iter()
            .map(|(s, _)| format!("{}:{}", s.resource, s.metric))
            .collect();
        let in_graph: Vec<String> = resources
            .iter()
            .filter(|r| graph.contains(r))
            .cloned()
            .collect();
        for d in history
            .discover(
                &in_graph,
                &known,
                from,
                to,
                MAX_POINTS,
                MAX_SERIES - data.len(),
            )
            .await
        {
            discovered.push(format!("{}:{}", d.resource, d.metric));
            let row = aiops_store::SeriesRow {
                id: 0,
                key: d.labels.to_string(),
                metric: d.metric,
                resource: d.resource,
                labels: d.labels,
                detector: None,
                state: None,
                state_t: None,
            };
            data.push((row, d.points));
        }
    }
    if data.is_empty() {
        return Err(ServiceError::invalid_parameter(
            "time_window_minutes",
            "no stored samples of these resources in the window",
        ));
    }
    let mut steps: Vec<i64> = data
        .iter()
        .filter_map(|(_, p)| {
            aiops_core::time::median_step(&p.iter().map(|x| x.0).collect::<Vec<_>>())
        })
        .collect();
    steps.sort_unstable();
    let step = steps
        .get(steps.len() / 2)
        .copied()
        .unwrap_or(60_000)
        .max((to - from) / MAX_POINTS)
        .max(1);
    let n = ((to - from + step - 1) / step) as usize;
    let timestamps: Vec<TimestampMs> = (0..n as i64).map(|i| from + i * step).collect();
    let mut names = Vec::new();
    let mut columns = Vec::new();
    let mut seen = BTreeSet::new();
    for (s, pts) in data {
        // Several series of one resource and metric (per instance...): the first one stands.
        let name = format!("{}:{}", s.resource, s.metric);
        if !seen.insert(name.clone()) {
            continue;
        }
        let mut sum = vec![0.0; n];
        let mut count = vec![0u32; n];
        for (t, v) in pts {
            let i = ((t - from) / step) as usize;
            if i < n {
                sum[i] += v;
                count[i] += 1;
            }
        }
        names.push(name);
        columns.push(
            sum.iter()
                .zip(&count)
                .map(|(s, &c)| if c == 0 { f64::NAN } else { s / f64::from(c) })
                .collect(),
        );
    }
    Ok((
        MetricFrame::new(graph, timestamps, &names, columns)?,
        discovered,
    ))
}

fn cause_issue(c: &aiops_core::RootCause) -> String {
    match &c.metric {
        Some(m) => format!("{m} on {} changed first", c.resource),
        None => format!("{} changed first", c.resource),
    }
}

/// Runs an analysis and stores it (a failed one too, with its reason); returns it.
pub async fn analyze(
    store: &Store,
    history: &History,
    topology: Option<&TopologyGraph>,
    runbooks: Option<&KnowledgeBase>,
    req: &RcaRequest,
    now: TimestampMs,
) -> Result<RcaAnalysis> {
    if !(5..=1_440).contains(&req.time_window_minutes) {
        return Err(ServiceError::invalid_parameter(
            "time_window_minutes",
            "5 to 1440",
        ));
    }
    let t = target(store, req).await?;
    let window = i64::from(req.time_window_minutes) * 60_000;
    // Nothing after `now` exists yet: an empty tail would only be filled in.
    let (from, to) = (t.anchor - window, (t.anchor + window / 3).min(now + 1));
    let id = next_id(store).await?;
    let mut out = RcaAnalysis {
        analysis_id: id.clone(),
        status: "completed".into(),
        incident_id: t.incident_id.clone(),
        anomaly_ids: t.anomaly_ids.clone(),
        created_at: format_rfc3339(now),
        anomaly_time: None,
        anomaly_time_source: None,
        root_causes: Vec::new(),
        impact_analysis: ImpactAnalysis {
            affected_services: Vec::new(),
        },
        recommended_actions: Vec::new(),
        notes: Vec::new(),
        error: None,
    };
    let graph = graph_for(topology, &t.resources)?;
    let candidates: Vec<String> = match topology {
        Some(g) => {
            // The incident's resources and everything within two hops of them.
            let mut c = BTreeSet::new();
            for r in t.resources.iter().filter(|r| g.contains(r)) {
                for (n, _) in g.within(r, 2)? {
                    c.insert(n.to_string());
                }
            }
            if c.is_empty() {
                t.resources.clone()
            } else {
                c.into_iter().collect()
            }
        }
        None => t.resources.clone(),
    };
    let mut discovered = Vec::new();
    let ranked = match frame(store, history, &graph, &candidates, from, to).await {
        Ok((f, d)) => {
            discovered = d;
            rank(&graph, &f, t.given.then_some(t.anchor), Method::Default)
                .map_err(ServiceError::from)
        }
        Err(e) => Err(e),
    };
    match ranked {
        Ok(r) => {
            out.anomaly_time = Some(format_rfc3339(r.anomaly_time));
            out.anomaly_time_source = Some(r.anomaly_time_source.describe());
            out.root_causes = r
                .root_causes
                .iter()
                .map(|c| RcaCause {
                    rank: c.rank,
                    resource: c.resource.clone(),
                    issue: cause_issue(c),
                    metric: c.metric.clone(),
                    confidence: c.confidence,
                    score: c.score,
                    evidence: c.evidence.clone(),
                })
                .collect();
            out.impact_analysis.affected_services = r.affected.clone();
            out.notes = r.notes.clone();
            if !discovered.is_empty() {
                out.notes.push(format!(
                    "read from the history source, not stored by aiops: {}",
                    discovered.join(", ")
                ));
            }
            if let Some(kb) = runbooks.filter(|kb| !kb.is_empty()) {
                out.recommended_actions = kb
                    .recommend(
                        &r.root_causes,
                        |id| graph.kind(id).ok().map(|k| k.as_str().to_string()),
                        3,
                    )
                    .iter()
                    .filter_map(|x| serde_json::to_value(x).ok())
                    .collect();
            }
        }
        Err(e) => {
            out.status = "failed".into();
            out.error = Some(e.to_string());
        }
    }
    let body = serde_json::to_value(&out).map_err(|e| ServiceError::Internal {
        what: e.to_string(),
    })?;
    store
        .put_analysis(&id, t.incident_id.as_deref(), &out.status, &body, now)
        .await?;
    Ok(out)
}

async fn next_id(_store: &Store) -> Result<String> {
    // Random, so that concurrent analyses and several replicas never share an id.
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).map_err(|e| ServiceError::Internal {
        what: format!("random source: {e}"),
    })?;
    Ok(format!(
        "rca-{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    ))
}

/// A stored analysis.
pub async fn get(store: &Store, id: &str) -> Result<RcaAnalysis> {
    let d = store.analysis(id).await?;
    serde_json::from_value(d.body).map_err(|e| ServiceError::Internal {
        what: format!("stored analysis {id}: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_frame_reads_history_older_than_the_store_from_the_source() {
        let (store, ids) = crate::testing::store_with_cpu_series().await;
        // The store holds the window's last two samples; the source the ten before.
        store
            .insert_samples(&[(ids[0], 1_500_000, 1500.0), (ids[0], 1_550_000, 1550.0)])
            .await
            .unwrap();
        let resources = vec!["api".to_string()];
        let graph = graph_for(None, &resources).unwrap();
        let fake = std::sync::Arc::new(crate::history::testing::Fake::default());
        let history = History::with_source(fake, 50_000);
        let (f, discovered) = frame(&store, &history, &graph, &resources, 1_000_000, 1_600_000)
            .await
            .unwrap();
        assert!(discovered.is_empty());
        assert_eq!(f.len(), 12);
        let c = &f.columns()[0];
        assert_eq!((c.filled, c.values[0], c.values[11]), (0, 1000.0, 1550.0));
        // The store alone: two points, not enough for a frame.
        let alone = frame(
            &store,
            &History::default(),
            &graph,
            &resources,
            1_000_000,
            1_600_000,
        )
        .await;
        assert!(alone.is_err() || alone.unwrap().0.columns()[0].filled >= 10);

        // With the resource labels, the source's series of `api` that the store lacks join.
        let labels = aiops_core::Labels::new()
            .with("__name__", "db_latency")
            .unwrap()
            .with("service", "api")
            .unwrap();
        let fake = std::sync::Arc::new(crate::history::testing::Fake {
            series: vec![labels],
            ..Default::default()
        });
        let history = History::with_source(fake, 50_000).with_resource_labels(&["service".into()]);
        let (f, discovered) = frame(&store, &history, &graph, &resources, 1_000_000, 1_600_000)
            .await
            .unwrap();
        assert_eq!(discovered, ["api:db_latency"]);
        assert_eq!(f.columns().len(), 2);
    }
}
