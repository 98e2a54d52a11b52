//! The one in-memory profile model, shaped like pprof's `profile.proto`.
//!
//! Every reader produces a [`Profile`]; every later stage reads one. Tables
//! (locations, functions, mappings) are vectors addressed by newtype indices;
//! samples refer to locations **leaf first**, and a location's inlined
//! [`Line`]s are **innermost first, caller last**, as in pprof.
//!
//! Values are `i64` in the unit of their [`ValueType`]. Sampled formats are
//! unsampled once, in the reader; the model only holds final values.

mod merge;
mod name_table;
mod names;
pub mod prune;
mod select;
mod tags;
mod validate;

pub(crate) use merge::overflow_message;
pub use merge::{Merger, merge};
pub use name_table::{NameId, NameTable};
pub use select::{SampleTypeChoice, SampleTypeError};
pub use tags::{TagError, TagFilter, TagValue};
pub use validate::Invalid;

use std::fmt;

/// A sample type or the period type: what is measured and in which unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ValueType {
    /// pprof's name, e.g. `inuse_space`, `alloc_objects`, `space`.
    pub kind: String,
    /// The unit, e.g. `bytes` or `count`.
    pub unit: String,
}

impl ValueType {
    /// A value type from its name and unit.
    pub fn new(kind: &str, unit: &str) -> Self {
        ValueType {
            kind: kind.to_string(),
            unit: unit.to_string(),
        }
    }
}

/// An address in the profiled process's address space, as the profile records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RuntimeAddr(pub u64);

impl fmt::LowerHex for RuntimeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

/// An offset into a mapped file (the `offset` column of `/proc/self/maps`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileOffset(pub u64);

/// Index of a [`Location`] in [`Profile::locations`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocationId(pub u32);

/// Index of a [`Mapping`] in [`Profile::mappings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MappingId(pub u32);

/// Index of a [`Function`] in [`Profile::functions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctionId(pub u32);

/// What an address in a stack points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressKind {
    /// A return address, as gperftools, jemalloc and Go's legacy text dumps
    /// write them: the instruction after the call. Symbolize at `address - 1`
    /// (see [`Location::lookup_address`]).
    ReturnAddress,
    /// An address inside the call instruction (or the leaf PC), as pprof
    /// protobufs carry them: symbolize as is.
    CallSite,
}

/// One frame address of a stack, with the source lines found for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The address as the input file wrote it.
    pub address: RuntimeAddr,
    /// Whether `address` is a return address or a call site.
    pub kind: AddressKind,
    /// The mapping that contains the address; `None` when no mapping does.
    pub mapping: Option<MappingId>,
    /// Source lines, innermost inlined frame first, its outermost caller last.
    /// Empty until symbolized (or when the protobuf carried none).
    pub lines: Vec<Line>,
    /// pprof's `is_folded` flag, kept for a faithful round trip.
    pub is_folded: bool,
}

impl Location {
    /// The address to symbolize: one byte back for return addresses, so that
    /// the lookup lands on the call instruction (pprof does the same for
    /// legacy profiles, wrapping 0 around to `u64::MAX` as it does), the
    /// address itself for call sites.
    pub fn lookup_address(&self) -> RuntimeAddr {
        match self.kind {
            AddressKind::ReturnAddress => RuntimeAddr(self.address.0.wrapping_sub(1)),
            AddressKind::CallSite => self.address,
        }
    }
}

/// One (possibly inlined) source line of a location.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Line {
    /// The function the line belongs to.
    pub function: FunctionId,
    /// 1-based line number, 0 when unknown.
    pub line: i64,
    /// 1-based column, 0 when unknown.
    pub column: i64,
}

/// A function name, as pprof keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Function {
    /// The name to show (demangled).
    pub name: String,
    /// The raw (mangled) name from the binary.
    pub system_name: String,
    /// Source file, empty when unknown.
    pub file: String,
    /// First line of the function, 0 when unknown.
    pub start_line: i64,
}

/// A mapped file (or anonymous region) of the profiled process.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Mapping {
    /// First address of the mapping.
    pub start: RuntimeAddr,
    /// One past the last address.
    pub limit: RuntimeAddr,
    /// File offset that `start` maps.
    pub offset: FileOffset,
    /// Path as the profile recorded it; empty for anonymous memory.
    pub file: String,
    /// GNU build id (hex), empty when unknown.
    pub build_id: String,
    /// pprof's `has_functions` flag: names were found for this mapping.
    pub has_functions: bool,
    /// pprof's `has_filenames` flag.
    pub has_filenames: bool,
    /// pprof's `has_line_numbers` flag.
    pub has_line_numbers: bool,
    /// pprof's `has_inline_frames` flag.
    pub has_inline_frames: bool,
}

