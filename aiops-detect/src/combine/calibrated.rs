//! The `default` detector (what `aiops detect`, the service and the Python `Detector()` run
//! when no detector is named): `adaptive`'s alarms and the contextual memory's ranking in one
//! detector whose score and flag agree.
//!
//! Two kinds of evidence, each good at one thing (BENCHMARKS.md, issue 14):
//! - **`adaptive`** ([`crate::combine::adaptive`]): a seasonal baseline, four statistics under
//!   learned extreme-value thresholds, familiar jumps; here at a risk of 0.001 per point
//!   rather than its own 0.0001, since the checks below drop most of the weak alarms, and
//!   with its familiarity counts halved every 500 points (`forget`), so a jump is a habit
//!   only while the series keeps making it. Its alarms last as long as the anomaly
//!   and end when the series is back to normal, so many distinct anomalies in one series are
//!   each caught (event scores).
//! - **New extremes and the contextual memory** ([`crate::learned::contextual`]), as in
//!   `default`: after `warmup` points, a value beyond everything seen scores 0.5 and up with
//!   its excess, and the memory scores the share of its predictions that failed, silenced for
//!   a rest period after a high score. Its scores rank one change once, across series (one
//!   threshold over a fleet, NAB's scoring).
//!
//! **Flags.** A point is flagged when `adaptive` alarms (its score reaches its threshold,
//! 0.5), or when the memory's score or a new extreme's reaches `cut` (default 0.9) on its own,
//! or when a return confirms a spike or dip the gate dropped. Two checks on `adaptive`'s
//! alarms, and the confirmation:
//! - past the memory's warm-up, an `adaptive` alarm is dropped when the memory predicted the
//!   point well (raw surprise under `gate`, 0.4): the series has done exactly this before,
//!   in this context, however far it lies from `adaptive`'s baseline. (Setting `strong` under
//!   1 lets `adaptive`'s alarms from that score on pass anyway; 0.6 passed onsets at 2.3
//!   times their threshold and new extremes, which on the NASA telemetry were mostly false
//!   alarms the memory had predicted, BENCHMARKS.md.) A value far beyond the seen range still
//!   flags through the new-extreme score below;
//! - **a confirmed spike or dip** (`confirm`, default 3 points): when the gate dropped every
//!   alarm of a short excursion (at most `confirm` points) and the value then comes back — a
//!   step against the excursion's (from the value before it to its last), at least half as
//!   large, ending inside `adaptive`'s band, and itself beyond `adaptive`'s step threshold —
//!   the return point is flagged, ranked as the dropped alarms were (one point late; event
//!   scores accept it). A lone step to a new level (the NASA telemetry's usual false alarm, a
//!   reset or a swing between levels) stays dropped, and so does a noise exceedance the next
//!   ordinary value undoes, since its way back is no larger than a usual step. Without the
//!   last condition the return confirmed too many of those (false alarms doubled on the
//!   synthetic family, BENCHMARKS.md, issue 14);
//! - while the memory still learns (the first `warmup` points) there is no such check, so
//!   only `adaptive`'s strongest alarms flag (score `early` = 0.625 or more: an onset at three
//!   times its threshold, or a new extreme), as `default` does in its warm-up; and a new
//!   extreme flags only when it also lies beyond `adaptive`'s residual band. A young series is
//!   still showing its range (a trend, a cycle longer than the points seen), so leaving that
//!   range while staying near the baseline is weak evidence.
//!
//! **Score.** Flagged points score in `[threshold, 1]` by their rank, the larger of the
//! memory's score and `adaptive`'s (new extremes highest, then an alarm's onset by its ratio;
//! a point continuing an alarm ranks low); the others score under `threshold`, by the larger
//! of the two scores, each as a share of its own flagging level. So `is_anomaly` is exactly
//! `score >= threshold`, and one threshold swept over the scores of a fleet (NAB's scoring)
//! meets the memory's surprises, new extremes and strong onsets first.
//!
//! **Warm-up.** `adaptive` scores from point 31 (its strongest alarms flag from there on);
//! the memory and the new extremes learn the first `warmup` points (default 300) and score
//! after them. Usable scores thus come after 31 points.
//!
//! The confirmation keeps the last value and the open excursion (its first value's
//! predecessor, its last value, its length, its rank); both are in the snapshot, and a state
//! saved before they existed restores with none open (and takes `confirm` at its default).
//!
//! **Not seen**: what neither part sees (`adaptive`'s module docs: a drop in variance, a new
//! value inside the range near the baseline), and an anomaly that repeats, in the same
//! context, a jump the series made before (unless it lies far beyond the seen range).
//!
//! **Cost and memory**: the sum of both parts, nearly all of it the memory's: about 1.9 µs a
//! point past the warm-up on a noisy daily cycle and 0.9 µs on a random walk, about 9 µs a
//! point over a young noisy series' first 1,000 points (3.1 on the walk); a state held 0.49 MB
//! after 100,000 points (BENCHMARKS.md, 2026-12-07, third pass; measured again with the gate
//! and `forget` of the last step: 1.93 µs, 0.87 µs, 9.3 µs and 0.49 MB). Since then the memory
//! visits one exact side per group of alike ones when a point makes a new pair: 4-6 % off a
//! young noisy series (12.2-13.1 against 13.1-13.7 µs a point, alternated on a loaded machine),
//! the walk and the steady state unchanged, the state 3 % larger (0.51 MB). Then a new pair
//! stopped gathering candidates at the memory's `max_candidates` (60): a slowly drifting noisy
//! series (every other pair new) costs about 11 µs a point instead of 27, a young noisy one
//! about 8 % less, the steady cycle 0.47 MB (CPU time on a loaded machine, BENCHMARKS.md,
//! 2026-12-07, the cost of noisy series). Bounded: the memory by its
//! capacity (about 2-2.8 MB at the most), `adaptive` by at most 1,024 buffered points until its period search ends, then a
//! period's offsets, 4 × 256 excesses and 4,096 transition counts. The `update` of a stream
//! equals the batch form.
//!
//! Against the previous `default` (now `extremes_contextual`) on the three labelled families
//! (BENCHMARKS.md, issue 14): event F1 0.510 against 0.402 on the NASA telemetry and 0.826
//! against 0.558 on the synthetic family, NAB 68.7 against 68.7 (the first form of this
//! detector, before the gate covered every `adaptive` alarm and its familiarity forgot:
//! 0.494, 0.823 and 67.8; since the memory's cap on candidates: 0.511, 0.823 and 68.5; with
//! the confirmed spikes and dips: 0.511, 0.829 and 68.5, seeds 2 and 3 of the synthetic family
//! 0.851 and 0.776 against 0.840 and 0.767).
//! Snapshots of the previous `default` do not restore here (a typed snapshot error; the
//! service then starts that series afresh): restore them with
//! `extremes_contextual`. A state saved by the first form restores and continues with the
//! settings it was saved with (they travel in the snapshot).

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::combine::adaptive::{Adaptive, AdaptiveKernel};
use crate::common::score_severity::tiered;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};
use crate::learned::contextual::{Contextual, ContextualKernel, ContextualParams};

