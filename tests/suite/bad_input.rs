//! Bad input never panics: each malformed profile makes the binary print one
//! line on stderr, `heapcost: error: PATH[:LINE]: ...`, and exit 2, for `info`
//! and `top` alike; a junk memory-map trailer is ignored as pprof ignores it;
//! and a seeded mutation sweep over every corpus and fixture profile drives
//! [`heapcost::read::parse`] through truncations, byte flips, line edits and
//! huge numbers without a panic.

use std::fmt::Write as _;
use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use prost::encoding::{self, WireType};
use tempfile::TempDir;

use super::common::{corpus, fixture, read};

// ---------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------

pub(super) fn heapcost() -> Command {
    let mut cmd = Command::cargo_bin("heapcost").unwrap();
    cmd.timeout(Duration::from_secs(20))
        .env("HEAPCOST_CACHE_DIR", super::common::cache_dir());
    cmd
}

/// What an error line must say beyond `heapcost: error: PATH`.
pub(super) struct Expect {
    /// The 1-based line for text formats; `None` for whole-file problems.
    line: Option<usize>,
    /// A piece of the message.
    says: &'static str,
}

pub(super) fn at(line: usize, says: &'static str) -> Expect {
    Expect {
        line: Some(line),
        says,
    }
}

pub(super) fn whole(says: &'static str) -> Expect {
    Expect { line: None, says }
}

/// Checks one failed run: exit 2, nothing on stdout, exactly one stderr line
/// `heapcost: error: {shown}[:{line}]: ...` containing `expect.says`.
pub(super) fn check_failure(
    output: &std::process::Output,
    shown: &str,
    expect: &Expect,
    what: &str,
) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let context = format!("{what}: stderr was {stderr:?}");
    assert_eq!(output.status.code(), Some(2), "{context}");
    assert!(!stderr.contains("panicked"), "{context}");
    assert!(
        output.stdout.is_empty(),
        "{context}; stdout: {:?}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(stderr.ends_with('\n'), "{context}");
    assert_eq!(stderr.lines().count(), 1, "{context}");
    let prefix = match expect.line {
        Some(line) => format!("heapcost: error: {shown}:{line}: "),
        None => format!("heapcost: error: {shown}: "),
    };
    assert!(
        stderr.starts_with(&prefix),
        "{context}: expected it to start with {prefix:?}"
    );
    assert!(
        stderr.contains(expect.says),
        "{context}: expected it to contain {:?}",
        expect.says
    );
}

/// Writes `data` as `dir/name` and checks that `info` and `top` both fail on it as expected.
pub(super) fn expect_error(dir: &TempDir, name: &str, data: &[u8], expect: Expect) {
    let path = dir.path().join(name);
    std::fs::write(&path, data).unwrap();
    let shown = path.to_str().unwrap();
    for sub in ["info", "top"] {
        let output = heapcost().args([sub, shown]).output().unwrap();
        check_failure(&output, shown, &expect, &format!("heapcost {sub} {name}"));
    }
}

/// Writes `data` as `dir/name` and checks that `info` and `top` both succeed on it.
pub(super) fn expect_success(dir: &TempDir, name: &str, data: &[u8]) -> Vec<String> {
    let path = dir.path().join(name);
    std::fs::write(&path, data).unwrap();
    let shown = path.to_str().unwrap();
    ["info", "top"]
        .iter()
        .map(|sub| {
            let output = heapcost().args([sub, shown]).output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(0),
                "heapcost {sub} {name}: stderr {stderr:?}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
            String::from_utf8(output.stdout).unwrap()
        })
        .collect()
}

pub(super) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(data), &mut out).unwrap();
    out
}

pub(super) const HEADER: &str = "heap profile:   2: 30 [ 5: 70] @ heapprofile\n";
pub(super) const GOOD_STACKS: &str = "1: 10 [ 2: 20] @ 0x1001 0x2002\n1: 20 [3: 50] @ 0x1001\n";

