//! OIDC JWT verification against a JWKS, and the mapping of a token's groups to roles.
//!
//! [`JwtVerifier::verify_at`] accepts a token when, in this order:
//! 1. it has three segments and its header's `alg` is an asymmetric algorithm (RS256/384/512,
//!    PS256/384/512, ES256, ES384, EdDSA): `none` and the HMAC algorithms are refused, so a
//!    public key can never be used as a shared secret;
//! 2. a key of the JWKS has the header's `kid` (a token without `kid` needs a JWKS of exactly
//!    one key) and supports that `alg` (symmetric `oct` keys and encryption keys of the JWKS are
//!    ignored);
//! 3. the signature verifies, `iss` equals the configured issuer and `aud` (a string or an
//!    array) contains the configured audience;
//! 4. `exp` (required) and `nbf` (optional) hold within `leeway_seconds` of clock skew;
//! 5. `sub` is a string;
//! 6. the roles claim (default `groups`; a string or an array of strings) names at least one
//!    group that `role_groups` maps to a role; else the token is authenticated but
//!    [`ServiceError::NoRole`] (403).
//!
//! Fetching the JWKS (from `jwks_file` or `jwks_url`) is [`crate::auth::jwks`]'s job: this
//! module takes its JSON text, so it does no IO. [`TokenRejection::UnknownKey`] is the caller's hint that the
//! provider may have rotated its keys and the JWKS is worth fetching again.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use aiops_core::TimestampMs;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth::rbac::{AuthMethod, Principal, Role};
use crate::error::{Result, ServiceError, TokenRejection};

/// Default claim holding the caller's groups.
pub const DEFAULT_ROLES_CLAIM: &str = "groups";
/// Default claim holding the caller's display name.
pub const DEFAULT_NAME_CLAIM: &str = "email";
/// Default allowed clock skew, seconds.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 60;
/// Largest allowed clock skew, seconds.
pub const MAX_LEEWAY_SECONDS: u64 = 300;

fn default_roles_claim() -> String {
    DEFAULT_ROLES_CLAIM.to_owned()
}

fn default_name_claim() -> String {
    DEFAULT_NAME_CLAIM.to_owned()
}

fn default_leeway() -> u64 {
    DEFAULT_LEEWAY_SECONDS
}

/// OIDC settings (the `auth.oidc` section of the service's configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// Expected `iss` claim, exactly (e.g. `https://sso.example.com/realms/ops`).
    pub issuer: String,
    /// Audience that the `aud` claim must contain (the client id aiops is registered as).
    pub audience: String,
    /// Path of a JWKS file; at most one of `jwks_file` and `jwks_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_file: Option<PathBuf>,
    /// URL of the provider's JWKS (`http://` or `https://`); at most one of `jwks_file` and
    /// `jwks_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// Claim holding the groups (default `groups`). A name with dots that is not a top-level
    /// claim is a path into nested objects (`realm_access.roles` for Keycloak realm roles).
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// Claim holding the display name (default `email`); `preferred_username`, then `sub`,
    /// stand in when it is absent.
    #[serde(default = "default_name_claim")]
    pub name_claim: String,
    /// For each role, the groups that grant it (several groups per role; a group may grant
    /// several roles). Matched exactly, case included.
    pub role_groups: BTreeMap<Role, Vec<String>>,
    /// Allowed clock skew for `exp` and `nbf`, seconds (default 60, at most 300).
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// With `jwks_url`: keys older than this are fetched again, seconds (default 3600).
    #[serde(default = "default_jwks_max_age")]
    pub jwks_max_age_seconds: u64,
    /// With `jwks_url`: at most one fetch per this many seconds (default 30), whether for age
    /// or for a token naming an unknown `kid`, so bad tokens cannot hammer the provider.
    #[serde(default = "default_jwks_min_refresh")]
    pub jwks_min_refresh_seconds: u64,
}

/// Default age after which a JWKS fetched by URL is fetched again, seconds.
pub const DEFAULT_JWKS_MAX_AGE_SECONDS: u64 = 3600;
/// Default least time between two JWKS fetches, seconds.
pub const DEFAULT_JWKS_MIN_REFRESH_SECONDS: u64 = 30;

