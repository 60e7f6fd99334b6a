//! Spectral residual (Ren et al. 2019, "Time-Series Anomaly Detection Service at Microsoft"):
//! the saliency of the newest point in the log-amplitude spectrum's unexpected part.
//!
//! For each new point, the trailing `window` points are
//! 1. centred on their mean (the DC term says nothing about saliency, and leaving it in would
//!    make the score depend on the series' level);
//! 2. extended by `extend` copies of an estimate of the next value, so the boundary of the
//!    FFT's implicit periodic extension falls after the newest point rather than on it. As in
//!    the paper the estimate extends a line through the 5 points before the newest (the
//!    newest itself is left out, or a spike would extend itself and lose its saliency), but
//!    the line is Theil–Sen's rather than the paper's mean of slopes: with a spike just
//!    before the newest point, a mean would carry the spike into the extension and make the
//!    normal newest point look like a dip;
//! 3. Fourier transformed (`realfft`). The log amplitude spectrum L minus its moving average
//!    over `mag_window` bins (q = 3) is the spectral residual R; the inverse transform of
//!    exp(R) with the original phases is the saliency map S.
//!
//! Score: (S_t - mean S) / mean S, with the mean over the `score_window` points before the
//! newest in the same map (the paper's z), floored at 0; flagged at `threshold` (the paper's
//! τ = 3). The saliency is unit-free: scaling the series or shifting it changes nothing.
//! There is no expected value or range.
//!
//! Amplitudes below 1e-10 of the largest count as that floor: rounding noise in empty bins
//! must not be whitened into saliency.
//!
//! Warm-up: [`PointScore::NEUTRAL`] until `window` points have been seen.
//!
//! On white noise about 1.2 % of points score 3 or more and 0.1 % score 4.5 or more (window
//! 128): the paper's threshold flags noise now and then; raise it for fewer alarms.
//!
//! Cost per point: a forward and an inverse real FFT of `window + extend` points,
//! O(N log N), about 6 µs with the defaults; the FFT plans and buffers are kept in the state
//! (and rebuilt, not serialized, after a restore). Memory: O(window).

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use aiops_core::TimestampMs;
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

use crate::common::cadence::{Cadence, interpolate};
use crate::common::score_severity::ratio_severity;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};

crate::detector::params_newtype!(
    /// Unchecked parameters of [`SpectralResidual`].
    ///
    /// ```
    /// use aiops_detect::{Detector, ParamGuard, SpectralResidualParams};
    /// let det = SpectralResidualParams::new().window(64).check()?;
    /// let mut values: Vec<f64> = (0..300).map(|i| 10.0 + (i as f64 / 5.0).sin() + ((i * 7919) % 13) as f64 / 50.0).collect();
    /// values[250] += 8.0;
    /// let ts: Vec<i64> = (0..values.len() as i64).collect();
    /// let d = det.detect(&ts, &values)?;
    /// assert!(d.is_anomaly[250]);
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    SpectralResidualParams => SpectralResidual
);

crate::detector::setters!(
    SpectralResidualParams:
    window: usize, extend: usize, mag_window: usize, score_window: usize, threshold: f64);

impl ParamGuard for SpectralResidualParams {
    type Checked = SpectralResidual;

    fn check(&self) -> Result<SpectralResidual> {
        if self.0.window < MIN_WINDOW {
            return Err(DetectError::InvalidParameter {
                name: "window",
                reason: format!(
                    "must be at least {MIN_WINDOW} points, got {}",
                    self.0.window
                ),
            });
        }
        if self.0.extend > self.0.window {
            return Err(DetectError::InvalidParameter {
                name: "extend",
                reason: format!(
                    "must be at most the window ({}), got {}",
                    self.0.window, self.0.extend
                ),
            });
        }
        if self.0.mag_window.is_multiple_of(2) {
            return Err(DetectError::InvalidParameter {
                name: "mag_window",
                reason: format!(
                    "must be an odd number of bins (centred average), got {}",
                    self.0.mag_window
                ),
            });
        }
        if !(1..self.0.window).contains(&self.0.score_window) {
            return Err(DetectError::InvalidParameter {
                name: "score_window",
                reason: format!(
                    "must be in 1..{} (points before the newest in the window), got {}",
                    self.0.window, self.0.score_window
                ),
            });
        }
        if !(self.0.threshold.is_finite() && self.0.threshold > 0.0) {
            return Err(DetectError::InvalidParameter {
                name: "threshold",
                reason: format!("must be a positive ratio, got {}", self.0.threshold),
            });
        }
        Ok(self.0)
    }
}

