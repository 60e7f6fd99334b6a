//! Alert rules (the design document's `AlertRule`: `name`, `condition`, `severity`,
//! `notification_channels`, `enabled`): their validation, storage and evaluation.
//!
//! A condition is one of
//! - `{"type": "threshold", "metric": NAME, "selector": {label: value...}, "op": ">", "value":
//!   90, "for": "5m"}`: the latest stored sample of every series of `metric` whose labels
//!   contain `selector` is compared with `value` (`op` one of `>`, `>=`, `<`, `<=`, `==`,
//!   `!=`); a series for which it holds at every evaluation during `for` fires;
//! - `{"type": "anomaly", "metric": NAME, "selector": {...}, "min_severity": "high", "for":
//!   "0s"}`: the metric pipeline's stored anomalies of the matching series; a series with an
//!   anomaly of at least `min_severity` whose sample time is within the last evaluation
//!   interval plus `for` fires (so `for` keeps it firing that long after its last anomaly);
//! - `{"type": "promql", "source": INTEGRATION, "query": "up == 0", "for": "5m"}`: the query
//!   is evaluated by a metric-source integration (Prometheus, VictoriaMetrics) at each
//!   evaluation, and every series it returns holds, as in a Prometheus alerting rule (the
//!   comparison is written in the query); a series that holds at every evaluation during
//!   `for` fires. While the source cannot answer, the rule's alerts neither fire nor resolve
//!   (the failure is logged and counted).
//!
//! `selector` defaults to `{}` (every series of the metric), `for` to `0s`, `min_severity`
//! to `low`. An unknown key, operator or severity is refused naming the field
//! (`condition.op`).
//!
//! [`RuleEvaluator::evaluate`] runs every enabled rule: a firing series becomes an
//! [`Alert`] (labels: the series' labels without `__name__`, `alertname` = the rule's name,
//! `severity`; annotations: `summary`, `value`, `rule_id`, `notification_channels`) sent
//! through [`AlertPipeline::receive`] with source `rule:NAME`, resent every
//! [`RESEND_MS`] with an `endsAt` ahead (as Prometheus does, so that a stopped evaluator's
//! alerts end by themselves), and sent resolved (`endsAt` = now) once the condition stops
//! holding, the series disappears, or the rule is changed, disabled or deleted.
//!
//! State: which rule and series are pending since when, and which fire, is kept in memory
//! only: a restart starts every `for` window again (an alert that was firing fires again
//! once its `for` has passed, with a new `startsAt`, and its previous episode ends by its
//! `endsAt`). An evaluation whose alerts could not be committed changes no state: the next
//! one sends them again.
//!
//! Cost: each evaluation reads the rules, every series (`Store::series_heads`, then filters
//! them in memory: O(series) per evaluation) and, for the matching series of a threshold
//! rule, their latest sample within `rules.lookback_s` (one pass over the store's pending
//! blocks for all of them, then one indexed query a series); per anomaly rule,
//! the latest [`crate::anomaly_api::MAX_LIMIT`] anomalies of its metric in the window.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aiops_core::time::{Duration, serde_rfc3339};
use aiops_core::{Alert, AlertStatus, Labels, Severity, TimestampMs};
use aiops_store::{AnomalyFilter, Document, SeriesRow, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use crate::alerting::AlertPipeline;
use crate::anomaly_api::parse_severity;
use crate::error::{Result, ServiceError};

/// How often an alert that keeps firing is sent again (ms); its `endsAt` is set
/// [`ENDS_AFTER_RESENDS`] resends (or evaluation intervals, when longer) ahead.
pub const RESEND_MS: i64 = 60_000;
/// A firing alert's `endsAt` lies this many resend periods ahead of its last sending.
pub const ENDS_AFTER_RESENDS: i64 = 4;
/// Longest rule name (characters).
pub const MAX_NAME: usize = 200;

/// Settings of the rule evaluation (the `rules:` section of the service configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// How often every enabled rule is evaluated (seconds, default 15).
    pub eval_interval_s: u64,
    /// How far back a threshold rule looks for a series' latest sample (seconds, default
    /// 300, Prometheus' staleness): a series with no sample in that window does not hold.
    pub lookback_s: u64,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            eval_interval_s: 15,
            lookback_s: 300,
        }
    }
}

impl RulesConfig {
    /// Checks the intervals.
    pub fn check(&self) -> Result<()> {
        if self.eval_interval_s == 0 {
            return Err(ServiceError::invalid_config(
                "rules.eval_interval_s",
                "must be at least 1",
            ));
        }
        if self.lookback_s == 0 {
            return Err(ServiceError::invalid_config(
                "rules.lookback_s",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// A threshold comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    const ALL: [(&'static str, Op); 6] = [
        (">", Op::Gt),
        (">=", Op::Ge),
        ("<", Op::Lt),
        ("<=", Op::Le),
        ("==", Op::Eq),
        ("!=", Op::Ne),
    ];

    /// The operator as written (`>`, `>=`...).
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, o)| *o == self)
            .map_or(">", |(s, _)| s)
    }

