//! Truncated, corrupted and adversarial variants of one real input of every
//! format heapcost reads (gperftools heap, sampled heap, growth, Go heap,
//! jemalloc, the memory-map trailer, pprof protobuf raw and gzip'd, gzip'd
//! text): each makes the binary exit 2 with one line naming the file, and
//! the line for text formats, from a file and from standard input. Every
//! run is bounded by the harness (`heapcost()` kills it after 20 s; the
//! in-process sweeps run under [`within`]), which detects hangs; no test
//! asserts a speed.

use std::time::Duration;

use tempfile::TempDir;

use super::common::errors::{Expect, at, check_failure, check_message, expect_error, whole};
use super::common::protobuf::{gunzip, gzip};
use super::common::run::heapcost;
use super::common::{corpus, fixture, read, within};

/// One input of each text format: (label, bytes).
fn text_inputs() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "gperftools-heapprofile",
            read(&fixture("envoy/envoy.prof.0001.heap")),
        ),
        (
            "gperftools-heap_v2",
            read(&corpus("pprof-testdata/cppbench.heap")),
        ),
        (
            "gperftools-growthz",
            read(&corpus("pprof-testdata/cppbench.growth")),
        ),
        ("go-heap", read(&corpus("pprof-testdata/gobench.heap"))),
        ("jemalloc", read(&corpus("pprof-testdata/jemalloc.heap"))),
    ]
}

/// The pprof protobuf fixture, gunzipped.
fn protobuf() -> Vec<u8> {
    gunzip(&read(&fixture("pprof-proto/envoy.prof.0001.pb.gz")))
}

/// Byte range of the 1-based line `n` (without its newline).
fn line_span(data: &[u8], n: usize) -> std::ops::Range<usize> {
    let mut start = 0;
    for _ in 1..n {
        start += data[start..].iter().position(|b| *b == b'\n').unwrap() + 1;
    }
    let end = data[start..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(data.len(), |p| start + p);
    start..end
}

/// The 1-based number of the `k`-th stack line (`@` lines for jemalloc,
/// lines with a value block and `@` for the others).
fn stack_line(data: &[u8], k: usize) -> usize {
    let text = String::from_utf8_lossy(data);
    let jemalloc = text.starts_with("heap_v2/");
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_start();
            if jemalloc {
                l.starts_with('@')
            } else {
                l.starts_with(|c: char| c.is_ascii_digit()) && l.contains('@')
            }
        })
        .nth(k)
        .map(|(i, _)| i + 1)
        .unwrap()
}

/// Replaces line `n` of `data` with `line`.
fn with_line(data: &[u8], n: usize, line: &[u8]) -> Vec<u8> {
    let span = line_span(data, n);
    let mut out = data[..span.start].to_vec();
    out.extend_from_slice(line);
    out.extend_from_slice(&data[span.end..]);
    out
}

/// The variants of one text input, each with what its error must say.
fn text_variants(data: &[u8]) -> Vec<(&'static str, Vec<u8>, Expect)> {
    let k = stack_line(data, 3);
    let line = &data[line_span(data, k)];
    let at_sign = line.iter().position(|b| *b == b'@').unwrap();
    let jemalloc = data.starts_with(b"heap_v2/");
    let mut out = Vec::new();
    // Truncated in the middle of a line: the `[` of a value block (a
    // thread line's for jemalloc), or right after `0x` of an address.
    if jemalloc {
        let t = k + 1;
        let span = line_span(data, t);
        let cut = span.start + data[span.clone()].iter().position(|b| *b == b'[').unwrap() + 1;
        out.push((
            "cut-in-values",
            data[..cut].to_vec(),
            at(t, "expected allocation count"),
        ));
    } else {
        let cut = line_span(data, k).start + line.iter().position(|b| *b == b'[').unwrap() + 1;
        out.push((
            "cut-in-values",
            data[..cut].to_vec(),
            at(k, "expected allocation count"),
        ));
    }
    let addr = line_span(data, k).start
        + at_sign
        + 1
        + line[at_sign + 1..].iter().position(|b| *b == b'0').unwrap();
    out.push(("cut-in-address", data[..addr + 2].to_vec(), at(k, "\"0x\"")));
    // Corrupted: a digit of an address made not hex, a count made a word.
    let mut bad = data.to_vec();
    bad[addr + 2] = b'g';
    out.push(("not-hex", bad, at(k, "is not a 64-bit hexadecimal number")));
    if !jemalloc {
        let mut words = line.to_vec();
        words.splice(0..0, b"x".iter().copied());
        out.push((
            "count-word",
            with_line(data, k, &words),
            at(k, "malformed stack line"),
        ));
    }
    // Adversarial: a count past i64, a stack past the depth limit, a
    // line past the line limit, and a header cut before its tag.
    let mut huge = line.to_vec();
    let digit = huge.iter().position(u8::is_ascii_digit).unwrap();
    huge.splice(digit..digit, b"99999999999999999999".iter().copied());
    if !jemalloc {
        out.push(("huge-count", with_line(data, k, &huge), at(k, "64-bit")));
    }
    let mut deep = line[..=at_sign].to_vec();
    for a in 0..5000u64 {
        deep.extend_from_slice(format!(" {:#x}", 0x1000 + a).as_bytes());
    }
    out.push((
        "too-deep",
        with_line(data, k, &deep),
        at(k, "deeper than 4096"),
    ));
    let mut long = b"# ".to_vec();
    long.resize((1 << 20) + 10, b'c');
    out.push((
        "long-line",
        with_line(data, k, &long),
        at(k, "longer than 1 MiB"),
    ));
    if !jemalloc {
        let header = &data[line_span(data, 1)];
        let tag = header.iter().rposition(|b| *b == b'@').unwrap();
        out.push(("header-cut", header[..tag].to_vec(), at(1, "expected '@'")));
    }
    out
}

