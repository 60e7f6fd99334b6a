//! Alertmanager label matchers: `=`, `!=`, `=~`, `!~`, parsed as Alertmanager and amtool
//! parse them (`{alertname="X", severity=~"critical|high"}` or without braces).
//!
//! Regular expressions are fully anchored (`^(?:re)$`), and a label the alert does not
//! carry matches as the empty string, both as in Alertmanager.

use std::fmt;
use std::str::FromStr;

use aiops_core::Labels;
use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{AlertError, Result};

/// How a matcher compares the label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`: equal.
    Equal,
    /// `!=`: not equal.
    NotEqual,
    /// `=~`: the fully anchored regex matches.
    Regex,
    /// `!~`: the fully anchored regex does not match.
    NotRegex,
}

impl MatchOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// One label matcher, e.g. `severity=~"critical|high"`.
#[derive(Debug, Clone)]
pub struct Matcher {
    name: String,
    op: MatchOp,
    value: String,
    re: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Matcher {
    /// Builds a matcher; regex operators compile `value` anchored at both ends.
    pub fn new(name: impl Into<String>, op: MatchOp, value: impl Into<String>) -> Result<Self> {
        let (name, value) = (name.into(), value.into());
        if name.is_empty() {
            return Err(AlertError::InvalidParameter {
                name: "matcher",
                reason: "empty label name".into(),
            });
        }
        let re = match op {
            MatchOp::Regex | MatchOp::NotRegex => {
                Some(Regex::new(&format!("^(?:{value})$")).map_err(|e| {
                    AlertError::InvalidRegex {
                        label: name.clone(),
                        pattern: value.clone(),
                        message: e.to_string(),
                    }
                })?)
            }
            _ => None,
        };
        Ok(Self {
            name,
            op,
            value,
            re,
        })
    }

    /// Label name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Operator.
    pub fn op(&self) -> MatchOp {
        self.op
    }
    /// Value or pattern as written.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether a label value (empty when the label is absent) satisfies the matcher.
    pub fn matches_value(&self, v: &str) -> bool {
        match (self.op, &self.re) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(v),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(v),
            // `new` always compiles the regex of regex operators.
            (_, None) => false,
        }
    }

    /// Whether the label set satisfies the matcher; a missing label reads as `""`.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.name).unwrap_or(""))
    }
}

/// Writes `s` as a double-quoted string the parser reads back unchanged.
fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

impl fmt::Display for Matcher {
    /// `name="value"`, quoting the name too when it is not a plain label name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if aiops_core::labels::is_valid_label_name(&self.name) {
            f.write_str(&self.name)?;
        } else {
            write_quoted(f, &self.name)?;
        }
        f.write_str(self.op.as_str())?;
        write_quoted(f, &self.value)
    }
}

impl FromStr for Matcher {
    type Err = AlertError;
    /// Parses exactly one matcher (braces allowed).
    fn from_str(s: &str) -> Result<Self> {
        let mut ms = Matchers::parse(s)?.0;
        if ms.len() != 1 {
            return Err(AlertError::MatcherSyntax {
                input: s.to_string(),
                position: 0,
                reason: format!("expected exactly one matcher, found {}", ms.len()),
            });
        }
        Ok(ms.remove(0))
    }
}

/// A conjunction of matchers: all must match (the empty list matches everything).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matchers(pub Vec<Matcher>);

impl Matchers {
    /// Parses `{a="1", b=~"x|y"}` or `a=1,b=~x|y`; see the module docs.
    pub fn parse(input: &str) -> Result<Self> {
        Parser {
            input,
            bytes: input.as_bytes(),
            pos: 0,
        }
        .parse_all()
        .map(Matchers)
    }

    /// Whether every matcher matches the label set.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.0.iter().all(|m| m.matches(labels))
    }

    /// Number of matchers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no matcher.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for Matchers {
    type Err = AlertError;
    fn from_str(s: &str) -> Result<Self> {
        Matchers::parse(s)
    }
}

impl fmt::Display for Matchers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")
    }
}

/// Serialized as a list of one-matcher strings, as Alertmanager's `matchers:` writes them.
impl Serialize for Matchers {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|m| m.to_string()))
    }
}

/// What a `matchers` field accepts, for error messages.
const MATCHERS_EXPECTED: &str = "matchers as a string or a list of strings, e.g. \
    ['service=\"db\"', 'severity=~\"critical|warning\"'] (Alertmanager API objects such as \
    {name, value, isRegex} are not accepted)";

/// One matcher string of a list.
struct MatcherText(String);

impl<'de> Deserialize<'de> for MatcherText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = MatcherText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(MATCHERS_EXPECTED)
            }
            fn visit_str<E: serde::de::Error>(
                self,
                v: &str,
            ) -> std::result::Result<MatcherText, E> {
                Ok(MatcherText(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Read from a list of strings, each holding one or more matchers, or from one string.
impl<'de> Deserialize<'de> for Matchers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Vec<String>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(MATCHERS_EXPECTED)
            }
            fn visit_str<E: serde::de::Error>(
                self,
                v: &str,
            ) -> std::result::Result<Self::Value, E> {
                Ok(vec![v.to_string()])
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(MatcherText(t)) = seq.next_element()? {
                    out.push(t);
                }
                Ok(out)
            }
        }
        let texts = d.deserialize_any(V)?;
        let mut out = Vec::new();
        for t in texts {
            out.extend(Matchers::parse(&t).map_err(serde::de::Error::custom)?.0);
        }
        Ok(Matchers(out))
    }
}

