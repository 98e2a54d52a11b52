//! The limits of `heapcost::read::limits`: each one passed is refused with
//! exit 2 and one line naming the file (and the line, for text formats),
//! never a crash, an exhausted memory or a hang. Every run is bounded by the
//! harness (`heapcost()` kills a run after 20 s; the largest inputs here get
//! 60 s), which detects hangs; no test asserts a speed.

use std::fmt::Write as _;
use std::time::Duration;

use heapcost::read::limits::{
    GZIP_RATIO_FLOOR, MAX_LINE_LEN, MAX_LOCATIONS, MAX_MAPPINGS, MAX_PATH_LEN, MAX_STACK_DEPTH,
};
use tempfile::TempDir;

use super::common::errors::{
    GOOD_STACKS, HEADER, at, check_failure, expect_error, expect_success, whole,
};
use super::common::protobuf::{Pb, gzip};
use super::common::run::heapcost;

/// A stack line with `n` distinct frames starting at `first`.
fn stack_line(first: u64, n: usize) -> String {
    let mut line = String::from("1: 8 [1: 8] @");
    for a in first..first + n as u64 {
        write!(line, " {a:#x}").unwrap();
    }
    line.push('\n');
    line
}

#[test]
fn stack_depth() {
    let dir = TempDir::new().unwrap();
    let deep = stack_line(0x1000, MAX_STACK_DEPTH + 1);
    let ok = stack_line(0x1000, MAX_STACK_DEPTH);
    let text = format!("{HEADER}{GOOD_STACKS}{ok}{deep}");
    expect_error(
        &dir,
        "deep.heap",
        text.as_bytes(),
        at(5, "stack of 4097 frames is deeper than 4096"),
    );
    let jemalloc = format!(
        "heap_v2/1\n  t*: 1: 8 [0: 0]\n@{}  t*: 1: 8 [0: 0]\n",
        &deep[deep.find('@').unwrap() + 1..]
    );
    expect_error(
        &dir,
        "deep-jemalloc.heap",
        jemalloc.as_bytes(),
        at(3, "deeper than 4096"),
    );
    let mut pb = Pb::valid();
    let ids: Vec<u64> = (0..=MAX_STACK_DEPTH as u64).map(|i| 1 + i % 2).collect();
    pb.samples[0].0 = ids;
    expect_error(
        &dir,
        "deep.pb",
        &pb.encode(),
        whole("sample 0: stack of 4097 frames is deeper than 4096"),
    );
    // At the limit it reads.
    expect_success(
        &dir,
        "deepest.heap",
        format!("{HEADER}{GOOD_STACKS}{ok}").as_bytes(),
    );
}

#[test]
fn number_of_locations() {
    // One address more than the limit, in lines of 4096 (the largest text
    // input of the tests, about 40 MB).
    let dir = TempDir::new().unwrap();
    let mut text = String::from(HEADER);
    let mut next = 0x10u64;
    let lines = (MAX_LOCATIONS + 1).div_ceil(MAX_STACK_DEPTH);
    for _ in 0..lines {
        text.push_str(&stack_line(next, MAX_STACK_DEPTH));
        next += MAX_STACK_DEPTH as u64;
    }
    let path = dir.path().join("many.heap");
    std::fs::write(&path, text.as_bytes()).unwrap();
    let shown = path.to_str().unwrap();
    let output = heapcost()
        .timeout(Duration::from_secs(60))
        .args(["info", shown])
        .output()
        .unwrap();
    check_failure(
        &output,
        shown,
        &at(lines + 1, "more than 4194304 distinct stack addresses"),
        "heapcost info many.heap",
    );
}

#[test]
fn number_of_mappings() {
    let dir = TempDir::new().unwrap();
    let mut text = format!("{HEADER}{GOOD_STACKS}MAPPED_LIBRARIES:\n");
    for i in 0..=MAX_MAPPINGS as u64 {
        let start = 0x10000 + i * 0x2000;
        writeln!(
            text,
            "{start:x}-{:x} r-xp 00000000 08:01 {i} /lib/lib{i}.so",
            start + 0x1000
        )
        .unwrap();
    }
    // Header, two stacks, the sentinel: the first mapping is line 5.
    expect_error(
        &dir,
        "maps.heap",
        text.as_bytes(),
        at(5 + MAX_MAPPINGS, "more than 65536 executable mappings"),
    );
}

#[test]
fn path_length() {
    let dir = TempDir::new().unwrap();
    let long = format!("/{}", "d/".repeat(MAX_PATH_LEN / 2));
    let text = format!(
        "{HEADER}{GOOD_STACKS}MAPPED_LIBRARIES:\n1000-3000 r-xp 00000000 00:00 1 /bin/app\n\
         4000-5000 r-xp 00000000 00:00 1 {long}\n"
    );
    expect_error(
        &dir,
        "long-path.heap",
        text.as_bytes(),
        at(6, "mapping file name of 4097 bytes is longer than 4096"),
    );
    // Through `$name` substitution (the line itself is short).
    let text = format!(
        "{HEADER}{GOOD_STACKS}MAPPED_LIBRARIES:\nroot={}\n4000-5000 r-xp 00000000 00:00 1 $root/x\n",
        "r".repeat(MAX_PATH_LEN)
    );
    expect_error(
        &dir,
        "long-var-path.heap",
        text.as_bytes(),
        at(6, "is longer than 4096"),
    );
    // A non-executable mapping is dropped, whatever its name.
    let text =
        format!("{HEADER}{GOOD_STACKS}MAPPED_LIBRARIES:\n4000-5000 rw-p 00000000 00:00 1 {long}\n");
    expect_success(&dir, "long-data-path.heap", text.as_bytes());
    // In a protobuf: the mapping's file name.
    let mut pb = Pb::valid();
    pb.strings[6] = long.clone();
    expect_error(
        &dir,
        "long-path.pb",
        &pb.encode(),
        whole("mapping 1: file name of 4097 bytes is longer than 4096"),
    );
}

