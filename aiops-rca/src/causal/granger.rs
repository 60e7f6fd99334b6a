//! Pairwise Granger causality: does the past of `x` help predict `y` beyond `y`'s own past?
//!
//! For every ordered pair `(x, y)` two least-squares models of `y(t)` are compared, each with
//! an intercept: the restricted one on `y(t-1) .. y(t-p)`, the unrestricted one adding
//! `x(t-1) .. x(t-p)`. The lag `p` is chosen in `1..=max_lag` by AIC or BIC of the
//! unrestricted model, all candidates fitted on the same rows (from `max_lag` on) so their
//! criteria are comparable. The test is the F-test of the `p` added coefficients:
//! `F = ((RSS_r - RSS_u) / p) / (RSS_u / (m - 2p - 1))` with `m` rows, p-value from the
//! F(p, m - 2p - 1) distribution (statrs). `x -> y` is an edge when the p-value is below
//! `alpha`; there is no correction for the `v (v - 1)` tests (divide `alpha` for Bonferroni).
//!
//! With [`GrangerParams::conditional`], each target is instead regressed on the lags of every
//! variable (one VAR equation per target, lag chosen per target) and `x -> y` tests dropping
//! `x`'s lags: a cause that acts only through others, or a pair driven by a common cause,
//! adds nothing there, so the graph keeps the direct edges.
//!
//! Rows must be consecutive, evenly spaced time points. Every model of a pair is a subset of
//! the regressors `[1, y lags, x lags]`, so one Gram matrix per pair (`m (2L+1)² / 2`
//! multiply-adds) serves all lags, and each fit is a Cholesky solve of at most 2L+1
//! unknowns. Pairs run in parallel (rayon); the result does not depend on the thread count.
//! Data is centred first (the intercept stays), which keeps `RSS = y'y - b'Z'y` accurate.

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, FisherSnedecor};

use crate::causal::{CausalGraph, Edge, check_data};
use crate::error::{RcaError, Result};

/// How the lag is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LagCriterion {
    /// Akaike: `m ln(RSS/m) + 2k`.
    Aic,
    /// Schwarz / Bayesian: `m ln(RSS/m) + k ln m` (picks shorter lags).
    #[default]
    Bic,
}

impl std::str::FromStr for LagCriterion {
    type Err = RcaError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "aic" => Ok(Self::Aic),
            "bic" => Ok(Self::Bic),
            _ => Err(RcaError::InvalidParameter {
                name: "criterion",
                reason: format!("{s:?} is not one of aic, bic"),
            }),
        }
    }
}

/// Unchecked parameters of [`Granger`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrangerParams {
    max_lag: usize,
    criterion: LagCriterion,
    alpha: f64,
    conditional: bool,
}

impl Default for GrangerParams {
    fn default() -> Self {
        Self {
            max_lag: 5,
            criterion: LagCriterion::Bic,
            alpha: 0.05,
            conditional: false,
        }
    }
}

impl GrangerParams {
    /// Defaults: lags 1..=5 chosen by BIC, alpha 0.05.
    pub fn new() -> Self {
        Self::default()
    }

    /// Largest lag tried (samples, >= 1).
    pub fn max_lag(mut self, lag: usize) -> Self {
        self.max_lag = lag;
        self
    }

    /// Criterion choosing the lag.
    pub fn criterion(mut self, criterion: LagCriterion) -> Self {
        self.criterion = criterion;
        self
    }

    /// Significance level of an edge, in (0, 1).
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// Conditional (multivariate) Granger: each target is regressed on the lags of *every*
    /// variable (a VAR equation), and `x -> y` tests dropping `x`'s lags from it. Indirect
    /// causes and common causes then explain nothing extra, so far fewer false edges than the
    /// pairwise test; needs `2 (variables · max_lag + 1)` more rows than `max_lag`.
    pub fn conditional(mut self, yes: bool) -> Self {
        self.conditional = yes;
        self
    }

