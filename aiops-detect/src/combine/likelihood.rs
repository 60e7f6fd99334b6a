//! Score calibration: turns a detector's raw scores into an anomaly likelihood that means the
//! same on every series.
//!
//! Raw scores are not comparable across series: a z-score of 4 is routine on a spiky metric
//! and alarming on a smooth one. Following the idea of HTM's anomaly likelihood (Ahmad et al.,
//! 2017), the calibrator models the recent distribution of the *short-term average* of raw
//! scores as a normal distribution and reports how far in its upper tail the current average
//! lies: `likelihood = 1 - Q((avg_short - mean) / std)`. A series whose raw scores are always
//! high gets a low likelihood; a jump in raw scores relative to the series' own history gets a
//! high one. [`log_score`] stretches the tail so that `1 - 1e-k` maps to `k / 10`, which makes a
//! single global threshold workable.
//!
//! Cost: O(1) per point (running sums over the history ring, refreshed exactly every
//! `history` points to stop rounding drift).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::error::{DetectError, Result};

/// Parameters of the likelihood calibrator.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LikelihoodParams {
    /// Points before the calibrator reports anything (it reports 0.5 until then).
    pub learning: usize,
    /// Points of raw-score history whose distribution is modelled.
    pub history: usize,
    /// Points in the short-term average that is compared with the history.
    pub averaging: usize,
    /// Floor of the modelled variance, so a series with constant raw scores does not turn
    /// every tiny change into certainty. Absolute: raw scores are expected in [0, 1].
    pub min_variance: f64,
}

impl Default for LikelihoodParams {
    fn default() -> Self {
        Self {
            learning: 300,
            history: 8640,
            averaging: 10,
            min_variance: 1e-4,
        }
    }
}

impl LikelihoodParams {
    /// Validates and builds a fresh calibrator.
    pub fn build(&self) -> Result<Likelihood> {
        let bad = |name, reason: String| Err(DetectError::InvalidParameter { name, reason });
        if self.averaging == 0 {
            return bad("averaging", "must be at least 1 point".into());
        }
        if self.history < 2 {
            return bad(
                "history",
                format!("must be at least 2 points, got {}", self.history),
            );
        }
        if !(self.min_variance.is_finite() && self.min_variance > 0.0) {
            return bad(
                "min_variance",
                format!("must be positive, got {}", self.min_variance),
            );
        }
        Ok(Likelihood {
            params: *self,
            seen: 0,
            recent: VecDeque::with_capacity(self.averaging),
            recent_sum: 0.0,
            hist: VecDeque::with_capacity(self.history.min(1 << 16)),
            sum: 0.0,
            sumsq: 0.0,
            since_refresh: 0,
        })
    }
}

/// Streaming likelihood calibrator (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Likelihood {
    params: LikelihoodParams,
    seen: usize,
    recent: VecDeque<f64>,
    recent_sum: f64,
    hist: VecDeque<f64>,
    sum: f64,
    sumsq: f64,
    since_refresh: usize,
}

impl Likelihood {
    /// A fresh calibrator with the same parameters.
    pub fn fresh(&self) -> Self {
        self.params
            .build()
            .unwrap_or_else(|_| unreachable!("parameters were validated when built"))
    }

