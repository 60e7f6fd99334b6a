//! API tokens (`aiops token create`) and the `Authorization: Bearer` header.
//!
//! A token is `aiops_` followed by 43 base64url characters: 32 bytes (256 bits) from the
//! operating system's random source. Only its SHA-256 ([`TokenHash`]) is stored, with a short
//! non-secret id (the first 8 characters after the prefix, so a holder recognises their token
//! in `aiops token list`). A high-entropy token needs no slow password hash: SHA-256 cannot be
//! brute-forced over 2^256 values, and it costs microseconds per request where argon2 would
//! cost tens of milliseconds. Hashes are compared in constant time.

use std::fmt;

use aiops_core::TimestampMs;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::rbac::{AuthMethod, Principal, Role};
use crate::error::{Result, ServiceError, TokenRejection};

/// The prefix of every API token, so that scanners and people recognise one.
pub const TOKEN_PREFIX: &str = "aiops_";
/// Random bytes in a token (256 bits).
const SECRET_BYTES: usize = 32;
/// Characters of the base64url (unpadded) encoding of [`SECRET_BYTES`].
const SECRET_CHARS: usize = 43;
/// Characters of the secret part shown as the token's id.
pub const TOKEN_ID_CHARS: usize = 8;
/// Longest token name, in characters.
pub const MAX_TOKEN_NAME_CHARS: usize = 64;

/// A token's plaintext. Shown once at creation, never stored or logged: `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl SecretToken {
    /// The plaintext, to print once to the user who created it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretToken({}{}…)",
            TOKEN_PREFIX,
            token_id(&self.0).unwrap_or("")
        )
    }
}

/// SHA-256 of a token's plaintext: what the store keeps. Serialised as 64 lower-case hex
/// digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of `token`'s plaintext (any string; well-formed or not).
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        use fmt::Write as _;
        self.0.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(hex: &str) -> Result<Self> {
        let bad = || ServiceError::invalid_parameter("token hash", "expected 64 hex digits");
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Self(out))
    }

    /// Whether `token` hashes to this value, compared in constant time.
    pub fn matches(&self, token: &str) -> bool {
        Self::of(token).0.ct_eq(&self.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", self.to_hex())
    }
}

impl Serialize for TokenHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for TokenHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// What the store keeps of a new token: its id and hash, never the plaintext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecordParts {
    /// Non-secret id, [`TOKEN_ID_CHARS`] characters (shown by `aiops token list`).
    pub id: String,
    /// SHA-256 of the plaintext: the lookup key.
    pub hash: TokenHash,
}

/// Makes a new token from the operating system's random source: the plaintext to show once,
/// and the parts to store.
pub fn generate() -> Result<(SecretToken, TokenRecordParts)> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| ServiceError::Internal {
        what: format!("random source: {e}"),
    })?;
    let plaintext = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let parts = record_parts(&plaintext)?;
    Ok((SecretToken(plaintext), parts))
}

