//! The whole pipeline: dedup, silences and maintenance windows, inhibition, routing and
//! grouping, and incident correlation, configured from Alertmanager-shaped YAML.

use std::sync::Arc;

use aiops_core::{Alert, AlertStatus, Fingerprint, Incident, Severity, TimestampMs, Topology};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::dedup::{DedupOutcome, DedupParams, Deduplicator};
use crate::error::{AlertError, Result};
use crate::grouping::{Batch, Grouper};
use crate::incidents::{CorrelationParams, Correlator};
use crate::inhibit::{InhibitRule, Inhibitor, SourceIndex};
use crate::route::RouteConfig;
use crate::silence::{MaintenanceWindow, Silence, Silences};
use crate::time_interval::{NamedTimeIntervalConfig, TimeIntervals};
use aiops_core::TopologyGraph;
use aiops_core::time::Duration;

fn yes() -> bool {
    true
}

/// Engine configuration: Alertmanager's `route`, `inhibit_rules` and `time_intervals`
/// (also under the older name `mute_time_intervals`), plus our sections. Alertmanager's
/// `global`, `receivers` and `templates` are accepted and ignored, so an Alertmanager
/// configuration file loads as is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Routing tree (default: one route, receiver `default`, one group).
    #[serde(default)]
    pub route: Option<RouteConfig>,
    /// Inhibition rules.
    #[serde(default)]
    pub inhibit_rules: Vec<InhibitRule>,
    /// Dedup settings.
    #[serde(default)]
    pub dedup: DedupParams,
    /// Incident correlation settings.
    #[serde(default)]
    pub correlation: CorrelationParams,
    /// Silences active from the start.
    #[serde(default)]
    pub silences: Vec<Silence>,
    /// Maintenance windows.
    #[serde(default)]
    pub maintenance_windows: Vec<MaintenanceWindow>,
    /// Whether notifications include resolved alerts (default true).
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// Alertmanager's `global` block: `resolve_timeout` is used, the rest (receiver
    /// settings) is accepted and ignored.
    #[serde(default)]
    pub global: Global,
    #[serde(default, rename = "receivers")]
    _receivers: Option<IgnoredAny>,
    #[serde(default, rename = "templates")]
    _templates: Option<IgnoredAny>,
    /// Named time intervals that routes mute or activate by.
    #[serde(default)]
    pub time_intervals: Vec<NamedTimeIntervalConfig>,
    /// The same, under the name Alertmanager used before 0.24.
    #[serde(default)]
    pub mute_time_intervals: Vec<NamedTimeIntervalConfig>,
}

/// Whether an alert is muted at a time: silenced, in maintenance, or inhibited by a stored
/// source alert.
fn muter<'a>(
    silences: &'a Silences,
    inhibitor: &'a Inhibitor,
    dedup: &'a Deduplicator,
    sources: &'a SourceIndex,
) -> impl Fn(&Alert, TimestampMs) -> bool + 'a {
    move |a: &Alert, t: TimestampMs| {
        silences.is_muted(&a.labels, t)
            || inhibitor
                .inhibited_by_indexed(sources, a, |fp| dedup.get(fp).map(|s| &*s.alert), t)
                .is_some()
    }
}

/// The part of Alertmanager's `global` block the engine uses.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Global {
    /// How long a firing alert that came without `endsAt` stays firing after its latest
    /// arrival (default 5m, as Alertmanager).
    #[serde(default = "five_minutes")]
    pub resolve_timeout: Duration,
}

impl Default for Global {
    fn default() -> Self {
        Self {
            resolve_timeout: five_minutes(),
        }
    }
}

fn five_minutes() -> Duration {
    Duration::from_mins(5)
}

impl Default for Config {
    fn default() -> Self {
        Self::from_yaml("{}").expect("the empty configuration is valid")
    }
}

impl Config {
    /// Reads the YAML configuration. An error is one line naming the item it is about, as a
    /// path from the top of the file, and its position:
    /// `silences[0]: missing field `id` (line 2, column 5)`.
    pub fn from_yaml(text: &str) -> Result<Self> {
        aiops_core::yaml::from_str(text).map_err(AlertError::Config)
    }

