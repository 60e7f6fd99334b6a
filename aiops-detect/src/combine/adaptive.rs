//! The `adaptive` detector: statistics of different kinds under thresholds learned from the
//! series' own extremes; it needs no tuning per series. A candidate for `default`: better than
//! it on the synthetic family and the NASA telemetry, not yet on NAB (BENCHMARKS.md, issue 14).
//!
//! **Model.** Each point is compared with a baseline `level + season[phase]`: `level` is an
//! exponentially weighted mean (about 20 points), `season` a per-phase offset, used only when
//! a period is found in the first points ([`crate::common::period::detect_period`], tried at
//! 256 points and again at `detect_window` points; a gap advances the phase by its missing
//! steps). The residual `r = x - baseline` is measured in units of its exponentially weighted
//! mean absolute value (about 200 points): `z = r / scale`.
//!
//! **Four statistics of different kinds**, each for a kind of anomaly:
//! 1. `|z|`, the residual: spikes, dips, a seasonal pattern broken;
//! 2. the step `|Δ(x - season)| / step scale`: the onset and the end of level shifts, jumps;
//! 3. `|EWMA(z)|` over about 20 points: sustained shifts and trend changes too small for 1.;
//! 4. `EWMA(z²)` over about 40 points: variance changes.
//!
//! **Adaptive thresholds.** Each statistic has its own peaks-over-threshold tail (in the style
//! of SPOT, Siffer et al., KDD 2017): the rate of excesses over a fixed high level (counts
//! forgotten over about 10,000 points) and an exponential tail (a generalised Pareto
//! distribution of shape 0) scaled by the median of the last 256 excesses give the value
//! exceeded with probability `risk / 4` per point. Only points that raised no alarm are
//! learned. A heavy-tailed series thus gets a high threshold and a quiet series a low one,
//! with no parameter to set. Before a tail has 10 peaks a fixed, conservative threshold
//! stands in. The scales are floored at half the mean size of the non-zero steps, so a
//! quantised series (a few levels, long constant stretches) does not make each of its regular
//! jumps an anomaly. (A fitted shape, by moments or by quantiles, did worse: anomalies that
//! stay below the threshold still reach the tail and inflate it, and a bounded fitted tail
//! locks the threshold at the largest excess learned.)
//! A fifth signal, a value beyond everything seen so far by more than a tenth of the seen
//! range, counts from point 100 on.
//!
//! **Familiar jumps.** The range seen by point 100 is cut into 16 value levels (values
//! outside it get levels further out), and every transition from one point's level to the
//! next is counted. A transition seen `familiar` times before (default 3) is this series'
//! habit, a square wave's edge or a counter's reset, and does not alarm, unless the value
//! leaves the seen range. At most 4,096 counts are kept (all halved when more are needed).
//! With `forget` set, every count is also halved each `forget` points (a half-life), so a
//! jump stays a habit only while the series keeps making it: a square wave's edges recur
//! and stay familiar, whereas a few anomalies long ago, or a burst of them, fade (default
//! 0, never; `default` runs this detector with 500).
//!
//! **Calm after an anomaly** (`calm`, points; default 0, none). With `calm` set, the residual's
//! tail does not learn the `calm` points after a reported alarm (a caller that drops some
//! alarms says which, `AdaptiveKernel::step_reported`): the aftermath of an anomaly (the
//! quieter end of a variance change, the tail of a shift) otherwise reaches the tail as
//! normal excesses and raises the threshold for thousands of points, so later spikes and dips
//! in a series with many anomalies go unseen. `default` leaves it off: with it, the synthetic
//! family gains and the NASA telemetry loses (BENCHMARKS.md, issue 14).
//!
//! **Score.** `ratio = statistic / threshold` for each; an alarm is a ratio of 1 or more. The
//! score ranks alarms across series and within one: the first point of an alarm after 50 quiet
//! points scores in [0.5, 0.75) by its ratio, a new extreme in [0.75, 1), and a point that
//! continues or repeats a recent alarm just above 0.5 (up to 0.55), so one change ranks once
//! while its flags last as long as it does. Points under their thresholds score
//! `ratio / (1 + ratio)`, below 0.5. A point is flagged at `threshold` (default 0.5).
//!
//! **Alarms end.** The baseline learns every point clipped to 4 scales, so a spike barely moves
//! it and an alarm ends when the series is back to normal. A shift that persists (24 points in
//! a row on one side, with the residual alarmed) is accepted as the new level: the alarm ends
//! and the next anomaly is judged against the new normal. No rest period follows an alarm.
//!
//! **Not seen**: a drop in variance, and a value never seen before that lies within the range
//! and near the baseline (a new level between the two levels of a square wave), and an
//! anomaly that repeats a jump the series has made three times before.
//!
//! **Warm-up.** Nothing is scored for the first `warmup` points (default 30), which set the
//! level and scale (running means, robust to a single outlier through the clipping); from
//! then on, points are scored with the fallback thresholds until the learned ones take over;
//! the two smoothed statistics count from point `warmup + 41`, once their memory is filled.
//! Seasonal handling starts once a period is found (at point 256 or `detect_window`).
//! So a spike is caught from point 31 (a 301-point series with a spike at 251 is flagged).
//!
//! **Cost.** O(1) per point (a period search, O(n log n), runs at most twice); memory: at
//! most `detect_window` buffered points until the period search ends, then a period's offsets
//! (at most `detect_window / 3`), 4 × 256 excesses, at most 4,096 transition counts and a
//! few dozen numbers. About 0.5 to 1.2 µs per point in `aiops eval events` on a shared
//! 2-core machine.

