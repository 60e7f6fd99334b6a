//! Shared test fixtures: deterministic noise and the online-equals-batch check every detector
//! must pass.

use aiops_core::TimestampMs;

use crate::detector::{Detections, Detector, OnlineDetector, ParamGuard, Streaming, Streams};

/// Deterministic noise, uniform in [-1, 1) (an LCG, so tests need no RNG crate).
pub(crate) fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

/// `n` timestamps a minute apart, from 2023-11-14 (ms).
pub(crate) fn ts(n: usize) -> Vec<TimestampMs> {
    (0..n as i64)
        .map(|i| 1_700_000_000_000 + i * 60_000)
        .collect()
}

/// A daily-like cycle of 48 points (amplitude 10 around 50) with uniform noise in [-1, 1).
pub(crate) fn cycle(n: usize, seed: u64) -> Vec<f64> {
    noise(n, seed)
        .iter()
        .enumerate()
        .map(|(i, e)| 50.0 + 10.0 * (i as f64 * std::f64::consts::TAU / 48.0).sin() + e)
        .collect()
}

/// A daily (24-point) pattern with a sharp morning peak, on a slow trend, with noise.
pub(crate) fn daily(n: usize, seed: u64) -> Vec<f64> {
    noise(n, seed)
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let h = (i % 24) as f64;
            let shape = 10.0 * (std::f64::consts::PI * h / 24.0).sin().powi(3)
                + if (8..11).contains(&(i % 24)) {
                    4.0
                } else {
                    0.0
                };
            100.0 + 0.02 * i as f64 + shape + 0.5 * e
        })
        .collect()
}

/// Three metrics of one resource driven by a common load: request rate, CPU share and bytes,
/// each on its own scale, one row per point.
pub(crate) fn resource(n: usize, seed: u64) -> ndarray::Array2<f64> {
    let load = noise(n, seed);
    let e1 = noise(n, seed + 1);
    let e2 = noise(n, seed + 2);
    ndarray::Array2::from_shape_fn((n, 3), |(i, j)| match j {
        0 => 1000.0 + 100.0 * load[i],
        1 => 0.5 + 0.2 * load[i] + 0.02 * e1[i],
        _ => 1e9 + 1e8 * load[i] + 2e7 * e2[i],
    })
}

/// Asserts that streaming the points one by one into a fresh state gives exactly the batch
/// result, with the state saved and restored into a fresh one at each index of `snapshots`.
pub(crate) fn assert_online_equals_batch(
    det: &dyn Detector,
    ts: &[TimestampMs],
    values: &[f64],
    snapshots: &[usize],
) {
    let batch = det.detect(ts, values).unwrap();
    let mut online = det.online();
    for i in 0..values.len() {
        if snapshots.contains(&i) {
            let saved = online.snapshot().unwrap();
            online = det.online();
            online.restore(&saved).unwrap();
        }
        assert_eq!(
            online.update(ts[i], values[i]).unwrap(),
            batch.point(i),
            "{} point {i}",
            det.name()
        );
    }
}

/// 3,000 points of a level stepping between 0 and 1 every 50 points with uniform noise, ten
/// times louder from point 1,500 on: a rolling fence learns the new normal, a fence fitted
/// once keeps judging by the start.
pub(crate) fn stepping_then_louder() -> Vec<f64> {
    noise(3000, 3)
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let step = if (i / 50) % 2 == 0 { 0.0 } else { 1.0 };
            let x = 0.5 * u + step;
            if i < 1500 { x } else { 10.0 * x }
        })
        .collect()
}

/// Indices of the flagged points.
pub(crate) fn flagged(d: &Detections) -> Vec<usize> {
    (0..d.len()).filter(|&i| d.is_anomaly[i]).collect()
}

/// The flagged points before `split` and those from it on, each asserted non-empty.
pub(crate) fn flagged_around(d: &Detections, split: usize) -> (Vec<usize>, Vec<usize>) {
    let f = flagged(d);
    let (before, after): (Vec<usize>, Vec<usize>) = f.iter().partition(|&&i| i < split);
    assert!(!before.is_empty() && !after.is_empty(), "{f:?}");
    (before, after)
}

