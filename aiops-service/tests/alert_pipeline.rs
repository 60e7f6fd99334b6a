//! The alert pipeline end to end on an in-memory store: alerts into incidents, dedup,
//! operators' acknowledgements and resolutions, crash replay, snapshots, ticks and cursors.

use std::collections::BTreeSet;
use std::sync::Arc;

use aiops_core::{Alert, AlertStatus, Labels};
use aiops_service::ServiceError;
use aiops_service::alerting::{
    AlertPipeline, AlertQuery, AlertStreamEvent, AlertsConfig, IncidentQuery, Masker,
};
use aiops_store::{Store, StoreOptions};

const M: i64 = 60_000;
const T0: i64 = 1_700_000_000_000;

async fn store() -> Store {
    Store::open("sqlite::memory:", &StoreOptions::default())
        .await
        .unwrap()
}

fn config() -> AlertsConfig {
    AlertsConfig {
        engine: aiops_alerts::Config::from_yaml("correlation: {resolve_grace: 1m}").unwrap(),
        ..Default::default()
    }
}

async fn pipeline(store: &Store) -> Arc<AlertPipeline> {
    AlertPipeline::new(store.clone(), config(), None)
        .await
        .unwrap()
}

fn alert(name: &str, service: &str, starts_at: i64) -> Alert {
    let labels = Labels::try_from_pairs([
        ("alertname", name),
        ("service", service),
        ("severity", "critical"),
    ])
    .unwrap();
    let mut a = Alert::firing(labels, starts_at).unwrap();
    a.annotations
        .insert("summary".into(), "page ops@example.com".into());
    a
}

fn resolved(mut a: Alert, at: i64) -> Alert {
    a.status = AlertStatus::Resolved;
    a.ends_at = Some(at);
    a
}

fn fp(a: &Alert) -> String {
    a.fingerprint.to_string()
}

fn batch() -> Vec<Alert> {
    vec![
        alert("HighCpu", "api", T0),
        alert("HighLatency", "api", T0),
        alert("DiskFull", "db", T0),
    ]
}

async fn kinds(p: &AlertPipeline, id: &str) -> Vec<String> {
    let d = p.get_incident(id).await.unwrap();
    d.timeline.into_iter().map(|e| e.kind).collect()
}

