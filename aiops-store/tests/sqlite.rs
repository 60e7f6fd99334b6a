//! The store's behaviours on SQLite (in memory; the file and WAL specifics are unit tests).

mod common;

use aiops_store::{Store, StoreOptions};

async fn memory(_test: &str) -> Option<Store> {
    Some(
        Store::open("sqlite::memory:", &StoreOptions::default())
            .await
            .expect("in-memory store"),
    )
}

all_behaviours!(memory);