use std::collections::HashMap;

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::common::cadence::{Cadence, interpolate};
use crate::common::order_stats::RollingOrderStats;
use crate::common::period::detect_period;
use crate::common::score_severity::tiered;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};

crate::detector::params_newtype!(
    /// Parameters of [`Adaptive`]; every one has a default and none needs setting.
    ///
    /// ```
    /// use aiops_detect::{AdaptiveParams, Detector, ParamGuard};
    /// let det = AdaptiveParams::new().check()?;
    /// // Five hours at one minute with a three-point spike at 251.
    /// let mut values: Vec<f64> = (0..301).map(|i| 10.0 + ((i * 7) % 5) as f64 * 0.1).collect();
    /// for v in &mut values[251..254] {
    ///     *v += 5.0;
    /// }
    /// let ts: Vec<i64> = (0..values.len() as i64).map(|i| i * 60_000).collect();
    /// let d = det.detect(&ts, &values)?;
    /// assert!(d.is_anomaly[251]);
    /// assert!(!d.is_anomaly[..251].iter().any(|&a| a));
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    AdaptiveParams => Adaptive
);

crate::detector::setters!(
    AdaptiveParams:
    risk: f64, threshold: f64, warmup: usize, period: Option<usize>, detect_window: usize,
    familiar: usize, forget: u64, calm: u64);

impl ParamGuard for AdaptiveParams {
    type Checked = Adaptive;

    fn check(&self) -> Result<Adaptive> {
        let p = &self.0;
        if !(p.risk > 0.0 && p.risk < 0.01) {
            return Err(DetectError::InvalidParameter {
                name: "risk",
                reason: format!("must be in (0, 0.01), got {}", p.risk),
            });
        }
        if !(p.threshold > 0.0 && p.threshold < 1.0) {
            return Err(DetectError::InvalidParameter {
                name: "threshold",
                reason: format!("must be in (0, 1), got {}", p.threshold),
            });
        }
        if p.warmup < 2 || p.warmup > 100 {
            return Err(DetectError::InvalidParameter {
                name: "warmup",
                reason: format!("must be 2 to 100 points, got {}", p.warmup),
            });
        }
        if p.period.is_some_and(|q| !(2..=100_000).contains(&q)) {
            return Err(DetectError::InvalidParameter {
                name: "period",
                reason: format!("must be 2 to 100000 points, got {:?}", p.period),
            });
        }
        if !(FIRST_SEARCH..=100_000).contains(&p.detect_window) {
            return Err(DetectError::InvalidParameter {
                name: "detect_window",
                reason: format!(
                    "must be {FIRST_SEARCH} to 100000 points, got {}",
                    p.detect_window
                ),
            });
        }
        if p.forget == 1 || p.forget > 1_000_000 {
            return Err(DetectError::InvalidParameter {
                name: "forget",
                reason: format!("must be 0 (never) or 2 to 1000000 points, got {}", p.forget),
            });
        }
        if p.calm > 100_000 {
            return Err(DetectError::InvalidParameter {
                name: "calm",
                reason: format!("must be 0 to 100000 points, got {}", p.calm),
            });
        }
        if p.familiar > 1_000 {
            return Err(DetectError::InvalidParameter {
                name: "familiar",
                reason: format!("must be 0 to 1000, got {}", p.familiar),
            });
        }
        Ok(*p)
    }
}

/// The `adaptive` detector, validated ([`AdaptiveParams::check`] makes it): a seasonal
/// baseline, four statistics of different kinds and a learned extreme-value threshold for each.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Adaptive {
    risk: f64,
    threshold: f64,
    warmup: usize,
    period: Option<usize>,
    detect_window: usize,
    familiar: usize,
    forget: u64,
    calm: u64,
}

impl Default for Adaptive {
    fn default() -> Self {
        DEFAULTS
    }
}

const DEFAULTS: Adaptive = Adaptive {
    risk: 1e-4,
    threshold: 0.5,
    warmup: 30,
    period: None,
    detect_window: 1024,
    familiar: 3,
    forget: 0,
    calm: 0,
};

crate::detector::describe!(
    Adaptive, AdaptiveParams, AdaptiveKernel.config => AdaptiveOnline, "adaptive",
    "seasonal baseline, residual / step / mean / variance statistics with learned extreme-value thresholds; no tuning needed",
    severity |config, score| tiered(score, config.threshold, 0.6, 0.75), "
    risk: probability per point that a normal value passes a learned threshold (default 0.0001)
    threshold: score at which a point is flagged; 0.5 is at the learned threshold (default 0.5)
    warmup: points learned before scoring starts, 2 to 100 (default 30)
    period: season in points; none = found in the first points (default none)
    detect_window: points searched for a period, the second search (default 1024)
    familiar: times a jump between two value levels is seen before it no longer alarms, 0 = never (default 3)
    forget: points after which the familiarity counts are halved, 0 = never (default 0)
    calm: points after a reported alarm that the residual's tail does not learn, 0 = none (default 0)
"
);

