//! A real Prometheus (the Debian `prometheus` binary) pointed at `aiops serve`: its scrapes
//! arrive by `remote_write`, and its always-firing rule, sent as to an Alertmanager
//! (`alerting.alertmanagers`, API v2), becomes an aiops alert in an incident. Both on
//! 127.0.0.1, Prometheus scraping itself and aiops' own `/metrics`
//! every second; aiops on SQLite, then on PostgreSQL (when installed). Skipped, with a
//! message, when `prometheus` is not installed
//! (`scripts/install-test-services.sh` installs it; `AIOPS_REQUIRE_PROMETHEUS=1` makes a
//! missing binary a failure; `AIOPS_PROMETHEUS=PATH` picks another binary).
//!
//! What a stock Prometheus (Debian 2.42.0, remote_write 1.0) sends, as observed on the wire,
//! and what mattered:
//! - `POST` to the configured path with `Content-Type: application/x-protobuf`,
//!   `Content-Encoding: snappy`, `X-Prometheus-Remote-Write-Version: 0.1.0`,
//!   `User-Agent: Prometheus/2.42.0+ds` and a `Content-Length` (no chunked bodies); the body is
//!   a snappy *block* (it starts with the varint of the decompressed length, never the framed
//!   format's stream identifier) of a protobuf `WriteRequest`, a few KiB per batch here.
//! - `authorization: {credentials: TOKEN}` becomes `Authorization: Bearer TOKEN` (type
//!   `Bearer` by default): an `ingest` token is enough.
//! - Besides samples it sends metadata-only requests (`metadata_config`, a `WriteRequest` with
//!   no series and `metadata` set), which must get 2xx too or it logs failures and retries.
//! - Any 2xx is success; 5xx and 429 are retried with backoff, other 4xx drop the batch
//!   (counted in `prometheus_remote_storage_samples_failed_total`), hence the check below
//!   that nothing failed.
//! - Prometheus counts as sent more samples than aiops commits: the quantiles of its own empty
//!   summaries (26 series per scrape of itself in 2.42, e.g.
//!   `prometheus_engine_query_duration_seconds{quantile="0.5"}`) are NaN, which aiops does not
//!   store (not staleness markers, not values), and still answers 204 for.
//! - Samples reach the remote end only after the WAL watcher reads them and the shard's
//!   `batch_send_deadline` (default 5 s) passes: 1 s here so samples arrive within seconds.

mod common;
#[path = "../../aiops-store/tests/common/postgres.rs"]
mod postgres;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aiops_store::{Store, StoreOptions};
use common::daemon::{Daemon, binary_or_skip, metric_sum};
use common::server::{Server, free_port, token_env};

/// The Prometheus binary, or `None` when the test must skip.
fn prometheus_or_skip() -> Option<PathBuf> {
    binary_or_skip("prometheus", "AIOPS_PROMETHEUS", "AIOPS_REQUIRE_PROMETHEUS")
}

/// Starts Prometheus with this configuration on `port`.
fn start_prometheus(binary: &Path, dir: &Path, config: &str, port: u16) -> Daemon {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, config).unwrap();
    let args = [
        format!("--config.file={}", cfg.display()),
        format!(
            "--storage.tsdb.path={}",
            dir.join("prometheus-data").display()
        ),
        format!("--web.listen-address=127.0.0.1:{port}"),
    ];
    Daemon::start(binary, &args, dir, "prometheus", port)
}

#[test]
fn a_real_prometheus_remote_writes_its_scrapes_into_aiops() {
    let Some(binary) = prometheus_or_skip() else {
        return;
    };
    scenario(&binary, None);
}

/// The same with aiops on PostgreSQL: hundreds of new series at once, then a steady stream.
#[test]
fn a_real_prometheus_remote_writes_into_aiops_on_postgres() {
    let Some(binary) = prometheus_or_skip() else {
        return;
    };
    let Some(url) = postgres::database("prometheus") else {
        return;
    };
    scenario(&binary, Some(&url));
}

