//! Aggregation groups and their notification timers, with Alertmanager's semantics.
//!
//! - A new group waits `group_wait` before its first notification, so that alerts arriving
//!   meanwhile are batched; an alert that started more than `group_wait` ago flushes a
//!   group that has not notified yet immediately.
//! - After that the group is looked at every `group_interval`: it notifies when a firing
//!   alert is new since the last notification, when alerts resolved (with `send_resolved`),
//!   when everything resolved, or when the last notification is older than
//!   `repeat_interval` (strictly, so with the default timers a repeat comes at the first
//!   `group_interval` tick after `repeat_interval`, as in Alertmanager).
//! - Resolved alerts leave the group once a flush has seen them; an empty group is
//!   dropped, and the next alert with its key opens a new group (and waits `group_wait`).
//! - Muted (silenced or inhibited) alerts are left out at flush time, as Alertmanager's
//!   mute stage does; a flush with only muted alerts notifies nobody and records nothing,
//!   so what the group last sent stays the reference for the next flush.
//! - A group whose route is inside one of its `mute_time_intervals`, or outside all of its
//!   `active_time_intervals`, sends nothing at a flush and does not record a notification,
//!   so the next flush outside the interval notifies what is pending; resolved alerts still
//!   leave the group (Alertmanager's time mute stage).

use std::sync::Arc;

use std::collections::{BTreeMap, BTreeSet};

use aiops_core::{Alert, AlertStatus, Fingerprint, Labels, TimestampMs};
use serde::{Deserialize, Serialize};

use crate::error::{AlertError, Result};
use crate::route::Route;
use crate::time_interval::TimeIntervals;
use aiops_core::time::Duration;

/// Decides whether an alert is muted (silenced, inhibited, in maintenance) at a time.
pub trait Mute {
    /// Whether `alert` is muted at `now`.
    fn is_muted(&self, alert: &Alert, now: TimestampMs) -> bool;
}

/// Mutes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMute;

impl Mute for NoMute {
    fn is_muted(&self, _: &Alert, _: TimestampMs) -> bool {
        false
    }
}

impl<F: Fn(&Alert, TimestampMs) -> bool> Mute for F {
    fn is_muted(&self, alert: &Alert, now: TimestampMs) -> bool {
        self(alert, now)
    }
}

/// One notification: what a receiver would get.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// When it is sent (engine time).
    pub at: TimestampMs,
    /// Receiver of the route.
    pub receiver: String,
    /// Group key (`route path:group labels`).
    pub group_key: String,
    /// The labels shared by the group.
    pub group_labels: Labels,
    /// Firing alerts, by fingerprint.
    pub firing: Vec<Alert>,
    /// Resolved alerts, by fingerprint (empty without `send_resolved`).
    pub resolved: Vec<Alert>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Notified {
    at: TimestampMs,
    firing: BTreeSet<Fingerprint>,
    resolved: BTreeSet<Fingerprint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Group {
    receiver: String,
    labels: Labels,
    group_wait: Duration,
    group_interval: Duration,
    repeat_interval: Duration,
    #[serde(with = "crate::shared::alert_map")]
    alerts: BTreeMap<Fingerprint, Arc<Alert>>,
    next_flush: TimestampMs,
    has_flushed: bool,
    last: Option<Notified>,
    #[serde(default)]
    mute_time_intervals: Vec<String>,
    #[serde(default)]
    active_time_intervals: Vec<String>,
}

/// The routing tree plus its aggregation groups (serde-snapshottable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grouper {
    route: Route,
    send_resolved: bool,
    groups: BTreeMap<String, Group>,
    /// (next flush time, group key), for the groups in `groups`.
    schedule: BTreeSet<(TimestampMs, String)>,
    pending: Vec<Batch>,
    now: TimestampMs,
    #[serde(default)]
    intervals: TimeIntervals,
}

impl Grouper {
    /// A grouper over a routing tree; `send_resolved` as on Alertmanager receivers.
    pub fn new(route: Route, send_resolved: bool) -> Self {
        Self {
            route,
            send_resolved,
            groups: BTreeMap::new(),
            schedule: BTreeSet::new(),
            pending: Vec::new(),
            now: TimestampMs::MIN,
            intervals: TimeIntervals::default(),
        }
    }

