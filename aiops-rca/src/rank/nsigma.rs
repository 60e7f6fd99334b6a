//! n-sigma scoring: each metric is standardised by the mean and standard deviation of the
//! normal period and scored by its largest |z| after the anomaly time; a resource scores its
//! best metric. The classic baseline: outliers in the normal period inflate the deviation and
//! hide real changes, which is why BARO uses the median and IQR instead.

use super::{Prepared, Scored};

/// Scores every candidate: max over its metrics of max |x - mean| / std after the split.
pub(crate) fn score(p: &Prepared<'_>) -> Vec<Scored> {
    let cols = p.frame.columns();
    p.columns_of
        .iter()
        .map(|mine| {
            let mut best = Scored::default();
            for &c in mine {
                if p.stats[c].constant {
                    continue;
                }
                let v = &cols[c].values;
                let normal = &v[p.begin..p.split];
                let n = normal.len() as f64;
                let mean = normal.iter().sum::<f64>() / n;
                let var =
                    normal.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
                let sd = super::column_stats::floor_sigma(var.sqrt(), mean, 0.0);
                let (mut z, mut at) = (0.0f64, p.split);
                for (i, &x) in v.iter().enumerate().take(p.end).skip(p.split) {
                    let zi = (x - mean) / sd;
                    if zi.abs() > z.abs() {
                        z = zi;
                        at = i;
                    }
                }
                if z.abs() > best.score || best.column.is_none() {
                    best = Scored {
                        score: z.abs(),
                        column: Some(c),
                        evidence: vec![p.deviation_sentence(c, z, at, "sigma")],
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
    fn largest_z_wins() {
        let (g, f) = chain(
            &[("a:latency", 5.0), ("b:latency", 30.0), ("c:latency", 0.0)],
            60,
        );
        assert_eq!(ranked(&g, &f, Method::NSigma)[0], "b");
    }
}
