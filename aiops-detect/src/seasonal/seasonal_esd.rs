//! Seasonal hybrid ESD (after Twitter's S-H-ESD, Hochenbaum et al. 2017), streaming.
//!
//! Seasonality and trend are removed with the same robust STL as the `stl` detector: the
//! trailing `window` points are decomposed every `hop` points and each new point's residual
//! is its error against the decomposition's forecast (the seasonal value one cycle earlier
//! plus the trend extended). The generalized ESD test (Rosner 1983) then runs, in its hybrid
//! form (median and MAD instead of mean and standard deviation), on the last `window`
//! residuals, the newest included: up to k = max(1, ⌊max_anomalies · n⌋) times, the residual
//! farthest from the median is removed, with statistic R_i = |r - median| / (1.4826 · MAD)
//! over the residuals left, and compared with the critical value
//!
//! λ_i = (n - i) · t / √((n - i - 1 + t²)(n - i + 1)), t = t_{1 - α / (2(n - i + 1)), n - i - 1}
//!
//! (Student t quantile). The outliers are the first i* removed, i* the largest i with
//! R_i > λ_i. A point is flagged when it is among them while it is the newest point, so the
//! test is causal; it is not re-judged later.
//!
//! Score: when the newest point is removed at step j, the largest R_i / λ_i for i ≥ j, so the
//! point is flagged exactly when its score exceeds 1 (1.5 is half again past the critical
//! value). A point not among the k most extreme scores its own statistic after those k
//! removals over λ_{k+1}, capped just below 1. `expected` is the forecast plus the median
//! residual and the bounds ± λ · 1.4826 · MAD around it, all taken once the i* outliers are
//! removed (step i* + 1), so outliers do not widen the normal range.
//!
//! Departures from the batch S-H-ESD, both for streaming: residuals are forecast errors (1 to
//! `hop` points past the last fit) rather than in-sample remainders, so the newest point
//! (always at the window's edge) is judged like the others; and the trend is removed too, since at the edge a trend would
//! bias every new point the same way. A flagged point enters the STL window clipped to the
//! bounds, so a spike cannot distort later fits (see the `stl` module); its residual stays in
//! the ESD window as it was, as ESD expects.
//!
//! With `period` unset it is found on the first `window` points (1 024 by default, then the
//! default window for the period found); without a period the residuals are errors against a
//! robust loess trend, over 256 points unless `window` is given.
//!
//! Warm-up: [`PointScore::NEUTRAL`] until the window is full and `max(32, period)` residuals
//! have been seen; the ESD window then grows to `window` residuals.
//!
//! Cost per point: the residuals stay sorted, so sliding the window is one O(window) insert
//! and remove, and each ESD step trims the smallest or largest residual and finds the median
//! and MAD of the rest in O(log window) (the absolute deviations from the median are two
//! sorted runs, and the MAD is the median of their union): O(window + k log window). Only when
//! more than half the residuals are equal (MAD 0) does a step fall back to an O(window) mean
//! deviation. Plus one robust STL of `window` points every `hop` points (default window / 16,
//! so about 16 · 5 loess evaluations per point, as in the `stl` detector): ~17 µs per point
//! with period 24. Critical values depend on n and i only through n - i, so they are computed
//! once per n - i (a table of at most `window` values, rebuilt after a restore). Memory: three
//! buffers of `window` values.

use std::collections::VecDeque;

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::common::cadence::Cadence;
use crate::common::score_severity::tiered;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};
use crate::seasonal::stl::AUTO_WINDOW;
use crate::seasonal::window::{ForecastWindow, Plan, check_period, check_window, fill_gap};

crate::detector::params_newtype!(
    /// Unchecked parameters of [`SeasonalEsd`].
    ///
    /// ```
    /// use aiops_detect::{Detector, ParamGuard, SeasonalEsdParams};
    /// let det = SeasonalEsdParams::new().period(24).check()?;
    /// let daily = |i: usize| 5.0 * (i as f64 * std::f64::consts::TAU / 24.0).sin();
    /// let jitter = |i: usize| ((i * 7919) % 13) as f64 / 26.0;
    /// let mut values: Vec<f64> = (0..400).map(|i| 50.0 + daily(i) + jitter(i)).collect();
    /// values[300] += 20.0;
    /// let ts: Vec<i64> = (0..values.len() as i64).map(|i| i * 3_600_000).collect();
    /// let d = det.detect(&ts, &values)?;
    /// assert!(d.is_anomaly[300] && d.scores[300] > 1.0);
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    SeasonalEsdParams => SeasonalEsd
);

