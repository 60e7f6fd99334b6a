//! BARO-style robust scoring (Pham et al., FSE 2024): each metric is standardised by the
//! median and interquartile range of the normal period (before the anomaly time), and scored
//! by its largest absolute deviation after it; a resource scores its best metric.
//!
//! Robust to outliers in the normal period, blind to the topology: in a cascade the callers'
//! latency often deviates more than the culprit's, and one late spike is enough to win.

use super::{Prepared, Scored};

/// Scores every candidate: max over its metrics of max |x - median| / IQR after the split.
pub(crate) fn score(p: &Prepared<'_>) -> Vec<Scored> {
    p.columns_of
        .iter()
        .map(|cols| {
            let mut best = Scored::default();
            for &c in cols {
                let s = &p.stats[c];
                if s.constant {
                    continue;
                }
                // BARO divides by the IQR itself; a flat normal period falls back to the floor.
                let scale = if s.iqr > 0.0 { s.iqr } else { s.sigma };
                let z = s.peak_z * s.sigma / scale;
                if z.abs() > best.score || best.column.is_none() {
                    best = Scored {
                        score: z.abs(),
                        column: Some(c),
                        evidence: vec![p.deviation_sentence(
                            c,
                            z,
                            s.peak_at,
                            "IQRs from its median",
                        )],
                    };
                }
            }
            best
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::rank::Method;
    use crate::testing::{chain, ranked};

    #[test]
    fn largest_robust_deviation_wins() {
        // c's latency jumps 40 noise widths, b's 10: BARO blames c whatever the topology says.
        let (g, f) = chain(
            &[("a:latency", 0.0), ("b:latency", 10.0), ("c:latency", 40.0)],
            60,
        );
        assert_eq!(ranked(&g, &f, Method::Baro), ["c", "b", "a"]);
    }
}
