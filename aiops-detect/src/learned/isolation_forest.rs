//! Isolation forest (Liu, Ting & Zhou 2008) over shingled points.
//!
//! Each point is turned into a *shingle*: the vector of the last `shingle` values (or of the
//! last `shingle` first differences with `differences`, which makes the detector blind to the
//! level and sensitive to the shape). A forest of `trees` random isolation trees, each grown on
//! `sample_size` shingles drawn without replacement from the trailing buffer of the last
//! `window` shingles, scores the newest shingle by how quickly random cuts isolate it:
//! `s = 2^(-E[h] / c(ψ))`, where `h` is the path length (plus `c(leaf size)` at a leaf), ψ the
//! sample size and `c(ψ)` the average path length of an unsuccessful binary-search-tree
//! lookup. `s` lies in (0, 1): near 1 the point is isolated at once, about 0.5 or below it is
//! ordinary.
//!
//! The scored shingle is never in the sample (that would let it vouch for itself), and a
//! point outside the sample's range would otherwise just follow the outermost branch. So at
//! each node where the shingle lies outside the node's range along the split dimension, the
//! path counts the chance (gap / widened range) that a cut drawn over the widened range would
//! have isolated it there, as if it had been in the sample (the "range penalty" of isotree).
//! A value far outside the range then ends its path at the first node that splits on its
//! dimension, about `shingle` levels down on average, which is why the default shingle is
//! short (4): with 8 values a lone spike could not score above ≈ 0.6. Shingles of regular
//! noise score ≈ 0.4–0.5 and clear spikes, dips and level shifts ≈ 0.7–0.95, hence the
//! default threshold 0.65. A change of shape that stays inside the usual range (a flat line
//! mid-cycle) is mostly missed: axis-parallel cuts see ranges, not shapes.
//!
//! **Schedule** (the same in batch and online, so both agree): the first forest is grown as
//! soon as `sample_size` shingles exist (earlier points score 0), then it is regrown every
//! `refit_every` points on the buffer as it is then. A point is always scored by a forest grown
//! on earlier shingles only, so a spike cannot mask itself. Each growth draws from its own
//! PRNG stream, derived from `seed` and the growth's ordinal, so results are reproducible.
//!
//! **Snapshots** carry the recent values and the schedule, not the trees: a restored state
//! regrows the current forest from the same shingles and seed before its first point, so it
//! continues exactly as the original would, from a snapshot of a few kB instead of megabytes.
//!
//! Cost: scoring O(`trees` × log₂ `sample_size`) per point; each growth
//! O(`trees` × `sample_size` × `shingle` × log₂ `sample_size`), amortised over `refit_every`
//! points. Measured with the defaults (release build): ≈ 7 µs per point to score plus
//! ≈ 25 µs per point amortised for the growths (≈ 3 ms each). Memory: the forest's
//! `trees` × (2 `sample_size` − 1) nodes (≈ 1.2 MB with the defaults) and
//! `window` + `refit_every` + `shingle` values.

use std::collections::VecDeque;

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::common::rng::SplitMix64;
use crate::common::score_severity::tiered;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};

crate::detector::params_newtype!(
    /// Unchecked parameters of [`IsolationForest`].
    ///
    /// ```
    /// use aiops_detect::{Detector, ParamGuard, IsolationForestParams};
    /// let det = IsolationForestParams::new().window(128).sample_size(64).check()?;
    /// let mut values: Vec<f64> = (0..400).map(|i| (i as f64 * 0.3).sin()).collect();
    /// values[300] = 6.0;
    /// let ts: Vec<i64> = (0..values.len() as i64).map(|i| i * 60_000).collect();
    /// let d = det.detect(&ts, &values)?;
    /// assert!(d.is_anomaly[300] && !d.is_anomaly[299]);
    /// # Ok::<(), aiops_detect::DetectError>(())
    /// ```
    IsolationForestParams => IsolationForest
);

crate::detector::setters!(
    IsolationForestParams:
    shingle: usize, differences: bool, window: usize, refit_every: usize, trees: usize,
    sample_size: usize, threshold: f64, seed: u64);

impl ParamGuard for IsolationForestParams {
    type Checked = IsolationForest;

