//! Contextual sequence memory: an anomaly is a point that the contexts learned so far did not
//! predict, or that teaches new ones.
//!
//! The idea is the one behind the Contextual Anomaly Detector (CAD OSE, one of the leaders of
//! the Numenta Anomaly Benchmark); this is our own implementation of it. Each value is cut
//! into `2^bits` levels over a known range and encoded as facts (one per bit: its position and
//! whether it is set), so neighbouring levels share facts. A *context* pairs a set of facts
//! that held at the previous point (its left side: the previous value's facts plus the ids of
//! the contexts that were active then, which chains contexts into longer sequences) with the
//! facts of the current value (its right side).
//!
//! At every point:
//! - contexts whose whole left side held at the previous point are *selected*: they predict
//!   their right side; those whose right side holds now are *active* (confirmed);
//! - the exact pair (previous facts, current facts) is remembered, and partial matches are
//!   generalised into new contexts (the shared part of the left side with a confirmed right
//!   side, or a fully matched left side with the shared part of the right side);
//! - the raw score is `(1 - confirmed share + new share) / 2`: the share of predictions that
//!   failed, plus, when the exact pair was new, the share of candidate contexts that were new.
//!
//! A new pair gathers its candidates from the left sides in the order they were made (the
//! oldest first) and stops visiting sides once it holds `max_candidates` (default 60): the
//! new share is a proportion, which 60 candidates estimate within about 0.065 (one standard
//! error at worst), and on a noisy series one point in two makes a new pair whose hundred or
//! more candidates would otherwise mostly become contexts that are never confirmed again (a
//! slowly drifting noisy series filled the memory every 3,000 points, at 27 µs a point). 30 lost
//! accuracy on the synthetic family and 15 on NAB (BENCHMARKS.md, 2026-12-07, the cost of
//! noisy series).
//!
//! After a raw score of `rest_threshold` or more, scores are silenced for `rest` points, so one
//! change raises one alarm.
//!
//! The levels need a range. Given one (`input_min`, `input_max`: NAB hands every detector its
//! file's extremes, and HTM and CAD cut their encodings with them), it is fixed. Otherwise the
//! first `warmup` points set it (they are learned, and score 0); a later value just outside it
//! takes the nearest level, and one more than `rescale` range widths outside re-cuts the levels
//! over everything seen: the last `replay` points are relearned with them before the value is
//! scored.
//!
//! Memory is bounded: once it holds `capacity` contexts, it starts afresh from the last
//! `replay` points (a metric's old habits are the ones worth forgetting). A context costs
//! about 100-140 bytes (mostly the facts of its left side and the indexes over them), so the
//! default capacity bounds a state near 2-2.8 MB. Cost per point is proportional to the
//! contexts selected by the previous point (about 1.7 µs a point past the warm-up on a noisy
//! daily cycle), and, when a point makes a new context, to the left sides holding an exact
//! context that share context facts with the previous point, plus one side per group of the
//! others (sides with the same value facts and the same exact right sides make the same
//! candidates), up to the side where the candidates reach `max_candidates`: the sides are
//! marked a window of 256 ids at a time, so those past that window are not read. A young
//! series' first 1,000 points cost about 11 µs a point on a quiet machine before that
//! grouping and 4-6 % less since (measured alternated under load), and about 8 % less again
//! with the cap on candidates; half of that is relearning while the learned range grows
//! (BENCHMARKS.md, 2026-12-07: a re-cut with headroom, fewer points relearned and a wider
//! `rescale` relearn less, and each lost accuracy). A slowly drifting noisy series (a third of
//! its pairs new) costs about 9 µs a point for good (CPU time on a loaded machine; 11 µs
//! before the windows and the contexts kept in place, 27 µs without the cap), three to four
//! times a steady daily cycle: the learning step's own loops about 40 %, finding the held
//! sides 17 %, counting their contexts 11 %, all growing with the memory (BENCHMARKS.md,
//! "`default`'s memory: lazy marking and contexts in place").

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};

use crate::common::score_severity::unit_severity;
use crate::detector::{Kernel, ParamGuard, PointScore};
use crate::error::{DetectError, Result};

crate::detector::params_newtype!(
    /// Unchecked parameters of [`Contextual`].
    ContextualParams => Contextual
);

/// Contextual detector, validated ([`ContextualParams::check`] makes it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Contextual {
    bits: usize,
    input_min: Option<f64>,
    input_max: Option<f64>,
    warmup: usize,
    max_active: usize,
    max_left: usize,
    max_candidates: usize,
    rest: usize,
    rest_threshold: f64,
    threshold: f64,
    capacity: usize,
    replay: usize,
    rescale: f64,
}

impl Default for Contextual {
    fn default() -> Self {
        Self {
            bits: 3,
            input_min: None,
            input_max: None,
            warmup: 120,
            max_active: 15,
            max_left: 7,
            max_candidates: 60,
            rest: 120,
            rest_threshold: 0.75,
            threshold: 0.75,
            capacity: 20_000,
            replay: 500,
            rescale: 0.25,
        }
    }
}

impl ContextualParams {
    /// The known range of the series (NAB hands every detector its file's minimum and
    /// maximum); without it, the first `warmup` points set the range.
    pub fn input_range(mut self, min: f64, max: f64) -> Self {
        self.0.input_min = Some(min);
        self.0.input_max = Some(max);
        self
    }
}

crate::detector::setters!(
    ContextualParams:
    bits: usize, warmup: usize, max_active: usize, max_left: usize, max_candidates: usize,
    rest: usize, rest_threshold: f64, threshold: f64, capacity: usize, replay: usize, rescale:
    f64);

impl ParamGuard for ContextualParams {
    type Checked = Contextual;

    fn check(&self) -> Result<Contextual> {
        let bad = |name, reason: String| Err(DetectError::InvalidParameter { name, reason });
        if !(1..=8).contains(&self.0.bits) {
            return bad("bits", format!("must be in 1..=8, got {}", self.0.bits));
        }
        if self.0.max_active == 0 {
            return bad("max_active", "must be at least 1".into());
        }
        if self.0.max_left == 0 {
            return bad("max_left", "must be at least 1".into());
        }
        if self.0.max_candidates == 0 {
            return bad("max_candidates", "must be at least 1".into());
        }
        for (name, v) in [
            ("rest_threshold", self.0.rest_threshold),
            ("threshold", self.0.threshold),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                return bad(name, format!("must be in (0, 1], got {v}"));
            }
        }
        if !(self.0.rescale > 0.0 && self.0.rescale.is_finite()) {
            return bad(
                "rescale",
                format!("must be positive, got {}", self.0.rescale),
            );
        }
        // Relearning `replay` points makes a few contexts per point: a smaller memory would
        // start afresh over and over.
        let least = 10 * self.0.replay.max(self.0.warmup).max(16);
        if self.0.capacity < least {
            return bad(
                "capacity",
                format!(
                    "must be at least 10 x max(replay, warmup) = {least}, got {}",
                    self.0.capacity
                ),
            );
        }
        match (self.0.input_min, self.0.input_max) {
            (None, None) => {}
            (Some(lo), Some(hi)) => {
                if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                    return bad(
                        "input_min",
                        format!("input_min {lo} and input_max {hi} must be finite, min <= max"),
                    );
                }
            }
            _ => {
                return bad(
                    "input_min",
                    "give both input_min and input_max, or neither".into(),
                );
            }
        }
        Ok(self.0.clone())
    }
}

crate::detector::describe!(
    Contextual, ContextualParams, ContextualKernel.params => ContextualOnline, "contextual",
    "contextual sequence memory (CAD-style): share of failed predictions and new contexts",
    severity |config, score| unit_severity(score, config.threshold), "
    bits: bits per value, the range is cut into 2^bits levels (default 3)
    input_min, input_max: known range of the series (default: set by the warm-up)
    warmup: points that set the range when none is given (default 120)
    max_active: most active contexts carried to the next point (default 15)
    max_left: largest left side made by generalising (default 7)
    max_candidates: candidate contexts past which a new pair generalises from no more left sides (default 60)
    rest: points silenced after a high raw score (default 120)
    rest_threshold: raw score that starts a rest (default 0.75)
    threshold: score at which a point is flagged (default 0.75)
    capacity: contexts at which the memory starts afresh from the last replay points (default 20000)
    replay: recent points relearned when levels are re-cut or memory is full (default 500)
    rescale: range widths outside the learned range that re-cut the levels (default 0.25)
"
);

type Fact = u32;
/// Facts above this are ids of contexts active at the previous point.
const NEURON: Fact = 1 << 31;
/// Fact of a level below the range's minimum.
const BELOW: Fact = 1 << 30;
/// Start of the facts of levels outside the range.
const OUTSIDE: Fact = 1 << 29;

/// One side of some contexts: a sorted set of facts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Side {
    facts: Vec<Fact>,
    /// Left sides only: (right side, context) of every context with this left side.
    contexts: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Context {
    /// Times confirmed.
    count: u32,
    /// Remembered as an exact (previous, current) pair at least once, not only generalised.
    exact: bool,
}

/// The sides and contexts of a memory, as the first snapshot form wrote them (read only) and
/// as the compact one is read into. The fact indexes are rebuilt from them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct MemoryData {
    left: Vec<Side>,
    right: Vec<Side>,
    contexts: Vec<Context>,
}