    /// Checks what can only be checked once the whole file is read (the routing tree and its
    /// time intervals, silences, maintenance windows, inhibition rules and the dedup and
    /// correlation settings), as [`Engine::new`] does.
    pub fn check(&self) -> Result<()> {
        Engine::new(self.clone(), None).map(drop)
    }
}

/// Counters over everything the engine was fed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Alerts received, duplicates included.
    pub alerts_in: u64,
    /// Repeats with unchanged content.
    pub duplicates: u64,
    /// Firing alerts muted by a silence or maintenance window on arrival.
    pub suppressed: u64,
    /// Firing alerts inhibited on arrival.
    pub inhibited: u64,
    /// Incidents opened, less those merged into another one.
    pub incidents: u64,
    /// `1 - incidents / alerts_in` (0 with no alert).
    pub noise_reduction: f64,
}

/// Everything the engine remembers; serialize it to snapshot, feed it back to restore.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineState {
    dedup: Deduplicator,
    silences: Silences,
    grouper: Grouper,
    correlator: Correlator,
    sources: SourceIndex,
    stats: Stats,
    now: Option<TimestampMs>,
}

/// What happened to one incoming alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingested {
    /// Dedup outcome.
    pub outcome: DedupOutcome,
    /// Silences / maintenance windows muting it.
    pub muted_by: Vec<String>,
    /// The alert inhibiting it.
    pub inhibited_by: Option<Fingerprint>,
    /// The incident it is part of.
    pub incident: Option<String>,
}

/// The correlation engine. Time only moves when the caller says so.
#[derive(Debug, Clone)]
pub struct Engine {
    state: EngineState,
    inhibitor: Inhibitor,
    graph: Option<TopologyGraph>,
    resolve_timeout: Duration,
}

impl Engine {
    /// Builds an engine from a configuration and an optional topology.
    pub fn new(config: Config, topology: Option<&Topology>) -> Result<Self> {
        let route = match &config.route {
            Some(r) => r.build()?,
            None => RouteConfig {
                receiver: Some("default".into()),
                ..Default::default()
            }
            .build()?,
        };
        let mut silences = Silences::new();
        for s in config.silences {
            silences.upsert(s)?;
        }
        for w in config.maintenance_windows {
            silences.add_window(w)?;
        }
        Ok(Self {
            state: EngineState {
                dedup: config.dedup.build()?,
                silences,
                grouper: Grouper::new(route, config.send_resolved).with_time_intervals(
                    TimeIntervals::new(
                        config
                            .time_intervals
                            .into_iter()
                            .chain(config.mute_time_intervals)
                            .collect(),
                    )?,
                )?,
                correlator: config.correlation.build()?,
                sources: SourceIndex::default(),
                stats: Stats::default(),
                now: None,
            },
            inhibitor: Inhibitor::new(config.inhibit_rules)?,
            graph: topology.map(TopologyGraph::new).transpose()?,
            resolve_timeout: config.global.resolve_timeout,
        })
    }

    /// Rebuilds an engine from a snapshot (the configuration gives the inhibition rules,
    /// the topology the graph; everything else comes from the state).
    pub fn restore(
        config: Config,
        topology: Option<&Topology>,
        state: EngineState,
    ) -> Result<Self> {
        let mut e = Self::new(config, topology)?;
        e.state = state;
        Ok(e)
    }

    /// The engine's time: the latest `now` it was given (`None` before the first call).
    pub fn now(&self) -> Option<TimestampMs> {
        self.state.now
    }

    /// The state, for snapshots.
    pub fn state(&self) -> &EngineState {
        &self.state
    }

    /// Silences and maintenance windows (add or expire them here).
    pub fn silences_mut(&mut self) -> &mut Silences {
        &mut self.state.silences
    }

    fn set_time(&mut self, now: TimestampMs) -> Result<()> {
        if let Some(t) = self.state.now
            && now < t
        {
            return Err(AlertError::InvalidParameter {
                name: "now",
                reason: format!("time went backwards: {now} < {t}"),
            });
        }
        self.state.now = Some(now);
        Ok(())
    }

