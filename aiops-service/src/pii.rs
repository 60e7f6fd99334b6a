//! PII masking of log lines and alert annotations before they are stored.
//!
//! What is masked, and its replacement:
//!
//! | what | example | becomes |
//! |---|---|---|
//! | e-mail addresses | `alice@example.com` | `<email>` |
//! | IPv4 addresses (any dotted quad, so `1.2.3.4` too), port kept | `10.0.0.7:8080` | `<ip>:8080` |
//! | IPv6 addresses (checked with the standard parser; with at least one digit) | `fe80::1`, `[2001:db8::2]` | `<ip>`, `[<ip>]` |
//! | JWTs | `eyJhbGciOi...` | `<secret>` |
//! | `Bearer` / `Basic` credentials | `Authorization: Bearer abc.def-123` | `Authorization: Bearer <secret>` |
//! | `key=value` / `key: value` / JSON secrets named `password`, `passwd`, `secret`, `token`, `api_key`, `access_key`, `private_key`, `credential(s)` (with any prefix: `client_secret`, `auth_token`) | `password=hunter2` | `password=<secret>` |
//! | well-known key formats: aiops API tokens, AWS access key ids, GitHub, GitLab and Slack tokens, `sk-` keys | `AKIAIOSFODNN7EXAMPLE` | `<secret>` |
//! | passwords in URLs | `postgres://app:s3cret@db/x` | `postgres://app:<secret>@db/x` |
//! | each configured extra pattern | | `<name>` |
//!
//! Not masked: timestamps and times (`2024-01-15T10:30:00.123Z`, `10:30:00`), semantic
//! versions of three parts (`1.2.3`, `v1.2.3.4`), MAC addresses, Rust or C++ paths
//! (`std::io::Error`), dotted numbers of five parts or more (`1.2.3.4.5`), and words like
//! `tokens=5` or `token_count=5` (the secret names must end at a word boundary).
//!
//! All patterns are alternatives of one regular expression, so a line is scanned once.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::str::FromStr;

use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};

use crate::error::{Result, ServiceError};

/// Longest name of an extra pattern, in characters.
pub const MAX_PATTERN_NAME_CHARS: usize = 32;

fn enabled_by_default() -> bool {
    true
}

/// PII settings (the `pii` section of the service's configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PiiConfig {
    /// Whether masking is applied (default true).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// More patterns to mask, each replaced by `<name>`.
    #[serde(default)]
    pub extra: Vec<PiiPattern>,
}

impl Default for PiiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            extra: Vec::new(),
        }
    }
}

/// A configured pattern to mask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PiiPattern {
    /// Name, also the replacement `<name>`: a lower-case letter then lower-case letters, digits
    /// or `_`, at most [`MAX_PATTERN_NAME_CHARS`] characters.
    pub name: String,
    /// Regular expression (Rust `regex` syntax) that must not match the empty string.
    pub regex: String,
}

/// A check a match must pass to be masked (a regular expression without look-around cannot
/// say it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    None,
    /// Not inside a longer dotted number or word.
    Ipv4,
    /// Parses as an IPv6 address, has a digit and is not inside a word (`std::io`).
    Ipv6,
    /// The credential looks like one: 8 characters or more, with a non-letter or 24 or more.
    Credential,
}

/// A built-in rule: its pattern, with optional `(?P<VALUE>...)` groups (alternatives of each
/// other) of which the one that matched alone is replaced (the rest of the match is kept).
struct Builtin {
    pattern: &'static str,
    replacement: &'static str,
    check: Check,
}

