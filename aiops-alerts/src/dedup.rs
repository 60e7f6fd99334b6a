//! Fingerprinting and deduplication of incoming alerts.
//!
//! The fingerprint is the Prometheus/Alertmanager FNV-1a hash of the label set, or of the
//! configured label names only. A repeat with the same content is a duplicate (counted, not
//! stored again: Keep's full dedup); a repeat whose content changed replaces the stored
//! alert (Keep's partial dedup), where fields listed in `ignore` do not count as changes.

use std::sync::Arc;

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use aiops_core::{Alert, Fingerprint, TimestampMs};
use serde::{Deserialize, Serialize};

use crate::error::{AlertError, Result};
use aiops_core::time::Duration;

/// Alert fields a partial dedup may ignore when comparing a repeat with the stored alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DedupField {
    /// `annotations`.
    Annotations,
    /// `startsAt`.
    StartsAt,
    /// `endsAt`.
    EndsAt,
    /// `generatorURL`.
    GeneratorUrl,
    /// Labels outside the fingerprint labels.
    ExtraLabels,
}

/// Dedup parameters, as written in configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DedupParams {
    /// Label names the fingerprint is computed from; empty means all labels.
    pub fingerprint_labels: Vec<String>,
    /// Fields whose change alone still makes a repeat a duplicate.
    pub ignore: Vec<DedupField>,
    /// How long a resolved alert stays in the store (so that its re-sent resolution is still
    /// a duplicate) before garbage collection drops it. Default 30m: Prometheus re-sends a
    /// resolution for 15 minutes, and Alertmanager collects resolved alerts every 30.
    pub retention: Duration,
}

impl Default for DedupParams {
    fn default() -> Self {
        Self {
            fingerprint_labels: Vec::new(),
            ignore: Vec::new(),
            retention: Duration::from_mins(30),
        }
    }
}

/// What happened to an incoming alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DedupOutcome {
    /// First time this fingerprint is seen.
    New,
    /// Same content as the stored alert: counted, nothing else changes.
    Duplicate,
    /// Same fingerprint, changed content: the stored alert was replaced.
    Updated,
}

/// An alert as stored by the deduplicator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAlert {
    /// The latest content (shared with the groups and incidents holding the alert).
    #[serde(with = "crate::shared::alert")]
    pub alert: Arc<Alert>,
    /// Dedup key (equal to `alert.fingerprint` unless fingerprint labels are configured).
    pub key: Fingerprint,
    /// How many times it was received, this one included.
    pub received: u64,
    /// How many of those were duplicates.
    pub duplicates: u64,
    /// When it was first received (engine time).
    pub first_received: TimestampMs,
    /// When it was last received (engine time).
    pub last_received: TimestampMs,
    /// It came without `endsAt`, so `alert.ends_at` is the arrival time plus the resolve
    /// timeout (Alertmanager's `resolve_timeout`), pushed back by every repeat.
    #[serde(default)]
    pub timeout: bool,
}

/// The deduplicator and the store of current alerts (serde-snapshottable).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Deduplicator {
    params: DedupParams,
    alerts: BTreeMap<Fingerprint, StoredAlert>,
    duplicates: u64,
    /// Engine time of the last garbage collection.
    #[serde(default)]
    gc_at: Option<TimestampMs>,
}

impl DedupParams {
    /// Checks the parameters and builds an empty deduplicator.
    pub fn build(self) -> Result<Deduplicator> {
        if let Some(bad) = self
            .fingerprint_labels
            .iter()
            .find(|n| !aiops_core::labels::is_valid_label_name(n))
        {
            return Err(AlertError::InvalidParameter {
                name: "fingerprint_labels",
                reason: format!("{bad:?} is not a valid label name"),
            });
        }
        if self.retention.0 < 0 {
            return Err(AlertError::InvalidParameter {
                name: "dedup.retention",
                reason: "must not be negative".into(),
            });
        }
        let mut p = self;
        p.fingerprint_labels.sort();
        p.fingerprint_labels.dedup();
        Ok(Deduplicator {
            params: p,
            ..Default::default()
        })
    }
}

