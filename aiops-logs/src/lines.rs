//! Reading a log as lines, as every log command does: no line is dropped, invalid UTF-8 is
//! replaced.
//!
//! [`LineReader`] streams a file one line at a time in a reused buffer, so a command's memory
//! does not grow with the file; [`read_log_lines`] loads a whole (small) file.
//!
//! Input that is not text (random or compressed bytes, a binary) is still read, line by line,
//! but [`LineReader::not_text`] says so from the first [`TEXT_SAMPLE`] bytes: when more than
//! [`NOT_TEXT_SHARE`] of them are control characters (other than tab, form feed, escape and
//! line ends) or bytes of invalid UTF-8.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::error::{LogError, Result};

/// Bytes at the start of the input that [`LineReader::not_text`] looks at.
pub const TEXT_SAMPLE: usize = 64 * 1024;

/// Share of suspicious bytes in the sample above which the input is not text.
pub const NOT_TEXT_SHARE: f64 = 0.1;

/// What the start of an input looks like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextCheck {
    /// Bytes looked at.
    pub bytes: usize,
    /// Share of them (0 to 1) that are control characters or invalid UTF-8.
    pub suspicious: f64,
}

impl TextCheck {
    /// Looks at `sample` (the start of an input; a character cut at its end is not counted).
    pub fn of(sample: &[u8]) -> Self {
        let mut bad = 0usize;
        let mut rest = sample;
        while !rest.is_empty() {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    bad += count_controls(s.as_bytes());
                    break;
                }
                Err(e) => {
                    let (ok, tail) = rest.split_at(e.valid_up_to());
                    bad += count_controls(ok);
                    match e.error_len() {
                        Some(len) => {
                            bad += len;
                            rest = &tail[len..];
                        }
                        // A character cut by the end of the sample.
                        None => break,
                    }
                }
            }
        }
        Self {
            bytes: sample.len(),
            suspicious: if sample.is_empty() {
                0.0
            } else {
                bad as f64 / sample.len() as f64
            },
        }
    }

    /// Whether the input looks like it is not text (more than [`NOT_TEXT_SHARE`] suspicious).
    pub fn is_not_text(&self) -> bool {
        self.suspicious > NOT_TEXT_SHARE
    }
}

fn count_controls(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b)) || b == 0x7f)
        .count()
}

/// Streams lines out of a reader: `\n` ends a line, a final `\r` is removed, a final empty
/// line (after the last newline) is not a line, invalid UTF-8 is replaced (U+FFFD) and
/// counted. One buffer is reused, so memory is that of the longest line.
///
/// ```
/// use aiops_logs::LineReader;
/// let mut r = LineReader::new(&b"a\r\nb\xff\n"[..]);
/// assert_eq!(r.next_line()?.as_deref(), Some("a"));
/// assert_eq!(r.next_line()?.as_deref(), Some("b\u{fffd}"));
/// assert_eq!(r.next_line()?, None);
/// assert_eq!((r.lines(), r.invalid_utf8()), (2, 1));
/// # Ok::<(), aiops_logs::LogError>(())
/// ```
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    name: String,
    buf: Vec<u8>,
    lines: u64,
    bytes: u64,
    invalid_utf8: u64,
    check: Option<TextCheck>,
}

impl LineReader<BufReader<File>> {
    /// Opens a file.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| LogError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut r = Self::new(BufReader::with_capacity(1 << 20, file));
        r.name = path.display().to_string();
        Ok(r)
    }
}

