//! Ranking without a given anomaly time when the data changed at several moments: rank under
//! each candidate onset and combine.
//!
//! The onset search ([`super::changepoint::candidate_onsets`]) may find several moments at
//! which columns changed together: a few load-driven columns drifting right after the
//! warm-up, the fault itself, what the fault caused later. Choosing one by the number of
//! columns that changed is fragile (two drifting request rates outnumber a memory leak that
//! moves one column first), so every candidate gets its own ranking and the rankings are
//! mixed: each resource's confidence is `sum_k w_k c_k(r)`, where `c_k(r)` is its calibrated
//! confidence under onset `k` and `w_k` is the onset's weight ([`onset_weight`]: its
//! ranking's top confidence times the square roots of the columns that changed at it and of
//! the length of its normal period), normalised over the candidates. An onset whose ranking singles out one cause clearly is
//! probably the incident; one under which the blame is spread over many resources is
//! probably drift. A resource consistently near the top under several onsets gathers weight
//! from each. The resources are sorted by the mixed confidence, so confidence follows rank.
//!
//! Each resource keeps the evidence of the onset that contributed most to its confidence,
//! plus one sentence listing the candidate onsets in time order with their weights; the
//! ranking's anomaly time is the onset that contributed most to the top resource.

use std::collections::HashMap;

use aiops_core::RootCause;
use aiops_core::time::format_rfc3339;

use super::{AnomalyTimeSource, MAX_NORMAL_POINTS, Ranking};

/// Smallest weight of a candidate onset, so that a ranking whose scores are all zero still
/// counts a little (and weights never all vanish).
pub const MIN_WEIGHT: f64 = 1e-3;

/// The weight of the onset a ranking was computed under, before normalisation: its top
/// candidate's confidence (at least [`MIN_WEIGHT`]), times the square root of the number of
/// columns that changed at the onset, times the square root of the share of
/// [`MAX_NORMAL_POINTS`] the normal period before it has (both 1 for a given time). Two
/// onsets that each single out one cause with the calibration's highest confidence are told
/// apart by how much of the data moved at each (the square root, because the columns of one
/// resource move together); and a ranking whose normal period is a few points after the
/// start of the data rests on a rough baseline (the precision of a scale grows as the square
/// root of the points it is learnt from).
pub fn onset_weight(ranking: &Ranking) -> f64 {
    let confidence = ranking
        .root_causes
        .first()
        .map_or(0.0, |c| c.confidence)
        .max(MIN_WEIGHT);
    let (columns, normal) = match &ranking.anomaly_time_source {
        AnomalyTimeSource::Detected(cp) => (
            cp.columns_changed.max(1) as f64,
            (cp.index.min(MAX_NORMAL_POINTS) as f64 / MAX_NORMAL_POINTS as f64).max(MIN_WEIGHT),
        ),
        AnomalyTimeSource::Given => (1.0, 1.0),
    };
    confidence * columns.sqrt() * normal.sqrt()
}

/// Per-resource sums while mixing.
#[derive(Default)]
struct Mixed {
    confidence: f64,
    score: f64,
    /// (contribution, ranking, position) of the largest contribution.
    lead: Option<(f64, usize, usize)>,
}

