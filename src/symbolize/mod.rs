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
pub mod find;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// pprof's allocator-frame pruning, which [`run`] applies; it lives with the
/// model it edits ([`crate::profile::prune`]).
pub use crate::profile::prune;
pub use cache::{CacheOptions, DEFAULT_MIN_SECTION_SIZE};
pub use demangle::{NameStyle, demangle, simplify};
pub use find::{How, SearchPaths};

use crate::error::{Error, Result};
use crate::profile::{Function, FunctionId, Line, Mapping, Profile, RuntimeAddr};

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

/// Symbolizes `profile` with any [`Symbolizer`] (tests use a table).
pub fn run_with(
    profile: &mut Profile,
    symbolizer: &dyn Symbolizer,
    names: NameStyle,
) -> Result<SymbolizeReport> {
    let mut by_mapping: Vec<Vec<usize>> = vec![Vec::new(); profile.mappings.len()];
    for (i, loc) in profile.locations.iter().enumerate() {
        if let Some(m) = loc.mapping
            && loc.lines.is_empty()
            && let Some(list) = by_mapping.get_mut(m.0 as usize)
        {
            list.push(i);
        }
    }
    let mut report = SymbolizeReport::default();
    let mut functions: HashMap<Function, FunctionId> = profile
        .functions
        .iter()
        .enumerate()
        .filter_map(|(i, f)| Some((f.clone(), FunctionId(u32::try_from(i).ok()?))))
        .collect();
    for (m, locs) in by_mapping.into_iter().enumerate() {
        let mapping = profile.mappings[m].clone();
        let mut entry = MappingReport {
            recorded: mapping.file.clone(),
            file: None,
            how: None,
            build_id: None,
            debug_file: None,
            dwarf: false,
            frames: locs.len(),
            named_frames: 0,
            problem: None,
        };
        if locs.is_empty() {
            report.mappings.push(entry);
            continue;
        }
        let addrs: Vec<RuntimeAddr> = locs
            .iter()
            .map(|&i| profile.locations[i].lookup_address())
            .collect();
        let found = symbolizer.mapping_frames(&mapping, m == 0, &addrs)?;
        report.warnings.extend(found.warnings);
        if let Some(file) = &found.file {
            entry.file = Some(file.path.display().to_string());
            entry.how = Some(file.how.to_string());
            entry.build_id = file.build_id.clone();
            entry.debug_file = file.debug_file.as_ref().map(|p| p.display().to_string());
            entry.dwarf = file.has_dwarf;
        }
        entry.problem = found.problem.as_ref().map(ToString::to_string);
        let demangled = demangle::demangle_many(
            found.frames.iter().flatten().map(|f| f.name.as_str()),
            names,
        );
        let mut any_inline = false;
        let mut any_line = false;
        for (&li, frames) in locs.iter().zip(&found.frames) {
            if frames.is_empty() {
                continue;
            }
            entry.named_frames += 1;
            any_inline |= frames.len() > 1;
            any_line |= frames.iter().any(|f| f.line > 0);
            let lines = frames
                .iter()
                .map(|f| {
                    let function = Function {
                        name: demangled
                            .get(f.name.as_str())
                            .cloned()
                            .unwrap_or_else(|| demangle(&f.name, names)),
                        system_name: f.name.clone(),
                        file: f.file.clone(),
                        start_line: 0,
                    };
                    let id = *functions.entry(function.clone()).or_insert_with(|| {
                        profile.functions.push(function);
                        FunctionId(u32::try_from(profile.functions.len() - 1).unwrap_or(u32::MAX))
                    });
                    Line {
                        function: id,
                        line: i64::from(f.line),
                        column: 0,
                    }
                })
                .collect();
            profile.locations[li].lines = lines;
        }
        let m_mut = &mut profile.mappings[m];
        m_mut.has_functions |= entry.named_frames > 0;
        m_mut.has_filenames |= any_line;
        m_mut.has_line_numbers |= any_line;
        m_mut.has_inline_frames |= any_inline;
        if entry.named_frames < entry.frames && entry.problem.is_none() {
            entry.problem = Some(format!(
                "{} of {} addresses are not covered by the file's symbols",
                entry.frames - entry.named_frames,
                entry.frames
            ));
        }
        report.mappings.push(entry);
    }
    Ok(report)
}

