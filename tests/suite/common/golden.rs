//! The one golden helper: outputs against expected files under `tests/data/`.

use std::path::PathBuf;

use super::root;

/// Compares `actual` with the expected file `tests/data/<rel>`.
///
/// On a difference, fails with a line diff, writes the actual output next
/// to the build's temporary files and prints the bless hint. With
/// `HEAPCOST_BLESS=1` it (re)writes the expected file instead. A missing
/// expected file is a failure, never created silently.
pub fn golden(rel: &str, actual: &str) {
    let path = root().join("tests/data").join(rel);
    if std::env::var_os("HEAPCOST_BLESS").is_some_and(|v| v == "1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: the expected file is missing; run with HEAPCOST_BLESS=1 to create it, then review it",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let saved = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("golden")
        .join(format!("{rel}.actual"));
    if let Some(dir) = saved.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(&saved, actual);
    panic!(
        "{} differs from the output (- expected, + actual):\n{}\nthe actual output is in {}\nrerun with HEAPCOST_BLESS=1 to accept it",
        path.display(),
        line_diff(&expected, actual),
        saved.display()
    );
}

/// A line diff (longest common subsequence): `-` expected only, `+` actual
/// only, unchanged lines left out except as `@@ line N` markers.
pub fn line_diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out, mut in_change) = (0, 0, String::new(), false);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
            in_change = false;
            continue;
        }
        if !in_change {
            out.push_str(&format!("@@ line {}\n", i + 1));
            in_change = true;
        }
        if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!("-{}\n", a[i]));
            i += 1;
        } else {
            out.push_str(&format!("+{}\n", b[j]));
            j += 1;
        }
    }
    if out.is_empty() {
        out.push_str(
            "(the lines are equal; the files differ in line endings or a final newline)\n",
        );
    }
    out
}
