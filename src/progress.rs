//! Progress on stderr for long work (reading and symbolizing many dumps),
//! drawn by indicatif only when the binary asks for it (stderr is a
//! terminal and `--quiet` is off); otherwise every call does nothing.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar that may be hidden.
pub(crate) struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar of `len` steps named `message`, drawn only when `enabled`.
    pub(crate) fn new(enabled: bool, len: u64, message: &'static str) -> Self {
        if !enabled {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        let style =
            ProgressStyle::with_template("heapcost: {msg:12} [{bar:30}] {pos}/{len} {elapsed}")
                .map(|s| s.progress_chars("=> "));
        if let Ok(style) = style {
            bar.set_style(style);
        }
        bar.set_message(message);
        Progress(Some(bar))
    }

    /// A spinner for work of unknown length (symbolizing a large binary).
    pub(crate) fn spinner(enabled: bool, message: &'static str) -> Self {
        if !enabled {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("heapcost: {spinner} {msg} {elapsed}") {
            bar.set_style(style);
        }
        bar.set_message(message);
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Progress(Some(bar))
    }

    /// Names the current step.
    pub(crate) fn set_message(&self, message: &'static str) {
        if let Some(b) = &self.0 {
            b.set_message(message);
        }
    }

    /// One step done.
    pub(crate) fn inc(&self) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