struct Parser<'a> {
    input: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

/// Characters that end an unquoted label name or value (Alertmanager's lexer).
fn is_reserved(c: char) -> bool {
    c.is_whitespace() || "{}!=~,\\\"'`".contains(c)
}

impl Parser<'_> {
    fn err<T>(&self, position: usize, reason: impl Into<String>) -> Result<T> {
        Err(AlertError::MatcherSyntax {
            input: self.input.to_string(),
            position,
            reason: reason.into(),
        })
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.input[self.pos..].chars().next() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn parse_all(&mut self) -> Result<Vec<Matcher>> {
        let mut out = Vec::new();
        self.skip_ws();
        let braced = self.peek() == Some(b'{');
        if braced {
            self.pos += 1;
        }
        loop {
            self.skip_ws();
            match self.peek() {
                None if braced => return self.err(self.pos, "end of input: expected '}'"),
                None => break,
                Some(b'}') if braced => {
                    self.pos += 1;
                    self.skip_ws();
                    if self.pos < self.bytes.len() {
                        return self.err(self.pos, "unexpected input after '}'");
                    }
                    break;
                }
                Some(b'}') => return self.err(self.pos, "'}' without an opening '{'"),
                _ => {}
            }
            out.push(self.parse_matcher()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') if braced => {}
                None if !braced => {}
                None => return self.err(self.pos, "end of input: expected ',' or '}'"),
                Some(_) => return self.err(self.pos, "expected ',' between matchers"),
            }
        }
        Ok(out)
    }

    fn parse_matcher(&mut self) -> Result<Matcher> {
        let start = self.pos;
        let name = self.parse_token("label name")?;
        if name.is_empty() {
            return self.err(start, "empty label name");
        }
        self.skip_ws();
        let op = match (self.peek(), self.bytes.get(self.pos + 1).copied()) {
            (Some(b'='), Some(b'~')) => MatchOp::Regex,
            (Some(b'!'), Some(b'~')) => MatchOp::NotRegex,
            (Some(b'!'), Some(b'=')) => MatchOp::NotEqual,
            (Some(b'='), _) => MatchOp::Equal,
            (None, _) => return self.err(self.pos, "end of input: expected an operator"),
            _ => return self.err(self.pos, "expected one of '=', '!=', '=~', '!~'"),
        };
        self.pos += op.as_str().len();
        self.skip_ws();
        let vpos = self.pos;
        if matches!(self.peek(), None | Some(b',') | Some(b'}')) {
            return self.err(vpos, "expected a label value");
        }
        let value = self.parse_token("label value")?;
        Matcher::new(name, op, value).map_err(|e| match e {
            AlertError::InvalidRegex { .. } => AlertError::MatcherSyntax {
                input: self.input.to_string(),
                position: vpos,
                reason: e.to_string(),
            },
            other => other,
        })
    }

    /// A quoted string (Go escapes) or a run of unreserved characters.
    fn parse_token(&mut self, what: &str) -> Result<String> {
        if self.peek() == Some(b'"') {
            return self.parse_quoted();
        }
        let start = self.pos;
        while let Some(c) = self.input[self.pos..].chars().next() {
            if is_reserved(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        if start == self.pos {
            return match self.input[self.pos..].chars().next() {
                Some(c) => self.err(self.pos, format!("unexpected {c:?}: expected a {what}")),
                None => self.err(self.pos, format!("end of input: expected a {what}")),
            };
        }
        Ok(self.input[start..self.pos].to_string())
    }

    fn parse_quoted(&mut self) -> Result<String> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.input[self.pos..].chars().next() else {
                return self.err(open, "unterminated quoted string");
            };
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let esc_pos = self.pos - 1;
                    let Some(e) = self.input[self.pos..].chars().next() else {
                        return self.err(open, "unterminated quoted string");
                    };
                    self.pos += e.len_utf8();
                    out.push(match e {
                        '"' => '"',
                        '\\' => '\\',
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        'a' => '\u{7}',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'v' => '\u{b}',
                        other => {
                            return self.err(esc_pos, format!("invalid escape sequence \\{other}"));
                        }
                    });
                }
                '\n' => return self.err(self.pos - 1, "newline in quoted string"),
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::try_from_pairs(pairs.iter().copied()).unwrap()
    }

    fn pos_of(r: Result<Matchers>) -> usize {
        match r {
            Err(AlertError::MatcherSyntax { position, .. }) => position,
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn parses_braced_and_unbraced_forms() {
        let m = Matchers::parse(r#"{alertname="X", severity=~"critical|high"}"#).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(
            (m.0[0].name(), m.0[0].op(), m.0[0].value()),
            ("alertname", MatchOp::Equal, "X")
        );
        assert_eq!(m.0[1].op(), MatchOp::Regex);
        assert_eq!(m.0[1].value(), "critical|high");
        // amtool's unbraced, unquoted form, with whitespace and a trailing comma.
        let u = Matchers::parse(" alertname = X ,severity=~critical|high, ").unwrap();
        assert_eq!(u, m);
        let u = Matchers::parse("{alertname=X,severity=~critical|high,}").unwrap();
        assert_eq!(u, m);
        assert_eq!(
            Matchers::parse("a!=b").unwrap().0[0].op(),
            MatchOp::NotEqual
        );
        assert_eq!(
            Matchers::parse("a!~b.*").unwrap().0[0].op(),
            MatchOp::NotRegex
        );
        assert!(Matchers::parse("{}").unwrap().is_empty());
        assert!(Matchers::parse("").unwrap().is_empty());
        assert_eq!(Matchers::parse(r#"a="""#).unwrap().0[0].value(), "");
    }

    #[test]
    fn quoted_values_with_escapes() {
        let m = Matchers::parse(r#"{msg="say \"hi\", then\\leave\n", x="a,b}c"}"#).unwrap();
        assert_eq!(m.0[0].value(), "say \"hi\", then\\leave\n");
        assert_eq!(m.0[1].value(), "a,b}c");
        let m = Matchers::parse(r#"{"quoted name"="v"}"#).unwrap();
        assert_eq!(m.0[0].name(), "quoted name");
        // Display quotes so that the output parses back to the same matchers.
        assert_eq!(Matchers::parse(&m.to_string()).unwrap(), m);
        let m = Matchers::parse(
            r#"{msg="a\"b\\c\td\n", é=~"x\u{1}y|ü"}"#.replace("\\u{1}", "\u{1}").as_str(),
        )
        .unwrap();
        assert_eq!(m.0[1].value(), "x\u{1}y|ü");
        assert_eq!(Matchers::parse(&m.to_string()).unwrap(), m);
    }

    #[test]
    fn syntax_errors_have_positions() {
        assert_eq!(pos_of(Matchers::parse("{a=b")), 4);
        assert_eq!(pos_of(Matchers::parse("a=b}")), 3);
        assert_eq!(pos_of(Matchers::parse("a")), 1);
        assert_eq!(pos_of(Matchers::parse("a=")), 2);
        assert_eq!(pos_of(Matchers::parse("{a=,b=c}")), 3);
        assert_eq!(pos_of(Matchers::parse("a==b")), 2);
        assert_eq!(pos_of(Matchers::parse(r#"a="unterminated"#)), 2);
        assert_eq!(pos_of(Matchers::parse(r#"a="bad \q""#)), 7);
        assert_eq!(pos_of(Matchers::parse("a=b c=d")), 4);
        assert_eq!(pos_of(Matchers::parse("{a=b} x")), 6);
        assert_eq!(pos_of(Matchers::parse("=b")), 0);
        assert_eq!(pos_of(Matchers::parse("{a=b,,}")), 5);
    }

    #[test]
    fn invalid_regex_is_an_error() {
        assert_eq!(pos_of(Matchers::parse(r#"{job=~"(unclosed"}"#)), 6);
        assert!(matches!(
            Matcher::new("job", MatchOp::Regex, "a(b"),
            Err(AlertError::InvalidRegex { .. })
        ));
    }

    #[test]
    fn matching_follows_alertmanager() {
        let l = labels(&[("alertname", "HighLatency"), ("severity", "critical")]);
        let m: Matchers = r#"{alertname="HighLatency", severity=~"critical|high"}"#
            .parse()
            .unwrap();
        assert!(m.matches(&l));
        // Fully anchored: "crit" does not match "critical".
        assert!(!Matchers::parse("severity=~crit").unwrap().matches(&l));
        assert!(Matchers::parse("severity=~crit.*").unwrap().matches(&l));
        assert!(Matchers::parse("severity!~crit").unwrap().matches(&l));
        assert!(!Matchers::parse("severity=~high|crit").unwrap().matches(&l));
        // A missing label matches as the empty string.
        assert!(Matchers::parse(r#"team="""#).unwrap().matches(&l));
        assert!(Matchers::parse("team=~.*").unwrap().matches(&l));
        assert!(!Matchers::parse("team=~.+").unwrap().matches(&l));
        assert!(Matchers::parse("team!=ops").unwrap().matches(&l));
        assert!(!Matchers::parse(r#"team!="""#).unwrap().matches(&l));
        assert!(Matchers::default().matches(&l));
    }

    #[test]
    fn serde_as_alertmanager_matcher_lists() {
        let m: Matchers =
            serde_json::from_str(r#"["alertname=\"X\"", "severity=~\"critical|high\", team!=a"]"#)
                .unwrap();
        assert_eq!(m.len(), 3);
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Matchers>(&text).unwrap(), m);
        assert!(serde_json::from_str::<Matchers>(r#"["job=~\"(\""]"#).is_err());
    }
}
