//! The routing tree, as Alertmanager's `route:` block: matchers, `continue`, child routes
//! inheriting their parent's receiver, `group_by` and timers.

use std::collections::BTreeMap;

use aiops_core::Labels;
use serde::{Deserialize, Serialize};

use crate::error::{AlertError, Result};
use crate::matchers::{MatchOp, Matcher, Matchers};
use aiops_core::time::Duration;

/// How alerts of a route are grouped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub enum GroupBy {
    /// By these label names (an empty list puts all alerts of the route in one group).
    Labels(Vec<String>),
    /// By all labels (`group_by: ['...']`): every distinct alert is its own group.
    All,
}

impl TryFrom<Vec<String>> for GroupBy {
    type Error = AlertError;
    fn try_from(v: Vec<String>) -> Result<Self> {
        if v.iter().any(|s| s == "...") {
            if v.len() > 1 {
                return Err(AlertError::InvalidParameter {
                    name: "group_by",
                    reason:
                        "cannot have wildcard group_by (`...`) and other labels at the same time"
                            .into(),
                });
            }
            return Ok(GroupBy::All);
        }
        let mut v = v;
        if let Some(bad) = v
            .iter()
            .find(|n| !aiops_core::labels::is_valid_label_name(n))
        {
            return Err(AlertError::InvalidParameter {
                name: "group_by",
                reason: format!("{bad:?} is not a valid label name"),
            });
        }
        v.sort();
        v.dedup();
        Ok(GroupBy::Labels(v))
    }
}

impl From<GroupBy> for Vec<String> {
    fn from(g: GroupBy) -> Self {
        match g {
            GroupBy::All => vec!["...".into()],
            GroupBy::Labels(v) => v,
        }
    }
}

impl GroupBy {
    /// The labels that identify an alert's group.
    pub fn group_labels(&self, labels: &Labels) -> Labels {
        match self {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                Labels::try_from_pairs(labels.iter().filter(|(k, _)| names.contains(k)))
                    .unwrap_or_default()
            }
        }
    }
}

/// A route as written in Alertmanager's YAML (everything optional, inherited when unset).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Receiver name.
    pub receiver: Option<String>,
    /// Grouping labels, or `['...']`.
    pub group_by: Option<GroupBy>,
    /// Wait before the first notification of a new group.
    pub group_wait: Option<Duration>,
    /// Wait between notifications about changes of a group.
    pub group_interval: Option<Duration>,
    /// Wait before re-sending an unchanged notification.
    pub repeat_interval: Option<Duration>,
    /// Matchers (`matchers: ['a="b"']`).
    #[serde(default)]
    pub matchers: Matchers,
    /// Deprecated equality matchers (`match:`).
    #[serde(default, rename = "match")]
    pub match_eq: BTreeMap<String, String>,
    /// Deprecated regex matchers (`match_re:`).
    #[serde(default)]
    pub match_re: BTreeMap<String, String>,
    /// Keep looking at sibling routes after this one matched.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
    /// Child routes.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Named time intervals during which this route sends no notification (not inherited
    /// by child routes, as in Alertmanager).
    #[serde(default)]
    pub mute_time_intervals: Vec<String>,
    /// Named time intervals outside which this route sends no notification (not inherited).
    #[serde(default)]
    pub active_time_intervals: Vec<String>,
}

/// A resolved route node: every option set, inherited from the parent when not written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// Position in the tree (`0`, `0.1`, `0.1.0`): part of group keys.
    pub path: String,
    /// Receiver name.
    pub receiver: String,
    /// Grouping.
    pub group_by: GroupBy,
    /// Wait before the first notification of a new group (default 30s).
    pub group_wait: Duration,
    /// Wait between notifications of a group (default 5m).
    pub group_interval: Duration,
    /// Wait before repeating an unchanged notification (default 4h).
    pub repeat_interval: Duration,
    /// All must match for the route to apply.
    pub matchers: Matchers,
    /// Whether sibling routes are still tried after this one matched.
    pub continue_matching: bool,
    /// Children, tried in order.
    pub routes: Vec<Route>,
    /// Time intervals muting this route's notifications.
    #[serde(default)]
    pub mute_time_intervals: Vec<String>,
    /// Time intervals outside which this route's notifications are held back.
    #[serde(default)]
    pub active_time_intervals: Vec<String>,
}