#[test]
fn text_formats() {
    let dir = TempDir::new().unwrap();
    for (label, data) in text_inputs() {
        for (variant, bytes, expect) in text_variants(&data) {
            expect_error(&dir, &format!("{label}.{variant}.heap"), &bytes, expect);
        }
        // gzip'd: a cut stream, and a line error inside a sound stream.
        let z = gzip(&data);
        expect_error(
            &dir,
            &format!("{label}.cut.heap.gz"),
            &z[..z.len() * 2 / 3],
            whole("gzip stream is corrupt or cut short"),
        );
        let (variant, bytes, expect) = text_variants(&data).swap_remove(2);
        expect_error(
            &dir,
            &format!("{label}.{variant}.heap.gz"),
            &gzip(&bytes),
            expect,
        );
    }
}

#[test]
fn maps_trailer() {
    let dir = TempDir::new().unwrap();
    let data = read(&fixture("envoy/envoy.prof.0001.heap"));
    let text = String::from_utf8_lossy(&data);
    let sentinel = text
        .lines()
        .position(|l| l.starts_with("MAPPED_LIBRARIES:"))
        .unwrap()
        + 1;
    // Truncated anywhere in the trailer, it still reads: a maps line cut
    // short is not a mapping, and pprof ignores such lines.
    let first = line_span(&data, sentinel + 1);
    let cut = &data[..first.start + 10];
    let path = dir.path().join("maps-cut.heap");
    std::fs::write(&path, cut).unwrap();
    let output = heapcost()
        .args(["info", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Adversarial: a file name past PATH_MAX, at its line.
    let long = format!(
        "7f0000000000-7f0000001000 r-xp 00000000 00:00 1 /{}",
        "x".repeat(5000)
    );
    let bytes = with_line(&data, sentinel + 2, long.as_bytes());
    expect_error(
        &dir,
        "maps-long-path.heap",
        &bytes,
        at(sentinel + 2, "longer than 4096"),
    );
    expect_error(
        &dir,
        "maps-long-path.heap.gz",
        &gzip(&bytes),
        at(sentinel + 2, "longer than 4096"),
    );
}

#[test]
fn protobuf_raw_and_gzipped() {
    let dir = TempDir::new().unwrap();
    let pb = protobuf();
    let z = gzip(&pb);
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        (
            "cut-half.pb",
            pb[..pb.len() / 2].to_vec(),
            whole("malformed pprof protobuf"),
        ),
        (
            "cut-one.pb",
            pb[..pb.len() - 1].to_vec(),
            whole("malformed pprof protobuf"),
        ),
        (
            "first-byte.pb",
            [&[0xff][..], &pb[1..]].concat(),
            whole("unrecognized format"),
        ),
        (
            "cut.pb.gz",
            z[..z.len() / 2].to_vec(),
            whole("gzip stream is corrupt"),
        ),
        (
            "crc.pb.gz",
            {
                let mut c = z.clone();
                let n = c.len();
                c[n - 6] ^= 0x55;
                c
            },
            whole("gzip stream is corrupt"),
        ),
        (
            "cut-inside.pb.gz",
            gzip(&pb[..pb.len() / 3]),
            whole("malformed pprof protobuf"),
        ),
    ];
    for (name, bytes, expect) in cases {
        expect_error(&dir, name, &bytes, expect);
    }
}

#[test]
fn standard_input_names_dash() {
    // One variant of each format through `-`: the message names `-`.
    let mut inputs: Vec<(String, Vec<u8>, Expect)> = text_inputs()
        .into_iter()
        .map(|(label, data)| {
            let (_, bytes, expect) = text_variants(&data).swap_remove(2);
            (label.to_string(), bytes, expect)
        })
        .collect();
    let pb = protobuf();
    inputs.push((
        "pprof".into(),
        pb[..pb.len() / 2].to_vec(),
        whole("malformed pprof protobuf"),
    ));
    let z = gzip(&pb);
    inputs.push((
        "pprof.gz".into(),
        z[..z.len() / 2].to_vec(),
        whole("gzip stream is corrupt"),
    ));
    for (label, bytes, expect) in inputs {
        let output = heapcost()
            .args(["top", "-"])
            .write_stdin(bytes)
            .output()
            .unwrap();
        check_failure(&output, "-", &expect, &format!("heapcost top - < {label}"));
    }
}

#[test]
fn every_truncation_point_parses_or_fails_cleanly() {
    // In process: 200 cuts of each input (text, protobuf, both gzip'd), each
    // either a profile or one clean error naming the input (and a line
    // inside it for text), never a panic.
    let mut inputs: Vec<(String, Vec<u8>)> = text_inputs()
        .into_iter()
        .map(|(l, d)| (l.to_string(), d))
        .collect();
    inputs.push(("pprof".into(), protobuf()));
    let gzipped: Vec<(String, Vec<u8>)> = inputs
        .iter()
        .map(|(l, d)| (format!("{l}.gz"), gzip(d)))
        .collect();
    inputs.extend(gzipped);
    let summary = within(Duration::from_secs(300), "truncation sweep", move || {
        let mut failures = Vec::new();
        let (mut ok, mut err) = (0, 0);
        for (label, data) in &inputs {
            for i in 0..200 {
                let cut = &data[..data.len() * i / 200];
                match heapcost::read::parse(cut, "fuzz") {
                    Ok(_) => ok += 1,
                    Err(e) => {
                        err += 1;
                        if let Err(problem) = check_message(&e.to_string(), cut) {
                            failures.push(format!("{label} cut at {}: {problem}", cut.len()));
                        }
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        (ok, err)
    });
    assert!(summary.0 > 100 && summary.1 > 100, "{summary:?}");
}
