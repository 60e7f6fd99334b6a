//! A microservice incident simulator with ground truth, for evaluating root-cause ranking.
//!
//! Each case is a random system and one fault in it:
//!
//! - **Topology**: 10–40 services in a tree-ish call graph rooted at `frontend` (each service
//!   has one caller drawn among the earlier ones, and a second caller with probability 0.25,
//!   so some callees are shared); about a third of the leaves are databases or caches. Services
//!   run on 2–10 hosts (`runs_on`).
//! - **Load**: the frontend's request rate follows a daily cycle (amplitude 20–50 %, random
//!   phase) with slow wander; each call edge carries a random number of calls per request, so
//!   a service's rate is the sum over its callers.
//! - **Physics**, per minute, callees before callers:
//!   - a service's CPU is its rate times a per-request cost; its host's CPU is the sum of its
//!     residents' CPU over the host's cores plus background;
//!   - a service's own processing time inflates with queueing, `1 / (1 - u)`, where `u` is the
//!     larger of its CPU utilisation against its limit and its host's utilisation; its latency
//!     is its processing time plus, for each callee, the calls per request times the callee's
//!     latency one or zero minutes earlier (the lag of the edge);
//!   - its error rate is a base rate plus a share (30–90 %, what retries and fallbacks let
//!     through) of each callee's error rate;
//!   - memory wanders slowly around a baseline; a host's memory is its residents' plus
//!     background; memory pressure slows the service (garbage collection) or, on a host, every
//!     resident (swapping);
//!   - process noise in processing time propagates to callers; every observed value also gets
//!     measurement noise of its own scale (2–10 %), with occasional heavy-tailed outliers.
//! - **Faults** (one per case, at a service with probability 0.75, else at a host), starting
//!   between 50 % and 80 % of the span, ramping in over 1–3 minutes and lasting to the end:
//!   CPU hog (extra CPU demand: the service's and its host's CPU rise and it slows down, its
//!   host neighbours a little), memory leak (memory climbs linearly; latency follows through
//!   garbage collection), added delay, errors, packet loss (retransmissions add latency and
//!   some errors). Host faults: CPU hog, memory leak (swapping) and packet loss, which hit every
//!   resident. Trouble reaches callers only through the physics above, so it attenuates with
//!   the calls per request and the error pass-through, and lags by the edge lags.
//! - **Distractors**: 2–6 unrelated spikes (1–3 minutes, 6–15 noise scales) on random metrics at
//!   random times, before or after the fault.
//!
//! Deterministic: the same parameters and seed give the same case (a splitmix64 generator).

use aiops_core::{Edge, EdgeKind, Node, NodeKind, TimestampMs, Topology};

use crate::error::{EvalError, Result};
use crate::rng::SimRng;

/// The faults the simulator injects (named as [`FaultKind::as_str`] in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Extra CPU demand (a busy loop, a noisy process).
    CpuHog,
    /// Memory grows linearly.
    MemoryLeak,
    /// Added latency in the service's own processing.
    Delay,
    /// A share of requests fail.
    Errors,
    /// Packets are lost: retransmissions add latency, some requests fail.
    PacketLoss,
    /// A level shift of one variable of a random linear causal model (the PyRCA-style
    /// cases of [`crate::rca_ranking::Simulator::RandomDag`]; never made by this simulator).
    #[serde(rename = "dag_shift")]
    Shift,
    /// A spike of one variable of a random linear causal model (as `Shift`).
    #[serde(rename = "dag_spike")]
    Spike,
}

impl FaultKind {
    /// Every kind, in report order.
    pub const ALL: [FaultKind; 5] = [
        FaultKind::CpuHog,
        FaultKind::MemoryLeak,
        FaultKind::Delay,
        FaultKind::Errors,
        FaultKind::PacketLoss,
    ];

    /// Snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::CpuHog => "cpu_hog",
            FaultKind::MemoryLeak => "memory_leak",
            FaultKind::Delay => "delay",
            FaultKind::Errors => "errors",
            FaultKind::PacketLoss => "packet_loss",
            FaultKind::Shift => "dag_shift",
            FaultKind::Spike => "dag_spike",
        }
    }
}