/// Asserts that on `v` (3,000 points) a detector fitted once flags more points from 2,500 on
/// than its rolling twin, and streams exactly as it scores in batch.
pub(crate) fn assert_once_flags_more_late(once: &dyn Detector, rolling: &dyn Detector, v: &[f64]) {
    let ts: Vec<i64> = (0..v.len() as i64).collect();
    let late = |det: &dyn Detector| {
        let d = det.detect(&ts, v).unwrap();
        d.is_anomaly[2500..].iter().filter(|&&a| a).count()
    };
    let (l_once, l_roll) = (late(once), late(rolling));
    assert!(l_once > l_roll, "{l_once} vs {l_roll}");
    assert_online_equals_batch(once, &ts, v, &[700]);
}

/// Where [`spikes_and_a_dip`] spikes.
pub(crate) const SPIKES: [usize; 3] = [900, 1500, 2200];

/// 3,000 points of [`cycle`] with spikes of +30 at [`SPIKES`] and an outage: the metric drops
/// far below its range (-40) for points 2,600..2,620.
pub(crate) fn spikes_and_a_dip() -> Vec<f64> {
    let mut v = cycle(3000, 3);
    for &i in &SPIKES {
        v[i] += 30.0;
    }
    for x in &mut v[2600..2620] {
        *x -= 40.0;
    }
    v
}

/// Asserts that each spike of [`spikes_and_a_dip`] is flagged from its own point while it
/// stays in the 4-value shingle, and not around, and returns the flags neither a spike nor
/// the outage explains.
pub(crate) fn spike_shingles_and_strays(d: &Detections) -> Vec<usize> {
    let flagged = flagged(d);
    for &i in &SPIKES {
        assert!(
            (i..i + 4).all(|j| d.is_anomaly[j]),
            "spike {i}: {flagged:?}"
        );
        assert!(!d.is_anomaly[i - 1] && !d.is_anomaly[i + 4], "{flagged:?}");
    }
    assert!(d.is_anomaly[2600], "{flagged:?}");
    let explained =
        |i: usize| SPIKES.iter().any(|&s| (s..s + 4).contains(&i)) || (2600..2624).contains(&i);
    flagged.into_iter().filter(|&i| !explained(i)).collect()
}

/// Asserts that a detector fitted once on the first 100 points of `v` (400 points, a new
/// level from point 300 on) scores 0 while training, flags every point of the new level and
/// streams exactly as it scores in batch, saved and restored at `saved_at`; returns the
/// batch result and the timestamps (0, 1, ...).
pub(crate) fn assert_trained_once(
    det: &dyn Detector,
    v: &[f64],
    saved_at: usize,
) -> (Detections, Vec<TimestampMs>) {
    let ts: Vec<TimestampMs> = (0..v.len() as i64).collect();
    let d = det.detect(&ts, v).unwrap();
    assert!(d.scores[..100].iter().all(|&s| s == 0.0), "training");
    assert!(
        d.is_anomaly[300..].iter().all(|&a| a),
        "the new level stays anomalous"
    );
    assert_online_equals_batch(det, &ts, v, &[saved_at]);
    (d, ts)
}

/// Where [`daily_with_spikes`] puts its spikes.
pub(crate) const DAILY_SPIKES: [usize; 5] = [1100, 1190, 1250, 1251, 1300];

/// Sixty days of [`daily`] (seed 1) with a spike of +6 (even index) or -6 (odd) at each of
/// [`DAILY_SPIKES`].
pub(crate) fn daily_with_spikes() -> Vec<f64> {
    let mut v = daily(24 * 60, 1);
    for &i in &DAILY_SPIKES {
        v[i] += if i % 2 == 0 { 6.0 } else { -6.0 };
    }
    v
}