    /// Validates the parameters.
    pub fn check(&self) -> Result<Granger> {
        if self.max_lag == 0 {
            return Err(RcaError::InvalidParameter {
                name: "max_lag",
                reason: "must be at least 1 sample".into(),
            });
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(RcaError::InvalidParameter {
                name: "alpha",
                reason: format!("must be in (0, 1), got {}", self.alpha),
            });
        }
        Ok(Granger {
            max_lag: self.max_lag,
            criterion: self.criterion,
            alpha: self.alpha,
            conditional: self.conditional,
        })
    }
}

/// Validated Granger parameters; [`Granger::fit`] tests every ordered pair.
#[derive(Debug, Clone, Copy)]
pub struct Granger {
    max_lag: usize,
    criterion: LagCriterion,
    alpha: f64,
    conditional: bool,
}

/// Every pair's test and the graph of the significant ones.
#[derive(Debug, Clone)]
pub struct GrangerResult {
    /// Edges `x -> y` with p-value below alpha, all directed. A graph has one edge per pair:
    /// when both directions are significant, the one with the smaller p-value (the
    /// matrices below keep both).
    pub graph: CausalGraph,
    /// `p_values[[x, y]]`: p-value of "x Granger-causes y"; NaN on the diagonal.
    pub p_values: Array2<f64>,
    /// `f_statistics[[x, y]]`: the F statistic of that test; NaN on the diagonal.
    pub f_statistics: Array2<f64>,
    /// `lags[[x, y]]`: the lag chosen for that test (samples); 0 on the diagonal.
    pub lags: Array2<usize>,
}

#[derive(Debug, Clone, Copy)]
struct PairTest {
    lag: usize,
    f: f64,
    p_value: f64,
}

impl Granger {
    /// Unchecked parameters to start from.
    pub fn params() -> GrangerParams {
        GrangerParams::new()
    }

    /// Largest lag tried.
    pub fn max_lag(&self) -> usize {
        self.max_lag
    }

    /// Significance level.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Tests every ordered pair of columns of a samples x variables matrix (rows in time
    /// order). Needs `max_lag + 2 k + 1` samples, with `k = 2 max_lag + 1` unknowns
    /// (pairwise) or `variables · max_lag + 1` (conditional), finite values and no constant
    /// column.
    pub fn fit(&self, data: ArrayView2<'_, f64>, names: &[String]) -> Result<GrangerResult> {
        let (_, p) = data.dim();
        let l = self.max_lag;
        let unknowns = if self.conditional {
            p * l + 1
        } else {
            2 * l + 1
        };
        let needed = l + 2 * unknowns + 1;
        check_data(
            data,
            names,
            needed,
            "the unrestricted model at the largest lag needs twice as many rows as unknowns",
        )?;
        if p < 2 {
            return Err(RcaError::InvalidParameter {
                name: "data",
                reason: "Granger causality needs at least 2 variables".into(),
            });
        }
        let mean = data.mean_axis(Axis(0)).ok_or(RcaError::InvalidParameter {
            name: "data",
            reason: "no sample".into(),
        })?;
        let centred = &data - &mean.insert_axis(Axis(0));
        let columns: Vec<Vec<f64>> = centred.columns().into_iter().map(|c| c.to_vec()).collect();
        let pairs: Vec<(usize, usize)> = (0..p)
            .flat_map(|x| (0..p).filter(move |&y| y != x).map(move |y| (x, y)))
            .collect();
        let tests: Vec<PairTest> = if self.conditional {
            let by_target = self.test_conditional(&columns);
            pairs.iter().map(|&(x, y)| by_target[y][x]).collect()
        } else {
            let own: Vec<LagSums> = columns.par_iter().map(|c| LagSums::new(c, l)).collect();
            pairs
                .par_iter()
                .map(|&pair| self.test_pair(pair, &columns, &own))
                .collect()
        };
        let mut p_values = Array2::from_elem((p, p), f64::NAN);
        let mut f_statistics = Array2::from_elem((p, p), f64::NAN);
        let mut lags = Array2::zeros((p, p));
        let mut edges = Vec::new();
        for (&(x, y), t) in pairs.iter().zip(&tests) {
            p_values[[x, y]] = t.p_value;
            f_statistics[[x, y]] = t.f;
            lags[[x, y]] = t.lag;
        }
        for x in 0..p {
            for y in 0..p {
                // Both directions significant: keep the stronger one as the edge (a graph
                // has one edge per pair); the matrices keep both.
                let (pxy, pyx) = (p_values[[x, y]], p_values[[y, x]]);
                if x != y
                    && pxy < self.alpha
                    && (pyx >= self.alpha || pxy < pyx || (pxy == pyx && x < y))
                {
                    edges.push(Edge {
                        from: x,
                        to: y,
                        directed: true,
                        p_value: pxy,
                    });
                }
            }
        }
        Ok(GrangerResult {
            graph: CausalGraph::new(names.to_vec(), edges)?,
            p_values,
            f_statistics,
            lags,
        })
    }