    /// Feeds one alert at engine time `now` (which must not go backwards).
    pub fn ingest(&mut self, alert: Alert, now: TimestampMs) -> Result<Ingested> {
        self.set_time(now)?;
        let st = &mut self.state;
        st.stats.alerts_in += 1;
        // The stored alert: with `endsAt` made up from the resolve timeout if it had none.
        let (outcome, stored) =
            st.dedup
                .observe_with_timeout(alert, now, Some(self.resolve_timeout.0));
        let (key, timeout) = (stored.key, stored.timeout);
        // One copy of the alert, shared by the deduplicator, its groups and its incident.
        let alert = if stored.alert.fingerprint == key {
            Arc::clone(&stored.alert)
        } else {
            let mut a = Alert::clone(&stored.alert);
            a.fingerprint = key;
            Arc::new(a)
        };
        if outcome == DedupOutcome::Duplicate {
            st.stats.duplicates += 1;
            if timeout {
                // The repeat pushed the made-up `endsAt` back: pass it on, so that neither
                // its group nor its incident resolves it early.
                let mute = muter(&st.silences, &self.inhibitor, &st.dedup, &st.sources);
                st.grouper.insert_shared(&alert, now, &mute)?;
                st.correlator
                    .observe_shared(&alert, now, self.graph.as_ref());
            }
            return Ok(Ingested {
                outcome,
                muted_by: Vec::new(),
                inhibited_by: None,
                incident: self.state_incident(key),
            });
        }
        let firing = alert.status_at(now) == AlertStatus::Firing;
        let muted_by = st.silences.muted_by(&alert.labels, now);
        self.inhibitor.index(&mut st.sources, &alert);
        let get = |fp| st.dedup.get(fp).map(|s| &*s.alert);
        let inhibited_by = self
            .inhibitor
            .inhibited_by_indexed(&st.sources, &alert, get, now);
        if firing && !muted_by.is_empty() {
            st.stats.suppressed += 1;
        } else if firing && inhibited_by.is_some() {
            st.stats.inhibited += 1;
        }
        let mute = muter(&st.silences, &self.inhibitor, &st.dedup, &st.sources);
        st.grouper.insert_shared(&alert, now, &mute)?;
        let id = if !firing || (muted_by.is_empty() && inhibited_by.is_none()) {
            st.correlator
                .observe_shared(&alert, now, self.graph.as_ref())
        } else {
            None
        };
        st.stats.incidents = st.correlator.opened() - st.correlator.merged();
        Ok(Ingested {
            outcome,
            muted_by,
            inhibited_by,
            incident: id.map(|i| format!("inc-{i}")),
        })
    }

    fn state_incident(&self, key: Fingerprint) -> Option<String> {
        self.state
            .correlator
            .incident_of(key)
            .map(|i| format!("inc-{i}"))
    }

    /// Advances time to `now`: returns the notifications due, and resolves incidents.
    pub fn tick(&mut self, now: TimestampMs) -> Result<Vec<Batch>> {
        self.set_time(now)?;
        let st = &mut self.state;
        let out = st.grouper.tick(
            now,
            &muter(&st.silences, &self.inhibitor, &st.dedup, &st.sources),
        )?;
        st.correlator.resolve_due(now);
        for fp in st.dedup.collect_garbage(now) {
            self.inhibitor.forget(&mut st.sources, fp);
        }
        Ok(out)
    }

    /// The id of the incident that now holds the alerts of incident `id` (`id` itself unless
    /// it was merged into another one); `None` for an id this engine never issued.
    pub fn current_incident(&self, id: &str) -> Option<String> {
        let n: u64 = id.strip_prefix("inc-")?.parse().ok()?;
        let c = &self.state.correlator;
        (n >= 1 && n <= c.opened()).then(|| format!("inc-{}", c.successor(n)))
    }

