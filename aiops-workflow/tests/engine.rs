//! Running the seed's workflows and the failure paths against a test host.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use aiops_core::{Alert, Labels, TimestampMs};
use aiops_integrations::traits::{Annotation, Delivery, Notification, TicketRef};
use aiops_workflow::action::BoxFuture;
use aiops_workflow::host::{
    CapacityRequest, CommandSpec, HostResult, RcaCandidate, RcaRequest, RcaResult,
    ResourceForecast, TicketRequest,
};
use aiops_workflow::{
    Action, ActionCtx, ActionError, ActionHost, Engine, ParamSpec, Registry, Remediation,
    RunOptions, Status, Throttle, TriggerEvent, WorkflowSet,
};
use serde_json::{Value, json};

const H: i64 = 3_600_000;
const D: i64 = 24 * H;

/// A host that records every call and answers from its settings.
#[derive(Debug, Default)]
struct TestHost {
    calls: Mutex<Vec<String>>,
    confidence: f64,
    remediation: Option<String>,
    saturation_ms: Option<i64>,
    /// Metric values after the deployment, as a multiple of the baseline (1.0).
    regression: f64,
    tickets: Mutex<BTreeMap<String, String>>,
}

impl TestHost {
    fn call(&self, c: String) {
        self.calls.lock().unwrap().push(c);
    }
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

fn ok<'a, T: Send + 'a>(v: T) -> BoxFuture<'a, HostResult<T>> {
    Box::pin(async move { Ok(v) })
}

impl ActionHost for TestHost {
    fn systems(&self) -> Vec<String> {
        ["jira", "slack", "pagerduty", "grafana"]
            .map(String::from)
            .to_vec()
    }
    fn now(&self) -> TimestampMs {
        10 * D
    }
    fn fetch_context<'a>(
        &'a self,
        _c: &'a Value,
        include: &'a [String],
    ) -> BoxFuture<'a, HostResult<Value>> {
        self.call(format!("fetch_context {}", include.join(",")));
        ok(json!({"related_alerts": [{"name": "a1"}, {"name": "a2"}]}))
    }
    fn run_rca<'a>(&'a self, req: &'a RcaRequest) -> BoxFuture<'a, HostResult<RcaResult>> {
        self.call(format!("rca {} {}", req.window_ms, req.methods.join(",")));
        ok(RcaResult {
            confidence: self.confidence,
            root_cause: Some("db".into()),
            candidates: vec![RcaCandidate {
                resource: "db".into(),
                score: self.confidence,
            }],
            remediation: self.remediation.clone(),
        })
    }
    fn forecast_capacity<'a>(
        &'a self,
        req: &'a CapacityRequest,
    ) -> BoxFuture<'a, HostResult<Vec<ResourceForecast>>> {
        self.call(format!("forecast {}", req.horizon_ms));
        ok(vec![ResourceForecast {
            resource: "db:disk".into(),
            current: 0.6,
            peak: if self.saturation_ms.is_some() {
                1.0
            } else {
                0.75
            },
            saturation_ms: self.saturation_ms,
        }])
    }
    fn notify<'a>(
        &'a self,
        channel: &'a str,
        n: &'a Notification,
    ) -> BoxFuture<'a, HostResult<Delivery>> {
        self.call(format!("notify {channel} {}", n.title));
        ok(Delivery {
            attempts: 1,
            detail: "ok".into(),
        })
    }
    fn open_ticket<'a>(
        &'a self,
        system: &'a str,
        req: &'a TicketRequest,
    ) -> BoxFuture<'a, HostResult<TicketRef>> {
        self.call(format!(
            "ticket {system} {} {} {}",
            req.project.clone().unwrap_or_default(),
            req.issue_type.clone().unwrap_or_default(),
            req.priority.clone().unwrap_or_default()
        ));
        let id = req.notification.incident_id.clone().unwrap_or_default();
        let mut t = self.tickets.lock().unwrap();
        let n = t.len();
        let key = t
            .entry(id)
            .or_insert_with(|| format!("OPS-{}", n + 1))
            .clone();
        ok(TicketRef {
            system: system.into(),
            key,
            url: None,
        })
    }
    fn annotate<'a>(
        &'a self,
        dashboard: &'a str,
        a: &'a Annotation,
    ) -> BoxFuture<'a, HostResult<String>> {
        self.call(format!("annotate {dashboard} {}", a.tags.join(",")));
        ok("1".into())
    }
    fn metric_values<'a>(
        &'a self,
        metric: &'a str,
        _labels: &'a BTreeMap<String, String>,
        from: TimestampMs,
        _to: TimestampMs,
    ) -> BoxFuture<'a, HostResult<Vec<f64>>> {
        self.call(format!("metric {metric}"));
        let after = from >= 10 * D;
        ok(vec![if after { self.regression } else { 1.0 }; 5])
    }
    fn http<'a>(
        &'a self,
        call: &'a aiops_workflow::host::HttpCall,
    ) -> BoxFuture<'a, HostResult<Value>> {
        self.call(format!(
            "http {} {} {}",
            call.method,
            call.url,
            call.body.clone().unwrap_or_default()
        ));
        ok(json!({"status": 200}))
    }
    fn wait<'a>(&'a self, ms: i64) -> BoxFuture<'a, ()> {
        self.call(format!("wait {ms}"));
        Box::pin(async {})
    }
}