impl Mapping {
    /// True when `addr` lies in `[start, limit)`.
    pub fn contains(&self, addr: RuntimeAddr) -> bool {
        self.start <= addr && addr < self.limit
    }

    /// The file offset `addr` maps to, when it lies in this mapping.
    pub fn file_offset(&self, addr: RuntimeAddr) -> Option<FileOffset> {
        if !self.contains(addr) {
            return None;
        }
        addr.0
            .checked_sub(self.start.0)
            .and_then(|d| d.checked_add(self.offset.0))
            .map(FileOffset)
    }

    /// The last path component of [`Mapping::file`] (`envoy` for `/usr/local/bin/envoy`).
    pub fn base_name(&self) -> &str {
        let file = self.file.trim_end_matches(" (deleted)");
        file.rsplit('/').next().unwrap_or(file)
    }
}

/// A sample label: pprof's `Label`, either a string or a number with a unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    /// The key, e.g. `bytes` (allocation size) or `thread`; the text readers'
    /// fixed keys are borrowed, so a sample's label costs no allocation.
    pub key: std::borrow::Cow<'static, str>,
    /// The value.
    pub value: LabelValue,
}

/// The value of a [`Label`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LabelValue {
    /// A string label.
    Str(String),
    /// A numeric label with an optional unit (empty when none).
    Num {
        /// The number.
        value: i64,
        /// Its unit, e.g. `bytes`; empty when none.
        unit: String,
    },
}

/// One stack with its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// One value per [`Profile::sample_types`] entry, in that order.
    pub values: Vec<i64>,
    /// The stack, **leaf first**.
    pub locations: Vec<LocationId>,
    /// Labels such as the allocation size (`bytes`) or the thread.
    pub labels: Vec<Label>,
}

impl Sample {
    /// The value of the first numeric label with this key (tcmalloc's
    /// `bytes` and `request`), if any.
    pub fn num_label(&self, key: &str) -> Option<i64> {
        self.labels.iter().find_map(|l| match &l.value {
            LabelValue::Num { value, .. } if l.key == key => Some(*value),
            _ => None,
        })
    }
}

/// The input format a profile was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// gperftools `@ heapprofile`: every allocation recorded, no sampling.
    GperftoolsHeap,
    /// gperftools sampled heap (`@ heap_v2/N`, `@ heapz_v2/N`).
    GperftoolsSampledHeap,
    /// gperftools heap growth (`@ growthz`, `@ growth`).
    GperftoolsGrowth,
    /// gperftools heap fragmentation (`@ fragmentationz`).
    GperftoolsFragmentation,
    /// Go's legacy text heap profile (`@ heap/N`).
    GoLegacyHeap,
    /// jemalloc `heap_v2/N` with per-thread lines.
    Jemalloc,
    /// pprof `profile.proto` (gzip-compressed or raw).
    Pprof,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::GperftoolsHeap => "gperftools heap profile (heapprofile, unsampled)",
            Format::GperftoolsSampledHeap => "gperftools sampled heap profile (heap_v2)",
            Format::GperftoolsGrowth => "gperftools heap growth profile (growthz)",
            Format::GperftoolsFragmentation => "gperftools heap fragmentation profile",
            Format::GoLegacyHeap => "Go legacy heap profile (heap/N)",
            Format::Jemalloc => "jemalloc heap profile (heap_v2)",
            Format::Pprof => "pprof protobuf",
        })
    }
}

impl Format {
    /// Why a dump of this format may list fewer stacks than its header counts.
    pub fn truncation_cause(self) -> &'static str {
        match self {
            Format::GperftoolsHeap => {
                "gperftools writes at most 1 MiB per dump and drops the stacks that do not fit, alloc-only ones first"
            }
            _ => {
                "the header counts more than the listed stacks hold; the file may be cut or edited"
            }
        }
    }
}

/// Totals that a text dump's header states, beside what its listed stacks add up to.
///
/// Both vectors run parallel to [`Profile::sample_types`] and hold values as
/// written in the file, **before** unsampling: comparing them tells whether
/// the dump lost stacks (gperftools cuts a dump at its 1 MiB buffer and
/// drops the alloc-only buckets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderTotals {
    /// What the header line says.
    pub header: Vec<i64>,
    /// The sum over the listed stacks.
    pub listed: Vec<i64>,
}

impl HeaderTotals {
    /// Header minus listed, per sample type (positive when stacks are missing).
    pub fn remainder(&self) -> Vec<i64> {
        self.header
            .iter()
            .zip(&self.listed)
            .map(|(h, l)| h.saturating_sub(*l))
            .collect()
    }

    /// True when the header accounts for more than the listed stacks.
    pub fn truncated(&self) -> bool {
        self.remainder().iter().any(|r| *r > 0)
    }
}