    /// Tests `x -> y` (column indices); `own[v]` holds the lag sums of column `v`.
    fn test_pair(
        &self,
        (xi, yi): (usize, usize),
        columns: &[Vec<f64>],
        own: &[LagSums],
    ) -> PairTest {
        let (x, y) = (&columns[xi], &columns[yi]);
        let l = self.max_lag;
        let n = y.len();
        let d = 1 + 2 * l;
        let m = n - l;
        // Gram matrix of [1, y(t-1..t-L), x(t-1..t-L)] and its products with y(t): the
        // blocks of one variable come from its precomputed sums, only the cross products
        // y(t-i) x(t-j) (i in 0..=L, j in 1..=L) are summed here, (L+1) L per row.
        let (oy, ox) = (&own[yi], &own[xi]);
        let mut cross = vec![0.0; (l + 1) * l];
        for t in l..n {
            for i in 0..=l {
                let yv = y[t - i];
                for j in 1..=l {
                    cross[i * l + j - 1] += yv * x[t - j];
                }
            }
        }
        let mut g = vec![0.0; d * d];
        let mut set = |i: usize, j: usize, v: f64| {
            g[i * d + j] = v;
            g[j * d + i] = v;
        };
        set(0, 0, m as f64);
        for a in 1..=l {
            set(0, a, oy.sum[a]);
            set(0, l + a, ox.sum[a]);
            for b in 1..=l {
                set(a, b, oy.product(a, b));
                set(l + a, l + b, ox.product(a, b));
                set(a, l + b, cross[a * l + b - 1]);
            }
        }
        let mut zy = vec![0.0; d];
        zy[0] = oy.sum[0];
        for k in 1..=l {
            zy[k] = oy.product(0, k);
            zy[l + k] = cross[k - 1];
        }
        let yy = oy.product(0, 0);
        let rss = |idx: &[usize]| -> Option<f64> {
            let b = solve_spd(&g, d, idx, &zy)?;
            let explained: f64 = idx.iter().zip(&b).map(|(&i, bi)| bi * zy[i]).sum();
            Some((yy - explained).max(0.0))
        };
        let subset = |lag: usize, with_x: bool| -> Vec<usize> {
            let mut idx: Vec<usize> = (0..=lag).collect();
            if with_x {
                idx.extend(l + 1..=l + lag);
            }
            idx
        };
        let mf = m as f64;
        let mut best: Option<(f64, usize, f64)> = None; // (criterion, lag, rss_u)
        for lag in 1..=l {
            let Some(rss_u) = rss(&subset(lag, true)) else {
                continue;
            };
            let ic = self.information(rss_u, mf, (1 + 2 * lag) as f64);
            if best.is_none_or(|(b, _, _)| ic < b) {
                best = Some((ic, lag, rss_u));
            }
        }
        let Some((_, lag, rss_u)) = best else {
            return no_evidence(1);
        };
        f_test(rss(&subset(lag, false)), rss_u, lag, m - 2 * lag - 1)
    }
}

