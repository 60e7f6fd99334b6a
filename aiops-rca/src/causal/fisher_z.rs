//! Fisher-z conditional independence test: is `x ⫫ y | S` for jointly Gaussian data?
//!
//! The partial correlation `r = ρ(x, y | S)` is turned into `z = atanh(r) · sqrt(n - |S| - 3)`,
//! which is standard normal when `x` and `y` are independent given `S`; the p-value is the
//! two-sided normal tail `2 (1 - Φ(|z|))`. `r` is clamped to ±(1 - 1e-7), as causal-learn does,
//! so a (near-)deterministic relation gives a tiny but finite p-value.
//!
//! **How partial correlations are computed.** The correlation matrix `R` is computed once from
//! the data (one pass to centre, one matrix product). A test on `(x, y | S)` then needs only
//! `R` restricted to `{x, y} ∪ S`: the partial correlation is the correlation of the 2 x 2
//! Schur complement `C = R_xy,xy - R_xy,S R_SS⁻¹ R_S,xy`. We compute it with a Cholesky factor
//! `L` of `R_SS` and two forward solves `L a = R_S,x`, `L b = R_S,y`:
//! `C = [[1 - a·a, r_xy - a·b], [., 1 - b·b]]`. That costs `k³/6 + k²` flops for `|S| = k`,
//! against `(k+2)³` for inverting the whole sub-matrix, and never forms an inverse. The
//! cases `|S| = 0` (`r_xy`) and `|S| = 1` (the textbook recursive formula) are closed forms.
//! PC's conditioning sets are tiny (rarely above 4), so a hand-written Cholesky on a stack of
//! a few numbers beats any dense linear-algebra call, and keeps the crate free of BLAS /
//! LAPACK (ndarray-linalg needs one; linfa's pure-Rust linalg works on whole `Array2`s and
//! would allocate per test).
//!
//! The whole correlation matrix is checked positive definite once, when the test is built
//! (a Cholesky with a pivot floor of 1e-10): every principal sub-matrix of a positive
//! definite matrix is positive definite, so no later test can hit a singular `R_SS`.

use ndarray::{Array2, ArrayView2, Axis};
use statrs::function::erf::erfc;

use crate::causal::check_data;
use crate::error::{RcaError, Result};

/// Largest `|r|` used in the z transform (causal-learn's clamp).
const MAX_ABS_R: f64 = 1.0 - 1e-7;

/// Smallest Cholesky pivot (1 - R² of a variable on the ones before it) accepted.
const PIVOT_FLOOR: f64 = 1e-10;

/// One conditional independence test's outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CiTest {
    /// Partial correlation of the pair given the conditioning set.
    pub partial_correlation: f64,
    /// Fisher's z statistic (standard normal under independence).
    pub statistic: f64,
    /// Two-sided p-value; a large one means "independent given S".
    pub p_value: f64,
}

/// The Fisher-z test over a data set: its correlation matrix and sample count.
#[derive(Debug, Clone)]
pub struct FisherZ {
    corr: Vec<f64>,
    p: usize,
    n: usize,
}

impl FisherZ {
    /// Builds the test from a samples x variables matrix (`names` label the columns, for
    /// errors). Needs `variables + 2` samples (so that even a test given all other variables
    /// has `n - |S| - 3 > 0`), finite values, no constant column and no exactly collinear
    /// variables.
    pub fn new(data: ArrayView2<'_, f64>, names: &[String]) -> Result<Self> {
        let (n, p) = data.dim();
        check_data(
            data,
            names,
            p + 2,
            "Fisher z conditioning on all other variables needs samples > variables + 1",
        )?;
        let mean = data.mean_axis(Axis(0)).ok_or(RcaError::InvalidParameter {
            name: "data",
            reason: "no sample".into(),
        })?;
        let centred = &data - &mean.insert_axis(Axis(0));
        let cov = centred.t().dot(&centred);
        let sd: Vec<f64> = (0..p).map(|i| cov[[i, i]].sqrt()).collect();
        let mut corr = vec![0.0; p * p];
        for i in 0..p {
            for j in 0..p {
                corr[i * p + j] = if i == j {
                    1.0
                } else {
                    (cov[[i, j]] / (sd[i] * sd[j])).clamp(-1.0, 1.0)
                };
            }
        }
        let test = Self { corr, p, n };
        test.check_positive_definite(names)?;
        Ok(test)
    }

