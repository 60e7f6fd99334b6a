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

/// A small deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly normal (sum of four uniforms), mean 0, sd 1.
    fn normal(&mut self) -> f64 {
        (self.unit() + self.unit() + self.unit() + self.unit() - 2.0) * 3f64.sqrt()
    }
}

/// The kind of a series the service load generator writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// CPU utilisation in [0, 1]: daily cycle and noise.
    Cpu,
    /// Request latency (seconds): log-normal noise around a level, rare spikes.
    Latency,
    /// A request counter: rate with a daily cycle, integrated.
    Counter,
    /// Memory bytes: slow drift and noise.
    Memory,
}

/// The metric names the service load generator uses, with their kinds (series `i` takes
/// entry `i % 4`).
pub const SERVICE_METRICS: [(&str, ServiceKind); 4] = [
    ("node_cpu_utilisation", ServiceKind::Cpu),
    ("http_request_duration_seconds", ServiceKind::Latency),
    ("http_requests_total", ServiceKind::Counter),
    ("process_resident_memory_bytes", ServiceKind::Memory),
];

/// The values of one generated service series: deterministic given its kind and seed, with
/// a spike one sample in 2,000 (CPU and latency).
#[derive(Debug, Clone)]
pub struct ServiceSeries {
    kind: ServiceKind,
    level: f64,
    counter: f64,
    step_ms: i64,
    rng: SplitMix,
}

impl ServiceSeries {
    /// A series of `kind` seeded by `seed`, sampled every `step_ms`.
    pub fn new(kind: ServiceKind, seed: u64, step_ms: i64) -> Self {
        let mut rng = SplitMix(seed * 7919 + 1);
        let level = 0.5 + rng.unit();
        Self {
            kind,
            level,
            counter: 1e6 * rng.unit(),
            step_ms,
            rng,
        }
    }

    /// The value at time `t` (ms); call once per step, in order.
    pub fn value(&mut self, t: i64) -> f64 {
        let day = 86_400_000.0;
        let phase = (t as f64 % day) / day * std::f64::consts::TAU;
        let spike = self.rng.unit() < 0.0005;
        match self.kind {
            ServiceKind::Cpu => {
                let v = 0.35 * self.level + 0.15 * phase.sin() + 0.03 * self.rng.normal();
                if spike { 0.98 } else { v.clamp(0.0, 1.0) }
            }
            ServiceKind::Latency => {
                let v = 0.05 * self.level * (0.2 * self.rng.normal()).exp();
                if spike { v * 20.0 } else { v }
            }
            ServiceKind::Counter => {
                let rate = 100.0 * self.level * (1.2 + phase.sin()) + 5.0 * self.rng.normal();
                self.counter += rate.max(0.0) * (self.step_ms as f64 / 1000.0);
                self.counter.round()
            }
            ServiceKind::Memory => {
                self.level += 1e-4 * self.rng.normal();
                let v = 2e9 * self.level * (1.0 + 0.01 * self.rng.normal());
                v.round()
            }
        }
    }
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
