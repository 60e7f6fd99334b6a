#![doc = include_str!("../README.md")]

pub mod action;
pub mod builtin;
pub mod cron;
pub mod diagnostic;
pub mod engine;
mod expr;
pub mod host;
pub mod model;
pub mod validate;

pub use action::{Action, ActionCtx, ActionError, Effect, ParamKind, ParamSpec, Registry};
pub use diagnostic::{Diagnostic, Invalid, Level, Pos};
pub use engine::{Engine, RunOptions, RunRecord, Status, StepRecord, Throttle, TriggerEvent};
pub use host::{ActionHost, AuditEntry, NoHost, Remediation};
pub use model::{Step, StepPolicy, Trigger, Workflow};
pub use validate::{WorkflowSet, lint};