    /// Sets the named time intervals that routes refer to, after checking that every
    /// name the routing tree uses exists.
    pub fn with_time_intervals(mut self, intervals: TimeIntervals) -> Result<Self> {
        intervals.check_route(&self.route)?;
        self.intervals = intervals;
        Ok(self)
    }

    /// The routing tree.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// Number of live groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there is no live group.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    fn check_time(&mut self, now: TimestampMs) -> Result<()> {
        if now < self.now {
            return Err(AlertError::InvalidParameter {
                name: "now",
                reason: format!("time went backwards: {now} < {}", self.now),
            });
        }
        self.now = now;
        Ok(())
    }

    /// Adds (or updates, by fingerprint) an alert at engine time `now`. Flushes due before
    /// `now` run first; their batches come out of the next [`Grouper::tick`].
    pub fn insert(&mut self, alert: &Alert, now: TimestampMs, mute: &impl Mute) -> Result<()> {
        self.insert_shared(&Arc::new(alert.clone()), now, mute)
    }

    /// [`Grouper::insert`] of an alert shared with the caller (the groups keep the `Arc`).
    pub fn insert_shared(
        &mut self,
        alert: &Arc<Alert>,
        now: TimestampMs,
        mute: &impl Mute,
    ) -> Result<()> {
        self.advance(now, mute)?;
        let Self {
            route,
            groups,
            schedule,
            ..
        } = self;
        for r in route.match_routes(&alert.labels) {
            let labels = r.group_by.group_labels(&alert.labels);
            let key = format!("{}:{}", r.path, labels);
            let group = groups.entry(key.clone()).or_insert_with(|| {
                schedule.insert((now + r.group_wait.0, key.clone()));
                Group {
                    receiver: r.receiver.clone(),
                    labels,
                    group_wait: r.group_wait,
                    group_interval: r.group_interval,
                    repeat_interval: r.repeat_interval,
                    alerts: BTreeMap::new(),
                    next_flush: now + r.group_wait.0,
                    has_flushed: false,
                    last: None,
                    mute_time_intervals: r.mute_time_intervals.clone(),
                    active_time_intervals: r.active_time_intervals.clone(),
                }
            });
            group.alerts.insert(alert.fingerprint, Arc::clone(alert));
            if !group.has_flushed
                && alert.starts_at.saturating_add(group.group_wait.0) < now
                && group.next_flush > now
            {
                schedule.remove(&(group.next_flush, key.clone()));
                group.next_flush = now;
                schedule.insert((now, key));
            }
        }
        Ok(())
    }

    /// Runs every flush due at or before `now` and returns the notifications, in time order.
    pub fn tick(&mut self, now: TimestampMs, mute: &impl Mute) -> Result<Vec<Batch>> {
        self.advance(now, mute)?;
        Ok(std::mem::take(&mut self.pending))
    }

    /// The time of the next scheduled flush, if any group is live.
    pub fn next_flush(&self) -> Option<TimestampMs> {
        self.schedule.first().map(|(t, _)| *t)
    }

    fn advance(&mut self, now: TimestampMs, mute: &impl Mute) -> Result<()> {
        self.check_time(now)?;
        while let Some((t, key)) = self.schedule.first().cloned() {
            if t > now {
                break;
            }
            self.schedule.pop_first();
            self.flush(&key, t, mute);
        }
        Ok(())
    }

    fn flush(&mut self, key: &str, t: TimestampMs, mute: &impl Mute) {
        let Some(g) = self.groups.get_mut(key) else {
            return;
        };
        g.next_flush = t + g.group_interval.0;
        g.has_flushed = true;
        let (mut firing, mut resolved): (Vec<&Alert>, Vec<&Alert>) = (Vec::new(), Vec::new());
        let mut seen_resolved = Vec::new();
        for (fp, a) in &g.alerts {
            let is_resolved = a.status_at(t) == AlertStatus::Resolved;
            if is_resolved {
                seen_resolved.push(*fp);
            }
            if mute.is_muted(a, t) {
                continue;
            }
            if is_resolved {
                resolved.push(&**a);
            } else {
                firing.push(&**a);
            }
        }
        let fset: BTreeSet<Fingerprint> = firing.iter().map(|a| a.fingerprint).collect();
        let rset: BTreeSet<Fingerprint> = resolved.iter().map(|a| a.fingerprint).collect();
        let time_muted = self
            .intervals
            .mutes(&g.mute_time_intervals, &g.active_time_intervals, t);
        // Nothing left after muting: Alertmanager's pipeline stops before its dedup stage, so
        // the notification log keeps what was last sent (an alert muted meanwhile is not
        // "new" again when the mute ends, as its firing set is compared with that).
        let nothing = firing.is_empty() && resolved.is_empty();
        let needs = match &g.last {
            _ if time_muted || nothing => false,
            None => !fset.is_empty(),
            Some(last) if !fset.is_subset(&last.firing) => true,
            Some(last) if fset.is_empty() => !last.firing.is_empty(),
            Some(last) if self.send_resolved && !rset.is_subset(&last.resolved) => true,
            Some(last) => last.at < t - g.repeat_interval.0,
        };
        if needs {
            if !self.send_resolved {
                resolved.clear();
            }
            if !firing.is_empty() || !resolved.is_empty() {
                self.pending.push(Batch {
                    at: t,
                    receiver: g.receiver.clone(),
                    group_key: key.to_string(),
                    group_labels: g.labels.clone(),
                    firing: firing.into_iter().cloned().collect(),
                    resolved: resolved.into_iter().cloned().collect(),
                });
            }
            g.last = Some(Notified {
                at: t,
                firing: fset,
                resolved: rset,
            });
        }
        for fp in seen_resolved {
            g.alerts.remove(&fp);
        }
        if g.alerts.is_empty() {
            self.groups.remove(key);
        } else {
            self.schedule.insert((g.next_flush, key.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::RouteConfig;

    const S: i64 = 1_000;
    const M: i64 = 60 * S;

    fn alert(name: &str, extra: &[(&str, &str)], start: i64) -> Alert {
        let mut l = Labels::try_from_pairs(extra.iter().copied()).unwrap();
        l.insert("alertname", name).unwrap();
        Alert::firing(l, start).unwrap()
    }

    fn grouper(yaml: &str) -> Grouper {
        let cfg: RouteConfig = serde_saphyr::from_str(yaml).unwrap();
        Grouper::new(cfg.build().unwrap(), true)
    }

    /// A grouper on `TIMERS` holding unmuted `job=api` alerts of these names, started at 0.
    fn api_grouper(names: &[&str]) -> Grouper {
        let mut g = grouper(TIMERS);
        for name in names {
            g.insert(&alert(name, &[("job", "api")], 0), 0, &NoMute)
                .unwrap();
        }
        g
    }

    fn names(b: &[Alert]) -> Vec<&str> {
        let mut v: Vec<&str> = b
            .iter()
            .map(|a| a.labels.get("alertname").unwrap())
            .collect();
        v.sort_unstable();
        v
    }

    const TIMERS: &str =
        "receiver: r\ngroup_by: [job]\ngroup_wait: 30s\ngroup_interval: 5m\nrepeat_interval: 1h";

    #[test]
    fn group_wait_batches_then_group_interval() {
        let mut g = api_grouper(&["A"]);
        g.insert(&alert("B", &[("job", "api")], 10 * S), 10 * S, &NoMute)
            .unwrap();
        g.insert(&alert("C", &[("job", "db")], 20 * S), 20 * S, &NoMute)
            .unwrap();
        assert!(g.tick(29 * S, &NoMute).unwrap().is_empty());
        let b = g.tick(30 * S, &NoMute).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!((b[0].at, names(&b[0].firing)), (30 * S, vec!["A", "B"]));
        assert_eq!(b[0].group_labels.get("job"), Some("api"));
        let b = g.tick(50 * S, &NoMute).unwrap();
        assert_eq!((b[0].at, names(&b[0].firing)), (50 * S, vec!["C"]));
        // A new alert in a group that already notified waits for the next group_interval.
        g.insert(&alert("D", &[("job", "api")], 40 * S), 60 * S, &NoMute)
            .unwrap();
        assert!(g.tick(30 * S + 5 * M - 1, &NoMute).unwrap().is_empty());
        let b = g.tick(30 * S + 5 * M, &NoMute).unwrap();
        assert_eq!(names(&b[0].firing), ["A", "B", "D"]);
        // Nothing changed: no notification at the following ticks.
        assert!(g.tick(30 * S + 15 * M, &NoMute).unwrap().is_empty());
    }

    #[test]
    fn repeat_interval_fires_at_first_tick_after_it() {
        let mut g = api_grouper(&["A"]);
        let first = g.tick(30 * S, &NoMute).unwrap();
        assert_eq!(first.len(), 1);
        // Ticks every 5m from 30s: the one exactly 1h later does not repeat (Alertmanager
        // compares strictly), the next one does.
        assert!(g.tick(30 * S + 60 * M, &NoMute).unwrap().is_empty());
        let b = g.tick(30 * S + 65 * M, &NoMute).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].at, 30 * S + 65 * M);
        assert!(g.tick(30 * S + 125 * M, &NoMute).unwrap().is_empty());
        assert_eq!(g.tick(30 * S + 130 * M, &NoMute).unwrap().len(), 1);
    }

    #[test]
    fn resolved_alerts_notify_and_leave() {
        let mut g = grouper(TIMERS);
        let a = alert("A", &[("job", "api")], 0);
        let b = alert("B", &[("job", "api")], 0);
        g.insert(&a, 0, &NoMute).unwrap();
        g.insert(&b, 0, &NoMute).unwrap();
        assert_eq!(g.tick(30 * S, &NoMute).unwrap().len(), 1);
        let mut ra = a.clone();
        ra.status = AlertStatus::Resolved;
        ra.ends_at = Some(M);
        g.insert(&ra, M, &NoMute).unwrap();
        let out = g.tick(30 * S + 5 * M, &NoMute).unwrap();
        assert_eq!(
            (names(&out[0].firing), names(&out[0].resolved)),
            (vec!["B"], vec!["A"])
        );
        // An alert whose endsAt passed counts as resolved at flush time.
        let mut rb = b.clone();
        rb.ends_at = Some(6 * M);
        g.insert(&rb, 6 * M, &NoMute).unwrap();
        let out = g.tick(30 * S + 10 * M, &NoMute).unwrap();
        assert_eq!(
            (out[0].firing.len(), names(&out[0].resolved)),
            (0, vec!["B"])
        );
        // The group is gone; a new alert opens a fresh one that waits group_wait again.
        assert!(g.is_empty());
        g.insert(&alert("E", &[("job", "api")], 11 * M), 11 * M, &NoMute)
            .unwrap();
        assert!(g.tick(11 * M + 29 * S, &NoMute).unwrap().is_empty());
        assert_eq!(g.tick(11 * M + 30 * S, &NoMute).unwrap().len(), 1);
    }

    #[test]
    fn send_resolved_false_hides_resolved() {
        let cfg: RouteConfig = serde_saphyr::from_str(TIMERS).unwrap();
        let mut g = Grouper::new(cfg.build().unwrap(), false);
        let a = alert("A", &[("job", "api")], 0);
        g.insert(&a, 0, &NoMute).unwrap();
        g.insert(&alert("B", &[("job", "api")], 0), 0, &NoMute)
            .unwrap();
        assert_eq!(g.tick(30 * S, &NoMute).unwrap().len(), 1);
        let mut ra = a;
        ra.status = AlertStatus::Resolved;
        g.insert(&ra, M, &NoMute).unwrap();
        // Firing set shrank, nothing new fires: no notification.
        assert!(g.tick(30 * S + 5 * M, &NoMute).unwrap().is_empty());
    }

    #[test]
    fn old_alert_flushes_immediately() {
        let mut g = grouper(TIMERS);
        // Started 10 minutes ago, longer than group_wait: sent at once.
        g.insert(&alert("A", &[("job", "api")], 0), 10 * M, &NoMute)
            .unwrap();
        let b = g.tick(10 * M, &NoMute).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].at, 10 * M);
    }

    #[test]
    fn group_by_all_and_empty() {
        let mut g = grouper("receiver: r\ngroup_by: ['...']");
        g.insert(&alert("A", &[("i", "1")], 0), 0, &NoMute).unwrap();
        g.insert(&alert("A", &[("i", "2")], 0), 0, &NoMute).unwrap();
        assert_eq!(g.tick(30 * S, &NoMute).unwrap().len(), 2);
        let mut g = grouper("receiver: r");
        g.insert(&alert("A", &[("i", "1")], 0), 0, &NoMute).unwrap();
        g.insert(&alert("B", &[("i", "2")], 0), 0, &NoMute).unwrap();
        let b = g.tick(30 * S, &NoMute).unwrap();
        assert_eq!((b.len(), b[0].firing.len()), (1, 2));
        assert!(g.insert(&alert("C", &[], 0), 0, &NoMute).is_err());
    }

    #[test]
    fn continue_routes_notify_each_receiver() {
        let mut g = grouper(
            "receiver: r\nroutes:\n  - {matchers: ['team=db'], receiver: a, continue: true}\n  - {matchers: ['team=db'], receiver: b}",
        );
        g.insert(&alert("A", &[("team", "db")], 0), 0, &NoMute)
            .unwrap();
        let b = g.tick(30 * S, &NoMute).unwrap();
        let mut rs: Vec<&str> = b.iter().map(|b| b.receiver.as_str()).collect();
        rs.sort();
        assert_eq!(rs, ["a", "b"]);
    }

    #[test]
    fn muted_alerts_are_left_out() {
        let mut g = api_grouper(&["A", "B"]);
        let mute_a = |a: &Alert, _: TimestampMs| a.labels.get("alertname") == Some("A");
        let b = g.tick(30 * S, &mute_a).unwrap();
        assert_eq!(names(&b[0].firing), ["B"]);
        // Once the silence is gone, A is new to the receiver and gets notified.
        let b = g.tick(30 * S + 5 * M, &NoMute).unwrap();
        assert_eq!(names(&b[0].firing), ["A", "B"]);
        let all = |_: &Alert, _: TimestampMs| true;
        let mut g = grouper(TIMERS);
        g.insert(&alert("A", &[("job", "api")], 0), 0, &all)
            .unwrap();
        assert!(g.tick(10 * M, &all).unwrap().is_empty());
    }

    #[test]
    fn a_fully_muted_flush_records_nothing() {
        // Checked against a real Alertmanager 0.25 (aiops-py/tests/
        // test_alertmanager_conformance.py): a group notified of A and B, then fully muted
        // for a while, says nothing when the mute ends, since {A, B} was already sent...
        let mut g = api_grouper(&["A", "B"]);
        assert_eq!(
            names(&g.tick(30 * S, &NoMute).unwrap()[0].firing),
            ["A", "B"]
        );
        let all = |_: &Alert, _: TimestampMs| true;
        assert!(g.tick(30 * S + 10 * M, &all).unwrap().is_empty());
        assert!(g.tick(30 * S + 15 * M, &NoMute).unwrap().is_empty());
        // ...and a new alert brings the whole group again.
        g.insert(&alert("C", &[("job", "api")], 0), 16 * M, &NoMute)
            .unwrap();
        let b = g.tick(30 * S + 20 * M, &NoMute).unwrap();
        assert_eq!(names(&b[0].firing), ["A", "B", "C"]);
    }

    #[test]
    fn snapshot_restore_continues_identically() {
        let mut g = api_grouper(&["A"]);
        g.tick(30 * S, &NoMute).unwrap();
        g.insert(&alert("B", &[("job", "api")], 0), M, &NoMute)
            .unwrap();
        let text = serde_json::to_string(&g).unwrap();
        let mut back: Grouper = serde_json::from_str(&text).unwrap();
        assert_eq!(back, g);
        let t = 30 * S + 70 * M;
        assert_eq!(back.tick(t, &NoMute).unwrap(), g.tick(t, &NoMute).unwrap());
        assert!(back.tick(0, &NoMute).is_err());
    }
}