/// Combines rankings of the same frame under different candidate onsets into one (see the
/// module docs); `None` when there is none. One ranking is returned as it is. The combined
/// `score` of a resource is the weighted mean of its scores under the onsets.
pub fn combine(mut rankings: Vec<Ranking>) -> Option<Ranking> {
    if rankings.len() <= 1 {
        return rankings.pop();
    }
    let raw: Vec<f64> = rankings.iter().map(onset_weight).collect();
    let total: f64 = raw.iter().sum();
    let weights: Vec<f64> = raw.iter().map(|w| w / total).collect();
    let mut mixed: HashMap<&str, Mixed> = HashMap::new();
    for (k, r) in rankings.iter().enumerate() {
        for (i, c) in r.root_causes.iter().enumerate() {
            let m = mixed.entry(c.resource.as_str()).or_default();
            let part = weights[k] * c.confidence;
            m.confidence += part;
            m.score += weights[k] * c.score;
            if m.lead.is_none_or(|(best, ..)| part > best) {
                m.lead = Some((part, k, i));
            }
        }
    }
    let mut order: Vec<(&str, Mixed)> = mixed.into_iter().collect();
    order.sort_by(|a, b| {
        b.1.confidence
            .total_cmp(&a.1.confidence)
            .then_with(|| b.1.score.total_cmp(&a.1.score))
            .then_with(|| a.0.cmp(b.0))
    });
    let onsets = onset_sentence(&rankings, &weights);
    let mut root_causes: Vec<RootCause> = Vec::with_capacity(order.len());
    for (rank, (_, m)) in order.iter().enumerate() {
        let Some((_, k, i)) = m.lead else { continue };
        let from = &rankings[k].root_causes[i];
        let mut evidence = from.evidence.clone();
        evidence.push(format!(
            "{onsets}; the evidence above is from the onset at {}",
            clock(rankings[k].anomaly_time)
        ));
        root_causes.push(RootCause {
            rank: rank + 1,
            resource: from.resource.clone(),
            metric: from.metric.clone(),
            score: m.score,
            confidence: m.confidence,
            evidence,
            affected: from.affected.clone(),
        });
    }
    let lead = order
        .first()
        .and_then(|(_, m)| m.lead)
        .map_or(0, |(_, k, _)| k);
    let mut out = rankings.swap_remove(lead);
    out.affected = root_causes
        .first()
        .map(|c| c.affected.clone())
        .unwrap_or_default();
    out.root_causes = root_causes;
    out.notes.insert(1, onsets);
    Some(out)
}

/// "ranked under 3 candidate onsets found in the data, in time order: 00:21:00 (weight
/// 0.12), 06:58:00 (weight 0.80), 08:04:00 (weight 0.08)".
fn onset_sentence(rankings: &[Ranking], weights: &[f64]) -> String {
    let mut by_time: Vec<(i64, f64)> = rankings
        .iter()
        .zip(weights)
        .map(|(r, &w)| (r.anomaly_time, w))
        .collect();
    by_time.sort_by_key(|x| x.0);
    let list: Vec<String> = by_time
        .iter()
        .map(|&(t, w)| format!("{} (weight {w:.2})", clock(t)))
        .collect();
    format!(
        "ranked under {} candidate onsets found in the data, in time order: {}",
        rankings.len(),
        list.join(", ")
    )
}

