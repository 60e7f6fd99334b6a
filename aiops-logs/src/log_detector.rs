//! Log anomaly detection: template, keyword and count signals over windows of a log stream.
//!
//! Every line is split by the log format (if any), its message mined into a template
//! ([`crate::drain`]) and scanned for error keywords ([`crate::keywords`]). Lines
//! are grouped into windows: by time (`--window 60s`) when the format has time fields
//! ([`crate::timestamp`]), else by line count (`fallback_lines`, or `--window 500lines`).
//!
//! # Signals
//!
//! Line signals, decided as the line arrives, from what came before it:
//! - **new template**: the line created a template after the first `warmup_lines` lines;
//! - **rare template**: its template's count so far (this line included) is below
//!   `rare_ratio` × the lines so far, once `rare_min_lines` lines have been seen (a new
//!   template is reported as new, not rare).
//!
//! Window signals, decided when the window closes, from earlier windows only:
//! - **template burst / vanish**: each template's count per window is a series scored by the
//!   rolling median/MAD detector (`aiops_detect::mad`, both directions, over `count_history`
//!   windows, from `count_min_windows` on). Counts are noisy in a way a MAD of a mostly-zero
//!   series does not see, so the robust z-score is capped by a Poisson z-score
//!   `|count − median| / √max(median, 1)`: one line of a template usually absent is not a
//!   burst, a drop from 2 to 0 is not a vanishing. Flagged at `count_threshold`.
//! - **keyword rate**: the number of lines with an error keyword per window, scored the same
//!   way, upwards only.
//! - **SPE**: the window's template-count vector scored by PCA reconstruction error against
//!   the Q-statistic threshold ([`crate::window_pca`]).
//!
//! # Verdicts
//!
//! A window is **anomalous** when it has a window signal. A line is **anomalous** when it is
//! (1) a new template, (2) a rare template, (3) a line of a template that bursts in its
//! window, or (4) a line with an error keyword in an anomalous window. Each verdict carries
//! its reasons, each with a score and a sentence.
//!
//! # Streaming
//!
//! [`LogDetectorState::update`] takes one line and returns the window it closed, if any;
//! [`LogDetectorState::finish`] closes the last one. [`LogDetector::detect`] (batch) is the
//! same computation over a whole file and gives the same report, tested. The state saves and
//! restores through serde (parameters included), so a restarted process continues exactly.
//!
//! No line is lost: every line lands in exactly one window; a line without a matching header
//! is mined whole and counted (`header_unmatched`), a line without a readable time joins the
//! current window and is counted (`untimed`), a line older than the current window joins it
//! and is counted (`late`), invalid UTF-8 is replaced and counted (`invalid_utf8`).

use std::fmt;
use std::str::FromStr;

use aiops_core::CoreError;
use aiops_core::time::Duration;
use aiops_detect::{
    DetectError, Direction, Mad, MadOnline, MadParams, OnlineDetector, ParamGuard, Streams,
};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::drain::{Change, Drain, DrainParams, TemplateId, TemplateMiner};
use crate::error::{LogError, Result};
use crate::keywords::{self, KeywordSet};
use crate::lines::LineReader;
use crate::mask::MaskSpec;
use crate::timestamp::TimeFields;
use crate::window_pca::{CountPca, CountPcaParams, CountPcaState, SpeScore};

/// How lines are grouped into windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowSpec {
    /// Fixed time windows aligned to the Unix epoch, in ms.
    Time(i64),
    /// Consecutive runs of this many lines.
    Lines(usize),
}

impl WindowSpec {
    /// Parses a duration (`60s`, `500ms`, `5m`, `2h`, `1d`, any [`Duration`]; a bare number is
    /// seconds) as time windows, or `1000lines` / `1000l` as line windows.
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim();
        let bad = |reason: &str| LogError::InvalidParameter {
            name: "window",
            reason: format!("{reason}: {text:?} (expected e.g. 60s, 5m, 1h or 1000lines)"),
        };
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let ms = match unit.trim() {
            "lines" | "line" | "l" => {
                let n: usize = num.parse().map_err(|_| bad("no number"))?;
                return if n == 0 {
                    Err(bad("must be positive"))
                } else {
                    Ok(WindowSpec::Lines(n))
                };
            }
            "" => num
                .parse::<i64>()
                .map_err(|_| bad("no number"))?
                .checked_mul(1000)
                .ok_or_else(|| bad("too large"))?,
            _ => match t.parse::<Duration>() {
                Ok(d) => d.as_millis(),
                Err(CoreError::InvalidDuration { reason, .. }) => return Err(bad(&reason)),
                Err(e) => return Err(e.into()),
            },
        };
        if ms <= 0 {
            return Err(bad("must be positive"));
        }
        Ok(WindowSpec::Time(ms))
    }
}

impl fmt::Display for WindowSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WindowSpec::Lines(n) => write!(f, "{n}lines"),
            WindowSpec::Time(ms) if ms % 86_400_000 == 0 => write!(f, "{}d", ms / 86_400_000),
            WindowSpec::Time(ms) if ms % 3_600_000 == 0 => write!(f, "{}h", ms / 3_600_000),
            WindowSpec::Time(ms) if ms % 60_000 == 0 => write!(f, "{}m", ms / 60_000),
            WindowSpec::Time(ms) if ms % 1000 == 0 => write!(f, "{}s", ms / 1000),
            WindowSpec::Time(ms) => write!(f, "{ms}ms"),
        }
    }
}

