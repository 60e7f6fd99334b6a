//! Header parsing with a loghub `log_format` string such as
//! `<Date> <Time> <Level> <Component>: <Content>`.
//!
//! The notation is the one of the loghub benchmark (logpai/logparser): each `<Name>` is a field,
//! the text between fields is a separator in which a run of spaces matches any run of
//! whitespace and the rest is a regular expression (`\[<Process>\]`, `(\[<PID>\])?`). Every
//! field but `Content` matches lazily, `Content` takes the rest of the line, and the whole line
//! must match.
//!
//! Most formats only have plain separators (spaces, `:`, `,`, escaped brackets). Those are
//! matched by a hand-written scanner that finds each separator's first occurrence after the
//! previous one, which is what the lazy regex does and costs a few nanoseconds per line instead
//! of a regex capture run; formats with real regex syntax (optional groups) use the `regex`
//! crate.

use regex::Regex;

use crate::error::{LogError, Result};

/// The field holding the message that template mining parses.
pub const CONTENT_FIELD: &str = "Content";

/// A compiled `log_format`: splits a raw line into header fields and content.
#[derive(Debug, Clone)]
pub struct LogFormat {
    source: String,
    fields: Vec<String>,
    content: usize,
    matcher: Matcher,
}

#[derive(Debug, Clone)]
enum Matcher {
    /// `pieces[i]` is the separator before field `i` (the first may be empty); `tail` the one
    /// after the last field.
    Plain {
        pieces: Vec<Separator>,
        tail: Separator,
    },
    Regex(Box<Regex>),
}

/// A plain separator: literal text where each run of spaces matches one or more whitespace
/// characters.
#[derive(Debug, Clone, Default)]
struct Separator(Vec<SepPart>);

#[derive(Debug, Clone)]
enum SepPart {
    Text(String),
    Space,
}

impl Separator {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the separator matches at `at`; returns the end of the match.
    fn match_at(&self, hay: &str, at: usize) -> Option<usize> {
        let bytes = hay.as_bytes();
        let mut pos = at;
        for part in &self.0 {
            match part {
                SepPart::Text(t) => {
                    if !hay[pos..].starts_with(t.as_str()) {
                        return None;
                    }
                    pos += t.len();
                }
                SepPart::Space => {
                    let start = pos;
                    while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
                        pos += 1;
                    }
                    if pos == start {
                        return None;
                    }
                }
            }
        }
        Some(pos)
    }

    /// Leftmost match at or after `from`: `(start, end)`.
    fn find(&self, hay: &str, from: usize) -> Option<(usize, usize)> {
        let bytes = hay.as_bytes();
        let mut at = from;
        loop {
            // Jump to the next place the first part can start.
            at = match self.0.first() {
                Some(SepPart::Text(t)) => at + memchr::memmem::find(&bytes[at..], t.as_bytes())?,
                Some(SepPart::Space) => {
                    at + bytes[at..].iter().position(|b| b.is_ascii_whitespace())?
                }
                None => return Some((at, at)),
            };
            if let Some(end) = self.match_at(hay, at) {
                return Some((at, end));
            }
            at += 1;
            while at < bytes.len() && !hay.is_char_boundary(at) {
                at += 1;
            }
            if at > bytes.len() {
                return None;
            }
        }
    }
}

