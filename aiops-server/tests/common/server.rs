//! A running `aiops serve` on a free loopback port, for the service tests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aiops_integrations::remote_write::{Label, Sample, TimeSeries, WriteRequest, encode};

/// A server process; killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
    pub(crate) url: String,
    pub(crate) dir: PathBuf,
    pub(crate) http: reqwest::blocking::Client,
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Makes a token with the CLI; returns its secret.
pub(crate) fn token(dir: &Path, role: &str, name: &str) -> String {
    token_env(dir, role, name, &[])
}

/// Makes a token with the CLI run with these environment variables (`AIOPS_STORE`).
pub(crate) fn token_env(dir: &Path, role: &str, name: &str, env: &[(&str, &str)]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["token", "create", "--data-dir"])
        .arg(dir.join("data"))
        .args(["--role", role, "--name", name])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

impl Server {
    /// Starts `aiops serve` with this configuration on a free port; waits until ready.
    pub(crate) fn start(dir: &Path, config: &str) -> Server {
        Self::start_env(dir, config, &[])
    }

    /// [`Server::start`] with these environment variables (`AIOPS_STORE`).
    pub(crate) fn start_env(dir: &Path, config: &str, env: &[(&str, &str)]) -> Server {
        Self::start_with(dir, config, env, Stdio::inherit())
    }

    /// [`Server::start_env`] with the log (standard error) in `dir/aiops.log`, at `AIOPS_LOG`
    /// from `env` (default `warn`).
    pub(crate) fn start_logged(dir: &Path, config: &str, env: &[(&str, &str)]) -> Server {
        let log = std::fs::File::create(dir.join("aiops.log")).unwrap();
        Self::start_with(dir, config, env, Stdio::from(log))
    }

    /// What [`Server::start_logged`] has logged so far.
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("aiops.log")).unwrap_or_default()
    }

    fn start_with(dir: &Path, config: &str, env: &[(&str, &str)], stderr: Stdio) -> Server {
        let cfg = dir.join("aiops.yaml");
        std::fs::write(&cfg, config).unwrap();
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(["serve", "--config"])
            .arg(&cfg)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("AIOPS_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let s = Server {
            child,
            port,
            url: format!("http://127.0.0.1:{port}"),
            dir: dir.to_path_buf(),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        };
        let started = Instant::now();
        loop {
            if let Ok(r) = s.http.get(format!("{}/-/ready", s.url)).send()
                && r.status() == 200
            {
                return s;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `GET path` with a token.
    pub(crate) fn get(&self, path: &str, token: &str) -> reqwest::blocking::Response {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .unwrap()
    }

    /// `method path` with a JSON body and a token.
    fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::blocking::Response {
        self.http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(body)
            .send()
            .unwrap()
    }

    /// `POST path` with a JSON body and a token.
    pub(crate) fn post_json(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::blocking::Response {
        self.send_json(reqwest::Method::POST, path, token, body)
    }

    /// `PUT path` with a JSON body and a token.
    pub(crate) fn put_json(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::blocking::Response {
        self.send_json(reqwest::Method::PUT, path, token, body)
    }

    /// `DELETE path` with a token.
    pub(crate) fn delete(&self, path: &str, token: &str) -> reqwest::blocking::Response {
        self.http
            .delete(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .unwrap()
    }

    /// `POST /api/v1/write` of this request, as Prometheus sends it.
    pub(crate) fn remote_write(
        &self,
        token: &str,
        req: &WriteRequest,
    ) -> reqwest::blocking::Response {
        self.http
            .post(format!("{}/api/v1/write", self.url))
            .bearer_auth(token)
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(encode(req).unwrap())
            .send()
            .unwrap()
    }

    /// SIGTERM, then waits for the exit; returns whether it exited successfully.
    pub(crate) fn stop(mut self) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let ok = self.child.wait().map(|s| s.success()).unwrap_or(false);
        std::mem::forget(self);
        ok
    }

    /// SIGKILL: no chance to flush anything.
    pub(crate) fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::forget(self);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A remote_write request of one series `metric{service=...}` with these samples.
pub(crate) fn write_request(metric: &str, service: &str, samples: &[(i64, f64)]) -> WriteRequest {
    WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![
                Label {
                    name: "__name__".into(),
                    value: metric.into(),
                },
                Label {
                    name: "service".into(),
                    value: service.into(),
                },
            ],
            samples: samples
                .iter()
                .map(|&(t, v)| Sample {
                    value: v,
                    timestamp: t,
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A response's status and JSON body (`Null` when the body is not JSON).
pub(crate) fn json_of(r: reqwest::blocking::Response) -> (u16, serde_json::Value) {
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(serde_json::Value::Null))
}

/// Polls `f` until it gives `Some` (every 50 ms; fails after 30 s).
pub(crate) fn eventually<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "timed out");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The wall clock, ms since the epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A day ago on a whole minute: recent enough that retention keeps samples stamped from it
/// (fixed for the whole test run).
pub(crate) static T0: std::sync::LazyLock<i64> =
    std::sync::LazyLock::new(|| (now_ms() / 60_000 - 24 * 60) * 60_000);

/// A noisy flat series from [`T0`] with a spike at point 150 (one sample a minute).
pub(crate) fn spiky_samples(range: std::ops::Range<i64>) -> Vec<(i64, f64)> {
    range
        .map(|i| {
            let v = if i == 150 {
                90.0
            } else {
                50.0 + ((i * 7919) % 13) as f64 * 0.3
            };
            (*T0 + i * 60_000, v)
        })
        .collect()
}
