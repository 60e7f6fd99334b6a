//! The store's behaviours, each an `async fn(&Store)` run on every backend (`tests/sqlite.rs`
//! on an in-memory SQLite store, `tests/postgres.rs` on a throwaway PostgreSQL database).

use std::collections::BTreeMap;

use aiops_core::Labels;
use aiops_store::{
    AlertCommit, AlertFilter, AlertRow, AnomalyFilter, AuditFilter, AuditRow, DeliveryAttempt,
    EventRow, IncidentEvent, IncidentFilter, IncidentRow, IncidentUpdate, NewAnomaly, NewDelivery,
    NewSeries, SavedState, SessionRow, Store, StoreError, TokenRow, WorkflowRow, WorkflowRunRow,
};
use serde_json::json;

/// Defines one `#[tokio::test]` per behaviour, each on a store from `$open` (an async
/// expression giving `Option<Store>`; `None` skips).
#[macro_export]
macro_rules! behaviour_tests {
    ($open:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(store) = $open(stringify!($name)).await else {
                    return;
                };
                $crate::common::behaviour::$name(&store).await;
                store.close().await;
            }
        )*
    };
}

/// Every behaviour, for [`behaviour_tests!`].
#[macro_export]
macro_rules! all_behaviours {
    ($open:path) => {
        $crate::behaviour_tests!($open;
            series_get_stable_ids_and_samples_are_idempotent,
            replay_starts_after_the_saved_state,
            appended_blocks_are_read_compacted_and_replayed,
            concurrent_appends_all_land_once,
            nan_samples_are_refused_whole,
            latest_samples_read_the_blocks_once_and_agree_with_samples,
            samples_of_many_series_and_their_oldest,
            anomalies_are_unique_per_sample_filtered_and_paged,
            a_commit_logs_upserts_and_keeps_acknowledgements,
            large_commits_and_batch_lookups,
            incidents_are_filtered_and_paged,
            retention_deletes_in_batches,
            rules_are_unique_by_name_and_crud_works,
            tokens_audit_events_values_and_analyses,
            values_round_trip_exactly,
            the_delivery_outbox_is_filled_once_and_drained_in_order,
            workflows_and_runs_are_stored,
            sessions_are_found_with_their_token_and_expire,
        );
    };
}

fn series(name: &str, resource: &str) -> NewSeries {
    let labels = Labels::try_from_pairs([("__name__", name), ("service", resource)]).unwrap();
    NewSeries {
        key: format!("{labels}"),
        metric: name.into(),
        resource: resource.into(),
        labels,
    }
}