impl Default for Route {
    fn default() -> Self {
        Self {
            path: "0".into(),
            receiver: "default".into(),
            group_by: GroupBy::Labels(Vec::new()),
            group_wait: Duration::from_secs(30),
            group_interval: Duration::from_mins(5),
            repeat_interval: Duration::from_hours(4),
            matchers: Matchers::default(),
            continue_matching: false,
            routes: Vec::new(),
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
        }
    }
}

impl RouteConfig {
    /// Resolves the tree, checking it as Alertmanager does for the root route.
    pub fn build(&self) -> Result<Route> {
        let bad = |reason: &str| AlertError::InvalidParameter {
            name: "route",
            reason: reason.into(),
        };
        if self.receiver.as_deref().unwrap_or("").is_empty() {
            return Err(bad("root route must specify a default receiver"));
        }
        if !self.matchers.is_empty() || !self.match_eq.is_empty() || !self.match_re.is_empty() {
            return Err(bad("root route must not have any matchers"));
        }
        if self.continue_matching {
            return Err(bad("cannot have continue in root route"));
        }
        if !self.mute_time_intervals.is_empty() {
            return Err(bad("root route must not have any mute time intervals"));
        }
        if !self.active_time_intervals.is_empty() {
            return Err(bad("root route must not have any active time intervals"));
        }
        self.resolve(&Route::default(), "0".into())
    }

    fn resolve(&self, parent: &Route, path: String) -> Result<Route> {
        let mut matchers = self.matchers.clone();
        for (k, v) in &self.match_eq {
            matchers.0.push(Matcher::new(k, MatchOp::Equal, v)?);
        }
        for (k, v) in &self.match_re {
            matchers.0.push(Matcher::new(k, MatchOp::Regex, v)?);
        }
        let group_interval = self.group_interval.unwrap_or(parent.group_interval);
        let repeat_interval = self.repeat_interval.unwrap_or(parent.repeat_interval);
        for (name, d) in [
            ("group_interval", group_interval),
            ("repeat_interval", repeat_interval),
        ] {
            if d.0 <= 0 {
                return Err(AlertError::InvalidParameter {
                    name: "route",
                    reason: format!("{name} cannot be zero ({})", describe_path(&path)),
                });
            }
        }
        let mut route = Route {
            path: path.clone(),
            receiver: self
                .receiver
                .clone()
                .unwrap_or_else(|| parent.receiver.clone()),
            group_by: self
                .group_by
                .clone()
                .unwrap_or_else(|| parent.group_by.clone()),
            group_wait: self.group_wait.unwrap_or(parent.group_wait),
            group_interval,
            repeat_interval,
            matchers,
            continue_matching: self.continue_matching,
            routes: Vec::new(),
            mute_time_intervals: self.mute_time_intervals.clone(),
            active_time_intervals: self.active_time_intervals.clone(),
        };
        let children = self
            .routes
            .iter()
            .enumerate()
            .map(|(i, c)| c.resolve(&route, format!("{path}.{i}")))
            .collect::<Result<Vec<_>>>()?;
        route.routes = children;
        Ok(route)
    }
}

impl Route {
    /// The routes an alert with these labels goes to, as Alertmanager walks the tree:
    /// depth first, children in order, stopping at the first matching child unless it has
    /// `continue: true`; a matching node whose children all fail takes the alert itself.
    pub fn match_routes(&self, labels: &Labels) -> Vec<&Route> {
        let mut out = Vec::new();
        self.collect(labels, &mut out);
        out
    }

    fn collect<'a>(&'a self, labels: &Labels, out: &mut Vec<&'a Route>) -> bool {
        if !self.matchers.matches(labels) {
            return false;
        }
        let before = out.len();
        for child in &self.routes {
            if child.collect(labels, out) && !child.continue_matching {
                break;
            }
        }
        if out.len() == before {
            out.push(self);
        }
        true
    }
}

