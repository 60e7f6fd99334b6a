//! Correlation of alerts into incidents: by rules (matchers, time window, group-by labels
//! and a minimum alert count, as Keep's correlation rules) and by topology (alerts on resources
//! within `max_hops` of each other and close in time join one incident, whose probable
//! origin is the most upstream failing resource).
//!
//! Lifecycle: an incident opens only on firing alerts; it resolves by policy (`all` alerts
//! resolved, the `first` alert resolved, or the `last` alert to join resolved); a resolved
//! incident is never reused; its severity is the maximum of its alerts'.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use aiops_core::{
    Alert, AlertStatus, Fingerprint, Incident, IncidentStatus, Labels, Severity, TimestampMs,
};
use serde::{Deserialize, Serialize};

use crate::error::{AlertError, Result};
use crate::matchers::Matchers;
use aiops_core::TopologyGraph;
use aiops_core::time::Duration;

/// When an incident counts as resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolvePolicy {
    /// When all its alerts are resolved.
    #[default]
    All,
    /// When the alert that opened it is resolved.
    First,
    /// When the most recent alert to join is resolved.
    Last,
}

fn ten_minutes() -> Duration {
    Duration::from_mins(10)
}
fn five_minutes() -> Duration {
    Duration(5 * 60_000)
}

fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}
fn default_hops() -> usize {
    1
}
fn default_resource_labels() -> Vec<String> {
    vec!["service".into(), "instance".into()]
}

/// A correlation rule: matching alerts with equal `group_by` labels, each arriving within
/// `window` of the previous one, form an incident once there are `min_alerts` of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrelationRule {
    /// Rule name (unique).
    pub name: String,
    /// Which alerts the rule takes.
    #[serde(default)]
    pub matchers: Matchers,
    /// Labels whose values split incidents (empty: one incident for all matching alerts).
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Largest gap between consecutive alerts of one incident.
    #[serde(default = "ten_minutes")]
    pub window: Duration,
    /// Alerts needed before the incident opens.
    #[serde(default = "one")]
    pub min_alerts: usize,
}

/// Topology-aware correlation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyParams {
    /// Largest distance, in edges and ignoring direction, between resources of one incident.
    #[serde(default = "default_hops")]
    pub max_hops: usize,
    /// Largest gap between an alert and the latest *new* alert of the incident (re-sends and
    /// updates of its alerts do not count: an incident that stopped growing takes no more
    /// alerts however long its alerts keep firing). Default 5m, Alertmanager's default
    /// `group_interval`: a cascade's alerts follow each other hop by hop well within it.
    #[serde(default = "five_minutes")]
    pub window: Duration,
    /// When an alert is near several open incidents, merge them into the oldest: alerts that
    /// arrive out of order (the origin's alert last) first open separate incidents on
    /// resources that are not neighbours of each other, and the alert that links them shows
    /// they are one problem.
    #[serde(default = "yes")]
    pub merge: bool,
}

impl Default for TopologyParams {
    fn default() -> Self {
        Self {
            max_hops: default_hops(),
            window: five_minutes(),
            merge: true,
        }
    }
}

/// Correlation parameters, as written in configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrelationParams {
    /// Rules, tried in order before topology correlation.
    #[serde(default)]
    pub rules: Vec<CorrelationRule>,
    /// Topology correlation (used when a topology is given).
    #[serde(default)]
    pub topology: TopologyParams,
    /// When incidents resolve.
    #[serde(default)]
    pub resolve: ResolvePolicy,
    /// How long the resolve policy must hold before the incident resolves: an alert of the
    /// incident that fires again within it (a flapping alert, a re-firing fault) keeps its
    /// incident instead of opening a new one; new alerts do not join an incident in its
    /// grace period. `0s` resolves at once.
    #[serde(default = "five_minutes")]
    pub resolve_grace: Duration,
    /// Labels naming an alert's resource, first present wins.
    #[serde(default = "default_resource_labels")]
    pub resource_labels: Vec<String>,
}

impl Default for CorrelationParams {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            topology: TopologyParams::default(),
            resolve: ResolvePolicy::All,
            resolve_grace: five_minutes(),
            resource_labels: default_resource_labels(),
        }
    }
}

impl CorrelationParams {
    /// Checks the parameters and builds an empty correlator.
    pub fn build(self) -> Result<Correlator> {
        let bad = |name, reason: String| Err(AlertError::InvalidParameter { name, reason });
        let mut names = BTreeSet::new();
        for r in &self.rules {
            if r.name.is_empty() || !names.insert(r.name.clone()) {
                return bad(
                    "correlation rule",
                    format!("empty or repeated name {:?}", r.name),
                );
            }
            if r.window.0 <= 0 {
                return bad(
                    "correlation rule",
                    format!("{}: window must be positive", r.name),
                );
            }
            if r.min_alerts == 0 {
                return bad(
                    "correlation rule",
                    format!("{}: min_alerts must be >= 1", r.name),
                );
            }
            if let Some(l) = r
                .group_by
                .iter()
                .find(|l| !aiops_core::labels::is_valid_label_name(l))
            {
                return bad(
                    "correlation rule",
                    format!("{}: bad group_by label {l:?}", r.name),
                );
            }
        }
        if self.topology.window.0 <= 0 {
            return bad("topology.window", "must be positive".into());
        }
        if self.resolve_grace.0 < 0 {
            return bad("resolve_grace", "must not be negative".into());
        }
        if self.resource_labels.is_empty() {
            return bad("resource_labels", "need at least one label name".into());
        }
        Ok(Correlator {
            params: self,
            next_id: 1,
            open: BTreeMap::new(),
            closed: Vec::new(),
            by_alert: BTreeMap::new(),
            pending: BTreeMap::new(),
            pending_of: BTreeMap::new(),
            pending_expiry: BTreeSet::new(),
            pending_indexed: true,
            by_key: BTreeMap::new(),
            by_resource: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            merged: 0,
            merged_into: BTreeMap::new(),
            expiries: BTreeSet::new(),
            expiries_indexed: true,
            changed: Changed::default(),
        })
    }
}

