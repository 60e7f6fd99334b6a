//! Console sessions: a browser logs in once with an API token (or an OIDC JWT) and then
//! authenticates with an `HttpOnly` cookie instead of the bearer header.
//!
//! A session id is 32 bytes (256 bits) from the operating system's random source, base64url;
//! the store keeps only its SHA-256, so a copy of the store opens no session. Its CSRF token
//! is derived from the id (SHA-256 of a domain-separated input): the server recomputes it from
//! the cookie, so it is never stored, and the stored hash does not reveal it. A request that
//! changes something (any method but GET, HEAD, OPTIONS) authenticated by the cookie must
//! echo the CSRF token in the [`CSRF_HEADER`]; a request with an `Origin` header must come
//! from the server's own origin (or one of `cors.origins`).

use std::fmt;

use aiops_core::TimestampMs;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::auth::api_token::TokenHash;
use crate::auth::rbac::{Permission, Principal, Role};
use crate::error::{Result, ServiceError};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "aiops_session";
/// Header carrying the CSRF token on cookie-authenticated mutations.
pub const CSRF_HEADER: &str = "x-aiops-csrf";
/// Random bytes in a session id (256 bits).
const SESSION_BYTES: usize = 32;
/// Characters of the base64url (unpadded) encoding of [`SESSION_BYTES`].
const SESSION_CHARS: usize = 43;
/// What a principal needs to open a console session: the console reads alerts first of all,
/// and an ingest-only token has no business in it.
pub const LOGIN_PERMISSION: Permission = Permission::ReadAlerts;

/// Why a session cookie was refused. Each reason answers 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionRejection {
    /// The cookie does not hold a well-formed session id.
    Malformed,
    /// No session with this id (never opened, logged out, or cleaned up).
    Unknown,
    /// The session expired.
    Expired,
    /// The API token that opened the session was revoked, expired or deleted.
    TokenRevoked,
}

impl fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "malformed session cookie",
            Self::Unknown => "unknown session (logged out?)",
            Self::Expired => "session expired: log in again",
            Self::TokenRevoked => "the token that opened this session is no longer valid",
        })
    }
}

/// A session id's plaintext: set once in the cookie, never stored or logged (`Debug` redacts
/// it).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSecret(String);

impl SessionSecret {
    /// A new id from the operating system's random source.
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; SESSION_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| ServiceError::Internal {
            what: format!("random source: {e}"),
        })?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Takes a presented cookie value: [`SessionRejection::Malformed`] unless it has the shape
    /// of a session id.
    pub fn parse(value: &str) -> Result<Self> {
        let ok = value.len() == SESSION_CHARS
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(value.to_string()))
        } else {
            Err(ServiceError::InvalidSession(SessionRejection::Malformed))
        }
    }

    /// The plaintext, for the `Set-Cookie` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps: hex SHA-256 of the id.
    pub fn hash_hex(&self) -> String {
        TokenHash::of(&self.0).to_hex()
    }

    /// The session's CSRF token: hex SHA-256 of a domain-separated input, so it differs from
    /// the stored hash and reveals nothing of the id.
    pub fn csrf_token(&self) -> String {
        TokenHash::of(&format!("aiops-csrf\u{0}{}", self.0)).to_hex()
    }

    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        self.csrf_token()
            .as_bytes()
            .ct_eq(presented.as_bytes())
            .into()
    }
}

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecret(…)")
    }
}

/// The value of the [`SESSION_COOKIE`] in `Cookie` header values (several headers are read as
/// one list), if any.
pub fn session_cookie<'a>(cookie_headers: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    cookie_headers
        .into_iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().trim_matches('"'))
}

/// The `Set-Cookie` value that stores `secret` for `max_age_s` seconds (`Secure` when
/// `secure`).
pub fn set_cookie(secret: &SessionSecret, max_age_s: i64, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}",
        secret.expose(),
        max_age_s.max(0),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that deletes the cookie.
pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `exp` claim of a JWT (already verified) in ms, if it has one: a session opened with a
/// JWT ends when the JWT does.
pub fn jwt_expiry_ms(token: &str) -> Option<TimestampMs> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims["exp"].as_i64()?.checked_mul(1000)
}

/// Whether a cookie-authenticated request from `origin` (its `Origin` header) to `host` (its
/// `Host` header) is same-origin, or from one of the `allowed` origins.
pub fn origin_allowed(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    if allowed.iter().any(|a| a == origin) {
        return true;
    }
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

/// What a request presents to authenticate, as read from its headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// The `Authorization` header (wins over the cookie when both are sent).
    pub authorization: Option<&'a str>,
    /// The [`SESSION_COOKIE`] value.
    pub session_cookie: Option<&'a str>,
    /// The [`CSRF_HEADER`] value.
    pub csrf: Option<&'a str>,
    /// The `Origin` header.
    pub origin: Option<&'a str>,
    /// The `Host` header.
    pub host: Option<&'a str>,
    /// Whether the method changes nothing (GET, HEAD, OPTIONS): no CSRF token needed.
    pub safe_method: bool,
}

/// A caller who authenticated, and the session it used, if it used one.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// Who.
    pub principal: Principal,
    /// The session, when the cookie authenticated the request.
    pub session: Option<Session>,
}

/// An open session, as a request authenticated by it sees it.
#[derive(Debug, Clone)]
pub struct Session {
    /// The id (to log out; never logged).
    pub secret: SessionSecret,
    /// Who opened it.
    pub principal: Principal,
    /// Valid until (ms, exclusive).
    pub expires_at: TimestampMs,
}

/// `GET /api/v1/session`: who is calling, and for a session its expiry and CSRF token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// Display name (the token's name, or the JWT's name claim).
    pub name: String,
    /// Stable identifier (`token:<id>`, or the JWT's subject).
    pub subject: String,
    /// The highest role held (`admin` > `operator` > `viewer` > `ingest`).
    pub role: String,
    /// Every role held.
    pub roles: Vec<String>,
    /// Every permission the roles grant (`write:alerts`...): what the console may offer.
    pub permissions: Vec<String>,
    /// `session` (the cookie) or `bearer` (the `Authorization` header).
    pub via: String,
    /// When the session ends (RFC 3339); `None` for a bearer token.
    pub expires_at: Option<String>,
    /// The value the [`CSRF_HEADER`] must carry on mutations; `None` for a bearer token.
    pub csrf_token: Option<String>,
}

fn rank(r: Role) -> u8 {
    match r {
        Role::Admin => 3,
        Role::Operator => 2,
        Role::Viewer => 1,
        Role::Ingest => 0,
    }
}

impl SessionInfo {
    /// The info of a caller, with its session when it used one.
    pub fn of(principal: &Principal, session: Option<&Session>) -> Self {
        let mut permissions: Vec<Permission> = principal
            .roles
            .iter()
            .flat_map(|r| r.permissions())
            .collect();
        permissions.sort();
        permissions.dedup();
        Self {
            name: principal.name.clone(),
            subject: principal.subject.clone(),
            role: principal
                .roles
                .iter()
                .copied()
                .max_by_key(|&r| rank(r))
                .map_or_else(String::new, |r| r.as_str().to_string()),
            roles: principal.roles.iter().map(|r| r.as_str().into()).collect(),
            permissions: permissions.iter().map(|p| p.as_str().into()).collect(),
            via: if session.is_some() {
                "session"
            } else {
                "bearer"
            }
            .into(),
            expires_at: session.map(|s| aiops_core::time::format_rfc3339(s.expires_at)),
            csrf_token: session.map(|s| s.secret.csrf_token()),
        }
    }
}

