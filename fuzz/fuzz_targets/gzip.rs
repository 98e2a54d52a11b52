//! gzip streams: the input is taken as a gzip stream (the magic bytes are
//! put in front when missing) and read with small limits, so that the
//! fuzzer explores corrupt streams, concatenated members and the bomb
//! checks rather than the formats inside.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut limits = heapcost::read::Limits::default();
    limits.max_decompressed = 16 << 20;
    limits.max_protobuf = 4 << 20;
    let result = if data.starts_with(&[0x1f, 0x8b]) {
        heapcost::read::parse_reader(data, "fuzz", &limits)
    } else {
        let framed = [&[0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0xff][..], data].concat();
        heapcost::read::parse_reader(&framed[..], "fuzz", &limits)
    };
    common::check(result);
});
