//! STL decomposition (robust, by the `stlrs` port of Cleveland et al.'s Fortran) and the `stl`
//! detector: each point against a forecast from the decomposition of the points before it.
//!
//! [`decompose`] splits a series into trend, seasonal and remainder. The detector keeps the
//! trailing `window` points, decomposes them every `refit_every` points, and forecasts the
//! next points from the last fit: the seasonal value of the same phase one cycle earlier plus
//! the trend extended along its slope over the last cycle. The score is the robust z of the
//! forecast error: |error| / (1.4826 · MAD of the last `window` forecast errors), the scale
//! being re-estimated at each refit. Forecasting (rather than scoring the newest point's own
//! remainder) keeps a spike out of the fit that judges it, and the scale comes from
//! out-of-sample errors, so a threshold in σ means what it says.
//!
//! With `period` unset, the period is found by [`crate::common::period::detect_period`] on the first
//! `window` points (1 024 by default, so up to 341-point periods); the window then shrinks to
//! its default for that period unless given. When no period is found the series is treated as
//! non-seasonal: a robust loess trend (STL with a 2-point period and a constant seasonal, whose
//! tiny even/odd term is dropped) over the last 64 points.
//!
//! A flagged point enters the window clipped to the edge of its normal range (winsorized), so
//! a spike cannot bend later fits and return one cycle later as a false alarm, while a lasting
//! level shift still moves the fit and is followed after a cycle or a few (more for larger
//! shifts). For the same reason the default window holds 8 cycles: robust STL smooths each
//! phase across cycles, and with only 4 a spike in the first window drags its phase's fit so
//! far that its neighbours look like outliers too.
//!
//! Warm-up: [`PointScore::NEUTRAL`] until the window is full and `max(16, period)` forecast
//! errors have been seen (about `window + period` points).
//!
//! Cost per point: one STL of `window` points every `refit_every` points, O(window · passes)
//! with 5 passes when robust (4 robustness iterations: the bisquare weights settle in a few,
//! and flagged points arrive clipped) and 2 otherwise, plus the O(window) scale at the same
//! time. The default `refit_every` of window / 16 bounds this to about 16 · passes loess
//! evaluations per point whatever the period: ~17 µs per point robust, ~6 µs not (period
//! 24). Memory: two buffers of `window` values and one cycle.

use std::collections::VecDeque;

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::common::cadence::Cadence;
use crate::common::score_severity::ratio_severity;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};
use crate::seasonal::window::{ForecastWindow, Plan, check_period, check_window, fill_gap};

crate::detector::params_newtype!(
    /// Unchecked parameters of [`Stl`].
    ///
    /// ```
    /// use aiops_detect::{Detector, ParamGuard, StlParams};
    /// let det = StlParams::new().period(24).check()?;
    /// let daily = |i: usize| 5.0 * (i as f64 * std::f64::consts::TAU / 24.0).sin();
    /// let jitter = |i: usize| ((i * 7919) % 13) as f64 / 26.0;
    /// let mut values: Vec<f64> = (0..400).map(|i| 50.0 + daily(i) + jitter(i)).collect();
    /// values[300] += 20.0;
    /// let ts: Vec<i64> = (0..values.len() as i64).map(|i| i * 3_600_000).collect();
    /// let d = det.detect(&ts, &values)?;
    /// assert!(d.is_anomaly[300]);
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    StlParams => Stl
);

crate::detector::setters!(
    StlParams:
    period: Option<usize>, threshold: f64, window: Option<usize>, refit_every: Option<usize>,
    robust: bool);

impl ParamGuard for StlParams {
    type Checked = Stl;

    fn check(&self) -> Result<Stl> {
        check_period(self.0.period)?;
        if !(self.0.threshold.is_finite() && self.0.threshold > 0.0) {
            return Err(DetectError::InvalidParameter {
                name: "threshold",
                reason: format!(
                    "must be a positive number of sigmas, got {}",
                    self.0.threshold
                ),
            });
        }
        check_window(self.0.period, self.0.window)?;
        if self.0.refit_every == Some(0) {
            return Err(DetectError::InvalidParameter {
                name: "refit_every",
                reason: "must be at least 1 point".into(),
            });
        }
        Ok(self.0)
    }
}

/// Validated STL-residual detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Stl {
    period: Option<usize>,
    threshold: f64,
    window: Option<usize>,
    refit_every: Option<usize>,
    robust: bool,
}

