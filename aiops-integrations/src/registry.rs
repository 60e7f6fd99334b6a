//! Integrations built from configuration: a map of names to `{type: SYSTEM, ...params}`.
//!
//! ```yaml
//! integrations:
//!   metrics: {type: prometheus, url: "http://127.0.0.1:9090"}
//! ```
//!
//! Each entry's parameters are read into its system's `Params` (unknown keys refused, with
//! their path), validated and built into a client; the [`Integration`] holds it under every
//! role it plays. An unknown `type` is an error that lists the known ones.
//!
//! Every entry also takes `rate_limit`: at most that many calls a second (averaged, bursts of
//! one second's worth) to the system through its notifier, ticketing, annotator and alert
//! sink roles; calls over it wait, none is dropped.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{IntegrationError, Result};
use crate::http::RateLimiter;
use crate::prometheus::{MetricSource, PrometheusClient, PrometheusParams};
use crate::traits::{
    AlertSink, Annotation, Annotator, BoxFuture, Delivery, LogSource, Notification, Notifier,
    TicketFields, TicketRef, Ticketing,
};

/// One entry of the `integrations` map: its `type` and the system's parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct IntegrationSpec {
    /// The system (`slack`, `jira`...): one of [`KNOWN_TYPES`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The system's parameters.
    #[serde(flatten)]
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// The systems an entry's `type` may name.
pub const KNOWN_TYPES: &[&str] = &[
    "alertmanager",
    "dingtalk",
    "elasticsearch",
    "email",
    "grafana",
    "jira",
    #[cfg(feature = "kafka")]
    "kafka",
    "nats",
    "opensearch",
    "pagerduty",
    "prometheus",
    "servicenow",
    "slack",
    "victoriametrics",
    "webhook",
];

/// A built integration: its client under each role it plays.
#[derive(Debug, Clone, Default)]
pub struct Integration {
    /// Its name in the configuration.
    pub name: String,
    /// Its `type`.
    pub kind: String,
    /// As a metric source.
    pub metric_source: Option<Arc<dyn MetricSource>>,
    /// As a notifier.
    pub notifier: Option<Arc<dyn Notifier>>,
    /// As a ticketing system.
    pub ticketing: Option<Arc<dyn Ticketing>>,
    /// As an annotator.
    pub annotator: Option<Arc<dyn Annotator>>,
    /// As an alert sink.
    pub alert_sink: Option<Arc<dyn AlertSink>>,
    /// The Grafana client itself (dashboards), for `type: grafana`.
    pub grafana: Option<Arc<crate::grafana::GrafanaClient>>,
    /// The Alertmanager client itself (silences), for `type: alertmanager`.
    pub alertmanager: Option<Arc<crate::alertmanager_client::AlertmanagerClient>>,
    /// As a log source.
    pub log_source: Option<Arc<dyn LogSource>>,
    /// As a message bus (connected when a consumer or producer is asked for).
    pub bus: Option<BusParams>,
}

/// A message bus's checked parameters; connects on demand.
#[derive(Debug, Clone)]
pub enum BusParams {
    /// NATS JetStream.
    Nats(crate::nats::ValidNatsParams),
    /// Kafka.
    #[cfg(feature = "kafka")]
    Kafka(crate::kafka::ValidKafkaParams),
}

impl BusParams {
    /// A consumer of the configured subjects / topics, at least once.
    pub async fn consumer(&self) -> Result<Box<dyn crate::bus::BusConsumer>> {
        Ok(match self {
            BusParams::Nats(p) => {
                Box::new(crate::nats::NatsBus::connect(p).await?.consumer().await?)
            }
            #[cfg(feature = "kafka")]
            BusParams::Kafka(p) => Box::new(crate::kafka::KafkaConsumer::new(p)?),
        })
    }

    /// A producer that returns once the broker acknowledged.
    pub async fn producer(&self) -> Result<Arc<dyn crate::bus::BusProducer>> {
        Ok(match self {
            BusParams::Nats(p) => Arc::new(crate::nats::NatsBus::connect(p).await?),
            #[cfg(feature = "kafka")]
            BusParams::Kafka(p) => Arc::new(crate::kafka::KafkaProducer::new(p)?),
        })
    }
}