/// The memory as a snapshot writes it: every list end to end, numbers only (a third of the
/// first form's JSON, which spelt each context as an object and each side as one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompactMemory {
    /// The left sides' facts end to end ([`packed`]: a context fact is written as minus one
    /// minus its context, ten digits fewer), and where each side's end.
    left_facts: Vec<i64>,
    left_ends: Vec<u32>,
    /// Per left side, its (right side, context) pairs end to end (two numbers each), and
    /// where each side's end (in numbers).
    left_contexts: Vec<u32>,
    left_context_ends: Vec<u32>,
    /// The right sides' facts end to end (as `left_facts`), and where each side's end.
    right_facts: Vec<i64>,
    right_ends: Vec<u32>,
    /// Per context: times confirmed.
    counts: Vec<u32>,
    /// Per context, one bit each: remembered as an exact pair.
    exact: Vec<u64>,
}

/// What a snapshot may hold: the compact form, or the first one.
#[derive(Deserialize)]
#[serde(untagged)]
enum SavedMemory {
    Compact(CompactMemory),
    First(MemoryData),
}

/// A fact as a compact snapshot writes it: a context fact (`NEURON | c`) as `-1 - c`.
fn packed(f: Fact) -> i64 {
    if f >= NEURON {
        -1 - i64::from(f ^ NEURON)
    } else {
        i64::from(f)
    }
}

/// The fact [`packed`] wrote; None for a number it cannot have written.
fn unpacked(x: i64) -> Option<Fact> {
    if x < 0 {
        u32::try_from(-1 - x)
            .ok()
            .filter(|&c| c < NEURON)
            .map(|c| NEURON | c)
    } else {
        u32::try_from(x).ok().filter(|&f| f < NEURON)
    }
}

/// The runs of `items` that `ends` delimit; None when `ends` do not (decrease, pass the
/// end or stop short of it).
fn runs<'a, T>(items: &'a [T], ends: &[u32]) -> Option<Vec<&'a [T]>> {
    let mut out = Vec::with_capacity(ends.len());
    let mut start = 0usize;
    for &e in ends {
        let e = e as usize;
        if e < start || e > items.len() {
            return None;
        }
        out.push(&items[start..e]);
        start = e;
    }
    (start == items.len()).then_some(out)
}

impl TryFrom<CompactMemory> for MemoryData {
    type Error = String;

    fn try_from(c: CompactMemory) -> std::result::Result<Self, String> {
        let n = c.counts.len();
        if c.exact.len() != n.div_ceil(64) {
            return Err(format!("{} exact words for {n} contexts", c.exact.len()));
        }
        let bad = |what: &str| format!("{what}: ends do not delimit the list");
        let facts = |xs: &[i64], what: &str| -> std::result::Result<Vec<Fact>, String> {
            xs.iter()
                .map(|&x| unpacked(x).ok_or_else(|| format!("{what}: {x} is not a fact")))
                .collect()
        };
        let (left_all, right_all) = (
            facts(&c.left_facts, "left sides")?,
            facts(&c.right_facts, "right sides")?,
        );
        let left_facts = runs(&left_all, &c.left_ends).ok_or_else(|| bad("left sides"))?;
        let left_contexts =
            runs(&c.left_contexts, &c.left_context_ends).ok_or_else(|| bad("left contexts"))?;
        if left_contexts.len() != left_facts.len() || left_contexts.iter().any(|r| r.len() % 2 != 0)
        {
            return Err("left contexts: not one list of pairs per left side".into());
        }
        let right = runs(&right_all, &c.right_ends).ok_or_else(|| bad("right sides"))?;
        Ok(MemoryData {
            left: left_facts
                .into_iter()
                .zip(left_contexts)
                .map(|(facts, pairs)| Side {
                    facts: facts.to_vec(),
                    contexts: pairs.chunks_exact(2).map(|p| (p[0], p[1])).collect(),
                })
                .collect(),
            right: right
                .into_iter()
                .map(|facts| Side {
                    facts: facts.to_vec(),
                    contexts: Vec::new(),
                })
                .collect(),
            contexts: c
                .counts
                .iter()
                .enumerate()
                .map(|(i, &count)| Context {
                    count,
                    exact: c.exact[i / 64] >> (i % 64) & 1 != 0,
                })
                .collect(),
        })
    }
}

impl TryFrom<SavedMemory> for Memory {
    type Error = String;

    fn try_from(saved: SavedMemory) -> std::result::Result<Self, String> {
        match saved {
            SavedMemory::Compact(c) => MemoryData::try_from(c)?.try_into(),
            SavedMemory::First(data) => data.try_into(),
        }
    }
}

impl From<Memory> for CompactMemory {
    fn from(m: Memory) -> Self {
        let mut counts = vec![0; m.contexts];
        for &[_, c, count] in m.left_contexts.iter().flat_map(|side| side.iter()) {
            // Every context is in one left side.
            if let Some(slot) = counts.get_mut(c as usize) {
                *slot = count;
            }
        }
        let mut left_contexts = Vec::new();
        let mut left_context_ends = Vec::with_capacity(m.left_contexts.len());
        for side in &m.left_contexts {
            left_contexts.extend(side.iter().flat_map(|&[r, c, _]| [r, c]));
            left_context_ends.push(left_contexts.len() as u32);
        }
        CompactMemory {
            left_facts: m.left.facts.iter().map(|&f| packed(f)).collect(),
            left_ends: m.left.ends,
            left_contexts,
            left_context_ends,
            right_facts: m.right.facts.iter().map(|&f| packed(f)).collect(),
            right_ends: m.right.ends,
            exact: {
                let mut exact = m.exact;
                exact.resize(counts.len().div_ceil(64), 0);
                exact
            },
            counts,
        }
    }
}

/// Sets of facts end to end: the sides of one kind, in the order of their ids (one vector
/// for all, read without a pointer per side).
#[derive(Debug, Clone, Default, PartialEq)]
struct Sides {
    facts: Vec<Fact>,
    /// Per side: where its facts end in `facts` (they start where the previous side's end).
    ends: Vec<u32>,
}

impl Sides {
    /// The number of sides.
    fn len(&self) -> usize {
        self.ends.len()
    }

    /// The facts of side `id`.
    #[inline]
    fn get(&self, id: u32) -> &[Fact] {
        let id = id as usize;
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.facts[start as usize..self.ends[id] as usize]
    }

    /// Adds a side with these facts; its id.
    fn push(&mut self, facts: &[Fact]) -> u32 {
        grow_by_half(&mut self.facts, facts.len());
        grow_by_half(&mut self.ends, 1);
        self.facts.extend_from_slice(facts);
        self.ends.push(self.facts.len() as u32);
        self.ends.len() as u32 - 1
    }
}

/// Contexts and the indexes that find them by fact. The indexes are derived from the data
/// (rebuilt on restore), so two memories are equal when their data are.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "SavedMemory", into = "CompactMemory")]
struct Memory {
    /// The left sides' facts.
    left: Sides,
    /// Per left side: (right side, context, times confirmed) of every context with this left
    /// side, in the order they were made (the times confirmed are kept here rather than by
    /// context: they are read with the rest).
    left_contexts: Vec<SideContexts>,
    /// The right sides' facts.
    right: Sides,
    /// The number of contexts.
    contexts: usize,
    /// Per context, one bit each: whether it is exact.
    exact: Vec<u64>,
    left_ids: SideIndex,
    right_ids: SideIndex,
    /// Left sides by their largest fact (one list per fact, found through
    /// `context_anchors` or `value_anchors`): their id and the [`signature`] of their facts
    /// (its low and high half), read together.
    left_by_anchor: Vec<Vec<[u32; 3]>>,
    /// The list of `left_by_anchor` of each context fact, by context (`u32::MAX` for none):
    /// found without hashing.
    context_anchors: Vec<u32>,
    /// The same for value facts.
    value_anchors: FxMap<Fact, u32>,
    /// Per left side: whether one of its contexts is exact (only those generalise).
    left_exact: Vec<bool>,
    /// Per left side: its value facts of levels inside the range (all below 16), one bit
    /// each, and (from bit 16) its number of facts, read together.
    left_values: Vec<u32>,
    /// Left sides holding an exact context, by the context facts they hold: one list per
    /// fact, read end to end (a linked list would make every step wait for the previous).
    exact_by_context: Vec<Vec<u32>>,
    /// The list of `exact_by_context` of each context (`u32::MAX` for none).
    exact_lists: Vec<u32>,
    /// The left sides holding an exact context, in the order of their ids.
    exact_sides: Vec<u32>,
    /// The left sides holding an exact context, grouped by what they generalise with when
    /// they share no context fact with the previous point: their value facts inside the
    /// range, whether they have no other facts, and the right sides of their exact contexts.
    /// Such sides of one group make the same candidates, so only the first is visited.
    groups: Vec<Group>,
    /// The number of each group in `groups` by its key ([`Memory::group_key`]).
    group_ids: FxMap<Vec<u32>, u32>,
    /// Per left side: its group in `groups` (`u32::MAX` for none: no exact context).
    side_group: Vec<u32>,
    /// Working space for a group's key.
    key: Vec<u32>,
    right_by_fact: FxMap<Fact, Vec<u32>>,
}

