//! `aiops rca` end to end: a small shop topology and metrics written by the test.

use std::path::{Path, PathBuf};

mod common;
use common::{aiops, aiops_line, s, write};

const TOPOLOGY: &str = r#"{"nodes": [{"id": "frontend", "kind": "service"},
    {"id": "cart", "kind": "service"}, {"id": "checkout", "kind": "service"},
    {"id": "host1", "kind": "host"}],
  "edges": [{"from": "frontend", "to": "cart", "kind": "calls"},
            {"from": "frontend", "to": "checkout", "kind": "calls"},
            {"from": "cart", "to": "host1", "kind": "runs_on"},
            {"from": "checkout", "to": "host1", "kind": "runs_on"}]}"#;

/// 120 minutes from 2026-01-01T12:00:00Z; cart's CPU jumps at minute 90, its latency with it,
/// the frontend's latency a minute later; checkout and host1 stay put.
fn metrics(rfc3339: bool) -> String {
    let mut s = String::from(
        "timestamp,frontend:latency,cart:cpu,cart:latency,checkout:latency,host1:cpu\n",
    );
    let wiggle = |i: usize, k: usize| [0.0, 0.8, -0.6, 0.3, -0.9, 0.5, -0.2][(i * 3 + k) % 7];
    for i in 0..120usize {
        let t = 1_767_268_800 + 60 * i as i64;
        let ts = if rfc3339 {
            format!("2026-01-01T{:02}:{:02}:00Z", 12 + i / 60, i % 60)
        } else {
            t.to_string()
        };
        let cart_cpu = 20.0 + wiggle(i, 1) + if i >= 90 { 30.0 } else { 0.0 };
        let cart_lat = 15.0 + wiggle(i, 2) + if i >= 90 { 25.0 } else { 0.0 };
        let front = 60.0 + wiggle(i, 3) + if i >= 91 { 25.0 } else { 0.0 };
        let checkout = 30.0 + wiggle(i, 4);
        let host = 40.0 + wiggle(i, 5);
        // One missing cell: interpolated, not dropped.
        let checkout = if i == 10 {
            String::new()
        } else {
            format!("{checkout}")
        };
        s.push_str(&format!(
            "{ts},{front},{cart_cpu},{cart_lat},{checkout},{host}\n"
        ));
    }
    s
}

/// A temporary folder holding the shop topology and its metrics (with RFC 3339 times or not).
fn shop(rfc3339: bool) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let topo = write(dir.path(), "topology.json", TOPOLOGY);
    let csv = write(dir.path(), "metrics.csv", metrics(rfc3339));
    (dir, topo, csv)
}

#[test]
fn ranks_cart_first_with_the_issue_json_shape() {
    let (_dir, topo, csv) = shop(false);
    let o = aiops_line(&format!(
        "rca --topology {} --metrics {} --anomaly-time 2026-01-01T13:30:00Z",
        s(&topo),
        s(&csv)
    ));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "anomaly_time",
            "impact",
            "method",
            "recommended_actions",
            "root_causes"
        ]
    );
    assert_eq!(v["anomaly_time"], "2026-01-01T13:30:00.000Z");
    assert_eq!(v["method"], "default");
    let causes = v["root_causes"].as_array().unwrap();
    assert_eq!(causes.len(), 4, "every resource with metrics is listed");
    let top = &causes[0];
    assert_eq!(top["rank"], 1);
    assert_eq!(top["resource"], "cart");
    let c = top["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&c));
    let evidence = top["evidence"].as_array().unwrap();
    assert!(
        evidence[0].as_str().unwrap().starts_with("cart:"),
        "{evidence:?}"
    );
    let mut fields: Vec<&str> = top
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "confidence",
            "evidence",
            "metric",
            "rank",
            "resource",
            "score"
        ]
    );
    assert_eq!(v["impact"]["affected"], serde_json::json!(["frontend"]));
    assert_eq!(v["recommended_actions"], serde_json::json!([]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 missing values filled"));
}

#[test]
fn finds_the_time_itself_and_reads_rfc3339() {
    let (_dir, topo, csv) = shop(true);
    for method in ["default", "baro", "nsigma", "hypothesis", "pagerank"] {
        let o = aiops(&[
            "rca",
            "--topology",
            topo.to_str().unwrap(),
            "--metrics",
            csv.to_str().unwrap(),
            "--method",
            method,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["method"], method);
        assert_eq!(v["anomaly_time"], "2026-01-01T13:30:00.000Z");
        assert!(String::from_utf8_lossy(&o.stderr).contains("anomaly time found in the data"));
    }
}

#[test]
fn runbooks_fill_recommended_actions() {
    let (dir, topo, csv) = shop(false);
    let books = dir.path().join("runbooks");
    std::fs::create_dir(&books).unwrap();
    write(
        &books,
        "cpu.md",
        "---\nkinds: [service]\nmetrics: ['cpu*']\n---\n# CPU saturation\n- Profile the hot path\n",
    );
    write(
        &books,
        "disk.md",
        "---\nkinds: [host]\nmetrics: ['disk*']\n---\n# Disk full\n- Delete old logs\n",
    );
    let o = aiops_line(&format!(
        "rca --topology {} --metrics {} --anomaly-time 1767274200 --runbooks {}",
        s(&topo),
        s(&csv),
        s(&books)
    ));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let actions = v["recommended_actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0]["runbook"], "cpu");
    assert_eq!(actions[0]["resource"], "cart");
    assert_eq!(
        actions[0]["actions"],
        serde_json::json!(["Profile the hot path"])
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let (dir, topo, csv) = shop(false);
    let run = |extra: &[&str], csv: &Path| {
        let mut args = vec![
            "rca",
            "--topology",
            topo.to_str().unwrap(),
            "--metrics",
            csv.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = aiops(&args);
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    assert!(run(&["--anomaly-time", "2030-01-01T00:00:00Z"], &csv).contains("outside"));
    assert!(run(&["--method", "magic"], &csv).contains("unknown method"));
    let unknown = write(
        dir.path(),
        "unknown.csv",
        metrics(false).replacen("host1:cpu", "db:cpu", 1),
    );
    assert!(run(&[], &unknown).contains("\"db\", which is not in the topology"));
    let cyc = write(
        dir.path(),
        "cyc.json",
        r#"{"nodes": [{"id": "a", "kind": "pod"}, {"id": "b", "kind": "host"}],
            "edges": [{"from": "a", "to": "b", "kind": "runs_on"},
                      {"from": "b", "to": "a", "kind": "runs_on"}]}"#,
    );
    let o = aiops_line(&format!("rca --topology {} --metrics {}", s(&cyc), s(&csv)));
    assert!(String::from_utf8_lossy(&o.stderr).contains("runs_on edges form a cycle"));
}
