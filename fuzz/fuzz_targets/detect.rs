//! The whole reader as the command line uses it: format detection, gzip,
//! every format, validation; then every view.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::check(heapcost::read::parse(data, "fuzz"));
});