    /// The incidents (`inc-N`) whose content may have changed since the last call: opened,
    /// joined, a member updated, merged into, resolved. A restored engine starts with those
    /// its replay changed. Incidents merged away are not in it (see [`Engine::merged`]).
    pub fn take_changed_incidents(&mut self) -> Vec<String> {
        self.state
            .correlator
            .take_changed()
            .into_iter()
            .map(|i| format!("inc-{i}"))
            .collect()
    }

    /// How many incidents were merged into another one so far.
    pub fn merged(&self) -> u64 {
        self.state.correlator.merged()
    }

    /// Forgets the resolved incidents that resolved before `resolved_before` (see
    /// [`Correlator::forget_closed`]); returns their ids (`inc-N`). For a caller that keeps
    /// the incidents elsewhere, once their resolution is kept there: the engine's memory and
    /// its snapshots then hold the open incidents and those resolved since, however many
    /// incidents there were. A forgotten incident cannot reopen: an alert of it that fires
    /// again opens a new incident with a new id, as without forgetting.
    pub fn forget_resolved_incidents(&mut self, resolved_before: TimestampMs) -> Vec<String> {
        self.state
            .correlator
            .forget_closed(resolved_before)
            .into_iter()
            .map(|i| format!("inc-{i}"))
            .collect()
    }

    /// How many incidents the engine holds: `(open, resolved)` (the resolved ones not
    /// forgotten, see [`Engine::forget_resolved_incidents`]).
    pub fn incidents_in_memory(&self) -> (usize, usize) {
        let c = &self.state.correlator;
        (c.open_count(), c.closed_count())
    }

    /// Alerts waiting in correlation rules' chains for `min_alerts` (see
    /// [`Correlator::pending_count`]).
    pub fn alerts_waiting(&self) -> usize {
        self.state.correlator.pending_count()
    }

    /// One incident by id (`inc-N`), open or resolved; `None` for an id merged into another
    /// incident (see [`Engine::current_incident`]), never issued or forgotten (see
    /// [`Engine::forget_resolved_incidents`]). Cheaper than [`Engine::incidents`].
    pub fn incident(&self, id: &str) -> Option<Incident> {
        let n: u64 = id.strip_prefix("inc-")?.parse().ok()?;
        self.state.correlator.incident(n, self.graph.as_ref())
    }

    /// The open incidents, in opening order.
    pub fn open_incidents(&self) -> Vec<Incident> {
        self.state.correlator.open_incidents(self.graph.as_ref())
    }

    /// All incidents so far, open and resolved (less those forgotten), in opening order.
    pub fn incidents(&self) -> Vec<Incident> {
        self.state.correlator.incidents(self.graph.as_ref())
    }

    /// Counters, with `noise_reduction` computed.
    pub fn stats(&self) -> Stats {
        let mut s = self.state.stats;
        s.noise_reduction = if s.alerts_in == 0 {
            0.0
        } else {
            1.0 - s.incidents as f64 / s.alerts_in as f64
        };
        s
    }
}

/// The time an alert describes: its end when resolved, else its start.
pub fn event_time(alert: &Alert) -> TimestampMs {
    match (alert.status, alert.ends_at) {
        (AlertStatus::Resolved, Some(e)) => e,
        _ => alert.starts_at,
    }
}

/// One alert of an incident in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportAlert {
    /// Fingerprint (dedup key).
    pub fingerprint: Fingerprint,
    /// Labels.
    pub labels: aiops_core::Labels,
}

/// One incident in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportIncident {
    /// Id (`inc-N`).
    pub id: String,
    /// Title.
    pub title: String,
    /// Highest severity of its alerts.
    pub severity: Severity,
    /// `open` or `resolved`.
    pub status: aiops_core::IncidentStatus,
    /// Resources, sorted.
    pub resources: Vec<String>,
    /// Alerts, in joining order.
    pub alerts: Vec<ReportAlert>,
    /// Most upstream failing resource, when a topology tells.
    pub probable_origin: Option<String>,
}

/// The output of `aiops alerts correlate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Incidents.
    pub incidents: Vec<ReportIncident>,
    /// Counters.
    pub stats: Stats,
}

