//! Subsequence discords: how far the shape of the last `w` points lies from every earlier
//! window of the series (matrix-profile style, online and bounded).
//!
//! Each point closes a window of the last `w` points. The window is summarised by its
//! piecewise aggregate (PAA: the means of `segments` equal pieces), normalised as `norm`
//! says, and compared with the summaries of earlier windows kept in a bounded history; the
//! score is the distance to the nearest one (root mean square over the segments, in value
//! units; with `norm = z` in standard deviations). Windows that overlap the current one are
//! not candidates (a window is always close to itself shifted by a point), so a window joins
//! the history `w` points after it closed, one in `stride`.
//!
//! A repeated shape, however irregular, finds a close neighbour and scores low; a shape the
//! series has not made before scores high even when every value stays in the usual range (a
//! changed rhythm of the same values, a long stay at one usual level). This is evidence of a
//! different kind from the value-based detectors.
//!
//! **Normalisation** (`norm`): `none` compares the segment means as they are (the level
//! matters: a shape at a new level is new); `mean` subtracts the window's mean (the shape
//! only, whatever the level); `z` also divides by the window's standard deviation, floored
//! at a twentieth of the range seen so far, so a flat window's noise is not blown up into a
//! shape.
//!
//! **Threshold.** The nearest-neighbour distances of the points that raised no alarm are
//! kept (the last 2,048); their tail above the 95th percentile is taken as exponential, with
//! its scale from the distance between the 95th and 97.5th percentiles (a median excess),
//! floored at `floor` times the range of values seen, or with `norm = z` at `floor` window
//! standard deviations (a series whose windows all repeat exactly has a tail of zeros). The threshold is the distance exceeded with probability
//! `risk` per point; the score is the distance over it, flagged from 1.
//!
//! **Window length.** `window` points when given; otherwise the period detected over the
//! first 256 points, clamped to 16..=256, or 64 points without a period.
//!
//! **Warm-up.** Nothing is scored before the window is known (256 points when it is
//! searched for), before `warmup` points, and before the history holds 64 windows and the
//! threshold 256 distances.
//!
//! **Cost and memory.** Per point: the window's PAA (O(w)) and a nearest-neighbour search
//! over at most `history` summaries of `segments` numbers, with early abandoning (the scan
//! stops on a summary once its partial distance passes the best so far); O(log 2,048) for
//! the threshold. Memory: `history × segments` numbers for the summaries, `w` values and `w`
//! pending summaries, 2,048 distances: about 200 kB at the defaults (192 kB measured after
//! 100,000 points), whatever the length of the series. Measured: about 7-8 µs a point past
//! the warm-up, nearly all of it the scan (BENCHMARKS.md, 2026-12-07, a subsequence-discord
//! detector, where it is also judged on the labelled families: quiet on the NASA telemetry,
//! blind to spikes and dips).
//!
//! Points are counted, not timed: a gap in the data is simply not seen.

use std::collections::VecDeque;
use std::str::FromStr;

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::common::order_stats::RollingOrderStats;
use crate::common::period::detect_period;
use crate::common::score_severity::ratio_severity;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};

/// Points searched for a period when `window` is not given.
const SEARCH: usize = 256;
/// Window length without a period.
const DEFAULT_WINDOW: usize = 64;
/// Shortest window taken from a period.
const MIN_AUTO_WINDOW: usize = 16;
/// Most segments a window is cut into.
const MAX_SEGMENTS: usize = 64;
/// Longest window accepted.
const MAX_WINDOW: usize = 4096;
/// Longest window taken from a period.
const MAX_AUTO_WINDOW: usize = 256;
/// Nearest-neighbour distances kept for the threshold.
const CALIBRATION: usize = 2048;
/// Distances needed before scoring.
const MIN_DISTANCES: usize = 256;
/// Windows in the history needed before scoring.
const MIN_HISTORY: usize = 64;
/// Where the distances' tail starts (a quantile) and the quantile whose distance to it gives
/// the tail's median excess.
const TAIL_FROM: f64 = 0.95;
const TAIL_MID: f64 = 0.975;
/// The `z` normalisation's floor on the window's standard deviation, as a share of the range
/// seen.
const Z_FLOOR: f64 = 0.05;

