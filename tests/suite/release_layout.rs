//! Names in Envoy's release layout: the stripped production binary given
//! with `-b` (it carries the build id the profile's mapping records), its
//! symbols from the debug image's `dbg/envoy` and `dbg/envoy.dwp` (split
//! DWARF) found under `--symbols-path`, or from a directory of many builds,
//! one per build id. Made from the committed split-DWARF build of
//! mini-envoy: `fixtures/mini-envoy/release/mini-envoy` is its
//! `objcopy --strip-all` copy (same build id, no symbols, no DWARF).

use std::fs;
use std::path::Path;

use heapcost::symbolize::{self, Options};

use super::common::traces::{compare, our_traces, pprof_traces};
use super::common::{fixture, parse, read};

/// The split build's build id (`readelf -n fixtures/mini-envoy/split/mini-envoy`).
const BUILD_ID: &str = "9fdf0d8a85772430f268f2fa0c46ef70ea90246f";

/// Copies the split build's binary and `.dwp` into `dir` as `mini-envoy`
/// and `mini-envoy.dwp`, as the debug image holds `envoy` and `envoy.dwp`.
fn debug_files(dir: &Path, binary: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::copy(
        fixture(&format!("mini-envoy/{binary}")),
        dir.join("mini-envoy"),
    )
    .unwrap();
    fs::copy(
        fixture("mini-envoy/split/mini-envoy.dwp"),
        dir.join("mini-envoy.dwp"),
    )
    .unwrap();
}

/// The split build's dump symbolized with the stripped binary and `dirs`:
/// (every stack as pprof spells it, whether the main mapping got DWARF).
fn symbolized(dirs: Vec<std::path::PathBuf>) -> (Vec<Vec<String>>, bool) {
    let mut p = parse(&fixture("mini-envoy/split/mini-envoy.0001.heap"));
    let mut o = Options::default();
    o.paths.binary = Some(fixture("mini-envoy/release/mini-envoy"));
    o.paths.dirs = dirs;
    o.cache = None;
    let report = symbolize::run(&mut p, &o).unwrap();
    (our_traces(&p), report.mappings[0].dwarf)
}

fn expected() -> Vec<Vec<String>> {
    let text = String::from_utf8(read(&fixture(
        "mini-envoy/split/mini-envoy.0001.traces.txt",
    )))
    .unwrap();
    pprof_traces(&text)
}

#[test]
fn a_stripped_binary_is_named_from_the_debug_images_dbg_files() {
    let root = tempfile::tempdir().unwrap();
    debug_files(&root.path().join("dbg"), "split/mini-envoy");
    let libs = fixture("mini-envoy");
    // --symbols-path pointing at the image's root (dbg/ below it) or at dbg/ itself.
    for dir in [root.path().to_path_buf(), root.path().join("dbg")] {
        let (traces, dwarf) = symbolized(vec![dir.clone(), libs.clone()]);
        assert!(dwarf, "{}", dir.display());
        compare(
            traces,
            expected(),
            "stripped binary + dbg/mini-envoy + .dwp",
        );
    }
}

#[test]
fn a_directory_of_builds_is_searched_by_build_id() {
    let root = tempfile::tempdir().unwrap();
    debug_files(&root.path().join(BUILD_ID), "split/mini-envoy");
    let (traces, dwarf) = symbolized(vec![root.path().to_path_buf(), fixture("mini-envoy")]);
    assert!(dwarf);
    compare(traces, expected(), "builds/<build id>/mini-envoy");
}

#[test]
fn debug_files_of_another_build_are_refused() {
    let root = tempfile::tempdir().unwrap();
    // The non-split mini-envoy: same name, another build id.
    debug_files(&root.path().join("dbg"), "mini-envoy");
    let (traces, dwarf) = symbolized(vec![root.path().to_path_buf(), fixture("mini-envoy")]);
    assert!(!dwarf, "another build's DWARF was used");
    let unnamed = traces.iter().flatten().any(|f| f == "[mini-envoy]");
    assert!(unnamed, "the main binary's frames stay unnamed");
}
