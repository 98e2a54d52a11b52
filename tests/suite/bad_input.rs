//! Bad binary input and bad ways to give input never panic: cut or corrupt
//! gzip, hand-encoded pprof protobufs with out-of-range ids, truncated and
//! garbled protobufs, missing files and directories, and errors on standard
//! input make the binary print one line on stderr, `heapcost: error:
//! PATH[:LINE]: ...`, and exit 2, for `info` and `top` alike. Bad text
//! input is in `bad_input_text.rs`; the mutation sweep is in `mutation.rs`.

use tempfile::TempDir;

use super::common::errors::{
    Expect, GOOD_STACKS, HEADER, at, check_failure, expect_error, expect_success, whole,
};
use super::common::protobuf::{Pb, gunzip, gzip};
use super::common::run::heapcost;
use super::common::{corpus, fixture, read};

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
    p.mappings[0].3 = 99;
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
    p.locations[1].3 = vec![(5, 12)];
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
    p.strings[0] = "not empty".into();
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
