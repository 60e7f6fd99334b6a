//! Bayesian online change-point detection (Adams & MacKay 2007).
//!
//! The series is modelled as segments of i.i.d. Gaussian points whose mean and variance are
//! unknown (Normal-Gamma conjugate prior, Student-t predictive). A change happens before any
//! point with probability `1 / lambda` (constant hazard). After each point the detector holds
//! the posterior over the *run length*: how many points the current segment had before this
//! one. Run length 0 means the point opens a new segment, so a point that no running segment
//! explains is recognised as a change (or an outlier) at once, not one point late.
//!
//! **Score**: the posterior probability that the current segment started within the last
//! `short_run` points, `P(r_t < short_run)`, in `[0, 1]`. It jumps at a level or variance
//! shift and at a lone spike, and falls back once a new segment has lasted `short_run` points,
//! so a change gives one short flagged window (what NAB rewards) rather than a long one.
//! `expected` is the posterior-weighted predictive mean; there are no bounds, since the flag
//! is not a distance from them.
//!
//! **Scale**: the prior of a new segment is set from the data seen so far, so the detector
//! needs no knowledge of the metric's units. The first `warmup` points form the first segment
//! and seed the prior's mean (their average) and noise variance (half the mean squared first
//! difference, which a level shift does not inflate the way the plain variance would). Both
//! then follow the stream as exponentially weighted averages (weight 1/50 per point; each
//! squared difference is capped at 25× the current estimate so a spike barely moves it).
//! Existing segments keep their own posteriors; only new segments see the updated prior.
//! Fixed prior strengths: κ₀ = 0.1 (the new mean is allowed ≈ 3σ from the running level) and
//! α₀ = 1 (the noise variance is worth two observations), so a few points suffice to overrule
//! the prior. The variance is floored at (1e-9 × (1 + |level|))² so a flat line stays finite.
//!
//! Everything is computed in log space. Cost: O(`max_run_length`) time and memory per point:
//! hypotheses below `prune` posterior probability are dropped, and when more than
//! `max_run_length` remain the least probable go (never the most probable, which is usually
//! the longest run). Measured ≈ 1 µs per point with the defaults (release build, noisy cycle).

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};
use statrs::function::gamma::ln_gamma;

use crate::common::score_severity::tiered;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};

crate::detector::params_newtype!(
    /// Unchecked parameters of [`Bocpd`].
    ///
    /// ```
    /// use aiops_detect::{Detector, ParamGuard, BocpdParams};
    /// let det = BocpdParams::new().warmup(10).check()?;
    /// let mut values: Vec<f64> = (0..60).map(|i| [0.1, -0.2, 0.0, 0.2, -0.1][i % 5]).collect();
    /// values.extend(std::iter::repeat_n(8.0, 20)); // the level jumps at point 60
    /// let ts: Vec<i64> = (0..values.len() as i64).map(|i| i * 60_000).collect();
    /// let d = det.detect(&ts, &values)?;
    /// assert!(d.is_anomaly[60] && !d.is_anomaly[59]);
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    BocpdParams => Bocpd
);

crate::detector::setters!(
    BocpdParams:
    lambda: f64, max_run_length: usize, prune: f64, short_run: usize, warmup: usize, threshold:
    f64);

impl ParamGuard for BocpdParams {
    type Checked = Bocpd;

    fn check(&self) -> Result<Bocpd> {
        let bad = |name, reason: String| Err(DetectError::InvalidParameter { name, reason });
        if !(self.0.lambda.is_finite() && self.0.lambda > 1.0) {
            return bad(
                "lambda",
                format!(
                    "must be a finite number of points above 1, got {}",
                    self.0.lambda
                ),
            );
        }
        if self.0.short_run < 1 {
            return bad("short_run", "must be at least 1 point".into());
        }
        if self.0.max_run_length < 2 || self.0.max_run_length <= self.0.short_run {
            return bad(
                "max_run_length",
                format!(
                    "must be at least 2 and above short_run ({}), got {}",
                    self.0.short_run, self.0.max_run_length
                ),
            );
        }
        if !(0.0..1.0).contains(&self.0.prune) {
            return bad(
                "prune",
                format!("must be a probability in [0, 1), got {}", self.0.prune),
            );
        }
        if self.0.warmup < 2 {
            return bad(
                "warmup",
                format!("must be at least 2 points, got {}", self.0.warmup),
            );
        }
        if !(self.0.threshold > 0.0 && self.0.threshold <= 1.0) {
            return bad(
                "threshold",
                format!("must be a probability in (0, 1], got {}", self.0.threshold),
            );
        }
        Ok(self.0)
    }
}

