//! Golden files for every text, JSON and Markdown view on the fixtures:
//! the output of the real binary, run from the repository root with
//! relative paths, must equal `tests/data/golden/<view>.<options>.<ext>`
//! byte for byte. `HEAPCOST_BLESS=1 cargo test --test integration golden`
//! rewrites them (then review the diff); `tests/data/README.md` says how
//! they were made.

use tempfile::TempDir;

use super::common::run::{EXPORT_BOUND, heapcost};
use super::common::{MINI_SYMBOLS, golden};

fn run(args: &[&str]) -> String {
    let out = heapcost()
        .timeout(EXPORT_BOUND)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn with_bin<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend(MINI_SYMBOLS);
    v
}

const M2: &str = "fixtures/mini-envoy/mini-envoy.0002.heap";
const M3: &str = "fixtures/mini-envoy/mini-envoy.0003.heap";

#[test]
fn golden_top() {
    for (format, ext) in [("text", "txt"), ("json", "json"), ("markdown", "md")] {
        let out = run(&with_bin(&["top", "-n", "15", "--format", format, M3]));
        golden(&format!("golden/top.mini-envoy-0003.n15.{ext}"), &out);
    }
}

#[test]
fn golden_attribute() {
    for (format, ext) in [("text", "txt"), ("json", "json"), ("markdown", "md")] {
        let out = run(&with_bin(&["attribute", "--format", format, M3]));
        golden(&format!("golden/attribute.mini-envoy-0003.{ext}"), &out);
    }
    let out = run(&with_bin(&[
        "attribute",
        "-s",
        "alloc_objects",
        "--stacks",
        "1",
        M3,
    ]));
    golden(
        "golden/attribute.mini-envoy-0003.alloc_objects.stacks1.txt",
        &out,
    );
}

#[test]
fn golden_diff() {
    for (format, ext) in [("text", "txt"), ("json", "json"), ("markdown", "md")] {
        let out = run(&with_bin(&[
            "diff", "--base", M2, "-n", "10", "--format", format, M3,
        ]));
        golden(&format!("golden/diff.mini-envoy-0002-0003.n10.{ext}"), &out);
    }
}

#[test]
fn golden_series() {
    let files = [
        "fixtures/mini-envoy/mini-envoy.0004.heap",
        "fixtures/mini-envoy/mini-envoy.0001.heap",
        M3,
        M2,
    ];
    for (format, ext) in [("text", "txt"), ("json", "json"), ("markdown", "md")] {
        let mut args = with_bin(&["series", "--format", format]);
        args.extend(files);
        golden(&format!("golden/series.mini-envoy.{ext}"), &run(&args));
    }
}

#[test]
fn golden_report_markdown() {
    let dir = TempDir::new().unwrap();
    let md = dir.path().join("r.md");
    let html = dir.path().join("r.html");
    let (md_s, html_s) = (md.to_str().unwrap(), html.to_str().unwrap());
    let mut args = with_bin(&[
        "report",
        "-q",
        "--base",
        M2,
        "-o",
        html_s,
        "--markdown",
        md_s,
    ]);
    args.extend([
        "fixtures/mini-envoy/mini-envoy.0001.heap",
        M2,
        M3,
        "fixtures/mini-envoy/mini-envoy.0004.heap",
    ]);
    run(&args);
    golden(
        "golden/report.mini-envoy.base-0002.md",
        &std::fs::read_to_string(&md).unwrap(),
    );
}
