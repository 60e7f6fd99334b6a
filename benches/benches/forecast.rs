//! Forecasting cost: fit + 48-step forecast with a 95% interval on a 700-point hourly series
//! (the statsforecast side-by-side's setting), per model, and a batch over many series.
//!
//! `cargo bench -p aiops-benches --bench forecast`

use std::hint::black_box;

use aiops_benches::synthetic_hourly;
use aiops_forecast::registry;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn models(c: &mut Criterion) {
    let y = synthetic_hourly(700, 1);
    let mut g = c.benchmark_group("fit_predict_700");
    g.sample_size(20);
    for name in ["snaive", "theta", "ets-AAdA", "ets", "mstl", "auto"] {
        g.bench_function(name, |b| {
            b.iter(|| {
                black_box(registry::forecast(name, black_box(&y), &[24], 48, &[95.0]).unwrap())
            })
        });
    }
    g.finish();
}

fn batch(c: &mut Criterion) {
    let series: Vec<Vec<f64>> = (0..64).map(|s| synthetic_hourly(700, s)).collect();
    let mut g = c.benchmark_group("batch_64x700");
    g.sample_size(10);
    g.throughput(Throughput::Elements(series.len() as u64));
    g.bench_function("ets_rayon", |b| {
        b.iter(|| black_box(registry::forecast_many("ets", &series, &[24], 48, &[95.0])))
    });
    g.finish();
}

criterion_group!(benches, models, batch);
criterion_main!(benches);
