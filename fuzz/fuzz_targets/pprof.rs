//! The pprof protobuf reader on any bytes (no gzip), then every view.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::check(heapcost::read::fuzzing::pprof(data));
});