fn default_jwks_max_age() -> u64 {
    DEFAULT_JWKS_MAX_AGE_SECONDS
}

fn default_jwks_min_refresh() -> u64 {
    DEFAULT_JWKS_MIN_REFRESH_SECONDS
}

impl JwtConfig {
    /// A configuration with the defaults and no group mapping yet (fill `role_groups`).
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_file: None,
            jwks_url: None,
            roles_claim: default_roles_claim(),
            name_claim: default_name_claim(),
            role_groups: BTreeMap::new(),
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
            jwks_max_age_seconds: DEFAULT_JWKS_MAX_AGE_SECONDS,
            jwks_min_refresh_seconds: DEFAULT_JWKS_MIN_REFRESH_SECONDS,
        }
    }

    /// Checks every field; the error names the field.
    pub fn validate(&self) -> Result<()> {
        if self.issuer.trim().is_empty() {
            return Err(ServiceError::invalid_config("issuer", "must not be empty"));
        }
        if self.audience.trim().is_empty() {
            return Err(ServiceError::invalid_config(
                "audience",
                "must not be empty",
            ));
        }
        if self.jwks_file.is_some() && self.jwks_url.is_some() {
            return Err(ServiceError::invalid_config(
                "jwks_url",
                "give jwks_file or jwks_url, not both",
            ));
        }
        if let Some(url) = &self.jwks_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ServiceError::invalid_config(
                "jwks_url",
                "must be an http:// or https:// URL",
            ));
        }
        if self.roles_claim.trim().is_empty() {
            return Err(ServiceError::invalid_config(
                "roles_claim",
                "must not be empty",
            ));
        }
        if self.name_claim.trim().is_empty() {
            return Err(ServiceError::invalid_config(
                "name_claim",
                "must not be empty",
            ));
        }
        if self.leeway_seconds > MAX_LEEWAY_SECONDS {
            return Err(ServiceError::invalid_config(
                "leeway_seconds",
                format!(
                    "{} s is more than the {MAX_LEEWAY_SECONDS} s allowed",
                    self.leeway_seconds
                ),
            ));
        }
        if self.role_groups.values().all(Vec::is_empty) {
            return Err(ServiceError::invalid_config(
                "role_groups",
                "maps no group to a role: no JWT could be given a role",
            ));
        }
        for (role, groups) in &self.role_groups {
            if groups.iter().any(|g| g.trim().is_empty()) {
                return Err(ServiceError::invalid_config(
                    format!("role_groups.{role}"),
                    "a group name is empty",
                ));
            }
        }
        Ok(())
    }
}

/// One verification key of the JWKS.
struct VerifyKey {
    kid: Option<String>,
    key: DecodingKey,
    algorithms: Vec<Algorithm>,
}

/// Verifies OIDC JWTs against a JWKS and maps their groups to roles.
pub struct JwtVerifier {
    config: JwtConfig,
    keys: Vec<VerifyKey>,
    group_roles: HashMap<String, Vec<Role>>,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("config", &self.config)
            .field("key_ids", &self.key_ids())
            .finish()
    }
}

const RSA_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// The algorithms a JWK may verify, `None` for a key that is never used (symmetric,
/// encryption, unsupported curve, or an `alg` that does not fit its type).
fn usable_algorithms(jwk: &Jwk) -> Option<Vec<Algorithm>> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let family: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => RSA_ALGORITHMS.to_vec(),
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            vec![Algorithm::EdDSA]
        }
        _ => return None,
    };
    match &jwk.common.key_algorithm {
        None => Some(family),
        Some(declared) => {
            let alg = key_algorithm(declared)?;
            family.contains(&alg).then(|| vec![alg])
        }
    }
}

