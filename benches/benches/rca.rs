//! Root-cause ranking speed: 1,000 resources (900 services in a call tree on 100 hosts) x 10
//! metrics x 720 points, validated and ranked by the default method, with the anomaly time
//! found in the data (change-point detection included) and given.
//!
//! `cargo bench -p aiops-benches --bench rca`

use std::hint::black_box;
use std::time::Duration;

use aiops_core::TopologyGraph;
use aiops_core::{Edge, EdgeKind, Node, NodeKind, Topology};
use aiops_rca::rank::{Method, MetricFrame, rank};
use criterion::{Criterion, criterion_group, criterion_main};

const SERVICES: usize = 900;
const HOSTS: usize = 100;
const METRICS: usize = 10;
const POINTS: usize = 720;
const FAULT_AT: usize = 500;

struct Data {
    topology: Topology,
    timestamps: Vec<i64>,
    names: Vec<String>,
    columns: Vec<Vec<f64>>,
}

/// Services in a tree (each calls up to three children), each on a host; every metric is a
/// level plus Gaussian noise plus a daily cycle; a fault at service 777 shifts its metrics
/// and, a minute later per hop, its ancestors' first three metrics.
fn data() -> Data {
    let mut nodes: Vec<Node> = (0..SERVICES)
        .map(|i| Node {
            id: format!("svc{i}"),
            kind: NodeKind::Service,
            labels: Default::default(),
        })
        .collect();
    nodes.extend((0..HOSTS).map(|h| Node {
        id: format!("host{h}"),
        kind: NodeKind::Host,
        labels: Default::default(),
    }));
    let mut edges: Vec<Edge> = (1..SERVICES)
        .map(|i| Edge {
            from: format!("svc{}", (i - 1) / 3),
            to: format!("svc{i}"),
            kind: EdgeKind::Calls,
        })
        .collect();
    edges.extend((0..SERVICES).map(|i| Edge {
        from: format!("svc{i}"),
        to: format!("host{}", i % HOSTS),
        kind: EdgeKind::RunsOn,
    }));
    let topology = Topology::new(nodes, edges).unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut normal = move || {
        let mut u = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let (a, b) = (u(), u());
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    };
    // Depth of the fault's ancestors: svc777 -> 258 -> 85 -> 28 -> 9 -> 2 -> 0.
    let mut hops = vec![usize::MAX; SERVICES];
    let (mut s, mut d) = (777usize, 0usize);
    loop {
        hops[s] = d;
        if s == 0 {
            break;
        }
        s = (s - 1) / 3;
        d += 1;
    }
    let mut names = Vec::new();
    let mut columns = Vec::new();
    let resources: Vec<String> = (0..SERVICES)
        .map(|i| format!("svc{i}"))
        .chain((0..HOSTS).map(|h| format!("host{h}")))
        .collect();
    for (r, res) in resources.iter().enumerate() {
        for m in 0..METRICS {
            names.push(format!("{res}:m{m}"));
            let level = 100.0 + 10.0 * m as f64;
            let col = (0..POINTS)
                .map(|t| {
                    let cycle = 5.0 * (t as f64 * std::f64::consts::TAU / 1440.0).sin();
                    let mut v = level + cycle + normal();
                    let hit = r < SERVICES && hops[r] != usize::MAX && t >= FAULT_AT + hops[r];
                    if hit && (hops[r] == 0 || m < 3) {
                        v += 12.0;
                    }
                    v
                })
                .collect();
            columns.push(col);
        }
    }
    Data {
        topology,
        timestamps: (0..POINTS as i64)
            .map(|i| 1_767_225_600_000 + i * 60_000)
            .collect(),
        names,
        columns,
    }
}

fn bench(c: &mut Criterion) {
    let d = data();
    let graph = TopologyGraph::new(&d.topology).unwrap();
    let mut g = c.benchmark_group("rca");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let run = |time: Option<i64>| {
        let frame =
            MetricFrame::new(&graph, d.timestamps.clone(), &d.names, d.columns.clone()).unwrap();
        let r = rank(&graph, &frame, time, Method::Default).unwrap();
        assert_eq!(r.root_causes[0].resource, "svc777");
        r
    };
    g.bench_function("default_1000x10x720_time_found", |b| {
        b.iter(|| black_box(run(None)))
    });
    g.bench_function("default_1000x10x720_time_given", |b| {
        b.iter(|| black_box(run(Some(d.timestamps[FAULT_AT]))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