/// What [`ElfSymbolizer::open`] found: the file (if any), why it has no
/// names (if so), and warnings.
type Opened = (Option<(Arc<Loaded>, FileUsed)>, Option<Reason>, Vec<String>);

/// An opened file with the debug information found for it.
#[derive(Debug)]
struct Loaded {
    file: elf::ElfFile,
    debug_file: Option<PathBuf>,
}

/// The real symbolizer: finds ELF files and looks addresses up in them.
/// Files (and their debug information, often hundreds of MB) are opened
/// once per symbolizer, however many profiles or mappings use them.
#[derive(Debug)]
pub struct ElfSymbolizer {
    options: Options,
    files: Mutex<HashMap<PathBuf, Arc<Loaded>>>,
    sections: Option<cache::SectionCache>,
}

impl ElfSymbolizer {
    /// A symbolizer with these options.
    pub fn new(options: Options) -> Self {
        let sections = options.cache.clone().map(cache::SectionCache::new);
        ElfSymbolizer {
            options,
            files: Mutex::new(HashMap::new()),
            sections,
        }
    }

    /// Symbolizes one profile and prunes its allocator frames (see [`run`]).
    pub fn symbolize(&self, profile: &mut Profile) -> Result<SymbolizeReport> {
        let report = run_with(profile, self, self.options.names)?;
        prune::prune_allocator_frames(profile);
        Ok(report)
    }

    /// The file at `path` with its detached debug information, from the
    /// cache or opened now.
    fn load(&self, path: &std::path::Path) -> Result<Arc<Loaded>, String> {
        if let Some(l) = self.files.lock().ok().and_then(|c| c.get(path).cloned()) {
            return Ok(l);
        }
        let mut file = elf::ElfFile::open(path, self.sections.as_ref())?;
        let mut debug_file = None;
        if !file.has_dwarf() {
            let debug = find::debug_candidates(
                path,
                file.build_id.as_deref(),
                file.debuglink.as_deref(),
                &self.options.paths,
            );
            for d in debug.iter().filter(|d| d.is_file()) {
                if let Ok(dbg) = elf::ElfFile::open(d, self.sections.as_ref()) {
                    if dbg.build_id.is_some()
                        && file.build_id.is_some()
                        && dbg.build_id != file.build_id
                    {
                        continue;
                    }
                    if dbg.has_symbols() {
                        file.adopt_debug_info(dbg);
                        debug_file = Some(d.clone());
                        break;
                    }
                }
            }
        }
        let loaded = Arc::new(Loaded { file, debug_file });
        if let Ok(mut c) = self.files.lock() {
            c.insert(path.to_path_buf(), loaded.clone());
        }
        Ok(loaded)
    }

    /// Opens the first usable candidate file of a mapping.
    fn open(&self, mapping: &Mapping, is_main: bool) -> Result<Opened> {
        let mut warnings = Vec::new();
        let candidates = find::candidates(mapping, is_main, &self.options.paths);
        if candidates.is_empty() {
            return Ok((None, Some(Reason::NoFileName), warnings));
        }
        let mut problem = None;
        let mut tried = Vec::new();
        for (path, how) in candidates {
            tried.push(path.clone());
            if !path.is_file() {
                continue;
            }
            let loaded = match self.load(&path) {
                Ok(l) => l,
                Err(why) => {
                    if how == How::Given {
                        return Err(Error::Symbolize {
                            binary: path.display().to_string(),
                            why,
                        });
                    }
                    problem = Some(Reason::NotElf(format!("{}: {why}", path.display())));
                    continue;
                }
            };
            // Without build ids, at least the layout must fit: a file found by
            // name may be another build (a newer libc at the same path).
            if mapping.build_id.is_empty()
                && how != How::Given
                && !loaded.file.can_be_mapped_as(mapping)
            {
                problem = Some(Reason::LayoutMismatch { file: path.clone() });
                continue;
            }
            if let Some(found) = &loaded.file.build_id
                && !mapping.build_id.is_empty()
                && !found.eq_ignore_ascii_case(&mapping.build_id)
            {
                let mismatch = Reason::BuildIdMismatch {
                    file: path.clone(),
                    expected: mapping.build_id.clone(),
                    found: found.clone(),
                };
                if !self.options.force {
                    if how == How::Given {
                        return Err(Error::Symbolize {
                            binary: path.display().to_string(),
                            why: format!(
                                "build id {found} differs from the profile's {} for {}: it is not the binary that was profiled (--force uses it anyway)",
                                mapping.build_id, mapping.file
                            ),
                        });
                    }
                    problem = Some(mismatch);
                    continue;
                }
                warnings.push(format!("{mismatch}; used because of --force"));
            }
            let used = FileUsed {
                path,
                how,
                build_id: loaded.file.build_id.clone(),
                debug_file: loaded.debug_file.clone(),
                has_dwarf: loaded.file.has_dwarf(),
            };
            let problem = (!loaded.file.has_symbols()).then_some(Reason::NoSymbols);
            return Ok((Some((loaded, used)), problem, warnings));
        }
        Ok((
            None,
            Some(problem.unwrap_or(Reason::NoFile { tried })),
            warnings,
        ))
    }
}

