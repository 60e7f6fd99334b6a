//! Level shifts in a seasonal history: lasting steps of the level (a migration, a new
//! deployment, a changed customer mix) after which the series reverts to the new level.
//!
//! `auto` takes them out of the history behind its backtest ([`remove_level_shifts`]): its
//! members follow the new level (AutoETS's level, the last cycle of seasonal naive), so the
//! errors a forecast made before the shift would have had are not what a forecast made now
//! will have; left in, one shift widened the intervals of every later forecast (an 80%
//! interval covering 93-100% of the next day). X-13's level-shift outliers serve the same end.
//!
//! Detection, on the history minus its per-phase median profile, in block means of a quarter
//! cycle (so that noise correlated over minutes does not look like a step): the split `k`
//! that best fits `a + c i + d [i >= k]` (a line plus one step, so a trend is not taken for a
//! shift) is kept when the step's t statistic is at least 5 (σ from the residuals' median
//! absolute deviation) and the residuals' lag-1 autocorrelation is below 0.5 (the series
//! reverts to its levels; a random walk's wandering is not a set of shifts). The point of the
//! shift is the best two-mean split within the blocks either side. Repeated on the adjusted
//! history, at most three shifts.

use crate::seasonality::{detrend_ma, phase_medians};

/// A level shift: from `at` on, the level is `size` higher than before.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Shift {
    /// First point at the new level.
    pub at: usize,
    /// New level minus old.
    pub size: f64,
}

/// Smallest t statistic of a kept step.
const MIN_T: f64 = 5.0;
/// Largest lag-1 autocorrelation of the block residuals with a step kept.
const MAX_RHO: f64 = 0.5;
/// Most shifts found.
const MAX_SHIFTS: usize = 3;

/// Level shifts of `y` (finite values), with a daily (shortest) cycle of `cycle` steps and a
/// profile over `season` steps (the week when known, else the cycle); sorted by position.
pub(crate) fn level_shifts(y: &[f64], cycle: usize, season: usize) -> Vec<Shift> {
    let n = y.len();
    let b = (cycle / 4).max(1);
    let blocks = n / b;
    if season < 2 || n < 2 * season || blocks < 12 || y.iter().any(|v| !v.is_finite()) {
        return Vec::new();
    }
    let prof = phase_medians(&detrend_ma(y, season), season, n);
    let mut x: Vec<f64> = y
        .iter()
        .enumerate()
        .map(|(t, v)| v - prof[t % season])
        .collect();
    let off = n - blocks * b;
    let mut out = Vec::new();
    for _ in 0..MAX_SHIFTS {
        let means: Vec<f64> = (0..blocks)
            .map(|i| x[off + i * b..off + (i + 1) * b].iter().sum::<f64>() / b as f64)
            .collect();
        let Some((k, size)) = best_step(&means) else {
            break;
        };
        // The point: the best two-mean split from one block before to one block after.
        let lo = off + (k - 1) * b;
        let hi = (off + (k + 1) * b).min(n);
        let at = split_point(&x[lo..hi]).map_or(off + k * b, |s| lo + s);
        for v in &mut x[..at] {
            *v += size;
        }
        out.push(Shift { at, size });
    }
    out.sort_by_key(|s| s.at);
    out
}

/// `y` with every shift taken out: the points before each shift moved by its size, so the
/// whole history sits at the last level.
pub(crate) fn remove_level_shifts(y: &[f64], shifts: &[Shift]) -> Vec<f64> {
    let mut out = y.to_vec();
    for s in shifts {
        for v in &mut out[..s.at.min(y.len())] {
            *v += s.size;
        }
    }
    out
}