/// What an incident groups by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Key {
    /// A rule and the values of its group_by labels.
    Rule(String),
    /// Topology neighbourhood.
    Topology,
    /// Same resource (or, without one, same alertname) within the topology window.
    Plain(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Member {
    #[serde(with = "crate::shared::alert")]
    alert: Arc<Alert>,
    resource: Option<String>,
    joined_at: TimestampMs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    id: u64,
    key: Key,
    members: BTreeMap<Fingerprint, Member>,
    /// Fingerprints in joining order.
    order: Vec<Fingerprint>,
    started_at: TimestampMs,
    last_activity: TimestampMs,
    /// When the latest new alert joined (re-sends and updates of members do not count).
    #[serde(default)]
    last_joined: Option<TimestampMs>,
    resolved_at: Option<TimestampMs>,
    /// Since when the resolve policy holds (the grace period runs from there).
    #[serde(default)]
    resolving_since: Option<TimestampMs>,
    /// Dropped from some `by_resource` sets as stale.
    pruned: bool,
}

/// Incident correlator state (serde-snapshottable; the topology graph is passed in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correlator {
    params: CorrelationParams,
    next_id: u64,
    open: BTreeMap<u64, State>,
    closed: Vec<State>,
    by_alert: BTreeMap<Fingerprint, u64>,
    /// Rule key -> alerts waiting for `min_alerts`, with their arrival time.
    pending: BTreeMap<String, Vec<(TimestampMs, Alert)>>,
    /// Alert -> its pending rule key.
    pending_of: BTreeMap<Fingerprint, String>,
    /// (last arrival + the rule's window, rule key) of every waiting chain: once that time
    /// passes the chain can no longer grow into an incident (the next alert would start a
    /// new chain), so it is dropped, and groups that never get another alert do not stay.
    #[serde(default)]
    pending_expiry: BTreeSet<(TimestampMs, String)>,
    /// Whether `pending_expiry` covers every waiting chain (false in a snapshot taken before
    /// it existed: rebuilt on first use).
    #[serde(default)]
    pending_indexed: bool,
    /// Rule or plain key -> the open incident with that key.
    by_key: BTreeMap<String, u64>,
    /// Resource -> open topology incidents with an alert on it.
    by_resource: BTreeMap<String, BTreeSet<u64>>,
    /// (end of grace, incident) of the incidents whose resolve policy holds.
    #[serde(default)]
    deadlines: BTreeSet<(TimestampMs, u64)>,
    /// Incidents merged into another one.
    #[serde(default)]
    merged: u64,
    /// Merged incident -> the incident that took its alerts.
    #[serde(default)]
    merged_into: BTreeMap<u64, u64>,
    /// (endsAt, incident) of firing members whose `endsAt` lies ahead: when one passes, the
    /// incident's resolve policy may start to hold, so only those incidents are re-checked.
    #[serde(default)]
    expiries: BTreeSet<(TimestampMs, u64, Fingerprint)>,
    /// Whether `expiries` covers every open incident (false in a snapshot taken before it
    /// existed: rebuilt on first use).
    #[serde(default)]
    expiries_indexed: bool,
    /// Incidents whose content may have changed since [`Correlator::take_changed`] last ran.
    #[serde(skip)]
    changed: Changed,
}

/// A set of incident ids kept beside the state: not snapshotted, and not part of a
/// correlator's equality (two correlators in the same state are equal whatever their callers
/// have collected).
#[derive(Debug, Clone, Default)]
struct Changed(BTreeSet<u64>);

impl PartialEq for Changed {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Key {
    fn index_key(&self) -> Option<String> {
        match self {
            Key::Rule(k) => Some(format!("rule:{k}")),
            Key::Plain(k) => Some(format!("plain:{k}")),
            Key::Topology => None,
        }
    }
}

impl Correlator {
    /// The parameters.
    pub fn params(&self) -> &CorrelationParams {
        &self.params
    }

    /// Number of incidents opened so far.
    pub fn opened(&self) -> u64 {
        self.next_id - 1
    }

    /// Number of incidents merged into another one (see [`TopologyParams::merge`]).
    pub fn merged(&self) -> u64 {
        self.merged
    }

    /// The incident that now holds the alerts of incident `id`: `id` itself unless it was
    /// merged into another one.
    pub fn successor(&self, mut id: u64) -> u64 {
        // Merges always go into an older incident, so the chain ends.
        while let Some(&next) = self.merged_into.get(&id) {
            id = next;
        }
        id
    }

    /// The incidents whose content ([`Correlator::incident`]) may have changed since the last
    /// call (opened, joined, a member updated, merged into, resolved), by id; empties the set.
    /// A restored correlator starts with none.
    pub fn take_changed(&mut self) -> BTreeSet<u64> {
        std::mem::take(&mut self.changed.0)
    }

    /// The open incident an alert belongs to.
    pub fn incident_of(&self, fp: Fingerprint) -> Option<u64> {
        self.by_alert.get(&fp).copied()
    }

    /// The resource an alert is on, from the configured labels.
    pub fn resource_of(&self, labels: &Labels) -> Option<String> {
        self.params
            .resource_labels
            .iter()
            .find_map(|n| labels.get(n))
            .map(str::to_string)
    }

    /// Feeds one alert (already deduplicated and not muted) at engine time `now`; returns
    /// the id of the incident it belongs to, if any.
    pub fn observe(
        &mut self,
        alert: &Alert,
        now: TimestampMs,
        graph: Option<&TopologyGraph>,
    ) -> Option<u64> {
        self.observe_shared(&Arc::new(alert.clone()), now, graph)
    }

