//! Bad text input (gperftools, jemalloc, the memory-map trailer) never
//! panics: each malformed profile makes the binary print one line on
//! stderr, `heapcost: error: PATH:LINE: ...`, and exit 2, for `info` and
//! `top` alike; a junk memory-map trailer is ignored as pprof ignores it;
//! extreme but valid counts are read or refused with the line. Gzip,
//! protobuf, files and standard input are in `bad_input.rs`; the mutation
//! sweep is in `mutation.rs`.

use std::fmt::Write as _;

use tempfile::TempDir;

use super::common::errors::{Expect, GOOD_STACKS, HEADER, at, expect_error, expect_success, whole};
use super::common::protobuf::gzip;
use super::common::rng::Rng;
use super::common::run::heapcost;

#[test]
fn empty_and_junk() {
    let dir = TempDir::new().unwrap();
    expect_error(&dir, "empty.heap", b"", whole("empty file"));
    expect_error(&dir, "blank.heap", b" \n\t\r\n\n", whole("empty file"));
    let mut junk = vec![0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0xff];
    let mut rng = Rng::new(7);
    junk.extend((0..4096).map(|_| rng.next() as u8));
    expect_error(&dir, "junk.bin", &junk, whole("unrecognized format"));
    expect_error(
        &dir,
        "text.txt",
        b"hello, this is not a heap profile\n",
        whole("unrecognized format"),
    );
    // Gzip around junk: still named, still one line.
    expect_error(
        &dir,
        "junk.gz",
        &gzip(b"\xff\xff\xff\xff junk"),
        whole("unrecognized format"),
    );
    expect_error(&dir, "empty.gz", &gzip(b""), whole("empty file"));
}

#[test]
fn header_without_stacks() {
    let dir = TempDir::new().unwrap();
    expect_error(
        &dir,
        "header-only.heap",
        HEADER.as_bytes(),
        at(1, "no stack"),
    );
    // Blank lines before the header count; a maps trailer is no stack.
    let text = format!(
        "\n\n{HEADER}# only a comment\n\nMAPPED_LIBRARIES:\n1000-3000 r-xp 00000000 00:00 1 /bin/app\n"
    );
    expect_error(&dir, "header-maps.heap", text.as_bytes(), at(3, "no stack"));
    expect_error(
        &dir,
        "jemalloc-header-only.heap",
        b"heap_v2/524288\n  t*: 1: 10 [0: 0]\n  t0: 1: 10 [0: 0]\n",
        at(1, "no stack"),
    );
    expect_error(
        &dir,
        "jemalloc-no-total.heap",
        b"\nheap_v2/524288\n",
        at(2, "no 't*:' process total"),
    );
}

#[test]
fn non_hex_addresses() {
    let dir = TempDir::new().unwrap();
    for (name, addr) in [
        ("zz.heap", "0xzz"),
        ("no-prefix.heap", "1234"),
        ("bare-prefix.heap", "0x"),
        ("too-long.heap", "0x10000000000000000"),
        ("comma.heap", "0x12,"),
    ] {
        let text = format!("{HEADER}{GOOD_STACKS}1: 0 [0: 0] @ 0x1001 {addr} 0x3003\n");
        expect_error(&dir, name, text.as_bytes(), at(4, addr));
    }
    // Blank lines and comments are counted; CRLF line ends are fine.
    let text = "\r\n\r\nheap profile: 1: 1 [1: 1] @ heapprofile\r\n# c\r\n\r\n1: 1 [1: 1] @ 0x1\r\n1: 1 [1: 1] @ 0xg1\r\n";
    expect_error(&dir, "crlf.heap", text.as_bytes(), at(7, "0xg1"));
    // jemalloc stack lines.
    expect_error(
        &dir,
        "jemalloc-addr.heap",
        b"heap_v2/1\n  t*: 1: 10 [0: 0]\n@ 0x10\n  t*: 1: 10 [0: 0]\n@ 0x10 zz\n  t*: 1: 10 [0: 0]\n",
        at(5, "zz"),
    );
}

