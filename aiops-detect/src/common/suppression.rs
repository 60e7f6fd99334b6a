//! Alarm suppression: turns per-point flags into alarms an operator can act on.
//!
//! Two rules, shared by every detector:
//! - `min_duration`: a run of flagged points raises an alarm only once it has lasted this many
//!   points (1 = at once), which filters one-point blips on noisy metrics;
//! - `min_gap`: after an alarm, no new alarm for this many points, so one incident pages once.
//!
//! Streaming and batch agree: [`Suppressor::update`] takes one flag at a time, and
//! [`Suppressor::apply`] runs the same state over a whole column.

use serde::{Deserialize, Serialize};

use crate::error::{DetectError, Result};

/// Suppression rules (both default to "no suppression").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SuppressionParams {
    /// Flagged points in a row needed before an alarm (>= 1).
    pub min_duration: usize,
    /// Points after an alarm during which no new alarm is raised.
    pub min_gap: usize,
}

impl Default for SuppressionParams {
    fn default() -> Self {
        Self {
            min_duration: 1,
            min_gap: 0,
        }
    }
}

impl SuppressionParams {
    /// Validates and builds a fresh suppressor.
    pub fn build(&self) -> Result<Suppressor> {
        if self.min_duration == 0 {
            return Err(DetectError::InvalidParameter {
                name: "min_duration",
                reason: "must be at least 1 point".into(),
            });
        }
        Ok(Suppressor {
            params: *self,
            run: 0,
            since_alarm: None,
            alarmed: false,
        })
    }
}

/// Streaming suppression state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppressor {
    params: SuppressionParams,
    /// Length of the current run of flagged points.
    run: usize,
    /// Points since the last alarm.
    since_alarm: Option<usize>,
    /// Whether the current run has raised its alarm.
    alarmed: bool,
}

impl Suppressor {
    /// Takes one point's flag; returns whether it raises an alarm.
    pub fn update(&mut self, flagged: bool) -> bool {
        if let Some(s) = self.since_alarm.as_mut() {
            *s += 1;
        }
        self.run = if flagged { self.run + 1 } else { 0 };
        let quiet = self.since_alarm.is_none_or(|s| s > self.params.min_gap);
        // The alarm fires on the point that completes `min_duration`, once per run.
        let alarm = flagged && self.run == self.params.min_duration && quiet;
        if alarm {
            self.since_alarm = Some(0);
        }
        self.alarmed = flagged && (alarm || self.alarmed);
        alarm
    }

    /// Takes one point's flag; returns whether the point belongs to an alarmed run, from its
    /// alarm point on: the flags that survive suppression.
    pub fn keep(&mut self, flagged: bool) -> bool {
        self.update(flagged);
        self.alarmed
    }

    /// The flags of a whole column that survive suppression (see [`Suppressor::keep`]).
    pub fn filter(params: &SuppressionParams, flags: &[bool]) -> Result<Vec<bool>> {
        let mut s = params.build()?;
        Ok(flags.iter().map(|&f| s.keep(f)).collect())
    }

    /// Applies the rules to a whole column of flags (from a fresh state).
    pub fn apply(params: &SuppressionParams, flags: &[bool]) -> Result<Vec<bool>> {
        let mut s = params.build()?;
        Ok(flags.iter().map(|&f| s.update(f)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(s: &str) -> Vec<bool> {
        s.chars().map(|c| c == '1').collect()
    }

    fn show(v: &[bool]) -> String {
        v.iter().map(|&b| if b { '1' } else { '0' }).collect()
    }

    #[test]
    fn duration_and_gap() {
        let f = flags("0111001100011110");
        type Run = fn(&SuppressionParams, &[bool]) -> Result<Vec<bool>>;
        let (apply, filter): (Run, Run) = (Suppressor::apply, Suppressor::filter);
        let cases = [
            (apply, 1, 0, "0100001000010000"),
            (apply, 2, 0, "0010000100001000"),
            (apply, 3, 0, "0001000000000100"),
            (apply, 1, 6, "0100000000010000"),
            (apply, 1, 100, "0100000000000000"),
            (filter, 2, 0, "0011000100001110"),
            (filter, 1, 6, "0111000000011110"),
        ];
        for (run, min_duration, min_gap, want) in cases {
            let p = SuppressionParams {
                min_duration,
                min_gap,
            };
            assert_eq!(show(&run(&p, &f).unwrap()), want, "{p:?}");
        }
    }

    #[test]
    fn streaming_equals_batch_and_snapshots() {
        let f: Vec<bool> = (0..500).map(|i| (i * 7919) % 13 < 4).collect();
        let p = SuppressionParams {
            min_duration: 2,
            min_gap: 5,
        };
        let batch = Suppressor::apply(&p, &f).unwrap();
        let mut s = p.build().unwrap();
        for (i, &x) in f.iter().enumerate() {
            if i == 250 {
                s = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
            }
            assert_eq!(s.update(x), batch[i], "point {i}");
        }
        assert!(batch.iter().any(|&a| a));
    }

    #[test]
    fn bad_params() {
        let p = SuppressionParams {
            min_duration: 0,
            min_gap: 0,
        };
        assert!(p.build().is_err());
    }
}
