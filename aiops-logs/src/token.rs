//! Template tokens: how a template position compares with a line's token, and how it
//! generalises when they differ.
//!
//! Plain Drain turns a position into `<*>` as soon as two lines differ there. Here a position
//! keeps the constant frame around the variable part when the two tokens share one, so
//! `uid=1000` and `uid=0` give `uid=<*>`, `tag="AudioMix",` and `tag="RILJ",` give `tag="<*>",`,
//! and `(name=InputMethod)` and `(name=Popup)` give `(name=<*>)`. Such a token is a pattern: a
//! later token matches it when it fits the frame, and a frame holding a letter or a digit (a
//! key such as `uid=`) counts as an equal token in the similarity, like a constant; a bare
//! frame (`(<*>)`) counts as a variable. Frames are cut at punctuation: the prefix ends with a
//! non-alphanumeric character and the suffix is punctuation only, so two host names are never
//! generalised to `<*>.example.com`.

use crate::mask::{WILDCARD, is_placeholder};

/// How a template token takes part in the similarity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A constant: matches only the same text.
    Const,
    /// A variable (`<*>`): counts as a parameter. A masked `<:NAME:>` is a constant: lines
    /// with a number there agree there.
    Param,
    /// A pattern with a keyed frame (`uid=<*>`): counts as equal when it matches.
    Keyed,
    /// A pattern with a bare frame (`(<*>)`): counts as a parameter.
    Framed,
}

/// The kind of a template token.
pub(crate) fn kind(t: &str) -> Kind {
    if t == WILDCARD {
        return Kind::Param;
    }
    if !t.contains(WILDCARD) {
        return Kind::Const;
    }
    let frame_has_alnum = t
        .split(WILDCARD)
        .any(|piece| piece.bytes().any(|b| b.is_ascii_alphanumeric()));
    if frame_has_alnum {
        Kind::Keyed
    } else {
        Kind::Framed
    }
}

/// Whether a token is a word: two letters or more with at most punctuation around or inside
/// them (`false`, `(reserved)`, `user=root`, `ACTION_UP`), no digit, no placeholder and no
/// `/` (a path or a URL is a value, and so is a lone letter). Two
/// different words at a constant position of a template name different events far more often
/// than a variable (`bytes` / `values`, `begin` / `end`, `true` / `false`), so they do not
/// merge; values with digits, ids and addresses are masked or differ in other ways.
pub(crate) fn is_word(t: &str) -> bool {
    // Digits the masks left in place belong to a name (`eth0`, `alt0`, `Slf4jLogger`).
    let mut letters = 0;
    for b in t.bytes() {
        if b == b'<' || b == b'/' {
            return false;
        }
        letters += usize::from(b.is_ascii_alphabetic());
    }
    letters >= 2
}

/// Whether two different tokens are distinct words (see [`is_word`]) rather than members of
/// a lettered series: words of the same length that differ in one letter (`LNKA` / `LNKB`,
/// `sda` / `sdb`) are ids.
pub(crate) fn distinct_words(a: &str, b: &str) -> bool {
    // A masked value meeting a bare symbol or word (`<:NUM:>` / `****`) is another event too.
    let (pa, pb) = (is_placeholder(a), is_placeholder(b));
    if pa != pb {
        let other = if pa { b } else { a };
        return !other.contains('<');
    }
    if !(is_word(a) && is_word(b)) {
        return false;
    }
    let series = a.len() == b.len()
        && a.len() >= 3
        && a.bytes().zip(b.bytes()).filter(|(x, y)| x != y).count() == 1;
    !series
}

/// A token without the punctuation around it (`'SYSTEM',` -> `SYSTEM`).
pub(crate) fn core(t: &str) -> &str {
    t.trim_matches(|c: char| c.is_ascii_punctuation())
}

/// Whether `text` fits the pattern `pat`, where each `<*>` stands for one or more characters
/// (an exact match always fits).
pub(crate) fn glob_match(pat: &str, text: &str) -> bool {
    if pat == text {
        return true;
    }
    let mut pieces = pat.split(WILDCARD);
    let first = pieces.next().unwrap_or("");
    if !text.starts_with(first) {
        return false;
    }
    let mut pos = first.len();
    let rest: Vec<&str> = pieces.collect();
    let Some((last, middle)) = rest.split_last() else {
        return false;
    };
    for piece in middle {
        // At least one character for the variable before this piece.
        let from = next_boundary(text, pos);
        if from > text.len() {
            return false;
        }
        match text[from..].find(piece) {
            Some(i) => pos = from + i + piece.len(),
            None => return false,
        }
    }
    text.len() >= pos + 1 + last.len() && text.ends_with(last) && {
        let end = text.len() - last.len();
        end > pos
    }
}