    /// Whether `value op threshold` holds.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Gt => value > threshold,
            Op::Ge => value >= threshold,
            Op::Lt => value < threshold,
            Op::Le => value <= threshold,
            Op::Eq => value == threshold,
            Op::Ne => value != threshold,
        }
    }
}

/// What a rule watches.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// The latest sample compared with a threshold.
    Threshold {
        /// The comparison.
        op: Op,
        /// The threshold.
        value: f64,
    },
    /// Stored anomalies of at least this severity.
    Anomaly {
        /// The least severity that counts.
        min_severity: Severity,
    },
    /// A PromQL query answered by a metric-source integration (Prometheus, VictoriaMetrics):
    /// every series it returns holds (write the comparison in the query, as in a
    /// Prometheus alerting rule).
    Promql {
        /// The integration's name (`integrations:` entry of type prometheus or
        /// victoriametrics).
        source: String,
        /// The query, evaluated at the evaluation's time.
        query: String,
    },
}

/// A validated condition (see the module docs for its JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The metric name.
    pub metric: String,
    /// Labels a series must have (name -> value).
    pub selector: BTreeMap<String, String>,
    /// How long it must hold (threshold) or how long an anomaly counts after the last
    /// evaluation interval (anomaly).
    pub for_: Duration,
    /// Threshold or anomaly.
    pub kind: Kind,
}

fn bad(field: &str, reason: impl Into<String>) -> ServiceError {
    ServiceError::invalid_parameter(format!("condition.{field}"), reason)
}

impl Condition {
    /// Reads and validates a condition; an error names the field (`condition.op`).
    pub fn parse(v: &Value) -> Result<Self> {
        let Value::Object(m) = v else {
            return Err(ServiceError::invalid_parameter(
                "condition",
                "expected an object with a \"type\"",
            ));
        };
        let kind = match m.get("type") {
            Some(Value::String(t)) if ["threshold", "anomaly", "promql"].contains(&t.as_str()) => {
                t.as_str()
            }
            Some(other) => {
                return Err(bad(
                    "type",
                    format!(
                        "{other} is not a condition type (expected \"threshold\", \"anomaly\" or \"promql\")"
                    ),
                ));
            }
            None => {
                return Err(bad(
                    "type",
                    "missing (expected \"threshold\", \"anomaly\" or \"promql\")",
                ));
            }
        };
        let allowed: &[&str] = match kind {
            "threshold" => &["type", "metric", "selector", "op", "value", "for"],
            "anomaly" => &["type", "metric", "selector", "min_severity", "for"],
            _ => &["type", "source", "query", "for"],
        };
        if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(bad(
                k,
                format!(
                    "unknown key of a {kind} condition (expected {})",
                    allowed.join(", ")
                ),
            ));
        }
        let metric = match m.get("metric") {
            None if kind == "promql" => String::new(),
            Some(Value::String(s)) if aiops_core::labels::is_valid_metric_name(s) => s.clone(),
            Some(other) => return Err(bad("metric", format!("{other} is not a metric name"))),
            None => return Err(bad("metric", "missing")),
        };
        let mut selector = BTreeMap::new();
        match m.get("selector") {
            None | Some(Value::Null) => {}
            Some(Value::Object(s)) => {
                for (k, v) in s {
                    let field = format!("selector.{k}");
                    if !aiops_core::labels::is_valid_label_name(k) {
                        return Err(bad(&field, "not a label name"));
                    }
                    match v {
                        Value::String(v) if !v.is_empty() => {
                            selector.insert(k.clone(), v.clone());
                        }
                        _ => return Err(bad(&field, "expected a non-empty string")),
                    }
                }
            }
            Some(_) => {
                return Err(bad(
                    "selector",
                    "expected an object of label names to values",
                ));
            }
        }
        let for_ = match m.get("for") {
            None | Some(Value::Null) => Duration(0),
            Some(Value::String(s)) => s
                .parse::<Duration>()
                .map_err(|e| bad("for", e.to_string()))?,
            Some(other) => {
                return Err(bad(
                    "for",
                    format!("{other} is not a duration (write \"5m\", \"30s\")"),
                ));
            }
        };
        if for_.0 < 0 {
            return Err(bad("for", "must not be negative"));
        }
        let kind = if kind == "promql" {
            let text = |field: &str| match m.get(field) {
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
                Some(other) => Err(bad(field, format!("{other} is not a non-empty string"))),
                None => Err(bad(field, "missing")),
            };
            Kind::Promql {
                source: text("source")?,
                query: text("query")?,
            }
        } else if kind == "threshold" {
            let op = match m.get("op") {
                Some(Value::String(s)) => Op::ALL
                    .iter()
                    .find(|(n, _)| n == s)
                    .map(|(_, o)| *o)
                    .ok_or_else(|| {
                        bad(
                            "op",
                            format!("{s:?} is not an operator (expected >, >=, <, <=, ==, !=)"),
                        )
                    })?,
                Some(other) => return Err(bad("op", format!("{other} is not an operator"))),
                None => return Err(bad("op", "missing")),
            };
            let value = match m.get("value") {
                Some(Value::Number(n)) => n.as_f64().filter(|v| v.is_finite()),
                _ => None,
            }
            .ok_or_else(|| bad("value", "expected a finite number"))?;
            Kind::Threshold { op, value }
        } else {
            let min_severity = match m.get("min_severity") {
                None | Some(Value::Null) => Severity::Low,
                Some(Value::String(s)) => parse_severity(s).map_err(|_| {
                    bad(
                        "min_severity",
                        format!(
                            "{s:?} is not a severity (expected info, low, medium, high or critical)"
                        ),
                    )
                })?,
                Some(other) => {
                    return Err(bad("min_severity", format!("{other} is not a severity")));
                }
            };
            Kind::Anomaly { min_severity }
        };
        Ok(Self {
            metric,
            selector,
            for_,
            kind,
        })
    }

    /// The canonical JSON (every key written, defaults included).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        match self.kind {
            Kind::Threshold { op, value } => {
                m.insert("type".into(), json!("threshold"));
                m.insert("op".into(), json!(op.as_str()));
                m.insert("value".into(), json!(value));
            }
            Kind::Anomaly { min_severity } => {
                m.insert("type".into(), json!("anomaly"));
                m.insert("min_severity".into(), json!(min_severity.as_str()));
            }
            Kind::Promql {
                ref source,
                ref query,
            } => {
                m.insert("type".into(), json!("promql"));
                m.insert("source".into(), json!(source));
                m.insert("query".into(), json!(query));
                m.insert("for".into(), json!(self.for_.to_string()));
                return Value::Object(m);
            }
        }
        m.insert("metric".into(), json!(self.metric));
        m.insert("selector".into(), json!(self.selector));
        m.insert("for".into(), json!(self.for_.to_string()));
        Value::Object(m)
    }

    /// Whether a series is one this condition watches: its metric, and every selector label.
    pub fn matches(&self, series: &SeriesRow) -> bool {
        !matches!(self.kind, Kind::Promql { .. })
            && series.metric == self.metric
            && self
                .selector
                .iter()
                .all(|(k, v)| series.labels.get(k) == Some(v.as_str()))
    }
}

