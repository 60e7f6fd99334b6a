//! Silences and maintenance windows: alerts matching them are muted while they are active.
//!
//! As in Alertmanager, a silence is active from `startsAt` (inclusive) to `endsAt`
//! (exclusive), needs at least one matcher, and at least one of its matchers must not match
//! the empty string (a silence that would match every alert is refused).

use std::collections::BTreeMap;

use aiops_core::time::serde_rfc3339;
use aiops_core::{Labels, TimestampMs};
use serde::{Deserialize, Serialize};

use crate::error::{AlertError, Result};
use crate::matchers::Matchers;
use aiops_core::time::Duration;

/// A silence, shaped like Alertmanager's API object. Unknown keys are refused, so that a
/// misspelt `startsAt` or `comment` is not lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Silence {
    /// Identifier.
    pub id: String,
    /// All must match for the silence to apply.
    pub matchers: Matchers,
    /// Start (inclusive).
    #[serde(with = "serde_rfc3339")]
    pub starts_at: TimestampMs,
    /// End (exclusive).
    #[serde(with = "serde_rfc3339")]
    pub ends_at: TimestampMs,
    /// Who created it.
    #[serde(default)]
    pub created_by: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
}

impl Silence {
    /// Checks the silence as Alertmanager validates it on creation.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: &str| {
            Err(AlertError::InvalidParameter {
                name: "silence",
                reason: format!("{}: {reason}", self.id),
            })
        };
        if self.id.is_empty() {
            return bad("empty id");
        }
        if self.matchers.is_empty() {
            return bad("at least one matcher required");
        }
        if self.matchers.0.iter().all(|m| m.matches_value("")) {
            return bad("at least one matcher must not match the empty string");
        }
        if self.ends_at <= self.starts_at {
            return bad("endsAt must be after startsAt");
        }
        Ok(())
    }

    /// Whether the silence is active at `now`.
    pub fn is_active(&self, now: TimestampMs) -> bool {
        self.starts_at <= now && now < self.ends_at
    }

    /// Whether it mutes an alert with these labels at `now`.
    pub fn mutes(&self, labels: &Labels, now: TimestampMs) -> bool {
        self.is_active(now) && self.matchers.matches(labels)
    }
}

/// A maintenance window: matching alerts are muted during `[start, end)`, and again every
/// `every` after that when it repeats (e.g. a weekly window).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// Name.
    pub name: String,
    /// Which alerts it covers; empty covers all.
    #[serde(default)]
    pub matchers: Matchers,
    /// First start (inclusive).
    #[serde(with = "serde_rfc3339")]
    pub start: TimestampMs,
    /// First end (exclusive).
    #[serde(with = "serde_rfc3339")]
    pub end: TimestampMs,
    /// Repeat period, if the window recurs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Duration>,
}

impl MaintenanceWindow {
    /// Checks the window.
    pub fn validate(&self) -> Result<()> {
        let len = self.end - self.start;
        let bad = |reason: String| {
            Err(AlertError::InvalidParameter {
                name: "maintenance window",
                reason: format!("{}: {reason}", self.name),
            })
        };
        if len <= 0 {
            return bad("end must be after start".into());
        }
        if let Some(p) = self.every
            && p.0 < len
        {
            return bad(format!("period {p} is shorter than the window"));
        }
        Ok(())
    }

    /// Whether the window is open at `now`.
    pub fn is_active(&self, now: TimestampMs) -> bool {
        if now < self.start {
            return false;
        }
        let offset = match self.every {
            Some(p) if p.0 > 0 => (now - self.start).rem_euclid(p.0),
            _ => now - self.start,
        };
        offset < self.end - self.start
    }

    /// Whether it mutes an alert with these labels at `now`.
    pub fn mutes(&self, labels: &Labels, now: TimestampMs) -> bool {
        self.is_active(now) && self.matchers.matches(labels)
    }
}

/// The set of silences and maintenance windows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Silences {
    silences: BTreeMap<String, Silence>,
    windows: Vec<MaintenanceWindow>,
}

impl Silences {
    /// Empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces (by id) a silence after validating it.
    pub fn upsert(&mut self, s: Silence) -> Result<()> {
        s.validate()?;
        self.silences.insert(s.id.clone(), s);
        Ok(())
    }

