//! New extremes and a contextual memory: the `extremes_contextual` detector, which was
//! `default` until 2026-12-07 (now [`crate::combine::calibrated`], which adds `adaptive`'s
//! alarms to these two signals; snapshots saved under the old name restore here).
//!
//! It needs no parameters, and its scores mean the same on any series, so one threshold works
//! across a fleet. Two signals, each in [0, 1], and the larger wins:
//! 1. **New extremes**: after `warmup` points, a value beyond everything seen so far scores
//!    0.5 and up, growing with the excess measured in units of the seen range
//!    (`0.5 + 0.5 (1 - 1 / (1 + 10 e))`). Operators always want to hear about a metric
//!    leaving its known range, and on labelled benchmarks this is the single strongest sign.
//! 2. **Context** ([`crate::learned::contextual`]): a sequence memory over coarse levels of the value
//!    scores the share of its predictions that failed and of what it had to learn anew,
//!    silenced for a rest period after a high score so one change raises one alarm.
//!    It learns the range of its levels as it goes (the `contextual` detector can also be
//!    given a known range).
//!
//! **Warm-up.** The first `warmup` points (default 300) teach both signals; meanwhile the
//! `adaptive` detector scores them (it scores from point 31), flagging only its strongest
//! alarms (an alarm's first point at three times its threshold, or a new extreme), so a
//! young series is not left silent. Its state is dropped when the warm-up ends.
//!
//! `expected`, `lower` and `upper` come from a rolling z-score over `window` points, for
//! display. Cost: the contextual memory's, which grows with the contexts a point selects
//! (bounded by their capacity): about 2.2 µs per point past the warm-up on a noisy daily cycle
//! and 0.8 µs on a random walk, but about 10 µs in the first 1,000 points of a noisy series,
//! while almost every pair is new. State: about 0.3-0.5 MB after 100,000 points, so about
//! 2.1-3.1 MB at the memory's capacity (BENCHMARKS.md, 2026-12-07, second pass).

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::combine::adaptive::{Adaptive, AdaptiveKernel};
use crate::common::score_severity::tiered;
use crate::detector::{Kernel, OnlineDetector, ParamGuard, PointScore, Streams};
use crate::error::{DetectError, Result};
use crate::learned::contextual::{Contextual, ContextualKernel, ContextualParams};
use crate::statistical::zscore::{RollingZScoreOnline, RollingZScoreParams};

/// The `adaptive` score from which a warm-up point is flagged: an alarm's first point at three
/// times its learned (or, this early, fallback) threshold, or a new extreme. Its own flags (at
/// 0.5) cost 208 false alarms on the training parts of the NASA telemetry and 43 on the
/// synthetic family (BENCHMARKS.md, issue 14), where the benchmarks' first points are all normal.
const EARLY_CUT: f64 = 0.625;

crate::detector::params_newtype!(
    /// Parameters of [`ExtremesContextual`]; every one has a default and none needs setting.
    ExtremesContextualParams => ExtremesContextual
);

crate::detector::setters!(
    ExtremesContextualParams:
    warmup: usize, threshold: f64, window: usize, contextual: Contextual);

impl ParamGuard for ExtremesContextualParams {
    type Checked = ExtremesContextual;

    fn check(&self) -> Result<ExtremesContextual> {
        let p = &self.0;
        if !(p.threshold > 0.0 && p.threshold <= 1.0) {
            return Err(DetectError::InvalidParameter {
                name: "threshold",
                reason: format!("must be in (0, 1], got {}", p.threshold),
            });
        }
        p.bounds().check()?;
        p.contextual().check()?;
        Ok(self.0.clone())
    }
}

/// The `default` detector, validated ([`ExtremesContextualParams::check`] makes it): new
/// extremes and a contextual sequence memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExtremesContextual {
    warmup: usize,
    threshold: f64,
    window: usize,
    contextual: Contextual,
}

impl Default for ExtremesContextual {
    fn default() -> Self {
        Self {
            warmup: 300,
            threshold: 0.75,
            window: 100,
            contextual: Contextual::default(),
        }
    }
}

impl ExtremesContextual {
    /// The rolling z-score behind the displayed expectation and bounds.
    fn bounds(&self) -> RollingZScoreParams {
        RollingZScoreParams::new()
            .window(self.window)
            .min_periods(self.window.clamp(2, 30))
    }

    /// The contextual memory, with this detector's warm-up.
    fn contextual(&self) -> ContextualParams {
        ContextualParams::from(self.contextual.clone()).warmup(self.warmup)
    }
}