/// Where (part of) a profile came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The path as given on the command line (`-` for stdin).
    pub path: String,
    /// The detected format.
    pub format: Format,
    /// Header totals, for text formats that have them.
    pub header: Option<HeaderTotals>,
    /// Number of stacks (buckets) with at least one frame, kept as samples.
    pub stacks: usize,
    /// Stacks with no frame at all, left out of the samples as `pprof -raw`
    /// and `pprof -proto` leave them out (the last line of a dump cut at its
    /// buffer can lose its whole stack). Counted here, never silently dropped.
    pub frameless: Frameless,
}

/// The stacks without any frame that a reader left out of the samples.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frameless {
    /// How many.
    pub count: usize,
    /// Their values (unsampled), parallel to [`Profile::sample_types`]; empty when `count` is 0.
    pub values: Vec<i64>,
}

impl Frameless {
    /// Records one frameless stack's values.
    pub fn add(&mut self, values: &[i64]) {
        if self.values.len() < values.len() {
            self.values.resize(values.len(), 0);
        }
        for (sum, v) in self.values.iter_mut().zip(values) {
            *sum = sum.saturating_add(*v);
        }
        self.count += 1;
    }
}

/// A heap profile: pprof's `Profile` message, with provenance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    /// What each sample value measures; samples' values run parallel to it.
    pub sample_types: Vec<ValueType>,
    /// The stacks and their values.
    pub samples: Vec<Sample>,
    /// Locations, addressed by [`LocationId`].
    pub locations: Vec<Location>,
    /// Mappings, addressed by [`MappingId`]; the main executable first when known.
    pub mappings: Vec<Mapping>,
    /// Functions, addressed by [`FunctionId`].
    pub functions: Vec<Function>,
    /// What the sampling period counts (`space`/`bytes` for heap profiles).
    pub period_type: Option<ValueType>,
    /// The sampling period: average bytes between samples, 1 when unsampled.
    pub period: i64,
    /// The sample type pprof shows by default, when the input names one.
    pub default_sample_type: Option<String>,
    /// pprof's `drop_frames` regex (allocator frames), empty when none.
    pub drop_frames: String,
    /// pprof's `keep_frames` regex, empty when none.
    pub keep_frames: String,
    /// Free-form comments carried by the input.
    pub comments: Vec<String>,
    /// Collection time in nanoseconds since the epoch, 0 when unknown.
    pub time_nanos: i64,
    /// Collection duration in nanoseconds, 0 when unknown.
    pub duration_nanos: i64,
    /// The inputs this profile was read (and merged) from, in command-line order.
    pub sources: Vec<Source>,
}

impl Profile {
    /// The location behind an id; `None` only for an id from another profile.
    pub fn location(&self, id: LocationId) -> Option<&Location> {
        self.locations.get(id.0 as usize)
    }

    /// The mapping behind an id.
    pub fn mapping(&self, id: MappingId) -> Option<&Mapping> {
        self.mappings.get(id.0 as usize)
    }

    /// The function behind an id.
    pub fn function(&self, id: FunctionId) -> Option<&Function> {
        self.functions.get(id.0 as usize)
    }

    /// The sum of one value column over all samples (pprof's "total").
    pub fn total(&self, index: usize) -> i64 {
        self.samples
            .iter()
            .filter_map(|s| s.values.get(index))
            .fold(0i64, |a, v| a.saturating_add(*v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_address_backs_up_return_addresses_only() {
        let mut loc = Location {
            address: RuntimeAddr(0x1000),
            kind: AddressKind::ReturnAddress,
            mapping: None,
            lines: vec![],
            is_folded: false,
        };
        assert_eq!(loc.lookup_address(), RuntimeAddr(0xfff));
        loc.kind = AddressKind::CallSite;
        assert_eq!(loc.lookup_address(), RuntimeAddr(0x1000));
        loc.address = RuntimeAddr(0);
        loc.kind = AddressKind::ReturnAddress;
        assert_eq!(loc.lookup_address(), RuntimeAddr(u64::MAX));
    }

    #[test]
    fn mapping_offsets_and_names() {
        let m = Mapping {
            start: RuntimeAddr(0x4000000000),
            limit: RuntimeAddr(0x400c2d6000),
            offset: FileOffset(0),
            file: "/usr/local/bin/envoy".into(),
            ..Mapping::default()
        };
        assert_eq!(
            m.file_offset(RuntimeAddr(0x4006a7aa4e)),
            Some(FileOffset(0x6a7aa4e))
        );
        assert_eq!(m.file_offset(RuntimeAddr(0x400c2d6000)), None);
        assert_eq!(m.base_name(), "envoy");
    }

    #[test]
    fn header_totals_remainder() {
        let h = HeaderTotals {
            header: vec![28455, 312892871, 3535, 104943209],
            listed: vec![21041, 311789135, 3535, 104943209],
        };
        assert_eq!(h.remainder(), vec![7414, 1103736, 0, 0]);
        assert!(h.truncated());
    }
}