impl Drop for ElfSymbolizer {
    /// The opened files hold the parsed DWARF of every unit looked at, in
    /// many small allocations (about 50 ms to free for ceph-osd): they are
    /// freed on a thread of their own, so that a caller about to exit does
    /// not wait for it.
    fn drop(&mut self) {
        let files = std::mem::take(match self.files.get_mut() {
            Ok(files) => files,
            Err(poisoned) => poisoned.into_inner(),
        });
        if files.is_empty() {
            return;
        }
        // Without a thread, the files are freed here.
        let _ = std::thread::Builder::new()
            .name("heapcost-free".into())
            .spawn(move || drop(files));
    }
}

impl Symbolizer for ElfSymbolizer {
    fn mapping_frames(
        &self,
        mapping: &Mapping,
        is_main: bool,
        addrs: &[RuntimeAddr],
    ) -> Result<MappingFrames> {
        let (opened, problem, mut warnings) = self.open(mapping, is_main)?;
        warnings.extend(
            self.sections
                .as_ref()
                .and_then(cache::SectionCache::take_note),
        );
        let Some((loaded, used)) = opened else {
            return Ok(MappingFrames {
                file: None,
                problem,
                frames: vec![Vec::new(); addrs.len()],
                warnings,
            });
        };
        let vaddrs: Vec<Option<u64>> = addrs
            .iter()
            .map(|a| {
                mapping
                    .file_offset(*a)
                    .and_then(|off| loaded.file.vaddr_of(off))
            })
            .collect();
        let threads = match self.options.threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        let frames = lookup_parallel(&loaded.file, &vaddrs, threads);
        if let Some(cache) = &self.sections {
            loaded.file.save_function_indexes(cache);
        }
        Ok(MappingFrames {
            file: Some(used),
            problem,
            frames,
            warnings,
        })
    }
}

/// Looks up `vaddrs` on up to `threads` threads (this one included), each
/// with its own resolver, taking [`lookup_groups`](elf::ElfFile::lookup_groups)
/// one at a time: a compilation unit's DWARF is parsed by one thread, not by
/// all, and the largest units go first so that the threads finish together.
fn lookup_parallel(file: &elf::ElfFile, vaddrs: &[Option<u64>], threads: usize) -> Vec<Vec<Frame>> {
    let groups = file.lookup_groups(vaddrs);
    let next = AtomicUsize::new(0);
    let work =
        || -> Vec<(usize, Vec<Frame>)> {
            let resolver = file.resolver();
            let mut done = Vec::new();
            while let Some(group) = groups.get(next.fetch_add(1, Ordering::Relaxed)) {
                done.extend(group.iter().filter_map(|&i| {
                    Some((i, resolver.frames(vaddrs.get(i).copied().flatten()?)))
                }));
            }
            done
        };
    // Below a few hundred addresses a thread costs more than it saves.
    let addresses: usize = groups.iter().map(Vec::len).sum();
    let threads = threads
        .clamp(1, addresses.div_ceil(256).max(1))
        .min(groups.len().max(1));
    let mut out = vec![Vec::new(); vaddrs.len()];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mine = work();
        // A worker that panicked leaves its addresses unnamed.
        let theirs = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default());
        for (i, frames) in mine.into_iter().chain(theirs) {
            if let Some(slot) = out.get_mut(i) {
                *slot = frames;
            }
        }
    });
    out
}

/// A fixed table of frames, for tests of later stages without binaries:
/// (mapping base name, file offset) → frames.
#[derive(Debug, Default, Clone)]
pub struct TableSymbolizer {
    /// The table.
    pub frames: HashMap<(String, u64), Vec<Frame>>,
}