crate::detector::describe!(
    ExtremesContextual, ExtremesContextualParams, ExtremesContextualKernel.detector => ExtremesContextualOnline, "extremes_contextual",
    "new extremes and a contextual sequence memory, scores in [0, 1]; no tuning needed",
    severity |config, score| tiered(score, config.threshold, 0.85, 0.95), "
    contextual: JSON settings of the contextual memory (see the contextual detector)
    threshold: score at which a point is flagged (default 0.75)
    warmup: points learned before anything is scored (default 300)
    window: points behind the displayed expectation and bounds (default 100)
"
);

/// The score of `x` as a new extreme of the range `[min, max]` seen so far: 0 inside it (or
/// when the range is empty), else 0.5 and up, growing with the excess in units of the range.
pub(crate) fn new_extreme(x: f64, min: f64, max: f64) -> f64 {
    let range = max - min;
    if range <= 0.0 {
        return 0.0;
    }
    let excess = (x - max).max(min - x) / range;
    if excess > 0.0 {
        0.5 + 0.5 * (1.0 - 1.0 / (1.0 + 10.0 * excess))
    } else {
        0.0
    }
}

/// The per-point state of [`ExtremesContextual`]: the seen range, the contextual memory and
/// the rolling z-score of the displayed bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtremesContextualKernel {
    /// Read from the 0.1.0 form too (validated `bounds` and `contextual.params`).
    #[serde(deserialize_with = "legacy_detector")]
    detector: ExtremesContextual,
    bounds: RollingZScoreOnline,
    contextual: ContextualKernel,
    seen: usize,
    min: f64,
    max: f64,
    /// The `adaptive` detector that scores the warm-up (dropped once it is over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    early: Option<AdaptiveKernel>,
}

/// 0.1.0 stored the validated parts: `{"bounds": {"window": w, ...}, "contextual":
/// {"params": {...}}}` become `"window": w` and `"contextual": {...}`.
fn legacy_detector<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<ExtremesContextual, D::Error> {
    use serde::de::Error;
    use serde_json::Value;
    let mut map = serde_json::Map::deserialize(d)?;
    if let Some(bounds) = map.remove("bounds") {
        map.insert(
            "window".into(),
            bounds.get("window").cloned().unwrap_or(Value::Null),
        );
    }
    if let Some(Value::Object(mut c)) = map.remove("contextual") {
        let inner = c.remove("params").unwrap_or(Value::Object(c));
        map.insert("contextual".into(), inner);
    }
    serde_json::from_value(Value::Object(map)).map_err(D::Error::custom)
}

impl Kernel for ExtremesContextualKernel {
    fn new(d: &ExtremesContextual) -> Self {
        // Both were checked with `d`; their defaults only stand in for the impossible error.
        let bounds = d.bounds().check().unwrap_or_default();
        let contextual = d.contextual().check().unwrap_or_default();
        Self {
            detector: d.clone(),
            bounds: bounds.online_state(),
            contextual: ContextualKernel::new(&contextual),
            seen: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            early: (d.warmup > 0).then(|| AdaptiveKernel::new(&Adaptive::default())),
        }
    }