/// Validated spectral-residual detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpectralResidual {
    window: usize,
    extend: usize,
    mag_window: usize,
    score_window: usize,
    threshold: f64,
}

impl Default for SpectralResidual {
    fn default() -> Self {
        Self {
            window: 128,
            extend: 5,
            mag_window: 3,
            score_window: 21,
            threshold: 3.0,
        }
    }
}

crate::detector::describe!(
    SpectralResidual, SpectralResidualParams, SpectralResidualKernel.params => SpectralResidualOnline, "spectral_residual",
    "spectral residual saliency (Ren et al. 2019) of the newest point",
    severity |config, score| ratio_severity(score, config.threshold), "
    window: points transformed (default 128)
    extend: estimated points appended after the newest (default 5)
    mag_window: frequency bins in the log-amplitude average, odd (default 3)
    score_window: points whose mean saliency is the reference (default 21)
    threshold: saliency excess over its local mean, as a multiple of it (default 3)
"
);

impl Kernel for SpectralResidualKernel {
    fn new(params: &SpectralResidual) -> Self {
        let params = *params;
        Self {
            params,
            values: VecDeque::with_capacity(params.window),
            workspace: Workspace::default(),
            cadence: Cadence::default(),
        }
    }

    fn step(&mut self, timestamp: TimestampMs, x: f64) -> PointScore {
        let missing = (self.cadence.advance(timestamp) - 1) as usize;
        if let Some(&last) = self.values.back() {
            for v in interpolate(last, x, missing.min(self.params.window)) {
                self.push(v);
            }
        }
        self.point(x)
    }
}

/// Points before the newest that estimate the extension (the paper's m).
const SLOPE_POINTS: usize = 5;
/// Smallest window, points.
pub const MIN_WINDOW: usize = 8;
/// Amplitudes are floored at this share of the largest.
const AMPLITUDE_FLOOR: f64 = 1e-10;

/// The value at index `at` of a line through the last [`SLOPE_POINTS`] values of `before`
/// (index i holds `before[i]`), fitted by Theil–Sen: the median of the pairwise slopes and the
/// median intercept, so one spike among them moves it little.
fn extrapolate(before: &[f64], at: usize) -> f64 {
    let m = SLOPE_POINTS.min(before.len());
    let first = before.len() - m;
    let pts = &before[first..];
    let mut slopes = [0.0; SLOPE_POINTS * (SLOPE_POINTS - 1) / 2];
    let mut count = 0;
    for i in 0..m {
        for j in i + 1..m {
            slopes[count] = (pts[j] - pts[i]) / (j - i) as f64;
            count += 1;
        }
    }
    let slope = if count > 0 {
        median(&mut slopes[..count])
    } else {
        0.0
    };
    let mut intercepts = [0.0; SLOPE_POINTS];
    for (i, (c, x)) in intercepts.iter_mut().zip(pts).enumerate() {
        *c = x - slope * (first + i) as f64;
    }
    median(&mut intercepts[..m]) + slope * at as f64
}

/// Median of a short non-empty slice, reordering it.
fn median(v: &mut [f64]) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    let m = v.len();
    if m % 2 == 1 {
        v[m / 2]
    } else {
        v[m / 2 - 1] / 2.0 + v[m / 2] / 2.0
    }
}

/// FFT plans and buffers for one transform length.
#[derive(Clone)]
struct Fft {
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
    input: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    output: Vec<f64>,
    scratch: Vec<Complex<f64>>,
    log_amp: Vec<f64>,
}

impl Fft {
    fn new(len: usize) -> Self {
        let mut planner = RealFftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(len);
        let inverse = planner.plan_fft_inverse(len);
        let scratch_len = forward.get_scratch_len().max(inverse.get_scratch_len());
        let spectrum = forward.make_output_vec();
        Self {
            input: vec![0.0; len],
            output: vec![0.0; len],
            scratch: vec![Complex::new(0.0, 0.0); scratch_len],
            log_amp: vec![0.0; spectrum.len()],
            spectrum,
            forward,
            inverse,
        }
    }
}