/// Runs alerts in arrival order through a fresh engine, each at the later of its own event
/// time and the previous one, then advances to the last time; returns the report.
pub fn correlate_batch(
    config: Config,
    topology: Option<&Topology>,
    alerts: Vec<Alert>,
) -> Result<Report> {
    let mut e = Engine::new(config, topology)?;
    let mut now = TimestampMs::MIN;
    for a in alerts {
        now = now.max(event_time(&a));
        e.ingest(a, now)?;
    }
    if now > TimestampMs::MIN {
        e.tick(now)?;
    }
    let incidents = e
        .incidents()
        .into_iter()
        .map(|i| ReportIncident {
            id: i.id,
            title: i.title,
            severity: i.severity,
            status: i.status,
            resources: i.resources,
            alerts: i
                .alerts
                .into_iter()
                .map(|a| ReportAlert {
                    fingerprint: a.fingerprint,
                    labels: a.labels,
                })
                .collect(),
            probable_origin: i.probable_origin,
        })
        .collect();
    Ok(Report {
        incidents,
        stats: e.stats(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{M, alert};

    const CONFIG: &str = r#"
global:
  resolve_timeout: 5m
route:
  receiver: team
  group_by: [alertname, cluster]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: team
    webhook_configs: [{url: "http://hook"}]
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [cluster]
silences:
  - id: s1
    matchers: ['service="batch"']
    startsAt: "1970-01-01T00:00:00Z"
    endsAt: "1970-01-02T00:00:00Z"
correlation:
  resolve: all
  rules:
    - name: disk
      matchers: ['alertname=~"Disk.*"']
      group_by: [cluster]
      window: 10m
      min_alerts: 2
"#;

    #[test]
    fn changed_incidents_are_reported_once_and_alerts_are_shared() {
        let mut e = Engine::new(Config::default(), None).unwrap();
        let a = alert(&[("alertname", "A"), ("service", "api")], 0);
        let b = alert(&[("alertname", "B"), ("service", "api")], 0);
        e.ingest(a.clone(), 0).unwrap();
        e.ingest(b, M).unwrap();
        assert_eq!(e.take_changed_incidents(), ["inc-1"]);
        assert!(e.take_changed_incidents().is_empty());
        // One copy of the alert: the deduplicator's is the incident's and the group's.
        let stored = e.state.dedup.get(a.labels.fingerprint()).unwrap();
        assert!(std::sync::Arc::strong_count(&stored.alert) >= 3);
        // Nothing happens until the alerts' made-up `endsAt` (5m) and the grace (5m) pass.
        e.tick(4 * M).unwrap();
        assert!(e.take_changed_incidents().is_empty());
        e.tick(20 * M).unwrap();
        e.tick(30 * M).unwrap();
        assert_eq!(e.take_changed_incidents(), ["inc-1"]);
        assert_eq!(
            e.incident("inc-1").unwrap().status,
            aiops_core::IncidentStatus::Resolved
        );
        // A snapshot round trip keeps the state (the set of changes is not part of it).
        let restored = Engine::restore(Config::default(), None, e.state().clone()).unwrap();
        assert_eq!(restored.state(), e.state());
        let json = serde_json::to_string(e.state()).unwrap();
        let back: EngineState = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, e.state());
    }

    #[test]
    fn alertmanager_config_loads_and_pipeline_runs() {
        let cfg = Config::from_yaml(CONFIG).unwrap();
        let mut e = Engine::new(cfg.clone(), None).unwrap();
        let crit = alert(
            &[
                ("alertname", "Down"),
                ("cluster", "eu"),
                ("severity", "critical"),
                ("service", "api"),
            ],
            0,
        );
        let warn = alert(
            &[
                ("alertname", "Slow"),
                ("cluster", "eu"),
                ("severity", "warning"),
                ("service", "api"),
            ],
            0,
        );
        let batch = alert(&[("alertname", "Late"), ("service", "batch")], 0);
        assert_eq!(
            e.ingest(crit.clone(), 0).unwrap().incident.as_deref(),
            Some("inc-1")
        );
        assert_eq!(
            e.ingest(crit.clone(), 1).unwrap().outcome,
            DedupOutcome::Duplicate
        );
        let w = e.ingest(warn, 2).unwrap();
        assert_eq!((w.inhibited_by, w.incident), (Some(crit.fingerprint), None));
        let b = e.ingest(batch, 3).unwrap();
        assert_eq!((b.muted_by, b.incident), (vec!["s1".to_string()], None));
        // Disk rule needs 2 alerts.
        let d1 = alert(
            &[
                ("alertname", "DiskFull"),
                ("cluster", "eu"),
                ("service", "db"),
            ],
            0,
        );
        let d2 = alert(
            &[
                ("alertname", "DiskSlow"),
                ("cluster", "eu"),
                ("service", "db2"),
            ],
            0,
        );
        assert_eq!(e.ingest(d1, M).unwrap().incident, None);
        assert_eq!(
            e.ingest(d2, 2 * M).unwrap().incident.as_deref(),
            Some("inc-2")
        );
        // Notifications: inhibited and silenced alerts are left out of batches.
        let batches = e.tick(5 * M).unwrap();
        let notified: usize = batches.iter().map(|b| b.firing.len()).sum();
        assert_eq!(notified, 3);
        // Snapshot and restore, then continue identically.
        let text = serde_json::to_string(e.state()).unwrap();
        let mut back = Engine::restore(cfg, None, serde_json::from_str(&text).unwrap()).unwrap();
        let mut r = crit.clone();
        r.status = AlertStatus::Resolved;
        r.ends_at = Some(6 * M);
        e.ingest(r.clone(), 6 * M).unwrap();
        back.ingest(r, 6 * M).unwrap();
        // Resolved once the policy has held for the grace period (5 minutes by default).
        e.tick(11 * M).unwrap();
        back.tick(11 * M).unwrap();
        assert_eq!(e.incidents(), back.incidents());
        assert_eq!(
            e.incidents()[0].status,
            aiops_core::IncidentStatus::Resolved
        );
        let s = e.stats();
        assert_eq!(
            (
                s.alerts_in,
                s.duplicates,
                s.suppressed,
                s.inhibited,
                s.incidents
            ),
            (7, 1, 1, 1, 2)
        );
        assert!((s.noise_reduction - (1.0 - 2.0 / 7.0)).abs() < 1e-12);
        assert!(e.ingest(crit, 0).is_err());
    }

    #[test]
    fn config_errors_are_typed() {
        assert!(matches!(
            Config::from_yaml("bogus: 1"),
            Err(AlertError::Config(_))
        ));
        assert!(matches!(
            Config::from_yaml("inhibit_rules: [{source_matchers: ['a=~\"(\"']}]"),
            Err(AlertError::Config(_))
        ));
        let cfg = Config::from_yaml("route: {group_by: [a]}").unwrap();
        assert!(Engine::new(cfg, None).is_err());
        assert!(Engine::new(Config::default(), None).is_ok());
    }

    #[test]
    fn batch_report_with_topology() {
        let topo = Topology::from_json(
            r#"{"nodes": [{"id": "web", "kind": "service"}, {"id": "db", "kind": "database"}],
                "edges": [{"from": "web", "to": "db", "kind": "calls"}]}"#,
        )
        .unwrap();
        let alerts = vec![
            alert(&[("alertname", "Errors"), ("service", "web")], M),
            alert(
                &[
                    ("alertname", "Down"),
                    ("service", "db"),
                    ("severity", "critical"),
                ],
                0,
            ),
            alert(&[("alertname", "Errors"), ("service", "web")], M),
        ];
        let r = correlate_batch(Config::default(), Some(&topo), alerts).unwrap();
        assert_eq!(r.incidents.len(), 1);
        assert_eq!(r.incidents[0].probable_origin.as_deref(), Some("db"));
        assert_eq!(r.stats.duplicates, 1);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["incidents"][0]["severity"], "critical");
        assert_eq!(v["incidents"][0]["alerts"][0]["labels"]["service"], "web");
        assert!((v["stats"]["noise_reduction"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn merged_incidents_count_once_and_hand_on_their_id() {
        let topo = Topology::from_json(
            r#"{"nodes": [{"id": "web", "kind": "service"}, {"id": "api", "kind": "service"},
                          {"id": "db", "kind": "database"}],
                "edges": [{"from": "web", "to": "api", "kind": "calls"},
                          {"from": "api", "to": "db", "kind": "calls"}]}"#,
        )
        .unwrap();
        let mut e = Engine::new(Config::default(), Some(&topo)).unwrap();
        let mut ids = Vec::new();
        for (i, svc) in ["web", "db", "api"].into_iter().enumerate() {
            let a = alert(&[("alertname", "Errors"), ("service", svc)], 0);
            ids.push(e.ingest(a, i as i64 * 1000).unwrap().incident);
        }
        assert_eq!(
            ids,
            [
                Some("inc-1".into()),
                Some("inc-2".into()),
                Some("inc-1".into())
            ]
        );
        assert_eq!(e.current_incident("inc-2").as_deref(), Some("inc-1"));
        assert_eq!(e.current_incident("inc-1").as_deref(), Some("inc-1"));
        assert_eq!(e.current_incident("inc-3"), None);
        assert_eq!(e.current_incident("bogus"), None);
        assert_eq!(e.stats().incidents, 1);
        assert_eq!(e.incidents().len(), 1);
        assert_eq!(e.open_incidents(), e.incidents());
        assert_eq!(e.incident("inc-1").as_ref(), e.incidents().first());
        assert_eq!((e.incident("inc-2"), e.incident("inc-3")), (None, None));
        // The merge survives a snapshot.
        let back: EngineState =
            serde_json::from_str(&serde_json::to_string(e.state()).unwrap()).unwrap();
        let e2 = Engine::restore(Config::default(), Some(&topo), back).unwrap();
        assert_eq!(e2.current_incident("inc-2").as_deref(), Some("inc-1"));
    }

    #[test]
    fn time_intervals_mute_and_activate_routes() {
        // 2026-11-28 00:00 UTC is a Saturday.
        let sat = chrono::DateTime::parse_from_rfc3339("2026-11-28T00:00:00Z")
            .unwrap()
            .timestamp_millis();
        let yaml = r#"
global:
  resolve_timeout: 1h
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: ['team="web"']
      receiver: web
      mute_time_intervals: [weekend]
    - matchers: ['team="db"']
      receiver: db
      active_time_intervals: [weekend]
time_intervals:
  - name: weekend
    time_intervals: [{weekdays: [saturday, sunday]}]  # the week starts on Sunday
"#;
        let mut e = Engine::new(Config::from_yaml(yaml).unwrap(), None).unwrap();
        // Friday 23:50: both alerts arrive; after group_wait (30 s) web notifies, db (only
        // active at weekends) holds back.
        let fri = sat - 10 * M;
        e.ingest(alert(&[("alertname", "A"), ("team", "web")], fri), fri)
            .unwrap();
        e.ingest(alert(&[("alertname", "B"), ("team", "db")], fri), fri)
            .unwrap();
        let receivers = |b: Vec<Batch>| b.into_iter().map(|b| b.receiver).collect::<Vec<_>>();
        assert_eq!(receivers(e.tick(fri + M).unwrap()), ["web"]);
        // The next group_interval (5 m) flush, 23:55.5: db still outside its interval.
        assert!(e.tick(fri + 6 * M).unwrap().is_empty());
        // Saturday 00:00.5: db's pending alert goes out; a new web alert is muted.
        e.ingest(
            alert(&[("alertname", "A"), ("team", "web"), ("x", "2")], sat),
            sat,
        )
        .unwrap();
        assert_eq!(receivers(e.tick(sat + M).unwrap()), ["db"]);
        assert!(e.tick(sat + 20 * M).unwrap().is_empty());
        // A route naming an undefined interval, or a root with one, is refused.
        for bad in [
            "route: {receiver: r, routes: [{receiver: x, mute_time_intervals: [nope]}]}",
            "route: {receiver: r, mute_time_intervals: [w]}\ntime_intervals: [{name: w}]",
        ] {
            let cfg = Config::from_yaml(bad).unwrap();
            assert!(
                matches!(
                    Engine::new(cfg, None),
                    Err(AlertError::InvalidParameter { .. })
                ),
                "{bad}"
            );
        }
        // The older top-level name loads too.
        let old = "route: {receiver: r, routes: [{receiver: x, mute_time_intervals: [w]}]}\nmute_time_intervals: [{name: w}]";
        assert!(Engine::new(Config::from_yaml(old).unwrap(), None).is_ok());
    }

    #[test]
    fn forgotten_incidents_leave_the_state_and_never_come_back() {
        let mut e = Engine::new(Config::default(), None).unwrap();
        // 50 services fail and recover, one after the other.
        for i in 0..50 {
            let t = i * 20 * M;
            let mut a = alert(&[("alertname", "Down"), ("service", &format!("s{i}"))], t);
            e.ingest(a.clone(), t).unwrap();
            a.status = AlertStatus::Resolved;
            a.ends_at = Some(t + M);
            e.ingest(a, t + M).unwrap();
            e.tick(t + 10 * M).unwrap();
            if i % 10 == 9 {
                let gone = e.forget_resolved_incidents(TimestampMs::MAX);
                assert_eq!(gone.len(), 10);
                assert_eq!(e.incidents_in_memory(), (0, 0));
            }
        }
        let text = serde_json::to_string(e.state()).unwrap();
        assert!(
            !text.contains("\"s0\""),
            "forgotten incidents leave the snapshot"
        );
        // The next incident gets the next id; the counters count every incident.
        let got = e
            .ingest(
                alert(&[("alertname", "Down"), ("service", "s0")], 0),
                1000 * M,
            )
            .unwrap();
        assert_eq!(got.incident.as_deref(), Some("inc-51"));
        assert_eq!(e.stats().incidents, 51);
        assert_eq!(e.incidents_in_memory(), (1, 0));
        assert_eq!(e.incident("inc-1"), None);
        assert_eq!(e.current_incident("inc-1").as_deref(), Some("inc-1"));
    }

    #[test]
    fn alerts_without_an_end_resolve_after_the_resolve_timeout() {
        let yaml = "global: {resolve_timeout: 5m, smtp_from: x}\nroute: {receiver: r, group_by: [alertname], group_wait: 30s, group_interval: 1m}";
        let mut e = Engine::new(Config::from_yaml(yaml).unwrap(), None).unwrap();
        let a = alert(&[("alertname", "A"), ("service", "s")], 0);
        e.ingest(a.clone(), 0).unwrap();
        // Re-sent every minute for 3 minutes: duplicates, and still firing at 7m.
        for k in 1..=3 {
            assert_eq!(
                e.ingest(a.clone(), k * M).unwrap().outcome,
                DedupOutcome::Duplicate
            );
        }
        let b = e.tick(7 * M).unwrap();
        assert!(b.iter().all(|b| b.resolved.is_empty()), "{b:?}");
        assert_eq!(e.incidents()[0].status, aiops_core::IncidentStatus::Open);
        // 5 minutes after the last one (8m) it resolves: a resolved notification, and the
        // incident resolves after its grace period.
        let b = e.tick(9 * M).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].resolved.len(), 1);
        e.tick(20 * M).unwrap();
        assert_eq!(
            e.incidents()[0].status,
            aiops_core::IncidentStatus::Resolved
        );
        assert!(e.open_incidents().is_empty());
        assert_eq!(e.incident("inc-1").as_ref(), e.incidents().first());
        // Sent again later, it fires again (an update, not a duplicate) in a new incident.
        let got = e.ingest(a, 21 * M).unwrap();
        assert_eq!(got.outcome, DedupOutcome::Updated);
        assert_eq!(got.incident.as_deref(), Some("inc-2"));
    }
}