// ---------------------------------------------------------------------------
// Text formats
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Gzip
// ---------------------------------------------------------------------------

#[test]
fn cut_or_corrupt_gzip() {
    let dir = TempDir::new().unwrap();
    let plain = read(&corpus("pprof-testdata/cppbench.heap"));
    let z = gzip(&plain);
    expect_error(
        &dir,
        "half.heap.gz",
        &z[..z.len() / 2],
        whole("gzip stream is corrupt or cut short"),
    );
    expect_error(
        &dir,
        "no-trailer.heap.gz",
        &z[..z.len() - 4],
        whole("gzip stream is corrupt or cut short"),
    );
    expect_error(
        &dir,
        "magic-only.gz",
        &z[..2],
        whole("gzip stream is corrupt or cut short"),
    );
    let mut bad_crc = z.clone();
    let n = bad_crc.len();
    bad_crc[n - 8] ^= 0xff;
    expect_error(
        &dir,
        "bad-crc.heap.gz",
        &bad_crc,
        whole("gzip stream is corrupt or cut short"),
    );
    // A protobuf fixture cut in the middle of its gzip stream.
    let pb = read(&fixture("pprof-proto/envoy.prof.0001.pb.gz"));
    expect_error(
        &dir,
        "cut.pb.gz",
        &pb[..pb.len() / 2],
        whole("gzip stream is corrupt or cut short"),
    );
    // A gzip'd text profile with a bad line still gets its line number.
    let text = format!("{HEADER}{GOOD_STACKS}1: 1 [1: 1] @ 0xq\n");
    expect_error(
        &dir,
        "bad-line.heap.gz",
        &gzip(text.as_bytes()),
        at(4, "0xq"),
    );
}

// ---------------------------------------------------------------------------
// Protobuf, encoded by hand
// ---------------------------------------------------------------------------

/// A sample: location ids, values, labels as (key, str, num) string indices.
type PbSample = (Vec<u64>, Vec<i64>, Vec<(i64, i64, i64)>);

/// A location: id, mapping id, address, function ids of its lines.
type PbLocation = (u64, u64, u64, Vec<u64>);

/// A `profile.proto` Profile, as plain numbers, to encode with prost's wire helpers.
#[derive(Clone)]
pub(super) struct Pb {
    /// (type, unit) string indices.
    pub(super) sample_types: Vec<(i64, i64)>,
    pub(super) samples: Vec<PbSample>,
    /// (id, filename index).
    pub(super) mappings: Vec<(u64, i64)>,
    pub(super) locations: Vec<PbLocation>,
    /// (id, name index).
    pub(super) functions: Vec<(u64, i64)>,
    pub(super) strings: Vec<&'static str>,
    pub(super) default_sample_type: i64,
    pub(super) comments: Vec<i64>,
}