/// A scrape job of aiops' own `/metrics` (with a viewer token), as `scrape_configs` YAML.
fn aiops_job(port: u16, viewer: &str) -> String {
    format!(
        "  - job_name: aiops\n    authorization:\n      credentials: {viewer}\n    \
         static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )
}

/// A `remote_write` entry to aiops (with an ingest token) that sends within a second, as YAML.
fn remote_write_to(port: u16, ingest: &str) -> String {
    format!(
        "  - url: http://127.0.0.1:{port}/api/v1/write\n    authorization:\n      \
         credentials: {ingest}\n    queue_config:\n      batch_send_deadline: 1s\n      \
         max_samples_per_send: 2000\n      min_backoff: 100ms\n      max_backoff: 1s\n"
    )
}

/// Prometheus scraping itself and aiops, remote writing to aiops (on SQLite under a temporary
/// data directory, or on the PostgreSQL database `store`).
fn scenario(binary: &Path, store: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(&str, &str)> = store.map(|url| ("AIOPS_STORE", url)).into_iter().collect();
    let ingest = token_env(dir.path(), "ingest", "prometheus", &env);
    let viewer = token_env(dir.path(), "viewer", "scraper", &env);
    let aiops = Server::start_env(dir.path(), "", &env);
    let prom_port = free_port();
    // An always-firing rule: Prometheus sends it to aiops as to an Alertmanager.
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: aiops-test\n    rules:\n      - alert: AiopsTestAlwaysFiring\n        expr: vector(1)\n        labels:\n          severity: high\n          service: checkout\n        annotations:\n          summary: always firing, for the test\n",
    )
    .unwrap();
    let config = format!(
        r#"global:
  scrape_interval: 1s
  evaluation_interval: 1s
  external_labels:
    service: prometheus-test
rule_files:
  - {rules}
alerting:
  alertmanagers:
    - api_version: v2
      authorization:
        credentials: {ingest}
      static_configs:
        - targets: ['127.0.0.1:{aiops_port}']
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:{prom_port}']
{aiops_job}remote_write:
{remote_write}    metadata_config:
      send: true
      send_interval: 1s
"#,
        aiops_port = aiops.port,
        rules = rules.display(),
        aiops_job = aiops_job(aiops.port, &viewer),
        remote_write = remote_write_to(aiops.port, &ingest),
    );
    let prom = start_prometheus(binary, dir.path(), &config, prom_port);

    // Samples arrive: aiops counts them, and Prometheus counts them sent.
    let started = Instant::now();
    loop {
        let text = aiops.get("/metrics", &viewer).text().unwrap();
        let received = metric_sum(&text, "aiops_ingest_samples_total");
        let sent = prom.counter("prometheus_remote_storage_samples_total");
        let metadata = prom.counter("prometheus_remote_storage_metadata_total");
        if received > 0.0 && sent > 0.0 && metadata > 0.0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no samples arrived (aiops received {received}, prometheus sent {sent}, \
             metadata {metadata}):\n{}",
            prom.log_text()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // A few more scrapes, so that both jobs have several samples.
    std::thread::sleep(Duration::from_secs(3));
    for failed in [
        "prometheus_remote_storage_samples_failed_total",
        "prometheus_remote_storage_metadata_failed_total",
        "prometheus_remote_storage_samples_dropped_total",
    ] {
        assert_eq!(prom.counter(failed), 0.0, "{failed}:\n{}", prom.log_text());
    }
    let text = aiops.get("/metrics", &viewer).text().unwrap();
    eprintln!(
        "prometheus sent {} samples ({} retried) and {} metadata; aiops committed {}",
        prom.counter("prometheus_remote_storage_samples_total"),
        prom.counter("prometheus_remote_storage_samples_retried_total"),
        prom.counter("prometheus_remote_storage_metadata_total"),
        metric_sum(&text, "aiops_ingest_samples_total"),
    );
    let anomalies = aiops.get("/api/v1/anomalies?limit=5", &viewer);
    assert_eq!(anomalies.status(), 200);
    // The firing rule became an aiops alert, in an incident on its service.
    let started = Instant::now();
    loop {
        let alerts: serde_json::Value = aiops
            .get("/api/v1/alerts?status=firing", &viewer)
            .json()
            .unwrap();
        let incidents: serde_json::Value = aiops.get("/api/v1/incidents", &viewer).json().unwrap();
        let fired = alerts["alerts"].as_array().is_some_and(|a| {
            a.iter().any(|x| {
                x["labels"]["alertname"] == "AiopsTestAlwaysFiring" && x["source"] == "alertmanager"
            })
        });
        let incident = incidents["incidents"].as_array().is_some_and(|i| {
            i.iter().any(|x| {
                x["resources"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|r| r == "checkout"))
            })
        });
        if fired && incident {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the firing rule did not arrive: {alerts}\n{incidents}\n{}",
            prom.log_text()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(
        prom.counter("prometheus_notifications_errors_total"),
        0.0,
        "{}",
        prom.log_text()
    );
    drop(prom);
    assert!(aiops.stop(), "graceful stop");

    // In the store: `up` of both jobs, 1 (Prometheus parsed aiops' own exposition), with
    // Prometheus' labels (the external ones included) and times.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = match store {
            Some(url) => Store::open(url, &StoreOptions::default()).await,
            None => Store::open_dir(&dir.path().join("data"), &StoreOptions::default()).await,
        }
        .unwrap();
        let series = store.all_series().await.unwrap();
        let now = aiops_service::now_ms();
        for job in ["prometheus", "aiops"] {
            let up = series
                .iter()
                .find(|s| s.metric == "up" && s.labels.get("job") == Some(job))
                .unwrap_or_else(|| panic!("no `up` series of job {job}"));
            assert_eq!(up.labels.get("service"), Some("prometheus-test"));
            assert_eq!(up.resource, "prometheus-test");
            let points = store.samples(up.id, 0, i64::MAX, 1_000).await.unwrap();
            assert!(points.len() >= 2, "{job}: {points:?}");
            assert!(points.iter().all(|&(_, v)| v == 1.0), "{job}: {points:?}");
            assert!(
                points
                    .iter()
                    .all(|&(t, _)| (now - 120_000..=now).contains(&t)),
                "{job}: {points:?}"
            );
        }
        assert!(
            series
                .iter()
                .any(|s| s.metric == "aiops_ingest_samples_total"),
            "aiops' own counters came back through Prometheus"
        );
        assert!(series.len() > 50, "{} series", series.len());
        store.close().await;
    });
}