/// Validated Bayesian online change-point detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Bocpd {
    lambda: f64,
    max_run_length: usize,
    prune: f64,
    short_run: usize,
    warmup: usize,
    threshold: f64,
}

impl Default for Bocpd {
    fn default() -> Self {
        Self {
            lambda: 250.0,
            max_run_length: 300,
            prune: 1e-6,
            short_run: 5,
            warmup: 20,
            threshold: 0.5,
        }
    }
}

crate::detector::describe!(
    Bocpd, BocpdParams, BocpdKernel.params => BocpdOnline, "bocpd",
    "Bayesian online change-point detection (Normal-Gamma, truncated run lengths)",
    severity |config, score| tiered(score, config.threshold, (1.0 + config.threshold) / 2.0, 1.0 - (1.0 - config.threshold) / 10.0), "
    lambda: expected segment length in points, hazard 1/lambda (default 250)
    max_run_length: most run-length hypotheses kept (default 300)
    prune: drop hypotheses below this probability (default 1e-6)
    short_run: run lengths that count as just changed (default 5)
    warmup: points that seed the prior (default 20)
    threshold: change probability at which a point is flagged (default 0.5)
"
);

impl Kernel for BocpdKernel {
    fn step(&mut self, _: TimestampMs, x: f64) -> PointScore {
        if self.runs.is_empty() {
            self.warm_step(x);
            return PointScore::NEUTRAL;
        }
        let p = self.params;
        let log_h = -p.lambda.ln();
        let log_1mh = (-1.0 / p.lambda).ln_1p();
        let h = 1.0 / p.lambda;

        let prior = Run::prior(self.level, self.noise_floor());
        let expected = h * prior.mu
            + (1.0 - h)
                * self
                    .runs
                    .iter()
                    .map(|r| r.log_prob.exp() * r.mu)
                    .sum::<f64>();

        // The probabilities were normalised after the last point, so a change now has
        // probability H whichever run was current.
        let new_log = log_h + prior.log_predictive(x);
        for r in &mut self.runs {
            r.log_prob += log_1mh + r.log_predictive(x);
            r.observe(x);
            r.length += 1;
        }
        let mut fresh = prior;
        fresh.observe(x);
        fresh.log_prob = new_log;
        self.runs.push(fresh);
        normalise(&mut self.runs);

        let cut = if p.prune > 0.0 {
            p.prune.ln()
        } else {
            f64::NEG_INFINITY
        };
        let best = argmax(&self.runs);
        let best_len = self.runs[best].length;
        self.runs
            .retain(|r| r.log_prob >= cut || r.length == best_len);
        while self.runs.len() > p.max_run_length {
            let worst = argmin(&self.runs);
            self.runs.remove(worst);
        }
        normalise(&mut self.runs);

        let score = self
            .runs
            .iter()
            .filter(|r| r.length < p.short_run as u64)
            .map(|r| r.log_prob.exp())
            .sum::<f64>()
            .clamp(0.0, 1.0);
        self.learn_scale(x);
        PointScore {
            score,
            is_anomaly: score >= p.threshold,
            expected: expected.is_finite().then_some(expected),
            lower: None,
            upper: None,
        }
    }

    fn new(params: &Bocpd) -> Self {
        let params = *params;
        Self {
            params,
            warm: Warmup::default(),
            level: 0.0,
            noise: 0.0,
            last: 0.0,
            runs: Vec::new(),
        }
    }
}

/// Prior pseudo-count of the segment mean.
const KAPPA0: f64 = 0.1;
/// Prior shape of the segment precision.
const ALPHA0: f64 = 1.0;
/// Weight of each new point in the running prior level and noise variance.
const SMOOTHING: f64 = 0.02;
/// A squared difference counts at most this many times the current noise estimate.
const NOISE_CAP: f64 = 25.0;

/// One run-length hypothesis: the segment's Normal-Gamma posterior and its log probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Run {
    /// Points in the segment before the newest one.
    length: u64,
    log_prob: f64,
    mu: f64,
    kappa: f64,
    alpha: f64,
    beta: f64,
    /// ln Γ(α + ½) − ln Γ(α), carried by recurrence so no gamma function runs per point.
    lg: f64,
}

impl Run {
    fn prior(level: f64, noise: f64) -> Self {
        Run {
            length: 0,
            log_prob: 0.0,
            mu: level,
            kappa: KAPPA0,
            alpha: ALPHA0,
            beta: ALPHA0 * noise,
            lg: ln_gamma(ALPHA0 + 0.5) - ln_gamma(ALPHA0),
        }
    }