fn seed() -> WorkflowSet {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/workflows/seed.yaml");
    WorkflowSet::load(&p, &Registry::builtin()).unwrap()
}

fn remediation() -> Remediation {
    let cmd = |program: &str, args: &[&str], rollback: Option<&str>| CommandSpec {
        program: program.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        rollback: rollback.map(String::from),
        timeout: None,
    };
    let mut r = Remediation::default();
    r.commands.insert(
        "restart".into(),
        cmd("echo", &["restart", "{{ alert.labels.service }}"], None),
    );
    r.commands
        .insert("broken".into(), cmd("false", &[], Some("undo")));
    r.commands
        .insert("undo".into(), cmd("echo", &["undo"], None));
    r.commands.insert(
        "kubectl_rollout_undo".into(),
        cmd(
            "echo",
            &["rollout", "undo", "deployment/{{ event.name }}"],
            None,
        ),
    );
    r.defaults
        .insert("rollback_deployment".into(), "kubectl_rollout_undo".into());
    r
}

fn engine(host: Arc<TestHost>, set: WorkflowSet, registry: Registry) -> Engine {
    Engine::new(set, registry, host, remediation())
}

fn critical_alert() -> TriggerEvent {
    let labels = Labels::try_from_pairs([
        ("alertname", "HighErrorRate"),
        ("service", "checkout"),
        ("severity", "critical"),
    ])
    .unwrap();
    TriggerEvent::Alert {
        alert: Alert::firing(labels, 9 * D).unwrap(),
        incident: None,
    }
}

#[tokio::test]
async fn alert_response_remediates_only_above_the_confidence_threshold() {
    for (confidence, runs) in [(0.9, true), (0.5, false)] {
        let host = Arc::new(TestHost {
            confidence,
            remediation: Some("restart".into()),
            ..Default::default()
        });
        let e = engine(host.clone(), seed(), Registry::builtin());
        assert_eq!(e.triggered_by(&critical_alert()), ["alert_response"]);
        let r = e
            .run("alert_response", &critical_alert(), &RunOptions::default())
            .await
            .unwrap();
        assert_eq!(r.status, Status::Succeeded, "{r:#?}");
        let step = r.step("attempt_auto_remediation").unwrap();
        assert_eq!(step.condition.as_ref().unwrap().value, runs);
        let ticket = r.step("create_incident").unwrap();
        assert_eq!(ticket.input.as_ref().unwrap()["priority"], "critical");
        let calls = host.calls();
        assert!(
            calls.contains(&"ticket jira OPS Incident critical".to_string()),
            "{calls:?}"
        );
        assert!(
            calls.iter().any(|c| c.starts_with("notify slack")),
            "{calls:?}"
        );
        assert!(
            calls.iter().any(|c| c.starts_with("notify pagerduty")),
            "{calls:?}"
        );
        if runs {
            assert_eq!(step.status, Status::Succeeded, "{step:#?}");
            assert_eq!(
                step.output.as_ref().unwrap()["stdout"],
                "restart checkout\n"
            );
            assert_eq!(r.audit.len(), 1);
            assert_eq!(r.audit[0].outcome, "succeeded");
            assert_eq!(r.audit[0].argv, ["echo", "restart", "checkout"]);
        } else {
            assert_eq!(step.status, Status::Skipped);
            assert!(r.audit.is_empty());
        }
    }
}

