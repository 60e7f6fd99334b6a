//! aiops maintenance windows (`alerts.engine.maintenance_windows`) mirrored as silences in the
//! Alertmanagers `notifications.maintenance_silences` names, so the alerts Alertmanager routes
//! itself are muted during the same windows.
//!
//! Every `interval_s` the current or next occurrence of each window is created as a silence
//! (once: the silences made are remembered under the named value `silences.<integration>`,
//! `{"<window>@<start ms>": "<silence id>"}`); a window removed from the configuration has its
//! silences expired; an occurrence that has ended is forgotten (Alertmanager expired it). A
//! window must have matchers (Alertmanager refuses a silence that matches every alert), which
//! the configuration check enforces when silences are mirrored.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aiops_alerts::MaintenanceWindow;
use aiops_core::TimestampMs;
use aiops_integrations::alertmanager_client::{AlertmanagerClient, SilenceRequest};
use aiops_integrations::registry::Integration;
use aiops_store::Store;

use crate::error::{Result, ServiceError};

/// The Alertmanager clients `names` points at, checked, with the windows they mirror.
pub fn targets(
    integrations: &BTreeMap<String, Integration>,
    names: &[String],
    windows: &[MaintenanceWindow],
) -> Result<Vec<(String, Arc<AlertmanagerClient>)>> {
    if !names.is_empty() {
        for w in windows {
            if w.matchers.is_empty() {
                return Err(ServiceError::invalid_config(
                    "alerts.engine.maintenance_windows",
                    format!(
                        "window {:?} has no matchers: Alertmanager refuses a silence of every alert (notifications.maintenance_silences is set)",
                        w.name
                    ),
                ));
            }
        }
    }
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let key = format!("notifications.maintenance_silences[{i}]");
            let client = integrations
                .get(n)
                .and_then(|i| i.alertmanager.clone())
                .ok_or_else(|| {
                    ServiceError::invalid_config(
                        key,
                        format!("{n:?} is not an alertmanager integration"),
                    )
                })?;
            Ok((n.clone(), client))
        })
        .collect()
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Silences created.
    pub created: usize,
    /// Silences expired (their window was removed).
    pub expired: usize,
}

fn state_key(name: &str) -> String {
    format!("silences.{name}")
}

/// One pass for one Alertmanager.
pub async fn sync_once(
    store: &Store,
    name: &str,
    client: &AlertmanagerClient,
    windows: &[MaintenanceWindow],
    now: TimestampMs,
) -> Result<SyncReport> {
    let key = state_key(name);
    let mut made: BTreeMap<String, String> = match store.value(&key).await? {
        Some(text) => serde_json::from_str(&text).unwrap_or_default(),
        None => BTreeMap::new(),
    };
    let mut report = SyncReport::default();
    let mut wanted = BTreeSet::new();
    for w in windows {
        let Some(req) = SilenceRequest::from_maintenance_window(w, now)? else {
            continue;
        };
        let k = format!("{}@{}", w.name, req.starts_at);
        wanted.insert(k.clone());
        if let std::collections::btree_map::Entry::Vacant(slot) = made.entry(k) {
            let id = client.create_silence(&req).await?;
            slot.insert(id);
            report.created += 1;
            // Saved at once: a failure later in the pass must not make it again.
            store
                .put_value(&key, &serde_json::to_string(&made).unwrap_or_default(), now)
                .await?;
        }
    }
    let names: BTreeSet<&str> = windows.iter().map(|w| w.name.as_str()).collect();
    let stale: Vec<(String, String)> = made
        .iter()
        .filter(|(k, _)| !wanted.contains(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, id) in stale {
        let window = k.rsplit_once('@').map_or(k.as_str(), |(w, _)| w);
        if !names.contains(window) {
            client.expire_silence(&id).await?;
            report.expired += 1;
        }
        made.remove(&k);
    }
    store
        .put_value(&key, &serde_json::to_string(&made).unwrap_or_default(), now)
        .await?;
    Ok(report)
}

/// Mirrors the windows every `interval_s` until stopped.
pub async fn run(
    store: Store,
    targets: Vec<(String, Arc<AlertmanagerClient>)>,
    windows: Vec<MaintenanceWindow>,
    interval_s: u64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(interval_s.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                for (name, client) in &targets {
                    match sync_once(&store, name, client, &windows, crate::now_ms()).await {
                        Ok(r) if r != SyncReport::default() => tracing::info!(alertmanager = %name, created = r.created, expired = r.expired, "maintenance silences"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(alertmanager = %name, error = %e, "mirroring maintenance windows failed; retried next interval"),
                    }
                }
            }
            _ = async { let _ = stop.wait_for(|s| *s).await; } => return Ok(()),
        }
    }
}
