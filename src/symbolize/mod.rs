//! Stage 2, **symbolize**: names, inline frames and lines for every address.
//!
//! Input: a [`Profile`] whose locations carry addresses and mappings. Output:
//! the same profile with [`Location::lines`](crate::profile::Location::lines)
//! filled (innermost inlined frame first), functions interned, and a
//! [`SymbolizeReport`] saying, per mapping, which file gave the names (and
//! why that one), or why none did, and how many frames and bytes got names.
//!
//! Each unique address is looked up once, at its
//! [`lookup_address`](crate::profile::Location::lookup_address): runtime
//! address → file offset (through the mapping's start and offset) → ELF
//! virtual address (through the file's `PT_LOAD` segments), so PIE files at
//! any base (QEMU's `0x4000000000` included), non-PIE executables, shared
//! libraries and lld's `r--` before `r-x` layout all resolve. One address
//! never fails the run: it stays unnamed and is shown as `module+0xoffset`.
//! After naming, pprof's allocator-frame pruning ([`prune`]) is applied.

mod cache;
mod demangle;
mod elf;
mod elf_symbolizer;
pub mod find;
mod run;

use std::path::PathBuf;

/// pprof's allocator-frame pruning, which [`run`] applies; it lives with the
/// model it edits ([`crate::profile::prune`]).
pub use crate::profile::prune;
pub use cache::{CacheOptions, DEFAULT_MIN_SECTION_SIZE};
pub use demangle::{NameStyle, demangle, simplify};
pub use elf_symbolizer::ElfSymbolizer;
pub use find::{How, SearchPaths};
pub use run::{TableSymbolizer, run_with};

use crate::error::Result;
use crate::profile::{Mapping, Profile, RuntimeAddr};

/// How to symbolize.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Where to find files. Default: nowhere but the recorded paths.
    pub paths: SearchPaths,
    /// Use a file whose build id differs from the profile's. Default: refuse.
    pub force: bool,
    /// Simplified (pprof's default) or full names.
    pub names: NameStyle,
    /// Worker threads for lookups; 0 means one per core.
    pub threads: usize,
    /// Where to keep decompressed debug sections between runs (see
    /// [`CacheOptions`]). Default: `None`, no cache (the CLI uses one unless
    /// told not to).
    pub cache: Option<CacheOptions>,
}

/// One resolved frame from a [`Symbolizer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The raw (linkage) name, mangled when the binary's is.
    pub name: String,
    /// Source file, empty when unknown.
    pub file: String,
    /// Line, 0 when unknown.
    pub line: u32,
}

/// Why a mapping's frames got no names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// No candidate file exists.
    NoFile {
        /// The paths looked at.
        tried: Vec<PathBuf>,
    },
    /// Files were found but their build ids differ from the profile's.
    BuildIdMismatch {
        /// The file.
        file: PathBuf,
        /// The profile's build id.
        expected: String,
        /// The file's.
        found: String,
    },
    /// The file is not a usable ELF file.
    NotElf(String),
    /// The file has neither a symbol table nor DWARF.
    NoSymbols,
    /// A special region (`[vdso]`, anonymous memory) with no file.
    NoFileName,
    /// The file's segments cannot be what the profile mapped: another build
    /// of a file at the same path (legacy dumps carry no build id to check).
    LayoutMismatch {
        /// The file.
        file: PathBuf,
    },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::NoFile { tried } => {
                let list: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
                write!(f, "no file found (looked at {})", list.join(", "))
            }
            Reason::BuildIdMismatch {
                file,
                expected,
                found,
            } => write!(
                f,
                "{} has build id {found}, the profile {expected} (--force uses it anyway)",
                file.display()
            ),
            Reason::NotElf(why) => write!(f, "unusable file: {why}"),
            Reason::NoSymbols => write!(f, "the file has no symbol table and no debug information"),
            Reason::NoFileName => write!(f, "not a file (special or anonymous mapping)"),
            Reason::LayoutMismatch { file } => write!(
                f,
                "{} is not the file that was mapped (its segments do not match the mapping; another build?)",
                file.display()
            ),
        }
    }
}

/// The file a [`Symbolizer`] used for a mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUsed {
    /// The file's path.
    pub path: PathBuf,
    /// How it was found.
    pub how: How,
    /// Its build id, when it has one.
    pub build_id: Option<String>,
    /// The detached debug file whose DWARF was used, if any.
    pub debug_file: Option<PathBuf>,
    /// True when DWARF (inline frames, lines) was available.
    pub has_dwarf: bool,
}

/// What a [`Symbolizer`] found for one mapping.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MappingFrames {
    /// The file used, when one was.
    pub file: Option<FileUsed>,
    /// Why there are no names, when there are none.
    pub problem: Option<Reason>,
    /// Frames per requested address (innermost first; empty: unresolved).
    pub frames: Vec<Vec<Frame>>,
    /// Non-fatal problems worth a warning.
    pub warnings: Vec<String>,
}

/// Resolves addresses of one mapping to frames.
pub trait Symbolizer: Sync {
    /// Frames for `addrs` (lookup addresses, see
    /// [`Location::lookup_address`](crate::profile::Location::lookup_address))
    /// of `mapping`; `is_main` marks the main executable. An error stops the
    /// run (a build id mismatch on a file the user named).
    fn mapping_frames(
        &self,
        mapping: &Mapping,
        is_main: bool,
        addrs: &[RuntimeAddr],
    ) -> Result<MappingFrames>;
}

/// Per-mapping outcome, for `info` and the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MappingReport {
    /// The path the profile recorded.
    pub recorded: String,
    /// The file used, if any.
    pub file: Option<String>,
    /// How it was found.
    pub how: Option<String>,
    /// Its build id.
    pub build_id: Option<String>,
    /// The detached debug file used, if any.
    pub debug_file: Option<String>,
    /// True when DWARF was available.
    pub dwarf: bool,
    /// Distinct addresses in this mapping.
    pub frames: usize,
    /// How many of them got a name.
    pub named_frames: usize,
    /// Why none did, when none did.
    pub problem: Option<String>,
}

/// What symbolization did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SymbolizeReport {
    /// One entry per mapping of the profile, in its order.
    pub mappings: Vec<MappingReport>,
    /// Warnings, one line each.
    pub warnings: Vec<String>,
}

/// Symbolizes `profile` with the ELF files `options` leads to, then applies
/// pprof's allocator-frame pruning. To symbolize several profiles, make one
/// [`ElfSymbolizer`] and call [`ElfSymbolizer::symbolize`] for each, so files
/// are opened once.
pub fn run(profile: &mut Profile, options: &Options) -> Result<SymbolizeReport> {
    ElfSymbolizer::new(options.clone()).symbolize(profile)
}
