//! The no-panic sweep, through the library: a seeded mutation sweep over
//! every corpus and fixture profile drives [`heapcost::read::parse`] (and
//! then `info` and `top`) through truncations, byte flips, line edits and
//! huge numbers without a panic, and every error names the input (and a
//! line inside it, for text formats). `HEAPCOST_FUZZ_SEED` picks another
//! sweep.

use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::common::errors::{check_message, line_starts};
use super::common::protobuf::{Pb, gunzip};
use super::common::rng::Rng;
use super::common::{corpus, fixture, read, within};

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

/// One random edit of `data`, described in `log`. Which edit is drawn
/// first, then each edit draws what it needs, in this order (a variant's
/// seed names the same edits on every run).
fn mutate_once(data: &mut Vec<u8>, rng: &mut Rng, log: &mut String) {
    let starts = line_starts(data);
    match rng.below(12) {
        0 => truncate(data, rng, log),
        1 => truncate_at_line(data, &starts, rng, log),
        2 if !data.is_empty() => set_byte(data, rng, log),
        3 if !data.is_empty() => flip_bit(data, rng, log),
        4 if !data.is_empty() => duplicate_line(data, &starts, rng, log),
        5 if !data.is_empty() => delete_line(data, &starts, rng, log),
        6 if starts.len() > 1 => swap_lines(data, &starts, rng, log),
        7 | 8 => extreme_number(data, rng, log),
        10 if !data.is_empty() => extreme_value_block(data, &starts, rng, log),
        9 => insert_junk(data, rng, log),
        _ => insert_random_bytes(data, rng, log),
    }
}

fn truncate(data: &mut Vec<u8>, rng: &mut Rng, log: &mut String) {
    let at = rng.below(data.len() + 1);
    data.truncate(at);
    write!(log, "truncate@{at} ").unwrap();
}

fn truncate_at_line(data: &mut Vec<u8>, starts: &[usize], rng: &mut Rng, log: &mut String) {
    let i = rng.below(starts.len());
    data.truncate(starts[i]);
    write!(log, "truncate-line{} ", i + 1).unwrap();
}

fn set_byte(data: &mut [u8], rng: &mut Rng, log: &mut String) {
    let at = rng.below(data.len());
    let v = rng.next() as u8;
    data[at] = v;
    write!(log, "set@{at}={v:#x} ").unwrap();
}

fn flip_bit(data: &mut [u8], rng: &mut Rng, log: &mut String) {
    let at = rng.below(data.len());
    let bit = 1u8 << rng.below(8);
    data[at] ^= bit;
    write!(log, "flip@{at}^{bit:#x} ").unwrap();
}

fn duplicate_line(data: &mut Vec<u8>, starts: &[usize], rng: &mut Rng, log: &mut String) {
    let i = rng.below(starts.len());
    let r = line_range(data, starts, i);
    let copy = data[r.clone()].to_vec();
    let times = 1 + rng.below(3);
    for _ in 0..times {
        data.splice(r.start..r.start, copy.iter().copied());
    }
    write!(log, "dup-line{}x{times} ", i + 1).unwrap();
}

fn delete_line(data: &mut Vec<u8>, starts: &[usize], rng: &mut Rng, log: &mut String) {
    let i = rng.below(starts.len());
    let r = line_range(data, starts, i);
    data.drain(r);
    write!(log, "del-line{} ", i + 1).unwrap();
}

fn swap_lines(data: &mut Vec<u8>, starts: &[usize], rng: &mut Rng, log: &mut String) {
    let (a, b) = (rng.below(starts.len()), rng.below(starts.len()));
    let (a, b) = (a.min(b), a.max(b));
    if a != b {
        let (ra, rb) = (line_range(data, starts, a), line_range(data, starts, b));
        let mut out = data[..ra.start].to_vec();
        out.extend_from_slice(&data[rb.clone()]);
        out.extend_from_slice(&data[ra.end..rb.start]);
        out.extend_from_slice(&data[ra]);
        out.extend_from_slice(&data[rb.end..]);
        *data = out;
    }
    write!(log, "swap-lines{},{} ", a + 1, b + 1).unwrap();
}

/// Replaces a run of digits with an extreme number.
fn extreme_number(data: &mut Vec<u8>, rng: &mut Rng, log: &mut String) {
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

/// Makes every number of one line's value block extreme (its stack
/// addresses, after '@', stay as they are).
fn extreme_value_block(data: &mut Vec<u8>, starts: &[usize], rng: &mut Rng, log: &mut String) {
    let i = rng.below(starts.len());
    let line = line_range(data, starts, i);
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

fn insert_junk(data: &mut Vec<u8>, rng: &mut Rng, log: &mut String) {
    let at = rng.below(data.len() + 1);
    let junk = JUNK[rng.below(JUNK.len())];
    data.splice(at..at, junk.iter().copied());
    write!(log, "insert@{at}={:?} ", String::from_utf8_lossy(junk)).unwrap();
}

/// Inserts several random bytes at once.
fn insert_random_bytes(data: &mut Vec<u8>, rng: &mut Rng, log: &mut String) {
    let at = rng.below(data.len() + 1);
    let n = 1 + rng.below(16);
    let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
    data.splice(at..at, bytes.iter().copied());
    write!(log, "insert@{at}={bytes:02x?} ").unwrap();
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
    within(Duration::from_secs(900), "mutation sweep", move || {
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