/// How a window's summary is normalised before comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscordNorm {
    /// The segment means as they are: level and shape.
    None,
    /// The window's mean subtracted: the shape at any level.
    #[default]
    Mean,
    /// Mean subtracted and divided by the window's standard deviation (floored).
    Z,
}

impl FromStr for DiscordNorm {
    type Err = DetectError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(DiscordNorm::None),
            "mean" => Ok(DiscordNorm::Mean),
            "z" => Ok(DiscordNorm::Z),
            _ => Err(DetectError::InvalidParameter {
                name: "norm",
                reason: format!("{s:?} is not one of none, mean, z"),
            }),
        }
    }
}

crate::detector::plain_set_arg!(DiscordNorm);

crate::detector::params_newtype!(
    /// Unchecked parameters of [`Discord`].
    ///
    /// ```
    /// use aiops_detect::{Detector, DiscordParams, ParamGuard};
    /// let det = DiscordParams::new().window(16).warmup(400).check()?;
    /// // A square wave of period 16, whose rhythm doubles for 32 points at 1,200.
    /// let values: Vec<f64> = (0..1600)
    ///     .map(|i| if (1200..1232).contains(&i) { ((i / 4) % 2) as f64 } else { ((i / 8) % 2) as f64 })
    ///     .collect();
    /// let ts: Vec<i64> = (0..1600).map(|i| i * 60_000).collect();
    /// let d = det.detect(&ts, &values)?;
    /// assert!(d.is_anomaly[1200..1250].iter().any(|&a| a));
    /// assert!(!d.is_anomaly[..1200].iter().any(|&a| a));
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    DiscordParams => Discord
);

/// The `discord` detector, validated ([`DiscordParams::check`] makes it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Discord {
    window: Option<usize>,
    segments: usize,
    norm: DiscordNorm,
    history: usize,
    stride: usize,
    risk: f64,
    floor: f64,
    warmup: usize,
}

impl Default for Discord {
    fn default() -> Self {
        Self {
            window: None,
            segments: 8,
            norm: DiscordNorm::Mean,
            history: 2048,
            stride: 2,
            risk: 1e-4,
            floor: 0.01,
            warmup: 500,
        }
    }
}

crate::detector::setters!(
    DiscordParams:
    window: Option<usize>, segments: usize, norm: DiscordNorm, history: usize, stride: usize,
    risk: f64, floor: f64, warmup: usize);

impl ParamGuard for DiscordParams {
    type Checked = Discord;

    fn check(&self) -> Result<Discord> {
        let bad = |name, reason: String| Err(DetectError::InvalidParameter { name, reason });
        let p = &self.0;
        if !(2..=MAX_SEGMENTS).contains(&p.segments) {
            return bad(
                "segments",
                format!("must be in 2..={MAX_SEGMENTS}, got {}", p.segments),
            );
        }
        if let Some(w) = p.window
            && !(p.segments..=MAX_WINDOW).contains(&w)
        {
            return bad(
                "window",
                format!(
                    "must be in {}..={MAX_WINDOW} (at least one point a segment), got {w}",
                    p.segments
                ),
            );
        }
        if p.window.is_none() && p.segments > MIN_AUTO_WINDOW {
            return bad(
                "segments",
                format!(
                    "must be at most {MIN_AUTO_WINDOW} when the window is found from the period, got {}",
                    p.segments
                ),
            );
        }
        if !(MIN_HISTORY..=1 << 20).contains(&p.history) {
            return bad(
                "history",
                format!("must be in {MIN_HISTORY}..=1048576, got {}", p.history),
            );
        }
        if p.stride == 0 {
            return bad("stride", "must be at least 1".to_string());
        }
        if !(p.risk > 0.0 && p.risk < 1.0 - TAIL_MID) {
            return bad("risk", format!("must be in (0, 0.025), got {}", p.risk));
        }
        if !(p.floor.is_finite() && p.floor >= 0.0) {
            return bad("floor", format!("must be finite and >= 0, got {}", p.floor));
        }
        Ok(p.clone())
    }
}