const BUILTINS: &[Builtin] = &[
    Builtin {
        // JWT: base64url header and payload of JSON objects ("eyJ" is `{"`).
        pattern: r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*",
        replacement: "<secret>",
        check: Check::None,
    },
    Builtin {
        pattern: r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:(?P<VALUE>[^/\s@]+)@",
        replacement: "<secret>",
        check: Check::None,
    },
    Builtin {
        pattern: r"aiops_[A-Za-z0-9_-]{43}|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{36,}|\bgithub_pat_[A-Za-z0-9_]{22,}|\bglpat-[A-Za-z0-9_-]{20,}|\bxox[abposr]-[A-Za-z0-9-]{10,}|\bsk-[A-Za-z0-9_-]{20,}",
        replacement: "<secret>",
        check: Check::None,
    },
    Builtin {
        pattern: r"(?i:\b(?:bearer|basic))\s+(?P<VALUE>[A-Za-z0-9._~+/=-]+)",
        replacement: "<secret>",
        check: Check::Credential,
    },
    Builtin {
        pattern: r#"(?i:\b[A-Za-z0-9_-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)\b)"?\s*[:=]\s*(?:"(?P<VALUE>[^"]+)"|(?P<VALUE>[^\s"',;&}]+))"#,
        replacement: "<secret>",
        check: Check::None,
    },
    Builtin {
        pattern: r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
        replacement: "<email>",
        check: Check::None,
    },
    Builtin {
        // An IPv6 candidate (with an IPv4 tail first, so that it wins); `Check::Ipv6` parses it.
        pattern: r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){1,6}:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}",
        replacement: "<ip>",
        check: Check::Ipv6,
    },
    Builtin {
        pattern: r"\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\b",
        replacement: "<ip>",
        check: Check::Ipv4,
    },
];

/// One alternative of the combined expression.
#[derive(Debug)]
struct Rule {
    /// Capture group index of the whole alternative.
    group: usize,
    /// Capture group indices of the parts to replace (the first that matched), when not the
    /// whole alternative.
    values: Vec<usize>,
    replacement: String,
    check: Check,
}

/// Masks PII in text; built once from a [`PiiConfig`], then shared (it is `Sync`).
#[derive(Debug)]
pub struct PiiMasker {
    enabled: bool,
    regex: Regex,
    rules: Vec<Rule>,
}

impl Default for PiiMasker {
    /// The built-in patterns, enabled.
    fn default() -> Self {
        Self::new(&PiiConfig::default()).expect("the built-in patterns compile")
    }
}

fn check_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= MAX_PATTERN_NAME_CHARS
}