/// The (right side, context, times confirmed) of every context of one left side, in the
/// order they were made: up to two in place (most left sides keep one or two contexts, which
/// are then read without following a pointer and made without allocating), more in a vector.
#[derive(Debug, Clone)]
enum SideContexts {
    /// The number of contexts (0 to 2) and the room for them.
    Inline(u8, [[u32; 3]; 2]),
    /// Three contexts or more.
    Spilled(Vec<[u32; 3]>),
}

impl Default for SideContexts {
    fn default() -> Self {
        SideContexts::Inline(0, [[0; 3]; 2])
    }
}

impl std::ops::Deref for SideContexts {
    type Target = [[u32; 3]];

    #[inline]
    fn deref(&self) -> &[[u32; 3]] {
        match self {
            SideContexts::Inline(n, room) => &room[..*n as usize],
            SideContexts::Spilled(v) => v,
        }
    }
}

impl std::ops::DerefMut for SideContexts {
    #[inline]
    fn deref_mut(&mut self) -> &mut [[u32; 3]] {
        match self {
            SideContexts::Inline(n, room) => &mut room[..*n as usize],
            SideContexts::Spilled(v) => v,
        }
    }
}

impl PartialEq for SideContexts {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl FromIterator<[u32; 3]> for SideContexts {
    fn from_iter<I: IntoIterator<Item = [u32; 3]>>(items: I) -> Self {
        let mut side = SideContexts::default();
        for e in items {
            side.push(e);
        }
        side
    }
}

impl SideContexts {
    /// Adds a context at the end.
    fn push(&mut self, e: [u32; 3]) {
        match self {
            SideContexts::Inline(n, room) if (*n as usize) < room.len() => {
                room[*n as usize] = e;
                *n += 1;
            }
            SideContexts::Inline(_, room) => {
                // Grown by half rather than doubled from 4 (as `grow_by_half`), from 3.
                let mut v = Vec::with_capacity(room.len() + 1);
                v.extend_from_slice(room);
                v.push(e);
                *self = SideContexts::Spilled(v);
            }
            SideContexts::Spilled(v) => {
                grow_by_half(v, 1);
                v.push(e);
            }
        }
    }
}

/// Left sides holding an exact context that share their value facts inside the range,
/// whether they have other facts, and the right sides of their exact contexts.
#[derive(Debug, Clone, Default)]
struct Group {
    /// Value facts inside the range, one bit each.
    values: u16,
    /// Whether the sides have no other facts.
    bare: bool,
    /// The sides, in the order of their ids.
    members: Vec<u32>,
}

impl PartialEq for Memory {
    fn eq(&self, other: &Self) -> bool {
        self.left == other.left
            && self.left_contexts == other.left_contexts
            && self.right == other.right
            && self.contexts == other.contexts
            && self.exact == other.exact
    }
}

/// Sorted without repeats, and every context fact names one of `contexts` contexts.
fn check_facts(facts: &[Fact], contexts: usize, what: &str) -> std::result::Result<(), String> {
    if !facts.is_sorted_by(|a, b| a < b) {
        return Err(format!("{what}: facts not in increasing order"));
    }
    match facts
        .iter()
        .find(|&&f| f >= NEURON && (f ^ NEURON) as usize >= contexts)
    {
        Some(f) => Err(format!("{what}: context {} of {contexts}", f ^ NEURON)),
        None => Ok(()),
    }
}

impl TryFrom<MemoryData> for Memory {
    type Error = String;

    /// Checks what the indexes rely on (a snapshot may have been edited or damaged), then
    /// rebuilds them.
    fn try_from(data: MemoryData) -> std::result::Result<Self, String> {
        let n = data.contexts.len();
        for (i, side) in data.left.iter().enumerate() {
            check_facts(&side.facts, n, &format!("left side {i}"))?;
            if let Some(&(r, c)) = side
                .contexts
                .iter()
                .find(|&&(r, c)| r as usize >= data.right.len() || c as usize >= n)
            {
                return Err(format!(
                    "left side {i}: context {c} of {n} with right side {r} of {}",
                    data.right.len()
                ));
            }
        }
        for (i, side) in data.right.iter().enumerate() {
            check_facts(&side.facts, n, &format!("right side {i}"))?;
        }
        let (left, right) = (data.left.len(), data.right.len());
        let m = Memory::from_checked(data);
        // A repeated side would take the id of its first copy, and ids would shift.
        if m.left.len() != left || m.right.len() != right {
            return Err("a side repeated".into());
        }
        Ok(m)
    }
}

impl Memory {
    /// Rebuilds the indexes of checked data; a side repeated is merged into its first copy
    /// (the caller tells by the counts).
    fn from_checked(data: MemoryData) -> Self {
        let mut m = Memory {
            left: Sides::default(),
            left_contexts: Vec::new(),
            right: Sides::default(),
            contexts: data.contexts.len(),
            exact: vec![0; data.contexts.len().div_ceil(64)],
            left_ids: SideIndex::default(),
            right_ids: SideIndex::default(),
            left_by_anchor: Vec::new(),
            context_anchors: Vec::new(),
            value_anchors: FxMap::default(),
            left_exact: Vec::new(),
            left_values: Vec::new(),
            exact_by_context: Vec::new(),
            exact_lists: Vec::new(),
            exact_sides: Vec::new(),
            groups: Vec::new(),
            group_ids: FxMap::default(),
            side_group: Vec::new(),
            key: Vec::new(),
            right_by_fact: FxMap::default(),
        };
        for (c, context) in data.contexts.iter().enumerate() {
            if context.exact {
                m.set_exact(c as u32);
            }
        }
        for side in data.left {
            let id = m.side_id(true, &side.facts);
            if side
                .contexts
                .iter()
                .any(|&(_, c)| (c as usize) < m.contexts && m.is_exact(c))
            {
                m.mark_exact(id);
            }
            m.left_contexts[id as usize] = side
                .contexts
                .iter()
                .map(|&(r, c)| [r, c, data.contexts.get(c as usize).map_or(0, |x| x.count)])
                .collect();
            if m.left_exact[id as usize] {
                m.regroup(id);
            }
        }
        for side in data.right {
            m.side_id(false, &side.facts);
        }
        m
    }
}

impl Memory {
    fn new() -> Self {
        Memory::from_checked(MemoryData {
            left: Vec::new(),
            right: Vec::new(),
            contexts: Vec::new(),
        })
    }

    /// The id of the side with these facts, made if new.
    fn side_id(&mut self, left: bool, facts: &[Fact]) -> u32 {
        let (ids, sides) = if left {
            (&mut self.left_ids, &mut self.left)
        } else {
            (&mut self.right_ids, &mut self.right)
        };
        if let Some(id) = ids.get(sides, facts) {
            return id;
        }
        let id = sides.push(facts);
        ids.insert(sides, id);
        if left {
            self.left_contexts.push(SideContexts::default());
            if let Some(&anchor) = facts.last() {
                let sig = signature(facts);
                let list = if anchor >= NEURON {
                    let c = (anchor ^ NEURON) as usize;
                    if c >= self.context_anchors.len() {
                        self.context_anchors.resize(c + 1, u32::MAX);
                    }
                    &mut self.context_anchors[c]
                } else {
                    self.value_anchors.entry(anchor).or_insert(u32::MAX)
                };
                if *list == u32::MAX {
                    *list = self.left_by_anchor.len() as u32;
                    self.left_by_anchor.push(Vec::new());
                }
                let list = &mut self.left_by_anchor[*list as usize];
                grow_by_half(list, 1);
                list.push([id, sig as u32, (sig >> 32) as u32]);
            }
            self.left_exact.push(false);
            self.side_group.push(u32::MAX);
            // A length beyond 16 bits is never a count of shared facts (at most 48).
            let len = facts.len().min(0xffff) as u32;
            self.left_values
                .push(small_values(facts) as u32 | len << 16);
        } else {
            for &f in facts {
                self.right_by_fact.entry(f).or_default().push(id);
            }
        }
        id
    }

    /// Appends to `full` the left sides whose facts all hold in `previous` (sorted; its
    /// first `value_facts` are value facts, the contexts among the others have `stamp` in
    /// `held`), by the facts they are filed under.
    #[inline(never)]
    fn held_sides(
        &self,
        previous: &[Fact],
        value_facts: usize,
        (held, stamp): (&[u32], u32),
        maybe: &mut Vec<u32>,
        full: &mut Vec<u32>,
    ) {
        let sig = !signature(previous);
        let (outside_lo, outside_hi) = (sig as u32, (sig >> 32) as u32);
        // The signature rules most sides out without reading their facts; those it leaves
        // are gathered without branching on it (a toss-up).
        maybe.clear();
        for f in previous {
            let list = if *f >= NEURON {
                self.context_anchors.get((f ^ NEURON) as usize)
            } else {
                self.value_anchors.get(f)
            };
            if let Some(entries) = list.and_then(|&at| self.left_by_anchor.get(at as usize)) {
                let start = maybe.len();
                maybe.resize(start + entries.len(), 0);
                let mut k = start;
                for &[id, lo, hi] in entries {
                    maybe[k] = id;
                    k += ((lo & outside_lo) | (hi & outside_hi) == 0) as usize;
                }
                maybe.truncate(k);
            }
        }
        let values = &previous[..value_facts];
        let small = values
            .iter()
            .filter(|&&f| f < INSIDE)
            .fold(0u32, |bits, &f| bits | 1 << f);
        for &id in maybe.iter() {
            let holds = |&f: &Fact| {
                if f >= NEURON {
                    held.get((f ^ NEURON) as usize) == Some(&stamp)
                } else if f < INSIDE {
                    small >> f & 1 != 0
                } else {
                    values.contains(&f)
                }
            };
            if self.left.get(id).iter().all(holds) {
                full.push(id);
            }
        }
    }