crate::detector::describe!(
    Discord, DiscordParams, DiscordKernel.params => DiscordOnline, "discord",
    "subsequence discord: distance of the last window's shape to its nearest earlier window",
    severity |_config, score| ratio_severity(score, 1.0), "
    window: points in a window (default: the period found in the first 256 points, clamped to 16..=256, else 64)
    segments: piecewise means a window is summarised by, 2..=64 (default 8)
    norm: none, mean (shape at any level) or z (shape and scale) (default mean)
    history: earlier windows kept for the nearest-neighbour search (default 2048)
    stride: one window in this many joins the history (default 2)
    risk: probability per point of the distance a normal window exceeds (default 0.0001)
    floor: least scale of the distances' tail: a share of the range seen, with z of a window's standard deviation (default 0.01)
    warmup: points learned before scoring (default 500)
"
);

/// The per-point state of [`Discord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscordKernel {
    params: Discord,
    /// Points seen.
    seen: usize,
    /// The window length, once known.
    w: Option<usize>,
    /// Values buffered while the window length is searched for.
    early: Vec<f64>,
    /// The last `w` values.
    recent: VecDeque<f64>,
    /// Summaries of the last `w` windows, not yet candidates (they overlap the next ones),
    /// `segments` numbers each, oldest first.
    pending: VecDeque<f64>,
    /// Candidate summaries: a ring of `history` slots of `segments` numbers.
    store: Vec<f64>,
    /// Slots filled.
    filled: usize,
    /// The next slot written.
    head: usize,
    /// Windows closed (the stride counts them).
    closed: usize,
    /// Smallest and largest value seen.
    lo: f64,
    hi: f64,
    /// Nearest-neighbour distances of points that raised no alarm.
    distances: RollingOrderStats,
}

impl Kernel for DiscordKernel {
    fn new(p: &Discord) -> Self {
        Self {
            params: p.clone(),
            seen: 0,
            w: p.window,
            early: Vec::new(),
            recent: VecDeque::new(),
            pending: VecDeque::new(),
            store: Vec::new(),
            filled: 0,
            head: 0,
            closed: 0,
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
            distances: RollingOrderStats::new(CALIBRATION),
        }
    }

    fn step(&mut self, _: TimestampMs, x: f64) -> PointScore {
        self.seen += 1;
        self.lo = self.lo.min(x);
        self.hi = self.hi.max(x);
        if self.w.is_none() {
            self.early.push(x);
            if self.early.len() == SEARCH {
                let w = detect_period(&self.early, Some(MAX_AUTO_WINDOW))
                    .map_or(DEFAULT_WINDOW, |p| {
                        p.clamp(MIN_AUTO_WINDOW, MAX_AUTO_WINDOW)
                    });
                self.w = Some(w);
                for v in std::mem::take(&mut self.early) {
                    if let Some(d) = self.close(v) {
                        self.distances.push(d);
                    }
                }
            }
            return PointScore::NEUTRAL;
        }
        let Some(d) = self.close(x) else {
            return PointScore::NEUTRAL;
        };
        match self.threshold() {
            Some(t) if self.seen > self.params.warmup => {
                let score = d / t;
                if score < 1.0 {
                    self.distances.push(d);
                }
                PointScore::at_least(score, 1.0)
            }
            _ => {
                self.distances.push(d);
                PointScore::NEUTRAL
            }
        }
    }
}

impl DiscordKernel {
    /// The window length, once known.
    pub fn window(&self) -> Option<usize> {
        self.w
    }

    /// Appends `x`, closes the window ending at it, and returns its distance to the nearest
    /// candidate (`None` while the window or the history is not full enough).
    fn close(&mut self, x: f64) -> Option<f64> {
        let w = self.w?;
        let s = self.params.segments;
        if self.recent.len() == w {
            self.recent.pop_front();
        }
        self.recent.push_back(x);
        if self.recent.len() < w {
            return None;
        }
        let summary = self.summary(w);
        let summary = &summary[..s];
        // The window that closed `w` points ago no longer overlaps: it becomes a candidate.
        if self.pending.len() == w * s {
            let mut old = [0.0; MAX_SEGMENTS];
            for (slot, v) in old.iter_mut().zip(self.pending.drain(..s)) {
                *slot = v;
            }
            if self.closed.is_multiple_of(self.params.stride) {
                self.keep(&old[..s]);
            }
            self.closed += 1;
        }
        self.pending.extend(summary.iter().copied());
        if self.filled < MIN_HISTORY {
            return None;
        }
        Some(self.nearest(summary))
    }

