//! Bounded Nelder-Mead minimisation, used to fit model parameters by likelihood.
//!
//! Why hand-written rather than the `argmin` crate: our problems have 1 to 6 parameters, each in
//! a box, and run thousands of times per fleet, so what matters is (a) box bounds (argmin's
//! Nelder-Mead has none, and a penalty wrapper distorts the simplex near the smoothing
//! parameters' edges, where ETS optima often lie), (b) no allocation or dynamic dispatch per
//! evaluation, and (c) a budget of evaluations we control. Trial points are projected onto the
//! box, which keeps every evaluated point feasible; the simplex can still collapse onto a face,
//! which is where a bounded optimum is.

/// Settings of [`minimize`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct NelderMead {
    /// Largest number of objective evaluations.
    pub(crate) max_evals: usize,
    /// Stop when the spread of objective values over the simplex falls below this (relative to
    /// `|f_best| + 1e-10`).
    pub(crate) rel_tol: f64,
    /// Initial simplex edge, as a fraction of each parameter's range.
    pub(crate) step: f64,
}

impl Default for NelderMead {
    fn default() -> Self {
        Self {
            max_evals: 600,
            rel_tol: 1e-8,
            step: 0.1,
        }
    }
}

/// Result of [`minimize`].
#[derive(Debug, Clone)]
pub(crate) struct Minimum {
    pub(crate) x: Vec<f64>,
    pub(crate) f: f64,
}

fn project(x: &mut [f64], lo: &[f64], hi: &[f64]) {
    for ((v, &l), &h) in x.iter_mut().zip(lo).zip(hi) {
        *v = v.clamp(l, h);
    }
}

/// Minimises `f` over the box `[lo, hi]` from `x0` (projected into the box). Non-finite values
/// of `f` count as +infinity.
pub(crate) fn minimize(
    mut f: impl FnMut(&[f64]) -> f64,
    x0: &[f64],
    lo: &[f64],
    hi: &[f64],
    opts: NelderMead,
) -> Minimum {
    let d = x0.len();
    let mut eval = |x: &[f64]| {
        let v = f(x);
        if v.is_finite() { v } else { f64::INFINITY }
    };
    let mut start = x0.to_vec();
    project(&mut start, lo, hi);
    if d == 0 {
        let f0 = eval(&start);
        return Minimum { x: start, f: f0 };
    }
    // Simplex: d + 1 vertices; each edge steps inwards when the start sits on the upper bound.
    let mut pts: Vec<Vec<f64>> = Vec::with_capacity(d + 1);
    pts.push(start.clone());
    for i in 0..d {
        let mut p = start.clone();
        let range = hi[i] - lo[i];
        let h = if range.is_finite() && range > 0.0 {
            opts.step * range
        } else {
            opts.step * start[i].abs().max(1e-3)
        };
        p[i] = if p[i] + h <= hi[i] {
            p[i] + h
        } else {
            p[i] - h
        };
        project(&mut p, lo, hi);
        pts.push(p);
    }
    let mut vals: Vec<f64> = pts.iter().map(|p| eval(p)).collect();
    let mut evals = d + 1;
    let mut order: Vec<usize> = (0..=d).collect();
    let mut centroid = vec![0.0; d];
    let mut xr = vec![0.0; d];
    let mut xe = vec![0.0; d];
    let mut xc = vec![0.0; d];
    while evals < opts.max_evals {
        order.sort_by(|&a, &b| vals[a].total_cmp(&vals[b]));
        let (best, worst, second) = (order[0], order[d], order[d - 1]);
        let spread = vals[worst] - vals[best];
        if vals[best].is_finite()
            && spread.is_finite()
            && spread <= opts.rel_tol * (vals[best].abs() + 1e-10)
        {
            break;
        }
        centroid.iter_mut().for_each(|c| *c = 0.0);
        for &i in &order[..d] {
            for (c, v) in centroid.iter_mut().zip(&pts[i]) {
                *c += v / d as f64;
            }
        }
        let along = |out: &mut [f64], t: f64| {
            for k in 0..d {
                out[k] = centroid[k] + t * (pts[worst][k] - centroid[k]);
            }
            project(out, lo, hi);
        };
        along(&mut xr, -1.0);
        let fr = eval(&xr);
        evals += 1;
        if fr < vals[best] {
            along(&mut xe, -2.0);
            let fe = eval(&xe);
            evals += 1;
            if fe < fr {
                pts[worst].copy_from_slice(&xe);
                vals[worst] = fe;
            } else {
                pts[worst].copy_from_slice(&xr);
                vals[worst] = fr;
            }
        } else if fr < vals[second] {
            pts[worst].copy_from_slice(&xr);
            vals[worst] = fr;
        } else {
            let outside = fr < vals[worst];
            along(&mut xc, if outside { -0.5 } else { 0.5 });
            let fc = eval(&xc);
            evals += 1;
            if fc < fr.min(vals[worst]) {
                pts[worst].copy_from_slice(&xc);
                vals[worst] = fc;
            } else {
                // Shrink towards the best vertex.
                let b = pts[best].clone();
                for &i in &order[1..] {
                    for k in 0..d {
                        pts[i][k] = b[k] + 0.5 * (pts[i][k] - b[k]);
                    }
                    vals[i] = eval(&pts[i]);
                }
                evals += d;
            }
        }
    }
    let best = (0..=d)
        .min_by(|&a, &b| vals[a].total_cmp(&vals[b]))
        .unwrap_or(0);
    Minimum {
        x: pts[best].clone(),
        f: vals[best],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_an_interior_minimum() {
        let m = minimize(
            |x| (x[0] - 1.0).powi(2) + 10.0 * (x[1] + 2.0).powi(2),
            &[0.0, 0.0],
            &[-5.0, -5.0],
            &[5.0, 5.0],
            NelderMead {
                max_evals: 2000,
                rel_tol: 1e-14,
                step: 0.1,
            },
        );
        assert!(
            (m.x[0] - 1.0).abs() < 1e-4 && (m.x[1] + 2.0).abs() < 1e-4,
            "{m:?}"
        );
    }

    #[test]
    fn stops_on_the_bound_when_the_minimum_is_outside() {
        let m = minimize(
            |x| (x[0] - 3.0).powi(2) + x[1].powi(2),
            &[0.5, 0.5],
            &[0.0, 0.0],
            &[1.0, 1.0],
            NelderMead::default(),
        );
        assert!((m.x[0] - 1.0).abs() < 1e-6 && m.x[1].abs() < 1e-3, "{m:?}");
    }

    #[test]
    fn non_finite_objective_is_avoided() {
        let m = minimize(
            |x| if x[0] < 0.2 { f64::NAN } else { x[0] },
            &[0.9],
            &[0.0],
            &[1.0],
            NelderMead::default(),
        );
        assert!((m.x[0] - 0.2).abs() < 1e-3, "{m:?}");
    }
}