    /// [`Correlator::observe`] of an alert shared with the caller (an incident keeps the
    /// `Arc`).
    pub fn observe_shared(
        &mut self,
        alert: &Arc<Alert>,
        now: TimestampMs,
        graph: Option<&TopologyGraph>,
    ) -> Option<u64> {
        self.expire(now);
        self.close_due(now);
        self.drop_stale_pending(now);
        let fp = alert.fingerprint;
        let firing = alert.status_at(now) == AlertStatus::Firing;
        if let Some(&id) = self.by_alert.get(&fp) {
            self.update_member(id, alert, now);
            return self.open.contains_key(&id).then_some(id);
        }
        // Waiting in a rule's pending list?
        if let Some(key) = self.pending_of.get(&fp).cloned() {
            let window = self.pending_window(&key).unwrap_or(0);
            if let Some(list) = self.pending.get_mut(&key) {
                let before = list.last().map(|(t, _)| *t);
                list.retain(|(_, a)| a.fingerprint != fp);
                if firing {
                    list.push((now, (**alert).clone()));
                }
                if list.is_empty() {
                    self.pending.remove(&key);
                }
                self.index_pending(&key, before, window);
            }
            if !firing {
                self.pending_of.remove(&fp);
            }
            return None;
        }
        if !firing {
            return None;
        }
        let resource = self.resource_of(&alert.labels);
        if let Some(rule) = self
            .params
            .rules
            .iter()
            .find(|r| r.matchers.matches(&alert.labels))
            .cloned()
        {
            return self.by_rule(&rule, alert, resource, now);
        }
        let in_graph = graph
            .zip(resource.as_deref())
            .filter(|(g, r)| g.contains(r));
        if let Some((g, r)) = in_graph {
            let near: HashMap<&str, usize> = g
                .within(r, self.params.topology.max_hops)
                .ok()?
                .into_iter()
                .collect();
            let horizon = now - self.params.topology.window.0;
            let mut best = None;
            let mut near_ids = BTreeSet::new();
            let mut stale = Vec::new();
            for (r, d) in &near {
                for &id in self.by_resource.get(*r).into_iter().flatten() {
                    match self.open.get(&id) {
                        // Skipped, not stale: an incident in its grace period takes back its
                        // own alerts only.
                        Some(s) if s.resolving_since.is_some() => {}
                        // Close in time to the incident's growth: re-sends of its alerts
                        // keep it open but do not widen the window for unrelated alerts.
                        Some(s) if s.last_joined.unwrap_or(s.last_activity) >= horizon => {
                            let cand = (*d, std::cmp::Reverse(s.last_activity), id);
                            near_ids.insert(id);
                            if best.is_none_or(|b| cand < b) {
                                best = Some(cand);
                            }
                        }
                        // Time only moves forward and only a new member moves
                        // `last_joined`, so a stale incident never takes new alerts again
                        // (a snapshot from before `last_joined` existed comes back through
                        // an update of its own alerts, which re-indexes it).
                        _ => stale.push(((*r).to_string(), id)),
                    }
                }
            }
            for (r, id) in stale {
                if let Some(s) = self.open.get_mut(&id) {
                    s.pruned = true;
                }
                if let Some(set) = self.by_resource.get_mut(&r) {
                    set.remove(&id);
                    if set.is_empty() {
                        self.by_resource.remove(&r);
                    }
                }
            }
            let mut best = best.map(|t| t.2);
            if self.params.topology.merge && near_ids.len() > 1 {
                let mut ids = near_ids.into_iter();
                if let Some(target) = ids.next() {
                    for other in ids {
                        self.merge_into(target, other);
                    }
                    best = Some(target);
                }
            }
            return Some(match best {
                Some(id) => self.join(id, alert, resource, now),
                None => self.open_incident(Key::Topology, vec![(now, Arc::clone(alert))], now),
            });
        }
        let plain = match &resource {
            Some(r) => format!("resource:{r}"),
            None => format!("alertname:{}", alert.labels.get("alertname").unwrap_or("")),
        };
        let horizon = now - self.params.topology.window.0;
        let found = self.find_open(&Key::Plain(plain.clone()), horizon);
        Some(match found {
            Some(id) => self.join(id, alert, resource, now),
            None => self.open_incident(Key::Plain(plain), vec![(now, Arc::clone(alert))], now),
        })
    }

    fn by_rule(
        &mut self,
        rule: &CorrelationRule,
        alert: &Arc<Alert>,
        resource: Option<String>,
        now: TimestampMs,
    ) -> Option<u64> {
        let group: Vec<String> = rule
            .group_by
            .iter()
            .map(|n| format!("{n}={:?}", alert.labels.get(n).unwrap_or("")))
            .collect();
        let key = format!("{}{{{}}}", rule.name, group.join(","));
        let horizon = now - rule.window.0;
        let found = self.find_open(&Key::Rule(key.clone()), horizon);
        if let Some(id) = found {
            return Some(self.join(id, alert, resource, now));
        }
        // Only a chain of alerts each within `window` of the next counts: a chain whose last
        // alert is older was dropped by `drop_stale_pending` at the start of this call.
        let list = self.pending.entry(key.clone()).or_default();
        let before = list.last().map(|(t, _)| *t);
        list.push((now, (**alert).clone()));
        let complete = list.len() >= rule.min_alerts;
        self.pending_of.insert(alert.fingerprint, key.clone());
        let members = if complete {
            self.pending.remove(&key)
        } else {
            None
        };
        self.index_pending(&key, before, rule.window.0);
        let members = members?;
        for (_, a) in &members {
            self.pending_of.remove(&a.fingerprint);
        }
        let members = members.into_iter().map(|(t, a)| (t, Arc::new(a))).collect();
        Some(self.open_incident(Key::Rule(key), members, now))
    }

    fn find_open(&self, key: &Key, horizon: TimestampMs) -> Option<u64> {
        let id = *self.by_key.get(&key.index_key()?)?;
        self.open
            .get(&id)
            // An incident in its grace period takes back its own alerts only.
            .filter(|s| s.last_activity >= horizon && s.resolving_since.is_none())
            .map(|s| s.id)
    }

    fn open_incident(
        &mut self,
        key: Key,
        alerts: Vec<(TimestampMs, Arc<Alert>)>,
        now: TimestampMs,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut s = State {
            id,
            key,
            members: BTreeMap::new(),
            order: Vec::new(),
            started_at: alerts.first().map_or(now, |(t, _)| *t),
            last_activity: now,
            last_joined: Some(now),
            resolved_at: None,
            resolving_since: None,
            pruned: false,
        };
        if let Some(k) = s.key.index_key() {
            self.by_key.insert(k, id);
        }
        for (t, a) in alerts {
            let resource = self.resource_of(&a.labels);
            if let (Key::Topology, Some(r)) = (&s.key, &resource) {
                self.by_resource.entry(r.clone()).or_default().insert(id);
            }
            self.by_alert.insert(a.fingerprint, id);
            self.track_expiry(id, &a, now);
            s.order.push(a.fingerprint);
            s.members.insert(
                a.fingerprint,
                Member {
                    alert: a,
                    resource,
                    joined_at: t,
                },
            );
        }
        self.open.insert(id, s);
        self.changed.0.insert(id);
        id
    }

