//! WebSockets: `/ws/alerts` (alerts, incidents, anomalies and log anomalies as they happen) and
//! `/ws/metrics/{resource}` (that resource's samples as they are scored). Clients
//! authenticate with the same bearer header as the REST API, checked before the upgrade.
//! A client too slow to keep up is told how many messages it missed, then continues.

use aiops_service::AlertStreamEvent;
use aiops_service::ErrorBody;
use aiops_service::log_pipeline::LogAnomalyEvent;
use aiops_service::metrics::AnomalyEvent;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use super::http::AppState;

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Pushed<'a> {
    Anomaly(&'a AnomalyEvent),
    LogAnomaly(&'a LogAnomalyEvent),
    Lagged { missed: u64 },
}

async fn send<T: Serialize>(ws: &mut WebSocket, v: &T) -> bool {
    match serde_json::to_string(v) {
        Ok(text) => ws.send(Message::Text(text.into())).await.is_ok(),
        Err(_) => true,
    }
}

/// `/ws/alerts`.
#[utoipa::path(get, path = "/ws/alerts", tag = "stream", security(("bearer" = [])), responses((status = 101, description = "WebSocket: alerts, incidents and anomalies as JSON messages"), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn alerts(State(s): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |mut ws| async move {
        let mut alerts = s.alerts.subscribe();
        let mut anomalies = s.metrics.subscribe_anomalies();
        let mut log_anomalies = s.logs.subscribe();
        loop {
            let ok = tokio::select! {
                e = alerts.recv() => match e {
                    Ok(e) => send::<AlertStreamEvent>(&mut ws, &e).await,
                    Err(RecvError::Lagged(n)) => send(&mut ws, &Pushed::Lagged { missed: n }).await,
                    Err(RecvError::Closed) => false,
                },
                a = anomalies.recv() => match a {
                    Ok(a) => send(&mut ws, &Pushed::Anomaly(&a)).await,
                    Err(RecvError::Lagged(n)) => send(&mut ws, &Pushed::Lagged { missed: n }).await,
                    Err(RecvError::Closed) => false,
                },
                a = log_anomalies.recv() => match a {
                    Ok(a) => send(&mut ws, &Pushed::LogAnomaly(&a)).await,
                    Err(RecvError::Lagged(n)) => send(&mut ws, &Pushed::Lagged { missed: n }).await,
                    Err(RecvError::Closed) => false,
                },
                m = ws.recv() => matches!(m, Some(Ok(_))),
            };
            if !ok {
                break;
            }
        }
    })
}

/// `/ws/metrics/{resource}`.
#[utoipa::path(get, path = "/ws/metrics/{resource}", tag = "stream", security(("bearer" = [])), params(("resource" = String, Path, description = "resource id")), responses((status = 101, description = "WebSocket: the resource's samples as JSON messages"), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn metrics(
    State(s): State<AppState>,
    Path(resource): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade.on_upgrade(move |mut ws| async move {
        let mut samples = s.metrics.subscribe_samples();
        loop {
            let ok = tokio::select! {
                e = samples.recv() => match e {
                    Ok(e) if e.resource == resource => send(&mut ws, &serde_json::json!({
                        "type": "sample", "resource_id": e.resource, "metric": e.metric,
                        "timestamp": aiops_core::time::format_rfc3339(e.timestamp), "value": e.value,
                    })).await,
                    Ok(_) => true,
                    Err(RecvError::Lagged(n)) => send(&mut ws, &Pushed::Lagged { missed: n }).await,
                    Err(RecvError::Closed) => false,
                },
                m = ws.recv() => matches!(m, Some(Ok(_))),
            };
            if !ok {
                break;
            }
        }
    })
}