/// Points searched by the first period search.
const FIRST_SEARCH: usize = 256;
/// Smoothing of the level (about 20 points).
const LEVEL_ALPHA: f64 = 2.0 / 21.0;
/// Smoothing of the scales (about 200 points).
const SCALE_ALPHA: f64 = 2.0 / 201.0;
/// Smoothing of the seasonal offsets (per cycle).
const SEASON_ALPHA: f64 = 0.2;
/// Smoothing of the mean of `z` (about 20 points).
const MEAN_ALPHA: f64 = 2.0 / 21.0;
/// Smoothing of the mean of `z²` (about 40 points).
const VAR_ALPHA: f64 = 2.0 / 41.0;
/// What is learned is clipped to this many scales.
const CLIP: f64 = 4.0;
/// Points in a row on one side, alarmed, after which a shift is the new level.
const SETTLE: u32 = 24;
/// Share of the mean non-zero step below which the scales are not taken.
const JUMP_FLOOR: f64 = 0.5;
/// Points after which a new extreme counts.
const EXTREME_FROM: u64 = 100;
/// Excess over the seen range, as a share of it, at which a new extreme is flagged.
const EXTREME_SHARE: f64 = 0.1;
/// Where a familiar transition's ratio is capped: just under its threshold.
const NEAR: f64 = 0.99;
/// Points without an alarm after which an alarm is a new one (scores up to [`BAND`], or
/// above it for a new extreme).
const ONSET_GAP: u64 = 50;
/// Scores of new alarms stay under this; new extremes score from it to 1.
const BAND: f64 = 0.75;
/// Width of the scores, above 0.5, of points that continue or repeat a recent alarm.
const REPEAT_BAND: f64 = 0.05;
/// Levels the range seen by point [`EXTREME_FROM`] is cut into for the familiarity gate.
const LEVELS: f64 = 16.0;
/// Transitions kept; beyond, every count is halved and those at zero are forgotten.
const MAX_TRANSITIONS: usize = 4096;

/// How often the series went from one value level to another: the familiarity gate. The
/// levels are cut once, at point [`EXTREME_FROM`], into [`LEVELS`] over the range seen then
/// (values outside it get levels of their own further out); memory is bounded by
/// [`MAX_TRANSITIONS`] counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "TransitionsData", into = "TransitionsData")]
struct Transitions {
    /// The lowest value at the cut and the width of a level (0: not cut yet).
    origin: f64,
    width: f64,
    /// The previous point's level.
    prev: i64,
    counts: HashMap<(i64, i64), u32>,
}

/// The saved form of [`Transitions`]: JSON keys must be strings, so the counts are a list of
/// `(from, to, count)`, sorted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct TransitionsData {
    origin: f64,
    width: f64,
    prev: i64,
    counts: Vec<(i64, i64, u32)>,
}

impl From<TransitionsData> for Transitions {
    fn from(d: TransitionsData) -> Self {
        Self {
            origin: d.origin,
            width: d.width,
            prev: d.prev,
            counts: d.counts.into_iter().map(|(a, b, n)| ((a, b), n)).collect(),
        }
    }
}

impl From<Transitions> for TransitionsData {
    fn from(t: Transitions) -> Self {
        let mut counts: Vec<_> = t.counts.into_iter().map(|((a, b), n)| (a, b, n)).collect();
        counts.sort_unstable();
        Self {
            origin: t.origin,
            width: t.width,
            prev: t.prev,
            counts,
        }
    }
}

impl Transitions {
    /// Counts the transition from the previous point's level to `x`'s and returns how many
    /// times it was seen before (0 until the levels are cut: at point `seen` =
    /// [`EXTREME_FROM`], over the seen range `[min, max]`, if it is not empty).
    fn seen(&mut self, x: f64, min: f64, max: f64, seen: u64) -> u32 {
        if self.width == 0.0 {
            if seen < EXTREME_FROM || max <= min {
                return 0;
            }
            self.origin = min;
            self.width = (max - min) / LEVELS;
        }
        let level = ((x - self.origin) / self.width).floor().clamp(-1e9, 1e9) as i64;
        let count = self.counts.entry((self.prev, level)).or_insert(0);
        let before = *count;
        *count = count.saturating_add(1);
        self.prev = level;
        if self.counts.len() > MAX_TRANSITIONS {
            self.halve();
        }
        before
    }

    /// Halves every count and forgets those at zero.
    fn halve(&mut self) {
        self.counts.retain(|_, n| {
            *n /= 2;
            *n > 0
        });
    }
}

/// A peaks-over-threshold tail of one statistic: how often it passes a fixed high level `u`
/// (forgotten counts), and the last [`PEAK_WINDOW`] excesses over `u`, whose median gives the
/// scale of an exponential tail (a generalised Pareto distribution of shape 0). The median
/// is robust to the anomalous values that stay below the threshold and still reach the tail;
/// a fitted shape was not (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tail {
    /// Points seen (forgotten over [`TAIL_MEMORY`]).
    n: f64,
    /// Peaks: points above `u`, forgotten alike.
    peaks: f64,
    /// The last excesses.
    excesses: RollingOrderStats,
}