impl DedupParams {
    fn same_content(&self, a: &Alert, b: &Alert, ignore_end: bool) -> bool {
        let ign = |f| self.ignore.contains(&f);
        let labels_same = a.labels == b.labels
            || (ign(DedupField::ExtraLabels) && !self.fingerprint_labels.is_empty());
        labels_same
            && a.status == b.status
            && (ign(DedupField::Annotations) || a.annotations == b.annotations)
            && (ign(DedupField::StartsAt) || a.starts_at == b.starts_at)
            && (ignore_end || ign(DedupField::EndsAt) || a.ends_at == b.ends_at)
            && (ign(DedupField::GeneratorUrl) || a.generator_url == b.generator_url)
    }

    /// Whether `incoming` repeats the stored alert: the same content, where a made-up
    /// `endsAt` (resolve timeout) matches a missing one as long as it has not passed.
    fn is_repeat(
        &self,
        stored: &StoredAlert,
        incoming: &Alert,
        timeout: bool,
        now: TimestampMs,
    ) -> bool {
        match (stored.timeout, timeout) {
            (true, true) => {
                stored.alert.status_at(now) == aiops_core::AlertStatus::Firing
                    && self.same_content(&stored.alert, incoming, true)
            }
            (false, false) => self.same_content(&stored.alert, incoming, false),
            // A made-up end against a real one (or the reverse): changed content.
            _ => false,
        }
    }
}

impl Deduplicator {
    /// The dedup key of an alert.
    pub fn key(&self, alert: &Alert) -> Fingerprint {
        if self.params.fingerprint_labels.is_empty() {
            alert.labels.fingerprint()
        } else {
            let names: Vec<&str> = self
                .params
                .fingerprint_labels
                .iter()
                .map(String::as_str)
                .collect();
            alert.labels.fingerprint_of(&names)
        }
    }

    /// Records an incoming alert at engine time `now`.
    pub fn observe(&mut self, alert: Alert, now: TimestampMs) -> (DedupOutcome, Fingerprint) {
        let (outcome, stored) = self.observe_with_timeout(alert, now, None);
        (outcome, stored.key)
    }

    /// Records an incoming alert at engine time `now` and returns what is now stored for it;
    /// a firing alert without `endsAt` is stored with `endsAt = now + resolve_timeout` when a
    /// timeout is given, as Alertmanager does. A repeat of such an alert is still a duplicate
    /// (the made-up `endsAt` is not content) and pushes its `endsAt` back; after it passed, a
    /// repeat fires the alert again (an update).
    pub fn observe_with_timeout(
        &mut self,
        mut alert: Alert,
        now: TimestampMs,
        resolve_timeout: Option<i64>,
    ) -> (DedupOutcome, &StoredAlert) {
        let key = self.key(&alert);
        let timeout = match resolve_timeout {
            Some(t)
                if alert.status == aiops_core::AlertStatus::Firing && alert.ends_at.is_none() =>
            {
                Some(now.saturating_add(t))
            }
            _ => None,
        };
        match self.alerts.entry(key) {
            Entry::Vacant(v) => {
                alert.ends_at = alert.ends_at.or(timeout);
                let s = v.insert(StoredAlert {
                    alert: Arc::new(alert),
                    key,
                    received: 1,
                    duplicates: 0,
                    first_received: now,
                    last_received: now,
                    timeout: timeout.is_some(),
                });
                (DedupOutcome::New, s)
            }
            Entry::Occupied(o) => {
                let s = o.into_mut();
                s.received += 1;
                s.last_received = now;
                if self.params.is_repeat(s, &alert, timeout.is_some(), now) {
                    s.duplicates += 1;
                    if timeout.is_some() {
                        Arc::make_mut(&mut s.alert).ends_at = timeout;
                    }
                    self.duplicates += 1;
                    (DedupOutcome::Duplicate, s)
                } else {
                    alert.ends_at = alert.ends_at.or(timeout);
                    s.alert = Arc::new(alert);
                    s.timeout = timeout.is_some();
                    (DedupOutcome::Updated, s)
                }
            }
        }
    }