impl Integration {
    /// The roles it plays (`notify`, `ticket`, `annotate`, `metrics`, `alerts`, `logs`).
    pub fn roles(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.notifier.is_some() {
            out.push("notify");
        }
        if self.ticketing.is_some() {
            out.push("ticket");
        }
        if self.annotator.is_some() {
            out.push("annotate");
        }
        if self.metric_source.is_some() {
            out.push("metrics");
        }
        if self.alert_sink.is_some() {
            out.push("alerts");
        }
        if self.log_source.is_some() {
            out.push("logs");
        }
        if self.bus.is_some() {
            out.push("bus");
        }
        out
    }
}

/// Reads `spec`'s parameters as `P`; errors name the entry and the key.
fn params<P: DeserializeOwned>(name: &str, spec: &IntegrationSpec) -> Result<P> {
    let value = serde_json::Value::Object(spec.params.clone());
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        IntegrationError::Config {
            system: "integrations",
            key: if path == "." {
                name.to_string()
            } else {
                format!("{name}.{path}")
            },
            reason: e.into_inner().to_string(),
        }
    })
}

/// Builds the integration `name` from its entry; reads its secrets.
pub fn build(name: &str, spec: &IntegrationSpec) -> Result<Integration> {
    let mut spec = spec.clone();
    let rate = match spec.params.remove("rate_limit") {
        None => None,
        Some(v) => match v.as_f64() {
            Some(r) if r.is_finite() && r > 0.0 => Some(r),
            _ => {
                return Err(IntegrationError::Config {
                    system: "integrations",
                    key: format!("{name}.rate_limit"),
                    reason: format!("{v} is not a positive number of calls a second"),
                });
            }
        },
    };
    let built = build_roles(name, &spec)?;
    Ok(match rate {
        Some(r) => limited(built, Arc::new(RateLimiter::new(r))),
        None => built,
    })
}

fn build_roles(name: &str, spec: &IntegrationSpec) -> Result<Integration> {
    let mut out = Integration {
        name: name.to_string(),
        kind: spec.kind.clone(),
        ..Integration::default()
    };
    match spec.kind.as_str() {
        "prometheus" | "victoriametrics" => {
            let p: PrometheusParams = params(name, spec)?;
            out.metric_source = Some(Arc::new(PrometheusClient::from_params(&p)?));
        }
        "alertmanager" => {
            let p: crate::alertmanager_client::AlertmanagerParams = params(name, spec)?;
            let client = Arc::new(crate::alertmanager_client::AlertmanagerClient::from_params(
                &p,
            )?);
            out.alert_sink = Some(client.clone());
            out.alertmanager = Some(client);
        }
        "grafana" => {
            let p: crate::grafana::GrafanaParams = params(name, spec)?;
            let client = Arc::new(crate::grafana::GrafanaClient::from_params(&p)?);
            out.annotator = Some(client.clone());
            out.grafana = Some(client);
        }
        "elasticsearch" | "opensearch" => {
            let mut spec = spec.clone();
            if spec.kind == "opensearch" {
                spec.params
                    .entry("flavor")
                    .or_insert_with(|| serde_json::Value::from("opensearch"));
            }
            let p: crate::elasticsearch::ElasticsearchParams = params(name, &spec)?;
            out.log_source = Some(Arc::new(
                crate::elasticsearch::ElasticsearchClient::from_params(&p)?,
            ));
        }
        "nats" => {
            let p: crate::nats::NatsParams = params(name, spec)?;
            out.bus = Some(BusParams::Nats(p.validate()?));
        }
        #[cfg(feature = "kafka")]
        "kafka" => {
            let p: crate::kafka::KafkaParams = params(name, spec)?;
            out.bus = Some(BusParams::Kafka(p.validate()?));
        }
        "slack" => {
            let p: crate::slack::SlackParams = params(name, spec)?;
            out.notifier = Some(Arc::new(crate::slack::SlackNotifier::from_params(&p)?));
        }
        "dingtalk" => {
            let p: crate::dingtalk::DingTalkParams = params(name, spec)?;
            out.notifier = Some(Arc::new(crate::dingtalk::DingTalkNotifier::from_params(
                &p,
            )?));
        }
        "email" => {
            let p: crate::email::EmailParams = params(name, spec)?;
            out.notifier = Some(Arc::new(crate::email::EmailNotifier::from_params(&p)?));
        }
        "webhook" => {
            let p: crate::webhook::WebhookParams = params(name, spec)?;
            out.notifier = Some(Arc::new(crate::webhook::WebhookNotifier::from_params(&p)?));
        }
        "jira" => {
            let p: crate::jira::JiraParams = params(name, spec)?;
            out.ticketing = Some(Arc::new(crate::jira::JiraClient::from_params(&p)?));
        }
        "servicenow" => {
            let p: crate::servicenow::ServiceNowParams = params(name, spec)?;
            out.ticketing = Some(Arc::new(crate::servicenow::ServiceNowClient::from_params(
                &p,
            )?));
        }
        "pagerduty" => {
            let p: crate::pagerduty::PagerDutyParams = params(name, spec)?;
            out.ticketing = Some(Arc::new(crate::pagerduty::PagerDutyClient::from_params(
                &p,
            )?));
        }
        other => {
            return Err(IntegrationError::Config {
                system: "integrations",
                key: format!("{name}.type"),
                reason: format!("unknown type {other:?}; known: {}", KNOWN_TYPES.join(", ")),
            });
        }
    }
    Ok(out)
}