impl Granger {
    /// Conditional tests: `out[y][x]` for every target `y` and cause `x != y`.
    fn test_conditional(&self, columns: &[Vec<f64>]) -> Vec<Vec<PairTest>> {
        let l = self.max_lag;
        let p = columns.len();
        let n = columns[0].len();
        let d = 1 + p * l;
        let m = n - l;
        // One Gram matrix of [1, every variable's lags 1..L] serves every target; only the
        // products with the target differ. Rows are filled in parallel by variable.
        let mut z = vec![0.0; m * d];
        for t in l..n {
            let row = &mut z[(t - l) * d..(t - l + 1) * d];
            row[0] = 1.0;
            for (v, col) in columns.iter().enumerate() {
                for k in 1..=l {
                    row[1 + v * l + k - 1] = col[t - k];
                }
            }
        }
        let g_rows: Vec<Vec<f64>> = (0..d)
            .into_par_iter()
            .map(|i| {
                let mut r = vec![0.0; d];
                for row in z.chunks_exact(d) {
                    let zi = row[i];
                    for j in i..d {
                        r[j] += zi * row[j];
                    }
                }
                r
            })
            .collect();
        let mut g = vec![0.0; d * d];
        for i in 0..d {
            for j in i..d {
                g[i * d + j] = g_rows[i][j];
                g[j * d + i] = g_rows[i][j];
            }
        }
        let mf = m as f64;
        (0..p)
            .into_par_iter()
            .map(|y| {
                let target = &columns[y][l..];
                let zy: Vec<f64> = (0..d)
                    .map(|i| {
                        z.chunks_exact(d)
                            .zip(target)
                            .map(|(row, v)| row[i] * v)
                            .sum()
                    })
                    .collect();
                let yy: f64 = target.iter().map(|v| v * v).sum();
                let subset = |lag: usize, without: Option<usize>| -> Vec<usize> {
                    let mut idx = vec![0];
                    for v in (0..p).filter(|&v| Some(v) != without) {
                        idx.extend((1..=lag).map(|k| 1 + v * l + k - 1));
                    }
                    idx
                };
                let rss = |idx: &[usize]| -> Option<f64> {
                    let b = solve_spd(&g, d, idx, &zy)?;
                    let explained: f64 = idx.iter().zip(&b).map(|(&i, bi)| bi * zy[i]).sum();
                    Some((yy - explained).max(0.0))
                };
                let mut best: Option<(f64, usize, f64)> = None;
                for lag in 1..=l {
                    let Some(rss_u) = rss(&subset(lag, None)) else {
                        continue;
                    };
                    let ic = self.information(rss_u, mf, (1 + p * lag) as f64);
                    if best.is_none_or(|(b, _, _)| ic < b) {
                        best = Some((ic, lag, rss_u));
                    }
                }
                (0..p)
                    .map(|x| match best {
                        Some((_, lag, rss_u)) if x != y => {
                            let rss_r = rss(&subset(lag, Some(x)));
                            let df2 = m - (1 + p * lag);
                            f_test(rss_r, rss_u, lag, df2)
                        }
                        _ => no_evidence(1),
                    })
                    .collect()
            })
            .collect()
    }

    /// AIC or BIC of a least-squares fit with `k` unknowns on `m` rows.
    fn information(&self, rss: f64, m: f64, k: f64) -> f64 {
        let fit = m * (rss.max(f64::MIN_POSITIVE) / m).ln();
        match self.criterion {
            LagCriterion::Aic => fit + 2.0 * k,
            LagCriterion::Bic => fit + k * m.ln(),
        }
    }
}

/// Sums of one variable's lags over the rows `L..n`: `sum[k] = Σ v(t-k)` and
/// `products[i][j] = Σ v(t-i) v(t-j)` for lags 0..=L (0: the value itself).
#[derive(Debug)]
struct LagSums {
    l: usize,
    sum: Vec<f64>,
    products: Vec<f64>,
}

impl LagSums {
    fn new(v: &[f64], l: usize) -> Self {
        let mut sum = vec![0.0; l + 1];
        let mut products = vec![0.0; (l + 1) * (l + 1)];
        for t in l..v.len() {
            for i in 0..=l {
                let a = v[t - i];
                sum[i] += a;
                for j in i..=l {
                    products[i * (l + 1) + j] += a * v[t - j];
                }
            }
        }
        Self { l, sum, products }
    }

