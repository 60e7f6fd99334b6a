//! Detectors that model a seasonal cycle or a spectrum: they need evenly spaced points and
//! handle gaps by their timestamps.

pub mod profile;
pub mod seasonal_esd;
pub mod spectral_residual;
pub mod stl;
mod window;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::common::testing::{daily, ts};
    use crate::registry::build;

    /// The detectors whose meaning depends on evenly spaced points, with the points after a
    /// gap by which their memory has turned over (the profiles, windows and residual
    /// histories hold only points after the gap).
    fn cases() -> Vec<(&'static str, serde_json::Value, usize)> {
        vec![
            (
                "seasonal",
                json!({"period": 24, "history": 100}),
                4 * 24 + 100,
            ),
            (
                "seasonal",
                json!({"history": 100, "detect_window": 512}),
                4 * 24 + 100,
            ),
            ("stl", json!({"period": 24}), 2 * 192 + 12),
            ("stl", json!({}), 2 * 192 + 12),
            ("seasonal_esd", json!({"period": 24}), 2 * 192 + 12),
            ("seasonal_esd", json!({}), 2 * 192 + 12),
            ("spectral_residual", json!({}), 128),
        ]
    }

    /// A gap of k steps leaves the phase where it was: right after it the expectations
    /// follow the full series' (where a detector blind to time, seeing the series evenly
    /// restamped, is a few steps out of phase), and once the memory has turned over the scores
    /// are exactly those of the same series with the k points present.
    #[test]
    fn a_gap_never_shifts_the_phase() {
        let n = 3000;
        let (t, v) = (ts(n), daily(n, 5));
        // Gaps of 7 steps while a period is searched for and of 5 steps later on, and
        // jittered intervals (80 s and 40 s on a 60 s step) that are not gaps.
        let gaps = [300..307, 1500..1505];
        let kept: Vec<usize> = (0..n)
            .filter(|i| !gaps.iter().any(|g| g.contains(i)))
            .collect();
        let mut tg: Vec<i64> = kept.iter().map(|&i| t[i]).collect();
        tg[200] += 20_000;
        let vg: Vec<f64> = kept.iter().map(|&i| v[i]).collect();
        let restamped = ts(kept.len());
        let after = |i: usize| kept.iter().position(|&k| k >= i).unwrap_or(kept.len());
        for (name, params, turnover) in cases() {
            let det = build(name, params.as_object().unwrap()).unwrap();
            let full = det.detect(&t, &v).unwrap();
            let gapped = det.detect(&tg, &vg).unwrap();
            let blind = det.detect(&restamped, &vg).unwrap();
            for (j, &i) in kept.iter().enumerate().skip(after(1505 + turnover)) {
                assert_eq!(gapped.point(j), full.point(i), "{name} {params}: {i}");
            }
            if name == "spectral_residual" {
                continue;
            }
            let off = |d: &crate::Detections| {
                (after(1505)..after(1505 + 48))
                    .map(|j| (d.expected[j] - full.expected[kept[j]]).abs())
                    .sum::<f64>()
            };
            assert!(
                off(&gapped) < 0.25 * off(&blind),
                "{name} {params}: {} vs blind {}",
                off(&gapped),
                off(&blind)
            );
        }
    }
}