#[test]
fn counts_that_overflow_i64() {
    let dir = TempDir::new().unwrap();
    let big = "9223372036854775808"; // i64::MAX + 1
    let cases = [
        (
            "inuse-count",
            format!("{HEADER}{GOOD_STACKS}{big}: 1 [1: 1] @ 0x1\n"),
            4,
        ),
        (
            "inuse-bytes",
            format!("{HEADER}1: 99999999999999999999 [1: 1] @ 0x1\n"),
            2,
        ),
        (
            "alloc-count",
            format!("{HEADER}{GOOD_STACKS}1: 1 [{big}: 1] @ 0x1\n"),
            4,
        ),
        (
            "alloc-bytes",
            format!("{HEADER}1: 1 [1: 1{big}] @ 0x1\n"),
            2,
        ),
        (
            "negative",
            format!("{HEADER}{GOOD_STACKS}-{big}1: 1 [1: 1] @ 0x1\n"),
            4,
        ),
        (
            "header",
            format!("heap profile: 1: {big} [1: 1] @ heapprofile\n{GOOD_STACKS}"),
            1,
        ),
        (
            "period",
            format!("heap profile: 1: 1 [1: 1] @ heap_v2/{big}\n{GOOD_STACKS}"),
            1,
        ),
        (
            "jemalloc-total",
            format!("heap_v2/1\n  t*: {big}: 1 [0: 0]\n@ 0x1\n  t*: 1: 1 [0: 0]\n"),
            2,
        ),
        (
            "jemalloc-thread",
            format!(
                "heap_v2/1\n  t*: 1: 1 [0: 0]\n@ 0x1\n  t*: 1: 1 [0: 0]\n  t3: 1: {big} [0: 0]\n"
            ),
            5,
        ),
    ];
    for (name, text, line) in cases {
        expect_error(
            &dir,
            &format!("{name}.heap"),
            text.as_bytes(),
            at(line, "64-bit"),
        );
    }
}

#[test]
fn malformed_lines_name_their_line() {
    let dir = TempDir::new().unwrap();
    let cases: [(&str, String, Expect); 6] = [
        (
            "tag",
            format!("heap profile: 1: 1 [1: 1] @ heap_v9\n{GOOD_STACKS}"),
            at(1, "heap_v9"),
        ),
        (
            "no-at",
            format!("{HEADER}{GOOD_STACKS}1: 1 [1: 1] 0x1\n"),
            at(4, "expected '@'"),
        ),
        (
            "no-bracket",
            format!("{HEADER}1: 1 1: 1 @ 0x1\n"),
            at(2, "'['"),
        ),
        (
            "zero-count",
            format!("{HEADER}{GOOD_STACKS}0: 5 [1: 1] @ 0x1\n"),
            at(4, "count is 0"),
        ),
        (
            "negative-alloc",
            format!("{HEADER}1: 1 [-1: 1] @ 0x1\n"),
            at(2, "negative"),
        ),
        (
            "words",
            format!("{HEADER}{GOOD_STACKS}\nnot a stack at all\n"),
            at(5, "malformed stack line"),
        ),
    ];
    for (name, text, expect) in cases {
        expect_error(&dir, &format!("{name}.heap"), text.as_bytes(), expect);
    }
}