/// Simulator parameters; [`SimParams::default`] is what `aiops eval rca` reports on.
#[derive(Debug, Clone, PartialEq)]
pub struct SimParams {
    /// Fewest services (>= 3).
    pub min_services: usize,
    /// Most services.
    pub max_services: usize,
    /// Points per metric (one a minute).
    pub points: usize,
    /// Time between points (ms).
    pub step_ms: i64,
    /// Probability that the fault is on a host rather than a service.
    pub host_fault: f64,
    /// Probability that a service gets a second caller.
    pub extra_caller: f64,
}

impl Default for SimParams {
    fn default() -> Self {
        Self {
            min_services: 10,
            max_services: 40,
            points: 720,
            step_ms: 60_000,
            host_fault: 0.25,
            extra_caller: 0.25,
        }
    }
}

/// One simulated incident: the system, its metrics and the truth.
#[derive(Debug, Clone)]
pub struct SimCase {
    /// The system.
    pub topology: Topology,
    /// Timestamps (ms since the epoch), one a `step_ms`.
    pub timestamps: Vec<TimestampMs>,
    /// Column names, `<resource>:<metric>`.
    pub names: Vec<String>,
    /// One column per name.
    pub columns: Vec<Vec<f64>>,
    /// The faulty resource.
    pub root: String,
    /// What went wrong there.
    pub fault: FaultKind,
    /// When the fault started (ms).
    pub fault_time: TimestampMs,
}

/// The crate's splitmix64 generator ([`SimRng`]) with this simulator's integer and normal
/// draws (kept as they were when the recorded accuracy was measured).
#[derive(Debug, Clone)]
pub(crate) struct Rng(SimRng);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(SimRng::new(seed))
    }
    pub(crate) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        self.0.uniform(lo, hi)
    }
    /// Uniform integer in [lo, hi).
    pub(crate) fn int(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.0.next_u64() % (hi - lo).max(1) as u64) as usize
    }
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = self.0.unit().max(1e-300);
        let u2 = self.0.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.0.chance(p)
    }
}

struct Service {
    name: String,
    host: usize,
    /// (callee, calls per request, lag in steps, error pass-through)
    callees: Vec<(usize, f64, usize, f64)>,
    proc_ms: f64,
    cost: f64,
    limit: f64,
    base_err: f64,
    mem_base: f64,
    mem_limit: f64,
}

struct Host {
    name: String,
    cores: f64,
    bg_cpu: f64,
    mem_bg: f64,
    mem_total: f64,
}

/// Where the fault is.
#[derive(Clone, Copy)]
enum Target {
    Service(usize),
    Host(usize),
}

