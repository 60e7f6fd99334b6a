//! Reading a log as lines, as every log command does: no line is dropped, invalid UTF-8 is
//! replaced.

use std::path::Path;

use crate::error::{LogError, Result};

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
    fn split_lines_keeps_every_line() {
        assert_eq!(split_lines(b"a\r\nb\n\nc"), vec!["a", "b", "", "c"]);
        assert_eq!(split_lines(b"a\n"), vec!["a"]);
        assert!(split_lines(b"").is_empty());
        assert_eq!(split_lines(b"\xff\n"), vec!["\u{fffd}"]);
    }
}
