//! Progress bars on stderr, drawn only when stderr is a terminal (never in pipes, files or
//! tests): the libraries report `(done, total)`, this module draws.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Whether a person is watching stderr.
fn on_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A bar counting `unit` (`series`, `cases`, `points`...), hidden when stderr is not a
/// terminal. Its length is set by the first report.
pub(crate) fn bar(unit: &str) -> ProgressBar {
    if !on_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    let template =
        format!("{{spinner}} {{bar:40}} {{pos}}/{{len}} {unit} ({{elapsed}}, eta {{eta}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// A bar counting bytes of an input file, hidden when stderr is not a terminal or the input
/// is small (under `min_bytes`).
pub(crate) fn bytes_bar(total: u64, min_bytes: u64) -> ProgressBar {
    if total < min_bytes || !on_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// A spinner with a message for work whose length is unknown (fitting a model), hidden when
/// stderr is not a terminal or `show` is false.
pub(crate) fn spinner(show: bool, message: String) -> ProgressBar {
    if !show || !on_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// The library callback that moves `bar`: `(done, total)`.
pub(crate) fn report(bar: &ProgressBar) -> impl Fn(usize, usize) + Sync + '_ {
    move |done, total| {
        if bar.length() != Some(total as u64) {
            bar.set_length(total as u64);
        }
        bar.set_position(done as u64);
    }
}
