//! Helpers shared by the CLI tests: run the binary, write input files, read its output.
// Each test file uses only some of them.
#![allow(dead_code)]

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
