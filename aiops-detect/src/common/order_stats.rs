//! Order statistics over a sliding window (O(log w) insert, remove, rank).
//!
//! [`OrderStats`] is a multiset of `f64` answering "how many values are below x" (rank) and
//! "what is the k-th smallest value" (select) in O(log n). The rolling quantile, IQR, median /
//! MAD, Hampel, level-shift and persist detectors use it; it is public so other detectors can
//! too.
//!
//! # Structure
//!
//! A counted B+tree: the values sit in sorted leaf arrays of at most 64 (at least 16 except
//! in a lone root leaf), and each inner node keeps, for each of its at most 32 children, the
//! number of values below it and its smallest value. Select walks down by the counts, rank and
//! insertion by the minima, and each level costs a short scan or binary search of one small
//! array: O(log n) per operation with small constants, since a window of 500 values is a
//! single inner node over a dozen leaves. Leaves are linked in order for iteration. Nodes
//! live in arenas with free lists, so memory stays proportional to the largest size reached.
//!
//! Why not the alternatives: a Fenwick tree over value ranks needs the values in advance; a
//! sorted `Vec` or sorted blocks cost O(w) or O(√w) per update; balanced binary trees (a treap
//! was the first version) and skiplists have the same bounds but chase a pointer and mispredict
//! a branch per level, about four times slower here.
//!
//! Values are ordered by [`f64::total_cmp`], so the order is total even though detectors only
//! ever insert finite values; removal matches by that order, so `-0.0` and `0.0` are different
//! values (remove exactly what was inserted).
//!
//! # Serialisation
//!
//! The tree shape is an implementation detail (its answers do not depend on it), so an
//! [`OrderStats`] serialises as its sorted values and a [`RollingOrderStats`] as its capacity
//! and its values in arrival order; deserialising rebuilds the tree in O(n log n).

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Most values in a leaf; a leaf that outgrows it splits in two.
const LEAF_CAP: usize = 64;
/// Fewest values in a leaf other than a lone root; below it, a leaf borrows from or merges
/// with a sibling.
const LEAF_MIN: usize = LEAF_CAP / 4;
/// Most children of an inner node.
const INNER_CAP: usize = 32;
/// Fewest children of an inner node other than the root.
const INNER_MIN: usize = INNER_CAP / 4;
/// "No leaf" in the leaf chain.
const NIL: u32 = u32::MAX;

fn lt(a: f64, b: f64) -> bool {
    a.total_cmp(&b) == Ordering::Less
}

fn le(a: f64, b: f64) -> bool {
    a.total_cmp(&b) != Ordering::Greater
}

#[derive(Debug, Clone, Default)]
struct Leaf {
    vals: Vec<f64>,
    next: u32,
}

#[derive(Debug, Clone, Default)]
struct Inner {
    children: Vec<u32>,
    /// Values under each child.
    counts: Vec<usize>,
    /// Smallest value under each child (non-decreasing, as the children are in order).
    mins: Vec<f64>,
}

/// A multiset of `f64` with O(log n) insert, remove, rank and select (a counted B+tree; see
/// the module docs).
///
/// ```
/// use aiops_detect::common::order_stats::OrderStats;
/// let mut s = OrderStats::new();
/// for x in [5.0, 1.0, 4.0, 1.0, 3.0] {
///     s.insert(x);
/// }
/// assert_eq!(s.select(0), Some(1.0));
/// assert_eq!(s.median(), Some(3.0));
/// assert_eq!(s.rank(4.0), 3, "three values below 4");
/// assert!(s.remove(1.0));
/// assert_eq!(s.len(), 4);
/// ```
#[derive(Clone)]
pub struct OrderStats {
    leaves: Vec<Leaf>,
    inners: Vec<Inner>,
    free_leaves: Vec<u32>,
    free_inners: Vec<u32>,
    root: u32,
    /// Inner levels above the leaves (0: the root is a leaf).
    height: usize,
    len: usize,
}

impl Default for OrderStats {
    fn default() -> Self {
        Self::new()
    }
}