impl PiiMasker {
    /// Builds the masker, validating every extra pattern (the error names it:
    /// `extra[2].regex`).
    pub fn new(config: &PiiConfig) -> Result<Self> {
        let mut alternatives = Vec::new();
        let mut specs: Vec<(String, String, Check)> = Vec::new(); // (group, replacement, check)
        for (i, b) in BUILTINS.iter().enumerate() {
            let mut pattern = b.pattern.to_owned();
            let mut k = 0;
            while pattern.contains("(?P<VALUE>") {
                pattern = pattern.replacen("(?P<VALUE>", &format!("(?P<__v{i}_{k}>"), 1);
                k += 1;
            }
            alternatives.push(format!("(?P<__r{i}>{pattern})"));
            specs.push((format!("{i}"), b.replacement.to_owned(), b.check));
        }
        for (i, p) in config.extra.iter().enumerate() {
            if !check_name(&p.name) {
                return Err(ServiceError::invalid_config(
                    format!("extra[{i}].name"),
                    format!(
                        "'{}': use a lower-case letter then lower-case letters, digits or _ \
                         (at most {MAX_PATTERN_NAME_CHARS})",
                        p.name
                    ),
                ));
            }
            if config.extra[..i].iter().any(|q| q.name == p.name) {
                return Err(ServiceError::invalid_config(
                    format!("extra[{i}].name"),
                    format!("'{}' is used twice", p.name),
                ));
            }
            let key = || format!("extra[{i}].regex");
            let alone = Regex::new(&p.regex)
                .map_err(|e| ServiceError::invalid_config(key(), e.to_string()))?;
            if alone.is_match("") {
                return Err(ServiceError::invalid_config(
                    key(),
                    "matches the empty string",
                ));
            }
            let j = BUILTINS.len() + i;
            alternatives.push(format!("(?P<__r{j}>{})", p.regex));
            specs.push((format!("{j}"), format!("<{}>", p.name), Check::None));
        }
        let regex = Regex::new(&alternatives.join("|")).map_err(|e| {
            ServiceError::invalid_config("extra", format!("patterns do not combine: {e}"))
        })?;
        let index = |name: &str| {
            regex
                .capture_names()
                .position(|n| n == Some(name))
                .ok_or_else(|| ServiceError::invalid_config("extra", format!("group {name}")))
        };
        let rules = specs
            .into_iter()
            .map(|(id, replacement, check)| {
                let prefix = format!("__v{id}_");
                let values = regex
                    .capture_names()
                    .enumerate()
                    .filter(|(_, n)| n.is_some_and(|n| n.starts_with(&prefix)))
                    .map(|(g, _)| g)
                    .collect();
                Ok(Rule {
                    group: index(&format!("__r{id}"))?,
                    values,
                    replacement,
                    check,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            enabled: config.enabled,
            regex,
            rules,
        })
    }

    /// Whether masking is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// `text` with its PII replaced; borrowed unchanged when there is none (or masking is off).
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.enabled {
            return Cow::Borrowed(text);
        }
        match self
            .regex
            .replace_all(text, |caps: &Captures<'_>| self.replace(text, caps))
        {
            // Candidates that failed their check (a time, `std::io`) leave the text as it was.
            Cow::Owned(masked) if masked == text => Cow::Borrowed(text),
            masked => masked,
        }
    }

    /// Masks `text` in place.
    pub fn mask_in_place(&self, text: &mut String) {
        if let Cow::Owned(masked) = self.mask(text) {
            *text = masked;
        }
    }

    /// Masks every value of a map (alert annotations); keys are kept.
    pub fn mask_values(&self, map: &mut BTreeMap<String, String>) {
        for value in map.values_mut() {
            self.mask_in_place(value);
        }
    }

    fn replace(&self, text: &str, caps: &Captures<'_>) -> String {
        let whole = caps.get(0).expect("group 0 is the match");
        let Some(rule) = self.rules.iter().find(|r| caps.get(r.group).is_some()) else {
            return whole.as_str().to_owned();
        };
        let value = rule.values.iter().find_map(|&g| caps.get(g));
        let before = text[..whole.start()].chars().next_back();
        let after = &text[whole.end()..];
        let keep = match rule.check {
            Check::None => false,
            Check::Ipv4 => {
                before.is_some_and(|c| c == '.' || c.is_alphanumeric() || c == '_')
                    || after.starts_with(|c: char| c.is_alphanumeric() || c == '_')
                    || after
                        .strip_prefix('.')
                        .is_some_and(|a| a.starts_with(|c: char| c.is_ascii_digit()))
            }
            Check::Ipv6 => {
                let s = whole.as_str();
                before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '.')
                    || after.starts_with(|c: char| c.is_alphanumeric() || c == '_')
                    || after
                        .strip_prefix('.')
                        .is_some_and(|a| a.starts_with(|c: char| c.is_ascii_digit()))
                    // Real addresses have a digit; `add::feed` is a path, not an address.
                    || !s.bytes().any(|b| b.is_ascii_digit())
                    || Ipv6Addr::from_str(s).is_err()
            }
            Check::Credential => value.is_none_or(|v| {
                let v = v.as_str();
                v.len() < 8 || (v.len() < 24 && v.chars().all(char::is_alphabetic))
            }),
        };
        if keep {
            return whole.as_str().to_owned();
        }
        match value {
            Some(v) => format!(
                "{}{}{}",
                &text[whole.start()..v.start()],
                rule.replacement,
                &text[v.end()..whole.end()]
            ),
            None => rule.replacement.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(text: &str) -> String {
        PiiMasker::default().mask(text).into_owned()
    }

    #[test]
    fn emails_and_ips() {
        let cases = [
            (
                "login failed for alice.smith+ops@example.co.uk from 10.0.0.7",
                "login failed for <email> from <ip>",
            ),
            (
                "upstream 192.168.1.20:8080 timed out",
                "upstream <ip>:8080 timed out",
            ),
            ("peer=fe80::1ff:fe23:4567:890a", "peer=<ip>"),
            ("GET http://[2001:db8::2]:80/x", "GET http://[<ip>]:80/x"),
            ("from ::1 and ::ffff:192.0.2.1", "from <ip> and <ip>"),
            (
                "addr 2001:0db8:0000:0000:0000:ff00:0042:8329.",
                "addr <ip>.",
            ),
            ("version 1.2.3.4", "version <ip>"),
        ];
        for (input, want) in cases {
            assert_eq!(mask(input), want, "{input}");
        }
    }

    #[test]
    fn secrets() {
        let cases = [
            (
                "Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl",
                "Authorization: Bearer <secret>",
            ),
            (
                "Authorization: Basic dXNlcjpwYXNzd29yZA==",
                "Authorization: Basic <secret>",
            ),
            ("bearer abc123def456", "bearer <secret>"),
            (
                "id_token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-_x",
                "id_token <secret>",
            ),
            (
                "user=bob password=hunter2 ok",
                "user=bob password=<secret> ok",
            ),
            (
                r#"{"password": "p@ss w", "x": 1}"#,
                r#"{"password": "<secret>", "x": 1}"#,
            ),
            (
                "client_secret: abcd&next=1",
                "client_secret: <secret>&next=1",
            ),
            (
                "API-KEY=k-123; AUTH_TOKEN=t0k",
                "API-KEY=<secret>; AUTH_TOKEN=<secret>",
            ),
            (
                "dsn postgres://app:s3cr3t@db.internal:5432/aiops",
                "dsn postgres://app:<secret>@db.internal:5432/aiops",
            ),
            ("aws key AKIAIOSFODNN7EXAMPLE used", "aws key <secret> used"),
            (
                "token ghp_0123456789abcdefghijABCDEFGHIJ012345 leaked",
                "token <secret> leaked",
            ),
            (
                "sent aiops_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.",
                "sent <secret>.",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(mask(input), want, "{input}");
        }
    }

    #[test]
    fn what_is_not_masked() {
        for text in [
            "2024-01-15T10:30:00.123Z took 10:30:00",
            "release 1.2.3 and v1.2.3.4 and 1.2.3.4.5",
            "nic 00:1a:2b:3c:4d:5e",
            "panicked at std::io::Error in aiops_core::time, add::feed",
            "tokens=5 token_count=7 max_tokens=100",
            "Bearer authentication required; bearer token expired",
            "user@localhost and 999.1.1.1",
            "ratio 3:2 at 12:00",
        ] {
            assert_eq!(mask(text), text);
            assert!(matches!(PiiMasker::default().mask(text), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn extra_patterns_and_disabled() {
        let config = PiiConfig {
            enabled: true,
            extra: vec![
                PiiPattern {
                    name: "customer".into(),
                    regex: r"\bcust-[0-9]{6}\b".into(),
                },
                PiiPattern {
                    name: "iban".into(),
                    regex: r"\b[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}\b".into(),
                },
            ],
        };
        let m = PiiMasker::new(&config).unwrap();
        assert_eq!(
            m.mask("cust-123456 paid from DE89370400440532013000 via 10.1.1.1"),
            "<customer> paid from <iban> via <ip>"
        );
        let mut annotations = BTreeMap::from([
            ("summary".to_owned(), "disk full on 10.2.3.4".to_owned()),
            ("owner".to_owned(), "bob@example.com".to_owned()),
        ]);
        m.mask_values(&mut annotations);
        assert_eq!(annotations["summary"], "disk full on <ip>");
        assert_eq!(annotations["owner"], "<email>");

        let off = PiiMasker::new(&PiiConfig {
            enabled: false,
            ..config
        })
        .unwrap();
        assert!(!off.is_enabled());
        assert_eq!(off.mask("bob@example.com"), "bob@example.com");
    }

    #[test]
    fn bad_extra_patterns_are_named() {
        let key_of = |name: &str, regex: &str| {
            let mut extra = vec![PiiPattern {
                name: "ok".into(),
                regex: "x+".into(),
            }];
            extra.push(PiiPattern {
                name: name.into(),
                regex: regex.into(),
            });
            match PiiMasker::new(&PiiConfig {
                enabled: true,
                extra,
            }) {
                Err(ServiceError::InvalidConfig { key, .. }) => key,
                other => panic!("{name} {regex}: {other:?}"),
            }
        };
        assert_eq!(key_of("Bad Name", "y"), "extra[1].name");
        assert_eq!(key_of("", "y"), "extra[1].name");
        assert_eq!(key_of("ok", "y"), "extra[1].name");
        assert_eq!(key_of("open", "(unclosed"), "extra[1].regex");
        assert_eq!(key_of("empty", "a*"), "extra[1].regex");
    }

    #[test]
    fn config_defaults_and_unknown_fields() {
        let c: PiiConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, PiiConfig::default());
        assert!(c.enabled);
        assert!(serde_json::from_str::<PiiConfig>(r#"{"enable": false}"#).is_err());
    }

    #[test]
    fn long_input_in_one_pass() {
        let line = "GET /api/v1/alerts 200 12ms user=alice@example.com ip=10.0.0.1 ";
        let text = line.repeat(2_000);
        let masked = mask(&text);
        assert_eq!(masked.matches("<email>").count(), 2_000);
        assert_eq!(masked.matches("<ip>").count(), 2_000);
    }
}
