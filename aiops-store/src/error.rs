//! The one error type of `aiops-store`.

use std::sync::Arc;

use aiops_core::CoreError;

/// What can go wrong reading or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store address is not one this crate can open.
    #[error("store address {url:?}: {reason}")]
    Address {
        /// The address as given (credentials removed).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database refused or failed a statement (the connection, a constraint, I/O).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the embedded migrations failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value does not decode (a corrupt row or a newer schema).
    #[error("stored {what} does not decode: {reason}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// Why it does not decode.
        reason: String,
    },
    /// No such record.
    #[error("{kind} {id:?} not found")]
    NotFound {
        /// The kind of record (`anomaly`, `alert`...).
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
    /// A record with that unique name or id exists already.
    #[error("{kind} {id:?} already exists")]
    Conflict {
        /// The kind of record.
        kind: &'static str,
        /// The clashing name or id.
        id: String,
    },
    /// A value is invalid for the data model.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A write committed together with others (sample blocks of concurrent
    /// [`crate::Store::append_samples`] calls share one transaction) failed: every write of
    /// that transaction gets this same error, and none of them is stored.
    #[error("{0} (a group commit of {1} writes)")]
    Shared(Arc<StoreError>, usize),
}

impl StoreError {
    /// A [`StoreError::Corrupt`] from a JSON error.
    pub(crate) fn corrupt(what: &'static str, e: impl std::fmt::Display) -> Self {
        StoreError::Corrupt {
            what,
            reason: e.to_string(),
        }
    }

    /// True when retrying the same call later can succeed (busy, pool timeout, I/O; on
    /// PostgreSQL also a deadlock, a serialization failure, a lost connection, a server
    /// shutting down or out of connections), so a server answers 503 rather than 500.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Shared(e, _) => e.is_transient(),
            StoreError::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed,
            ) => true,
            StoreError::Database(sqlx::Error::Database(e)) => {
                e.message().contains("locked")
                    || e.message().contains("busy")
                    || e.code().is_some_and(|c| retryable_sqlstate(&c))
            }
            _ => false,
        }
    }
}

/// PostgreSQL SQLSTATEs after which the same statement can succeed later: serialization
/// failure and deadlock, connection exceptions (class 08), insufficient resources (class 53:
/// disk full, out of memory, too many connections), shutdown and "cannot connect now", lock
/// not available. (SQLite's codes are numbers of at most 4 digits: never these.)
fn retryable_sqlstate(code: &str) -> bool {
    code.len() == 5
        && (code.starts_with("08")
            || code.starts_with("53")
            || matches!(
                code,
                "40001" | "40P01" | "57P01" | "57P02" | "57P03" | "55P03"
            ))
}

/// Result alias of `aiops-store`.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_postgres_states() {
        for code in ["40001", "40P01", "08006", "53300", "57P01", "55P03"] {
            assert!(retryable_sqlstate(code), "{code}");
        }
        // Unique violation, syntax error, SQLite's busy and constraint codes.
        for code in ["23505", "42601", "5", "2067", "40002"] {
            assert!(!retryable_sqlstate(code), "{code}");
        }
    }
}
