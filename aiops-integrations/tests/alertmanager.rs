//! The Alertmanager client against the real thing (Debian's `prometheus-alertmanager`) on
//! 127.0.0.1: alerts pushed and read back, a silence created, seen muting an alert, expired.
//! Skipped with a message when the binary is missing (`AIOPS_REQUIRE_ALERTMANAGER=1` makes
//! that a failure).

mod common;

use aiops_core::{Alert, AlertStatus, Labels};
use aiops_integrations::alertmanager_client::{
    AlertFilter, AlertState, AlertmanagerClient, AlertmanagerParams, SilenceMatcher,
    SilenceRequest, SilenceState,
};
use aiops_integrations::traits::AlertSink;
use common::{alertmanager_or_skip, start_alertmanager};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn alert(service: &str, severity: &str, starts_at: i64) -> Alert {
    let mut a = Alert::firing(
        Labels::try_from_pairs([
            ("alertname", "HighLatency"),
            ("service", service),
            ("severity", severity),
        ])
        .unwrap(),
        starts_at,
    )
    .unwrap();
    a.annotations
        .insert("summary".into(), format!("{service} is slow"));
    a.generator_url = "http://prometheus.example/graph?g0.expr=up".into();
    a
}

#[test]
fn alerts_silences_and_their_states_round_trip_through_a_real_alertmanager() {
    let Some(binary) = alertmanager_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let am = start_alertmanager(&binary, dir.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut p = AlertmanagerParams::new(&am.url);
        p.retries = 0;
        let c = AlertmanagerClient::from_params(&p).unwrap();
        let sink: &dyn AlertSink = &c;
        assert_eq!(sink.system(), "alertmanager");
        let t0 = now_ms() - 60_000;
        let mut resolved = alert("web", "warning", t0 - 60_000);
        resolved.status = AlertStatus::Resolved;
        resolved.ends_at = Some(t0);
        sink.push(&[
            alert("cart", "critical", t0),
            alert("db", "critical", t0),
            resolved,
        ])
        .await
        .unwrap();

        // Read back: labels, annotations, times and state; a filter selects.
        let all = c.alerts(&AlertFilter::default()).await.unwrap();
        let mut services: Vec<_> = all
            .iter()
            .map(|g| g.alert.labels.get("service").unwrap().to_string())
            .collect();
        services.sort();
        // The resolved alert is not among the active ones Alertmanager lists.
        assert_eq!(services, ["cart", "db"], "{all:?}");
        let cart = c
            .alerts(&AlertFilter {
                matchers: vec![r#"service="cart""#.into()],
                ..AlertFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(cart.len(), 1, "{cart:?}");
        let g = &cart[0];
        assert_eq!(g.alert.labels, alert("cart", "critical", t0).labels);
        assert_eq!(g.alert.annotations["summary"], "cart is slow");
        assert_eq!(g.alert.starts_at, t0);
        assert_eq!(g.alert.status, AlertStatus::Firing);
        assert_eq!(
            g.alert.generator_url,
            "http://prometheus.example/graph?g0.expr=up"
        );
        assert_eq!(
            (g.state, g.receivers.as_slice()),
            (AlertState::Active, &["null".to_string()][..])
        );

        // A silence on cart: the alert reads back suppressed, silenced by it.
        let id = c
            .create_silence(&SilenceRequest {
                matchers: vec![
                    SilenceMatcher::equal("service", "cart"),
                    SilenceMatcher {
                        name: "severity".into(),
                        value: "crit.*".into(),
                        is_regex: true,
                        is_equal: true,
                    },
                ],
                starts_at: now_ms() - 1_000,
                ends_at: now_ms() + 3_600_000,
                created_by: "aiops-test".into(),
                comment: "deploy".into(),
            })
            .await
            .unwrap();
        assert!(!id.is_empty());
        let mut silenced = None;
        for _ in 0..50 {
            let got = c
                .alerts(&AlertFilter {
                    matchers: vec![r#"service="cart""#.into()],
                    ..AlertFilter::default()
                })
                .await
                .unwrap();
            if got[0].state == AlertState::Suppressed {
                silenced = Some(got[0].clone());
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let silenced =
            silenced.unwrap_or_else(|| panic!("cart never suppressed\n{}", am.log_text()));
        assert_eq!(silenced.silenced_by, std::slice::from_ref(&id));
        // silenced=false leaves it out; db is still active.
        let unsilenced = c
            .alerts(&AlertFilter {
                silenced: Some(false),
                ..AlertFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(unsilenced.len(), 1);
        assert_eq!(unsilenced[0].alert.labels.get("service"), Some("db"));
        assert_eq!(unsilenced[0].state, AlertState::Active);

        let listed = c.silences().await.unwrap();
        let s = listed.iter().find(|s| s.id == id).unwrap();
        assert_eq!(s.status, SilenceState::Active);
        assert_eq!(
            (s.created_by.as_str(), s.comment.as_str()),
            ("aiops-test", "deploy")
        );
        assert_eq!(s.matchers.len(), 2);

        // Expired: the silence reads back expired.
        c.expire_silence(&id).await.unwrap();
        let listed = c.silences().await.unwrap();
        assert_eq!(
            listed.iter().find(|s| s.id == id).unwrap().status,
            SilenceState::Expired
        );

        // Refusals come back as errors: an unknown silence, a silence Alertmanager refuses.
        assert!(
            c.expire_silence("00000000-0000-0000-0000-000000000000")
                .await
                .is_err()
        );
        let e = c
            .create_silence(&SilenceRequest {
                matchers: vec![SilenceMatcher {
                    name: "service".into(),
                    value: ".*".into(),
                    is_regex: true,
                    is_equal: true,
                }],
                starts_at: now_ms(),
                ends_at: now_ms() + 60_000,
                created_by: "aiops-test".into(),
                comment: "everything".into(),
            })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("HTTP 400"), "{e}");
        assert!(c.expire_silence("../alerts").await.is_err());
    });
}