    fn step(&mut self, t: TimestampMs, x: f64) -> PointScore {
        // The warm-up is scored by `adaptive`, not left silent: flagged from its EARLY_CUT,
        // mapped onto this detector's threshold.
        let early = if self.seen < self.detector.warmup {
            self.early.as_mut().map(|k| {
                let s = k.step(t, x).score;
                let th = self.detector.threshold;
                if s >= EARLY_CUT {
                    th + (1.0 - th) * (s - EARLY_CUT) / (1.0 - EARLY_CUT)
                } else {
                    s / EARLY_CUT * th
                }
            })
        } else {
            self.early = None;
            None
        };
        let d = &self.detector;
        let extreme = if self.seen >= d.warmup {
            new_extreme(x, self.min, self.max)
        } else {
            0.0
        };
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        self.seen += 1;
        let (_, context) = self.contextual.raw_and_score(x);
        // 0.99: a complete surprise ranks just below a new extreme of the same point.
        let score = extreme.max(0.99 * context).max(early.unwrap_or(0.0));
        // The bounds state has its own order check; a point counter is a valid clock.
        let shown = self
            .bounds
            .update(self.seen as TimestampMs, x)
            .unwrap_or(PointScore::NEUTRAL);
        PointScore {
            score,
            is_anomaly: score >= d.threshold,
            expected: shown.expected,
            lower: shown.lower,
            upper: shown.upper,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::prelude::*;
    use crate::common::testing::{flagged, noisy_daily};

    #[test]
    fn flags_a_spike_and_a_level_shift_once_each() {
        let mut v = noisy_daily(3000);
        v[1500] += 40.0;
        for x in &mut v[2400..] {
            *x -= 30.0;
        }
        let ts: Vec<i64> = (0..v.len() as i64).map(|i| i * 300_000).collect();
        let det = ExtremesContextualParams::new().check().unwrap();
        let d = det.detect(&ts, &v).unwrap();
        let flagged = flagged(&d);
        assert!(flagged.contains(&1500), "{flagged:?}");
        assert!(
            flagged.iter().any(|&i| (2400..2410).contains(&i)),
            "{flagged:?}"
        );
        assert!(flagged.len() <= 4, "few alarms: {flagged:?}");
        assert!(!d.is_anomaly[..300].iter().any(|&a| a), "a quiet warm-up");
        assert!(d.expected[1000].is_finite());
    }

    #[test]
    fn a_spike_in_the_warm_up_is_flagged() {
        // Issue 14's case: 301 points at one minute, a clear three-point spike at 251.
        let n = crate::common::testing::noise(301, 3);
        let mut v: Vec<f64> = n.iter().map(|e| 20.0 + e).collect();
        for x in &mut v[251..254] {
            *x += 10.0;
        }
        let ts: Vec<i64> = (0..v.len() as i64).map(|i| i * 60_000).collect();
        let det = ExtremesContextualParams::new().check().unwrap();
        let d = det.detect(&ts, &v).unwrap();
        assert_eq!(flagged(&d), vec![251]);
    }

    /// Spiky noise, a noisy daily cycle, a random walk and level shifts: 32,000 points.
    fn fingerprint_series() -> Vec<Vec<f64>> {
        let (_, spiky) = crate::common::testing::spiked(
            6000,
            7,
            &[(1000, 8.0), (2500, -6.0), (4000, 12.0), (5200, 3.0)],
        );
        let walk: Vec<f64> = crate::common::testing::noise(10_000, 11)
            .iter()
            .scan(100.0, |x, e| {
                *x += e;
                Some(*x)
            })
            .collect();
        let levels = [0.0, 5.0, -3.0, 10.0, 2.0, 2.5];
        let shifts: Vec<f64> = crate::common::testing::noise(6000, 5)
            .iter()
            .enumerate()
            .map(|(i, e)| 20.0 + levels[i / 1000] + e)
            .collect();
        vec![spiky, noisy_daily(10_000), walk, shifts]
    }

    /// FNV-1a over the bits of every output column.
    fn fingerprint(d: &Detections) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for i in 0..d.scores.len() {
            for w in [
                d.scores[i].to_bits(),
                d.is_anomaly[i] as u64,
                d.expected[i].to_bits(),
                d.lower[i].to_bits(),
                d.upper[i].to_bits(),
            ] {
                for b in w.to_le_bytes() {
                    h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
                }
            }
        }
        h
    }

    #[test]
    fn scores_are_bit_for_bit_those_of_the_reference() {
        // Hashes of the output of the implementation before its cost per point was cut
        // (2026-12-07): a faster memory must learn and score exactly as that one did. That
        // one gathered every candidate of a new pair: the cap is set out of reach.
        let uncapped = crate::learned::contextual::ContextualParams::new()
            .max_candidates(usize::MAX)
            .check()
            .unwrap();
        let det = ExtremesContextualParams::new()
            .contextual(uncapped)
            .check()
            .unwrap();
        let got: Vec<u64> = fingerprint_series()
            .iter()
            .map(|v| {
                let ts: Vec<i64> = (0..v.len() as i64).map(|i| i * 60_000).collect();
                fingerprint(&det.detect(&ts, v).unwrap())
            })
            .collect();
        let want: [u64; 4] = [
            0x6618_369e_ee8a_29c5,
            0x02b2_1139_0a1c_7147,
            0x94c1_3b52_3865_e83c,
            0xd0d2_2ba4_cd7e_0a94,
        ];
        assert_eq!(got, want, "{got:x?}");
    }

    #[test]
    fn streams_as_it_batches_across_snapshots_past_the_warm_up() {
        let det = ExtremesContextualParams::new().check().unwrap();
        let v = &fingerprint_series()[2][..4000];
        let ts: Vec<i64> = (0..v.len() as i64).map(|i| i * 60_000).collect();
        crate::common::testing::assert_online_equals_batch(&det, &ts, v, &[299, 300, 1777, 3500]);
    }

    #[test]
    fn bad_params() {
        let bad = ExtremesContextualParams::new().threshold(1.5);
        assert!(bad.check().is_err());
    }
}