fn next_boundary(s: &str, mut i: usize) -> usize {
    i += 1;
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Splits a token into segments: placeholders, runs of ASCII letters and digits, and single
/// other characters.
fn segments(t: &str) -> Vec<&str> {
    let b = t.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        if b[i] == b'<' {
            if t[i..].starts_with(WILDCARD) {
                out.push(&t[i..i + WILDCARD.len()]);
                i += WILDCARD.len();
                continue;
            }
            if t[i..].starts_with("<:")
                && let Some(j) = t[i + 2..].find(":>")
                && is_placeholder(&t[i..i + j + 4])
            {
                out.push(&t[i..i + j + 4]);
                i += j + 4;
                continue;
            }
        }
        if b[i].is_ascii_alphanumeric() {
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
        } else {
            i = next_boundary(t, i);
            i = i.min(b.len());
        }
        out.push(&t[start..i]);
    }
    out
}

fn is_punct(seg: &str) -> bool {
    !seg.starts_with('<') && !seg.bytes().any(|b| b.is_ascii_alphanumeric())
}

/// The most specific pattern covering both `a` (a template token, maybe a pattern) and `b`
/// (a line token): their common frame around one `<*>`, or `<*>` when they share none.
pub(crate) fn generalize(a: &str, b: &str) -> String {
    let sa = segments(a);
    let sb = segments(b);
    let mut p = 0;
    while p < sa.len() && p < sb.len() && sa[p] == sb[p] && sa[p] != WILDCARD {
        p += 1;
    }
    // The prefix ends with punctuation or a placeholder.
    while p > 0 && sa[p - 1].bytes().all(|c| c.is_ascii_alphanumeric()) {
        p -= 1;
    }
    let mut s = 0;
    while s < sa.len() - p
        && s < sb.len() - p
        && sa[sa.len() - 1 - s] == sb[sb.len() - 1 - s]
        && is_punct(sa[sa.len() - 1 - s])
    {
        s += 1;
    }
    // Leave room for the variable in both.
    while s > 0 && (p + s >= sa.len().max(1) && p + s >= sb.len()) {
        s -= 1;
    }
    if p == 0 && s == 0 {
        return WILDCARD.to_string();
    }
    let mut out = String::new();
    for seg in &sa[..p] {
        out.push_str(seg);
    }
    out.push_str(WILDCARD);
    for seg in &sa[sa.len() - s..] {
        out.push_str(seg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_kept() {
        assert_eq!(generalize("uid=1000", "uid=0"), "uid=<*>");
        assert_eq!(
            generalize(r#"tag="AudioMix","#, r#"tag="RILJ","#),
            r#"tag="<*>","#
        );
        assert_eq!(
            generalize("(name=InputMethod)", "(name=Popup)"),
            "(name=<*>)"
        );
        assert_eq!(generalize("(name=<*>)", "(name=Other)"), "(name=<*>)");
        assert_eq!(
            generalize(
                "MSRA-SA-<:NUM:>.fareast.corp.com",
                "MININT.fareast.corp.com"
            ),
            "<*>"
        );
        assert_eq!(generalize("alice", "bob"), "<*>");
        assert_eq!(generalize("<:NUM:>", "<:HEX:>"), "<*>");
        assert_eq!(generalize("x,", "y,"), "<*>,");
        assert_eq!(generalize("a", "a,"), "<*>");
    }

    #[test]
    fn kinds_and_matching() {
        assert_eq!(kind("uid=<*>"), Kind::Keyed);
        assert_eq!(kind("(<*>)"), Kind::Framed);
        assert_eq!(kind("<*>"), Kind::Param);
        assert_eq!(kind("<:IP:>"), Kind::Const);
        assert_eq!(kind("hello"), Kind::Const);
        assert!(glob_match("uid=<*>", "uid=7"));
        assert!(!glob_match("uid=<*>", "uid="));
        assert!(!glob_match("uid=<*>", "gid=7"));
        assert!(glob_match("<*>:<*>", "a:b"));
        assert!(!glob_match("<*>:<*>", "a:"));
        assert!(glob_match("(name=<*>)", "(name=é)"));
        assert!(glob_match("same", "same"));
    }

    #[test]
    fn distinct_words_veto() {
        assert!(distinct_words("bytes", "values"));
        assert!(distinct_words("user=root", "user=guest"));
        assert!(distinct_words("alt0", "ee0"));
        assert!(distinct_words("<:NUM:>", "****"));
        assert!(!distinct_words("[LNKA]", "[LNKB]"), "a lettered series");
        assert!(!distinct_words("a", "b"), "single letters are values");
        assert!(!distinct_words("/etc/a", "/etc/b"), "paths are values");
        assert!(!distinct_words("<:NUM:>", "<:HEX:>"));
        assert!(!distinct_words("<:NUM:>", "x<:NUM:>"));
    }
}
