//! WebSockets: `/ws/alerts` (alerts, incidents, anomalies and log anomalies as they happen) and
//! `/ws/metrics/{resource}` (that resource's samples as they are scored). Clients
//! authenticate with the same bearer header as the REST API, checked before the upgrade.
//! A client too slow to keep up is told how many messages it missed, then continues. A socket
//! is closed once the credential that opened it no longer holds, checked every
//! [`CREDENTIAL_CHECK`]: the console's session (expired, logged out, or its token revoked) or
//! the bearer header (an API token revoked or expired, a JWT expired or no longer verified).

use std::time::Duration;

use aiops_service::AlertStreamEvent;
use aiops_service::ErrorBody;
use aiops_service::auth::session::Session;
use aiops_service::log_pipeline::LogAnomalyEvent;
use aiops_service::metrics::AnomalyEvent;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, header};
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

/// How often a socket checks that the credential that opened it still holds.
const CREDENTIAL_CHECK: Duration = Duration::from_secs(5);

/// What opened a socket: the authorize layer let the request through with one of them (the
/// bearer header wins over the cookie, as there).
enum Credential {
    Session(Session),
    Bearer(String),
    None,
}

impl Credential {
    fn of(session: Option<Extension<Session>>, headers: &HeaderMap) -> Self {
        match (headers.get(header::AUTHORIZATION), session) {
            (Some(v), _) => v
                .to_str()
                .map_or(Self::None, |v| Self::Bearer(v.to_string())),
            (None, Some(Extension(s))) => Self::Session(s),
            (None, None) => Self::None,
        }
    }

    /// Why the socket must close, once it must: returns when the credential no longer holds.
    async fn ended(self, s: AppState) -> &'static str {
        if matches!(self, Self::None) {
            return std::future::pending().await;
        }
        let mut every = tokio::time::interval(CREDENTIAL_CHECK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let now = aiops_service::now_ms();
            // Only a refusal ends the socket; a store that cannot answer now is asked again.
            let refused = |e: &aiops_service::ServiceError| matches!(e.status(), 401 | 403);
            match &self {
                Self::Session(session) => match s.access.session(&session.secret, now).await {
                    Err(e) if refused(&e) => return "session ended",
                    _ => {}
                },
                Self::Bearer(header) => match s.access.authenticate(Some(header), now).await {
                    Err(e) if refused(&e) => return "credential no longer valid",
                    _ => {}
                },
                Self::None => {}
            }
        }
    }
}

async fn send<T: Serialize>(ws: &mut WebSocket, v: &T) -> bool {
    match serde_json::to_string(v) {
        Ok(text) => ws.send(Message::Text(text.into())).await.is_ok(),
        Err(_) => true,
    }
}

/// `/ws/alerts`.
#[utoipa::path(get, path = "/ws/alerts", tag = "stream", security(("bearer" = [])), responses((status = 101, description = "WebSocket: alerts, incidents and anomalies as JSON messages"), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn alerts(
    State(s): State<AppState>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let credential = Credential::of(session, &headers);
    upgrade.on_upgrade(move |mut ws| async move {
        let ended = credential.ended(s.clone());
        tokio::pin!(ended);
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
                why = &mut ended => close_ended(&mut ws, why).await,
            };
            if !ok {
                break;
            }
        }
    })
}

/// Closes a socket whose credential no longer holds, saying `why`; false, to end the loop.
async fn close_ended(ws: &mut WebSocket, why: &'static str) -> bool {
    let _ = ws
        .send(Message::Close(Some(CloseFrame {
            code: close_code::POLICY,
            reason: why.into(),
        })))
        .await;
    false
}

/// `/ws/metrics/{resource}`.
#[utoipa::path(get, path = "/ws/metrics/{resource}", tag = "stream", security(("bearer" = [])), params(("resource" = String, Path, description = "resource id")), responses((status = 101, description = "WebSocket: the resource's samples as JSON messages"), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "no or bad token", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn metrics(
    State(s): State<AppState>,
    Path(resource): Path<String>,
    session: Option<Extension<Session>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let credential = Credential::of(session, &headers);
    upgrade.on_upgrade(move |mut ws| async move {
        let ended = credential.ended(s.clone());
        tokio::pin!(ended);
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
                why = &mut ended => close_ended(&mut ws, why).await,
            };
            if !ok {
                break;
            }
        }
    })
}
