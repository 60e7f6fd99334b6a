//! Calibrated confidence (isotonic calibration): the probability that the top-ranked
//! candidate is the root cause, read off its *margin* over the runner-up.
//!
//! The margin is `(s1 - s2) / s1` for the best two scores `s1 >= s2 >= 0` (1 when only one
//! candidate scores, 0 when the top two tie). How often a margin means a right answer was
//! learned on simulated incidents (`aiops_eval::microservice_sim`) by isotonic regression (pool adjacent violators)
//! per method: [`fit`] is run by `aiops eval rca --fit-calibration`, on seeds disjoint from
//! the ones the evaluation reports, and its tables are the constants below. Between the
//! knots the probability is interpolated linearly.
//!
//! The top candidate gets that probability; the rest share the remainder in proportion to
//! their scores (none above the one ranked before it), so the confidences of one ranking sum
//! to at most 1 and never increase down the ranking.

use super::Method;

/// The highest probability a calibration gives: a ranking is never certain, whatever the
/// simulator said.
pub const MAX_PROBABILITY: f64 = 0.99;

/// A monotone map from margin to probability: knots `(margin, probability)`, margins
/// increasing, probabilities non-decreasing.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    knots: Vec<(f64, f64)>,
}

impl Calibration {
    /// A calibration from knots (sorted by margin; probabilities are clamped to
    /// [0, [`MAX_PROBABILITY`]] and made non-decreasing).
    pub fn new(knots: &[(f64, f64)]) -> Self {
        let mut k: Vec<(f64, f64)> = knots.to_vec();
        k.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut hi = 0.0f64;
        for p in k.iter_mut() {
            hi = hi.max(p.1.clamp(0.0, MAX_PROBABILITY));
            p.1 = hi;
        }
        Self { knots: k }
    }

    /// The knots.
    pub fn knots(&self) -> &[(f64, f64)] {
        &self.knots
    }

    /// Probability that the top candidate is right given its margin in [0, 1].
    pub fn probability(&self, margin: f64) -> f64 {
        let k = &self.knots;
        match k.len() {
            0 => margin.clamp(0.0, 1.0),
            _ if margin <= k[0].0 => k[0].1,
            _ if margin >= k[k.len() - 1].0 => k[k.len() - 1].1,
            _ => {
                let i = k.partition_point(|p| p.0 <= margin);
                let (a, b) = (k[i - 1], k[i]);
                a.1 + (b.1 - a.1) * (margin - a.0) / (b.0 - a.0).max(1e-12)
            }
        }
    }

    /// Confidences for scores sorted best first (see the module docs).
    pub fn confidences(&self, sorted: &[f64]) -> Vec<f64> {
        if sorted.is_empty() {
            return Vec::new();
        }
        let top = self.probability(margin(sorted));
        let rest: f64 = sorted[1..].iter().map(|s| s.max(0.0)).sum();
        let mut out = Vec::with_capacity(sorted.len());
        out.push(top);
        let mut previous = top;
        for &s in &sorted[1..] {
            let share = if rest > 0.0 {
                (1.0 - top) * s.max(0.0) / rest
            } else {
                0.0
            };
            // When the top two nearly tie, the calibrated top probability can be below the
            // runner-up's share of the rest: confidence must still follow rank.
            previous = share.min(previous);
            out.push(previous);
        }
        out
    }
}

/// `(s1 - s2) / s1` of scores sorted best first.
pub fn margin(sorted: &[f64]) -> f64 {
    match sorted {
        [] => 0.0,
        [s1, ..] if *s1 <= 0.0 => 0.0,
        [_] => 1.0,
        [s1, s2, ..] => ((s1 - s2.max(0.0)) / s1).clamp(0.0, 1.0),
    }
}

/// Fits an isotonic calibration on `(margin, right)` samples: the pooled blocks' mean margins
/// and shares of right answers become the knots. Blocks smaller than `min_block` samples are
/// merged with a neighbour so that no knot rests on a handful of cases.
pub fn fit(samples: &[(f64, bool)], min_block: usize) -> Calibration {
    let mut s: Vec<(f64, bool)> = samples.to_vec();
    s.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Blocks: (sum of margins, right answers, count).
    let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
    for (m, ok) in s {
        blocks.push((m, f64::from(u8::from(ok)), 1.0));
        while blocks.len() > 1 {
            let (a, b) = (blocks[blocks.len() - 2], blocks[blocks.len() - 1]);
            let violates = a.1 / a.2 >= b.1 / b.2;
            let small = a.2 < min_block as f64;
            if !(violates || small) {
                break;
            }
            blocks.pop();
            let last = blocks.len() - 1;
            blocks[last] = (a.0 + b.0, a.1 + b.1, a.2 + b.2);
        }
    }
    // A small last block joins its neighbour.
    if blocks.len() > 1 && blocks[blocks.len() - 1].2 < min_block as f64 {
        let b = blocks.pop().unwrap_or_default();
        let last = blocks.len() - 1;
        let a = blocks[last];
        blocks[last] = (a.0 + b.0, a.1 + b.1, a.2 + b.2);
    }
    let knots: Vec<(f64, f64)> = blocks.iter().map(|b| (b.0 / b.2, b.1 / b.2)).collect();
    Calibration::new(&knots)
}