impl OrderStats {
    /// An empty multiset.
    pub fn new() -> Self {
        Self {
            leaves: vec![Leaf {
                vals: Vec::new(),
                next: NIL,
            }],
            inners: Vec::new(),
            free_leaves: Vec::new(),
            free_inners: Vec::new(),
            root: 0,
            height: 0,
            len: 0,
        }
    }

    /// An empty multiset with room for about `n` values before it reallocates.
    pub fn with_capacity(n: usize) -> Self {
        let mut s = Self::new();
        s.leaves[0].vals.reserve(n.min(LEAF_CAP + 1));
        s.leaves.reserve(n / LEAF_MIN);
        s
    }

    /// Number of values (with multiplicity).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes every value.
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// Adds one occurrence of `value`. O(log n).
    ///
    /// # Panics
    ///
    /// When the arenas outgrow `u32` indices (far beyond any window).
    pub fn insert(&mut self, value: f64) {
        if let Some((right, count, min)) = self.insert_at(self.root, self.height, value) {
            // The root split: a new root above the two halves.
            let left = self.root;
            let left_min = self.node_min(left, self.height);
            let total = self.len + 1;
            self.root = self.alloc_inner(Inner {
                children: vec![left, right],
                counts: vec![total - count, count],
                mins: vec![left_min, min],
            });
            self.height += 1;
        }
        self.len += 1;
    }

    /// Removes one occurrence of `value` (compared with [`f64::total_cmp`]); `false` if there
    /// was none. O(log n).
    pub fn remove(&mut self, value: f64) -> bool {
        if !self.remove_at(self.root, self.height, value) {
            return false;
        }
        self.len -= 1;
        while self.height > 0 && self.inners[self.root as usize].children.len() == 1 {
            let old = self.root;
            self.root = self.inners[old as usize].children[0];
            self.free_inners.push(old);
            self.height -= 1;
        }
        true
    }

    /// The `k`-th smallest value, counting from 0 (`select(0)` is the minimum); `None` when
    /// `k >= len()`. O(log n).
    pub fn select(&self, mut k: usize) -> Option<f64> {
        if k >= self.len {
            return None;
        }
        let mut node = self.root;
        for _ in 0..self.height {
            let inner = &self.inners[node as usize];
            let mut i = 0;
            while k >= inner.counts[i] {
                k -= inner.counts[i];
                i += 1;
            }
            node = inner.children[i];
        }
        self.leaves[node as usize].vals.get(k).copied()
    }

    /// Number of values strictly below `value`. O(log n).
    pub fn rank(&self, value: f64) -> usize {
        self.count_below(|v| lt(v, value))
    }

    /// Number of values at or below `value`. O(log n).
    pub fn rank_inclusive(&self, value: f64) -> usize {
        self.count_below(|v| le(v, value))
    }

    /// The smallest value.
    pub fn min(&self) -> Option<f64> {
        self.select(0)
    }

    /// The largest value.
    pub fn max(&self) -> Option<f64> {
        self.len().checked_sub(1).and_then(|k| self.select(k))
    }