    /// Feeds one raw score (finite, any scale) and returns the likelihood in [0, 1] that the
    /// current short-term average is unusually high for this series (0.5 while learning;
    /// leading zeros, a detector's warm-up, are skipped).
    pub fn update(&mut self, raw: f64) -> f64 {
        let p = self.params;
        // Detectors score 0 while they warm up; learning starts with their first real score,
        // or the first one would look like a jump from a flat history.
        if self.seen == 0 && raw == 0.0 {
            return 0.5;
        }
        if self.recent.len() == p.averaging {
            self.recent_sum -= self.recent.pop_front().unwrap_or(0.0);
        }
        self.recent.push_back(raw);
        self.recent_sum += raw;
        let avg = self.recent_sum / self.recent.len() as f64;
        self.seen += 1;

        let out = if self.seen > p.learning && self.hist.len() >= 2 {
            let n = self.hist.len() as f64;
            let mean = self.sum / n;
            let var = ((self.sumsq - self.sum * mean) / (n - 1.0)).max(p.min_variance);
            let z = (avg - mean) / var.sqrt();
            1.0 - normal_tail(z)
        } else {
            0.5
        };

        if self.hist.len() == p.history {
            let old = self.hist.pop_front().unwrap_or(0.0);
            self.sum -= old;
            self.sumsq -= old * old;
        }
        self.hist.push_back(avg);
        self.sum += avg;
        self.sumsq += avg * avg;
        self.since_refresh += 1;
        if self.since_refresh >= p.history {
            self.sum = self.hist.iter().sum();
            self.sumsq = self.hist.iter().map(|x| x * x).sum();
            self.since_refresh = 0;
        }
        out
    }
}

/// Upper tail of the standard normal, Q(z) = P(Z > z), accurate in the far tail (via erfc).
pub fn normal_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Maps a likelihood in [0, 1] to a score in [0, 1] that spreads out its upper tail:
/// `log(1 - likelihood) / log(1e-10)`, so 0.99 -> 0.2, 0.99999 -> 0.5, 1 - 1e-10 -> 1.
pub fn log_score(likelihood: f64) -> f64 {
    ((1.000_000_000_1 - likelihood).ln() / (1e-10f64).ln()).clamp(0.0, 1.0)
}

/// Complementary error function (W. J. Cody's rational approximations via the classic
/// Numerical Recipes `erfcc` Chebyshev fit, relative error < 1.2e-7 everywhere), written here
/// because the standard library has none and the tail is what matters.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_and_log_score() {
        assert!((normal_tail(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_tail(1.959_964) - 0.025).abs() < 1e-7);
        assert!((normal_tail(-1.959_964) - 0.975).abs() < 1e-7);
        assert!(normal_tail(8.0) > 0.0 && normal_tail(8.0) < 1e-14);
        assert!((log_score(0.99) - 0.2).abs() < 1e-6);
        assert!((log_score(0.99999) - 0.5).abs() < 1e-6);
        assert_eq!(log_score(0.0), 0.0);
        assert!(log_score(1.0) > 0.99);
    }

    #[test]
    fn calibrates_per_series() {
        let params = LikelihoodParams {
            learning: 50,
            history: 500,
            averaging: 5,
            ..Default::default()
        };
        // Two series with very different raw-score levels; a jump in each is equally
        // surprising relative to its own history.
        for level in [0.05, 0.3] {
            let mut cal = params.build().unwrap();
            let mut out = Vec::new();
            for i in 0..400 {
                let noise = ((i * 7919) % 13) as f64 / 13.0;
                let raw = level * (1.0 + 0.2 * noise) + if i == 300 { level * 10.0 } else { 0.0 };
                out.push(cal.update(raw));
            }
            assert!(out[..50].iter().all(|&l| l == 0.5));
            assert!(out[300] > 0.9999, "level {level}: {}", out[300]);
            assert!(out[100..300].iter().all(|&l| l < 0.9999), "level {level}");
        }
    }

    #[test]
    fn snapshot_continues_identically() {
        let mut a = LikelihoodParams::default().build().unwrap();
        let mut got = Vec::new();
        for i in 0..2000 {
            if i == 1000 {
                a = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
            }
            got.push(a.update(((i * 31) % 17) as f64));
        }
        let mut b = LikelihoodParams::default().build().unwrap();
        let want: Vec<f64> = (0..2000)
            .map(|i| b.update(((i * 31) % 17) as f64))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn bad_params() {
        let p = LikelihoodParams::default();
        assert!(LikelihoodParams { averaging: 0, ..p }.build().is_err());
        assert!(LikelihoodParams { history: 1, ..p }.build().is_err());
        assert!(
            LikelihoodParams {
                min_variance: 0.0,
                ..p
            }
            .build()
            .is_err()
        );
    }
}