    fn join(
        &mut self,
        id: u64,
        alert: &Arc<Alert>,
        resource: Option<String>,
        now: TimestampMs,
    ) -> u64 {
        if let Some(s) = self.open.get_mut(&id) {
            if let (Key::Topology, Some(r)) = (&s.key, &resource) {
                self.by_resource.entry(r.clone()).or_default().insert(id);
            }
            s.order.push(alert.fingerprint);
            s.members.insert(
                alert.fingerprint,
                Member {
                    alert: Arc::clone(alert),
                    resource,
                    joined_at: now,
                },
            );
            s.last_activity = now;
            s.last_joined = Some(now);
            self.by_alert.insert(alert.fingerprint, id);
            self.changed.0.insert(id);
        }
        self.track_expiry(id, alert, now);
        // No settle: only firing alerts join, and only incidents that are not resolving, so
        // the resolve policy cannot hold now (for `first`, it would already have held).
        id
    }

    /// Indexes a firing member's future `endsAt`.
    fn track_expiry(&mut self, id: u64, alert: &Alert, now: TimestampMs) {
        if let (AlertStatus::Firing, Some(end)) = (alert.status, alert.ends_at)
            && end > now
        {
            self.expiries.insert((end, id, alert.fingerprint));
        }
    }

    /// Re-checks the incidents one of whose members' `endsAt` passed by `now`.
    fn expire(&mut self, now: TimestampMs) {
        if !self.expiries_indexed {
            let members: Vec<(u64, Arc<Alert>)> = self
                .open
                .values()
                .flat_map(|s| s.members.values().map(|m| (s.id, m.alert.clone())))
                .collect();
            for (id, a) in members {
                self.track_expiry(id, &a, TimestampMs::MIN);
            }
            self.expiries_indexed = true;
        }
        let mut due = BTreeSet::new();
        while let Some(&(at, id, fp)) = self.expiries.first() {
            if at > now {
                break;
            }
            self.expiries.pop_first();
            let id = self.successor(id);
            // Only if that member still ends then: a repeat that pushed its end back left
            // this entry stale.
            let ends_now = self
                .open
                .get(&id)
                .and_then(|s| s.members.get(&fp))
                .is_some_and(|m| m.alert.ends_at == Some(at));
            if ends_now {
                due.insert(id);
            }
        }
        for id in due {
            self.settle(id, now);
        }
    }

    fn update_member(&mut self, id: u64, alert: &Arc<Alert>, now: TimestampMs) {
        let Some(s) = self.open.get_mut(&id) else {
            return;
        };
        if let Some(m) = s.members.get_mut(&alert.fingerprint) {
            m.alert = Arc::clone(alert);
        }
        self.changed.0.insert(id);
        if s.key == Key::Topology && s.pruned && s.last_joined.is_none() {
            s.pruned = false;
            for r in s.members.values().filter_map(|m| m.resource.as_ref()) {
                self.by_resource.entry(r.clone()).or_default().insert(id);
            }
        }
        s.last_activity = s.last_activity.max(now);
        let resolving = s.resolving_since.is_some();
        self.track_expiry(id, alert, now);
        // A firing update of an incident that is not resolving leaves the policy unmet
        // (time-driven changes come through `expire`): skip the scan of its members.
        if resolving || alert.status_at(now) != AlertStatus::Firing {
            self.settle(id, now);
        }
    }

    /// Starts, keeps or cancels the grace period of an open incident after a change.
    fn settle(&mut self, id: u64, now: TimestampMs) {
        let Some(resolved) = self.open.get(&id).map(|s| self.is_resolved(s, now)) else {
            return;
        };
        let grace = self.params.resolve_grace.0;
        let Some(s) = self.open.get_mut(&id) else {
            return;
        };
        match (resolved, s.resolving_since) {
            (true, None) if grace == 0 => {
                s.resolving_since = Some(now);
                self.close(id, now);
            }
            (true, None) => {
                s.resolving_since = Some(now);
                self.deadlines.insert((now + grace, id));
            }
            (false, Some(since)) => {
                s.resolving_since = None;
                self.deadlines.remove(&(since + grace, id));
            }
            _ => {}
        }
    }

    /// Moves every alert of open topology incident `other` into `target` and forgets
    /// `other` (its id is never reused).
    fn merge_into(&mut self, target: u64, other: u64) {
        let Some(o) = self.open.remove(&other) else {
            return;
        };
        if let Some(since) = o.resolving_since {
            self.deadlines
                .remove(&(since + self.params.resolve_grace.0, other));
        }
        for m in o.members.values() {
            if let Some(set) = m
                .resource
                .as_ref()
                .and_then(|r| self.by_resource.get_mut(r))
            {
                set.remove(&other);
                set.insert(target);
            }
        }
        for fp in &o.order {
            self.by_alert.insert(*fp, target);
        }
        self.merged += 1;
        self.merged_into.insert(other, target);
        self.changed.0.insert(target);
        if let Some(t) = self.open.get_mut(&target) {
            t.started_at = t.started_at.min(o.started_at);
            t.last_activity = t.last_activity.max(o.last_activity);
            t.last_joined = t.last_joined.max(o.last_joined);
            t.pruned &= o.pruned;
            t.members.extend(o.members);
            t.order.extend(o.order);
            t.order.sort_by_key(|fp| t.members[fp].joined_at);
        }
    }

    /// Resolves the incidents whose grace period ended by `now`.
    fn close_due(&mut self, now: TimestampMs) {
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            self.close(id, at);
        }
    }

    fn is_resolved(&self, s: &State, now: TimestampMs) -> bool {
        let resolved =
            |fp: &Fingerprint| s.members[fp].alert.status_at(now) == AlertStatus::Resolved;
        match self.params.resolve {
            // Straight over the members (no lookups), in fingerprint order, which finds a
            // firing one early.
            ResolvePolicy::All => s
                .members
                .values()
                .all(|m| m.alert.status_at(now) == AlertStatus::Resolved),
            ResolvePolicy::First => s.order.first().is_some_and(resolved),
            ResolvePolicy::Last => s.order.last().is_some_and(resolved),
        }
    }