impl Pb {
    /// A valid two-sample profile: `main -> alloc`.
    pub(super) fn valid() -> Self {
        Pb {
            sample_types: vec![(1, 2), (3, 4)],
            samples: vec![
                (vec![1, 2], vec![3, 300], vec![(5, 0, 100)]),
                (vec![2], vec![1, 50], vec![]),
            ],
            mappings: vec![(1, 6)],
            locations: vec![(1, 1, 0x1010, vec![1]), (2, 1, 0x1020, vec![2])],
            functions: vec![(1, 7), (2, 8)],
            strings: vec![
                "",
                "alloc_objects",
                "count",
                "alloc_space",
                "bytes",
                "bytes",
                "/bin/app",
                "alloc",
                "main",
            ],
            default_sample_type: 3,
            comments: vec![],
        }
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        fn message(tag: u32, body: &[u8], buf: &mut Vec<u8>) {
            encoding::encode_key(tag, WireType::LengthDelimited, buf);
            encoding::encode_varint(body.len() as u64, buf);
            buf.extend_from_slice(body);
        }
        let mut buf = Vec::new();
        for (t, u) in &self.sample_types {
            let mut m = Vec::new();
            encoding::int64::encode(1, t, &mut m);
            encoding::int64::encode(2, u, &mut m);
            message(1, &m, &mut buf);
        }
        for (locs, values, labels) in &self.samples {
            let mut m = Vec::new();
            encoding::uint64::encode_packed(1, locs, &mut m);
            encoding::int64::encode_packed(2, values, &mut m);
            for (key, s, num) in labels {
                let mut l = Vec::new();
                encoding::int64::encode(1, key, &mut l);
                encoding::int64::encode(2, s, &mut l);
                encoding::int64::encode(3, num, &mut l);
                message(3, &l, &mut m);
            }
            message(2, &m, &mut buf);
        }
        for (id, file) in &self.mappings {
            let mut m = Vec::new();
            encoding::uint64::encode(1, id, &mut m);
            encoding::uint64::encode(2, &0x1000, &mut m);
            encoding::uint64::encode(3, &0x2000, &mut m);
            encoding::int64::encode(5, file, &mut m);
            message(3, &m, &mut buf);
        }
        for (id, mapping, address, functions) in &self.locations {
            let mut m = Vec::new();
            encoding::uint64::encode(1, id, &mut m);
            encoding::uint64::encode(2, mapping, &mut m);
            encoding::uint64::encode(3, address, &mut m);
            for f in functions {
                let mut l = Vec::new();
                encoding::uint64::encode(1, f, &mut l);
                encoding::int64::encode(2, &12, &mut l);
                message(4, &l, &mut m);
            }
            message(4, &m, &mut buf);
        }
        for (id, name) in &self.functions {
            let mut m = Vec::new();
            encoding::uint64::encode(1, id, &mut m);
            encoding::int64::encode(2, name, &mut m);
            message(5, &m, &mut buf);
        }
        for s in &self.strings {
            encoding::string::encode(6, &s.to_string(), &mut buf);
        }
        encoding::int64::encode_packed(13, &self.comments, &mut buf);
        encoding::int64::encode(14, &self.default_sample_type, &mut buf);
        buf
    }
}

#[test]
fn hand_encoded_protobuf_is_valid() {
    let dir = TempDir::new().unwrap();
    let outputs = expect_success(&dir, "valid.pb", &Pb::valid().encode());
    assert!(outputs[0].contains("pprof protobuf"), "{}", outputs[0]);
    assert!(outputs[1].contains("Type: alloc_space"), "{}", outputs[1]);
    assert!(outputs[1].contains("main"), "{}", outputs[1]);
    expect_success(&dir, "valid.pb.gz", &gzip(&Pb::valid().encode()));
}