fn default_true() -> bool {
    true
}

/// `POST /api/v1/alert-rules` and `PUT /api/v1/alert-rules/{id}` body (the design
/// document's `AlertRule`).
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleRequest {
    /// Unique name; the `alertname` of its alerts.
    pub name: String,
    /// The condition (see the module docs).
    pub condition: Value,
    /// `info`, `low`, `medium`, `high` or `critical`: the `severity` label of its alerts.
    pub severity: String,
    /// Where its alerts should be sent (names, kept in the `notification_channels`
    /// annotation).
    #[serde(default)]
    pub notification_channels: Vec<String>,
    /// Whether it is evaluated (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Id (`rule-` and 16 hex digits).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// The condition.
    pub condition: Condition,
    /// Severity of its alerts.
    pub severity: Severity,
    /// Notification channels.
    pub notification_channels: Vec<String>,
    /// Whether it is evaluated.
    pub enabled: bool,
    /// Created (ms).
    pub created_at: TimestampMs,
    /// Last changed (ms).
    pub updated_at: TimestampMs,
}

/// A rule as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RuleView {
    /// Id.
    pub rule_id: String,
    /// Name.
    pub name: String,
    /// The condition, canonical (defaults written).
    pub condition: Value,
    /// Severity.
    pub severity: String,
    /// Notification channels.
    pub notification_channels: Vec<String>,
    /// Whether it is evaluated.
    pub enabled: bool,
    /// Created (RFC 3339).
    #[serde(with = "serde_rfc3339")]
    pub created_at: TimestampMs,
    /// Last changed (RFC 3339).
    #[serde(with = "serde_rfc3339")]
    pub updated_at: TimestampMs,
}

/// `GET /api/v1/alert-rules`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RuleList {
    /// Every rule, oldest first.
    pub rules: Vec<RuleView>,
}

/// A change of a rule: its view before and after (`None` for a creation or a deletion), for
/// the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleChange {
    /// Before.
    pub before: Option<RuleView>,
    /// After.
    pub after: Option<RuleView>,
}

