//! `heapcost top` end to end: the real binary on the corpus, its flags
//! (`-n`, `--cum`, `--sample-type`), standard input (from a buffer and a
//! real pipe), gzip, the truncation warning and `--quiet`, merging several
//! files and its errors, and a closed stdout.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;
use tempfile::TempDir;

use super::common::run::{
    VIEW_BOUND, fails, heapcost, heapcost_process, ok, one_error_line, succeeded,
};
use super::common::{corpus, cppbench, envoy1, fixture, json, read, s};

fn envoy2() -> PathBuf {
    corpus("envoy-1.34-ext-proc-full-duplex/envoy.prof.0002.heap")
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
            .timeout(VIEW_BOUND)
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
    let mut child = heapcost_process()
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
// Warnings, gzip, merge errors, a closed stdout
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
    let pb = fixture("pprof-proto/cppbench.heap.pb.gz");
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
        .timeout(VIEW_BOUND)
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
        .timeout(VIEW_BOUND)
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
    let mut child = heapcost_process()
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