    /// Whether context `c` is exact.
    fn is_exact(&self, c: u32) -> bool {
        exact_bit(&self.exact, c)
    }

    /// Marks context `c` exact.
    fn set_exact(&mut self, c: u32) {
        self.exact[c as usize / 64] |= 1 << (c % 64);
    }

    /// Records that left side `l` holds an exact context.
    fn mark_exact(&mut self, l: u32) {
        if std::mem::replace(&mut self.left_exact[l as usize], true) {
            return;
        }
        let at = self.exact_sides.partition_point(|&e| e < l);
        self.exact_sides.insert(at, l);
        for &f in self.left.get(l) {
            if f >= NEURON {
                let c = (f ^ NEURON) as usize;
                if c >= self.exact_lists.len() {
                    self.exact_lists.resize(c + 1, u32::MAX);
                }
                if self.exact_lists[c] == u32::MAX {
                    self.exact_lists[c] = self.exact_by_context.len() as u32;
                    self.exact_by_context.push(Vec::new());
                }
                // Sorted, to be read in the order of ids (a side made by generalising may
                // hold an exact context after younger ones do).
                let list = &mut self.exact_by_context[self.exact_lists[c] as usize];
                let at = list.partition_point(|&e| e < l);
                grow_by_half(list, 1);
                list.insert(at, l);
            }
        }
    }

    /// The key of left side `l`'s group (in `key`): its value facts inside the range and
    /// whether it has no others, then the right sides of its exact contexts, sorted.
    fn group_key(&mut self, l: u32) {
        let facts = self.left_values[l as usize];
        let values = facts as u16;
        let bare = (facts >> 16) == values.count_ones();
        self.key.clear();
        self.key.push(u32::from(values) | u32::from(bare) << 16);
        let exact = &self.exact;
        self.key.extend(
            self.left_contexts[l as usize]
                .iter()
                .filter(|e| exact_bit(exact, e[1]))
                .map(|e| e[0]),
        );
        self.key[1..].sort_unstable();
    }

    /// Files left side `l` (holding an exact context) in the group of its key, out of the
    /// one it was in: called when it gains an exact context.
    fn regroup(&mut self, l: u32) {
        let old = self.side_group[l as usize];
        if let Some(group) = self.groups.get_mut(old as usize)
            && let Ok(at) = group.members.binary_search(&l)
        {
            group.members.remove(at);
        }
        self.group_key(l);
        let g = match self.group_ids.get(&self.key[..]) {
            Some(&g) => g,
            None => {
                let g = self.groups.len() as u32;
                self.groups.push(Group {
                    values: self.key[0] as u16,
                    bare: self.key[0] >> 16 != 0,
                    members: Vec::new(),
                });
                self.group_ids.insert(self.key.clone(), g);
                g
            }
        };
        let members = &mut self.groups[g as usize].members;
        let at = members.partition_point(|&m| m < l);
        grow_by_half(members, 1);
        members.insert(at, l);
        self.side_group[l as usize] = g;
    }

    /// The context of left side `l` and right side `r`, and whether it was made just now.
    fn pair(&mut self, l: u32, r: u32) -> (u32, bool) {
        let contexts = &mut self.left_contexts[l as usize];
        if let Some(&[_, c, _]) = contexts.iter().find(|e| e[0] == r) {
            return (c, false);
        }
        let c = self.contexts as u32;
        contexts.push([r, c, 0]);
        self.contexts += 1;
        if self.exact.len() * 64 < self.contexts {
            self.exact.push(0);
        }
        (c, true)
    }
}

/// Makes room in `v` for `more` items, growing it by half (not doubling it) when full: the
/// memory's vectors only grow, and their spare room is part of what a state holds.
fn grow_by_half<T>(v: &mut Vec<T>, more: usize) {
    if v.len() + more > v.capacity() {
        v.reserve_exact(more.max(v.len() / 2));
    }
}

/// Whether context `c` is exact, given the bit set of exact contexts.
fn exact_bit(exact: &[u64], c: u32) -> bool {
    exact[c as usize / 64] >> (c % 64) & 1 != 0
}

/// Words of 64 left sides marked at a time when a new pair visits the exact sides.
const WINDOW: usize = 4;

/// Value facts below this are those of the levels inside the range (2 per bit, 8 bits at most).
const INSIDE: Fact = 16;

/// One bit per value fact of a level inside the range.
fn small_values(facts: &[Fact]) -> u16 {
    facts
        .iter()
        .filter(|&&f| f < INSIDE)
        .fold(0, |bits, &f| bits | 1 << f)
}

/// One bit per fact (of 64, by a multiplicative hash): a set of facts can only be a subset
/// of another if its signature is.
fn signature(facts: &[Fact]) -> u64 {
    facts
        .iter()
        .fold(0, |sig, &f| sig | 1 << (f.wrapping_mul(0x9e37_79b1) >> 26))
}

/// A map with [`FxHasher`]: its keys are facts, which no outsider chooses.
type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The multiply-and-rotate hash of the Rust compiler (FxHash). Keys here are facts and short
/// runs of them, for which SipHash's defence against chosen keys buys nothing and costs most
/// of a lookup.
#[derive(Debug, Clone, Copy, Default)]
struct FxHasher(u64);

impl FxHasher {
    const K: u64 = 0xf135_7aea_2e62_a9c5;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(26) ^ word).wrapping_mul(Self::K);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // No final mix: the keys are distinct small integers, whose products spread over the
        // low bits (hashbrown's bucket) and the top ones (its tag) alike.
        self.0
    }
}

/// Side ids by their facts: an open-addressing table of ids whose keys are the sides' own
/// facts, so that no set of facts is stored twice.
#[derive(Debug, Clone, Default)]
struct SideIndex {
    /// Side ids, `u32::MAX` where empty; the length is a power of two (or zero).
    slots: Vec<u32>,
    len: usize,
}

impl SideIndex {
    const EMPTY: u32 = u32::MAX;

    /// The first slot to probe for these facts, in a table of `2^bits` slots.
    fn home(facts: &[Fact], bits: u32) -> usize {
        let mut h = FxHasher::default();
        for &f in facts {
            h.add(f as u64);
        }
        h.add(facts.len() as u64);
        (h.0 >> (64 - bits)) as usize
    }

    /// The id of the side with these facts, if there is one.
    fn get(&self, sides: &Sides, facts: &[Fact]) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = Self::home(facts, self.slots.len().trailing_zeros());
        loop {
            let id = self.slots[i];
            if id == Self::EMPTY {
                return None;
            }
            if sides.get(id) == facts {
                return Some(id);
            }
            i = (i + 1) & mask;
        }
    }

    /// Files side `id` (whose facts are in no other side).
    fn insert(&mut self, sides: &Sides, id: u32) {
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            let mut bigger = SideIndex {
                slots: vec![Self::EMPTY; (self.slots.len() * 2).max(16)],
                len: 0,
            };
            for &old in self.slots.iter().filter(|&&s| s != Self::EMPTY) {
                bigger.place(sides, old);
            }
            *self = bigger;
        }
        self.place(sides, id);
    }

    fn place(&mut self, sides: &Sides, id: u32) {
        let mask = self.slots.len() - 1;
        let mut i = Self::home(sides.get(id), self.slots.len().trailing_zeros());
        while self.slots[i] != Self::EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = id;
        self.len += 1;
    }
}

/// The per-point state of [`Contextual`], also used inside the `default` detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "KernelData")]
pub struct ContextualKernel {
    params: Contextual,
    seen: usize,
    /// Lowest value and level width, once known.
    scale: Option<(f64, f64)>,
    /// Without a known range: the extremes seen, and the recent values relearned when the
    /// levels are re-cut.
    seen_min: f64,
    seen_max: f64,
    recent: VecDeque<f64>,
    memory: Memory,
    /// Facts that held at the previous point (sorted).
    previous: Vec<Fact>,
    /// Index of the last raw score >= rest_threshold.
    last_high: Option<usize>,
    #[serde(skip)]
    scratch: Scratch,
}

/// A [`ContextualKernel`] as a snapshot holds it, checked before use.
#[derive(Deserialize)]
struct KernelData {
    params: Contextual,
    seen: usize,
    scale: Option<(f64, f64)>,
    seen_min: f64,
    seen_max: f64,
    recent: VecDeque<f64>,
    memory: Memory,
    previous: Vec<Fact>,
    last_high: Option<usize>,
}

impl TryFrom<KernelData> for ContextualKernel {
    type Error = String;

    fn try_from(d: KernelData) -> std::result::Result<Self, String> {
        let params = ContextualParams::from(d.params)
            .check()
            .map_err(|e| e.to_string())?;
        check_facts(&d.previous, d.memory.contexts, "previous point")?;
        if d.last_high.is_some_and(|h| h >= d.seen) {
            return Err("last_high: after the points seen".into());
        }
        if d.scale
            .is_some_and(|(lo, w)| !(lo.is_finite() && w.is_finite() && w > 0.0))
        {
            return Err("scale: not a finite range".into());
        }
        Ok(Self {
            params,
            seen: d.seen,
            scale: d.scale,
            seen_min: d.seen_min,
            seen_max: d.seen_max,
            recent: d.recent,
            memory: d.memory,
            previous: d.previous,
            last_high: d.last_high,
            scratch: Scratch::default(),
        })
    }
}

