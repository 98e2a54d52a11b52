//! The DWARF sections of an ELF file: shared slices of its map when stored
//! plain, else inflated (from, and into, the debug-section cache when there
//! is one), read in parallel.

use std::fmt;
use std::ops::{Deref, Range};
use std::path::Path;
use std::sync::Arc;

use object::Object;

use crate::symbolize::cache::{self, SectionCache};

/// The bytes behind every DWARF section reader: a memory map or a
/// decompressed buffer, shared, with the section's range.
#[derive(Clone)]
pub(crate) struct SectionBytes {
    owner: Arc<Handle>,
    range: Range<usize>,
}

/// One DWARF context's hold on an [`Owner`]. Lookups clone and drop section
/// readers millions of times; with one reference count for all threads,
/// every clone would pull the count's cache line from the other core (on
/// ceph-osd that made two threads' lookups 20-40% slower). Each context gets
/// its own count ([`SectionBytes::for_context`]).
struct Handle(Arc<Owner>);

impl SectionBytes {
    fn new(owner: Arc<Owner>, range: Range<usize>) -> Self {
        SectionBytes {
            owner: Arc::new(Handle(owner)),
            range,
        }
    }

    /// The same bytes behind a reference count of their own.
    pub(super) fn for_context(&self) -> Self {
        SectionBytes::new(self.owner.0.clone(), self.range.clone())
    }
}

pub(super) enum Owner {
    Map(memmap2::Mmap),
    /// A cache entry this run wrote (see [`SectionCache::create`]).
    Written(memmap2::MmapMut),
    Vec(Vec<u8>),
}

impl Owner {
    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            Owner::Map(m) => m,
            Owner::Written(m) => m,
            Owner::Vec(v) => v,
        }
    }
}

impl Deref for SectionBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.owner
            .0
            .bytes()
            .get(self.range.clone())
            .unwrap_or_default()
    }
}

impl fmt::Debug for SectionBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SectionBytes({} bytes)", self.range.len())
    }
}

// SAFETY: the bytes live in the `Arc`ed owner (a map or a heap buffer), whose
// address does not change when a `SectionBytes` is moved or cloned (nor when
// it is given a new handle).
unsafe impl stable_deref_trait::StableDeref for SectionBytes {}
// SAFETY: clones share the same owner, so they deref to the same address.
unsafe impl stable_deref_trait::CloneStableDeref for SectionBytes {}

pub(super) type Reader = gimli::EndianReader<gimli::RunTimeEndian, SectionBytes>;

/// Why a section's bytes cannot be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SectionError {
    /// The section, `.debug_info`.
    name: String,
    /// Why (a corrupt compression header, invalid zlib data...).
    why: String,
}

impl std::fmt::Display for SectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.why)
    }
}

/// One section's bytes: a slice of the map when it is stored uncompressed,
/// else its inflated bytes (from `cache` when it has them).
fn load_section(
    obj: &object::File<'_>,
    owner: &Arc<Owner>,
    name: &str,
    cache: Option<(&SectionCache, &str)>,
) -> Result<SectionBytes, SectionError> {
    use object::ObjectSection;
    let Some(section) = obj.section_by_name(name) else {
        return Ok(empty());
    };
    let fail = |why: String| SectionError {
        name: name.to_string(),
        why,
    };
    let compressed = section.compressed_data().map_err(|e| fail(e.to_string()))?;
    let bytes = if compressed.format == object::CompressionFormat::None {
        // A slice of the map: share the map, remember where.
        let b = compressed.data;
        let base = owner.bytes().as_ptr() as usize;
        let start = (b.as_ptr() as usize).saturating_sub(base);
        SectionBytes::new(owner.clone(), start..start + b.len())
    } else {
        match inflate(name, compressed, cache).map_err(fail)? {
            cache::Bytes::Map(map, range) => SectionBytes::new(Arc::new(Owner::Map(map)), range),
            cache::Bytes::Written(map, range) => {
                SectionBytes::new(Arc::new(Owner::Written(map)), range)
            }
            cache::Bytes::Vec(v) => {
                let len = v.len();
                SectionBytes::new(Arc::new(Owner::Vec(v)), 0..len)
            }
        }
    };
    Ok(bytes)
}

/// The inflated bytes of a compressed section: from the cache when it has a
/// valid entry, else inflated (into a new cache entry when the section is
/// large enough to be worth one and the cache can take it).
fn inflate(
    name: &str,
    compressed: object::CompressedData<'_>,
    cache: Option<(&SectionCache, &str)>,
) -> Result<cache::Bytes, String> {
    if let Some((cache, key)) = cache.filter(|(c, _)| c.wants(compressed.data.len())) {
        let source = cache::Source {
            name,
            compressed: compressed.data,
            len: compressed.uncompressed_size,
        };
        if let Some(hit) = cache.load(key, &source) {
            return Ok(hit);
        }
        if let Some(mut pending) = cache.create(key, &source) {
            inflate_into(compressed, pending.buffer())?;
            return Ok(pending.commit());
        }
    }
    let v = compressed.decompress().map_err(|e| e.to_string())?;
    Ok(cache::Bytes::Vec(v.into_owned()))
}

