//! The command line end to end: the real binary on the corpus, its flags,
//! standard input, gzip, warnings and `--quiet`, merge and usage errors.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

use super::common::{corpus, read};

/// The envoy dump the brief's numbers are about: 4 sample types, inuse_space
/// total 104943209 and alloc_space total 311789135 over its listed stacks.
fn envoy1() -> PathBuf {
    corpus("envoy-1.34-ext-proc-full-duplex/envoy.prof.0001.heap")
}

fn envoy2() -> PathBuf {
    corpus("envoy-1.34-ext-proc-full-duplex/envoy.prof.0002.heap")
}

/// A sampled gperftools dump with two sample types (objects, space).
fn cppbench() -> PathBuf {
    corpus("pprof-testdata/cppbench.heap")
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn heapcost() -> Command {
    let mut cmd = Command::cargo_bin("heapcost").unwrap();
    cmd.timeout(Duration::from_secs(60))
        .env("HEAPCOST_CACHE_DIR", super::common::cache_dir());
    cmd
}

/// Runs heapcost with `args`, expecting exit 0; returns (stdout, stderr).
fn ok(args: &[&str]) -> (String, String) {
    let output = heapcost().args(args).output().unwrap();
    succeeded(&output, args)
}

fn succeeded(output: &Output, args: &[&str]) -> (String, String) {
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "heapcost {args:?} failed: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    (String::from_utf8(output.stdout.clone()).unwrap(), stderr)
}

/// Runs heapcost with `args`, expecting exit 2; returns stderr.
fn fails(args: &[&str]) -> String {
    let output = heapcost().args(args).output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "heapcost {args:?}: expected exit 2, stderr {stderr:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        output.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    stderr
}

/// An error of heapcost's own (not clap's): exactly one `heapcost: error:` line.
fn one_error_line(stderr: &str) -> &str {
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(stderr.starts_with("heapcost: error: "), "{stderr:?}");
    stderr.trim_end()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The text output without its first line, which names the input(s).
fn without_file_line(text: &str) -> &str {
    let (first, rest) = text.split_once('\n').unwrap();
    assert!(first.starts_with("File: "), "{first}");
    rest
}

/// `(name, flat, cum)` of a JSON top's rows, checking their shape.
fn rows(top: &Value) -> Vec<(String, i64, i64)> {
    top["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows array: {top}"))
        .iter()
        .map(|r| {
            let o = r.as_object().unwrap();
            assert_eq!(o.len(), 3, "{r}");
            (
                o["name"].as_str().unwrap().to_string(),
                o["flat"].as_i64().unwrap(),
                o["cum"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The `N` of `Showing K of N rows` in text output.
fn row_count(text: &str) -> (usize, usize) {
    let line = text
        .lines()
        .find(|l| l.starts_with("Showing "))
        .unwrap_or_else(|| panic!("no Showing line: {text}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    (words[1].parse().unwrap(), words[3].parse().unwrap())
}

/// The table rows of text output (after the `flat flat% ...` heading).
fn table_lines(text: &str) -> Vec<&str> {
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with("flat "))
        .skip(1)
        .collect()
}

// ---------------------------------------------------------------------------
// top
// ---------------------------------------------------------------------------

#[test]
fn top_reads_stdin_like_a_file() {
    let file = envoy1();
    for format in ["text", "json"] {
        let (from_file, file_err) = ok(&[
            "top",
            "--no-symbolize",
            "--format",
            format,
            "-n",
            "0",
            s(&file),
        ]);
        let output = heapcost()
            .args(["top", "--no-symbolize", "--format", format, "-n", "0", "-"])
            .pipe_stdin(&file)
            .unwrap()
            .output()
            .unwrap();
        let (from_stdin, stdin_err) = succeeded(&output, &["top", "--no-symbolize", "-"]);
        if format == "text" {
            assert!(from_file.starts_with(&format!("File: {}\n", s(&file))));
            assert!(from_stdin.starts_with("File: -\n"), "{from_stdin}");
            assert_eq!(
                without_file_line(&from_file),
                without_file_line(&from_stdin)
            );
        } else {
            // JSON names no file except in warnings.
            let (mut a, mut b) = (json(&from_file), json(&from_stdin));
            for (v, name) in [(&mut a, s(&file)), (&mut b, "-")] {
                let warnings = v["warnings"].as_array_mut().unwrap();
                assert_eq!(warnings.len(), 1, "{warnings:?}");
                let w = warnings[0].as_str().unwrap();
                let rest = w
                    .strip_prefix(name)
                    .unwrap_or_else(|| panic!("{w:?} does not start with {name:?}"));
                warnings[0] = Value::String(rest.to_string());
            }
            assert_eq!(a, b);
        }
        // The warning, too, names stdin as `-`.
        assert_eq!(
            file_err.replace(s(&file), "-"),
            stdin_err,
            "warnings differ beyond the name"
        );
    }
}

#[test]
fn stdin_through_a_real_pipe() {
    // An OS pipe fed by another thread, rather than a buffer: heapcost must
    // read to the end however the data arrives.
    let data = read(&envoy1());
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("heapcost"))
        .env("HEAPCOST_CACHE_DIR", super::common::cache_dir())
        .args(["top", "-n", "5", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for chunk in data.chunks(4093) {
            stdin.write_all(chunk).unwrap();
        }
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let (stdout, _) = succeeded(&output, &["top", "-n", "5", "-"]);
    let (from_file, _) = ok(&["top", "-n", "5", s(&envoy1())]);
    assert_eq!(without_file_line(&stdout), without_file_line(&from_file));
}

#[test]
fn top_json_shape() {
    let (stdout, _) = ok(&["top", "--format", "json", s(&envoy1())]);
    let v = json(&stdout);
    let o = v.as_object().unwrap();
    for key in ["sample_type", "unit", "total", "rows"] {
        assert!(o.contains_key(key), "no {key:?} in {stdout}");
    }
    assert_eq!(v["sample_type"], "inuse_space");
    assert_eq!(v["unit"], "bytes");
    assert_eq!(v["total"], 104943209);
    let rows = rows(&v);
    assert_eq!(rows.len(), 20, "default -n is 20");
    assert!(rows.iter().all(|(name, _, _)| !name.is_empty()));
    // Flat order by default: descending flat.
    assert!(
        rows.windows(2).all(|w| w[0].1 >= w[1].1),
        "not sorted by flat: {rows:?}"
    );
    assert!(rows.iter().all(|(_, flat, cum)| cum >= flat));
}

#[test]
fn nodecount_zero_lists_all_rows_and_three_lists_three() {
    let file = envoy1();
    let (all_text, _) = ok(&["top", "-n", "0", s(&file)]);
    let (shown, of) = row_count(&all_text);
    assert_eq!(shown, of);
    assert!(of > 1000, "{of} rows");
    assert_eq!(table_lines(&all_text).len(), of);
    let (all_json, _) = ok(&["top", "--nodecount", "0", "--format", "json", s(&file)]);
    let all = rows(&json(&all_json));
    assert_eq!(all.len(), of);
    // Every row has a cost; names are unique.
    assert!(all.iter().all(|(_, f, c)| *f != 0 || *c != 0));
    let mut names: Vec<&str> = all.iter().map(|(n, _, _)| n.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), of);

    let (three_text, _) = ok(&["top", "-n", "3", s(&file)]);
    assert_eq!(row_count(&three_text), (3, of));
    assert_eq!(table_lines(&three_text).len(), 3);
    let (three_json, _) = ok(&["top", "-n", "3", "--format", "json", s(&file)]);
    let three = rows(&json(&three_json));
    assert_eq!(three.len(), 3);
    assert_eq!(three[..], all[..3]);
    // More rows than exist: all of them.
    let (many, _) = ok(&["top", "-n", "1000000", "--format", "json", s(&file)]);
    assert_eq!(rows(&json(&many)).len(), of);
}

#[test]
fn cum_sorts_by_cumulative_cost() {
    let file = envoy1();
    let (stdout, _) = ok(&["top", "--cum", "-n", "0", "--format", "json", s(&file)]);
    let by_cum = rows(&json(&stdout));
    assert!(
        by_cum.windows(2).all(|w| w[0].2 >= w[1].2),
        "not sorted by cum descending"
    );
    let (stdout, _) = ok(&["top", "-n", "0", "--format", "json", s(&file)]);
    let by_flat = rows(&json(&stdout));
    // Same rows, another order: cum order is not flat order on this profile.
    let (mut a, mut b) = (by_cum.clone(), by_flat.clone());
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert_ne!(by_cum, by_flat);
    assert!(
        by_cum[0].2 > by_cum[0].1,
        "a caller is on top: {:?}",
        by_cum[0]
    );
    // Text output agrees.
    let (text, _) = ok(&["top", "--cum", "-n", "5", s(&file)]);
    let names: Vec<&str> = table_lines(&text)
        .iter()
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    let expected: Vec<&str> = by_cum[..5].iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, expected);
}

#[test]
fn sample_type_changes_the_total() {
    let file = envoy1();
    for args in [
        &["top", "--sample-type", "alloc_space"][..],
        &["top", "-s", "alloc_space"],
        &["top", "--sample-index", "alloc_space"],
        &["top", "--sample-type=1"],
    ] {
        let mut args = args.to_vec();
        args.extend(["--format", "json", s(&file)]);
        let (stdout, _) = ok(&args);
        let v = json(&stdout);
        assert_eq!(v["sample_type"], "alloc_space", "{args:?}");
        assert_eq!(v["total"], 311789135, "{args:?}");
    }
    let (text, _) = ok(&["top", "--sample-type", "alloc_space", s(&file)]);
    assert!(text.contains("Type: alloc_space\n"), "{text}");
    let (stdout, _) = ok(&["top", "-s", "inuse_objects", "--format", "json", s(&file)]);
    assert_eq!(json(&stdout)["total"], 3535);
}

#[test]
fn unknown_sample_type_lists_the_available_ones() {
    let stderr = fails(&["top", "--sample-type", "bogus", s(&envoy1())]);
    let line = one_error_line(&stderr);
    assert!(line.contains("bogus"), "{line}");
    assert!(
        line.contains("alloc_objects, alloc_space, inuse_objects, inuse_space"),
        "{line}"
    );
    let stderr = fails(&["top", "-s", "alloc_space", s(&cppbench())]);
    let line = one_error_line(&stderr);
    assert!(line.contains("objects, space"), "{line}");
    let stderr = fails(&["top", "-s", "4", s(&envoy1())]);
    assert!(one_error_line(&stderr).contains("index 4"), "{stderr}");
}

#[test]
fn several_files_merge_by_summing() {
    let total = |args: &[&str]| -> i64 {
        let mut a = vec!["top", "--format", "json"];
        a.extend_from_slice(args);
        json(&ok(&a).0)["total"].as_i64().unwrap()
    };
    let (one, two) = (total(&[s(&envoy1())]), total(&[s(&envoy2())]));
    assert_eq!(total(&[s(&envoy1()), s(&envoy2())]), one + two);
    let (text, _) = ok(&["top", s(&envoy1()), s(&envoy2())]);
    assert!(
        text.starts_with(&format!("Files: {} (+1 more)\n", s(&envoy1()))),
        "{text}"
    );
}

// ---------------------------------------------------------------------------
// info
// ---------------------------------------------------------------------------

#[test]
fn info_json_on_two_files_is_an_array_of_two() {
    let (a, b) = (envoy1(), cppbench());
    let (stdout, _) = ok(&["info", "--format", "json", s(&a), s(&b)]);
    let v = json(&stdout);
    let items = v.as_array().unwrap_or_else(|| panic!("not an array: {v}"));
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(Value::is_object));
    assert_eq!(items[0]["path"], s(&a));
    assert_eq!(items[1]["path"], s(&b));
    assert_eq!(items[0]["format"], "gperftools_heap");
    assert_eq!(items[0]["sample_types"].as_array().unwrap().len(), 4);
    assert_eq!(items[1]["sample_types"].as_array().unwrap().len(), 2);
    // One file: still an array.
    let (stdout, _) = ok(&["info", "--format", "json", s(&a)]);
    assert_eq!(json(&stdout).as_array().unwrap().len(), 1);
    // Text: one block per file, in order.
    let (text, _) = ok(&["info", s(&a), s(&b)]);
    let (first, second) = text.split_once("\n\n").unwrap();
    assert!(first.starts_with(s(&a)), "{first}");
    assert!(second.starts_with(s(&b)), "{second}");
}

// ---------------------------------------------------------------------------
// Help and usage
// ---------------------------------------------------------------------------

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
        let output = heapcost().args(args).output().unwrap();
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

// ---------------------------------------------------------------------------
// Warnings, gzip, merge errors
// ---------------------------------------------------------------------------

/// The warning lines of a stderr, checking that nothing else is there.
fn warnings(stderr: &str) -> Vec<&str> {
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines.iter().all(|l| l.starts_with("heapcost: warning: ")),
        "{stderr}"
    );
    lines
}

#[test]
fn truncated_file_warns_once_and_quiet_silences_it() {
    let dir = TempDir::new().unwrap();
    let data = read(&envoy1());
    // Cut at a line boundary a few hundred stacks in (the in-use stacks come
    // first in this dump, so some are lost), and in the middle of a stack's
    // addresses (that stack loses frames, the file still parses).
    let line_300 = data
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(299)
        .unwrap()
        .0
        + 1;
    let mid_addresses = line_300
        + data[line_300..]
            .windows(4)
            .position(|w| w == b" 0x4")
            .unwrap()
        + 6;
    for (name, cut) in [
        ("300-lines.heap", line_300),
        ("mid-address.heap", mid_addresses),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &data[..cut]).unwrap();
        let (stdout, stderr) = ok(&["top", "--no-symbolize", s(&path)]);
        let w = warnings(&stderr);
        assert_eq!(w.len(), 1, "{stderr}");
        assert!(w[0].contains(s(&path)), "{}", w[0]);
        assert!(w[0].contains("inuse_space"), "{}", w[0]);
        assert!(!w[0].contains("inuse_space is complete"), "{}", w[0]);
        let (info, _) = ok(&["info", "--format", "json", s(&path)]);
        let info = json(&info);
        assert_eq!(info[0]["truncated"], true);
        assert!(info[0]["remainder"]["inuse_space"].as_i64().unwrap() > 0);
        assert!(w[0].contains("see `heapcost info`"), "{}", w[0]);
        for quiet in [
            &["--quiet", "top"][..],
            &["-q", "top"],
            &["top", "--no-symbolize", "--quiet"],
        ] {
            let mut args = quiet.to_vec();
            args.push(s(&path));
            let (quiet_stdout, quiet_stderr) = ok(&args);
            assert_eq!(quiet_stderr, "", "{args:?}");
            assert_eq!(quiet_stdout, stdout, "{args:?}");
        }
        // JSON carries the warning in the output too; --quiet only silences stderr.
        let (stdout, stderr) = ok(&["top", "--no-symbolize", "-q", "--format", "json", s(&path)]);
        assert_eq!(stderr, "");
        assert_eq!(json(&stdout)["warnings"].as_array().unwrap().len(), 1);
    }
    // The uncut file lists every in-use stack: a warning about the other types only.
    let (_, stderr) = ok(&["top", "--no-symbolize", s(&envoy1())]);
    let w = warnings(&stderr);
    assert_eq!(w.len(), 1, "{stderr}");
    assert!(w[0].contains("inuse_space is complete"), "{}", w[0]);
    // A profile without header totals has nothing to warn about.
    let pb = super::common::fixture("pprof-proto/cppbench.heap.pb.gz");
    let (_, stderr) = ok(&["top", "--no-symbolize", s(&pb)]);
    assert_eq!(stderr, "");
}

#[test]
fn gzip_gives_the_same_output_but_the_file_line() {
    let dir = TempDir::new().unwrap();
    let plain = envoy1();
    let gz = dir.path().join("envoy.prof.0001.heap.gz");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&read(&plain)).unwrap();
    std::fs::write(&gz, e.finish().unwrap()).unwrap();
    for extra in [
        &["top"][..],
        &["top", "--cum", "-n", "0"],
        &["top", "-s", "alloc_objects"],
    ] {
        let mut a = extra.to_vec();
        a.push(s(&plain));
        let (from_plain, plain_err) = ok(&a);
        a.pop();
        a.push(s(&gz));
        let (from_gz, gz_err) = ok(&a);
        assert_eq!(from_gz.lines().next(), Some(&*format!("File: {}", s(&gz))));
        assert_eq!(without_file_line(&from_plain), without_file_line(&from_gz));
        assert_eq!(plain_err.replace(s(&plain), s(&gz)), gz_err);
    }
    let (info_plain, _) = ok(&["info", "--format", "json", s(&plain)]);
    let (info_gz, _) = ok(&["info", "--format", "json", s(&gz)]);
    let (mut a, b) = (json(&info_plain), json(&info_gz));
    a[0]["path"] = Value::String(s(&gz).to_string());
    assert_eq!(a, b);
    // Gzip through stdin.
    let output = heapcost()
        .args(["top", "-"])
        .pipe_stdin(&gz)
        .unwrap()
        .output()
        .unwrap();
    let (from_stdin, _) = succeeded(&output, &["top", "-"]);
    let (from_plain, _) = ok(&["top", s(&plain)]);
    assert_eq!(
        without_file_line(&from_stdin),
        without_file_line(&from_plain)
    );
}

#[test]
fn profiles_that_cannot_merge_name_both_files() {
    let (a, b) = (envoy1(), cppbench());
    for (first, second) in [(&a, &b), (&b, &a)] {
        let stderr = fails(&["top", s(first), s(second)]);
        let line = one_error_line(&stderr);
        assert!(line.contains(s(first)), "{line}");
        assert!(line.contains(s(second)), "{line}");
        assert!(line.contains("sample types differ"), "{line}");
    }
    // Through stdin, the other one is `-`.
    let output = heapcost()
        .args(["top", s(&a), "-"])
        .pipe_stdin(&b)
        .unwrap()
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let line = one_error_line(&stderr);
    assert!(
        line.contains(&format!("cannot merge - with {}", s(&a))),
        "{line}"
    );
    // info does not merge: both are described.
    let (stdout, _) = ok(&["info", "--format", "json", s(&a), s(&b)]);
    assert_eq!(json(&stdout).as_array().unwrap().len(), 2);
}

#[test]
fn closed_stdout_is_not_an_error() {
    // `heapcost top -n 0 | head -1`: the rest of the table hits a closed pipe.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("heapcost"))
        .env("HEAPCOST_CACHE_DIR", super::common::cache_dir())
        .args(["top", "-n", "0", s(&envoy1())])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(&first[..6], b"File: ");
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn mini(rel: &str) -> String {
    super::common::fixture(&format!("mini-envoy/{rel}"))
        .to_string_lossy()
        .into_owned()
}

/// `heapcost attribute` on mini-envoy's peak dump, named from its files, as JSON.
fn mini_attribute(extra: &[&str]) -> Value {
    let (dump, bin, dir) = (mini("mini-envoy.0003.heap"), mini("mini-envoy"), mini(""));
    let mut args = vec!["attribute", &dump, "-b", &bin, "--symbols-path", &dir];
    args.extend(["--format", "json"]);
    args.extend(extra);
    serde_json::from_str(&ok(&args).0).unwrap()
}

#[test]
fn attribute_json_follows_the_contract() {
    let (dump, bin) = (mini("mini-envoy.0003.heap"), mini("mini-envoy"));
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
    let dump = mini("mini-envoy.0003.heap");
    let (bin, dir) = (mini("mini-envoy"), mini(""));
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
    let dump = mini("mini-envoy.0003.heap");
    let bin = mini("mini-envoy");
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

#[test]
fn diff_in_text_json_and_markdown() {
    let (base, new, bin, dir) = (
        mini("mini-envoy.0002.heap"),
        mini("mini-envoy.0003.heap"),
        mini("mini-envoy"),
        mini(""),
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
    let output = heapcost().args(["diff", &new]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn series_orders_snapshots_numerically_and_matches_top() {
    let dir = TempDir::new().unwrap();
    // Names whose shell order is not their numeric order.
    let mut names = Vec::new();
    for n in [1, 2, 9, 10] {
        let src = corpus(&format!(
            "envoy-1.34-ext-proc-full-duplex/envoy.prof.{n:04}.heap"
        ));
        let dst = dir.path().join(format!("envoy.prof.{n}.heap"));
        std::fs::copy(&src, &dst).unwrap();
        names.push(dst.to_string_lossy().into_owned());
    }
    let shuffled = [&names[3], &names[0], &names[2], &names[1]];
    let mut args = vec!["series", "--format", "json"];
    args.extend(shuffled.iter().map(|s| s.as_str()));
    let v: Value = serde_json::from_str(&ok(&args).0).unwrap();
    let snaps = v["snapshots"].as_array().unwrap();
    let paths: Vec<&str> = snaps.iter().map(|s| s["path"].as_str().unwrap()).collect();
    assert_eq!(paths, names.iter().map(String::as_str).collect::<Vec<_>>());
    let mut previous = None;
    let mut peak = (0, 0);
    for (i, (snap, name)) in snaps.iter().zip(&names).enumerate() {
        let (top, _) = ok(&["top", name, "--format", "json"]);
        let top: Value = serde_json::from_str(&top).unwrap();
        let total = top["total"].as_i64().unwrap();
        assert_eq!(snap["total"].as_i64().unwrap(), total, "{name}");
        assert_eq!(
            snap["growth"].as_i64().unwrap(),
            previous.map_or(0, |p| total - p)
        );
        previous = Some(total);
        if total > peak.1 {
            peak = (i, total);
        }
    }
    assert_eq!(v["peak"].as_u64().unwrap() as usize, peak.0);
    // Unsymbolized: one owner, equal to each total.
    let owner = &v["owners"][0];
    assert_eq!(owner["name"], "unsymbolized");
    let values: Vec<i64> = owner["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    let totals: Vec<i64> = snaps.iter().map(|s| s["total"].as_i64().unwrap()).collect();
    assert_eq!(values, totals);
    let (text, _) = ok(&["series", &names[0], &names[1]]);
    assert!(text.contains("2 snapshots"), "{text}");
    let (md, _) = ok(&["series", &names[0], &names[1], "--format", "markdown"]);
    assert!(md.starts_with("### heapcost: 2 snapshots"), "{md}");
}