impl Rule {
    /// The view of the API.
    pub fn view(&self) -> RuleView {
        RuleView {
            rule_id: self.id.clone(),
            name: self.name.clone(),
            condition: self.condition.to_json(),
            severity: self.severity.as_str().to_string(),
            notification_channels: self.notification_channels.clone(),
            enabled: self.enabled,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    fn body(&self) -> Value {
        json!({
            "name": self.name,
            "condition": self.condition.to_json(),
            "severity": self.severity.as_str(),
            "notification_channels": self.notification_channels,
            "enabled": self.enabled,
        })
    }

    fn from_request(id: &str, r: &RuleRequest, at: TimestampMs) -> Result<Self> {
        let name = r.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(ServiceError::invalid_parameter(
                "name",
                format!("must be 1 to {MAX_NAME} characters"),
            ));
        }
        if let Some(i) = r
            .notification_channels
            .iter()
            .position(|c| c.trim().is_empty())
        {
            return Err(ServiceError::invalid_parameter(
                format!("notification_channels[{i}]"),
                "must not be empty",
            ));
        }
        Ok(Self {
            id: id.to_string(),
            name: name.to_string(),
            condition: Condition::parse(&r.condition)?,
            severity: parse_severity(&r.severity)?,
            notification_channels: r.notification_channels.clone(),
            enabled: r.enabled,
            created_at: at,
            updated_at: at,
        })
    }

    /// A stored rule.
    pub fn from_document(d: &Document) -> Result<Self> {
        let req: RuleRequest =
            serde_json::from_value(d.body.clone()).map_err(|e| ServiceError::Internal {
                what: format!("stored alert rule {}: {e}", d.id),
            })?;
        let mut r = Self::from_request(&d.id, &req, d.created_at)?;
        r.updated_at = d.updated_at;
        Ok(r)
    }
}

fn new_id() -> Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| ServiceError::Internal {
        what: format!("random source: {e}"),
    })?;
    Ok(format!(
        "rule-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// Creates a rule (a name used already: 409).
pub async fn create(store: &Store, request: &RuleRequest, now: TimestampMs) -> Result<RuleChange> {
    let rule = Rule::from_request(&new_id()?, request, now)?;
    store
        .create_rule(&rule.id, &rule.name, &rule.body(), now)
        .await?;
    Ok(RuleChange {
        before: None,
        after: Some(rule.view()),
    })
}

/// Every rule, oldest first.
pub async fn list(store: &Store) -> Result<RuleList> {
    Ok(RuleList {
        rules: load_all(store).await?.iter().map(Rule::view).collect(),
    })
}

/// Every stored rule, validated, oldest first.
pub async fn load_all(store: &Store) -> Result<Vec<Rule>> {
    store
        .rules()
        .await?
        .iter()
        .map(Rule::from_document)
        .collect()
}

/// One rule (unknown id: 404).
pub async fn get(store: &Store, id: &str) -> Result<RuleView> {
    Ok(Rule::from_document(&store.rule(id).await?)?.view())
}

/// Replaces a rule (unknown id: 404; another rule's name: 409).
pub async fn update(
    store: &Store,
    id: &str,
    request: &RuleRequest,
    now: TimestampMs,
) -> Result<RuleChange> {
    let before = Rule::from_document(&store.rule(id).await?)?;
    let mut rule = Rule::from_request(id, request, now)?;
    rule.created_at = before.created_at;
    store
        .update_rule(&rule.id, &rule.name, &rule.body(), now)
        .await?;
    Ok(RuleChange {
        before: Some(before.view()),
        after: Some(rule.view()),
    })
}

/// Deletes a rule (unknown id: 404).
pub async fn delete(store: &Store, id: &str) -> Result<RuleChange> {
    let before = Rule::from_document(&store.rule(id).await?)?;
    store.delete_rule(id).await?;
    Ok(RuleChange {
        before: Some(before.view()),
        after: None,
    })
}

/// What one evaluation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EvalReport {
    /// Enabled rules evaluated.
    pub rules: usize,
    /// Series whose condition holds but not yet for `for`.
    pub pending: usize,
    /// Alerts sent firing (new or resent).
    pub fired: usize,
    /// Alerts sent resolved.
    pub resolved: usize,
}

/// One rule and series being watched.
#[derive(Debug, Clone)]
struct Watch {
    /// The rule's `updated_at` when this started (a change of the rule ends it).
    rule_version: TimestampMs,
    /// Since when the condition holds (ms).
    since: TimestampMs,
    /// When it fired and was last sent, once it fires.
    fired: Option<(TimestampMs, TimestampMs)>,
    /// The alert last sent (to resolve it).
    alert: Option<Alert>,
}

/// Evaluates the alert rules on a schedule (see the module docs).
pub struct RuleEvaluator {
    store: Store,
    alerts: Arc<AlertPipeline>,
    config: RulesConfig,
    watches: Mutex<HashMap<(String, i64), Watch>>,
    /// Metric sources of `promql` conditions, by integration name.
    sources: BTreeMap<String, Arc<dyn aiops_integrations::prometheus::MetricSource>>,
    /// Evaluations that failed.
    pub failures: AtomicU64,
}

impl std::fmt::Debug for RuleEvaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleEvaluator")
            .field("config", &self.config)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

/// A series for which a rule's condition holds now, with what to say about it.
struct Hit {
    value: f64,
    summary: String,
}

impl RuleEvaluator {
    /// An evaluator of the rules in `store`, sending to `alerts`.
    pub fn new(store: Store, alerts: Arc<AlertPipeline>, config: RulesConfig) -> Result<Self> {
        config.check()?;
        Ok(Self {
            store,
            alerts,
            config,
            watches: Mutex::new(HashMap::new()),
            sources: BTreeMap::new(),
            failures: AtomicU64::new(0),
        })
    }

    /// The metric sources `promql` conditions may name (integrations of type prometheus or
    /// victoriametrics).
    pub fn with_sources(
        mut self,
        sources: BTreeMap<String, Arc<dyn aiops_integrations::prometheus::MetricSource>>,
    ) -> Self {
        self.sources = sources;
        self
    }

    /// The series a `promql` condition's query returns at `now`, as series rows (ids derived
    /// from their labels, negative so they never meet a stored series' id).
    async fn promql_hits(
        &self,
        source: &str,
        query: &str,
        now: TimestampMs,
    ) -> Result<Vec<(SeriesRow, Hit)>> {
        let Some(src) = self.sources.get(source) else {
            return Err(ServiceError::invalid_config(
                "condition.source",
                format!(
                    "no metric-source integration named {source:?} (known: {})",
                    self.sources.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        };
        let samples = match src.query(query, Some(now)).await? {
            aiops_integrations::prometheus::QueryResult::Vector(v) => v,
            _ => {
                return Err(ServiceError::invalid_parameter(
                    "condition.query",
                    format!("{query:?} does not answer an instant vector"),
                ));
            }
        };
        Ok(samples
            .into_iter()
            .filter(|s| !s.value.is_nan())
            .map(|s| {
                let key = s.labels.to_string();
                let id = -((fnv1a(key.as_bytes()) >> 1) as i64) - 1;
                let resource = ["service", "instance", "job"]
                    .iter()
                    .find_map(|l| s.labels.get(l))
                    .unwrap_or("unknown")
                    .to_string();
                let metric = s.labels.get("__name__").unwrap_or("").to_string();
                let hit = Hit {
                    value: s.value,
                    summary: format!("{query} returned {} for {key}", s.value),
                };
                (
                    SeriesRow {
                        id,
                        key,
                        metric,
                        resource,
                        labels: s.labels,
                        detector: None,
                        state: None,
                        state_t: None,
                    },
                    hit,
                )
            })
            .collect())
    }

    /// Evaluates every enabled rule at `now` (ms) and sends what fires and what resolves.
    pub async fn evaluate(&self, now: TimestampMs) -> Result<EvalReport> {
        let rules: Vec<Rule> = load_all(&self.store)
            .await?
            .into_iter()
            .filter(|r| r.enabled)
            .collect();
        let mut report = EvalReport {
            rules: rules.len(),
            ..EvalReport::default()
        };
        let series = if rules.is_empty() {
            Vec::new()
        } else {
            self.store.series_heads().await?
        };
        // Worked on a copy, kept only once every alert is committed: a failed evaluation
        // leaves the state as it was, and the next one sends again (the engine dedups).
        let mut kept = self.watches.lock().await;
        let mut watches = kept.clone();
        let mut seen: HashSet<(String, i64)> = HashSet::new();
        // (rule name, alerts) to send, firing ones and resolved ones.
        let mut out: BTreeMap<String, Vec<Alert>> = BTreeMap::new();
        // Rules whose source could not answer keep their state: an outage of Prometheus
        // neither fires nor resolves anything.
        let mut unanswered: HashSet<String> = HashSet::new();
        for rule in &rules {
            let hits: Vec<(SeriesRow, Hit)> = match &rule.condition.kind {
                Kind::Promql { source, query } => {
                    match self.promql_hits(source, query, now).await {
                        Ok(h) => h,
                        Err(e) => {
                            tracing::warn!(rule = %rule.name, error = %e, "promql rule not evaluated");
                            self.failures.fetch_add(1, Ordering::Relaxed);
                            unanswered.insert(rule.id.clone());
                            continue;
                        }
                    }
                }
                _ => {
                    let matching: Vec<&SeriesRow> = series
                        .iter()
                        .filter(|s| rule.condition.matches(s))
                        .collect();
                    self.hits(rule, &matching, now)
                        .await?
                        .into_iter()
                        .map(|(s, h)| (s.clone(), h))
                        .collect()
                }
            };
            for (s, hit) in hits {
                let s = &s;
                let key = (rule.id.clone(), s.id);
                seen.insert(key.clone());
                let w = watches.entry(key).or_insert_with(|| Watch {
                    rule_version: rule.updated_at,
                    since: now,
                    fired: None,
                    alert: None,
                });
                if w.rule_version != rule.updated_at {
                    // The rule changed: resolve what it sent and start over.
                    if let Some(a) = w.alert.take() {
                        out.entry(rule.name.clone())
                            .or_default()
                            .push(resolved(a, now));
                        report.resolved += 1;
                    }
                    *w = Watch {
                        rule_version: rule.updated_at,
                        since: now,
                        fired: None,
                        alert: None,
                    };
                }
                let due = match (&rule.condition.kind, w.fired) {
                    (_, Some((_, sent))) => now - sent >= RESEND_MS,
                    (Kind::Threshold { .. } | Kind::Promql { .. }, None) => {
                        now - w.since >= rule.condition.for_.0
                    }
                    (Kind::Anomaly { .. }, None) => true,
                };
                if !due {
                    if w.fired.is_none() {
                        report.pending += 1;
                    }
                    continue;
                }
                let fired_at = w.fired.map_or(now, |(f, _)| f);
                let alert = self.alert(rule, s, &hit, fired_at, now)?;
                w.fired = Some((fired_at, now));
                w.alert = Some(alert.clone());
                out.entry(rule.name.clone()).or_default().push(alert);
                report.fired += 1;
            }
        }
        let names: HashMap<&str, &str> = rules
            .iter()
            .map(|r| (r.id.as_str(), r.name.as_str()))
            .collect();
        let gone: Vec<(String, i64)> = watches
            .keys()
            .filter(|k| !seen.contains(*k) && !unanswered.contains(&k.0))
            .cloned()
            .collect();
        for key in gone {
            if let Some(w) = watches.remove(&key)
                && let Some(a) = w.alert
            {
                let name = names.get(key.0.as_str()).map_or_else(
                    || a.labels.get("alertname").unwrap_or("unknown").to_string(),
                    |n| (*n).to_string(),
                );
                out.entry(name).or_default().push(resolved(a, now));
                report.resolved += 1;
            }
        }
        for (name, alerts) in out {
            self.alerts
                .receive(alerts, &format!("rule:{name}"), now)
                .await?;
        }
        *kept = watches;
        Ok(report)
    }

    /// The matching series for which the rule's condition holds at `now`.
    async fn hits<'a>(
        &self,
        rule: &Rule,
        matching: &[&'a SeriesRow],
        now: TimestampMs,
    ) -> Result<Vec<(&'a SeriesRow, Hit)>> {
        let c = &rule.condition;
        let mut hits = Vec::new();
        match c.kind {
            // Evaluated by `promql_hits`, on the source's series.
            Kind::Promql { .. } => {}
            Kind::Threshold { op, value } => {
                let from = now.saturating_sub(self.config.lookback_s as i64 * 1000);
                let ids: Vec<i64> = matching.iter().map(|s| s.id).collect();
                let latest = self
                    .store
                    .latest_samples(&ids, from, now.saturating_add(1))
                    .await?;
                for s in matching {
                    if let Some(&(_, v)) = latest.get(&s.id)
                        && op.holds(v, value)
                    {
                        hits.push((
                            *s,
                            Hit {
                                value: v,
                                summary: format!(
                                    "{} is {v} ({} {value} threshold) on {}",
                                    c.metric,
                                    op.as_str(),
                                    s.resource
                                ),
                            },
                        ));
                    }
                }
            }
            Kind::Anomaly { min_severity } => {
                if matching.is_empty() {
                    return Ok(hits);
                }
                let window = self.config.eval_interval_s as i64 * 1000 + c.for_.0;
                let filter = AnomalyFilter {
                    metric: Some(c.metric.clone()),
                    start: Some(now.saturating_sub(window)),
                    end: Some(now.saturating_add(1)),
                    ..AnomalyFilter::default()
                };
                let (_, rows) = self
                    .store
                    .anomalies(&filter, crate::anomaly_api::MAX_LIMIT)
                    .await?;
                for s in matching {
                    // Rows are newest first: the first one that counts is the latest.
                    let latest = rows.iter().find(|r| {
                        r.anomaly.series_id == s.id
                            && r.anomaly
                                .severity
                                .parse::<Severity>()
                                .is_ok_and(|sev| sev >= min_severity)
                    });
                    if let Some(r) = latest {
                        let a = &r.anomaly;
                        hits.push((
                            *s,
                            Hit {
                                value: a.value,
                                summary: format!(
                                    "{} anomaly on {} of {}: value {} (expected {}), score {:.3}, by {}",
                                    a.severity,
                                    a.resource,
                                    a.metric,
                                    a.value,
                                    a.expected
                                        .map_or_else(|| "unknown".to_string(), |e| format!("{e:.3}")),
                                    a.score,
                                    a.detector
                                ),
                            },
                        ));
                    }
                }
            }
        }
        Ok(hits)
    }

    fn alert(
        &self,
        rule: &Rule,
        series: &SeriesRow,
        hit: &Hit,
        fired_at: TimestampMs,
        now: TimestampMs,
    ) -> Result<Alert> {
        let mut labels = Labels::new();
        for (k, v) in series.labels.iter() {
            if k != "__name__" {
                labels.insert(k, v)?;
            }
        }
        labels.insert("alertname", rule.name.as_str())?;
        labels.insert("severity", rule.severity.as_str())?;
        let mut a = Alert::firing(labels, fired_at)?;
        a.annotations.insert("summary".into(), hit.summary.clone());
        a.annotations.insert("value".into(), hit.value.to_string());
        a.annotations.insert("rule_id".into(), rule.id.clone());
        if !rule.notification_channels.is_empty() {
            a.annotations.insert(
                "notification_channels".into(),
                rule.notification_channels.join(","),
            );
        }
        let period = RESEND_MS.max(self.config.eval_interval_s as i64 * 1000);
        a.ends_at = Some(now + ENDS_AFTER_RESENDS * period);
        a.generator_url = format!("/api/v1/alert-rules/{}", rule.id);
        Ok(a)
    }

    /// Evaluates every `eval_interval_s` until `shutdown` resolves. A failed evaluation is
    /// counted in [`RuleEvaluator::failures`] and tried again at the next interval.
    pub async fn run(
        self: Arc<Self>,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> Result<()> {
        let mut tick =
            tokio::time::interval(std::time::Duration::from_secs(self.config.eval_interval_s));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if self.evaluate(crate::now_ms()).await.is_err() {
                        self.failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                _ = &mut shutdown => break,
            }
        }
        Ok(())
    }
}

fn resolved(mut a: Alert, now: TimestampMs) -> Alert {
    a.status = AlertStatus::Resolved;
    a.ends_at = Some(now);
    a
}

/// FNV-1a, 64 bits: a stable id for a label set.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(v: Value) -> Result<Condition> {
        Condition::parse(&v)
    }

    #[test]
    fn conditions_are_validated_naming_the_field() {
        let c = cond(json!({"type": "threshold", "metric": "cpu", "selector": {"service": "api"}, "op": ">=", "value": 90, "for": "5m"})).unwrap();
        assert_eq!(c.for_.0, 300_000);
        assert_eq!(
            c.to_json(),
            json!({"type": "threshold", "metric": "cpu", "selector": {"service": "api"}, "op": ">=", "value": 90.0, "for": "5m"})
        );
        let c = cond(json!({"type": "anomaly", "metric": "cpu"})).unwrap();
        assert_eq!(
            c.to_json(),
            json!({"type": "anomaly", "metric": "cpu", "selector": {}, "min_severity": "low", "for": "0s"})
        );
        for (v, field) in [
            (json!([]), "condition"),
            (json!({"metric": "cpu"}), "condition.type"),
            (json!({"type": "trend", "metric": "cpu"}), "condition.type"),
            (
                json!({"type": "threshold", "metric": "cpu", "op": "=>", "value": 1}),
                "condition.op",
            ),
            (
                json!({"type": "threshold", "metric": "cpu", "op": ">"}),
                "condition.value",
            ),
            (
                json!({"type": "threshold", "metric": "cpu", "op": ">", "value": 1, "bogus": 1}),
                "condition.bogus",
            ),
            (
                json!({"type": "threshold", "metric": "cpu", "op": ">", "value": 1, "min_severity": "high"}),
                "condition.min_severity",
            ),
            (
                json!({"type": "threshold", "metric": "cpu", "op": ">", "value": 1, "for": "soon"}),
                "condition.for",
            ),
            (
                json!({"type": "threshold", "metric": "1cpu", "op": ">", "value": 1}),
                "condition.metric",
            ),
            (
                json!({"type": "threshold", "metric": "cpu", "op": ">", "value": 1, "selector": {"a": 1}}),
                "condition.selector.a",
            ),
            (
                json!({"type": "anomaly", "metric": "cpu", "min_severity": "urgent"}),
                "condition.min_severity",
            ),
        ] {
            let e = cond(v.clone()).unwrap_err();
            assert_eq!(e.status(), 400, "{v}");
            assert!(e.to_string().contains(&format!("'{field}'")), "{v}: {e}");
        }
        assert!(Op::Ne.holds(1.0, 2.0) && !Op::Eq.holds(1.0, 2.0) && Op::Le.holds(2.0, 2.0));
    }

    #[test]
    fn configuration_is_checked() {
        assert!(RulesConfig::default().check().is_ok());
        let c = RulesConfig {
            eval_interval_s: 0,
            ..RulesConfig::default()
        };
        assert!(
            c.check()
                .unwrap_err()
                .to_string()
                .contains("rules.eval_interval_s")
        );
    }

    /// A metric source answering `up{job="api"} == 0` with one series while `down` is set,
    /// and failing while `broken` is set.
    #[derive(Debug, Default)]
    struct Source {
        down: std::sync::atomic::AtomicBool,
        broken: std::sync::atomic::AtomicBool,
    }

    impl aiops_integrations::prometheus::MetricSource for Source {
        fn query<'a>(
            &'a self,
            promql: &'a str,
            _at: Option<TimestampMs>,
        ) -> aiops_integrations::prometheus::BoxFuture<
            'a,
            aiops_integrations::Result<aiops_integrations::prometheus::QueryResult>,
        > {
            Box::pin(async move {
                assert_eq!(promql, "up == 0");
                if self.broken.load(Ordering::SeqCst) {
                    return Err(aiops_integrations::IntegrationError::Unreachable {
                        system: "prometheus",
                        url: "http://127.0.0.1:9/".into(),
                        reason: "cannot connect".into(),
                        attempts: 1,
                    });
                }
                let mut v = Vec::new();
                if self.down.load(Ordering::SeqCst) {
                    v.push(aiops_integrations::prometheus::Sample {
                        labels: Labels::try_from_pairs([
                            ("__name__", "up"),
                            ("job", "api"),
                            ("instance", "10.0.0.1:9100"),
                        ])
                        .unwrap(),
                        timestamp: 0,
                        value: 0.0,
                    });
                }
                Ok(aiops_integrations::prometheus::QueryResult::Vector(v))
            })
        }
        fn query_range<'a>(
            &'a self,
            _promql: &'a str,
            _range: aiops_integrations::prometheus::RangeQuery,
        ) -> aiops_integrations::prometheus::BoxFuture<
            'a,
            aiops_integrations::Result<Vec<aiops_core::TimeSeries>>,
        > {
            Box::pin(async { Ok(Vec::new()) })
        }
    }

    #[tokio::test]
    async fn promql_rules_fire_from_a_metric_source_and_hold_through_its_outages() {
        let (store, _) = crate::testing::store_with_cpu_series().await;
        let pipeline = AlertPipeline::new(store.clone(), Default::default(), None)
            .await
            .unwrap();
        let source = Arc::new(Source::default());
        let mut sources: BTreeMap<String, Arc<dyn aiops_integrations::prometheus::MetricSource>> =
            BTreeMap::new();
        sources.insert("prom".into(), source.clone());
        let eval = RuleEvaluator::new(store.clone(), pipeline.clone(), RulesConfig::default())
            .unwrap()
            .with_sources(sources);
        let req = RuleRequest {
            name: "InstanceDown".into(),
            condition: json!({"type": "promql", "source": "prom", "query": "up == 0", "for": "1m"}),
            severity: "critical".into(),
            notification_channels: vec![],
            enabled: true,
        };
        let rule = create(&store, &req, 0).await.unwrap().after.unwrap();
        assert_eq!(rule.condition["source"], "prom");
        let t0 = crate::now_ms();
        source.down.store(true, Ordering::SeqCst);
        let r = eval.evaluate(t0).await.unwrap();
        assert_eq!((r.pending, r.fired), (1, 0), "{r:?}");
        let r = eval.evaluate(t0 + 60_000).await.unwrap();
        assert_eq!(r.fired, 1, "{r:?}");
        let alerts = pipeline.list_alerts(&Default::default()).await.unwrap();
        let text = serde_json::to_string(&alerts).unwrap();
        assert!(
            text.contains("InstanceDown") && text.contains("10.0.0.1:9100"),
            "{text}"
        );
        // The source is unreachable: nothing resolves, the failure is counted.
        source.broken.store(true, Ordering::SeqCst);
        let r = eval.evaluate(t0 + 120_000).await.unwrap();
        assert_eq!(r.resolved, 0, "{r:?}");
        assert_eq!(eval.failures.load(Ordering::SeqCst), 1);
        // Back, and up again: resolved.
        source.broken.store(false, Ordering::SeqCst);
        source.down.store(false, Ordering::SeqCst);
        let r = eval.evaluate(t0 + 180_000).await.unwrap();
        assert_eq!(r.resolved, 1, "{r:?}");
        // Parsing: the source and query are required, other keys refused.
        for (v, field) in [
            (json!({"type": "promql", "query": "up"}), "condition.source"),
            (
                json!({"type": "promql", "source": "prom"}),
                "condition.query",
            ),
            (
                json!({"type": "promql", "source": "prom", "query": "up", "op": ">"}),
                "condition.op",
            ),
        ] {
            let e = cond(v.clone()).unwrap_err();
            assert!(e.to_string().contains(&format!("'{field}'")), "{v}: {e}");
        }
    }
}
