//! Order statistics over a sliding window (O(log w) insert, remove, rank).
//!
//! [`OrderStats`] is a multiset of `f64` answering "how many values are below x" (rank) and
//! "what is the k-th smallest value" (select) in O(log n). The rolling quantile, IQR, median /
//! MAD, Hampel and level-shift detectors use it; it is public so other detectors can too.
//!
//! # Structure
//!
//! A treap: a binary search tree whose nodes also carry a random priority kept in heap order,
//! which keeps the expected depth at O(log n) whatever order the values come in (a sliding
//! window over a trending metric inserts sorted runs, the worst case of a plain BST). Each node
//! stores the size of its subtree, so rank and select walk one root-to-leaf path. Nodes live in
//! one `Vec` arena linked by `u32` indices, with a free list, so a window of `w` values never
//! holds more than `w` nodes and a steady stream allocates nothing.
//!
//! Why not the alternatives: a Fenwick tree over value ranks needs the values in advance; a
//! sorted `Vec` or sorted blocks cost O(w) or O(√w) per update; a skiplist needs more memory
//! and pointer chasing for the same bounds.
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

/// "No node".
const NIL: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Node {
    value: f64,
    prio: u32,
    size: u32,
    left: u32,
    right: u32,
}

/// A multiset of `f64` with O(log n) insert, remove, rank and select (a size-augmented treap;
/// see the module docs).
///
/// ```
/// use aiops_detect::order_stats::OrderStats;
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
    nodes: Vec<Node>,
    root: u32,
    /// Head of the free list, linked through `left`.
    free: u32,
    /// xorshift64 state for the priorities.
    rng: u64,
}

impl Default for OrderStats {
    fn default() -> Self {
        Self::new()
    }
}

impl OrderStats {
    /// An empty multiset.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty multiset with room for `n` values before it reallocates.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            nodes: Vec::with_capacity(n),
            root: NIL,
            free: NIL,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// Number of values (with multiplicity).
    pub fn len(&self) -> usize {
        self.size(self.root) as usize
    }

    /// Whether it holds no value.
    pub fn is_empty(&self) -> bool {
        self.root == NIL
    }

