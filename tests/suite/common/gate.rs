//! Runs of `heapcost gate` (its tests and its goldens), on mini-envoy dumps
//! named relative to the repository root so that outputs do not depend on
//! the checkout's location.

use std::process::Output;

use super::MINI_SYMBOLS;
use super::run::{VIEW_BOUND, heapcost};

/// The budgets file of the goldens and of the gate's tests.
pub const BUDGETS: &str = "tests/data/gate/budgets.toml";

/// A mini-envoy dump, relative to the repository root (where the binary
/// runs), so that outputs do not depend on the checkout's location.
pub fn mini(n: u32) -> String {
    format!("fixtures/mini-envoy/mini-envoy.{n:04}.heap")
}

/// Runs `heapcost gate ARGS`, checks the exit code, returns (stdout, stderr).
pub fn gate(args: &[&str], code: i32) -> (String, String) {
    let output = heapcost()
        .timeout(VIEW_BOUND)
        .arg("gate")
        .args(args)
        .output()
        .unwrap();
    expect(&output, args, code)
}

/// Checks a run's exit code (and that it did not panic), showing both
/// outputs when it differs; returns (stdout, stderr).
pub fn expect(output: &Output, args: &[&str], code: i32) -> (String, String) {
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(
        output.status.code(),
        Some(code),
        "heapcost gate {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    (stdout, stderr)
}

/// `heapcost gate --base BASE... NEW... -b mini-envoy --symbols-path ... EXTRA...`.
pub fn mini_gate(base: &[u32], new: &[u32], extra: &[&str], code: i32) -> (String, String) {
    let mut args: Vec<String> = Vec::new();
    for b in base {
        args.push("--base".into());
        args.push(mini(*b));
    }
    args.extend(new.iter().map(|n| mini(*n)));
    args.extend(MINI_SYMBOLS.iter().chain(extra).map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    gate(&args, code)
}