/// A Prometheus HA pair (two real Prometheus scraping the same target, told apart by their
/// `__replica__` external label) writing to aiops with `metrics.ha`: one copy of each series
/// is stored, without the replica label, the standby's requests acknowledged (nothing fails
/// on the Prometheus side), and when one replica stops, the series goes on from the other.
#[test]
fn a_real_prometheus_ha_pair_is_stored_once() {
    let Some(binary) = prometheus_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ingest = token_env(dir.path(), "ingest", "prometheus", &[]);
    let viewer = token_env(dir.path(), "viewer", "scraper", &[]);
    let aiops = Server::start(
        dir.path(),
        "metrics:\n  ha: {cluster_label: cluster, replica_label: __replica__, failover_timeout_s: 2}\n",
    );
    let start = |replica: &str| {
        let home = dir.path().join(replica);
        std::fs::create_dir_all(&home).unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  external_labels:\n    cluster: eu\n    \
             __replica__: {replica}\nscrape_configs:\n{}remote_write:\n{}",
            aiops_job(aiops.port, &viewer),
            remote_write_to(aiops.port, &ingest),
        );
        start_prometheus(&binary, &home, &config, free_port())
    };
    let (a, b) = (start("a"), start("b"));

    // Both send; one is stored, the other acknowledged as the standby.
    let started = Instant::now();
    loop {
        let text = aiops.get("/metrics", &viewer).text().unwrap();
        let stored = metric_sum(&text, "aiops_ingest_samples_total");
        let standby = metric_sum(&text, "aiops_ha_standby_samples_total");
        if stored > 0.0 && standby > 0.0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "stored {stored}, standby {standby}:\n{}\n{}",
            a.log_text(),
            b.log_text()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    for p in [&a, &b] {
        assert!(p.counter("prometheus_remote_storage_samples_total") > 0.0);
        assert_eq!(
            p.counter("prometheus_remote_storage_samples_failed_total"),
            0.0,
            "{}",
            p.log_text()
        );
    }
    // One replica stops: after the failover timeout the other's samples go on in the same
    // series (whichever of the two was elected).
    drop(a);
    std::thread::sleep(Duration::from_secs(2));
    let stopped_at = aiops_service::now_ms();
    std::thread::sleep(Duration::from_secs(5));
    drop(b);
    assert!(aiops.stop(), "graceful stop");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = Store::open_dir(&dir.path().join("data"), &StoreOptions::default())
            .await
            .unwrap();
        let series = store.all_series().await.unwrap();
        assert!(
            series.iter().all(|s| s.labels.get("__replica__").is_none()),
            "a replica label was stored"
        );
        let up: Vec<_> = series
            .iter()
            .filter(|s| s.metric == "up" && s.labels.get("job") == Some("aiops"))
            .collect();
        assert_eq!(up.len(), 1, "{up:?}");
        assert_eq!(up[0].labels.get("cluster"), Some("eu"));
        let points = store.samples(up[0].id, 0, i64::MAX, 10_000).await.unwrap();
        assert!(
            points.iter().any(|&(t, _)| t > stopped_at),
            "nothing after the failover: {points:?}"
        );
        // One copy: at most about one sample a second (scrapes every second), not two.
        let span_s = (points.last().unwrap().0 - points[0].0) as f64 / 1000.0;
        assert!(
            (points.len() as f64) <= span_s * 1.3 + 3.0,
            "{} samples in {span_s} s",
            points.len()
        );
        store.close().await;
    });
}