/// The expiry of a session opened at `now` (ms) for `lifetime_ms`, capped by the expiry of
/// the credential that opened it.
pub fn session_expiry(
    now: TimestampMs,
    lifetime_ms: i64,
    credential_expiry: Option<TimestampMs>,
) -> TimestampMs {
    let end = now.saturating_add(lifetime_ms);
    credential_expiry.map_or(end, |e| e.min(end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::rbac::AuthMethod;

    #[test]
    fn ids_are_random_parsed_strictly_and_never_shown() {
        let a = SessionSecret::generate().unwrap();
        let b = SessionSecret::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), SESSION_CHARS);
        assert_eq!(SessionSecret::parse(a.expose()).unwrap(), a);
        for bad in [
            "",
            "short",
            &format!("{}!", &a.expose()[1..]),
            &"a".repeat(44),
        ] {
            let e = SessionSecret::parse(bad).unwrap_err();
            assert_eq!((e.status(), e.code()), (401, "invalid_session"), "{bad}");
        }
        assert!(!format!("{a:?}").contains(a.expose()));
        assert_eq!(a.hash_hex().len(), 64);
        assert_ne!(a.hash_hex(), a.csrf_token());
        assert!(a.csrf_matches(&a.csrf_token()));
        assert!(!a.csrf_matches(&b.csrf_token()));
        assert!(!a.csrf_matches(""));
    }

    #[test]
    fn cookies_are_read_from_any_header_and_set_with_strict_flags() {
        assert_eq!(
            session_cookie(["theme=dark; aiops_session=abc ; x=1"]),
            Some("abc")
        );
        assert_eq!(
            session_cookie(["theme=dark", "aiops_session=\"q\""]),
            Some("q")
        );
        assert_eq!(session_cookie(["aiops_session_x=1; other=2"]), None);
        let s = SessionSecret::generate().unwrap();
        let c = set_cookie(&s, 3600, false);
        assert!(c.starts_with(&format!("aiops_session={};", s.expose())));
        for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=3600"] {
            assert!(c.contains(flag), "{c}");
        }
        assert!(!c.contains("Secure"));
        assert!(set_cookie(&s, 1, true).ends_with("; Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }

    #[test]
    fn origins_must_be_the_servers_own_or_listed() {
        let listed = vec!["https://console.example.com".to_string()];
        assert!(origin_allowed(
            "http://127.0.0.1:8080",
            Some("127.0.0.1:8080"),
            &[]
        ));
        assert!(!origin_allowed(
            "http://evil.example",
            Some("127.0.0.1:8080"),
            &[]
        ));
        assert!(!origin_allowed("null", Some("127.0.0.1:8080"), &[]));
        assert!(origin_allowed(
            "https://console.example.com",
            Some("aiops:8080"),
            &listed
        ));
    }

    #[test]
    fn a_jwt_caps_the_session() {
        let claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"a","exp":1700000000}"#);
        let jwt = format!("h.{claims}.s");
        assert_eq!(jwt_expiry_ms(&jwt), Some(1_700_000_000_000));
        assert_eq!(jwt_expiry_ms("h.!!.s"), None);
        assert_eq!(session_expiry(0, 1_000, None), 1_000);
        assert_eq!(session_expiry(0, 1_000, Some(500)), 500);
        assert_eq!(session_expiry(0, 1_000, Some(5_000)), 1_000);
    }

    #[test]
    fn info_names_the_highest_role_and_every_permission() {
        let p = Principal {
            subject: "sub".into(),
            name: "alice".into(),
            roles: vec![Role::Viewer, Role::Operator],
            via: AuthMethod::Jwt {
                issuer: "iss".into(),
            },
        };
        let i = SessionInfo::of(&p, None);
        assert_eq!((i.role.as_str(), i.via.as_str()), ("operator", "bearer"));
        assert!(i.permissions.contains(&"write:alerts".to_string()));
        assert_eq!(i.csrf_token, None);
        let s = Session {
            secret: SessionSecret::generate().unwrap(),
            principal: p.clone(),
            expires_at: 60_000,
        };
        let i = SessionInfo::of(&p, Some(&s));
        assert_eq!(i.via, "session");
        assert_eq!(i.expires_at.as_deref(), Some("1970-01-01T00:01:00.000Z"));
        assert_eq!(i.csrf_token, Some(s.secret.csrf_token()));
    }
}