#[test]
fn protobuf_out_of_range_ids() {
    let dir = TempDir::new().unwrap();
    let mut cases: Vec<(&str, Pb, &str)> = Vec::new();
    let mut p = Pb::valid();
    p.sample_types[1].1 = 9;
    cases.push(("unit-string", p, "string 9"));
    let mut p = Pb::valid();
    p.sample_types[0].0 = -1;
    cases.push(("negative-string", p, "string -1"));
    let mut p = Pb::valid();
    p.sample_types[0].0 = i64::MAX;
    cases.push(("huge-string", p, "outside the string table"));
    let mut p = Pb::valid();
    p.functions[1].1 = 1000;
    cases.push(("function-name", p, "string 1000"));
    let mut p = Pb::valid();
    p.mappings[0].1 = 99;
    cases.push(("mapping-file", p, "string 99"));
    let mut p = Pb::valid();
    p.samples[0].2[0].0 = 77;
    cases.push(("label-key", p, "string 77"));
    let mut p = Pb::valid();
    p.samples[0].2[0].1 = 78;
    cases.push(("label-value", p, "string 78"));
    let mut p = Pb::valid();
    p.default_sample_type = 50;
    cases.push(("default-type", p, "string 50"));
    let mut p = Pb::valid();
    p.comments = vec![0, 60];
    cases.push(("comment", p, "string 60"));
    let mut p = Pb::valid();
    p.samples[1].0 = vec![2, 7];
    cases.push(("sample-location", p, "missing location 7"));
    let mut p = Pb::valid();
    p.samples[0].0 = vec![u64::MAX];
    cases.push(("huge-location", p, "missing location"));
    let mut p = Pb::valid();
    p.locations[1].3 = vec![5];
    cases.push(("location-function", p, "missing function 5"));
    let mut p = Pb::valid();
    p.locations[0].1 = 3;
    cases.push(("location-mapping", p, "missing mapping 3"));
    let mut p = Pb::valid();
    p.locations[1].0 = 1;
    cases.push(("repeated-location", p, "location id 1"));
    let mut p = Pb::valid();
    p.locations[0].0 = 0;
    p.samples[0].0 = vec![2];
    cases.push(("zero-location", p, "location id 0"));
    let mut p = Pb::valid();
    p.samples[0].1 = vec![1, 2, 3];
    cases.push(("value-count", p, "3 values for 2 sample types"));
    let mut p = Pb::valid();
    p.strings[0] = "not empty";
    cases.push(("first-string", p, "empty string"));
    for (name, pb, says) in cases {
        let bytes = pb.encode();
        expect_error(
            &dir,
            &format!("{name}.pb"),
            &bytes,
            whole("malformed pprof protobuf"),
        );
        expect_error(&dir, &format!("{name}.pb.gz"), &gzip(&bytes), whole(says));
    }
}

#[test]
fn truncated_and_garbled_protobuf() {
    let dir = TempDir::new().unwrap();
    let bytes = Pb::valid().encode();
    // Cut inside a length-delimited field: not decodable at all, but it
    // starts like a profile.proto, so the message says so.
    expect_error(
        &dir,
        "cut.pb",
        &bytes[..bytes.len() - 3],
        whole("malformed pprof protobuf: cannot decode it: cut short or corrupt"),
    );
    // Cut and gzip'd again: "unrecognized ... nor a pprof protobuf" when the
    // cut falls inside a field, "malformed pprof protobuf" when it falls
    // between fields (the string table, written last, is then missing).
    expect_error(
        &dir,
        "cut.pb.gz",
        &gzip(&bytes[..bytes.len() / 2]),
        whole("pprof protobuf"),
    );
    let real = gunzip(&read(&fixture("pprof-proto/cppbench.heap.pb.gz")));
    for cut in [real.len() / 2, real.len() / 3, 100] {
        expect_error(
            &dir,
            &format!("real-cut-{cut}.pb.gz"),
            &gzip(&real[..cut]),
            whole("pprof protobuf"),
        );
    }
    // Field 1 (sample_type) declared longer than the file.
    expect_error(
        &dir,
        "long-field.pb",
        b"\x0a\xff\xff\xff\x0f\x08\x01",
        whole("unrecognized format"),
    );
}

// ---------------------------------------------------------------------------
// Files and standard input
// ---------------------------------------------------------------------------

#[test]
fn missing_file_and_directory() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("does-not-exist.heap");
    let shown = missing.to_str().unwrap();
    let good = corpus("pprof-testdata/cppbench.heap");
    for sub in ["info", "top"] {
        let output = heapcost().args([sub, shown]).output().unwrap();
        check_failure(&output, shown, &whole("cannot read"), sub);
        // Also when a readable file comes first.
        let output = heapcost()
            .args([sub, good.to_str().unwrap(), shown])
            .output()
            .unwrap();
        check_failure(&output, shown, &whole("cannot read"), sub);
        let d = dir.path().to_str().unwrap();
        let output = heapcost().args([sub, d]).output().unwrap();
        check_failure(&output, d, &whole("cannot read"), sub);
    }
}