pub(crate) async fn series_get_stable_ids_and_samples_are_idempotent(s: &Store) {
    let a = series("cpu", "api");
    let b = series("mem", "api");
    let ids = s.series_ids(&[a.clone(), b.clone()], 1).await.unwrap();
    assert_ne!(ids[0], ids[1]);
    assert_eq!(
        s.series_ids(&[b, a], 2).await.unwrap(),
        vec![ids[1], ids[0]]
    );
    let rows: Vec<_> = (0..2500).map(|i| (ids[0], i * 1000, i as f64)).collect();
    assert_eq!(s.insert_samples(&rows).await.unwrap(), 2500);
    // Resent: nothing new, nothing changed.
    let resent: Vec<_> = rows.iter().map(|&(id, t, _)| (id, t, -1.0)).collect();
    assert_eq!(s.insert_samples(&resent).await.unwrap(), 0);
    let got = s.samples(ids[0], 1000, 4000, 10).await.unwrap();
    assert_eq!(got, vec![(1000, 1.0), (2000, 2.0), (3000, 3.0)]);
    assert_eq!(s.samples(ids[0], 0, i64::MAX, 2).await.unwrap().len(), 2);
    assert_eq!(
        s.samples(ids[0], 0, i64::MAX, usize::MAX / 2)
            .await
            .unwrap()
            .len(),
        2500
    );
    let row = s.series(ids[0]).await.unwrap();
    assert_eq!(row.metric, "cpu");
    assert_eq!(row.labels.get("service"), Some("api"));
    assert_eq!(row.state_t, None);
    assert!(matches!(
        s.series(ids[1] + 1000).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.series_of_resources(&["api".into()]).await.unwrap().len(),
        2
    );
    // Found by key without creating anything (in the order asked, None for unknown keys).
    let (ka, kb) = (series("cpu", "api").key, series("mem", "api").key);
    let many: Vec<String> = (0..1200).map(|i| format!("absent{i}")).collect();
    let mut keys: Vec<&str> = vec![&kb, "nope", &ka];
    keys.extend(many.iter().map(String::as_str));
    let found = s.find_series_ids(&keys).await.unwrap();
    assert_eq!(found[..3], [Some(ids[1]), None, Some(ids[0])]);
    assert!(found[3..].iter().all(Option::is_none));
    assert_eq!(s.series_heads().await.unwrap().len(), 2);
    // Log streams alike; their heads carry no state.
    let stream = |pod: &str| {
        let labels = Labels::try_from_pairs([("service", "api"), ("pod", pod)]).unwrap();
        aiops_store::NewLogStream {
            key: labels.to_string(),
            service: "api".into(),
            labels,
        }
    };
    let (x, y) = (stream("x"), stream("y"));
    let sids = s.log_stream_ids(&[x.clone(), y.clone()], 1).await.unwrap();
    assert_eq!(
        s.find_log_stream_ids(&[&y.key, "nope", &x.key])
            .await
            .unwrap(),
        [Some(sids[1]), None, Some(sids[0])]
    );
    let lines = s
        .insert_log_lines(
            &[aiops_store::NewLogLine {
                stream_id: sids[0],
                t: 1,
                line: "x".into(),
            }],
            100,
        )
        .await
        .unwrap();
    s.save_log_states(&[(sids[0], "{}".into(), lines[0])])
        .await
        .unwrap();
    let saved = s.log_streams_with_states(None).await.unwrap();
    assert_eq!(saved.iter().map(|r| r.id).collect::<Vec<_>>(), [sids[0]]);
    assert_eq!(saved[0].state.as_deref(), Some("{}"));
    assert_eq!(s.log_streams_with_states(Some(100)).await.unwrap().len(), 1);
    assert!(
        s.log_streams_with_states(Some(101))
            .await
            .unwrap()
            .is_empty()
    );
    let heads = s.log_stream_heads(Some(&sids), None, None).await.unwrap();
    assert_eq!(heads.iter().map(|h| h.id).collect::<Vec<_>>(), sids);
    assert!(
        heads
            .iter()
            .all(|h| h.state.is_none() && h.state_id.is_none())
    );
    let by_key = s
        .log_stream_heads(None, Some(&y.key), Some("api"))
        .await
        .unwrap();
    assert_eq!(by_key.len(), 1);
    assert_eq!(by_key[0].labels.get("pod"), Some("y"));
    assert!(
        s.log_stream_heads(Some(&[]), None, None)
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn replay_starts_after_the_saved_state(s: &Store) {
    let ids = s
        .series_ids(&[series("cpu", "api"), series("mem", "db")], 1)
        .await
        .unwrap();
    let rows: Vec<_> = ids
        .iter()
        .flat_map(|&id| (0..5).map(move |i| (id, i, i as f64)))
        .collect();
    s.insert_samples(&rows).await.unwrap();
    assert_eq!(s.samples_after_states().await.unwrap().len(), 10);
    s.save_states(&[SavedState {
        series_id: ids[0],
        detector: "default".into(),
        state: "{}".into(),
        state_t: 2,
    }])
    .await
    .unwrap();
    let left = s.samples_after_states().await.unwrap();
    assert_eq!(left.len(), 2 + 5);
    assert_eq!(left[0], (ids[0], 3, 3.0));
    let all = s.all_series().await.unwrap();
    assert_eq!(all[0].state.as_deref(), Some("{}"));
    assert_eq!(all[0].detector.as_deref(), Some("default"));
    assert_eq!(all[0].state_t, Some(2));
    let saved = s.series_with_states(None).await.unwrap();
    assert_eq!(saved.iter().map(|r| r.id).collect::<Vec<_>>(), [ids[0]]);
    assert_eq!(saved[0].state.as_deref(), Some("{}"));
    assert_eq!(s.series_with_states(Some(2)).await.unwrap().len(), 1);
    assert!(s.series_with_states(Some(3)).await.unwrap().is_empty());
    assert!(
        s.series_heads()
            .await
            .unwrap()
            .iter()
            .all(|r| r.state.is_none())
    );
    assert_eq!(s.delete_samples_before(3, 100).await.unwrap(), 6);
}

pub(crate) async fn appended_blocks_are_read_compacted_and_replayed(s: &Store) {
    let ids = s
        .series_ids(&[series("cpu", "api"), series("mem", "db")], 1)
        .await
        .unwrap();
    let (a, b) = (ids[0], ids[1]);
    s.insert_samples(&[(a, 0, 0.5)]).await.unwrap();
    // Two requests, unsorted, with a resent sample (stored already: kept as it was) and a
    // sample both blocks hold (the first block's value wins).
    s.append_samples(&[(b, 20, 2.0), (a, 10, 1.0), (a, 0, -1.0), (a, 30, 3.0)])
        .await
        .unwrap();
    s.append_samples(&[(a, 30, -3.0), (a, 40, 4.0), (b, 10, 1.0)])
        .await
        .unwrap();
    let want_a = vec![(0, 0.5), (10, 1.0), (30, 3.0), (40, 4.0)];
    let want_b = vec![(10, 1.0), (20, 2.0)];
    // Read before any compaction: every acknowledged sample, once.
    assert_eq!(s.samples(a, 0, 100, 100).await.unwrap(), want_a);
    assert_eq!(s.samples(a, 5, 35, 100).await.unwrap(), want_a[1..3]);
    assert_eq!(s.samples(a, 0, 100, 2).await.unwrap(), want_a[..2]);
    assert_eq!(s.samples(b, 0, 100, 100).await.unwrap(), want_b);
    s.save_states(&[SavedState {
        series_id: a,
        detector: "default".into(),
        state: "{}".into(),
        state_t: 10,
    }])
    .await
    .unwrap();
    let replay = vec![(a, 30, 3.0), (a, 40, 4.0), (b, 10, 1.0), (b, 20, 2.0)];
    assert_eq!(s.samples_after_states().await.unwrap(), replay);
    // One block at a time, then nothing left; reads unchanged.
    assert_eq!(s.compact_samples(1).await.unwrap(), 4);
    assert_eq!(s.samples(a, 0, 100, 100).await.unwrap(), want_a);
    assert_eq!(s.samples_after_states().await.unwrap(), replay);
    assert_eq!(s.compact_samples(1).await.unwrap(), 3);
    assert_eq!(s.compact_samples(1).await.unwrap(), 0);
    assert_eq!(s.samples(a, 0, 100, 100).await.unwrap(), want_a);
    assert_eq!(s.samples(b, 0, 100, 100).await.unwrap(), want_b);
    assert_eq!(s.samples_after_states().await.unwrap(), replay);
    // A direct insert counts exactly against pending blocks; retention sees blocks too.
    s.append_samples(&[(b, 30, 3.0)]).await.unwrap();
    assert_eq!(
        s.insert_samples(&[(b, 30, -3.0), (b, 40, 4.0)])
            .await
            .unwrap(),
        1
    );
    s.append_samples(&[(b, 5, 0.5)]).await.unwrap();
    assert_eq!(s.delete_samples_before(25, 100).await.unwrap(), 5);
    assert_eq!(s.samples(a, 0, 100, 100).await.unwrap(), want_a[2..]);
    assert_eq!(
        s.samples(b, 0, 100, 100).await.unwrap(),
        vec![(30, 3.0), (40, 4.0)]
    );
    assert_eq!(s.compact_samples(1000).await.unwrap(), 0);
}

/// Many appends at once (they share commits): each is stored, exactly once, when it returns,
/// and the first stored value of a sample two calls hold is the one kept.
pub(crate) async fn concurrent_appends_all_land_once(s: &Store) {
    let keys: Vec<NewSeries> = (0..4).map(|i| series("cpu", &format!("r{i}"))).collect();
    let ids = s.series_ids(&keys, 1).await.unwrap();
    const CALLS: i64 = 200;
    let mut tasks = Vec::new();
    for call in 0..CALLS {
        let (s, ids) = (s.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            // Call c holds times 10c..10c+9 of every series (unsorted: the store sorts).
            let rows: Vec<_> = (0..10)
                .rev()
                .flat_map(|k| {
                    ids.iter()
                        .map(move |&id| (id, call * 10 + k, (call * 10 + k) as f64))
                })
                .collect();
            s.append_samples(&rows).await.unwrap();
            // Acknowledged: readable at once.
            let got = s
                .samples(ids[0], call * 10, call * 10 + 10, 100)
                .await
                .unwrap();
            assert_eq!(got.len(), 10, "call {call}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let want: Vec<_> = (0..CALLS * 10).map(|t| (t, t as f64)).collect();
    for &id in &ids {
        assert_eq!(s.samples(id, 0, i64::MAX, 1_000_000).await.unwrap(), want);
    }
    // Every sample once after compaction too (blocks moved exactly once).
    let mut moved = 0;
    loop {
        match s.compact_samples(1_000).await.unwrap() {
            0 => break,
            n => moved += n,
        }
    }
    assert_eq!(moved, (CALLS * 10 * 4) as u64);
    for &id in &ids {
        assert_eq!(s.samples(id, 0, i64::MAX, 1_000_000).await.unwrap(), want);
    }
    // A sample sent twice by concurrent calls: one value, of one of them.
    let mut tasks = Vec::new();
    for v in 0..20 {
        let (s, id) = (s.clone(), ids[1]);
        tasks.push(tokio::spawn(async move {
            s.append_samples(&[(id, -1, v as f64)]).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let got = s.samples(ids[1], -1, 0, 10).await.unwrap();
    assert_eq!(got.len(), 1);
    assert!((0.0..20.0).contains(&got[0].1));
}

/// A NaN value (SQLite would store it as NULL) is a typed error naming it, and nothing of
/// that call is stored; infinities are values like any other.
pub(crate) async fn nan_samples_are_refused_whole(s: &Store) {
    let id = s.series_ids(&[series("cpu", "api")], 1).await.unwrap()[0];
    let rows = [(id, 10, 1.0), (id, 20, f64::NAN), (id, 30, 3.0)];
    let e = s.insert_samples(&rows).await.unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Core(aiops_core::CoreError::NonFinite {
                index: 1,
                timestamp: 20,
                ..
            })
        ),
        "{e:?}"
    );
    let e = s.append_samples(&rows).await.unwrap_err();
    assert!(matches!(e, StoreError::Core(_)), "{e:?}");
    assert!(s.samples(id, 0, 100, 10).await.unwrap().is_empty());
    s.append_samples(&[(id, 10, f64::INFINITY)]).await.unwrap();
    assert_eq!(
        s.insert_samples(&[(id, 20, f64::NEG_INFINITY)])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.samples(id, 0, 100, 10).await.unwrap(),
        vec![(10, f64::INFINITY), (20, f64::NEG_INFINITY)]
    );
}

/// The latest sample of many series at once is, for each, the last of [`Store::samples`]
/// over the same window: pending blocks (the first stored value of a time wins) and the
/// table (which wins over a block for the same time) alike.
pub(crate) async fn latest_samples_read_the_blocks_once_and_agree_with_samples(s: &Store) {
    let new: Vec<NewSeries> = (0..5).map(|i| series("cpu", &format!("svc-{i}"))).collect();
    let ids = s.series_ids(&new, 1).await.unwrap();
    // In the table: series 0 and 1 up to t = 30.
    s.insert_samples(&[(ids[0], 10, 1.0), (ids[0], 30, 3.0), (ids[1], 20, 2.0)])
        .await
        .unwrap();
    // Pending blocks: newer samples of 1 and 2, a time of 0 already in the table, and a
    // time of 2 stored twice (the first value stays).
    s.append_samples(&[(ids[1], 40, 4.0), (ids[2], 50, 5.0), (ids[0], 30, 99.0)])
        .await
        .unwrap();
    s.append_samples(&[(ids[2], 50, 77.0), (ids[2], 45, 4.5), (ids[3], 5, 0.5)])
        .await
        .unwrap();
    for (from, to) in [(0, 100), (0, 41), (15, 45), (41, 50), (60, 70), (50, 10)] {
        let got = s.latest_samples(&ids, from, to).await.unwrap();
        for &id in &ids {
            let want = s
                .samples(id, from, to, 1_000)
                .await
                .unwrap()
                .last()
                .copied();
            assert_eq!(
                got.get(&id).copied(),
                want,
                "series {id}, window {from}..{to}"
            );
        }
    }
    let all = s.latest_samples(&ids, 0, 100).await.unwrap();
    assert_eq!(all[&ids[0]], (30, 3.0));
    assert_eq!(all[&ids[2]], (50, 5.0));
    assert!(!all.contains_key(&ids[4]));
}

/// The samples of many series read at once: each series' own, blocks and table merged (the
/// table wins for a time in both, the first block value otherwise), oldest first, at most
/// `limit` each, an empty list for a series without any; and the oldest sample of each,
/// wherever it is.
pub(crate) async fn samples_of_many_series_and_their_oldest(s: &Store) {
    let new: Vec<NewSeries> = (0..4).map(|i| series("mem", &format!("svc-{i}"))).collect();
    let ids = s.series_ids(&new, 1).await.unwrap();
    s.insert_samples(&[(ids[0], 10, 1.0), (ids[0], 30, 3.0), (ids[1], 20, 2.0)])
        .await
        .unwrap();
    s.append_samples(&[(ids[1], 40, 4.0), (ids[0], 30, 99.0), (ids[2], 50, 5.0)])
        .await
        .unwrap();
    s.append_samples(&[(ids[2], 50, 77.0), (ids[2], 45, 4.5), (ids[1], 5, 0.5)])
        .await
        .unwrap();
    let all = s.samples_of(&ids, 0, 100, 1_000).await.unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[&ids[0]], vec![(10, 1.0), (30, 3.0)]);
    assert_eq!(all[&ids[1]], vec![(5, 0.5), (20, 2.0), (40, 4.0)]);
    assert_eq!(all[&ids[2]], vec![(45, 4.5), (50, 5.0)]);
    assert!(all[&ids[3]].is_empty());
    // A window and a limit cut each series on its own.
    let cut = s.samples_of(&ids, 10, 50, 1).await.unwrap();
    assert_eq!(cut[&ids[0]], vec![(10, 1.0)]);
    assert_eq!(cut[&ids[1]], vec![(20, 2.0)]);
    assert_eq!(cut[&ids[2]], vec![(45, 4.5)]);
    // Repeated ids and an empty window.
    let twice = s.samples_of(&[ids[1], ids[1]], 0, 100, 10).await.unwrap();
    assert_eq!(twice.len(), 1);
    assert_eq!(twice[&ids[1]].len(), 3);
    assert!(s.samples_of(&ids, 50, 10, 10).await.unwrap()[&ids[2]].is_empty());
    // The oldest sample: from the table (series 0), from a block older than the table
    // (series 1), from blocks alone (series 2); none for series 3.
    let oldest = s.oldest_samples(&ids).await.unwrap();
    assert_eq!(oldest.get(&ids[0]), Some(&10));
    assert_eq!(oldest.get(&ids[1]), Some(&5));
    assert_eq!(oldest.get(&ids[2]), Some(&45));
    assert_eq!(oldest.get(&ids[3]), None);
    // After compaction, the table alone answers, with the same result.
    s.compact_samples(1_000_000).await.unwrap();
    assert_eq!(s.oldest_samples(&ids).await.unwrap(), oldest);
    assert_eq!(s.samples_of(&ids, 0, 100, 1_000).await.unwrap(), all);
}

fn anomaly(series_id: i64, t: i64, resource: &str, severity: &str) -> NewAnomaly {
    NewAnomaly {
        series_id,
        t,
        resource: resource.into(),
        metric: "cpu".into(),
        value: 99.0,
        score: 0.9,
        severity: severity.into(),
        expected: Some(50.0),
        lower: None,
        upper: Some(80.0),
        detector: "default".into(),
        detected_at: t + 5,
    }
}

pub(crate) async fn anomalies_are_unique_per_sample_filtered_and_paged(s: &Store) {
    let new = s
        .insert_anomalies(&[
            anomaly(1, 10, "api", "high"),
            anomaly(1, 20, "api", "low"),
            anomaly(2, 30, "db", "high"),
        ])
        .await
        .unwrap();
    assert_eq!(new.len(), 3);
    // The new rows come back in the order given.
    let later = s
        .insert_anomalies(&[anomaly(3, 50, "web", "low"), anomaly(3, 40, "web", "low")])
        .await
        .unwrap();
    assert_eq!(
        later.iter().map(|a| a.anomaly.t).collect::<Vec<_>>(),
        [50, 40]
    );
    // Replayed: nothing new.
    assert!(
        s.insert_anomalies(&[anomaly(1, 10, "api", "high")])
            .await
            .unwrap()
            .is_empty()
    );
    let (total, page) = s
        .anomalies(
            &AnomalyFilter {
                severity: Some("high".into()),
                ..Default::default()
            },
            1,
        )
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(page[0].anomaly.resource, "db");
    let (_, next) = s
        .anomalies(
            &AnomalyFilter {
                severity: Some("high".into()),
                before_id: Some(page[0].id),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].anomaly.t, 10);
    let (total, _) = s
        .anomalies(
            &AnomalyFilter {
                start: Some(15),
                end: Some(30),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(total, 1);
    let (total, only) = s
        .anomalies(
            &AnomalyFilter {
                resource: Some("api".into()),
                metric: Some("cpu".into()),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!((total, only.len()), (2, 2));
    let (total, none) = s.anomalies(&AnomalyFilter::default(), 0).await.unwrap();
    assert_eq!((total, none.len()), (5, 0));
    assert_eq!(s.anomaly(new[0].id).await.unwrap(), new[0]);
    assert_eq!(
        s.anomaly(new[0].id).await.unwrap().anomaly.upper,
        Some(80.0)
    );
    assert!(matches!(
        s.anomaly(999).await,
        Err(StoreError::NotFound { .. })
    ));
    let near = s
        .anomalies_of_resources(&["db".into(), "api".into()], 0, 100, 10)
        .await
        .unwrap();
    assert_eq!(
        near.iter().map(|a| a.anomaly.t).collect::<Vec<_>>(),
        vec![10, 20, 30]
    );
}

fn alert(fp: &str, status: &str, at: i64) -> AlertRow {
    AlertRow {
        fingerprint: fp.into(),
        labels: Labels::try_from_pairs([("alertname", "HighCpu"), ("service", "api")]).unwrap(),
        annotations: BTreeMap::from([("summary".to_string(), "cpu high".to_string())]),
        status: status.into(),
        severity: Some("critical".into()),
        starts_at: 1,
        ends_at: None,
        updated_at: at,
        source: "alertmanager".into(),
        incident_id: Some("inc-1".into()),
        acknowledged_by: None,
        acknowledged_at: None,
        ack_comment: None,
        resolved_by: None,
        resolution: None,
        generator_url: String::new(),
    }
}

fn incident(id: &str, status: &str, at: i64) -> IncidentRow {
    IncidentRow {
        id: id.into(),
        title: format!("HighCpu ({id})"),
        severity: "critical".into(),
        status: status.into(),
        started_at: 1,
        resolved_at: (status == "resolved").then_some(at),
        updated_at: at,
        body: json!({"id": id}),
    }
}

pub(crate) async fn a_commit_logs_upserts_and_keeps_acknowledgements(s: &Store) {
    let inc = incident("inc-1", "open", 2);
    let seqs = s
        .commit_alerts(&AlertCommit {
            log: vec![
                (2, "alertmanager".into(), "{}".into()),
                (2, "webhook".into(), "[]".into()),
            ],
            alerts: vec![alert("a1", "firing", 2), alert("a2", "firing", 3)],
            incidents: vec![(&inc).into()],
            events: vec![IncidentEvent {
                incident_id: "inc-1".into(),
                at: 2,
                kind: "opened".into(),
                detail: json!({}),
            }],
        })
        .await
        .unwrap();
    assert_eq!(seqs.len(), 2);
    assert!(seqs[1] > seqs[0]);
    let after = s.alert_log_after(seqs[0]).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!((after[0].seq, after[0].received_at), (seqs[1], 2));
    assert_eq!(after[0].source, "webhook");
    assert_eq!(after[0].body, "[]");
    // An acknowledgement survives the next update from the source.
    let mut acked = alert("a1", "acknowledged", 4);
    acked.acknowledged_by = Some("alice".into());
    acked.acknowledged_at = Some(4);
    acked.ack_comment = Some("looking".into());
    s.update_alert(
        &acked,
        &[IncidentEvent {
            incident_id: "inc-1".into(),
            at: 4,
            kind: "acknowledged".into(),
            detail: json!({"by": "alice"}),
        }],
    )
    .await
    .unwrap();
    let mut from_source = alert("a1", "firing", 5);
    from_source.incident_id = None;
    s.commit_alerts(&AlertCommit {
        alerts: vec![from_source],
        ..Default::default()
    })
    .await
    .unwrap();
    let a1 = s.alert("a1").await.unwrap();
    assert_eq!(a1.acknowledged_by.as_deref(), Some("alice"));
    assert_eq!(a1.acknowledged_at, Some(4));
    assert_eq!(a1.ack_comment.as_deref(), Some("looking"));
    assert_eq!(a1.incident_id.as_deref(), Some("inc-1"));
    assert_eq!(a1.status, "firing");
    assert_eq!(a1.updated_at, 5);
    assert_eq!(a1.annotations["summary"], "cpu high");
    assert!(matches!(
        s.alert("nope").await,
        Err(StoreError::NotFound { .. })
    ));
    let (total, page) = s.alerts(&AlertFilter::default(), 1).await.unwrap();
    assert_eq!((total, page[0].fingerprint.as_str()), (2, "a1"));
    let (_, next) = s
        .alerts(
            &AlertFilter {
                before: Some((page[0].updated_at, page[0].fingerprint.clone())),
                ..Default::default()
            },
            5,
        )
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].fingerprint, "a2");
    // The cursor breaks ties on the fingerprint.
    s.commit_alerts(&AlertCommit {
        alerts: vec![alert("a0", "firing", 5)],
        ..Default::default()
    })
    .await
    .unwrap();
    let (_, next) = s
        .alerts(
            &AlertFilter {
                before: Some((5, "a1".into())),
                ..Default::default()
            },
            5,
        )
        .await
        .unwrap();
    let fps: Vec<_> = next.iter().map(|a| a.fingerprint.as_str()).collect();
    assert_eq!(fps, ["a0", "a2"]);
    let (total, filtered) = s
        .alerts(
            &AlertFilter {
                status: Some("firing".into()),
                severity: Some("critical".into()),
                incident_id: Some("inc-1".into()),
                before: Some((5, "a1".into())),
            },
            5,
        )
        .await
        .unwrap();
    assert_eq!((total, filtered.len()), (3, 2));
    assert_eq!(s.incident("inc-1").await.unwrap(), inc);
    let timeline = s.incident_events("inc-1").await.unwrap();
    assert_eq!(
        timeline.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["opened", "acknowledged"]
    );
    assert_eq!(timeline[1].detail["by"], "alice");
    s.append_incident_events(&[IncidentEvent {
        incident_id: "inc-1".into(),
        at: 9,
        kind: "resolved".into(),
        detail: json!(null),
    }])
    .await
    .unwrap();
    assert_eq!(s.incident_events("inc-1").await.unwrap().len(), 3);
    assert_eq!(s.prune_alert_log(seqs[1]).await.unwrap(), 2);
    assert!(s.alert_log_after(0).await.unwrap().is_empty());
}

pub(crate) async fn large_commits_and_batch_lookups(s: &Store) {
    // More rows than one statement takes, a key given twice (the last one wins), in an
    // order that is not the key order.
    let mut alerts: Vec<AlertRow> = (0..203)
        .rev()
        .map(|i| alert(&format!("b{i:03}"), "firing", i))
        .collect();
    let mut again = alert("b007", "acknowledged", 500);
    again.acknowledged_by = Some("bob".into());
    alerts.push(again);
    let incidents: Vec<IncidentUpdate> = (0..70)
        .map(|i| (&incident(&format!("inc-{i}"), "open", i)).into())
        .chain([(&incident("inc-3", "resolved", 99)).into()])
        .collect();
    let events: Vec<IncidentEvent> = (0..150)
        .map(|i| IncidentEvent {
            incident_id: "inc-5".into(),
            at: 7,
            kind: format!("k{i}"),
            detail: json!({"i": i}),
        })
        .collect();
    let log: Vec<(i64, String, String)> = (0..130)
        .map(|i| (i, "alertmanager".to_string(), format!("{{\"i\": {i}}}")))
        .collect();
    let seqs = s
        .commit_alerts(&AlertCommit {
            log,
            alerts,
            incidents,
            events,
        })
        .await
        .unwrap();
    assert_eq!(seqs.len(), 130);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    // The log keeps the order given.
    let logged = s.alert_log_after(seqs[0] - 1).await.unwrap();
    let bodies: Vec<_> = logged.iter().map(|l| l.received_at).collect();
    assert_eq!(bodies, (0..130).collect::<Vec<i64>>());
    assert_eq!(logged.last().unwrap().seq, *seqs.last().unwrap());
    let (total, _) = s.alerts(&AlertFilter::default(), 1).await.unwrap();
    assert_eq!(total, 203);
    let b7 = s.alert("b007").await.unwrap();
    assert_eq!(
        (b7.status.as_str(), b7.acknowledged_by.as_deref()),
        ("acknowledged", Some("bob"))
    );
    assert_eq!(s.incident("inc-3").await.unwrap().status, "resolved");
    assert_eq!(
        s.incidents(&IncidentFilter::default(), 1).await.unwrap().0,
        70
    );
    let timeline = s.incident_events("inc-5").await.unwrap();
    let kinds: Vec<_> = timeline.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(kinds, (0..150).map(|i| format!("k{i}")).collect::<Vec<_>>());
    // One lookup for many fingerprints: the known ones come back, whatever the count.
    let wanted: Vec<String> = (0..150)
        .map(|i| format!("b{:03}", i * 2))
        .chain(["nope".to_string()])
        .collect();
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let mut found: Vec<String> = s
        .alerts_by_fingerprint(&wanted)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.fingerprint)
        .collect();
    found.sort();
    let expected: Vec<String> = (0..102).map(|i| format!("b{:03}", i * 2)).collect();
    assert_eq!(found, expected);
    assert!(s.alerts_by_fingerprint(&[]).await.unwrap().is_empty());
}

pub(crate) async fn incidents_are_filtered_and_paged(s: &Store) {
    s.commit_alerts(&AlertCommit {
        incidents: vec![
            (&incident("inc-1", "open", 10)).into(),
            (&incident("inc-2", "resolved", 20)).into(),
            (&incident("inc-3", "open", 20)).into(),
        ],
        ..Default::default()
    })
    .await
    .unwrap();
    // Replaced in place by the next commit.
    let mut grown = incident("inc-1", "acknowledged", 30);
    grown.body = json!({"id": "inc-1", "alerts": 2});
    s.commit_alerts(&AlertCommit {
        incidents: vec![(&grown).into()],
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(s.incident("inc-1").await.unwrap(), grown);
    let (total, page) = s.incidents(&IncidentFilter::default(), 2).await.unwrap();
    assert_eq!(total, 3);
    let ids: Vec<_> = page.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["inc-1", "inc-3"]);
    let last = page.last().unwrap();
    let (_, next) = s
        .incidents(
            &IncidentFilter {
                before: Some((last.updated_at, last.id.clone())),
                ..Default::default()
            },
            2,
        )
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].id, "inc-2");
    assert_eq!(next[0].resolved_at, Some(20));
    let (total, open) = s
        .incidents(
            &IncidentFilter {
                status: Some("open".into()),
                severity: Some("critical".into()),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!((total, open.len()), (1, 1));
    assert!(matches!(
        s.incident("inc-9").await,
        Err(StoreError::NotFound { .. })
    ));
}

pub(crate) async fn retention_deletes_in_batches(s: &Store) {
    let ids = s.series_ids(&[series("cpu", "api")], 1).await.unwrap();
    let rows: Vec<_> = (0..10).map(|i| (ids[0], i, i as f64)).collect();
    s.insert_samples(&rows).await.unwrap();
    assert_eq!(s.delete_samples_before(8, 5).await.unwrap(), 5);
    assert_eq!(s.delete_samples_before(8, 5).await.unwrap(), 3);
    assert_eq!(s.delete_samples_before(8, 5).await.unwrap(), 0);
    assert_eq!(
        s.samples(ids[0], 0, 100, 100).await.unwrap(),
        vec![(8, 8.0), (9, 9.0)]
    );
    s.insert_anomalies(&[
        anomaly(ids[0], 3, "api", "high"),
        anomaly(ids[0], 9, "api", "low"),
    ])
    .await
    .unwrap();
    assert_eq!(s.delete_anomalies_before(8, 5).await.unwrap(), 1);
    assert_eq!(s.delete_anomalies_before(8, 5).await.unwrap(), 0);
    s.commit_alerts(&AlertCommit {
        alerts: vec![
            alert("r1", "resolved", 1),
            alert("r2", "resolved", 2),
            alert("r3", "resolved", 3),
            alert("f1", "firing", 1),
        ],
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(s.delete_alerts_before(3, 1).await.unwrap(), 1);
    assert_eq!(s.delete_alerts_before(3, 10).await.unwrap(), 1);
    let (total, left) = s.alerts(&AlertFilter::default(), 10).await.unwrap();
    assert_eq!(total, 2);
    let mut fps: Vec<_> = left.iter().map(|a| a.fingerprint.as_str()).collect();
    fps.sort();
    assert_eq!(fps, ["f1", "r3"]);
}

pub(crate) async fn rules_are_unique_by_name_and_crud_works(s: &Store) {
    s.create_rule("r1", "cpu", &json!({"name": "cpu"}), 1)
        .await
        .unwrap();
    assert!(matches!(
        s.create_rule("r2", "cpu", &json!({}), 2).await,
        Err(StoreError::Conflict { .. })
    ));
    // The store still works after a refused statement.
    s.create_rule("r2", "mem", &json!({"name": "mem"}), 2)
        .await
        .unwrap();
    assert!(matches!(
        s.update_rule("r2", "cpu", &json!({}), 3).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        s.update_rule("r9", "x", &json!({}), 3).await,
        Err(StoreError::NotFound { .. })
    ));
    s.update_rule("r1", "cpu2", &json!({"name": "cpu2"}), 3)
        .await
        .unwrap();
    let r1 = s.rule("r1").await.unwrap();
    assert_eq!(r1.body["name"], "cpu2");
    assert_eq!((r1.created_at, r1.updated_at), (1, 3));
    let all = s.rules().await.unwrap();
    assert_eq!(
        all.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["r1", "r2"]
    );
    s.delete_rule("r1").await.unwrap();
    assert!(matches!(
        s.delete_rule("r1").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.rule("r1").await,
        Err(StoreError::NotFound { .. })
    ));
}

pub(crate) async fn tokens_audit_events_values_and_analyses(s: &Store) {
    let t = TokenRow {
        id: "t1".into(),
        name: "prom".into(),
        role: "ingest".into(),
        hash: "ab".into(),
        created_at: 1,
        expires_at: None,
        revoked_at: None,
    };
    s.insert_token(&t).await.unwrap();
    assert!(matches!(
        s.insert_token(&t).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(s.token_by_hash("ab").await.unwrap(), Some(t.clone()));
    let t2 = TokenRow {
        id: "t2".into(),
        name: "ops".into(),
        hash: "ef".into(),
        expires_at: Some(99),
        created_at: 2,
        ..t.clone()
    };
    s.insert_token(&t2).await.unwrap();
    assert_eq!(s.tokens().await.unwrap(), vec![t, t2]);
    assert_eq!(s.revoke_token("prom", 5).await.unwrap().revoked_at, Some(5));
    assert_eq!(s.revoke_token("t1", 9).await.unwrap().revoked_at, Some(5));
    assert!(matches!(
        s.revoke_token("nobody", 9).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(s.token_by_hash("cd").await.unwrap().is_none());

    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            s.append_audit(&AuditRow {
                id: 0,
                at: i,
                actor: "alice".into(),
                action: "x".into(),
                kind: if i == 1 {
                    "auth".into()
                } else {
                    "mutation".into()
                },
                target: (i == 2).then(|| "r1".into()),
                outcome: "ok".into(),
                request_id: Some(format!("req-{i}")),
                detail: json!({"i": i}),
            })
            .await
            .unwrap(),
        );
    }
    assert!(ids[0] < ids[1] && ids[1] < ids[2]);
    let page = s
        .audit(
            &AuditFilter {
                kind: Some("mutation".into()),
                ..Default::default()
            },
            1,
        )
        .await
        .unwrap();
    assert_eq!(page[0].detail["i"], 2);
    assert_eq!(page[0].id, ids[2]);
    assert_eq!(page[0].target.as_deref(), Some("r1"));
    assert_eq!(page[0].request_id.as_deref(), Some("req-2"));
    let next = s
        .audit(
            &AuditFilter {
                kind: Some("mutation".into()),
                before_id: Some(page[0].id),
                ..Default::default()
            },
            5,
        )
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    let window = s
        .audit(
            &AuditFilter {
                actor: Some("alice".into()),
                start: Some(1),
                end: Some(3),
                ..Default::default()
            },
            5,
        )
        .await
        .unwrap();
    assert_eq!(window.len(), 2);

    let event = EventRow {
        id: 0,
        at: 10,
        source: "ci".into(),
        event_type: "deployment".into(),
        resource: Some("api".into()),
        body: json!({"version": "1.2"}),
    };
    let id = s.insert_event(&event).await.unwrap();
    let id2 = s
        .insert_event(&EventRow {
            at: 15,
            resource: None,
            ..event.clone()
        })
        .await
        .unwrap();
    assert!(id2 > id);
    let events = s.events(0, 20, 10).await.unwrap();
    assert_eq!(events[0], EventRow { id, ..event });
    assert_eq!(events[1].resource, None);
    assert_eq!(s.events(0, 20, 1).await.unwrap().len(), 1);
    assert!(s.events(11, 15, 10).await.unwrap().is_empty());

    assert_eq!(s.value("k").await.unwrap(), None);
    s.put_value("k", "v1", 1).await.unwrap();
    s.put_value("k", "v2", 2).await.unwrap();
    assert_eq!(s.value("k").await.unwrap().as_deref(), Some("v2"));

    s.put_analysis(
        "rca-1",
        Some("inc-1"),
        "running",
        &json!({"root_causes": null}),
        3,
    )
    .await
    .unwrap();
    s.put_analysis(
        "rca-1",
        Some("inc-1"),
        "completed",
        &json!({"root_causes": []}),
        4,
    )
    .await
    .unwrap();
    s.put_analysis("rca-2", Some("inc-1"), "completed", &json!({}), 5)
        .await
        .unwrap();
    s.put_analysis("rca-3", None, "completed", &json!({}), 6)
        .await
        .unwrap();
    let rca = s.analysis("rca-1").await.unwrap();
    assert_eq!(rca.created_at, 3);
    assert_eq!(rca.body, json!({"root_causes": []}));
    let of = s.analyses_of_incident("inc-1").await.unwrap();
    assert_eq!(
        of.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["rca-2", "rca-1"]
    );
    assert!(matches!(
        s.analysis("rca-9").await,
        Err(StoreError::NotFound { .. })
    ));
}

/// Extreme times and values, non-ASCII text: what goes in comes out.
pub(crate) async fn values_round_trip_exactly(s: &Store) {
    let labels =
        Labels::try_from_pairs([("__name__", "temp_°c"), ("service", "api-ü"), ("x", "'\"")])
            .unwrap();
    let new = NewSeries {
        key: format!("{labels}"),
        metric: "temp_°c".into(),
        resource: "api-ü".into(),
        labels,
    };
    let id = s
        .series_ids(std::slice::from_ref(&new), i64::MAX)
        .await
        .unwrap()[0];
    let row = s.series(id).await.unwrap();
    assert_eq!(
        (row.key, row.metric, row.resource, row.labels),
        (new.key, new.metric, new.resource, new.labels)
    );
    let points = [
        (i64::MIN + 1, f64::MIN_POSITIVE),
        (-1, -0.1),
        (0, 0.1 + 0.2),
        (1, 1e300),
        (i64::MAX - 1, f64::MAX),
    ];
    let rows: Vec<_> = points.iter().map(|&(t, v)| (id, t, v)).collect();
    assert_eq!(s.insert_samples(&rows).await.unwrap(), 5);
    assert_eq!(
        s.samples(id, i64::MIN, i64::MAX, 10).await.unwrap(),
        points.to_vec()
    );
    let all = s.samples_after_states().await.unwrap();
    assert_eq!(all, rows);
    let mut a = anomaly(id, i64::MAX - 10, "api-ü", "critical");
    a.score = 1.0 / 3.0;
    a.value = f64::MAX;
    a.expected = None;
    a.lower = Some(-0.0);
    let stored = s.insert_anomalies(std::slice::from_ref(&a)).await.unwrap();
    assert_eq!(s.anomaly(stored[0].id).await.unwrap().anomaly, a);
}

fn timeline_event(incident: &str, kind: &str) -> IncidentEvent {
    IncidentEvent {
        incident_id: incident.into(),
        at: 1_000,
        kind: kind.into(),
        detail: json!({"by": "engine"}),
    }
}

fn new_delivery(event_id: i64, incident: &str, channel: &str, kind: &str) -> NewDelivery {
    NewDelivery {
        event_id,
        incident_id: incident.into(),
        channel: channel.into(),
        role: "ticket".into(),
        kind: kind.into(),
        payload: json!({"title": "t"}),
    }
}

pub(crate) async fn the_delivery_outbox_is_filled_once_and_drained_in_order(s: &Store) {
    s.append_incident_events(&[
        timeline_event("i1", "opened"),
        timeline_event("i1", "resolved"),
    ])
    .await
    .unwrap();
    let evs = s.incident_events_after(0, 10).await.unwrap();
    assert_eq!(evs.len(), 2);
    assert!(evs[0].0 < evs[1].0);
    assert_eq!(
        s.incident_events_after(evs[0].0, 10).await.unwrap().len(),
        1
    );
    let (e1, e2) = (evs[0].0, evs[1].0);
    let rows = [
        new_delivery(e1, "i1", "jira", "opened"),
        new_delivery(e1, "i1", "slack", "opened"),
        new_delivery(e2, "i1", "jira", "resolved"),
    ];
    assert_eq!(
        s.enqueue_deliveries(&rows, "cursor", e2, 10).await.unwrap(),
        3
    );
    // Enqueued again (a re-read): nothing added.
    assert_eq!(
        s.enqueue_deliveries(&rows, "cursor", e2, 11).await.unwrap(),
        0
    );
    assert_eq!(
        s.value("cursor").await.unwrap().as_deref(),
        Some(&*e2.to_string())
    );
    assert_eq!(s.delivery_counts().await.unwrap(), (3, 0, 0));
    // The jira close waits for the jira open.
    let due = s.due_deliveries(100, 10).await.unwrap();
    let names: Vec<_> = due
        .iter()
        .map(|d| (d.channel.as_str(), d.kind.as_str()))
        .collect();
    assert_eq!(names, [("jira", "opened"), ("slack", "opened")]);
    // A failed attempt is retried later; the close still waits.
    let retry = DeliveryAttempt {
        status: "pending".into(),
        error: Some("HTTP 503".into()),
        result: None,
        next_at: 200,
    };
    s.record_delivery_attempt(due[0].id, &retry, 100)
        .await
        .unwrap();
    let due = s.due_deliveries(150, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].channel, "slack");
    let done = DeliveryAttempt {
        status: "delivered".into(),
        error: None,
        result: Some(json!({"key": "OPS-1"})),
        next_at: 200,
    };
    let jira_open = s.deliveries_of_incident("i1").await.unwrap()[0].id;
    s.record_delivery_attempt(jira_open, &done, 200)
        .await
        .unwrap();
    assert_eq!(
        s.delivered_result("i1", "jira", "opened").await.unwrap(),
        Some(json!({"key": "OPS-1"}))
    );
    let due = s.due_deliveries(300, 10).await.unwrap();
    let names: Vec<_> = due
        .iter()
        .map(|d| (d.channel.as_str(), d.kind.as_str()))
        .collect();
    assert_eq!(names, [("slack", "opened"), ("jira", "resolved")]);
    let all = s.deliveries_of_incident("i1").await.unwrap();
    assert_eq!(all[0].attempts, 2);
    assert_eq!(all[0].status, "delivered");
    assert_eq!(all[0].last_error, None);
}

pub(crate) async fn workflows_and_runs_are_stored(s: &Store) {
    let w = WorkflowRow {
        id: "wf-1".into(),
        name: "restart".into(),
        body: "workflows:\n  restart: {}\n".into(),
        created_at: 10,
        updated_at: 10,
    };
    s.create_workflow(&w).await.unwrap();
    let dup = WorkflowRow {
        id: "wf-2".into(),
        ..w.clone()
    };
    assert!(matches!(
        s.create_workflow(&dup).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(s.workflows().await.unwrap(), vec![w.clone()]);
    s.update_workflow("restart", "workflows:\n  restart: {steps: []}\n", 20)
        .await
        .unwrap();
    let changed = s.workflows().await.unwrap();
    assert_eq!(
        (
            changed[0].body.as_str(),
            changed[0].updated_at,
            changed[0].created_at
        ),
        ("workflows:\n  restart: {steps: []}\n", 20, 10)
    );
    assert!(matches!(
        s.update_workflow("nope", "x", 20).await,
        Err(StoreError::NotFound { .. })
    ));
    s.delete_workflow("restart").await.unwrap();
    assert!(s.workflows().await.unwrap().is_empty());
    assert!(matches!(
        s.delete_workflow("restart").await,
        Err(StoreError::NotFound { .. })
    ));
    s.create_workflow(&w).await.unwrap();
    let mut run = WorkflowRunRow {
        id: "run-1".into(),
        workflow: "restart".into(),
        trigger: "manual".into(),
        status: "running".into(),
        started_at: 100,
        finished_at: None,
        record: json!({"steps": []}),
    };
    s.put_workflow_run(&run).await.unwrap();
    run.status = "succeeded".into();
    run.finished_at = Some(150);
    run.record = json!({"steps": [{"name": "a", "value": 1.5}]});
    s.put_workflow_run(&run).await.unwrap();
    let later = WorkflowRunRow {
        id: "run-2".into(),
        status: "running".into(),
        started_at: 200,
        finished_at: None,
        ..run.clone()
    };
    assert!(s.claim_workflow_run(&later).await.unwrap());
    // Claimed once: the second claim (another replica) records nothing.
    let other = WorkflowRunRow {
        status: "other".into(),
        ..later.clone()
    };
    assert!(!s.claim_workflow_run(&other).await.unwrap());
    assert_eq!(s.workflow_run("run-1").await.unwrap(), run);
    // Only a run still `running` is replaced (interrupted); one that ended keeps its record.
    assert_eq!(
        s.running_workflow_runs(10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["run-2"]
    );
    let interrupted = WorkflowRunRow {
        status: "interrupted".into(),
        finished_at: Some(250),
        record: json!({"status": "interrupted"}),
        ..later.clone()
    };
    assert!(s.update_running_workflow_run(&interrupted).await.unwrap());
    assert!(!s.update_running_workflow_run(&interrupted).await.unwrap());
    assert!(
        !s.update_running_workflow_run(&WorkflowRunRow {
            id: "run-1".into(),
            ..interrupted.clone()
        })
        .await
        .unwrap()
    );
    assert_eq!(s.workflow_run("run-1").await.unwrap(), run);
    assert_eq!(s.workflow_run("run-2").await.unwrap(), interrupted);
    assert!(s.running_workflow_runs(10).await.unwrap().is_empty());
    let runs = s.workflow_runs("restart", 10).await.unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["run-2", "run-1"]
    );
    assert_eq!(s.workflow_runs("restart", 1).await.unwrap().len(), 1);
    assert!(s.workflow_runs("other", 10).await.unwrap().is_empty());
    assert!(matches!(
        s.workflow_run("nope").await,
        Err(StoreError::NotFound { .. })
    ));
    let (timeline, events) = s.timeline_heads().await.unwrap();
    let e = EventRow {
        id: 0,
        at: 5,
        source: "ci".into(),
        event_type: "deployment".into(),
        resource: None,
        body: json!({}),
    };
    let id = s.insert_event(&e).await.unwrap();
    assert_eq!(
        s.timeline_heads().await.unwrap(),
        (timeline, id.max(events))
    );
}

pub(crate) async fn sessions_are_found_with_their_token_and_expire(s: &Store) {
    s.insert_token(&TokenRow {
        id: "tok12345".into(),
        name: "console-user".into(),
        role: "operator".into(),
        hash: "ab".repeat(32),
        created_at: 0,
        expires_at: None,
        revoked_at: None,
    })
    .await
    .unwrap();
    let row = |hash: &str, token: Option<&str>, expires_at| SessionRow {
        hash: hash.into(),
        principal: json!({"subject": "token:tok12345", "name": "console-user", "roles": ["operator"]}),
        token_id: token.map(str::to_string),
        created_at: 1_000,
        expires_at,
    };
    s.insert_session(&row("s1", Some("tok12345"), 5_000))
        .await
        .unwrap();
    s.insert_session(&row("s2", None, 9_000)).await.unwrap();
    assert!(matches!(
        s.insert_session(&row("s1", None, 1)).await,
        Err(StoreError::Conflict { .. })
    ));
    let found = s.session_by_hash("s1").await.unwrap().unwrap();
    assert_eq!(found.session, row("s1", Some("tok12345"), 5_000));
    assert!(found.token_found);
    assert_eq!(
        (found.token_revoked_at, found.token_expires_at),
        (None, None)
    );
    let jwt = s.session_by_hash("s2").await.unwrap().unwrap();
    assert!(!jwt.token_found && jwt.session.token_id.is_none());
    s.revoke_token("console-user", 2_000).await.unwrap();
    assert_eq!(
        s.session_by_hash("s1")
            .await
            .unwrap()
            .unwrap()
            .token_revoked_at,
        Some(2_000)
    );
    assert_eq!(s.delete_expired_sessions(5_000).await.unwrap(), 1);
    assert!(s.session_by_hash("s1").await.unwrap().is_none());
    assert!(s.delete_session("s2").await.unwrap());
    assert!(!s.delete_session("s2").await.unwrap());
    assert!(s.session_by_hash("s2").await.unwrap().is_none());
}
