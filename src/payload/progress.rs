//! Progress for people: an `indicatif` bar on standard error when it is a terminal (hidden
//! otherwise, so logs and pipes stay clean), fed by [`fetch`](super::fetch)'s progress
//! callback. The agent's `PROGRESS` status field uses the same `(done, total)` numbers.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A download bar for `total` bytes on standard error (hidden when it is not a terminal).
#[must_use]
pub fn terminal_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    // The template is a constant; if indicatif ever refused it, the default style is fine.
    if let Ok(style) = ProgressStyle::default_bar()
        .template("{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("downloading");
    bar
}

/// The fraction done, 0.0 to 1.0, as update_engine prints it in `PROGRESS=`.
#[must_use]
pub fn fraction(done: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (done as f64 / total as f64).clamp(0.0, 1.0)
    }
}