#[test]
fn stdin_errors_name_dash() {
    let cases: [(Vec<u8>, Expect); 5] = [
        (
            format!("{HEADER}{GOOD_STACKS}1: 1 [1: 1] @ 0x1 nothex\n").into_bytes(),
            at(4, "nothex"),
        ),
        (Vec::new(), whole("empty file")),
        (HEADER.as_bytes().to_vec(), at(1, "no stack")),
        (
            gzip(format!("{HEADER}{GOOD_STACKS}").as_bytes())[..20].to_vec(),
            whole("gzip"),
        ),
        (
            {
                let mut p = Pb::valid();
                p.sample_types[0].1 = 42;
                p.encode()
            },
            whole("string 42"),
        ),
    ];
    for (data, expect) in cases {
        for sub in ["info", "top"] {
            let output = heapcost()
                .args([sub, "-"])
                .write_stdin(data.clone())
                .output()
                .unwrap();
            check_failure(&output, "-", &expect, &format!("heapcost {sub} -"));
        }
    }
}

// ---------------------------------------------------------------------------
// The no-panic sweep, through the library
// ---------------------------------------------------------------------------

/// xorshift64*: tiny, deterministic, good enough to pick offsets.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Start offsets of the lines of `data` (a final line without `\n` included).
fn line_starts(data: &[u8]) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(
        data.iter()
            .enumerate()
            .filter(|(i, b)| **b == b'\n' && i + 1 < data.len())
            .map(|(i, _)| i + 1),
    );
    starts
}

/// The byte range of line `i`, its `\n` included.
fn line_range(data: &[u8], starts: &[usize], i: usize) -> std::ops::Range<usize> {
    let end = starts.get(i + 1).copied().unwrap_or(data.len());
    starts[i]..end
}

const HUGE: [&str; 10] = [
    "99999999999999999999",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "0",
    "-1",
    "4294967296",
];

const SIGNED: [&str; 4] = ["-1", "-9223372036854775808", "9223372036854775807", "0"];

const JUNK: [&[u8]; 12] = [
    b"0x",
    b"0xzz",
    b"0x10000000000000000",
    b"@",
    b"t*:",
    b"t9:",
    b"[",
    b"]",
    b":",
    b"MAPPED_LIBRARIES:\n",
    b"x=$x$x\n",
    b"\x00\xff",
];