impl LogFormat {
    /// Compiles a format. Errors when it has no `<Content>` field, a field name twice, an
    /// empty or non-identifier field name, or a separator that is not a valid regex.
    pub fn new(format: &str) -> Result<Self> {
        let bad = |reason: String| LogError::LogFormat {
            format: format.to_string(),
            reason,
        };
        // Split into separators and field names.
        let mut seps: Vec<String> = Vec::new();
        let mut fields: Vec<String> = Vec::new();
        let mut rest = format;
        loop {
            match rest.find('<') {
                Some(open) => {
                    let after = &rest[open + 1..];
                    let close = after.find('>').ok_or_else(|| {
                        bad(format!(
                            "unclosed '<' at byte {}",
                            format.len() - rest.len() + open
                        ))
                    })?;
                    let name = &after[..close];
                    if name.is_empty()
                        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    {
                        return Err(bad(format!("field name {name:?} is not an identifier")));
                    }
                    if fields.iter().any(|f| f == name) {
                        return Err(bad(format!("field {name:?} appears twice")));
                    }
                    seps.push(rest[..open].to_string());
                    fields.push(name.to_string());
                    rest = &after[close + 1..];
                }
                None => {
                    seps.push(rest.to_string());
                    break;
                }
            }
        }
        let content = fields
            .iter()
            .position(|f| f == CONTENT_FIELD)
            .ok_or_else(|| bad("no <Content> field".to_string()))?;
        let plain: Option<Vec<Separator>> = seps.iter().map(|s| plain_separator(s)).collect();
        let matcher = match plain {
            Some(mut pieces) => {
                let tail = pieces.pop().unwrap_or_default();
                Matcher::Plain { pieces, tail }
            }
            None => {
                let mut re = String::from("^");
                for (i, f) in fields.iter().enumerate() {
                    re.push_str(&regex_separator(&seps[i]));
                    if i == content {
                        re.push_str(&format!("(?P<{f}>.*)"));
                    } else {
                        re.push_str(&format!("(?P<{f}>.*?)"));
                    }
                }
                re.push_str(&regex_separator(&seps[fields.len()]));
                re.push('$');
                let compiled =
                    Regex::new(&re).map_err(|e| bad(crate::mask::one_line(&e.to_string())))?;
                Matcher::Regex(Box::new(compiled))
            }
        };
        Ok(Self {
            source: format.to_string(),
            fields,
            content,
            matcher,
        })
    }

    /// The format string it was compiled from.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The field names in order (`Content` among them).
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// Splits `line` into its fields, in the order of [`LogFormat::fields`]; `None` when the
    /// line does not match the format.
    pub fn split<'a>(&self, line: &'a str) -> Option<Vec<&'a str>> {
        match &self.matcher {
            Matcher::Plain { pieces, tail } => {
                let mut out = Vec::with_capacity(self.fields.len());
                plain_split(pieces, tail, self.content, line, |s| out.push(s))?;
                Some(out)
            }
            Matcher::Regex(re) => {
                let caps = re.captures(line)?;
                Some(
                    self.fields
                        .iter()
                        .map(|f| caps.name(f).map_or("", |m| m.as_str()))
                        .collect(),
                )
            }
        }
    }

    /// The `Content` field of `line`; `None` when the line does not match the format.
    pub fn content<'a>(&self, line: &'a str) -> Option<&'a str> {
        match &self.matcher {
            Matcher::Plain { pieces, tail } => {
                let mut i = 0;
                let mut content = "";
                plain_split(pieces, tail, self.content, line, |s| {
                    if i == self.content {
                        content = s;
                    }
                    i += 1;
                })?;
                Some(content)
            }
            Matcher::Regex(re) => {
                let caps = re.captures(line)?;
                Some(caps.name(CONTENT_FIELD).map_or("", |m| m.as_str()))
            }
        }
    }
}

/// Matches `line` against plain separators, calling `emit` with each field in order.
fn plain_split<'a>(
    pieces: &[Separator],
    tail: &Separator,
    content: usize,
    line: &'a str,
    mut emit: impl FnMut(&'a str),
) -> Option<()> {
    // `.` in the loghub regex does not match a newline.
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.contains('\n') {
        return None;
    }
    let n = pieces.len();
    let mut pos = pieces[0].match_at(line, 0)?;
    for i in 0..n {
        let next = if i + 1 < n { &pieces[i + 1] } else { tail };
        let last = i + 1 == n;
        if last {
            // The last field runs to the end, leaving room for the tail separator.
            let end = if tail.is_empty() {
                line.len()
            } else {
                // The tail must match at the very end: try the latest start that does.
                let mut found = None;
                let mut at = pos;
                while let Some((s, e)) = tail.find(line, at) {
                    if e == line.len() {
                        found = Some(s);
                    }
                    at = s + 1;
                    if at > line.len() {
                        break;
                    }
                }
                found?
            };
            emit(&line[pos..end]);
            return Some(());
        }
        if i == content {
            // A greedy field in the middle: the latest separator that still lets the rest match
            // is what the regex picks; content in the middle is rare, take the last occurrence.
            let mut best = None;
            let mut at = pos;
            while let Some((s, e)) = next.find(line, at) {
                best = Some((s, e));
                at = s + 1;
                if at > line.len() {
                    break;
                }
            }
            let (s, e) = best?;
            emit(&line[pos..s]);
            pos = e;
        } else {
            let (s, e) = if next.is_empty() {
                (pos, pos)
            } else {
                next.find(line, pos)?
            };
            emit(&line[pos..s]);
            pos = e;
        }
    }
    Some(())
}

