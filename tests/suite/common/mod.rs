//! Shared helpers of the integration tests: where the inputs are, reading
//! and parsing them, and bounds; running the binary ([`run`]), bad input
//! and its messages ([`errors`]), hand-built protobufs and gzip
//! ([`protobuf`]), the golden helper ([`golden`]), a seeded generator
//! ([`rng`]), pprof `-traces` comparison ([`traces`]) and the gate's runs
//! ([`gate`]).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use heapcost::profile::Profile;
use serde_json::Value;

pub mod errors;
pub mod gate;
pub mod golden;
pub mod protobuf;
pub mod rng;
pub mod run;
pub mod traces;

pub use golden::golden;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/corpus/<rel>` from the repository root.
pub fn corpus(rel: &str) -> PathBuf {
    root().join("../shared/corpus").join(rel)
}

/// `fixtures/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

/// Reads a corpus or fixture file, failing the test with its path when absent.
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The debug-section cache of every run of the binary in these tests: under
/// the build directory, never the user's home.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("heapcost-cache")
}

/// Reads and parses a profile, named by its path; fails the test on an error.
pub fn parse(path: &Path) -> Profile {
    heapcost::read::parse(&read(path), &path.to_string_lossy()).unwrap()
}

/// A path as `&str`, for argument lists.
pub fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Parses JSON output, failing with the text when it is not JSON.
pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The envoy dump the brief's numbers are about: 4 sample types, inuse_space
/// total 104943209 and alloc_space total 311789135 over its listed stacks.
pub fn envoy1() -> PathBuf {
    corpus("envoy-1.34-ext-proc-full-duplex/envoy.prof.0001.heap")
}

/// A sampled gperftools dump with two sample types (objects, space).
pub fn cppbench() -> PathBuf {
    corpus("pprof-testdata/cppbench.heap")
}

/// `fixtures/mini-envoy/<rel>`, absolute, as a string.
pub fn mini_file(rel: &str) -> String {
    fixture(&format!("mini-envoy/{rel}"))
        .to_string_lossy()
        .into_owned()
}

/// Mini-envoy's dump `n` (1 to 4), absolute, as a string.
pub fn mini_dump(n: u32) -> String {
    mini_file(&format!("mini-envoy.{n:04}.heap"))
}

/// `-b fixtures/mini-envoy/mini-envoy --symbols-path fixtures/mini-envoy`,
/// absolute.
pub fn mini_symbol_args() -> Vec<String> {
    vec![
        "-b".into(),
        mini_file("mini-envoy"),
        "--symbols-path".into(),
        fixture("mini-envoy").to_string_lossy().into(),
    ]
}

/// The flags that name mini-envoy's frames, relative to the repository root
/// (where [`run::heapcost`] runs the binary).
pub const MINI_SYMBOLS: [&str; 4] = [
    "-b",
    "fixtures/mini-envoy/mini-envoy",
    "--symbols-path",
    "fixtures/mini-envoy",
];

/// Runs `f` on a thread of its own and fails the test if it has not
/// finished after `bound` (a hang detector; the thread is left behind).
pub fn within<T: Send + 'static>(
    bound: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(bound) {
        Ok(Ok(v)) => v,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("{what}: still running after {bound:?} (a hang?)"),
    }
}