/// A role's client behind a rate limit.
#[derive(Debug)]
struct Limited<T: ?Sized> {
    inner: Arc<T>,
    limiter: Arc<RateLimiter>,
}

impl<T: ?Sized> Limited<T> {
    fn wrap(inner: Arc<T>, limiter: &Arc<RateLimiter>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            limiter: limiter.clone(),
        })
    }
}

impl Notifier for Limited<dyn Notifier> {
    fn system(&self) -> &'static str {
        self.inner.system()
    }
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<Delivery>> {
        Box::pin(async move {
            self.limiter.acquire().await;
            self.inner.notify(n).await
        })
    }
}

impl Ticketing for Limited<dyn Ticketing> {
    fn system(&self) -> &'static str {
        self.inner.system()
    }
    fn open_as<'a>(
        &'a self,
        n: &'a Notification,
        fields: &'a TicketFields,
    ) -> BoxFuture<'a, Result<TicketRef>> {
        Box::pin(async move {
            self.limiter.acquire().await;
            self.inner.open_as(n, fields).await
        })
    }
    fn update<'a>(&'a self, t: &'a TicketRef, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.limiter.acquire().await;
            self.inner.update(t, n).await
        })
    }
    fn close<'a>(&'a self, t: &'a TicketRef, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.limiter.acquire().await;
            self.inner.close(t, n).await
        })
    }
}

impl Annotator for Limited<dyn Annotator> {
    fn system(&self) -> &'static str {
        self.inner.system()
    }
    fn annotate<'a>(&'a self, a: &'a Annotation) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            self.limiter.acquire().await;
            self.inner.annotate(a).await
        })
    }
    fn update<'a>(&'a self, id: &'a str, a: &'a Annotation) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.limiter.acquire().await;
            self.inner.update(id, a).await
        })
    }
}

impl AlertSink for Limited<dyn AlertSink> {
    fn system(&self) -> &'static str {
        self.inner.system()
    }
    fn push<'a>(&'a self, alerts: &'a [aiops_core::Alert]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.limiter.acquire().await;
            self.inner.push(alerts).await
        })
    }
}

/// `i` with its outbound roles behind `limiter`.
fn limited(mut i: Integration, limiter: Arc<RateLimiter>) -> Integration {
    if let Some(n) = i.notifier.take() {
        i.notifier = Some(Limited::wrap(n, &limiter));
    }
    if let Some(t) = i.ticketing.take() {
        i.ticketing = Some(Limited::wrap(t, &limiter));
    }
    if let Some(a) = i.annotator.take() {
        i.annotator = Some(Limited::wrap(a, &limiter));
    }
    if let Some(s) = i.alert_sink.take() {
        i.alert_sink = Some(Limited::wrap(s, &limiter));
    }
    i
}

