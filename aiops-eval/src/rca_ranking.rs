//! Evaluation of the root-cause ranking methods (`aiops_rca::rank`) on simulated incidents:
//! AC@k (the share of cases whose faulty resource is among the top k), Avg@5 (the mean of
//! AC@1..AC@5), per method and per fault kind, with the anomaly time given (the true fault
//! start) and not given (`aiops_rca::rank::rank` without a time: ranked under the candidate
//! onsets `aiops_rca::rank::changepoint` finds, combined); plus how well the top candidate's
//! confidence is calibrated.
//!
//! Two sources of cases: the microservice simulator ([`crate::microservice_sim`]), and
//! PyRCA-style random linear causal models ([`crate::dag_sim::fault_cases`]: a random DAG, a shift or spike
//! at one variable that propagates to its descendants), whose DAG becomes the topology
//! (each variable a resource with one metric, `depends_on` its causes). The second is a
//! different generator from the one the `default` method was built beside.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use aiops_rca::rank::confidence::{self, Calibration, margin};
use aiops_rca::rank::{Method, MetricFrame, find_anomaly_time, rank};

use crate::dag_sim::{FaultCase, FaultParams, fault_cases};
use crate::error::Result;
use crate::microservice_sim::{FaultKind, SimCase, SimParams, simulate};
use aiops_core::TopologyGraph;

/// AC@1..AC@5 over a set of cases. In JSON: `{"cases", "ac1", "ac3", "avg5", "hits"}`
/// (`hits[k-1]`: cases whose root was at rank <= k).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Accuracy {
    /// Cases counted.
    pub cases: usize,
    /// Cases whose root was at rank <= k, for k = 1..5.
    hits: [usize; 5],
}

impl Accuracy {
    fn add(&mut self, rank: Option<usize>) {
        self.cases += 1;
        if let Some(r) = rank {
            for k in r.max(1)..=5 {
                self.hits[k - 1] += 1;
            }
        }
    }

    /// AC@k for k in 1..=5 (0 when there is no case).
    pub fn ac(&self, k: usize) -> f64 {
        if self.cases == 0 || !(1..=5).contains(&k) {
            return 0.0;
        }
        self.hits[k - 1] as f64 / self.cases as f64
    }

    /// Mean of AC@1..AC@5.
    pub fn avg5(&self) -> f64 {
        (1..=5).map(|k| self.ac(k)).sum::<f64>() / 5.0
    }
}

impl Serialize for Accuracy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Accuracy", 5)?;
        st.serialize_field("cases", &self.cases)?;
        st.serialize_field("ac1", &self.ac(1))?;
        st.serialize_field("ac3", &self.ac(3))?;
        st.serialize_field("avg5", &self.avg5())?;
        st.serialize_field("hits", &self.hits)?;
        st.end()
    }
}

/// The accuracies of one fault kind, with the anomaly time given and found.
#[derive(Serialize)]
struct KindAccuracy<'a> {
    given: &'a Accuracy,
    found: &'a Accuracy,
}

/// How one method did. In JSON: `method` (its name), `given`, `found`, `per_kind` (fault kind
/// to `{"given", "found"}`), `confident`, `confident_right` and `confident_precision`; the
/// calibration samples are left out.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodReport {
    /// The method.
    pub method: Method,
    /// With the anomaly time given.
    pub given: Accuracy,
    /// With the anomaly time found in the data.
    pub found: Accuracy,
    /// Per fault kind: (given, found).
    pub per_kind: BTreeMap<FaultKind, (Accuracy, Accuracy)>,
    /// Rank-1 answers with confidence >= 0.8 (given and found pooled).
    pub confident: usize,
    /// How many of those were right.
    pub confident_right: usize,
    /// `(margin, right)` of every rank-1 answer, for fitting a calibration.
    pub samples: Vec<(f64, bool)>,
}

impl MethodReport {
    /// Share of confident (>= 0.8) rank-1 answers that were right (`None` when there is none).
    pub fn confident_precision(&self) -> Option<f64> {
        (self.confident > 0).then(|| self.confident_right as f64 / self.confident as f64)
    }

