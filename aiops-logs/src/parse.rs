//! One streaming pass of template mining over a log, as `aiops logs parse` runs it: lines are
//! read one at a time ([`LineReader`]), each learned as it comes, and its template id handed
//! on at once. Nothing per line stays in memory: the miner holds templates (at most
//! `max_clusters`), and the template id of every line, when the caller wants them all back at
//! the end (to write each line with its template's final form), goes to a temporary file
//! ([`LineIds`], 8 bytes a line).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, Write};

use crate::drain::{LearnOutcome, TemplateId, TemplateMiner};
use crate::error::{LogError, Result};
use crate::lines::LineReader;

/// Counts of a streaming pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseSummary {
    /// Lines read.
    pub lines: u64,
    /// Lines whose header did not match the log format (mined whole).
    pub header_unmatched: u64,
    /// Lines with invalid UTF-8 (replaced by U+FFFD).
    pub invalid_utf8: u64,
}

/// How often (lines) [`learn_reader`] reports progress.
const PROGRESS_EVERY: u64 = 4096;

/// Learns every line of `reader` in order, calling `each(line number from 1, outcome)` as each
/// line is learned and `progress(bytes read)` every few thousand lines. The same outcomes as
/// [`TemplateMiner::learn`] on each line in turn.
pub fn learn_reader<R: BufRead>(
    miner: &mut TemplateMiner,
    reader: &mut LineReader<R>,
    mut each: impl FnMut(u64, &LearnOutcome) -> Result<()>,
    progress: &mut dyn FnMut(u64),
) -> Result<ParseSummary> {
    let mut summary = ParseSummary::default();
    while let Some(line) = reader.next_line()? {
        let outcome = miner.learn(&line);
        let n = reader.lines();
        summary.header_unmatched += u64::from(!outcome.header_matched);
        each(n, &outcome)?;
        if n.is_multiple_of(PROGRESS_EVERY) {
            progress(reader.bytes());
        }
    }
    progress(reader.bytes());
    summary.lines = reader.lines();
    summary.invalid_utf8 = reader.invalid_utf8();
    Ok(summary)
}

/// The template id of every line of a pass, in line order, kept in an anonymous temporary
/// file (removed when dropped) rather than in memory.
#[derive(Debug)]
pub struct LineIds {
    out: BufWriter<File>,
    lines: u64,
}

fn temp_error(e: &std::io::Error) -> LogError {
    LogError::Read {
        path: "temporary file of line ids".to_string(),
        reason: e.to_string(),
    }
}

impl LineIds {
    /// An empty list in a new temporary file.
    pub fn new() -> Result<Self> {
        let file = tempfile::tempfile().map_err(|e| temp_error(&e))?;
        Ok(Self {
            out: BufWriter::with_capacity(1 << 16, file),
            lines: 0,
        })
    }

    /// Appends the next line's template id.
    pub fn push(&mut self, id: TemplateId) -> Result<()> {
        self.lines += 1;
        self.out
            .write_all(&id.to_le_bytes())
            .map_err(|e| temp_error(&e))
    }

    /// Lines held.
    pub fn len(&self) -> u64 {
        self.lines
    }

    /// Whether no line is held.
    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// The ids back, in line order, read from the file.
    pub fn into_ids(self) -> Result<impl Iterator<Item = Result<TemplateId>>> {
        let mut file = self.out.into_inner().map_err(|e| temp_error(e.error()))?;
        file.rewind().map_err(|e| temp_error(&e))?;
        let mut input = BufReader::with_capacity(1 << 16, file);
        Ok((0..self.lines).map(move |_| {
            let mut b = [0u8; 8];
            input.read_exact(&mut b).map_err(|e| temp_error(&e))?;
            Ok(TemplateId::from_le_bytes(b))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drain::DrainParams;

    #[test]
    fn streaming_emits_each_line_as_it_goes_and_equals_batch() {
        let text: String = (0..3000)
            .map(|i| match i % 4 {
                0 => format!("user u{} logged in from 10.0.0.{}\n", i % 7, i % 200),
                1 => format!("job {i} finished in {} ms\n", i % 97),
                2 => format!("disk sd{} at {}% capacity\r\n", i % 3, i % 100),
                _ => "cache \u{ff}refreshed\n".replace('\u{ff}', "x"),
            })
            .collect();
        let bytes = text.into_bytes();
        let drain = DrainParams::new().check().unwrap();
        let mut batch = drain.miner();
        let want: Vec<LearnOutcome> = crate::lines::split_lines(&bytes)
            .iter()
            .map(|l| batch.learn(l))
            .collect();

        let mut stream = drain.miner();
        let mut reader = LineReader::new(&bytes[..]);
        let mut got = Vec::new();
        let mut ids = LineIds::new().unwrap();
        let summary = learn_reader(
            &mut stream,
            &mut reader,
            |n, o| {
                // Emitted as it goes: line n is handed on before line n + 1 is read.
                assert_eq!(n, got.len() as u64 + 1);
                got.push(*o);
                ids.push(o.id)
            },
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(got, want);
        assert_eq!(summary.lines, want.len() as u64);
        assert_eq!(stream.templates(), batch.templates());
        let back: Vec<TemplateId> = ids.into_ids().unwrap().map(|r| r.unwrap()).collect();
        assert_eq!(back, want.iter().map(|o| o.id).collect::<Vec<_>>());
    }
}