#[tokio::test]
async fn dry_run_calls_nothing_and_shows_what_each_step_would_do() {
    let host = Arc::new(TestHost::default());
    let e = engine(host.clone(), seed(), Registry::builtin());
    let mut opts = RunOptions {
        dry_run: true,
        ..Default::default()
    };
    let r = e
        .run("alert_response", &critical_alert(), &opts)
        .await
        .unwrap();
    assert!(host.calls().is_empty(), "{:?}", host.calls());
    let t = r.step("create_incident").unwrap();
    assert_eq!(t.status, Status::WouldRun);
    assert_eq!(t.input.as_ref().unwrap()["priority"], "critical");
    assert_eq!(t.systems, ["jira"]);
    // The sample output has confidence 0: the condition is decided false...
    assert_eq!(
        r.step("attempt_auto_remediation").unwrap().status,
        Status::Skipped
    );
    // ...and with an assumed RCA it would run.
    opts.assume.insert(
        "analyze_root_cause".into(),
        json!({"confidence": 0.95, "root_cause": "db", "candidates": [], "remediation": "restart"}),
    );
    let r = e
        .run("alert_response", &critical_alert(), &opts)
        .await
        .unwrap();
    assert_eq!(
        r.step("attempt_auto_remediation").unwrap().status,
        Status::WouldRun
    );
    assert!(host.calls().is_empty());
    assert!(r.audit.is_empty());
    // Systems the host lacks are said so.
    let bare = Engine::new(
        seed(),
        Registry::builtin(),
        Arc::new(aiops_workflow::NoHost),
        Remediation::default(),
    );
    let r = bare
        .run("alert_response", &critical_alert(), &opts)
        .await
        .unwrap();
    assert_eq!(
        r.step("notify_team").unwrap().systems,
        ["slack (not configured)", "pagerduty (not configured)"]
    );
    // The record is serialisable.
    let text = serde_json::to_string(&r).unwrap();
    let back: aiops_workflow::RunRecord = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
}

#[tokio::test]
async fn a_command_not_on_the_allow_list_is_refused_and_audited() {
    let host = Arc::new(TestHost {
        confidence: 0.9,
        remediation: Some("rm_everything".into()),
        ..Default::default()
    });
    let e = engine(host, seed(), Registry::builtin());
    let r = e
        .run("alert_response", &critical_alert(), &RunOptions::default())
        .await
        .unwrap();
    let s = r.step("attempt_auto_remediation").unwrap();
    assert_eq!(s.status, Status::Failed);
    assert_eq!(s.attempts.len(), 1);
    assert!(
        s.error
            .as_ref()
            .unwrap()
            .contains("not on the remediation allow-list"),
        "{s:#?}"
    );
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.audit[0].outcome, "refused");
    assert_eq!(r.audit[0].target, "rm_everything");
    assert!(r.audit[0].argv.is_empty());
    // The compensation ran (rollback_on_failure) and found nothing to undo: refused too.
    assert_eq!(r.audit.len(), 2);
}

#[tokio::test]
async fn exhausting_max_attempts_rolls_back() {
    let yaml = "workflows:\n  fix:\n    trigger: {type: manual}\n    steps:\n      - name: restart\n        action: execute_remediation\n        max_attempts: 2\n        backoff: 1ms\n        params:\n          command: broken\n          rollback_on_failure: true\n";
    let set = WorkflowSet::parse(yaml, None, &Registry::builtin()).unwrap();
    let e = engine(Arc::new(TestHost::default()), set, Registry::builtin());
    let ev = TriggerEvent::Manual { inputs: json!({}) };
    let r = e.run("fix", &ev, &RunOptions::default()).await.unwrap();
    let s = r.step("restart").unwrap();
    assert_eq!(s.status, Status::Failed);
    assert_eq!(s.attempts.len(), 2);
    assert!(
        s.error.as_ref().unwrap().contains("exited with 1"),
        "{s:#?}"
    );
    let rb = s.rollback.as_ref().unwrap();
    assert_eq!(rb.status, Status::Succeeded, "{rb:#?}");
    assert_eq!(rb.output.as_ref().unwrap()["stdout"], "undo\n");
    let outcomes: Vec<(&str, &str)> = r
        .audit
        .iter()
        .map(|a| (a.action.as_str(), a.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("execute_remediation", "failed"),
            ("execute_remediation", "failed"),
            ("rollback:execute_remediation", "succeeded")
        ]
    );
}