fn key_algorithm(k: &KeyAlgorithm) -> Option<Algorithm> {
    Some(match k {
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

/// The parts of a JWT header this module reads.
struct HeaderInfo {
    alg: Algorithm,
    kid: Option<String>,
}

/// Reads the header segment without trusting it: the algorithm must be an asymmetric one.
fn read_header(token: &str) -> Result<HeaderInfo> {
    let malformed = || ServiceError::InvalidToken(TokenRejection::Malformed);
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| malformed())?;
    let json: Map<String, Value> = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    let alg = json
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(malformed)?;
    let alg = Algorithm::from_str(alg)
        .map_err(|_| ServiceError::InvalidToken(TokenRejection::AlgorithmNotAllowed))?;
    if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
        return Err(TokenRejection::AlgorithmNotAllowed.into());
    }
    let kid = match json.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(malformed()),
    };
    Ok(HeaderInfo { alg, kid })
}

fn rejection(kind: &ErrorKind) -> TokenRejection {
    match kind {
        ErrorKind::InvalidSignature => TokenRejection::BadSignature,
        ErrorKind::InvalidIssuer => TokenRejection::WrongIssuer,
        ErrorKind::InvalidAudience => TokenRejection::WrongAudience,
        ErrorKind::ExpiredSignature => TokenRejection::Expired,
        ErrorKind::ImmatureSignature => TokenRejection::NotYetValid,
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
            TokenRejection::AlgorithmNotAllowed
        }
        ErrorKind::MissingRequiredClaim(c) | ErrorKind::InvalidClaimFormat(c) => {
            TokenRejection::MissingClaim(c.clone())
        }
        _ => TokenRejection::Malformed,
    }
}

/// A claim by name, or by dotted path into nested objects when no top-level claim has the name.
fn claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    let mut parts = name.split('.');
    let mut v = claims.get(parts.next()?)?;
    for p in parts {
        v = v.as_object()?.get(p)?;
    }
    Some(v)
}

/// A time claim in seconds since the epoch (integer or number), `Err` when not a number.
fn seconds_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| TokenRejection::MissingClaim(name.to_owned()).into()),
    }
}

