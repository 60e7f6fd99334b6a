//! Evaluation of the correlation engine on generated scenarios with ground truth
//! ([`crate::alert_storm`]).
//!
//! Per case: noise reduction as the engine's [`Stats`](aiops_alerts::Stats) define it
//! (`1 - incidents / alerts_in`, every re-send counted as an incoming alert); incident purity,
//! the mean over incidents of the share of an incident's alerts that belong to its majority
//! fault (background and flapping alerts count against it); completeness, the mean over faults
//! of the share of a fault's alerts in its largest incident (alerts that joined no incident
//! count as missed); and origin accuracy, the share of incidents whose majority is a fault and
//! whose probable origin is that fault's resource; and episode reduction, `1 - incidents /
//! distinct alerts`, which gives no credit for dropping re-sends. An "alert" here is one firing episode:
//! re-sends and the resolution of an alert count once. The scores are averaged over cases.

use std::collections::{BTreeMap, HashMap};

use aiops_core::Fingerprint;
use serde::Serialize;

use crate::alert_storm::{Scenario, ScenarioParams};
use crate::error::{EvalError, Result};
use crate::rng::SimRng;
use aiops_alerts::{Config, Engine};

/// What caused an alert, in the ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Cause {
    /// An injected fault.
    Fault(usize),
    /// Background or flapping noise: the alert itself.
    Noise(Fingerprint),
}

/// Scores of one case or, averaged, of many.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct AlertScores {
    /// `1 - incidents / alerts_in`.
    pub noise_reduction: f64,
    /// Mean share of an incident's alerts that belong to its majority fault.
    pub purity: f64,
    /// Mean share of a fault's alerts in its largest incident.
    pub completeness: f64,
    /// `1 - incidents / distinct alerts` (re-sends and resolutions not counted): the
    /// reduction grouping alone achieves, without the credit dedup gets for re-sends.
    pub episode_reduction: f64,
    /// Share of fault incidents whose probable origin is the injected fault's resource.
    pub origin_accuracy: f64,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertEval {
    /// Scores averaged over cases.
    #[serde(flatten)]
    pub scores: AlertScores,
    /// Number of cases.
    pub cases: usize,
    /// Alerts fed in, over all cases (re-sends included).
    pub alerts_in: u64,
    /// Incidents opened, over all cases.
    pub incidents: u64,
    /// Faults injected, over all cases.
    pub faults: usize,
    /// Seed the cases were generated from.
    pub seed: u64,
    /// Wall time of generation and correlation, seconds.
    pub seconds: f64,
}

