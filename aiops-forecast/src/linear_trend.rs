//! A robust linear trend with change points: the capacity planner's "where is this line going"
//! model, for metrics that grow steadily but changed pace (a new customer, a release).
//!
//! 1. With a period, the season is removed first (classical additive decomposition) and put
//!    back on the forecast.
//! 2. Change points are found by binary segmentation of a piecewise-linear least-squares fit,
//!    on block means (one block per season, or n / 200 points) so that autocorrelation does
//!    not turn every wiggle into a break: a split is kept when it lowers BIC
//!    (`n ln(SSE / n) + 3 ln n` per extra segment), segments hold at least 10% of the history,
//!    at most `max_changepoints` splits.
//! 3. The last segment gets a Huber line (iteratively reweighted least squares, k = 1.345 σ
//!    with σ from the median absolute deviation), so spikes do not tilt the slope.
//!
//! Intervals are normal with the regression's prediction variance
//! `σ²(1 + 1/m + (t_h - t̄)² / S_tt)` over the last segment's m points (σ from its residuals).

use crate::error::Result;
use crate::model::{FittedModel, Model, Prediction, check_history, check_horizon};
use crate::stats::classical_indices;

/// Robust linear trend with change points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinearTrend {
    period: usize,
    max_changepoints: usize,
}

impl LinearTrend {
    /// A trend model; `period` (steps, 1 = none) is removed before fitting the line.
    pub fn new(period: usize) -> Result<Self> {
        crate::model::at_least_one_step("period", period)?;
        Ok(Self {
            period,
            max_changepoints: 5,
        })
    }

    /// Largest number of change points (0 = one line over the whole history).
    pub fn max_changepoints(mut self, n: usize) -> Self {
        self.max_changepoints = n;
        self
    }
}

/// A fitted [`LinearTrend`].
#[derive(Debug, Clone, PartialEq)]
pub struct FittedLinearTrend {
    changepoints: Vec<usize>,
    intercept: f64,
    slope: f64,
    sigma: f64,
    seg_start: usize,
    n: usize,
    season: Option<Vec<f64>>,
}

impl FittedLinearTrend {
    /// Indices where a new segment starts (sorted).
    pub fn changepoints(&self) -> &[usize] {
        &self.changepoints
    }

    /// Slope of the last segment, units per step.
    pub fn slope(&self) -> f64 {
        self.slope
    }
}

/// Prefix sums for O(1) least-squares fits of `x` on its index over any range.
struct Prefix {
    t: Vec<f64>,
    tt: Vec<f64>,
    y: Vec<f64>,
    ty: Vec<f64>,
    yy: Vec<f64>,
}

impl Prefix {
    fn new(x: &[f64]) -> Self {
        let mut p = Prefix {
            t: vec![0.0],
            tt: vec![0.0],
            y: vec![0.0],
            ty: vec![0.0],
            yy: vec![0.0],
        };
        for (i, &v) in x.iter().enumerate() {
            let t = i as f64;
            p.t.push(p.t[i] + t);
            p.tt.push(p.tt[i] + t * t);
            p.y.push(p.y[i] + v);
            p.ty.push(p.ty[i] + t * v);
            p.yy.push(p.yy[i] + v * v);
        }
        p
    }

    /// Residual sum of squares of the OLS line over `a..b`.
    fn sse(&self, a: usize, b: usize) -> f64 {
        let n = (b - a) as f64;
        let st = self.t[b] - self.t[a];
        let stt = self.tt[b] - self.tt[a];
        let sy = self.y[b] - self.y[a];
        let sty = self.ty[b] - self.ty[a];
        let syy = self.yy[b] - self.yy[a];
        let sxx = stt - st * st / n;
        let sxy = sty - st * sy / n;
        let syy_c = syy - sy * sy / n;
        let v = if sxx > 0.0 {
            syy_c - sxy * sxy / sxx
        } else {
            syy_c
        };
        v.max(0.0)
    }
}

