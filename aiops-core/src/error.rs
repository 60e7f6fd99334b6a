//! The one error type of `aiops-core`.

/// Everything that can go wrong in `aiops-core`: invalid data, malformed input, IO.
///
/// Line numbers are 1-based and count every physical line of the input, header included.
#[derive(Debug, thiserror::Error)]
// Exhaustive on purpose: the Python binding maps every variant to an exception class with a
// `match` that has no catch-all arm, so a new variant must be given its Python class.
pub enum CoreError {
    /// A series or input holds no data points.
    #[error("empty input: {0}")]
    Empty(String),

    /// Two parallel columns have different lengths.
    #[error("length mismatch: {timestamps} timestamps but {values} values")]
    LengthMismatch {
        /// Number of timestamps.
        timestamps: usize,
        /// Number of values.
        values: usize,
    },

    /// A timestamp is smaller than the one before it.
    #[error(
        "timestamps not sorted (they must strictly increase): point {index} is at {}, before the previous point's {}",
        crate::time::format_datetime(*timestamp),
        crate::time::format_datetime(*previous)
    )]
    Unsorted {
        /// Index of the offending point (0-based).
        index: usize,
        /// Its timestamp, ms since the epoch.
        timestamp: i64,
        /// The previous point's timestamp, ms since the epoch.
        previous: i64,
    },

    /// A timestamp occurs twice.
    #[error(
        "duplicate timestamp {} at point {index}",
        crate::time::format_datetime(*timestamp)
    )]
    DuplicateTimestamp {
        /// Index of the second occurrence (0-based).
        index: usize,
        /// The repeated timestamp, ms since the epoch.
        timestamp: i64,
    },

    /// A value is NaN or infinite where a finite number is required.
    #[error(
        "value at point {index} ({}) is not finite: {value}",
        crate::time::format_datetime(*timestamp)
    )]
    NonFinite {
        /// Index of the point (0-based).
        index: usize,
        /// Its timestamp, ms since the epoch.
        timestamp: i64,
        /// The value.
        value: f64,
    },

    /// A label name breaks Prometheus' naming rules (`[a-zA-Z_][a-zA-Z0-9_]*`).
    #[error("invalid label name {0:?}: must match [a-zA-Z_][a-zA-Z0-9_]*")]
    InvalidLabelName(String),

    /// A label has an empty value (Prometheus treats it as absent; aiops asks for it to be left out).
    #[error("label {0:?} has an empty value")]
    EmptyLabelValue(String),

    /// A label name occurs twice in one label set.
    #[error("duplicate label name {0:?}")]
    DuplicateLabel(String),

    /// A parameter or argument is out of its valid range.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },

    /// Text that should name a timestamp does not.
    #[error(
        "invalid timestamp {text:?}: expected RFC 3339, 'YYYY-MM-DD HH:MM:SS', or unix seconds / milliseconds"
    )]
    InvalidTimestamp {
        /// The text that failed to parse.
        text: String,
    },

    /// Text that should name a duration (`5m`, `1h30m`) does not.
    #[error("invalid duration {text:?}: {reason}")]
    InvalidDuration {
        /// The text as written.
        text: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Text that should name a value of some enumeration does not.
    #[error("unknown {what} {text:?}; expected one of: {expected}")]
    UnknownVariant {
        /// What kind of value was expected (`severity`, `edge kind`...).
        what: &'static str,
        /// The text given.
        text: String,
        /// The accepted spellings, comma-separated.
        expected: &'static str,
    },

    /// A topology refers to a node that does not exist, or declares one twice.
    #[error("invalid topology: {0}")]
    InvalidTopology(String),

    /// A resource is not in the topology.
    #[error("unknown resource {0:?}: not in the topology")]
    UnknownResource(String),

    /// `runs_on` edges form a cycle (a host cannot run on what runs on it).
    #[error("runs_on edges form a cycle through {0}")]
    RunsOnCycle(String),

    /// Malformed CSV input.
    #[error("CSV line {line}: {message}")]
    Csv {
        /// 1-based line number.
        line: u64,
        /// What is wrong there.
        message: String,
    },

    /// A line of a single column of values is not a number.
    #[error("line {line}: {text:?} is not a number")]
    NotANumber {
        /// 1-based line number.
        line: u64,
        /// The line, trimmed.
        text: String,
    },

    /// An input meant to hold one series holds another number of them.
    #[error("{found} series found; one expected")]
    SeriesCount {
        /// How many series the input holds.
        found: usize,
    },

    /// Malformed JSON input.
    #[error("JSON{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Json {
        /// 1-based line number, where the input is line oriented or serde reports one.
        line: Option<u64>,
        /// What is wrong there.
        message: String,
    },

    /// A Prometheus API response reported an error or has an unexpected shape.
    #[error("Prometheus response: {0}")]
    Prometheus(String),

    /// Reading or writing failed.
    #[error("IO error: {0}")]
    Io(#[from] std::io::Error),
}

impl CoreError {
    /// A [`CoreError::Json`] from serde_json's error, its position said once: the message
    /// without serde's ` at line L column C`, then `(column C)`. `line` is the line of a
    /// line-oriented input (JSON lines), whose single-line text serde saw; `None` takes
    /// serde's line (a whole document).
    pub fn json(e: &serde_json::Error, line: Option<u64>) -> Self {
        let text = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = text.strip_suffix(&suffix).unwrap_or(&text);
        let (line, message) = match (line, e.line()) {
            (Some(l), _) => (Some(l), format!("{message} (column {})", e.column())),
            (None, 0) => (None, message.to_string()),
            (None, l) => (Some(l as u64), format!("{message} (column {})", e.column())),
        };
        CoreError::Json { line, message }
    }
}

/// Result alias of `aiops-core`.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
