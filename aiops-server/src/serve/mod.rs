//! `aiops serve`: the HTTP service over [`aiops_service::Service`]. Handlers parse, call the
//! library and serialise; nothing else lives here.

mod alerts;
mod analysis;
mod api;
mod console;
mod events;
mod http;
mod ingest;
mod integrations;
mod knowledge;
mod logs;
mod openapi;
mod rules;
mod session;
mod topology;
mod workflows;
mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;

use aiops_service::{Service, ServiceConfig};
use clap::Args;

use crate::error::CliError;

/// `aiops serve` arguments.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Configuration file (YAML; docs/reference.md "Service configuration"). Without it every
    /// setting has its default.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080, or the configuration's `listen`).
    #[arg(long)]
    listen: Option<String>,
    /// Directory of the embedded store (default ./aiops-data, or the configuration's).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Check the configuration (and the files it names) and exit, without starting.
    #[arg(long)]
    check: bool,
}

/// Loads the configuration with the command line's overrides.
pub(crate) fn load_config(
    config: Option<&std::path::Path>,
    data_dir: Option<&PathBuf>,
) -> Result<ServiceConfig, CliError> {
    let mut c = ServiceConfig::load(config)?;
    if let Some(d) = data_dir {
        c.data_dir = d.clone();
    }
    Ok(c)
}

pub(crate) fn run(args: &ServeArgs) -> Result<(), CliError> {
    let mut config = load_config(args.config.as_deref(), args.data_dir.as_ref())?;
    if let Some(l) = &args.listen {
        config.listen = l.clone();
    }
    let addr: SocketAddr = config.listen.parse().map_err(|e| {
        CliError::Service(aiops_service::ServiceError::invalid_config(
            "listen",
            format!("{:?}: {e}", config.listen),
        ))
    })?;
    if args.check {
        aiops_service::service::check_files(&config)?;
        println!("configuration OK");
        return Ok(());
    }
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AIOPS_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            CliError::Service(aiops_service::ServiceError::Internal {
                what: e.to_string(),
            })
        })?;
    rt.block_on(async move {
        let service = Service::start(config).await?;
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            aiops_service::ServiceError::invalid_config("listen", format!("{addr}: {e}"))
        })?;
        tracing::info!(%addr, store = ?service.store.backend(), "aiops serve listening");
        let app = http::router(service.clone());
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await;
        tracing::info!("stopping: finishing queued work and saving state");
        let stopped = service.shutdown().await;
        served.map_err(|e| aiops_service::ServiceError::Internal {
            what: e.to_string(),
        })?;
        stopped?;
        tracing::info!("stopped");
        Ok::<(), aiops_service::ServiceError>(())
    })?;
    Ok(())
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