impl Symbolizer for TableSymbolizer {
    fn mapping_frames(
        &self,
        mapping: &Mapping,
        _is_main: bool,
        addrs: &[RuntimeAddr],
    ) -> Result<MappingFrames> {
        let frames = addrs
            .iter()
            .map(|a| {
                mapping
                    .file_offset(*a)
                    .and_then(|off| self.frames.get(&(mapping.base_name().to_string(), off.0)))
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        Ok(MappingFrames {
            file: None,
            problem: None,
            frames,
            warnings: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{AddressKind, FileOffset, Location, LocationId, Sample, ValueType};

    fn frame(name: &str) -> Frame {
        Frame {
            name: name.into(),
            file: "f.cc".into(),
            line: 7,
        }
    }

    #[test]
    fn table_symbolizer_names_inline_frames_and_reports() {
        let mapping = Mapping {
            start: RuntimeAddr(0x4000000000),
            limit: RuntimeAddr(0x4001000000),
            offset: FileOffset(0),
            file: "/usr/local/bin/envoy".into(),
            ..Mapping::default()
        };
        let loc = |a: u64| Location {
            address: RuntimeAddr(a),
            kind: AddressKind::ReturnAddress,
            mapping: Some(crate::profile::MappingId(0)),
            lines: vec![],
            is_folded: false,
        };
        let mut p = Profile {
            sample_types: vec![ValueType::new("space", "bytes")],
            mappings: vec![mapping],
            locations: vec![loc(0x4000000101), loc(0x4000000201), loc(0x4000000301)],
            samples: vec![Sample {
                values: vec![10],
                locations: vec![LocationId(0), LocationId(1), LocationId(2)],
                labels: vec![],
            }],
            drop_frames: prune::allocator_drop_frames(),
            ..Profile::default()
        };
        let mut table = TableSymbolizer::default();
        // Lookup addresses are one byte back (return addresses).
        table
            .frames
            .insert(("envoy".into(), 0x100), vec![frame("_Znwm")]);
        table.frames.insert(
            ("envoy".into(), 0x200),
            vec![
                frame("_ZN5Envoy6Buffer5Slice10newStorageEm"),
                frame("_ZN5Envoy6Buffer9OwnedImpl3addEPKvm"),
            ],
        );
        let report = run_with(&mut p, &table, NameStyle::Simplified).unwrap();
        assert_eq!(report.mappings[0].frames, 3);
        assert_eq!(report.mappings[0].named_frames, 2);
        assert!(
            report.mappings[0]
                .problem
                .as_deref()
                .unwrap_or("")
                .contains("1 of 3")
        );
        assert_eq!(
            p.location_names(&p.locations[1]),
            vec![
                "Envoy::Buffer::Slice::newStorage",
                "Envoy::Buffer::OwnedImpl::add"
            ]
        );
        assert_eq!(p.location_names(&p.locations[0]), vec!["operator new"]);
        assert_eq!(p.location_names(&p.locations[2]), vec!["envoy+0x301"]);
        assert!(p.mappings[0].has_inline_frames && p.mappings[0].has_functions);
        prune::prune_allocator_frames(&mut p);
        // `operator new` is an allocator frame: the stack now starts at newStorage.
        assert_eq!(p.samples[0].locations, vec![LocationId(1), LocationId(2)]);
        assert_eq!(p.total(0), 10);
    }

    #[test]
    fn missing_file_is_a_reason_not_an_error() {
        let sym = ElfSymbolizer::new(Options::default());
        let mapping = Mapping {
            start: RuntimeAddr(0x1000),
            limit: RuntimeAddr(0x2000),
            file: "/nonexistent/envoy".into(),
            ..Mapping::default()
        };
        let found = sym
            .mapping_frames(&mapping, true, &[RuntimeAddr(0x1100)])
            .unwrap();
        assert!(found.file.is_none());
        assert!(matches!(found.problem, Some(Reason::NoFile { .. })));
        assert_eq!(found.frames, vec![Vec::<Frame>::new()]);
    }

    #[test]
    fn a_given_binary_that_is_not_elf_is_an_error() {
        let mut options = Options::default();
        options.paths.binary = Some(PathBuf::from(file!()));
        let sym = ElfSymbolizer::new(options);
        let mapping = Mapping {
            file: "/usr/local/bin/envoy".into(),
            ..Mapping::default()
        };
        let err = sym
            .mapping_frames(&mapping, true, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an ELF file"), "{err}");
    }
}