/// Fails `fail` times, then succeeds; or sleeps a long time.
#[derive(Debug)]
struct Flaky {
    left: Mutex<u32>,
    slow: bool,
}

impl Action for Flaky {
    fn name(&self) -> &'static str {
        if self.slow { "slow" } else { "flaky" }
    }
    fn doc(&self) -> &'static str {
        "test"
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[]
    }
    fn output_sample(&self) -> Value {
        json!({"ok": true})
    }
    fn execute<'a>(
        &'a self,
        _c: &'a ActionCtx<'a>,
        _p: &'a Value,
    ) -> BoxFuture<'a, Result<Value, ActionError>> {
        Box::pin(async move {
            if self.slow {
                tokio::time::sleep(std::time::Duration::from_secs(10)).await;
            }
            let mut left = self.left.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                return Err(ActionError::Failed("not yet".into()));
            }
            Ok(json!({"ok": true}))
        })
    }
}

fn with_flaky() -> Registry {
    let mut r = Registry::builtin();
    r.register(Arc::new(Flaky {
        left: Mutex::new(2),
        slow: false,
    }));
    r.register(Arc::new(Flaky {
        left: Mutex::new(0),
        slow: true,
    }));
    r
}

#[tokio::test]
async fn a_step_failing_twice_succeeds_on_the_third_attempt_and_a_slow_one_times_out() {
    let yaml = "workflows:\n  w:\n    trigger: {type: manual}\n    steps:\n      - name: a\n        action: flaky\n        max_attempts: 3\n        backoff: 1ms\n      - name: b\n        action: slow\n        timeout: 50ms\n        continue_on_error: true\n      - name: c\n        condition: \"{{ steps.a.output.ok and steps.b.status == 'failed' }}\"\n        action: flaky\n";
    let reg = with_flaky();
    let set = WorkflowSet::parse(yaml, None, &reg).unwrap();
    let e = engine(Arc::new(TestHost::default()), set, reg);
    let started = std::time::Instant::now();
    let r = e
        .run(
            "w",
            &TriggerEvent::Manual { inputs: json!({}) },
            &RunOptions::default(),
        )
        .await
        .unwrap();
    assert!(started.elapsed().as_secs() < 5);
    let a = r.step("a").unwrap();
    assert_eq!(a.status, Status::Succeeded);
    assert_eq!(a.attempts.len(), 3);
    assert!(a.attempts[0].error.is_some() && a.attempts[2].error.is_none());
    let b = r.step("b").unwrap();
    assert_eq!(b.status, Status::Failed);
    assert!(
        b.error.as_ref().unwrap().contains("timed out after 50 ms"),
        "{b:#?}"
    );
    assert_eq!(r.step("c").unwrap().status, Status::Succeeded);
    assert_eq!(r.status, Status::Succeeded);
}

#[tokio::test]
async fn foreach_runs_once_per_item_and_workflows_call_workflows() {
    let yaml = r#"workflows:
  main:
    trigger: {type: alert}
    steps:
      - name: ctx
        action: fetch_context
        params: {include: [related_alerts]}
      - name: tell
        foreach: "{{ context.related_alerts }}"
        action: send_notification
        params:
          channels: [slack]
          title: "related: {{ item.name }}"
      - name: sub
        action: run_workflow
        params:
          workflow: helper
          inputs: {who: "{{ alert.labels.service }}"}
  helper:
    trigger: {type: manual}
    steps:
      - name: say
        action: send_notification
        params:
          channels: "{{ ['pagerduty'] }}"
          title: "from helper for {{ inputs.who }}"
"#;
    let host = Arc::new(TestHost::default());
    let set = WorkflowSet::parse(yaml, None, &Registry::builtin()).unwrap();
    let e = engine(host.clone(), set, Registry::builtin());
    let r = e
        .run("main", &critical_alert(), &RunOptions::default())
        .await
        .unwrap();
    assert_eq!(r.status, Status::Succeeded, "{r:#?}");
    let calls = host.calls();
    assert!(
        calls.contains(&"notify slack related: a1".to_string()),
        "{calls:?}"
    );
    assert!(
        calls.contains(&"notify slack related: a2".to_string()),
        "{calls:?}"
    );
    assert!(
        calls.contains(&"notify pagerduty from helper for checkout".to_string()),
        "{calls:?}"
    );
    assert_eq!(
        r.step("tell")
            .unwrap()
            .output
            .as_ref()
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        r.step("sub").unwrap().output.as_ref().unwrap()["status"],
        "succeeded"
    );
}

