//! What storing remote_write samples costs the embedded store: appends (one block per
//! request) and compactions (blocks moved into the sample table), timed apart, with the bytes
//! the database and its write-ahead log grew by.
//!
//! ```sh
//! cargo run --release -p aiops-store --example sample_write_cost -- [SERIES] [REQUESTS] [full|normal]
//! ```
//!
//! Each request holds 2,000 samples: one per series in turn, as a Prometheus sending every
//! series once per scrape does (defaults: 10,000 series, 1,000 requests, `full` durability).

use std::time::Instant;

use aiops_store::{Durability, Store, StoreOptions};

fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let f: Vec<&str> = s.rsplit(')').next()?.split_whitespace().collect();
            let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let series: i64 = args.get(1).map_or(Ok(10_000), |s| s.parse())?;
    let requests: usize = args.get(2).map_or(Ok(1_000), |s| s.parse())?;
    let durability: Durability = args.get(3).map_or(Ok(Durability::Full), |s| s.parse())?;
    let dir = tempfile::tempdir()?;
    let options = StoreOptions {
        durability,
        ..StoreOptions::default()
    };
    let store = Store::open_dir(dir.path(), &options).await?;
    let per_request = 2_000i64;
    let (mut append_wall, mut append_cpu) = (0.0, 0.0);
    let (mut compact_wall, mut compact_cpu) = (0.0, 0.0);
    let mut pending = 0usize;
    let mut next = 0i64;
    for _ in 0..requests {
        let batch: Vec<(i64, i64, f64)> = (0..per_request)
            .map(|i| {
                let k = next + i;
                let id = k % series + 1;
                let t = 1_700_000_000_000 + (k / series) * 15_000;
                (id, t, (k % 97) as f64)
            })
            .collect();
        next += per_request;
        let (w, c) = (Instant::now(), cpu_s());
        store.append_samples(&batch).await?;
        append_wall += w.elapsed().as_secs_f64();
        append_cpu += cpu_s() - c;
        pending += batch.len();
        if pending >= 1_000_000 {
            let (w, c) = (Instant::now(), cpu_s());
            store.compact_samples(1_000_000).await?;
            compact_wall += w.elapsed().as_secs_f64();
            compact_cpu += cpu_s() - c;
            pending = 0;
        }
    }
    let samples = requests as f64 * per_request as f64;
    println!(
        "{series} series, {samples} samples, {durability:?}: appends {:.2} s wall ({:.2} s cpu, {:.0} ns cpu/sample); \
         compactions {:.2} s wall ({:.2} s cpu, {:.0} ns cpu/sample); files {:.1} MB",
        append_wall,
        append_cpu,
        append_cpu / samples * 1e9,
        compact_wall,
        compact_cpu,
        compact_cpu / samples * 1e9,
        dir_bytes(dir.path()) as f64 / 1e6,
    );
    Ok(())
}
