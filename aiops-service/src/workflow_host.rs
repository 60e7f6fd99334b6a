//! The service's [`ActionHost`]: what workflow actions reach through the service. Context and
//! metric values come from the store (and the configured history), RCA from
//! [`crate::rca_api::analyze`], forecasts from [`crate::capacity_api::forecast_many`] on the
//! `capacity.metrics` targets, notifications, tickets and annotations from the integrations
//! (`integrations:`) the `workflows.systems` map names (`jira: jira-ops`); `default` (where
//! `rollback_deployment` notifies and opens its ticket) is the integration it maps to, else
//! the first integration by name that notifies (or opens tickets).

use std::collections::BTreeMap;
use std::sync::Arc;

use aiops_core::TimestampMs;
use aiops_integrations::registry::Integration;
use aiops_integrations::traits::{Annotation, Delivery, Notification, TicketRef};
use aiops_rca::runbook::KnowledgeBase;
use aiops_store::Store;
use aiops_workflow::action::{ActionError, BoxFuture};
use aiops_workflow::host::{
    ActionHost, CapacityRequest, HostResult, RcaCandidate, RcaRequest, RcaResult, ResourceForecast,
    TicketRequest,
};
use serde_json::{Value, json};

use crate::capacity_api::CapacityConfig;
use crate::history::History;
use crate::topology_api::TopologyState;

/// How far back `fetch_context` looks for changes and alerts (ms: 1 h).
const CONTEXT_WINDOW_MS: i64 = 3_600_000;

/// The host workflows run with in the service.
#[derive(Debug, Clone)]
pub struct ServiceHost {
    /// The store.
    pub store: Store,
    /// Metric history.
    pub history: History,
    /// The topology (for RCA).
    pub topology: Arc<TopologyState>,
    /// Runbooks (for RCA's suggestions).
    pub knowledge: Arc<KnowledgeBase>,
    /// Built integrations by name.
    pub integrations: BTreeMap<String, Integration>,
    /// Workflow system name (`jira`) → integration name.
    pub systems: BTreeMap<String, String>,
    /// The capacity targets `run_capacity_forecast` forecasts.
    pub capacity: CapacityConfig,
}

fn failed(e: impl std::fmt::Display) -> ActionError {
    ActionError::Failed(e.to_string())
}

impl ServiceHost {
    /// The integration a workflow system name stands for: the `systems` map's, else an
    /// integration of that very name.
    fn integration(&self, system: &str) -> Option<&Integration> {
        let name = self.systems.get(system).map_or(system, String::as_str);
        self.integrations.get(name)
    }

    /// The integration for `system` that can do what `can` asks: the one it names; for
    /// `default` (what `rollback_deployment` tells and tickets), when that one cannot, the
    /// first integration by name that can.
    fn pick(&self, system: &str, can: impl Fn(&Integration) -> bool) -> Option<&Integration> {
        match self.integration(system) {
            Some(i) if can(i) => Some(i),
            _ if system == "default" => self.integrations.values().find(|i| can(i)),
            _ => None,
        }
    }