crate::detector::setters!(
    SeasonalEsdParams:
    period: Option<usize>, window: Option<usize>, max_anomalies: f64, alpha: f64, hop:
    Option<usize>);

impl ParamGuard for SeasonalEsdParams {
    type Checked = SeasonalEsd;

    fn check(&self) -> Result<SeasonalEsd> {
        check_period(self.0.period)?;
        check_window(self.0.period, self.0.window)?;
        if !(self.0.max_anomalies > 0.0 && self.0.max_anomalies <= 0.49) {
            return Err(DetectError::InvalidParameter {
                name: "max_anomalies",
                reason: format!(
                    "must be a fraction of the window in (0, 0.49], got {}",
                    self.0.max_anomalies
                ),
            });
        }
        if !(self.0.alpha > 0.0 && self.0.alpha < 1.0) {
            return Err(DetectError::InvalidParameter {
                name: "alpha",
                reason: format!(
                    "must be a significance level in (0, 1), got {}",
                    self.0.alpha
                ),
            });
        }
        if self.0.hop == Some(0) {
            return Err(DetectError::InvalidParameter {
                name: "hop",
                reason: "must be at least 1 point".into(),
            });
        }
        Ok(self.0)
    }
}

/// Validated seasonal hybrid ESD detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeasonalEsd {
    period: Option<usize>,
    window: Option<usize>,
    max_anomalies: f64,
    alpha: f64,
    hop: Option<usize>,
}

impl Default for SeasonalEsd {
    fn default() -> Self {
        Self {
            period: None,
            window: None,
            max_anomalies: 0.02,
            alpha: 0.05,
            hop: None,
        }
    }
}

impl SeasonalEsd {
    fn plan(&self, period: Option<usize>) -> Plan {
        Plan::new(
            period,
            self.window,
            self.hop,
            DEFAULT_WINDOW_FLOOR,
            NONSEASONAL_WINDOW,
            MIN_RESIDUALS,
        )
    }
}

crate::detector::describe!(
    SeasonalEsd, SeasonalEsdParams, SeasonalEsdKernel.params => SeasonalEsdOnline, "seasonal_esd",
    "seasonal hybrid ESD: generalized ESD on median/MAD of STL forecast errors",
    severity |_, score| tiered(score, 1.0_f64.next_up(), 1.5, 2.0), "
    period: seasonal period in points (default: detected on the first window)
    window: points in the STL and ESD windows (default max(8 * period, 128))
    max_anomalies: largest share of the window called anomalous (default 0.02)
    alpha: significance level (default 0.05)
    hop: points between STL decompositions (default max(1, window / 16))
"
);

impl Kernel for SeasonalEsdKernel {
    fn new(params: &SeasonalEsd) -> Self {
        let params = *params;
        Self {
            params,
            window: ForecastWindow::new(params.period.map(|p| params.plan(Some(p)))),
            residuals: VecDeque::new(),
            sorted: Vec::new(),
            critical: Critical::default(),
            cadence: Cadence::default(),
        }
    }

    fn step(&mut self, timestamp: TimestampMs, x: f64) -> PointScore {
        let missing = (self.cadence.advance(timestamp) - 1) as usize;
        fill_gap(self, missing, x, self.search(), |k| &k.window, Self::keep);
        self.point(x)
    }
}

/// Window without a period (none given or found), points.
pub const NONSEASONAL_WINDOW: usize = 256;
/// Default window floor with a known period, points.
const DEFAULT_WINDOW_FLOOR: usize = 128;
/// Fewest residuals the test runs on.
const MIN_RESIDUALS: usize = 32;
/// Largest score of a point the test could not reach: below 1, the flagging value.
const BELOW_ONE: f64 = 1.0 - f64::EPSILON;

/// ESD critical values by m = n - i, the values left after step i: λ_i depends on n and i
/// only through m, so one table serves every window size the residual window grows through.
#[derive(Debug, Clone, Default, PartialEq)]
struct Critical {
    /// λ for m = index; NaN where not computed yet.
    by_m: Vec<f64>,
}

