//! `aiops serve` on PostgreSQL (`AIOPS_STORE=postgres://...` or `store:`): tokens made by the CLI in that
//! store, remote_write samples stored and turned into anomalies, a second replica on the same
//! database seeing them, nothing written to the data directory. Runs on a throwaway server
//! (see `aiops-store/tests/common/postgres.rs`); skipped, with a message, when PostgreSQL is
//! not installed.

mod common;
#[path = "../../aiops-store/tests/common/postgres.rs"]
mod postgres;

use aiops_store::{AnomalyFilter, Backend, Store, StoreOptions};
use common::server::{Server, eventually, spiky_samples, token_env, write_request};
use serde_json::Value;

const CONFIG: &str = "metrics:\n  detectors:\n    - metric: 'cpu*'\n      detector: zscore\n      params: {window: 30}\n";

fn json_of(r: reqwest::blocking::Response) -> Value {
    assert_eq!(r.status(), 200);
    r.json().unwrap()
}

#[test]
fn remote_write_on_postgres_becomes_anomalies_seen_by_every_replica() {
    let Some(url) = postgres::database("serve") else {
        return;
    };
    let env = [("AIOPS_STORE", url.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let admin = token_env(dir.path(), "admin", "a", &env);
    let prom = token_env(dir.path(), "ingest", "prom", &env);
    let s = Server::start_env(dir.path(), CONFIG, &env);
    for chunk in [0..50, 50..100, 100..160] {
        let r = s.remote_write(
            &prom,
            &write_request("cpu_usage", "api", &spiky_samples(chunk)),
        );
        assert_eq!(r.status(), 204);
    }
    // A resent batch is acknowledged again and changes nothing.
    assert_eq!(
        s.remote_write(
            &prom,
            &write_request("cpu_usage", "api", &spiky_samples(0..50))
        )
        .status(),
        204
    );
    let list = eventually(|| {
        let b = json_of(s.get("/api/v1/anomalies?resource=api", &admin));
        (b["total"].as_u64() >= Some(1)).then_some(b)
    });
    let spike = list["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["value"] == 90.0)
        .expect("the spike is an anomaly")
        .clone();
    assert_eq!(spike["metric"], "cpu_usage");
    assert_eq!(spike["detector"], "zscore");
    let id = spike["anomaly_id"].as_str().unwrap();
    let detail = json_of(s.get(&format!("/api/v1/anomalies/{id}?window_minutes=5"), &admin));
    assert_eq!(detail["timeline"].as_array().unwrap().len(), 10, "{detail}");

    // A second replica on the same database, named by `store:` in its configuration this
    // time: same tokens, same anomalies.
    let replica_dir = tempfile::tempdir().unwrap();
    let r = Server::start(replica_dir.path(), &format!("store: '{url}'\n{CONFIG}"));
    let seen = json_of(r.get("/api/v1/anomalies?resource=api", &admin));
    assert_eq!(seen["total"], list["total"]);
    assert!(r.stop(), "graceful stop of the replica");
    assert!(s.stop(), "graceful stop");

    // Everything is in PostgreSQL, nothing in the data directory.
    assert!(!dir.path().join("data").join("aiops.db").exists());
    assert!(!replica_dir.path().join("data").join("aiops.db").exists());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = Store::open(&url, &StoreOptions::default()).await.unwrap();
        assert_eq!(store.backend(), Backend::Postgres);
        let series = store.all_series().await.unwrap();
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].metric, "cpu_usage");
        let stored = store
            .samples(series[0].id, 0, i64::MAX, 1_000)
            .await
            .unwrap();
        assert_eq!(stored, spiky_samples(0..160));
        assert!(store.samples_after_states().await.unwrap().is_empty());
        let (total, _) = store
            .anomalies(&AnomalyFilter::default(), 10)
            .await
            .unwrap();
        assert_eq!(Some(total), list["total"].as_u64());
        assert_eq!(store.tokens().await.unwrap().len(), 2);
        store.close().await;
    });
}

/// Two replicas on one PostgreSQL: alerts sent to either, even at once, end in the same
/// incidents, never two for one.
#[test]
fn two_replicas_never_open_two_incidents_for_one_problem() {
    let Some(url) = postgres::database("replicas") else {
        return;
    };
    let env = [("AIOPS_STORE", url.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let admin = token_env(dir.path(), "admin", "a", &env);
    let prom = token_env(dir.path(), "ingest", "prom", &env);
    let a = Server::start_env(dir.path(), "", &env);
    let other = tempfile::tempdir().unwrap();
    let b = Server::start_env(other.path(), "", &env);
    let now = aiops_core::time::format_rfc3339(common::server::now_ms());
    let alert = |name: &str| serde_json::json!([{"labels": {"alertname": name, "service": "checkout", "severity": "critical"}, "startsAt": now}]);
    // Another problem first, on replica A only: B must still know of it.
    let db = serde_json::json!([{"labels": {"alertname": "DiskFull", "service": "db", "severity": "high"}, "startsAt": now}]);
    assert_eq!(a.post_json("/api/v2/alerts", &prom, &db).status(), 200);
    assert_eq!(
        a.post_json("/api/v2/alerts", &prom, &alert("HighLatency"))
            .status(),
        200
    );
    // The same problem reported to the other replica, and the first alert resent to it.
    assert_eq!(
        b.post_json("/api/v2/alerts", &prom, &alert("HighErrors"))
            .status(),
        200
    );
    assert_eq!(
        b.post_json("/api/v2/alerts", &prom, &alert("HighLatency"))
            .status(),
        200
    );
    // Both at once, many times.
    std::thread::scope(|sc| {
        for (server, name) in [
            (&a, "HighLatency"),
            (&b, "HighErrors"),
            (&a, "HighErrors"),
            (&b, "HighLatency"),
        ] {
            let body = alert(name);
            let prom = &prom;
            sc.spawn(move || {
                for _ in 0..10 {
                    assert_eq!(
                        server.post_json("/api/v2/alerts", prom, &body).status(),
                        200
                    );
                }
            });
        }
    });
    for s in [&a, &b] {
        let incidents: serde_json::Value = s.get("/api/v1/incidents", &admin).json().unwrap();
        assert_eq!(incidents["total"], 2, "{incidents}");
        let list = incidents["incidents"].as_array().unwrap();
        let of = |svc: &str| {
            list.iter()
                .find(|i| i["resources"][0] == svc)
                .unwrap_or_else(|| panic!("no incident on {svc}: {incidents}"))
        };
        assert_eq!(of("checkout")["alert_count"], 2, "{incidents}");
        assert_eq!(of("db")["alert_count"], 1, "{incidents}");
        let alerts: serde_json::Value = s.get("/api/v1/alerts", &admin).json().unwrap();
        assert_eq!(alerts["total"], 3, "{alerts}");
    }
    assert!(a.stop() && b.stop());
}