    /// The stored alert for a key.
    pub fn get(&self, key: Fingerprint) -> Option<&StoredAlert> {
        self.alerts.get(&key)
    }

    /// All stored alerts, by key.
    pub fn alerts(&self) -> impl Iterator<Item = &StoredAlert> + Clone {
        self.alerts.values()
    }

    /// Total duplicates seen.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Drops alerts resolved at or before `before` (garbage collection, as Alertmanager does
    /// after its resolve timeout); returns their keys.
    pub fn gc(&mut self, before: TimestampMs) -> Vec<Fingerprint> {
        let mut dropped = Vec::new();
        self.alerts.retain(|k, s| {
            // Resolved by `before`: its end (or, without one, its last arrival) is that old.
            let end = s.alert.ends_at.unwrap_or(s.last_received);
            let keep = s.alert.status_at(before) == aiops_core::AlertStatus::Firing || end > before;
            if !keep {
                dropped.push(*k);
            }
            keep
        });
        dropped
    }

    /// Runs [`Deduplicator::gc`] for the configured retention when a tenth of the retention
    /// (at least a minute) has passed since the last run, so that the cost stays bounded
    /// however often it is called; returns the dropped keys.
    pub fn collect_garbage(&mut self, now: TimestampMs) -> Vec<Fingerprint> {
        let every = (self.params.retention.0 / 10).max(60_000);
        match self.gc_at {
            Some(t) if now < t.saturating_add(every) => Vec::new(),
            _ => {
                self.gc_at = Some(now);
                self.gc(now.saturating_sub(self.params.retention.0))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::alert;
    use aiops_core::AlertStatus;

    #[test]
    fn full_dedup_counts_duplicates() {
        let mut d = DedupParams::default().build().unwrap();
        let a = alert(&[("alertname", "Down"), ("job", "api")], 0);
        assert_eq!(d.observe(a.clone(), 0).0, DedupOutcome::New);
        let (o, key) = d.observe(a.clone(), 10);
        assert_eq!(o, DedupOutcome::Duplicate);
        assert_eq!(key, a.labels.fingerprint());
        assert_eq!(d.duplicates(), 1);
        let s = d.get(key).unwrap();
        assert_eq!((s.received, s.first_received, s.last_received), (2, 0, 10));
        // Another label set is another alert.
        let b = alert(&[("alertname", "Down"), ("job", "db")], 0);
        assert_eq!(d.observe(b, 11).0, DedupOutcome::New);
        assert_eq!(d.alerts().count(), 2);
    }

    #[test]
    fn changed_content_updates() {
        let mut d = DedupParams::default().build().unwrap();
        let a = alert(&[("alertname", "Down")], 0);
        d.observe(a.clone(), 0);
        let mut r = a.clone();
        r.status = AlertStatus::Resolved;
        r.ends_at = Some(50);
        assert_eq!(d.observe(r.clone(), 50).0, DedupOutcome::Updated);
        assert_eq!(d.get(a.fingerprint).unwrap().alert, Arc::new(r));
        assert_eq!(d.duplicates(), 0);
    }

    #[test]
    fn partial_dedup_ignores_fields_and_uses_label_subset() {
        let mut d = DedupParams {
            fingerprint_labels: vec!["alertname".into(), "service".into()],
            ignore: vec![DedupField::Annotations, DedupField::ExtraLabels],
            ..Default::default()
        }
        .build()
        .unwrap();
        let a = alert(
            &[("alertname", "Slow"), ("service", "cart"), ("pod", "p1")],
            0,
        );
        let mut b = alert(
            &[("alertname", "Slow"), ("service", "cart"), ("pod", "p2")],
            0,
        );
        b.annotations.insert("value".into(), "1.3s".into());
        assert_eq!(d.observe(a, 0).0, DedupOutcome::New);
        assert_eq!(d.observe(b.clone(), 1).0, DedupOutcome::Duplicate);
        b.starts_at = 5;
        assert_eq!(d.observe(b, 2).0, DedupOutcome::Updated);
        assert!(
            DedupParams {
                fingerprint_labels: vec!["bad-name".into()],
                ..Default::default()
            }
            .build()
            .is_err()
        );
    }

    #[test]
    fn resolved_alerts_are_collected_after_the_retention() {
        let mut d = DedupParams::default().build().unwrap();
        let m = 60_000;
        let a = alert(&[("alertname", "A")], 0);
        let b = alert(&[("alertname", "B")], 0);
        d.observe(a.clone(), 0);
        d.observe(b.clone(), 0);
        let mut r = a.clone();
        r.status = AlertStatus::Resolved;
        r.ends_at = Some(10 * m);
        d.observe(r.clone(), 10 * m);
        // Within the retention the re-sent resolution is still a duplicate.
        assert!(d.collect_garbage(20 * m).is_empty());
        assert_eq!(d.observe(r.clone(), 25 * m).0, DedupOutcome::Duplicate);
        assert!(d.collect_garbage(39 * m).is_empty());
        // Runs at most every 3 minutes (a tenth of 30m): not yet at 41m...
        assert!(d.collect_garbage(41 * m).is_empty());
        // ...at 42m, more than 30 minutes after the resolution, the resolved alert goes.
        assert_eq!(d.collect_garbage(42 * m), [a.fingerprint]);
        assert_eq!(d.alerts().count(), 1);
        assert!(d.get(b.fingerprint).is_some());
        assert!(
            DedupParams {
                retention: Duration(-1),
                ..Default::default()
            }
            .build()
            .is_err()
        );
    }

    #[test]
    fn resolve_timeout_for_alerts_without_an_end() {
        let mut d = DedupParams::default().build().unwrap();
        let m = 60_000;
        let t = Some(5 * m);
        let a = alert(&[("alertname", "A")], 0);
        assert_eq!(d.observe_with_timeout(a.clone(), 0, t).0, DedupOutcome::New);
        let s = d.get(a.fingerprint).unwrap();
        assert!(s.timeout);
        assert_eq!(s.alert.ends_at, Some(5 * m));
        // A repeat is a duplicate and pushes the end back.
        assert_eq!(
            d.observe_with_timeout(a.clone(), 3 * m, t).0,
            DedupOutcome::Duplicate
        );
        assert_eq!(d.get(a.fingerprint).unwrap().alert.ends_at, Some(8 * m));
        // Once the made-up end passed, a repeat fires it again: an update.
        assert_eq!(
            d.observe_with_timeout(a.clone(), 9 * m, t).0,
            DedupOutcome::Updated
        );
        assert_eq!(d.get(a.fingerprint).unwrap().alert.ends_at, Some(14 * m));
        // An explicit end replaces the made-up one (changed content), and is kept as sent.
        let mut r = a.clone();
        r.status = AlertStatus::Resolved;
        r.ends_at = Some(10 * m);
        assert_eq!(
            d.observe_with_timeout(r.clone(), 10 * m, t).0,
            DedupOutcome::Updated
        );
        let s = d.get(a.fingerprint).unwrap();
        assert!(!s.timeout);
        assert_eq!(*s.alert, r);
        // Without a timeout, a missing end stays missing.
        let b = alert(&[("alertname", "B")], 0);
        d.observe(b.clone(), 0);
        assert_eq!(d.get(b.fingerprint).unwrap().alert.ends_at, None);
    }

    #[test]
    fn snapshot_restores_everything() {
        let mut d = DedupParams::default().build().unwrap();
        d.observe(alert(&[("a", "1")], 0), 0);
        d.observe(alert(&[("a", "1")], 0), 1);
        let text = serde_json::to_string(&d).unwrap();
        let back: Deduplicator = serde_json::from_str(&text).unwrap();
        assert_eq!(back, d);
    }
}