impl Critical {
    /// λ_1..=λ_(k+1) for n values into `out`.
    fn fill(&mut self, n: usize, k: usize, alpha: f64, out: &mut Vec<f64>) {
        if self.by_m.len() < n {
            self.by_m.resize(n, f64::NAN);
        }
        out.clear();
        for i in 1..=k + 1 {
            let m = n - i;
            if self.by_m[m].is_nan() {
                self.by_m[m] = lambda(m, alpha);
            }
            out.push(self.by_m[m]);
        }
    }
}

/// The critical value of an ESD step that leaves m values (m = n - i for step i of n).
pub(crate) fn lambda(m: usize, alpha: f64) -> f64 {
    let m = m as f64;
    let df = m - 1.0;
    let p = 1.0 - alpha / (2.0 * (m + 1.0));
    match StudentsT::new(0.0, 1.0, df) {
        Ok(t) => {
            let t = t.inverse_cdf(p);
            m * t / ((df + t * t) * (m + 1.0)).sqrt()
        }
        // df >= 1 by construction; an unusable λ flags nothing.
        Err(_) => f64::INFINITY,
    }
}

/// The k-th smallest (0-based) of the union of two ascending sequences, given by accessors
/// and lengths. O(log(na + nb)).
fn kth_of_union(
    a: impl Fn(usize) -> f64,
    na: usize,
    b: impl Fn(usize) -> f64,
    nb: usize,
    k: usize,
) -> f64 {
    // i = how many of the k + 1 smallest come from `a`; too few while a(i) < b(k - i).
    let (mut lo, mut hi) = ((k + 1).saturating_sub(nb), na.min(k + 1));
    while lo < hi {
        let i = lo + (hi - lo) / 2;
        if i < na && k >= i && a(i) < b(k - i) {
            lo = i + 1;
        } else {
            hi = i;
        }
    }
    let i = lo;
    let from_a = if i > 0 { a(i - 1) } else { f64::NEG_INFINITY };
    let from_b = if k + 1 > i {
        b(k - i)
    } else {
        f64::NEG_INFINITY
    };
    from_a.max(from_b)
}

/// Median of an ascending non-empty slice.
fn sorted_median(s: &[f64]) -> f64 {
    let m = s.len();
    if m % 2 == 1 {
        s[m / 2]
    } else {
        s[m / 2 - 1] / 2.0 + s[m / 2] / 2.0
    }
}

/// Median and robust σ (1.4826 · MAD, or 1.2533 · mean absolute deviation when the MAD is 0)
/// of an ascending non-empty slice.
fn center_and_scale(s: &[f64]) -> (f64, f64) {
    let m = s.len();
    let med = sorted_median(s);
    // Deviations below the median grow leftwards, those above rightwards: two ascending runs.
    let split = s.partition_point(|&v| v < med);
    let below = |i: usize| med - s[split - 1 - i];
    let above = |j: usize| s[split + j] - med;
    let kth = |k: usize| kth_of_union(below, split, above, m - split, k);
    let mad = if m % 2 == 1 {
        kth(m / 2)
    } else {
        kth(m / 2 - 1) / 2.0 + kth(m / 2) / 2.0
    };
    if mad > 0.0 {
        (med, 1.4826 * mad)
    } else {
        let mean_dev = s.iter().map(|v| (v - med).abs()).sum::<f64>() / m as f64;
        (med, 1.2533 * mean_dev)
    }
}

/// The per-point state of [`SeasonalEsd`]: the window, the last fit's forecast and the
/// residuals, in arrival order and sorted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeasonalEsdKernel {
    params: SeasonalEsd,
    #[serde(flatten)]
    window: ForecastWindow,
    residuals: VecDeque<f64>,
    /// `residuals`, ascending (by `total_cmp`).
    sorted: Vec<f64>,
    /// Derived from alpha alone: rebuilt after a restore.
    #[serde(skip)]
    critical: Critical,
    /// The series' step, to tell gaps.
    #[serde(default)]
    cadence: Cadence,
}

impl SeasonalEsdKernel {
    /// Points searched for a period when none is given.
    fn search(&self) -> usize {
        self.params.window.unwrap_or(AUTO_WINDOW)
    }

    /// Appends a value (a point, or a gap's stand-in) to the window and refits when due.
    fn keep(&mut self, kept: f64) {
        let params = self.params;
        if let Some(plan) = self.window.push(kept, self.search(), |p| params.plan(p)) {
            self.window.refit(plan, true);
        }
    }