/// One random edit of `data`, described in `log`.
fn mutate_once(data: &mut Vec<u8>, rng: &mut Rng, log: &mut String) {
    let starts = line_starts(data);
    match rng.below(12) {
        0 => {
            let at = rng.below(data.len() + 1);
            data.truncate(at);
            write!(log, "truncate@{at} ").unwrap();
        }
        1 => {
            let i = rng.below(starts.len());
            data.truncate(starts[i]);
            write!(log, "truncate-line{} ", i + 1).unwrap();
        }
        2 if !data.is_empty() => {
            let at = rng.below(data.len());
            let v = rng.next() as u8;
            data[at] = v;
            write!(log, "set@{at}={v:#x} ").unwrap();
        }
        3 if !data.is_empty() => {
            let at = rng.below(data.len());
            let bit = 1u8 << rng.below(8);
            data[at] ^= bit;
            write!(log, "flip@{at}^{bit:#x} ").unwrap();
        }
        4 if !data.is_empty() => {
            let i = rng.below(starts.len());
            let r = line_range(data, &starts, i);
            let copy = data[r.clone()].to_vec();
            let times = 1 + rng.below(3);
            for _ in 0..times {
                data.splice(r.start..r.start, copy.iter().copied());
            }
            write!(log, "dup-line{}x{times} ", i + 1).unwrap();
        }
        5 if !data.is_empty() => {
            let i = rng.below(starts.len());
            let r = line_range(data, &starts, i);
            data.drain(r);
            write!(log, "del-line{} ", i + 1).unwrap();
        }
        6 if starts.len() > 1 => {
            let (a, b) = (rng.below(starts.len()), rng.below(starts.len()));
            let (a, b) = (a.min(b), a.max(b));
            if a != b {
                let (ra, rb) = (line_range(data, &starts, a), line_range(data, &starts, b));
                let mut out = data[..ra.start].to_vec();
                out.extend_from_slice(&data[rb.clone()]);
                out.extend_from_slice(&data[ra.end..rb.start]);
                out.extend_from_slice(&data[ra]);
                out.extend_from_slice(&data[rb.end..]);
                *data = out;
            }
            write!(log, "swap-lines{},{} ", a + 1, b + 1).unwrap();
        }
        7 | 8 => {
            // Replace a run of digits with an extreme number.
            let digits: Vec<usize> = (0..data.len())
                .filter(|&i| data[i].is_ascii_digit() && (i == 0 || !data[i - 1].is_ascii_digit()))
                .collect();
            if digits.is_empty() {
                return;
            }
            let start = digits[rng.below(digits.len())];
            let end = start
                + data[start..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
            let huge = HUGE[rng.below(HUGE.len())];
            data.splice(start..end, huge.bytes());
            write!(log, "number@{start}={huge} ").unwrap();
        }
        10 if !data.is_empty() => {
            // Every number of one line's value block extreme (its stack
            // addresses, after '@', stay as they are).
            let i = rng.below(starts.len());
            let line = line_range(data, &starts, i);
            let at = data[line.clone()]
                .iter()
                .position(|b| *b == b'@')
                .map_or(line.end, |p| line.start + p);
            let r = line.start..at;
            let mut out = Vec::with_capacity(r.len() + 64);
            let mut rest = &data[r.clone()];
            while let Some(first) = rest.first() {
                let run = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                if run > 0 {
                    // Often from a few signed extremes, so that they meet
                    // in one value block (i64::MIN bytes over -1 objects).
                    let huge = if rng.below(2) == 0 {
                        SIGNED[rng.below(SIGNED.len())]
                    } else {
                        HUGE[rng.below(HUGE.len())]
                    };
                    out.extend_from_slice(huge.as_bytes());
                    rest = &rest[run..];
                } else {
                    out.push(*first);
                    rest = &rest[1..];
                }
            }
            data.splice(r, out);
            write!(log, "numbers-line{} ", i + 1).unwrap();
        }
        9 => {
            let at = rng.below(data.len() + 1);
            let junk = JUNK[rng.below(JUNK.len())];
            data.splice(at..at, junk.iter().copied());
            write!(log, "insert@{at}={:?} ", String::from_utf8_lossy(junk)).unwrap();
        }
        _ => {
            // Several random bytes at once.
            let at = rng.below(data.len() + 1);
            let n = 1 + rng.below(16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            data.splice(at..at, bytes.iter().copied());
            write!(log, "insert@{at}={bytes:02x?} ").unwrap();
        }
    }
}

/// A profile to mutate, and how many variants to make of it.
struct Seed {
    label: String,
    data: Vec<u8>,
    variants: usize,
}

/// A window of a large text dump: its preamble, `stacks` stacks starting at a
/// seeded place, and at most 60 lines of its memory map, so that hundreds of
/// variants parse in a debug build within the time budget.
fn window(data: &[u8], stacks: usize, rng: &mut Rng) -> Vec<u8> {
    let starts = line_starts(data);
    let line = |i: usize| &data[line_range(data, &starts, i)];
    let jemalloc = data.starts_with(b"heap_v2/");
    let is_stack = |i: usize| {
        let l = line(i).trim_ascii_start();
        if jemalloc {
            l.starts_with(b"@")
        } else {
            l.first().is_some_and(u8::is_ascii_digit)
        }
    };
    let first_stack = (1..starts.len()).find(|&i| is_stack(i)).unwrap();
    let trailer = (first_stack..starts.len())
        .find(|&i| line(i).starts_with(b"MAPPED_LIBRARIES:"))
        .unwrap_or(starts.len());
    let stack_lines: Vec<usize> = (first_stack..trailer).filter(|&i| is_stack(i)).collect();
    let from = rng.below(stack_lines.len().saturating_sub(stacks) + 1);
    let begin = stack_lines[from];
    let end = stack_lines.get(from + stacks).copied().unwrap_or(trailer);
    let mut out = data[..starts[first_stack]].to_vec();
    out.extend_from_slice(&data[starts[begin]..line_range(data, &starts, end - 1).end]);
    for i in trailer..(trailer + 60).min(starts.len()) {
        out.extend_from_slice(line(i));
    }
    out
}

fn seeds(rng: &mut Rng) -> Vec<Seed> {
    let mut seeds = Vec::new();
    let dir = corpus("envoy-1.34-ext-proc-full-duplex");
    let mut envoy: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "heap"))
        .collect();
    envoy.sort();
    assert_eq!(envoy.len(), 13, "{}", dir.display());
    for path in &envoy {
        seeds.push(Seed {
            label: name(path),
            data: window(&read(path), 30, rng),
            variants: 40,
        });
    }
    for file in ["cppbench.heap", "cppbench.growth", "gobench.heap"] {
        let path = corpus(&format!("pprof-testdata/{file}"));
        seeds.push(Seed {
            label: file.into(),
            data: read(&path),
            variants: 250,
        });
    }
    let jemalloc = read(&corpus("pprof-testdata/jemalloc.heap"));
    for _ in 0..3 {
        seeds.push(Seed {
            label: "jemalloc.heap".into(),
            data: window(&jemalloc, 20, rng),
            variants: 100,
        });
    }
    for (file, variants) in [("cppbench.heap.pb.gz", 250), ("envoy.prof.0001.pb.gz", 30)] {
        let gz = read(&fixture(&format!("pprof-proto/{file}")));
        seeds.push(Seed {
            label: format!("{file} (gunzipped)"),
            data: gunzip(&gz),
            variants,
        });
        seeds.push(Seed {
            label: file.into(),
            data: gz,
            variants: variants / 5,
        });
    }
    seeds.push(Seed {
        label: "hand-encoded.pb".into(),
        data: Pb::valid().encode(),
        variants: 250,
    });
    seeds
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Checks one error message: names the input, one line, and a line number
/// (when there is one) inside the input.
pub(super) fn check_message(msg: &str, data: &[u8]) -> Result<(), String> {
    let rest = msg
        .strip_prefix("fuzz")
        .ok_or_else(|| format!("does not name the file: {msg:?}"))?;
    if msg.contains('\n') {
        return Err(format!("is not one line: {msg:?}"));
    }
    let line = rest
        .strip_prefix(':')
        .and_then(|r| r.split_once(':'))
        .and_then(|(n, _)| n.parse::<usize>().ok());
    let mut inflated = Vec::new();
    let plain = if data.starts_with(&[0x1f, 0x8b]) {
        match std::io::Read::read_to_end(
            &mut flate2::read::MultiGzDecoder::new(data),
            &mut inflated,
        ) {
            Ok(_) => &inflated[..],
            Err(_) if line.is_none() => return Ok(()),
            Err(e) => {
                return Err(format!(
                    "names a line of a corrupt gzip stream ({e}): {msg:?}"
                ));
            }
        }
    } else {
        data
    };
    let text = matches!(
        heapcost::read::detect::detect(plain),
        heapcost::read::Detected::GperftoolsText | heapcost::read::Detected::JemallocText
    );
    match line {
        Some(n) => {
            let lines = line_starts(plain).len();
            if !text || n == 0 || n > lines {
                return Err(format!("names line {n} of {lines}: {msg:?}"));
            }
        }
        None if text => return Err(format!("has no line number: {msg:?}")),
        None => {}
    }
    Ok(())
}

/// The text of a caught panic.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("?")
        .to_string()
}