    /// The `q`-quantile (`q` in [0, 1], clamped) with linear interpolation between the two
    /// nearest ranks: position `(n - 1) q` in the sorted values, as numpy's and pandas' default
    /// (`linear`). `None` when empty. O(log n).
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
        let lo = (h.floor() as usize).min(n - 1);
        let frac = h - lo as f64;
        let a = self.select(lo)?;
        if frac <= 0.0 || lo + 1 >= n {
            return Some(a);
        }
        let b = self.select(lo + 1)?;
        // Rounding in (b - a) * frac could step past b; the result must stay between them.
        Some((a + (b - a) * frac).clamp(a, b))
    }

    /// The median (mean of the two middle values when the count is even). O(log n).
    pub fn median(&self) -> Option<f64> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        let hi = self.select(n / 2)?;
        if n % 2 == 1 {
            Some(hi)
        } else {
            let lo = self.select(n / 2 - 1)?;
            Some(lo + (hi - lo) / 2.0)
        }
    }

    /// The `k`-th smallest (from 0) distance `|x - center|` over the values, and the next one
    /// (the `k + 1`-th) when there is one. `None` when `k >= len()`.
    ///
    /// The values below `center`, read downwards, and the values from `center` up, read
    /// upwards, are two sorted lists of distances, each readable at any position by one
    /// `select`. The `k + 1` smallest distances are a prefix of each list; a binary search on
    /// how many come from the lower list finds the split in O(log n) steps of O(1) selects:
    /// O(log² n) in all, with no copy of the window. This is how an exact rolling MAD costs
    /// O(log² w) per point.
    pub fn kth_distance(&self, center: f64, k: usize) -> Option<(f64, Option<f64>)> {
        let n = self.len();
        if k >= n {
            return None;
        }
        let n_low = self.rank(center);
        let n_high = n - n_low;
        // Distance of the i-th nearest value below / at-or-above the centre. Subtraction is
        // monotone under rounding, so both lists stay sorted in floating point.
        let low = |i: usize| self.select(n_low - 1 - i).map(|v| center - v);
        let high = |j: usize| self.select(n_low + j).map(|v| v - center);
        let c = k + 1;
        let (mut lo, mut hi) = (c.saturating_sub(n_high), c.min(n_low));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            // More of the lower list belongs to the c smallest while its next distance is
            // below the last one taken from the upper list.
            if low(mid)? < high(c - mid - 1)? {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let i = lo;
        let last_low = if i > 0 { low(i - 1) } else { None };
        let last_high = if c - i > 0 { high(c - i - 1) } else { None };
        let kth = match (last_low, last_high) {
            (Some(a), Some(b)) => a.max(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => return None,
        };
        let next_low = if i < n_low { low(i) } else { None };
        let next_high = if c - i < n_high { high(c - i) } else { None };
        let next = match (next_low, next_high) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Some((kth, next))
    }

    /// The values in ascending order.
    pub fn iter(&self) -> Iter<'_> {
        let mut node = self.root;
        for _ in 0..self.height {
            node = self.inners[node as usize].children[0];
        }
        Iter {
            stats: self,
            leaf: node,
            pos: 0,
        }
    }

    /// Counts the values for which `below` holds, `below` being true on a prefix of the
    /// sorted values.
    fn count_below(&self, below: impl Fn(f64) -> bool) -> usize {
        let mut acc = 0;
        let mut node = self.root;
        for _ in 0..self.height {
            let inner = &self.inners[node as usize];
            // Children before the last one starting below hold only values below; those after
            // it, none.
            let p = inner.mins.partition_point(|&m| below(m));
            if p == 0 {
                return acc;
            }
            acc += inner.counts[..p - 1].iter().sum::<usize>();
            node = inner.children[p - 1];
        }
        acc + self.leaves[node as usize]
            .vals
            .partition_point(|&v| below(v))
    }

    /// Smallest value under a non-empty node.
    fn node_min(&self, node: u32, level: usize) -> f64 {
        if level == 0 {
            self.leaves[node as usize].vals[0]
        } else {
            self.inners[node as usize].mins[0]
        }
    }

    /// Entries of a node: values of a leaf, children of an inner node.
    fn node_size(&self, node: u32, level: usize) -> usize {
        if level == 0 {
            self.leaves[node as usize].vals.len()
        } else {
            self.inners[node as usize].children.len()
        }
    }

    fn alloc_leaf(&mut self, next: u32) -> u32 {
        if let Some(id) = self.free_leaves.pop() {
            let leaf = &mut self.leaves[id as usize];
            leaf.vals.clear();
            leaf.next = next;
            id
        } else {
            let id = arena_index(self.leaves.len());
            self.leaves.push(Leaf {
                vals: Vec::with_capacity(LEAF_CAP + 1),
                next,
            });
            id
        }
    }

    fn alloc_inner(&mut self, inner: Inner) -> u32 {
        if let Some(id) = self.free_inners.pop() {
            self.inners[id as usize] = inner;
            id
        } else {
            let id = arena_index(self.inners.len());
            self.inners.push(inner);
            id
        }
    }

    /// Inserts into the subtree of `node` (`level` 0: a leaf); when the node splits, returns
    /// the new right sibling with its count and smallest value.
    fn insert_at(&mut self, node: u32, level: usize, x: f64) -> Option<(u32, usize, f64)> {
        if level == 0 {
            let vals = &mut self.leaves[node as usize].vals;
            let pos = vals.partition_point(|&v| le(v, x));
            vals.insert(pos, x);
            if vals.len() <= LEAF_CAP {
                return None;
            }
            let next = self.leaves[node as usize].next;
            let id = self.alloc_leaf(next);
            let mut right = std::mem::take(&mut self.leaves[id as usize].vals);
            let left = &mut self.leaves[node as usize];
            let half = left.vals.len() / 2;
            right.extend_from_slice(&left.vals[half..]);
            left.vals.truncate(half);
            left.next = id;
            let (count, min) = (right.len(), right[0]);
            self.leaves[id as usize].vals = right;
            return Some((id, count, min));
        }
        let inner = &self.inners[node as usize];
        // The last child starting at or below x (or the first): keeps the values in order.
        let i = inner.mins.partition_point(|&m| le(m, x)).saturating_sub(1);
        let child = inner.children[i];
        let split = self.insert_at(child, level - 1, x);
        let inner = &mut self.inners[node as usize];
        inner.counts[i] += 1;
        if lt(x, inner.mins[i]) {
            inner.mins[i] = x;
        }
        let (id, count, min) = split?;
        inner.counts[i] -= count;
        inner.children.insert(i + 1, id);
        inner.counts.insert(i + 1, count);
        inner.mins.insert(i + 1, min);
        if inner.children.len() <= INNER_CAP {
            return None;
        }
        let half = inner.children.len() / 2;
        let right = Inner {
            children: inner.children.split_off(half),
            counts: inner.counts.split_off(half),
            mins: inner.mins.split_off(half),
        };
        let (count, min) = (right.counts.iter().sum(), right.mins[0]);
        Some((self.alloc_inner(right), count, min))
    }

    /// Removes one `x` from the subtree of `node`; whether there was one.
    fn remove_at(&mut self, node: u32, level: usize, x: f64) -> bool {
        if level == 0 {
            let vals = &mut self.leaves[node as usize].vals;
            let pos = vals.partition_point(|&v| lt(v, x));
            if pos < vals.len() && vals[pos].total_cmp(&x) == Ordering::Equal {
                vals.remove(pos);
                return true;
            }
            return false;
        }
        let inner = &self.inners[node as usize];
        // If x is present, the last child starting at or below it holds one.
        let p = inner.mins.partition_point(|&m| le(m, x));
        if p == 0 {
            return false;
        }
        let i = p - 1;
        if !self.remove_at(inner.children[i], level - 1, x) {
            return false;
        }
        self.inners[node as usize].counts[i] -= 1;
        self.fix_child(node, level, i);
        true
    }

    /// After a removal under child `i` of `node`: refreshes its minimum, and refills it from a
    /// sibling if it fell below the minimum size.
    fn fix_child(&mut self, node: u32, level: usize, i: usize) {
        let child = self.inners[node as usize].children[i];
        let size = self.node_size(child, level - 1);
        if size > 0 {
            self.inners[node as usize].mins[i] = self.node_min(child, level - 1);
        }
        let least = if level == 1 { LEAF_MIN } else { INNER_MIN };
        let n = self.inners[node as usize].children.len();
        if size >= least || n < 2 {
            return;
        }
        let l = if i + 1 < n { i } else { i - 1 };
        if level == 1 {
            self.rebalance_leaves(node, l);
        } else {
            self.rebalance_inners(node, l);
        }
    }

    /// Merges leaf children `l` and `l + 1` of `node`, or evens them out when too full to
    /// merge.
    fn rebalance_leaves(&mut self, node: u32, l: usize) {
        let (a, b) = {
            let inner = &self.inners[node as usize];
            (inner.children[l], inner.children[l + 1])
        };
        let mut right = std::mem::take(&mut self.leaves[b as usize].vals);
        let b_next = self.leaves[b as usize].next;
        let left = &mut self.leaves[a as usize];
        let total = left.vals.len() + right.len();
        if total <= LEAF_CAP {
            left.vals.extend_from_slice(&right);
            left.next = b_next;
            right.clear();
            self.leaves[b as usize].vals = right;
            self.free_leaves.push(b);
            let inner = &mut self.inners[node as usize];
            inner.counts[l] = total;
            inner.children.remove(l + 1);
            inner.counts.remove(l + 1);
            inner.mins.remove(l + 1);
            if total > 0 {
                inner.mins[l] = self.leaves[a as usize].vals[0];
            }
            return;
        }
        let half = total / 2;
        if left.vals.len() > half {
            right.splice(0..0, left.vals.drain(half..));
        } else {
            let moved = half - left.vals.len();
            left.vals.extend(right.drain(..moved));
        }
        let (count_a, min_a) = (left.vals.len(), left.vals[0]);
        let (count_b, min_b) = (right.len(), right[0]);
        self.leaves[b as usize].vals = right;
        let inner = &mut self.inners[node as usize];
        inner.counts[l] = count_a;
        inner.counts[l + 1] = count_b;
        inner.mins[l] = min_a;
        inner.mins[l + 1] = min_b;
    }

    /// Merges inner children `l` and `l + 1` of `node`, or evens them out when too full to
    /// merge.
    fn rebalance_inners(&mut self, node: u32, l: usize) {
        let (a, b) = {
            let inner = &self.inners[node as usize];
            (inner.children[l], inner.children[l + 1])
        };
        let mut right = std::mem::take(&mut self.inners[b as usize]);
        let left = &mut self.inners[a as usize];
        let total = left.children.len() + right.children.len();
        if total <= INNER_CAP {
            left.children.append(&mut right.children);
            left.counts.append(&mut right.counts);
            left.mins.append(&mut right.mins);
            let (count, min) = (left.counts.iter().sum(), left.mins[0]);
            self.free_inners.push(b);
            let inner = &mut self.inners[node as usize];
            inner.counts[l] = count;
            inner.mins[l] = min;
            inner.children.remove(l + 1);
            inner.counts.remove(l + 1);
            inner.mins.remove(l + 1);
            return;
        }
        let half = total / 2;
        if left.children.len() > half {
            right.children.splice(0..0, left.children.drain(half..));
            right.counts.splice(0..0, left.counts.drain(half..));
            right.mins.splice(0..0, left.mins.drain(half..));
        } else {
            let moved = half - left.children.len();
            left.children.extend(right.children.drain(..moved));
            left.counts.extend(right.counts.drain(..moved));
            left.mins.extend(right.mins.drain(..moved));
        }
        let (count_a, min_a) = (left.counts.iter().sum(), left.mins[0]);
        let (count_b, min_b) = (right.counts.iter().sum(), right.mins[0]);
        self.inners[b as usize] = right;
        let inner = &mut self.inners[node as usize];
        inner.counts[l] = count_a;
        inner.counts[l + 1] = count_b;
        inner.mins[l] = min_a;
        inner.mins[l + 1] = min_b;
    }
}

