//! Console sessions: `POST /api/v1/session` trades a bearer token for an `HttpOnly` session
//! cookie, `GET` says who is logged in, `DELETE` logs out. The logic is
//! [`aiops_service::access::Access`]'s; here the headers are read and the cookie is set.

use aiops_service::ErrorBody;
use aiops_service::auth::session::{self, Session, SessionInfo};
use aiops_service::{AuditEvent, Principal};
use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::http::{ApiError, AppState, RequestId, client_address, failures_allowed, record};

fn no_store(mut r: Response, cookie: &str) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(cookie) {
        h.insert(header::SET_COOKIE, v);
    }
    r
}

/// `POST /api/v1/session`: log in with the bearer token of the `Authorization` header.
#[utoipa::path(post, path = "/api/v1/session", tag = "console", security(("bearer" = [])), responses((status = 201, description = "logged in: the `aiops_session` cookie is set (HttpOnly, SameSite=Strict)", body = SessionInfo), (status = 401, description = "no or bad token (audited)", body = ErrorBody), (status = 403, description = "the token's role may not use the console (ingest)", body = ErrorBody), (status = 429, description = "too many failed authentications from this address (`limits.auth_failures_per_minute`); see `Retry-After`", body = ErrorBody)))]
pub(crate) async fn login(
    State(s): State<AppState>,
    Extension(id): Extension<RequestId>,
    req: axum::extract::Request,
) -> Response {
    let client = client_address(req.extensions());
    let headers = req.headers();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    let now = aiops_service::now_ms();
    if let Err(e) = failures_allowed(&s, &client, now) {
        return e.into_response();
    }
    let lifetime = s.config.console.session_lifetime.0;
    match s.access.open_session(authorization, lifetime, now).await {
        Ok(opened) => {
            record(
                &s,
                &AuditEvent::login(now, Ok(&opened.principal)),
                Some(&id.0),
            )
            .await;
            let max_age_s = (opened.expires_at - now) / 1000;
            let cookie =
                session::set_cookie(&opened.secret, max_age_s, s.config.console.secure_cookie);
            let body = SessionInfo::of(&opened.principal, Some(&opened));
            no_store((StatusCode::CREATED, Json(body)).into_response(), &cookie)
        }
        Err(e) => {
            record(&s, &AuditEvent::login(now, Err(&e)), Some(&id.0)).await;
            if e.status() == 401 {
                s.auth_failures.take(&client, now);
            }
            ApiError(e).into_response()
        }
    }
}

/// `GET /api/v1/session`: who is calling; with the cookie, the session's expiry and CSRF token.
#[utoipa::path(get, path = "/api/v1/session", tag = "console", security(("bearer" = []), ("session" = [])), responses((status = 200, body = SessionInfo), (status = 401, description = "no, bad or expired credential", body = ErrorBody), (status = 403, description = "role lacks the permission", body = ErrorBody)))]
pub(crate) async fn whoami(
    Extension(principal): Extension<Principal>,
    session: Option<Extension<Session>>,
) -> Response {
    let info = SessionInfo::of(&principal, session.as_ref().map(|s| &s.0));
    let mut r = Json(info).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `DELETE /api/v1/session`: log out (the session is deleted and the cookie cleared).
#[utoipa::path(delete, path = "/api/v1/session", tag = "console", security(("session" = [])), responses((status = 204, description = "logged out"), (status = 401, description = "no, bad or expired credential", body = ErrorBody), (status = 403, description = "missing x-aiops-csrf header", body = ErrorBody)))]
pub(crate) async fn logout(
    State(s): State<AppState>,
    Extension(id): Extension<RequestId>,
    Extension(principal): Extension<Principal>,
    session: Option<Extension<Session>>,
) -> Result<Response, ApiError> {
    if let Some(Extension(open)) = session
        && s.access.close_session(&open.secret).await?
    {
        let now = aiops_service::now_ms();
        record(&s, &AuditEvent::logout(now, &principal), Some(&id.0)).await;
    }
    Ok(no_store(
        StatusCode::NO_CONTENT.into_response(),
        &session::clear_cookie(s.config.console.secure_cookie),
    ))
}