#[tokio::test]
async fn capacity_runs_on_schedule_and_tickets_only_under_three_days() {
    for (saturation, ticket) in [(Some(2 * D), true), (Some(5 * D), false), (None, false)] {
        let host = Arc::new(TestHost {
            saturation_ms: saturation,
            ..Default::default()
        });
        let e = engine(host.clone(), seed(), Registry::builtin());
        // The schedule fires at 06:00, not at 07:00.
        assert!(
            e.triggered_by(&TriggerEvent::Schedule { time: 7 * H })
                .is_empty()
        );
        let ev = TriggerEvent::Schedule { time: 6 * H };
        assert_eq!(e.triggered_by(&ev), ["capacity_alert"]);
        let r = e
            .handle(&mut Throttle::default(), &ev, &RunOptions::default())
            .await;
        assert_eq!(r.len(), 1);
        let r = &r[0];
        assert_eq!(r.status, Status::Succeeded, "{r:#?}");
        let t = r.step("create_capacity_ticket").unwrap();
        assert_eq!(
            t.status == Status::Succeeded,
            ticket,
            "{saturation:?} {t:#?}"
        );
        let rec = r.step("generate_recommendations").unwrap();
        assert_eq!(rec.status == Status::Succeeded, saturation.is_some());
        let th = r.step("check_thresholds").unwrap().output.clone().unwrap();
        assert_eq!(
            th["status"],
            if saturation.is_some() {
                "critical"
            } else {
                "warning"
            }
        );
        assert_eq!(
            host.calls()
                .iter()
                .filter(|c| c.starts_with("ticket"))
                .count(),
            usize::from(ticket)
        );
    }
}

#[tokio::test]
async fn a_deployment_regression_rolls_back_and_none_leaves_it_alone() {
    for (ratio, rolls_back) in [(3.0, true), (1.1, false)] {
        let host = Arc::new(TestHost {
            regression: ratio,
            ..Default::default()
        });
        let e = engine(host.clone(), seed(), Registry::builtin());
        let ev = TriggerEvent::from_json(&json!({
            "source": "kubernetes", "event_type": "deployment", "name": "checkout",
            "time": 10 * D, "labels": {"service": "checkout"}
        }))
        .unwrap();
        assert_eq!(e.triggered_by(&ev), ["deployment_monitoring"]);
        let r = e
            .run("deployment_monitoring", &ev, &RunOptions::default())
            .await
            .unwrap();
        assert_eq!(r.status, Status::Succeeded, "{r:#?}");
        let reg = r.step("detect_regression").unwrap().output.clone().unwrap();
        assert_eq!(reg["detected"], rolls_back);
        let rb = r.step("auto_rollback").unwrap();
        if rolls_back {
            assert_eq!(reg["severity"], "critical");
            assert_eq!(rb.status, Status::Succeeded, "{rb:#?}");
            assert_eq!(
                rb.output.as_ref().unwrap()["stdout"],
                "rollout undo deployment/checkout\n"
            );
            assert_eq!(
                r.audit[0].argv,
                ["echo", "rollout", "undo", "deployment/checkout"]
            );
            let calls = host.calls();
            assert!(
                calls.iter().any(|c| c.starts_with("notify default")),
                "{calls:?}"
            );
            assert!(
                calls.iter().any(|c| c.starts_with("ticket default")),
                "{calls:?}"
            );
        } else {
            assert_eq!(rb.status, Status::Skipped);
            assert!(r.audit.is_empty());
        }
        assert!(
            host.calls()
                .contains(&"annotate production-overview aiops,deployment".to_string())
        );
    }
}

#[tokio::test]
async fn one_run_per_incident_until_it_resolves() {
    let host = Arc::new(TestHost {
        confidence: 0.5,
        ..Default::default()
    });
    let e = engine(host.clone(), seed(), Registry::builtin());
    let mut t = Throttle::default();
    let ev = critical_alert();
    let first = e.handle(&mut t, &ev, &RunOptions::default()).await;
    assert_eq!(first[0].status, Status::Succeeded);
    let second = e.handle(&mut t, &ev, &RunOptions::default()).await;
    assert_eq!(second[0].status, Status::Throttled);
    let TriggerEvent::Alert { mut alert, .. } = ev.clone() else {
        unreachable!()
    };
    alert.status = aiops_core::AlertStatus::Resolved;
    let resolved = TriggerEvent::Alert {
        alert,
        incident: None,
    };
    assert!(
        e.handle(&mut t, &resolved, &RunOptions::default())
            .await
            .is_empty()
    );
    assert!(t.active.is_empty());
    let again = e.handle(&mut t, &ev, &RunOptions::default()).await;
    assert_eq!(again[0].status, Status::Succeeded);
    assert_eq!(
        host.calls()
            .iter()
            .filter(|c| c.starts_with("ticket"))
            .count(),
        2
    );
}