/// Plans and buffers: derived from the parameters alone, so not part of the state's value
/// (not serialized, ignored by equality, built on first use).
#[derive(Clone, Default)]
struct Workspace(Option<Fft>);

impl fmt::Debug for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workspace")
            .field("len", &self.0.as_ref().map(|w| w.input.len()))
            .finish()
    }
}

impl PartialEq for Workspace {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

/// The trailing window and the FFT workspace.
/// The per-point state of [`SpectralResidual`]: the trailing window (plus FFT plans, rebuilt
/// after a restore). The FFT assumes evenly spaced points: a gap's missing slots are filled
/// by a straight line between the points around it (never scored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpectralResidualKernel {
    params: SpectralResidual,
    values: VecDeque<f64>,
    #[serde(skip)]
    workspace: Workspace,
    /// The series' step, to tell gaps.
    #[serde(default)]
    cadence: Cadence,
}

impl SpectralResidualKernel {
    /// The saliency score of the newest value in a full window.
    fn score(&mut self) -> f64 {
        let p = self.params;
        let n = self.values.len();
        let len = n + p.extend;
        let ws = self.workspace.0.get_or_insert_with(|| Fft::new(len));

        let mean = self.values.iter().sum::<f64>() / n as f64;
        for (slot, x) in ws.input.iter_mut().zip(&self.values) {
            *slot = x - mean;
        }
        let next = extrapolate(&ws.input[..n - 1], n);
        for slot in &mut ws.input[n..] {
            *slot = next;
        }

        // The buffers come from the plans, so their lengths always fit.
        if ws
            .forward
            .process_with_scratch(&mut ws.input, &mut ws.spectrum, &mut ws.scratch)
            .is_err()
        {
            return 0.0;
        }
        let bins = ws.spectrum.len();
        let top = ws.spectrum[1..]
            .iter()
            .fold(0.0_f64, |a, c| a.max(c.norm()));
        if !(top > 0.0 && top.is_finite()) {
            return 0.0;
        }
        let floor = AMPLITUDE_FLOOR * top;
        for (l, c) in ws.log_amp.iter_mut().zip(&ws.spectrum).skip(1) {
            *l = c.norm().max(floor).ln();
        }
        // Centred moving average over the bins 1.. (DC excluded: it was removed), with the
        // window cut short at the ends.
        let half = p.mag_window / 2;
        ws.spectrum[0] = Complex::new(0.0, 0.0);
        for k in 1..bins {
            let (lo, hi) = (k.saturating_sub(half).max(1), (k + half).min(bins - 1));
            let avg = ws.log_amp[lo..=hi].iter().sum::<f64>() / (hi - lo + 1) as f64;
            let amp = ws.spectrum[k].norm().max(floor);
            // exp(R) with the original phase: the bin scaled by exp(L - avg) / |X|.
            let gain = (ws.log_amp[k] - avg).exp() / amp;
            ws.spectrum[k] *= gain;
        }
        if len.is_multiple_of(2) {
            ws.spectrum[bins - 1].im = 0.0;
        }
        if ws
            .inverse
            .process_with_scratch(&mut ws.spectrum, &mut ws.output, &mut ws.scratch)
            .is_err()
        {
            return 0.0;
        }
        let newest = ws.output[n - 1].abs();
        let before = &ws.output[n - 1 - p.score_window..n - 1];
        let reference = before.iter().map(|s| s.abs()).sum::<f64>() / p.score_window as f64;
        // A reference of 0 (a flat window before a jump) makes any saliency huge, not
        // infinite.
        let score = (newest - reference) / reference.max(1e-12 * newest);
        if score.is_finite() {
            score.max(0.0)
        } else {
            0.0
        }
    }
}

impl SpectralResidualKernel {
    fn push(&mut self, x: f64) {
        if self.values.len() == self.params.window {
            self.values.pop_front();
        }
        self.values.push_back(x);
    }