fn bic(sse: f64, n: f64, segments: usize) -> f64 {
    n * (sse.max(1e-300) / n).ln() + 3.0 * segments as f64 * n.ln()
}

/// Binary segmentation; returns the segment starts (block indices, 0 excluded).
fn segment(x: &[f64], max_cp: usize) -> Vec<usize> {
    let n = x.len();
    let min_len = (n / 10).max(3);
    let pre = Prefix::new(x);
    let mut cps: Vec<usize> = Vec::new();
    let total = |cps: &[usize]| {
        let mut bounds = vec![0];
        bounds.extend_from_slice(cps);
        bounds.push(n);
        bounds.windows(2).map(|w| pre.sse(w[0], w[1])).sum::<f64>()
    };
    while cps.len() < max_cp {
        let current = bic(total(&cps), n as f64, cps.len() + 1);
        let mut best: Option<(f64, usize)> = None;
        let mut bounds = vec![0];
        bounds.extend_from_slice(&cps);
        bounds.push(n);
        for w in bounds.windows(2) {
            let (a, b) = (w[0], w[1]);
            if b - a < 2 * min_len {
                continue;
            }
            let base = pre.sse(a, b);
            for k in a + min_len..=b - min_len {
                let gain = base - pre.sse(a, k) - pre.sse(k, b);
                if best.is_none_or(|(g, _)| gain > g) {
                    best = Some((gain, k));
                }
            }
        }
        let Some((_, k)) = best else { break };
        let mut trial = cps.clone();
        trial.push(k);
        trial.sort_unstable();
        if bic(total(&trial), n as f64, trial.len() + 1) < current {
            cps = trial;
        } else {
            break;
        }
    }
    cps
}

/// Huber regression of `y` on `0..m`: (intercept, slope, residual sd).
fn huber_line(y: &[f64]) -> (f64, f64, f64) {
    let m = y.len();
    let mut w = vec![1.0; m];
    let (mut a, mut b) = (0.0, 0.0);
    for _ in 0..20 {
        let (mut sw, mut st, mut sy, mut stt, mut sty) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (i, (&v, &wi)) in y.iter().zip(&w).enumerate() {
            let t = i as f64;
            sw += wi;
            st += wi * t;
            sy += wi * v;
            stt += wi * t * t;
            sty += wi * t * v;
        }
        let det = sw * stt - st * st;
        let (na, nb) = if det.abs() > 1e-12 * sw * stt.max(1.0) {
            ((sy * stt - st * sty) / det, (sw * sty - st * sy) / det)
        } else {
            (sy / sw, 0.0)
        };
        let converged = (na - a).abs() + (nb - b).abs() < 1e-10 * (1.0 + na.abs());
        a = na;
        b = nb;
        let mut res: Vec<f64> = y
            .iter()
            .enumerate()
            .map(|(i, v)| (v - a - b * i as f64).abs())
            .collect();
        res.sort_by(f64::total_cmp);
        let mad = crate::stats::quantile_sorted(&res, 0.5) / 0.6745;
        if mad <= 0.0 || converged {
            break;
        }
        let k = 1.345 * mad;
        for (i, wi) in w.iter_mut().enumerate() {
            let r = (y[i] - a - b * i as f64).abs();
            *wi = if r <= k { 1.0 } else { k / r };
        }
    }
    let sse: f64 = y
        .iter()
        .enumerate()
        .map(|(i, v)| (v - a - b * i as f64).powi(2))
        .sum();
    let sigma = (sse / (m.saturating_sub(2)).max(1) as f64).sqrt();
    (a, b, sigma)
}

impl Model for LinearTrend {
    type Fitted = FittedLinearTrend;