    /// A calibration fitted on this run's rank-1 answers.
    pub fn fit_calibration(&self) -> Calibration {
        confidence::fit(&self.samples, 25)
    }
}

impl Serialize for MethodReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let per_kind: BTreeMap<FaultKind, KindAccuracy<'_>> = self
            .per_kind
            .iter()
            .map(|(k, (given, found))| (*k, KindAccuracy { given, found }))
            .collect();
        let mut st = s.serialize_struct("MethodReport", 7)?;
        st.serialize_field("method", self.method.as_str())?;
        st.serialize_field("given", &self.given)?;
        st.serialize_field("found", &self.found)?;
        st.serialize_field("per_kind", &per_kind)?;
        st.serialize_field("confident", &self.confident)?;
        st.serialize_field("confident_right", &self.confident_right)?;
        st.serialize_field("confident_precision", &self.confident_precision())?;
        st.end()
    }
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Where the cases came from ([`Simulator::name`]).
    pub simulator: &'static str,
    /// Cases simulated.
    pub cases: usize,
    /// Seed of the first case.
    pub seed: u64,
    /// One report per method, in the order asked.
    pub methods: Vec<MethodReport>,
    /// Cases per fault kind.
    pub kinds: BTreeMap<FaultKind, usize>,
    /// Median |found - true| anomaly time, in points (NaN, `null` in JSON, when never found).
    #[serde(rename = "median_time_error_points")]
    pub median_time_error: f64,
    /// Cases in which no anomaly time could be found (they count as misses "found").
    pub time_not_found: usize,
    /// Wall time of simulation and ranking, seconds.
    pub seconds: f64,
}

/// Where the evaluated cases come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Simulator {
    /// The microservice simulator.
    Microservice(SimParams),
    /// PyRCA-style random linear causal models with one faulty variable.
    RandomDag(FaultParams),
}

impl Simulator {
    /// The simulator called `name` (`microservice` or `dag`), with these settings.
    pub fn by_name(name: &str, microservice: SimParams, dag: FaultParams) -> Result<Self> {
        match name {
            "microservice" => Ok(Simulator::Microservice(microservice)),
            "dag" => Ok(Simulator::RandomDag(dag)),
            other => Err(crate::error::EvalError::Invalid {
                what: "simulator",
                reason: format!("unknown simulator {other:?}; expected microservice or dag"),
            }),
        }
    }

    /// Its name: `microservice` or `dag`.
    pub fn name(&self) -> &'static str {
        match self {
            Simulator::Microservice(_) => "microservice",
            Simulator::RandomDag(_) => "dag",
        }
    }

    /// Case `seed`.
    pub fn case(&self, seed: u64) -> Result<SimCase> {
        match self {
            Simulator::Microservice(p) => simulate(p, seed),
            Simulator::RandomDag(p) => {
                let case =
                    fault_cases(p, 1, seed)?
                        .pop()
                        .ok_or(crate::error::EvalError::Invalid {
                            what: "cases",
                            reason: "the DAG simulator made no case".into(),
                        })?;
                dag_case(&case)
            }
        }
    }
}

/// A random-DAG fault case as a topology plus metrics: variable `v` is resource `v<i>` with
/// metric `value`, sampled every minute; an edge cause -> effect becomes `effect depends_on
/// cause` (trouble travels from a dependency to its dependents, as in a topology).
fn dag_case(case: &FaultCase) -> Result<SimCase> {
    use aiops_core::{Edge, EdgeKind, Node, NodeKind, Topology};
    let names = case.dag.names();
    let nodes = names
        .iter()
        .map(|n| Node {
            id: n.clone(),
            kind: NodeKind::Service,
            labels: Default::default(),
        })
        .collect();
    let edges = case
        .dag
        .edges()
        .into_iter()
        .map(|(cause, effect, _)| Edge {
            from: names[effect].clone(),
            to: names[cause].clone(),
            kind: EdgeKind::DependsOn,
        })
        .collect();
    let rows = case.data.nrows();
    const START: i64 = 1_700_000_000_000;
    Ok(SimCase {
        topology: Topology::new(nodes, edges)?,
        timestamps: (0..rows as i64).map(|i| START + i * 60_000).collect(),
        names: names.iter().map(|n| format!("{n}:value")).collect(),
        columns: case
            .data
            .columns()
            .into_iter()
            .map(|c| c.to_vec())
            .collect(),
        root: names[case.root_cause].clone(),
        fault: match case.kind {
            crate::dag_sim::FaultKind::Shift => FaultKind::Shift,
            crate::dag_sim::FaultKind::Spike { .. } => FaultKind::Spike,
        },
        fault_time: START + case.fault_at as i64 * 60_000,
    })
}

