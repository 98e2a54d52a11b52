//! The report: every view of one run put together (headline, owners, kinds,
//! matrix, top functions, growth from a base, the series, the memory the
//! profile cannot see, warnings and provenance). `report --json` writes it
//! as is; the HTML and the Markdown summary are rendered from it.
//!
//! Several inputs are successive snapshots of one process (as `series`
//! reads them, in the numeric order of their file names): the tables and
//! the flamegraph describe the **last** snapshot, the series chart all of
//! them, and the growth compares the last snapshot with the base (`--base`,
//! merged) or, without a base, with the first snapshot.

use serde::Serialize;

use super::attribution::AttributionView;
use super::diff::Diff;
use super::series::Series;
use super::top::TopRow;
use crate::read::envoy_memory::EnvoyMemory;

/// One input file as read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputFile {
    /// The path as given.
    pub path: String,
    /// Detected format, in words.
    pub format: String,
    /// Size in bytes (0 for stdin).
    pub size: u64,
    /// Stacks read.
    pub stacks: usize,
    /// The dump lost stacks (gperftools' 1 MiB buffer).
    pub truncated: bool,
}

/// A file symbolization used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, PartialOrd, Ord)]
pub struct BinaryUsed {
    /// Path the profile recorded.
    pub recorded: String,
    /// File read for names, if any.
    pub file: Option<String>,
    /// Its build id.
    pub build_id: Option<String>,
    /// How it was found, or why none was.
    pub how: String,
    /// Share of its addresses that got names.
    pub named_frames: usize,
    /// Its distinct addresses.
    pub frames: usize,
}

/// Where the report came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    /// The profiles, in snapshot order.
    pub inputs: Vec<InputFile>,
    /// The base profiles.
    pub base: Vec<InputFile>,
    /// The files symbolization looked for, one per distinct recorded path.
    pub binaries: Vec<BinaryUsed>,
    /// heapcost's version.
    pub version: String,
    /// The command line, as run.
    pub command_line: String,
}

/// Memory outside the profile, from Envoy's admin `/memory` and/or the RSS.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryGap {
    /// What the profile accounts for (in-use bytes of the last snapshot).
    pub profiled: i64,
    /// Envoy's `/memory` figures, when given.
    pub envoy: Option<EnvoyMemory>,
    /// The process's resident set size, when given.
    pub rss: Option<u64>,
    /// Plain-words statements, one per paragraph.
    pub sentences: Vec<String>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Sample type of every table.
    pub sample_type: String,
    /// Its unit.
    pub unit: String,
    /// The last snapshot's total.
    pub total: i64,
    /// Largest snapshot total, and which snapshot (0-based).
    pub peak: i64,
    /// Index of the peak snapshot.
    pub peak_index: usize,
    /// Change of the total from the base (or the first snapshot), when
    /// there is something to compare with.
    pub growth: Option<i64>,
    /// What `growth` is measured from: `base` or `first snapshot`.
    pub growth_from: Option<String>,
    /// Owners, kinds and matrix of the last snapshot.
    pub attribution: AttributionView,
    /// Heaviest functions by flat value in the last snapshot.
    pub top_functions: Vec<TopRow>,
    /// Base against the last snapshot, with `--base`.
    pub diff: Option<Diff>,
    /// The snapshots, when more than one.
    pub series: Option<Series>,
    /// Memory the profile does not see, with `--memory` / `--rss`.
    pub memory: Option<MemoryGap>,
    /// Warnings, in plain words.
    pub warnings: Vec<String>,
    /// Inputs, binaries, version, command line.
    pub provenance: Provenance,
}

/// The statements of the memory gap, from the profile's in-use bytes, the
/// Envoy `/memory` figures and the RSS.
pub fn memory_gap(profiled: i64, envoy: Option<EnvoyMemory>, rss: Option<u64>) -> MemoryGap {
    use crate::units::scaled;
    let b = |v: u64| scaled(i64::try_from(v).unwrap_or(i64::MAX), "bytes");
    let pct = |part: u64, whole: u64| {
        if whole == 0 {
            "0%".to_string()
        } else {
            format!("{:.0}%", part as f64 * 100.0 / whole as f64)
        }
    };
    let p = u64::try_from(profiled.max(0)).unwrap_or(0);
    let mut sentences = Vec::new();
    if let Some(m) = &envoy {
        if m.allocated >= p {
            sentences.push(format!(
                "tcmalloc reports {} allocated by Envoy; the heap profile accounts for {} of it ({}). The other {} was allocated when or where the profile did not record it: between the dump and the /memory reading, or in allocations the profiler's sampling missed.",
                b(m.allocated),
                b(p),
                pct(p, m.allocated),
                b(m.allocated - p)
            ));
        } else {
            sentences.push(format!(
                "The heap profile accounts for {} but tcmalloc reports only {} allocated now: memory was freed between the dump and the /memory reading (or the profile's sampling estimate is high).",
                b(p),
                b(m.allocated)
            ));
        }
        let held = m.heap_size.saturating_sub(m.allocated);
        sentences.push(format!(
            "tcmalloc's heap is {}: besides what Envoy holds, {} is free memory tcmalloc keeps for reuse ({} in its page heap, {} in thread caches, {} returned to the OS). This is allocator overhead, not a leak in Envoy's code.",
            b(m.heap_size),
            b(held),
            b(m.pageheap_free),
            b(m.total_thread_cache),
            b(m.pageheap_unmapped)
        ));
    }
    if let Some(r) = rss {
        let tcmalloc = envoy.as_ref().map(|m| {
            m.total_physical_bytes
                .max(m.heap_size.saturating_sub(m.pageheap_unmapped))
        });
        match tcmalloc {
            Some(t) => sentences.push(format!(
                "The process's resident memory is {}; tcmalloc accounts for {} of it ({}). The other {} was never allocated through tcmalloc, so no heap profile can show it: LuaJIT's and V8's own memory (Lua and WASM VMs map their memory themselves), thread stacks, the binary's code and data, and other mmap()s.",
                b(r),
                b(t),
                pct(t, r),
                b(r.saturating_sub(t))
            )),
            None => sentences.push(format!(
                "The process's resident memory is {}; the heap profile accounts for {} of it ({}). The rest is allocator overhead and memory never allocated through the profiled allocator (LuaJIT's and V8's own memory, thread stacks, the binary); give Envoy's /memory output with --memory to tell the two apart.",
                b(r),
                b(p),
                pct(p, r)
            )),
        }
    }
    MemoryGap {
        profiled,
        envoy,
        rss,
        sentences,
    }
}
