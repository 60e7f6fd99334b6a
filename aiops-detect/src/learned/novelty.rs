//! Sequence novelty: how much of the recent shape of the series has never been seen before.
//!
//! Values are quantised into `levels` bins over the range seen so far; after every point the
//! detector looks at the n-grams of bins ending there (lengths 1 to `order`) and scores the
//! share that is new. A metric that repeats its usual shapes scores 0 however noisy it is; a
//! new level, a new transition or a broken rhythm scores high. This is the idea behind the
//! contextual detectors that lead the NAB scoreboard (sequence memory over coarse values),
//! kept to its simplest form.
//!
//! After a high score (at least `rest_threshold`), scores are silenced for `rest` points: one
//! change raises one alarm, not one per point while the series settles.
//!
//! With `memory` set, a shape not seen for that many points counts as new again: metrics
//! drift, and what was normal last month is news today. Memory is bounded: at most `capacity`
//! n-grams are kept, and when full the least recently seen half is dropped. Cost: O(order) per
//! point, amortised.

use std::collections::{HashMap, VecDeque};

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::common::score_severity::unit_severity;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};

crate::detector::params_newtype!(
    /// Unchecked parameters of [`Novelty`].
    NoveltyParams => Novelty
);

/// Novelty detector, validated ([`NoveltyParams::check`] makes it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Novelty {
    levels: usize,
    order: usize,
    warmup: usize,
    rest: usize,
    rest_threshold: f64,
    threshold: f64,
    memory: usize,
    capacity: usize,
}

impl Default for Novelty {
    fn default() -> Self {
        Self {
            levels: 16,
            order: 4,
            warmup: 300,
            rest: 300,
            rest_threshold: 0.75,
            threshold: 0.75,
            memory: 0,
            capacity: 1 << 18,
        }
    }
}

crate::detector::setters!(
    NoveltyParams:
    levels: usize, order: usize, warmup: usize, rest: usize, rest_threshold: f64, threshold: f64,
    memory: usize, capacity: usize);

impl ParamGuard for NoveltyParams {
    type Checked = Novelty;

    fn check(&self) -> Result<Novelty> {
        let bad = |name, reason: String| Err(DetectError::InvalidParameter { name, reason });
        if !(2..=256).contains(&self.0.levels) {
            return bad(
                "levels",
                format!("must be in 2..=256, got {}", self.0.levels),
            );
        }
        if !(1..=7).contains(&self.0.order) {
            return bad("order", format!("must be in 1..=7, got {}", self.0.order));
        }
        for (name, v) in [
            ("rest_threshold", self.0.rest_threshold),
            ("threshold", self.0.threshold),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                return bad(name, format!("must be in (0, 1], got {v}"));
            }
        }
        if self.0.capacity < 16 {
            return bad(
                "capacity",
                format!("must be at least 16, got {}", self.0.capacity),
            );
        }
        Ok(self.0.clone())
    }
}

crate::detector::describe!(
    Novelty, NoveltyParams, NoveltyKernel.params => NoveltyOnline, "novelty",
    "sequence novelty: share of recent n-grams of quantised values never seen",
    severity |config, score| unit_severity(score, config.threshold), "
    levels: bins the seen range is cut into (default 16)
    order: longest n-gram considered, 1..=7 (default 4)
    warmup: points learned before scoring (default 300)
    rest: points silenced after a high score (default 300)
    rest_threshold: raw score that starts a rest (default 0.75)
    threshold: score at which a point is flagged (default 0.75)
    memory: points after which an n-gram not seen again is forgotten, 0 = never (default 0)
    capacity: most n-grams remembered (default 262144)
"
);

/// The per-point state of [`Novelty`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoveltyKernel {
    params: Novelty,
    seen: usize,
    min: f64,
    max: f64,
    bins: VecDeque<u8>,
    /// n-gram key -> index of the point where it was last seen.
    last_seen: HashMap<u64, usize>,
    /// Index of the last raw score >= rest_threshold.
    last_high: Option<usize>,
}

impl Kernel for NoveltyKernel {
    fn new(p: &Novelty) -> Self {
        Self {
            params: p.clone(),
            seen: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            bins: VecDeque::with_capacity(p.order),
            last_seen: HashMap::new(),
            last_high: None,
        }
    }

    fn step(&mut self, _: TimestampMs, x: f64) -> PointScore {
        let (_, score) = self.raw_and_score(x);
        PointScore::at_least(score, self.params.threshold)
    }
}

