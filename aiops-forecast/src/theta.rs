//! The Theta method (Assimakopoulos & Nikolopoulos 2000), standard and optimised.
//!
//! The series is first seasonally adjusted when the M4 90% autocorrelation test finds the
//! period (classical multiplicative decomposition for positive data, additive otherwise).
//! Standard Theta (STM) is simple exponential smoothing plus half the slope of the linear
//! trend, which Hyndman & Billah (2003) showed equals SES with drift:
//! `ŷ_{n+h} = ℓ_n + (1 - 1/θ) b [(h - 1) + (1 - (1 - α)^n) / α]` with θ = 2. The optimised
//! Theta (OTM, Fiorucci et al. 2016) also chooses θ in [1, 10] by the in-sample one-step
//! squared error. α and ℓ_0 are fitted by least squares (bounded Nelder-Mead).
//!
//! Intervals: normal with the SES variance `σ²(1 + (h - 1)α²)` of the adjusted series
//! (σ² the in-sample one-step mean squared error), then reseasonalised.

use crate::error::Result;
use crate::model::{FittedModel, Model, Prediction, check_history, check_horizon};
use crate::optim::{NelderMead, minimize};
use crate::stats::{classical_indices, linear_fit, seasonality_test};

/// Standard or optimised θ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThetaKind {
    /// θ = 2.
    Standard,
    /// θ fitted in [1, 10].
    Optimized,
}

/// The Theta method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theta {
    period: usize,
    kind: ThetaKind,
}

impl Theta {
    /// Theta with `period` steps per season (1 = no seasonal adjustment).
    pub fn new(period: usize, kind: ThetaKind) -> Result<Self> {
        crate::model::at_least_one_step("period", period)?;
        Ok(Self { period, kind })
    }
}

/// Seasonal adjustment shared by Theta and the M4 Naive2 benchmark.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Adjust {
    None,
    Mult(Vec<f64>),
    Add(Vec<f64>),
}

impl Adjust {
    /// Classical decomposition if the M4 test finds the period; multiplicative for positive
    /// data only.
    pub(crate) fn detect(y: &[f64], m: usize, allow_additive: bool) -> Self {
        if m < 2 || !seasonality_test(y, m) {
            return Adjust::None;
        }
        if y.iter().all(|v| *v > 0.0)
            && let Some(ix) = classical_indices(y, m, true)
        {
            return Adjust::Mult(ix);
        }
        if allow_additive && let Some(ix) = classical_indices(y, m, false) {
            return Adjust::Add(ix);
        }
        Adjust::None
    }

    pub(crate) fn remove(&self, y: &[f64]) -> Vec<f64> {
        match self {
            Adjust::None => y.to_vec(),
            Adjust::Mult(ix) => y
                .iter()
                .enumerate()
                .map(|(t, v)| v / ix[t % ix.len()])
                .collect(),
            Adjust::Add(ix) => y
                .iter()
                .enumerate()
                .map(|(t, v)| v - ix[t % ix.len()])
                .collect(),
        }
    }

    /// Puts the season back into a prediction of the steps after `n` observations.
    pub(crate) fn restore(&self, p: Prediction, n: usize) -> Prediction {
        let h = p.mean.len();
        match self {
            Adjust::None => p,
            Adjust::Mult(ix) => {
                let f: Vec<f64> = (0..h).map(|k| ix[(n + k) % ix.len()]).collect();
                p.scale(&f)
            }
            Adjust::Add(ix) => {
                let f: Vec<f64> = (0..h).map(|k| ix[(n + k) % ix.len()]).collect();
                p.shift(&f)
            }
        }
    }
}

/// A fitted [`Theta`].
#[derive(Debug, Clone, PartialEq)]
pub struct FittedTheta {
    adjust: Adjust,
    n: usize,
    level: f64,
    alpha: f64,
    theta: f64,
    slope: f64,
    sigma2: f64,
}

impl FittedTheta {
    /// The smoothing parameter α.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// θ (2 for the standard method).
    pub fn theta(&self) -> f64 {
        self.theta
    }

    /// Whether the series was seasonally adjusted.
    pub fn seasonal(&self) -> bool {
        self.adjust != Adjust::None
    }
}

