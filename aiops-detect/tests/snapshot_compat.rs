//! Snapshots written by earlier versions restore and continue exactly as the version that wrote
//! them would have: for every registry detector, `fixtures/snapshots_v1.json` holds a state
//! saved after a prefix of a synthetic series, the points that follow, and the scores the
//! writing version gave them.
//!
//! The fixture was written by version 0.1.0 before the detector code was restructured; it is
//! only ever extended (`AIOPS_WRITE_FIXTURES=1`), with a case for each detector that has none.

use std::path::PathBuf;

use aiops_detect::{PointScore, registry};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Serialize, Deserialize)]
struct Case {
    detector: String,
    params: Map<String, Value>,
    snapshot: String,
    timestamps: Vec<i64>,
    values: Vec<f64>,
    expected: Vec<PointScore>,
}

const PREFIX: usize = 1_300;
const TAIL: usize = 200;
const STEP_MS: i64 = 60_000;

/// A daily-like cycle (period 24) with noise, two spikes and a level shift: every detector
/// has warmed up and seen something by the snapshot.
fn series(n: usize) -> (Vec<i64>, Vec<f64>) {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut noise = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    };
    let ts = (0..n as i64)
        .map(|i| 1_700_000_000_000 + i * STEP_MS)
        .collect();
    let vs = (0..n)
        .map(|i| {
            let season = 10.0 * (2.0 * std::f64::consts::PI * i as f64 / 24.0).sin();
            let shift = if i >= 1_100 { 15.0 } else { 0.0 };
            let spike = if i == 700 || i == 1_350 { 40.0 } else { 0.0 };
            50.0 + season + shift + spike + 2.0 * noise()
        })
        .collect();
    (ts, vs)
}

/// Parameters per detector: the defaults, made smaller where the default state is large.
fn params(name: &str) -> Map<String, Value> {
    let json = match name {
        "threshold" => r#"{"upper": 75, "lower": 30}"#,
        "isolation_forest" => {
            r#"{"trees": 10, "window": 128, "sample_size": 64, "refit_every": 64}"#
        }
        "random_cut_forest" => r#"{"trees": 8, "tree_size": 64}"#,
        "contextual" | "default" | "novelty" | "ensemble" => "{}",
        _ => "{}",
    };
    serde_json::from_str(json).unwrap()
}

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/snapshots_v1.json")
}

fn write_case(name: &str) -> Case {
    let (ts, vs) = series(PREFIX + TAIL);
    let p = params(name);
    let det = registry::build(name, &p).unwrap();
    let mut online = det.online();
    for i in 0..PREFIX {
        online.update(ts[i], vs[i]).unwrap();
    }
    let snapshot = online.snapshot().unwrap();
    let expected = (PREFIX..PREFIX + TAIL)
        .map(|i| online.update(ts[i], vs[i]).unwrap())
        .collect();
    Case {
        detector: name.to_string(),
        params: p,
        snapshot,
        timestamps: ts[PREFIX..].to_vec(),
        values: vs[PREFIX..].to_vec(),
        expected,
    }
}

#[test]
fn old_snapshots_restore_and_continue_identically() {
    if std::env::var_os("AIOPS_WRITE_FIXTURES").is_some() {
        // Only detectors without a fixture get one: the others keep the states their
        // writing version saved.
        let mut cases: Vec<Case> = match std::fs::read_to_string(path()) {
            Ok(text) => serde_json::from_str(&text).unwrap(),
            Err(_) => Vec::new(),
        };
        for d in registry::DETECTORS {
            if !cases.iter().any(|c| c.detector == d.name) {
                cases.push(write_case(d.name));
            }
        }
        std::fs::write(path(), serde_json::to_string(&cases).unwrap()).unwrap();
    }
    let cases: Vec<Case> = serde_json::from_str(&std::fs::read_to_string(path()).unwrap()).unwrap();
    assert_eq!(
        cases.len(),
        registry::DETECTORS.len(),
        "a detector has no fixture"
    );
    for case in &cases {
        let det = registry::build(&case.detector, &case.params).unwrap();
        let mut online = det.online();
        online
            .restore(&case.snapshot)
            .unwrap_or_else(|e| panic!("{}: {e}", case.detector));
        for (i, (&t, &v)) in case.timestamps.iter().zip(&case.values).enumerate() {
            let got = online.update(t, v).unwrap();
            assert_eq!(got, case.expected[i], "{} point {i}", case.detector);
        }
    }
}