impl FromStr for WindowSpec {
    type Err = LogError;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl Serialize for WindowSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for WindowSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Unchecked parameters of [`LogDetector`].
///
/// ```
/// use aiops_logs::LogDetectorParams;
/// let det = LogDetectorParams::new()
///     .log_format("<Date> <Time> <Level>: <Content>")
///     .window("10s".parse()?)
///     .warmup_lines(20)
///     .check()?;
/// let mut lines: Vec<String> = (0..60)
///     .map(|i| format!("2024-01-01 00:{:02}:{:02} INFO: request {i} served in {} ms", i / 6, (i % 6) * 10, i % 7))
///     .collect();
/// lines.push("2024-01-01 00:10:05 ERROR: disk /dev/sda1 failed".to_string());
/// let report = det.detect(&lines);
/// assert_eq!(report.stats.lines, 61);
/// let flagged: Vec<u64> = report.lines.iter().map(|l| l.line).collect();
/// assert_eq!(flagged, vec![61], "the new template after warm-up");
/// # Ok::<(), aiops_logs::LogError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogDetectorParams {
    drain: DrainParams,
    window: WindowSpec,
    fallback_lines: usize,
    warmup_lines: u64,
    rare_ratio: f64,
    rare_min_lines: u64,
    count_history: usize,
    count_min_windows: usize,
    count_threshold: f64,
    level_keywords: bool,
    line_rule: LineRule,
    pca: Option<CountPcaParams>,
}

/// When a line is anomalous, from its line signals and its window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineRule {
    /// An error keyword in a line whose template is new, rare or bursting, or which is in an
    /// anomalous window.
    #[default]
    Keyword,
    /// New template, rare template, bursting template, or an error keyword in an anomalous
    /// window.
    Any,
}

impl Default for LogDetectorParams {
    fn default() -> Self {
        Self {
            drain: DrainParams::new(),
            window: WindowSpec::Time(60_000),
            fallback_lines: 100,
            warmup_lines: 500,
            rare_ratio: 0.005,
            rare_min_lines: 1000,
            count_history: 60,
            count_min_windows: 10,
            count_threshold: 4.0,
            level_keywords: true,
            line_rule: LineRule::Keyword,
            pca: Some(CountPcaParams::new()),
        }
    }
}

impl LogDetectorParams {
    /// Defaults: Drain's defaults, 60 s windows (100-line windows when no time is readable),
    /// new templates after 500 lines, rare below 0.5 % after 1,000 lines, count series over
    /// 60 windows from the 10th at a z of 4, the `Level` field scanned for keywords, the
    /// window-count PCA with its defaults.
    pub fn new() -> Self {
        Self::default()
    }

    crate::fields!(
        /// Template-mining parameters (log format, masks, similarity...).
        drain: DrainParams
    );

    /// Sets the header format of the miner (`<Date> <Time> <Level>: <Content>`).
    pub fn log_format(mut self, format: &str) -> Self {
        self.drain = self.drain.log_format(format);
        self
    }

    /// Adds a masking regex to the miner.
    pub fn mask(mut self, mask: MaskSpec) -> Self {
        self.drain = self.drain.mask(mask);
        self
    }

    crate::fields!(
        /// Window: time (needs time fields in the log format) or lines.
        window: WindowSpec
    );

    crate::fields!(
        /// Lines per window when time windows are asked but the format has no time field
        /// (>= 1).
        fallback_lines: usize
    );

    crate::fields!(
        /// Lines before a new template counts as anomalous.
        warmup_lines: u64
    );

    crate::fields!(
        /// A template is rare below this share of the lines so far (0 <= ratio < 1; 0
        /// switches the signal off).
        rare_ratio: f64
    );

    crate::fields!(
        /// Lines seen before the rare signal starts (>= 1).
        rare_min_lines: u64
    );

    crate::fields!(
        /// Windows in the median/MAD reference of the count series (>= 3).
        count_history: usize
    );

    crate::fields!(
        /// Windows of a series before it is scored (3..=count_history).
        count_min_windows: usize
    );

    crate::fields!(
        /// Flag a count series at this capped robust z (> 0).
        count_threshold: f64
    );

    crate::fields!(
        /// Whether a `Level` header field is read for keywords: a quiet level (`INFO`,
        /// `DEBUG`...) clears the message's keywords, another level counts as a word
        /// ([`keywords::scan_with_level`]). Off: only the message is scanned.
        level_keywords: bool
    );

    crate::fields!(
        /// When a line is anomalous.
        line_rule: LineRule
    );

    crate::fields!(
        /// The window-count PCA (`None` switches it off).
        pca: Option<CountPcaParams>
    );

    /// Sets one parameter by its serde name from `key=value` text (`rare_ratio=0.01`,
    /// `window=5m`, `pca.alpha=0.01`, `pca=null`, `drain.sim_threshold=0.6`); the value is read
    /// as JSON, or as a string when it is not JSON. Errors name the accepted keys.
    pub fn assign(self, key: &str, value: &str) -> Result<Self> {
        let bad = |message: String| LogError::BadParams { message };
        let mut tree = serde_json::to_value(&self).map_err(|e| bad(e.to_string()))?;
        let parsed: serde_json::Value = serde_json::from_str(value)
            .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
        let mut node = &mut tree;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let obj = match node {
                serde_json::Value::Object(o) => o,
                // `pca.x` while the PCA is off: start from its defaults.
                serde_json::Value::Null if i > 0 && parts[i - 1] == "pca" => {
                    *node = serde_json::to_value(CountPcaParams::new())
                        .map_err(|e| bad(e.to_string()))?;
                    match node {
                        serde_json::Value::Object(o) => o,
                        _ => return Err(bad(format!("{key}: not a group of parameters"))),
                    }
                }
                _ => return Err(bad(format!("{key}: not a group of parameters"))),
            };
            if !obj.contains_key(*part) && i + 1 < parts.len() {
                return Err(bad(format!("unknown group {part:?} in {key:?}")));
            }
            if i + 1 == parts.len() {
                obj.insert(part.to_string(), parsed.clone());
                break;
            }
            node = obj.get_mut(*part).expect("checked above");
        }
        serde_json::from_value(tree).map_err(|e| bad(format!("{key}={value}: {e}")))
    }
}

