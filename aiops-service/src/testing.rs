//! Fixtures shared by the crate's unit tests.

use aiops_core::Labels;
use aiops_store::{NewSeries, Store, StoreOptions};

/// An in-memory store holding one series, `cpu{service="api"}` (metric `cpu`, resource
/// `api`), and its id.
pub(crate) async fn store_with_cpu_series() -> (Store, Vec<i64>) {
    store_with_series(&[("__name__", "cpu"), ("service", "api")]).await
}

/// An in-memory store holding one series with these labels (metric `cpu`, resource `api`),
/// and its id.
pub(crate) async fn store_with_series(pairs: &[(&str, &str)]) -> (Store, Vec<i64>) {
    let store = Store::open("sqlite::memory:", &StoreOptions::default())
        .await
        .unwrap();
    let labels = Labels::try_from_pairs(pairs.iter().copied()).unwrap();
    let ids = store
        .series_ids(
            &[NewSeries {
                key: labels.to_string(),
                metric: "cpu".into(),
                resource: "api".into(),
                labels,
            }],
            0,
        )
        .await
        .unwrap();
    (store, ids)
}