    fn point(&mut self, x: f64) -> PointScore {
        self.push(x);
        if self.values.len() < self.params.window {
            return PointScore::NEUTRAL;
        }
        let score = self.score();
        PointScore::at_least(score, self.params.threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::prelude::*;
    use crate::common::testing::{assert_all_refused, flagged, noise, run, ts};

    /// A sine of period 24 with noise.
    fn wave(n: usize, seed: u64) -> Vec<f64> {
        noise(n, seed)
            .iter()
            .enumerate()
            .map(|(i, e)| 50.0 + 5.0 * (i as f64 * std::f64::consts::TAU / 24.0).sin() + 0.5 * e)
            .collect()
    }

    #[test]
    fn finds_injected_spikes() {
        let n = 1500;
        let mut v = wave(n, 1);
        let spikes = [300, 555, 800, 1001, 1400];
        for &i in &spikes {
            v[i] += if i % 2 == 0 { 6.0 } else { -6.0 };
        }
        let ts = ts(n);
        let strict = SpectralResidualParams::new()
            .threshold(6.0)
            .check()
            .unwrap();
        let d = strict.detect(&ts, &v).unwrap();
        assert_eq!(flagged(&d), spikes);
        assert!(d.scores[..127].iter().all(|&s| s == 0.0), "warm-up");
        assert!(d.scores.iter().all(|s| s.is_finite() && *s >= 0.0));
        assert!(d.expected.iter().all(|e| e.is_nan()));
        // The paper's threshold also flags some noise.
        let d = run(SpectralResidualParams::new(), &ts, &v);
        assert!(spikes.iter().all(|&i| d.is_anomaly[i]));
        let extra = d.is_anomaly.iter().filter(|&&a| a).count() - spikes.len();
        assert!(extra < n / 30, "{extra} false alarms");
    }

    #[test]
    fn level_and_scale_do_not_matter() {
        let n = 400;
        let mut v = wave(n, 2);
        v[350] += 5.0;
        let ts = ts(n);
        let det = SpectralResidualParams::new().window(64).check().unwrap();
        let base = det.detect(&ts, &v).unwrap();
        let moved: Vec<f64> = v.iter().map(|x| 1e6 + 250.0 * x).collect();
        let other = det.detect(&ts, &moved).unwrap();
        for i in 0..n {
            let (a, b) = (base.scores[i], other.scores[i]);
            assert!((a - b).abs() <= 1e-6 * (1.0 + a), "point {i}: {a} vs {b}");
        }
        assert!(base.is_anomaly[350]);
    }

    #[test]
    fn flat_windows_score_finite() {
        let mut v = vec![3.0; 200];
        let ts = ts(200);
        let det = SpectralResidualParams::new().window(32).check().unwrap();
        let d = det.detect(&ts, &v).unwrap();
        assert!(d.scores.iter().all(|&s| s == 0.0));
        v[150] = 4.0;
        let d = det.detect(&ts, &v).unwrap();
        assert!(d.is_anomaly[150] && d.scores[150].is_finite());
        let huge: Vec<f64> = wave(200, 3).iter().map(|x| x * 1e140).collect();
        let d = det.detect(&ts, &huge).unwrap();
        assert!(d.scores.iter().all(|s| s.is_finite() && *s >= 0.0));
        let too_big: Vec<f64> = wave(200, 3).iter().map(|x| x * 1e300).collect();
        assert!(matches!(
            det.detect(&ts, &too_big),
            Err(DetectError::OutOfRange { .. })
        ));
    }

    #[test]
    fn bad_params() {
        let bad = [
            SpectralResidualParams::new().window(7),
            SpectralResidualParams::new().window(16).extend(17),
            SpectralResidualParams::new().mag_window(4),
            SpectralResidualParams::new().mag_window(0),
            SpectralResidualParams::new().score_window(0),
            SpectralResidualParams::new().window(16).score_window(16),
            SpectralResidualParams::new().threshold(0.0),
            SpectralResidualParams::new().threshold(f64::NAN),
        ];
        assert_all_refused(bad);
        let p: SpectralResidualParams =
            serde_json::from_str(r#"{"window": 64, "extend": 3}"#).unwrap();
        assert_eq!(p, SpectralResidualParams::new().window(64).extend(3));
        assert!(serde_json::from_str::<SpectralResidualParams>(r#"{"q": 3}"#).is_err());
    }
}