impl LogDetectorParams {
    /// Validates the parameters: the checked [`LogDetector`], or the first problem found.
    pub fn check(&self) -> Result<LogDetector> {
        let bad = |name, reason: String| Err(LogError::InvalidParameter { name, reason });
        if self.fallback_lines == 0 {
            return bad("fallback_lines", "must be at least 1".to_string());
        }
        if !(0.0..1.0).contains(&self.rare_ratio) {
            return bad(
                "rare_ratio",
                format!("must be in [0, 1), got {}", self.rare_ratio),
            );
        }
        if self.rare_min_lines == 0 {
            return bad("rare_min_lines", "must be at least 1".to_string());
        }
        if !(self.count_threshold.is_finite() && self.count_threshold > 0.0) {
            return bad(
                "count_threshold",
                format!("must be a positive number, got {}", self.count_threshold),
            );
        }
        let mad = |direction| {
            MadParams::new()
                .window(self.count_history)
                .min_periods(self.count_min_windows)
                .threshold(self.count_threshold)
                .direction(direction)
                .check()
        };
        let count_mad = mad(Direction::Both).map_err(rename_mad)?;
        let keyword_mad = mad(Direction::Up).map_err(rename_mad)?;
        let pca = self.pca.as_ref().map(|p| p.check()).transpose()?;
        let drain = self.drain.check()?;
        let (time_fields, level_field) = match drain.format() {
            Some(f) => (
                TimeFields::of(f),
                f.fields()
                    .iter()
                    .position(|n| n.eq_ignore_ascii_case("Level")),
            ),
            None => (TimeFields::default(), None),
        };
        let mode = match self.window {
            WindowSpec::Time(ms) if time_fields.any() => WindowSpec::Time(ms),
            WindowSpec::Time(_) => WindowSpec::Lines(self.fallback_lines),
            lines => lines,
        };
        Ok(LogDetector {
            params: self.clone(),
            drain,
            time_fields,
            level_field: level_field.filter(|_| self.level_keywords),
            mode,
            count_mad,
            keyword_mad,
            pca,
        })
    }
}

/// The MAD parameters' names, as the log detector calls them.
fn rename_mad(e: DetectError) -> LogError {
    match e {
        DetectError::InvalidParameter { name, reason } => LogError::InvalidParameter {
            name: match name {
                "window" => "count_history",
                "min_periods" => "count_min_windows",
                "threshold" => "count_threshold",
                other => other,
            },
            reason,
        },
        other => LogError::Detect(other),
    }
}

/// Validated parameters of the log anomaly detector.
#[derive(Debug, Clone)]
pub struct LogDetector {
    params: LogDetectorParams,
    drain: Drain,
    time_fields: TimeFields,
    level_field: Option<usize>,
    mode: WindowSpec,
    count_mad: Mad,
    keyword_mad: Mad,
    pca: Option<CountPca>,
}

/// Which signal a reason comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// A template first seen after the warm-up (line).
    NewTemplate,
    /// A template below the rare share (line).
    RareTemplate,
    /// A template's count per window above its usual range (window; and its lines).
    TemplateBurst,
    /// A template's count per window below its usual range (window).
    TemplateVanish,
    /// More error-keyword lines than usual in the window (window).
    KeywordRate,
    /// The window's template mix outside the PCA normal space (window).
    Spe,
    /// An error keyword in a line of an anomalous window (line).
    Keyword,
}

impl Signal {
    /// The snake-case name (`new_template`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::NewTemplate => "new_template",
            Signal::RareTemplate => "rare_template",
            Signal::TemplateBurst => "template_burst",
            Signal::TemplateVanish => "template_vanish",
            Signal::KeywordRate => "keyword_rate",
            Signal::Spe => "spe",
            Signal::Keyword => "keyword",
        }
    }
}

/// Why a line or a window is anomalous.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// The signal.
    pub signal: Signal,
    /// Its strength, in the signal's own scale: capped z for counts, SPE / Q for the PCA,
    /// the expected share over the observed share for a rare template, 1 otherwise.
    pub score: f64,
    /// The template concerned, when there is one.
    pub template: Option<TemplateId>,
    /// A sentence for people.
    pub message: String,
}

/// An anomalous line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineReport {
    /// Line number in the input, from 1.
    pub line: u64,
    /// Index of its window, from 0.
    pub window: u64,
    /// Its template id.
    pub template_id: TemplateId,
    /// Its template when its window closed (`<*>` and `<:NAME:>` are variables).
    pub template: String,
    /// The error keywords it holds (`error`, `fail`...).
    pub keywords: Vec<String>,
    /// Why it is anomalous.
    pub reasons: Vec<Reason>,
}

/// A closed window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowReport {
    /// Index from 0, in closing order.
    pub index: u64,
    /// Start of a time window, ms since the epoch (`None` for line windows).
    pub start_ms: Option<i64>,
    /// End (exclusive) of a time window, ms since the epoch.
    pub end_ms: Option<i64>,
    /// First line number in it.
    pub first_line: u64,
    /// Last line number in it.
    pub last_line: u64,
    /// Lines in it.
    pub lines: u64,
    /// Lines in it with an error keyword.
    pub keyword_lines: u64,
    /// Whether a window signal fired.
    pub anomalous: bool,
    /// Window signals, strongest first.
    pub reasons: Vec<Reason>,
    /// Anomalous lines in it.
    pub anomalous_lines: u64,
}

/// Counts of the whole run, and of the input problems met (none is fatal).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogStats {
    /// Lines read.
    pub lines: u64,
    /// Windows closed.
    pub windows: u64,
    /// Windows with a window signal.
    pub anomalous_windows: u64,
    /// Anomalous lines.
    pub anomalous_lines: u64,
    /// Templates mined.
    pub templates: u64,
    /// Lines whose header did not match the log format (mined whole).
    pub header_unmatched: u64,
    /// Lines without a readable time in time windows (put in the current window).
    pub untimed: u64,
    /// Lines older than their window's start (put in the current window).
    pub late: u64,
    /// Lines with invalid UTF-8 (replaced by U+FFFD).
    pub invalid_utf8: u64,
}

/// What closing a window produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedWindow {
    /// The window.
    pub window: WindowReport,
    /// Its anomalous lines, in line order.
    pub lines: Vec<LineReport>,
}

