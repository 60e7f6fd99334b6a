//! Shared inputs for the aiops benchmarks: deterministic synthetic series, so every run and
//! every peer sees the same data without reading files.

/// The LCG behind the synthetic inputs: Knuth's MMIX constants, the top 53 bits as a uniform
/// value in [-1, 1).
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

/// A metric-like series of `n` points: a daily cycle (period 1,440 points), noise from a fixed
/// LCG, and a spike every 5,000 points. Timestamps are one minute apart, in ms.
pub fn synthetic_series(n: usize) -> (Vec<i64>, Vec<f64>) {
    let mut lcg = Lcg(0x9e37_79b9_7f4a_7c15);
    let ts = (0..n as i64)
        .map(|i| 1_700_000_000_000 + i * 60_000)
        .collect();
    let vs = (0..n)
        .map(|i| {
            let noise = lcg.uniform();
            let cycle = (i as f64 * std::f64::consts::TAU / 1440.0).sin();
            let spike = if i % 5000 == 4999 { 25.0 } else { 0.0 };
            50.0 + 10.0 * cycle + 2.0 * noise + spike
        })
        .collect();
    (ts, vs)
}

/// An hourly metric of `n` points for the forecasting benches: a daily cycle (24), a weekend
/// dip (168), a slow trend and noise from a fixed LCG seeded by `seed`.
pub fn synthetic_hourly(n: usize, seed: u64) -> Vec<f64> {
    let mut lcg = Lcg(0x9e37_79b9_7f4a_7c15 ^ seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
    (0..n)
        .map(|i| {
            let noise = lcg.uniform();
            let daily = (i as f64 * std::f64::consts::TAU / 24.0).sin();
            let weekend = if (i / 24) % 7 >= 5 { -3.0 } else { 0.0 };
            50.0 + 0.01 * i as f64 + 10.0 * daily + weekend + 2.0 * noise
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn deterministic() {
        assert_eq!(super::synthetic_series(100), super::synthetic_series(100));
        assert_eq!(
            super::synthetic_series(10).0[1] - super::synthetic_series(10).0[0],
            60_000
        );
    }
}
