//! Masking: replaces the variable parts of a log message (numbers, addresses, ids) by named
//! placeholders such as `<:NUM:>` before template mining, so that lines differing only there
//! share a template from the first line on.
//!
//! Two layers, applied in order:
//! 1. built-in masks (below), run first because they keep the constant frame of a token
//!    (`blk_<:NUM:>`, `<:IP:>:<:NUM:>`) where a coarser regex would hide it;
//! 2. user masks: named regexes (`IP=(\d+\.){3}\d+`), each match replaced by `<:IP:>`, or by
//!    `<*>` when the mask has no name (the loghub convention). A mask never swallows the
//!    whitespace at the ends of its match: the whitespace is kept, so a regex such as
//!    `0x.*?\s` does not glue two tokens together.
//!    They see the built-in placeholders, so they catch what the classifier left.
//!
//! The built-in masks are a hand-written classifier run on each whitespace-separated token. Regex
//!    masking is the usual bottleneck of Drain implementations (drain3 spends most of its time
//!    in `re.sub`); the common variable classes are recognised here in one pass over the bytes
//!    of a token, with no regex, and a token without an ASCII digit (most of them) is copied
//!    after a single scan. The classes:
//!    - a *word* is a maximal run of ASCII letters and digits; a word is variable when it
//!      starts with a digit (`42`, `0x1f`, `3b04890`, `4ms`) or when at least half of its
//!      characters are digits (`A8`, `jA9J1UvC004306`), but not `Slf4jLogger` or `ext3`;
//!    - a `-` or `+` right before a variable word, not preceded by a letter or digit, is its
//!      sign (`blk_-42`, `=-1`);
//!    - variable words joined by `.` or `_` (with constant words between them) form one
//!      variable: `10.1.2.3` is one IP, `17.5` one number, `attempt_1445_0020_m_000002_1` is
//!      `attempt_<:ID:>`. Other separators (`:`, `/`, `-`, `=`, `@`) split variables, so an
//!      address `10.1.2.3:50010` becomes `<:IP:>:<:NUM:>`.
//!
//!    - English day and month abbreviations (`Sun`, `Jul`) are dates.
//!
//!    Names: `IP` (four digit words joined by dots), `HEX` (`0x` prefix), `NUM` (digits,
//!    optionally signed or with one decimal point), `DATE`, `ID` (anything else).

use regex::Regex;
use regex_automata::Input;
use regex_automata::dfa::{Automaton, dense};
use regex_automata::util::prefilter::Prefilter;
use serde::{Deserialize, Serialize};

use crate::error::{LogError, Result};

/// The generic placeholder: a variable with no class (the loghub notation).
pub const WILDCARD: &str = "<*>";

/// A user mask: a regex whose matches are replaced by `<:NAME:>` (or `<*>` without a name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskSpec {
    /// Placeholder name (`IP`, `BLOCK`); empty for the anonymous `<*>`.
    pub name: String,
    /// The regex (Rust `regex` syntax, close to Python's `re` for the usual masks).
    pub pattern: String,
}

impl MaskSpec {
    /// A named mask.
    pub fn named(name: &str, pattern: &str) -> Self {
        Self {
            name: name.to_string(),
            pattern: pattern.to_string(),
        }
    }

    /// An anonymous mask, replaced by `<*>`.
    pub fn anonymous(pattern: &str) -> Self {
        Self::named("", pattern)
    }

    /// Parses the command-line form: `NAME=REGEX` when the text starts with an upper-case
    /// identifier and `=`, otherwise an anonymous regex (so `=\d+` stays a regex).
    pub fn parse(text: &str) -> Self {
        if let Some((name, pattern)) = text.split_once('=')
            && is_mask_name(name)
        {
            return Self::named(name, pattern);
        }
        Self::anonymous(text)
    }

    /// The placeholder written for a match.
    pub fn placeholder(&self) -> String {
        if self.name.is_empty() {
            WILDCARD.to_string()
        } else {
            format!("<:{}:>", self.name)
        }
    }
}

