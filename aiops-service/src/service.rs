//! The running service: the store, the pipelines and their background tasks, started and
//! stopped in order (the HTTP layer sits on top and holds no logic).

use std::sync::Arc;

use aiops_store::{Store, StoreOptions};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::access::Access;
use crate::auth::jwt::JwtVerifier;
use crate::config::ServiceConfig;
use crate::error::{Result, ServiceError};
use crate::metrics::MetricPipeline;
use crate::telemetry::Telemetry;

/// Everything a request handler may call.
#[derive(Debug)]
pub struct Service {
    /// The configuration it started with.
    pub config: ServiceConfig,
    /// The store.
    pub store: Store,
    /// Metric ingest and detection.
    pub metrics: Arc<MetricPipeline>,
    /// Authentication.
    pub access: Access,
    /// Request metrics.
    pub telemetry: Telemetry,
    stop: watch::Sender<bool>,
    tasks: tokio::sync::Mutex<JoinSet<Result<()>>>,
}

/// Opens the store the configuration names: `store` (PostgreSQL) or SQLite under `data_dir`.
pub async fn open_store(config: &ServiceConfig) -> Result<Store> {
    let options = StoreOptions {
        durability: config.sqlite_durability,
        ..StoreOptions::default()
    };
    Ok(match &config.store {
        Some(url) => Store::open(url, &options).await?,
        None => Store::open_dir(&config.data_dir, &options).await?,
    })
}

fn read_jwks(config: &ServiceConfig) -> Result<Option<JwtVerifier>> {
    let Some(oidc) = &config.auth.oidc else {
        return Ok(None);
    };
    let Some(path) = &oidc.jwks_file else {
        return Err(ServiceError::invalid_config(
            "auth.oidc.jwks_url",
            "fetching a JWKS by URL is not supported yet: save it to a file and give jwks_file",
        ));
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        ServiceError::invalid_config("auth.oidc.jwks_file", format!("{}: {e}", path.display()))
    })?;
    Ok(Some(JwtVerifier::from_jwks(oidc.clone(), &text)?))
}

impl Service {
    /// Opens the store (applying migrations), restores the pipelines' saved state and starts
    /// their background tasks.
    pub async fn start(config: ServiceConfig) -> Result<Arc<Self>> {
        config.check()?;
        let jwt = read_jwks(&config)?;
        let store = open_store(&config).await?;
        let metrics = MetricPipeline::new(store.clone(), config.metrics.clone()).await?;
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut rx = stopped.clone();
        tasks.spawn(metrics.clone().run(async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
        Ok(Arc::new(Self {
            access: Access::new(store.clone(), jwt),
            config,
            store,
            metrics,
            telemetry: Telemetry::default(),
            stop,
            tasks: tokio::sync::Mutex::new(tasks),
        }))
    }

    /// Stops the background tasks after they finished their queued work and saved their
    /// state, then closes the store. Call after the HTTP server stopped taking requests.
    pub async fn shutdown(&self) -> Result<()> {
        let _ = self.stop.send(true);
        let mut tasks = self.tasks.lock().await;
        let mut first_error = None;
        while let Some(r) = tasks.join_next().await {
            let r = r.map_err(|e| ServiceError::Internal {
                what: format!("a background task failed: {e}"),
            });
            if let Err(e) | Ok(Err(e)) = r
                && first_error.is_none()
            {
                first_error = Some(e);
            }
        }
        self.store.close().await;
        first_error.map_or(Ok(()), Err)
    }
}
