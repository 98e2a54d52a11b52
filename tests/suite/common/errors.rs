//! Bad input and how the binary must refuse it: exit 2, nothing on stdout,
//! one stderr line `heapcost: error: PATH[:LINE]: ...`; and the same rule
//! for the library's error messages.

use tempfile::TempDir;

use super::run::heapcost;

/// A gperftools `heapprofile` header (line 1) for [`GOOD_STACKS`].
pub const HEADER: &str = "heap profile:   2: 30 [ 5: 70] @ heapprofile\n";
/// Two good stack lines to follow [`HEADER`] (lines 2 and 3).
pub const GOOD_STACKS: &str = "1: 10 [ 2: 20] @ 0x1001 0x2002\n1: 20 [3: 50] @ 0x1001\n";

/// What an error line must say beyond `heapcost: error: PATH`.
pub struct Expect {
    /// The 1-based line for text formats; `None` for whole-file problems.
    line: Option<usize>,
    /// A piece of the message.
    says: &'static str,
}

pub fn at(line: usize, says: &'static str) -> Expect {
    Expect {
        line: Some(line),
        says,
    }
}

pub fn whole(says: &'static str) -> Expect {
    Expect { line: None, says }
}

/// Checks one failed run: exit 2, nothing on stdout, exactly one stderr line
/// `heapcost: error: {shown}[:{line}]: ...` containing `expect.says`.
pub fn check_failure(output: &std::process::Output, shown: &str, expect: &Expect, what: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let context = format!("{what}: stderr was {stderr:?}");
    assert_eq!(output.status.code(), Some(2), "{context}");
    assert!(!stderr.contains("panicked"), "{context}");
    assert!(
        output.stdout.is_empty(),
        "{context}; stdout: {:?}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(stderr.ends_with('\n'), "{context}");
    assert_eq!(stderr.lines().count(), 1, "{context}");
    let prefix = match expect.line {
        Some(line) => format!("heapcost: error: {shown}:{line}: "),
        None => format!("heapcost: error: {shown}: "),
    };
    assert!(
        stderr.starts_with(&prefix),
        "{context}: expected it to start with {prefix:?}"
    );
    assert!(
        stderr.contains(expect.says),
        "{context}: expected it to contain {:?}",
        expect.says
    );
}

/// Writes `data` as `dir/name` and checks that `info` and `top` both fail on it as expected.
pub fn expect_error(dir: &TempDir, name: &str, data: &[u8], expect: Expect) {
    let path = dir.path().join(name);
    std::fs::write(&path, data).unwrap();
    let shown = path.to_str().unwrap();
    for sub in ["info", "top"] {
        let output = heapcost().args([sub, shown]).output().unwrap();
        check_failure(&output, shown, &expect, &format!("heapcost {sub} {name}"));
    }
}

/// Writes `data` as `dir/name` and checks that `info` and `top` both succeed on it.
pub fn expect_success(dir: &TempDir, name: &str, data: &[u8]) -> Vec<String> {
    let path = dir.path().join(name);
    std::fs::write(&path, data).unwrap();
    let shown = path.to_str().unwrap();
    ["info", "top"]
        .iter()
        .map(|sub| {
            let output = heapcost().args([sub, shown]).output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(0),
                "heapcost {sub} {name}: stderr {stderr:?}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
            String::from_utf8(output.stdout).unwrap()
        })
        .collect()
}

/// Start offsets of the lines of `data` (a final line without `\n` included).
pub fn line_starts(data: &[u8]) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(
        data.iter()
            .enumerate()
            .filter(|(i, b)| **b == b'\n' && i + 1 < data.len())
            .map(|(i, _)| i + 1),
    );
    starts
}
/// Checks one error message: names the input, one line, and a line number
/// (when there is one) inside the input.
pub fn check_message(msg: &str, data: &[u8]) -> Result<(), String> {
    let rest = msg
        .strip_prefix("fuzz")
        .ok_or_else(|| format!("does not name the file: {msg:?}"))?;
    if msg.contains('\n') {
        return Err(format!("is not one line: {msg:?}"));
    }
    let line = rest
        .strip_prefix(':')
        .and_then(|r| r.split_once(':'))
        .and_then(|(n, _)| n.parse::<usize>().ok());
    let mut inflated = Vec::new();
    let plain = if data.starts_with(&[0x1f, 0x8b]) {
        match std::io::Read::read_to_end(
            &mut flate2::read::MultiGzDecoder::new(data),
            &mut inflated,
        ) {
            Ok(_) => &inflated[..],
            Err(_) if line.is_none() => return Ok(()),
            Err(e) => {
                return Err(format!(
                    "names a line of a corrupt gzip stream ({e}): {msg:?}"
                ));
            }
        }
    } else {
        data
    };
    let text = matches!(
        heapcost::read::detect::detect(plain),
        heapcost::read::Detected::GperftoolsText | heapcost::read::Detected::JemallocText
    );
    match line {
        Some(n) => {
            let lines = line_starts(plain).len();
            if !text || n == 0 || n > lines {
                return Err(format!("names line {n} of {lines}: {msg:?}"));
            }
        }
        None if text => return Err(format!("has no line number: {msg:?}")),
        None => {}
    }
    Ok(())
}