    fn incident_id(context: &Value) -> Option<String> {
        context
            .get("incident")
            .and_then(|i| i.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    async fn context(&self, context: &Value, include: &[String]) -> crate::Result<Value> {
        let now = crate::now_ms();
        let mut out = serde_json::Map::new();
        let incident = Self::incident_id(context);
        for what in include {
            let v = match what.as_str() {
                "recent_changes" => {
                    let events = self
                        .store
                        .events(now - CONTEXT_WINDOW_MS, now + 1, 100)
                        .await?;
                    json!(
                        events
                            .into_iter()
                            .map(crate::events_api::EventView::from)
                            .collect::<Vec<_>>()
                    )
                }
                "related_alerts" => match &incident {
                    Some(id) => {
                        let row = self.store.incident(id).await?;
                        row.body.get("alerts").cloned().unwrap_or(json!([]))
                    }
                    None => json!([]),
                },
                "resource_health" => {
                    let resources: Vec<String> = context
                        .get("incident")
                        .and_then(|i| i.get("resources"))
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default();
                    let mut health = serde_json::Map::new();
                    let series = self.store.series_of_resources(&resources).await?;
                    let points = self
                        .history
                        .samples_of(
                            &self.store,
                            &series,
                            now - CONTEXT_WINDOW_MS,
                            now + 1,
                            100_000,
                        )
                        .await?;
                    for (s, pts) in series.iter().zip(points) {
                        let last = pts.last().map(|p| p.1);
                        health
                            .entry(s.resource.clone())
                            .or_insert_with(|| json!({}))
                            .as_object_mut()
                            .map(|m| m.insert(s.metric.clone(), json!(last)));
                    }
                    Value::Object(health)
                }
                _ => Value::Null,
            };
            out.insert(what.clone(), v);
        }
        Ok(Value::Object(out))
    }

    async fn rca(&self, req: &RcaRequest) -> HostResult<RcaResult> {
        let Some(id) = Self::incident_id(&req.context) else {
            return Err(ActionError::Params(
                "RCA needs an incident: the trigger has none".into(),
            ));
        };
        let minutes = (req.window_ms / 60_000).clamp(5, 1_440) as u32;
        let r = crate::rca_api::RcaRequest {
            incident_id: Some(id),
            anomaly_ids: None,
            time_window_minutes: minutes,
        };
        let current = self.topology.get();
        let graph = current.as_ref().map(|c| &c.graph);
        let a = crate::rca_api::analyze(
            &self.store,
            &self.history,
            graph,
            Some(&self.knowledge),
            &r,
            crate::now_ms(),
        )
        .await
        .map_err(failed)?;
        Ok(RcaResult {
            confidence: a.root_causes.first().map_or(0.0, |c| c.confidence),
            root_cause: a.root_causes.first().map(|c| c.resource.clone()),
            candidates: a
                .root_causes
                .iter()
                .map(|c| RcaCandidate {
                    resource: c.resource.clone(),
                    score: c.score,
                })
                .collect(),
            // The remediation the best-fitting runbook of the top cause names, if any.
            remediation: a
                .recommended_actions
                .iter()
                .filter(|r| r["cause_rank"].as_u64() == Some(1))
                .find_map(|r| r["remediation"].as_str().map(str::to_string)),
        })
    }

    async fn forecasts(&self, req: &CapacityRequest) -> crate::Result<Vec<ResourceForecast>> {
        let now = crate::now_ms();
        let hours = (req.horizon_ms / 3_600_000).clamp(1, 720) as u32;
        let series = self.store.series_heads().await?;
        let mut out = Vec::new();
        for target in &self.capacity.metrics {
            let mut resources: Vec<&str> = series
                .iter()
                .filter(|s| s.metric == target.metric)
                .map(|s| s.resource.as_str())
                .filter(|r| req.resources.is_empty() || req.resources.iter().any(|x| x == r))
                .collect();
            resources.sort_unstable();
            resources.dedup();
            let resources: Vec<String> = resources.into_iter().map(str::to_string).collect();
            let forecasts = crate::capacity_api::forecast_many(
                &self.store,
                &self.history,
                &resources,
                &target.metric,
                hours,
                target.threshold,
                now,
            )
            .await?;
            for (r, f) in resources.iter().zip(forecasts) {
                let t = if target.threshold.abs() > f64::EPSILON {
                    target.threshold
                } else {
                    1.0
                };
                let peak = f
                    .predictions
                    .iter()
                    .map(|p| p.value)
                    .fold(f.current, f64::max);
                out.push(ResourceForecast {
                    resource: format!("{r}:{}", target.metric),
                    current: f.current / t,
                    peak: peak / t,
                    saturation_ms: f.saturation_time_hours.map(|h| (h * 3_600_000.0) as i64),
                });
            }
        }
        Ok(out)
    }

    async fn values(
        &self,
        metric: &str,
        labels: &BTreeMap<String, String>,
        from: TimestampMs,
        to: TimestampMs,
    ) -> crate::Result<Vec<f64>> {
        let series: Vec<_> = self
            .store
            .series_heads()
            .await?
            .into_iter()
            .filter(|s| {
                s.metric == metric
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(k) == Some(v.as_str()))
            })
            .collect();
        let points = self
            .history
            .samples_of(&self.store, &series, from, to, 100_000)
            .await?;
        Ok(points.into_iter().flatten().map(|p| p.1).collect())
    }
}

impl ActionHost for ServiceHost {
    fn systems(&self) -> Vec<String> {
        let mut s: Vec<String> = self
            .systems
            .iter()
            .filter(|(_, i)| self.integrations.contains_key(*i))
            .map(|(k, _)| k.clone())
            .chain(self.integrations.keys().cloned())
            .collect();
        s.sort();
        s.dedup();
        s
    }

    fn fetch_context<'a>(
        &'a self,
        context: &'a Value,
        include: &'a [String],
    ) -> BoxFuture<'a, HostResult<Value>> {
        Box::pin(async move { self.context(context, include).await.map_err(failed) })
    }

    fn run_rca<'a>(&'a self, req: &'a RcaRequest) -> BoxFuture<'a, HostResult<RcaResult>> {
        Box::pin(self.rca(req))
    }

    fn forecast_capacity<'a>(
        &'a self,
        req: &'a CapacityRequest,
    ) -> BoxFuture<'a, HostResult<Vec<ResourceForecast>>> {
        Box::pin(async move { self.forecasts(req).await.map_err(failed) })
    }

    fn notify<'a>(
        &'a self,
        channel: &'a str,
        n: &'a Notification,
    ) -> BoxFuture<'a, HostResult<Delivery>> {
        Box::pin(async move {
            let Some(notifier) = self
                .pick(channel, |i| i.notifier.is_some())
                .and_then(|i| i.notifier.clone())
            else {
                return Err(ActionError::NotConfigured(channel.to_string()));
            };
            notifier.notify(n).await.map_err(failed)
        })
    }

    fn open_ticket<'a>(
        &'a self,
        system: &'a str,
        req: &'a TicketRequest,
    ) -> BoxFuture<'a, HostResult<TicketRef>> {
        Box::pin(async move {
            let Some(t) = self
                .pick(system, |i| i.ticketing.is_some())
                .and_then(|i| i.ticketing.clone())
            else {
                return Err(ActionError::NotConfigured(system.to_string()));
            };
            let fields = aiops_integrations::traits::TicketFields {
                project: req.project.clone(),
                issue_type: req.issue_type.clone(),
                priority: req.priority.clone(),
            };
            t.open_as(&req.notification, &fields).await.map_err(failed)
        })
    }

    fn annotate<'a>(
        &'a self,
        dashboard: &'a str,
        a: &'a Annotation,
    ) -> BoxFuture<'a, HostResult<String>> {
        Box::pin(async move {
            let annotator = self
                .integration(dashboard)
                .or_else(|| self.integration("grafana"))
                .and_then(|i| i.annotator.clone());
            let Some(annotator) = annotator else {
                return Err(ActionError::NotConfigured(dashboard.to_string()));
            };
            annotator.annotate(a).await.map_err(failed)
        })
    }

    fn metric_values<'a>(
        &'a self,
        metric: &'a str,
        labels: &'a BTreeMap<String, String>,
        from: TimestampMs,
        to: TimestampMs,
    ) -> BoxFuture<'a, HostResult<Vec<f64>>> {
        Box::pin(async move { self.values(metric, labels, from, to).await.map_err(failed) })
    }
}