fn arena_index(len: usize) -> u32 {
    u32::try_from(len)
        .ok()
        .filter(|&i| i != NIL)
        .expect("OrderStats arena outgrew u32 indices")
}

impl fmt::Debug for OrderStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for OrderStats {
    /// Equal when they hold the same values (bitwise, with multiplicity), whatever the shape.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|(a, b)| a.total_cmp(&b) == Ordering::Equal)
    }
}

impl FromIterator<f64> for OrderStats {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
        let mut s = OrderStats::new();
        for x in iter {
            s.insert(x);
        }
        s
    }
}

impl Serialize for OrderStats {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for OrderStats {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let values = Vec::<f64>::deserialize(deserializer)?;
        Ok(values.into_iter().collect())
    }
}

/// Ascending iterator over an [`OrderStats`] (made by [`OrderStats::iter`]).
#[derive(Debug)]
pub struct Iter<'a> {
    stats: &'a OrderStats,
    leaf: u32,
    pos: usize,
}

impl Iterator for Iter<'_> {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        while self.leaf != NIL {
            let leaf = &self.stats.leaves[self.leaf as usize];
            if let Some(&v) = leaf.vals.get(self.pos) {
                self.pos += 1;
                return Some(v);
            }
            self.leaf = leaf.next;
            self.pos = 0;
        }
        None
    }
}

