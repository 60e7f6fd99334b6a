//! A real component from Debian (Prometheus, Alertmanager) run on 127.0.0.1 for a test: found
//! on `PATH` (or by an environment variable), skipped with a message when missing unless the
//! test run requires it, killed when the test ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary `name` (or the path in the environment variable `override_env`), or `None`
/// after saying why the test skips; fails instead when `require_env` is `1`.
pub(crate) fn binary_or_skip(name: &str, override_env: &str, require_env: &str) -> Option<PathBuf> {
    let found = std::env::var_os(override_env)
        .map(PathBuf::from)
        .or_else(|| {
            std::env::split_paths(&std::env::var_os("PATH")?)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        });
    if found.is_none() {
        assert!(
            std::env::var(require_env).as_deref() != Ok("1"),
            "{require_env}=1 but {name} is not installed"
        );
        eprintln!(
            "skipped: {name} is not installed (scripts/install-test-services.sh installs it)"
        );
    }
    found
}

/// A running component; killed when dropped.
pub(crate) struct Daemon {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    log: PathBuf,
}

impl Daemon {
    /// Starts `binary` with `args`, its output in `dir/<name>.log`, and waits until
    /// `http://127.0.0.1:port/-/ready` answers 200.
    pub(crate) fn start(
        binary: &Path,
        args: &[String],
        dir: &Path,
        name: &str,
        port: u16,
    ) -> Daemon {
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let d = Daemon {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let http = reqwest::blocking::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{}/-/ready", d.url)).send()
                && r.status() == 200
            {
                return d;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{name} did not start:\n{}",
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What it wrote on standard error.
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The sum of a counter over all its series, from its own `/metrics`.
    pub(crate) fn counter(&self, name: &str) -> f64 {
        let text = reqwest::blocking::get(format!("{}/metrics", self.url))
            .unwrap()
            .text()
            .unwrap();
        metric_sum(&text, name)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The sum of every sample of `name` (with or without labels) in a text exposition.
pub(crate) fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