/// Whether `token` has the API token shape (`aiops_` + 43 base64url characters).
pub fn is_api_token(token: &str) -> bool {
    token.strip_prefix(TOKEN_PREFIX).is_some_and(|secret| {
        secret.len() == SECRET_CHARS
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// The non-secret id of a well-formed API token, `None` for anything else.
pub fn token_id(token: &str) -> Option<&str> {
    is_api_token(token).then(|| &token[TOKEN_PREFIX.len()..TOKEN_PREFIX.len() + TOKEN_ID_CHARS])
}

/// The id and hash of a presented API token, to look its record up by hash.
/// A string without the API token shape is [`TokenRejection::Malformed`].
pub fn record_parts(token: &str) -> Result<TokenRecordParts> {
    let id = token_id(token).ok_or(ServiceError::InvalidToken(TokenRejection::Malformed))?;
    Ok(TokenRecordParts {
        id: id.to_owned(),
        hash: TokenHash::of(token),
    })
}

/// A stored API token: what `aiops token list` shows and what authenticates a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenRecord {
    /// Non-secret id ([`TokenRecordParts::id`]).
    pub id: String,
    /// SHA-256 of the plaintext.
    pub hash: TokenHash,
    /// Who or what it is for (`prometheus`, `alice-laptop`), 1 to [`MAX_TOKEN_NAME_CHARS`]
    /// characters.
    pub name: String,
    /// The role it grants.
    pub role: Role,
    /// Creation time, ms since the epoch.
    pub created_at: TimestampMs,
    /// Expiry, ms since the epoch; `None` never expires.
    pub expires_at: Option<TimestampMs>,
    /// Revocation time, ms since the epoch; `None` while active.
    pub revoked_at: Option<TimestampMs>,
}

impl ApiTokenRecord {
    /// A new record from [`generate`]'s parts, checking the name and that the expiry (ms since
    /// the epoch) is after `created_at` (ms since the epoch).
    pub fn new(
        parts: TokenRecordParts,
        name: &str,
        role: Role,
        created_at: TimestampMs,
        expires_at: Option<TimestampMs>,
    ) -> Result<Self> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_TOKEN_NAME_CHARS {
            return Err(ServiceError::invalid_parameter(
                "name",
                format!("must be 1 to {MAX_TOKEN_NAME_CHARS} characters"),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(ServiceError::invalid_parameter(
                "name",
                "must not contain control characters",
            ));
        }
        if let Some(exp) = expires_at
            && exp <= created_at
        {
            return Err(ServiceError::invalid_parameter(
                "expires_at",
                "must be after the creation time",
            ));
        }
        Ok(Self {
            id: parts.id,
            hash: parts.hash,
            name: name.to_owned(),
            role,
            created_at,
            expires_at,
            revoked_at: None,
        })
    }

    /// Whether the token is usable at `now` (ms since the epoch): not revoked, not expired.
    pub fn is_active(&self, now: TimestampMs) -> bool {
        self.revoked_at.is_none_or(|r| r > now) && self.expires_at.is_none_or(|e| e > now)
    }

    /// Authenticates `presented` against this record at `now` (ms since the epoch): the hash
    /// must match (constant time), then the token must be neither revoked nor expired.
    pub fn authenticate(&self, presented: &str, now: TimestampMs) -> Result<Principal> {
        if !self.hash.matches(presented) {
            return Err(TokenRejection::UnknownToken.into());
        }
        if self.revoked_at.is_some_and(|r| r <= now) {
            return Err(TokenRejection::Revoked.into());
        }
        if self.expires_at.is_some_and(|e| e <= now) {
            return Err(TokenRejection::Expired.into());
        }
        Ok(Principal {
            subject: format!("token:{}", self.id),
            name: self.name.clone(),
            roles: vec![self.role],
            via: AuthMethod::ApiToken {
                token_id: self.id.clone(),
            },
        })
    }
}

/// The token of an `Authorization` header value (`None`: no header).
///
/// The scheme is matched without regard to case (`Bearer`, `bearer`); the token is what
/// follows the spaces after it, and must be one word.
pub fn parse_authorization(header: Option<&str>) -> Result<&str> {
    let value = header.ok_or(ServiceError::MissingCredentials)?.trim();
    if value.is_empty() {
        return Err(ServiceError::MissingCredentials);
    }
    let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ServiceError::NotBearer {
            scheme: scheme.chars().take(32).collect(),
        });
    }
    let token = rest.trim();
    if token.is_empty() {
        return Err(ServiceError::EmptyToken);
    }
    if token.contains(char::is_whitespace) {
        return Err(TokenRejection::Malformed.into());
    }
    Ok(token)
}

/// A bearer token, sorted by kind so the server knows which verifier to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bearer<'a> {
    /// An API token (`aiops_...`): look its [`TokenHash`] up in the store.
    ApiToken(&'a str),
    /// A JWT (three dot-separated segments): verify with the JWT verifier.
    Jwt(&'a str),
}

impl<'a> Bearer<'a> {
    /// Sorts a bearer token by shape; anything else is [`TokenRejection::Malformed`].
    pub fn classify(token: &'a str) -> Result<Self> {
        if is_api_token(token) {
            Ok(Bearer::ApiToken(token))
        } else if !token.starts_with(TOKEN_PREFIX) && token.split('.').count() == 3 {
            Ok(Bearer::Jwt(token))
        } else {
            Err(TokenRejection::Malformed.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_the_shape_and_differ() {
        let (a, parts_a) = generate().unwrap();
        let (b, _) = generate().unwrap();
        assert_ne!(a, b);
        assert!(a.expose().starts_with("aiops_"));
        assert_eq!(a.expose().len(), 6 + 43);
        assert!(is_api_token(a.expose()));
        assert_eq!(parts_a.id, &a.expose()[6..14]);
        assert_eq!(parts_a.hash, TokenHash::of(a.expose()));
        assert_eq!(record_parts(a.expose()).unwrap(), parts_a);
        // Debug never shows the secret.
        let shown = format!("{a:?}");
        assert!(!shown.contains(&a.expose()[14..]), "{shown}");
        assert!(shown.contains(&parts_a.id));
    }

    #[test]
    fn hash_is_sha256_in_hex_and_round_trips() {
        // SHA-256("abc"), FIPS 180-2 test vector.
        let h = TokenHash::of("abc");
        assert_eq!(
            h.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(TokenHash::from_hex(&h.to_hex().to_uppercase()).unwrap(), h);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<TokenHash>(&json).unwrap(), h);
        assert!(TokenHash::from_hex("abc").is_err());
        assert!(TokenHash::from_hex(&"zz".repeat(32)).is_err());
        assert!(h.matches("abc"));
        assert!(!h.matches("abd"));
    }

    fn record(expires_at: Option<TimestampMs>) -> (SecretToken, ApiTokenRecord) {
        let (plain, parts) = generate().unwrap();
        let rec =
            ApiTokenRecord::new(parts, " prometheus ", Role::Ingest, 1_000, expires_at).unwrap();
        (plain, rec)
    }

    #[test]
    fn authenticate_checks_hash_revocation_and_expiry() {
        let (plain, mut rec) = record(Some(10_000));
        assert_eq!(rec.name, "prometheus");
        let p = rec.authenticate(plain.expose(), 5_000).unwrap();
        assert_eq!(p.roles, vec![Role::Ingest]);
        assert_eq!(p.subject, format!("token:{}", rec.id));
        assert_eq!(p.name, "prometheus");

        let (other, _) = generate().unwrap();
        let e = rec.authenticate(other.expose(), 5_000).unwrap_err();
        assert!(matches!(
            e,
            ServiceError::InvalidToken(TokenRejection::UnknownToken)
        ));

        let e = rec.authenticate(plain.expose(), 10_000).unwrap_err();
        assert_eq!(e.code(), "token_expired");
        assert!(!rec.is_active(10_000));
        assert!(rec.is_active(9_999));

        rec.revoked_at = Some(6_000);
        let e = rec.authenticate(plain.expose(), 7_000).unwrap_err();
        assert!(matches!(
            e,
            ServiceError::InvalidToken(TokenRejection::Revoked)
        ));
        assert!(rec.is_active(5_999));
        assert!(!rec.is_active(6_000));
    }

    #[test]
    fn record_checks_name_and_expiry() {
        let (_, parts) = generate().unwrap();
        for (name, exp) in [
            ("", None),
            ("   ", None),
            (&*"x".repeat(65), None),
            ("a\nb", None),
            ("ok", Some(1_000)),
            ("ok", Some(999)),
        ] {
            let e = ApiTokenRecord::new(parts.clone(), name, Role::Viewer, 1_000, exp);
            assert!(
                matches!(e, Err(ServiceError::InvalidParameter { .. })),
                "{name:?} {exp:?}"
            );
        }
        assert!(ApiTokenRecord::new(parts, "ok", Role::Viewer, 1_000, None).is_ok());
    }

    #[test]
    fn authorization_header() {
        let t = "aiops_abc";
        assert_eq!(parse_authorization(Some("Bearer aiops_abc")).unwrap(), t);
        assert_eq!(
            parse_authorization(Some("bearer   aiops_abc  ")).unwrap(),
            t
        );
        assert_eq!(parse_authorization(Some("BEARER\taiops_abc")).unwrap(), t);
        assert!(matches!(
            parse_authorization(None),
            Err(ServiceError::MissingCredentials)
        ));
        assert!(matches!(
            parse_authorization(Some("  ")),
            Err(ServiceError::MissingCredentials)
        ));
        match parse_authorization(Some("Basic dXNlcjpwYXNz")) {
            Err(ServiceError::NotBearer { scheme }) => assert_eq!(scheme, "Basic"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_authorization(Some("Bearer")),
            Err(ServiceError::EmptyToken)
        ));
        assert!(matches!(
            parse_authorization(Some("Bearer   ")),
            Err(ServiceError::EmptyToken)
        ));
        assert!(matches!(
            parse_authorization(Some("Bearer a b")),
            Err(ServiceError::InvalidToken(TokenRejection::Malformed))
        ));
        for e in [
            parse_authorization(None).unwrap_err(),
            parse_authorization(Some("Basic x")).unwrap_err(),
            parse_authorization(Some("Bearer")).unwrap_err(),
        ] {
            assert_eq!((e.status(), e.code()), (401, "unauthenticated"));
        }
    }

    #[test]
    fn bearer_classification() {
        let (plain, _) = generate().unwrap();
        assert_eq!(
            Bearer::classify(plain.expose()).unwrap(),
            Bearer::ApiToken(plain.expose())
        );
        assert_eq!(Bearer::classify("a.b.c").unwrap(), Bearer::Jwt("a.b.c"));
        for bad in ["aiops_short", "aiops_a.b.c", "plain", "a.b", "a.b.c.d"] {
            assert!(
                matches!(
                    Bearer::classify(bad),
                    Err(ServiceError::InvalidToken(TokenRejection::Malformed))
                ),
                "{bad}"
            );
        }
        assert!(record_parts("aiops_short").is_err());
        assert_eq!(token_id("aiops_short"), None);
    }
}
