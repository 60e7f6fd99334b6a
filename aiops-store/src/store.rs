//! Opening the store: SQLite under a data directory (WAL) or PostgreSQL, migrations applied.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, AssertSqlSafe, Executor};

use crate::error::{Result, StoreError};
use crate::group::Appender;

/// Which database holds the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file in WAL mode.
    Sqlite,
    /// A PostgreSQL server (several replicas may share it).
    Postgres,
}

/// How durable a SQLite commit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// `synchronous=FULL`: a commit survives a power loss (an fsync per commit).
    #[default]
    Full,
    /// `synchronous=NORMAL`: a commit survives a crash of the process, not of the machine.
    Normal,
}

impl FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "full" => Ok(Durability::Full),
            "normal" => Ok(Durability::Normal),
            _ => Err(format!("unknown durability {s:?} (full, normal)")),
        }
    }
}

/// Options of [`Store::open`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Connections for reads (PostgreSQL: for everything).
    pub max_connections: u32,
    /// SQLite commit durability.
    pub durability: Durability,
    /// How long a statement waits for a lock or a connection (ms).
    pub busy_timeout_ms: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 4,
            durability: Durability::Full,
            busy_timeout_ms: 5_000,
        }
    }
}

/// The store: a pool for writes and one for reads (the same pool on PostgreSQL; SQLite has
/// one writer, so its write pool holds one connection and writers queue in order).
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) write: AnyPool,
    pub(crate) read: AnyPool,
    backend: Backend,
    /// Sample blocks waiting for their group commit.
    pub(crate) appender: Arc<Appender>,
}

/// `postgres://user:secret@host/db` with the password replaced, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let cred = &url[s + 3..at];
            match cred.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &cred[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Store {
    /// Opens (creating if needed) the SQLite store `aiops.db` under `dir`.
    pub async fn open_dir(dir: &Path, options: &StoreOptions) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Address {
            url: dir.display().to_string(),
            reason: format!("cannot create the data directory: {e}"),
        })?;
        let file = dir.join("aiops.db");
        let path = file.to_str().ok_or_else(|| StoreError::Address {
            url: file.display().to_string(),
            reason: "the path is not UTF-8".into(),
        })?;
        Self::open(&format!("sqlite://{path}?mode=rwc"), options).await
    }

    /// Opens a store by address: `sqlite://PATH?mode=rwc`, `sqlite::memory:` (tests) or
    /// `postgres://user:password@host:port/db`. Applies the embedded migrations.
    pub async fn open(url: &str, options: &StoreOptions) -> Result<Self> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::Address {
                url: redact(url),
                reason: "expected sqlite://PATH or postgres://...".into(),
            });
        };
        let timeout = Duration::from_millis(options.busy_timeout_ms);
        let store = match backend {
            Backend::Sqlite => {
                let pragmas = format!(
                    "PRAGMA busy_timeout = {}; PRAGMA synchronous = {}; PRAGMA foreign_keys = ON;",
                    options.busy_timeout_ms,
                    match options.durability {
                        Durability::Full => "FULL",
                        Durability::Normal => "NORMAL",
                    }
                );
                let memory = url.contains(":memory:");
                // The writer keeps more of the database in memory (64 MiB at most): sample
                // inserts touch one page per series, read again at the next compaction.
                let pool = |n: u32, writer: bool| {
                    let pragmas = if writer {
                        format!("{pragmas} PRAGMA cache_size = -65536;")
                    } else {
                        pragmas.clone()
                    };
                    AnyPoolOptions::new()
                        .max_connections(n)
                        .acquire_timeout(timeout)
                        .after_connect(move |conn, _| {
                            let pragmas = pragmas.clone();
                            Box::pin(async move {
                                conn.execute(sqlx::raw_sql(AssertSqlSafe(pragmas))).await?;
                                Ok(())
                            })
                        })
                };
                // An in-memory database exists once per connection: one connection for all.
                let write = pool(1, true).connect(url).await?;
                if !memory {
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&write)
                        .await?;
                }
                sqlx::migrate!("migrations/sqlite").run(&write).await?;
                let read = if memory {
                    write.clone()
                } else {
                    pool(options.max_connections.max(1), false)
                        .connect(url)
                        .await?
                };
                Store {
                    write,
                    read,
                    backend,
                    appender: Arc::default(),
                }
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(options.max_connections.max(2))
                    .acquire_timeout(timeout)
                    .connect(url)
                    .await
                    .map_err(|e| match e {
                        sqlx::Error::Configuration(c) => StoreError::Address {
                            url: redact(url),
                            reason: c.to_string(),
                        },
                        e => StoreError::Database(e),
                    })?;
                sqlx::migrate!("migrations/postgres").run(&pool).await?;
                Store {
                    write: pool.clone(),
                    read: pool,
                    backend,
                    appender: Arc::default(),
                }
            }
        };
        Ok(store)
    }

    /// The database behind the store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.read).await.is_ok()
    }

    /// Waits for the pools to close (after the last write was committed).
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://aiops:hunter2@db:5432/aiops"),
            "postgres://aiops:***@db:5432/aiops"
        );
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }

    #[tokio::test]
    async fn unknown_schemes_are_refused() {
        let e = Store::open("mysql://x", &StoreOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Address { .. }), "{e}");
    }

    #[tokio::test]
    async fn opens_a_directory_in_wal_mode_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open_dir(dir.path(), &StoreOptions::default())
            .await
            .unwrap();
        let mode: (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&s.write)
            .await
            .unwrap();
        assert_eq!(mode.0, "wal");
        s.close().await;
        // Migrations are idempotent.
        let s = Store::open_dir(dir.path(), &StoreOptions::default())
            .await
            .unwrap();
        assert!(s.ping().await);
    }
}