    /// The normalised PAA of the last `w` values.
    fn summary(&self, w: usize) -> [f64; MAX_SEGMENTS] {
        let s = self.params.segments;
        let mut out = [0.0; MAX_SEGMENTS];
        let (mut sum, mut sq) = (0.0, 0.0);
        for (j, slot) in out[..s].iter_mut().enumerate() {
            let (a, b) = (j * w / s, (j + 1) * w / s);
            let mut seg = 0.0;
            for &v in self.recent.range(a..b) {
                seg += v;
                sq += v * v;
            }
            sum += seg;
            *slot = seg / (b - a) as f64;
        }
        let mean = sum / w as f64;
        let (shift, scale) = match self.params.norm {
            DiscordNorm::None => (0.0, 1.0),
            DiscordNorm::Mean => (mean, 1.0),
            DiscordNorm::Z => {
                let sd = (sq / w as f64 - mean * mean).max(0.0).sqrt();
                let floor = Z_FLOOR * (self.hi - self.lo);
                let sd = sd.max(floor);
                (mean, if sd > 0.0 { 1.0 / sd } else { 0.0 })
            }
        };
        for v in &mut out[..s] {
            *v = (*v - shift) * scale;
        }
        out
    }

    /// Writes a summary into the ring.
    fn keep(&mut self, summary: &[f64]) {
        let s = self.params.segments;
        if self.store.len() < self.params.history * s {
            self.store.extend_from_slice(summary);
        } else {
            self.store[self.head * s..(self.head + 1) * s].copy_from_slice(summary);
        }
        self.head = (self.head + 1) % self.params.history;
        self.filled = (self.filled + 1).min(self.params.history);
    }

    /// The distance (root mean square over the segments) to the nearest candidate, newest
    /// first while the ring is filling, abandoning a candidate once it is farther than the best
    /// (checked every four segments: the sums between checks run without branches).
    fn nearest(&self, summary: &[f64]) -> f64 {
        let s = summary.len();
        let mut best = f64::INFINITY;
        for cand in self.store.chunks_exact(s).rev() {
            let mut acc = 0.0;
            for (a, b) in summary.chunks(4).zip(cand.chunks(4)) {
                acc += a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>();
                if acc >= best {
                    break;
                }
            }
            if acc < best {
                best = acc;
                if best == 0.0 {
                    break;
                }
            }
        }
        (best / s as f64).sqrt()
    }

