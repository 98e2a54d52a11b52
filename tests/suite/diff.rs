//! `heapcost diff` end to end on mini-envoy: text, JSON and Markdown agree
//! with the totals, the same dump on both sides changes nothing, and
//! `--base` is required.

use serde_json::Value;

use super::common::mini_file;
use super::common::run::{VIEW_BOUND, heapcost, ok};

#[test]
fn diff_in_text_json_and_markdown() {
    let (base, new, bin, dir) = (
        mini_file("mini-envoy.0002.heap"),
        mini_file("mini-envoy.0003.heap"),
        mini_file("mini-envoy"),
        mini_file(""),
    );
    let args = [
        "diff",
        "--base",
        &base,
        &new,
        "-b",
        &bin,
        "--symbols-path",
        &dir,
    ];
    let (text, _) = ok(&args);
    assert!(
        text.contains("Type: inuse_space, total 2.67MB -> 17.03MB (+14.36MB, +537.81%)"),
        "{text}"
    );
    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json", "-n", "0"]);
    let v: Value = serde_json::from_str(&ok(&json_args).0).unwrap();
    assert_eq!(v["owners"][0]["name"], "ext_proc");
    let delta = v["total"]["delta"].as_i64().unwrap();
    assert_eq!(
        delta,
        v["total"]["new"].as_i64().unwrap() - v["total"]["base"].as_i64().unwrap()
    );
    let owner_sum: i64 = v["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["delta"].as_i64().unwrap())
        .sum();
    assert_eq!(owner_sum, delta);
    let flat_sum: i64 = v["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["delta"].as_i64().unwrap())
        .sum();
    assert_eq!(flat_sum, delta, "every flat change listed with -n 0");
    let mut md_args = args.to_vec();
    md_args.extend(["--format", "markdown"]);
    let (md, _) = ok(&md_args);
    assert!(md.starts_with("### heapcost: what changed"), "{md}");
    assert!(
        md.contains("| ext\\_proc | 1.37MB | 9.78MB | +8.41MB | +615.70% |"),
        "{md}"
    );
    // The same dump on both sides.
    let (same, _) = ok(&["diff", "--base", &new, &new, "--format", "json"]);
    let v: Value = serde_json::from_str(&same).unwrap();
    assert_eq!(v["total"]["delta"], 0);
    assert_eq!(v["functions"].as_array().unwrap().len(), 0);
    // --base is required.
    let output = heapcost()
        .timeout(VIEW_BOUND)
        .args(["diff", &new])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}