/// Simulates one incident.
pub fn simulate(params: &SimParams, seed: u64) -> Result<SimCase> {
    if params.min_services < 3 || params.max_services < params.min_services {
        return Err(EvalError::Invalid {
            what: "services",
            reason: format!(
                "need 3 <= min_services <= max_services, got {}..{}",
                params.min_services, params.max_services
            ),
        });
    }
    if params.points < 60 || params.step_ms <= 0 {
        return Err(EvalError::Invalid {
            what: "points",
            reason: "need at least 60 points and a positive step".into(),
        });
    }
    let mut rng = Rng::new(seed ^ 0x0005_EED0_FAB5_u64);
    let n_svc = rng.int(params.min_services, params.max_services + 1);
    let n_host = (n_svc / 4).clamp(2, 10);
    let n = params.points;

    // Call graph: a random recursive tree plus some shared callees.
    let mut callers: Vec<Vec<usize>> = vec![Vec::new(); n_svc];
    for (i, mine) in callers.iter_mut().enumerate().skip(1) {
        let p = rng.int(0, i);
        mine.push(p);
        if i >= 2 && rng.chance(params.extra_caller) {
            let q = rng.int(0, i);
            if q != p {
                mine.push(q);
            }
        }
    }
    let mut host_of: Vec<usize> = (0..n_svc).map(|i| i % n_host).collect();
    for i in (1..n_svc).rev() {
        host_of.swap(i, rng.int(0, i + 1));
    }
    let mut services: Vec<Service> = (0..n_svc)
        .map(|i| Service {
            name: if i == 0 {
                "frontend".to_string()
            } else {
                format!("svc{i:02}")
            },
            host: host_of[i],
            callees: Vec::new(),
            proc_ms: rng.range(2.0, 30.0),
            cost: rng.range(0.5, 4.0) / 1000.0,
            limit: 0.0,
            base_err: rng.range(0.0005, 0.01),
            mem_base: rng.range(200.0, 2000.0),
            mem_limit: 0.0,
        })
        .collect();
    for (i, cs) in callers.iter().enumerate() {
        for &c in cs {
            let calls = rng.range(0.3, 2.0);
            let lag = usize::from(rng.chance(0.5));
            let pass = rng.range(0.3, 0.9);
            services[c].callees.push((i, calls, lag, pass));
        }
    }
    let mut kinds = vec![NodeKind::Service; n_svc];
    for i in 1..n_svc {
        if services[i].callees.is_empty() && rng.chance(0.35) {
            kinds[i] = if rng.chance(0.5) {
                NodeKind::Database
            } else {
                NodeKind::Cache
            };
            services[i].name = format!(
                "{}{i:02}",
                if kinds[i] == NodeKind::Database {
                    "db"
                } else {
                    "cache"
                }
            );
        }
    }

    // Load: the frontend's rate and each service's share of it.
    let base_rate = rng.range(50.0, 500.0);
    let amp = rng.range(0.2, 0.5);
    let phase = rng.range(0.0, std::f64::consts::TAU);
    let day = 86_400_000.0 / params.step_ms as f64;
    let mut share = vec![0.0; n_svc];
    share[0] = 1.0;
    for i in 0..n_svc {
        for k in 0..services[i].callees.len() {
            let (c, calls, _, _) = services[i].callees[k];
            share[c] += share[i] * calls;
        }
    }
    let peak = base_rate * (1.0 + amp);
    let mut hosts: Vec<Host> = (0..n_host)
        .map(|h| Host {
            name: format!("host{}", h + 1),
            cores: 0.0,
            bg_cpu: rng.range(0.05, 0.15),
            mem_bg: rng.range(1000.0, 4000.0),
            mem_total: 0.0,
        })
        .collect();
    let mut host_peak_cpu = vec![0.0; n_host];
    let mut host_mem = vec![0.0; n_host];
    for s in services.iter_mut().zip(&share) {
        let (svc, sh) = s;
        let cpu_peak = peak * sh * svc.cost;
        // Limits put peak utilisation at 25-55 %.
        svc.limit = cpu_peak / rng.range(0.25, 0.55);
        svc.mem_limit = svc.mem_base * rng.range(2.0, 3.0);
        host_peak_cpu[svc.host] += cpu_peak;
        host_mem[svc.host] += svc.mem_base;
    }
    for (h, host) in hosts.iter_mut().enumerate() {
        host.cores = (host_peak_cpu[h] / rng.range(0.3, 0.55)).max(0.5);
        host.mem_total = (host_mem[h] + host.mem_bg) * rng.range(1.8, 2.5);
    }

    // Typical latency of each service (mid-cycle), so an added delay is sized to it.
    let mut typical = vec![0.0; n_svc];
    for i in (0..n_svc).rev() {
        let mut l = services[i].proc_ms / (1.0 - 0.4);
        for &(c, calls, _, _) in &services[i].callees {
            l += calls.min(1.5) * typical[c];
        }
        typical[i] = l;
    }

    // The fault.
    let target = if rng.chance(params.host_fault) {
        Target::Host(rng.int(0, n_host))
    } else {
        Target::Service(rng.int(0, n_svc))
    };
    let fault = match target {
        Target::Host(_) => [
            FaultKind::CpuHog,
            FaultKind::MemoryLeak,
            FaultKind::PacketLoss,
        ][rng.int(0, 3)],
        Target::Service(_) => FaultKind::ALL[rng.int(0, 5)],
    };
    let t0 = rng.int(n / 2, n * 4 / 5);
    let ramp = rng.int(1, 4) as f64;
    let severity = rng.range(0.0, 1.0);
    let intensity = |t: usize| -> f64 {
        if t < t0 {
            0.0
        } else {
            (((t - t0) as f64 + 1.0) / ramp).min(1.0)
        }
    };
    let leak_steps = rng.range(60.0, 150.0);

    // Metric noise scales.
    let noise_of = |rng: &mut Rng| rng.range(0.02, 0.10);
    let svc_noise: Vec<[f64; 5]> = (0..n_svc)
        .map(|_| {
            [
                noise_of(&mut rng),
                noise_of(&mut rng),
                noise_of(&mut rng),
                noise_of(&mut rng) * 0.3,
                noise_of(&mut rng),
            ]
        })
        .collect();
    let host_noise: Vec<[f64; 2]> = (0..n_host)
        .map(|_| [noise_of(&mut rng), noise_of(&mut rng) * 0.3])
        .collect();

    // Series, by time.
    let mut lat = vec![vec![0.0; n]; n_svc];
    let mut err = vec![vec![0.0; n]; n_svc];
    let mut cpu = vec![vec![0.0; n]; n_svc];
    let mut mem = vec![vec![0.0; n]; n_svc];
    let mut req = vec![vec![0.0; n]; n_svc];
    let mut hcpu = vec![vec![0.0; n]; n_host];
    let mut hmem = vec![vec![0.0; n]; n_host];
    let mut hnet = vec![vec![0.0; n]; n_host];
    let mut wander = 0.0;
    let mut mem_walk = vec![0.0; n_svc];
    for t in 0..n {
        wander = 0.98 * wander + 0.01 * rng.normal();
        let rate0 = base_rate
            * (1.0 + amp * (std::f64::consts::TAU * t as f64 / day + phase).sin())
            * (1.0 + wander);
        let f = intensity(t);
        // CPU first (it needs only the rate), then hosts, then latency callees-first.
        let mut used = vec![0.0; n_host];
        let mut svc_cpu = vec![0.0; n_svc];
        let mut svc_mem = vec![0.0; n_svc];
        for i in 0..n_svc {
            let s = &services[i];
            let rate = rate0 * share[i];
            req[i][t] = rate;
            let mut c = rate * s.cost;
            mem_walk[i] = 0.97 * mem_walk[i] + 0.03 * rng.normal();
            let mut m = s.mem_base * (1.0 + 0.05 * mem_walk[i]);
            if let Target::Service(r) = target
                && r == i
            {
                match fault {
                    FaultKind::CpuHog => c += f * s.limit * (0.5 + 0.45 * severity),
                    FaultKind::MemoryLeak => {
                        let grown = ((t.saturating_sub(t0)) as f64 / leak_steps).min(1.0);
                        m += f * grown * (s.mem_limit - s.mem_base) * (0.7 + 0.3 * severity);
                    }
                    _ => {}
                }
            }
            // Garbage collection costs CPU as memory fills.
            let fill = ((m - s.mem_base) / (s.mem_limit - s.mem_base)).clamp(0.0, 1.0);
            c *= 1.0 + 0.5 * fill * fill;
            svc_cpu[i] = c;
            svc_mem[i] = m;
            used[s.host] += c;
        }
        let mut host_util = vec![0.0; n_host];
        let mut host_pressure = vec![0.0; n_host];
        let mut host_loss = vec![0.0; n_host];
        for (h, host) in hosts.iter().enumerate() {
            let mut extra = 0.0;
            let mut mem_extra = 0.0;
            if let Target::Host(r) = target
                && r == h
            {
                match fault {
                    FaultKind::CpuHog => extra = f * host.cores * (0.5 + 0.4 * severity),
                    FaultKind::MemoryLeak => {
                        let grown = ((t.saturating_sub(t0)) as f64 / leak_steps).min(1.0);
                        mem_extra = f * grown * host.mem_total * (0.45 + 0.3 * severity);
                    }
                    FaultKind::PacketLoss => host_loss[h] = f * (0.04 + 0.16 * severity),
                    _ => {}
                }
            }
            let u = used[h] / host.cores + host.bg_cpu + extra / host.cores;
            host_util[h] = u;
            hcpu[h][t] = u.min(1.0) * 100.0;
            let resident: f64 = (0..n_svc)
                .filter(|&i| services[i].host == h)
                .map(|i| svc_mem[i])
                .sum();
            let total = resident + host.mem_bg + mem_extra;
            hmem[h][t] = total;
            host_pressure[h] = ((total / host.mem_total) - 0.75).max(0.0) / 0.25;
            // Retransmitted segments per second: a trickle plus the lost share of traffic.
            let traffic: f64 = (0..n_svc)
                .filter(|&i| services[i].host == h)
                .map(|i| rate0 * share[i])
                .sum();
            hnet[h][t] = traffic * (0.002 + host_loss[h]);
        }
        for i in (0..n_svc).rev() {
            let s = &services[i];
            let h = s.host;
            let u = (svc_cpu[i] / s.limit).max(host_util[h]).min(0.97);
            let fill = ((svc_mem[i] - s.mem_base) / (s.mem_limit - s.mem_base)).clamp(0.0, 1.0);
            let mut own = s.proc_ms / (1.0 - u) * (1.0 + 2.0 * fill * fill);
            own *= 1.0 + 3.0 * host_pressure[h].powi(2);
            own *= (1.0 + 0.05 * rng.normal()).max(0.5);
            let mut e = s.base_err;
            let mut loss = host_loss[h];
            if let Target::Service(r) = target
                && r == i
            {
                match fault {
                    FaultKind::Delay => own += f * (20.0 + typical[i] * (0.3 + 1.2 * severity)),
                    FaultKind::Errors => e += f * (0.03 + 0.25 * severity),
                    FaultKind::PacketLoss => loss += f * (0.04 + 0.16 * severity),
                    _ => {}
                }
            }
            // Retransmission timeouts (200 ms) on lost packets; some requests give up.
            own += loss * 200.0;
            e += loss * 0.3;
            let mut l = own;
            for &(c, calls, lag, pass) in &s.callees {
                let tl = t.saturating_sub(lag);
                l += calls.min(1.5) * lat[c][tl];
                e += pass * calls.min(1.0) * err[c][tl];
            }
            lat[i][t] = l;
            err[i][t] = e.min(1.0);
            cpu[i][t] = svc_cpu[i];
            mem[i][t] = svc_mem[i];
        }
    }

    // Observation: measurement noise, heavy tails, distractor spikes.
    let mut names = Vec::new();
    let mut columns = Vec::new();
    let metric_names = ["latency", "error_rate", "cpu", "memory", "requests"];
    for i in 0..n_svc {
        let series = [&lat[i], &err[i], &cpu[i], &mem[i], &req[i]];
        for (k, s) in series.iter().enumerate() {
            names.push(format!("{}:{}", services[i].name, metric_names[k]));
            columns.push(observe(s, svc_noise[i][k], &mut rng));
        }
    }
    for h in 0..n_host {
        names.push(format!("{}:cpu", hosts[h].name));
        columns.push(observe(&hcpu[h], host_noise[h][0], &mut rng));
        names.push(format!("{}:memory", hosts[h].name));
        columns.push(observe(&hmem[h], host_noise[h][1], &mut rng));
        names.push(format!("{}:retransmits", hosts[h].name));
        columns.push(observe(&hnet[h], host_noise[h][0] * 2.0, &mut rng));
    }
    let spikes = rng.int(2, 7);
    for _ in 0..spikes {
        let c = rng.int(0, columns.len());
        let at = rng.int(0, n);
        let len = rng.int(1, 4);
        let k = rng.range(6.0, 15.0);
        let col = &mut columns[c];
        let scale = noise_scale(col);
        let sign = if rng.chance(0.8) { 1.0 } else { -1.0 };
        for v in col.iter_mut().skip(at).take(len) {
            *v = (*v + sign * k * scale).max(0.0);
        }
    }

    let mut nodes: Vec<Node> = services
        .iter()
        .zip(&kinds)
        .map(|(s, k)| Node {
            id: s.name.clone(),
            kind: k.clone(),
            labels: Default::default(),
        })
        .collect();
    nodes.extend(hosts.iter().map(|h| Node {
        id: h.name.clone(),
        kind: NodeKind::Host,
        labels: Default::default(),
    }));
    let mut edges = Vec::new();
    for s in &services {
        for &(c, ..) in &s.callees {
            edges.push(Edge {
                from: s.name.clone(),
                to: services[c].name.clone(),
                kind: EdgeKind::Calls,
            });
        }
        edges.push(Edge {
            from: s.name.clone(),
            to: hosts[s.host].name.clone(),
            kind: EdgeKind::RunsOn,
        });
    }
    let topology = Topology::new(nodes, edges)?;
    let start: TimestampMs = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    let timestamps = (0..n as i64).map(|i| start + i * params.step_ms).collect();
    let root = match target {
        Target::Service(i) => services[i].name.clone(),
        Target::Host(h) => hosts[h].name.clone(),
    };
    Ok(SimCase {
        topology,
        timestamps,
        names,
        columns,
        root,
        fault,
        fault_time: start + t0 as i64 * params.step_ms,
    })
}