impl Default for Stl {
    fn default() -> Self {
        Self {
            period: None,
            threshold: 4.0,
            window: None,
            refit_every: None,
            robust: true,
        }
    }
}

impl Stl {
    /// Window, refit interval and period once the period is known.
    fn plan(&self, period: Option<usize>) -> Plan {
        Plan::new(
            period,
            self.window,
            self.refit_every,
            DEFAULT_WINDOW_FLOOR,
            NONSEASONAL_WINDOW,
            MIN_ERRORS,
        )
    }
}

crate::detector::describe!(
    Stl, StlParams, StlKernel.params => StlOnline, "stl",
    "robust STL forecast error of the trailing window, in robust sigmas",
    severity |config, score| ratio_severity(score, config.threshold), "
    period: seasonal period in points (default: detected on the first window)
    threshold: robust sigmas at which a point is flagged (default 4)
    window: points decomposed (default max(8 * period, 48))
    refit_every: points between decompositions (default max(1, window / 16))
    robust: true | false (default true)
"
);

impl Kernel for StlKernel {
    fn new(params: &Stl) -> Self {
        let params = *params;
        Self {
            params,
            window: ForecastWindow::new(params.period.map(|p| params.plan(Some(p)))),
            errors: VecDeque::new(),
            scale: None,
            cadence: Cadence::default(),
        }
    }

    fn step(&mut self, timestamp: TimestampMs, x: f64) -> PointScore {
        let missing = (self.cadence.advance(timestamp) - 1) as usize;
        fill_gap(self, missing, x, self.search(), |k| &k.window, Self::keep);
        self.point(x)
    }
}

/// Points searched for a period when neither `period` nor `window` is given.
pub const AUTO_WINDOW: usize = 1024;
/// Window when no period is found and none is given, points.
pub const NONSEASONAL_WINDOW: usize = 64;
/// Smallest window, points.
pub const MIN_WINDOW: usize = 16;
/// Default window floor with a known period, points.
const DEFAULT_WINDOW_FLOOR: usize = 48;
/// Fewest forecast errors the scale is estimated from.
const MIN_ERRORS: usize = 16;
/// Robustness iterations of a one-off decomposition (STL's usual number).
const FULL_ROBUST_LOOPS: usize = 15;
/// Robustness iterations of the detectors' repeated fits: the bisquare weights settle in a
/// few, and flagged points arrive already clipped.
pub(crate) const DETECTOR_ROBUST_LOOPS: usize = 4;

/// An additive decomposition: `value = trend + seasonal + remainder` at every point.
#[derive(Debug, Clone, PartialEq)]
pub struct Decomposition {
    /// The slowly varying level.
    pub trend: Vec<f64>,
    /// The repeating pattern, about zero on average over a cycle.
    pub seasonal: Vec<f64>,
    /// What is left: value - trend - seasonal.
    pub remainder: Vec<f64>,
}

/// STL decomposition of `values` with a seasonal period of `period` points.
///
/// Smoother lengths are STL's defaults for the period (seasonal span = period, trend span
/// ≈ 1.5 · period). `robust` adds 15 robustness iterations that give outliers (bisquare on
/// the remainder) zero weight, so they stay in the remainder instead of bending the trend and
/// the seasonal pattern.
///
/// The values are mapped to [-1, 1] for the fit (so huge values cannot overflow) with a
/// dither of 1e-9 of that range, which keeps robustness weights defined on noiseless data;
/// results differ from plain STL by that much.
///
/// Errors: `period` below 2, fewer than two full cycles of values, or a non-finite value.
///
/// ```
/// use aiops_detect::seasonal::stl::decompose;
/// let v: Vec<f64> = (0..70).map(|i| i as f64 + [0.0, 5.0, 0.0, -5.0, 0.0, 2.0, -2.0][i % 7]).collect();
/// let d = decompose(&v, 7, true)?;
/// assert!((d.trend[35] - 35.0).abs() < 0.5 && (d.seasonal[36] - 5.0).abs() < 0.5);
/// # Ok::<(), aiops_detect::DetectError>(())
/// ```
pub fn decompose(values: &[f64], period: usize, robust: bool) -> Result<Decomposition> {
    if period < 2 {
        return Err(DetectError::InvalidParameter {
            name: "period",
            reason: format!("must be at least 2 points, got {period}"),
        });
    }
    if values.len() < 2 * period {
        return Err(DetectError::InvalidParameter {
            name: "period",
            reason: format!(
                "STL needs two full cycles: {} values for a period of {period}",
                values.len()
            ),
        });
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(DetectError::InvalidParameter {
            name: "values",
            reason: format!("value {i} is not finite: {}", values[i]),
        });
    }
    Ok(stl(
        values,
        period,
        if robust { FULL_ROBUST_LOOPS } else { 0 },
        None,
    ))
}