async fn all_incidents(p: &AlertPipeline) -> Vec<(String, String, usize)> {
    let q = IncidentQuery {
        limit: Some(1000),
        ..Default::default()
    };
    let mut v: Vec<_> = p
        .list_incidents(&q)
        .await
        .unwrap()
        .incidents
        .into_iter()
        .map(|i| (i.incident_id, i.status, i.alert_count))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn alerts_become_incidents_and_a_resent_batch_opens_none() {
    let s = store().await;
    let masker: Masker = Arc::new(|t: &str| t.replace("ops@example.com", "<email>"));
    let p = AlertPipeline::with_masker(s.clone(), config(), None, Some(masker))
        .await
        .unwrap();
    let mut events = p.subscribe();
    let r = p.receive(batch(), "alertmanager", T0).await.unwrap();
    assert_eq!((r.received, r.duplicates, r.muted), (3, 0, 0));
    assert_eq!(r.opened, ["inc-1", "inc-2"]);
    assert_eq!(
        all_incidents(&p).await,
        [
            ("inc-1".to_string(), "open".to_string(), 2),
            ("inc-2".to_string(), "open".to_string(), 1)
        ]
    );
    let d = p.get_incident("inc-1").await.unwrap();
    assert_eq!(d.alerts.len(), 2);
    assert_eq!(d.incident.severity, "critical");
    assert_eq!(d.status_changes.len(), 1);
    assert_eq!(d.status_changes[0].status, "open");
    assert_eq!(
        kinds(&p, "inc-1").await,
        ["opened", "alert_added", "alert_added"]
    );
    // Annotations are masked before they are stored (rows and log).
    let a = p.get_alert(&fp(&batch()[0])).await.unwrap();
    assert_eq!(a.annotations["summary"], "page <email>");
    assert_eq!(a.status, "firing");
    assert_eq!(a.incident_id.as_deref(), Some("inc-1"));
    assert_eq!(a.severity.as_deref(), Some("critical"));
    assert!(
        s.alert_log_after(0)
            .await
            .unwrap()
            .iter()
            .all(|e| !e.body.contains("ops@example.com"))
    );
    // Subscribers saw the three alerts and the two incidents.
    let mut seen = (0, 0);
    while let Ok(e) = events.try_recv() {
        match e {
            AlertStreamEvent::Alert(_) => seen.0 += 1,
            AlertStreamEvent::Incident(_) => seen.1 += 1,
        }
    }
    assert_eq!(seen, (3, 2));
    // The same batch again (Alertmanager re-sends): duplicates, no new incident or event.
    let r = p.receive(batch(), "alertmanager", T0 + M).await.unwrap();
    assert_eq!((r.duplicates, r.opened.len()), (3, 0));
    assert_eq!(all_incidents(&p).await.len(), 2);
    assert_eq!(kinds(&p, "inc-1").await.len(), 3);
    assert_eq!(p.stats().await.unwrap().incidents, 2);
    assert!(matches!(
        p.get_incident("inc-9").await,
        Err(ServiceError::Store(
            aiops_store::StoreError::NotFound { .. }
        ))
    ));
}

#[tokio::test]
async fn a_source_resolve_wins_over_an_acknowledgement() {
    let s = store().await;
    let p = pipeline(&s).await;
    let a = alert("HighCpu", "api", T0);
    p.receive(vec![a.clone()], "alertmanager", T0)
        .await
        .unwrap();
    let r = p
        .acknowledge(&fp(&a), "alice", Some("looking"), T0 + 1)
        .await
        .unwrap();
    assert_eq!(
        (r.alert_id.as_str(), r.status.as_str()),
        (fp(&a).as_str(), "acknowledged")
    );
    // Still firing at the source: the acknowledgement holds.
    p.receive(vec![a.clone()], "alertmanager", T0 + M)
        .await
        .unwrap();
    let v = p.get_alert(&fp(&a)).await.unwrap();
    assert_eq!(v.status, "acknowledged");
    assert_eq!(v.acknowledged_by.as_deref(), Some("alice"));
    assert_eq!(v.comment.as_deref(), Some("looking"));
    // The source resolves it: resolved, and who acknowledged it stays on record.
    p.receive(
        vec![resolved(a.clone(), T0 + 2 * M)],
        "alertmanager",
        T0 + 2 * M,
    )
    .await
    .unwrap();
    let v = p.get_alert(&fp(&a)).await.unwrap();
    assert_eq!(v.status, "resolved");
    assert_eq!(v.acknowledged_by.as_deref(), Some("alice"));
    assert_eq!(v.resolved_by, None);
    assert!(
        kinds(&p, "inc-1")
            .await
            .contains(&"acknowledged".to_string())
    );
    // Acknowledging a resolved alert changes nothing; an unknown one is a 404.
    let r = p
        .acknowledge(&fp(&a), "bob", None, T0 + 3 * M)
        .await
        .unwrap();
    assert_eq!(r.status, "resolved");
    let e = p
        .acknowledge("0123456789abcdef", "bob", None, T0)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 404);
    assert_eq!(
        p.resolve("0123456789abcdef", "bob", "x", T0)
            .await
            .unwrap_err()
            .status(),
        404
    );
}