/// The last `capacity` values of a stream, in arrival order and as an [`OrderStats`]: pushing
/// a value evicts the oldest once full. O(log w) per push.
///
/// ```
/// use aiops_detect::common::order_stats::RollingOrderStats;
/// let mut w = RollingOrderStats::new(3);
/// for x in [1.0, 9.0, 5.0] {
///     assert_eq!(w.push(x), None);
/// }
/// assert_eq!(w.push(7.0), Some(1.0), "evicts the oldest");
/// assert_eq!(w.stats().median(), Some(7.0));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RollingOrderStats {
    capacity: usize,
    fifo: VecDeque<f64>,
    tree: OrderStats,
}

impl RollingOrderStats {
    /// An empty window holding at most `capacity` values (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            fifo: VecDeque::with_capacity(capacity),
            tree: OrderStats::with_capacity(capacity),
        }
    }

    /// Appends `value`, returning the value evicted to make room, if any.
    pub fn push(&mut self, value: f64) -> Option<f64> {
        let evicted = if self.fifo.len() == self.capacity {
            let old = self.fifo.pop_front();
            if let Some(old) = old {
                self.tree.remove(old);
            }
            old
        } else {
            None
        };
        self.fifo.push_back(value);
        self.tree.insert(value);
        evicted
    }

    /// Replaces the value at `index` (0 = oldest) by `value`, keeping its place in the arrival
    /// order; returns the old value, or `None` (and changes nothing) when out of range.
    pub fn replace(&mut self, index: usize, value: f64) -> Option<f64> {
        let slot = self.fifo.get_mut(index)?;
        let old = std::mem::replace(slot, value);
        self.tree.remove(old);
        self.tree.insert(value);
        Some(old)
    }

    /// The values in arrival order (oldest first).
    pub fn values(&self) -> &VecDeque<f64> {
        &self.fifo
    }

    /// The values as an order-statistic multiset.
    pub fn stats(&self) -> &OrderStats {
        &self.tree
    }

    /// Number of values held.
    pub fn len(&self) -> usize {
        self.fifo.len()
    }

    /// Whether it holds no value.
    pub fn is_empty(&self) -> bool {
        self.fifo.is_empty()
    }

    /// Whether it holds `capacity` values.
    pub fn is_full(&self) -> bool {
        self.fifo.len() == self.capacity
    }

    /// The most values it holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Forgets every value.
    pub fn clear(&mut self) {
        self.fifo.clear();
        self.tree.clear();
    }
}

