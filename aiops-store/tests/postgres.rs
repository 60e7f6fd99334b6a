//! The store's behaviours on PostgreSQL: the same checks as `tests/sqlite.rs`, each on a new
//! database of a throwaway server (see `common/postgres.rs`); skipped, with a message, when
//! PostgreSQL is not installed.

mod common;

use aiops_store::{Backend, Store, StoreOptions};

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
