//! Which per-series (or per-stream) states a pipeline holds in memory: the ones that were
//! dropped for being idle (restored from the store at their next input), and how many are
//! active, which the series and stream limits count.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// See the module docs. Shared by the ingest side (the limit) and the pipeline's task (the
/// states).
#[derive(Debug, Default)]
pub(crate) struct Residency {
    /// Ids whose idle state was saved and dropped.
    evicted: Mutex<HashSet<i64>>,
    /// States in memory, as the pipeline last reported.
    active: AtomicUsize,
    /// Series or streams made since that report.
    created: AtomicUsize,
}

impl Residency {
    /// Active ones: those in memory at the last report plus those made since (an estimate
    /// while a batch of new ones waits in the queue).
    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed) + self.created.load(Ordering::Relaxed)
    }

    /// Records `n` new series or streams.
    pub(crate) fn created(&self, n: usize) {
        self.created.fetch_add(n, Ordering::Relaxed);
    }

    /// Reports the states in memory.
    pub(crate) fn report<S>(&self, states: &HashMap<i64, S>) {
        self.created.store(0, Ordering::Relaxed);
        self.active.store(states.len(), Ordering::Relaxed);
    }

    /// Marks `ids` as dropped (their states saved already).
    pub(crate) fn dropped(&self, ids: impl IntoIterator<Item = i64>) {
        self.evicted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(ids);
    }

    /// Whether `id` was dropped, forgetting it (its state is being restored).
    pub(crate) fn take(&self, id: i64) -> bool {
        self.evicted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id)
    }

    /// Drops the states `idle` says are idle (saved already), counting them in `counter`, and
    /// reports what is left.
    pub(crate) fn evict<S>(
        &self,
        states: &mut HashMap<i64, S>,
        idle: impl Fn(&S) -> bool,
        counter: &AtomicU64,
    ) {
        let ids: Vec<i64> = states
            .iter()
            .filter(|(_, s)| idle(s))
            .map(|(&id, _)| id)
            .collect();
        counter.fetch_add(ids.len() as u64, Ordering::Relaxed);
        for id in &ids {
            states.remove(id);
        }
        self.dropped(ids);
        self.report(states);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicted_ids_are_taken_once_and_counts_follow_the_states() {
        let r = Residency::default();
        let mut states: HashMap<i64, bool> = [(1, true), (2, false), (3, true)].into();
        r.created(3);
        assert_eq!(r.active(), 3);
        r.report(&states);
        assert_eq!(r.active(), 3);
        let evicted = AtomicU64::new(0);
        r.evict(&mut states, |&idle| idle, &evicted);
        assert_eq!((r.active(), evicted.load(Ordering::Relaxed)), (1, 2));
        assert!(r.take(1) && !r.take(1) && r.take(3) && !r.take(2));
        r.created(1);
        assert_eq!(r.active(), 2);
    }
}