    fn check(&self) -> Result<IsolationForest> {
        let bad = |name, reason: String| Err(DetectError::InvalidParameter { name, reason });
        if !(1..=256).contains(&self.0.shingle) {
            return bad(
                "shingle",
                format!("must be 1..=256 values, got {}", self.0.shingle),
            );
        }
        if self.0.sample_size < 2 {
            return bad(
                "sample_size",
                format!("must be at least 2 shingles, got {}", self.0.sample_size),
            );
        }
        if self.0.window < self.0.sample_size {
            return bad(
                "window",
                format!(
                    "must hold at least sample_size ({}) shingles, got {}",
                    self.0.sample_size, self.0.window
                ),
            );
        }
        if self.0.refit_every < 1 {
            return bad("refit_every", "must be at least 1 point".into());
        }
        if self.0.trees < 1 {
            return bad("trees", "must be at least 1".into());
        }
        if !(self.0.threshold > 0.0 && self.0.threshold < 1.0) {
            return bad(
                "threshold",
                format!("must be a score in (0, 1), got {}", self.0.threshold),
            );
        }
        Ok(self.0)
    }
}

/// Validated isolation-forest detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IsolationForest {
    shingle: usize,
    differences: bool,
    window: usize,
    refit_every: usize,
    trees: usize,
    sample_size: usize,
    threshold: f64,
    seed: u64,
}

impl Default for IsolationForest {
    fn default() -> Self {
        Self {
            shingle: 4,
            differences: false,
            window: 512,
            refit_every: 128,
            trees: 100,
            sample_size: 256,
            threshold: 0.65,
            seed: 0x5eed,
        }
    }
}

crate::detector::describe!(
    IsolationForest, IsolationForestParams, IsolationForestKernel.params => IsolationForestOnline, "isolation_forest",
    "isolation forest over shingles, refitted on a trailing window",
    severity |config, score| {
        let (t, step) = (config.threshold, (1.0 - config.threshold) / 3.0);
        tiered(score, t, t + step, t + 2.0 * step)
    }, "
    shingle: values per shingle (default 4)
    differences: shingle first differences instead of values (default false)
    window: shingles in the training buffer (default 512)
    refit_every: points between refits (default 128)
    trees: trees in the forest (default 100)
    sample_size: shingles per tree (default 256)
    threshold: score at which a point is flagged (default 0.65)
    seed: random seed (default 24301)
"
);

impl Kernel for IsolationForestKernel {
    fn step(&mut self, _: TimestampMs, x: f64) -> PointScore {
        let p = self.params;
        if self.growths > 0 && self.forest.is_none() {
            self.forest = Some(self.grow(self.grown_at, self.growths - 1));
        }
        let feature = if p.differences {
            let prev = self.last.replace(x);
            match prev {
                Some(prev) => x - prev,
                None => return PointScore::NEUTRAL,
            }
        } else {
            x
        };
        if self.feats.len() == Self::capacity(&p) {
            self.feats.pop_front();
        }
        self.feats.push_back(feature);
        self.produced += 1;
        if self.produced < p.shingle as u64 {
            return PointScore::NEUTRAL;
        }
        let out = match &self.forest {
            Some(f) => {
                let mut sh = Vec::with_capacity(p.shingle);
                self.shingle_into(self.produced, &mut sh);
                let score = f.score(&sh);
                PointScore::at_least(score, p.threshold)
            }
            None => PointScore::NEUTRAL,
        };
        let available = self.produced - p.shingle as u64 + 1;
        let due = if self.growths == 0 {
            available >= p.sample_size as u64
        } else {
            self.produced - self.grown_at >= p.refit_every as u64
        };
        if due {
            self.forest = Some(self.grow(self.produced, self.growths));
            self.grown_at = self.produced;
            self.growths += 1;
        }
        out
    }

    fn new(params: &IsolationForest) -> Self {
        let params = *params;
        Self {
            params,
            feats: VecDeque::with_capacity(Self::capacity(&params)),
            produced: 0,
            last: None,
            growths: 0,
            grown_at: 0,
            forest: None,
        }
    }
}

/// Average path length of an unsuccessful search in a binary search tree of `n` points.
fn avg_path(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let m = (n - 1) as f64;
            2.0 * (m.ln() + 0.577_215_664_901_532_9) - 2.0 * m / n as f64
        }
    }
}

#[derive(Debug, Clone)]
enum Node {
    Leaf {
        size: usize,
    },
    Split {
        dim: usize,
        value: f64,
        /// Range of the node's sample along `dim`.
        lo: f64,
        hi: f64,
        left: usize,
        right: usize,
    },
}

#[derive(Debug, Clone)]
struct Forest {
    trees: Vec<Vec<Node>>,
    /// `c(ψ)`, the path length that maps to score 0.5.
    norm: f64,
}