/// A route's path (`0.1.0`: the root's second child's first child) in the configuration's
/// terms: `route.routes[1].routes[0]`.
pub(crate) fn describe_path(path: &str) -> String {
    let mut out = String::from("route");
    for i in path.split('.').skip(1) {
        out.push_str(&format!(".routes[{i}]"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::try_from_pairs(pairs.iter().copied()).unwrap()
    }

    const YAML: &str = r#"
receiver: default
group_by: [alertname]
group_wait: 10s
routes:
  - matchers: ['team="db"']
    receiver: db
    group_by: ['...']
    continue: true
    routes:
      - match_re: {severity: critical|high}
        receiver: db-pager
        repeat_interval: 1h
  - match: {team: db}
    receiver: db-archive
  - matchers: ['team=~"web|api"']
    receiver: web
"#;

    #[test]
    fn routing_follows_alertmanager_tree_walk() {
        let cfg: RouteConfig = serde_saphyr::from_str(YAML).unwrap();
        let root = cfg.build().unwrap();
        let paths = |l: &Labels| -> Vec<(String, String)> {
            root.match_routes(l)
                .into_iter()
                .map(|r| (r.path.clone(), r.receiver.clone()))
                .collect()
        };
        // continue: true on the first db route lets the second one match too.
        assert_eq!(
            paths(&labels(&[("team", "db"), ("severity", "critical")])),
            [
                ("0.0.0".to_string(), "db-pager".to_string()),
                ("0.1".into(), "db-archive".into())
            ]
        );
        // The parent takes the alert when no child matches.
        assert_eq!(
            paths(&labels(&[("team", "db"), ("severity", "info")]))[0],
            ("0.0".to_string(), "db".to_string())
        );
        assert_eq!(
            paths(&labels(&[("team", "api")])),
            [("0.2".to_string(), "web".to_string())]
        );
        assert_eq!(
            paths(&labels(&[("team", "x")])),
            [("0".to_string(), "default".to_string())]
        );
        // Inheritance: timers and group_by come from the parent unless set.
        let pager = &root.routes[0].routes[0];
        assert_eq!(pager.group_by, GroupBy::All);
        assert_eq!(pager.group_wait, Duration::from_secs(10));
        assert_eq!(pager.group_interval, Duration::from_mins(5));
        assert_eq!(pager.repeat_interval, Duration::from_hours(1));
        assert_eq!(
            root.routes[2].group_by,
            GroupBy::Labels(vec!["alertname".into()])
        );
    }

    #[test]
    fn invalid_trees_are_refused() {
        for bad in [
            "group_by: [a]",
            "receiver: r\nmatchers: ['a=b']",
            "receiver: r\ngroup_interval: 0s",
            "receiver: r\ncontinue: true",
            "receiver: r\nroutes: [{matchers: ['a=~\"(\"']}]",
        ] {
            let cfg: std::result::Result<RouteConfig, _> = serde_saphyr::from_str(bad);
            assert!(cfg.map(|c| c.build().is_err()).unwrap_or(true), "{bad}");
        }
        assert!(
            serde_saphyr::from_str::<RouteConfig>("receiver: r\ngroup_by: ['...', a]").is_err()
        );
        assert!(
            serde_saphyr::from_str::<RouteConfig>("receiver: r\ngroup_wait: 5 minutes").is_err()
        );
        assert!(serde_saphyr::from_str::<RouteConfig>("receiver: r\nbogus: 1").is_err());
    }

    #[test]
    fn group_labels() {
        let l = labels(&[("alertname", "A"), ("job", "j"), ("x", "1")]);
        let g = GroupBy::try_from(vec![
            "job".to_string(),
            "alertname".into(),
            "missing".into(),
        ])
        .unwrap();
        assert_eq!(
            g.group_labels(&l),
            labels(&[("alertname", "A"), ("job", "j")])
        );
        assert_eq!(GroupBy::All.group_labels(&l), l);
        assert!(GroupBy::Labels(vec![]).group_labels(&l).is_empty());
    }
}
