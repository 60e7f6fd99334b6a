//! Per-column statistics shared by the ranking methods: the normal period's location and
//! scale, standardised deviations after the anomaly time, and when a column changed.

use rayon::prelude::*;

use super::metrics::MetricFrame;

/// Points before the anomaly time searched for an onset (a fault seldom starts exactly at the
/// time an operator or a detector names).
pub(crate) const ONSET_LOOKBACK: usize = 3;
/// |z| a column must reach, held over [`SUSTAIN`] points, to count as changed.
pub(crate) const ONSET_Z: f64 = 3.0;
/// Width of the rolling median that makes a score "sustained" (1–2 point spikes vanish).
pub(crate) const SUSTAIN: usize = 5;

/// Robust statistics of one column around the split.
#[derive(Debug, Clone)]
pub(crate) struct ColumnStats {
    /// Median of the normal period.
    pub(crate) median: f64,
    /// Interquartile range of the normal period (BARO's scale).
    pub(crate) iqr: f64,
    /// Robust sigma (IQR / 1.349, floored).
    pub(crate) sigma: f64,
    /// Max |x - median| / sigma after the split, signed (BARO-style, one point is enough).
    pub(crate) peak_z: f64,
    /// Index of `peak_z`.
    pub(crate) peak_at: usize,
    /// Max of the rolling median of z (signed by the larger side) from the onset search start:
    /// a deviation held for at least half of [`SUSTAIN`] points.
    pub(crate) sustained_z: f64,
    /// Index where `sustained_z` is reached.
    pub(crate) sustained_at: usize,
    /// First index (from `split - ONSET_LOOKBACK`) where |z| >= [`ONSET_Z`] holds for
    /// [`SUSTAIN`] / 2 + 1 consecutive points in the same direction.
    pub(crate) onset: Option<usize>,
    /// Whether the column is constant (then every score is 0).
    pub(crate) constant: bool,
}

/// The median of `v` (reorders it).
pub(crate) fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    let (_, m, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    let hi = *m;
    if n % 2 == 1 {
        hi
    } else {
        let lo = v[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo + hi) / 2.0
    }
}

/// Quantile by linear interpolation of a sorted slice.
pub(crate) fn quantile_sorted(s: &[f64], q: f64) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let pos = q * (s.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    if i + 1 < s.len() {
        s[i] + frac * (s[i + 1] - s[i])
    } else {
        s[i]
    }
}

/// The scale floor: a normal period with no spread still gets a finite sigma, relative to the
/// level (so a metric flat at 0 that moves is very anomalous, but finitely so).
pub(crate) fn floor_sigma(sigma: f64, level: f64, overall_spread: f64) -> f64 {
    sigma
        .max(1e-3 * level.abs())
        .max(1e-2 * overall_spread)
        .max(1e-9)
}

/// Computes the statistics of every column over points `begin..end`, in parallel; indices in
/// the result are frame indices.
pub(crate) fn column_stats(
    frame: &MetricFrame,
    begin: usize,
    split: usize,
    end: usize,
) -> Vec<ColumnStats> {
    frame
        .columns()
        .par_iter()
        .map(|c| {
            let mut s = one_column(&c.values[begin..end], split - begin, c.constant);
            s.peak_at += begin;
            s.sustained_at += begin;
            s.onset = s.onset.map(|o| o + begin);
            s
        })
        .collect()
}

pub(crate) fn one_column(v: &[f64], split: usize, constant: bool) -> ColumnStats {
    let n = v.len();
    if constant {
        return ColumnStats {
            median: v[0],
            iqr: 0.0,
            sigma: 1.0,
            peak_z: 0.0,
            peak_at: split,
            sustained_z: 0.0,
            sustained_at: split,
            onset: None,
            constant: true,
        };
    }
    let mut normal = v[..split].to_vec();
    normal.sort_by(f64::total_cmp);
    let median = quantile_sorted(&normal, 0.5);
    let iqr = quantile_sorted(&normal, 0.75) - quantile_sorted(&normal, 0.25);
    let (lo, hi) = v
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let sigma = floor_sigma(iqr / 1.349, median, hi - lo);
    let z: Vec<f64> = v.iter().map(|&x| (x - median) / sigma).collect();
    let (mut peak_z, mut peak_at) = (0.0f64, split);
    for (i, &zi) in z.iter().enumerate().skip(split) {
        if zi.abs() > peak_z.abs() {
            peak_z = zi;
            peak_at = i;
        }
    }
    let start = split.saturating_sub(ONSET_LOOKBACK);
    let half = SUSTAIN / 2;
    let (mut sustained_z, mut sustained_at) = (0.0f64, split);
    let mut win = [0.0f64; SUSTAIN];
    for i in start..n {
        let a = i.saturating_sub(half);
        let b = (i + half + 1).min(n);
        let w = &mut win[..b - a];
        w.copy_from_slice(&z[a..b]);
        let m = median_in_place(w);
        if m.abs() > sustained_z.abs() {
            sustained_z = m;
            sustained_at = i;
        }
    }
    let need = half + 1;
    let mut onset = None;
    let mut run = 0usize;
    let mut sign = 0.0;
    for (i, &zi) in z.iter().enumerate().skip(start) {
        if zi.abs() >= ONSET_Z && (run == 0 || zi.signum() == sign) {
            if run == 0 {
                sign = zi.signum();
            }
            run += 1;
            if run >= need {
                onset = Some(i + 1 - run);
                break;
            }
        } else if zi.abs() >= ONSET_Z {
            run = 1;
            sign = zi.signum();
        } else {
            run = 0;
        }
    }
    ColumnStats {
        median,
        iqr,
        sigma,
        peak_z,
        peak_at,
        sustained_z,
        sustained_at,
        onset,
        constant: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_quantiles() {
        assert_eq!(median_in_place(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median_in_place(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(quantile_sorted(&[0.0, 1.0, 2.0, 3.0, 4.0], 0.25), 1.0);
    }

    #[test]
    fn spike_is_not_sustained_but_shift_is() {
        let mut v: Vec<f64> = (0..100).map(|i| [0.0, 1.0, -1.0, 0.5][i % 4]).collect();
        v[80] = 50.0; // a lone spike after the split
        for x in v.iter_mut().skip(90) {
            *x += 10.0; // a shift at 90
        }
        let s = one_column(&v, 60, false);
        assert_eq!(s.peak_at, 80);
        assert!(s.sustained_z > 5.0 && s.sustained_at >= 90);
        assert_eq!(s.onset, Some(90));
    }
}