/// Per-point working space, kept to avoid allocating at every point.
#[derive(Debug, Clone, Default)]
struct Scratch {
    right_hits: Vec<u32>,
    full_left: Vec<u32>,
    /// Left sides whose signature fits the previous point's.
    maybe_left: Vec<u32>,
    touched_right: Vec<u32>,
    /// The sides of this point's candidate contexts, end to end.
    cut: Vec<Fact>,
    /// Candidate contexts: the number of their left cut in `lefts` and their right side as a
    /// range of `cut`.
    candidates: Vec<[u32; 3]>,
    /// Left cuts of this point: their range in `cut`, and their side id once looked up
    /// (`u32::MAX` before).
    lefts: Vec<[u32; 3]>,
    /// Per left cut: one bit per right side, set once their pair is a candidate.
    pairs_seen: Vec<u64>,
    /// Words of `pairs_seen` per left cut.
    words: usize,
    /// Per right side: the range of `cut` holding its facts shared with the current point,
    /// valid when its first number is `stamp`.
    right_cut: Vec<[u32; 3]>,
    /// The number of this point for the stamps (it wraps, and is never 0).
    stamp: u32,
    /// Right sides of this point's candidates by their range in `cut`.
    right_ids: Vec<([u32; 2], u32)>,
    /// The contexts this point made or met as candidates, and its exact pair.
    unique: Vec<u32>,
    /// Per context: the stamp of the last point that counted it in `unique`.
    marks: Vec<u32>,
    /// Per context: the stamp of the last point whose previous point it was a fact of.
    held: Vec<u32>,
    /// The best confirmed contexts of this point, best first, by their [`rank`].
    active: Vec<u128>,
    /// Per right side: whether it holds wholly at this point.
    right_full: Vec<bool>,
    /// Per left side: the positions in the previous point of the context facts it shares
    /// with it, one bit each (0 outside of the point that sets them).
    shared: Vec<u32>,
    /// The left sides whose `shared` is set.
    shared_touched: Vec<u32>,
    /// A spare buffer for the next point's facts (the facts of the point before last).
    spare: Vec<Fact>,
    /// The exact left sides a new pair visits to find partly held ones, one bit each (0
    /// outside of the point that sets them).
    visit: Vec<u64>,
    /// Groups whose first member (of those not sharing a context fact with the previous
    /// point) may be the side of this bit, one bit per left side (0 outside of the point
    /// that sets them).
    firsts: Vec<u64>,
    /// Per group: the member `firsts` marks for it (valid for the groups marked there).
    group_at: Vec<u32>,
    /// Per context fact of the previous point that exact sides hold: its list in
    /// `exact_by_context`, how far the list is read, and the fact's position in the point.
    lists: Vec<[u32; 3]>,
    /// Cuts of partly held left sides by (value facts, context positions): their number.
    left_cuts: FxMap<(u16, u32), u32>,
    /// The same for cuts without context facts, by their value facts.
    value_cuts: Vec<(u16, u32)>,
}

impl Scratch {
    /// Files the facts of `cut` from `start` to its end as a new left cut; its number.
    fn new_left(&mut self, start: u32) -> u32 {
        let k = self.lefts.len() as u32;
        self.lefts.push([start, self.cut.len() as u32, u32::MAX]);
        self.pairs_seen
            .resize(self.pairs_seen.len() + self.words, 0);
        k
    }

    /// The left cut of the value facts `vs` (one bit each) and the context facts of
    /// `previous` at positions `cs` (one bit each), made if new: sides sharing the same facts
    /// with the previous point share one cut.
    fn shared_cut(&mut self, vs: u16, cs: u32, previous: &[Fact]) -> u32 {
        let found = if cs == 0 {
            self.value_cuts.iter().find(|e| e.0 == vs).map(|e| e.1)
        } else {
            self.left_cuts.get(&(vs, cs)).copied()
        };
        if let Some(k) = found {
            return k;
        }
        let start = self.cut.len() as u32;
        self.cut.extend(bits(vs as u64));
        self.cut
            .extend(bits(cs as u64).map(|p| previous[p as usize]));
        let k = self.new_left(start);
        if cs == 0 {
            self.value_cuts.push((vs, k));
        } else {
            self.left_cuts.insert((vs, cs), k);
        }
        k
    }

    /// Gathers the candidate of left cut `k` and right side `r` (with `facts`), unless it
    /// was already: a candidate met again is the same context and adds nothing.
    fn candidate(&mut self, k: u32, r: u32, facts: &[Fact], current: &[Fact]) {
        let bit = k as usize * self.words * 64 + r as usize;
        let word = &mut self.pairs_seen[bit / 64];
        if *word >> (bit % 64) & 1 != 0 {
            return;
        }
        *word |= 1 << (bit % 64);
        let (rs, re) = self.right_cut(r, facts, current);
        self.candidates.push([k, rs, re]);
    }

    /// Appends the sorted intersection of `a` and `b` to `cut`; its range.
    fn cut(&mut self, a: &[Fact], b: &[Fact]) -> (u32, u32) {
        let start = self.cut.len() as u32;
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].cmp(&b[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    self.cut.push(a[i]);
                    i += 1;
                    j += 1;
                }
            }
        }
        (start, self.cut.len() as u32)
    }

    /// The range of `cut` holding the facts of right side `r` shared with `current`.
    fn right_cut(&mut self, r: u32, facts: &[Fact], current: &[Fact]) -> (u32, u32) {
        let r = r as usize;
        if r >= self.right_cut.len() {
            self.right_cut.resize(r + 1, [0; 3]);
        }
        let [stamp, start, end] = self.right_cut[r];
        if stamp == self.stamp {
            return (start, end);
        }
        let (start, end) = self.cut(facts, current);
        self.right_cut[r] = [self.stamp, start, end];
        (start, end)
    }
}

impl PartialEq for Scratch {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Kernel for ContextualKernel {
    fn new(p: &Contextual) -> Self {
        let scale = match (p.input_min, p.input_max) {
            (Some(lo), Some(hi)) => Some(Self::scale(p.bits, lo, hi)),
            _ => None,
        };
        Self {
            params: p.clone(),
            seen: 0,
            scale,
            // Finite, so that a snapshot is valid JSON.
            seen_min: f64::MAX,
            seen_max: f64::MIN,
            recent: VecDeque::new(),
            memory: Memory::new(),
            previous: Vec::new(),
            last_high: None,
            scratch: Scratch::default(),
        }
    }

    fn step(&mut self, _: TimestampMs, x: f64) -> PointScore {
        let (_, score) = self.raw_and_score(x);
        PointScore::at_least(score, self.params.threshold)
    }
}

impl ContextualKernel {
    fn scale(bits: usize, lo: f64, hi: f64) -> (f64, f64) {
        let width = (hi - lo) / top_level(bits);
        (lo, if width > 0.0 { width } else { 1.0 })
    }

    /// The facts of a value: one per bit of its level (position and value). A level outside
    /// the range gets facts of its own (its bits in another fact space, and a sign), so it
    /// shares none with the levels inside: wrapping around to look like a known level would
    /// hide exactly what matters. A learned range clamps the value first: a value just outside
    /// it takes the nearest level (one far outside re-cuts the levels before it gets here).
    fn facts(&mut self, x: f64, (lo, width): (f64, f64)) -> Vec<Fact> {
        let x = if self.params.input_min.is_some() {
            x
        } else {
            x.clamp(lo, lo + width * top_level(self.params.bits))
        };
        // Levels far outside the range all look alike; 1e12 keeps the cast exact.
        let level = ((x - lo) / width).floor().clamp(-1e12, 1e12) as i64;
        let inside = (0..1i64 << self.params.bits).contains(&level);
        let magnitude = level.unsigned_abs();
        let bits = (self.params.bits as u32).max(64 - magnitude.leading_zeros());
        let base = if inside { 0 } else { OUTSIDE };
        // In the buffer of an earlier point's facts: no allocation per point.
        let mut facts = std::mem::take(&mut self.scratch.spare);
        facts.clear();
        facts.extend((0..bits).map(|b| base + 2 * b + ((magnitude >> b) & 1) as Fact));
        if level < 0 {
            facts.push(BELOW);
        }
        facts
    }

