//! Persist: deviation from the recent past.