/// Statistics and their tails, in the order of the module docs.
const STATS: usize = 4;
/// The high level of each statistic's tail, in its own units (about its 95th percentile on
/// Gaussian noise).
const TAIL_FROM: [f64; STATS] = [2.5, 2.5, 0.6, 2.4];
/// The threshold of each statistic before its tail has [`MIN_PEAKS`] peaks.
const FALLBACK: [f64; STATS] = [6.0, 6.0, 1.6, 4.5];
/// Peaks before a tail's threshold is used.
const MIN_PEAKS: f64 = 10.0;
/// Memory of the tails' counts, points.
const TAIL_MEMORY: f64 = 10_000.0;
/// Excesses kept per tail.
const PEAK_WINDOW: usize = 256;

impl Tail {
    fn new() -> Self {
        Self {
            n: 0.0,
            peaks: 0.0,
            excesses: RollingOrderStats::new(PEAK_WINDOW),
        }
    }

    /// The value exceeded with probability `risk` per point: `u + σ ln(peaks / (risk n))`,
    /// σ = median excess / ln 2.
    fn threshold(&self, u: f64, fallback: f64, risk: f64) -> f64 {
        if self.peaks < MIN_PEAKS || (self.excesses.len() as f64) < MIN_PEAKS {
            return fallback;
        }
        let sigma = self.excesses.stats().median().unwrap_or(0.0) / std::f64::consts::LN_2;
        let r = risk * self.n / self.peaks;
        if r >= 1.0 || sigma <= 0.0 {
            return u.max(fallback.min(u + sigma));
        }
        u - sigma * r.ln()
    }

    /// Learns `stat` (`None`: a point that counts but whose value is not learned).
    fn learn(&mut self, stat: Option<f64>, u: f64) {
        let keep = 1.0 - 1.0 / TAIL_MEMORY;
        self.n = self.n * keep + 1.0;
        self.peaks *= keep;
        let Some(stat) = stat else { return };
        if stat > u {
            self.peaks += 1.0;
            self.excesses.push(stat - u);
        }
    }
}

/// The per-point state of [`Adaptive`] (serde-able: the snapshot).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveKernel {
    config: Adaptive,
    adaptive: State,
}

/// The state of the current detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    cadence: Cadence,
    /// Slots seen, filled gaps included (the phase clock).
    slots: u64,
    /// Values kept for the period search (emptied once it is over).
    buffer: Vec<f64>,
    /// Whether the period search is over.
    settled_period: bool,
    /// Seasonal offsets per phase (empty: no season).
    season: Vec<f64>,
    level: f64,
    scale: f64,
    /// The previous deseasonalised value and the scale of its steps.
    prev: f64,
    step_scale: f64,
    /// Mean size of the steps that are not zero.
    jump: f64,
    mean_z: f64,
    mean_z2: f64,
    min: f64,
    max: f64,
    /// Points in a row alarmed on one side (sign = side).
    run: i32,
    tails: [Tail; STATS],
    /// Points since the last alarm (`None`: none yet).
    #[serde(default)]
    since_alarm: Option<u64>,
    /// Points since the last reported alarm (`None`: none yet); see [`Adaptive`]'s `calm`.
    #[serde(default)]
    since_report: Option<u64>,
    /// Transitions between value levels seen (the familiarity gate).
    #[serde(default)]
    transitions: Transitions,
    /// The last point's step statistic over its threshold (0 before the warm-up ends); set
    /// at every point before it is read, so it is not part of the snapshot.
    #[serde(skip)]
    step_ratio: f64,
}

impl Kernel for AdaptiveKernel {
    fn new(config: &Adaptive) -> Self {
        let mut st = State {
            cadence: Cadence::default(),
            slots: 0,
            buffer: Vec::new(),
            settled_period: false,
            season: Vec::new(),
            level: 0.0,
            scale: 0.0,
            prev: 0.0,
            step_scale: 0.0,
            jump: 0.0,
            mean_z: 0.0,
            mean_z2: 1.0,
            min: 0.0,
            max: 0.0,
            run: 0,
            tails: std::array::from_fn(|_| Tail::new()),
            since_alarm: None,
            since_report: None,
            transitions: Transitions::default(),
            step_ratio: 0.0,
        };
        if let Some(p) = config.period {
            st.season = vec![0.0; p];
            st.settled_period = true;
        }
        Self {
            config: *config,
            adaptive: st,
        }
    }

    fn step(&mut self, timestamp: TimestampMs, x: f64) -> PointScore {
        let st = &mut self.adaptive;
        let missing = st.cadence.advance(timestamp).saturating_sub(1);
        if missing > 0 {
            st.skip(&self.config, missing, x);
        }
        st.point(&self.config, x, true, false)
    }
}

impl AdaptiveKernel {
    /// [`Kernel::step`] for a caller that drops some of this detector's alarms: `dropped`
    /// says whether an alarm at this point would be dropped (not reported). Only reported
    /// alarms start the `calm` stretch; with `calm` 0 this is [`Kernel::step`].
    pub(crate) fn step_reported(
        &mut self,
        timestamp: TimestampMs,
        x: f64,
        dropped: bool,
    ) -> PointScore {
        let st = &mut self.adaptive;
        let missing = st.cadence.advance(timestamp).saturating_sub(1);
        if missing > 0 {
            st.skip(&self.config, missing, x);
        }
        st.point(&self.config, x, true, dropped)
    }