impl Forest {
    /// Grows the forest on `rows` (row-major, `dim` columns).
    fn grow(rows: &[f64], dim: usize, params: &IsolationForest, rng: &mut SplitMix64) -> Self {
        let m = rows.len() / dim;
        let psi = params.sample_size.min(m);
        let height = (psi as f64).log2().ceil() as usize;
        let mut pool: Vec<usize> = (0..m).collect();
        let mut lo = vec![0.0; dim];
        let mut hi = vec![0.0; dim];
        let mut spread = Vec::with_capacity(dim);
        let trees = (0..params.trees)
            .map(|_| {
                // Partial Fisher-Yates: the first psi entries become the sample.
                for i in 0..psi {
                    let j = i + rng.below(m - i);
                    pool.swap(i, j);
                }
                let mut idx = pool[..psi].to_vec();
                let mut nodes = Vec::with_capacity(2 * psi);
                // (node slot, sample range, depth), grown depth-first.
                let mut todo = vec![(0usize, 0usize, psi, 0usize)];
                nodes.push(Node::Leaf { size: psi });
                while let Some((slot, a, b, depth)) = todo.pop() {
                    let part = &mut idx[a..b];
                    if part.len() < 2 || depth >= height {
                        continue;
                    }
                    lo.fill(f64::INFINITY);
                    hi.fill(f64::NEG_INFINITY);
                    for &r in part.iter() {
                        for (d, &v) in rows[r * dim..(r + 1) * dim].iter().enumerate() {
                            lo[d] = lo[d].min(v);
                            hi[d] = hi[d].max(v);
                        }
                    }
                    spread.clear();
                    spread.extend((0..dim).filter(|&d| hi[d] > lo[d]));
                    if spread.is_empty() {
                        continue; // identical shingles cannot be separated
                    }
                    let d = spread[rng.below(spread.len())];
                    let mut value = lo[d] + rng.unit() * (hi[d] - lo[d]);
                    if value <= lo[d] {
                        value = lo[d] + 0.5 * (hi[d] - lo[d]);
                    }
                    let mut k = 0;
                    for i in 0..part.len() {
                        if rows[part[i] * dim + d] < value {
                            part.swap(i, k);
                            k += 1;
                        }
                    }
                    let (left, right) = (nodes.len(), nodes.len() + 1);
                    nodes.push(Node::Leaf { size: k });
                    nodes.push(Node::Leaf { size: b - a - k });
                    nodes[slot] = Node::Split {
                        dim: d,
                        value,
                        lo: lo[d],
                        hi: hi[d],
                        left,
                        right,
                    };
                    todo.push((left, a, a + k, depth + 1));
                    todo.push((right, a + k, b, depth + 1));
                }
                nodes
            })
            .collect();
        Forest {
            trees,
            norm: avg_path(psi),
        }
    }