/// One-step in-sample SSE of SES with the Theta drift; returns (sse, final level).
fn theta_pass(y: &[f64], alpha: f64, l0: f64, drift: f64) -> (f64, f64) {
    let mut l = l0;
    let mut sse = 0.0;
    let mut decay = 1.0; // (1 - α)^t
    for &v in y {
        // ŷ_t = ℓ_{t-1} + drift · (1 - (1 - α)^t) / α, the h = 1 form at origin t - 1.
        let f = l + drift * (1.0 - decay) / alpha;
        sse += (v - f).powi(2);
        l = alpha * v + (1.0 - alpha) * l;
        decay *= 1.0 - alpha;
    }
    (sse, l)
}

impl Model for Theta {
    type Fitted = FittedTheta;

    /// Needs 4 finite points (three seasons for the seasonal test to run).
    fn fit(&self, history: &[f64]) -> Result<FittedTheta> {
        check_history(history, 4)?;
        let adjust = Adjust::detect(history, self.period, true);
        let y = adjust.remove(history);
        let (_, b) = linear_fit(&y);
        let optimized = self.kind == ThetaKind::Optimized;
        let (ymin, ymax) = y
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, c), &v| {
                (a.min(v), c.max(v))
            });
        let spread = (ymax - ymin).max(1e-12);
        let mut x0 = vec![0.5, y[0]];
        let mut lo = vec![0.001, y[0] - 0.5 * spread];
        let mut hi = vec![0.999, y[0] + 0.5 * spread];
        if optimized {
            x0.push(2.0);
            lo.push(1.0);
            hi.push(10.0);
        }
        let weight = |x: &[f64]| if optimized { 1.0 - 1.0 / x[2] } else { 0.5 };
        let best = minimize(
            |x| theta_pass(&y, x[0], x[1], weight(x) * b).0,
            &x0,
            &lo,
            &hi,
            NelderMead::default(),
        );
        let (alpha, l0) = (best.x[0], best.x[1]);
        let theta = if optimized { best.x[2] } else { 2.0 };
        let (sse, level) = theta_pass(&y, alpha, l0, (1.0 - 1.0 / theta) * b);
        Ok(FittedTheta {
            adjust,
            n: y.len(),
            level,
            alpha,
            theta,
            slope: b,
            sigma2: sse / y.len() as f64,
        })
    }
}

impl FittedModel for FittedTheta {
    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction> {
        check_horizon(horizon)?;
        let a = self.alpha;
        let w = (1.0 - 1.0 / self.theta) * self.slope;
        let tail = (1.0 - (1.0 - a).powi(self.n as i32)) / a;
        let mean = (0..horizon)
            .map(|k| self.level + w * (k as f64 + tail))
            .collect();
        let sd: Vec<f64> = (0..horizon)
            .map(|k| (self.sigma2 * (1.0 + k as f64 * a * a)).sqrt())
            .collect();
        let p = Prediction::normal(mean, &sd, levels)?;
        Ok(self.adjust.restore(p, self.n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seasonal_trended_series() {
        let pat = [0.8, 1.0, 1.2, 1.0];
        let y: Vec<f64> = (0..80).map(|i| (50.0 + i as f64) * pat[i % 4]).collect();
        for kind in [ThetaKind::Standard, ThetaKind::Optimized] {
            let f = Theta::new(4, kind).unwrap().fit(&y).unwrap();
            assert!(f.seasonal());
            let p = f.predict(8, &[95.0]).unwrap();
            for h in 0..8 {
                let want = (50.0 + (80 + h) as f64) * pat[(80 + h) % 4];
                // Standard theta halves the trend; optimised follows it more closely.
                assert!(
                    (p.mean[h] - want).abs() / want < 0.06,
                    "{kind:?} {h}: {} {want}",
                    p.mean[h]
                );
                assert!(p.intervals[0].lower[h] <= p.mean[h]);
            }
        }
        let opt = Theta::new(4, ThetaKind::Optimized)
            .unwrap()
            .fit(&y)
            .unwrap();
        assert!(
            opt.theta() > 2.0,
            "a clean trend wants θ > 2: {}",
            opt.theta()
        );
        assert!(Theta::new(0, ThetaKind::Standard).is_err());
        assert!(
            Theta::new(4, ThetaKind::Standard)
                .unwrap()
                .fit(&[1.0, 2.0])
                .is_err()
        );
    }

    #[test]
    fn constant_series_is_forecast_flat() {
        let p = Theta::new(1, ThetaKind::Optimized)
            .unwrap()
            .fit(&[3.0; 20])
            .unwrap()
            .predict(4, &[80.0])
            .unwrap();
        assert!(
            p.mean.iter().all(|v| (v - 3.0).abs() < 1e-9),
            "{:?}",
            p.mean
        );
    }
}