/// The block `k` where a step best fits `m` on top of a line, and the step, when significant.
fn best_step(m: &[f64]) -> Option<(usize, f64)> {
    let nb = m.len();
    let (mut s1, mut si, mut sii, mut sm, mut sim) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, v) in m.iter().enumerate() {
        let i = i as f64;
        s1 += 1.0;
        si += i;
        sii += i * i;
        sm += v;
        sim += i * v;
    }
    // Suffix sums of the step column's products over i >= k, from the last block back; at
    // least two blocks either side of the step.
    let (mut sk, mut sik, mut smk) = (1.0, (nb - 1) as f64, m[nb - 1]);
    let mut best: Option<(f64, usize, [f64; 3])> = None;
    for k in (2..=nb - 2).rev() {
        sk += 1.0;
        sik += k as f64;
        smk += m[k];
        let a = [[s1, si, sk], [si, sii, sik], [sk, sik, sk]];
        let rhs = [sm, sim, smk];
        let Some(beta) = solve3(a, rhs) else {
            continue;
        };
        let fit = beta[0] * sm + beta[1] * sim + beta[2] * smk;
        let sse = -fit; // up to the constant sum of squares: smaller is better
        if best.is_none_or(|(b, _, _)| sse < b) {
            best = Some((sse, k, beta));
        }
    }
    let (_, k, beta) = best?;
    let resid: Vec<f64> = m
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let step = if i >= k { beta[2] } else { 0.0 };
            v - beta[0] - beta[1] * i as f64 - step
        })
        .collect();
    let mut abs: Vec<f64> = resid.iter().map(|r| r.abs()).collect();
    let sigma = 1.4826 * aiops_core::stats::median(&mut abs);
    let ss: f64 = resid.iter().map(|r| r * r).sum();
    let rho = if ss > 0.0 {
        resid.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / ss
    } else {
        0.0
    };
    // Variance factor of the step coefficient: element (3, 3) of the inverse normal matrix.
    let nk = (nb - k) as f64;
    let (sk, sik) = (nk, (k..nb).map(|i| i as f64).sum::<f64>());
    let a = [[s1, si, sk], [si, sii, sik], [sk, sik, sk]];
    let v33 = solve3(a, [0.0, 0.0, 1.0])?[2];
    let usable = sigma > 0.0 && v33 > 0.0;
    if !usable {
        return None;
    }
    let t = beta[2] / (sigma * v33.sqrt());
    (t.abs() >= MIN_T && rho < MAX_RHO).then_some((k, beta[2]))
}

/// The split `s` (1..len) of `x` into two means with the smallest squared error.
fn split_point(x: &[f64]) -> Option<usize> {
    let n = x.len();
    if n < 2 {
        return None;
    }
    let total: f64 = x.iter().sum();
    let mut left = 0.0;
    let mut best: Option<(f64, usize)> = None;
    for s in 1..n {
        left += x[s - 1];
        let (nl, nr) = (s as f64, (n - s) as f64);
        // Between-group sum of squares: larger is a better split.
        let gain = left * left / nl + (total - left).powi(2) / nr;
        if best.is_none_or(|(g, _)| gain > g) {
            best = Some((gain, s));
        }
    }
    best.map(|(_, s)| s)
}

/// Solves the 3x3 system `a x = b` (Cramer's rule); `None` when singular.
fn solve3(a: [[f64; 3]; 3], b: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(a);
    if d.abs() < 1e-12 * (1.0 + a[0][0] * a[1][1] * a[2][2]).abs() {
        return None;
    }
    let mut x = [0.0; 3];
    for (j, xj) in x.iter_mut().enumerate() {
        let mut m = a;
        for i in 0..3 {
            m[i][j] = b[i];
        }
        *xj = det(m) / d;
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cycle(t: usize) -> f64 {
        30.0 + 10.0 * (t as f64 * std::f64::consts::TAU / 24.0).sin()
    }

    #[test]
    fn finds_a_shift_not_a_trend() {
        let mut g = crate::stats::Rng::new(5);
        let y: Vec<f64> = (0..24 * 20)
            .map(|t| cycle(t) + if t >= 350 { 8.0 } else { 0.0 } + g.normal())
            .collect();
        let s = level_shifts(&y, 24, 24);
        assert_eq!(s.len(), 1, "{s:?}");
        assert!((345..=355).contains(&s[0].at), "{s:?}");
        assert!((s[0].size - 8.0).abs() < 1.0, "{s:?}");
        let adj = remove_level_shifts(&y, &s);
        assert!((adj[10] - y[10] - s[0].size).abs() < 1e-12);
        assert_eq!(adj[400], y[400]);
        // A steady trend and plain noise have none.
        let trend: Vec<f64> = (0..24 * 20)
            .map(|t| cycle(t) + 0.05 * t as f64 + g.normal())
            .collect();
        assert!(level_shifts(&trend, 24, 24).is_empty());
        let flat: Vec<f64> = (0..24 * 20).map(|t| cycle(t) + g.normal()).collect();
        assert!(level_shifts(&flat, 24, 24).is_empty());
        // Too short, or not finite: none, no panic.
        assert!(level_shifts(&flat[..40], 24, 24).is_empty());
        let mut bad = flat.clone();
        bad[3] = f64::NAN;
        assert!(level_shifts(&bad, 24, 24).is_empty());
    }

    #[test]
    fn a_random_walk_is_not_a_set_of_shifts() {
        let mut g = crate::stats::Rng::new(9);
        let mut level = 0.0;
        let y: Vec<f64> = (0..24 * 30)
            .map(|t| {
                level += 0.5 * g.normal();
                cycle(t) + level
            })
            .collect();
        assert!(level_shifts(&y, 24, 24).is_empty());
    }
}
