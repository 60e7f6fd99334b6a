//! What lint and load report: an error or a warning with the file, the workflow, the step and
//! the position it is about.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The workflow can run, but something it names is missing (a system not configured).
    Warning,
    /// The workflow is invalid and will not run.
    Error,
}

/// A line and column in a YAML file (both from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Pos {
    /// Line, from 1.
    pub line: u64,
    /// Column, from 1.
    pub column: u64,
}

impl Pos {
    /// The position of a serde-saphyr location, when it has one.
    pub(crate) fn from_location(l: &serde_saphyr::Location) -> Option<Self> {
        (l.line() > 0).then(|| Self {
            line: l.line(),
            column: l.column(),
        })
    }
}

/// One finding of load or lint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub level: Level,
    /// The file, when the workflows came from one.
    pub file: Option<PathBuf>,
    /// The workflow, when the finding is inside one.
    pub workflow: Option<String>,
    /// The step, when the finding is inside one.
    pub step: Option<String>,
    /// Where in the file.
    pub pos: Option<Pos>,
    /// What is wrong, in words.
    pub message: String,
}

impl Diagnostic {
    /// An error about `message`, with no place yet.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            level: Level::Error,
            file: None,
            workflow: None,
            step: None,
            pos: None,
            message: message.into(),
        }
    }

    /// A warning about `message`, with no place yet.
    pub fn warning(message: impl Into<String>) -> Self {
        Self {
            level: Level::Warning,
            ..Self::error(message)
        }
    }

    /// In workflow `w`.
    pub fn in_workflow(mut self, w: &str) -> Self {
        self.workflow = Some(w.to_string());
        self
    }

    /// In step `s`.
    pub fn in_step(mut self, s: &str) -> Self {
        self.step = Some(s.to_string());
        self
    }

    /// At `pos` (kept when `None`).
    pub fn at(mut self, pos: Option<Pos>) -> Self {
        if pos.is_some() {
            self.pos = pos;
        }
        self
    }

    /// Whether it is an error.
    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:column: error: workflow `w`, step `s`: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut place = Vec::new();
        if let Some(file) = &self.file {
            place.push(file.display().to_string());
        }
        if let Some(p) = self.pos {
            place.push(p.line.to_string());
            place.push(p.column.to_string());
        }
        if !place.is_empty() {
            write!(f, "{}: ", place.join(":"))?;
        }
        f.write_str(match self.level {
            Level::Error => "error: ",
            Level::Warning => "warning: ",
        })?;
        match (&self.workflow, &self.step) {
            (Some(w), Some(s)) => write!(f, "workflow `{w}`, step `{s}`: ")?,
            (Some(w), None) => write!(f, "workflow `{w}`: ")?,
            _ => {}
        }
        f.write_str(&self.message)
    }
}

/// Diagnostics that stopped a load: at least one is an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct Invalid(pub Vec<Diagnostic>);
