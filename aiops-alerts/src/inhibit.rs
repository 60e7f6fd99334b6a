//! Inhibition rules, with Alertmanager's semantics: a firing alert matching the source
//! matchers mutes alerts matching the target matchers when the `equal` labels have the same
//! value in both (a label missing from both counts as equal). An alert that matches both
//! sides of a rule cannot be inhibited by alerts for which the same is true, itself included.

use std::collections::{BTreeMap, BTreeSet};

use aiops_core::{Alert, AlertStatus, Fingerprint, Labels, TimestampMs};
use serde::{Deserialize, Serialize};

use crate::error::{AlertError, Result};
use crate::matchers::{MatchOp, Matcher, Matchers};

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
    /// Deprecated equality source matchers (`source_match:`), merged into `source_matchers`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub source_match: BTreeMap<String, String>,
    /// Deprecated regex source matchers (`source_match_re:`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub source_match_re: BTreeMap<String, String>,
    /// Deprecated equality target matchers (`target_match:`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub target_match: BTreeMap<String, String>,
    /// Deprecated regex target matchers (`target_match_re:`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub target_match_re: BTreeMap<String, String>,
}

fn merge(
    into: &mut Matchers,
    eq: &mut BTreeMap<String, String>,
    re: &mut BTreeMap<String, String>,
) -> Result<()> {
    for (k, v) in std::mem::take(eq) {
        into.0.push(Matcher::new(k, MatchOp::Equal, v)?);
    }
    for (k, v) in std::mem::take(re) {
        into.0.push(Matcher::new(k, MatchOp::Regex, v)?);
    }
    Ok(())
}

impl InhibitRule {
    /// Hash of the `equal` labels' values (a missing label hashes as `""`).
    fn equal_key(&self, labels: &Labels) -> Fingerprint {
        Fingerprint::of_sorted(
            self.equal
                .iter()
                .map(|n| (n.as_str(), labels.get(n).unwrap_or(""))),
        )
    }

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

/// Source alerts by rule and by value of the rule's `equal` labels (serde-snapshottable).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceIndex {
    per_rule: Vec<BTreeMap<Fingerprint, BTreeSet<Fingerprint>>>,
    of: BTreeMap<Fingerprint, Vec<(usize, Fingerprint)>>,
}

/// A checked list of inhibition rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inhibitor {
    rules: Vec<InhibitRule>,
}

impl Inhibitor {
    /// Checks the rules (label names in `equal` must be valid).
    pub fn new(mut rules: Vec<InhibitRule>) -> Result<Self> {
        for r in &mut rules {
            merge(
                &mut r.source_matchers,
                &mut r.source_match,
                &mut r.source_match_re,
            )?;
            merge(
                &mut r.target_matchers,
                &mut r.target_match,
                &mut r.target_match_re,
            )?;
            if let Some(bad) = r
                .equal
                .iter()
                .find(|n| !aiops_core::labels::is_valid_label_name(n))
            {
                return Err(AlertError::InvalidParameter {
                    name: "inhibit_rules.equal",
                    reason: format!("{bad:?} is not a valid label name"),
                });
            }
        }
        Ok(Self { rules })
    }

    /// Records the current content of a stored alert in the source index (call on every
    /// new or updated alert, so that lookups need not scan all alerts).
    pub fn index(&self, idx: &mut SourceIndex, alert: &Alert) {
        if idx.per_rule.len() != self.rules.len() {
            idx.per_rule.resize_with(self.rules.len(), BTreeMap::new);
        }
        let fp = alert.fingerprint;
        self.forget(idx, fp);
        let mut entries = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            if r.source_matchers.matches(&alert.labels) {
                let key = r.equal_key(&alert.labels);
                idx.per_rule[i].entry(key).or_default().insert(fp);
                entries.push((i, key));
            }
        }
        if !entries.is_empty() {
            idx.of.insert(fp, entries);
        }
    }

    /// Removes an alert that left the store from the source index.
    pub fn forget(&self, idx: &mut SourceIndex, fp: Fingerprint) {
        for (i, key) in idx.of.remove(&fp).unwrap_or_default() {
            if let Some(set) = idx.per_rule.get_mut(i).and_then(|m| m.get_mut(&key)) {
                set.remove(&fp);
                if set.is_empty() {
                    idx.per_rule[i].remove(&key);
                }
            }
        }
    }

    /// Same as [`Inhibitor::inhibited_by`], looking sources up in the index; `get` returns
    /// the stored alert of a fingerprint.
    pub fn inhibited_by_indexed<'a>(
        &self,
        idx: &SourceIndex,
        target: &Alert,
        get: impl Fn(Fingerprint) -> Option<&'a Alert>,
        now: TimestampMs,
    ) -> Option<Fingerprint> {
        self.rules.iter().enumerate().find_map(|(i, r)| {
            let set = idx.per_rule.get(i)?.get(&r.equal_key(&target.labels))?;
            r.inhibited_by(target, set.iter().filter_map(|fp| get(*fp)), now)
        })
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
            ..Default::default()
        }
    }

    #[test]
    fn legacy_match_fields_are_merged() {
        let r: InhibitRule = serde_json::from_str(
            r#"{"source_match": {"severity": "critical"}, "target_match_re": {"severity": "warn.*"},
                "equal": ["cluster"]}"#,
        )
        .unwrap();
        let inh = Inhibitor::new(vec![r]).unwrap();
        let crit = alert(&[("severity", "critical"), ("cluster", "a")]);
        let warn = alert(&[("severity", "warning"), ("cluster", "a")]);
        assert_eq!(inh.inhibited_by(&warn, [&crit], 0), Some(crit.fingerprint));
        assert_eq!(inh.rules()[0].source_matchers.len(), 1);
        let bad: InhibitRule = serde_json::from_str(r#"{"target_match_re": {"a": "("}}"#).unwrap();
        assert!(Inhibitor::new(vec![bad]).is_err());
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
    fn index_agrees_with_scan() {
        let inh = Inhibitor::new(vec![
            rule("severity=critical", "severity=warning", &["cluster"]),
            rule("kind=~src|both", "kind=~tgt|both", &[]),
        ])
        .unwrap();
        let all = [
            alert(&[("severity", "critical"), ("cluster", "eu")]),
            alert(&[("severity", "critical")]),
            alert(&[("severity", "warning"), ("cluster", "eu")]),
            alert(&[("severity", "warning"), ("cluster", "us")]),
            alert(&[("severity", "warning")]),
            alert(&[("kind", "both")]),
            alert(&[("kind", "both"), ("n", "2")]),
            alert(&[("kind", "src")]),
            alert(&[("kind", "tgt")]),
        ];
        let mut idx = SourceIndex::default();
        for a in &all {
            inh.index(&mut idx, a);
        }
        let get = |fp: Fingerprint| all.iter().find(|a| a.fingerprint == fp);
        for a in &all {
            let scan = inh.inhibited_by(a, &all, 0);
            assert_eq!(
                scan.is_some(),
                inh.inhibited_by_indexed(&idx, a, get, 0).is_some(),
                "{}",
                a.labels
            );
        }
        assert_eq!(
            all.iter()
                .filter(|a| inh.inhibited_by(a, &all, 0).is_some())
                .count(),
            5
        );
        let json = serde_json::to_string(&idx).unwrap();
        assert_eq!(serde_json::from_str::<SourceIndex>(&json).unwrap(), idx);
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
