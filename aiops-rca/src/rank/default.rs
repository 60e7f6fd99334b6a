//! The default ranking: robust scoring that knows the topology and the clock.
//!
//! 1. **Anomaly of a resource**: each metric's deviation from the median of the normal period
//!    in robust sigmas (IQR / 1.349), *sustained*: the rolling median over 5 points, so a lone
//!    1–2 point spike does not count. A resource takes its most deviant metric. It is
//!    *anomalous* when that reaches [`ANOMALOUS`]; its *onset* is the earliest point (from 3
//!    points before the anomaly time) at which one of its deviant metrics held |z| >= 3.
//!    A resource below the threshold on its own scale is also scored *beyond its
//!    dependencies*: its metrics regressed on its dependencies' metrics in the normal period
//!    (as `hypothesis` does), the residual scored the same way. A cause whose own noise is
//!    small next to what its causes pass on hides a shift of a few noise units in its spread
//!    (PyRCA-style linear models); the residual shows it.
//! 2. **Explained by a dependency**: trouble travels against the edges (from a callee to its
//!    callers, from a host to its residents). An anomalous resource with an anomalous direct
//!    dependency whose onset is not later than its own (within [`ONSET_TOLERANCE`] points) is
//!    probably a victim, and its score is discounted by [`EXPLAINED_DISCOUNT`] per such
//!    dependency (half of it when the dependency changed strictly later, within the
//!    tolerance).
//! 3. **Hosts add up their residents**: a host's CPU or memory is the sum of its residents'
//!    usage, so a CPU hog in one service raises its host's CPU (and slows its neighbours).
//!    When a host's most deviant metric moved, in the same direction and no later, with the
//!    same metric of one of its residents, the host is taken as driven by that resident: the
//!    host is discounted by [`EXPLAINED_DISCOUNT`] and does not discount that resident.
//! 4. **Explains its dependents**: a root's dependents (callers, residents) should suffer
//!    after it. The score is multiplied by `0.5 + 0.5 x` the share of direct dependents that
//!    are anomalous with an onset not earlier than its own (`0.75` for a resource nothing
//!    depends on).
//! 5. **Below the threshold**: when some resource is anomalous, the others are weighted by
//!    [`NOT_ANOMALOUS_WEIGHT`], so no quiet resource outranks an anomalous one.
//! 6. **Who changed first**: among anomalous resources, each point of onset after the earliest
//!    costs a little (`1 / (1 + 0.05 d)`).
//!
//! The evidence says which metric moved, how far and when, how long before its dependents,
//! and whether its dependencies stayed healthy.

use aiops_core::EdgeKind;

use rayon::prelude::*;

use super::{Prepared, Scored};

/// Sustained robust z from which a resource counts as anomalous.
pub const ANOMALOUS: f64 = 4.0;
/// Points by which a dependency's onset may trail a resource's and still explain it.
pub const ONSET_TOLERANCE: usize = 2;
/// Weight of a resource below the anomaly threshold when some resource is above it.
pub const NOT_ANOMALOUS_WEIGHT: f64 = 0.05;
/// Share of the score an explaining dependency takes away.
pub const EXPLAINED_DISCOUNT: f64 = 0.9;

struct Res {
    anomaly: f64,
    column: Option<usize>,
    z: f64,
    at: usize,
    onset: Option<usize>,
}