/// The fitted calibration of a method (see the module docs for how the tables are made).
pub fn for_method(method: Method) -> Calibration {
    Calibration::new(match method {
        Method::Default => DEFAULT,
        Method::Baro => BARO,
        Method::NSigma => NSIGMA,
        Method::Hypothesis => HYPOTHESIS,
        Method::PageRank => PAGERANK,
    })
}

// Fitted by `aiops eval rca --fit-calibration --cases 1000 --seed 1000` (times given and
// found, pooled); the evaluation reports on other seeds (BENCHMARKS.md uses 100000+).
const DEFAULT: &[(f64, f64)] = &[
    (0.026, 0.158),
    (0.100, 0.407),
    (0.176, 0.462),
    (0.249, 0.519),
    (0.352, 0.690),
    (0.481, 0.827),
    (0.642, 0.864),
    (0.825, 0.971),
    (0.902, 0.987),
    (0.944, 0.990),
    (0.975, 0.990),
    (0.992, 0.990),
];
#[allow(clippy::approx_constant)] // fitted shares, not 1/pi
const BARO: &[(f64, f64)] = &[
    (0.020, 0.181),
    (0.053, 0.306),
    (0.104, 0.314),
    (0.197, 0.458),
    (0.275, 0.600),
    (0.320, 0.608),
    (0.351, 0.763),
    (0.388, 0.769),
    (0.417, 0.871),
    (0.467, 0.872),
    (0.534, 0.897),
    (0.567, 0.908),
    (0.597, 0.918),
    (0.636, 0.957),
    (0.734, 0.979),
    (0.883, 0.990),
];
const NSIGMA: &[(f64, f64)] = &[
    (0.006, 0.156),
    (0.024, 0.162),
    (0.044, 0.184),
    (0.063, 0.186),
    (0.090, 0.333),
    (0.125, 0.355),
    (0.167, 0.395),
    (0.194, 0.516),
    (0.235, 0.545),
    (0.302, 0.743),
    (0.349, 0.759),
    (0.375, 0.786),
    (0.446, 0.836),
    (0.562, 0.911),
    (0.635, 0.952),
    (0.721, 0.979),
    (0.877, 0.990),
];
const HYPOTHESIS: &[(f64, f64)] = &[
    (0.018, 0.202),
    (0.045, 0.235),
    (0.087, 0.279),
    (0.140, 0.298),
    (0.177, 0.368),
    (0.216, 0.459),
    (0.280, 0.510),
    (0.327, 0.643),
    (0.343, 0.760),
    (0.361, 0.862),
    (0.451, 0.869),
    (0.539, 0.913),
    (0.579, 0.947),
    (0.639, 0.959),
    (0.736, 0.986),
    (0.868, 0.990),
];
const PAGERANK: &[(f64, f64)] = &[
    (0.024, 0.074),
    (0.070, 0.241),
    (0.115, 0.246),
    (0.159, 0.297),
    (0.193, 0.324),
    (0.250, 0.339),
    (0.305, 0.513),
    (0.377, 0.588),
    (0.458, 0.688),
    (0.494, 0.880),
    (0.545, 0.915),
    (0.603, 0.981),
    (0.650, 0.981),
    (0.744, 0.990),
    (0.881, 0.990),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_fit_is_monotone_and_matches_rates() {
        // Margins below 0.5 are right 1 time in 4, above it 3 times in 4.
        let mut s = Vec::new();
        for i in 0..400 {
            let m = i as f64 / 400.0;
            let ok = if m < 0.5 { i % 4 == 0 } else { i % 4 != 0 };
            s.push((m, ok));
        }
        let c = fit(&s, 20);
        let k = c.knots();
        assert!(k.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        assert!((c.probability(0.1) - 0.25).abs() < 0.1);
        assert!((c.probability(0.9) - 0.75).abs() < 0.1);
    }

    #[test]
    fn confidences_share_the_rest() {
        let c = Calibration::new(&[(0.0, 0.2), (1.0, 0.9)]);
        let v = c.confidences(&[10.0, 5.0, 5.0]);
        assert!((v[0] - 0.55).abs() < 1e-12);
        assert!((v[1] - 0.225).abs() < 1e-12 && (v[2] - 0.225).abs() < 1e-12);
        assert_eq!(margin(&[3.0]), 1.0);
        assert_eq!(margin(&[0.0, 0.0]), 0.0);
        assert!(v.iter().sum::<f64>() <= 1.0 + 1e-12);
    }
}
