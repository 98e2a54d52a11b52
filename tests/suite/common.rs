//! Shared helpers of the integration tests.

use std::path::PathBuf;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/corpus/<rel>` from the repository root.
pub fn corpus(rel: &str) -> PathBuf {
    root().join("../shared/corpus").join(rel)
}

/// `fixtures/<rel>`.
#[allow(dead_code)]
pub fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

/// Reads a corpus or fixture file, failing the test with its path when absent.
pub fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The debug-section cache of every run of the binary in these tests: under
/// the build directory, never the user's home.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("heapcost-cache")
}

/// Compares `actual` with the expected file `tests/data/<rel>`. On a
/// difference it writes the actual output next to the build's temporary
/// files, shows the first differing lines and how to bless. With
/// `HEAPCOST_BLESS=1` it rewrites the expected file instead. A missing
/// expected file is a failure (never created silently).
#[allow(dead_code)]
pub fn golden(rel: &str, actual: &str) {
    let path = root().join("tests/data").join(rel);
    if std::env::var_os("HEAPCOST_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with HEAPCOST_BLESS=1 to create it",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("golden")
        .join(rel);
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, actual).unwrap();
    let mut diff = String::new();
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (e.get(i), a.get(i));
        if x != y {
            diff.push_str(&format!(
                "line {}:\n  expected: {}\n  actual:   {}\n",
                i + 1,
                x.unwrap_or(&"<none>"),
                y.unwrap_or(&"<none>")
            ));
            if diff.lines().count() > 30 {
                break;
            }
        }
    }
    panic!(
        "{} differs from the output (written to {}):\n{diff}\nif the change is intended, rerun with HEAPCOST_BLESS=1",
        path.display(),
        out.display()
    );
}