/// Runs the engine built from `config` over one scenario (with its topology) and scores it.
pub fn score_scenario(config: &Config, scenario: &Scenario) -> Result<(AlertScores, u64, u64)> {
    let mut engine = Engine::new(config.clone(), Some(&scenario.topology))?;
    let mut now = i64::MIN;
    // episode -> (fault, fingerprint, incident of its first firing notification that got one)
    let mut episodes: BTreeMap<usize, (Option<usize>, Fingerprint, Option<String>)> =
        BTreeMap::new();
    for a in &scenario.alerts {
        now = now.max(a.at);
        let firing = a.alert.status_at(now) == aiops_core::AlertStatus::Firing;
        let got = engine.ingest(a.alert.clone(), now)?;
        let entry = episodes
            .entry(a.episode)
            .or_insert((a.fault, a.alert.fingerprint, None));
        if firing && entry.2.is_none() {
            entry.2 = got.incident;
        }
    }
    if now > i64::MIN {
        engine.tick(now)?;
    }
    // Incidents merged since an episode joined hand their alerts on.
    for e in episodes.values_mut() {
        if let Some(i) = &e.2 {
            e.2 = engine.current_incident(i);
        }
    }
    let stats = engine.stats();
    // incident -> cause -> episodes. A cause is a fault, or for background and flapping
    // alerts the alert itself (its fingerprint): unrelated noise alerts are distinct causes.
    let mut by_incident: BTreeMap<&str, HashMap<Cause, usize>> = BTreeMap::new();
    // fault -> incident (None = no incident) -> episodes
    let mut by_fault: BTreeMap<usize, HashMap<Option<&str>, usize>> = BTreeMap::new();
    for (fault, fp, inc) in episodes.values() {
        let cause = fault.map_or(Cause::Noise(*fp), Cause::Fault);
        if let Some(i) = inc {
            *by_incident.entry(i).or_default().entry(cause).or_default() += 1;
        }
        if let Some(f) = fault {
            *by_fault
                .entry(*f)
                .or_default()
                .entry(inc.as_deref())
                .or_default() += 1;
        }
    }
    let mut purity = Vec::new();
    let mut majority: BTreeMap<&str, Cause> = BTreeMap::new();
    for (inc, counts) in &by_incident {
        let total: usize = counts.values().sum();
        // Majority cause (ties: the smallest cause, faults first).
        let Some((n, std::cmp::Reverse(cause))) = counts
            .iter()
            .map(|(c, n)| (*n, std::cmp::Reverse(*c)))
            .max()
        else {
            continue;
        };
        purity.push(n as f64 / total as f64);
        majority.insert(inc, cause);
    }
    let completeness: Vec<f64> = by_fault
        .values()
        .map(|counts| {
            let total: usize = counts.values().sum();
            let largest = counts
                .iter()
                .filter(|(i, _)| i.is_some())
                .map(|(_, n)| *n)
                .max()
                .unwrap_or(0);
            largest as f64 / total as f64
        })
        .collect();
    let mut fault_incidents = 0usize;
    let mut right_origin = 0usize;
    for inc in engine.incidents() {
        if let Some(Cause::Fault(f)) = majority.get(inc.id.as_str()) {
            fault_incidents += 1;
            if inc.probable_origin.as_deref() == Some(scenario.faults[*f].resource.as_str()) {
                right_origin += 1;
            }
        }
    }
    let mean = |v: &[f64]| {
        if v.is_empty() {
            1.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let scores = AlertScores {
        noise_reduction: stats.noise_reduction,
        episode_reduction: if episodes.is_empty() {
            0.0
        } else {
            1.0 - stats.incidents as f64 / episodes.len() as f64
        },
        purity: mean(&purity),
        completeness: mean(&completeness),
        origin_accuracy: if fault_incidents == 0 {
            0.0
        } else {
            right_origin as f64 / fault_incidents as f64
        },
    };
    Ok((scores, stats.alerts_in, stats.incidents))
}

/// Generates `cases` scenarios from `seed` with `params`, runs the engine built from `config`
/// over each and averages the scores.
pub fn evaluate(
    config: &Config,
    params: &ScenarioParams,
    cases: usize,
    seed: u64,
) -> Result<AlertEval> {
    evaluate_with_progress(config, params, cases, seed, &crate::no_progress)
}

/// [`evaluate`], reporting each finished case to `progress`.
pub fn evaluate_with_progress(
    config: &Config,
    params: &ScenarioParams,
    cases: usize,
    seed: u64,
    progress: crate::Progress<'_>,
) -> Result<AlertEval> {
    if cases == 0 {
        return Err(EvalError::Invalid {
            what: "cases",
            reason: "need at least one case".into(),
        });
    }
    let start = std::time::Instant::now();
    let counter = crate::progress::Counter::new(cases, progress);
    let mut seeds = SimRng::new(seed);
    let mut sum = AlertScores::default();
    let (mut alerts_in, mut incidents, mut faults) = (0, 0, 0);
    for _ in 0..cases {
        let scenario = params.generate(seeds.next_u64())?;
        let (s, a, i) = score_scenario(config, &scenario)?;
        sum.noise_reduction += s.noise_reduction;
        sum.purity += s.purity;
        sum.episode_reduction += s.episode_reduction;
        sum.completeness += s.completeness;
        sum.origin_accuracy += s.origin_accuracy;
        alerts_in += a;
        incidents += i;
        faults += scenario.faults.len();
        counter.tick();
    }
    let n = cases as f64;
    Ok(AlertEval {
        scores: AlertScores {
            noise_reduction: sum.noise_reduction / n,
            purity: sum.purity / n,
            episode_reduction: sum.episode_reduction / n,
            completeness: sum.completeness / n,
            origin_accuracy: sum.origin_accuracy / n,
        },
        cases,
        alerts_in,
        incidents,
        faults,
        seed,
        seconds: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert_storm::{Fault, ScenarioAlert};
    use aiops_core::{Alert, Edge, EdgeKind, Labels, Node, NodeKind, Topology};

    const M: i64 = 60_000;

    fn topo() -> Topology {
        let node = |id: &str| Node {
            id: id.into(),
            kind: NodeKind::Service,
            labels: Default::default(),
        };
        let calls = |a: &str, b: &str| Edge {
            from: a.into(),
            to: b.into(),
            kind: EdgeKind::Calls,
        };
        Topology::new(
            vec![node("web"), node("api"), node("db"), node("far")],
            vec![calls("web", "api"), calls("api", "db")],
        )
        .unwrap()
    }

    fn alert(service: &str, at: i64, fault: Option<usize>, episode: usize) -> ScenarioAlert {
        let labels = Labels::try_from_pairs([("alertname", "Down"), ("service", service)]).unwrap();
        ScenarioAlert {
            alert: Alert::firing(labels, at).unwrap(),
            at,
            fault,
            episode,
        }
    }

    fn scenario(alerts: Vec<ScenarioAlert>) -> Scenario {
        Scenario {
            topology: topo(),
            faults: vec![Fault {
                resource: "db".into(),
                at: 0,
            }],
            episodes: alerts.iter().map(|a| a.episode + 1).max().unwrap_or(0),
            alerts,
        }
    }

    #[test]
    fn one_clean_storm_scores_perfectly() {
        // db fails, api then web alert; db re-sent once (a duplicate).
        let s = scenario(vec![
            alert("db", 0, Some(0), 0),
            alert("api", M / 2, Some(0), 1),
            alert("db", M, Some(0), 0),
            alert("web", M, Some(0), 2),
        ]);
        let (sc, alerts_in, incidents) = score_scenario(&Config::default(), &s).unwrap();
        assert_eq!((alerts_in, incidents), (4, 1));
        assert!((sc.noise_reduction - 0.75).abs() < 1e-12);
        assert!((sc.episode_reduction - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(sc.purity, 1.0);
        assert_eq!(sc.completeness, 1.0);
        assert_eq!(sc.origin_accuracy, 1.0);
    }

    #[test]
    fn background_next_to_a_fault_costs_purity_and_far_one_does_not() {
        // A background alert on api joins the db incident: purity 3/4 there. One on an
        // unconnected service opens its own incident, pure by definition but no fault's.
        let s = scenario(vec![
            alert("db", 0, Some(0), 0),
            alert("api", M, None, 1),
            alert("web", 2 * M, Some(0), 2),
            alert("far", 2 * M, None, 3),
        ]);
        // web is two hops from db but one from api, so the storm stays one incident.
        let (sc, _, incidents) = score_scenario(&Config::default(), &s).unwrap();
        assert_eq!(incidents, 2);
        // Incident 1: 2 fault alerts of 3 -> 2/3; incident 2: one background alert -> 1.
        assert!((sc.purity - (2.0 / 3.0 + 1.0) / 2.0).abs() < 1e-12);
        assert_eq!(sc.completeness, 1.0);
    }

    #[test]
    fn split_storm_costs_completeness() {
        // The web alert comes after the window: a second incident of the same fault.
        let s = scenario(vec![
            alert("db", 0, Some(0), 0),
            alert("api", M, Some(0), 1),
            alert("web", 60 * M, Some(0), 2),
        ]);
        let (sc, _, incidents) = score_scenario(&Config::default(), &s).unwrap();
        assert_eq!(incidents, 2);
        assert_eq!(sc.purity, 1.0);
        assert!((sc.completeness - 2.0 / 3.0).abs() < 1e-12);
        // Only the first incident has db, the fault's resource, as origin.
        assert!((sc.origin_accuracy - 0.5).abs() < 1e-12);
    }

    #[test]
    fn evaluate_is_deterministic_and_checks_cases() {
        let p = ScenarioParams::default();
        let a = evaluate(&Config::default(), &p, 3, 42).unwrap();
        let b = evaluate(&Config::default(), &p, 3, 42).unwrap();
        assert_eq!(
            AlertEval {
                seconds: 0.0,
                ..a.clone()
            },
            AlertEval { seconds: 0.0, ..b }
        );
        assert_eq!(a.cases, 3);
        assert_eq!(a.faults, 9);
        assert!(a.incidents > 0 && a.alerts_in > a.incidents);
        assert!(evaluate(&Config::default(), &p, 0, 42).is_err());
        let seen = std::sync::Mutex::new(Vec::new());
        let report = |d, t| seen.lock().unwrap().push((d, t));
        evaluate_with_progress(&Config::default(), &p, 2, 42, &report).unwrap();
        assert_eq!(*seen.lock().unwrap(), [(0, 2), (1, 2), (2, 2)]);
        let v = serde_json::to_value(&a).unwrap();
        for key in [
            "noise_reduction",
            "purity",
            "cases",
            "seed",
            "alerts_in",
            "seconds",
        ] {
            assert!(v.get(key).is_some(), "{key} in {v}");
        }
    }
}
