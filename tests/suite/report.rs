//! `report` end to end: self-contained HTML (no external URL), the corpus
//! series, the base, the memory gap, the Markdown summary's size limit and
//! the flamegraph size budget.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use regex::Regex;
use serde_json::Value;
use tempfile::TempDir;

use super::common::run::{REPORT_BOUND, heapcost};
use super::common::{corpus, fixture};

fn corpus_dumps() -> Vec<PathBuf> {
    (1..=13)
        .map(|n| {
            corpus(&format!(
                "envoy-1.34-ext-proc-full-duplex/envoy.prof.{n:04}.heap"
            ))
        })
        .collect()
}

fn mini(n: u32) -> PathBuf {
    fixture(&format!("mini-envoy/mini-envoy.000{n}.heap"))
}

fn symbols(cmd: &mut Command) -> &mut Command {
    cmd.arg("-b")
        .arg(fixture("mini-envoy/mini-envoy"))
        .arg("--symbols-path")
        .arg(fixture("mini-envoy"))
}

fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Every `src`/`href` value, including those inside `srcdoc` documents
/// (whose quotes are escaped as `&quot;`).
fn links(html: &str) -> Vec<String> {
    let re = Regex::new(r#"(?i)\b(?:src|href)\s*=\s*(?:"([^"]*)"|'([^']*)'|&quot;(.*?)&quot;)"#)
        .unwrap();
    re.captures_iter(html)
        .map(|c| {
            c.get(1)
                .or(c.get(2))
                .or(c.get(3))
                .map_or(String::new(), |m| m.as_str().to_string())
        })
        .collect()
}

#[test]
fn report_is_self_contained() {
    let dir = TempDir::new().unwrap();
    let html = dir.path().join("r.html");
    let mut cmd = heapcost();
    cmd.timeout(REPORT_BOUND);
    cmd.arg("report");
    symbols(&mut cmd)
        .arg("--base")
        .arg(mini(2))
        .arg(mini(3))
        .arg("-o")
        .arg(&html)
        .assert()
        .success();
    let text = std::fs::read_to_string(&html).unwrap();
    let found = links(&text);
    assert!(!found.is_empty(), "the page has in-page links");
    for l in &found {
        assert!(
            l.is_empty() || l.starts_with('#') || l.starts_with("data:"),
            "external URL in src/href: {l}"
        );
    }
    for bad in ["<link ", "@import", "url(http", "src=\"http", "<script src"] {
        assert!(!text.contains(bad), "{bad}");
    }
    // Both flamegraphs are embedded with inferno's script; the owner
    // legend is there; the growth and provenance sections too.
    assert_eq!(text.matches("<iframe").count(), 2);
    assert!(text.contains("id=&quot;legend&quot;"));
    assert!(text.contains("id=\"growth\"") && text.contains("id=\"provenance\""));
    assert!(text.contains("ext_proc"));
    assert!(text.len() < 10 << 20);
}

#[test]
fn report_of_the_corpus_series_matches_series_and_top() {
    let dir = TempDir::new().unwrap();
    let (html, json, md) = (
        dir.path().join("r.html"),
        dir.path().join("r.json"),
        dir.path().join("r.md"),
    );
    let mut dumps = corpus_dumps();
    dumps.reverse(); // the order the shell gives must not matter
    heapcost()
        .timeout(REPORT_BOUND)
        .arg("report")
        .args(&dumps)
        .arg("-o")
        .arg(&html)
        .arg("--json")
        .arg(&json)
        .arg("--markdown")
        .arg(&md)
        .assert()
        .success();
    let r = json_file(&json);
    let snaps = r["series"]["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 13);
    assert!(
        snaps[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("envoy.prof.0001.heap")
    );
    assert!(
        snaps[12]["path"]
            .as_str()
            .unwrap()
            .ends_with("envoy.prof.0013.heap")
    );
    // Each snapshot's total is top's; the headline is the last snapshot.
    let series_out = heapcost()
        .timeout(REPORT_BOUND)
        .arg("series")
        .arg("--format")
        .arg("json")
        .args(&dumps)
        .output()
        .unwrap();
    let series: Value = serde_json::from_slice(&series_out.stdout).unwrap();
    for (a, b) in snaps.iter().zip(series["snapshots"].as_array().unwrap()) {
        assert_eq!(a["total"], b["total"]);
    }
    let top_out = heapcost()
        .timeout(REPORT_BOUND)
        .args(["top", "--format", "json"])
        .arg(&dumps[0]) // dump 13
        .output()
        .unwrap();
    let top: Value = serde_json::from_slice(&top_out.stdout).unwrap();
    assert_eq!(r["total"], top["total"]);
    let first = snaps[0]["total"].as_i64().unwrap();
    let last = snaps[12]["total"].as_i64().unwrap();
    assert_eq!(r["growth"].as_i64().unwrap(), last - first);
    assert_eq!(r["growth_from"], "first snapshot");
    // Unsymbolized: the warning says so in the report and the summary.
    let warnings = r["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("unsymbolized")),
        "{warnings:?}"
    );
    let summary = std::fs::read_to_string(&md).unwrap();
    assert!(summary.starts_with("### heapcost report"));
    assert!(summary.contains("13 snapshots"));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("id=\"series\"") && page.contains("<polyline"));
}

#[test]
fn memory_gap_is_told_in_words() {
    let dir = TempDir::new().unwrap();
    let memory = dir.path().join("memory.json");
    std::fs::write(
        &memory,
        r#"{"allocated": "20000000", "heap_size": "33554432", "pageheap_unmapped": "1048576",
            "pageheap_free": "8388608", "total_thread_cache": "3145728",
            "total_physical_bytes": "32505856"}"#,
    )
    .unwrap();
    let (html, json) = (dir.path().join("r.html"), dir.path().join("r.json"));
    let mut cmd = heapcost();
    cmd.timeout(REPORT_BOUND);
    cmd.arg("report");
    symbols(&mut cmd)
        .arg(mini(3))
        .arg("--memory")
        .arg(&memory)
        .args(["--rss", "104857600"])
        .arg("-o")
        .arg(&html)
        .arg("--json")
        .arg(&json)
        .assert()
        .success();
    let r = json_file(&json);
    let m = &r["memory"];
    assert_eq!(m["profiled"], r["total"]);
    assert_eq!(m["envoy"]["allocated"], 20000000);
    let sentences: Vec<&str> = m["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(sentences.len(), 3, "{sentences:?}");
    assert!(
        sentences[0].contains("19.07MB allocated"),
        "{}",
        sentences[0]
    );
    assert!(
        sentences[2].contains("resident memory is 100MB"),
        "{}",
        sentences[2]
    );
    assert!(sentences[2].contains("LuaJIT"), "{}", sentences[2]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Memory the profile does not see"));

    // A file that is not /memory output: exit 2, the file named.
    std::fs::write(&memory, "{\"heap_size\": 1}").unwrap();
    let mut cmd = heapcost();
    cmd.timeout(REPORT_BOUND);
    cmd.arg("report");
    let out = symbols(&mut cmd)
        .arg(mini(3))
        .arg("--memory")
        .arg(&memory)
        .arg("-o")
        .arg(&html)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("memory.json") && err.contains("allocated"),
        "{err}"
    );
}

#[test]
fn markdown_summary_stays_under_a_comment_whatever_the_input() {
    // 300 snapshots with 240-character names: the snapshot table alone
    // would be far over GitHub's 65,536 characters.
    let dir = TempDir::new().unwrap();
    let src = mini(1);
    let mut inputs = Vec::new();
    for i in 0..300 {
        let name = format!("{:0>236}.{i:03}", "x");
        let p = dir.path().join(&name[name.len() - 240..]);
        std::os::unix::fs::symlink(&src, &p).unwrap();
        inputs.push(p);
    }
    let md = dir.path().join("r.md");
    heapcost()
        .timeout(REPORT_BOUND)
        .args(["report", "--no-symbolize", "-q"])
        .args(&inputs)
        .arg("-o")
        .arg(dir.path().join("r.html"))
        .arg("--markdown")
        .arg(&md)
        .assert()
        .success();
    let text = std::fs::read_to_string(&md).unwrap();
    let n = text.chars().count();
    assert!(n <= 65_000, "{n} characters");
    assert!(
        n > 50_000,
        "the table was cut near the limit, not dropped: {n}"
    );
    assert!(text.contains("cut to fit a pull-request comment"));
    assert_eq!(
        text.matches("<details>").count(),
        text.matches("</details>").count()
    );
}

#[test]
fn flamegraph_budget_elides_small_frames_and_says_so() {
    let dir = TempDir::new().unwrap();
    let (html, json) = (dir.path().join("r.html"), dir.path().join("r.json"));
    let mut cmd = heapcost();
    cmd.timeout(REPORT_BOUND);
    cmd.arg("report");
    symbols(&mut cmd)
        .arg(mini(3))
        .args(["--flamegraph-budget", "40000"])
        .arg("-o")
        .arg(&html)
        .arg("--json")
        .arg(&json)
        .assert()
        .success();
    let page = std::fs::read_to_string(&html).unwrap();
    let note = Regex::new(r"Frames narrower than ([0-9.]+) px").unwrap();
    let px: f64 = note.captures(&page).unwrap()[1].parse().unwrap();
    assert!(px > 0.1, "threshold raised: {px}");
    assert!(page.contains("so that the report stays small enough for a browser"));
    let start = page.find("srcdoc=\"").unwrap();
    let end = start + page[start..].find("\"></iframe>").unwrap();
    // The escaped SVG is a little larger than the SVG itself.
    assert!(end - start < 80_000, "{} bytes", end - start);
}

#[test]
fn output_directories_are_made() {
    // The README's quick start writes to out/, which a fresh clone lacks.
    let dir = TempDir::new().unwrap();
    let html = dir.path().join("out/sub/r.html");
    let md = dir.path().join("out/r.md");
    let mut cmd = heapcost();
    cmd.timeout(REPORT_BOUND);
    cmd.args(["report", "-q", "--no-symbolize"])
        .arg(mini(1))
        .arg("-o")
        .arg(&html)
        .arg("--markdown")
        .arg(&md)
        .assert()
        .success();
    assert!(html.is_file() && md.is_file());
}
