//! `aiops token create|list|revoke`: the service's API tokens, in its store.

use std::path::PathBuf;

use aiops_service::access::Access;
use aiops_service::{Role, ServiceError};
use clap::{Args, Subcommand};

use crate::error::CliError;

/// Where the store is.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// The service's configuration file (for `store` / `data_dir`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Directory of the embedded store (default ./aiops-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Make a token; prints it once (only its hash is stored).
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// viewer, operator, admin or ingest.
        #[arg(long)]
        role: String,
        /// A unique name (who or what it is for).
        #[arg(long)]
        name: String,
        /// Lifetime (`30d`, `12h`); default: no expiry.
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id or name.
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        /// The token's id or name.
        id: String,
    },
}

fn with_access<T>(
    store: &StoreArgs,
    f: impl AsyncFnOnce(Access) -> Result<T, ServiceError>,
) -> Result<T, CliError> {
    let config = crate::serve::load_config(store.config.as_deref(), store.data_dir.as_ref())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ServiceError::Internal {
            what: e.to_string(),
        })?;
    Ok(rt.block_on(async move {
        let s = aiops_service::service::open_store(&config).await?;
        let r = f(Access::new(s.clone(), None)).await;
        s.close().await;
        r
    })?)
}

fn time(ms: Option<i64>) -> String {
    ms.map_or_else(|| "-".into(), aiops_core::time::format_rfc3339)
}

pub(crate) fn run(cmd: &TokenCommand) -> Result<(), CliError> {
    let now = aiops_service::now_ms();
    match cmd {
        TokenCommand::Create {
            store,
            role,
            name,
            expires_in,
        } => {
            let role: Role = role.parse()?;
            let expires_at = expires_in
                .as_deref()
                .map(|d| {
                    d.parse::<aiops_core::time::Duration>()
                        .map(|d| now + d.0)
                        .map_err(|e| ServiceError::invalid_parameter("--expires-in", e.to_string()))
                })
                .transpose()?;
            let (secret, info) = with_access(store, async |a| {
                a.create_token(name, role, expires_at, now).await
            })?;
            eprintln!(
                "token {} ({}, role {}): shown once, store it now",
                info.id,
                info.name,
                info.role.as_str()
            );
            println!("{}", secret.expose());
        }
        TokenCommand::List { store, json } => {
            let list = with_access(store, async |a| a.list_tokens().await)?;
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                );
            } else {
                println!(
                    "{:<10} {:<24} {:<9} {:<25} {:<25} revoked",
                    "id", "name", "role", "created", "expires"
                );
                for t in list {
                    println!(
                        "{:<10} {:<24} {:<9} {:<25} {:<25} {}",
                        t.id,
                        t.name,
                        t.role.as_str(),
                        time(Some(t.created_at)),
                        time(t.expires_at),
                        time(t.revoked_at)
                    );
                }
            }
        }
        TokenCommand::Revoke { store, id } => {
            let t = with_access(store, async |a| a.revoke_token(id, now).await)?;
            println!("revoked {} ({})", t.id, t.name);
        }
    }
    Ok(())
}