    fn push_residual(&mut self, r: f64, window: usize) {
        if self.residuals.len() == window
            && let Some(old) = self.residuals.pop_front()
        {
            let at = self.sorted.partition_point(|v| v.total_cmp(&old).is_lt());
            // Always found; the check only keeps a hand-edited snapshot from panicking.
            if at < self.sorted.len() {
                self.sorted.remove(at);
            }
        }
        self.residuals.push_back(r);
        let at = self.sorted.partition_point(|v| v.total_cmp(&r).is_lt());
        self.sorted.insert(at, r);
    }

    /// The generalized ESD test on the residual window, for the newest residual `r`.
    fn esd(&mut self, r: f64, forecast: f64) -> PointScore {
        let n = self.sorted.len();
        if n < 4 {
            return PointScore::NEUTRAL;
        }
        let k = ((self.params.max_anomalies * n as f64) as usize).clamp(1, n - 3);
        let mut lambdas = Vec::with_capacity(k + 1);
        self.critical.fill(n, k, self.params.alpha, &mut lambdas);
        let s = &self.sorted;
        // Flat stretches predict perfectly: keep rounding-level residuals from counting.
        let floor = 1e-12 * (1.0 + forecast.abs());

        let (mut lo, mut hi) = (0, n);
        let mut removed_at = None;
        // Median and scale before each step, and the step's R / λ.
        let mut steps: Vec<(f64, f64, f64)> = Vec::with_capacity(k + 1);
        for lambda in lambdas.iter().take(k) {
            let (med, scale) = center_and_scale(&s[lo..hi]);
            let scale = scale.max(floor);
            let (dev_lo, dev_hi) = (med - s[lo], s[hi - 1] - med);
            let (dev, gone) = if dev_hi >= dev_lo {
                hi -= 1;
                (dev_hi, s[hi])
            } else {
                lo += 1;
                (dev_lo, s[lo - 1])
            };
            if removed_at.is_none() && gone.total_cmp(&r).is_eq() {
                removed_at = Some(steps.len());
            }
            steps.push((med, scale, dev / scale / lambda));
        }
        let (med, scale) = center_and_scale(&s[lo..hi]);
        steps.push((med, scale.max(floor), 0.0));
        let score = match removed_at {
            Some(j) => steps[j..k].iter().fold(0.0_f64, |m, st| m.max(st.2)),
            None => ((r - steps[k].0).abs() / steps[k].1 / lambdas[k]).min(BELOW_ONE),
        };
        let score = if score.is_finite() { score } else { f64::MAX };
        // The normal range is that of the residuals left once the outliers are out, so that
        // outliers do not widen it (the flagged point is clipped to it).
        let outliers = steps[..k]
            .iter()
            .rposition(|st| st.2 > 1.0)
            .map_or(0, |i| i + 1);
        let (med, scale, _) = steps[outliers];
        let expected = forecast + med;
        let reach = lambdas[outliers] * scale;
        let finite = |b: f64| b.is_finite().then_some(b);
        PointScore {
            score,
            is_anomaly: score > 1.0,
            expected: finite(expected),
            lower: finite(expected - reach),
            upper: finite(expected + reach),
        }
    }
}

impl SeasonalEsdKernel {
    fn point(&mut self, x: f64) -> PointScore {
        let mut out = PointScore::NEUTRAL;
        if let Some((f, plan)) = self.window.expected() {
            let r = x - f;
            if r.is_finite() {
                self.push_residual(r, plan.window);
                if self.residuals.len() >= plan.min_errors {
                    out = self.esd(r, f);
                }
            }
        }
        self.keep(ForecastWindow::kept(x, &out));
        out
    }
}

