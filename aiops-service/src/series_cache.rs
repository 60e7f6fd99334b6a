//! Series ids by the raw label bytes of a remote_write entry: a known series is found without
//! allocating, checking or querying anything.

use std::collections::HashMap;

/// Raw label set -> series id. The key is the `(name, value)` pairs sorted by name, each
/// written as a length-prefixed byte string, so two entries with the same labels in any order
/// share a key and different label sets never do. Only label sets that were checked (valid
/// names, a metric name, UTF-8) are inserted, so a hit needs no check.
#[derive(Debug, Default)]
pub(crate) struct SeriesCache {
    ids: HashMap<Box<[u8]>, i64, foldhash::fast::RandomState>,
}

/// Reusable buffers for [`SeriesCache::key`].
#[derive(Debug, Default)]
pub(crate) struct KeyBuf<'a> {
    sorted: Vec<(&'a [u8], &'a [u8])>,
    /// The key of the last call.
    pub(crate) key: Vec<u8>,
}

impl SeriesCache {
    /// Writes the key of `labels` (wire order, any order) into `buf.key`.
    pub(crate) fn key<'a>(labels: &[(&'a [u8], &'a [u8])], buf: &mut KeyBuf<'a>) {
        buf.key.clear();
        let put = |pairs: &[(&[u8], &[u8])], key: &mut Vec<u8>| {
            for (n, v) in pairs {
                key.extend_from_slice(&(n.len() as u32).to_le_bytes());
                key.extend_from_slice(n);
                key.extend_from_slice(&(v.len() as u32).to_le_bytes());
                key.extend_from_slice(v);
            }
        };
        // Prometheus sends labels sorted: then they are written as they are.
        if labels.windows(2).all(|w| w[0].0 < w[1].0) {
            put(labels, &mut buf.key);
        } else {
            buf.sorted.clear();
            buf.sorted.extend_from_slice(labels);
            buf.sorted.sort();
            put(&buf.sorted, &mut buf.key);
        }
    }

    /// The id of a key, if known.
    pub(crate) fn get(&self, key: &[u8]) -> Option<i64> {
        self.ids.get(key).copied()
    }

    /// Remembers a key's id.
    pub(crate) fn insert(&mut self, key: Box<[u8]>, id: i64) {
        self.ids.insert(key, id);
    }

    /// Keys known.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Keeps only the keys whose id `keep` accepts; returns the others, to be freed by the
    /// caller after it releases its lock (freeing many keys is most of a trim's time).
    #[must_use = "the keys removed: drop them after releasing the lock"]
    pub(crate) fn retain(&mut self, keep: impl Fn(i64) -> bool) -> Vec<(Box<[u8]>, i64)> {
        self.ids.extract_if(|_, id| !keep(*id)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the allocations of the current thread (the test binary's allocator).
    struct Counting;

    thread_local! {
        static ALLOCATIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    // SAFETY: every call is passed on to the system allocator unchanged.
    unsafe impl std::alloc::GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
            // SAFETY: the caller's contract is the system allocator's.
            unsafe { std::alloc::System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
            // SAFETY: as above.
            unsafe { std::alloc::System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(
            &self,
            ptr: *mut u8,
            layout: std::alloc::Layout,
            new_size: usize,
        ) -> *mut u8 {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
            // SAFETY: as above.
            unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;

    #[test]
    fn a_known_key_is_found_without_allocating_once_the_buffers_are_warm() {
        let mut cache = SeriesCache::default();
        let sorted: Vec<(&[u8], &[u8])> = vec![
            (b"__name__", b"cpu"),
            (b"instance", b"pod-1"),
            (b"job", b"node"),
        ];
        let shuffled: Vec<(&[u8], &[u8])> = vec![sorted[2], sorted[0], sorted[1]];
        let mut buf = KeyBuf::default();
        SeriesCache::key(&sorted, &mut buf);
        cache.insert(buf.key.as_slice().into(), 7);
        for i in 0..1_000 {
            cache.insert(format!("other{i}").into_bytes().into_boxed_slice(), 100 + i);
        }
        // Warm: the buffers have grown to their size.
        SeriesCache::key(&shuffled, &mut buf);
        let before = ALLOCATIONS.with(|n| n.get());
        let mut found = 0;
        for _ in 0..1_000 {
            for labels in [&sorted, &shuffled] {
                SeriesCache::key(labels, &mut buf);
                found += usize::from(cache.get(&buf.key) == Some(7));
            }
        }
        assert_eq!(ALLOCATIONS.with(|n| n.get()) - before, 0);
        assert_eq!(found, 2_000);
        // Dropping the other ids' keys keeps this one.
        let _ = cache.retain(|id| id == 7);
        assert_eq!((cache.len(), cache.get(&buf.key)), (1, Some(7)));
    }

    fn key(labels: &[(&str, &str)]) -> Vec<u8> {
        let pairs: Vec<(&[u8], &[u8])> = labels
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        let mut buf = KeyBuf::default();
        SeriesCache::key(&pairs, &mut buf);
        buf.key
    }

    #[test]
    fn same_labels_in_any_order_share_an_id_and_others_do_not() {
        let mut cache = SeriesCache::default();
        let a = key(&[("__name__", "up"), ("job", "api"), ("zone", "a")]);
        cache.insert(a.clone().into_boxed_slice(), 7);
        for order in [
            [("job", "api"), ("__name__", "up"), ("zone", "a")],
            [("zone", "a"), ("job", "api"), ("__name__", "up")],
        ] {
            assert_eq!(key(&order), a);
            assert_eq!(cache.get(&key(&order)), Some(7));
        }
        // Different labels, values, or the same bytes cut elsewhere: other keys.
        for other in [
            &[("__name__", "up"), ("job", "api")][..],
            &[("__name__", "up"), ("job", "api"), ("zone", "b")],
            &[("__name__", "up"), ("job", "apiz"), ("one", "a")],
            &[("__name__", "up"), ("jo", "bapi"), ("zone", "a")],
            &[("__name__", "up"), ("job", "api"), ("zone", "a"), ("x", "")],
        ] {
            assert_ne!(key(other), a, "{other:?}");
            assert_eq!(cache.get(&key(other)), None);
        }
        cache.insert(key(&[("__name__", "up")]).into_boxed_slice(), 8);
        assert_eq!(cache.get(&key(&[("__name__", "up")])), Some(8));
        assert_eq!(cache.len(), 2);
    }
}
