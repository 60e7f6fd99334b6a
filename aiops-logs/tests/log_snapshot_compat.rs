//! Log snapshots written by earlier versions restore and continue exactly as the version that
//! wrote them would have: the template miner and the log anomaly detector, each saved in
//! the middle of a synthetic log (`fixtures/log_snapshots_v1.json`, written by 0.1.0).

use std::path::PathBuf;

use aiops_logs::{ClosedWindow, DrainParams, LogDetectorParams, LogDetectorState, TemplateMiner};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Fixture {
    miner_snapshot: String,
    detector_snapshot: String,
    /// Lines fed after the snapshots.
    tail: Vec<String>,
    /// Template id and template of each tail line.
    templates: Vec<(u64, String)>,
    /// Windows closed by the tail lines, then by `finish`.
    windows: Vec<ClosedWindow>,
}

mod support {
    pub(crate) mod synthetic_log;
}
use support::synthetic_log::{FORMAT, logins, stamp};

/// Two hours of a service log, one minute at a time: logins, cache refreshes, a database
/// error now and then, a burst of errors at minute 70 and a new message from minute 90.
fn log() -> Vec<String> {
    let mut out = Vec::new();
    for m in 0..120u64 {
        out.extend(logins(m));
        out.push(format!(
            "{} INFO: cache refreshed in {} ms",
            stamp(m * 60 + 35),
            m % 9 + 1
        ));
        let errors = if m == 70 { 20 } else { u64::from(m % 10 == 5) };
        for e in 0..errors {
            out.push(format!(
                "{} ERROR: connection to db 10.1.0.{} failed",
                stamp(m * 60 + 40 + e),
                e % 4
            ));
        }
        if m >= 90 {
            out.push(format!(
                "{} WARN: disk /dev/sd{} at {}% capacity",
                stamp(m * 60 + 59),
                m % 3,
                80 + m % 20
            ));
        }
    }
    out
}

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/log_snapshots_v1.json")
}

fn write() -> Fixture {
    let lines = log();
    let half = lines.len() / 2;
    let mut miner = DrainParams::new()
        .log_format(FORMAT)
        .check()
        .unwrap()
        .miner();
    let mut state = LogDetectorParams::new()
        .log_format(FORMAT)
        .check()
        .unwrap()
        .state();
    for l in &lines[..half] {
        miner.learn(l);
        state.update(l);
    }
    let miner_snapshot = serde_json::to_string(&miner).unwrap();
    let detector_snapshot = state.snapshot().unwrap();
    let tail = lines[half..].to_vec();
    let templates = tail
        .iter()
        .map(|l| {
            let id = miner.learn(l).id;
            (id, miner.template(id).unwrap())
        })
        .collect();
    let mut windows: Vec<ClosedWindow> = tail.iter().filter_map(|l| state.update(l)).collect();
    windows.extend(state.finish());
    Fixture {
        miner_snapshot,
        detector_snapshot,
        tail,
        templates,
        windows,
    }
}

#[test]
fn old_log_snapshots_restore_and_continue_identically() {
    if std::env::var_os("AIOPS_WRITE_FIXTURES").is_some() {
        std::fs::write(path(), serde_json::to_string(&write()).unwrap()).unwrap();
    }
    let f: Fixture = serde_json::from_str(&std::fs::read_to_string(path()).unwrap()).unwrap();
    let mut miner: TemplateMiner = serde_json::from_str(&f.miner_snapshot).unwrap();
    let mut state = LogDetectorState::restore(&f.detector_snapshot).unwrap();
    for (l, expected) in f.tail.iter().zip(&f.templates) {
        let id = miner.learn(l).id;
        assert_eq!(&(id, miner.template(id).unwrap()), expected, "{l}");
    }
    let mut windows: Vec<ClosedWindow> = f.tail.iter().filter_map(|l| state.update(l)).collect();
    windows.extend(state.finish());
    assert_eq!(windows, f.windows);
    assert!(
        windows.iter().any(|w| w.window.anomalous),
        "the fixture should hold an anomaly"
    );
}