    /// The distance exceeded with probability `risk` per point, once there are enough
    /// distances.
    fn threshold(&self) -> Option<f64> {
        if self.distances.len() < MIN_DISTANCES {
            return None;
        }
        let stats = self.distances.stats();
        let u = stats.quantile(TAIL_FROM)?;
        let mid = stats.quantile(TAIL_MID)?;
        // The floor's unit: the range seen, or with `z` a window's standard deviation (the
        // unit of those distances).
        let unit = match self.params.norm {
            DiscordNorm::Z => 1.0,
            _ => self.hi - self.lo,
        };
        let sigma = ((mid - u) / std::f64::consts::LN_2).max(self.params.floor * unit);
        let t = u + sigma * ((1.0 - TAIL_FROM) / self.params.risk).ln();
        (t > 0.0).then_some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::prelude::*;
    use crate::common::testing::{assert_online_equals_batch, assert_rejected, flagged, noise, ts};

    /// A square wave of period 20 (ten points at 1, ten at 0) with noise, whose rhythm
    /// changes to five and five for 40 points at 2,000: the same two values, a new shape.
    fn rhythm(n: usize) -> Vec<f64> {
        let e = noise(n, 3);
        (0..n)
            .map(|i| {
                let half = if (2000..2040).contains(&i) { 5 } else { 10 };
                ((i / half) % 2) as f64 + 0.05 * e[i]
            })
            .collect()
    }

    #[test]
    fn flags_a_new_shape_at_usual_values() {
        let v = rhythm(3000);
        let det = DiscordParams::new().check().unwrap();
        let d = det.detect(&ts(v.len()), &v).unwrap();
        let f = flagged(&d);
        assert!(f.iter().any(|&i| (2000..2060).contains(&i)), "{f:?}");
        assert!(
            f.iter().all(|&i| (2000..2080).contains(&i)),
            "only the changed rhythm: {f:?}"
        );
        let k = det.online_state();
        assert!(k.kernel().window().is_none());
    }

    #[test]
    fn a_repeated_shape_is_not_flagged() {
        // An irregular shape of 37 points repeated with noise: every window has a neighbour.
        let shape = noise(37, 9);
        let e = noise(4000, 4);
        let v: Vec<f64> = (0..4000).map(|i| shape[i % 37] + 0.05 * e[i]).collect();
        for norm in [DiscordNorm::None, DiscordNorm::Mean, DiscordNorm::Z] {
            let d = DiscordParams::new()
                .norm(norm)
                .check()
                .unwrap()
                .detect(&ts(v.len()), &v)
                .unwrap();
            assert!(flagged(&d).is_empty(), "{norm:?}: {:?}", flagged(&d));
        }
    }

    #[test]
    fn a_long_stay_at_a_usual_level_is_flagged() {
        // Noise that steps between levels 0 and 1 every 30 points, then stays at 0 for 300.
        let e = noise(3000, 5);
        let v: Vec<f64> = (0..3000)
            .map(|i| {
                let level = if (2000..2300).contains(&i) {
                    0.0
                } else {
                    ((i / 30) % 2) as f64
                };
                level + 0.05 * e[i]
            })
            .collect();
        let d = DiscordParams::new()
            .window(64)
            .check()
            .unwrap()
            .detect(&ts(v.len()), &v)
            .unwrap();
        let f = flagged(&d);
        assert!(f.iter().any(|&i| (2000..2300).contains(&i)), "{f:?}");
        assert!(f.iter().all(|&i| i >= 2000), "{f:?}");
    }

    #[test]
    fn streams_as_it_batches() {
        let v = rhythm(2600);
        for norm in [DiscordNorm::None, DiscordNorm::Mean, DiscordNorm::Z] {
            let det = DiscordParams::new().norm(norm).history(64).check().unwrap();
            assert_online_equals_batch(&det, &ts(v.len()), &v, &[100, 256, 900, 2010]);
            let fixed = DiscordParams::new().window(24).norm(norm).check().unwrap();
            assert_online_equals_batch(&fixed, &ts(v.len()), &v, &[10, 700, 2020]);
        }
    }

    #[test]
    fn the_history_is_bounded() {
        let v = rhythm(3000);
        let det = DiscordParams::new()
            .window(20)
            .history(100)
            .check()
            .unwrap();
        let mut s = det.online_state();
        for (t, x) in ts(v.len()).into_iter().zip(v) {
            s.update(t, x).unwrap();
        }
        let k = s.kernel();
        assert_eq!(k.store.len(), 100 * 8);
        assert_eq!(k.pending.len(), 20 * 8);
        assert_eq!(k.recent.len(), 20);
        assert!(k.distances.len() <= CALIBRATION);
    }

    #[test]
    fn bad_params() {
        assert_rejected([
            (DiscordParams::new().segments(1), "segments"),
            (DiscordParams::new().segments(32), "segments"),
            (DiscordParams::new().window(4), "window"),
            (DiscordParams::new().window(5000), "window"),
            (DiscordParams::new().history(10), "history"),
            (DiscordParams::new().stride(0), "stride"),
            (DiscordParams::new().risk(0.0), "risk"),
            (DiscordParams::new().risk(0.5), "risk"),
            (DiscordParams::new().floor(-1.0), "floor"),
            (DiscordParams::new().floor(f64::NAN), "floor"),
        ]);
        assert!(matches!(
            "zz".parse::<DiscordNorm>(),
            Err(DetectError::InvalidParameter { name: "norm", .. })
        ));
        assert!(DiscordParams::new().window(16).segments(16).check().is_ok());
    }
}