/// `adaptive`'s risk per point here, ten times its own default: the memory's gate and the
/// warm-up checks drop most of the weak alarms a higher risk raises, and what is left finds
/// more anomalies of every kind (BENCHMARKS.md, issue 14: 1e-4, 3e-4, 1e-3 and 3e-3 compared
/// on the three families and two more seeds of the synthetic one).
const ADAPTIVE_RISK: f64 = 1e-3;

/// `adaptive`'s default flagging score: its sub-threshold scores are shares of it.
const ADAPTIVE_FLAG: f64 = 0.5;

/// `adaptive` scores the first point of a new extreme from this on.
const EXTREME: f64 = 0.75;

/// Whether `x` lies within `adaptive`'s band (its residual threshold around its baseline).
fn inside(x: f64, a: &PointScore) -> bool {
    match (a.lower, a.upper) {
        (Some(lo), Some(hi)) => x >= lo && x <= hi,
        _ => false,
    }
}

crate::detector::params_newtype!(
    /// Parameters of [`Calibrated`]; every one has a default and none needs setting.
    CalibratedParams => Calibrated
);

crate::detector::plain_set_arg!(Adaptive);

crate::detector::setters!(
    CalibratedParams:
    threshold: f64, cut: f64, gate: f64, strong: f64, early: f64, warmup: usize,
    confirm: usize, contextual: Contextual, adaptive: Adaptive);

impl ParamGuard for CalibratedParams {
    type Checked = Calibrated;

