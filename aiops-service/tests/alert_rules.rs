//! Alert rules on an in-memory store: CRUD with validation, a threshold rule that fires after
//! its `for` and resolves when the value is back, an anomaly rule, and a deleted rule's alert
//! resolved.

use std::sync::Arc;

use aiops_core::Labels;
use aiops_service::alerting::{AlertPipeline, AlertQuery, AlertsConfig};
use aiops_service::rules::{self, RuleEvaluator, RuleRequest, RulesConfig};
use aiops_store::{NewAnomaly, NewSeries, Store, StoreOptions};
use serde_json::json;

const T0: i64 = 1_700_000_000_000;
const S: i64 = 1_000;

async fn store() -> Store {
    Store::open("sqlite::memory:", &StoreOptions::default())
        .await
        .unwrap()
}

async fn setup() -> (Store, Arc<AlertPipeline>, RuleEvaluator) {
    let store = store().await;
    let alerts = AlertPipeline::new(store.clone(), AlertsConfig::default(), None)
        .await
        .unwrap();
    let eval = RuleEvaluator::new(store.clone(), alerts.clone(), RulesConfig::default()).unwrap();
    (store, alerts, eval)
}

async fn series(store: &Store, metric: &str, service: &str) -> i64 {
    let labels = Labels::try_from_pairs([("__name__", metric), ("service", service)]).unwrap();
    store
        .series_ids(
            &[NewSeries {
                key: labels.to_string(),
                metric: metric.into(),
                resource: service.into(),
                labels,
            }],
            T0,
        )
        .await
        .unwrap()[0]
}

fn request(name: &str, condition: serde_json::Value) -> RuleRequest {
    serde_json::from_value(json!({
        "name": name,
        "condition": condition,
        "severity": "critical",
        "notification_channels": ["slack-ops", "pager"],
    }))
    .unwrap()
}

async fn alerts_with(alerts: &AlertPipeline, status: &str) -> Vec<aiops_service::AlertView> {
    alerts
        .list_alerts(&AlertQuery {
            status: Some(status.into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .alerts
}

#[tokio::test]
async fn rules_are_stored_validated_and_unique_by_name() {
    let store = store().await;
    let cond = json!({"type": "threshold", "metric": "cpu", "op": ">", "value": 90});
    let created = rules::create(&store, &request("cpu-high", cond.clone()), T0)
        .await
        .unwrap();
    let view = created.after.unwrap();
    assert!(view.rule_id.starts_with("rule-"));
    assert_eq!(view.condition["for"], "0s");
    assert!(view.enabled);
    let e = rules::create(&store, &request("cpu-high", cond.clone()), T0)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 409);
    let mut bad = request("x", cond.clone());
    bad.severity = "urgent".into();
    let e = rules::create(&store, &bad, T0).await.unwrap_err();
    assert!(e.to_string().contains("'severity'"), "{e}");

    let mut changed = request("cpu-very-high", cond);
    changed.enabled = false;
    let change = rules::update(&store, &view.rule_id, &changed, T0 + S)
        .await
        .unwrap();
    assert_eq!(change.before.unwrap().name, "cpu-high");
    let after = change.after.unwrap();
    assert_eq!(
        (after.name.as_str(), after.enabled),
        ("cpu-very-high", false)
    );
    assert_eq!(after.created_at, T0);
    assert_eq!(after.updated_at, T0 + S);
    assert_eq!(rules::get(&store, &view.rule_id).await.unwrap(), after);
    assert_eq!(rules::list(&store).await.unwrap().rules, vec![after]);
    rules::delete(&store, &view.rule_id).await.unwrap();
    assert_eq!(
        rules::get(&store, &view.rule_id)
            .await
            .unwrap_err()
            .status(),
        404
    );
    assert_eq!(
        rules::delete(&store, &view.rule_id)
            .await
            .unwrap_err()
            .status(),
        404
    );
}

#[tokio::test]
async fn a_threshold_rule_fires_after_for_and_resolves_when_back() {
    let (store, alerts, eval) = setup().await;
    let api = series(&store, "cpu", "api").await;
    let db = series(&store, "cpu", "db").await;
    let mem = series(&store, "mem", "api").await;
    rules::create(
        &store,
        &request(
            "cpu-high",
            json!({"type": "threshold", "metric": "cpu", "selector": {"service": "api"}, "op": ">", "value": 90, "for": "2m"}),
        ),
        T0,
    )
    .await
    .unwrap();
    // db and mem would hold too, but the selector and the metric exclude them.
    let sample = |id, t, v| (id, t, v);
    store
        .insert_samples(&[
            sample(api, T0, 95.0),
            sample(db, T0, 99.0),
            sample(mem, T0, 99.0),
        ])
        .await
        .unwrap();
    let r = eval.evaluate(T0 + S).await.unwrap();
    assert_eq!((r.rules, r.pending, r.fired), (1, 1, 0));
    store
        .insert_samples(&[sample(api, T0 + 60 * S, 96.0)])
        .await
        .unwrap();
    let r = eval.evaluate(T0 + 61 * S).await.unwrap();
    assert_eq!((r.pending, r.fired), (1, 0));
    assert!(alerts_with(&alerts, "firing").await.is_empty());
    store
        .insert_samples(&[sample(api, T0 + 120 * S, 97.0)])
        .await
        .unwrap();
    let r = eval.evaluate(T0 + 121 * S).await.unwrap();
    assert_eq!((r.pending, r.fired), (0, 1));
    let firing = alerts_with(&alerts, "firing").await;
    assert_eq!(firing.len(), 1);
    let a = &firing[0];
    assert_eq!(a.labels.get("alertname"), Some("cpu-high"));
    assert_eq!(a.labels.get("service"), Some("api"));
    assert_eq!(a.labels.get("severity"), Some("critical"));
    assert_eq!(a.labels.get("__name__"), None);
    assert_eq!(a.source, "rule:cpu-high");
    assert_eq!(a.annotations["value"], "97");
    assert_eq!(a.annotations["notification_channels"], "slack-ops,pager");
    assert!(
        a.annotations["summary"].contains("> 90"),
        "{:?}",
        a.annotations
    );
    assert!(a.annotations["rule_id"].starts_with("rule-"));
    // Still holding: nothing new within the resend period.
    let r = eval.evaluate(T0 + 130 * S).await.unwrap();
    assert_eq!((r.fired, r.resolved), (0, 0));
    // Back under the threshold: resolved.
    store
        .insert_samples(&[sample(api, T0 + 140 * S, 50.0)])
        .await
        .unwrap();
    let r = eval.evaluate(T0 + 141 * S).await.unwrap();
    assert_eq!(r.resolved, 1);
    assert!(alerts_with(&alerts, "firing").await.is_empty());
    let done = alerts_with(&alerts, "resolved").await;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].ends_at, Some(T0 + 141 * S));
    // A pending condition that stops holding before `for` never fires.
    store
        .insert_samples(&[sample(api, T0 + 200 * S, 95.0)])
        .await
        .unwrap();
    assert_eq!(eval.evaluate(T0 + 201 * S).await.unwrap().pending, 1);
    store
        .insert_samples(&[sample(api, T0 + 260 * S, 10.0)])
        .await
        .unwrap();
    let r = eval.evaluate(T0 + 330 * S).await.unwrap();
    assert_eq!((r.pending, r.fired, r.resolved), (0, 0, 0));
}

