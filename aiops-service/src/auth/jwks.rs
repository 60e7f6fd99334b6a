//! Where the JWKS of OIDC comes from (`auth.oidc.jwks_file` or `auth.oidc.jwks_url`) and how a
//! JWKS fetched by URL is kept fresh.
//!
//! By URL, the keys are fetched at start (the service does not start without them) and kept;
//! they are fetched again when older than `jwks_max_age_seconds`, and when a token names a
//! `kid` the keys do not have (the provider may have rotated its keys). At most one fetch per
//! `jwks_min_refresh_seconds`, so tokens with made-up `kid`s cannot make aiops hammer the
//! provider; a fetch that fails, or that answers no usable key, keeps the last good keys.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aiops_core::TimestampMs;
use aiops_integrations::http::{HttpClient, HttpParams, Request};

use crate::auth::jwt::{JwtConfig, JwtVerifier};
use crate::auth::rbac::Principal;
use crate::error::{Result, ServiceError, TokenRejection};

/// Verifies JWTs with keys from a file or a URL (see the module docs).
#[derive(Debug)]
pub struct JwtAuth {
    current: RwLock<Arc<JwtVerifier>>,
    remote: Option<Remote>,
}

/// The URL a JWKS comes from, and when it was fetched.
#[derive(Debug)]
struct Remote {
    url: String,
    http: HttpClient,
    max_age: Duration,
    min_refresh: Duration,
    state: tokio::sync::Mutex<FetchState>,
}

#[derive(Debug)]
struct FetchState {
    /// When the keys in use were fetched.
    fetched: Instant,
    /// When the last fetch was tried, successful or not.
    tried: Instant,
}

impl From<JwtVerifier> for JwtAuth {
    fn from(v: JwtVerifier) -> Self {
        Self {
            current: RwLock::new(Arc::new(v)),
            remote: None,
        }
    }
}

/// The text of the JWKS file `auth.oidc.jwks_file` names.
pub(crate) fn read_jwks_file(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        ServiceError::invalid_config("auth.oidc.jwks_file", format!("{}: {e}", path.display()))
    })
}

impl JwtAuth {
    /// Reads the JWKS the configuration names (`jwks_file`, or fetches `jwks_url`).
    pub async fn load(config: &JwtConfig) -> Result<Self> {
        config.validate()?;
        match (&config.jwks_file, &config.jwks_url) {
            (Some(path), _) => {
                let text = read_jwks_file(path)?;
                Ok(JwtVerifier::from_jwks(config.clone(), &text)?.into())
            }
            (None, Some(url)) => Self::from_url(config, url).await,
            (None, None) => Err(ServiceError::invalid_config(
                "auth.oidc",
                "give jwks_file or jwks_url",
            )),
        }
    }

    async fn from_url(config: &JwtConfig, url: &str) -> Result<Self> {
        let http = HttpClient::new(
            "oidc",
            &HttpParams {
                timeout: aiops_core::time::Duration::from_secs(10),
                retries: 2,
                ..HttpParams::default()
            },
        )
        .map_err(|e| ServiceError::invalid_config("auth.oidc.jwks_url", e.to_string()))?;
        let remote = Remote {
            url: url.to_string(),
            http,
            max_age: Duration::from_secs(config.jwks_max_age_seconds),
            min_refresh: Duration::from_secs(config.jwks_min_refresh_seconds),
            state: tokio::sync::Mutex::new(FetchState {
                fetched: Instant::now(),
                tried: Instant::now(),
            }),
        };
        let verifier = remote
            .fetch(config)
            .await
            .map_err(|e| ServiceError::invalid_config("auth.oidc.jwks_url", e))?;
        Ok(Self {
            current: RwLock::new(Arc::new(verifier)),
            remote: Some(remote),
        })
    }

    /// The keys in use.
    pub fn verifier(&self) -> Arc<JwtVerifier> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Verifies `token` at `now` (ms) as [`JwtVerifier::verify_at`] does, first fetching the
    /// keys again when they are too old, and once more when the token names an unknown `kid`
    /// (both within the fetch rate limit).
    pub async fn verify_at(&self, token: &str, now: TimestampMs) -> Result<Principal> {
        if let Some(r) = &self.remote {
            let stale = r.state.lock().await.fetched.elapsed() >= r.max_age;
            if stale {
                self.refresh().await;
            }
        }
        match self.verifier().verify_at(token, now) {
            Err(ServiceError::InvalidToken(TokenRejection::UnknownKey))
                if self.remote.is_some() && self.refresh().await =>
            {
                self.verifier().verify_at(token, now)
            }
            other => other,
        }
    }

    /// Fetches the keys again unless a fetch was tried less than `jwks_min_refresh_seconds`
    /// ago; true when new keys are in use. A failure keeps the keys (and is logged).
    pub async fn refresh(&self) -> bool {
        let Some(r) = &self.remote else {
            return false;
        };
        let mut state = r.state.lock().await;
        if state.tried.elapsed() < r.min_refresh {
            return false;
        }
        state.tried = Instant::now();
        let config = self.verifier().config().clone();
        match r.fetch(&config).await {
            Ok(v) => {
                tracing::info!(url = %r.url, keys = v.key_ids().len(), "JWKS fetched");
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(v);
                state.fetched = Instant::now();
                true
            }
            Err(e) => {
                tracing::warn!(url = %r.url, error = %e, "JWKS fetch failed; the last keys stay in use");
                false
            }
        }
    }
}

