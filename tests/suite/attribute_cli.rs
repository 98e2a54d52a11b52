//! `heapcost attribute` end to end on mini-envoy's peak dump: the JSON
//! contract, text and Markdown, full names, and what it says without names.
//! Attribution against the workload's ground truth is in `attribute.rs`;
//! rules files are in `rules.rs`.

use serde_json::Value;

use super::common::run::ok;
use super::common::{envoy1, mini_file, s};

/// `heapcost attribute` on mini-envoy's peak dump, named from its files, as JSON.
fn mini_attribute(extra: &[&str]) -> Value {
    let (dump, bin, dir) = (
        mini_file("mini-envoy.0003.heap"),
        mini_file("mini-envoy"),
        mini_file(""),
    );
    let mut args = vec!["attribute", &dump, "-b", &bin, "--symbols-path", &dir];
    args.extend(["--format", "json"]);
    args.extend(extra);
    serde_json::from_str(&ok(&args).0).unwrap()
}

#[test]
fn attribute_json_follows_the_contract() {
    let (dump, bin) = (mini_file("mini-envoy.0003.heap"), mini_file("mini-envoy"));
    let v = mini_attribute(&[]);
    assert_eq!(v["sample_type"], "inuse_space");
    assert_eq!(v["unit"], "bytes");
    let total = v["total"].as_i64().unwrap();
    for column in ["owners", "kinds"] {
        let rows = v[column].as_array().unwrap();
        let sum: i64 = rows.iter().map(|r| r["value"].as_i64().unwrap()).sum();
        assert_eq!(sum, total, "{column}");
        for r in rows {
            assert!(r["name"].is_string() && r["share"].is_f64(), "{r}");
        }
    }
    let matrix: i64 = v["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert!(c["owner"].is_string() && c["kind"].is_string());
            c["value"].as_i64().unwrap()
        })
        .sum();
    assert_eq!(matrix, total);
    let ext_proc = &v["owners"][0];
    assert_eq!(ext_proc["name"], "ext_proc");
    assert_eq!(ext_proc["tier"], "filter");
    let first = ext_proc["top_stacks"][0]["path"].as_array().unwrap();
    assert_eq!(first.first().unwrap(), "Filter::decodeData");
    assert_eq!(first.last().unwrap(), "Slice::newStorage");
    // Full names are matched by their short form: the same owners and kinds.
    let full = mini_attribute(&["--full-names"]);
    assert_eq!(
        full["owners"].as_array().unwrap().len(),
        v["owners"].as_array().unwrap().len()
    );
    for column in ["owners", "kinds"] {
        for (a, b) in full[column]
            .as_array()
            .unwrap()
            .iter()
            .zip(v[column].as_array().unwrap())
        {
            assert_eq!(
                (&a["name"], &a["value"]),
                (&b["name"], &b["value"]),
                "{column}"
            );
        }
    }
    // The same totals as top.
    let (top, _) = ok(&["top", &dump, "-b", &bin, "--format", "json"]);
    let top: Value = serde_json::from_str(&top).unwrap();
    assert_eq!(top["total"].as_i64().unwrap(), total);
}

#[test]
fn attribute_text_and_markdown() {
    let dump = mini_file("mini-envoy.0003.heap");
    let (bin, dir) = (mini_file("mini-envoy"), mini_file(""));
    let (text, _) = ok(&["attribute", &dump, "-b", &bin, "--symbols-path", &dir]);
    assert!(text.contains("owner x kind (inuse_space):"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("ext_proc") && l.contains("filter")),
        "{text}"
    );
    assert!(text.contains(
        "Filter::decodeData > ExternalProcessorStreamImpl::send > Common::serializeMessage > Slice::newStorage"
    ));
    let (md, _) = ok(&[
        "attribute",
        &dump,
        "-b",
        &bin,
        "--symbols-path",
        &dir,
        "--format",
        "markdown",
        "-s",
        "alloc_space",
    ]);
    assert!(md.starts_with("### heapcost: who owns the heap"), "{md}");
    assert!(
        md.contains("| Owner | tier | alloc_space | share |"),
        "{md}"
    );
    assert!(md.contains("| ext\\_proc | filter |"), "{md}");
    assert!(md.contains("<details><summary>Owner x kind</summary>"));
}

#[test]
fn attribute_without_names_says_attribution_needs_them() {
    let (out, stderr) = ok(&[
        "attribute",
        s(&envoy1()),
        "--no-symbolize",
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let owners = v["owners"].as_array().unwrap();
    assert_eq!(owners.len(), 1, "{out}");
    assert_eq!(owners[0]["name"], "unsymbolized");
    assert_eq!(owners[0]["value"], v["total"]);
    assert!(stderr.contains("attribution needs names"), "{stderr}");
    assert!(stderr.contains("--binary"), "{stderr}");
}
