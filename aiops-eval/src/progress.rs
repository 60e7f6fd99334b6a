//! Progress of the long evaluations: every runner that takes a while has a `*_with_progress`
//! form that calls `progress(done, total)` after each unit of work (a series, a system, a
//! case), from whichever thread finished it. The callback draws nothing itself: the command
//! line turns it into a progress bar on a terminal.

use std::sync::atomic::{AtomicUsize, Ordering};

/// A progress callback: `(units done, units in all)`. Called from worker threads, hence `Sync`.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// The callback that reports nothing.
pub fn no_progress(_done: usize, _total: usize) {}

/// Counts finished units and reports each to a [`Progress`].
pub(crate) struct Counter<'a> {
    done: AtomicUsize,
    total: usize,
    report: Progress<'a>,
}

impl<'a> Counter<'a> {
    /// A counter of `total` units; reports `(0, total)` at once.
    pub(crate) fn new(total: usize, report: Progress<'a>) -> Self {
        report(0, total);
        Self {
            done: AtomicUsize::new(0),
            total,
            report,
        }
    }

    /// One more unit is done.
    pub(crate) fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        (self.report)(done.min(self.total), self.total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn counts_to_the_total() {
        let seen = Mutex::new(Vec::new());
        let report = |d, t| seen.lock().unwrap().push((d, t));
        let c = Counter::new(2, &report);
        c.tick();
        c.tick();
        assert_eq!(*seen.lock().unwrap(), [(0, 2), (1, 2), (2, 2)]);
    }
}
