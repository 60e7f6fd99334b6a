//! Deterministic alert-storm scenarios with ground truth, for evaluating the correlation
//! engine: a random service topology (a call DAG of services, each running on a host), faults
//! injected on random services or hosts whose alerts propagate upstream to callers (and from a
//! failed host to the services on it) with per-hop delays and jitter, periodic re-sends of
//! firing alerts (duplicates), unrelated background alerts and flapping alerts.
//!
//! Every generated alert carries its ground truth (the fault it belongs to, or none) next to
//! it, never in its labels, so the engine cannot see it. The same parameters and seed always
//! give the same scenario (a small splitmix64 generator, no external randomness).

use aiops_core::{
    Alert, AlertStatus, Edge, EdgeKind, Labels, Node, NodeKind, TimestampMs, Topology,
};

use crate::error::{EvalError, Result};
use crate::rng::SimRng;

/// Scenario parameters. [`ScenarioParams::default`] is the default mix the evaluation
/// reports on: 30 services on 5 hosts, 3 faults (one in four on a host) over three hours,
/// 80 % propagation per call edge up to 3 hops, 30 s per hop plus up to 25 s jitter, faults
/// lasting 20 min, firing alerts re-sent every minute while they fire (as Prometheus does with
/// its default `resend_delay` of 1m), 8 background alerts (lasting 20 min each) and 2 flapping
/// alerts flapping 4 times each, 4 min apart (2 min firing, 2 min resolved).
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioParams {
    /// Number of services (>= 2).
    pub services: usize,
    /// Number of hosts (>= 1).
    pub hosts: usize,
    /// Probability that a service gets a second caller (making the call graph a DAG).
    pub extra_caller: f64,
    /// Number of injected faults.
    pub faults: usize,
    /// Probability that a fault is on a host rather than a service.
    pub host_fault: f64,
    /// Probability that trouble propagates along one call edge to the caller.
    pub propagation: f64,
    /// Largest number of call edges trouble propagates over.
    pub max_depth: usize,
    /// Delay per hop of propagation (ms).
    pub hop_delay_ms: i64,
    /// Uniform extra delay of each alert, in `[0, jitter_ms)` (ms).
    pub jitter_ms: i64,
    /// Most times a firing alert is sent again after the first, every `resend_interval_ms`
    /// while it fires.
    pub resends: usize,
    /// Time between re-sends (ms).
    pub resend_interval_ms: i64,
    /// How long a fault lasts before its alerts resolve (ms).
    pub fault_duration_ms: i64,
    /// Unrelated background alerts (each on a random resource at a random time).
    pub background: usize,
    /// Flapping alerts (each firing and resolving `flaps` times).
    pub flapping: usize,
    /// Firing episodes of each flapping alert.
    pub flaps: usize,
    /// Time from one flapping episode to the next (ms); it fires for half of it.
    pub flap_period_ms: i64,
    /// Length of the scenario (ms); faults are spread evenly over it.
    pub span_ms: i64,
}

impl Default for ScenarioParams {
    fn default() -> Self {
        Self {
            services: 30,
            hosts: 5,
            extra_caller: 0.2,
            faults: 3,
            host_fault: 0.25,
            propagation: 0.8,
            max_depth: 3,
            hop_delay_ms: 30_000,
            jitter_ms: 25_000,
            resends: 19,
            resend_interval_ms: 60_000,
            fault_duration_ms: 20 * 60_000,
            background: 8,
            flapping: 2,
            flaps: 4,
            flap_period_ms: 4 * 60_000,
            span_ms: 3 * 3_600_000,
        }
    }
}

/// An injected fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The resource that failed (a service or host id in the topology).
    pub resource: String,
    /// When it failed (ms).
    pub at: TimestampMs,
}