#[test]
fn line_length() {
    let dir = TempDir::new().unwrap();
    let mut text = format!("{HEADER}{GOOD_STACKS}# ").into_bytes();
    text.resize(text.len() + MAX_LINE_LEN, b'x');
    text.extend_from_slice(b"\n1: 1 [1: 1] @ 0x1\n");
    expect_error(
        &dir,
        "long-line.heap",
        &text,
        at(4, "line is longer than 1 MiB"),
    );
    // A first line that long is not a profile header: binary, unrecognized.
    let mut text = vec![b'x'; MAX_LINE_LEN + 5];
    text.extend_from_slice(b"heap profile: 1: 1 [1: 1] @ heapprofile\n");
    expect_error(&dir, "long-first.bin", &text, whole("unrecognized format"));
}

/// A gzip file of `prefix` and then `mib` MiB of `chunk` repeated: one
/// member per MiB (a reader must inflate concatenated members as one
/// stream), each compressed once.
fn gzip_bomb(prefix: &[u8], chunk: &[u8], mib: usize) -> Vec<u8> {
    let mut one = Vec::with_capacity(1 << 20);
    while one.len() + chunk.len() <= 1 << 20 {
        one.extend_from_slice(chunk);
    }
    let member = gzip(&one);
    let mut out = gzip(prefix);
    for _ in 0..mib {
        out.extend_from_slice(&member);
    }
    out
}

#[test]
fn gzip_bomb_is_refused() {
    let dir = TempDir::new().unwrap();
    // 1 GiB of zeros in about 1 MiB: refused once past the 64 MiB floor.
    let bomb = gzip_bomb(b"", &[0], 1024);
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());
    expect_error(
        &dir,
        "zeros.gz",
        &bomb,
        whole("refusing it as a likely gzip bomb"),
    );
    // The same inside a text profile: a valid start, then blank lines.
    let mut blank = vec![b' '; 1023];
    blank.push(b'\n');
    let bomb = gzip_bomb(
        format!("{HEADER}{GOOD_STACKS}").as_bytes(),
        &blank,
        (GZIP_RATIO_FLOOR >> 20) as usize * 2,
    );
    expect_error(
        &dir,
        "blank.heap.gz",
        &bomb,
        whole("refusing it as a likely gzip bomb"),
    );
}

#[test]
fn size_limits_follow_the_environment() {
    let dir = TempDir::new().unwrap();
    let text = format!("{HEADER}{GOOD_STACKS}");
    let path = dir.path().join("small.heap.gz");
    std::fs::write(&path, gzip(text.as_bytes())).unwrap();
    let shown = path.to_str().unwrap();
    let output = heapcost()
        .env("HEAPCOST_MAX_DECOMPRESSED", "32")
        .args(["top", shown])
        .output()
        .unwrap();
    check_failure(
        &output,
        shown,
        &whole("gzip stream inflates to more than 32 bytes"),
        "HEAPCOST_MAX_DECOMPRESSED=32",
    );
    let output = heapcost()
        .env("HEAPCOST_MAX_DECOMPRESSED", "1M")
        .args(["top", shown])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    // A protobuf is read whole, within HEAPCOST_MAX_PROTOBUF.
    let pb = Pb::valid().encode();
    let path = dir.path().join("small.pb");
    std::fs::write(&path, &pb).unwrap();
    let shown = path.to_str().unwrap();
    let output = heapcost()
        .env("HEAPCOST_MAX_PROTOBUF", "100")
        .args(["info", shown])
        .output()
        .unwrap();
    check_failure(
        &output,
        shown,
        &whole("larger than 100 bytes, heapcost's limit for a pprof protobuf"),
        "HEAPCOST_MAX_PROTOBUF=100",
    );
    // An unreadable setting is a usage error that names the variable.
    let output = heapcost()
        .env("HEAPCOST_MAX_PROTOBUF", "lots")
        .args(["info", shown])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("heapcost: error: HEAPCOST_MAX_PROTOBUF=\"lots\" is not a size"),
        "{stderr}"
    );
}

#[test]
fn overlapping_mappings_and_unmapped_addresses_stay_fast() {
    // pprof looks for each address's mapping by scanning the table twice;
    // 40,000 overlapping mappings and 50,000 addresses outside all of them
    // took that 4e9 steps. Bounded by the harness, not timed.
    let dir = TempDir::new().unwrap();
    let mut text = String::from(HEADER);
    for i in 0..50u64 {
        text.push_str(&stack_line(0x10_0000_0000 + i * 1000, 1000));
    }
    text.push_str("MAPPED_LIBRARIES:\n");
    for i in 0..40_000u64 {
        let start = 0x1000_0000 + i * 0x10;
        writeln!(
            text,
            "{start:x}-{:x} r-xp {:08x} 08:01 {i} /lib/l{i}.so",
            0x2000_0000 + i,
            0x100 + i
        )
        .unwrap();
    }
    let outputs = expect_success(&dir, "overlap.heap", text.as_bytes());
    assert!(
        outputs[0].contains("50000 distinct addresses"),
        "{}",
        outputs[0]
    );
}