/// The result of a whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogReport {
    /// How windows were made: `60s` or `100lines`.
    pub window: String,
    /// Windows that are anomalous or hold an anomalous line, in order.
    pub windows: Vec<WindowReport>,
    /// Anomalous lines, in order.
    pub lines: Vec<LineReport>,
    /// Counts.
    pub stats: LogStats,
}

impl LogReport {
    /// Adds a closed window (kept when it is anomalous or holds an anomalous line).
    pub fn push(&mut self, closed: ClosedWindow) {
        if closed.window.anomalous || !closed.lines.is_empty() {
            self.windows.push(closed.window);
        }
        self.lines.extend(closed.lines);
    }
}

impl LogDetector {
    /// The parameters it was checked from.
    pub fn params(&self) -> &LogDetectorParams {
        &self.params
    }

    /// How lines are grouped: the asked time window, or line windows when the format has no
    /// time field.
    pub fn mode(&self) -> WindowSpec {
        self.mode
    }

    /// A fresh streaming state.
    pub fn state(&self) -> LogDetectorState {
        LogDetectorState {
            det: self.clone(),
            data: Data {
                miner: self.drain.miner(),
                lines: 0,
                windows: 0,
                current: None,
                tracks: FxHashMap::default(),
                keyword_mad: self.keyword_mad.online_state(),
                pca: self.pca.as_ref().map(CountPca::state),
                stats: LogStats::default(),
            },
        }
    }

    /// Runs the whole input (batch); the same as [`LogDetectorState::update`] on every line
    /// then [`LogDetectorState::finish`].
    pub fn detect<S: AsRef<str>>(&self, lines: &[S]) -> LogReport {
        let mut state = self.state();
        let mut report = LogReport {
            window: self.mode.to_string(),
            ..LogReport::default()
        };
        for l in lines {
            if let Some(c) = state.update(l.as_ref()) {
                report.push(c);
            }
        }
        if let Some(c) = state.finish() {
            report.push(c);
        }
        report.stats = state.stats();
        report
    }

    /// Runs raw file bytes (batch): lines split at `\n` (a final `\r` removed, an empty last
    /// line after the final newline ignored), invalid UTF-8 replaced and counted.
    pub fn detect_bytes(&self, bytes: &[u8]) -> LogReport {
        self.detect_bytes_with_progress(bytes, &mut |_, _| {})
    }

    /// [`LogDetector::detect_bytes`], calling `progress(bytes done, bytes in all)` every few
    /// thousand lines and at the end.
    pub fn detect_bytes_with_progress(
        &self,
        bytes: &[u8],
        progress: &mut dyn FnMut(usize, usize),
    ) -> LogReport {
        const EVERY: u32 = 4096;
        let mut since = 0u32;
        let mut state = self.state();
        let mut report = LogReport {
            window: self.mode.to_string(),
            ..LogReport::default()
        };
        let mut rest = bytes;
        while !rest.is_empty() {
            let (line, next) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some(c) = state.update_bytes(line) {
                report.push(c);
            }
            rest = next;
            since += 1;
            if since == EVERY {
                since = 0;
                progress(bytes.len() - rest.len(), bytes.len());
            }
        }
        progress(bytes.len(), bytes.len());
        if let Some(c) = state.finish() {
            report.push(c);
        }
        report.stats = state.stats();
        report
    }
}

impl LogDetector {
    /// Runs a stream of lines (a file read a line at a time: memory does not grow with the
    /// file), calling `progress(bytes read)` every few thousand lines and at the end. The same
    /// report as [`LogDetector::detect_bytes`] on the same bytes.
    pub fn detect_reader<R: std::io::BufRead>(
        &self,
        reader: &mut LineReader<R>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<LogReport> {
        let mut state = self.state();
        let mut report = LogReport {
            window: self.mode.to_string(),
            ..LogReport::default()
        };
        while let Some(line) = reader.next_bytes()? {
            if let Some(c) = state.update_bytes(line) {
                report.push(c);
            }
            if reader.lines().is_multiple_of(4096) {
                progress(reader.bytes());
            }
        }
        progress(reader.bytes());
        if let Some(c) = state.finish() {
            report.push(c);
        }
        report.stats = state.stats();
        Ok(report)
    }
}

/// A line waiting for its window to close.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pending {
    line: u64,
    template: TemplateId,
    new: bool,
    /// (template count, lines seen) when rare.
    rare: Option<(u64, u64)>,
    keywords: KeywordSet,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Current {
    /// Time bucket (time windows; `None` until a timed line arrives) or line bucket.
    bucket: Option<i64>,
    first_line: u64,
    pending: Vec<Pending>,
    counts: FxHashMap<TemplateId, u32>,
    keyword_lines: u64,
}

/// One template's history, kept while the template had a line in the last `count_history`
/// windows: after that its series is all zeros, which scores nothing, and a fresh series of
/// zeros is the same when the template comes back. So the tracks, and the work of closing a
/// window, follow the templates in use, not all the templates ever seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Track {
    count: u64,
    series: MadOnline,
    /// The last window in which it had a line (`u64::MAX`: unknown, from an older snapshot).
    #[serde(default = "unknown_window")]
    last_seen: u64,
}

fn unknown_window() -> u64 {
    u64::MAX
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Data {
    miner: TemplateMiner,
    lines: u64,
    windows: u64,
    current: Option<Current>,
    tracks: FxHashMap<TemplateId, Track>,
    keyword_mad: MadOnline,
    pca: Option<CountPcaState>,
    stats: LogStats,
}

/// Streaming state of the log anomaly detector. Serialises with its parameters.
#[derive(Debug, Clone)]
pub struct LogDetectorState {
    det: LogDetector,
    data: Data,
}

impl Serialize for LogDetectorState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Ref<'a> {
            params: &'a LogDetectorParams,
            data: &'a Data,
        }
        Ref {
            params: &self.det.params,
            data: &self.data,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for LogDetectorState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Owned {
            params: LogDetectorParams,
            data: Data,
        }
        let o = Owned::deserialize(d)?;
        let det = o.params.check().map_err(serde::de::Error::custom)?;
        Ok(LogDetectorState { det, data: o.data })
    }
}

