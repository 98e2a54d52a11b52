//! Running the binary: the one way the tests start `heapcost`, and checks of
//! a finished run.

use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

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

/// Runs heapcost with `args` (bounded by [`VIEW_BOUND`]), expecting exit 0;
/// returns (stdout, stderr).
pub fn ok(args: &[&str]) -> (String, String) {
    let output = heapcost().timeout(VIEW_BOUND).args(args).output().unwrap();
    succeeded(&output, args)
}

/// Checks that a run of `args` exited 0 without a panic; returns (stdout, stderr).
pub fn succeeded(output: &Output, args: &[&str]) -> (String, String) {
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "heapcost {args:?} failed: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    (String::from_utf8(output.stdout.clone()).unwrap(), stderr)
}

/// Runs heapcost with `args` (bounded by [`VIEW_BOUND`]), expecting exit 2
/// and nothing on stdout; returns stderr.
pub fn fails(args: &[&str]) -> String {
    let output = heapcost().timeout(VIEW_BOUND).args(args).output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "heapcost {args:?}: expected exit 2, stderr {stderr:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        output.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    stderr
}

/// An error of heapcost's own (not clap's): exactly one `heapcost: error:` line.
pub fn one_error_line(stderr: &str) -> &str {
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(stderr.starts_with("heapcost: error: "), "{stderr:?}");
    stderr.trim_end()
}

/// Runs heapcost with `args` (bounded by [`EXPORT_BOUND`]), expecting
/// success; returns its stdout parsed as JSON.
pub fn run_json(args: &[String]) -> Value {
    let out = heapcost()
        .timeout(EXPORT_BOUND)
        .args(args)
        .output()
        .unwrap();
    json_of(&out)
}

/// The stdout of a run that must have succeeded, parsed as JSON.
fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `heapcost ARGS -b mini-envoy --symbols-path fixtures/mini-envoy DUMP`
/// for mini-envoy's dump `n` (bounded by [`EXPORT_BOUND`]).
pub fn mini(args: &[&str], n: u32) -> Output {
    heapcost()
        .timeout(EXPORT_BOUND)
        .args(args)
        .args(super::mini_symbol_args())
        .arg(super::mini_dump(n))
        .output()
        .unwrap()
}

/// [`mini`], expecting success; its stdout parsed as JSON.
pub fn mini_json(args: &[&str], n: u32) -> Value {
    json_of(&mini(args, n))
}