#[tokio::test]
async fn a_manual_resolve_holds_until_the_alert_fires_again() {
    let s = store().await;
    let p = pipeline(&s).await;
    let a = alert("HighCpu", "api", T0);
    p.receive(vec![a.clone()], "alertmanager", T0)
        .await
        .unwrap();
    let r = p
        .resolve(&fp(&a), "bob", "restarted", T0 + 1)
        .await
        .unwrap();
    assert_eq!(r.status, "resolved");
    let events = kinds(&p, "inc-1").await.len();
    // Resolving twice is idempotent.
    p.resolve(&fp(&a), "bob", "restarted", T0 + 2)
        .await
        .unwrap();
    assert_eq!(kinds(&p, "inc-1").await.len(), events);
    // The source keeps sending the same firing alert: the resolution holds.
    p.receive(vec![a.clone()], "alertmanager", T0 + M)
        .await
        .unwrap();
    let v = p.get_alert(&fp(&a)).await.unwrap();
    assert_eq!(v.status, "resolved");
    assert_eq!(v.resolved_by.as_deref(), Some("bob"));
    assert_eq!(v.resolution.as_deref(), Some("restarted"));
    // It fires again with a new startsAt: firing, the old resolution no longer shown.
    let again = alert("HighCpu", "api", T0 + 10 * M);
    p.receive(vec![again.clone()], "alertmanager", T0 + 10 * M)
        .await
        .unwrap();
    let v = p.get_alert(&fp(&a)).await.unwrap();
    assert_eq!(v.status, "firing");
    assert_eq!((v.resolved_by, v.resolution), (None, None));
    assert_eq!(v.starts_at, T0 + 10 * M);
}

#[tokio::test]
async fn a_crash_after_an_acknowledged_batch_loses_nothing() {
    let s = store().await;
    let p = pipeline(&s).await;
    p.receive(batch(), "alertmanager", T0).await.unwrap();
    p.receive(vec![alert("Errors", "api", T0 + M)], "webhook", T0 + M)
        .await
        .unwrap();
    let q = AlertQuery {
        limit: Some(100),
        ..Default::default()
    };
    let alerts_before = p.list_alerts(&q).await.unwrap();
    let incidents_before = all_incidents(&p).await;
    let events_before = kinds(&p, "inc-1").await;
    // Dropped without a snapshot: the new pipeline replays the whole log.
    drop(p);
    assert!(s.value("alerts.engine").await.unwrap().is_none());
    let p = pipeline(&s).await;
    assert_eq!(p.list_alerts(&q).await.unwrap(), alerts_before);
    assert_eq!(all_incidents(&p).await, incidents_before);
    assert_eq!(kinds(&p, "inc-1").await, events_before);
    assert_eq!(p.stats().await.unwrap().alerts_in, 4);
    // The client re-sends what it sent: duplicates, no second incident.
    let r = p
        .receive(batch(), "alertmanager", T0 + 2 * M)
        .await
        .unwrap();
    assert_eq!((r.duplicates, r.opened.len()), (3, 0));
    // A new alert on the api joins its incident.
    let r = p
        .receive(
            vec![alert("Saturation", "api", T0 + 3 * M)],
            "alertmanager",
            T0 + 3 * M,
        )
        .await
        .unwrap();
    assert_eq!(
        (r.incidents.as_slice(), r.opened.len()),
        (["inc-1".to_string()].as_slice(), 0)
    );
    assert_eq!(all_incidents(&p).await.len(), 2);
    assert_eq!(
        kinds(&p, "inc-1").await,
        [
            "opened",
            "alert_added",
            "alert_added",
            "alert_added",
            "alert_added"
        ]
    );
}

#[tokio::test]
async fn a_snapshot_prunes_the_log_and_a_restart_resumes_from_it() {
    let s = store().await;
    let p = pipeline(&s).await;
    p.receive(batch(), "alertmanager", T0).await.unwrap();
    let seq = p.snapshot(T0).await.unwrap();
    assert!(seq > 0);
    // Only the last entry stays (its number tells other replicas how far the log went).
    assert_eq!(s.alert_log_after(0).await.unwrap().len(), 1);
    assert!(s.alert_log_after(seq).await.unwrap().is_empty());
    p.receive(vec![alert("Errors", "web", T0 + M)], "webhook", T0 + M)
        .await
        .unwrap();
    assert_eq!(s.alert_log_after(seq).await.unwrap().len(), 1);
    drop(p);
    let p = pipeline(&s).await;
    assert_eq!(p.stats().await.unwrap().alerts_in, 4);
    let mut again = batch();
    again.push(alert("Errors", "web", T0 + M));
    let r = p.receive(again, "alertmanager", T0 + 2 * M).await.unwrap();
    assert_eq!((r.duplicates, r.opened.len()), (4, 0));
    assert_eq!(all_incidents(&p).await.len(), 3);
    // Shutting down through `run` snapshots too.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(p.clone().run(async move {
        let _ = stopped.await;
    }));
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(s.alert_log_after(0).await.unwrap().len(), 1);
    let p = pipeline(&s).await;
    assert_eq!(p.stats().await.unwrap().alerts_in, 8);
}