    /// Builds the test from a correlation matrix and the number of samples it came from.
    pub fn from_correlation(corr: ArrayView2<'_, f64>, samples: usize) -> Result<Self> {
        let (p, q) = corr.dim();
        if p != q {
            return Err(RcaError::DimensionMismatch {
                what: "correlation matrix columns",
                expected: p,
                got: q,
            });
        }
        if samples < p + 2 {
            return Err(RcaError::NotEnoughSamples {
                samples,
                needed: p + 2,
                reason: "Fisher z needs samples > variables + 1".into(),
            });
        }
        for ((i, j), &v) in corr.indexed_iter() {
            let ok = v.is_finite() && v.abs() <= 1.0 + 1e-12 && (v - corr[[j, i]]).abs() < 1e-9;
            if !ok || (i == j && (v - 1.0).abs() > 1e-9) {
                return Err(RcaError::InvalidParameter {
                    name: "correlation",
                    reason: format!(
                        "not a correlation matrix at [{i}, {j}] = {v} (needs symmetric, unit diagonal, |r| <= 1)"
                    ),
                });
            }
        }
        let test = Self {
            corr: corr.iter().copied().collect(),
            p,
            n: samples,
        };
        test.check_positive_definite(&crate::causal::default_names(p))?;
        Ok(test)
    }

    fn check_positive_definite(&self, names: &[String]) -> Result<()> {
        let all: Vec<usize> = (0..self.p).collect();
        let mut l = vec![0.0; self.p * self.p];
        match self.cholesky(&all, &mut l) {
            Ok(()) => Ok(()),
            Err(k) => Err(RcaError::CollinearVariables(names[k].clone())),
        }
    }

    /// Number of variables.
    pub fn variables(&self) -> usize {
        self.p
    }

    /// Number of samples the correlations come from.
    pub fn samples(&self) -> usize {
        self.n
    }

    /// The correlation matrix.
    pub fn correlation(&self) -> Array2<f64> {
        Array2::from_shape_vec((self.p, self.p), self.corr.clone())
            .unwrap_or_else(|_| Array2::zeros((self.p, self.p)))
    }

    #[inline]
    fn r(&self, i: usize, j: usize) -> f64 {
        self.corr[i * self.p + j]
    }