/// `HH:MM:SS` (UTC) of a time.
fn clock(t: i64) -> String {
    let s = format_rfc3339(t);
    s.get(11..19).map(str::to_string).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rank::Method;

    /// A ranking at minute `minute` with these (resource, confidence) pairs, best first.
    fn ranking(minute: i64, causes: &[(&str, f64)]) -> Ranking {
        Ranking {
            anomaly_time: minute * 60_000,
            anomaly_time_source: AnomalyTimeSource::Given,
            method: Method::Default,
            root_causes: causes
                .iter()
                .enumerate()
                .map(|(i, &(r, c))| RootCause {
                    rank: i + 1,
                    resource: r.to_string(),
                    metric: None,
                    score: 10.0 * c,
                    confidence: c,
                    evidence: vec![format!("{r} at minute {minute}")],
                    affected: Vec::new(),
                })
                .collect(),
            affected: Vec::new(),
            notes: vec!["found".into()],
        }
    }

    #[test]
    fn one_ranking_is_kept_as_it_is() {
        let r = ranking(5, &[("a", 0.9), ("b", 0.1)]);
        assert_eq!(combine(vec![r.clone()]), Some(r));
        assert_eq!(combine(Vec::new()), None);
    }

    #[test]
    fn the_resource_consistent_across_onsets_wins() {
        // a leads narrowly under one onset and vanishes under the other; b is a close second
        // under the first and leads the second: b is the consistent answer.
        let early = ranking(20, &[("a", 0.50), ("b", 0.45), ("c", 0.05)]);
        let late = ranking(400, &[("b", 0.60), ("c", 0.30), ("a", 0.0)]);
        let r = combine(vec![early, late]).unwrap();
        let order: Vec<&str> = r.root_causes.iter().map(|c| c.resource.as_str()).collect();
        assert_eq!(order, ["b", "a", "c"]);
        // Confidence follows rank, sums to at most 1, and ranks are 1..n.
        let conf: Vec<f64> = r.root_causes.iter().map(|c| c.confidence).collect();
        assert!(conf.windows(2).all(|w| w[0] >= w[1]), "{conf:?}");
        assert!(conf.iter().sum::<f64>() <= 1.0 + 1e-12);
        assert_eq!(r.root_causes[2].rank, 3);
        // b's evidence comes from the onset that gave it most, and the onsets are listed
        // in time order, whatever order the candidates came in.
        let e = &r.root_causes[0].evidence;
        assert_eq!(e[0], "b at minute 400");
        assert!(
            e[1].starts_with(
                "ranked under 2 candidate onsets found in the data, in time order: \
                 00:20:00 (weight 0.45), 06:40:00 (weight 0.55)"
            ),
            "{}",
            e[1]
        );
        assert!(e[1].ends_with("the evidence above is from the onset at 06:40:00"));
        assert_eq!(r.anomaly_time, 400 * 60_000);
        assert!(r.notes[1].starts_with("ranked under 2 candidate onsets"));
    }

    #[test]
    fn a_clear_onset_outweighs_a_diffuse_one() {
        // Blame spread thin under the busy early onset, one clear cause under the later one.
        let diffuse = ranking(21, &[("x", 0.3), ("y", 0.25), ("z", 0.2), ("r", 0.01)]);
        let clear = ranking(418, &[("r", 0.99), ("x", 0.005)]);
        let r = combine(vec![diffuse, clear]).unwrap();
        assert_eq!(r.root_causes[0].resource, "r");
        assert_eq!(r.anomaly_time, 418 * 60_000);
    }

    #[test]
    fn without_a_time_the_rankings_under_every_onset_are_combined() {
        // Two request rates drift together early (the busiest window); later c's latency
        // changes and its caller a follows. The early onset blames the drifting resources
        // without singling one out; the later one singles out c.
        let topo = r#"{"nodes": [{"id": "a", "kind": "service"}, {"id": "b", "kind": "service"},
            {"id": "c", "kind": "service"}, {"id": "d", "kind": "service"}, {"id": "e", "kind": "service"}],
          "edges": [{"from": "a", "to": "c", "kind": "calls"}]}"#;
        let (g, f) = crate::testing::build(
            topo,
            &[
                ("d:requests", 12.0, 25),
                ("e:requests", 12.0, 25),
                ("b:requests", 12.0, 26),
                ("c:latency", 30.0, 80),
                ("a:latency", 30.0, 81),
            ],
        );
        let busiest = crate::rank::find_anomaly_time(&f).unwrap();
        assert_eq!(busiest.index, 25);
        let r = crate::rank::rank(&g, &f, None, Method::Default).unwrap();
        assert_eq!(r.root_causes[0].resource, "c");
        assert_eq!(r.anomaly_time, f.timestamps()[80]);
        assert!(
            r.notes[1].starts_with("ranked under 2 candidate onsets"),
            "{:?}",
            r.notes
        );
        let conf: Vec<f64> = r.root_causes.iter().map(|c| c.confidence).collect();
        assert!(conf.windows(2).all(|w| w[0] >= w[1]), "{conf:?}");
    }
}