/// Counts of one sweep.
#[derive(Default)]
struct Tally {
    total: usize,
    ok: usize,
    err: usize,
}

/// Runs `check` on every variant of every seed: `Ok(true)` when it parsed,
/// `Ok(false)` when it was rejected properly, `Err` for a problem. Panics
/// are caught and reported with the variant's seed, edits and a saved copy.
fn sweep(check: impl Fn(&[u8]) -> Result<bool, String> + Send + 'static) -> Tally {
    // On a thread of its own, bounded: a variant that hangs fails the test.
    super::every_format::within(Duration::from_secs(900), "mutation sweep", move || {
        sweep_all(check)
    })
}

fn sweep_all(check: impl Fn(&[u8]) -> Result<bool, String>) -> Tally {
    let base: u64 = std::env::var("HEAPCOST_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_4ea9);
    let mut rng = Rng::new(base);
    let seeds = seeds(&mut rng);
    let started = std::time::Instant::now();
    let mut failures = Vec::new();
    let mut tally = Tally::default();
    for (s, seed) in seeds.iter().enumerate() {
        if let Err(e) = heapcost::read::parse(&seed.data, "fuzz") {
            failures.push(format!("{}: the unmutated input fails: {e}", seed.label));
        }
        for v in 0..seed.variants {
            let variant_seed = base ^ ((s as u64) << 32) ^ v as u64;
            let mut rng = Rng::new(variant_seed);
            let mut data = seed.data.clone();
            let mut log = String::new();
            for _ in 0..1 + rng.below(3) {
                mutate_once(&mut data, &mut rng, &mut log);
            }
            tally.total += 1;
            let problem = match catch_unwind(AssertUnwindSafe(|| check(&data))) {
                Ok(Ok(true)) => {
                    tally.ok += 1;
                    None
                }
                Ok(Ok(false)) => {
                    tally.err += 1;
                    None
                }
                Ok(Err(problem)) => Some(problem),
                Err(panic) => Some(format!("panicked: {}", panic_text(&*panic))),
            };
            if let Some(problem) = problem {
                let saved =
                    std::env::temp_dir().join(format!("heapcost-sweep-{variant_seed:x}.bin"));
                std::fs::write(&saved, &data).unwrap();
                failures.push(format!(
                    "{} variant {v} (seed {variant_seed:#x}; {log}; saved as {}): {problem}",
                    seed.label,
                    saved.display()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} variants failed (HEAPCOST_FUZZ_SEED={base}):\n{}",
        failures.len(),
        tally.total,
        failures.join("\n")
    );
    // Enough variants stayed parseable, and enough were rejected, for the sweep to mean something.
    assert!(
        tally.ok > tally.total / 20 && tally.err > tally.total / 20,
        "ok {}, err {}",
        tally.ok,
        tally.err
    );
    eprintln!(
        "mutation sweep: {} variants of {} inputs, {} parsed, {} rejected, in {:?}",
        tally.total,
        seeds.len(),
        tally.ok,
        tally.err,
        started.elapsed()
    );
    tally
}

#[test]
fn mutation_sweep_never_panics() {
    sweep(|data| match heapcost::read::parse(data, "fuzz") {
        Ok(_) => Ok(true),
        Err(e) => check_message(&e.to_string(), data).map(|()| false),
    });
}

#[test]
fn mutation_sweep_through_info_and_top_never_panics() {
    use heapcost::analysis::top::TopSort;
    sweep(|data| {
        let Ok(profile) = heapcost::read::parse(data, "fuzz") else {
            return Ok(false);
        };
        let mut out = Vec::new();
        let info = heapcost::analysis::info::info(&profile);
        heapcost::render::text::write_info(&mut out, &info).unwrap();
        heapcost::render::json::write_info(&mut out, std::slice::from_ref(&info)).unwrap();
        let inputs = vec!["fuzz".to_string()];
        for index in 0..profile.sample_types.len() {
            for sort in [TopSort::Flat, TopSort::Cum] {
                let top = heapcost::analysis::top::top(
                    &profile,
                    &heapcost::profile::NameTable::new(&profile),
                    index,
                    sort,
                );
                heapcost::render::text::write_top(&mut out, &top, 0, &inputs).unwrap();
                heapcost::render::json::write_top(&mut out, &top, 3, &[]).unwrap();
            }
        }
        Ok(true)
    });
}
