//! Test fixtures shared by the unit tests of this crate.

use aiops_core::{Alert, Labels};

/// One minute, ms.
pub(crate) const M: i64 = 60_000;

/// A firing alert with these labels, started at `start` ms.
pub(crate) fn alert(pairs: &[(&str, &str)], start: i64) -> Alert {
    Alert::firing(
        Labels::try_from_pairs(pairs.iter().copied()).unwrap(),
        start,
    )
    .unwrap()
}