    /// The raw score of the point (before rest) and its score (after rest).
    pub(crate) fn raw_and_score(&mut self, x: f64) -> (f64, f64) {
        let i = self.seen;
        self.seen += 1;
        let fixed = self.params.input_min.is_some();
        if !fixed {
            self.seen_min = self.seen_min.min(x);
            self.seen_max = self.seen_max.max(x);
        }
        if self.recent.len() == self.params.replay.max(self.params.warmup).max(1) {
            self.recent.pop_front();
        }
        self.recent.push_back(x);
        let Some(mut scale) = self.scale else {
            if self.recent.len() >= self.params.warmup.max(1) {
                self.refit(self.recent.len());
            }
            return (0.0, 0.0);
        };
        if !fixed {
            // A value far outside the levels' range: re-cut the levels over everything seen
            // and relearn the recent points with them, then score the value against them
            // (a learned range only grows). A value just outside takes the nearest level.
            let (lo, width) = scale;
            let hi = lo + width * top_level(self.params.bits);
            let margin = self.params.rescale * (hi - lo);
            if x < lo - margin || x > hi + margin {
                self.refit(self.recent.len() - 1);
                scale = self.scale.unwrap_or(scale);
            }
        }
        let facts = self.facts(x, scale);
        let raw = self.learn(facts);
        if self.memory.contexts >= self.params.capacity {
            self.relearn(scale, self.recent.len());
        }
        if i < self.params.warmup {
            return (raw, 0.0);
        }
        let resting = self.last_high.is_some_and(|h| i - h <= self.params.rest);
        if raw >= self.params.rest_threshold {
            self.last_high = Some(i);
        }
        (raw, if resting { 0.0 } else { raw })
    }

    /// Cuts the levels over the range seen so far and relearns the first `count` recent
    /// points.
    fn refit(&mut self, count: usize) {
        let scale = Self::scale(self.params.bits, self.seen_min, self.seen_max);
        self.scale = Some(scale);
        self.relearn(scale, count);
    }

    /// Forgets every context and relearns the first `count` recent points.
    fn relearn(&mut self, scale: (f64, f64), count: usize) {
        self.memory = Memory::new();
        self.previous.clear();
        self.scratch = Scratch::default();
        let recent: Vec<f64> = self.recent.iter().take(count).copied().collect();
        for v in recent {
            let facts = self.facts(v, scale);
            self.learn(facts);
        }
    }