/// The plain form of a separator, or `None` when it holds regex syntax.
fn plain_separator(sep: &str) -> Option<Separator> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = sep.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' => {
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
                if !text.is_empty() {
                    parts.push(SepPart::Text(std::mem::take(&mut text)));
                }
                parts.push(SepPart::Space);
            }
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_punctuation() => text.push(e),
                _ => return None,
            },
            '(' | ')' | '[' | ']' | '{' | '}' | '?' | '*' | '+' | '|' | '^' | '$' | '.' => {
                return None;
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        parts.push(SepPart::Text(text));
    }
    Some(Separator(parts))
}

/// The regex form of a separator, as loghub builds it: runs of spaces become `\s+`.
fn regex_separator(sep: &str) -> String {
    let mut out = String::new();
    let mut in_space = false;
    for c in sep.chars() {
        if c == ' ' {
            if !in_space {
                out.push_str(r"\s+");
            }
            in_space = true;
        } else {
            in_space = false;
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_format_splits_fields() {
        let f = LogFormat::new("<Date> <Time> <Pid> <Level> <Component>: <Content>").unwrap();
        let line = "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38 terminating";
        let parts = f.split(line).unwrap();
        assert_eq!(
            parts,
            vec![
                "081109",
                "203615",
                "148",
                "INFO",
                "dfs.DataNode$PacketResponder",
                "PacketResponder 1 for block blk_38 terminating"
            ]
        );
        assert_eq!(
            f.content(line),
            Some("PacketResponder 1 for block blk_38 terminating")
        );
        assert_eq!(f.content("no header here"), None);
    }

    #[test]
    fn whitespace_runs_and_escaped_brackets() {
        let f =
            LogFormat::new(r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>").unwrap();
        let line = "2015-10-18 18:01:47,978 INFO [main] org.apache.App:  Created   MRAppMaster";
        let parts = f.split(line).unwrap();
        assert_eq!(parts[3], "main");
        assert_eq!(parts[4], "org.apache.App");
        assert_eq!(parts[5], "Created   MRAppMaster");
        let w = LogFormat::new("<Date> <Time>, <Level>                  <Component>    <Content>")
            .unwrap();
        let parts = w
            .split("2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack")
            .unwrap();
        assert_eq!(
            parts,
            vec![
                "2016-09-28",
                "04:30:30",
                "Info",
                "CBS",
                "Loaded Servicing Stack"
            ]
        );
    }

    #[test]
    fn optional_group_uses_regex_and_agrees() {
        let f = LogFormat::new(r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>")
            .unwrap();
        let a = f.split("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown");
        assert_eq!(
            a.unwrap(),
            vec![
                "Jun",
                "14",
                "15:16:01",
                "combo",
                "sshd(pam_unix)",
                "19939",
                "check pass; user unknown"
            ]
        );
        let b = f
            .split("Jun 15 04:06:18 combo su(pam_unix): session opened")
            .unwrap();
        assert_eq!(b[5], "");
        assert_eq!(b[6], "session opened");
    }

    #[test]
    fn content_without_trailing_text_and_leading_literal() {
        let f = LogFormat::new(r"\[<Level>\] <Content>").unwrap();
        assert_eq!(f.content("[WARN] disk full"), Some("disk full"));
        assert_eq!(f.content("WARN disk full"), None);
        let only = LogFormat::new("<Content>").unwrap();
        assert_eq!(only.content("anything at all"), Some("anything at all"));
        assert_eq!(only.content(""), Some(""));
    }

    #[test]
    fn bad_formats_are_refused() {
        assert!(matches!(
            LogFormat::new("<Date> <Time>"),
            Err(LogError::LogFormat { .. })
        ));
        assert!(LogFormat::new("<Date> <Date> <Content>").is_err());
        assert!(LogFormat::new("<Date <Content>").is_err());
        assert!(LogFormat::new("<> <Content>").is_err());
        assert!(LogFormat::new("(<Date> <Content>").is_err());
    }

    #[test]
    fn non_ascii_and_long_lines_do_not_panic() {
        let f = LogFormat::new("<Level>: <Content>").unwrap();
        assert_eq!(f.content("Ünïcødé: ça marche"), Some("ça marche"));
        let long = "x".repeat(1 << 20);
        assert_eq!(f.content(&long), None);
        let long2 = format!("INFO: {long}");
        assert_eq!(f.content(&long2).map(str::len), Some(1 << 20));
    }
}