#[tokio::test]
async fn a_tick_resolves_incidents_and_expired_alerts() {
    let s = store().await;
    let p = pipeline(&s).await;
    let a = alert("HighCpu", "api", T0);
    p.receive(vec![a.clone()], "alertmanager", T0)
        .await
        .unwrap();
    p.receive(vec![resolved(a.clone(), T0 + M)], "alertmanager", T0 + M)
        .await
        .unwrap();
    // In the grace period (1 minute) the incident stays open.
    assert_eq!(p.tick(T0 + M + 30_000).await.unwrap().incidents_changed, 0);
    assert_eq!(all_incidents(&p).await[0].1, "open");
    let r = p.tick(T0 + 3 * M).await.unwrap();
    assert_eq!(r.incidents_changed, 1);
    let d = p.get_incident("inc-1").await.unwrap();
    assert_eq!(d.incident.status, "resolved");
    assert_eq!(d.incident.resolved_at, Some(T0 + M));
    let changes: Vec<_> = d.status_changes.iter().map(|c| c.status.as_str()).collect();
    assert_eq!(changes, ["open", "resolved"]);
    // Ticking again writes nothing, and neither does a restart.
    assert_eq!(p.tick(T0 + 4 * M).await.unwrap().incidents_changed, 0);
    drop(p);
    let p = pipeline(&s).await;
    assert_eq!(p.tick(T0 + 5 * M).await.unwrap().incidents_changed, 0);
    assert_eq!(
        kinds(&p, "inc-1").await,
        ["opened", "alert_added", "resolved"]
    );
    // An alert sent without endsAt resolves `resolve_timeout` (5m) after its last arrival,
    // then its incident once the grace period has passed.
    let b = alert("Errors", "web", T0 + 6 * M);
    p.receive(vec![b.clone()], "alertmanager", T0 + 6 * M)
        .await
        .unwrap();
    assert_eq!(p.tick(T0 + 10 * M).await.unwrap().alerts_resolved, 0);
    assert_eq!(p.get_alert(&fp(&b)).await.unwrap().status, "firing");
    let r = p.tick(T0 + 11 * M).await.unwrap();
    assert_eq!(r.alerts_resolved, 1);
    assert_eq!(p.get_alert(&fp(&b)).await.unwrap().status, "resolved");
    p.tick(T0 + 13 * M).await.unwrap();
    assert_eq!(
        all_incidents(&p).await,
        [
            ("inc-1".to_string(), "resolved".to_string(), 1),
            ("inc-2".to_string(), "resolved".to_string(), 1)
        ]
    );
}