/// A resource that is not anomalous on its own scale may still be anomalous beyond what its
/// dependencies' metrics predict: when a cause's own noise is small next to what its causes
/// pass on to it, a shift of a few noise units hides in its spread. Its metrics are
/// regressed on its dependencies' in the normal period (as `hypothesis` does) and the
/// residual is scored as the metric would be: sustained robust z and onset.
fn beyond_dependencies(p: &Prepared<'_>, ri: usize, mut r: Res) -> Res {
    if r.anomaly >= ANOMALOUS {
        return r;
    }
    let parents: Vec<usize> = p
        .deps(ri)
        .into_iter()
        .flat_map(|d| p.columns_of[d].iter().copied())
        .filter(|&c| !p.stats[c].constant)
        .collect();
    if parents.is_empty() {
        return r;
    }
    let cols = p.frame.columns();
    for &c in &p.columns_of[ri] {
        if p.stats[c].constant {
            continue;
        }
        let resid = super::hypothesis::residuals(&cols[c].values[p.begin..p.end], &parents, p);
        let s = super::column_stats::one_column(&resid, p.split - p.begin, false);
        if let Some(o) = s.onset
            && s.sustained_z.abs() >= ANOMALOUS
            && s.sustained_z.abs() > r.anomaly
        {
            r.anomaly = s.sustained_z.abs();
            r.column = Some(c);
            r.z = s.sustained_z;
            r.at = s.sustained_at + p.begin;
            r.onset = Some(o + p.begin);
        }
    }
    r
}

