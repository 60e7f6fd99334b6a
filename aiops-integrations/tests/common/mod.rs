//! Real components from Debian (VictoriaMetrics, Prometheus, Alertmanager) run on 127.0.0.1
//! for a test: found on `PATH` (or by an environment variable), skipped with a message when
//! missing unless the run requires them, killed when the test ends. Also used by
//! aiops-server's tests (`#[path]`).
// Each test file uses only some of them.
#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (free a moment ago).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The binary `name` (or the path in `override_env`), or `None` after saying why the test
/// skips; a failure instead when `require_env` is `1`.
pub fn binary_or_skip(name: &str, override_env: &str, require_env: &str) -> Option<PathBuf> {
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
pub struct Daemon {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    log: PathBuf,
}

impl Daemon {
    /// Starts `binary` with `args` (output in `dir/<name>.log`) and waits until
    /// `http://127.0.0.1:port<ready>` answers 200.
    pub fn start(
        binary: &Path,
        args: &[String],
        dir: &Path,
        name: &str,
        port: u16,
        ready: &str,
    ) -> Daemon {
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join(format!("{name}.out"))).unwrap())
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
            if let Ok(r) = http.get(format!("{}{ready}", d.url)).send()
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

    /// Stops it with SIGTERM (a clean shutdown that saves its state), killing it after 15 s.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What it wrote on standard error.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// VictoriaMetrics (Debian's `victoria-metrics`), or `None` when the test must skip
/// (`AIOPS_REQUIRE_VICTORIAMETRICS=1` makes a missing binary a failure,
/// `AIOPS_VICTORIAMETRICS=PATH` picks another binary).
pub fn victoria_metrics_or_skip() -> Option<PathBuf> {
    binary_or_skip(
        "victoria-metrics",
        "AIOPS_VICTORIAMETRICS",
        "AIOPS_REQUIRE_VICTORIAMETRICS",
    )
}

/// Starts VictoriaMetrics on a free port with its data under `dir`: samples of any age kept
/// (100 years), no result cache and no latency offset (a test reads what it just wrote), and
/// at most `max_points` points per series in one `query_range`.
pub fn start_victoria_metrics(binary: &Path, dir: &Path, max_points: usize) -> Daemon {
    let port = free_port();
    let args = [
        format!("-storageDataPath={}", dir.join("vm-data").display()),
        format!("-httpListenAddr=127.0.0.1:{port}"),
        "-retentionPeriod=100y".to_string(),
        "-search.disableCache".to_string(),
        "-search.latencyOffset=0s".to_string(),
        format!("-search.maxPointsPerTimeseries={max_points}"),
        "-loggerLevel=ERROR".to_string(),
    ];
    Daemon::start(binary, &args, dir, "victoria-metrics", port, "/health")
}

/// Writes samples in the Prometheus text format (`name{l="v"} value timestamp_ms` lines) to
/// VictoriaMetrics, then waits until `count` series of `metric` are searchable from `since`
/// (ms; VictoriaMetrics' series search needs a start near the data).
pub fn vm_import(vm: &Daemon, lines: &str, metric: &str, count: usize, since: i64) {
    let http = reqwest::blocking::Client::new();
    let r = http
        .post(format!("{}/api/v1/import/prometheus", vm.url))
        .body(lines.to_string())
        .send()
        .unwrap();
    assert!(r.status().is_success(), "import: {}", r.text().unwrap());
    let started = Instant::now();
    loop {
        let _ = http.get(format!("{}/internal/force_flush", vm.url)).send();
        let r: serde_json::Value = http
            .get(format!("{}/api/v1/series", vm.url))
            .query(&[
                ("match[]", metric.to_string()),
                ("start", (since / 1000).to_string()),
            ])
            .send()
            .unwrap()
            .json()
            .unwrap();
        if r["data"].as_array().map_or(0, |a| a.len()) >= count {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "VictoriaMetrics did not show {metric}: {r}\n{}",
            vm.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Prometheus (Debian's `prometheus`), or `None` when the test must skip.
pub fn prometheus_or_skip() -> Option<PathBuf> {
    binary_or_skip("prometheus", "AIOPS_PROMETHEUS", "AIOPS_REQUIRE_PROMETHEUS")
}

/// Starts Prometheus with an empty configuration on a free port, its data under `dir`.
pub fn start_prometheus(binary: &Path, dir: &Path) -> Daemon {
    let port = free_port();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 1m\n").unwrap();
    let args = [
        format!("--config.file={}", cfg.display()),
        format!(
            "--storage.tsdb.path={}",
            dir.join("prometheus-data").display()
        ),
        format!("--web.listen-address=127.0.0.1:{port}"),
    ];
    Daemon::start(binary, &args, dir, "prometheus", port, "/-/ready")
}

/// nats-server (Debian's `nats-server`), or `None` when the test must skip
/// (`AIOPS_REQUIRE_NATS=1` makes a missing binary a failure, `AIOPS_NATS=PATH` picks another
/// binary).
pub fn nats_or_skip() -> Option<PathBuf> {
    binary_or_skip("nats-server", "AIOPS_NATS", "AIOPS_REQUIRE_NATS")
}

/// Starts nats-server with JetStream on `127.0.0.1:port`, its store under `dir/nats-data`
/// (kept across restarts on the same `dir`), its monitoring on a free port; returns once
/// `/healthz` answers 200. The client URL is `nats://127.0.0.1:port`.
pub fn start_nats(binary: &Path, dir: &Path, port: u16) -> Daemon {
    let monitor = free_port();
    let args = [
        "-js".to_string(),
        "-a".to_string(),
        "127.0.0.1".to_string(),
        "-p".to_string(),
        port.to_string(),
        "-m".to_string(),
        monitor.to_string(),
        "-sd".to_string(),
        dir.join("nats-data").display().to_string(),
    ];
    Daemon::start(binary, &args, dir, "nats-server", monitor, "/healthz")
}

/// Alertmanager (Debian's `prometheus-alertmanager`), or `None` when the test must skip
/// (`AIOPS_REQUIRE_ALERTMANAGER=1` makes a missing binary a failure, `AIOPS_ALERTMANAGER=PATH`
/// picks another binary).
pub fn alertmanager_or_skip() -> Option<PathBuf> {
    binary_or_skip(
        "prometheus-alertmanager",
        "AIOPS_ALERTMANAGER",
        "AIOPS_REQUIRE_ALERTMANAGER",
    )
}

/// Starts Alertmanager on a free port, its data under `dir`, clustering off, routing every
/// alert to a receiver without integrations (nothing is sent anywhere).
pub fn start_alertmanager(binary: &Path, dir: &Path) -> Daemon {
    let port = free_port();
    let cfg = dir.join("alertmanager.yml");
    std::fs::write(
        &cfg,
        "route:\n  receiver: \"null\"\n  group_wait: 1s\nreceivers:\n  - name: \"null\"\n",
    )
    .unwrap();
    let args = [
        format!("--config.file={}", cfg.display()),
        format!("--storage.path={}", dir.join("alertmanager-data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--cluster.listen-address=".to_string(),
    ];
    Daemon::start(binary, &args, dir, "alertmanager", port, "/-/ready")
}