#[test]
fn jemalloc_bad_lines() {
    let dir = TempDir::new().unwrap();
    let cases: [(&str, &str, Expect); 8] = [
        (
            "bad-thread",
            "heap_v2/524288\n  t*: 3: 30 [0: 0]\n@ 0x10\n  t*: 3: 30 [0: 0]\n  tx: 1: 10 [0: 0]\n",
            at(5, "tN"),
        ),
        (
            "thread-junk",
            "heap_v2/524288\n  t*: 3: 30 [0: 0]\n@ 0x10\n  t*: 3: 30 [0: 0]\n  t1: 1: 10 [0: 0] extra\n",
            at(5, "after ']'"),
        ),
        (
            "stack-before-total",
            "heap_v2/524288\n@ 0x10\n  t*: 3: 30 [0: 0]\n",
            at(2, "stack before the 't*:' total"),
        ),
        (
            "thread-before-total",
            "heap_v2/524288\n  t0: 3: 30 [0: 0]\n  t*: 3: 30 [0: 0]\n@ 0x10\n  t*: 3: 30 [0: 0]\n",
            at(2, "before the 't*:' total"),
        ),
        (
            "second-total",
            "heap_v2/524288\n  t*: 3: 30 [0: 0]\n  t*: 3: 30 [0: 0]\n@ 0x10\n  t*: 3: 30 [0: 0]\n",
            at(3, "second process total"),
        ),
        (
            "stack-without-total",
            "heap_v2/524288\n  t*: 3: 30 [0: 0]\n# c\n@ 0x10\n@ 0x20\n  t*: 3: 30 [0: 0]\n",
            at(4, "without a 't*:' line"),
        ),
        (
            "last-stack-without-total",
            "heap_v2/524288\n  t*: 3: 30 [0: 0]\n@ 0x20\n  t*: 3: 30 [0: 0]\n@ 0x10\n",
            at(5, "without a 't*:' line"),
        ),
        (
            "zero-count-total",
            "heap_v2/524288\n  t*: 3: 30 [0: 0]\n@ 0x10\n  t*: 0: 30 [0: 0]\n@ 0x20\n  t*: 3: 30 [0: 0]\n",
            at(4, "count is 0"),
        ),
    ];
    for (name, text, expect) in cases {
        expect_error(&dir, &format!("{name}.heap"), text.as_bytes(), expect);
    }
    expect_error(
        &dir,
        "bad-period.heap",
        b"heap_v2/abc\n  t*: 1: 1 [0: 0]\n@ 0x1\n  t*: 1: 1 [0: 0]\n",
        at(1, "heap_v2/PERIOD"),
    );
}

#[test]
fn junk_maps_trailer_is_ignored() {
    let dir = TempDir::new().unwrap();
    let mut text = format!("{HEADER}{GOOD_STACKS}MAPPED_LIBRARIES:\n").into_bytes();
    text.extend_from_slice(
        b"this is not a mapping\n\n\x00\xff\xfe binary\n--\nxyz-abc r-xp\n1-2-3\n\
          zzzz-ffff r-xp 00000000 00:00 1 /bin/x\n=\n$=$\nname=\n=value\n\
          0-ffffffffffffffffffffff r-xp 0 0:0 1 /huge\n\
          ffff-1000 r-xp 00000000 00:00 1 /backwards\n\
          1000-3000 r-xp zz 00:00 1 /bad/offset\n\
          1000-3000 r-xp 00000000 00:00 1 /bin/app (@zz) nothex\n\
          I0102 03:04:05.678 heap.cc:12] \n\
          --- Memory map: ---\nMAPPED_LIBRARIES:\n",
    );
    let outputs = expect_success(&dir, "junk-maps.heap", &text);
    assert!(outputs[1].contains("Type: inuse_space"), "{}", outputs[1]);
    // The same in a jemalloc dump, and gzip'd.
    let mut jemalloc =
        b"heap_v2/1\n  t*: 1: 10 [0: 0]\n@ 0x10\n  t*: 1: 10 [0: 0]\nMAPPED_LIBRARIES:\n".to_vec();
    jemalloc.extend_from_slice(&text[text.len() / 2..]);
    expect_success(&dir, "junk-maps-jemalloc.heap", &jemalloc);
    expect_success(&dir, "junk-maps.heap.gz", &gzip(&text));
}

#[test]
fn maps_variables_cannot_blow_up() {
    // `name=value` lines define `$name` for later lines (pprof's rule). Each
    // definition below doubles the previous one; 40 of them would need a
    // terabyte if substitution were unbounded.
    let dir = TempDir::new().unwrap();
    let mut text = format!("{HEADER}{GOOD_STACKS}MAPPED_LIBRARIES:\nvaa=xx\n");
    let names: Vec<String> = (b'a'..=b'z')
        .flat_map(|a| (b'a'..=b'z').map(move |b| format!("v{}{}", a as char, b as char)))
        .take(40)
        .collect();
    for pair in names.windows(2) {
        writeln!(text, "{}=${}${}", pair[1], pair[0], pair[0]).unwrap();
    }
    // A mapping that uses the last, largest definition.
    writeln!(text, "1000-3000 r-xp 00000000 00:00 1 /bin/${}", names[39]).unwrap();
    expect_success(&dir, "bomb.heap", text.as_bytes());
    // Tens of thousands of definitions must not make the trailer quadratic
    // (a quadratic one would pass the 20 s bound of every run).
    let mut flood = format!("{HEADER}{GOOD_STACKS}MAPPED_LIBRARIES:\n");
    for i in 0..40_000 {
        writeln!(flood, "v{i}=x{i}").unwrap();
    }
    for i in 0..10_000 {
        writeln!(flood, "${i}$v{i}=$v1").unwrap();
    }
    expect_success(&dir, "flood.heap", flood.as_bytes());
}