impl JwtVerifier {
    /// A verifier for `config` with the keys of `jwks_json` (the JWKS document's text).
    ///
    /// Keys that can never verify a token here (symmetric, encryption, unsupported) are
    /// skipped; a JWKS with no usable key is an error.
    pub fn from_jwks(config: JwtConfig, jwks_json: &str) -> Result<Self> {
        config.validate()?;
        let bad = |reason: String| ServiceError::invalid_config("jwks", reason);
        let doc: Value =
            serde_json::from_str(jwks_json).map_err(|e| bad(format!("not JSON: {e}")))?;
        let entries = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no \"keys\" array".to_owned()))?;
        let mut keys = Vec::new();
        for entry in entries {
            // A key this library cannot read (an unknown type, an encryption key) is skipped.
            let Ok(jwk) = serde_json::from_value::<Jwk>(entry.clone()) else {
                continue;
            };
            let Some(algorithms) = usable_algorithms(&jwk) else {
                continue;
            };
            let key = DecodingKey::from_jwk(&jwk).map_err(|e| {
                bad(format!(
                    "key {:?}: {e}",
                    jwk.common.key_id.as_deref().unwrap_or("without kid")
                ))
            })?;
            keys.push(VerifyKey {
                kid: jwk.common.key_id.clone(),
                key,
                algorithms,
            });
        }
        if keys.is_empty() {
            return Err(bad(
                "no usable signature key (RSA, EC P-256/P-384 or Ed25519)".to_owned(),
            ));
        }
        let mut group_roles: HashMap<String, Vec<Role>> = HashMap::new();
        for (&role, groups) in &config.role_groups {
            for g in groups {
                let roles = group_roles.entry(g.clone()).or_default();
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
        }
        Ok(Self {
            config,
            keys,
            group_roles,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &JwtConfig {
        &self.config
    }

    /// The `kid` of every usable key, in JWKS order (`None` for a key without one).
    pub fn key_ids(&self) -> Vec<Option<&str>> {
        self.keys.iter().map(|k| k.kid.as_deref()).collect()
    }

    /// [`verify_at`](Self::verify_at) with the system clock.
    pub fn verify(&self, token: &str) -> Result<Principal> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.verify_at(token, now)
    }

    /// Verifies `token` at time `now` (ms since the epoch) and returns its caller, following
    /// the steps of the module doc. Refusals are [`ServiceError::InvalidToken`] (401) with the
    /// reason; a valid token whose groups grant no role is [`ServiceError::NoRole`] (403).
    pub fn verify_at(&self, token: &str, now: TimestampMs) -> Result<Principal> {
        let header = read_header(token)?;
        let key = self.select_key(header.kid.as_deref())?;
        if !key.algorithms.contains(&header.alg) {
            return Err(TokenRejection::AlgorithmNotAllowed.into());
        }

        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false; // checked below against the caller's clock
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.required_spec_claims = ["iss", "aud"].map(str::to_owned).into();
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|e| ServiceError::InvalidToken(rejection(e.kind())))?
            .claims;

        let now_s = now.div_euclid(1000);
        let leeway = i64::try_from(self.config.leeway_seconds).unwrap_or(i64::MAX);
        let exp = seconds_claim(&claims, "exp")?
            .ok_or_else(|| TokenRejection::MissingClaim("exp".to_owned()))?;
        if now_s >= exp.saturating_add(leeway) {
            return Err(TokenRejection::Expired.into());
        }
        if let Some(nbf) = seconds_claim(&claims, "nbf")?
            && now_s.saturating_add(leeway) < nbf
        {
            return Err(TokenRejection::NotYetValid.into());
        }

        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| TokenRejection::MissingClaim("sub".to_owned()))?
            .to_owned();
        let name = [self.config.name_claim.as_str(), "preferred_username"]
            .into_iter()
            .find_map(|c| claim(&claims, c).and_then(Value::as_str))
            .unwrap_or(&subject)
            .to_owned();
        let roles = self.roles_of(&claims);
        if roles.is_empty() {
            return Err(ServiceError::NoRole { subject });
        }
        Ok(Principal {
            subject,
            name,
            roles,
            via: AuthMethod::Jwt {
                issuer: self.config.issuer.clone(),
            },
        })
    }

    fn select_key(&self, kid: Option<&str>) -> Result<&VerifyKey> {
        let found = match kid {
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        };
        found.ok_or(ServiceError::InvalidToken(TokenRejection::UnknownKey))
    }

    /// The roles granted by the groups of the roles claim, sorted, without duplicates.
    fn roles_of(&self, claims: &Map<String, Value>) -> Vec<Role> {
        let groups: Vec<&str> = match claim(claims, &self.config.roles_claim) {
            Some(Value::String(g)) => vec![g.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let mut roles: Vec<Role> = groups
            .iter()
            .filter_map(|g| self.group_roles.get(*g))
            .flatten()
            .copied()
            .collect();
        roles.sort_unstable();
        roles.dedup();
        roles
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const JWKS: &str = include_str!("../../tests/fixtures/jwks.json");
    const RSA_A: &str = include_str!("../../tests/fixtures/rsa_a.pem");
    const RSA_B: &str = include_str!("../../tests/fixtures/rsa_b.pem");
    const EC_A: &str = include_str!("../../tests/fixtures/ec_a.pem");

    const ISS: &str = "https://sso.example.test/realms/ops";
    const AUD: &str = "aiops";
    /// 2026-01-01T00:00:00Z, ms.
    const NOW: TimestampMs = 1_767_225_600_000;
    const NOW_S: i64 = NOW / 1000;

    fn config() -> JwtConfig {
        let mut c = JwtConfig::new(ISS, AUD);
        c.role_groups.insert(
            Role::Viewer,
            vec!["ops-viewers".into(), "developers".into()],
        );
        c.role_groups
            .insert(Role::Operator, vec!["sre".into(), "oncall".into()]);
        c.role_groups
            .insert(Role::Admin, vec!["platform-admins".into()]);
        c
    }

    fn verifier() -> JwtVerifier {
        JwtVerifier::from_jwks(config(), JWKS).unwrap()
    }

    fn claims() -> Value {
        json!({
            "iss": ISS, "aud": AUD, "sub": "u-123", "email": "alice@example.test",
            "exp": NOW_S + 300, "iat": NOW_S, "groups": ["sre"]
        })
    }

    fn sign_with(alg: Algorithm, kid: Option<&str>, pem: &str, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        let key = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()),
            _ => EncodingKey::from_rsa_pem(pem.as_bytes()),
        }
        .unwrap();
        encode(&header, claims, &key).unwrap()
    }

    fn rs256(claims: &Value) -> String {
        sign_with(Algorithm::RS256, Some("rsa-a"), RSA_A, claims)
    }

    fn with(changes: Value) -> Value {
        let mut c = claims();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    }

    fn rejected(token: &str) -> TokenRejection {
        match verifier().verify_at(token, NOW) {
            Err(ServiceError::InvalidToken(r)) => r,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn valid_rs256_and_es256_tokens() {
        let v = verifier();
        let p = v.verify_at(&rs256(&claims()), NOW).unwrap();
        assert_eq!(p.subject, "u-123");
        assert_eq!(p.name, "alice@example.test");
        assert_eq!(p.roles, vec![Role::Operator]);
        assert_eq!(p.via, AuthMethod::Jwt { issuer: ISS.into() });

        let es = sign_with(Algorithm::ES256, Some("ec-a"), EC_A, &claims());
        assert_eq!(v.verify_at(&es, NOW).unwrap().subject, "u-123");
        assert_eq!(v.key_ids(), vec![Some("rsa-a"), Some("ec-a")]);
    }

    #[test]
    fn audience_may_be_an_array() {
        let t = rs256(&with(json!({"aud": ["account", AUD]})));
        assert!(verifier().verify_at(&t, NOW).is_ok());
    }

    #[test]
    fn wrong_issuer_and_audience() {
        assert_eq!(
            rejected(&rs256(&with(json!({"iss": "https://evil.test"})))),
            TokenRejection::WrongIssuer
        );
        assert_eq!(
            rejected(&rs256(&with(json!({"aud": "other-app"})))),
            TokenRejection::WrongAudience
        );
        assert_eq!(
            rejected(&rs256(&with(json!({"aud": null})))),
            TokenRejection::MissingClaim("aud".into())
        );
    }

    #[test]
    fn expiry_and_not_before_with_leeway() {
        // Expired 30 s ago: within the 60 s leeway.
        let t = rs256(&with(json!({"exp": NOW_S - 30})));
        assert!(verifier().verify_at(&t, NOW).is_ok());
        // Expired 61 s ago: beyond it.
        let t = rs256(&with(json!({"exp": NOW_S - 61})));
        assert_eq!(rejected(&t), TokenRejection::Expired);
        let e = verifier().verify_at(&t, NOW).unwrap_err();
        assert_eq!((e.status(), e.code()), (401, "token_expired"));
        // No exp at all.
        assert_eq!(
            rejected(&rs256(&with(json!({"exp": null})))),
            TokenRejection::MissingClaim("exp".into())
        );
        // nbf 30 s ahead is tolerated, 120 s ahead is not.
        let t = rs256(&with(json!({"nbf": NOW_S + 30})));
        assert!(verifier().verify_at(&t, NOW).is_ok());
        let t = rs256(&with(json!({"nbf": NOW_S + 120})));
        assert_eq!(rejected(&t), TokenRejection::NotYetValid);
        // A zero leeway is strict.
        let mut c = config();
        c.leeway_seconds = 0;
        let strict = JwtVerifier::from_jwks(c, JWKS).unwrap();
        let t = rs256(&with(json!({"exp": NOW_S - 1})));
        assert!(strict.verify_at(&t, NOW).is_err());
    }

    #[test]
    fn unknown_kid_and_missing_kid() {
        let t = sign_with(Algorithm::RS256, Some("rotated"), RSA_A, &claims());
        assert_eq!(rejected(&t), TokenRejection::UnknownKey);
        // Without kid, a JWKS of two keys cannot choose.
        let t = sign_with(Algorithm::RS256, None, RSA_A, &claims());
        assert_eq!(rejected(&t), TokenRejection::UnknownKey);
        // With one key, it is used.
        let one: Value = serde_json::from_str(JWKS).unwrap();
        let one = json!({"keys": [one["keys"][0].clone()]}).to_string();
        let v = JwtVerifier::from_jwks(config(), &one).unwrap();
        assert!(v.verify_at(&t, NOW).is_ok());
    }

    #[test]
    fn bad_signatures() {
        // Signed by a key that is not in the JWKS, under a known kid.
        let forged = sign_with(Algorithm::RS256, Some("rsa-a"), RSA_B, &claims());
        assert_eq!(rejected(&forged), TokenRejection::BadSignature);
        // A valid token whose payload was swapped.
        let good = rs256(&claims());
        let other = rs256(&with(json!({"groups": ["platform-admins"]})));
        let g: Vec<&str> = good.split('.').collect();
        let o: Vec<&str> = other.split('.').collect();
        let spliced = format!("{}.{}.{}", g[0], o[1], g[2]);
        assert_eq!(rejected(&spliced), TokenRejection::BadSignature);
        // An RSA kid with an EC algorithm.
        let t = sign_with(Algorithm::ES256, Some("rsa-a"), EC_A, &claims());
        assert_eq!(rejected(&t), TokenRejection::AlgorithmNotAllowed);
        // The JWK declares RS256: the same key under PS256 is refused.
        let t = sign_with(Algorithm::PS256, Some("rsa-a"), RSA_A, &claims());
        assert_eq!(rejected(&t), TokenRejection::AlgorithmNotAllowed);
        // Without a declared alg, the RSA family is accepted.
        let mut jwks: Value = serde_json::from_str(JWKS).unwrap();
        jwks["keys"][0].as_object_mut().unwrap().remove("alg");
        let v = JwtVerifier::from_jwks(config(), &jwks.to_string()).unwrap();
        assert!(v.verify_at(&t, NOW).is_ok());
    }

    fn unsigned(header: Value, claims: &Value) -> String {
        let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.", enc(&header), enc(claims))
    }

    #[test]
    fn alg_none_and_hmac_are_refused() {
        for alg in ["none", "None", "NONE"] {
            let t = unsigned(json!({"alg": alg, "kid": "rsa-a"}), &claims());
            assert_eq!(rejected(&t), TokenRejection::AlgorithmNotAllowed, "{alg}");
        }
        // HS256 signed with the JWKS's oct key, or with the RSA public modulus as a secret.
        let jwks: Value = serde_json::from_str(JWKS).unwrap();
        let secret = URL_SAFE_NO_PAD
            .decode(jwks["keys"][2]["k"].as_str().unwrap())
            .unwrap();
        for kid in ["hmac", "rsa-a"] {
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some(kid.into());
            let t = encode(&h, &claims(), &EncodingKey::from_secret(&secret).unwrap()).unwrap();
            assert_eq!(rejected(&t), TokenRejection::AlgorithmNotAllowed, "{kid}");
        }
    }

    #[test]
    fn malformed_tokens() {
        for t in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.e30.x",
            "e30.e30.x",
            "bm90IGpzb24.e30.x",
        ] {
            assert!(
                matches!(
                    verifier().verify_at(t, NOW),
                    Err(ServiceError::InvalidToken(
                        TokenRejection::Malformed | TokenRejection::AlgorithmNotAllowed
                    ))
                ),
                "{t}"
            );
        }
        assert_eq!(rejected("a.b"), TokenRejection::Malformed);
        assert_eq!(
            rejected(&rs256(&with(json!({"sub": null})))),
            TokenRejection::MissingClaim("sub".into())
        );
        assert_eq!(
            rejected(&rs256(&with(json!({"exp": "tomorrow"})))),
            TokenRejection::MissingClaim("exp".into())
        );
    }

    #[test]
    fn groups_map_to_roles() {
        let v = verifier();
        let roles = |groups: Value| {
            v.verify_at(&rs256(&with(json!({ "groups": groups }))), NOW)
                .map(|p| p.roles)
        };
        assert_eq!(roles(json!("developers")).unwrap(), vec![Role::Viewer]);
        assert_eq!(roles(json!(["oncall"])).unwrap(), vec![Role::Operator]);
        assert_eq!(
            roles(json!(["platform-admins", "sre", "ops-viewers", "sre", 7])).unwrap(),
            vec![Role::Viewer, Role::Operator, Role::Admin]
        );
        for none in [json!(["marketing"]), json!([]), json!(42), json!("SRE")] {
            let e = roles(none.clone()).unwrap_err();
            assert!(matches!(&e, ServiceError::NoRole { subject } if subject == "u-123"));
            assert_eq!((e.status(), e.code()), (403, "no_role"), "{none}");
        }
        // No groups claim at all: authenticated, but no role.
        let e = v
            .verify_at(&rs256(&with(json!({"groups": null}))), NOW)
            .unwrap_err();
        assert_eq!(e.status(), 403);
    }

    #[test]
    fn nested_roles_claim_and_name_fallback() {
        let mut c = config();
        c.roles_claim = "realm_access.roles".into();
        let v = JwtVerifier::from_jwks(c, JWKS).unwrap();
        let t = rs256(&with(json!({
            "realm_access": {"roles": ["platform-admins"]},
            "email": null, "preferred_username": "alice"
        })));
        let p = v.verify_at(&t, NOW).unwrap();
        assert_eq!(p.roles, vec![Role::Admin]);
        assert_eq!(p.name, "alice");
        let t = rs256(&with(
            json!({"realm_access": {"roles": ["sre"]}, "email": null}),
        ));
        assert_eq!(v.verify_at(&t, NOW).unwrap().name, "u-123");
    }

    #[test]
    fn system_clock_entry_point() {
        let now_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let t = rs256(&with(json!({"exp": now_s + 600})));
        assert!(verifier().verify(&t).is_ok());
    }

    #[test]
    fn config_is_validated() {
        let check = |f: &dyn Fn(&mut JwtConfig), key: &str| {
            let mut c = config();
            f(&mut c);
            match JwtVerifier::from_jwks(c, JWKS) {
                Err(ServiceError::InvalidConfig { key: k, .. }) => assert_eq!(k, key),
                other => panic!("{key}: {other:?}"),
            }
        };
        check(&|c| c.issuer.clear(), "issuer");
        check(&|c| c.audience = " ".into(), "audience");
        check(&|c| c.leeway_seconds = 301, "leeway_seconds");
        check(&|c| c.role_groups.clear(), "role_groups");
        check(
            &|c| {
                c.role_groups.insert(Role::Ingest, vec![String::new()]);
            },
            "role_groups.ingest",
        );
        check(&|c| c.roles_claim.clear(), "roles_claim");
        check(
            &|c| {
                c.jwks_file = Some("jwks.json".into());
                c.jwks_url = Some("https://sso/jwks".into());
            },
            "jwks_url",
        );
        check(&|c| c.jwks_url = Some("ftp://sso/jwks".into()), "jwks_url");

        let jwks_err = |text: &str| match JwtVerifier::from_jwks(config(), text) {
            Err(ServiceError::InvalidConfig { key, .. }) => key,
            other => panic!("{other:?}"),
        };
        assert_eq!(jwks_err("not json"), "jwks");
        assert_eq!(jwks_err("{}"), "jwks");
        // Only a symmetric key: nothing usable.
        assert_eq!(
            jwks_err(r#"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}"#),
            "jwks"
        );
    }

    #[test]
    fn config_from_yaml_like_json() {
        let c: JwtConfig = serde_json::from_value(json!({
            "issuer": ISS, "audience": AUD, "jwks_url": "https://sso.example.test/certs",
            "role_groups": {"admin": ["a", "b"], "viewer": ["v"]}
        }))
        .unwrap();
        assert_eq!(c.roles_claim, "groups");
        assert_eq!(c.leeway_seconds, 60);
        assert_eq!(c.role_groups[&Role::Admin], vec!["a", "b"]);
        c.validate().unwrap();
        assert!(
            serde_json::from_value::<JwtConfig>(json!({
                "issuer": ISS, "audience": AUD, "role_groups": {}, "leway": 5
            }))
            .is_err()
        );
    }
}
