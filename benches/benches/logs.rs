//! Template mining throughput on loghub's HDFS 2k sample repeated to 200,000 lines, with the
//! HDFS masks of the Drain benchmark (the input `benches/drain3_peer.py` gives drain3).
//!
//! `cargo bench -p aiops-benches --bench logs` (data: `AIOPS_LOGHUB`, default
//! `../shared/data/loghub` from the repository root). Reported per line.

use std::hint::black_box;
use std::path::PathBuf;

use aiops_logs::{Drain, DrainParams, MaskSpec};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const LINES: usize = 200_000;
const HDFS_FORMAT: &str = "<Date> <Time> <Pid> <Level> <Component>: <Content>";

fn hdfs_lines() -> Vec<String> {
    let root = std::env::var_os("AIOPS_LOGHUB").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/loghub"),
        PathBuf::from,
    );
    let path = root.join("HDFS/HDFS_2k.log");
    let base = aiops_logs::read_log_lines(&path)
        .unwrap_or_else(|e| panic!("{e} (set AIOPS_LOGHUB to the loghub folder)"));
    base.iter().cycle().take(LINES).cloned().collect()
}

fn params() -> DrainParams {
    DrainParams::new()
        .mask(MaskSpec::anonymous(r"blk_-?\d+"))
        .mask(MaskSpec::anonymous(r"(\d+\.){3}\d+(:\d+)?"))
}

/// Mines `lines` with a fresh miner; the number of templates found.
fn mine(drain: &Drain, lines: &[String]) -> usize {
    let mut m = drain.miner();
    for l in lines {
        black_box(m.learn(l));
    }
    m.len()
}

fn drain(c: &mut Criterion) {
    let lines = hdfs_lines();
    let with_header = params().log_format(HDFS_FORMAT).check().unwrap();
    let contents: Vec<String> = lines
        .iter()
        .map(|l| with_header.content(l).0.to_string())
        .collect();
    let content_only = params().check().unwrap();
    let builtin_only = DrainParams::new().check().unwrap();
    let mut g = c.benchmark_group("drain_hdfs_200k");
    g.throughput(Throughput::Elements(LINES as u64));
    g.sample_size(10);
    g.bench_function("content_masks", |b| {
        b.iter(|| black_box(mine(&content_only, &contents)))
    });
    g.bench_function("content_builtin_masks_only", |b| {
        b.iter(|| black_box(mine(&builtin_only, &contents)))
    });
    g.bench_function("raw_lines_header_and_masks", |b| {
        b.iter(|| black_box(mine(&with_header, &lines)))
    });
    g.bench_function("raw_lines_parallel", |b| {
        b.iter(|| black_box(with_header.learn_parallel(&lines).1.len()))
    });
    g.finish();
}

criterion_group!(benches, drain);
criterion_main!(benches);