/// A z-score of a count against its median, capped by the count's Poisson noise.
fn capped_z(count: f64, median: f64, mad_score: f64) -> f64 {
    let poisson = (count - median).abs() / median.max(1.0).sqrt();
    mad_score.min(poisson)
}

impl LogDetectorState {
    /// The checked parameters.
    pub fn detector(&self) -> &LogDetector {
        &self.det
    }

    /// The template miner.
    pub fn miner(&self) -> &TemplateMiner {
        &self.data.miner
    }

    /// Counts so far (the current window's lines included in `lines`).
    pub fn stats(&self) -> LogStats {
        let mut s = self.data.stats.clone();
        s.lines = self.data.lines;
        s.windows = self.data.windows;
        s.templates = self.data.miner.len() as u64;
        s
    }

    /// The template of the last line taken (it sits in the open window until the window
    /// closes); `None` before the first line.
    pub fn last_template(&self) -> Option<TemplateId> {
        self.data
            .current
            .as_ref()?
            .pending
            .last()
            .map(|p| p.template)
    }

    /// Takes one raw line given as bytes: invalid UTF-8 is replaced by U+FFFD and counted.
    pub fn update_bytes(&mut self, line: &[u8]) -> Option<ClosedWindow> {
        match std::str::from_utf8(line) {
            Ok(s) => self.update(s),
            Err(_) => {
                self.data.stats.invalid_utf8 += 1;
                self.update(&String::from_utf8_lossy(line))
            }
        }
    }

