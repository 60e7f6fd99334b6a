//! The store's behaviours on PostgreSQL: the same checks as `tests/sqlite.rs`, each on a new
//! database of a throwaway server (see `common/postgres.rs`); skipped, with a message, when
//! PostgreSQL is not installed.

mod common;

use aiops_core::Labels;
use aiops_store::{AlertCommit, AlertRow, Backend, NewSeries, Store, StoreOptions};

async fn postgres(test: &str) -> Option<Store> {
    let url = common::postgres::database(test)?;
    let store = Store::open(&url, &StoreOptions::default())
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
    assert_eq!(store.backend(), Backend::Postgres);
    Some(store)
}

all_behaviours!(postgres);

/// Migrations are recorded: opening the same database again applies nothing twice, and two
/// stores opened on one database see each other's writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_and_sharing_a_database() {
    let Some(url) = common::postgres::database("reopening") else {
        return;
    };
    let a = Store::open(&url, &StoreOptions::default()).await.unwrap();
    let b = Store::open(&url, &StoreOptions::default()).await.unwrap();
    assert!(a.ping().await && b.ping().await);
    a.put_value("k", "from a", 1).await.unwrap();
    assert_eq!(b.value("k").await.unwrap().as_deref(), Some("from a"));
    a.close().await;
    b.close().await;
}

/// A wrong address is an error naming it, without its password.
#[tokio::test]
async fn an_unreachable_server_is_an_error_without_the_password() {
    let options = StoreOptions {
        busy_timeout_ms: 2_000,
        ..StoreOptions::default()
    };
    let e = Store::open("postgres://aiops:hunter2@127.0.0.1:1/aiops", &options)
        .await
        .unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

/// Replicas starting together on a new database: the migrations are applied once (sqlx
/// takes an advisory lock), every replica opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_opening_a_new_database_together() {
    let Some(url) = common::postgres::database("together") else {
        return;
    };
    let opened = futures_join(
        (0..4)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { Store::open(&url, &StoreOptions::default()).await })
            })
            .collect(),
    )
    .await;
    for s in opened {
        let s = s.unwrap_or_else(|e| panic!("a replica failed to open: {e}"));
        assert!(s.ping().await);
        s.close().await;
    }
}

/// Two replicas writing the same new series, alerts and samples in opposite orders at once:
/// no deadlock (rows are locked in one order whatever the order given), and the same ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_writing_the_same_rows_in_opposite_orders() {
    let Some(url) = common::postgres::database("opposite") else {
        return;
    };
    let a = Store::open(&url, &StoreOptions::default()).await.unwrap();
    let b = Store::open(&url, &StoreOptions::default()).await.unwrap();
    for round in 0..5 {
        let forward: Vec<NewSeries> = (0..40)
            .map(|i| {
                let labels = Labels::try_from_pairs([
                    ("__name__", format!("m{round}_{i}").as_str()),
                    ("service", "api"),
                ])
                .unwrap();
                NewSeries {
                    key: format!("{labels}"),
                    metric: format!("m{round}_{i}"),
                    resource: "api".into(),
                    labels,
                }
            })
            .collect();
        let backward: Vec<NewSeries> = forward.iter().rev().cloned().collect();
        let (x, y) = tokio::join!(
            a.series_ids(&forward, round),
            b.series_ids(&backward, round)
        );
        let (x, mut y) = (x.unwrap(), y.unwrap());
        y.reverse();
        assert_eq!(x, y);

        let rows: Vec<_> = x
            .iter()
            .flat_map(|&id| (0..20).map(move |t| (id, t, t as f64)))
            .collect();
        let reversed: Vec<_> = rows.iter().rev().copied().collect();
        let (n, m) = tokio::join!(a.insert_samples(&rows), b.insert_samples(&reversed));
        assert_eq!(n.unwrap() + m.unwrap(), rows.len() as u64);

        let alerts: Vec<AlertRow> = (0..40).map(|i| alert(&format!("{round}-{i:02}"))).collect();
        let forward = AlertCommit {
            alerts: alerts.clone(),
            ..Default::default()
        };
        let backward = AlertCommit {
            alerts: alerts.into_iter().rev().collect(),
            ..Default::default()
        };
        let (x, y) = tokio::join!(a.commit_alerts(&forward), b.commit_alerts(&backward));
        x.unwrap();
        y.unwrap();
    }
    a.close().await;
    b.close().await;
}

fn alert(fp: &str) -> AlertRow {
    AlertRow {
        fingerprint: fp.into(),
        labels: Labels::try_from_pairs([("alertname", fp)]).unwrap(),
        annotations: Default::default(),
        status: "firing".into(),
        severity: None,
        starts_at: 1,
        ends_at: None,
        updated_at: 1,
        source: "test".into(),
        incident_id: None,
        acknowledged_by: None,
        acknowledged_at: None,
        ack_comment: None,
        resolved_by: None,
        resolution: None,
        generator_url: String::new(),
    }
}

async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// PostgreSQL's retryable errors are transient (a server answers 503 and clients retry);
/// constraint and syntax errors are not.
#[tokio::test]
async fn postgres_errors_are_transient_when_a_retry_can_succeed() {
    use sqlx::Connection;
    let Some(url) = common::postgres::database("transient") else {
        return;
    };
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    for (code, transient) in [
        ("40P01", true),
        ("40001", true),
        ("57P01", true),
        ("53300", true),
        ("23505", false),
        ("42601", false),
    ] {
        let e = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DO $$ BEGIN RAISE EXCEPTION 'test' USING ERRCODE = '{code}'; END $$"
        )))
        .execute(&mut conn)
        .await
        .unwrap_err();
        assert_eq!(
            aiops_store::StoreError::from(e).is_transient(),
            transient,
            "{code}"
        );
    }
    conn.close().await.unwrap();
}