fn anomaly(series_id: i64, t: i64, severity: &str) -> NewAnomaly {
    NewAnomaly {
        series_id,
        t,
        resource: "api".into(),
        metric: "latency".into(),
        value: 900.0,
        score: 7.5,
        severity: severity.into(),
        expected: Some(100.0),
        lower: Some(50.0),
        upper: Some(150.0),
        detector: "default".into(),
        detected_at: t,
    }
}

#[tokio::test]
async fn an_anomaly_rule_fires_on_a_severe_enough_anomaly_and_a_deleted_rule_resolves() {
    let (store, alerts, eval) = setup().await;
    let api = series(&store, "latency", "api").await;
    let created = rules::create(
        &store,
        &request(
            "latency-anomaly",
            json!({"type": "anomaly", "metric": "latency", "selector": {"service": "api"}, "min_severity": "high"}),
        ),
        T0,
    )
    .await
    .unwrap();
    store
        .insert_anomalies(&[anomaly(api, T0, "medium")])
        .await
        .unwrap();
    let r = eval.evaluate(T0 + S).await.unwrap();
    assert_eq!(r.fired, 0);
    store
        .insert_anomalies(&[anomaly(api, T0 + 2 * S, "critical")])
        .await
        .unwrap();
    let r = eval.evaluate(T0 + 3 * S).await.unwrap();
    assert_eq!(r.fired, 1);
    let firing = alerts_with(&alerts, "firing").await;
    assert_eq!(firing.len(), 1);
    assert!(
        firing[0].annotations["summary"].contains("critical anomaly"),
        "{:?}",
        firing[0].annotations
    );
    // Past the evaluation interval (15 s) with no new anomaly: resolved.
    let r = eval.evaluate(T0 + 30 * S).await.unwrap();
    assert_eq!(r.resolved, 1);
    // Firing again, then the rule is deleted: its alert resolves.
    store
        .insert_anomalies(&[anomaly(api, T0 + 40 * S, "high")])
        .await
        .unwrap();
    assert_eq!(eval.evaluate(T0 + 41 * S).await.unwrap().fired, 1);
    assert_eq!(alerts_with(&alerts, "firing").await.len(), 1);
    rules::delete(&store, &created.after.unwrap().rule_id)
        .await
        .unwrap();
    let r = eval.evaluate(T0 + 42 * S).await.unwrap();
    assert_eq!((r.rules, r.resolved), (0, 1));
    assert!(alerts_with(&alerts, "firing").await.is_empty());
}

#[tokio::test]
async fn a_busy_series_is_read_to_its_latest_sample() {
    let (store, alerts, eval) = setup().await;
    let api = series(&store, "requests", "api").await;
    rules::create(
        &store,
        &request(
            "requests-high",
            json!({"type": "threshold", "metric": "requests", "op": ">=", "value": 100}),
        ),
        T0,
    )
    .await
    .unwrap();
    // 2,500 samples 10 ms apart, only the last over the threshold.
    let rows: Vec<_> = (0..2_500)
        .map(|i| (api, T0 + i * 10, if i == 2_499 { 150.0 } else { 1.0 }))
        .collect();
    store.insert_samples(&rows).await.unwrap();
    let r = eval.evaluate(T0 + 30 * S).await.unwrap();
    assert_eq!(r.fired, 1);
    assert_eq!(
        alerts_with(&alerts, "firing").await[0].annotations["value"],
        "150"
    );
}
