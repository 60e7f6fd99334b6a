//! Synthetic service log lines, shared by the unit tests (`src/lib.rs` includes this file)
//! and the snapshot compatibility test.

/// The layout of the synthetic lines.
pub(crate) const FORMAT: &str = "<Date> <Time> <Level>: <Content>";

/// `2024-01-01 hh:mm:ss` for a second offset.
pub(crate) fn stamp(sec: u64) -> String {
    format!(
        "2024-01-01 {:02}:{:02}:{:02}",
        sec / 3600,
        (sec / 60) % 60,
        sec % 60
    )
}

/// Minute `m`'s three logins, ten seconds apart.
pub(crate) fn logins(m: u64) -> impl Iterator<Item = String> {
    (0..3).map(move |i| {
        format!(
            "{} INFO: user u{} logged in from 10.0.0.{}",
            stamp(m * 60 + i * 10),
            m * 7 + i,
            i
        )
    })
}
