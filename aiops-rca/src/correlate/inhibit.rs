//! Inhibition rules, with Alertmanager's semantics: a firing alert matching the source
//! matchers mutes alerts matching the target matchers when the `equal` labels have the same
//! value in both (a label missing from both counts as equal). An alert that matches both
//! sides of a rule cannot be inhibited by alerts for which the same is true, itself included.

use aiops_core::{Alert, AlertStatus, Fingerprint, Labels, TimestampMs};
use serde::{Deserialize, Serialize};

use crate::correlate::matchers::Matchers;
use crate::error::{RcaError, Result};

/// One inhibition rule, as in Alertmanager's `inhibit_rules`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRule {
    /// Which alerts inhibit.
    #[serde(default)]
    pub source_matchers: Matchers,
    /// Which alerts can be inhibited.
    #[serde(default)]
    pub target_matchers: Matchers,
    /// Labels that must be equal in source and target.
    #[serde(default)]
    pub equal: Vec<String>,
}

impl InhibitRule {
    fn equal_labels(&self, a: &Labels, b: &Labels) -> bool {
        self.equal
            .iter()
            .all(|n| a.get(n).unwrap_or("") == b.get(n).unwrap_or(""))
    }

    /// The first source in `alerts` that inhibits `target` at `now` under this rule.
    pub fn inhibited_by<'a>(
        &self,
        target: &Alert,
        alerts: impl IntoIterator<Item = &'a Alert>,
        now: TimestampMs,
    ) -> Option<Fingerprint> {
        if !self.target_matchers.matches(&target.labels) {
            return None;
        }
        let two_sided = self.source_matchers.matches(&target.labels);
        alerts
            .into_iter()
            .find(|s| {
                s.fingerprint != target.fingerprint
                    && s.status_at(now) == AlertStatus::Firing
                    && self.source_matchers.matches(&s.labels)
                    && !(two_sided && self.target_matchers.matches(&s.labels))
                    && self.equal_labels(&s.labels, &target.labels)
            })
            .map(|s| s.fingerprint)
    }
}

/// A checked list of inhibition rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inhibitor {
    rules: Vec<InhibitRule>,
}

impl Inhibitor {
    /// Checks the rules (label names in `equal` must be valid).
    pub fn new(rules: Vec<InhibitRule>) -> Result<Self> {
        for r in &rules {
            if let Some(bad) = r
                .equal
                .iter()
                .find(|n| !aiops_core::labels::is_valid_label_name(n))
            {
                return Err(RcaError::InvalidParameter {
                    name: "inhibit_rules.equal",
                    reason: format!("{bad:?} is not a valid label name"),
                });
            }
        }
        Ok(Self { rules })
    }

    /// The rules.
    pub fn rules(&self) -> &[InhibitRule] {
        &self.rules
    }

    /// The fingerprint of an alert that inhibits `target` at `now`, if any, among `alerts`.
    pub fn inhibited_by<'a, I>(
        &self,
        target: &Alert,
        alerts: I,
        now: TimestampMs,
    ) -> Option<Fingerprint>
    where
        I: IntoIterator<Item = &'a Alert> + Clone,
    {
        self.rules
            .iter()
            .find_map(|r| r.inhibited_by(target, alerts.clone(), now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(pairs: &[(&str, &str)]) -> Alert {
        Alert::firing(Labels::try_from_pairs(pairs.iter().copied()).unwrap(), 0).unwrap()
    }

    fn rule(src: &str, tgt: &str, equal: &[&str]) -> InhibitRule {
        InhibitRule {
            source_matchers: src.parse().unwrap(),
            target_matchers: tgt.parse().unwrap(),
            equal: equal.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn critical_inhibits_warning_of_same_cluster() {
        // The example from Alertmanager's documentation.
        let inh = Inhibitor::new(vec![rule(
            "severity=critical",
            "severity=warning",
            &["alertname", "cluster"],
        )])
        .unwrap();
        let crit = alert(&[
            ("alertname", "Down"),
            ("cluster", "eu"),
            ("severity", "critical"),
        ]);
        let warn = alert(&[
            ("alertname", "Down"),
            ("cluster", "eu"),
            ("severity", "warning"),
        ]);
        let other = alert(&[
            ("alertname", "Down"),
            ("cluster", "us"),
            ("severity", "warning"),
        ]);
        let all = [crit.clone(), warn.clone(), other.clone()];
        assert_eq!(inh.inhibited_by(&warn, &all, 1), Some(crit.fingerprint));
        assert_eq!(inh.inhibited_by(&other, &all, 1), None);
        assert_eq!(inh.inhibited_by(&crit, &all, 1), None);
        // A resolved source no longer inhibits.
        let mut resolved = crit.clone();
        resolved.status = AlertStatus::Resolved;
        assert_eq!(inh.inhibited_by(&warn, &[resolved, warn.clone()], 1), None);
        let mut ending = crit;
        ending.ends_at = Some(5);
        assert!(inh.inhibited_by(&warn, [&ending], 4).is_some());
        assert!(inh.inhibited_by(&warn, [&ending], 5).is_none());
    }

    #[test]
    fn missing_equal_labels_count_as_equal() {
        let inh = Inhibitor::new(vec![rule(
            "severity=critical",
            "severity=warning",
            &["zone"],
        )])
        .unwrap();
        let crit = alert(&[("severity", "critical")]);
        let warn = alert(&[("severity", "warning")]);
        let zoned = alert(&[("severity", "warning"), ("zone", "a")]);
        assert!(inh.inhibited_by(&warn, [&crit], 0).is_some());
        assert!(inh.inhibited_by(&zoned, [&crit], 0).is_none());
    }

    #[test]
    fn no_self_inhibition_for_two_sided_matches() {
        // Both alerts match source and target: neither inhibits the other, nor itself.
        let inh =
            Inhibitor::new(vec![rule("alertname=~.+", "alertname=~.+", &["cluster"])]).unwrap();
        let a = alert(&[("alertname", "A"), ("cluster", "x")]);
        let b = alert(&[("alertname", "B"), ("cluster", "x")]);
        assert_eq!(inh.inhibited_by(&a, [&a, &b], 0), None);
        assert_eq!(inh.inhibited_by(&b, [&a, &b], 0), None);
        // A one-sided source still inhibits a two-sided target.
        let inh = Inhibitor::new(vec![rule("kind=~src|both", "kind=~tgt|both", &[])]).unwrap();
        let both = alert(&[("kind", "both")]);
        let src = alert(&[("kind", "src")]);
        let both2 = alert(&[("kind", "both"), ("n", "2")]);
        assert!(inh.inhibited_by(&both, [&both2], 0).is_none());
        assert_eq!(
            inh.inhibited_by(&both, [&both2, &src], 0),
            Some(src.fingerprint)
        );
        assert!(Inhibitor::new(vec![rule("a=b", "c=d", &["bad-name"])]).is_err());
    }
}
