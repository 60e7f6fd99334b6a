//! Small statistics shared by the models: autocorrelation, the M4 seasonality test, classical
//! decomposition, quantiles and a seeded normal generator.

use statrs::distribution::{ContinuousCDF, Normal};

/// Sample autocorrelations r_1..=r_max_lag (index 0 holds lag 1).
pub fn acf(y: &[f64], max_lag: usize) -> Vec<f64> {
    let n = y.len();
    let mean = y.iter().sum::<f64>() / n.max(1) as f64;
    let denom: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    (1..=max_lag)
        .map(|k| {
            if k >= n || denom <= 0.0 {
                return 0.0;
            }
            let num: f64 = (k..n).map(|t| (y[t] - mean) * (y[t - k] - mean)).sum();
            num / denom
        })
        .collect()
}

/// The M4 seasonality test: is the autocorrelation at lag `period` significant at 90%
/// (`|r_m| > 1.645 * sqrt((1 + 2 * sum_{k<m} r_k^2) / n)`)? False when the series is shorter
/// than three seasons, as in the M4 benchmark code.
pub fn seasonality_test(y: &[f64], period: usize) -> bool {
    if period < 2 || y.len() < 3 * period {
        return false;
    }
    let r = acf(y, period);
    let tail: f64 = r[..period - 1].iter().map(|v| v * v).sum();
    let limit = 1.645 * ((1.0 + 2.0 * tail) / y.len() as f64).sqrt();
    r[period - 1].abs() > limit
}

/// Centred moving average of order `m` (2 x m when m is even), as in classical decomposition;
/// `None` where the window does not fit.
pub(crate) fn centred_ma(y: &[f64], m: usize) -> Vec<Option<f64>> {
    let n = y.len();
    let mut out = vec![None; n];
    if m < 2 || n < m + 1 {
        return out;
    }
    let half = m / 2;
    // Prefix sums: O(n) whatever the window (a week of minutes is 10,080 points).
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0);
    let mut acc = 0.0;
    for v in y {
        acc += v;
        prefix.push(acc);
    }
    let sum = |a: usize, b: usize| prefix[b] - prefix[a];
    for (t, o) in out.iter_mut().enumerate().take(n - half).skip(half) {
        let v = if m.is_multiple_of(2) {
            let inner = sum(t + 1 - half, t + half);
            (inner + 0.5 * (y[t - half] + y[t + half])) / m as f64
        } else {
            sum(t - half, t + half + 1) / m as f64
        };
        *o = Some(v);
    }
    out
}

/// Seasonal indices of classical decomposition (R's `decompose(...)$figure`): the mean
/// per position of `y / trend` (multiplicative) or `y - trend`, normalised to mean 1 or 0.
/// Index `i` belongs to positions `t` with `t % m == i`. `None` if the series is shorter than
/// two seasons or a multiplicative ratio cannot be formed.
pub fn classical_indices(y: &[f64], m: usize, multiplicative: bool) -> Option<Vec<f64>> {
    if m < 2 || y.len() < 2 * m {
        return None;
    }
    let tr = centred_ma(y, m);
    let mut sum = vec![0.0; m];
    let mut cnt = vec![0usize; m];
    for (t, tv) in tr.iter().enumerate() {
        if let Some(tv) = tv {
            let d = if multiplicative {
                if *tv == 0.0 {
                    return None;
                }
                y[t] / tv
            } else {
                y[t] - tv
            };
            sum[t % m] += d;
            cnt[t % m] += 1;
        }
    }
    let mut fig: Vec<f64> = sum.iter().zip(&cnt).map(|(s, &c)| s / c as f64).collect();
    let mean = fig.iter().sum::<f64>() / m as f64;
    if multiplicative {
        if mean.is_nan() || mean <= 0.0 || fig.iter().any(|v| v.is_nan() || *v <= 0.0) {
            return None;
        }
        fig.iter_mut().for_each(|v| *v /= mean);
    } else {
        fig.iter_mut().for_each(|v| *v -= mean);
    }
    Some(fig)
}

/// The `q`-quantile (0..=1) of sorted data, linear interpolation (R type 7).
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Two-sided standard normal quantile for a level in percent (95 -> 1.96).
pub(crate) fn z_of_level(level: f64) -> f64 {
    Normal::standard().inverse_cdf(0.5 + level / 200.0)
}

/// Standard normal CDF.
pub(crate) fn normal_cdf(x: f64) -> f64 {
    Normal::standard().cdf(x)
}

/// A small seeded generator (SplitMix64 + Box-Muller): simulation must be reproducible and
/// needs no more than uniform and normal draws.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: u64,
    spare: Option<f64>,
}

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            state: seed ^ 0x9E37_79B9_7F4A_7C15,
            spare: None,
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    pub(crate) fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal.
    pub(crate) fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u1 = self.uniform();
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let th = std::f64::consts::TAU * u2;
        self.spare = Some(r * th.sin());
        r * th.cos()
    }
}

/// Ordinary least squares of `y` on `t = 0..n`: (intercept, slope).
pub(crate) fn linear_fit(y: &[f64]) -> (f64, f64) {
    let n = y.len() as f64;
    if y.len() < 2 {
        return (y.first().copied().unwrap_or(0.0), 0.0);
    }
    let tm = (n - 1.0) / 2.0;
    let ym = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (t, v) in y.iter().enumerate() {
        let dt = t as f64 - tm;
        sxy += dt * (v - ym);
        sxx += dt * dt;
    }
    let slope = sxy / sxx;
    (ym - slope * tm, slope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acf_and_seasonality_test() {
        let y: Vec<f64> = (0..240)
            .map(|i| (i as f64 * std::f64::consts::TAU / 24.0).sin())
            .collect();
        let r = acf(&y, 24);
        assert!(r[23] > 0.8, "{}", r[23]);
        assert!(seasonality_test(&y, 24));
        let noise: Vec<f64> = {
            let mut g = Rng::new(1);
            (0..240).map(|_| g.normal()).collect()
        };
        assert!(!seasonality_test(&noise, 24));
        assert!(!seasonality_test(&y[..50], 24), "fewer than three seasons");
    }

    #[test]
    fn classical_indices_recover_a_multiplicative_pattern() {
        let pat = [0.5, 1.0, 1.5, 1.0];
        let y: Vec<f64> = (0..40).map(|i| 10.0 * pat[i % 4]).collect();
        let f = classical_indices(&y, 4, true).unwrap();
        for (a, b) in f.iter().zip(pat) {
            assert!((a - b).abs() < 1e-12);
        }
        assert!(classical_indices(&y[..7], 4, true).is_none());
    }

    #[test]
    fn quantiles_and_normal_draws() {
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0], 0.5), 2.0);
        assert_eq!(quantile_sorted(&[1.0, 2.0], 0.25), 1.25);
        let mut g = Rng::new(7);
        let xs: Vec<f64> = (0..20000).map(|_| g.normal()).collect();
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(m.abs() < 0.03 && (v - 1.0).abs() < 0.05, "{m} {v}");
        assert!((z_of_level(95.0) - 1.959_964).abs() < 1e-5);
        let (a, b) = linear_fit(&[1.0, 3.0, 5.0]);
        assert!((a - 1.0).abs() < 1e-12 && (b - 2.0).abs() < 1e-12);
    }
}