#[derive(Serialize)]
struct RollingRef<'a> {
    capacity: usize,
    values: &'a VecDeque<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollingOwned {
    capacity: usize,
    values: VecDeque<f64>,
}

impl Serialize for RollingOrderStats {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RollingRef {
            capacity: self.capacity,
            values: &self.fifo,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RollingOrderStats {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let RollingOwned { capacity, values } = RollingOwned::deserialize(deserializer)?;
        if capacity == 0 || values.len() > capacity {
            return Err(D::Error::custom(format!(
                "a rolling window of capacity {capacity} cannot hold {} values",
                values.len()
            )));
        }
        let tree = values.iter().copied().collect();
        let mut fifo = values;
        fifo.reserve(capacity - fifo.len());
        Ok(Self {
            capacity,
            fifo,
            tree,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic uniform integers in 0..m (small LCG; tests need no RNG crate).
    fn lcg(seed: u64) -> impl FnMut(u64) -> u64 {
        let mut s = seed;
        move |m| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 33) % m
        }
    }

    fn naive_quantile(sorted: &[f64], q: f64) -> f64 {
        let h = (sorted.len() - 1) as f64 * q;
        let lo = h.floor() as usize;
        let frac = h - lo as f64;
        if lo + 1 >= sorted.len() || frac == 0.0 {
            sorted[lo]
        } else {
            sorted[lo] + (sorted[lo + 1] - sorted[lo]) * frac
        }
    }

    fn naive_kth_distance(sorted: &[f64], c: f64, k: usize) -> f64 {
        let mut d: Vec<f64> = sorted.iter().map(|&x| (x - c).abs()).collect();
        d.sort_by(f64::total_cmp);
        d[k]
    }

    #[test]
    fn matches_a_sorted_vec_on_random_operations() {
        let mut rnd = lcg(42);
        let mut s = OrderStats::new();
        let mut naive: Vec<f64> = Vec::new();
        for step in 0..20_000 {
            // Few distinct values, so duplicates are common.
            let x = (rnd(200) as f64 - 100.0) / 4.0;
            let op = rnd(10);
            if op < 5 || naive.is_empty() {
                s.insert(x);
                let at = naive.partition_point(|&v| v < x);
                naive.insert(at, x);
            } else if op < 8 {
                // Remove a present value...
                let v = naive[rnd(naive.len() as u64) as usize];
                assert!(s.remove(v));
                let at = naive.iter().position(|&y| y == v).unwrap();
                naive.remove(at);
            } else {
                // ...or maybe an absent one.
                let present = naive.contains(&x);
                assert_eq!(s.remove(x), present);
                if present {
                    let at = naive.iter().position(|&y| y == x).unwrap();
                    naive.remove(at);
                }
            }
            assert_eq!(s.len(), naive.len());
            if step % 97 == 0 {
                assert_eq!(s.iter().collect::<Vec<_>>(), naive);
                check_tree(&s);
            }
            if naive.is_empty() {
                assert_eq!(s.select(0), None);
                assert_eq!(s.median(), None);
                continue;
            }
            let k = rnd(naive.len() as u64) as usize;
            assert_eq!(s.select(k), Some(naive[k]));
            assert_eq!(s.select(naive.len()), None);
            assert_eq!(s.rank(x), naive.partition_point(|&v| v < x));
            assert_eq!(s.rank_inclusive(x), naive.partition_point(|&v| v <= x));
            let q = rnd(1001) as f64 / 1000.0;
            assert_eq!(s.quantile(q), Some(naive_quantile(&naive, q)));
            assert_eq!(s.min(), naive.first().copied());
            assert_eq!(s.max(), naive.last().copied());
            let c = (rnd(240) as f64 - 120.0) / 4.0 + 0.125 * rnd(2) as f64;
            let k = rnd(naive.len() as u64) as usize;
            let (kth, next) = s.kth_distance(c, k).unwrap();
            assert_eq!(kth, naive_kth_distance(&naive, c, k), "c={c} k={k}");
            assert_eq!(
                next,
                (k + 1 < naive.len()).then(|| naive_kth_distance(&naive, c, k + 1))
            );
            assert_eq!(s.kth_distance(c, naive.len()), None);
        }
    }

    #[test]
    fn median_and_distances_on_small_sets() {
        let s: OrderStats = [3.0, 1.0, 2.0, 10.0].into_iter().collect();
        assert_eq!(s.median(), Some(2.5));
        // Distances from 2.5: 0.5, 0.5, 1.5, 7.5.
        assert_eq!(s.kth_distance(2.5, 1), Some((0.5, Some(1.5))));
        assert_eq!(s.kth_distance(2.5, 3), Some((7.5, None)));
        // Centre outside the values: every distance comes from one side.
        assert_eq!(s.kth_distance(-1.0, 0), Some((2.0, Some(3.0))));
        assert_eq!(s.kth_distance(20.0, 0), Some((10.0, Some(17.0))));
        assert_eq!(OrderStats::new().kth_distance(0.0, 0), None);
        assert_eq!(OrderStats::new().quantile(0.5), None);
    }

    /// Checks the B+tree invariants below `node`; returns (count, min, max).
    fn check_node(s: &OrderStats, node: u32, level: usize, root: bool) -> (usize, f64, f64) {
        if level == 0 {
            let v = &s.leaves[node as usize].vals;
            assert!(v.len() <= LEAF_CAP);
            assert!(root || v.len() >= LEAF_MIN, "leaf of {}", v.len());
            assert!(v.windows(2).all(|w| le(w[0], w[1])));
            return (v.len(), v[0], v[v.len() - 1]);
        }
        let inner = &s.inners[node as usize];
        let n = inner.children.len();
        assert!(n <= INNER_CAP && n == inner.counts.len() && n == inner.mins.len());
        assert!(if root { n >= 2 } else { n >= INNER_MIN }, "inner of {n}");
        let mut total = 0;
        let mut last = f64::NEG_INFINITY;
        for i in 0..n {
            let (count, min, max) = check_node(s, inner.children[i], level - 1, false);
            assert_eq!(count, inner.counts[i]);
            assert_eq!(min, inner.mins[i]);
            assert!(le(last, min));
            last = max;
            total += count;
        }
        (total, inner.mins[0], last)
    }

    fn check_tree(s: &OrderStats) {
        if s.is_empty() {
            assert_eq!(s.height, 0);
            return;
        }
        let (count, _, _) = check_node(s, s.root, s.height, true);
        assert_eq!(count, s.len());
        assert_eq!(s.iter().count(), s.len());
    }

    #[test]
    fn invariants_hold_through_growth_and_shrinkage() {
        let mut rnd = lcg(8);
        let mut s = OrderStats::new();
        let mut present = Vec::new();
        // Grow to several levels, shrink to nothing, grow again.
        for round in 0..2 {
            for i in 0..40_000 {
                let x = if round == 0 {
                    i as f64
                } else {
                    rnd(5000) as f64
                };
                s.insert(x);
                present.push(x);
                if i % 4999 == 0 {
                    check_tree(&s);
                }
            }
            assert!(s.height >= 2, "height {}", s.height);
            while !present.is_empty() {
                let k = rnd(present.len() as u64) as usize;
                assert!(s.remove(present.swap_remove(k)));
                if present.len() % 4999 == 0 {
                    check_tree(&s);
                }
            }
            assert!(s.is_empty() && s.iter().next().is_none());
        }
        // Sorted insertions (a trend) keep the tree shallow.
        for i in 0..100_000 {
            s.insert(i as f64);
        }
        check_tree(&s);
        assert!(s.height <= 4, "height {}", s.height);
    }

    #[test]
    fn arena_stays_bounded_on_a_sliding_window() {
        let mut w = RollingOrderStats::new(500);
        let mut rnd = lcg(5);
        for _ in 0..100_000 {
            w.push(rnd(1000) as f64);
        }
        assert_eq!(w.len(), 500);
        let t = w.stats();
        check_tree(t);
        assert!(
            t.leaves.len() <= 500 / LEAF_MIN + 2,
            "{} leaves",
            t.leaves.len()
        );
        assert!(t.inners.len() <= 2, "{} inner nodes", t.inners.len());
    }

    #[test]
    fn rolling_window_evicts_replaces_and_round_trips() {
        let mut w = RollingOrderStats::new(4);
        for x in [4.0, 8.0, 1.0, 6.0] {
            assert_eq!(w.push(x), None);
        }
        assert!(w.is_full());
        assert_eq!(w.push(2.0), Some(4.0));
        assert_eq!(
            w.values().iter().copied().collect::<Vec<_>>(),
            [8.0, 1.0, 6.0, 2.0]
        );
        assert_eq!(w.replace(0, 0.5), Some(8.0));
        assert_eq!(w.replace(9, 0.5), None);
        assert_eq!(w.stats().iter().collect::<Vec<_>>(), [0.5, 1.0, 2.0, 6.0]);
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(json, r#"{"capacity":4,"values":[0.5,1.0,6.0,2.0]}"#);
        let back: RollingOrderStats = serde_json::from_str(&json).unwrap();
        assert_eq!(back, w);
        assert_eq!(back.push_clone(3.0), Some(0.5));
        assert!(
            serde_json::from_str::<RollingOrderStats>(r#"{"capacity":1,"values":[1,2]}"#).is_err()
        );
        assert!(
            serde_json::from_str::<RollingOrderStats>(r#"{"capacity":0,"values":[]}"#).is_err()
        );
        let s: OrderStats = [2.0, -1.0, 2.0].into_iter().collect();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "[-1.0,2.0,2.0]");
        assert_eq!(serde_json::from_str::<OrderStats>(&json).unwrap(), s);
        assert_eq!(format!("{s:?}"), "[-1.0, 2.0, 2.0]");
        w.clear();
        assert!(w.is_empty() && w.stats().is_empty());
    }

    impl RollingOrderStats {
        fn push_clone(&self, x: f64) -> Option<f64> {
            self.clone().push(x)
        }
    }
}