/// One alert as sent to the engine, with its ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioAlert {
    /// The alert (a firing or resolved notification).
    pub alert: Alert,
    /// When it arrives (ms); the scenario's alerts are sorted by it.
    pub at: TimestampMs,
    /// Index into [`Scenario::faults`] of the fault that caused it; `None` for background
    /// and flapping alerts.
    pub fault: Option<usize>,
    /// Which firing episode it belongs to: re-sends and the resolution of one alert share it.
    pub episode: usize,
}

/// A generated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Services and hosts with `calls` and `runs_on` edges.
    pub topology: Topology,
    /// The injected faults.
    pub faults: Vec<Fault>,
    /// Every alert, in arrival order.
    pub alerts: Vec<ScenarioAlert>,
    /// Number of episodes (distinct firing alerts) in `alerts`.
    pub episodes: usize,
}

const BACKGROUND_NAMES: [&str; 4] = [
    "HighCpu",
    "DiskSpaceLow",
    "CertificateExpiring",
    "SlowQueries",
];

impl ScenarioParams {
    fn check(&self) -> Result<()> {
        let bad = |name: &'static str, reason: &str| {
            Err(EvalError::Invalid {
                what: name,
                reason: reason.into(),
            })
        };
        if self.services < 2 {
            return bad("services", "need at least 2");
        }
        if self.hosts == 0 {
            return bad("hosts", "need at least 1");
        }
        for (name, p) in [
            ("extra_caller", self.extra_caller),
            ("host_fault", self.host_fault),
            ("propagation", self.propagation),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return bad(name, "must be a probability in [0, 1]");
            }
        }
        for (name, v) in [
            ("hop_delay_ms", self.hop_delay_ms),
            ("jitter_ms", self.jitter_ms),
        ] {
            if v < 0 {
                return bad(name, "must not be negative");
            }
        }
        for (name, v) in [
            ("resend_interval_ms", self.resend_interval_ms),
            ("fault_duration_ms", self.fault_duration_ms),
            ("flap_period_ms", self.flap_period_ms),
            ("span_ms", self.span_ms),
        ] {
            if v <= 0 {
                return bad(name, "must be positive");
            }
        }
        Ok(())
    }

    /// Generates the scenario for `seed`.
    pub fn generate(&self, seed: u64) -> Result<Scenario> {
        self.check()?;
        let mut rng = SimRng::new(seed);
        let svc = |i: usize| format!("svc-{i}");
        let host = |i: usize| format!("host-{i}");
        let mut nodes: Vec<Node> = (0..self.services)
            .map(|i| Node {
                id: svc(i),
                kind: NodeKind::Service,
                labels: Default::default(),
            })
            .collect();
        nodes.extend((0..self.hosts).map(|i| Node {
            id: host(i),
            kind: NodeKind::Host,
            labels: Default::default(),
        }));
        // callers[i]: services calling service i; runs_on[i]: host of service i.
        let mut callers: Vec<Vec<usize>> = vec![Vec::new(); self.services];
        let mut edges = Vec::new();
        for (i, mine) in callers.iter_mut().enumerate().skip(1) {
            let first = rng.below(i);
            mine.push(first);
            if i > 1 && rng.chance(self.extra_caller) {
                let second = rng.below(i);
                if second != first {
                    mine.push(second);
                }
            }
            for &c in mine.iter() {
                edges.push(Edge {
                    from: svc(c),
                    to: svc(i),
                    kind: EdgeKind::Calls,
                });
            }
        }
        let runs_on: Vec<usize> = (0..self.services).map(|_| rng.below(self.hosts)).collect();
        for (i, &h) in runs_on.iter().enumerate() {
            edges.push(Edge {
                from: svc(i),
                to: host(h),
                kind: EdgeKind::RunsOn,
            });
        }
        let topology = Topology::new(nodes, edges)?;

        let mut out = Vec::new();
        let mut episode = 0usize;
        let mut faults = Vec::new();
        let slot = self.span_ms / self.faults.max(1) as i64;
        for f in 0..self.faults {
            let at = f as i64 * slot + rng.span(slot / 2);
            // (service, depth) first hit, breadth first.
            let mut hit: Vec<(usize, usize)> = Vec::new();
            let resource = if rng.chance(self.host_fault) {
                let h = rng.below(self.hosts);
                let labels = Labels::try_from_pairs([
                    ("alertname", "HostDown"),
                    ("instance", host(h).as_str()),
                    ("severity", "critical"),
                ])?;
                self.emit_fault(
                    &mut out,
                    labels,
                    at + rng.span(self.jitter_ms),
                    Some(f),
                    episode,
                )?;
                episode += 1;
                hit.extend(
                    (0..self.services)
                        .filter(|&s| runs_on[s] == h)
                        .map(|s| (s, 1)),
                );
                host(h)
            } else {
                let s = rng.below(self.services);
                hit.push((s, 0));
                svc(s)
            };
            let mut seen: Vec<bool> = vec![false; self.services];
            for &(s, _) in &hit {
                seen[s] = true;
            }
            let mut k = 0;
            while k < hit.len() {
                let (s, d) = hit[k];
                k += 1;
                if d - usize::from(resource.starts_with("host")) >= self.max_depth {
                    continue;
                }
                for &c in &callers[s] {
                    if !seen[c] && rng.chance(self.propagation) {
                        seen[c] = true;
                        hit.push((c, d + 1));
                    }
                }
            }
            for (s, d) in hit {
                let (name, severity) = if d == 0 || (d == 1 && resource.starts_with("host")) {
                    ("ServiceDown", "critical")
                } else {
                    ("HighErrorRate", "warning")
                };
                let labels = Labels::try_from_pairs([
                    ("alertname", name),
                    ("service", svc(s).as_str()),
                    ("severity", severity),
                ])?;
                let t = at + d as i64 * self.hop_delay_ms + rng.span(self.jitter_ms);
                self.emit_fault(&mut out, labels, t, Some(f), episode)?;
                episode += 1;
            }
            faults.push(Fault { resource, at });
        }
        let resource_label = |rng: &mut SimRng| {
            let i = rng.below(self.services + self.hosts);
            if i < self.services {
                ("service", svc(i))
            } else {
                ("instance", host(i - self.services))
            }
        };
        for _ in 0..self.background {
            let (label, r) = resource_label(&mut rng);
            let name = BACKGROUND_NAMES[rng.below(BACKGROUND_NAMES.len())];
            let labels = Labels::try_from_pairs([
                ("alertname", name),
                (label, r.as_str()),
                ("severity", "warning"),
            ])?;
            let t = rng.span(self.span_ms);
            self.emit_fault(&mut out, labels, t, None, episode)?;
            episode += 1;
        }
        for _ in 0..self.flapping {
            let (label, r) = resource_label(&mut rng);
            let labels = Labels::try_from_pairs([
                ("alertname", "HighMemory"),
                (label, r.as_str()),
                ("severity", "warning"),
            ])?;
            let t0 = rng.span(self.span_ms);
            for k in 0..self.flaps {
                let start = t0 + k as i64 * self.flap_period_ms;
                let end = start + self.flap_period_ms / 2;
                self.emit(&mut out, labels.clone(), start, end, None, episode)?;
                episode += 1;
            }
        }
        out.sort_by_key(|a| (a.at, a.episode));
        Ok(Scenario {
            topology,
            faults,
            alerts: out,
            episodes: episode,
        })
    }

    /// One firing alert starting at `start` lasting a fault's duration (background alerts
    /// last as long as fault alerts).
    fn emit_fault(
        &self,
        out: &mut Vec<ScenarioAlert>,
        labels: Labels,
        start: TimestampMs,
        fault: Option<usize>,
        episode: usize,
    ) -> Result<()> {
        self.emit(
            out,
            labels,
            start,
            start + self.fault_duration_ms,
            fault,
            episode,
        )
    }

    /// One firing alert from `start`, its re-sends while it fires, and its resolution at
    /// `end`.
    fn emit(
        &self,
        out: &mut Vec<ScenarioAlert>,
        labels: Labels,
        start: TimestampMs,
        end: TimestampMs,
        fault: Option<usize>,
        episode: usize,
    ) -> Result<()> {
        let mut a = Alert::firing(labels, start)?;
        for k in 0..=self.resends {
            let t = start + k as i64 * self.resend_interval_ms;
            if t < end {
                push(out, a.clone(), t, fault, episode);
            }
        }
        a.status = AlertStatus::Resolved;
        a.ends_at = Some(end);
        push(out, a, end, fault, episode);
        Ok(())
    }
}