    /// Learns one point given its facts; returns its raw score.
    fn learn(&mut self, current: Vec<Fact>) -> f64 {
        let previous = std::mem::take(&mut self.previous);
        let mem = &mut self.memory;
        let s = &mut self.scratch;
        s.cut.clear();
        s.candidates.clear();
        s.lefts.clear();
        s.pairs_seen.clear();
        s.unique.clear();
        s.active.clear();
        // Stamps tell this point's cached right cuts from older ones; 0 is never current.
        s.stamp = s.stamp.wrapping_add(1).max(1);
        if s.stamp == 1 {
            s.right_cut.clear();
            s.marks.clear();
            s.held.clear();
        }

        // Which right sides hold now (there are few: subsets of the levels' facts).
        s.right_hits.resize(mem.right.len(), 0);
        s.right_full.resize(mem.right.len(), false);
        for &id in &s.touched_right {
            s.right_hits[id as usize] = 0;
            s.right_full[id as usize] = false;
        }
        s.touched_right.clear();
        for f in &current {
            for &id in mem.right_by_fact.get(f).into_iter().flatten() {
                if s.right_hits[id as usize] == 0 {
                    s.touched_right.push(id);
                }
                s.right_hits[id as usize] += 1;
            }
        }
        for &id in &s.touched_right {
            s.right_full[id as usize] =
                s.right_hits[id as usize] as usize == mem.right.get(id).len();
        }
        // Which left sides held wholly at the previous point. Each side is filed under its
        // largest fact (the most specific: a context id when it has one), so only sides whose
        // anchor held are checked, instead of every side sharing any fact; this keeps the
        // cost per point near the number of selected contexts, not of all contexts.
        // Membership in the previous point: a mark per context for its context facts (most of
        // them), a scan of its few value facts (which sort first) for the others.
        let value_facts = previous.partition_point(|&f| f < NEURON);
        s.held.resize(mem.contexts, 0);
        for &f in &previous[value_facts..] {
            s.held[(f ^ NEURON) as usize] = s.stamp;
        }
        let mut full_left = std::mem::take(&mut s.full_left);
        full_left.clear();
        mem.held_sides(
            &previous,
            value_facts,
            (&s.held, s.stamp),
            &mut s.maybe_left,
            &mut full_left,
        );
        // Sides made below are not in this list: they did not exist at the previous point.

        // The exact pair (previous facts, current facts).
        let mut exact_new = false;
        let mut exact_id = None;
        let mut exact = None;
        if !previous.is_empty() {
            let l = mem.side_id(true, &previous);
            let r = mem.side_id(false, &current);
            let (c, created) = mem.pair(l, r);
            let was_exact = mem.is_exact(c);
            mem.set_exact(c);
            mem.mark_exact(l);
            if !was_exact {
                mem.regroup(l);
            }
            exact_new = created;
            if created {
                exact_id = Some(c);
            }
            exact = Some(c);
        }
        // A right side made just now holds no fact of this point in these counts.
        s.right_hits.resize(mem.right.len(), 0);
        s.right_full.resize(mem.right.len(), false);
        s.words = mem.right.len().div_ceil(64);

        // Candidates are only gathered here and made below, in this order: making them now
        // would add contexts to the sides being read.
        let max_left = self.params.max_left;
        let max_active = self.params.max_active;
        let max_candidates = self.params.max_candidates;
        // What follows depends on the order of these sides only through the candidates, which
        // a new pair alone makes: the confirmed contexts are sorted on their own below.
        if exact_new {
            full_left.sort_unstable();
        }
        let mut tally = Tally {
            max_active,
            ..Tally::default()
        };
        let not_selected = exact_id.unwrap_or(u32::MAX);
        // Without a new pair (most points, once the series is known), only counting.
        let generalising: &[u32] = if exact_new {
            &full_left
        } else {
            tally.confirm_all(
                &full_left,
                &mut mem.left_contexts,
                &s.right_full,
                &mem.exact,
                &mut s.active,
            );
            &[]
        };
        for &l in generalising {
            let contexts = &mut mem.left_contexts[l as usize];
            let mut left_cut = None;
            // A point whose pair is not new reads no facts here.
            let generalise = exact_new
                && s.candidates.len() < max_candidates
                && mem.left.get(l).len() <= max_left;
            if !generalise {
                tally.confirm(
                    contexts,
                    not_selected,
                    &s.right_full,
                    &mem.exact,
                    &mut s.active,
                );
                continue;
            }
            let facts = mem.left.get(l);
            for [r, c, count] in contexts.iter_mut() {
                let (r, c) = (*r, *c);
                if c == not_selected {
                    continue;
                }
                // Counted without branching on the outcome, which is a toss-up.
                let full = s.right_full[r as usize];
                let exact = exact_bit(&mem.exact, c);
                tally.selected += 1;
                *count += full as u32;
                tally.confirmed += full as usize;
                let rank = rank(*count, exact, c);
                if full & (rank > tally.bar) {
                    tally.keep(rank, &mut s.active);
                } else if !full && exact && s.right_hits[r as usize] > 0 {
                    // Generalise: what this exact context shares with the new pair, when the
                    // pair was new (otherwise everything it could teach is known already).
                    let k = match left_cut {
                        Some(k) => k,
                        None => {
                            let start = s.cut.len() as u32;
                            s.cut.extend_from_slice(facts);
                            let k = s.new_left(start);
                            left_cut = Some(k);
                            k
                        }
                    };
                    s.candidate(k, r, mem.right.get(r), &current);
                }
            }
        }
        s.full_left = full_left;
        // Up to 32 facts (with the default 15 active contexts, always), its values inside the
        // range, the facts of the previous point are bits (value facts by number, context
        // facts by position).
        let small = previous.len() <= 32 && previous[..value_facts].iter().all(|&f| f < INSIDE);
        // Past `max_candidates` candidates, no more sides are visited: the oldest sides
        // generalise first.
        let more = exact_new && s.candidates.len() < max_candidates;
        if more && small {
            // Partly matched left sides generalise too, through their exact contexts: every
            // side holding one is counted against the previous point, so this is done only
            // for a new pair. The context facts each shares with it come from the index of
            // exact sides by context fact; its value facts are bits.
            let values = previous[..value_facts]
                .iter()
                .fold(0u16, |bits, &f| bits | 1 << f);
            s.shared.resize(mem.left.len(), 0);
            s.lists.clear();
            for (p, f) in previous.iter().enumerate().skip(value_facts) {
                let at = mem.exact_lists.get((f ^ NEURON) as usize).copied();
                if let Some(at) = at.filter(|&at| at != u32::MAX) {
                    s.lists.push([at, 0, p as u32]);
                }
            }
            s.left_cuts.clear();
            s.value_cuts.clear();
            // The sides sharing no context fact with the previous point make the candidates of
            // the first side of their group, which is the only one visited (the others come
            // after it and meet the same candidates again); those sharing some are visited
            // each. In the order of their ids, as the candidates are gathered, one bit per
            // side in `visit`, read word by word: in the order of ids without a sort.
            // The sides are marked a window of ids at a time, and no further than the window
            // where the candidates reach `max_candidates`: the lists of exact sides by context
            // fact are read up to the window's end, then the groups' members in it (a group's
            // first member that shares a context fact hands its turn to the next member).
            let words = mem.left.len().div_ceil(64);
            let mut visit = std::mem::take(&mut s.visit);
            visit.resize(words, 0);
            let mut firsts = std::mem::take(&mut s.firsts);
            firsts.resize(words, 0);
            s.group_at.resize(mem.groups.len(), 0);
            for (group, at) in mem.groups.iter().zip(&mut s.group_at) {
                let hits = (group.values & values).count_ones();
                if hits == 0 || (group.bare && hits == group.values.count_ones()) {
                    continue;
                }
                if let Some(&first) = group.members.first() {
                    firsts[first as usize / 64] |= 1 << (first % 64);
                    *at = 0;
                }
            }
            let mut w0 = 0;
            while w0 < words && s.candidates.len() < max_candidates {
                let w1 = (w0 + WINDOW).min(words);
                let end = (w1 * 64) as u32;
                for [at, next, p] in s.lists.iter_mut() {
                    let list = &mem.exact_by_context[*at as usize];
                    let mut i = *next as usize;
                    while let Some(&l) = list.get(i).filter(|&&l| l < end) {
                        let e = &mut s.shared[l as usize];
                        if *e == 0 {
                            s.shared_touched.push(l);
                            visit[l as usize / 64] |= 1 << (l % 64);
                        }
                        *e |= 1 << *p;
                        i += 1;
                    }
                    *next = i as u32;
                }
                for w in w0..w1 {
                    while firsts[w] != 0 {
                        let l = w * 64 + firsts[w].trailing_zeros() as usize;
                        firsts[w] &= firsts[w] - 1;
                        let g = mem.side_group[l] as usize;
                        let members = &mem.groups[g].members;
                        let mut at = s.group_at[g] as usize;
                        // Its members in order, up to the first that shares no context
                        // fact with the previous point, or past this window.
                        while let Some(&m) = members.get(at) {
                            if m >= end {
                                firsts[m as usize / 64] |= 1 << (m % 64);
                                s.group_at[g] = at as u32;
                                break;
                            }
                            if s.shared[m as usize] == 0 {
                                visit[m as usize / 64] |= 1 << (m % 64);
                                break;
                            }
                            at += 1;
                        }
                    }
                }
                for (w, word) in visit.iter_mut().enumerate().take(w1).skip(w0) {
                    // Taken whole: the bits past the cap are cleared too.
                    let mut word = std::mem::take(word);
                    while word != 0 && s.candidates.len() < max_candidates {
                        let l = w * 64 + word.trailing_zeros() as usize;
                        word &= word - 1;
                        let key = mem.left_values[l];
                        let len = (key >> 16) as usize;
                        let vs = key as u16 & values;
                        let cs = s.shared[l];
                        // One count of bits (without a popcount instruction in the baseline
                        // target).
                        let hits = ((vs as u64) << 32 | cs as u64).count_ones() as usize;
                        if hits == 0 || hits == len || hits > max_left {
                            continue;
                        }
                        let mut left_cut = None;
                        for &[r, c, _] in mem.left_contexts[l].iter() {
                            if Some(c) == exact_id || !mem.is_exact(c) {
                                continue;
                            }
                            if s.right_hits.get(r as usize).copied().unwrap_or(0) > 0 {
                                // Sides sharing the same facts with the previous point share
                                // one cut.
                                let k = match left_cut {
                                    Some(k) => k,
                                    None => {
                                        let k = s.shared_cut(vs, cs, &previous);
                                        left_cut = Some(k);
                                        k
                                    }
                                };
                                s.candidate(k, r, mem.right.get(r), &current);
                            }
                        }
                    }
                }
                w0 = w1;
            }
            // Group members past the window where the candidates were enough.
            firsts[w0..].fill(0);
            s.firsts = firsts;
            s.visit = visit;
            for &l in &s.shared_touched {
                s.shared[l as usize] = 0;
            }
            s.shared_touched.clear();
        } else if more {
            // As above, for points with facts beyond the bits: each side is read.
            for &l in &mem.exact_sides {
                if s.candidates.len() >= max_candidates {
                    break;
                }
                let l = l as usize;
                let facts = mem.left.get(l as u32);
                let mut hits = 0;
                for &f in facts {
                    if holds(&s.held, s.stamp, &previous[..value_facts], f) {
                        hits += 1;
                        if hits > max_left {
                            break;
                        }
                    }
                }
                if hits == 0 || hits == facts.len() || hits > max_left {
                    continue;
                }
                let mut left_cut = None;
                for &[r, c, _] in mem.left_contexts[l].iter() {
                    if Some(c) == exact_id || !mem.is_exact(c) {
                        continue;
                    }
                    if s.right_hits.get(r as usize).copied().unwrap_or(0) > 0 {
                        let k = match left_cut {
                            Some(k) => k,
                            None => {
                                let (start, _) = s.cut(facts, &previous);
                                let k = s.new_left(start);
                                left_cut = Some(k);
                                k
                            }
                        };
                        s.candidate(k, r, mem.right.get(r), &current);
                    }
                }
            }
        }

        // The best confirmed contexts become facts of the next point.
        let mut next = current;
        next.extend(s.active.iter().map(|&rank| NEURON | !(rank as u32)));
        next.sort_unstable();
        next.dedup();

        // A context is one pair of sides, so counting distinct candidates is counting
        // distinct contexts.
        // Left and right cuts are shared: their side ids are looked up once.
        let mut created = 0usize;
        s.right_ids.clear();
        for &[k, rs, re] in &s.candidates {
            let [ls, le, id] = &mut s.lefts[k as usize];
            let l = if *id != u32::MAX {
                *id
            } else {
                *id = mem.side_id(true, &s.cut[*ls as usize..*le as usize]);
                *id
            };
            let r = match s.right_ids.iter().find(|(range, _)| *range == [rs, re]) {
                Some(&(_, r)) => r,
                None => {
                    let r = mem.side_id(false, &s.cut[rs as usize..re as usize]);
                    s.right_ids.push(([rs, re], r));
                    r
                }
            };
            let (c, made) = mem.pair(l, r);
            if made {
                created += 1;
            }
            s.unique.push(c);
        }
        s.unique.extend(exact);
        // Distinct ids, counted with a mark per context rather than a sort.
        s.marks.resize(mem.contexts, 0);
        let mut distinct = 0usize;
        for &c in &s.unique {
            let mark = &mut s.marks[c as usize];
            if *mark != s.stamp {
                *mark = s.stamp;
                distinct += 1;
            }
        }
        if exact_new {
            created += 1;
        }
        self.previous = next;
        self.scratch.spare = previous;

        let confirmed = if tally.selected > 0 {
            tally.confirmed as f64 / tally.selected as f64
        } else {
            0.0
        };
        let new_share = if exact_new && distinct > 0 {
            created as f64 / distinct as f64
        } else {
            0.0
        };
        (1.0 - confirmed + new_share) / 2.0
    }
}

/// The positions of the set bits of `b`, lowest first.
fn bits(mut b: u64) -> impl Iterator<Item = Fact> {
    std::iter::from_fn(move || {
        (b != 0).then(|| {
            let i = b.trailing_zeros();
            b &= b - 1;
            i
        })
    })
}

/// Whether fact `f` held at the previous point, given the stamps of the contexts that did
/// (`held`, this point's `stamp`) and its value facts.
fn holds(held: &[u32], stamp: u32, values: &[Fact], f: Fact) -> bool {
    if f >= NEURON {
        held.get((f ^ NEURON) as usize) == Some(&stamp)
    } else {
        values.contains(&f)
    }
}

/// The selected and confirmed contexts of a point so far, and the rank a confirmed context
/// must beat to be kept (0 while there is room: every rank is above it).
#[derive(Debug, Default)]
struct Tally {
    selected: usize,
    confirmed: usize,
    bar: u128,
    /// The most contexts kept.
    max_active: usize,
}

impl Tally {
    /// Counts the contexts of a wholly held left side (`side`: (right side, context) pairs,
    /// without `not_selected`) that generalises nothing: each is confirmed when its right
    /// side holds wholly, and the best confirmed are kept in `active`. Counted without
    /// branching on the outcome, which is a toss-up.
    #[inline(never)]
    fn confirm(
        &mut self,
        side: &mut [[u32; 3]],
        not_selected: u32,
        right_full: &[bool],
        exact: &[u64],
        active: &mut Vec<u128>,
    ) {
        if not_selected == u32::MAX {
            self.count_side(side, right_full, exact, active);
            return;
        }
        let (mut selected, mut confirmed) = (self.selected, self.confirmed);
        for [r, c, count] in side {
            let (r, c) = (*r, *c);
            if c == not_selected {
                continue;
            }
            let full = right_full[r as usize];
            selected += 1;
            *count += full as u32;
            confirmed += full as usize;
            // Its rank if it were exact bounds its rank: most fall short of the bar on it,
            // without reading whether they are.
            if full & (rank(*count, true, c) > self.bar) {
                let rank = rank(*count, exact_bit(exact, c), c);
                if rank > self.bar {
                    self.keep(rank, active);
                }
            }
        }
        (self.selected, self.confirmed) = (selected, confirmed);
    }

    /// Counts the contexts of wholly held left sides `sides` (of `left_contexts`), when no
    /// context was made at this point, as [`Tally::confirm`] does, in one call.
    #[inline(never)]
    fn confirm_all(
        &mut self,
        sides: &[u32],
        left_contexts: &mut [SideContexts],
        right_full: &[bool],
        exact: &[u64],
        active: &mut Vec<u128>,
    ) {
        for &l in sides {
            self.count_side(&mut left_contexts[l as usize], right_full, exact, active);
        }
    }