/// One method on one case: rank given, rank found, and `(margin, right, confidence)` of the
/// top answer for each.
type MethodOnCase = (Option<usize>, Option<usize>, Vec<(f64, bool, f64)>);

struct CaseResult {
    kind: FaultKind,
    ranks: Vec<MethodOnCase>,
    time_error: Option<f64>,
}

/// Simulates `cases` incidents (case `i` from seed `seed + i`) and ranks each with every
/// method of `methods`.
pub fn evaluate(params: &SimParams, methods: &[Method], cases: usize, seed: u64) -> Result<Report> {
    evaluate_with(
        &Simulator::Microservice(params.clone()),
        methods,
        cases,
        seed,
    )
}

/// [`evaluate`] on the cases of any [`Simulator`].
pub fn evaluate_with(
    simulator: &Simulator,
    methods: &[Method],
    cases: usize,
    seed: u64,
) -> Result<Report> {
    evaluate_with_progress(simulator, methods, cases, seed, &crate::no_progress)
}

/// [`evaluate_with`], reporting each finished case to `progress`.
pub fn evaluate_with_progress(
    simulator: &Simulator,
    methods: &[Method],
    cases: usize,
    seed: u64,
    progress: crate::Progress<'_>,
) -> Result<Report> {
    let start = std::time::Instant::now();
    let counter = crate::progress::Counter::new(cases, progress);
    let results: Vec<CaseResult> = (0..cases)
        .into_par_iter()
        .map(|i| {
            let r = run_case(simulator, methods, seed.wrapping_add(i as u64));
            counter.tick();
            r
        })
        .collect::<Result<_>>()?;
    let mut reports: Vec<MethodReport> = methods
        .iter()
        .map(|&m| MethodReport {
            method: m,
            given: Accuracy::default(),
            found: Accuracy::default(),
            per_kind: BTreeMap::new(),
            confident: 0,
            confident_right: 0,
            samples: Vec::new(),
        })
        .collect();
    let mut kinds = BTreeMap::new();
    let mut errors = Vec::new();
    let mut not_found = 0;
    for r in &results {
        *kinds.entry(r.kind).or_insert(0) += 1;
        match r.time_error {
            Some(e) => errors.push(e),
            None => not_found += 1,
        }
        for (m, (given, found, tops)) in reports.iter_mut().zip(&r.ranks) {
            m.given.add(*given);
            m.found.add(*found);
            let k = m.per_kind.entry(r.kind).or_default();
            k.0.add(*given);
            k.1.add(*found);
            for &(mg, right, conf) in tops {
                m.samples.push((mg, right));
                if conf >= 0.8 {
                    m.confident += 1;
                    m.confident_right += usize::from(right);
                }
            }
        }
    }
    errors.sort_by(f64::total_cmp);
    let median_time_error = if errors.is_empty() {
        f64::NAN
    } else {
        errors[errors.len() / 2]
    };
    Ok(Report {
        simulator: simulator.name(),
        cases,
        seed,
        methods: reports,
        kinds,
        median_time_error,
        time_not_found: not_found,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn run_case(simulator: &Simulator, methods: &[Method], seed: u64) -> Result<CaseResult> {
    let case = simulator.case(seed)?;
    let graph = TopologyGraph::new(&case.topology)?;
    let frame = MetricFrame::new(
        &graph,
        case.timestamps.clone(),
        &case.names,
        case.columns.clone(),
    )?;
    let found_time = find_anomaly_time(&frame).ok();
    let step = (case.timestamps[1] - case.timestamps[0]) as f64;
    let time_error = found_time
        .as_ref()
        .map(|c| ((c.time - case.fault_time) as f64 / step).abs());
    let mut ranks = Vec::with_capacity(methods.len());
    for &m in methods {
        let mut tops = Vec::new();
        // Without a time, the ranking searches the onsets itself (several candidates,
        // combined), as `aiops rca` does without `--time`.
        let mut position = |t: Option<i64>| -> Option<usize> {
            let r = rank(&graph, &frame, t, m).ok()?;
            let scores: Vec<f64> = r.root_causes.iter().map(|c| c.score).collect();
            let first = r.root_causes.first()?;
            tops.push((
                margin(&scores),
                first.resource == case.root,
                first.confidence,
            ));
            r.root_causes
                .iter()
                .position(|c| c.resource == case.root)
                .map(|p| p + 1)
        };
        let given = position(Some(case.fault_time));
        let found = position(None);
        ranks.push((given, found, tops));
    }
    Ok(CaseResult {
        kind: case.fault,
        ranks,
        time_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_counts() {
        let mut a = Accuracy::default();
        a.add(Some(1));
        a.add(Some(3));
        a.add(None);
        a.add(Some(9));
        assert_eq!(a.ac(1), 0.25);
        assert_eq!(a.ac(3), 0.5);
        assert!((a.avg5() - (0.25 + 0.25 + 0.5 + 0.5 + 0.5) / 5.0).abs() < 1e-12);
    }

    #[test]
    fn random_dag_cases_become_a_topology_with_the_fault_at_the_root() {
        let sim = Simulator::RandomDag(FaultParams::default());
        let case = sim.case(3).unwrap();
        let graph = TopologyGraph::new(&case.topology).unwrap();
        assert_eq!(case.names.len(), case.columns.len());
        assert!(case.names.iter().all(|n| n.ends_with(":value")));
        // The root's dependents (the variables it causes) are what its fault reaches.
        assert!(!graph.dependents(&case.root).unwrap().is_empty());
        assert_eq!(case.fault, FaultKind::Shift);
        let i = case
            .timestamps
            .iter()
            .position(|&t| t == case.fault_time)
            .unwrap();
        let root = case
            .names
            .iter()
            .position(|n| *n == format!("{}:value", case.root))
            .unwrap();
        let before: f64 = case.columns[root][..i].iter().sum::<f64>() / i as f64;
        let after: f64 =
            case.columns[root][i..].iter().sum::<f64>() / (case.columns[root].len() - i) as f64;
        assert!(after - before > 3.0, "{before} -> {after}");
        let r = evaluate_with(&sim, &[Method::Default, Method::Baro], 8, 5).unwrap();
        assert_eq!(r.kinds.get(&FaultKind::Shift), Some(&8));
        assert_eq!(r.methods[0].given.cases, 8);
        // The report serializes with the names the CLI prints.
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["kinds"]["dag_shift"], 8);
        assert_eq!(v["methods"][1]["method"], "baro");
        assert_eq!(v["simulator"], "dag");
        let given = &v["methods"][0]["given"];
        assert_eq!(given["cases"], 8);
        assert!(given["ac1"].is_f64() && given["avg5"].is_f64(), "{given}");
        assert!(v["methods"][0]["per_kind"]["dag_shift"]["found"]["ac3"].is_f64());
        assert!(v["methods"][0].get("samples").is_none());
        assert!(v.get("median_time_error_points").is_some());
        for k in FaultKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }

    #[test]
    fn small_run_is_deterministic_and_sane() {
        let p = SimParams::default();
        let a = evaluate(&p, &[Method::Default, Method::Baro], 6, 11).unwrap();
        let b = evaluate(&p, &[Method::Default, Method::Baro], 6, 11).unwrap();
        assert_eq!(
            Report {
                seconds: 0.0,
                ..a.clone()
            },
            Report { seconds: 0.0, ..b }
        );
        assert_eq!(a.methods[0].given.cases, 6);
        assert_eq!(a.kinds.values().sum::<usize>(), 6);
    }
}