    /// Tests `x ⫫ y | s` (variable indices). Refuses an index out of range, `x == y`, or
    /// `x` or `y` inside `s`.
    pub fn test(&self, x: usize, y: usize, s: &[usize]) -> Result<CiTest> {
        let bad = |what: String| RcaError::InvalidParameter {
            name: "variables",
            reason: what,
        };
        if x >= self.p || y >= self.p || s.iter().any(|&k| k >= self.p) {
            return Err(bad(format!("index out of range (there are {})", self.p)));
        }
        if x == y || s.contains(&x) || s.contains(&y) {
            return Err(bad(format!(
                "tested pair ({x}, {y}) must be distinct and outside the conditioning set"
            )));
        }
        let mut sorted = s.to_vec();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(bad("conditioning set has a repeated variable".into()));
        }
        Ok(self.test_unchecked(x, y, s))
    }

    /// The test without argument checks (PC's inner loop, whose indices are valid by
    /// construction).
    pub(crate) fn test_unchecked(&self, x: usize, y: usize, s: &[usize]) -> CiTest {
        let r = self.partial_correlation(x, y, s);
        let rc = r.clamp(-MAX_ABS_R, MAX_ABS_R);
        let dof = self.n as f64 - s.len() as f64 - 3.0;
        let statistic = rc.atanh() * dof.max(0.0).sqrt();
        let p_value = erfc(statistic.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0);
        CiTest {
            partial_correlation: r,
            statistic,
            p_value,
        }
    }

    fn partial_correlation(&self, x: usize, y: usize, s: &[usize]) -> f64 {
        match s {
            [] => self.r(x, y),
            [k] => {
                let (rxy, rxk, ryk) = (self.r(x, y), self.r(x, *k), self.r(y, *k));
                let den = ((1.0 - rxk * rxk) * (1.0 - ryk * ryk)).sqrt();
                if den > 0.0 {
                    (rxy - rxk * ryk) / den
                } else {
                    0.0
                }
            }
            _ => {
                let k = s.len();
                let mut l = vec![0.0; k * k];
                // Positive definiteness was checked for the whole matrix, so this succeeds;
                // a failure (rounding on a pivot at the floor) reads as "no evidence".
                if self.cholesky(s, &mut l).is_err() {
                    return 0.0;
                }
                let a = self.forward(&l, s, x);
                let b = self.forward(&l, s, y);
                let aa: f64 = a.iter().map(|v| v * v).sum();
                let bb: f64 = b.iter().map(|v| v * v).sum();
                let ab: f64 = a.iter().zip(&b).map(|(u, v)| u * v).sum();
                let den = ((1.0 - aa) * (1.0 - bb)).sqrt();
                if den > 0.0 {
                    ((self.r(x, y) - ab) / den).clamp(-1.0, 1.0)
                } else {
                    0.0
                }
            }
        }
    }

    /// Cholesky factor (row-major lower triangle in `l`, k x k) of `R` restricted to `s`;
    /// `Err(variable)` at the first pivot below the floor.
    fn cholesky(&self, s: &[usize], l: &mut [f64]) -> std::result::Result<(), usize> {
        let k = s.len();
        for i in 0..k {
            for j in 0..=i {
                let mut sum = self.r(s[i], s[j]);
                for m in 0..j {
                    sum -= l[i * k + m] * l[j * k + m];
                }
                if i == j {
                    if sum < PIVOT_FLOOR {
                        return Err(s[i]);
                    }
                    l[i * k + i] = sum.sqrt();
                } else {
                    l[i * k + j] = sum / l[j * k + j];
                }
            }
        }
        Ok(())
    }

    /// Solves `L a = R[s, v]`.
    fn forward(&self, l: &[f64], s: &[usize], v: usize) -> Vec<f64> {
        let k = s.len();
        let mut a = vec![0.0; k];
        for i in 0..k {
            let mut sum = self.r(s[i], v);
            for m in 0..i {
                sum -= l[i * k + m] * a[m];
            }
            a[i] = sum / l[i * k + i];
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::causal::default_names;
    use ndarray::array;

    #[test]
    fn p_value_of_a_known_correlation() {
        // r = 0.1 with n = 103 and no conditioning: z = atanh(0.1) * 10 = 1.00335.
        let corr = array![[1.0, 0.1], [0.1, 1.0]];
        let t = FisherZ::from_correlation(corr.view(), 103).unwrap();
        let r = t.test(0, 1, &[]).unwrap();
        assert!((r.statistic - 1.003_353_477).abs() < 1e-8);
        assert!((r.p_value - 0.315_7).abs() < 1e-3);
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let names = default_names(2);
        let few = array![[1.0, 2.0], [2.0, 1.0], [3.0, 3.0]];
        assert!(matches!(
            FisherZ::new(few.view(), &names),
            Err(RcaError::NotEnoughSamples { needed: 4, .. })
        ));
        let dup = array![[1.0, 2.0], [2.0, 4.0], [3.0, 6.0], [5.0, 10.0], [0.0, 0.0]];
        assert!(matches!(
            FisherZ::new(dup.view(), &names),
            Err(RcaError::CollinearVariables(_))
        ));
        let ok = array![[1.0, 2.0], [2.0, 1.0], [3.0, 3.0], [0.0, 5.0]];
        let t = FisherZ::new(ok.view(), &names).unwrap();
        assert!(t.test(0, 0, &[]).is_err());
        assert!(t.test(0, 2, &[]).is_err());
        assert!(t.test(0, 1, &[1]).is_err());
        let not_corr = array![[1.0, 2.0], [2.0, 1.0]];
        assert!(FisherZ::from_correlation(not_corr.view(), 10).is_err());
    }
}