impl SeasonalEsdKernel {
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
        assert_all_refused, assert_finds_daily_spikes, daily_with_spikes, flagged, noise,
        noisy_trend, run, streamed, ts,
    };

    fn brute_center_and_scale(v: &[f64]) -> (f64, f64) {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        let med = sorted_median(&s);
        let mut d: Vec<f64> = s.iter().map(|x| (x - med).abs()).collect();
        d.sort_by(f64::total_cmp);
        let mad = sorted_median(&d);
        let mean_dev = d.iter().sum::<f64>() / d.len() as f64;
        (
            med,
            if mad > 0.0 {
                1.4826 * mad
            } else {
                1.2533 * mean_dev
            },
        )
    }

    #[test]
    fn fast_median_and_mad_match_brute_force() {
        for n in 1..60 {
            for seed in 0..5 {
                // Rounded values, so ties and zero MADs occur.
                let v: Vec<f64> = noise(n, seed * 100 + n as u64)
                    .iter()
                    .map(|x| (x * 3.0).round())
                    .collect();
                let mut s = v.clone();
                s.sort_by(f64::total_cmp);
                let (m, sc) = center_and_scale(&s);
                let (bm, bsc) = brute_center_and_scale(&v);
                assert_eq!(m, bm, "median n={n}");
                assert!((sc - bsc).abs() < 1e-12, "scale n={n}: {sc} vs {bsc}");
                let smooth: Vec<f64> = noise(n, seed + 7).iter().map(|x| x * 10.0).collect();
                let mut s = smooth.clone();
                s.sort_by(f64::total_cmp);
                let (m, sc) = center_and_scale(&s);
                let (bm, bsc) = brute_center_and_scale(&smooth);
                assert_eq!((m, sc), (bm, bsc), "n={n}");
            }
        }
    }

    #[test]
    fn critical_values_match_the_nist_example() {
        // NIST/SEMATECH e-Handbook 1.3.5.17.3, Rosner's 54 values, alpha = 0.05.
        let table = [
            3.159, 3.151, 3.144, 3.136, 3.128, 3.120, 3.112, 3.103, 3.094, 3.085,
        ];
        for (i, want) in table.iter().enumerate() {
            let got = lambda(54 - (i + 1), 0.05);
            assert!(
                (got - want).abs() < 5e-4,
                "lambda_{}: {got} vs {want}",
                i + 1
            );
        }
    }

    #[test]
    fn finds_injected_anomalies_and_only_them() {
        let v = daily_with_spikes();
        let (n, ts) = (v.len(), ts(v.len()));
        for det in [
            SeasonalEsdParams::new().period(24).check().unwrap(),
            SeasonalEsdParams::new().check().unwrap(),
            SeasonalEsdParams::new()
                .period(24)
                .hop(5)
                .alpha(0.01)
                .check()
                .unwrap(),
        ] {
            let d = assert_finds_daily_spikes(&det, &v);
            assert!(
                (0..n).all(|i| d.is_anomaly[i] == (d.scores[i] > 1.0)),
                "flag means score > 1"
            );
        }
        let online = streamed(&SeasonalEsdParams::new().check().unwrap(), &ts, &v);
        assert_eq!(online.kernel().period(), Some(24), "auto period");
    }

    #[test]
    fn non_seasonal_and_flat_series() {
        let n = 900;
        let mut v = noisy_trend(n);
        v[700] += 9.0;
        let det = SeasonalEsdParams::new().window(300).check().unwrap();
        let d = det.detect(&ts(n), &v).unwrap();
        assert_eq!(flagged(&d), [700]);

        let mut flat = vec![7.0; 600];
        flat[500] = 8.0;
        let d = run(SeasonalEsdParams::new().period(12), &ts(600), &flat);
        assert_eq!(flagged(&d), [500]);
        assert!(d.scores.iter().all(|s| s.is_finite()));
    }

    #[test]
    fn bad_params() {
        let bad = [
            SeasonalEsdParams::new().period(1),
            SeasonalEsdParams::new().period(24).window(47),
            SeasonalEsdParams::new().window(15),
            SeasonalEsdParams::new().max_anomalies(0.0),
            SeasonalEsdParams::new().max_anomalies(0.5),
            SeasonalEsdParams::new().max_anomalies(f64::NAN),
            SeasonalEsdParams::new().alpha(0.0),
            SeasonalEsdParams::new().alpha(1.0),
            SeasonalEsdParams::new().hop(0),
        ];
        assert_all_refused(bad);
        let p: SeasonalEsdParams =
            serde_json::from_str(r#"{"period": 12, "alpha": 0.01}"#).unwrap();
        assert_eq!(p, SeasonalEsdParams::new().period(12).alpha(0.01));
        assert!(serde_json::from_str::<SeasonalEsdParams>(r#"{"max_anoms": 0.1}"#).is_err());
    }
}