/// STL through `stlrs`, on values mapped to [-1, 1] and back.
///
/// The mapping keeps loess sums from overflowing on huge values (`stlrs` would panic on the
/// NaN). A dither of 1e-9 of that range keeps the robustness weights meaningful on noiseless
/// stretches: the bisquare scale is 6 · the median absolute remainder, which is 0 there, and
/// then every point that is not fitted exactly gets zero weight. `spans` sets the seasonal and
/// trend smoother lengths (odd), STL's defaults for the period otherwise. `robust_loops` is
/// the number of robustness iterations (0: not robust).
fn stl(
    values: &[f64],
    period: usize,
    robust_loops: usize,
    spans: Option<(usize, usize)>,
) -> Decomposition {
    let n = values.len();
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    // Halves first: hi - lo itself can overflow.
    let center = lo / 2.0 + hi / 2.0;
    let half = hi / 2.0 - lo / 2.0;
    if half <= 0.0 {
        return Decomposition {
            trend: values.to_vec(),
            seasonal: vec![0.0; n],
            remainder: vec![0.0; n],
        };
    }
    // Golden-ratio steps: evenly spread and never periodic, so no period picks them up.
    let unit: Vec<f64> = values
        .iter()
        .enumerate()
        .map(|(i, x)| {
            (x - center) / half + 2e-9 * ((i as f64 * 0.618_033_988_749_895).fract() - 0.5)
        })
        .collect();
    let mut params = stlrs::params();
    params.robust(robust_loops > 0).outer_loops(robust_loops);
    if let Some((seasonal_span, trend_span)) = spans {
        params
            .seasonal_length(seasonal_span)
            .trend_length(trend_span);
    }
    // The checks above (period >= 2, two cycles, finite values) are all `stlrs` asks for.
    let Ok(fit) = params.fit(&unit, period) else {
        return Decomposition {
            trend: values.to_vec(),
            seasonal: vec![0.0; n],
            remainder: vec![0.0; n],
        };
    };
    let trend: Vec<f64> = fit.trend().iter().map(|t| t * half + center).collect();
    let seasonal: Vec<f64> = fit.seasonal().iter().map(|s| s * half).collect();
    let remainder = values
        .iter()
        .zip(&trend)
        .zip(&seasonal)
        .map(|((x, t), s)| x - t - s)
        .collect();
    Decomposition {
        trend,
        seasonal,
        remainder,
    }
}

/// Decomposition of a detector's window: STL with `period`, or without one a robust loess
/// trend (STL with a 2-point period and a constant seasonal). `None` if STL fails or
/// overflows.
pub(crate) fn decompose_window(
    values: &[f64],
    period: Option<usize>,
    robust: bool,
) -> Option<Decomposition> {
    if values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let loops = if robust { DETECTOR_ROBUST_LOOPS } else { 0 };
    let n = values.len();
    let d = match period {
        Some(p) if p >= 2 && n >= 2 * p => stl(values, p, loops, None),
        Some(_) => return None,
        // Odd spans, as loess wants: the seasonal smoother spans the whole window (so the
        // even/odd pattern is constant) and the trend a quarter of it.
        None if n >= 4 => stl(values, 2, loops, Some((2 * n + 1, ((n / 4) | 1).max(3)))),
        None => return None,
    };
    let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
    (finite(&d.trend) && finite(&d.seasonal)).then_some(d)
}

/// What a decomposition predicts for the points after its window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SeasonalForecast {
    /// Seasonal values of the window's last cycle, oldest first; empty without a period.
    cycle: Vec<f64>,
    /// The trend at the window's last point.
    trend_end: f64,
    /// Trend slope over the last cycle (or quarter window), per point.
    slope: f64,
}

