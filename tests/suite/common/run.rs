//! Running the binary: the one way the tests start `heapcost`, and checks of
//! a finished run.

use std::time::Duration;

use assert_cmd::Command;

use super::{cache_dir, root};

/// How long a run from [`heapcost`] may take before the test fails: a hang
/// detector, not a speed test. Runs that do more raise it with `timeout`.
pub const BOUND: Duration = Duration::from_secs(20);

/// The bound of one view (`top`, `info`, `attribute`, `gate`, ...) of a
/// corpus dump or of mini-envoy, symbolized, in a debug build.
pub const VIEW_BOUND: Duration = Duration::from_secs(60);

/// The bound of a run that symbolizes and renders a flamegraph or an export.
pub const EXPORT_BOUND: Duration = Duration::from_secs(120);

/// The bound of a `report` of the whole corpus series.
pub const REPORT_BOUND: Duration = Duration::from_secs(300);

/// The binary as a `std` command, for runs that need a child process (a
/// pipe fed from another thread, a stdout closed early): run from the
/// repository root, its debug-section cache under the build directory
/// ([`cache_dir`]), and without `GITHUB_STEP_SUMMARY` (which `gate` would
/// append to). No bound: the caller waits for it.
pub fn heapcost_process() -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("heapcost"));
    cmd.current_dir(root())
        .env("HEAPCOST_CACHE_DIR", cache_dir())
        .env_remove("GITHUB_STEP_SUMMARY");
    cmd
}

/// The binary, set up as [`heapcost_process`] and killed after [`BOUND`].
pub fn heapcost() -> Command {
    let mut cmd = Command::from_std(heapcost_process());
    cmd.timeout(BOUND);
    cmd
}