    /// Removes every value (keeps the allocation).
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.root = NIL;
        self.free = NIL;
    }

    /// Adds one occurrence of `value`. O(log n) expected.
    ///
    /// # Panics
    ///
    /// Beyond 2³² − 2 values (the arena uses `u32` links).
    pub fn insert(&mut self, value: f64) {
        let prio = self.next_prio();
        let n = self.alloc(value, prio);
        self.root = self.insert_at(self.root, n);
    }

    /// Removes one occurrence of `value` (compared with [`f64::total_cmp`]); `false` if there
    /// was none. O(log n) expected.
    pub fn remove(&mut self, value: f64) -> bool {
        let (root, found) = self.remove_at(self.root, value);
        self.root = root;
        found
    }

    /// The `k`-th smallest value, counting from 0 (`select(0)` is the minimum); `None` when
    /// `k >= len()`. O(log n).
    pub fn select(&self, mut k: usize) -> Option<f64> {
        let mut t = self.root;
        while t != NIL {
            let node = &self.nodes[t as usize];
            let left = self.size(node.left) as usize;
            match k.cmp(&left) {
                Ordering::Less => t = node.left,
                Ordering::Equal => return Some(node.value),
                Ordering::Greater => {
                    k -= left + 1;
                    t = node.right;
                }
            }
        }
        None
    }

    /// Number of values strictly below `value`. O(log n).
    pub fn rank(&self, value: f64) -> usize {
        self.count_where(|v| v.total_cmp(&value) == Ordering::Less)
    }

    /// Number of values at or below `value`. O(log n).
    pub fn rank_inclusive(&self, value: f64) -> usize {
        self.count_where(|v| v.total_cmp(&value) != Ordering::Greater)
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
        let mut it = Iter {
            stats: self,
            stack: Vec::new(),
        };
        it.descend(self.root);
        it
    }

    fn size(&self, t: u32) -> u32 {
        if t == NIL {
            0
        } else {
            self.nodes[t as usize].size
        }
    }

    fn pull(&mut self, t: u32) {
        let (l, r) = {
            let node = &self.nodes[t as usize];
            (node.left, node.right)
        };
        self.nodes[t as usize].size = 1 + self.size(l) + self.size(r);
    }

    fn next_prio(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x >> 32) as u32
    }

    fn alloc(&mut self, value: f64, prio: u32) -> u32 {
        let node = Node {
            value,
            prio,
            size: 1,
            left: NIL,
            right: NIL,
        };
        if self.free != NIL {
            let t = self.free;
            self.free = self.nodes[t as usize].left;
            self.nodes[t as usize] = node;
            t
        } else {
            let t = u32::try_from(self.nodes.len())
                .ok()
                .filter(|&t| t != NIL)
                .expect("OrderStats holds at most 2^32 - 2 values");
            self.nodes.push(node);
            t
        }
    }

    fn release(&mut self, t: u32) {
        self.nodes[t as usize].left = self.free;
        self.free = t;
    }

    fn count_where(&self, below: impl Fn(f64) -> bool) -> usize {
        let mut count = 0;
        let mut t = self.root;
        while t != NIL {
            let node = &self.nodes[t as usize];
            if below(node.value) {
                count += self.size(node.left) as usize + 1;
                t = node.right;
            } else {
                t = node.left;
            }
        }
        count
    }

    /// Inserts node `n` into the subtree `t`, returning the new subtree root. Equal values go
    /// right, so the in-order sequence stays sorted.
    fn insert_at(&mut self, t: u32, n: u32) -> u32 {
        if t == NIL {
            return n;
        }
        let value = self.nodes[n as usize].value;
        if self.nodes[n as usize].prio > self.nodes[t as usize].prio {
            let (l, r) = self.split(t, value);
            let node = &mut self.nodes[n as usize];
            node.left = l;
            node.right = r;
            self.pull(n);
            return n;
        }
        if value.total_cmp(&self.nodes[t as usize].value) == Ordering::Less {
            let l = self.insert_at(self.nodes[t as usize].left, n);
            self.nodes[t as usize].left = l;
        } else {
            let r = self.insert_at(self.nodes[t as usize].right, n);
            self.nodes[t as usize].right = r;
        }
        self.nodes[t as usize].size += 1;
        t
    }

    /// Splits subtree `t` into values `< value` and values `>= value`.
    fn split(&mut self, t: u32, value: f64) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if self.nodes[t as usize].value.total_cmp(&value) == Ordering::Less {
            let (a, b) = self.split(self.nodes[t as usize].right, value);
            self.nodes[t as usize].right = a;
            self.pull(t);
            (t, b)
        } else {
            let (a, b) = self.split(self.nodes[t as usize].left, value);
            self.nodes[t as usize].left = b;
            self.pull(t);
            (a, t)
        }
    }

    /// Joins two subtrees, every value of `a` coming before every value of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].prio > self.nodes[b as usize].prio {
            let r = self.merge(self.nodes[a as usize].right, b);
            self.nodes[a as usize].right = r;
            self.pull(a);
            a
        } else {
            let l = self.merge(a, self.nodes[b as usize].left);
            self.nodes[b as usize].left = l;
            self.pull(b);
            b
        }
    }

    fn remove_at(&mut self, t: u32, value: f64) -> (u32, bool) {
        if t == NIL {
            return (NIL, false);
        }
        let node = self.nodes[t as usize];
        match value.total_cmp(&node.value) {
            Ordering::Equal => {
                let m = self.merge(node.left, node.right);
                self.release(t);
                (m, true)
            }
            Ordering::Less => {
                let (l, found) = self.remove_at(node.left, value);
                self.nodes[t as usize].left = l;
                if found {
                    self.nodes[t as usize].size -= 1;
                }
                (t, found)
            }
            Ordering::Greater => {
                let (r, found) = self.remove_at(node.right, value);
                self.nodes[t as usize].right = r;
                if found {
                    self.nodes[t as usize].size -= 1;
                }
                (t, found)
            }
        }
    }
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
        let iter = iter.into_iter();
        let mut s = OrderStats::with_capacity(iter.size_hint().0);
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
    stack: Vec<u32>,
}

impl Iter<'_> {
    fn descend(&mut self, mut t: u32) {
        while t != NIL {
            self.stack.push(t);
            t = self.stats.nodes[t as usize].left;
        }
    }
}

impl Iterator for Iter<'_> {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        let t = self.stack.pop()?;
        let node = &self.stats.nodes[t as usize];
        self.descend(node.right);
        Some(node.value)
    }
}

/// The last `capacity` values of a stream, in arrival order and as an [`OrderStats`]: pushing
/// a value evicts the oldest once full. O(log w) per push.
///
/// ```
/// use aiops_detect::order_stats::RollingOrderStats;
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

    #[test]
    fn sorted_insertions_stay_shallow() {
        // A trend inserts sorted values: the treap must not degenerate into a list.
        let mut s = OrderStats::new();
        for i in 0..100_000 {
            s.insert(i as f64);
        }
        fn depth(s: &OrderStats, t: u32) -> usize {
            if t == NIL {
                0
            } else {
                let n = &s.nodes[t as usize];
                1 + depth(s, n.left).max(depth(s, n.right))
            }
        }
        assert!(depth(&s, s.root) < 80, "depth {}", depth(&s, s.root));
        for i in 0..100_000 {
            assert!(s.remove(i as f64));
        }
        assert!(s.is_empty());
        assert!(s.nodes.len() <= 100_000, "freed nodes are reused");
    }

    #[test]
    fn arena_stays_bounded_on_a_sliding_window() {
        let mut w = RollingOrderStats::new(50);
        let mut rnd = lcg(5);
        for _ in 0..10_000 {
            w.push(rnd(1000) as f64);
        }
        assert_eq!(w.len(), 50);
        assert!(w.stats().nodes.len() <= 50);
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
