//! ELF files: load segments, build id, debug link, symbol tables and DWARF.
//!
//! `object`, `gimli` and `addr2line` never leave this module. A file is
//! memory-mapped once; DWARF sections are shared (decompressed once when
//! zlib-compressed) behind `Arc`s, and each worker thread builds its own
//! `addr2line::Context` over them, which parses units lazily: only the units
//! that cover looked-up addresses are ever read.
//!
//! `sections` reads the DWARF sections (mapped, inflated, or from the
//! [debug-section cache](super::cache)).

mod groups;
mod index;
mod resolver;
mod sections;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};

pub(crate) use self::resolver::Resolver;
use self::sections::{
    Owner, Reader, SectionBytes, SectionError, empty, load_dwp, load_sections_parallel,
};
use super::cache::{self, SectionCache};
use crate::profile::FileOffset;

/// A `PT_LOAD` segment: where a file range is placed in the ELF's address space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    pub(crate) vaddr: u64,
    pub(crate) offset: u64,
    pub(crate) filesz: u64,
}

/// One opened ELF file.
pub(crate) struct ElfFile {
    pub(crate) path: PathBuf,
    pub(crate) build_id: Option<String>,
    pub(crate) debuglink: Option<String>,
    pub(crate) segments: Vec<Segment>,
    /// Text symbols (`.symtab`, else `.dynsym`), sorted by address.
    symbols: Vec<(u64, u64, String)>,
    /// The detached debug file's symbols, used where the file's own do not
    /// cover an address (a stripped binary keeps only `.dynsym`).
    debug_symbols: Vec<(u64, u64, String)>,
    /// DWARF sections, when the file has `.debug_info`.
    dwarf: Option<gimli::DwarfSections<SectionBytes>>,
    endian: gimli::RunTimeEndian,
    /// The split-DWARF package beside the file (`FILE.dwp`), when there is one.
    dwp: Option<Arc<gimli::DwarfPackage<Reader>>>,
    /// Function indexes saved by earlier runs (with a cache only).
    saved: Option<index::SavedIndexes>,
    /// DWARF contexts not in use (see [`ElfFile::resolver`]).
    contexts: std::sync::Mutex<Vec<addr2line::Context<Reader>>>,
}

impl fmt::Debug for ElfFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ElfFile")
            .field("path", &self.path)
            .field("build_id", &self.build_id)
            .field("segments", &self.segments)
            .field("symbols", &self.symbols.len())
            .field("dwarf", &self.dwarf.is_some())
            .finish()
    }
}