impl SeasonalForecast {
    /// From the decomposition of a window of at least 2 points.
    pub(crate) fn new(d: &Decomposition, period: Option<usize>) -> Self {
        let n = d.trend.len();
        let cycle = match period {
            Some(p) => d.seasonal[n - p..].to_vec(),
            None => Vec::new(),
        };
        // A slope over a whole cycle: the loess end point's own derivative is noisy.
        let span = period.unwrap_or(n / 4).clamp(1, n - 1);
        let trend_end = d.trend[n - 1];
        let slope = (trend_end - d.trend[n - 1 - span]) / span as f64;
        Self {
            cycle,
            trend_end,
            slope,
        }
    }

    /// The seasonal value `h` points after the window's end (h >= 1).
    pub(crate) fn seasonal(&self, h: usize) -> f64 {
        if self.cycle.is_empty() {
            0.0
        } else {
            self.cycle[(h - 1) % self.cycle.len()]
        }
    }

    /// The expected value `h` points after the window's end (h >= 1).
    pub(crate) fn value(&self, h: usize) -> f64 {
        self.trend_end + self.slope * h as f64 + self.seasonal(h)
    }
}

/// Median of a non-empty sample, reordering it.
fn median_in_place(v: &mut [f64]) -> f64 {
    let m = v.len();
    let (_, &mut hi, _) = v.select_nth_unstable_by(m / 2, f64::total_cmp);
    if m % 2 == 1 {
        hi
    } else {
        let lo = v[..m / 2].iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        lo / 2.0 + hi / 2.0
    }
}

/// Robust standard deviation of a non-empty sample: 1.4826 · MAD, or when more than half the
/// values are equal (MAD 0), 1.2533 · the mean absolute deviation from the median (both equal
/// σ for normal data).
fn robust_scale<'a>(values: impl IntoIterator<Item = &'a f64>) -> f64 {
    let mut v: Vec<f64> = values.into_iter().copied().collect();
    if v.is_empty() {
        return 0.0;
    }
    let med = median_in_place(&mut v);
    for x in v.iter_mut() {
        *x = (*x - med).abs();
    }
    let mean_dev = v.iter().sum::<f64>() / v.len() as f64;
    let mad = median_in_place(&mut v);
    if mad > 0.0 {
        1.4826 * mad
    } else {
        1.2533 * mean_dev
    }
}

/// The per-point state of [`Stl`]: the window, the last fit and the recent forecast errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StlKernel {
    params: Stl,
    #[serde(flatten)]
    window: ForecastWindow,
    errors: VecDeque<f64>,
    /// Robust σ of `errors` at the last fit, once there were enough.
    scale: Option<f64>,
    /// The series' step, to tell gaps.
    #[serde(default)]
    cadence: Cadence,
}

impl StlKernel {
    /// Points searched for a period when none is given.
    fn search(&self) -> usize {
        self.params.window.unwrap_or(AUTO_WINDOW)
    }

    /// Appends a value (a point, or a gap's stand-in) to the window and refits when due.
    fn keep(&mut self, kept: f64) {
        let params = self.params;
        if let Some(plan) = self.window.push(kept, self.search(), |p| params.plan(p)) {
            self.window.refit(plan, params.robust);
            if self.errors.len() >= plan.min_errors {
                self.scale = Some(robust_scale(&self.errors));
            }
        }
    }

    fn score(&self, x: f64, expected: f64) -> PointScore {
        let Some(scale) = self.scale else {
            return PointScore::NEUTRAL;
        };
        // A perfectly predictable series has MAD 0: any departure then scores huge, not
        // infinite.
        let scale = scale.max(1e-12 * (1.0 + expected.abs()));
        let z = (x - expected).abs() / scale;
        let score = if z.is_finite() { z } else { f64::MAX };
        let k = self.params.threshold;
        let finite = |b: f64| b.is_finite().then_some(b);
        PointScore {
            score,
            is_anomaly: score >= k,
            expected: Some(expected),
            lower: finite(expected - k * scale),
            upper: finite(expected + k * scale),
        }
    }
}

impl StlKernel {
    fn point(&mut self, x: f64) -> PointScore {
        let mut out = PointScore::NEUTRAL;
        if let Some((expected, plan)) = self.window.expected()
            && expected.is_finite()
        {
            out = self.score(x, expected);
            if self.errors.len() == plan.window {
                self.errors.pop_front();
            }
            self.errors.push_back(x - expected);
        }
        self.keep(ForecastWindow::kept(x, &out));
        out
    }
}

