//! What the metric and log pipelines' saves of their per-series and per-stream detector states
//! share: which save it is, its order (the longest-unsaved first), its chunks and its clock.
//!
//! A save writes [`CHECKPOINT_CHUNK`] states per store transaction and stops after the chunk
//! that used up its time: a periodic save a fifth of the interval (the rest waits for the next
//! one, first in line), the last save at shutdown `shutdown_save_s` (0: no limit). A state
//! left unsaved loses nothing: what it saw is committed, and the next start replays it.

use std::time::{Duration, Instant};

/// States serialised and written per store transaction.
pub const CHECKPOINT_CHUNK: usize = 128;

/// Which save a pipeline makes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Save {
    /// A periodic one, with its time budget.
    Periodic(Duration),
    /// Every changed state, within the time given if any (at shutdown: `shutdown_save_s`).
    Last(Option<Duration>),
}

impl Save {
    /// The save [`crate::worker::Worker::save`] asks for: periodic (a fifth of the interval)
    /// or, when `last`, the one at shutdown.
    pub(crate) fn of(last: bool, interval_s: u64, shutdown_save_s: u64) -> Self {
        if last {
            Save::Last((shutdown_save_s > 0).then(|| Duration::from_secs(shutdown_save_s)))
        } else {
            Save::Periodic(Duration::from_secs(interval_s.max(1)) / 5)
        }
    }

    /// Whether it is a periodic save.
    pub(crate) fn periodic(self) -> bool {
        matches!(self, Save::Periodic(_))
    }
}

/// One save under way: the ids to write in order, and its clock.
pub(crate) struct SaveRun {
    save: Save,
    started: Instant,
    order: Vec<(u64, i64)>,
}

impl SaveRun {
    /// A save of the states given as `(round last saved, id)`: the longest-unsaved first.
    pub(crate) fn new(save: Save, states: impl Iterator<Item = (u64, i64)>) -> Self {
        let mut order: Vec<(u64, i64)> = states.collect();
        order.sort_unstable();
        Self {
            save,
            started: Instant::now(),
            order,
        }
    }

    /// The ids to write, [`CHECKPOINT_CHUNK`] at a time.
    pub(crate) fn chunks(&self) -> impl Iterator<Item = impl Iterator<Item = i64> + '_> + '_ {
        self.order
            .chunks(CHECKPOINT_CHUNK)
            .map(|c| c.iter().map(|&(_, id)| id))
    }

    /// Whether the save used up its time (check after each chunk).
    pub(crate) fn spent(&self) -> bool {
        let budget = match self.save {
            Save::Periodic(b) => Some(b),
            Save::Last(b) => b,
        };
        budget.is_some_and(|b| self.started.elapsed() >= b)
    }

    /// After the last save: warns when it stopped with `left` states unsaved, which the next
    /// start rebuilds by replaying their committed `what` (samples, lines).
    pub(crate) fn report_left(&self, left: usize, seconds: u64, what: &str) {
        if let Save::Last(Some(_)) = self.save
            && left > 0
        {
            tracing::warn!(
                states = left,
                seconds,
                "the save at shutdown used its time; the states left unsaved replay their stored {what} at the next start"
            );
        }
    }
}
