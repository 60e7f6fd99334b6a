//! Hypothesis testing (in the spirit of RCD / "regression-based" RCA): in the normal period,
//! each metric is regressed on the metrics of its causal parents, taken from the topology as
//! the resource's direct dependencies (callees, host, `depends_on` targets). After the anomaly
//! time, a victim's change is predicted by its parents' change, so its residual stays small;
//! the root's change is not, so its residual is large. A resource scores its largest
//! standardised residual after the anomaly time (residual minus its normal median, over its
//! normal robust sigma).
//!
//! Regression: ridge least squares (penalty [`RIDGE`] on standardised regressors) on at most
//! [`MAX_PARENTS`] parent metrics, the ones most correlated with the target in the normal
//! period. A metric without parents is scored on its own robust deviation, as in BARO.

use super::column_stats::{floor_sigma, quantile_sorted};
use super::{Prepared, Scored};

/// Most parent metrics one regression uses.
pub const MAX_PARENTS: usize = 12;
/// Ridge penalty, relative to the number of normal points.
pub const RIDGE: f64 = 1e-2;

/// Scores every candidate (see the module docs).
pub(crate) fn score(p: &Prepared<'_>) -> Vec<Scored> {
    use rayon::prelude::*;
    let cols = p.frame.columns();
    (0..p.resources.len())
        .into_par_iter()
        .map(|r| {
            let parents: Vec<usize> = p
                .deps(r)
                .into_iter()
                .flat_map(|d| p.columns_of[d].iter().copied())
                .filter(|&c| !p.stats[c].constant)
                .collect();
            let mut best = Scored::default();
            for &c in &p.columns_of[r] {
                if p.stats[c].constant {
                    continue;
                }
                let resid = residuals(&cols[c].values[p.begin..p.end], &parents, p);
                let m = p.split - p.begin;
                let mut normal: Vec<f64> = resid[..m].to_vec();
                normal.sort_by(f64::total_cmp);
                let med = quantile_sorted(&normal, 0.5);
                let iqr = quantile_sorted(&normal, 0.75) - quantile_sorted(&normal, 0.25);
                let spread = normal[normal.len() - 1] - normal[0];
                let sigma = floor_sigma(iqr / 1.349, p.stats[c].median, spread);
                let (mut z, mut at) = (0.0f64, p.split);
                for (i, &e) in resid.iter().enumerate().skip(m) {
                    let i = i + p.begin;
                    let zi = (e - med) / sigma;
                    if zi.abs() > z.abs() {
                        z = zi;
                        at = i;
                    }
                }
                if z.abs() > best.score || best.column.is_none() {
                    let what = if parents.is_empty() {
                        "robust sigma (no dependency metrics to explain it)".to_string()
                    } else {
                        "robust sigma beyond what its dependencies' metrics predict".to_string()
                    };
                    best = Scored {
                        score: z.abs(),
                        column: Some(c),
                        evidence: vec![p.deviation_sentence(c, z, at, &what)],
                    };
                }
            }
            best
        })
        .collect()
}