/// A multi-line message (regex errors draw a caret under the pattern) on one line.
pub(crate) fn one_line(msg: &str) -> String {
    msg.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '^'))
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_mask_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'A'..=b'Z'))
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether a token is a placeholder (`<*>` or `<:NAME:>`).
pub fn is_placeholder(token: &str) -> bool {
    token == WILDCARD
        || (token.len() > 4
            && token.starts_with("<:")
            && token.ends_with(":>")
            && is_mask_name(&token[2..token.len() - 2]))
}

/// Renders a template in the loghub notation: every `<:NAME:>` becomes `<*>`.
pub fn to_loghub(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find("<:") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find(":>") {
            Some(j) if is_mask_name(&after[..j]) => {
                out.push_str(WILDCARD);
                rest = &after[j + 2..];
            }
            _ => {
                out.push_str("<:");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Compiled masks.
#[derive(Debug, Clone)]
pub struct Masker {
    user: Vec<(Regex, String)>,
    /// All user regexes as one alternation: one scan tells whether any of them matches, so a
    /// line none of them touches (the common case once the built-in classes ran) costs one
    /// scan instead of one per mask.
    any: Option<Regex>,
    /// The alternation compiled ahead of time to a dense DFA in ASCII mode, to tell whether
    /// any user mask matches an ASCII line: no cache to consult per byte, unlike the lazy DFA
    /// of `regex`. On ASCII text, the usual case for logs, both modes match the same; other
    /// text goes to `any`. None when the DFA would be large (or uses Unicode word boundaries).
    ascii_dfa: Option<dense::DFA<Vec<u32>>>,
    builtin: bool,
}

/// A masked message: tokens separated by single spaces in `text`, with their byte ranges.
/// Reused between lines to avoid allocations.
#[derive(Debug, Clone, Default)]
pub struct MaskedLine {
    text: String,
    spans: Vec<(u32, u32)>,
    current: String,
    scratch: String,
}

impl MaskedLine {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the message had no token.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Token `i`.
    pub fn token(&self, i: usize) -> &str {
        let (s, e) = self.spans[i];
        &self.text[s as usize..e as usize]
    }

    /// The tokens in order.
    pub fn tokens(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.spans
            .iter()
            .map(|&(s, e)| &self.text[s as usize..e as usize])
    }

    /// The masked message, tokens joined by one space.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Masker {
    /// Compiles the user masks; `builtin` switches the built-in classes on.
    pub fn new(masks: &[MaskSpec], builtin: bool) -> Result<Self> {
        let mut user = Vec::with_capacity(masks.len());
        for m in masks {
            if !m.name.is_empty() && !is_mask_name(&m.name) {
                return Err(LogError::Mask {
                    pattern: m.name.clone(),
                    reason: "a mask name is an upper-case identifier (IP, BLOCK_ID)".to_string(),
                });
            }
            let re = Regex::new(&m.pattern).map_err(|e| LogError::Mask {
                pattern: m.pattern.clone(),
                reason: one_line(&e.to_string()),
            })?;
            if re.is_match("") {
                return Err(LogError::Mask {
                    pattern: m.pattern.clone(),
                    reason: "matches the empty string".to_string(),
                });
            }
            user.push((re, m.placeholder()));
        }
        let any = if user.len() == 1 {
            Some(user[0].0.clone())
        } else if user.len() > 1 {
            let alternation = masks
                .iter()
                .map(|m| format!("(?:{})", m.pattern))
                .collect::<Vec<_>>()
                .join("|");
            Some(Regex::new(&alternation).map_err(|e| LogError::Mask {
                pattern: alternation.clone(),
                reason: one_line(&e.to_string()),
            })?)
        } else {
            None
        };
        let ascii_dfa = if user.is_empty() {
            None
        } else {
            let patterns: Vec<&str> = masks.iter().map(|m| m.pattern.as_str()).collect();
            let syntax = regex_automata::util::syntax::Config::new()
                .unicode(false)
                .utf8(false);
            // A prefilter on the literals a match must start with (the digits of
            // `(\d+\.){3}`, the `blk_` of `blk_-?\d+`) skips the DFA over the bytes that cannot
            // start a match: after the built-in masks most lines have none left.
            let prefilter = regex_automata::util::syntax::parse_many_with(&patterns, &syntax)
                .ok()
                .and_then(|hirs| {
                    Prefilter::from_hirs_prefix(regex_automata::MatchKind::LeftmostFirst, &hirs)
                });
            dense::Builder::new()
                .syntax(syntax)
                .configure(
                    dense::Config::new()
                        .dfa_size_limit(Some(1 << 20))
                        .determinize_size_limit(Some(1 << 20))
                        .prefilter(prefilter),
                )
                .build_many(&patterns)
                .ok()
        };
        Ok(Self {
            user,
            any,
            ascii_dfa,
            builtin,
        })
    }

    /// Masks `content` into `out` (tokens split on whitespace).
    pub fn mask_into(&self, content: &str, out: &mut MaskedLine) {
        out.text.clear();
        out.spans.clear();
        // Built-in classes first: they keep the constant frame of a token (`blk_<:NUM:>`),
        // and the user regexes then mask what they did not recognise.
        self.builtin_into(content, out);
        if self.user.is_empty() || !self.any_user_match(&out.text) {
            return;
        }
        let mut cur = std::mem::take(&mut out.current);
        let mut next = std::mem::take(&mut out.scratch);
        cur.clear();
        cur.push_str(&out.text);
        out.text.clear();
        out.spans.clear();
        for (re, placeholder) in &self.user {
            next.clear();
            let src: &str = &cur;
            let mut last = 0;
            let mut any = false;
            for m in re.find_iter(src) {
                let text = m.as_str();
                let lead = text.len() - text.trim_start().len();
                let trail = text.len() - text.trim_end().len();
                if lead + trail >= text.len() {
                    continue;
                }
                let (s, e) = (m.start() + lead, m.end() - trail);
                next.push_str(&src[last..s]);
                next.push_str(placeholder);
                last = e;
                any = true;
            }
            if any {
                next.push_str(&src[last..]);
                std::mem::swap(&mut cur, &mut next);
            }
        }
        for tok in cur.split_ascii_whitespace() {
            if !out.text.is_empty() {
                out.text.push(' ');
            }
            let start = out.text.len();
            out.text.push_str(tok);
            out.spans.push((start as u32, out.text.len() as u32));
        }
        out.current = cur;
        out.scratch = next;
    }

    /// Whether some user mask matches `text`.
    fn any_user_match(&self, text: &str) -> bool {
        if let Some(dfa) = &self.ascii_dfa
            && text.is_ascii()
        {
            let input = Input::new(text).earliest(true);
            if let Ok(found) = dfa.try_search_fwd(&input) {
                return found.is_some();
            }
        }
        self.any.as_ref().is_none_or(|any| any.is_match(text))
    }

    /// Built-in classes only, straight into `out`.
    ///
    /// One pass over the bytes finds the token boundaries and whether a token holds a digit;
    /// most tokens hold none and are copied as they are.
    fn builtin_into(&self, content: &str, out: &mut MaskedLine) {
        let b = content.as_bytes();
        let n = b.len();
        out.text.reserve(n + 16);
        let mut i = 0;
        loop {
            while i < n && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i == n {
                break;
            }
            let start = i;
            let mut digit = false;
            while i < n && !b[i].is_ascii_whitespace() {
                digit |= b[i].is_ascii_digit();
                i += 1;
            }
            // Token boundaries are ASCII whitespace, so char boundaries.
            let tok = &content[start..i];
            if !out.text.is_empty() {
                out.text.push(' ');
            }
            let at = out.text.len();
            if !self.builtin {
                out.text.push_str(tok);
            } else if digit {
                classify_token(tok, &mut out.text);
            } else if is_date_word(tok) {
                out.text.push_str(Class::Date.placeholder());
            } else {
                out.text.push_str(tok);
            }
            out.spans.push((at as u32, out.text.len() as u32));
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Num,
    Hex,
    Ip,
    Id,
    Date,
}

impl Class {
    fn placeholder(self) -> &'static str {
        match self {
            Class::Num => "<:NUM:>",
            Class::Hex => "<:HEX:>",
            Class::Ip => "<:IP:>",
            Class::Id => "<:ID:>",
            Class::Date => "<:DATE:>",
        }
    }
}

/// Appends the masked form of one token to `out`.
fn classify_token(tok: &str, out: &mut String) {
    let b = tok.as_bytes();
    if !b.iter().any(u8::is_ascii_digit) {
        if is_date_word(tok) {
            out.push_str(Class::Date.placeholder());
        } else {
            out.push_str(tok);
        }
        return;
    }
    let n = b.len();
    let mut i = 0;
    // Start of the text not yet copied.
    let mut copied = 0;
    while i < n {
        // Skip placeholders left by the user masks.
        if b[i] == b'<' {
            if tok[i..].starts_with(WILDCARD) {
                i += WILDCARD.len();
                continue;
            }
            if tok[i..].starts_with("<:")
                && let Some(j) = tok[i + 2..].find(":>")
                && is_mask_name(&tok[i + 2..i + 2 + j])
            {
                i += j + 4;
                continue;
            }
        }
        if !b[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        // A word starts at i.
        let (end, var) = word(b, i);
        if !var {
            i = end;
            continue;
        }
        // A variable: extend over `.`/`_`-joined words up to the last variable one.
        let mut start = i;
        if start > 0
            && (b[start - 1] == b'-' || b[start - 1] == b'+')
            && (start < 2 || !b[start - 2].is_ascii_alphanumeric())
            && start > copied
        {
            start -= 1;
        }
        let mut last_end = end;
        let mut words = 1;
        let mut all_digits = b[i..end].iter().all(u8::is_ascii_digit);
        let mut dots_only = true;
        let mut j = end;
        while j + 1 < n && (b[j] == b'.' || b[j] == b'_') && b[j + 1].is_ascii_alphanumeric() {
            let sep = b[j];
            let (e, v) = word(b, j + 1);
            if sep != b'.' {
                dots_only = false;
            }
            all_digits &= b[j + 1..e].iter().all(u8::is_ascii_digit);
            words += 1;
            if v {
                last_end = e;
            }
            j = e;
        }
        let var_text = &b[i..last_end];
        let class = if var_text.len() > 2
            && var_text[0] == b'0'
            && (var_text[1] == b'x' || var_text[1] == b'X')
        {
            Class::Hex
        } else if all_digits_between(var_text) && dots_only {
            match var_text.iter().filter(|&&c| c == b'.').count() {
                0 | 1 => Class::Num,
                3 => Class::Ip,
                _ => Class::Id,
            }
        } else {
            Class::Id
        };
        let _ = (words, all_digits);
        out.push_str(&tok[copied..start]);
        out.push_str(class.placeholder());
        copied = last_end;
        i = last_end;
    }
    out.push_str(&tok[copied..]);
}

/// Whether a token is an English day or month abbreviation (`Mon`, `Jul`), the words of
/// timestamps written inside messages.
fn is_date_word(tok: &str) -> bool {
    const WORDS: [&str; 19] = [
        "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Jan", "Feb", "Mar", "Apr", "May", "Jun",
        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    tok.len() == 3 && WORDS.contains(&tok)
}

/// Whether a `.`/`_` chain is made of digit words only.
fn all_digits_between(text: &[u8]) -> bool {
    text.iter().all(|&c| c.is_ascii_digit() || c == b'.')
}

/// The word starting at `i`: its end and whether it is variable.
fn word(b: &[u8], i: usize) -> (usize, bool) {
    let mut j = i;
    let mut digits = 0;
    while j < b.len() && b[j].is_ascii_alphanumeric() {
        digits += usize::from(b[j].is_ascii_digit());
        j += 1;
    }
    let len = j - i;
    let var = b[i].is_ascii_digit() || (digits > 0 && 2 * digits >= len);
    (j, var)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(masks: &[MaskSpec], s: &str) -> String {
        let m = Masker::new(masks, true).unwrap();
        let mut out = MaskedLine::new();
        m.mask_into(s, &mut out);
        out.as_str().to_string()
    }

    #[test]
    fn builtin_classes() {
        let cases = [
            (
                "PacketResponder 1 for block blk_-38 terminating",
                "PacketResponder <:NUM:> for block blk_<:NUM:> terminating",
            ),
            ("10.251.73.220:50010 is added", "<:IP:>:<:NUM:> is added"),
            ("at 0x0b85eee0, mask 0x05", "at <:HEX:>, mask <:HEX:>"),
            (
                "Added attempt_1445144423722_0020_m_000002_1 to list",
                "Added attempt_<:ID:> to list",
            ),
            ("capacity 17.7 GB", "capacity <:NUM:> GB"),
            (
                "Slf4jLogger started on ext3 fs",
                "Slf4jLogger started on ext3 fs",
            ),
            (
                "Translation=-24.0 node-12",
                "Translation=<:NUM:> node-<:NUM:>",
            ),
            (
                "Token{78af589 ActivityRecord{3b04890",
                "Token{<:ID:> ActivityRecord{<:ID:>",
            ),
            ("at 07:07:00 2005", "at <:NUM:>:<:NUM:>:<:NUM:> <:NUM:>"),
            ("generating core.2275", "generating core.<:NUM:>"),
            ("version 0.0.0.6 (x86)", "version <:IP:> (<:ID:>)"),
        ];
        for (input, want) in cases {
            assert_eq!(mask(&[], input), want, "{input}");
        }
    }

    #[test]
    fn user_masks_after_builtin_and_keep_whitespace() {
        let masks = [
            MaskSpec::parse(r"PATH=(/[\w-]+)+"),
            MaskSpec::parse(r"\bv[a-z]+\s"),
        ];
        assert_eq!(masks[0].name, "PATH");
        assert_eq!(masks[1].name, "");
        assert_eq!(
            mask(&masks, "read /var/log/sys at 10 with vfoo done"),
            "read <:PATH:> at <:NUM:> with <*> done"
        );
        assert_eq!(MaskSpec::parse(r"=\d+").pattern, r"=\d+");
        // The built-in classes ran first: the regex finds no digit left.
        assert_eq!(
            mask(&[MaskSpec::parse(r"=\d+")], "ambient=42"),
            "ambient=<:NUM:>"
        );
        // Non-ASCII text skips the ASCII literal gate and still matches.
        assert_eq!(
            mask(&[MaskSpec::parse(r"N=n\d+")], "é n٣ x n5"),
            "é <:N:> x <:ID:>"
        );
        let plain = Masker::new(&[MaskSpec::parse(r"=\d+")], false).unwrap();
        let mut out = MaskedLine::new();
        plain.mask_into("ambient=42  x", &mut out);
        assert_eq!(out.as_str(), "ambient<*> x");
    }

    #[test]
    fn bad_masks_are_refused() {
        assert!(matches!(
            Masker::new(&[MaskSpec::anonymous("(")], true),
            Err(LogError::Mask { .. })
        ));
        assert!(Masker::new(&[MaskSpec::anonymous("x*")], true).is_err());
        assert!(Masker::new(&[MaskSpec::named("bad name", "x")], true).is_err());
    }

    #[test]
    fn placeholders_and_loghub_rendering() {
        assert!(is_placeholder("<*>"));
        assert!(is_placeholder("<:NUM:>"));
        assert!(!is_placeholder("<:num:>"));
        assert_eq!(
            to_loghub("blk_<:NUM:> to <:IP:>:<*> <:x"),
            "blk_<*> to <*>:<*> <:x"
        );
    }

    #[test]
    fn whitespace_and_unicode() {
        let m = Masker::new(&[], true).unwrap();
        let mut out = MaskedLine::new();
        m.mask_into("  a\t\tb  ünï 12 ", &mut out);
        assert_eq!(
            out.tokens().collect::<Vec<_>>(),
            vec!["a", "b", "ünï", "<:NUM:>"]
        );
        m.mask_into("", &mut out);
        assert!(out.is_empty());
    }
}