    /// Expires a silence at `now` (it stays stored, inactive from now on).
    pub fn expire(&mut self, id: &str, now: TimestampMs) -> Result<()> {
        let s = self
            .silences
            .get_mut(id)
            .ok_or_else(|| AlertError::InvalidParameter {
                name: "silence",
                reason: format!("no silence with id {id:?}"),
            })?;
        s.ends_at = s.ends_at.min(now).max(s.starts_at);
        Ok(())
    }

    /// Adds a maintenance window after validating it.
    pub fn add_window(&mut self, w: MaintenanceWindow) -> Result<()> {
        w.validate()?;
        self.windows.push(w);
        Ok(())
    }

    /// Ids of the active silences muting these labels at `now` (sorted), and names of the
    /// open maintenance windows covering them.
    pub fn muted_by(&self, labels: &Labels, now: TimestampMs) -> Vec<String> {
        let mut out: Vec<String> = self
            .silences
            .values()
            .filter(|s| s.mutes(labels, now))
            .map(|s| s.id.clone())
            .collect();
        out.extend(
            self.windows
                .iter()
                .filter(|w| w.mutes(labels, now))
                .map(|w| format!("maintenance:{}", w.name)),
        );
        out
    }

    /// Whether anything mutes these labels at `now`.
    pub fn is_muted(&self, labels: &Labels, now: TimestampMs) -> bool {
        self.silences.values().any(|s| s.mutes(labels, now))
            || self.windows.iter().any(|w| w.mutes(labels, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::try_from_pairs(pairs.iter().copied()).unwrap()
    }

    fn silence(id: &str, m: &str, start: i64, end: i64) -> Silence {
        Silence {
            id: id.into(),
            matchers: m.parse().unwrap(),
            starts_at: start,
            ends_at: end,
            created_by: "me".into(),
            comment: String::new(),
        }
    }

    #[test]
    fn active_between_start_inclusive_and_end_exclusive() {
        let mut s = Silences::new();
        s.upsert(silence(
            "s1",
            r#"{service="cart", severity=~"warn.*"}"#,
            100,
            200,
        ))
        .unwrap();
        let l = labels(&[("service", "cart"), ("severity", "warning")]);
        assert!(!s.is_muted(&l, 99));
        assert!(s.is_muted(&l, 100));
        assert_eq!(s.muted_by(&l, 199), ["s1"]);
        assert!(!s.is_muted(&l, 200));
        assert!(!s.is_muted(
            &labels(&[("service", "cart"), ("severity", "critical")]),
            150
        ));
        s.expire("s1", 150).unwrap();
        assert!(!s.is_muted(&l, 160));
        assert!(s.expire("nope", 0).is_err());
    }

    #[test]
    fn validation_as_alertmanager() {
        let mut s = Silences::new();
        assert!(s.upsert(silence("a", "{}", 0, 10)).is_err());
        // Every matcher matches the empty string: would silence everything.
        assert!(s.upsert(silence("b", "team=~.*", 0, 10)).is_err());
        assert!(s.upsert(silence("c", r#"team="""#, 0, 10)).is_err());
        assert!(s.upsert(silence("d", "team=ops", 10, 10)).is_err());
        assert!(s.upsert(silence("e", "team=ops, x=~.*", 0, 10)).is_ok());
    }

    #[test]
    fn maintenance_windows_recur() {
        let mut s = Silences::new();
        let w = MaintenanceWindow {
            name: "nightly".into(),
            matchers: "env=prod".parse().unwrap(),
            start: 1_000,
            end: 2_000,
            every: Some(Duration(10_000)),
        };
        s.add_window(w.clone()).unwrap();
        let l = labels(&[("env", "prod")]);
        assert!(!s.is_muted(&l, 999));
        assert!(s.is_muted(&l, 1_500));
        assert!(!s.is_muted(&l, 2_000));
        assert!(s.is_muted(&l, 11_000));
        assert_eq!(s.muted_by(&l, 21_999), ["maintenance:nightly"]);
        assert!(!s.is_muted(&labels(&[("env", "dev")]), 1_500));
        let bad = MaintenanceWindow {
            every: Some(Duration(500)),
            ..w
        };
        assert!(s.add_window(bad).is_err());
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Silences>(&text).unwrap(), s);
    }
}