/// Residuals of `y` (the window `begin..end`) after a ridge regression on the parents, fitted
/// on the normal period.
pub(crate) fn residuals(y: &[f64], parents: &[usize], p: &Prepared<'_>) -> Vec<f64> {
    let m = p.split - p.begin;
    let b0 = p.begin;
    if parents.is_empty() || m < 3 {
        return y.to_vec();
    }
    let cols = p.frame.columns();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let ym = mean(&y[..m]);
    let yc: Vec<f64> = y[..m].iter().map(|v| v - ym).collect();
    let ysd = (yc.iter().map(|v| v * v).sum::<f64>() / m as f64).sqrt();
    // Standardised parents, ranked by |correlation| with y in the normal period.
    let mut cand: Vec<(f64, usize, f64, f64)> = parents
        .iter()
        .map(|&c| {
            let x = &cols[c].values[b0..b0 + m];
            let xm = mean(x);
            let xsd = (x.iter().map(|v| (v - xm).powi(2)).sum::<f64>() / m as f64).sqrt();
            let cov: f64 = x.iter().zip(&yc).map(|(a, b)| (a - xm) * b).sum::<f64>() / m as f64;
            let corr = if xsd > 0.0 && ysd > 0.0 {
                cov / (xsd * ysd)
            } else {
                0.0
            };
            (corr.abs(), c, xm, xsd)
        })
        .filter(|t| t.3 > 0.0)
        .collect();
    cand.sort_by(|a, b| b.0.total_cmp(&a.0));
    cand.truncate(MAX_PARENTS.min(m.saturating_sub(2)));
    let k = cand.len();
    if k == 0 {
        return y.to_vec();
    }
    let xs = |j: usize, i: usize| (cols[cand[j].1].values[b0 + i] - cand[j].2) / cand[j].3;
    let mut a = vec![0.0; k * k];
    let mut b = vec![0.0; k];
    for (i, &yi) in yc.iter().enumerate() {
        for j in 0..k {
            let xj = xs(j, i);
            b[j] += xj * yi;
            for l in 0..=j {
                a[j * k + l] += xj * xs(l, i);
            }
        }
    }
    for j in 0..k {
        for l in 0..j {
            a[l * k + j] = a[j * k + l];
        }
        a[j * k + j] += RIDGE * m as f64;
    }
    let Some(beta) = cholesky_solve(&mut a, &mut b, k) else {
        return y.to_vec();
    };
    (0..y.len())
        .map(|i| {
            let pred: f64 = (0..k).map(|j| beta[j] * xs(j, i)).sum();
            y[i] - ym - pred
        })
        .collect()
}

/// Solves `A x = b` for symmetric positive definite `A` (row-major `k x k`), in place.
fn cholesky_solve(a: &mut [f64], b: &mut [f64], k: usize) -> Option<Vec<f64>> {
    for j in 0..k {
        let mut d = a[j * k + j];
        for l in 0..j {
            d -= a[j * k + l] * a[j * k + l];
        }
        if d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        a[j * k + j] = d;
        for i in j + 1..k {
            let mut s = a[i * k + j];
            for l in 0..j {
                s -= a[i * k + l] * a[j * k + l];
            }
            a[i * k + j] = s / d;
        }
    }
    for i in 0..k {
        let mut s = b[i];
        for l in 0..i {
            s -= a[i * k + l] * b[l];
        }
        b[i] = s / a[i * k + i];
    }
    for i in (0..k).rev() {
        let mut s = b[i];
        for l in i + 1..k {
            s -= a[l * k + i] * b[l];
        }
        b[i] = s / a[i * k + i];
    }
    Some(b.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rank::Method;
    use crate::rank::metrics::MetricFrame;
    use crate::testing::{Noise, ranked};
    use aiops_core::Topology;
    use aiops_core::TopologyGraph;

    #[test]
    fn solves_a_small_system() {
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        let mut b = vec![2.0, 1.0];
        let x = cholesky_solve(&mut a, &mut b, 2).unwrap();
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12);
    }

    #[test]
    fn a_caller_explained_by_its_callee_is_not_blamed() {
        // a's latency = 2 x b's latency + noise: b's jump shows in a as strongly (BARO cannot
        // tell them apart), but the regression on b explains a's; b's own jump is unexplained.
        let g = TopologyGraph::new(
            &Topology::from_json(
                r#"{"nodes": [{"id": "a", "kind": "service"}, {"id": "b", "kind": "service"}],
                  "edges": [{"from": "a", "to": "b", "kind": "calls"}]}"#,
            )
            .unwrap(),
        )
        .unwrap();
        let mut rng = Noise::new(3);
        let b: Vec<f64> = (0..100)
            .map(|i| 50.0 + 3.0 * rng.normal() + if i >= 60 { 20.0 } else { 0.0 })
            .collect();
        let a: Vec<f64> = b.iter().map(|v| 10.0 + 2.0 * v + rng.normal()).collect();
        let ts: Vec<i64> = (0..100).map(|i| i * 60_000).collect();
        let f = MetricFrame::new(
            &g,
            ts,
            &["a:latency".into(), "b:latency".into()],
            vec![a, b],
        )
        .unwrap();
        assert_eq!(ranked(&g, &f, Method::Hypothesis), ["b", "a"]);
    }
}