    /// The last point's step (its change from the point before, deseasonalised) over the
    /// step statistic's threshold: 1 or more is an alarm of that statistic on its own, before
    /// the familiarity gate; 0 before the warm-up ends.
    pub(crate) fn step_ratio(&self) -> f64 {
        self.adaptive.step_ratio
    }
}

impl State {
    /// A gap of `missing` slots before `x`: the slots are filled (learned, never scored)
    /// while they are few, else only the phase advances.
    fn skip(&mut self, c: &Adaptive, missing: u64, x: f64) {
        let limit = if self.settled_period {
            self.season.len().max(1) as u64
        } else {
            c.detect_window as u64
        };
        if missing > limit || self.slots == 0 {
            self.slots += missing;
            // The buffered points are no longer evenly spaced with the rest: search no more.
            if !self.settled_period {
                self.buffer = Vec::new();
                self.settled_period = true;
            }
            return;
        }
        let from = self.prev + self.season_at(self.slots.wrapping_sub(1));
        for v in interpolate(from, x, missing as usize) {
            self.point(c, v, false, false);
        }
    }

    fn season_at(&self, slot: u64) -> f64 {
        if self.season.is_empty() {
            0.0
        } else {
            self.season[(slot % self.season.len() as u64) as usize]
        }
    }

    /// Scores `x` (when `scored`) and learns it; `dropped`: an alarm here is not reported
    /// ([`AdaptiveKernel::step_reported`]).
    fn point(&mut self, c: &Adaptive, x: f64, scored: bool, dropped: bool) -> PointScore {
        let slot = self.slots;
        self.slots += 1;
        let seen = slot + 1;
        let s = self.season_at(slot);
        let deseason = x - s;
        self.step_ratio = 0.0;
        if slot == 0 {
            self.level = deseason;
            self.prev = deseason;
            self.min = x;
            self.max = x;
            self.remember(c, x);
            return PointScore::NEUTRAL;
        }
        let expected = self.level + s;
        let r = x - expected;
        // Half the typical size of the steps that are not zero: on a quantised series (a few
        // levels, long constant stretches) the scales would shrink to nothing between its
        // regular jumps and make every jump an anomaly.
        let floor = (1e-9 * (1.0 + expected.abs()) + 1e-6 * (self.max - self.min))
            .max(JUMP_FLOOR * self.jump);
        let scale = self.scale.max(floor);
        let z = r / scale;
        let step = deseason - self.prev;
        let step_scale = self.step_scale.max(floor);
        let zs = step / step_scale;
        let mean_z =
            (1.0 - MEAN_ALPHA) * self.mean_z + MEAN_ALPHA * z.clamp(-2.0 * CLIP, 2.0 * CLIP);
        let mean_z2 = (1.0 - VAR_ALPHA) * self.mean_z2 + VAR_ALPHA * (z * z).min(4.0 * CLIP * CLIP);
        let stats = [z.abs(), zs.abs(), mean_z.abs(), mean_z2];
        let warm = seen > c.warmup as u64;
        let mut thresholds = [f64::INFINITY; STATS];
        let mut ratio: f64 = 0.0;
        let mut extreme: f64 = 0.0;
        if warm {
            // The smoothed statistics need their memory filled before they mean anything.
            let smoothed_ready = seen > (c.warmup as f64 + 2.0 / VAR_ALPHA) as u64;
            for i in 0..STATS {
                if i >= 2 && !smoothed_ready {
                    continue;
                }
                thresholds[i] =
                    self.tails[i].threshold(TAIL_FROM[i], FALLBACK[i], c.risk / STATS as f64);
                ratio = ratio.max(stats[i] / thresholds[i]);
            }
            self.step_ratio = stats[1] / thresholds[1];
            let range = self.max - self.min;
            if seen > EXTREME_FROM && range > 0.0 {
                let excess = (x - self.max).max(self.min - x) / range;
                extreme = excess / EXTREME_SHARE;
            }
        }
        // A transition between two levels seen `familiar` times before is this series' habit
        // (a square wave's jumps, a counter's resets), not an anomaly, unless it leaves the
        // seen range. Every point is counted, alarmed or not.
        // With the gate off (`familiar` 0), nothing is counted.
        if c.forget > 0 && seen.is_multiple_of(c.forget) {
            self.transitions.halve();
        }
        let familiar = c.familiar > 0
            && self.transitions.seen(x, self.min, self.max, seen) >= c.familiar as u32;
        if familiar {
            ratio = ratio.min(NEAR);
        }
        let ratio = ratio.max(extreme);
        let ratio = if ratio.is_finite() { ratio } else { 1e12 };
        let alarmed = warm && ratio >= 1.0;
        let score = if scored && alarmed {
            // Comparable strengths: a new extreme in [BAND, 1), the first point of an alarm
            // after a quiet stretch in [0.5, BAND) by its ratio, a point that continues or
            // repeats a recent alarm just above 0.5. One change thus ranks once, and the
            // flags still last as long as the anomaly.
            let f = ratio / (1.0 + ratio);
            let onset = self.since_alarm.is_none_or(|q| q >= ONSET_GAP);
            if extreme >= 1.0 && onset {
                let g = extreme / (1.0 + extreme);
                BAND + (1.0 - BAND) * (g - 0.5) / 0.5
            } else if onset {
                0.5 + (BAND - 0.5) * (f - 0.5) / 0.5
            } else {
                0.5 + REPEAT_BAND * (f - 0.5) / 0.5
            }
        } else if scored {
            ratio / (1.0 + ratio)
        } else {
            0.0
        };
        self.since_alarm = if alarmed {
            Some(0)
        } else {
            self.since_alarm.map(|q| q.saturating_add(1))
        };
        // Learn.
        if warm {
            self.since_report = if alarmed && !dropped {
                Some(0)
            } else {
                self.since_report.map(|q| q.saturating_add(1))
            };
            // The aftermath of a reported anomaly (its tail end, a variance change's quieter
            // points) is not learned by the residual's tail for `calm` points.
            let calm = self.since_report.is_none_or(|q| q >= c.calm);
            for i in 0..STATS {
                // An alarmed point counts but is not learned (the tails model normal values).
                let learn = !alarmed && (i != 0 || calm);
                self.tails[i].learn(learn.then_some(stats[i]), TAIL_FROM[i]);
            }
        }
        let early = seen <= c.warmup as u64;
        let a_level = if early {
            1.0 / seen as f64
        } else {
            LEVEL_ALPHA
        }
        .max(LEVEL_ALPHA);
        let a_scale = if early {
            1.0 / seen as f64
        } else {
            SCALE_ALPHA
        }
        .max(SCALE_ALPHA);
        let bound = if self.scale > 0.0 {
            CLIP * scale
        } else {
            f64::INFINITY
        };
        let rc = r.clamp(-bound, bound);
        let side = if alarmed && z.abs() > TAIL_FROM[0] {
            r.signum() as i32
        } else {
            0
        };
        self.run = if side != 0 && self.run.signum() == side {
            self.run + side
        } else {
            side
        };
        self.mean_z2 = mean_z2;
        if self.run.unsigned_abs() >= SETTLE {
            // A sustained shift: the new level.
            self.level = deseason;
            self.run = 0;
            self.mean_z = 0.0;
            self.mean_z2 = 1.0;
        } else {
            self.level += a_level * rc;
            self.mean_z = mean_z;
        }
        self.scale += a_scale * (rc.abs() - self.scale);
        let step_bound = if self.step_scale > 0.0 {
            CLIP * step_scale
        } else {
            f64::INFINITY
        };
        self.step_scale += a_scale * (step.abs().min(step_bound) - self.step_scale);
        if !self.season.is_empty() {
            let phase = (slot % self.season.len() as u64) as usize;
            self.season[phase] += SEASON_ALPHA * (expected + rc - self.level - s);
        }
        if step.abs() > 1e-9 * (1.0 + deseason.abs()) {
            let a = if self.jump == 0.0 { 1.0 } else { a_scale };
            self.jump += a * (step.abs() - self.jump);
        }
        self.prev = deseason;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        self.remember(c, x);
        let half = thresholds[0].min(1e300) * scale;
        if !scored || !warm {
            return PointScore {
                expected: Some(expected),
                ..PointScore::NEUTRAL
            };
        }
        PointScore {
            score,
            is_anomaly: score >= c.threshold,
            expected: Some(expected),
            lower: Some(expected - half),
            upper: Some(expected + half),
        }
    }