impl ElfFile {
    /// Opens and indexes an ELF file; its compressed DWARF sections come
    /// from (and go to) `cache` when one is given.
    pub(crate) fn open(path: &Path, cache: Option<&SectionCache>) -> Result<ElfFile, ElfError> {
        let file = std::fs::File::open(path).map_err(|e| ElfError::Io(e.to_string()))?;
        // SAFETY: read-only map of a file heapcost does not modify; a file
        // truncated meanwhile by another process could fault, as with every
        // tool that maps binaries (addr2line, perf, pprof's tools).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| ElfError::Io(e.to_string()))?;
        let owner = Arc::new(Owner::Map(map));
        let data: &[u8] = owner.bytes();
        let obj = object::File::parse(data).map_err(|e| ElfError::NotElf(Some(e.to_string())))?;
        if obj.format() != object::BinaryFormat::Elf {
            return Err(ElfError::NotElf(None));
        }
        let build_id = obj.build_id().ok().flatten().map(hex);
        let debuglink = obj
            .gnu_debuglink()
            .ok()
            .flatten()
            .map(|(name, _crc)| String::from_utf8_lossy(name).into_owned());
        let endian = if obj.is_little_endian() {
            gimli::RunTimeEndian::Little
        } else {
            gimli::RunTimeEndian::Big
        };
        let key = cache.and_then(|_| cache::key_for(build_id.as_deref(), path));
        let cache = cache.zip(key.as_deref());
        let (symbols, dwarf, saved) = read_symbols_and_dwarf(&obj, &owner, cache)?;
        let dwp = dwarf.as_ref().and_then(|_| load_dwp(path));
        Ok(ElfFile {
            path: path.to_path_buf(),
            build_id,
            debuglink,
            segments: load_segments(&obj),
            symbols,
            debug_symbols: Vec::new(),
            dwarf,
            endian,
            dwp,
            saved,
            contexts: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// True when the file has DWARF (or a `.dwp` beside it) to give inline
    /// frames and lines.
    pub(crate) fn has_dwarf(&self) -> bool {
        self.dwarf.is_some()
    }

    /// True when the file has any name to give: DWARF or a symbol table.
    pub(crate) fn has_symbols(&self) -> bool {
        self.dwarf.is_some() || !self.symbols.is_empty() || !self.debug_symbols.is_empty()
    }

    /// Whether an executable mapping of the profile can be this file: its
    /// file offset must be where one of the file's `PT_LOAD` segments starts
    /// (rounded down to a 4 KiB or 64 KiB page), and its length must end
    /// within the file's last segment (rounded up to 64 KiB).
    pub(crate) fn can_be_mapped_as(&self, mapping: &crate::profile::Mapping) -> bool {
        let offset = mapping.offset.0;
        let len = mapping.limit.0.saturating_sub(mapping.start.0);
        let starts_a_segment = self
            .segments
            .iter()
            .any(|s| offset == s.offset & !0xfff || offset == s.offset & !0xffff);
        let end = self
            .segments
            .iter()
            .map(|s| s.offset.saturating_add(s.filesz))
            .max()
            .unwrap_or(0);
        starts_a_segment && offset.saturating_add(len) <= end.saturating_add(0xffff) & !0xffff
    }

    /// The ELF virtual address a file offset is loaded at, through the
    /// `PT_LOAD` segment holding it (None when no segment does).
    pub(crate) fn vaddr_of(&self, offset: FileOffset) -> Option<u64> {
        self.segments
            .iter()
            .find(|s| s.offset <= offset.0 && offset.0 - s.offset < s.filesz)
            .and_then(|s| s.vaddr.checked_add(offset.0 - s.offset))
    }

    /// The file's own text symbol covering `vaddr`.
    pub(crate) fn symbol(&self, vaddr: u64) -> Option<&str> {
        covering(&self.symbols, vaddr)
    }

    /// The detached debug file's text symbol covering `vaddr`.
    fn debug_symbol(&self, vaddr: u64) -> Option<&str> {
        covering(&self.debug_symbols, vaddr)
    }

    /// A per-thread resolver (DWARF units are parsed lazily into it).
    ///
    /// Contexts are pooled: a resolver takes one that earlier lookups warmed
    /// (their parsed units stay parsed) and gives it back when dropped, so
    /// symbolizing a series of dumps parses each unit about once.
    pub(crate) fn resolver(&self) -> Resolver<'_> {
        let pooled = self.contexts.lock().ok().and_then(|mut p| p.pop());
        let context = pooled.or_else(|| {
            self.dwarf.as_ref().and_then(|sections| {
                let dwarf = sections.borrow(|b| Reader::new(b.for_context(), self.endian));
                let mut context = addr2line::Context::from_dwarf(dwarf).ok()?;
                if let Some(saved) = &self.saved {
                    saved.install(&mut context);
                }
                Some(context)
            })
        });
        Resolver {
            file: self,
            context,
        }
    }

    /// Saves the function indexes of the units looked at, when the cache
    /// had none for some of them (see [`index`]). Call it after lookups.
    pub(crate) fn save_function_indexes(&self, cache: &SectionCache) {
        if let (Some(saved), Ok(pool)) = (&self.saved, self.contexts.lock()) {
            saved.save(cache, pool.iter());
        }
    }

    /// How many units had a function index saved by an earlier run.
    #[cfg(test)]
    fn saved_indexes(&self) -> usize {
        self.saved.as_ref().map_or(0, index::SavedIndexes::len)
    }

    /// Borrows a debug file's DWARF and symbols for this (stripped) file's
    /// lookups. As for pprof, a function is named by the binary's own
    /// symbols first; the debug file's symbols come second.
    pub(crate) fn adopt_debug_info(&mut self, debug: ElfFile) {
        if self.dwarf.is_none() {
            self.dwarf = debug.dwarf;
            self.endian = debug.endian;
            self.dwp = debug.dwp.or(self.dwp.take());
            self.saved = debug.saved;
        }
        self.debug_symbols = debug.symbols;
    }
}

/// The file's `PT_LOAD` segments that hold file bytes.
fn load_segments(obj: &object::File<'_>) -> Vec<Segment> {
    obj.segments()
        .filter_map(|s| {
            let (offset, filesz) = s.file_range();
            (filesz > 0).then_some(Segment {
                vaddr: s.address(),
                offset,
                filesz,
            })
        })
        .collect()
}

/// The file's text symbols, its DWARF sections (when it has `.debug_info`)
/// and the function indexes earlier runs saved for them. The symbol table
/// is read while the DWARF sections inflate.
fn read_symbols_and_dwarf(
    obj: &object::File<'_>,
    owner: &Arc<Owner>,
    cache: Option<(&SectionCache, &str)>,
) -> Result<Symbols, ElfError> {
    let (symbols, loaded) = std::thread::scope(|scope| {
        let loader = obj
            .section_by_name(".debug_info")
            .map(|_| scope.spawn(|| load_sections_parallel(obj, owner, cache)));
        let symbols = text_symbols(obj);
        (symbols, loader.map(|h| h.join().unwrap_or_default()))
    });
    // Function indexes are worth keeping for as large a `.debug_info` as
    // its sections are worth caching.
    let saved = cache.and_then(|(cache, key)| {
        let info = loaded
            .as_ref()?
            .iter()
            .find(|(id, _)| *id == gimli::SectionId::DebugInfo);
        let bytes: &[u8] = info?.1.as_ref().ok()?;
        cache
            .wants(bytes.len())
            .then(|| index::SavedIndexes::load(cache, key, bytes))
    });
    let dwarf = match loaded {
        Some(loaded) => Some(
            gimli::DwarfSections::load(|id| {
                loaded
                    .iter()
                    .find(|(i, _)| *i == id)
                    .map(|(_, r)| r.clone())
                    .unwrap_or_else(|| Ok(empty()))
            })
            .map_err(ElfError::Dwarf)?,
        ),
        None => None,
    };
    Ok((symbols, dwarf, saved))
}

/// What [`read_symbols_and_dwarf`] reads.
type Symbols = (
    Vec<(u64, u64, String)>,
    Option<gimli::DwarfSections<SectionBytes>>,
    Option<index::SavedIndexes>,
);

/// Why an ELF file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ElfError {
    /// It cannot be opened or mapped (the system's reason).
    Io(String),
    /// It is not an ELF file (with the parser's reason, when it gave one).
    NotElf(Option<String>),
    /// One of its DWARF sections cannot be read.
    Dwarf(SectionError),
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::Io(why) => f.write_str(why),
            ElfError::NotElf(Some(why)) => write!(f, "not an ELF file: {why}"),
            ElfError::NotElf(None) => f.write_str("not an ELF file"),
            ElfError::Dwarf(e) => write!(f, "reading DWARF: {e}"),
        }
    }
}

