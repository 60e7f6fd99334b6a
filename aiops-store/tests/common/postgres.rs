//! A throwaway PostgreSQL server for tests, started from the installed server binaries
//! (Debian: `/usr/lib/postgresql/<version>/bin`, package `postgresql`; another folder with
//! `AIOPS_PG_BIN`, none with `AIOPS_PG_BIN=` set empty).
//!
//! One server per test process, started on first use: `initdb` into a new folder under the
//! temporary directory (trust authentication, user `aiops`), then `postgres` listening on
//! 127.0.0.1 on a free port only (no Unix socket). Every test gets its own database from
//! [`database`]. PostgreSQL refuses to run as root, so under root both run as `nobody`.
//!
//! Stopping: the server runs under a small `sh` watchdog whose standard input is a pipe from
//! the test process. When the test process ends, however it ends (even `kill -9`), the pipe
//! closes, and the watchdog stops the server (fast shutdown) and removes its folder.
//!
//! When no server binaries are installed, [`database`] says so on standard error and returns
//! `None`: the test skips. With `AIOPS_REQUIRE_POSTGRES=1` (CI) it fails instead.
//!
//! Standard library only, so that both `aiops-store` and `aiops-server` tests can include it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The running server of this test process.
pub(crate) struct Postgres {
    /// The folder of its binaries.
    pub(crate) bin: PathBuf,
    /// Its loopback port.
    pub(crate) port: u16,
    /// The folder holding its data and log (removed by the watchdog).
    pub(crate) dir: PathBuf,
    /// The watchdog and the write end of its standard input (kept open until exit).
    _watchdog: Mutex<(Child, ChildStdin)>,
}

static SERVER: OnceLock<Option<Postgres>> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

/// The folder of the PostgreSQL server binaries (`initdb`, `postgres`, `createdb`), if any.
pub(crate) fn bin_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("AIOPS_PG_BIN") {
        // Set but empty: PostgreSQL tests are skipped.
        return (!d.is_empty()).then(|| PathBuf::from(d));
    }
    let complete = |d: &Path| {
        ["initdb", "postgres", "createdb"]
            .iter()
            .all(|b| d.join(b).is_file())
    };
    // Debian keeps them out of PATH, one folder per major version: take the newest.
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            complete(&bin).then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::split_paths(&std::env::var_os("PATH")?).find(|d| complete(d))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `(uid, gid)` of `nobody` when this process runs as root (PostgreSQL refuses root).
fn unprivileged() -> Option<(u32, u32)> {
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok()?;
    if me != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let ids = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 3 && f[0] == "nobody").then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    });
    Some(ids.unwrap_or((65534, 65534)))
}

fn as_user(cmd: &mut Command, user: Option<(u32, u32)>) -> &mut Command {
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

impl Postgres {
    /// Starts a server; tries another port (and folder) when the free port was taken in
    /// the meantime.
    fn start(bin: PathBuf) -> Postgres {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::try_start(bin.clone()) {
                Ok(server) => return server,
                Err(log) if attempt < 3 && log.contains("could not") => {
                    eprintln!("PostgreSQL did not start, retrying on another port:\n{log}");
                }
                Err(log) => panic!("PostgreSQL did not start:\n{log}"),
            }
        }
    }

    /// Starts a server; on failure, its log (the folder is removed when the returned
    /// server's watchdog sees its input close, i.e. on drop).
    fn try_start(bin: PathBuf) -> Result<Postgres, String> {
        let user = unprivileged();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!("aiops-pg-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
        }
        let data = dir.join("data");
        let out = as_user(&mut Command::new(bin.join("initdb")), user)
            .current_dir(&dir)
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "aiops",
                "-A",
                "trust",
                "--no-locale",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .output()
            .expect("run initdb");
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            panic!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let port = free_port();
        // The watchdog: starts the server, waits for its standard input to close (the test
        // process ended), then stops the server and removes the folder.
        let script = r#"
            "$1/postgres" -D "$2/data" -h 127.0.0.1 -p "$3" -c unix_socket_directories= \
                -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
                -c max_connections=200 >"$2/postgres.log" 2>&1 &
            pid=$!
            cat >/dev/null
            kill -INT "$pid" 2>/dev/null
            wait "$pid"
            rm -rf "$2"
        "#;
        let mut child = as_user(&mut Command::new("sh"), user)
            .current_dir(&dir)
            .args(["-c", script, "sh"])
            .arg(&bin)
            .arg(&dir)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start postgres");
        let stdin = child.stdin.take().unwrap();
        let server = Postgres {
            bin,
            port,
            dir,
            _watchdog: Mutex::new((child, stdin)),
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&self) -> Result<(), String> {
        let started = Instant::now();
        let log = || std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
        loop {
            let ok = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return Ok(());
            }
            // A fatal error at start (the port was taken): the server has exited. A probe
            // answered "the database system is starting up" (logged as FATAL too) is not one.
            let text = log();
            let fatal = text
                .lines()
                .any(|l| l.contains("FATAL") && !l.contains("is starting up"));
            if fatal || started.elapsed() > Duration::from_secs(60) {
                return Err(format!("port {}:\n{text}", self.port));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Creates a new empty database; returns its URL.
    pub(crate) fn create_database(&self, hint: &str) -> String {
        let n = DATABASES.fetch_add(1, Ordering::SeqCst);
        let clean: String = hint
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let name = format!("t{n}_{clean}");
        let out = Command::new(self.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "aiops",
                &name,
            ])
            .output()
            .expect("run createdb");
        assert!(
            out.status.success(),
            "createdb {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("postgres://aiops@127.0.0.1:{}/{name}", self.port)
    }
}

/// The server of this test process, started on first use; `None` when PostgreSQL is not
/// installed (after saying so, unless `AIOPS_REQUIRE_POSTGRES=1`, which makes it a failure).
pub(crate) fn server() -> Option<&'static Postgres> {
    SERVER
        .get_or_init(|| match bin_dir() {
            Some(bin) => Some(Postgres::start(bin)),
            None => {
                assert!(
                    std::env::var("AIOPS_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                    "AIOPS_REQUIRE_POSTGRES=1 but no PostgreSQL server binaries were found \
                     (install the Debian package postgresql: scripts/install-test-services.sh)"
                );
                None
            }
        })
        .as_ref()
}

/// A new empty database on this process's server, as a `postgres://` URL; `None` when the
/// test must skip (PostgreSQL not installed; the reason is printed).
pub(crate) fn database(test: &str) -> Option<String> {
    match server() {
        Some(s) => Some(s.create_database(test)),
        None => {
            eprintln!(
                "skipped {test}: PostgreSQL is not installed (no initdb/postgres in \
                 /usr/lib/postgresql/*/bin, AIOPS_PG_BIN or PATH; \
                 scripts/install-test-services.sh installs it)"
            );
            None
        }
    }
}
