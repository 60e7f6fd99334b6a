//! Error keywords in a log message: error, exception, warning, fatal and failure words.
//!
//! A message is cut into words at every character that is not an ASCII letter (so `error:`,
//! `[ERROR]` and `failed,` are words `error`, `ERROR` and `failed`), and each word is compared
//! case-insensitively:
//!
//! | class | a word matches when it |
//! |---|---|
//! | `error` | starts or ends with `error` (`errors`, `IOError`) |
//! | `exception` | contains `exception` (`NullPointerException`) |
//! | `warning` | starts with `warn` (`warn`, `WARNING`) |
//! | `fatal` | starts with `fatal` |
//! | `fail` | starts with `fail` (`failed`, `failure`, `FAILED`) |
//!
//! When the log format has a level field, the level is trusted over the words: a line at a
//! quiet level (`INFO`, `DEBUG`...) has no keyword whatever its message says, and the level
//! itself counts as a word otherwise ([`scan_with_level`]).
//!
//! The classes of a line form a [`KeywordSet`], a bit set, so counting them per window costs
//! one pass over the message and no allocation.

use serde::{Deserialize, Serialize};

/// One keyword class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Keyword {
    /// `error`, `errors`, `IOError`.
    Error,
    /// `exception`, `NullPointerException`.
    Exception,
    /// `warn`, `warning`.
    Warning,
    /// `fatal`.
    Fatal,
    /// `fail`, `failed`, `failure`.
    Fail,
}

impl Keyword {
    /// Every class, in bit order.
    pub const ALL: [Keyword; 5] = [
        Keyword::Error,
        Keyword::Exception,
        Keyword::Warning,
        Keyword::Fatal,
        Keyword::Fail,
    ];

    /// The class name (`error`, `exception`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::Error => "error",
            Keyword::Exception => "exception",
            Keyword::Warning => "warning",
            Keyword::Fatal => "fatal",
            Keyword::Fail => "fail",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of keyword classes (a bit set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeywordSet(u8);

impl KeywordSet {
    /// The empty set.
    pub const EMPTY: KeywordSet = KeywordSet(0);

    /// Whether no class is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `k` is in the set.
    pub fn contains(self, k: Keyword) -> bool {
        self.0 & k.bit() != 0
    }

    /// Adds `k`.
    pub fn insert(&mut self, k: Keyword) {
        self.0 |= k.bit();
    }

    /// Both sets together.
    pub fn union(self, other: KeywordSet) -> KeywordSet {
        KeywordSet(self.0 | other.0)
    }

    /// The classes in the set, in [`Keyword::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Keyword> {
        Keyword::ALL.into_iter().filter(move |k| self.contains(*k))
    }

    /// The class names joined by `,` (`error,fail`).
    pub fn names(self) -> String {
        self.iter()
            .map(Keyword::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The keyword classes of a message (see the module documentation).
///
/// ```
/// use aiops_logs::keywords::{Keyword, scan};
/// let k = scan("ciod: Error loading /bin/x: FAILED (java.io.IOException)");
/// assert!(k.contains(Keyword::Error) && k.contains(Keyword::Fail) && k.contains(Keyword::Exception));
/// assert!(scan("terror alert, fail2ban started").contains(Keyword::Fail));
/// assert!(scan("instruction cache parity corrected").is_empty());
/// ```
pub fn scan(text: &str) -> KeywordSet {
    let mut set = KeywordSet::EMPTY;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let word = &bytes[start..i];
        // Shortest keyword stem is 4 letters (`warn`, `fail`).
        if word.len() >= 4 {
            classify(word, &mut set);
        }
    }
    set
}

fn starts_with_ci(word: &[u8], stem: &[u8]) -> bool {
    word.len() >= stem.len() && word[..stem.len()].eq_ignore_ascii_case(stem)
}

fn ends_with_ci(word: &[u8], stem: &[u8]) -> bool {
    word.len() >= stem.len() && word[word.len() - stem.len()..].eq_ignore_ascii_case(stem)
}

fn contains_ci(word: &[u8], stem: &[u8]) -> bool {
    word.windows(stem.len())
        .any(|w| w.eq_ignore_ascii_case(stem))
}

fn classify(word: &[u8], set: &mut KeywordSet) {
    if starts_with_ci(word, b"error") || ends_with_ci(word, b"error") {
        set.insert(Keyword::Error);
    }
    if word.len() >= 9 && contains_ci(word, b"exception") {
        set.insert(Keyword::Exception);
    }
    if starts_with_ci(word, b"warn") {
        set.insert(Keyword::Warning);
    }
    if starts_with_ci(word, b"fatal") {
        set.insert(Keyword::Fatal);
    }
    if starts_with_ci(word, b"fail") {
        set.insert(Keyword::Fail);
    }
}

/// Whether a level field's value names a level below warning (`INFO`, `debug`, `Notice`,
/// `TRACE`, `verbose`, `fine`, or Android's one-letter `I`, `D`, `V`).
///
/// ```
/// use aiops_logs::keywords::is_quiet_level;
/// assert!(is_quiet_level("INFO") && is_quiet_level("[debug]") && is_quiet_level("I"));
/// assert!(!is_quiet_level("ERROR") && !is_quiet_level("FATAL") && !is_quiet_level("W"));
/// ```
pub fn is_quiet_level(level: &str) -> bool {
    const QUIET: [&str; 11] = [
        "info",
        "information",
        "informational",
        "debug",
        "trace",
        "notice",
        "verbose",
        "fine",
        "finer",
        "finest",
        "config",
    ];
    let t = level.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if t.len() == 1 {
        return matches!(t, "I" | "D" | "V" | "i" | "d" | "v");
    }
    QUIET.iter().any(|q| t.eq_ignore_ascii_case(q))
}

/// The keyword classes of a line with a level field: none when the level is quiet
/// ([`is_quiet_level`]: an `INFO` line that counts `alignment exceptions` reports, it does
/// not fail), else those of the level and the message together.
pub fn scan_with_level(message: &str, level: &str) -> KeywordSet {
    if is_quiet_level(level) {
        KeywordSet::EMPTY
    } else {
        scan(message).union(scan(level))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_word_edges() {
        let k = scan("[WARN] disk nearly full; FATAL: giving up after 3 failures");
        assert_eq!(k.names(), "warning,fatal,fail");
        // Words are cut at non-letters, matched case-insensitively.
        assert_eq!(scan("errors=3,IOError").names(), "error");
        assert_eq!(
            scan("Caused by: java.lang.NullPointerException").names(),
            "exception"
        );
        // Not keywords: an inner `error` that neither starts nor ends the word, short words.
        assert!(scan("terrorism fai war err").is_empty());
        assert!(scan("").is_empty());
        assert!(scan("été ∑ 日本").is_empty());
    }

    #[test]
    fn set_operations() {
        let mut a = KeywordSet::EMPTY;
        a.insert(Keyword::Fail);
        let mut b = KeywordSet::EMPTY;
        b.insert(Keyword::Error);
        let u = a.union(b);
        assert!(u.contains(Keyword::Fail) && u.contains(Keyword::Error));
        assert!(!u.contains(Keyword::Fatal));
        assert_eq!(u.iter().count(), 2);
    }
}