#[tokio::test]
async fn cursors_page_through_everything_exactly_once() {
    let s = store().await;
    let p = pipeline(&s).await;
    // 23 services, some sharing an update time.
    for i in 0..23 {
        let a = alert("Down", &format!("svc{i:02}"), T0);
        p.receive(vec![a], "alertmanager", T0 + (i / 3) * 1000)
            .await
            .unwrap();
    }
    let mut seen = BTreeSet::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = p
            .list_alerts(&AlertQuery {
                limit: Some(5),
                cursor: cursor.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.total, 23);
        for a in page.alerts {
            assert!(seen.insert(a.alert_id));
        }
        pages += 1;
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (23, 5));
    let mut seen = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = p
            .list_incidents(&IncidentQuery {
                status: Some("open".into()),
                severity: Some("critical".into()),
                limit: Some(4),
                cursor: cursor.clone(),
            })
            .await
            .unwrap();
        assert_eq!(page.total, 23);
        for i in page.incidents {
            assert!(seen.insert(i.incident_id));
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 23);
    // Filters and bad parameters.
    let q = AlertQuery {
        severity: Some("warning".into()),
        ..Default::default()
    };
    assert_eq!(p.list_alerts(&q).await.unwrap().total, 0);
    for bad in [
        AlertQuery {
            cursor: Some("not a cursor".into()),
            ..Default::default()
        },
        AlertQuery {
            severity: Some("bogus".into()),
            ..Default::default()
        },
        AlertQuery {
            status: Some("open".into()),
            ..Default::default()
        },
        AlertQuery {
            limit: Some(0),
            ..Default::default()
        },
    ] {
        let e = p.list_alerts(&bad).await.unwrap_err();
        assert!(
            matches!(e, ServiceError::InvalidParameter { .. }),
            "{bad:?}"
        );
        assert_eq!(e.status(), 400);
    }
}

#[tokio::test]
async fn a_merged_incident_hands_its_alerts_to_the_one_that_took_it() {
    let topo = aiops_core::Topology::from_json(
        r#"{"nodes": [{"id": "web", "kind": "service"}, {"id": "api", "kind": "service"},
                      {"id": "db", "kind": "database"}],
            "edges": [{"from": "web", "to": "api", "kind": "calls"},
                      {"from": "api", "to": "db", "kind": "calls"}]}"#,
    )
    .unwrap();
    let s = store().await;
    let p = AlertPipeline::new(s.clone(), config(), Some(topo.clone()))
        .await
        .unwrap();
    let db = alert("Down", "db", T0);
    p.receive(vec![alert("Errors", "web", T0)], "alertmanager", T0)
        .await
        .unwrap();
    p.receive(vec![db.clone()], "alertmanager", T0 + 1000)
        .await
        .unwrap();
    assert_eq!(all_incidents(&p).await.len(), 2);
    // The api alert links web and db: inc-2 merges into inc-1.
    let r = p
        .receive(vec![alert("Errors", "api", T0)], "alertmanager", T0 + 2000)
        .await
        .unwrap();
    assert_eq!(r.incidents, ["inc-1", "inc-2"]);
    assert_eq!(
        all_incidents(&p).await,
        [
            ("inc-1".to_string(), "open".to_string(), 3),
            ("inc-2".to_string(), "resolved".to_string(), 1)
        ]
    );
    assert_eq!(
        p.get_alert(&fp(&db)).await.unwrap().incident_id.as_deref(),
        Some("inc-1")
    );
    assert_eq!(p.get_incident("inc-1").await.unwrap().alerts.len(), 3);
    let d = p.get_incident("inc-2").await.unwrap();
    assert_eq!(
        d.status_changes.last().unwrap().reason.as_deref(),
        Some("merged into inc-1")
    );
    // A restart replays the same merge and writes nothing more.
    let before = (kinds(&p, "inc-1").await, kinds(&p, "inc-2").await);
    drop(p);
    let p = AlertPipeline::new(s.clone(), config(), Some(topo))
        .await
        .unwrap();
    assert_eq!(p.tick(T0 + 3000).await.unwrap().incidents_changed, 0);
    assert_eq!((kinds(&p, "inc-1").await, kinds(&p, "inc-2").await), before);
}