impl<R: BufRead> LineReader<R> {
    /// Reads from `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            name: "<input>".to_string(),
            buf: Vec::new(),
            lines: 0,
            bytes: 0,
            invalid_utf8: 0,
            check: None,
        }
    }

    /// Looks at the start of the input once.
    fn sample(&mut self) -> Result<TextCheck> {
        if let Some(c) = self.check {
            return Ok(c);
        }
        let sample = self.inner.fill_buf().map_err(|e| LogError::Read {
            path: self.name.clone(),
            reason: e.to_string(),
        })?;
        let c = TextCheck::of(&sample[..sample.len().min(TEXT_SAMPLE)]);
        self.check = Some(c);
        Ok(c)
    }

    /// Reads the next line into the buffer; its range without the line end.
    fn read(&mut self) -> Result<Option<std::ops::Range<usize>>> {
        self.sample()?;
        let name = &self.name;
        let io = |e: std::io::Error| LogError::Read {
            path: name.clone(),
            reason: e.to_string(),
        };
        self.buf.clear();
        let n = self.inner.read_until(b'\n', &mut self.buf).map_err(io)?;
        if n == 0 {
            return Ok(None);
        }
        self.bytes += n as u64;
        self.lines += 1;
        let mut end = self.buf.len();
        if self.buf[..end].ends_with(b"\n") {
            end -= 1;
        }
        if self.buf[..end].ends_with(b"\r") {
            end -= 1;
        }
        Ok(Some(0..end))
    }

    /// The next line as raw bytes (line end removed); `None` at the end of the input.
    pub fn next_bytes(&mut self) -> Result<Option<&[u8]>> {
        Ok(self.read()?.map(|r| &self.buf[r]))
    }

    /// The next line as text, invalid UTF-8 replaced (and counted); `None` at the end.
    pub fn next_line(&mut self) -> Result<Option<Cow<'_, str>>> {
        let Some(r) = self.read()? else {
            return Ok(None);
        };
        if std::str::from_utf8(&self.buf[r.clone()]).is_err() {
            self.invalid_utf8 += 1;
        }
        Ok(Some(String::from_utf8_lossy(&self.buf[r])))
    }

    /// Lines read so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Bytes read so far (line ends included).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Lines read so far that held invalid UTF-8 (by [`LineReader::next_line`]).
    pub fn invalid_utf8(&self) -> u64 {
        self.invalid_utf8
    }

    /// What the first [`TEXT_SAMPLE`] bytes of the input look like (read now if no line was).
    pub fn text_check(&mut self) -> Result<TextCheck> {
        self.sample()
    }

    /// A warning for people when the start of the input does not look like text (read now
    /// if no line was).
    pub fn not_text(&mut self) -> Result<Option<String>> {
        let c = self.sample()?;
        Ok(c.is_not_text().then(|| {
            format!(
                "{} does not look like text: {:.0}% of its first {} bytes are control characters or invalid UTF-8; every line is read, but expect about one template per line (at most max_clusters are kept)",
                self.name,
                100.0 * c.suspicious,
                c.bytes
            )
        }))
    }
}

/// Reads a log file as lines; invalid UTF-8 is replaced, `\r\n` endings are accepted, and a
/// final empty line (after the last newline) is not a line.
pub fn read_log_lines(path: &Path) -> Result<Vec<String>> {
    let bytes = std::fs::read(path).map_err(|e| LogError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(split_lines(&bytes))
}

/// Splits raw bytes into lines (see [`read_log_lines`]).
pub fn split_lines(bytes: &[u8]) -> Vec<String> {
    let mut lines: Vec<String> = bytes
        .split(|&b| b == b'\n')
        .map(|l| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            String::from_utf8_lossy(l).into_owned()
        })
        .collect();
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        lines.pop();
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_or_not() {
        let text = "2026-12-06 INFO: started\tok \x1b[1mbold\x1b[0m, déjà vu\r\n".repeat(100);
        assert!(!TextCheck::of(text.as_bytes()).is_not_text());
        let mut x = 1u64;
        let random: Vec<u8> = (0..10_000)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 56) as u8
            })
            .collect();
        let c = TextCheck::of(&random);
        assert!(c.is_not_text(), "{c:?}");
        let mut r = LineReader::new(&random[..]);
        assert!(r.not_text().unwrap().is_some());
        let mut t = LineReader::new(text.as_bytes());
        assert!(t.not_text().unwrap().is_none());
        // UTF-16 text is not text for a log miner.
        let utf16: Vec<u8> = "hello world\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert!(TextCheck::of(&utf16).is_not_text());
    }

    #[test]
    fn reader_equals_split_lines() {
        let bytes = b"a\r\nb\n\nc\xff\r\n\nlast";
        let mut r = LineReader::new(&bytes[..]);
        let mut got = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            got.push(l.into_owned());
        }
        assert_eq!(got, split_lines(bytes));
        assert_eq!(
            (r.lines(), r.invalid_utf8(), r.bytes()),
            (6, 1, bytes.len() as u64)
        );
    }

    #[test]
    fn split_lines_keeps_every_line() {
        assert_eq!(split_lines(b"a\r\nb\n\nc"), vec!["a", "b", "", "c"]);
        assert_eq!(split_lines(b"a\n"), vec!["a"]);
        assert!(split_lines(b"").is_empty());
        assert_eq!(split_lines(b"\xff\n"), vec!["\u{fffd}"]);
    }
}