impl NoveltyKernel {
    /// Whether `key` is known at point `i` (seen, and within `memory` points if that is set);
    /// remembers it either way.
    fn remember(&mut self, key: u64, i: usize) -> bool {
        let memory = self.params.memory;
        let known = self
            .last_seen
            .insert(key, i)
            .is_some_and(|t| memory == 0 || i - t <= memory);
        if self.last_seen.len() > self.params.capacity {
            self.forget_oldest(i);
        }
        known
    }

    /// Drops the least recently seen half of the memory (O(n), every `capacity / 2` inserts
    /// at most, so O(1) amortised).
    fn forget_oldest(&mut self, i: usize) {
        let mut ages: Vec<usize> = self.last_seen.values().map(|&t| i - t).collect();
        let mid = ages.len() / 2;
        let (_, &mut cut, _) = ages.select_nth_unstable(mid);
        self.last_seen.retain(|_, t| i - *t < cut);
    }

    /// Drops what `memory` has expired, every `memory` points, so the map holds at most the
    /// n-grams of the last `2 * memory` points.
    fn expire(&mut self, i: usize) {
        let memory = self.params.memory;
        if memory > 0 && i.is_multiple_of(memory) {
            self.last_seen.retain(|_, t| i - *t <= memory);
        }
    }

    /// The raw novelty of the point (before rest), and the point's score (after rest).
    pub(crate) fn raw_and_score(&mut self, x: f64) -> (f64, f64) {
        let i = self.seen;
        self.seen += 1;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        let range = self.max - self.min;
        let top = (self.params.levels - 1) as f64;
        let bin = if range > 0.0 {
            ((x - self.min) / range * top + 0.5).floor().clamp(0.0, top) as u8
        } else {
            0
        };
        if self.bins.len() == self.params.order {
            self.bins.pop_front();
        }
        self.bins.push_back(bin);
        // An n-gram key packs its length and up to 7 bins exactly: no collisions.
        let (mut new, mut total) = (0usize, 0usize);
        let mut key: u64 = 0;
        let recent: Vec<u8> = self.bins.iter().rev().copied().collect();
        for (k, &b) in recent.iter().enumerate() {
            key |= u64::from(b) << (8 * k);
            let full = key | ((k as u64 + 1) << 56);
            total += 1;
            if !self.remember(full, i) {
                new += 1;
            }
        }
        self.expire(i);
        let raw = if i < self.params.warmup {
            0.0
        } else {
            new as f64 / total as f64
        };
        let resting = self.last_high.is_some_and(|h| i - h <= self.params.rest);
        if raw >= self.params.rest_threshold {
            self.last_high = Some(i);
        }
        (raw, if resting { 0.0 } else { raw })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::flagged;
    use crate::common::testing::prelude::*;
    use crate::common::testing::refused;

    /// A square wave 1,1,0,0 whose rhythm breaks to 1,0,1,0 at 1,000 (same values, new
    /// transitions) and which moves to a new level at 1,500.
    fn rhythm() -> (Vec<i64>, Vec<f64>) {
        let v: Vec<f64> = (0..2000)
            .map(|i| {
                if (1000..1008).contains(&i) {
                    (i % 2) as f64
                } else if i >= 1500 {
                    0.5
                } else if i % 4 < 2 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        ((0..2000).collect(), v)
    }

    #[test]
    fn flags_broken_rhythm_and_new_level_once() {
        let (ts, v) = rhythm();
        let det = NoveltyParams::new()
            .warmup(100)
            .rest(100)
            .threshold(0.5)
            .rest_threshold(0.5)
            .check()
            .unwrap();
        let d = det.detect(&ts, &v).unwrap();
        let flagged = flagged(&d);
        assert!(
            flagged.iter().any(|&i| (1000..1008).contains(&i)),
            "{flagged:?}"
        );
        assert!(
            flagged.iter().any(|&i| (1500..1505).contains(&i)),
            "{flagged:?}"
        );
        assert_eq!(flagged.len(), 2, "one alarm per change: {flagged:?}");
        assert!(
            d.scores[200..1000].iter().all(|&s| s == 0.0),
            "the usual rhythm is known"
        );
    }

    #[test]
    fn bad_params() {
        assert!(refused(NoveltyParams::new().levels(1)));
        assert!(refused(NoveltyParams::new().levels(257)));
        assert!(refused(NoveltyParams::new().order(8)));
        assert!(refused(NoveltyParams::new().threshold(0.0)));
        assert!(refused(NoveltyParams::new().capacity(4)));
    }
}
