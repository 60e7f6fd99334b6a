//! Detector throughput: batch and online, reported per point (criterion's element throughput).
//!
//! `cargo bench -p aiops-benches --bench detect`

use std::hint::black_box;

use aiops_benches::synthetic_series;
use aiops_detect::{Detector, OnlineDetector, ParamGuard, RollingZScoreParams, ThresholdParams};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const N: usize = 100_000;

fn zscore(c: &mut Criterion) {
    let (ts, vs) = synthetic_series(N);
    let det = RollingZScoreParams::new().window(60).check().unwrap();
    let mut g = c.benchmark_group("zscore_w60");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("batch", |b| {
        b.iter(|| black_box(det.detect(black_box(&ts), black_box(&vs)).unwrap()))
    });
    g.bench_function("online", |b| {
        b.iter(|| {
            let mut o = det.online_state();
            let mut flagged = 0usize;
            for (&t, &v) in ts.iter().zip(&vs) {
                flagged += o.update(t, black_box(v)).unwrap().is_anomaly as usize;
            }
            black_box(flagged)
        })
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

criterion_group!(benches, zscore, threshold);
criterion_main!(benches);