    fn check(&self) -> Result<Calibrated> {
        let p = &self.0;
        for (name, v, lo_open) in [
            ("threshold", p.threshold, true),
            ("cut", p.cut, true),
            ("gate", p.gate, false),
            ("strong", p.strong, false),
            ("early", p.early, false),
        ] {
            let ok = if lo_open {
                v > 0.0 && v < 1.0
            } else {
                (0.0..=1.0).contains(&v)
            };
            if !ok {
                return Err(DetectError::InvalidParameter {
                    name,
                    reason: format!("must be in the unit interval, got {v}"),
                });
            }
        }
        p.contextual().check()?;
        crate::combine::adaptive::AdaptiveParams::from(p.adaptive).check()?;
        Ok(self.0.clone())
    }
}

/// The `default` detector, validated ([`CalibratedParams::check`] makes it): `adaptive`'s
/// alarms ranked with new extremes and a contextual memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Calibrated {
    threshold: f64,
    cut: f64,
    gate: f64,
    strong: f64,
    early: f64,
    warmup: usize,
    /// Longest excursion, in points, whose gated alarms are flagged once the value comes
    /// back (0: off); see [`CalibratedKernel`]'s confirmation.
    confirm: usize,
    contextual: Contextual,
    adaptive: Adaptive,
}

/// The longest excursion (points) whose gated alarms a return confirms (BENCHMARKS.md,
/// issue 14: 1 and 3 compared on the three families and five seeds of the synthetic one).
const CONFIRM: usize = 3;

/// `adaptive`'s familiarity half-life here, points: a jump stays this series' habit only while
/// it keeps recurring (BENCHMARKS.md, issue 14: 300, 500, 1,000, 2,000 and never compared on
/// the three families and two more seeds of the synthetic one).
const ADAPTIVE_FORGET: u64 = 500;

impl Default for Calibrated {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            cut: 0.9,
            gate: 0.4,
            strong: 1.0,
            early: 0.625,
            warmup: 300,
            confirm: CONFIRM,
            contextual: Contextual::default(),
            adaptive: crate::combine::adaptive::AdaptiveParams::new()
                .risk(ADAPTIVE_RISK)
                .forget(ADAPTIVE_FORGET)
                .check()
                .unwrap_or_default(),
        }
    }
}

impl Calibrated {
    /// The contextual memory, with this detector's warm-up.
    fn contextual(&self) -> ContextualParams {
        ContextualParams::from(self.contextual.clone()).warmup(self.warmup)
    }
}

crate::detector::describe!(
    Calibrated, CalibratedParams, CalibratedKernel.detector => CalibratedOnline, "default",
    "adaptive's alarms ranked with new extremes and a contextual memory, scores in [0, 1]; no tuning needed",
    severity |config, score| tiered(score, config.threshold, 0.85, 0.95), "
    threshold: score at which a point is flagged (default 0.5)
    cut: memory or new-extreme score that flags a point on its own (default 0.9)
    gate: raw surprise of the memory under which adaptive's alarms are dropped, 0 = never (default 0.4)
    strong: adaptive score from which its alarms pass the gate, 1 = none does (default 1)
    early: adaptive score needed to flag while the memory learns (default 0.625)
    warmup: points the memory learns before it scores (default 300)
    confirm: longest excursion (points) whose gated alarms flag the return when the value comes back by a step beyond adaptive's step threshold, 0 = off (default 3)
    contextual: JSON settings of the contextual memory (see the contextual detector)
    adaptive: JSON settings of the adaptive detector (risk 0.001 and forget 500 here; the rest, calm included, as in adaptive)
"
);

/// The per-point state of [`Calibrated`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibratedKernel {
    detector: Calibrated,
    adaptive: AdaptiveKernel,
    contextual: ContextualKernel,
    seen: usize,
    min: f64,
    max: f64,
    /// The previous value (`None`: none yet).
    #[serde(default)]
    last: Option<f64>,
    /// The excursion whose alarms the gate dropped so far (`None`: none open).
    #[serde(default)]
    held: Option<Held>,
}

/// An excursion whose `adaptive` alarms the memory gate dropped, kept for `confirm`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Held {
    /// The value before the excursion's first point.
    base: f64,
    /// The excursion's latest value.
    last: f64,
    /// Points in the excursion so far (all of them gated alarms).
    points: usize,
    /// The largest score among its dropped alarms.
    rank: f64,
}

