//! Prometheus / VictoriaMetrics as a source, end to end, against a real VictoriaMetrics
//! (Debian's `victoria-metrics`) on 127.0.0.1 holding samples this test wrote: `aiops detect`
//! and `aiops forecast --prometheus`, and `aiops serve`'s `history.prometheus` filling an
//! anomaly timeline older than the store's samples. Skipped, with a message, when
//! `victoria-metrics` is not installed (`AIOPS_REQUIRE_VICTORIAMETRICS=1` makes that a
//! failure).

mod common;
#[path = "../../aiops-integrations/tests/common/mod.rs"]
mod vm;

use common::server::{Server, T0, eventually, json_of, spiky_samples, token, write_request};
use common::{aiops, stderr, stdout};

const MIN: i64 = 60_000;

/// `name{service="api"}` one sample a minute from `start` (ms), `value(i)`, as import lines.
fn lines(name: &str, service: &str, start: i64, n: i64, value: impl Fn(i64) -> f64) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{name}{{service=\"{service}\"}} {} {}\n",
                value(i),
                start + i * MIN
            )
        })
        .collect()
}

#[test]
fn detect_and_forecast_read_their_series_from_victoria_metrics() {
    let Some(binary) = vm::victoria_metrics_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let vm = vm::start_victoria_metrics(&binary, dir.path(), 30_000);
    // 200 points with a spike at 150 (as spiky_samples), and a second service.
    let samples = spiky_samples(0..200);
    let mut text: String = samples
        .iter()
        .map(|(t, v)| format!("cli_cpu{{service=\"api\"}} {v} {t}\n"))
        .collect();
    text.push_str(&lines("cli_cpu", "db", *T0, 200, |i| i as f64));
    vm::vm_import(&vm, &text, "cli_cpu", 2, *T0);
    let start = (*T0 / 1000).to_string();
    let end = ((*T0 + 199 * MIN) / 1000).to_string();
    let range = ["--start", &start, "--end", &end, "--step", "1m"];

    let mut args = vec![
        "detect",
        "--prometheus",
        &vm.url,
        "--query",
        "cli_cpu{service=\"api\"}",
    ];
    args.extend(range);
    args.extend([
        "--detector",
        "zscore",
        "-p",
        "window=30",
        "--format",
        "json",
    ]);
    let o = aiops(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["points"], 200);
    let anomalies = report["anomalies"].as_array().unwrap();
    assert!(anomalies.iter().any(|a| a["value"] == 90.0), "{report}");

    let mut args = vec![
        "forecast",
        "--prometheus",
        &vm.url,
        "--query",
        "cli_cpu{service=\"db\"}",
    ];
    args.extend(range);
    args.extend(["--horizon", "4", "--model", "naive"]);
    let o = aiops(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(rows.len(), 5, "{out}");
    // The next step after the last point, as unix seconds (the source's spelling).
    let next = ((*T0 + 200 * MIN) / 1000).to_string();
    assert!(rows[1].contains(&next), "{out}");

    // Both series: forecast takes one.
    let mut args = vec!["forecast", "--prometheus", &vm.url, "--query", "cli_cpu"];
    args.extend(range);
    args.extend(["--horizon", "4"]);
    let o = aiops(&args);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("2 series found"), "{}", stderr(&o));

    // Bad PromQL: VictoriaMetrics' message, not a panic.
    let mut args = vec!["detect", "--prometheus", &vm.url, "--query", "sum(cli_cpu"];
    args.extend(range);
    let o = aiops(&args);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("sum(cli_cpu"), "{}", stderr(&o));
    // A file and --prometheus together are refused by the parser.
    let o = aiops(&["detect", "x.csv", "--prometheus", &vm.url, "--query", "up"]);
    assert!(!o.status.success());
}

#[test]
fn the_service_reads_history_older_than_its_store_from_victoria_metrics() {
    let Some(binary) = vm::victoria_metrics_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let vm = vm::start_victoria_metrics(&binary, dir.path(), 30_000);
    // The two hours before what aiops will hold, in VictoriaMetrics only: 1000, 1001, ...
    let old_start = *T0 - 120 * MIN;
    vm::vm_import(
        &vm,
        &lines("cpu_usage", "api", old_start, 120, |i| 1000.0 + i as f64),
        "cpu_usage",
        1,
        old_start,
    );
    let config = format!(
        "metrics:\n  detectors:\n    - metric: 'cpu*'\n      detector: zscore\n      params: {{window: 30}}\nhistory:\n  prometheus:\n    url: {}\n    retries: 0\n  step: 1m\n",
        vm.url
    );
    let admin = token(dir.path(), "admin", "a");
    let prom = token(dir.path(), "ingest", "prom");
    let s = Server::start(dir.path(), &config);
    let r = s.remote_write(
        &prom,
        &write_request("cpu_usage", "api", &spiky_samples(0..160)),
    );
    assert_eq!(r.status(), 204);
    let list = eventually(|| {
        let (_, b) = json_of(s.get("/api/v1/anomalies?resource=api", &admin));
        (b["total"].as_u64() >= Some(1)).then_some(b)
    });
    let spike = list["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["value"] == 90.0)
        .expect("the spike is an anomaly")
        .clone();
    let id = spike["anomaly_id"].as_str().unwrap();
    // 200 minutes before the spike (at T0 + 150 min): 50 minutes before the store's first
    // sample, read from VictoriaMetrics, then the store's 160.
    let (status, detail) = json_of(s.get(
        &format!("/api/v1/anomalies/{id}?window_minutes=200"),
        &admin,
    ));
    assert_eq!(status, 200, "{detail}");
    let timeline = detail["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 50 + 160, "{detail}");
    let values: Vec<f64> = timeline
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .collect();
    // T0 - 50 min is VictoriaMetrics' point 70 (it starts at T0 - 120 min).
    assert_eq!(values[0], 1070.0);
    assert_eq!(values[49], 1119.0);
    assert_eq!(values[50], spiky_samples(0..1)[0].1);
    assert!(values[50..].iter().all(|&v| v < 100.0));
    let first = aiops_core::time::parse_timestamp(timeline[0]["timestamp"].as_str().unwrap())
        .unwrap()
        .0;
    assert_eq!(first, *T0 - 50 * MIN);

    // RCA over the same window runs on the longer history too, and on the series of the
    // resource that only VictoriaMetrics has (never sent to aiops).
    vm::vm_import(
        &vm,
        &lines("db_wait_ms", "api", old_start, 280, |i| {
            if i < 265 { 5.0 + (i % 3) as f64 } else { 400.0 }
        }),
        "db_wait_ms",
        1,
        old_start,
    );
    let (status, rca) = json_of(s.post_json(
        "/api/v1/rca/analyze",
        &admin,
        &serde_json::json!({"anomaly_ids": [id], "time_window_minutes": 200}),
    ));
    assert_eq!(status, 200, "{rca}");
    assert_eq!(rca["status"], "completed", "{rca}");
    assert!(
        rca["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("not stored by aiops: api:db_wait_ms")),
        "{rca}"
    );

    // VictoriaMetrics gone: the store's samples alone, no error.
    drop(vm);
    let (status, detail) = json_of(s.get(
        &format!("/api/v1/anomalies/{id}?window_minutes=200"),
        &admin,
    ));
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["timeline"].as_array().unwrap().len(), 160);
}