impl Remote {
    /// Fetches and reads the JWKS; the error says why, for logs and start-up errors.
    async fn fetch(&self, config: &JwtConfig) -> std::result::Result<JwtVerifier, String> {
        let resp = self
            .http
            .send(&Request::get(&self.url))
            .await
            .map_err(|e| e.to_string())?;
        if !resp.is_success() {
            return Err(resp.status_error("oidc").to_string());
        }
        JwtVerifier::from_jwks(config.clone(), &resp.text()).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::extract::State;
    use axum::routing::get;
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    use serde_json::{Value, json};

    use crate::auth::rbac::Role;

    const JWKS: &str = include_str!("../../tests/fixtures/jwks.json");
    const RSA_A: &str = include_str!("../../tests/fixtures/rsa_a.pem");
    const EC_A: &str = include_str!("../../tests/fixtures/ec_a.pem");
    const ISS: &str = "https://sso.example.test/realms/ops";

    /// The fixture JWKS with only the key `kid`.
    fn jwks_with(kid: &str) -> String {
        let mut doc: Value = serde_json::from_str(JWKS).unwrap();
        doc["keys"]
            .as_array_mut()
            .unwrap()
            .retain(|k| k["kid"] == kid);
        doc.to_string()
    }

    fn token(kid: &str, now_s: i64) -> String {
        let (alg, key) = if kid == "ec-a" {
            (Algorithm::ES256, EncodingKey::from_ec_pem(EC_A.as_bytes()))
        } else {
            (
                Algorithm::RS256,
                EncodingKey::from_rsa_pem(RSA_A.as_bytes()),
            )
        };
        let mut h = Header::new(alg);
        h.kid = Some(kid.to_string());
        let claims = json!({"iss": ISS, "aud": "aiops", "sub": "u-1", "exp": now_s + 300,
            "groups": ["sre"]});
        encode(&h, &claims, &key.unwrap()).unwrap()
    }

    /// The JWKS server: serves `doc`, counts the fetches.
    #[derive(Clone)]
    struct Provider {
        doc: Arc<RwLock<String>>,
        fetches: Arc<AtomicUsize>,
    }

    async fn serve(p: Provider) -> (String, tokio::task::JoinHandle<()>) {
        let app = Router::new()
            .route(
                "/jwks",
                get(|State(p): State<Provider>| async move {
                    p.fetches.fetch_add(1, Ordering::SeqCst);
                    p.doc.read().unwrap().clone()
                }),
            )
            .with_state(p);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, task)
    }

    fn config(url: &str, min_refresh: u64) -> JwtConfig {
        let mut c = JwtConfig::new(ISS, "aiops");
        c.role_groups.insert(Role::Operator, vec!["sre".into()]);
        c.jwks_url = Some(url.to_string());
        c.jwks_min_refresh_seconds = min_refresh;
        c
    }

    fn now() -> (TimestampMs, i64) {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        (ms, ms / 1000)
    }

    #[tokio::test]
    async fn rotated_keys_are_fetched_for_an_unknown_kid_and_kept_when_the_provider_is_down() {
        let p = Provider {
            doc: Arc::new(RwLock::new(jwks_with("rsa-a"))),
            fetches: Arc::new(AtomicUsize::new(0)),
        };
        let (url, server) = serve(p.clone()).await;
        let auth = JwtAuth::load(&config(&url, 0)).await.unwrap();
        assert_eq!(p.fetches.load(Ordering::SeqCst), 1);
        let (ms, s) = now();
        assert!(auth.verify_at(&token("rsa-a", s), ms).await.is_ok());

        // The provider rotates to a new key: a token with its kid is accepted after a fetch.
        *p.doc.write().unwrap() = jwks_with("ec-a");
        let pr = auth.verify_at(&token("ec-a", s), ms).await.unwrap();
        assert_eq!(pr.roles, vec![Role::Operator]);
        assert_eq!(p.fetches.load(Ordering::SeqCst), 2);
        assert_eq!(auth.verifier().key_ids(), vec![Some("ec-a")]);
        // The old key is gone with the rotation.
        let e = auth.verify_at(&token("rsa-a", s), ms).await.unwrap_err();
        assert_eq!(e.code(), "invalid_token");

        // The provider is down: an unknown kid is refused, the last keys stay in use.
        server.abort();
        let _ = server.await;
        assert!(auth.verify_at(&token("rsa-a", s), ms).await.is_err());
        assert!(auth.verify_at(&token("ec-a", s), ms).await.is_ok());

        // A provider answering a JWKS with no usable key does not replace them either.
        let bad = Provider {
            doc: Arc::new(RwLock::new(r#"{"keys": []}"#.into())),
            fetches: Arc::new(AtomicUsize::new(0)),
        };
        let (bad_url, _bad_server) = serve(bad.clone()).await;
        assert!(JwtAuth::load(&config(&bad_url, 0)).await.is_err());
    }

    #[tokio::test]
    async fn fetches_for_unknown_kids_are_rate_limited() {
        let p = Provider {
            doc: Arc::new(RwLock::new(jwks_with("rsa-a"))),
            fetches: Arc::new(AtomicUsize::new(0)),
        };
        let (url, _server) = serve(p.clone()).await;
        let auth = JwtAuth::load(&config(&url, 30)).await.unwrap();
        let (ms, s) = now();
        for _ in 0..5 {
            assert!(auth.verify_at(&token("made-up", s), ms).await.is_err());
        }
        // Only the fetch at start: the next is allowed 30 s after it.
        assert_eq!(p.fetches.load(Ordering::SeqCst), 1);
        assert!(!auth.refresh().await);
    }

    #[tokio::test]
    async fn a_provider_that_cannot_be_reached_at_start_stops_the_start() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = JwtAuth::load(&config(&format!("http://127.0.0.1:{port}/jwks"), 0))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("jwks_url"), "{e}");
    }
}