    /// Log density of `x` under the Student-t predictive.
    fn log_predictive(&self, x: f64) -> f64 {
        let spread = 2.0 * self.beta * (self.kappa + 1.0) / self.kappa;
        let d = x - self.mu;
        self.lg
            - 0.5 * (std::f64::consts::PI * spread).ln()
            - (self.alpha + 0.5) * (d * d / spread).ln_1p()
    }

    fn observe(&mut self, x: f64) {
        let d = x - self.mu;
        let k1 = self.kappa + 1.0;
        self.mu += d / k1;
        self.beta += self.kappa * d * d / (2.0 * k1);
        self.kappa = k1;
        // Γ(α + 1) = α Γ(α) turns the next half step into ln α minus the current one.
        self.lg = self.alpha.ln() - self.lg;
        self.alpha += 0.5;
    }
}

fn log_sum_exp(it: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = it.clone().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + it.map(|v| (v - m).exp()).sum::<f64>().ln()
}

/// Warm-up accumulators (Welford) for the first segment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct Warmup {
    n: u64,
    mean: f64,
    m2: f64,
    diff_sq: f64,
}

/// The per-point state of [`Bocpd`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BocpdKernel {
    params: Bocpd,
    warm: Warmup,
    /// Running prior level and noise variance.
    level: f64,
    noise: f64,
    last: f64,
    runs: Vec<Run>,
}

impl BocpdKernel {
    fn noise_floor(&self) -> f64 {
        let f = 1e-9 * (1.0 + self.level.abs());
        self.noise.max(f * f)
    }

    fn warm_step(&mut self, x: f64) {
        let w = &mut self.warm;
        if w.n > 0 {
            let d = x - self.last;
            w.diff_sq += d * d / 2.0;
        }
        w.n += 1;
        let delta = x - w.mean;
        w.mean += delta / w.n as f64;
        w.m2 += delta * (x - w.mean);
        self.last = x;
        if w.n as usize == self.params.warmup {
            let w = self.warm.clone();
            self.level = w.mean;
            self.noise = w.diff_sq / (w.n - 1) as f64;
            // The warm-up points are the first segment: its posterior from sufficient
            // statistics (the prior is centred on their mean, so no mean-shift term).
            let mut run = Run::prior(self.level, self.noise_floor());
            let n = w.n as f64;
            run.kappa += n;
            run.beta += w.m2 / 2.0;
            for i in 0..w.n {
                run.lg = (run.alpha + 0.5 * i as f64).ln() - run.lg;
            }
            run.alpha += n / 2.0;
            run.length = w.n - 1;
            self.runs.push(run);
        }
    }

    fn learn_scale(&mut self, x: f64) {
        let d = x - self.last;
        let sq = (d * d / 2.0).min(NOISE_CAP * self.noise_floor());
        self.noise += SMOOTHING * (sq - self.noise);
        self.level += SMOOTHING * (x - self.level);
        self.last = x;
    }
}

fn normalise(runs: &mut [Run]) {
    let z = log_sum_exp(runs.iter().map(|r| r.log_prob));
    if z.is_finite() {
        for r in runs.iter_mut() {
            r.log_prob -= z;
        }
    }
}

fn argmax(runs: &[Run]) -> usize {
    let mut best = 0;
    for (i, r) in runs.iter().enumerate() {
        if r.log_prob > runs[best].log_prob {
            best = i;
        }
    }
    best
}

fn argmin(runs: &[Run]) -> usize {
    let mut worst = 0;
    for (i, r) in runs.iter().enumerate() {
        if r.log_prob < runs[worst].log_prob {
            worst = i;
        }
    }
    worst
}

impl BocpdKernel {
    /// Run-length hypotheses currently held (at most `max_run_length`).
    pub fn hypotheses(&self) -> usize {
        self.runs.len()
    }