#[tokio::test]
async fn scale_goes_through_an_allow_listed_http_target() {
    let yaml = "workflows:\n  grow:\n    trigger: {type: manual}\n    steps:\n      - name: up\n        action: scale\n        params:\n          target: scale_api\n          replicas: \"{{ inputs.replicas }}\"\n          args: {service: cart}\n";
    let set = WorkflowSet::parse(yaml, None, &Registry::builtin()).unwrap();
    let mut rem = remediation();
    rem.http.insert(
        "scale_api".into(),
        aiops_workflow::host::HttpTarget {
            method: "POST".into(),
            url: "https://ops.example/scale/{{ params.args.service }}".into(),
            body: Some(json!({"replicas": "{{ params.replicas }}"})),
            rollback: None,
        },
    );
    let host = Arc::new(TestHost::default());
    let e = Engine::new(set, Registry::builtin(), host.clone(), rem);
    let ev = TriggerEvent::Manual {
        inputs: json!({"replicas": 4}),
    };
    let r = e.run("grow", &ev, &RunOptions::default()).await.unwrap();
    assert_eq!(r.status, Status::Succeeded, "{r:#?}");
    assert_eq!(r.step("up").unwrap().input.as_ref().unwrap()["replicas"], 4);
    assert_eq!(
        host.calls(),
        [r#"http POST https://ops.example/scale/cart {"replicas":4}"#]
    );
    assert_eq!(r.audit[0].argv, ["POST", "https://ops.example/scale/cart"]);
}

#[test]
fn events_read_as_alerts_incidents_and_events() {
    let a = TriggerEvent::from_json(&json!([{"labels": {"alertname": "A", "severity": "high"}}]))
        .unwrap();
    assert!(matches!(a, TriggerEvent::Alert { .. }));
    assert_eq!(a.context()["alert"]["severity"], "high");
    let e = TriggerEvent::from_json(&json!({"source": "kubernetes", "event_type": "deployment"}))
        .unwrap();
    assert_eq!(e.context()["event"]["source"], "kubernetes");
    assert!(TriggerEvent::from_json(&json!({"what": 1})).is_err());
    // A high alert starts alert_response; a low one does not.
    let set = seed();
    let eng = Engine::new(
        set,
        Registry::builtin(),
        Arc::new(aiops_workflow::NoHost),
        Remediation::default(),
    );
    assert_eq!(eng.triggered_by(&a), ["alert_response"]);
    let low =
        TriggerEvent::from_json(&json!({"labels": {"alertname": "A", "severity": "low"}})).unwrap();
    assert!(eng.triggered_by(&low).is_empty());
}

#[tokio::test]
async fn a_step_timeout_stops_its_command_and_keeps_its_audit_entry() {
    let yaml = "workflows:\n  w:\n    trigger: {type: manual}\n    steps:\n      - name: hang\n        action: execute_remediation\n        timeout: 100ms\n        params: {command: sleepy}\n";
    let set = WorkflowSet::parse(yaml, None, &Registry::builtin()).unwrap();
    let mut rem = remediation();
    rem.commands.insert(
        "sleepy".into(),
        CommandSpec {
            program: "sleep".into(),
            args: vec!["30".into()],
            rollback: None,
            timeout: None,
        },
    );
    let e = Engine::new(set, Registry::builtin(), Arc::new(TestHost::default()), rem);
    let started = std::time::Instant::now();
    let r = e
        .run(
            "w",
            &TriggerEvent::Manual { inputs: json!({}) },
            &RunOptions::default(),
        )
        .await
        .unwrap();
    assert!(started.elapsed().as_secs() < 5);
    let s = r.step("hang").unwrap();
    assert!(s.error.as_ref().unwrap().contains("timed out"), "{s:#?}");
    assert_eq!(r.audit.len(), 1);
    assert_eq!(r.audit[0].outcome, "started");
    assert_eq!(r.audit[0].argv, ["sleep", "30"]);
}
