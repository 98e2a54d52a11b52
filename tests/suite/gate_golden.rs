//! `heapcost gate`'s outputs against goldens (`tests/data/gate/`, see its
//! README): the verdict table, the GitHub annotations, the pull-request
//! comment (also appended to the step summary) and the JUnit XML, parsed as
//! XML.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::common::MINI_SYMBOLS;
use super::common::gate::{BUDGETS, expect, mini, mini_gate};
use super::common::golden;
use super::common::run::{VIEW_BOUND, heapcost};

// ---------------------------------------------------------------------------
// goldens: comment, annotations, JUnit
// ---------------------------------------------------------------------------

const GOLDEN: &str = "gate/mini-envoy.0001-0004.budgets";

/// The gate of the goldens, with every output asked for.
fn golden_run(dir: &Path) -> (String, PathBuf, PathBuf, PathBuf) {
    let (md, xml, summary) = (
        dir.join("comment.md"),
        dir.join("junit.xml"),
        dir.join("summary.md"),
    );
    std::fs::write(&summary, "earlier step\n").unwrap();
    let mut cmd = heapcost();
    cmd.timeout(VIEW_BOUND)
        .args(["gate", "--base", &mini(1), &mini(4), "--budgets", BUDGETS])
        .args(MINI_SYMBOLS)
        .args(["--github", "--markdown", md.to_str().unwrap()])
        .args(["--junit", xml.to_str().unwrap()])
        .env("GITHUB_STEP_SUMMARY", &summary);
    let output = cmd.output().unwrap();
    let (out, _) = expect(&output, &["golden"], 1);
    (out, md, xml, summary)
}

#[test]
fn gate_golden_text_and_annotations() {
    let dir = TempDir::new().unwrap();
    let (out, _, _, _) = golden_run(dir.path());
    let (table, annotations) = out.split_at(out.find("\n::").unwrap() + 1);
    golden(&format!("{GOLDEN}.expected.txt"), table);
    golden(&format!("{GOLDEN}.annotations.expected.txt"), annotations);
    // Every line is a workflow command, its message escaped: no raw % or newline.
    for line in annotations.lines() {
        assert!(
            line.starts_with("::error ") || line.starts_with("::warning "),
            "{line}"
        );
        let message = &line[line[2..].find("::").unwrap() + 4..];
        assert!(
            !message.replace("%25", "").replace("%0A", "").contains('%'),
            "{line}"
        );
    }
    assert!(
        annotations.contains(&format!(
            "::error file={BUDGETS},line=13,title=heapcost gate%3A owner network growth <= 1MiB::"
        )),
        "{annotations}"
    );
}

#[test]
fn gate_golden_markdown_comment_and_step_summary() {
    let dir = TempDir::new().unwrap();
    let (_, md, _, summary) = golden_run(dir.path());
    let comment = std::fs::read_to_string(&md).unwrap();
    golden(&format!("{GOLDEN}.comment.expected.md"), &comment);
    assert!(comment.len() < 65_000);
    let first = comment.lines().next().unwrap();
    assert_eq!(first, "### ❌ heapcost gate: memory regression");
    // The verdict, then the table, then the stacks.
    let (verdict, table, stacks) = (
        comment.find("limits broken").unwrap(),
        comment.find("| | limit |").unwrap(),
        comment.find("**Stacks that grew most**").unwrap(),
    );
    assert!(verdict < table && table < stacks, "{comment}");
    // --github appends the same comment to the step summary.
    let appended = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(appended, format!("earlier step\n{comment}"));
}

#[test]
fn gate_golden_junit_is_xml_with_one_case_per_limit() {
    let dir = TempDir::new().unwrap();
    let (_, _, xml, _) = golden_run(dir.path());
    let text = std::fs::read_to_string(&xml).unwrap();
    golden(&format!("{GOLDEN}.junit.expected.xml"), &text);
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("not XML: {e}\n{text}"));
    let suites = doc.root_element();
    assert_eq!(suites.tag_name().name(), "testsuites");
    assert_eq!(suites.attribute("tests"), Some("8"));
    assert_eq!(suites.attribute("failures"), Some("3"));
    let cases: Vec<roxmltree::Node<'_, '_>> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 8);
    let failed: Vec<&str> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .map(|c| c.attribute("name").unwrap())
        .collect();
    assert_eq!(
        failed,
        [
            "total growth <= 10%",
            "owner network growth <= 1MiB",
            "kind buffer growth <= 20%"
        ]
    );
    let props: Vec<(&str, &str)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("property"))
        .map(|n| (n.attribute("name").unwrap(), n.attribute("value").unwrap()))
        .collect();
    assert!(
        props.contains(&("base", "fixtures/mini-envoy/mini-envoy.0001.heap")),
        "{props:?}"
    );
}

#[test]
fn gate_passing_comment_and_notice() {
    let dir = TempDir::new().unwrap();
    let md = dir.path().join("c.md");
    let (out, _) = mini_gate(
        &[1],
        &[1],
        &[
            "--max-growth",
            "0%",
            "--github",
            "--markdown",
            md.to_str().unwrap(),
            "-q",
        ],
        0,
    );
    assert!(
        out.contains(
            "::notice title=heapcost gate::the limit holds: inuse_space 299.75kB -> 299.75kB (0)"
        ),
        "{out}"
    );
    let comment = std::fs::read_to_string(&md).unwrap();
    assert!(
        comment.starts_with("### ✅ heapcost gate: within budget\n\n**The limit holds.**"),
        "{comment}"
    );
}