#[test]
fn extreme_but_valid_counts_do_not_panic() {
    let dir = TempDir::new().unwrap();
    // i64::MIN bytes over -1 objects: the average size divides with
    // overflow; the value itself cannot be added to anything exactly.
    let text = format!("{HEADER}-1: -9223372036854775808 [1: 1] @ 0x1\n");
    expect_error(
        &dir,
        "min-over-minus-one.heap",
        text.as_bytes(),
        at(2, "add up to more than 2^63-1"),
    );
    let text =
        "heap profile: 1: 1 [1: 1] @ heap_v2/524288\n-1: -9223372036854775808 [1: 1] @ 0x1\n";
    expect_error(
        &dir,
        "min-sampled.heap",
        text.as_bytes(),
        at(2, "unsampled with period 524288 do not fit in 64 bits"),
    );
    // Unsampling that would pass i64 (Rust's cast would cap it quietly).
    let text = "heap profile: 1: 1 [1: 1] @ heap_v2/4611686018427387904\n1099511627776: 1099511627776 [1: 1] @ 0x1\n";
    expect_error(
        &dir,
        "unsampled-too-big.heap",
        text.as_bytes(),
        at(2, "do not fit in 64 bits"),
    );
    let text = "heap profile: 1: 1 [1: 1] @ heap_v2/1\n9223372036854775807: 9223372036854775807 [9223372036854775807: 9223372036854775807] @ 0x1\n";
    expect_success(&dir, "max-once.heap", text.as_bytes());
}

#[test]
fn top_sums_of_huge_values_do_not_panic() {
    // Sums that would overflow are refused, with the line that tipped them;
    // sums up to i64::MAX are exact.
    let dir = TempDir::new().unwrap();
    let max = i64::MAX;
    let text = format!(
        "heap profile: 1: 1 [1: 1] @ heapprofile\n1: {max} [1: {max}] @ 0x1\n1: {max} [1: {max}] @ 0x2 0x1\n"
    );
    expect_error(
        &dir,
        "two-max.heap",
        text.as_bytes(),
        at(3, "the space values add up to more than 2^63-1"),
    );
    let half = max / 2;
    let text = format!(
        "heap profile: 1: 1 [1: 1] @ heapprofile\n1: {half} [1: {half}] @ 0x1\n1: {half} [1: {half}] @ 0x2 0x1\n"
    );
    let outputs = expect_success(&dir, "two-halves.heap", text.as_bytes());
    assert!(outputs[1].contains("of 8192PB total"), "{}", outputs[1]);
    // Each file is under the limit, their merge is not: refused too.
    let one = format!("heap profile: 1: 1 [1: 1] @ heapprofile\n1: {max} [1: {max}] @ 0x1\n");
    let (a, b) = (dir.path().join("max-a.heap"), dir.path().join("max-b.heap"));
    std::fs::write(&a, &one).unwrap();
    std::fs::write(&b, &one).unwrap();
    let output = heapcost()
        .args(["top", a.to_str().unwrap(), b.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot merge") && stderr.contains("add up to more than 2^63-1"),
        "{stderr}"
    );
}

#[test]
fn top_sort_of_i64_min_does_not_panic() {
    let dir = TempDir::new().unwrap();
    let text = format!("{HEADER}-1: -9223372036854775806 [1: 1] @ 0x1\n1: 1 [1: 1] @ 0x2\n");
    for format in ["text", "json"] {
        let path = dir.path().join("min-row.heap");
        std::fs::write(&path, &text).unwrap();
        let output = heapcost()
            .args(["top", "--format", format, path.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(output.status.code(), Some(0), "{stderr}");
    }
}