    fn product(&self, i: usize, j: usize) -> f64 {
        let (i, j) = (i.min(j), i.max(j));
        self.products[i * (self.l + 1) + j]
    }
}

fn no_evidence(lag: usize) -> PairTest {
    PairTest {
        lag,
        f: 0.0,
        p_value: 1.0,
    }
}

/// The F-test of `lag` restrictions, `df2` residual degrees of freedom.
fn f_test(rss_r: Option<f64>, rss_u: f64, lag: usize, df2: usize) -> PairTest {
    let Some(rss_r) = rss_r else {
        return no_evidence(lag);
    };
    if rss_u <= 0.0 {
        // A perfect fit with x's lags: the strongest possible evidence, unless the
        // restricted model is perfect too.
        return if rss_r > 0.0 {
            PairTest {
                lag,
                f: f64::INFINITY,
                p_value: 0.0,
            }
        } else {
            no_evidence(lag)
        };
    }
    let (df1, df2) = (lag as f64, df2 as f64);
    let f = ((rss_r - rss_u).max(0.0) / df1) / (rss_u / df2);
    let p_value = FisherSnedecor::new(df1, df2)
        .map(|dist| dist.sf(f))
        .unwrap_or(1.0)
        .clamp(0.0, 1.0);
    PairTest { lag, f, p_value }
}

