//! Every input the fuzzers found a bug with (`tests/data/fuzz-regressions/
//! <target>/`, see `fuzz/run.sh`) runs again through what its target runs:
//! no panic, a clean error naming the input or a profile that survives every
//! view, each within a bound (a hang detector, not a speed test).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::common::{root, within};

#[path = "../../fuzz/fuzz_targets/common.rs"]
#[allow(dead_code)]
mod targets;

/// Runs one regression input the way fuzz target `target` does.
fn run(target: &str, data: Vec<u8>) {
    match target {
        "gperftools" => targets::check(heapcost::read::fuzzing::gperftools(&data)),
        "jemalloc" => targets::check(heapcost::read::fuzzing::jemalloc(&data)),
        "pprof" => targets::check(heapcost::read::fuzzing::pprof(&data)),
        "detect" => targets::check(heapcost::read::parse(&data, "fuzz")),
        "gzip" => {
            let mut limits = heapcost::read::Limits::default();
            limits.max_decompressed = 16 << 20;
            limits.max_protobuf = 4 << 20;
            let framed = if data.starts_with(&[0x1f, 0x8b]) {
                data
            } else {
                [&[0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0xff][..], &data].concat()
            };
            targets::check(heapcost::read::parse_reader(&framed[..], "fuzz", &limits));
        }
        "maps" => {
            let (head, trailer) = match data.iter().position(|b| *b == 0) {
                Some(i) => (&data[..i], &data[i + 1..]),
                None => (&[][..], &data[..]),
            };
            let addresses: Vec<u64> = head
                .chunks(8)
                .map(|c| {
                    let mut word = [0u8; 8];
                    word[..c.len()].copy_from_slice(c);
                    u64::from_le_bytes(word)
                })
                .chain(
                    trailer
                        .split(|b| !b.is_ascii_hexdigit())
                        .filter_map(|t| u64::from_str_radix(std::str::from_utf8(t).ok()?, 16).ok())
                        .flat_map(|v| [v.wrapping_sub(1), v, v.wrapping_add(1)]),
                )
                .collect();
            match heapcost::read::fuzzing::maps(trailer, &addresses) {
                Ok(p) => {
                    for loc in &p.locations {
                        if let Some(m) = loc.mapping {
                            assert!(p.mapping(m).unwrap().contains(loc.address));
                        }
                    }
                }
                Err(e) => targets::check_error(&e),
            }
        }
        "rules" => {
            let Ok(text) = std::str::from_utf8(&data) else {
                return;
            };
            if let Ok(rules) = heapcost::attribute::RuleSet::load(Some(("fuzz.toml", text))) {
                let printed = rules.to_file().to_toml();
                heapcost::attribute::rules::RuleFile::parse(&printed, "printed").unwrap();
            }
        }
        other => panic!("no runner for fuzz target {other:?}: add one here"),
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.is_file() && p.extension().is_none_or(|e| e != "md"));
    out.sort();
    out
}

#[test]
fn every_fuzz_finding_stays_fixed() {
    let base = root().join("tests/data/fuzz-regressions");
    let mut count = 0;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let target = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in files(&dir) {
            let data = std::fs::read(&file).unwrap();
            let what = format!("{target}: {}", file.display());
            let t = target.clone();
            within(Duration::from_secs(30), &what, move || run(&t, data));
            count += 1;
        }
    }
    assert!(count > 0, "no regression inputs under {}", base.display());
}