/// Scores every candidate (see the module docs).
pub(crate) fn score(p: &Prepared<'_>) -> Vec<Scored> {
    let res: Vec<Res> = p
        .columns_of
        .iter()
        .map(|cols| {
            let mut r = Res {
                anomaly: 0.0,
                column: None,
                z: 0.0,
                at: p.split,
                onset: None,
            };
            for &c in cols {
                let s = &p.stats[c];
                if s.constant {
                    continue;
                }
                let a = s.sustained_z.abs();
                if a > r.anomaly || r.column.is_none() {
                    r.anomaly = a;
                    r.column = Some(c);
                    r.z = s.sustained_z;
                    r.at = s.sustained_at;
                }
                if a >= ANOMALOUS
                    && let Some(o) = s.onset
                {
                    r.onset = Some(r.onset.map_or(o, |x: usize| x.min(o)));
                }
            }
            r
        })
        .collect::<Vec<Res>>()
        .into_par_iter()
        .enumerate()
        .map(|(ri, r)| beyond_dependencies(p, ri, r))
        .collect();
    let anomalous = |i: usize| res[i].anomaly >= ANOMALOUS && res[i].onset.is_some();
    let any_anomalous = (0..res.len()).any(anomalous);
    let earliest = (0..res.len())
        .filter(|&i| anomalous(i))
        .filter_map(|i| res[i].onset)
        .min();
    let deps: Vec<Vec<usize>> = (0..res.len()).map(|r| p.deps(r)).collect();
    let dependents: Vec<Vec<usize>> = (0..res.len()).map(|r| p.dependents(r)).collect();
    // A host whose telling metric rose with the same metric of one of its residents.
    let driven_by: Vec<Option<usize>> = (0..res.len())
        .map(|h| {
            let hc = res[h].column?;
            if !anomalous(h) {
                return None;
            }
            let metric = &p.frame.columns()[hc].metric;
            let ho = p.stats[hc].onset?;
            dependents[h]
                .iter()
                .copied()
                .filter(|&s| is_host_edge(p, s, h))
                .filter_map(|s| {
                    let c = *p.columns_of[s]
                        .iter()
                        .find(|&&c| &p.frame.columns()[c].metric == metric)?;
                    let st = &p.stats[c];
                    let same_way = st.sustained_z.signum() == p.stats[hc].sustained_z.signum();
                    let early = st.onset.is_some_and(|o| o <= ho + ONSET_TOLERANCE);
                    (same_way && early && st.sustained_z.abs() >= ANOMALOUS)
                        .then_some((st.sustained_z.abs(), s))
                })
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|x| x.1)
        })
        .collect();
    (0..res.len())
        .map(|r| {
            let me = &res[r];
            let Some(col) = me.column else {
                return Scored::default();
            };
            let mut evidence = Vec::new();
            let mut score = me.anomaly;
            let mut head = p.deviation_sentence(col, me.z, me.at, "robust sigma");
            let Some(onset) = me.onset.filter(|_| anomalous(r)) else {
                evidence.push(format!(
                    "{head}; below the anomaly threshold of {ANOMALOUS} robust sigma"
                ));
                // Below every anomalous resource, whatever the topology does to those.
                if any_anomalous {
                    score *= NOT_ANOMALOUS_WEIGHT;
                }
                return Scored {
                    score,
                    column: Some(col),
                    evidence,
                };
            };
            // Explained by a dependency?
            let mut explained_by = Vec::new();
            let mut healthy = Vec::new();
            let mut drives = None;
            for &d in &deps[r] {
                let dep = &res[d];
                if driven_by[d] == Some(r) {
                    drives = Some(d);
                    continue;
                }
                match dep.onset {
                    Some(od) if anomalous(d) && od <= onset + ONSET_TOLERANCE => {
                        // A dependency that changed strictly later explains less.
                        let weight = if od <= onset { 1.0 } else { 0.5 };
                        score *= 1.0 - EXPLAINED_DISCOUNT * weight;
                        explained_by.push((d, od));
                    }
                    _ => healthy.push(d),
                }
            }
            if let Some(s) = driven_by[r] {
                score *= 1.0 - EXPLAINED_DISCOUNT;
                if let (Some(sc), Some(hc)) = (res[s].column, me.column) {
                    let metric = &p.frame.columns()[hc].metric;
                    let same = p.columns_of[s]
                        .iter()
                        .find(|&&c| &p.frame.columns()[c].metric == metric)
                        .copied()
                        .unwrap_or(sc);
                    evidence.push(format!(
                        "its {metric} moved with its resident {}'s ({}), which it adds up",
                        p.resources[s],
                        p.name(same)
                    ));
                }
            }
            // Explains its dependents?
            let later: Vec<usize> = dependents[r]
                .iter()
                .copied()
                .filter(|&x| {
                    anomalous(x) && res[x].onset.is_some_and(|o| o + ONSET_TOLERANCE >= onset)
                })
                .collect();
            let coverage = if dependents[r].is_empty() {
                0.5
            } else {
                later.len() as f64 / dependents[r].len() as f64
            };
            score *= 0.5 + 0.5 * coverage;
            if let Some(e) = earliest {
                score /= 1.0 + 0.05 * (onset - e) as f64;
            }
            // Evidence.
            let first_after = later
                .iter()
                .filter_map(|&x| res[x].onset.map(|o| (o, x)))
                .filter(|&(o, _)| o > onset)
                .min();
            // "cart:cpu rose 6.1 robust sigma at 12:03:15, 30 s before frontend:latency": the
            // size is the sustained peak, the time the column's onset.
            let when = p.stats[col].onset.unwrap_or(onset);
            head = p.deviation_sentence(col, me.z, when, "robust sigma");
            if let Some((o, x)) = first_after
                && let Some(xc) = res[x].column
                && o > when
            {
                let secs = (p.frame.timestamps()[o] - p.frame.timestamps()[when]) / 1000;
                head = format!("{head}, {secs} s before {}", p.name(xc));
            }
            evidence.push(head);
            if !dependents[r].is_empty() {
                evidence.push(format!(
                    "{} of its {} direct dependents changed with or after it{}",
                    later.len(),
                    dependents[r].len(),
                    if later.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " ({})",
                            later
                                .iter()
                                .map(|&x| p.resources[x])
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                ));
            }
            if let Some(h) = drives {
                evidence.push(format!(
                    "its host {} moved with it, as its usage adds to the host's",
                    p.resources[h]
                ));
            }
            if !explained_by.is_empty() {
                let names: Vec<String> = explained_by
                    .iter()
                    .map(|&(d, od)| format!("{} (changed at {})", p.resources[d], p.clock(od)))
                    .collect();
                evidence.push(format!(
                    "a dependency changed no later than it: {}, so it may be a victim",
                    names.join(", ")
                ));
            } else if !deps[r].is_empty() {
                evidence.push(format!(
                    "its dependencies stayed healthy ({})",
                    healthy
                        .iter()
                        .map(|&d| p.resources[d])
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            Scored {
                score,
                column: Some(col),
                evidence,
            }
        })
        .collect()
}

/// Whether the edge from candidate `r` to its dependency `d` is a `runs_on` edge.
fn is_host_edge(p: &Prepared<'_>, r: usize, d: usize) -> bool {
    let (from, to) = (p.resources[r], p.resources[d]);
    p.graph.edge_kinds(from, to).contains(&EdgeKind::RunsOn)
}

#[cfg(test)]
mod tests {
    use crate::rank::Method;
    use crate::testing::{build, chain, ranked};

    #[test]
    fn the_deepest_changed_resource_wins_over_louder_callers() {
        // c (the callee) shifts least, its callers more: BARO blames a, the default c.
        let (g, f) = chain(
            &[
                ("a:latency", 40.0),
                ("b:latency", 25.0),
                ("c:latency", 12.0),
            ],
            60,
        );
        assert_eq!(ranked(&g, &f, Method::Baro)[0], "a");
        assert_eq!(ranked(&g, &f, Method::Default)[0], "c");
    }

    #[test]
    fn evidence_says_how_far_when_and_before_whom() {
        let (g, f) = build(
            r#"{"nodes": [{"id": "a", "kind": "service"}, {"id": "b", "kind": "service"}],
              "edges": [{"from": "a", "to": "b", "kind": "calls"}]}"#,
            &[("a:latency", 20.0, 62), ("b:latency", 20.0, 60)],
        );
        let r = crate::rank::rank(&g, &f, Some(f.timestamps()[60]), Method::Default).unwrap();
        let top = &r.root_causes[0];
        assert_eq!(top.resource, "b");
        let e = &top.evidence[0];
        assert!(e.starts_with("b:latency rose "), "{e}");
        assert!(
            e.ends_with("robust sigma at 23:13:20, 120 s before a:latency"),
            "{e}"
        );
        assert_eq!(
            top.evidence[1],
            "1 of its 1 direct dependents changed with or after it (a)"
        );
        assert!(r.root_causes[1].evidence[1].contains("may be a victim"));
        assert_eq!(r.affected, ["a"]);
    }

    #[test]
    fn a_later_dependency_does_not_explain() {
        // b changes at 60, its callee c only at 75 (say, load from b's retries): b is the root.
        let (g, f) = build(
            r#"{"nodes": [{"id": "a", "kind": "service"}, {"id": "b", "kind": "service"},
                {"id": "c", "kind": "service"}],
              "edges": [{"from": "a", "to": "b", "kind": "calls"},
                        {"from": "b", "to": "c", "kind": "calls"}]}"#,
            &[
                ("a:latency", 30.0, 61),
                ("b:latency", 20.0, 60),
                ("c:cpu", 40.0, 75),
            ],
        );
        assert_eq!(ranked(&g, &f, Method::Default)[0], "b");
    }

    #[test]
    fn host_cpu_raised_by_one_resident_does_not_blame_the_host() {
        // s1's CPU hog raises host1's CPU; s2 on the same host is fine; fe calls s1.
        let topo = r#"{"nodes": [{"id": "fe", "kind": "service"}, {"id": "s1", "kind": "service"},
            {"id": "s2", "kind": "service"}, {"id": "host1", "kind": "host"}],
          "edges": [{"from": "fe", "to": "s1", "kind": "calls"}, {"from": "fe", "to": "s2", "kind": "calls"},
                    {"from": "s1", "to": "host1", "kind": "runs_on"},
                    {"from": "s2", "to": "host1", "kind": "runs_on"}]}"#;
        let (g, f) = build(
            topo,
            &[
                ("fe:latency", 15.0, 61),
                ("s1:cpu", 30.0, 60),
                ("s1:latency", 10.0, 60),
                ("s2:latency", 0.0, 60),
                ("host1:cpu", 12.0, 60),
            ],
        );
        assert_eq!(ranked(&g, &f, Method::Default)[0], "s1");
        // A host fault instead: both residents slow down, and the host is to blame.
        let (g, f) = build(
            topo,
            &[
                ("fe:latency", 15.0, 61),
                ("s1:cpu", 0.0, 60),
                ("s1:latency", 10.0, 60),
                ("s2:latency", 10.0, 60),
                ("host1:cpu", 12.0, 60),
            ],
        );
        assert_eq!(ranked(&g, &f, Method::Default)[0], "host1");
    }
}
