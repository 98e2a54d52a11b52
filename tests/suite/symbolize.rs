//! Symbolization against the mini-envoy stand-in (`fixtures/mini-envoy/`):
//! every frame's name equals google/pprof's `-traces` output for the same
//! binary and dump, and files are found the ways users need.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use heapcost::profile::Profile;
use heapcost::symbolize::{self, CacheOptions, Options};

use super::common::run::{EXPORT_BOUND, heapcost};
use super::common::traces::{compare, our_traces, pprof_traces};
use super::common::{fixture, parse, read};

fn dump(rel: &str) -> Profile {
    parse(&fixture(&format!("mini-envoy/{rel}")))
}

/// Options as `heapcost -b fixtures/mini-envoy/mini-envoy --symbols-path fixtures/mini-envoy`.
fn options(binary: &str) -> Options {
    let mut o = Options::default();
    o.paths.binary = Some(fixture(&format!("mini-envoy/{binary}")));
    o.paths.dirs = vec![fixture("mini-envoy")];
    o
}

#[test]
fn every_frame_name_equals_pprof_traces() {
    for n in 1..=4 {
        let mut p = dump(&format!("mini-envoy.000{n}.heap"));
        let report = symbolize::run(&mut p, &options("mini-envoy")).unwrap();
        let main = &report.mappings[0];
        assert_eq!(
            main.named_frames, main.frames,
            "dump {n}: every mini-envoy address named"
        );
        let expected = String::from_utf8(read(&fixture(&format!(
            "mini-envoy/mini-envoy.000{n}.traces.txt"
        ))))
        .unwrap();
        compare(
            our_traces(&p),
            pprof_traces(&expected),
            &format!("dump {n}"),
        );
    }
}

#[test]
fn attribution_frames_are_named_on_every_stack_through_them() {
    let mut p = dump("mini-envoy.0003.heap");
    symbolize::run(&mut p, &options("mini-envoy")).unwrap();
    let traces = our_traces(&p);
    for marker in [
        "Envoy::Buffer::Slice::newStorage",
        "Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::sendBodyChunk",
        "Envoy::Grpc::Common::serializeMessage",
        "Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::decodeData",
        "Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::encodeData",
    ] {
        let with = traces
            .iter()
            .filter(|t| t.iter().any(|f| f.trim_end_matches(" (inline)") == marker))
            .count();
        assert!(with > 0, "{marker} is on some stack");
    }
    // No frame of the program itself is left unnamed.
    assert!(
        traces
            .iter()
            .flatten()
            .all(|f| f != "[mini-envoy]" && f != "[libmini_envoy_ext.so]")
    );
}

#[test]
fn a_shared_library_frame_is_named() {
    let mut p = dump("mini-envoy.0001.heap");
    let report = symbolize::run(&mut p, &options("mini-envoy")).unwrap();
    let ext = report
        .mappings
        .iter()
        .find(|m| m.recorded.ends_with("libmini_envoy_ext.so"))
        .expect("the shared library is mapped");
    assert!(
        ext.named_frames > 0 && ext.named_frames == ext.frames,
        "{ext:?}"
    );
    assert!(
        our_traces(&p)
            .iter()
            .flatten()
            .any(|f| f == "v8::internal::Isolate::Init")
    );
}