    fn score(&self, x: &[f64]) -> f64 {
        let total: f64 = self
            .trees
            .iter()
            .map(|t| {
                // Expected path length had `x` been in the sample: where it lies outside a
                // node's range along the split dimension, a cut drawn over the widened range
                // would isolate it there with probability gap / widened range.
                let (mut node, mut depth) = (0, 0.0);
                let (mut stay, mut acc) = (1.0, 0.0);
                loop {
                    match t[node] {
                        Node::Leaf { size } => break acc + stay * (depth + avg_path(size)),
                        Node::Split {
                            dim,
                            value,
                            lo,
                            hi,
                            left,
                            right,
                        } => {
                            let v = x[dim];
                            let p = if v < lo {
                                (lo - v) / (hi - v)
                            } else if v > hi {
                                (v - hi) / (v - lo)
                            } else {
                                0.0
                            };
                            depth += 1.0;
                            acc += stay * p * depth;
                            stay *= 1.0 - p;
                            node = if v < value { left } else { right };
                        }
                    }
                }
            })
            .sum();
        let mean = total / self.trees.len() as f64;
        let s = (-mean / self.norm.max(f64::MIN_POSITIVE)).exp2();
        if s.is_finite() {
            s.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

/// The per-point state of [`IsolationForest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IsolationForestKernel {
    params: IsolationForest,
    /// Recent features (values or differences), enough to regrow the current forest.
    feats: VecDeque<f64>,
    /// Features produced so far.
    produced: u64,
    last: Option<f64>,
    /// Growths so far, and `produced` at the last one.
    growths: u64,
    grown_at: u64,
    /// Rebuilt from the fields above after a restore.
    #[serde(skip)]
    forest: Option<Forest>,
}

impl IsolationForestKernel {
    fn capacity(p: &IsolationForest) -> usize {
        p.window + p.refit_every + p.shingle
    }

    /// The shingle ending at global feature index `end - 1`, newest value last.
    fn shingle_into(&self, end: u64, out: &mut Vec<f64>) {
        let first = (self.produced - self.feats.len() as u64) as usize;
        let e = end as usize - first;
        out.extend(self.feats.range(e - self.params.shingle..e));
    }

    /// Grows forest number `growth` on the shingles ending before feature `end`.
    fn grow(&self, end: u64, growth: u64) -> Forest {
        let p = &self.params;
        let available = (end - p.shingle as u64 + 1) as usize;
        let m = available.min(p.window);
        let mut rows = Vec::with_capacity(m * p.shingle);
        for k in 0..m as u64 {
            self.shingle_into(end - m as u64 + 1 + k, &mut rows);
        }
        let mut rng = SplitMix64(p.seed ^ growth.wrapping_mul(0xd134_2543_de82_ef95));
        Forest::grow(&rows, p.shingle, p, &mut rng)
    }
}

impl IsolationForestKernel {
    /// Whether a forest has been grown yet (scores are 0 before).
    pub fn is_fitted(&self) -> bool {
        self.growths > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::prelude::*;
    use crate::common::testing::{
        assert_rejected, cycle, noise, run, spike_shingles_and_strays, spikes_and_a_dip, ts,
    };

    #[test]
    fn finds_spikes_and_a_dip() {
        let v = spikes_and_a_dip();
        let det = IsolationForestParams::new().check().unwrap();
        let d = det.detect(&ts(v.len()), &v).unwrap();
        let stray = spike_shingles_and_strays(&d);
        assert!(stray.is_empty(), "stray flags {stray:?}");
        let warm = 256 + 3;
        assert!(d.scores[..warm].iter().all(|&s| s == 0.0));
        assert!(d.scores[warm..].iter().all(|&s| s > 0.0 && s < 1.0));
        let mean = d.scores[1000..1400].iter().sum::<f64>() / 400.0;
        assert!(mean < 0.55, "ordinary shingles score {mean}");
    }

    #[test]
    fn differences_ignore_the_level() {
        let mut v: Vec<f64> = noise(1500, 8).iter().map(|e| 10.0 + e).collect();
        for x in &mut v[1000..] {
            *x += 100.0;
        }
        let t = ts(v.len());
        let raw = IsolationForestParams::new().check().unwrap();
        let diff = IsolationForestParams::new()
            .differences(true)
            .check()
            .unwrap();
        let a = raw.detect(&t, &v).unwrap();
        let b = diff.detect(&t, &v).unwrap();
        let flags = |d: &Detections| (1010..1100).filter(|&i| d.is_anomaly[i]).count();
        assert!(flags(&a) > 80, "raw shingles see the new level");
        assert_eq!(flags(&b), 0, "differences only see the jump itself");
        assert!(b.is_anomaly[1000]);
    }

    #[test]
    fn seeds_make_it_reproducible() {
        let v = cycle(800, 4);
        let t = ts(v.len());
        let a = IsolationForestParams::new().seed(1).check().unwrap();
        let b = IsolationForestParams::new().seed(2).check().unwrap();
        let scores = |d: &IsolationForest| d.detect(&t, &v).unwrap().scores;
        assert_eq!(scores(&a), scores(&a));
        assert_ne!(scores(&a), scores(&b));
    }

    #[test]
    fn constant_input_scores_finite() {
        let v = vec![7.0; 600];
        let d = run(IsolationForestParams::new(), &ts(600), &v);
        assert!(d.scores.iter().all(|s| s.is_finite()));
        assert!(!d.is_anomaly.iter().any(|&a| a));
    }

    #[test]
    fn bad_params() {
        let p = IsolationForestParams::new;
        assert_rejected([
            (p().shingle(0), "shingle"),
            (p().shingle(257), "shingle"),
            (p().sample_size(1), "sample_size"),
            (p().window(100), "window"),
            (p().refit_every(0), "refit_every"),
            (p().trees(0), "trees"),
            (p().threshold(1.0), "threshold"),
            (p().threshold(0.0), "threshold"),
            (p().threshold(f64::NAN), "threshold"),
        ]);
        let e = serde_json::from_str::<IsolationForestParams>(r#"{"tree": 3}"#).unwrap_err();
        assert!(e.to_string().contains("trees"), "{e}");
    }
}