fn push(
    out: &mut Vec<ScenarioAlert>,
    alert: Alert,
    at: TimestampMs,
    fault: Option<usize>,
    episode: usize,
) {
    out.push(ScenarioAlert {
        alert,
        at,
        fault,
        episode,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_scenario_other_seed_differs() {
        let p = ScenarioParams::default();
        let a = p.generate(7).unwrap();
        assert_eq!(a, p.generate(7).unwrap());
        assert_ne!(a.alerts, p.generate(8).unwrap().alerts);
    }

    #[test]
    fn default_mix_has_faults_noise_and_duplicates() {
        let s = ScenarioParams::default().generate(1).unwrap();
        assert_eq!(s.faults.len(), 3);
        assert!(s.alerts.windows(2).all(|w| w[0].at <= w[1].at));
        for f in 0..3 {
            assert!(s.alerts.iter().any(|a| a.fault == Some(f)));
        }
        assert!(s.alerts.iter().any(|a| a.fault.is_none()));
        // Re-sends share an episode and the fingerprint.
        let first = &s.alerts[0];
        let same: Vec<_> = s
            .alerts
            .iter()
            .filter(|a| a.episode == first.episode)
            .collect();
        assert!(same.len() >= 2);
        assert!(
            same.iter()
                .all(|a| a.alert.fingerprint == first.alert.fingerprint)
        );
        // Every fault alert is on the fault's resource or upstream of it.
        for a in &s.alerts {
            let r = a
                .alert
                .labels
                .get("service")
                .or_else(|| a.alert.labels.get("instance"))
                .unwrap();
            assert!(s.topology.node(r).is_some());
        }
        // Ground truth never leaks into labels.
        assert!(
            s.alerts
                .iter()
                .all(|a| a.alert.labels.get("fault").is_none())
        );
    }

    #[test]
    fn propagation_goes_to_callers_only() {
        let p = ScenarioParams {
            background: 0,
            flapping: 0,
            host_fault: 0.0,
            propagation: 1.0,
            ..Default::default()
        };
        let s = p.generate(3).unwrap();
        for a in s.alerts.iter().filter(|a| a.fault.is_some()) {
            let f = &s.faults[a.fault.unwrap()];
            let r = a.alert.labels.get("service").unwrap();
            // r is f.resource or reaches it along calls edges.
            let mut frontier = vec![r.to_string()];
            let mut found = false;
            for _ in 0..=p.max_depth {
                if frontier.contains(&f.resource) {
                    found = true;
                    break;
                }
                frontier = s
                    .topology
                    .edges()
                    .iter()
                    .filter(|e| e.kind == EdgeKind::Calls && frontier.contains(&e.from))
                    .map(|e| e.to.clone())
                    .collect();
            }
            assert!(found, "{r} is not upstream of {}", f.resource);
        }
    }

    #[test]
    fn bad_params_are_errors() {
        let p = ScenarioParams {
            propagation: 1.5,
            ..Default::default()
        };
        assert!(matches!(p.generate(1), Err(EvalError::Invalid { .. })));
        let p = ScenarioParams {
            services: 1,
            ..Default::default()
        };
        assert!(p.generate(1).is_err());
    }
}