    fn close(&mut self, id: u64, now: TimestampMs) {
        let Some(mut s) = self.open.remove(&id) else {
            return;
        };
        s.resolved_at = Some(s.resolving_since.unwrap_or(now));
        self.changed.0.insert(id);
        if let Some(since) = s.resolving_since {
            self.deadlines
                .remove(&(since + self.params.resolve_grace.0, id));
        }
        for fp in &s.order {
            self.by_alert.remove(fp);
        }
        if let Some(k) = s.key.index_key()
            && self.by_key.get(&k) == Some(&id)
        {
            self.by_key.remove(&k);
        }
        for m in s.members.values() {
            if let Some(r) = &m.resource
                && let Some(set) = self.by_resource.get_mut(r)
            {
                set.remove(&id);
                if set.is_empty() {
                    self.by_resource.remove(r);
                }
            }
        }
        self.closed.push(s);
    }

    /// Resolves the open incidents whose policy has held for the grace period at `now`
    /// (alerts whose `endsAt` passed count as resolved; their grace starts now).
    pub fn resolve_due(&mut self, now: TimestampMs) {
        self.close_due(now);
        self.expire(now);
        self.close_due(now);
        self.drop_stale_pending(now);
    }

    /// Number of alerts waiting in correlation rules' chains for `min_alerts` (chains whose
    /// last alert is older than the rule's `window` are dropped at the next call).
    pub fn pending_count(&self) -> usize {
        self.pending_of.len()
    }

    /// The rule's window for a pending chain's key (`rule{group}`), if the rule still exists.
    fn pending_window(&self, key: &str) -> Option<TimestampMs> {
        self.params
            .rules
            .iter()
            .find(|r| {
                key.strip_prefix(r.name.as_str())
                    .is_some_and(|g| g.starts_with('{'))
            })
            .map(|r| r.window.0)
    }

    /// Drops the waiting chains that can no longer reach `min_alerts`: their last alert
    /// arrived more than the rule's window before `now`.
    fn drop_stale_pending(&mut self, now: TimestampMs) {
        if !self.pending_indexed {
            let keys: Vec<(String, TimestampMs)> = self
                .pending
                .iter()
                .filter_map(|(k, l)| Some((k.clone(), l.last()?.0)))
                .collect();
            for (k, last) in keys {
                // A chain of a rule that is gone can never complete.
                let end = self
                    .pending_window(&k)
                    .map_or(TimestampMs::MIN, |w| last + w);
                self.pending_expiry.insert((end, k));
            }
            self.pending_indexed = true;
        }
        while let Some((at, _)) = self.pending_expiry.first() {
            if *at >= now {
                break;
            }
            let Some((_, key)) = self.pending_expiry.pop_first() else {
                break;
            };
            for (_, a) in self.pending.remove(&key).unwrap_or_default() {
                self.pending_of.remove(&a.fingerprint);
            }
        }
    }

    /// Records when a waiting chain goes stale, replacing its previous entry.
    fn index_pending(&mut self, key: &str, before: Option<TimestampMs>, window: TimestampMs) {
        if let Some(t) = before {
            self.pending_expiry.remove(&(t + window, key.to_string()));
        }
        if let Some(&(last, _)) = self.pending.get(key).and_then(|l| l.last()) {
            self.pending_expiry.insert((last + window, key.to_string()));
        }
    }

    /// Forgets the resolved (closed for good) incidents that resolved before
    /// `resolved_before`, and what points to them (the merges into them); returns their ids,
    /// in closing order. Nothing else changes: they can no longer change (no alert joins or
    /// updates a closed incident, none is merged into one, a closed incident's alert that
    /// fires again opens a new incident), ids are never reused ([`Correlator::opened`] and
    /// the next id are kept), and the counters stay. A caller that keeps the incidents
    /// elsewhere (a store) calls it once their resolution is kept there, so that memory and
    /// snapshots hold only the open incidents and those resolved since.
    ///
    /// After it, [`Correlator::incident`] and [`Correlator::incidents`] no longer return
    /// them, and [`Correlator::successor`] of an incident merged into one of them is that
    /// incident's own id.
    pub fn forget_closed(&mut self, resolved_before: TimestampMs) -> Vec<u64> {
        let mut gone = Vec::new();
        self.closed.retain(|s| {
            let forget = s.resolved_at.is_some_and(|t| t < resolved_before);
            if forget {
                gone.push(s.id);
            }
            !forget
        });
        if !gone.is_empty() && !self.merged_into.is_empty() {
            let set: BTreeSet<u64> = gone.iter().copied().collect();
            let dropped: Vec<u64> = self
                .merged_into
                .keys()
                .copied()
                .filter(|&id| set.contains(&self.successor(id)))
                .collect();
            for id in dropped {
                self.merged_into.remove(&id);
            }
        }
        gone
    }

    /// Number of open incidents.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Number of resolved incidents held (those not forgotten, see
    /// [`Correlator::forget_closed`]).
    pub fn closed_count(&self) -> usize {
        self.closed.len()
    }

    /// One incident by number, open or resolved (`None` for one merged into another, never
    /// opened, or forgotten by [`Correlator::forget_closed`]). Open incidents are found at
    /// once, resolved ones newest first.
    pub fn incident(&self, id: u64, graph: Option<&TopologyGraph>) -> Option<Incident> {
        self.open
            .get(&id)
            .or_else(|| self.closed.iter().rev().find(|s| s.id == id))
            .map(|s| to_incident(s, graph))
    }

    /// The open incidents, by id.
    pub fn open_incidents(&self, graph: Option<&TopologyGraph>) -> Vec<Incident> {
        self.open.values().map(|s| to_incident(s, graph)).collect()
    }

    /// All incidents, open and resolved (less those forgotten), by id.
    pub fn incidents(&self, graph: Option<&TopologyGraph>) -> Vec<Incident> {
        let mut all: Vec<&State> = self.open.values().chain(self.closed.iter()).collect();
        all.sort_by_key(|s| s.id);
        all.into_iter().map(|s| to_incident(s, graph)).collect()
    }
}

