//! The cost of one detector per point and per series, and a fingerprint of its output: the
//! measurements behind the `default` rows of BENCHMARKS.md' detection cost part.
//!
//! ```sh
//! cargo run --release -p aiops-benches --example default_cost -- cost [DETECTOR] [POINTS]
//! cargo run --release -p aiops-benches --example default_cost -- kinds [DETECTOR] [POINTS] [SERIES] [K=V]...
//! cargo run --release -p aiops-benches --example default_cost -- fingerprint DATA [DETECTOR]
//! ```
//!
//! `cost` streams a noisy daily cycle and a random walk through one online state each and
//! prints µs per point (wall clock, and CPU time of the thread) in the warm-up (first 300
//! points) and after it, the heap the state
//! holds at the end (a counting allocator) and the length of its snapshot, then the cost of
//! a batch over the first 1,000 points (a young series, as the detect endpoint gets it).
//! `kinds` streams the service load generator's four kinds of series (CPU, latency, a counter
//! as its rate, memory) and prints µs a point by age of the series (wall clock, and CPU time
//! of the thread). `fingerprint` runs the detector in batch over the NASA telemetry, NAB and the synthetic family and
//! prints a hash of every output column per family: equal hashes, equal results.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use aiops_benches::{SERVICE_METRICS, ServiceKind, ServiceSeries, synthetic_series};
use aiops_detect::{Detections, registry};

