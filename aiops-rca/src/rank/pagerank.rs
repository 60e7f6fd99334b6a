//! Personalized PageRank on the topology (MicroRCA / CloudRanger style).
//!
//! A random walker starts at anomalous resources (personalisation proportional to each
//! resource's sustained robust deviation) and moves *against the failure propagation*: from a
//! resource to its dependencies (callees, host), where a cause would be, with weight the
//! dependency's anomaly; back to its dependents with [`BACKWARD`] times their anomaly (so the
//! walker is not trapped by a healthy dependency); and it stays put with weight its own
//! anomaly beyond the largest of its dependencies'. With probability [`RESTART`] it jumps back
//! to the personalisation. The stationary visit share is the score: the walk piles up at the
//! most anomalous resource whose dependencies are healthy.
//!
//! Solved by power iteration (at most 200 steps, until the L1 change is below 1e-10).

use super::{Prepared, Scored};

/// Weight of a step back to a dependent, relative to its anomaly.
pub const BACKWARD: f64 = 0.3;
/// Restart (teleport) probability per step.
pub const RESTART: f64 = 0.15;

/// Scores every candidate (see the module docs).
pub(crate) fn score(p: &Prepared<'_>) -> Vec<Scored> {
    let n = p.resources.len();
    // Anomaly per resource: its most deviant sustained metric.
    let mut best_col = vec![None; n];
    let mut anomaly = vec![0.0f64; n];
    for r in 0..n {
        for &c in &p.columns_of[r] {
            let z = p.stats[c].sustained_z.abs();
            if !p.stats[c].constant && (z > anomaly[r] || best_col[r].is_none()) {
                anomaly[r] = z;
                best_col[r] = Some(c);
            }
        }
    }
    let top = anomaly.iter().copied().fold(0.0, f64::max);
    if top <= 0.0 {
        return (0..n)
            .map(|r| Scored {
                score: 0.0,
                column: best_col[r],
                evidence: vec!["no metric deviates".into()],
            })
            .collect();
    }
    let w: Vec<f64> = anomaly.iter().map(|a| a / top).collect();
    let deps: Vec<Vec<usize>> = (0..n).map(|r| p.deps(r)).collect();
    let dependents: Vec<Vec<usize>> = (0..n).map(|r| p.dependents(r)).collect();
    // Transitions: (target, probability) per node.
    let trans: Vec<Vec<(usize, f64)>> = (0..n)
        .map(|i| {
            let mut t: Vec<(usize, f64)> = deps[i].iter().map(|&j| (j, w[j])).collect();
            t.extend(dependents[i].iter().map(|&k| (k, BACKWARD * w[k])));
            let max_dep = deps[i].iter().map(|&j| w[j]).fold(0.0, f64::max);
            t.push((i, (w[i] - max_dep).max(0.0)));
            let total: f64 = t.iter().map(|x| x.1).sum();
            if total > 0.0 {
                t.iter_mut().for_each(|x| x.1 /= total);
                t.retain(|x| x.1 > 0.0);
                t
            } else {
                Vec::new()
            }
        })
        .collect();
    let wsum: f64 = w.iter().sum();
    let pers: Vec<f64> = w.iter().map(|x| x / wsum).collect();
    let mut pi = pers.clone();
    for _ in 0..200 {
        let mut next: Vec<f64> = pers.iter().map(|x| RESTART * x).collect();
        let mut dangling = 0.0;
        for i in 0..n {
            if trans[i].is_empty() {
                dangling += pi[i];
            }
            for &(j, q) in &trans[i] {
                next[j] += (1.0 - RESTART) * pi[i] * q;
            }
        }
        for (x, pr) in next.iter_mut().zip(&pers) {
            *x += (1.0 - RESTART) * dangling * pr;
        }
        let change: f64 = next.iter().zip(&pi).map(|(a, b)| (a - b).abs()).sum();
        pi = next;
        if change < 1e-10 {
            break;
        }
    }
    (0..n)
        .map(|r| {
            let mut evidence = vec![format!(
                "the random walk from the symptoms spends {:.1} % of its time here",
                100.0 * pi[r]
            )];
            if let Some(c) = best_col[r] {
                let s = &p.stats[c];
                evidence.push(p.deviation_sentence(
                    c,
                    s.sustained_z,
                    s.sustained_at,
                    "robust sigma",
                ));
            }
            Scored {
                score: pi[r] * n as f64,
                column: best_col[r],
                evidence,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::rank::Method;
    use crate::testing::{chain, ranked};

    #[test]
    fn the_walk_ends_at_the_anomalous_callee() {
        // Equal deviations along a -> b -> c: the walk flows down to c and stays.
        let (g, f) = chain(
            &[
                ("a:latency", 30.0),
                ("b:latency", 30.0),
                ("c:latency", 30.0),
            ],
            60,
        );
        assert_eq!(ranked(&g, &f, Method::PageRank)[0], "c");
        // A healthy callee does not attract the walk.
        let (g, f) = chain(
            &[("a:latency", 40.0), ("b:latency", 30.0), ("c:latency", 0.0)],
            60,
        );
        assert_eq!(ranked(&g, &f, Method::PageRank)[0], "b");
    }
}
