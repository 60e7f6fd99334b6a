//! End-to-end tests of `aiops eval causal` on a small fixture written in PyRCA's format.

use std::path::Path;

use aiops_eval::SimRng;
use aiops_eval::dag_sim::Dag;

mod common;
use common::{aiops, aiops_line, stderr};

/// X1 -> X3 <- X2, X3 -> X4: identifiable from data alone (a collider, then Meek's R1).
fn write_fixture(dir: &Path) {
    let names: Vec<String> = (1..=4).map(|i| format!("X{i}")).collect();
    let dag = Dag::with_names(names.clone(), &[(0, 2, 1.0), (1, 2, 1.0), (2, 3, -0.8)]).unwrap();
    let data = dag.sample(3_000, 1.0, &mut SimRng::new(1));
    let mut text = names.join("\t") + "\n";
    for row in data.rows() {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:.6}")).collect();
        text += &(cells.join("\t") + "\n");
    }
    std::fs::write(dir.join("data_linear.txt"), text).unwrap();
    let graph =
        "Graph Nodes:\nX1;X2;X3;X4\n\nGraph Edges:\n1. X1 --> X3\n2. X2 --> X3\n3. X3 --> X4\n";
    std::fs::write(dir.join("graph.txt"), graph).unwrap();
}

#[test]
fn eval_causal_recovers_an_identifiable_dag() {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path());
    let d = dir.path().to_str().unwrap();
    let o = aiops(&["eval", "causal", "--data", d, "--alpha", "0.01", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["pc"]["scores"]["shd"], 0, "{v}");
    assert_eq!(v["pc"]["scores"]["directed_f1"], 1.0);
    assert_eq!(v["pc"]["scores"]["true_edges"], 3);
    assert_eq!(v["variables"], 4);
    let o = aiops(&["eval", "causal", "--data", d]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("SHD"));
}

#[test]
fn eval_causal_reports_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = aiops(&["eval", "causal", "--data", d]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("data_linear.txt"), "{}", stderr(&o));
    write_fixture(dir.path());
    let o = aiops(&["eval", "causal", "--data", d, "--alpha", "1.5"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("alpha"), "{}", stderr(&o));
    let k = dir.path().join("k.yaml");
    std::fs::write(&k, "causal-graph:\n  root-nodes: [DB_CPU]\n").unwrap();
    let o = aiops(&[
        "eval",
        "causal",
        "--data",
        d,
        "--knowledge",
        k.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("DB_CPU"), "{}", stderr(&o));
}

#[test]
fn eval_causal_simulated_prints_mean_scores() {
    let o = aiops_line("eval causal --simulate 2 --variables 6 --degree 2 --samples 1000 --json");
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["cases"], 2);
    for m in ["pc", "granger"] {
        let f1 = v[m]["skeleton_f1"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&f1), "{m}: {f1}");
    }
    let o = aiops(&["eval", "causal", "--simulate", "0"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cases"), "{}", stderr(&o));
}