/// The nearest symbol at or below `vaddr` in a sorted table, when its size
/// (if known) covers `vaddr`.
fn covering(symbols: &[(u64, u64, String)], vaddr: u64) -> Option<&str> {
    let after = symbols.partition_point(|(a, _, _)| *a <= vaddr);
    let (addr, size, name) = symbols.get(after.checked_sub(1)?)?;
    (*size == 0 || vaddr - addr < *size).then_some(name.as_str())
}

/// The file's function symbols as llvm-symbolizer (pprof's symbolizer) sees
/// them: `.symtab`, or `.dynsym` when there is none, sorted by address; of
/// several symbols at one address the largest, then the last in table order.
fn text_symbols(obj: &object::File<'_>) -> Vec<(u64, u64, String)> {
    let collect = |iter: object::SymbolIterator<'_, '_>| -> Vec<(u64, u64, String)> {
        iter.filter(|s| s.kind() == SymbolKind::Text && s.is_definition() && s.address() != 0)
            .filter_map(|s| Some((s.address(), s.size(), s.name().ok()?.to_string())))
            .filter(|(_, _, name)| !name.is_empty())
            .collect()
    };
    let mut symbols = collect(obj.symbols());
    if symbols.is_empty() {
        symbols = collect(obj.dynamic_symbols());
    }
    // llvm-symbolizer sorts by (address, size), stably, and takes the last
    // entry at or below the address: the largest size, then the last in
    // table order.
    symbols.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut out: Vec<(u64, u64, String)> = Vec::with_capacity(symbols.len());
    for s in symbols {
        match out.last_mut() {
            Some(last) if last.0 == s.0 => *last = s,
            _ => out.push(s),
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbolize::Frame;

    /// A file with these `(vaddr, offset, filesz)` segments and symbols, no DWARF.
    pub(super) fn file(
        segments: &[(u64, u64, u64)],
        symbols: Vec<(u64, u64, String)>,
        debug_symbols: Vec<(u64, u64, String)>,
    ) -> ElfFile {
        ElfFile {
            path: PathBuf::new(),
            build_id: None,
            debuglink: None,
            segments: segments
                .iter()
                .map(|&(vaddr, offset, filesz)| Segment {
                    vaddr,
                    offset,
                    filesz,
                })
                .collect(),
            symbols,
            debug_symbols,
            dwarf: None,
            endian: gimli::RunTimeEndian::Little,
            dwp: None,
            saved: None,
            contexts: std::sync::Mutex::new(Vec::new()),
        }
    }

    #[test]
    fn segment_translation() {
        // lld: r-- at 0, r-x at file 0x1000 but vaddr 0x2000.
        let f = file(
            &[(0, 0, 0x800), (0x2000, 0x1000, 0x3000)],
            vec![(0x2100, 0x10, "f".into()), (0x2200, 0, "g".into())],
            vec![(0x2110, 0x10, "h".into())],
        );
        assert_eq!(f.vaddr_of(FileOffset(0x1234)), Some(0x2234));
        assert_eq!(f.vaddr_of(FileOffset(0x900)), None);
        assert_eq!(f.vaddr_of(FileOffset(0x4000)), None);
        assert_eq!(f.symbol(0x2105), Some("f"));
        assert_eq!(f.symbol(0x2110), None);
        assert_eq!(f.debug_symbol(0x2110), Some("h"));
        assert_eq!(f.symbol(0x2300), Some("g"));
        assert_eq!(f.symbol(0x20ff), None);
    }

    #[test]
    fn mapping_layout_check() {
        let f = file(&[(0, 0, 0xd774), (0xe7a0, 0xd7a0, 0x10010)], vec![], vec![]);
        let m = |offset: u64, len: u64| crate::profile::Mapping {
            start: crate::profile::RuntimeAddr(0x5000_0000),
            limit: crate::profile::RuntimeAddr(0x5000_0000 + len),
            offset: FileOffset(offset),
            ..Default::default()
        };
        assert!(f.can_be_mapped_as(&m(0xd000, 0x11000)));
        assert!(f.can_be_mapped_as(&m(0, 0x1e000)));
        assert!(!f.can_be_mapped_as(&m(0x22000, 0x1000)));
        assert!(!f.can_be_mapped_as(&m(0xd000, 0x200000)));
    }

    /// Function indexes are saved after lookups, given to the next run's
    /// contexts, and change no frame; a damaged entry is ignored and made
    /// again.
    #[test]
    fn function_indexes_are_saved_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = cache::CacheOptions::new(dir.path());
        options.min_section_size = 0;
        let cache = SectionCache::new(options);
        let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mini-envoy/mini-envoy");
        let run = || {
            let f = ElfFile::open(&bin, Some(&cache)).unwrap();
            let saved = f.saved_indexes();
            let vaddrs: Vec<u64> = f.symbols.iter().map(|s| s.0 + 1).collect();
            let frames: Vec<Vec<Frame>> = {
                let r = f.resolver();
                vaddrs.iter().map(|&v| r.frames(v)).collect()
            };
            f.save_function_indexes(&cache);
            (saved, frames)
        };
        let plain: Vec<Vec<Frame>> = {
            let f = ElfFile::open(&bin, None).unwrap();
            let r = f.resolver();
            f.symbols.iter().map(|s| r.frames(s.0 + 1)).collect()
        };
        assert!(
            plain.iter().filter(|f| f.len() > 1).count() > 10,
            "inline frames"
        );
        let (saved, first) = run();
        assert_eq!(saved, 0);
        let entry = dir
            .path()
            .join("dwarf-v1/f01f42dc51b5923d67a4f0fc4a089801d2ada76a/functions-v1");
        let written = std::fs::read(&entry).unwrap();
        let (saved, second) = run();
        assert!(saved > 1, "{saved} units");
        assert_eq!(first, plain);
        assert_eq!(second, plain);
        // Nothing new to save: the entry is left alone.
        assert_eq!(std::fs::read(&entry).unwrap(), written);
        let mut damaged = written.clone();
        let last = damaged.len() - 3;
        damaged[last] ^= 1;
        std::fs::write(&entry, &damaged).unwrap();
        let (saved, third) = run();
        assert_eq!((saved, &third), (0, &plain));
        assert_eq!(std::fs::read(&entry).unwrap(), written);
        // The saved index is what lookups use: one emptied (but validly
        // stored) loses the functions of its units.
        index::tests::empty_every_index(&cache, &bin);
        let (_, emptied) = run();
        assert_ne!(emptied, plain);
    }

    #[test]
    fn opens_a_real_elf() {
        // The test binary itself: an ELF with symbols on every platform we run.
        let exe = std::env::current_exe().unwrap();
        let f = ElfFile::open(&exe, None).unwrap();
        assert!(!f.segments.is_empty());
        assert!(f.has_symbols());
        assert!(ElfFile::open(Path::new("/nonexistent/file"), None).is_err());
    }
}