impl Kernel for CalibratedKernel {
    fn new(d: &Calibrated) -> Self {
        // Checked with `d`; the default only stands in for the impossible error.
        let contextual = d.contextual().check().unwrap_or_default();
        Self {
            detector: d.clone(),
            adaptive: AdaptiveKernel::new(&d.adaptive),
            contextual: ContextualKernel::new(&contextual),
            seen: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            last: None,
            held: None,
        }
    }

    fn step(&mut self, t: TimestampMs, x: f64) -> PointScore {
        let d = &self.detector;
        let past = self.seen >= d.warmup;
        let extreme = if past {
            crate::learned::extremes_contextual::new_extreme(x, self.min, self.max)
        } else {
            0.0
        };
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        self.seen += 1;
        let (raw, context) = self.contextual.raw_and_score(x);
        // The memory scores first (the two parts are independent), so that `adaptive` knows
        // which of its alarms the gate below drops (its `calm`, off unless set, counts from
        // the alarms reported).
        let a = self
            .adaptive
            .step_reported(t, x, d.gate > 0.0 && past && raw < d.gate);
        // 0.99: a complete surprise ranks just below a new extreme of the same point.
        let memory = extreme.max(0.99 * context);
        let mut alarm = a.is_anomaly;
        let gated = alarm && d.gate > 0.0 && past && a.score < d.strong && raw < d.gate;
        if gated {
            alarm = false;
        }
        // A confirmed spike or dip: the gate dropped the alarms of a short excursion, and
        // now the value comes back (a step against the excursion's, at least half as large,
        // into `adaptive`'s band), and the return step is beyond `adaptive`'s step threshold.
        let mut confirmed = None;
        if let Some(h) = self.held.filter(|h| h.points <= d.confirm) {
            let out = h.last - h.base;
            let back = x - h.last;
            let step = self.adaptive.step_ratio() >= 1.0;
            if step && out * back < 0.0 && back.abs() >= 0.5 * out.abs() && inside(x, &a) {
                confirmed = Some(h.rank);
            }
        }
        self.held = match (
            gated && d.confirm > 0 && confirmed.is_none(),
            self.held,
            self.last,
        ) {
            (false, ..) | (true, None, None) => None,
            (true, Some(h), _) => Some(Held {
                last: x,
                points: h.points.saturating_add(1),
                rank: h.rank.max(a.score),
                ..h
            }),
            (true, None, Some(base)) => Some(Held {
                base,
                last: x,
                points: 1,
                rank: a.score,
            }),
        };
        self.last = Some(x);
        if let Some(rank) = confirmed {
            // Ranked as the dropped alarms were, not as the return point's own alarm.
            let th = d.threshold;
            return PointScore {
                score: th + (1.0 - th) * memory.max(rank).clamp(0.0, 1.0),
                is_anomaly: true,
                expected: a.expected,
                lower: a.lower,
                upper: a.upper,
            };
        }
        if alarm && !past && (a.score < d.early || (a.score >= EXTREME && inside(x, &a))) {
            alarm = false;
        }
        let flagged = alarm || memory >= d.cut;
        let th = d.threshold;
        let score = if flagged {
            let rank = if alarm { memory.max(a.score) } else { memory };
            th + (1.0 - th) * rank.clamp(0.0, 1.0)
        } else {
            let a_share = a.score / ADAPTIVE_FLAG;
            th * (memory / d.cut).max(a_share).clamp(0.0, 0.999)
        };
        PointScore {
            score,
            is_anomaly: flagged,
            expected: a.expected,
            lower: a.lower,
            upper: a.upper,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::prelude::*;
    use crate::common::testing::{flagged, noisy_daily};

    fn ts(n: usize) -> Vec<i64> {
        (0..n as i64).map(|i| i * 60_000).collect()
    }

    #[test]
    fn score_and_flag_agree() {
        let mut v = noisy_daily(4000);
        v[1500] += 40.0;
        for x in &mut v[2400..2500] {
            *x -= 30.0;
        }
        let det = CalibratedParams::new().check().unwrap();
        let d = det.detect(&ts(v.len()), &v).unwrap();
        for i in 0..v.len() {
            assert_eq!(d.is_anomaly[i], d.scores[i] >= 0.5, "point {i}");
        }
        let f = flagged(&d);
        assert!(f.contains(&1500), "{f:?}");
        assert!(f.iter().any(|&i| (2400..2410).contains(&i)), "{f:?}");
    }

    #[test]
    fn a_spike_in_the_warm_up_is_flagged() {
        let n = crate::common::testing::noise(301, 3);
        let mut v: Vec<f64> = n.iter().map(|e| 20.0 + e).collect();
        for x in &mut v[251..254] {
            *x += 10.0;
        }
        let det = CalibratedParams::new().check().unwrap();
        let d = det.detect(&ts(v.len()), &v).unwrap();
        assert_eq!(flagged(&d)[..1], [251]);
    }

    #[test]
    fn streams_as_it_batches_across_snapshots() {
        let det = CalibratedParams::new().check().unwrap();
        let mut v = noisy_daily(3000);
        v[2000] += 30.0;
        crate::common::testing::assert_online_equals_batch(
            &det,
            &ts(v.len()),
            &v,
            &[100, 299, 300, 1777],
        );
    }

    #[test]
    fn a_young_trend_making_new_extremes_is_not_flagged() {
        // A slow noisy trend keeps leaving the range it has shown: in the memory's warm-up
        // such new extremes near the baseline are not anomalies, whereas `adaptive` flags them.
        for seed in [1, 2, 5] {
            let n = crate::common::testing::noise(300, seed);
            let v: Vec<f64> = n
                .iter()
                .enumerate()
                .map(|(i, e)| 0.01 * i as f64 + e)
                .collect();
            let t = ts(v.len());
            let own = CalibratedParams::new().check().unwrap();
            let plain = crate::combine::adaptive::AdaptiveParams::new()
                .check()
                .unwrap();
            let plain_flags = flagged(&plain.detect(&t, &v).unwrap());
            assert!(
                !plain_flags.is_empty(),
                "seed {seed}: the case needs adaptive's alarms"
            );
            assert_eq!(flagged(&own.detect(&t, &v).unwrap()), Vec::<usize>::new());
        }
    }

    /// Noise with short excursions (one to three points, up and down, of several sizes)
    /// every 97 points from point 400, and the points of each excursion.
    fn excursions() -> (Vec<f64>, Vec<std::ops::Range<usize>>) {
        let mut v: Vec<f64> = crate::common::testing::noise(8000, 7)
            .iter()
            .map(|e| 20.0 + e)
            .collect();
        let mut at = Vec::new();
        for (k, start) in (400..7900).step_by(97).enumerate() {
            let len = 1 + k % 3;
            let size = [3.0, 4.0, 5.0, 6.0][k % 4] * if k % 2 == 0 { 1.0 } else { -1.0 };
            for x in &mut v[start..start + len] {
                *x += size;
            }
            at.push(start..start + len);
        }
        (v, at)
    }

    #[test]
    fn a_return_confirms_gated_excursions_only() {
        let (v, at) = excursions();
        let t = ts(v.len());
        let on = flagged(
            &CalibratedParams::new()
                .check()
                .unwrap()
                .detect(&t, &v)
                .unwrap(),
        );
        let off = flagged(
            &CalibratedParams::new()
                .confirm(0)
                .check()
                .unwrap()
                .detect(&t, &v)
                .unwrap(),
        );
        let extra: Vec<usize> = on.iter().copied().filter(|i| !off.contains(i)).collect();
        assert!(off.iter().all(|i| on.contains(i)), "only adds flags");
        assert!(!extra.is_empty(), "some gated excursion is confirmed");
        // Each added flag is the return of an excursion: the point right after one.
        for i in &extra {
            assert!(
                at.iter().any(|r| r.end == *i),
                "{i} is no return: {extra:?}"
            );
        }
    }

    #[test]
    fn confirms_alike_streaming_across_snapshots() {
        // Snapshots taken with excursions open (the returns at 2245, 2634 and 3311 confirm).
        let (v, _) = excursions();
        let det = CalibratedParams::new().check().unwrap();
        crate::common::testing::assert_online_equals_batch(
            &det,
            &ts(v.len()),
            &v,
            &[2245, 2633, 2634, 3310],
        );
    }

    #[test]
    fn bad_params() {
        assert!(CalibratedParams::new().threshold(1.5).check().is_err());
        assert!(CalibratedParams::new().gate(-0.1).check().is_err());
        assert!(CalibratedParams::new().cut(0.0).check().is_err());
    }
}