impl StlKernel {
    /// The period in use, points: `None` while it is being searched for or when the series
    /// was found non-seasonal.
    pub fn period(&self) -> Option<usize> {
        self.window.period()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::prelude::*;
    use crate::common::testing::{
        assert_all_refused, assert_finds_daily_spikes, daily, daily_with_spikes, flagged, noise,
        noisy_trend, run, streamed, ts,
    };

    #[test]
    fn decompose_recovers_trend_and_season_despite_outliers() {
        let n = 140;
        let pattern = [0.0, 5.0, 0.0, -5.0, 0.0, 2.0, -2.0];
        let e = noise(n, 8);
        let mut v: Vec<f64> = (0..n)
            .map(|i| 0.5 * i as f64 + pattern[i % 7] + 0.3 * e[i])
            .collect();
        v[70] += 10.0;
        let d = decompose(&v, 7, true).unwrap();
        for i in 7..n - 7 {
            assert!((d.trend[i] - 0.5 * i as f64).abs() < 0.4, "trend at {i}");
            assert!(
                (d.seasonal[i] - pattern[i % 7]).abs() < 0.4,
                "seasonal at {i}"
            );
        }
        assert!(
            (d.remainder[70] - 10.0).abs() < 0.5,
            "the outlier stays a remainder"
        );
        for (i, x) in v.iter().enumerate() {
            let sum = d.trend[i] + d.seasonal[i] + d.remainder[i];
            assert!((sum - x).abs() < 1e-9);
        }
        // Without robustness iterations the outlier leaks into its cycle.
        let plain = decompose(&v, 7, false).unwrap();
        assert!(plain.remainder[70] < 9.0);
        assert!(decompose(&v, 1, true).is_err());
        assert!(decompose(&v[..13], 7, true).is_err());
        v[3] = f64::NAN;
        assert!(matches!(
            decompose(&v, 7, false),
            Err(DetectError::InvalidParameter { name: "values", .. })
        ));
    }

    #[test]
    fn finds_injected_anomalies_and_only_them() {
        let v = daily_with_spikes();
        let ts = ts(v.len());
        for det in [
            StlParams::new().period(24).check().unwrap(),
            StlParams::new().check().unwrap(),
            StlParams::new().period(24).robust(false).check().unwrap(),
        ] {
            assert_finds_daily_spikes(&det, &v);
        }
        let online = streamed(&StlParams::new().check().unwrap(), &ts, &v);
        assert_eq!(online.kernel().period(), Some(24), "auto period");
    }

    #[test]
    fn non_seasonal_series_fall_back_to_a_trend() {
        let n = 1500;
        let mut v = noisy_trend(n);
        v[1300] += 9.0;
        let det = StlParams::new().threshold(4.5).check().unwrap();
        let d = det.detect(&ts(n), &v).unwrap();
        assert_eq!(flagged(&d), [1300]);
        assert_eq!(streamed(&det, &ts(n), &v).kernel().period(), None);
    }

    #[test]
    fn flat_and_huge_series_score_finite() {
        let n = 300;
        let mut v = vec![7.0; n];
        v[250] = 8.0;
        let d = run(StlParams::new().period(12), &ts(n), &v);
        assert!(d.is_anomaly[250] && d.scores[250].is_finite());
        assert_eq!(d.is_anomaly.iter().filter(|&&a| a).count(), 1);
        let big: Vec<f64> = daily(n, 2).iter().map(|x| x * 1e140).collect();
        let det = StlParams::new().period(24).check().unwrap();
        let d = det.detect(&ts(n), &big).unwrap();
        assert!(d.scores.iter().all(|s| s.is_finite() && *s >= 0.0));
        let too_big: Vec<f64> = daily(n, 2).iter().map(|x| x * 1e300).collect();
        assert!(matches!(
            det.detect(&ts(n), &too_big),
            Err(DetectError::OutOfRange { .. })
        ));
    }

    #[test]
    fn bad_params() {
        let bad = [
            StlParams::new().period(1),
            StlParams::new().threshold(0.0),
            StlParams::new().threshold(f64::INFINITY),
            StlParams::new().period(24).window(47),
            StlParams::new().window(15),
            StlParams::new().refit_every(0),
        ];
        assert_all_refused(bad);
        let p: StlParams = serde_json::from_str(r#"{"period": 12, "robust": false}"#).unwrap();
        assert_eq!(p, StlParams::new().period(12).robust(false));
        assert!(serde_json::from_str::<StlParams>(r#"{"perod": 12}"#).is_err());
    }
}