    /// The most probable run length: points in the current segment before the newest one
    /// (`None` during warm-up).
    pub fn most_probable_run(&self) -> Option<u64> {
        (!self.runs.is_empty()).then(|| self.runs[argmax(&self.runs)].length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::assert_rejected;
    use crate::common::testing::flagged;
    use crate::common::testing::prelude::*;

    use crate::common::testing::{noise, ts};

    /// Roughly Gaussian noise with unit variance (sum of three uniforms).
    fn gauss(n: usize, seed: u64) -> Vec<f64> {
        let u = noise(3 * n, seed);
        u.chunks(3).map(|c| c.iter().sum::<f64>()).collect()
    }

    /// Segments of (length, mean, sd), plus the indices where each segment starts.
    fn segments(spec: &[(usize, f64, f64)], seed: u64) -> (Vec<f64>, Vec<usize>) {
        let total: usize = spec.iter().map(|s| s.0).sum();
        let g = gauss(total, seed);
        let (mut v, mut starts) = (Vec::new(), Vec::new());
        for &(len, mean, sd) in spec {
            starts.push(v.len());
            let base = v.len();
            v.extend((0..len).map(|i| 1000.0 + mean + sd * g[base + i]));
        }
        (v, starts)
    }

    #[test]
    fn finds_level_and_variance_changes_and_a_spike() {
        let (mut v, starts) = segments(
            &[
                (400, 0.0, 1.0),
                (300, 6.0, 1.0),
                (300, 2.0, 1.0),
                (400, 2.0, 6.0),
            ],
            5,
        );
        v[200] += 12.0;
        let det = BocpdParams::new().check().unwrap();
        let d = det.detect(&ts(v.len()), &v).unwrap();
        let flagged = flagged(&d);
        for &c in starts.iter().skip(1).chain(&[200]) {
            assert!(
                flagged.iter().any(|&i| i >= c && i < c + 10),
                "change at {c} not flagged within 10 points: {flagged:?}"
            );
        }
        // Only the first few points of each new segment (and the spike) are flagged.
        let stray = flagged
            .iter()
            .filter(|&&i| !starts.iter().chain(&[200]).any(|&c| i >= c && i < c + 15))
            .count();
        assert_eq!(stray, 0, "stray flags: {flagged:?}");
        assert!(d.scores[..20].iter().all(|&s| s == 0.0), "warm-up");
        assert!(d.scores.iter().all(|s| (0.0..=1.0).contains(s)));
        assert!(
            (d.expected[350] - 1000.0).abs() < 1.0,
            "{}",
            d.expected[350]
        );
        assert!(
            (d.expected[650] - 1006.0).abs() < 1.0,
            "{}",
            d.expected[650]
        );
    }

    #[test]
    fn units_do_not_matter() {
        let (v, _) = segments(&[(300, 0.0, 1.0), (300, 5.0, 1.0)], 9);
        let det = BocpdParams::new().check().unwrap();
        let a = det.detect(&ts(v.len()), &v).unwrap();
        let scaled: Vec<f64> = v.iter().map(|x| x * 1e6).collect();
        let b = det.detect(&ts(v.len()), &scaled).unwrap();
        assert_eq!(a.is_anomaly, b.is_anomaly);
        for (x, y) in a.scores.iter().zip(&b.scores) {
            assert!((x - y).abs() < 1e-6, "{x} vs {y}");
        }
    }

    #[test]
    fn flat_lines_stay_finite_and_memory_stays_bounded() {
        let mut v = vec![3.0; 500];
        v[300] = 3.5;
        v.extend(gauss(3000, 2).iter().map(|x| 3.0 + x));
        let det = BocpdParams::new()
            .max_run_length(40)
            .prune(0.0)
            .check()
            .unwrap();
        let mut o = det.online_state();
        let t = ts(v.len());
        for i in 0..v.len() {
            let p = o.update(t[i], v[i]).unwrap();
            assert!(p.score.is_finite() && p.expected.is_some_and(f64::is_finite) || i < 20);
            assert!(o.kernel().hypotheses() <= 40);
            if i == 300 {
                assert!(p.is_anomaly, "departure from a flat line");
            }
        }
        assert!(o.kernel().most_probable_run().unwrap() > 100);
    }

    #[test]
    fn bad_params() {
        let p = BocpdParams::new;
        assert_rejected([
            (p().lambda(1.0), "lambda"),
            (p().lambda(f64::INFINITY), "lambda"),
            (p().max_run_length(1), "max_run_length"),
            (p().short_run(0), "short_run"),
            (p().short_run(300), "max_run_length"),
            (p().prune(1.0), "prune"),
            (p().prune(-0.1), "prune"),
            (p().warmup(1), "warmup"),
            (p().threshold(0.0), "threshold"),
            (p().threshold(1.5), "threshold"),
            (p().threshold(f64::NAN), "threshold"),
        ]);
        let e = serde_json::from_str::<BocpdParams>(r#"{"lamda": 3}"#).unwrap_err();
        assert!(e.to_string().contains("lambda"), "{e}");
    }
}
