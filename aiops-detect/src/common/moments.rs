//! Rolling mean and variance in O(1) per value, free of cancellation and drift.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// The shift (the first value, 0 when empty) and the sum and sum of squares of the values
/// relative to it, computed afresh.
pub(crate) fn shifted_sums(buf: &VecDeque<f64>) -> (f64, f64, f64) {
    let shift = buf.front().copied().unwrap_or(0.0);
    let (mut s, mut q) = (0.0, 0.0);
    for &x in buf {
        let d = x - shift;
        s += d;
        q += d * d;
    }
    (shift, s, q)
}

/// Mean and variance of the last `capacity` values of a stream in O(1) per value: sums kept
/// relative to a shift (the oldest value at the last refresh), so that a large offset does not
/// cancel the variance, and recomputed from the values every `capacity` pushes, so rounding
/// error cannot build up over long streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RollingMoments {
    capacity: usize,
    buf: VecDeque<f64>,
    shift: f64,
    sum: f64,
    sumsq: f64,
    since_refresh: usize,
}

impl RollingMoments {
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            buf: VecDeque::with_capacity(capacity),
            shift: 0.0,
            sum: 0.0,
            sumsq: 0.0,
            since_refresh: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Appends `x`, returning the value evicted to make room, if any.
    pub(crate) fn push(&mut self, x: f64) -> Option<f64> {
        let evicted = if self.buf.len() == self.capacity {
            self.buf.pop_front()
        } else {
            None
        };
        if let Some(old) = evicted {
            let d = old - self.shift;
            self.sum -= d;
            self.sumsq -= d * d;
        }
        if self.buf.is_empty() {
            // Shift from the first value on, not from 0: a large offset must not cancel the
            // variance before the first refresh either.
            self.shift = x;
            self.sum = 0.0;
            self.sumsq = 0.0;
        }
        self.buf.push_back(x);
        let d = x - self.shift;
        self.sum += d;
        self.sumsq += d * d;
        self.since_refresh += 1;
        if self.since_refresh >= self.capacity {
            self.refresh();
        }
        evicted
    }

    fn refresh(&mut self) {
        (self.shift, self.sum, self.sumsq) = shifted_sums(&self.buf);
        self.since_refresh = 0;
    }

    /// Mean (0 when empty).
    pub(crate) fn mean(&self) -> f64 {
        if self.buf.is_empty() {
            0.0
        } else {
            self.shift + self.sum / self.buf.len() as f64
        }
    }

    /// Variance with divisor `n - ddof` (0 when `n <= ddof`), never negative.
    ///
    /// A flat window whose values differ from the shift leaves rounding residue of about
    /// ε × `sumsq` in the centred sum of squares; below a few times that the variance is 0,
    /// so a flat window reads as flat (and ratios of two flat windows' σ do not turn noise
    /// into signal).
    pub(crate) fn variance(&self, ddof: usize) -> f64 {
        let n = self.buf.len();
        if n <= ddof {
            return 0.0;
        }
        let nf = n as f64;
        let centred = self.sumsq - self.sum * (self.sum / nf);
        if centred <= 8.0 * f64::EPSILON * self.sumsq {
            return 0.0;
        }
        centred / (n - ddof) as f64
    }

    /// Standard deviation with divisor `n - ddof`, floored at 1e-12 × (1 + |mean|) so that
    /// dividing by it stays finite.
    pub(crate) fn std_floored(&self, ddof: usize) -> f64 {
        self.variance(ddof)
            .sqrt()
            .max(1e-12 * (1.0 + self.mean().abs()))
    }
}