/// Counts the bytes held, so that a state's heap can be read as a difference, and the
/// allocations (and reallocations) made.
struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
static CALLS: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let held =
            HELD.fetch_add(layout.size() as isize, Ordering::Relaxed) + layout.size() as isize;
        CALLS.fetch_add(1, Ordering::Relaxed);
        PEAK.fetch_max(held, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
        let held = HELD.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        ) + new_size as isize
            - layout.size() as isize;
        PEAK.fetch_max(held, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// CPU time of this thread so far, in ns (Linux's scheduler statistics; 0 elsewhere): on a
/// shared machine it tells the cost apart from the time spent waiting for a core.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Points of the warm-up of `default`, timed apart.
const WARMUP: usize = 300;

/// Points of a young series scored in batch, and how many times.
const YOUNG: usize = 1000;
const YOUNG_RUNS: usize = 50;

/// A random walk of `n` points from a fixed LCG, one minute apart.
fn random_walk(n: usize) -> (Vec<i64>, Vec<f64>) {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut x = 100.0;
    let mut vs = Vec::with_capacity(n);
    for _ in 0..n {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x += ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0;
        vs.push(x);
    }
    let ts = (0..n as i64)
        .map(|i| 1_700_000_000_000 + i * 60_000)
        .collect();
    (ts, vs)
}

fn cost(name: &str, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let det = registry::build(name, &serde_json::Map::new())?;
    for (series, (ts, vs)) in [
        ("noisy daily cycle", synthetic_series(n)),
        ("random walk", random_walk(n)),
    ] {
        let before = HELD.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let mut online = det.online();
        let (start, cpu0) = (Instant::now(), cpu_ns());
        for i in 0..WARMUP.min(n) {
            online.update(ts[i], vs[i])?;
        }
        let (warm, cpu1) = (start.elapsed(), cpu_ns());
        let start = Instant::now();
        let calls = CALLS.load(Ordering::Relaxed);
        for i in WARMUP.min(n)..n {
            online.update(ts[i], vs[i])?;
        }
        let (past, cpu2) = (start.elapsed(), cpu_ns());
        let allocs =
            (CALLS.load(Ordering::Relaxed) - calls) as f64 / n.saturating_sub(WARMUP).max(1) as f64;
        let held = HELD.load(Ordering::Relaxed) - before;
        let peak = PEAK.load(Ordering::Relaxed) - before;
        let snapshot = online.snapshot()?.len();
        // A young series, as `POST /api/v1/anomalies/detect` scores one: batch over the first
        // 1,000 points, a fresh state each time.
        let young = YOUNG.min(n);
        let (start, cpu3) = (Instant::now(), cpu_ns());
        for _ in 0..YOUNG_RUNS {
            std::hint::black_box(det.detect(&ts[..young], &vs[..young])?);
        }
        let (batch, cpu4) = (start.elapsed(), cpu_ns());
        println!(
            "{series:<18} {n} points: warm-up {:.2} us/pt (cpu {:.2}), after {:.2} us/pt (cpu {:.2}); {:.2} allocations a point; heap {} B (peak {} B), snapshot {} B",
            warm.as_secs_f64() * 1e6 / WARMUP.min(n) as f64,
            (cpu1 - cpu0) as f64 / 1e3 / WARMUP.min(n) as f64,
            past.as_secs_f64() * 1e6 / (n - WARMUP.min(n)).max(1) as f64,
            (cpu2 - cpu1) as f64 / 1e3 / (n - WARMUP.min(n)).max(1) as f64,
            allocs,
            held,
            peak,
            snapshot
        );
        println!(
            "{:<18} batch of the first {young} points: {:.2} us/pt (cpu {:.2})",
            "",
            batch.as_secs_f64() * 1e6 / (YOUNG_RUNS * young) as f64,
            (cpu4 - cpu3) as f64 / 1e3 / (YOUNG_RUNS * young) as f64,
        );
    }
    Ok(())
}

/// Where the per-kind costs are cut: µs a point are printed for each span between two marks.
const SPANS: [usize; 6] = [0, 300, 1_000, 3_000, 10_000, 100_000];

/// The service load generator's kinds as the service scores them (a counter as its rate a
/// second), `series` of each, `n` points each 15 s apart, streamed through one online state
/// each: µs a point (wall clock, and CPU time of the thread) in each span of [`SPANS`] and
/// the heap held at the end. Series after series, or with `INTERLEAVE=K` set K points of
/// every series in turn, as a server meets them (their states then compete for the caches).
fn kinds(
    name: &str,
    n: usize,
    series: usize,
    params: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), Box<dyn std::error::Error>> {
    let det = registry::build(name, params)?;
    let step = 15_000;
    let interleave: Option<usize> = std::env::var("INTERLEAVE")
        .ok()
        .map(|v| v.parse::<usize>().map(|k| k.max(1)))
        .transpose()?;
    for (metric, kind) in SERVICE_METRICS {
        let mut spans = vec![0u64; SPANS.len()];
        let t0 = 1_700_000_000_000;
        let all: Vec<Vec<f64>> = (0..series as u64)
            .map(|seed| {
                let mut generator = ServiceSeries::new(kind, seed * 4 + kind as u64, step);
                let raw: Vec<f64> = (0..=n as i64)
                    .map(|i| generator.value(t0 + i * step))
                    .collect();
                if kind == ServiceKind::Counter {
                    raw.windows(2)
                        .map(|w| {
                            let increase = if w[1] >= w[0] { w[1] - w[0] } else { w[1] };
                            increase / (step as f64 / 1000.0)
                        })
                        .collect()
                } else {
                    raw[1..].to_vec()
                }
            })
            .collect();
        let mut cpu = vec![0u64; SPANS.len()];
        let before = HELD.load(Ordering::Relaxed);
        let mut states: Vec<_> = (0..series).map(|_| det.online()).collect();
        for (k, w) in SPANS.windows(2).enumerate() {
            let (from, to) = (w[0].min(n), w[1].min(n));
            let (start, cpu_start) = (Instant::now(), cpu_ns());
            if let Some(run) = interleave {
                // As a server sees them: `run` points of every series in turn.
                for at in (from..to).step_by(run) {
                    for (online, values) in states.iter_mut().zip(&all) {
                        for (i, &v) in values.iter().enumerate().take((at + run).min(to)).skip(at) {
                            online.update(t0 + (i as i64 + 1) * step, v)?;
                        }
                    }
                }
            } else {
                for (online, values) in states.iter_mut().zip(&all) {
                    for (i, &v) in values.iter().enumerate().take(to).skip(from) {
                        online.update(t0 + (i as i64 + 1) * step, v)?;
                    }
                }
            }
            spans[k] += start.elapsed().as_nanos() as u64;
            cpu[k] += cpu_ns().saturating_sub(cpu_start);
        }
        let held = HELD.load(Ordering::Relaxed) - before;
        let mut line = format!("{metric:<30}");
        for (k, w) in SPANS.windows(2).enumerate() {
            if w[0] >= n {
                break;
            }
            let points = (w[1].min(n) - w[0]) * series;
            line += &format!(
                "  {}-{}: {:.2} (cpu {:.2})",
                w[0],
                w[1].min(n),
                spans[k] as f64 / 1e3 / points as f64,
                cpu[k] as f64 / 1e3 / points as f64
            );
        }
        println!(
            "{line} us/pt; heap {} B a series",
            held / series.max(1) as isize
        );
    }
    Ok(())
}

/// FNV-1a over 64-bit words.
#[derive(Debug)]
struct Fnv(u64);

impl Fnv {
    fn word(&mut self, w: u64) {
        for b in w.to_le_bytes() {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn detections(&mut self, d: &Detections) {
        for i in 0..d.scores.len() {
            self.word(d.scores[i].to_bits());
            self.word(d.is_anomaly[i] as u64);
            self.word(d.expected[i].to_bits());
            self.word(d.lower[i].to_bits());
            self.word(d.upper[i].to_bits());
        }
    }
}

/// A family's series: timestamps and values.
type Family<'a> = Vec<(Vec<i64>, &'a [f64])>;

fn fingerprint(data: &std::path::Path, name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let det = registry::build(name, &serde_json::Map::new())?;
    let tele = aiops_eval::events::load_dir(&data.join("telemanom"))?;
    let nab = aiops_eval::nab::load_corpus(&data.join("nab"))?;
    let synthetic =
        aiops_eval::synthetic::generate(&aiops_eval::synthetic::SyntheticParams::default())?;
    let families: [(&str, Family<'_>); 3] = [
        (
            "telemanom",
            tele.iter()
                .map(|s| (s.timestamps.clone(), &s.values[..]))
                .collect(),
        ),
        (
            "NAB",
            nab.iter()
                .map(|s| {
                    (
                        aiops_eval::nab::detection_timestamps(&s.timestamps),
                        &s.values[..],
                    )
                })
                .collect(),
        ),
        (
            "synthetic",
            synthetic
                .iter()
                .map(|s| (s.series.timestamps.clone(), &s.series.values[..]))
                .collect(),
        ),
    ];
    for (family, series) in families {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        let (mut points, mut flagged) = (0usize, 0usize);
        let start = Instant::now();
        for (ts, vs) in &series {
            let d = det.detect(ts, vs)?;
            h.detections(&d);
            points += vs.len();
            flagged += d.is_anomaly.iter().filter(|&&a| a).count();
        }
        println!(
            "{family:<10} {:>4} series {points:>8} points {flagged:>6} flagged  hash {:016x}  {:.2} us/pt",
            series.len(),
            h.0,
            start.elapsed().as_secs_f64() * 1e6 / points as f64
        );
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: default_cost cost [DETECTOR] [POINTS] | kinds [DETECTOR] [POINTS] [SERIES] [K=V]... | fingerprint DATA [DETECTOR]";
    match args.first().map(String::as_str) {
        Some("cost") => {
            let name = args.get(1).map_or("default", String::as_str);
            let n = args.get(2).map_or(Ok(100_000), |s| s.parse())?;
            cost(name, n)
        }
        Some("kinds") => {
            let name = args.get(1).map_or("default", String::as_str);
            let n = args.get(2).map_or(Ok(3_000), |s| s.parse())?;
            let series = args.get(3).map_or(Ok(8), |s| s.parse())?;
            let mut params = serde_json::Map::new();
            for kv in args.iter().skip(4) {
                let (k, v) = kv.split_once('=').ok_or("parameters are k=v")?;
                let v = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::from(v));
                params.insert(k.to_string(), v);
            }
            kinds(name, n, series, &params)
        }
        Some("fingerprint") => {
            let data = PathBuf::from(args.get(1).ok_or(usage)?);
            fingerprint(&data, args.get(2).map_or("default", String::as_str))
        }
        _ => Err(usage.into()),
    }
}