/// Inflates a compressed section into `out`, which must be exactly its
/// inflated length.
fn inflate_into(compressed: object::CompressedData<'_>, out: &mut [u8]) -> Result<(), String> {
    if compressed.format != object::CompressionFormat::Zlib {
        let v = compressed.decompress().map_err(|e| e.to_string())?;
        if v.len() != out.len() {
            return Err("inflated length differs from the header's".into());
        }
        out.copy_from_slice(&v);
        return Ok(());
    }
    let mut z = flate2::Decompress::new(true);
    // zlib takes at most 4 GiB of output per call.
    const STEP: usize = 1 << 30;
    loop {
        let done = usize::try_from(z.total_out()).map_err(|e| e.to_string())?;
        let read = usize::try_from(z.total_in()).map_err(|e| e.to_string())?;
        let end = done.saturating_add(STEP).min(out.len());
        let (Some(input), Some(dest)) = (compressed.data.get(read..), out.get_mut(done..end))
        else {
            return Err("inflated length differs from the header's".into());
        };
        let status = z
            .decompress(input, dest, flate2::FlushDecompress::Finish)
            .map_err(|e| format!("invalid zlib data: {e}"))?;
        let now = usize::try_from(z.total_out()).map_err(|e| e.to_string())?;
        match status {
            flate2::Status::StreamEnd if now == out.len() => return Ok(()),
            flate2::Status::StreamEnd => {
                return Err("inflated length differs from the header's".into());
            }
            _ if now == done || now == out.len() => {
                return Err("inflated length differs from the header's".into());
            }
            _ => {}
        }
    }
}

/// The DWARF sections name lookups need, each on the first free one of as
/// many threads as there are cores, largest compressed section first (so
/// that the longest inflation, `.debug_info`'s single deflate stream, starts
/// at once and the others share the remaining cores). Location lists,
/// macros and public names are never needed to name an address, so they are
/// not read at all.
pub(super) fn load_sections_parallel(
    obj: &object::File<'_>,
    owner: &Arc<Owner>,
    cache: Option<(&SectionCache, &str)>,
) -> Vec<(gimli::SectionId, Result<SectionBytes, SectionError>)> {
    use gimli::SectionId as S;
    use object::ObjectSection;
    const NEEDED: &[gimli::SectionId] = &[
        S::DebugAbbrev,
        S::DebugAddr,
        S::DebugAranges,
        S::DebugInfo,
        S::DebugLine,
        S::DebugLineStr,
        S::DebugRanges,
        S::DebugRngLists,
        S::DebugStr,
        S::DebugStrOffsets,
        S::DebugTypes,
    ];
    let mut work: Vec<(gimli::SectionId, u64)> = NEEDED
        .iter()
        .map(|id| {
            let cost = obj
                .section_by_name(id.name())
                .and_then(|s| s.compressed_file_range().ok())
                .filter(|r| r.format != object::CompressionFormat::None)
                .map_or(0, |r| r.compressed_size);
            (*id, cost)
        })
        .collect();
    work.sort_by_key(|&(_, cost)| std::cmp::Reverse(cost));
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::with_capacity(work.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads.min(work.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(id, _)) = work.get(i) else { break };
                    let r = load_section(obj, owner, id.name(), cache);
                    if let Ok(mut v) = results.lock() {
                        v.push((id, r));
                    }
                }
            });
        }
    });
    results.into_inner().unwrap_or_default()
}

pub(super) fn empty() -> SectionBytes {
    SectionBytes::new(Arc::new(Owner::Vec(Vec::new())), 0..0)
}

/// `FILE.dwp` beside `path`, as Envoy's `--fission` builds leave it.
pub(super) fn load_dwp(path: &Path) -> Option<Arc<gimli::DwarfPackage<Reader>>> {
    let mut name = path.file_name()?.to_os_string();
    name.push(".dwp");
    let dwp_path = path.with_file_name(name);
    let file = std::fs::File::open(&dwp_path).ok()?;
    // SAFETY: as in `ElfFile::open`.
    let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    let owner = Arc::new(Owner::Map(map));
    let obj = object::File::parse(owner.bytes()).ok()?;
    let endian = if obj.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let empty = Reader::new(empty(), endian);
    let load = |id: gimli::SectionId| -> Result<Reader, gimli::Error> {
        load_section(&obj, &owner, id.dwo_name().unwrap_or(""), None)
            .map(|b| Reader::new(b, endian))
            .map_err(|_| gimli::Error::Io)
    };
    gimli::DwarfPackage::load(load, empty).ok().map(Arc::new)
}