/// Whatever the number of incidents, memory and the snapshot hold the open ones: the resolved
/// ones (by the engine or by a merge) are in the store only, and the API still reads them all.
#[tokio::test]
async fn resolved_incidents_leave_memory_but_not_the_store() {
    // a -> b -> c: alerts on a and c open two incidents, b's merges them.
    let topo = aiops_core::Topology::from_json(
        r#"{"nodes": [{"id": "a", "kind": "service"}, {"id": "b", "kind": "service"},
                      {"id": "c", "kind": "service"}],
            "edges": [{"from": "a", "to": "b", "kind": "calls"},
                      {"from": "b", "to": "c", "kind": "calls"}]}"#,
    )
    .unwrap();
    let s = store().await;
    let open = |p: Arc<AlertPipeline>| async move { p.incident_memory().await.unwrap() };
    let p = AlertPipeline::new(s.clone(), config(), Some(topo.clone()))
        .await
        .unwrap();
    // Three alerts that keep firing (an `endsAt` far ahead).
    let lasting: Vec<Alert> = (0..3)
        .map(|i| {
            let mut a = alert("Saturated", &format!("keep{i}"), T0);
            a.ends_at = Some(T0 + 10_000 * M);
            a
        })
        .collect();
    p.receive(lasting.clone(), "alertmanager", T0)
        .await
        .unwrap();
    // The merge, then its resolution.
    let chain: Vec<Alert> = ["a", "c", "b"]
        .iter()
        .map(|svc| alert("Errors", svc, T0))
        .collect();
    for (k, a) in chain.iter().enumerate() {
        let t = T0 + k as i64 * 1000;
        p.receive(vec![a.clone()], "alertmanager", t).await.unwrap();
    }
    let gone = chain
        .iter()
        .map(|a| resolved(a.clone(), T0 + 5000))
        .collect();
    p.receive(gone, "alertmanager", T0 + 5000).await.unwrap();
    // The storm: 300 services fail and recover one after the other (a minute apart, the grace
    // period is a minute), with a snapshot half way.
    let n = 300;
    let storm = |i: i64| alert("Down", &format!("svc{i:03}"), T0 + (i + 1) * M);
    let mut most = 0;
    for i in 0..n {
        let t = T0 + (i + 1) * M;
        p.receive(vec![storm(i)], "alertmanager", t).await.unwrap();
        p.receive(
            vec![resolved(storm(i), t + 10_000)],
            "alertmanager",
            t + 10_000,
        )
        .await
        .unwrap();
        let m = open(p.clone()).await;
        most = most.max(m.open + m.closed).max(m.committed);
        if i == n / 2 {
            p.snapshot(t + 10_000).await.unwrap();
        }
    }
    let end = T0 + (n + 2) * M;
    p.tick(end).await.unwrap();
    // Memory held at most the 3 lasting incidents and the storm's current one.
    assert!(most <= 4, "{most}");
    let m = open(p.clone()).await;
    assert_eq!((m.open, m.closed, m.committed), (3, 0, 3));
    let metrics = p.exposition();
    assert!(metrics.contains("aiops_incidents_in_memory{state=\"open\"} 3\n"));
    assert!(metrics.contains("aiops_incidents_in_memory{state=\"closed\"} 0\n"));
    assert!(metrics.contains("aiops_incident_states_in_memory 3\n"));
    assert!(metrics.contains("aiops_correlation_waiting_alerts 0\n"));
    // The store has every incident: 3 open, the merged pair, the storm's.
    let listed = all_incidents(&p).await;
    assert_eq!(listed.len(), 3 + 2 + n as usize);
    assert_eq!(listed.iter().filter(|i| i.1 == "open").count(), 3);
    assert_eq!(
        kinds(&p, "inc-6").await,
        ["opened", "alert_added", "resolved"]
    );
    let d = p.get_incident("inc-5").await.unwrap();
    assert_eq!(d.incident.status, "resolved");
    assert_eq!(
        d.status_changes.last().unwrap().reason.as_deref(),
        Some("merged into inc-4")
    );
    assert_eq!(p.get_incident("inc-4").await.unwrap().alerts.len(), 3);
    // A crash: the restart replays the log after the snapshot (the storm's second half
    // resolves again in the engine) and writes nothing; memory is back to the open ones after
    // the first call.
    let before: Vec<Vec<String>> = {
        let mut v = Vec::new();
        for id in ["inc-4", "inc-5", "inc-6", "inc-300", "inc-305"] {
            v.push(kinds(&p, id).await);
        }
        v
    };
    drop(p);
    let p = AlertPipeline::new(s.clone(), config(), Some(topo.clone()))
        .await
        .unwrap();
    assert_eq!(p.tick(end + M).await.unwrap().incidents_changed, 0);
    let m = open(p.clone()).await;
    assert_eq!((m.open, m.closed, m.committed), (3, 0, 3));
    let mut after = Vec::new();
    for id in ["inc-4", "inc-5", "inc-6", "inc-300", "inc-305"] {
        after.push(kinds(&p, id).await);
    }
    assert_eq!(after, before);
    // The lasting alerts are still in their incidents; a storm alert firing again opens a new
    // incident with a new id.
    let r = p
        .receive(lasting.clone(), "alertmanager", end + 2 * M)
        .await
        .unwrap();
    assert_eq!((r.duplicates, r.opened.len()), (3, 0));
    let again = alert("Down", "svc000", end + 3 * M);
    let r = p
        .receive(vec![again], "alertmanager", end + 3 * M)
        .await
        .unwrap();
    let next = format!("inc-{}", 3 + 2 + n + 1);
    assert_eq!(r.opened, std::slice::from_ref(&next));
    // A snapshot holds only the open incidents, and restores.
    p.snapshot(end + 3 * M).await.unwrap();
    let snap: serde_json::Value = serde_json::from_str(
        &s.value(aiops_service::alerting::SNAPSHOT_KEY)
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let correlator = &snap["state"]["correlator"];
    assert_eq!(correlator["open"].as_object().unwrap().len(), 4);
    assert!(correlator["closed"].as_array().unwrap().is_empty());
    drop(p);
    let p = AlertPipeline::new(s.clone(), config(), Some(topo))
        .await
        .unwrap();
    let m = open(p.clone()).await;
    assert_eq!((m.open, m.closed, m.committed), (4, 0, 4));
    assert_eq!(all_incidents(&p).await.len(), 3 + 2 + n as usize + 1);
    assert_eq!(p.get_incident(&next).await.unwrap().incident.status, "open");
}

