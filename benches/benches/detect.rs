//! Detector throughput: batch and online, reported per point (criterion's element throughput).
//!
//! `cargo bench -p aiops-benches --bench detect`

use std::hint::black_box;

use aiops_benches::synthetic_series;
use aiops_detect::{
    Detector, OnlineDetector, ParamGuard, RollingZScoreParams, Streams, ThresholdParams,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const N: usize = 100_000;

/// Streams the series through `o`; the number of points flagged.
fn stream<O: OnlineDetector + ?Sized>(o: &mut O, ts: &[i64], vs: &[f64]) -> usize {
    let mut flagged = 0usize;
    for (&t, &v) in ts.iter().zip(vs) {
        flagged += o.update(t, black_box(v)).unwrap().is_anomaly as usize;
    }
    flagged
}

fn zscore(c: &mut Criterion) {
    let (ts, vs) = synthetic_series(N);
    let det = RollingZScoreParams::new().window(60).check().unwrap();
    let mut g = c.benchmark_group("zscore_w60");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("batch", |b| {
        b.iter(|| black_box(det.detect(black_box(&ts), black_box(&vs)).unwrap()))
    });
    g.bench_function("online", |b| {
        b.iter(|| black_box(stream(&mut det.online_state(), &ts, &vs)))
    });
    g.finish();
}

fn threshold(c: &mut Criterion) {
    let (ts, vs) = synthetic_series(N);
    let det = ThresholdParams::new()
        .upper(70.0)
        .lower(20.0)
        .check()
        .unwrap();
    let mut g = c.benchmark_group("threshold");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("batch", |b| {
        b.iter(|| black_box(det.detect(black_box(&ts), black_box(&vs)).unwrap()))
    });
    g.finish();
}

/// Online update cost of every registry detector with its default parameters (the threshold
/// detector gets bounds), per point. Slow detectors run on fewer points.
fn every_detector_online(c: &mut Criterion) {
    let mut g = c.benchmark_group("online");
    for info in aiops_detect::registry::DETECTORS {
        let params = match info.name {
            "threshold" => aiops_detect::registry::parse_assignments(&["upper=70"]).unwrap(),
            _ => serde_json::Map::new(),
        };
        let det = aiops_detect::registry::build(info.name, &params).unwrap();
        let heavy = matches!(
            info.name,
            "random_cut_forest"
                | "isolation_forest"
                | "stl"
                | "seasonal_esd"
                | "spectral_residual"
                | "ensemble"
        );
        let n = if heavy { 10_000 } else { 100_000 };
        let (ts, vs) = synthetic_series(n);
        g.throughput(Throughput::Elements(n as u64));
        g.sample_size(10);
        g.bench_function(info.name, |b| {
            b.iter(|| black_box(stream(&mut *det.online(), &ts, &vs)))
        });
    }
    g.finish();
}

criterion_group!(benches, zscore, threshold, every_detector_online);
criterion_main!(benches);