#[test]
fn a_missing_binary_falls_back_to_module_offsets_with_a_warning() {
    let dir = tempfile::TempDir::new().unwrap();
    let mut o = Options::default();
    o.paths.dirs = vec![dir.path().to_path_buf()];
    let mut p = dump("mini-envoy.0001.heap");
    let report = symbolize::run(&mut p, &o).unwrap();
    let main = &report.mappings[0];
    assert_eq!(main.named_frames, 0);
    assert!(
        main.problem.as_deref().unwrap().contains("no file found"),
        "{main:?}"
    );
    let leaf = p.location(p.samples[0].locations[0]).unwrap();
    assert!(p.location_names(leaf)[0].contains("+0x"));
    // The CLI says so once on stderr.
    let out = heapcost()
        .timeout(EXPORT_BOUND)
        .args(["top", "--symbols-path"])
        .arg(dir.path())
        .arg(fixture("mini-envoy/mini-envoy.0001.heap"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("have no names") && stderr.contains("mini-envoy: no file found"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("mini-envoy+0x"));
}

#[test]
fn a_wrong_build_id_is_refused_unless_forced() {
    let mut p = dump("mini-envoy.0001.heap");
    p.mappings[0].build_id = "0123456789abcdef0123456789abcdef01234567".into();
    let err = symbolize::run(&mut p.clone(), &options("mini-envoy"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("build id") && err.contains("--force"), "{err}");
    let mut forced = options("mini-envoy");
    forced.force = true;
    let report = symbolize::run(&mut p, &forced).unwrap();
    assert!(report.mappings[0].named_frames > 0);
    assert!(
        report.warnings.iter().any(|w| w.contains("--force")),
        "{:?}",
        report.warnings
    );
}

/// A stripped binary with its debug file found by build id: every frame is
/// named, and every inlined frame exactly as from the unstripped binary. (The
/// function holding an address may be named differently: the unstripped
/// binary's `.symtab` gives linkage names where DWARF may give a plain name,
/// as llvm-symbolizer does too.)
#[test]
fn a_detached_debug_file_found_by_build_id_names_every_frame() {
    let mut full = dump("mini-envoy.0001.heap");
    symbolize::run(&mut full, &options("mini-envoy")).unwrap();
    let mut stripped = dump("mini-envoy.0001.heap");
    let mut o = options("stripped/mini-envoy");
    o.paths.dirs = vec![fixture("mini-envoy/debug"), fixture("mini-envoy")];
    let report = symbolize::run(&mut stripped, &o).unwrap();
    let main = &report.mappings[0];
    let debug = main.debug_file.clone().expect("a debug file was used");
    assert!(debug.contains(".build-id/f0/"), "{debug}");
    assert!(main.dwarf);
    assert_eq!(main.named_frames, main.frames, "{main:?}");
    let (a, b) = (our_traces(&stripped), our_traces(&full));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.len(), y.len(), "{x:?} vs {y:?}");
        for (p, q) in x.iter().zip(y) {
            assert_ne!(p, "[mini-envoy]");
            if q.ends_with(" (inline)") {
                assert_eq!(p, q);
            }
        }
    }
}

#[test]
fn split_dwarf_from_a_dwp_beside_the_binary() {
    let mut p = dump("split/mini-envoy.0001.heap");
    let mut o = Options::default();
    o.paths.binary = Some(fixture("mini-envoy/split/mini-envoy"));
    o.paths.dirs = vec![fixture("mini-envoy")];
    let report = symbolize::run(&mut p, &o).unwrap();
    assert!(report.mappings[0].dwarf);
    let expected = String::from_utf8(read(&fixture(
        "mini-envoy/split/mini-envoy.0001.traces.txt",
    )))
    .unwrap();
    compare(our_traces(&p), pprof_traces(&expected), "split DWARF");
}

/// A file found by name whose segments cannot be the profiled mapping (as
/// when another build sits at the recorded path) is not used; a binary the
/// user names is.
#[test]
fn a_file_of_another_layout_is_not_used_without_build_ids() {
    let mut p = dump("mini-envoy.0001.heap");
    p.mappings[0].offset = heapcost::profile::FileOffset(0x5000);
    let mut o = Options::default();
    o.paths.dirs = vec![fixture("mini-envoy")];
    let report = symbolize::run(&mut p.clone(), &o).unwrap();
    let main = &report.mappings[0];
    assert_eq!(main.named_frames, 0);
    assert!(
        main.problem
            .as_deref()
            .unwrap()
            .contains("segments do not match"),
        "{main:?}"
    );
    // Named explicitly with -b, it is trusted (the addresses then fall where they fall).
    let report = symbolize::run(&mut p, &options("mini-envoy")).unwrap();
    assert!(report.mappings[0].file.is_some());
}

// ---------------------------------------------------------------------------
// The debug-section cache (mini-envoy's DWARF sections are zlib-compressed)
// ---------------------------------------------------------------------------

/// mini-envoy's build id: the key of its cache entries.
const MINI_ENVOY_ID: &str = "f01f42dc51b5923d67a4f0fc4a089801d2ada76a";

/// [`options`] with a section cache in `dir` that takes every compressed section.
fn cached(dir: &Path) -> Options {
    let mut o = options("mini-envoy");
    let mut cache = CacheOptions::new(dir);
    cache.min_section_size = 0;
    o.cache = Some(cache);
    o
}

/// The stacks of dump 2 symbolized with `o`, and the run's warnings.
fn traces_with(o: &Options) -> (Vec<Vec<String>>, Vec<String>) {
    let mut p = dump("mini-envoy.0002.heap");
    let report = symbolize::run(&mut p, o).unwrap();
    (our_traces(&p), report.warnings)
}

fn entry(dir: &Path, section: &str) -> PathBuf {
    dir.join("dwarf-v1").join(MINI_ENVOY_ID).join(section)
}

#[test]
fn the_section_cache_is_written_then_used_and_names_do_not_change() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, _) = traces_with(&options("mini-envoy"));
    let (cold, warnings) = traces_with(&cached(dir.path()));
    assert!(warnings.is_empty(), "{warnings:?}");
    let mut written: Vec<String> = fs::read_dir(entry(dir.path(), ""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    // Every compressed section lookups read, and the function index of the
    // units looked at; no temporary file left over.
    assert_eq!(
        written,
        [
            "debug_abbrev",
            "debug_aranges",
            "debug_info",
            "debug_line",
            "debug_line_str",
            "debug_rnglists",
            "debug_str",
            "functions-v1"
        ]
    );
    let info = entry(dir.path(), "debug_info");
    let before = fs::metadata(&info).unwrap();
    let index = fs::read(entry(dir.path(), "functions-v1")).unwrap();
    let (warm, warnings) = traces_with(&cached(dir.path()));
    assert!(warnings.is_empty(), "{warnings:?}");
    // Read, not rewritten.
    let after = fs::metadata(&info).unwrap();
    assert_eq!(
        (before.ino(), before.mtime_nsec()),
        (after.ino(), after.mtime_nsec())
    );
    // The same units were looked at: nothing new for the index.
    assert_eq!(fs::read(entry(dir.path(), "functions-v1")).unwrap(), index);
    assert_eq!(cold, plain);
    assert_eq!(warm, plain);
}

#[test]
fn a_damaged_cache_entry_is_ignored_and_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, _) = traces_with(&options("mini-envoy"));
    traces_with(&cached(dir.path()));
    let info = entry(dir.path(), "debug_info");
    let good = fs::read(&info).unwrap();
    type Damage = fn(&mut Vec<u8>);
    let damages: [(&str, Damage); 4] = [
        ("a flipped byte in the section", |b| {
            let mid = b.len() / 2;
            b[mid] ^= 0x20;
        }),
        ("truncated", |b| b.truncate(b.len() - 1000)),
        ("a damaged header", |b| b[0] = b'X'),
        ("empty", |b| b.clear()),
    ];
    for (what, damage) in damages {
        let mut bytes = good.clone();
        damage(&mut bytes);
        fs::write(&info, &bytes).unwrap();
        let (names, warnings) = traces_with(&cached(dir.path()));
        assert_eq!(names, plain, "{what}: names");
        assert!(warnings.is_empty(), "{what}: {warnings:?}");
        assert!(
            fs::read(&info).unwrap() == good,
            "{what}: entry not rewritten"
        );
    }
}