    /// [`Tally::confirm`] when every context of `side` is selected.
    #[inline(always)]
    fn count_side(
        &mut self,
        side: &mut [[u32; 3]],
        right_full: &[bool],
        exact: &[u64],
        active: &mut Vec<u128>,
    ) {
        self.selected += side.len();
        let mut confirmed = 0;
        // The bar's times confirmed: a context confirmed fewer times ranks below it.
        let mut least = (self.bar >> 33) as u32;
        for [r, c, count] in side {
            let full = right_full[*r as usize] as u32;
            *count += full;
            confirmed += full as usize;
            if (full != 0) & (*count >= least) && rank(*count, true, *c) > self.bar {
                let rank = rank(*count, exact_bit(exact, *c), *c);
                if rank > self.bar {
                    self.keep(rank, active);
                    least = (self.bar >> 33) as u32;
                }
            }
        }
        self.confirmed += confirmed;
    }

    /// Keeps a confirmed context of rank `rank` (above the bar) among the best
    /// `max_active`, best first: which ones matters, not how the others rank.
    fn keep(&mut self, rank: u128, active: &mut Vec<u128>) {
        // Moved down from the end, without calling a copy for a few entries.
        if active.len() < self.max_active {
            active.push(rank);
        }
        let mut at = active.len() - 1;
        while at > 0 && active[at - 1] < rank {
            active[at] = active[at - 1];
            at -= 1;
        }
        active[at] = rank;
        if active.len() == self.max_active {
            self.bar = active[self.max_active - 1];
        }
    }
}

/// The rank of a confirmed context among those carried to the next point, higher first: the
/// more often confirmed, then an exact one, then the older (smaller id), which its low 32
/// bits hold inverted.
fn rank(count: u32, exact: bool, c: u32) -> u128 {
    ((count as u128) << 33) | ((exact as u128) << 32) | !c as u128
}

/// The highest level inside the range: `2^bits - 1`.
fn top_level(bits: usize) -> f64 {
    ((1u32 << bits) - 1) as f64
}

crate::detector::plain_set_arg!(Contextual);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::flagged;
    use crate::common::testing::prelude::*;
    use crate::common::testing::refused;

    /// A saw-tooth 0..8 repeated, whose rhythm breaks at 1,000 (a level skipped: the usual
    /// values in an unusual order) and which jumps far outside its range at 1,500.
    fn saw() -> (Vec<i64>, Vec<f64>) {
        let v: Vec<f64> = (0..2000)
            .map(|i| {
                if i == 1000 {
                    6.0
                } else if i >= 1500 {
                    40.0 + (i % 8) as f64
                } else {
                    (i % 8) as f64
                }
            })
            .collect();
        ((0..2000).collect(), v)
    }

    #[test]
    fn flags_a_broken_rhythm_and_a_jump_once_each() {
        let (ts, v) = saw();
        let det = ContextualParams::new().check().unwrap();
        let d = det.detect(&ts, &v).unwrap();
        assert_eq!(flagged(&d), vec![1000, 1500], "one alarm per change");
        assert!(
            d.scores[400..1000].iter().all(|&s| s < 0.5),
            "the usual rhythm is predicted"
        );
        assert!(d.scores[..120].iter().all(|&s| s == 0.0), "warm-up");
    }

    #[test]
    fn a_known_range_sets_the_levels() {
        // Over 0..47 the saw-tooth spans about one level out of eight: its rhythm is
        // invisible, the jump to 40 is not.
        let (ts, v) = saw();
        let det = ContextualParams::new()
            .input_range(0.0, 47.0)
            .check()
            .unwrap();
        let d = det.detect(&ts, &v).unwrap();
        assert_eq!(flagged(&d), vec![1500]);
    }

    #[test]
    fn learned_range_is_re_cut_when_values_leave_it() {
        let (ts, v) = saw();
        let det = ContextualParams::new().check().unwrap();
        let mut online = det.online_state();
        for i in 0..1600 {
            online.update(ts[i], v[i]).unwrap();
        }
        let (lo, width) = online.kernel().scale.unwrap();
        assert_eq!(lo, 0.0);
        // Re-cut at 1,500 (44 is far outside 0..7); 45 to 47 were near enough not to re-cut.
        assert!((width - 44.0 / 7.0).abs() < 1e-12, "{width}");
        assert!(online.kernel().recent.len() <= 500);
    }

    #[test]
    fn new_pairs_of_noise_gather_at_most_max_candidates() {
        // Noise over the eight levels: nearly every pair is new and generalises.
        let mut x = 12_345u64;
        let v: Vec<f64> = (0..1500)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                (x >> 33) as f64 / (1u64 << 31) as f64
            })
            .collect();
        let contexts = |cap: usize| {
            let det = ContextualParams::new().max_candidates(cap).check().unwrap();
            let mut online = det.online_state();
            for (i, &x) in v.iter().enumerate() {
                online.update(i as i64, x).unwrap();
            }
            online.kernel().memory.contexts
        };
        let (few, some, all) = (contexts(5), contexts(60), contexts(usize::MAX));
        assert!(
            few < some && some < all,
            "contexts made: {few}, {some}, {all}"
        );
        // Below the capacity: no relearn hid the difference.
        assert!(all < 20_000, "{all}");
    }

    /// The object holding `key` somewhere inside `v`.
    fn find<'a>(v: &'a mut serde_json::Value, key: &str) -> Option<&'a mut serde_json::Value> {
        if v.get(key).is_some() {
            return Some(v);
        }
        match v {
            serde_json::Value::Object(m) => m.values_mut().find_map(|x| find(x, key)),
            _ => None,
        }
    }

    #[test]
    fn facts_pack_and_unpack() {
        for f in [0, 15, OUTSIDE, BELOW, NEURON, NEURON | 12_345, u32::MAX] {
            assert_eq!(unpacked(packed(f)), Some(f));
        }
        assert_eq!(packed(NEURON | 7), -8);
        assert_eq!(unpacked(i64::from(NEURON)), None);
        assert_eq!(unpacked(-1 - i64::from(NEURON)), None);
    }

    /// Damages a kernel's snapshot in place.
    type Damage = fn(&mut serde_json::Value);

    #[test]
    fn a_damaged_snapshot_is_refused_not_a_panic_later() {
        use serde_json::json;
        for name in ["contextual", "default"] {
            let det = crate::registry::build(name, &serde_json::Map::new()).unwrap();
            let mut online = det.online();
            let (ts, vs) = saw();
            for (&t, &v) in ts.iter().zip(&vs).take(600) {
                online.update(t, v).unwrap();
            }
            let good: serde_json::Value =
                serde_json::from_str(&online.snapshot().unwrap()).unwrap();
            let damages: [(&str, Damage); 9] = [
                ("a number that is no fact", |k| {
                    k["memory"]["left_facts"][0] = json!(1u64 << 40);
                }),
                ("a context out of range", |k| {
                    k["memory"]["left_contexts"][1] = json!(1_000_000);
                }),
                ("a right side out of range", |k| {
                    k["memory"]["left_contexts"][0] = json!(1_000_000);
                }),
                ("a previous context out of range", |k| {
                    k["previous"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!(NEURON | 999_999));
                }),
                ("facts out of order", |k| {
                    k["previous"].as_array_mut().unwrap().reverse();
                }),
                ("a side repeated", |k| {
                    let m = &mut k["memory"];
                    let first = m["right_ends"][0].as_u64().unwrap() as usize;
                    let facts: Vec<_> = m["right_facts"].as_array().unwrap()[..first].to_vec();
                    m["right_facts"].as_array_mut().unwrap().extend(facts);
                    let end = m["right_facts"].as_array().unwrap().len();
                    m["right_ends"].as_array_mut().unwrap().push(json!(end));
                }),
                ("ends past their list", |k| {
                    let ends = k["memory"]["left_ends"].as_array_mut().unwrap();
                    let last = ends.last().unwrap().as_u64().unwrap();
                    *ends.last_mut().unwrap() = json!(last + 5);
                }),
                ("exact bits of other contexts", |k| {
                    k["memory"]["exact"].as_array_mut().unwrap().push(json!(0));
                }),
                ("a rest after the points seen", |k| {
                    k["last_high"] = json!(1_000_000);
                }),
            ];
            for (what, damage) in damages {
                let mut snap = good.clone();
                damage(find(&mut snap, "previous").unwrap());
                let mut restored = det.online();
                match restored.restore(&snap.to_string()) {
                    Err(DetectError::Snapshot(_)) => {}
                    other => panic!("{name}, {what}: {other:?}"),
                }
            }
            // The undamaged one restores and goes on.
            let mut restored = det.online();
            restored.restore(&good.to_string()).unwrap();
            restored.update(ts[600], vs[600]).unwrap();
        }
    }

    #[test]
    fn bad_params() {
        assert!(refused(ContextualParams::new().bits(0)));
        assert!(refused(ContextualParams::new().bits(9)));
        assert!(refused(ContextualParams::new().max_active(0)));
        assert!(refused(ContextualParams::new().max_candidates(0)));
        assert!(refused(ContextualParams::new().threshold(1.5)));
        assert!(refused(ContextualParams::new().rescale(0.0)));
        assert!(refused(ContextualParams::new().capacity(4)));
        assert!(refused(ContextualParams::new().input_range(2.0, 1.0)));
        assert!(refused(ContextualParams::new().input_range(f64::NAN, 1.0)));
        // A constant range is fine: one level.
    }
}