    /// Keeps `x` for the period search, and searches at its two sizes.
    fn remember(&mut self, c: &Adaptive, x: f64) {
        if self.settled_period {
            return;
        }
        self.buffer.push(x);
        let n = self.buffer.len();
        if n != FIRST_SEARCH && n != c.detect_window {
            return;
        }
        if let Some(p) = detect_period(&self.buffer, None) {
            self.start_season(p);
        } else if n < c.detect_window {
            return;
        }
        self.settled_period = true;
        self.buffer = Vec::new();
    }

    /// Starts seasonal handling with period `p`, its offsets estimated from the buffered
    /// points (the mean per phase of the last cycles, less their mean).
    fn start_season(&mut self, p: usize) {
        let n = self.buffer.len();
        let cycles = (n / p).min(4);
        let recent = &self.buffer[n - cycles * p..];
        let mean = recent.iter().sum::<f64>() / recent.len() as f64;
        let mut season = vec![0.0; p];
        for (j, v) in recent.iter().enumerate() {
            // `recent` starts at slot n - cycles * p, a multiple of p away from slot n.
            let phase = (self.slots as usize - recent.len() + j) % p;
            season[phase] += (v - mean) / cycles as f64;
        }
        self.season = season;
        // The level and steps continue deseasonalised.
        let last = self.buffer[n - 1];
        let last_phase = ((self.slots - 1) % p as u64) as usize;
        self.level = mean;
        self.prev = last - self.season[last_phase];
        self.scale = 0.0;
        self.step_scale = 0.0;
        self.rescale(p);
    }

