//! Alert correlation throughput: 100,000 alerts (storms on a service topology, repeats,
//! resolutions) through dedup + routing/grouping + topology correlation, single-threaded.
//!
//! `cargo bench -p aiops-benches --bench correlate`

use std::hint::black_box;

use aiops_alerts::{Config, Engine};
use aiops_core::{Alert, AlertStatus, Edge, EdgeKind, Labels, Node, NodeKind, Topology};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const N: usize = 100_000;
const SERVICES: usize = 500;

/// A call tree of services (each calls two children) and a deterministic alert stream:
/// every 60 alerts a fault starts somewhere and its callers alert too; one alert in five
/// is a repeat, one in ten resolves an earlier one.
fn scenario() -> (Topology, Vec<(i64, Alert)>) {
    let nodes = (0..SERVICES)
        .map(|i| Node {
            id: format!("svc{i}"),
            kind: NodeKind::Service,
            labels: Default::default(),
        })
        .collect();
    let edges = (1..SERVICES)
        .map(|i| Edge {
            from: format!("svc{}", (i - 1) / 2),
            to: format!("svc{i}"),
            kind: EdgeKind::Calls,
        })
        .collect();
    let topo = Topology::new(nodes, edges).unwrap();
    let names = ["Errors", "Latency", "Down", "Saturation"];
    let mut out: Vec<(i64, Alert)> = Vec::with_capacity(N);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut fault = 0usize;
    let mut t = 0i64;
    for i in 0..N {
        t += 1_000;
        if i % 60 == 0 {
            fault = (rnd() as usize) % SERVICES;
        }
        let r = rnd();
        if i > 10 && r % 5 == 0 {
            let (_, prev) = &out[out.len() - 1 - (r as usize / 5) % 10.min(out.len() - 1)];
            let mut a = prev.clone();
            if r % 2 == 0 {
                a.status = AlertStatus::Resolved;
                a.ends_at = Some(t);
            }
            out.push((t, a));
            continue;
        }
        // The faulty service or one of its callers, up to 3 levels up.
        let mut s = fault;
        for _ in 0..(r % 4) {
            s = s.saturating_sub(1) / 2;
        }
        let labels = Labels::try_from_pairs([
            (
                "alertname",
                names[(r >> 8) as usize % names.len()].to_string(),
            ),
            ("service", format!("svc{s}")),
            (
                "severity",
                if r % 3 == 0 { "critical" } else { "warning" }.to_string(),
            ),
            ("pod", format!("p{}", (r >> 16) % 3)),
        ])
        .unwrap();
        out.push((t, Alert::firing(labels, t).unwrap()));
    }
    (topo, out)
}

fn correlate(c: &mut Criterion) {
    let (topo, alerts) = scenario();
    let config = Config::from_yaml(
        "route:\n  receiver: r\n  group_by: [alertname, service]\ncorrelation:\n  topology: {max_hops: 2, window: 5m}\n",
    )
    .unwrap();
    let mut g = c.benchmark_group("correlate_100k");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    g.bench_function("dedup_group_topology", |b| {
        b.iter(|| {
            let mut e = Engine::new(config.clone(), Some(&topo)).unwrap();
            let mut batches = 0usize;
            for (t, a) in &alerts {
                e.ingest(a.clone(), *t).unwrap();
                if t % 30_000 == 0 {
                    batches += e.tick(*t).unwrap().len();
                }
            }
            black_box((batches, e.stats()))
        })
    });
    g.finish();
}

criterion_group!(benches, correlate);
criterion_main!(benches);
