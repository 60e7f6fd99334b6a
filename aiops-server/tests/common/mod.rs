//! Helpers shared by the CLI tests: run the binary, write input files, read its output.
// Each test file uses only some of them.
#![allow(dead_code)]

pub(crate) mod daemon;
pub(crate) mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `aiops` with these arguments (without `AIOPS_DATA`, so data defaults are the built-in ones).
pub(crate) fn aiops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(args)
        .env_remove("AIOPS_DATA")
        .output()
        .expect("run aiops")
}

/// Writes `bytes` to `dir/name` and returns the path.
pub(crate) fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// What the command printed on standard output.
pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What the command printed on standard error.
pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `aiops` with a command line split on whitespace (for arguments without spaces).
pub(crate) fn aiops_line(line: &str) -> Output {
    aiops(&line.split_whitespace().collect::<Vec<_>>())
}

/// A path as text.
pub(crate) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A wide CSV `timestamp,cpu,latency` of `rows` one-minute rows from `t0` (unix seconds) where
/// latency follows cpu, except at `jump_row`, where it is `jump(cpu)`.
pub(crate) fn cpu_latency_csv(
    rows: u64,
    t0: u64,
    jump_row: u64,
    jump: impl Fn(f64) -> f64,
) -> String {
    let mut csv = String::from("timestamp,cpu,latency\n");
    for i in 0..rows {
        let cpu = 50.0 + ((i * 7919) % 17) as f64;
        let latency = if i == jump_row {
            jump(cpu)
        } else {
            2.0 * cpu + ((i * 31) % 5) as f64 * 0.1
        };
        csv.push_str(&format!("{},{cpu},{latency}\n", t0 + i * 60));
    }
    csv
}

/// The text field `key` of each object in the JSON array `items`.
pub(crate) fn strs<'a>(items: &'a serde_json::Value, key: &str) -> Vec<&'a str> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[key].as_str().unwrap())
        .collect()
}

/// A temporary folder holding one file `name` with `bytes`, and the file's path; the folder
/// goes away when the returned guard is dropped.
pub(crate) fn temp_file(name: &str, bytes: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), name, bytes);
    (dir, p)
}
