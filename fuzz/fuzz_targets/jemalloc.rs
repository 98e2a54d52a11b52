//! The jemalloc reader on any bytes, then every view.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::check(heapcost::read::fuzzing::jemalloc(data));
});
