//! How many per-series (or per-stream) states a pipeline holds in memory, which the series and
//! stream limits count, and the eviction of the idle ones (saved first, restored from the
//! store at their next input).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Of `missing` (items whose key is not in `known`), those the store had (`found`, in the
/// same order: their id) are put in `known`: an item dropped from memory or made by another
/// process keeps its id and is not new. Returns the others, the new ones.
pub(crate) fn adopt_found<T>(
    missing: Vec<T>,
    found: Vec<Option<i64>>,
    key: impl Fn(T) -> String,
    known: &mut HashMap<String, i64>,
) -> Vec<T> {
    let mut new = Vec::with_capacity(missing.len());
    for (item, id) in missing.into_iter().zip(found) {
        match id {
            Some(id) => {
                known.insert(key(item), id);
            }
            None => new.push(item),
        }
    }
    new
}

/// See the module docs. Shared by the ingest side (the limit) and the pipeline's task (the
/// states).
#[derive(Debug, Default)]
pub(crate) struct Residency {
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

    /// Drops the states `idle` says are idle (saved already), counting them in `counter`,
    /// reports what is left and returns the ids dropped.
    pub(crate) fn evict<S>(
        &self,
        states: &mut HashMap<i64, S>,
        idle: impl Fn(&S) -> bool,
        counter: &AtomicU64,
    ) -> Vec<i64> {
        let ids: Vec<i64> = states
            .iter()
            .filter(|(_, s)| idle(s))
            .map(|(&id, _)| id)
            .collect();
        counter.fetch_add(ids.len() as u64, Ordering::Relaxed);
        for id in &ids {
            states.remove(id);
        }
        self.report(states);
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_the_states_and_evicted_ids_are_returned() {
        let r = Residency::default();
        let mut states: HashMap<i64, bool> = [(1, true), (2, false), (3, true)].into();
        r.created(3);
        assert_eq!(r.active(), 3);
        r.report(&states);
        assert_eq!(r.active(), 3);
        let evicted = AtomicU64::new(0);
        let mut ids = r.evict(&mut states, |&idle| idle, &evicted);
        ids.sort_unstable();
        assert_eq!(ids, [1, 3]);
        assert_eq!((r.active(), evicted.load(Ordering::Relaxed)), (1, 2));
        r.created(1);
        assert_eq!(r.active(), 2);
    }
}
