//! Order statistics over a sliding window (O(log w) insert, remove, rank).