#[test]
fn an_unusable_cache_directory_is_one_note_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the cache directory should be: nothing can be created
    // there, whoever runs the test (root ignores permission bits).
    let blocker = dir.path().join("not-a-directory");
    fs::write(&blocker, b"").unwrap();
    let (plain, _) = traces_with(&options("mini-envoy"));
    let (names, warnings) = traces_with(&cached(&blocker));
    assert_eq!(names, plain);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("cache") && warnings[0].contains("not-a-directory"));
    // The CLI prints that one line and the same table as without a cache.
    let run = |env: &[(&str, &Path)], extra: &[&str]| {
        let mut cmd = heapcost();
        cmd.timeout(EXPORT_BOUND).env_remove("HEAPCOST_CACHE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd
            .args(["top", "-b"])
            .arg(fixture("mini-envoy/mini-envoy"))
            .arg("--symbols-path")
            .arg(fixture("mini-envoy"))
            .args(extra)
            .arg(fixture("mini-envoy/mini-envoy.0002.heap"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (table, stderr) = run(&[("HEAPCOST_CACHE_DIR", &blocker)], &[]);
    let notes: Vec<&str> = stderr.lines().filter(|l| l.contains("cache")).collect();
    assert_eq!(notes.len(), 1, "{stderr}");
    let (expected, _) = run(&[("HEAPCOST_CACHE_DIR", dir.path())], &["--no-cache"]);
    assert_eq!(table, expected);
}

#[test]
fn no_cache_and_heapcost_cache_off_leave_the_directory_alone() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str], off: bool| {
        let mut cmd = heapcost();
        cmd.timeout(EXPORT_BOUND)
            .env("HEAPCOST_CACHE_DIR", dir.path());
        if off {
            cmd.env("HEAPCOST_CACHE", "off");
        } else {
            cmd.env_remove("HEAPCOST_CACHE");
        }
        cmd.args(["top", "-b"])
            .arg(fixture("mini-envoy/mini-envoy"))
            .args(extra)
            .arg(fixture("mini-envoy/mini-envoy.0001.heap"))
            .assert()
            .success();
    };
    run(&["--no-cache"], false);
    run(&[], true);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    // By default the CLI caches sections of 256 KiB or more compressed: here
    // only .debug_info (738 KB).
    run(&[], false);
    assert!(entry(dir.path(), "debug_info").is_file());
    assert!(!entry(dir.path(), "debug_str").exists());
}
