//! The command line as a whole: `--help`, `--version`, usage errors (exit
//! 2, never a panic) and standard input named twice.

use super::common::run::{VIEW_BOUND, heapcost, ok, one_error_line};
use super::common::{envoy1, read, s};

#[test]
fn help_mentions_the_sample_types() {
    let (stdout, _) = ok(&["--help"]);
    assert!(stdout.contains("Usage: heapcost"), "{stdout}");
    assert!(
        stdout.contains("info") && stdout.contains("top"),
        "{stdout}"
    );
    assert!(stdout.contains("sample types"), "{stdout}");
    for help in ["--help", "-h"] {
        let (stdout, _) = ok(&["top", help]);
        for t in [
            "inuse_space",
            "inuse_objects",
            "alloc_space",
            "alloc_objects",
            "space",
            "objects",
        ] {
            assert!(
                stdout.contains(t),
                "top {help} does not mention {t}: {stdout}"
            );
        }
        assert!(stdout.contains("--sample-type"), "{stdout}");
    }
    let (stdout, _) = ok(&["help", "top"]);
    assert!(stdout.contains("alloc_space"), "{stdout}");
    let (stdout, _) = ok(&["--version"]);
    assert!(stdout.starts_with("heapcost "), "{stdout}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["top"],
        &["info"],
        &["frobnicate", "x"],
        &["top", "--format", "xml", "x"],
        &["top", "-n", "many", "x"],
        &["top", "-n", "-1", "x"],
        &["top", "--no-such-flag", "x"],
        &["attribute"],
        &["attribute", "--stacks", "many", "x"],
        &["rules", "extra"],
    ] {
        let output = heapcost().timeout(VIEW_BOUND).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn stdin_twice_is_a_usage_error() {
    let a = envoy1();
    for args in [
        &["top", s(&a), "-", "-"][..],
        &["top", "-", s(&a), "-"],
        &["top", "-", "-"],
        &["info", s(&a), "-", "-"],
    ] {
        let output = heapcost()
            .timeout(VIEW_BOUND)
            .args(args)
            .write_stdin(read(&a))
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty());
        let line = one_error_line(&stderr);
        assert!(line.contains("'-'"), "{line}");
        assert!(line.contains("only once"), "{line}");
    }
}