/// Builds every entry of a map.
pub fn build_all(
    specs: &BTreeMap<String, IntegrationSpec>,
) -> Result<BTreeMap<String, Integration>> {
    specs
        .iter()
        .map(|(name, spec)| Ok((name.clone(), build(name, spec)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> IntegrationSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn entries_build_by_type_and_errors_name_the_entry_and_key() {
        let i = build(
            "m",
            &spec(r#"{"type": "prometheus", "url": "http://127.0.0.1:9090"}"#),
        )
        .unwrap();
        assert_eq!(i.roles(), ["metrics"]);
        let e = build(
            "m",
            &spec(r#"{"type": "prometheus", "url": "x", "nope": 1}"#),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("m") && e.contains("nope"), "{e}");
        let e = build("m", &spec(r#"{"type": "smoke-signals"}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("m.type") && e.contains("prometheus"), "{e}");
        let e = build("m", &spec(r#"{"type": "prometheus", "url": "ftp://x"}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("url"), "{e}");
    }

    #[test]
    fn every_type_builds_with_its_roles() {
        let cases = [
            (
                r#"{"type": "slack", "url": {"value": "https://hooks.slack.com/services/T/B/x"}}"#,
                "notify",
            ),
            (
                r#"{"type": "dingtalk", "access_token": {"value": "t"}}"#,
                "notify",
            ),
            (
                r#"{"type": "email", "host": "127.0.0.1", "tls": "none", "from": "aiops@example.com", "to": ["ops@example.com"]}"#,
                "notify",
            ),
            (
                r#"{"type": "webhook", "url": "http://127.0.0.1:9/hook"}"#,
                "notify",
            ),
            (
                r#"{"type": "jira", "url": "https://example.atlassian.net", "project": "OPS", "auth": {"bearer": {"value": "t"}}}"#,
                "ticket",
            ),
            (
                r#"{"type": "pagerduty", "routing_key": {"value": "0123456789abcdef0123456789abcdef"}}"#,
                "ticket",
            ),
            (
                r#"{"type": "grafana", "url": "http://127.0.0.1:3000", "auth": {"bearer": {"value": "t"}}}"#,
                "annotate",
            ),
            (
                r#"{"type": "alertmanager", "url": "http://127.0.0.1:9093"}"#,
                "alerts",
            ),
            (
                r#"{"type": "opensearch", "url": "http://127.0.0.1:9200", "index": "logs-*"}"#,
                "logs",
            ),
            (
                r#"{"type": "victoriametrics", "url": "http://127.0.0.1:8428"}"#,
                "metrics",
            ),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for (json, role) in cases {
            let s = spec(json);
            let i = build("x", &s).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(i.roles(), [role], "{json}");
            seen.insert(s.kind);
        }
        let e = build("x", &spec(r#"{"type": "nope"}"#))
            .unwrap_err()
            .to_string();
        for t in KNOWN_TYPES {
            assert!(e.contains(t), "{e}");
        }
        assert!(seen.len() >= 10);
    }

    #[tokio::test]
    async fn a_rate_limit_spaces_the_calls_of_every_role() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let i = build(
            "hook",
            &spec(&format!(
                r#"{{"type": "webhook", "url": "http://{addr}/hook", "rate_limit": 10}}"#
            )),
        )
        .unwrap();
        let n = crate::traits::tests::sample();
        let notifier = i.notifier.unwrap();
        let t0 = std::time::Instant::now();
        for _ in 0..15 {
            notifier.notify(&n).await.unwrap();
        }
        // Ten at once, then five more at ten a second.
        assert!(
            t0.elapsed() >= std::time::Duration::from_millis(450),
            "{:?}",
            t0.elapsed()
        );
        for bad in ["0", "-1", "\"x\""] {
            let e = build(
                "hook",
                &spec(&format!(
                    r#"{{"type": "webhook", "url": "http://{addr}/hook", "rate_limit": {bad}}}"#
                )),
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains("hook.rate_limit"), "{e}");
        }
    }
}