/// Asserts that a seasonal detector flags exactly the spikes of [`daily_with_spikes`] (`v`),
/// with finite non-negative scores, 0 over the first 192 points (warm-up), and at point
/// 1,400 expects the value within 2 and bounds it; returns the result.
pub(crate) fn assert_finds_daily_spikes(det: &dyn Detector, v: &[f64]) -> Detections {
    let d = det.detect(&ts(v.len()), v).unwrap();
    assert_eq!(flagged(&d), DAILY_SPIKES, "{det:?}");
    assert!(d.scores.iter().all(|s| s.is_finite() && *s >= 0.0));
    assert!(d.scores[..192].iter().all(|&s| s == 0.0), "warm-up");
    let e = d.expected[1400];
    assert!((e - (v[1400])).abs() < 2.0, "expected {e} vs {}", v[1400]);
    assert!(d.lower[1400] < v[1400] && v[1400] < d.upper[1400]);
    d
}

/// `n` points of a slow trend from 20 with uniform noise in [-1, 1) (seed 5), not seasonal.
pub(crate) fn noisy_trend(n: usize) -> Vec<f64> {
    noise(n, 5)
        .iter()
        .enumerate()
        .map(|(i, e)| 20.0 + 0.01 * i as f64 + e)
        .collect()
}

/// Asserts that every parameter set is refused with `InvalidParameter`.
pub(crate) fn assert_all_refused<P: ParamGuard + std::fmt::Debug>(bad: impl IntoIterator<Item = P>)
where
    P::Checked: std::fmt::Debug,
{
    for p in bad {
        assert!(
            matches!(p.check(), Err(crate::DetectError::InvalidParameter { .. })),
            "{p:?}"
        );
    }
}

/// The streaming state of `det` after the points of `ts` and `values`, in order.
pub(crate) fn streamed<C: Streams>(
    det: &C,
    ts: &[TimestampMs],
    values: &[f64],
) -> Streaming<C::Kernel> {
    let mut online = det.online_state();
    for (&t, &x) in ts.iter().zip(values) {
        online.update(t, x).unwrap();
    }
    online
}

/// A daily cycle of 288 points (amplitude 10 around 50) plus uniform noise in [-0.5, 0.5),
/// seeded identically every time.
pub(crate) fn noisy_daily(n: usize) -> Vec<f64> {
    let mut s: u64 = 42;
    (0..n)
        .map(|i| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let noise = ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5;
            50.0 + 10.0 * (i as f64 * std::f64::consts::TAU / 288.0).sin() + noise
        })
        .collect()
}

/// What the detector tests use, in one glob.
#[allow(unused_imports)]
pub(crate) mod prelude {
    pub(crate) use crate::detector::{
        Detections, Detector, Kernel, OnlineDetector, ParamGuard, Streams,
    };
    pub(crate) use crate::error::DetectError;
    pub(crate) use aiops_core::Severity;
}

/// Asserts that each parameter set is refused with `InvalidParameter` naming the parameter.
pub(crate) fn assert_rejected<P: ParamGuard>(cases: impl IntoIterator<Item = (P, &'static str)>)
where
    P::Checked: std::fmt::Debug,
{
    for (params, name) in cases {
        match params.check() {
            Err(crate::DetectError::InvalidParameter { name: n, .. }) => assert_eq!(n, name),
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// Checks the parameters and scores the series (test shorthand).
pub(crate) fn run<P: ParamGuard>(params: P, ts: &[TimestampMs], values: &[f64]) -> Detections
where
    P::Checked: Detector,
{
    params.check().unwrap().detect(ts, values).unwrap()
}

/// Whether the parameters are refused (test shorthand).
pub(crate) fn refused<P: ParamGuard>(params: P) -> bool {
    params.check().is_err()
}

/// `n` points of noise around 100 with `spikes` added (index, offset), and timestamps a
/// second apart from zero.
pub(crate) fn spiked(n: usize, seed: u64, spikes: &[(usize, f64)]) -> (Vec<TimestampMs>, Vec<f64>) {
    let mut v: Vec<f64> = noise(n, seed).iter().map(|x| 100.0 + x).collect();
    for &(i, d) in spikes {
        v[i] += d;
    }
    let ts = (0..v.len() as i64).map(|i| i * 1000).collect();
    (ts, v)
}