    /// Takes one raw line; returns the window it closed, if any (a line past the current
    /// window closes it before joining the next).
    pub fn update(&mut self, line: &str) -> Option<ClosedWindow> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let det = &self.det;
        let fields = det.drain.format().map(|f| f.split(line));
        let (content, level) = match (&fields, det.drain.format()) {
            (Some(Some(fs)), Some(f)) => {
                let c = f
                    .fields()
                    .iter()
                    .position(|n| n == crate::format::CONTENT_FIELD)
                    .and_then(|i| fs.get(i).copied())
                    .unwrap_or(line);
                (c, det.level_field.and_then(|i| fs.get(i).copied()))
            }
            _ => (line, None),
        };
        if matches!(fields, Some(None)) {
            self.data.stats.header_unmatched += 1;
        }
        let line_no = self.data.lines + 1;
        let bucket = match det.mode {
            WindowSpec::Lines(n) => Some(((line_no - 1) / n as u64) as i64),
            WindowSpec::Time(ms) => {
                let t = fields
                    .as_ref()
                    .and_then(|f| f.as_ref())
                    .and_then(|f| det.time_fields.parse(f));
                if t.is_none() {
                    self.data.stats.untimed += 1;
                }
                t.map(|t| t.div_euclid(ms))
            }
        };
        let kw = match level {
            Some(l) => keywords::scan_with_level(content, l),
            None => keywords::scan(content),
        };
        // Close the current window when this line belongs to a later one.
        let closed = match (&self.data.current, bucket) {
            (Some(cur), Some(b)) => match cur.bucket {
                Some(cb) if b > cb => self.close(),
                Some(cb) => {
                    if b < cb {
                        self.data.stats.late += 1;
                    }
                    None
                }
                None => None,
            },
            _ => None,
        };
        let outcome = self.data.miner.learn_content(content);
        self.data.lines = line_no;
        let track = self.data.tracks.entry(outcome.id).or_insert_with(|| {
            // The template had 0 lines in every earlier window: its series starts with
            // them, so a template that is new with many lines is a burst.
            let mut series = self.det.count_mad.online_state();
            let done = self.data.windows;
            let from = done.saturating_sub(self.det.count_mad.window() as u64);
            for step in from..done {
                let _ = series.update(step as i64, 0.0);
            }
            Track {
                count: 0,
                series,
                last_seen: done,
            }
        });
        // The miner counts the template's lines (this one included), also across the windows
        // in which the track was let go.
        track.count = self.data.miner.count(outcome.id);
        let new = outcome.change == Change::New && line_no > self.det.params.warmup_lines;
        let rare = (!new
            && self.det.params.rare_ratio > 0.0
            && line_no >= self.det.params.rare_min_lines
            && (track.count as f64) < self.det.params.rare_ratio * line_no as f64)
            .then_some((track.count, line_no));
        let cur = self.data.current.get_or_insert_with(|| Current {
            bucket,
            first_line: line_no,
            pending: Vec::new(),
            counts: FxHashMap::default(),
            keyword_lines: 0,
        });
        if cur.bucket.is_none() {
            cur.bucket = bucket;
        }
        *cur.counts.entry(outcome.id).or_default() += 1;
        cur.keyword_lines += u64::from(!kw.is_empty());
        cur.pending.push(Pending {
            line: line_no,
            template: outcome.id,
            new,
            rare,
            keywords: kw,
        });
        closed
    }

    /// Closes the current window (end of input); `None` when it holds no line.
    pub fn finish(&mut self) -> Option<ClosedWindow> {
        self.close()
    }

    fn close(&mut self) -> Option<ClosedWindow> {
        let cur = self.data.current.take()?;
        let index = self.data.windows;
        self.data.windows += 1;
        let step = index as i64;
        let mut reasons: Vec<Reason> = Vec::new();
        let mut bursting: FxHashMap<TemplateId, Reason> = FxHashMap::default();
        // Per-template count series, in id order so the reasons do not depend on hashing.
        let mut ids: Vec<TemplateId> = self.data.tracks.keys().copied().collect();
        ids.sort_unstable();
        let history = self.det.count_mad.window() as u64;
        for id in ids {
            let track = self.data.tracks.get_mut(&id).expect("listed above");
            let count = f64::from(cur.counts.get(&id).copied().unwrap_or(0));
            let scored = track.series.update(step, count);
            if count > 0.0 || track.last_seen == u64::MAX {
                track.last_seen = index;
            }
            // All zeros now (or evicted by the miner): let it go (see `Track`).
            if index - track.last_seen >= history || self.data.miner.count(id) == 0 {
                self.data.tracks.remove(&id);
            }
            let Ok(p) = scored else {
                continue;
            };
            let Some(median) = p.expected else {
                continue;
            };
            let z = capped_z(count, median, p.score);
            if z < self.det.params.count_threshold {
                continue;
            }
            let template = self.data.miner.template(id).unwrap_or_default();
            if count > median {
                let r = Reason {
                    signal: Signal::TemplateBurst,
                    score: z,
                    template: Some(id),
                    message: format!(
                        "template E{id} bursts: {count} lines in the window, median {median} (z {z:.1}): {template}"
                    ),
                };
                bursting.insert(id, r.clone());
                reasons.push(r);
            } else {
                reasons.push(Reason {
                    signal: Signal::TemplateVanish,
                    score: z,
                    template: Some(id),
                    message: format!(
                        "template E{id} vanishes: {count} lines in the window, median {median} (z {z:.1}): {template}"
                    ),
                });
            }
        }
        let kw = cur.keyword_lines as f64;
        if let Ok(p) = self.data.keyword_mad.update(step, kw)
            && let Some(median) = p.expected
        {
            let z = if kw > median {
                capped_z(kw, median, p.score)
            } else {
                0.0
            };
            if z >= self.det.params.count_threshold {
                reasons.push(Reason {
                    signal: Signal::KeywordRate,
                    score: z,
                    template: None,
                    message: format!("{kw} lines with error keywords, median {median} (z {z:.1})"),
                });
            }
        }
        if let Some(pca) = &mut self.data.pca {
            let counts: Vec<(TemplateId, u32)> =
                cur.counts.iter().map(|(&id, &c)| (id, c)).collect();
            if let Some(s @ SpeScore { spe, threshold, .. }) = pca.update(&counts)
                && s.is_anomaly()
            {
                let top = s
                    .top
                    .map(|(id, share)| format!(", {:.0}% from template E{id}", 100.0 * share))
                    .unwrap_or_default();
                reasons.push(Reason {
                    signal: Signal::Spe,
                    score: spe / threshold,
                    template: s.top.map(|t| t.0),
                    message: format!(
                        "template mix off the usual ones: SPE {spe:.3} > Q {threshold:.3}{top}"
                    ),
                });
            }
        }
        reasons.sort_by(|a, b| b.score.total_cmp(&a.score));
        let anomalous = !reasons.is_empty();
        let mut lines = Vec::new();
        let mut last_line = cur.first_line;
        for p in &cur.pending {
            last_line = p.line;
            let mut why = Vec::new();
            if p.new {
                why.push(Reason {
                    signal: Signal::NewTemplate,
                    score: 1.0,
                    template: Some(p.template),
                    message: format!("new template E{} after the warm-up", p.template),
                });
            }
            if let Some((count, seen)) = p.rare {
                let ratio = self.det.params.rare_ratio * seen as f64 / count as f64;
                why.push(Reason {
                    signal: Signal::RareTemplate,
                    score: ratio,
                    template: Some(p.template),
                    message: format!("rare template E{}: {count} of {seen} lines", p.template),
                });
            }
            if let Some(r) = bursting.get(&p.template) {
                why.push(r.clone());
            }
            if anomalous && !p.keywords.is_empty() {
                why.push(Reason {
                    signal: Signal::Keyword,
                    score: 1.0,
                    template: Some(p.template),
                    message: format!("keyword {} in an anomalous window", p.keywords.names()),
                });
            }
            let keyword = !p.keywords.is_empty();
            let anomalous_line = match self.det.params.line_rule {
                LineRule::Any => !why.is_empty(),
                LineRule::Keyword => {
                    keyword
                        && (p.new
                            || p.rare.is_some()
                            || bursting.contains_key(&p.template)
                            || anomalous)
                }
            };
            if anomalous_line {
                lines.push(LineReport {
                    line: p.line,
                    window: index,
                    template_id: p.template,
                    template: self.data.miner.template(p.template).unwrap_or_default(),
                    keywords: p.keywords.iter().map(|k| k.as_str().to_string()).collect(),
                    reasons: why,
                });
            }
        }
        let (start_ms, end_ms) = match (self.det.mode, cur.bucket) {
            (WindowSpec::Time(ms), Some(b)) => (Some(b * ms), Some((b + 1) * ms)),
            _ => (None, None),
        };
        self.data.stats.anomalous_windows += u64::from(anomalous);
        self.data.stats.anomalous_lines += lines.len() as u64;
        Some(ClosedWindow {
            window: WindowReport {
                index,
                start_ms,
                end_ms,
                first_line: cur.first_line,
                last_line,
                lines: cur.pending.len() as u64,
                keyword_lines: cur.keyword_lines,
                anomalous,
                reasons,
                anomalous_lines: lines.len() as u64,
            },
            lines,
        })
    }

    /// The whole state as JSON (parameters included).
    pub fn snapshot(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| LogError::Snapshot(e.to_string()))
    }

    /// A state saved by [`LogDetectorState::snapshot`].
    pub fn restore(snapshot: &str) -> Result<Self> {
        serde_json::from_str(snapshot).map_err(|e| LogError::Snapshot(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::synthetic_log::{FORMAT, logins, stamp};

    /// `minutes` one-minute windows of a steady service: 3 logins and 2 cache refreshes each,
    /// and a database error every 10th minute.
    fn steady(minutes: u64) -> Vec<String> {
        let mut out = Vec::new();
        for m in 0..minutes {
            out.extend(logins(m));
            for i in 0..2 {
                out.push(format!(
                    "{} INFO: cache refreshed in {} ms",
                    stamp(m * 60 + 35 + i * 10),
                    (m + i) % 9 + 1
                ));
            }
            if m % 10 == 5 {
                out.push(format!(
                    "{} ERROR: connection to db 10.1.0.{} failed",
                    stamp(m * 60 + 58),
                    m % 4
                ));
            }
        }
        out
    }

    fn no_pca() -> LogDetectorParams {
        LogDetectorParams::new().log_format(FORMAT).pca(None)
    }

    #[test]
    fn a_burst_of_a_known_template_is_flagged_with_its_lines() {
        let mut lines = steady(40);
        // Minute 40: the database error 25 times.
        let first = lines.len() as u64 + 1;
        for i in 0..25 {
            lines.push(format!(
                "{} ERROR: connection to db 10.1.0.{} failed",
                stamp(40 * 60 + i * 2),
                i % 4
            ));
        }
        lines.extend(steady(50).into_iter().skip(5 * 41 + 4));
        let report = no_pca().check().unwrap().detect(&lines);
        let anomalous: Vec<u64> = report
            .windows
            .iter()
            .filter(|w| w.anomalous)
            .map(|w| w.index)
            .collect();
        assert_eq!(anomalous, vec![40], "{:#?}", report.windows);
        let w = report.windows.iter().find(|w| w.index == 40).unwrap();
        assert!(
            w.reasons
                .iter()
                .any(|r| r.signal == Signal::TemplateBurst && r.score >= 4.0),
            "{w:?}"
        );
        let flagged: Vec<u64> = report.lines.iter().map(|l| l.line).collect();
        assert_eq!(flagged, (first..first + 25).collect::<Vec<_>>());
        assert!(
            report.lines[0]
                .reasons
                .iter()
                .any(|r| r.signal == Signal::TemplateBurst)
        );
        assert_eq!(report.lines[0].keywords, vec!["error", "fail"]);
        assert_eq!(report.stats.lines, lines.len() as u64);
    }

    #[test]
    fn a_vanishing_template_flags_its_window() {
        let mut lines = steady(30);
        // Minute 30: the logins stop.
        for i in 0..2 {
            lines.push(format!(
                "{} INFO: cache refreshed in {} ms",
                stamp(30 * 60 + 35 + i * 10),
                i + 1
            ));
        }
        let report = no_pca()
            .count_threshold(1.5)
            .check()
            .unwrap()
            .detect(&lines);
        let w = report.windows.last().unwrap();
        assert_eq!(w.index, 30);
        assert!(
            w.reasons.iter().any(|r| r.signal == Signal::TemplateVanish),
            "{w:?}"
        );
        assert!(
            report.lines.is_empty(),
            "no keyword line: {:?}",
            report.lines
        );
    }

    #[test]
    fn a_new_template_after_the_warm_up_is_flagged() {
        let mut lines = steady(130);
        assert!(lines.len() > 600);
        let at = lines.len() as u64 + 1;
        lines.push(format!("{} ERROR: disk sda1 failed", stamp(130 * 60 + 1)));
        lines.push(format!("{} INFO: config reloaded", stamp(130 * 60 + 2)));
        let det = no_pca().warmup_lines(600).check().unwrap();
        let report = det.detect(&lines);
        let flagged: Vec<u64> = report.lines.iter().map(|l| l.line).collect();
        // The keyword rule: the new template without an error keyword is not a line anomaly.
        assert_eq!(flagged, vec![at]);
        assert_eq!(report.lines[0].reasons[0].signal, Signal::NewTemplate);
        assert_eq!(report.lines[0].template, "disk sda1 failed");
        // The `any` rule reports both.
        let any = no_pca()
            .warmup_lines(600)
            .line_rule(LineRule::Any)
            .check()
            .unwrap()
            .detect(&lines);
        let flagged: Vec<u64> = any.lines.iter().map(|l| l.line).collect();
        assert_eq!(flagged, vec![at, at + 1]);
        // Within the warm-up, new templates are the vocabulary being learned.
        let early = no_pca()
            .warmup_lines(10_000)
            .check()
            .unwrap()
            .detect(&lines);
        assert!(early.lines.is_empty());
    }

    #[test]
    fn rare_templates_need_history() {
        // 1,500 lines of one template, then one line of a template seen at line 3.
        let mut lines: Vec<String> = (0..1500).map(|i| format!("job {i} done")).collect();
        lines[2] = "worker crashed with error 7".to_string();
        lines.push("worker crashed with error 9".to_string());
        let det = LogDetectorParams::new().pca(None).check().unwrap();
        assert_eq!(
            det.mode(),
            WindowSpec::Lines(100),
            "no format: line windows"
        );
        let report = det.detect(&lines);
        let flagged: Vec<u64> = report.lines.iter().map(|l| l.line).collect();
        assert_eq!(
            flagged,
            vec![1501],
            "line 3 is in the warm-up and before rare_min_lines"
        );
        let r = &report.lines[0].reasons[0];
        assert_eq!(r.signal, Signal::RareTemplate);
        assert!(r.message.contains("2 of 1501"), "{}", r.message);
    }

    #[test]
    fn tracks_follow_templates_in_use_and_the_reader_equals_bytes() {
        // Every line a new template (ids no mask catches), then a steady tail.
        let mut text = String::new();
        for i in 0..3000u64 {
            let w: String = (0..6)
                .map(|k| (b'a' + ((i * 7 + k * 13 + i / 26) % 26) as u8) as char)
                .collect();
            text.push_str(&format!("{w} {w}x {w}y {w}z\n"));
        }
        for i in 0..2000 {
            text.push_str(&format!("job {} done\n", i % 5));
        }
        let det = LogDetectorParams::new()
            .window(WindowSpec::Lines(50))
            .count_history(20)
            .count_min_windows(5)
            .check()
            .unwrap();
        let mut state = det.state();
        let mut most = 0;
        for l in text.lines() {
            state.update(l);
            most = most.max(state.data.tracks.len());
        }
        // At most the templates of the last 20 windows of 50 lines, plus the open window's.
        assert!(most <= 21 * 50, "{most} tracks");
        assert!(state.data.tracks.len() <= 2, "{}", state.data.tracks.len());
        let batch = det.detect_bytes(text.as_bytes());
        let mut reader = LineReader::new(text.as_bytes());
        let streamed = det.detect_reader(&mut reader, &mut |_| {}).unwrap();
        assert_eq!(streamed, batch);
    }

    #[test]
    fn online_equals_batch_across_snapshots() {
        let mut lines = steady(60);
        // Bad input on the way: no header, a late line, an untimed line, a burst, a new
        // template.
        lines.insert(50, "no header here at all".to_string());
        lines.insert(120, format!("{} INFO: user late logged in", stamp(60)));
        lines.insert(200, "2024-01-01 xx:yy:zz INFO: clock broken".to_string());
        let now = lines[250][..19].to_string();
        for i in 0..20 {
            lines.insert(250, format!("{now} ERROR: fan {i} failed"));
        }
        lines.push(format!("{} FATAL: kernel panic", stamp(3700)));
        let det = LogDetectorParams::new()
            .log_format(FORMAT)
            .warmup_lines(100)
            .pca(Some(CountPcaParams::new().min_windows(10).refit_every(5)))
            .check()
            .unwrap();
        let batch = det.detect(&lines);
        assert!(!batch.lines.is_empty() && !batch.windows.is_empty());
        for cut in [0, 1, 77, 250, lines.len() - 1] {
            let mut state = det.state();
            let mut report = LogReport {
                window: det.mode().to_string(),
                ..LogReport::default()
            };
            for (i, l) in lines.iter().enumerate() {
                if i == cut {
                    let snap = state.snapshot().unwrap();
                    state = LogDetectorState::restore(&snap).unwrap();
                }
                if let Some(c) = state.update(l) {
                    report.push(c);
                }
            }
            if let Some(c) = state.finish() {
                report.push(c);
            }
            report.stats = state.stats();
            assert_eq!(report, batch, "snapshot at line {cut}");
        }
        let s = &batch.stats;
        assert_eq!(s.lines, lines.len() as u64);
        assert_eq!((s.header_unmatched, s.untimed, s.late), (1, 2, 1));
    }

    #[test]
    fn bytes_empty_input_and_line_endings() {
        let det = LogDetectorParams::new().log_format(FORMAT).check().unwrap();
        let empty = det.detect_bytes(b"");
        assert_eq!(empty.stats.lines, 0);
        assert!(empty.windows.is_empty() && empty.lines.is_empty());
        let r = det.detect_bytes(
            b"2024-01-01 00:00:01 INFO: a \xff b\r\n\n2024-01-01 00:00:02 INFO: ok\nlast",
        );
        assert_eq!(
            r.stats.lines, 4,
            "the empty line and the unterminated last count"
        );
        assert_eq!(r.stats.invalid_utf8, 1);
        assert_eq!(r.stats.header_unmatched, 2);
        let same = det.detect(&[
            "2024-01-01 00:00:01 INFO: a \u{fffd} b",
            "",
            "2024-01-01 00:00:02 INFO: ok",
            "last",
        ]);
        assert_eq!(same.lines, r.lines);
        assert_eq!(same.windows, r.windows);
    }

    #[test]
    fn window_specs_and_assignments() {
        assert_eq!(WindowSpec::parse("60s").unwrap(), WindowSpec::Time(60_000));
        assert_eq!(WindowSpec::parse("5m").unwrap(), WindowSpec::Time(300_000));
        assert_eq!(WindowSpec::parse("250ms").unwrap(), WindowSpec::Time(250));
        assert_eq!(
            WindowSpec::parse("1000lines").unwrap(),
            WindowSpec::Lines(1000)
        );
        assert_eq!(WindowSpec::parse("2h").unwrap().to_string(), "2h");
        // The one duration parser's other spellings, and a bare number of seconds.
        assert_eq!(
            WindowSpec::parse("1h30m").unwrap(),
            WindowSpec::Time(5_400_000)
        );
        assert_eq!(
            WindowSpec::parse(" 60 s").unwrap(),
            WindowSpec::Time(60_000)
        );
        assert_eq!(WindowSpec::parse("90").unwrap(), WindowSpec::Time(90_000));
        for bad in ["", "s", "0s", "-5m", "5 parsecs", "99999999999999999999d"] {
            assert!(WindowSpec::parse(bad).is_err(), "{bad}");
        }
        let p = LogDetectorParams::new()
            .assign("rare_ratio", "0.01")
            .unwrap()
            .assign("window", "5m")
            .unwrap()
            .assign("pca.alpha", "0.01")
            .unwrap()
            .assign("line_rule", "any")
            .unwrap();
        assert_eq!(p.rare_ratio, 0.01);
        assert_eq!(p.window, WindowSpec::Time(300_000));
        assert_eq!(p.line_rule, LineRule::Any);
        assert_eq!(p.pca, Some(CountPcaParams::new().alpha(0.01)));
        let off = p.clone().assign("pca", "null").unwrap();
        assert_eq!(off.pca, None);
        let back = off.assign("pca.history", "50").unwrap();
        assert_eq!(back.pca, Some(CountPcaParams::new().history(50)));
        for (k, v) in [("nope", "1"), ("rare_ratio", "abc"), ("nope.x", "1")] {
            assert!(
                matches!(
                    LogDetectorParams::new().assign(k, v),
                    Err(LogError::BadParams { .. })
                ),
                "{k}={v}"
            );
        }
    }

    #[test]
    fn bad_params_are_named() {
        let name = |p: LogDetectorParams| match p.check() {
            Err(LogError::InvalidParameter { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            name(LogDetectorParams::new().fallback_lines(0)),
            "fallback_lines"
        );
        assert_eq!(name(LogDetectorParams::new().rare_ratio(1.0)), "rare_ratio");
        assert_eq!(
            name(LogDetectorParams::new().rare_min_lines(0)),
            "rare_min_lines"
        );
        assert_eq!(
            name(LogDetectorParams::new().count_threshold(0.0)),
            "count_threshold"
        );
        assert_eq!(
            name(LogDetectorParams::new().count_history(2)),
            "count_history"
        );
        assert_eq!(
            name(LogDetectorParams::new().count_min_windows(100)),
            "count_min_windows"
        );
        assert!(matches!(
            LogDetectorParams::new()
                .log_format("<Date> no content")
                .check(),
            Err(LogError::LogFormat { .. })
        ));
        assert!(LogDetectorState::restore("{}").is_err());
    }
}