/// A snapshot saved before resolved incidents were forgotten holds all of them: it restores,
/// and the first call forgets them (their rows are in the store already) without writing them.
#[tokio::test]
async fn an_older_snapshot_full_of_resolved_incidents_restores_and_is_trimmed() {
    let s = store().await;
    let mut e = aiops_alerts::Engine::new(config().engine, None).unwrap();
    for i in 0..50 {
        let t = T0 + i * M;
        let a = alert("Down", &format!("svc{i:02}"), t);
        e.ingest(a.clone(), t).unwrap();
        e.ingest(resolved(a, t + 1000), t + 1000).unwrap();
    }
    let open = alert("Down", "still", T0 + 50 * M);
    e.ingest(open.clone(), T0 + 50 * M).unwrap();
    e.tick(T0 + 51 * M).unwrap();
    assert_eq!(e.incidents_in_memory(), (1, 50));
    let text = serde_json::json!({"seq": 0, "state": e.state()}).to_string();
    s.put_value(aiops_service::alerting::SNAPSHOT_KEY, &text, T0 + 51 * M)
        .await
        .unwrap();
    let p = pipeline(&s).await;
    let m = p.incident_memory().await.unwrap();
    assert_eq!((m.open, m.closed), (1, 50));
    // The first call: the resolved ones go (none is written: they are resolved already), the
    // open one is written, being new to this store.
    let r = p.tick(T0 + 52 * M).await.unwrap();
    assert_eq!(r.incidents_changed, 1);
    let m = p.incident_memory().await.unwrap();
    assert_eq!((m.open, m.closed, m.committed), (1, 0, 1));
    assert_eq!(
        all_incidents(&p).await,
        [("inc-51".to_string(), "open".to_string(), 1)]
    );
    // It goes on from there: the open incident keeps its alert, a new one gets a new id.
    let r = p
        .receive(
            vec![open, alert("Down", "svc00", T0 + 53 * M)],
            "alertmanager",
            T0 + 53 * M,
        )
        .await
        .unwrap();
    assert_eq!(r.opened, ["inc-52"]);
}