/// Among the incident's failing resources, the one with the most failing resources in its
/// blast radius (ties: earliest alert, then id).
fn probable_origin(s: &State, graph: &TopologyGraph) -> Option<String> {
    let now_firing: Vec<&Member> = s
        .members
        .values()
        .filter(|m| m.alert.status == AlertStatus::Firing)
        .collect();
    let members: Vec<&Member> = if now_firing.is_empty() {
        s.members.values().collect()
    } else {
        now_firing
    };
    let mut first_seen: BTreeMap<&str, TimestampMs> = BTreeMap::new();
    for m in &members {
        if let Some(r) = m.resource.as_deref().filter(|r| graph.contains(r)) {
            let e = first_seen.entry(r).or_insert(m.joined_at);
            *e = (*e).min(m.joined_at);
        }
    }
    first_seen
        .iter()
        .map(|(r, t)| {
            let below = graph
                .dependents(r)
                .map(|d| d.iter().filter(|x| first_seen.contains_key(*x)).count())
                .unwrap_or(0);
            (std::cmp::Reverse(below), *t, *r)
        })
        .min()
        .map(|(_, _, r)| r.to_string())
}

fn to_incident(s: &State, graph: Option<&TopologyGraph>) -> Incident {
    let alerts: Vec<Alert> = s
        .order
        .iter()
        .map(|fp| (*s.members[fp].alert).clone())
        .collect();
    let severity = alerts
        .iter()
        .filter_map(Alert::severity)
        .max()
        .unwrap_or(Severity::Info);
    let resources: Vec<String> = s
        .members
        .values()
        .filter_map(|m| m.resource.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let probable_origin = match (&s.key, graph) {
        (Key::Topology, Some(g)) => probable_origin(s, g),
        _ => None,
    };
    let what = alerts
        .first()
        .and_then(|a| a.labels.get("alertname"))
        .unwrap_or("alerts")
        .to_string();
    let title = match (&probable_origin, resources.len()) {
        (Some(o), _) if alerts.len() > 1 => {
            format!("{what} and {} more, probably from {o}", alerts.len() - 1)
        }
        (Some(o), _) => format!("{what} on {o}"),
        (None, 0) => format!("{what} ({} alerts)", alerts.len()),
        (None, _) => format!("{what} on {}", resources.join(", ")),
    };
    Incident {
        id: format!("inc-{}", s.id),
        title,
        severity,
        status: if s.resolved_at.is_some() {
            IncidentStatus::Resolved
        } else {
            IncidentStatus::Open
        },
        resources,
        alerts,
        started_at: s.started_at,
        resolved_at: s.resolved_at,
        probable_origin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{M, alert};
    use aiops_core::Topology;

    fn resolved(a: &Alert, at: i64) -> Alert {
        let mut r = a.clone();
        r.status = AlertStatus::Resolved;
        r.ends_at = Some(at);
        r
    }

    /// frontend -> cart -> redis (calls); checkout -> payment; cart, redis run on host1.
    fn shop() -> TopologyGraph {
        let t = Topology::from_json(
            r#"{"nodes": [
                {"id": "frontend", "kind": "service"}, {"id": "cart", "kind": "service"},
                {"id": "redis", "kind": "cache"}, {"id": "checkout", "kind": "service"},
                {"id": "payment", "kind": "service"}, {"id": "host1", "kind": "host"}],
              "edges": [
                {"from": "frontend", "to": "cart", "kind": "calls"},
                {"from": "cart", "to": "redis", "kind": "calls"},
                {"from": "checkout", "to": "payment", "kind": "calls"},
                {"from": "cart", "to": "host1", "kind": "runs_on"},
                {"from": "redis", "to": "host1", "kind": "runs_on"}]}"#,
        )
        .unwrap();
        TopologyGraph::new(&t).unwrap()
    }

    #[test]
    fn topology_storm_becomes_one_incident_with_origin() {
        let g = shop();
        let mut c = CorrelationParams::default().build().unwrap();
        // redis fails first, then its callers; payment fails unrelated.
        let a1 = alert(
            &[
                ("alertname", "Down"),
                ("service", "redis"),
                ("severity", "critical"),
            ],
            0,
        );
        let a2 = alert(
            &[
                ("alertname", "Errors"),
                ("service", "cart"),
                ("severity", "warning"),
            ],
            M,
        );
        let a3 = alert(&[("alertname", "Latency"), ("service", "frontend")], 2 * M);
        let b1 = alert(&[("alertname", "Down"), ("service", "payment")], 2 * M);
        let i1 = c.observe(&a3, 2 * M, Some(&g)).unwrap();
        let i2 = c.observe(&a2, 2 * M, Some(&g)).unwrap();
        let i3 = c.observe(&a1, 2 * M, Some(&g)).unwrap();
        let j = c.observe(&b1, 2 * M, Some(&g)).unwrap();
        assert_eq!((i1, i2, i3), (1, 1, 1));
        assert_eq!(j, 2);
        let incs = c.incidents(Some(&g));
        assert_eq!(incs[0].resources, ["cart", "frontend", "redis"]);
        // Arrival order does not fool the origin: redis is the most upstream failure.
        assert_eq!(incs[0].probable_origin.as_deref(), Some("redis"));
        assert_eq!(incs[0].severity, Severity::Critical);
        assert_eq!(incs[1].probable_origin.as_deref(), Some("payment"));
        // Too far in time: a new incident.
        let late = alert(
            &[("alertname", "Errors"), ("service", "frontend"), ("x", "1")],
            0,
        );
        assert_eq!(c.observe(&late, 13 * M, Some(&g)), Some(3));
    }

    #[test]
    fn re_sends_keep_an_incident_but_do_not_widen_its_window() {
        let g = shop();
        let mut c = CorrelationParams::default().build().unwrap();
        let a = alert(&[("alertname", "A"), ("service", "cart")], 0);
        assert_eq!(c.observe(&a, 0, Some(&g)), Some(1));
        // A neighbour within 5m of the last new alert joins.
        let b = alert(&[("alertname", "B"), ("service", "frontend")], 0);
        assert_eq!(c.observe(&b, 4 * M, Some(&g)), Some(1));
        // Re-sends and updates of members keep their incident...
        let mut a2 = a.clone();
        a2.annotations.insert("value".into(), "9".into());
        assert_eq!(c.observe(&a2, 8 * M, Some(&g)), Some(1));
        assert_eq!(c.observe(&a2, 10 * M, Some(&g)), Some(1));
        // ...but the incident stopped growing at 4m: a neighbour at 10m is a new problem.
        let d = alert(&[("alertname", "D"), ("service", "redis")], 0);
        assert_eq!(c.observe(&d, 10 * M, Some(&g)), Some(2));
    }

    #[test]
    fn an_alert_linking_two_incidents_merges_them_into_the_older() {
        let g = shop();
        // frontend and redis are two hops apart: alone they open two incidents; cart,
        // between them, shows they are one problem (its alert came in late).
        let run = |merge: bool| {
            let mut p = CorrelationParams::default();
            p.topology.merge = merge;
            let mut c = p.build().unwrap();
            let f = alert(&[("alertname", "Latency"), ("service", "frontend")], 0);
            let r = alert(&[("alertname", "Down"), ("service", "redis")], 0);
            let k = alert(&[("alertname", "Errors"), ("service", "cart")], 0);
            let got = [
                c.observe(&f, 0, Some(&g)),
                c.observe(&r, 10_000, Some(&g)),
                c.observe(&k, 20_000, Some(&g)),
            ];
            (c, got)
        };
        let (c, got) = run(true);
        assert_eq!(got, [Some(1), Some(2), Some(1)]);
        assert_eq!((c.opened(), c.merged(), c.successor(2)), (2, 1, 1));
        let incs = c.incidents(Some(&g));
        assert_eq!(incs.len(), 1);
        assert_eq!(incs[0].resources, ["cart", "frontend", "redis"]);
        assert_eq!(incs[0].probable_origin.as_deref(), Some("redis"));
        // Alerts stay in arrival order.
        let names: Vec<_> = incs[0]
            .alerts
            .iter()
            .map(|a| a.labels.get("service").unwrap())
            .collect();
        assert_eq!(names, ["frontend", "redis", "cart"]);
        // Resolving every alert resolves the merged incident.
        let mut c = c;
        for (svc, name) in [
            ("frontend", "Latency"),
            ("redis", "Down"),
            ("cart", "Errors"),
        ] {
            let a = alert(&[("alertname", name), ("service", svc)], 0);
            c.observe(&resolved(&a, M), M, Some(&g));
        }
        c.resolve_due(20 * M);
        assert_eq!(c.incidents(Some(&g))[0].status, IncidentStatus::Resolved);
        // Without merging, cart joins the nearest (most recent) one and two incidents stay.
        let (c, got) = run(false);
        assert_eq!(got, [Some(1), Some(2), Some(2)]);
        assert_eq!((c.merged(), c.incidents(Some(&g)).len()), (0, 2));
    }

    #[test]
    fn resolve_policies_and_no_reuse() {
        let a = alert(&[("alertname", "A"), ("service", "s")], 0);
        let b = alert(&[("alertname", "B"), ("service", "s")], 0);
        for (policy, after_a, after_b) in [
            (
                ResolvePolicy::All,
                IncidentStatus::Open,
                IncidentStatus::Resolved,
            ),
            (
                ResolvePolicy::First,
                IncidentStatus::Resolved,
                IncidentStatus::Resolved,
            ),
            (
                ResolvePolicy::Last,
                IncidentStatus::Open,
                IncidentStatus::Resolved,
            ),
        ] {
            let mut c = CorrelationParams {
                resolve: policy,
                resolve_grace: Duration(0),
                ..Default::default()
            }
            .build()
            .unwrap();
            c.observe(&a, 0, None);
            c.observe(&b, 1, None);
            c.observe(&resolved(&a, 2), 2, None);
            assert_eq!(c.incidents(None)[0].status, after_a, "{policy:?}");
            c.observe(&resolved(&b, 3), 3, None);
            assert_eq!(c.incidents(None)[0].status, after_b, "{policy:?}");
            // Firing again after resolution opens a new incident.
            assert_eq!(c.observe(&a, 4, None), Some(2));
            assert_eq!(c.incidents(None).len(), 2);
        }
        // A resolved alert never opens an incident.
        let mut c = CorrelationParams::default().build().unwrap();
        assert_eq!(c.observe(&resolved(&a, 5), 5, None), None);
        assert!(c.incidents(None).is_empty());
    }

    #[test]
    fn a_flapping_alert_keeps_its_incident_within_the_grace_period() {
        let a = alert(&[("alertname", "Flap"), ("service", "cart")], 0);
        let mut c = CorrelationParams::default().build().unwrap();
        let m = 60_000;
        assert_eq!(c.observe(&a, 0, None), Some(1));
        c.observe(&resolved(&a, m), m, None);
        assert_eq!(c.incidents(None)[0].status, IncidentStatus::Open, "grace");
        // Fires again 2 minutes later: same incident, grace cancelled.
        assert_eq!(c.observe(&a, 3 * m, None), Some(1));
        c.resolve_due(20 * m);
        assert_eq!(c.incidents(None)[0].status, IncidentStatus::Open);
        // Resolves for good: closed once 5 minutes have passed, dated when it resolved.
        c.observe(&resolved(&a, 21 * m), 21 * m, None);
        c.resolve_due(25 * m);
        assert_eq!(c.incidents(None)[0].status, IncidentStatus::Open);
        c.resolve_due(26 * m);
        let inc = &c.incidents(None)[0];
        assert_eq!(inc.status, IncidentStatus::Resolved);
        assert_eq!(inc.resolved_at, Some(21 * m));
        // After that, never reused: an unrelated later alert closes due incidents first.
        assert_eq!(c.observe(&a, 40 * m, None), Some(2));
        assert!(
            CorrelationParams {
                resolve_grace: Duration(-1),
                ..Default::default()
            }
            .build()
            .is_err()
        );
    }

    /// A correlator with one rule: `team=db` alerts grouped by cluster, 3 within 5 minutes.
    fn db_rule_correlator() -> Correlator {
        let rule = CorrelationRule {
            name: "db".into(),
            matchers: "team=db".parse().unwrap(),
            group_by: vec!["cluster".into()],
            window: Duration::from_mins(5),
            min_alerts: 3,
        };
        CorrelationParams {
            rules: vec![rule],
            ..Default::default()
        }
        .build()
        .unwrap()
    }

    fn db_alert(name: &str, cluster: &str) -> Alert {
        alert(
            &[("alertname", name), ("team", "db"), ("cluster", cluster)],
            0,
        )
    }

    #[test]
    fn rules_with_min_count_window_and_group_by() {
        let mut c = db_rule_correlator();
        let a = db_alert;
        assert_eq!(c.observe(&a("A", "eu"), 0, None), None);
        assert_eq!(c.observe(&a("B", "eu"), M, None), None);
        assert_eq!(c.observe(&a("C", "us"), M, None), None);
        // A pending alert that resolves drops out of the count.
        c.observe(&resolved(&a("B", "eu"), 2 * M), 2 * M, None);
        assert_eq!(c.observe(&a("D", "eu"), 3 * M, None), None);
        assert_eq!(c.observe(&a("E", "eu"), 4 * M, None), Some(1));
        assert_eq!(c.incidents(None)[0].alerts.len(), 3);
        // Further alerts within the window join; after a gap longer than it, they do not.
        assert_eq!(c.observe(&a("F", "eu"), 8 * M, None), Some(1));
        assert_eq!(c.observe(&a("G", "eu"), 20 * M, None), None);
        // A gap resets the pending chain too.
        assert_eq!(c.observe(&a("H", "us"), 30 * M, None), None);
        assert_eq!(c.observe(&a("I", "us"), 31 * M, None), None);
        assert!(
            CorrelationParams {
                rules: vec![CorrelationRule {
                    name: "x".into(),
                    matchers: Matchers::default(),
                    group_by: vec![],
                    window: Duration(0),
                    min_alerts: 1
                }],
                ..Default::default()
            }
            .build()
            .is_err()
        );
    }

    #[test]
    fn waiting_chains_leave_once_their_window_has_passed() {
        let mut c = db_rule_correlator();
        let a = db_alert;
        // A thousand groups that each get one alert and never another.
        for i in 0..1000 {
            assert_eq!(c.observe(&a("A", &format!("c{i}")), i, None), None);
        }
        c.observe(&a("B", "keep"), 4 * M, None);
        c.observe(&a("C", "keep"), 5 * M, None);
        assert_eq!(c.pending_count(), 1002);
        // Still within the window of their last alert: kept.
        c.resolve_due(5 * M);
        assert_eq!(c.pending_count(), 1002);
        // Past it, the lone alerts go (no alert can complete their chain any more); the
        // chain whose last alert came at 5 minutes stays, and completes.
        c.resolve_due(9 * M);
        assert_eq!(c.pending_count(), 2);
        // A repeat of a waiting alert moves its chain's deadline.
        c.observe(&a("C", "keep"), 9 * M, None);
        c.resolve_due(13 * M);
        assert_eq!(c.pending_count(), 2);
        assert_eq!(c.observe(&a("D", "keep"), 13 * M, None), Some(1));
        assert_eq!(c.pending_count(), 0);
        // The same alerts as before expiry-indexing existed: a snapshot without the index
        // rebuilds it.
        let mut old = db_rule_correlator();
        old.observe(&a("A", "x"), 0, None);
        let mut v = serde_json::to_value(&old).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("pending_expiry");
        o.remove("pending_indexed");
        let mut back: Correlator = serde_json::from_value(v).unwrap();
        back.resolve_due(5 * M);
        assert_eq!(back.pending_count(), 1);
        back.resolve_due(6 * M);
        assert_eq!(back.pending_count(), 0);
        // And the snapshot of the new state holds no chain.
        let snap = serde_json::to_string(&back).unwrap();
        assert!(!snap.contains("\"x\""), "{snap}");
    }

    #[test]
    fn forgetting_closed_incidents_keeps_open_ones_and_never_reuses_an_id() {
        let g = shop();
        let mut c = CorrelationParams {
            resolve_grace: Duration(0),
            ..Default::default()
        }
        .build()
        .unwrap();
        // Three incidents: a (plain, no topology), b and k (topology, merged into b's).
        let a = alert(&[("alertname", "A"), ("service", "s1")], 0);
        let f = alert(&[("alertname", "F"), ("service", "frontend")], 0);
        let r = alert(&[("alertname", "R"), ("service", "redis")], 0);
        let k = alert(&[("alertname", "K"), ("service", "cart")], 0);
        let p = alert(&[("alertname", "P"), ("service", "payment")], 0);
        assert_eq!(c.observe(&a, 0, Some(&g)), Some(1));
        assert_eq!(c.observe(&f, 1, Some(&g)), Some(2));
        assert_eq!(c.observe(&r, 2, Some(&g)), Some(3));
        assert_eq!(c.observe(&k, 3, Some(&g)), Some(2));
        assert_eq!(c.successor(3), 2);
        assert_eq!(c.observe(&p, 4, Some(&g)), Some(4));
        // a resolves at 10, the merged incident at 20; payment stays open.
        c.observe(&resolved(&a, 10), 10, Some(&g));
        for x in [&f, &r, &k] {
            c.observe(&resolved(x, 20), 20, Some(&g));
        }
        assert_eq!((c.open_count(), c.closed_count()), (1, 2));
        let before = c.incidents(Some(&g));
        // Resolved before 15: only a.
        assert_eq!(c.forget_closed(15), [1]);
        assert_eq!(c.closed_count(), 1);
        assert!(c.incident(1, Some(&g)).is_none());
        assert_eq!(c.incidents(Some(&g)), before[1..]);
        assert_eq!(c.successor(3), 2);
        // The rest; the merge into the forgotten incident goes with it.
        assert_eq!(c.forget_closed(TimestampMs::MAX), [2]);
        assert_eq!(c.successor(3), 3);
        assert!(c.merged_into.is_empty());
        assert_eq!((c.open_count(), c.closed_count()), (1, 0));
        // The open incident is untouched and still takes its alerts.
        assert_eq!(c.incidents(Some(&g)), before[2..]);
        assert_eq!(c.observe(&p, 30, Some(&g)), Some(4));
        // An alert of a forgotten incident that fires again opens a new one, with a new id;
        // the counters stay.
        assert_eq!(c.observe(&a, 40, Some(&g)), Some(5));
        assert_eq!(c.observe(&f, 41, Some(&g)), Some(6));
        assert_eq!((c.opened(), c.merged()), (6, 1));
        let ids: Vec<String> = c.incidents(Some(&g)).into_iter().map(|i| i.id).collect();
        assert_eq!(ids, ["inc-4", "inc-5", "inc-6"]);
        // Nothing to forget: nothing changes; the state still round-trips.
        assert!(c.forget_closed(TimestampMs::MAX).is_empty());
        let back: Correlator = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn snapshot_round_trip() {
        let g = shop();
        let mut c = CorrelationParams::default().build().unwrap();
        c.observe(
            &alert(&[("alertname", "A"), ("service", "cart")], 0),
            0,
            Some(&g),
        );
        let back: Correlator = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
