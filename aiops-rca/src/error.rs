//! The one error type of `aiops-rca`.

use aiops_core::CoreError;

/// What can go wrong in root-cause analysis: ranking, causal discovery, runbooks.
#[derive(Debug, thiserror::Error)]
// Exhaustive on purpose: the Python binding maps every variant to an exception class with a
// `match` that has no catch-all arm, so a new variant must be given its Python class.
pub enum RcaError {
    /// A parameter or configuration value is out of range or inconsistent.
    #[error("invalid {name}: {reason}")]
    InvalidParameter {
        /// Which parameter.
        name: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// A YAML document (domain knowledge for causal discovery) could not be read.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A metric column name is not `<resource>:<metric>`.
    #[error("column {column:?} is not named <resource>:<metric>")]
    BadColumnName {
        /// The column header.
        column: String,
    },
    /// A metric column names a resource the topology does not have.
    #[error("column {column:?} names resource {resource:?}, which is not in the topology")]
    UnknownColumnResource {
        /// The column header.
        column: String,
        /// The resource part of the header (the longest prefix before a `:`).
        resource: String,
    },
    /// The metric table's shape is inconsistent (column lengths, names).
    #[error("bad metric table: {0}")]
    MetricShape(String),
    /// A column has no value at all (every cell missing), so it cannot be interpolated.
    #[error("column {column:?} has no value (every cell is missing)")]
    EmptyColumn {
        /// The column header.
        column: String,
    },
    /// Every column is constant: there is nothing to rank.
    #[error("every metric column is constant over the data: nothing changed, nothing to rank")]
    AllConstant,
    /// Too few points to tell a normal period from an abnormal one.
    #[error("not enough data: {0}")]
    NotEnoughData(String),
    /// The anomaly time is not inside the data (or leaves too little before or after it).
    #[error("anomaly time {time} ms is outside the usable data [{first}, {last}] ms: {reason}")]
    AnomalyTimeOutside {
        /// The anomaly time given (ms since the epoch).
        time: i64,
        /// First usable anomaly time (ms).
        first: i64,
        /// Last usable anomaly time (ms).
        last: i64,
        /// Why it cannot be used.
        reason: String,
    },
    /// No anomaly time was given and none could be found in the data.
    #[error("no anomaly time given and no change found in the data: {0}")]
    NoChangeFound(String),
    /// An unknown ranking method name.
    #[error("unknown method {name:?}; known: {known}")]
    UnknownMethod {
        /// The name given.
        name: String,
        /// The accepted names.
        known: String,
    },
    /// A value of the data matrix is NaN or infinite (missing values are not imputed).
    #[error("non-finite value {value} at row {row}, variable {variable:?}")]
    NonFiniteValue {
        /// Row (sample) index, from 0.
        row: usize,
        /// Variable (column) name.
        variable: String,
        /// The value found.
        value: f64,
    },
    /// A variable does not vary: its correlation with anything is undefined.
    #[error("variable {0:?} is constant: it carries no information for a dependence test")]
    ConstantVariable(String),
    /// Variables are exact linear combinations of each other (their correlation matrix is
    /// singular), so partial correlations are undefined.
    #[error("variables are collinear: {0} is a linear combination of the others")]
    CollinearVariables(String),
    /// Too few samples (rows) for the method.
    #[error("not enough samples: {samples} given, {needed} needed ({reason})")]
    NotEnoughSamples {
        /// Samples given.
        samples: usize,
        /// Samples needed.
        needed: usize,
        /// Why that many.
        reason: String,
    },
    /// Two inputs that must agree in size do not.
    #[error("{what}: expected {expected}, got {got}")]
    DimensionMismatch {
        /// Which input.
        what: &'static str,
        /// Expected size.
        expected: usize,
        /// Size found.
        got: usize,
    },
    /// A constraint or a name refers to a variable that is not in the data.
    #[error("unknown variable {name:?} in {context}; known: {known}")]
    UnknownVariable {
        /// The name as written.
        name: String,
        /// Where it was found (for example "forbidden edges").
        context: String,
        /// The known names, comma separated (the first few).
        known: String,
    },
    /// Domain constraints that cannot all hold (an edge both required and forbidden, required
    /// edges forming a cycle, ...).
    #[error("contradictory constraints: {0}")]
    ContradictoryConstraints(String),
    /// A runbook document could not be read.
    #[error("runbook {document}: {reason}")]
    Runbook {
        /// The file (or document name) at fault.
        document: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A runbook file or folder could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Invalid input data (timestamps, topology, labels...).
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Result alias of `aiops-rca`.
pub type Result<T, E = RcaError> = std::result::Result<T, E>;