    /// Needs 5 finite points (two seasons to remove a season, else it is kept in the line).
    fn fit(&self, history: &[f64]) -> Result<FittedLinearTrend> {
        check_history(history, 5)?;
        let n = history.len();
        let season = if self.period >= 2 {
            classical_indices(history, self.period, false)
        } else {
            None
        };
        let y: Vec<f64> = match &season {
            Some(ix) => history
                .iter()
                .enumerate()
                .map(|(t, v)| v - ix[t % ix.len()])
                .collect(),
            None => history.to_vec(),
        };
        let block = self.period.max(n.div_ceil(200)).max(1);
        let means: Vec<f64> = y
            .chunks(block)
            .filter(|c| c.len() == block)
            .map(|c| c.iter().sum::<f64>() / block as f64)
            .collect();
        let changepoints: Vec<usize> = if means.len() >= 6 {
            segment(&means, self.max_changepoints)
                .into_iter()
                .map(|k| k * block)
                .collect()
        } else {
            Vec::new()
        };
        let seg_start = changepoints.last().copied().unwrap_or(0);
        let (intercept, slope, sigma) = huber_line(&y[seg_start..]);
        Ok(FittedLinearTrend {
            changepoints,
            intercept,
            slope,
            sigma,
            seg_start,
            n,
            season,
        })
    }
}

impl FittedModel for FittedLinearTrend {
    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction> {
        check_horizon(horizon)?;
        let m = (self.n - self.seg_start) as f64;
        let tbar = (m - 1.0) / 2.0;
        let stt = m * (m * m - 1.0) / 12.0;
        let mut mean = Vec::with_capacity(horizon);
        let mut sd = Vec::with_capacity(horizon);
        for h in 0..horizon {
            let t = m + h as f64;
            let s = self
                .season
                .as_ref()
                .map_or(0.0, |ix| ix[(self.n + h) % ix.len()]);
            mean.push(self.intercept + self.slope * t + s);
            let lev = if stt > 0.0 {
                (t - tbar).powi(2) / stt
            } else {
                0.0
            };
            sd.push(self.sigma * (1.0 + 1.0 / m + lev).sqrt());
        }
        Prediction::normal(mean, &sd, levels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Rng;

    #[test]
    fn follows_the_slope_after_a_change_point() {
        let mut g = Rng::new(9);
        let y: Vec<f64> = (0..24 * 30)
            .map(|t| {
                let base = if t < 400 {
                    20.0 + 0.01 * t as f64
                } else {
                    24.0 + 0.1 * (t - 400) as f64
                };
                let spike = if t % 97 == 0 { 40.0 } else { 0.0 };
                base + 3.0 * (t as f64 * std::f64::consts::TAU / 24.0).sin() + g.normal() + spike
            })
            .collect();
        let f = LinearTrend::new(24).unwrap().fit(&y).unwrap();
        let cp = *f.changepoints().last().unwrap();
        assert!((350..=460).contains(&cp), "{:?}", f.changepoints());
        assert!(
            (f.slope() - 0.1).abs() < 0.01,
            "spikes must not tilt it: {}",
            f.slope()
        );
        let p = f.predict(48, &[95.0]).unwrap();
        let want = 24.0
            + 0.1 * (720 + 47 - 400) as f64
            + 3.0 * ((720 + 47) as f64 * std::f64::consts::TAU / 24.0).sin();
        assert!((p.mean[47] - want).abs() < 2.0, "{} vs {want}", p.mean[47]);
        let w = |h: usize| p.intervals[0].upper[h] - p.mean[h];
        assert!(w(47) > w(0), "wider further out");
    }

    #[test]
    fn a_straight_line_has_no_change_point() {
        let mut g = Rng::new(10);
        let y: Vec<f64> = (0..500)
            .map(|t| 5.0 + 0.2 * t as f64 + g.normal())
            .collect();
        let f = LinearTrend::new(1).unwrap().fit(&y).unwrap();
        assert!(f.changepoints().is_empty(), "{:?}", f.changepoints());
        assert!((f.slope() - 0.2).abs() < 0.01);
        let flat = LinearTrend::new(1).unwrap().fit(&[3.0; 20]).unwrap();
        assert_eq!(flat.predict(2, &[90.0]).unwrap().mean, [3.0, 3.0]);
        assert!(LinearTrend::new(0).is_err());
        assert!(LinearTrend::new(1).unwrap().fit(&[1.0, 2.0]).is_err());
    }
}