/// Multiplicative measurement noise of relative scale `sigma`, with a 1 % chance per point of
/// a heavy-tailed (5x) draw.
fn observe(truth: &[f64], sigma: f64, rng: &mut Rng) -> Vec<f64> {
    truth
        .iter()
        .map(|&v| {
            let z = rng.normal() * if rng.chance(0.01) { 5.0 } else { 1.0 };
            (v * (1.0 + sigma * z)).max(0.0)
        })
        .collect()
}

/// Typical point-to-point noise of a column (median absolute first difference / 0.954).
fn noise_scale(col: &[f64]) -> f64 {
    let mut d: Vec<f64> = col.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    d.sort_by(f64::total_cmp);
    let m = d.get(d.len() / 2).copied().unwrap_or(0.0);
    (m / 0.954).max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_well_formed() {
        let p = SimParams::default();
        let a = simulate(&p, 7).unwrap();
        let b = simulate(&p, 7).unwrap();
        assert_eq!(a.columns, b.columns);
        assert_eq!(a.root, b.root);
        let c = simulate(&p, 8).unwrap();
        assert_ne!(a.columns, c.columns);
        assert!(a.topology.node(&a.root).is_some());
        assert_eq!(a.names.len(), a.columns.len());
        for col in &a.columns {
            assert_eq!(col.len(), p.points);
            assert!(col.iter().all(|v| v.is_finite() && *v >= 0.0));
        }
        assert!(a.fault_time > a.timestamps[0] && a.fault_time < *a.timestamps.last().unwrap());
    }

    #[test]
    fn faults_propagate_to_callers() {
        // A delay at a service shows in its callers' latency, later or at once, not before.
        let p = SimParams::default();
        let mut checked = 0;
        for seed in 0..60 {
            let case = simulate(&p, seed).unwrap();
            if case.fault != FaultKind::Delay {
                continue;
            }
            let t0 = case
                .timestamps
                .iter()
                .position(|&t| t == case.fault_time)
                .unwrap();
            let col = |name: &str| {
                let i = case.names.iter().position(|n| n == name).unwrap();
                &case.columns[i]
            };
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
            for e in case.topology.incoming(&case.root) {
                let l = col(&format!("{}:latency", e.from));
                let before = mean(&l[t0 - 30..t0]);
                let after = mean(&l[t0 + 5..t0 + 35]);
                assert!(after > before, "seed {seed}: {} did not slow down", e.from);
                checked += 1;
            }
        }
        assert!(checked > 3);
    }

    #[test]
    fn bad_params() {
        let p = SimParams {
            min_services: 2,
            ..SimParams::default()
        };
        assert!(simulate(&p, 1).is_err());
    }
}
