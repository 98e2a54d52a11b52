//! `heapcost rules` and `--rules` files end to end: the printed rules read
//! back, a user rule overrides a built-in one, and a bad rules file exits 2
//! naming the file and the line.

use serde_json::Value;
use tempfile::TempDir;

use super::common::run::{fails, ok, one_error_line};
use super::common::{envoy1, mini_file, s};

#[test]
fn rules_prints_a_rules_file_that_reads_back() {
    let (toml, _) = ok(&["rules"]);
    assert!(toml.contains("[[owner]]") && toml.contains("[[kind]]"));
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("printed.toml");
    std::fs::write(&file, &toml).unwrap();
    // The printed rules, given back as a user file, replace every built-in
    // rule by id: the effective rules are the same.
    let (again, _) = ok(&["rules", "--rules", s(&file)]);
    assert_eq!(again, toml);
    let (json, _) = ok(&["rules", "--format", "json"]);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["owner"][0]["id"], "ext_proc");
}

#[test]
fn a_user_rule_overrides_a_builtin_one() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("mine.toml");
    std::fs::write(
        &file,
        r#"
[[owner]]
id = "ext_proc"
name = "body_streaming"
tier = "filter"
prefix = ["Envoy::Extensions::HttpFilters::ExternalProcessing::"]
examples = ["Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::sendBodyChunk"]
"#,
    )
    .unwrap();
    let dump = mini_file("mini-envoy.0003.heap");
    let bin = mini_file("mini-envoy");
    let (out, _) = ok(&[
        "attribute",
        &dump,
        "-b",
        &bin,
        "--rules",
        s(&file),
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["owners"][0]["name"], "body_streaming");
    assert!(!out.contains("\"ext_proc\""));
}

#[test]
fn bad_rules_files_exit_2_with_file_and_line() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[[owner]]\nid = \"x\"\ntier = \"filtre\"\nprefix = [\"a\"]\n",
    )
    .unwrap();
    let err = fails(&["attribute", s(&envoy1()), "--rules", s(&file)]);
    let line = one_error_line(&err);
    assert!(line.contains(&format!("{}:3:", file.display())), "{line}");
    let missing = dir.path().join("none.toml");
    let err = fails(&["rules", "--rules", s(&missing)]);
    assert!(one_error_line(&err).contains("none.toml"), "{err}");
    std::fs::write(
        &file,
        "[[kind]]\nid = \"k\"\ntier = \"specific\"\nprefix = [\"Foo::\"]\nexamples = [\"Bar::x\"]\n",
    )
    .unwrap();
    let err = fails(&["rules", "--rules", s(&file)]);
    assert!(
        one_error_line(&err).contains("\"Bar::x\" is not matched"),
        "{err}"
    );
}