    /// Rebuilds the scales from the buffered points against the new seasonal baseline.
    fn rescale(&mut self, p: usize) {
        let n = self.buffer.len();
        let first = n.saturating_sub(4 * p).max(1);
        let mut sum = 0.0;
        let mut steps = 0.0;
        for j in first..n {
            let slot = self.slots as usize - n + j;
            let prev_slot = slot - 1;
            let a = self.buffer[j] - self.season[slot % p];
            let b = self.buffer[j - 1] - self.season[prev_slot % p];
            sum += (a - self.level).abs();
            steps += (a - b).abs();
        }
        let k = (n - first).max(1) as f64;
        self.scale = sum / k;
        self.step_scale = steps / k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::prelude::*;
    use crate::common::testing::{flagged, noisy_daily};

    fn ts(n: usize) -> Vec<i64> {
        (0..n as i64).map(|i| i * 300_000).collect()
    }

    #[test]
    fn flags_a_spike_a_level_shift_and_its_end() {
        let mut v = noisy_daily(3000);
        v[1500] += 8.0;
        for x in &mut v[2000..2100] {
            *x -= 5.0;
        }
        let det = AdaptiveParams::new().check().unwrap();
        let d = det.detect(&ts(v.len()), &v).unwrap();
        let f = flagged(&d);
        assert!(f.contains(&1500), "{f:?}");
        assert!(f.iter().any(|&i| (2000..2005).contains(&i)), "{f:?}");
        assert!(f.iter().any(|&i| (2100..2110).contains(&i)), "{f:?}");
        assert!(
            f.iter()
                .all(|&i| i == 1500 || i == 1501 || (2000..2160).contains(&i)),
            "{f:?}"
        );
        assert!(d.expected[1000].is_finite());
    }

    #[test]
    fn a_clean_daily_cycle_raises_no_alarm() {
        let v = noisy_daily(20_000);
        let det = AdaptiveParams::new().check().unwrap();
        let d = det.detect(&ts(v.len()), &v).unwrap();
        assert_eq!(flagged(&d), Vec::<usize>::new());
    }

    #[test]
    fn scores_after_a_short_warm_up() {
        // The issue's case: 301 points, a three-point spike at 251.
        let n = crate::common::testing::noise(301, 3);
        let mut v: Vec<f64> = n.iter().map(|e| 20.0 + e).collect();
        for x in &mut v[251..254] {
            *x += 10.0;
        }
        let det = AdaptiveParams::new().check().unwrap();
        let d = det.detect(&ts(v.len()), &v).unwrap();
        assert_eq!(flagged(&d)[..1], [251]);
        assert!(d.scores[..30].iter().all(|&s| s == 0.0), "warm-up");
        assert!(d.scores[31..250].iter().any(|&s| s > 0.0));
    }

    #[test]
    fn distinct_anomalies_close_together_are_each_caught() {
        let n = crate::common::testing::noise(2000, 5);
        let mut v: Vec<f64> = n.iter().map(|e| 5.0 + e).collect();
        for at in [500, 560, 620, 680] {
            v[at] += 8.0;
        }
        let det = AdaptiveParams::new().check().unwrap();
        let d = det.detect(&ts(v.len()), &v).unwrap();
        let f = flagged(&d);
        for at in [500, 560, 620, 680] {
            assert!(f.contains(&at), "{at}: {f:?}");
        }
    }

    #[test]
    fn regular_jumps_of_a_quantised_series_are_normal() {
        // A square wave between -1 and 1 (15 points each), then a level beyond both. (A level
        // between them, 0.33, is close to the baseline and goes unseen: no statistic sees a
        // value that is new but within the range, nor a drop in variance.)
        let mut v: Vec<f64> = (0..4000)
            .map(|i| if (i / 15) % 2 == 0 { -1.0 } else { 1.0 })
            .collect();
        for x in &mut v[3000..3050] {
            *x = 3.0;
        }
        let det = AdaptiveParams::new().check().unwrap();
        let d = det.detect(&ts(v.len()), &v).unwrap();
        let f = flagged(&d);
        assert!(f.iter().all(|&i| i >= 3000), "{f:?}");
        assert!(f.contains(&3000), "{f:?}");
    }

    #[test]
    fn online_equals_batch_across_a_snapshot() {
        let mut v = noisy_daily(2500);
        v[1800] += 9.0;
        let t = ts(v.len());
        let det = AdaptiveParams::new().check().unwrap();
        let batch = det.detect(&t, &v).unwrap();
        let mut online = det.online();
        let mut scores = Vec::new();
        for i in 0..v.len() {
            if i == 700 {
                let snap = online.snapshot().unwrap();
                online = det.online();
                online.restore(&snap).unwrap();
            }
            scores.push(online.update(t[i], v[i]).unwrap());
        }
        for (i, p) in scores.iter().enumerate() {
            assert_eq!(p.score, batch.scores[i], "point {i}");
            assert_eq!(p.is_anomaly, batch.is_anomaly[i], "point {i}");
        }
    }

    /// A square wave whose jumps are irregular in size (-1 to 1, or to 0.98), so that the
    /// statistics alone alarm on some of them, with small noise.
    fn irregular_square(n: usize) -> Vec<f64> {
        let e = crate::common::testing::noise(n, 11);
        (0..n)
            .map(|i| {
                let high = (i / 13) % 2 == 1;
                let top = if (i / 26) % 3 == 0 { 0.98 } else { 1.0 };
                (if high { top } else { -1.0 }) + 0.002 * e[i]
            })
            .collect()
    }

    #[test]
    fn a_familiar_jump_stops_alarming_and_a_new_one_still_does() {
        let mut v = irregular_square(4000);
        // A jump to a level the wave never visits, inside the seen range.
        for x in &mut v[3000..3030] {
            *x = -0.2;
        }
        let t = ts(v.len());
        let gated = AdaptiveParams::new()
            .check()
            .unwrap()
            .detect(&t, &v)
            .unwrap();
        let open = AdaptiveParams::new()
            .familiar(0)
            .check()
            .unwrap()
            .detect(&t, &v)
            .unwrap();
        let late = |d: &Detections| {
            flagged(d)
                .into_iter()
                .filter(|&i| (500..3000).contains(&i))
                .count()
        };
        assert!(
            late(&open) >= 3,
            "the statistics alone alarm on the jumps: {}",
            late(&open)
        );
        assert_eq!(late(&gated), 0, "{:?}", flagged(&gated));
        assert!(
            flagged(&gated).iter().any(|&i| (3000..3005).contains(&i)),
            "{:?}",
            flagged(&gated)
        );
    }

    #[test]
    fn a_forgotten_jump_alarms_again() {
        // A square wave whose jumps become a habit, then a long quiet stretch, then one more
        // jump: remembered for ever it is still familiar; with `forget` it has faded.
        let mut v = irregular_square(2000);
        let quiet = crate::common::testing::noise(3000, 4);
        v.extend(quiet.iter().map(|e| -1.0 + 0.002 * e));
        let at = v.len();
        v.extend(std::iter::repeat_n(1.0, 30));
        v.extend(std::iter::repeat_n(-1.0, 30));
        let t = ts(v.len());
        let jump = |forget: u64| {
            let d = AdaptiveParams::new()
                .forget(forget)
                .check()
                .unwrap()
                .detect(&t, &v)
                .unwrap();
            flagged(&d).into_iter().any(|i| (at..at + 5).contains(&i))
        };
        assert!(!jump(0), "a habit stays familiar without forgetting");
        assert!(jump(500), "a jump not made for 3,000 points is news again");
    }

    #[test]
    fn a_change_ranks_once_and_a_new_extreme_ranks_highest() {
        let n = crate::common::testing::noise(3000, 7);
        let mut v: Vec<f64> = n.iter().map(|e| 10.0 + e).collect();
        // A shift inside the range seen (after a wide excursion early on), then a new extreme.
        for x in &mut v[150..155] {
            *x += 30.0;
        }
        for x in &mut v[1000..1040] {
            *x += 6.0;
        }
        v[2000] += 80.0;
        let d = AdaptiveParams::new()
            .check()
            .unwrap()
            .detect(&ts(v.len()), &v)
            .unwrap();
        let onset = d.scores[1000];
        assert!(
            d.is_anomaly[1000] && (0.5..BAND).contains(&onset),
            "{onset}"
        );
        // The points continuing the alarm are flagged but rank just above 0.5.
        let next: Vec<f64> = (1001..1010)
            .filter(|&i| d.is_anomaly[i])
            .map(|i| d.scores[i])
            .collect();
        assert!(
            !next.is_empty() && next.iter().all(|&s| s < 0.5 + REPEAT_BAND + 1e-12),
            "{next:?}"
        );
        assert!(d.scores[2000] >= BAND, "{}", d.scores[2000]);
    }

    #[test]
    fn transitions_are_bounded_and_saved_as_a_list() {
        let mut t = Transitions::default();
        let mut state: u64 = 1;
        for i in 0..50_000u64 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            t.seen(
                (state >> 11) as f64 / (1u64 << 53) as f64 * 1e4,
                0.0,
                1.0,
                i + 100,
            );
        }
        assert!(t.counts.len() <= MAX_TRANSITIONS);
        let json = serde_json::to_string(&t).unwrap();
        let back: Transitions = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn calm_keeps_an_anomalys_aftermath_out_of_the_residual_tail() {
        // Plain noise, a spike, then twenty points a little high (excesses of the residual
        // that do not alarm): with `calm` they are not learned by the residual's tail.
        let n = crate::common::testing::noise(1100, 9);
        let mut v: Vec<f64> = n.iter().map(|e| 10.0 + 0.3 * e).collect();
        v[1000] += 20.0;
        for x in &mut v[1001..1021] {
            *x += 1.0;
        }
        let t = ts(v.len());
        let excesses = |calm: u64| {
            let det = AdaptiveParams::new().calm(calm).check().unwrap();
            let mut k = AdaptiveKernel::new(&det);
            let mut flags = Vec::new();
            for i in 0..v.len() {
                flags.push(k.step(t[i], v[i]).is_anomaly);
            }
            assert!(flags[1000], "the spike alarms");
            k.adaptive.tails[0].excesses.len()
        };
        let (plain, calm) = (excesses(0), excesses(100));
        assert!(calm < plain, "{calm} vs {plain}");
    }

    #[test]
    fn bad_params() {
        assert!(AdaptiveParams::new().familiar(5000).check().is_err());
        assert!(AdaptiveParams::new().forget(1).check().is_err());
        assert!(AdaptiveParams::new().calm(200_000).check().is_err());
        assert!(AdaptiveParams::new().threshold(1.5).check().is_err());
        assert!(AdaptiveParams::new().risk(0.5).check().is_err());
        assert!(AdaptiveParams::new().warmup(500).check().is_err());
        assert!(AdaptiveParams::new().period(1).check().is_err());
    }
}