/// Solves `G[idx, idx] b = r[idx]` by Cholesky; `None` when the sub-matrix is not
/// (numerically) positive definite.
fn solve_spd(g: &[f64], d: usize, idx: &[usize], r: &[f64]) -> Option<Vec<f64>> {
    let k = idx.len();
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let mut sum = g[idx[i] * d + idx[j]];
            for m in 0..j {
                sum -= l[i * k + m] * l[j * k + m];
            }
            if i == j {
                let scale = g[idx[i] * d + idx[i]].abs().max(f64::MIN_POSITIVE);
                if sum <= 1e-12 * scale {
                    return None;
                }
                l[i * k + i] = sum.sqrt();
            } else {
                l[i * k + j] = sum / l[j * k + j];
            }
        }
    }
    let mut z = vec![0.0; k];
    for i in 0..k {
        let mut sum = r[idx[i]];
        for m in 0..i {
            sum -= l[i * k + m] * z[m];
        }
        z[i] = sum / l[i * k + i];
    }
    let mut b = vec![0.0; k];
    for i in (0..k).rev() {
        let mut sum = z[i];
        for m in i + 1..k {
            sum -= l[m * k + i] * b[m];
        }
        b[i] = sum / l[i * k + i];
    }
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::causal::default_names;
    use crate::testing::Noise;

    /// x0 drives x1 two steps later; x2 is independent noise.
    fn lagged(n: usize, seed: u64) -> Array2<f64> {
        let mut rng = Noise::new(seed);
        let mut data = Array2::zeros((n, 3));
        for t in 0..n {
            data[[t, 0]] = rng.normal();
            data[[t, 2]] = rng.normal();
            let cause = if t >= 2 { data[[t - 2, 0]] } else { 0.0 };
            data[[t, 1]] = 0.8 * cause + rng.normal();
        }
        data
    }

    #[test]
    fn finds_a_known_lagged_cause_and_its_lag() {
        let data = lagged(2_000, 1);
        let r = GrangerParams::new()
            .alpha(0.01)
            .check()
            .unwrap()
            .fit(data.view(), &default_names(3))
            .unwrap();
        assert!(r.p_values[[0, 1]] < 1e-12);
        assert_eq!(r.lags[[0, 1]], 2);
        assert!(r.p_values[[1, 0]] > 0.01);
        assert!(r.p_values[[0, 2]] > 0.01 && r.p_values[[2, 1]] > 0.01);
        assert!(r.graph.has_directed(0, 1));
        assert_eq!(r.graph.edges().len(), 1);
        assert!(r.p_values[[1, 1]].is_nan());
    }

    #[test]
    #[allow(clippy::needless_range_loop)] // the textbook normal equations, index by index
    fn f_statistic_matches_a_direct_regression() {
        // With max_lag 1 the F statistic has a closed form through the two residual sums,
        // computed here by explicit least squares on the same rows.
        let data = lagged(300, 2);
        let r = GrangerParams::new()
            .max_lag(1)
            .check()
            .unwrap()
            .fit(data.view(), &default_names(3))
            .unwrap();
        let x: Vec<f64> = data.column(2).to_vec();
        let y: Vec<f64> = data.column(0).to_vec();
        let fit = |cols: &[&[f64]]| -> f64 {
            // Normal equations via Gauss-Jordan on the small system, then the RSS.
            let k = cols.len() + 1;
            let row = |t: usize| -> Vec<f64> {
                std::iter::once(1.0)
                    .chain(cols.iter().map(|c| c[t - 1]))
                    .collect()
            };
            let mut a = vec![vec![0.0; k + 1]; k];
            for t in 1..y.len() {
                let z = row(t);
                for i in 0..k {
                    for j in 0..k {
                        a[i][j] += z[i] * z[j];
                    }
                    a[i][k] += z[i] * y[t];
                }
            }
            for c in 0..k {
                let piv = a[c][c];
                for v in a[c].iter_mut() {
                    *v /= piv;
                }
                for r in 0..k {
                    if r != c {
                        let f = a[r][c];
                        let rc = a[c].clone();
                        for (v, w) in a[r].iter_mut().zip(&rc) {
                            *v -= f * w;
                        }
                    }
                }
            }
            (1..y.len())
                .map(|t| {
                    let z = row(t);
                    let pred: f64 = (0..k).map(|i| a[i][k] * z[i]).sum();
                    (y[t] - pred).powi(2)
                })
                .sum()
        };
        let rss_r = fit(&[&y]);
        let rss_u = fit(&[&y, &x]);
        let m = (y.len() - 1) as f64;
        let f = (rss_r - rss_u) / (rss_u / (m - 3.0));
        assert!(
            (r.f_statistics[[2, 0]] - f).abs() < 1e-6 * f.max(1.0),
            "{} vs {f}",
            r.f_statistics[[2, 0]]
        );
    }

    #[test]
    fn aic_picks_a_lag_at_least_as_long_as_bic() {
        let data = lagged(1_000, 3);
        let fit = |c| {
            GrangerParams::new()
                .criterion(c)
                .max_lag(6)
                .check()
                .unwrap()
                .fit(data.view(), &default_names(3))
                .unwrap()
        };
        let (aic, bic) = (fit(LagCriterion::Aic), fit(LagCriterion::Bic));
        assert_eq!(bic.lags[[0, 1]], 2);
        for x in 0..3 {
            for y in 0..3 {
                assert!(aic.lags[[x, y]] >= bic.lags[[x, y]]);
            }
        }
    }

    #[test]
    fn conditional_equals_pairwise_with_two_variables() {
        // With two variables the VAR equation is the pairwise unrestricted model.
        let data = lagged(800, 5).select(ndarray::Axis(1), &[0, 1]);
        let names = default_names(2);
        let fit = |conditional| {
            Granger::params()
                .conditional(conditional)
                .check()
                .unwrap()
                .fit(data.view(), &names)
                .unwrap()
        };
        let (a, b) = (fit(false), fit(true));
        assert_eq!(a.lags, b.lags);
        for (x, y) in a.f_statistics.iter().zip(&b.f_statistics) {
            assert!((x - y).abs() <= 1e-8 * x.abs().max(1.0) || (x.is_nan() && y.is_nan()));
        }
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let names = default_names(3);
        assert!(GrangerParams::new().max_lag(0).check().is_err());
        assert!(GrangerParams::new().alpha(0.0).check().is_err());
        let short = lagged(20, 1);
        assert!(matches!(
            Granger::params().check().unwrap().fit(short.view(), &names),
            Err(RcaError::NotEnoughSamples { .. })
        ));
        let mut nan = lagged(200, 1);
        nan[[50, 1]] = f64::NAN;
        assert!(matches!(
            Granger::params().check().unwrap().fit(nan.view(), &names),
            Err(RcaError::NonFiniteValue { row: 50, .. })
        ));
        assert!("x".parse::<LagCriterion>().is_err());
    }
}
