//! A persistent cache of decompressed DWARF sections, one entry per file and
//! section, like lldb's index cache or debuginfod's client cache.
//!
//! Large C++ binaries ship their debug information zlib-compressed (Debian's
//! `-dbg` packages, `objcopy --compress-debug-sections`): `ceph-osd`'s
//! `.debug_info` is 174 MB that inflate to 381 MB as one deflate stream,
//! which cannot be inflated in parallel and costs about 1.1 s of one core on
//! every run. After a run has inflated such a section, heapcost keeps the
//! inflated bytes here; the next run maps them instead of inflating.
//!
//! - **Where**: `$HEAPCOST_CACHE_DIR`, else `$XDG_CACHE_HOME/heapcost`, else
//!   `~/.cache/heapcost` ([`CacheOptions::from_env`]). `HEAPCOST_CACHE=off` or
//!   the `--no-cache` flag turns it off; the library's default
//!   ([`Options::cache`](super::Options::cache)) is off.
//! - **Layout**: `DIR/dwarf-v1/<key>/<section>`, e.g.
//!   `~/.cache/heapcost/dwarf-v1/fb66b3cec5f2…/debug_info`. The key is the
//!   file's build id (the binary and its detached debug file share it), or,
//!   for a file without one, `path-<hash>` of its canonical path, size and
//!   modification time. Deleting the directory (or any entry) is always safe.
//! - **What**: only compressed sections of at least
//!   [`CacheOptions::min_section_size`] compressed bytes (smaller ones inflate
//!   in a few milliseconds, less than opening a file costs); uncompressed
//!   sections are read from the file itself. Next to them, for any
//!   `.debug_info` of at least that size (compressed or not), the entry
//!   `functions-v1` keeps the function index of every compilation unit
//!   earlier runs looked at (a few MB; see `elf::index`), which spares later
//!   runs their largest remaining cost.
//! - **Format**: a 4 KiB header, then the section's bytes as they are, so that
//!   an entry is used by mapping it: nothing to decode, only the pages a
//!   lookup touches are read, and they are shared through the page cache. On
//!   `ceph-osd` the alternatives measured worse: lz4 (`lz4_flex`, 1 MiB
//!   blocks) only shrinks `.debug_info` to 66% and takes 0.48 s of one core
//!   to decode, more than the rest of a warm run's loading; raw entries cost
//!   disk (2.4x the compressed sections: 545 MB for `ceph-osd`).
//! - **Header** (little-endian): magic `HCDWARF\0`, format version, header
//!   length, section name, the section's inflated length, its compressed
//!   length and a fingerprint of the compressed bytes (xxh3 of the length,
//!   the first and the last 64 KiB), the xxh3-64 of the inflated bytes, and
//!   the xxh3 of all of the above.
//! - **Validation**: an entry is used only when its size, header, source
//!   length and fingerprint match and the inflated bytes hash to the header's
//!   checksum (about 25 ms for `ceph-osd`'s 545 MB, on the loading threads).
//!   Anything else (truncated, corrupted, another version, another file) is
//!   ignored without a word and rewritten by this run.
//! - **Writing**: into a temporary file in the entry's directory, renamed
//!   over the entry once complete, so readers see a whole entry or none, and
//!   concurrent runs do not clash. On Linux the temporary file is allocated
//!   up front (`fallocate`) and the section is inflated straight into a
//!   shared mapping of it: on ext4 this is cheaper than inflating into fresh
//!   anonymous memory, while writing the same bytes afterwards with
//!   `write(2)` would cost about 1 s of system time for 381 MB.
//! - **Failures** never fail a run: when the directory cannot be created or
//!   written (read-only home, disk full), the section is inflated in memory
//!   as without a cache and one note says why
//!   ([`SectionCache::take_note`]).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use twox_hash::XxHash3_64;

/// Where and when to cache decompressed debug sections.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheOptions {
    /// The cache's root directory; entries go under `DIR/dwarf-v1/`.
    pub dir: PathBuf,
    /// Compressed sections smaller than this many (compressed) bytes are
    /// inflated on every run, never cached. Default:
    /// [`DEFAULT_MIN_SECTION_SIZE`].
    pub min_section_size: u64,
}

/// Compressed sections below 256 KiB inflate in about 2 ms: not worth a file.
pub const DEFAULT_MIN_SECTION_SIZE: u64 = 256 * 1024;

impl CacheOptions {
    /// A cache in `dir`, for sections of at least [`DEFAULT_MIN_SECTION_SIZE`].
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CacheOptions {
            dir: dir.into(),
            min_section_size: DEFAULT_MIN_SECTION_SIZE,
        }
    }

    /// The cache the environment asks for, reading variables through `var`
    /// (`std::env::var_os` in the binary): none when `HEAPCOST_CACHE` is
    /// `off` (or `0`, `no`, `false`); else in `$HEAPCOST_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/heapcost` (an absolute path only, as the XDG base
    /// directory specification asks), else `$HOME/.cache/heapcost`; none when
    /// none of these is set.
    pub fn from_env(var: impl Fn(&str) -> Option<OsString>) -> Option<Self> {
        let set = |name: &str| var(name).filter(|v| !v.is_empty());
        if let Some(v) = set("HEAPCOST_CACHE") {
            let v = v.to_string_lossy().to_ascii_lowercase();
            if matches!(v.as_str(), "off" | "0" | "no" | "false") {
                return None;
            }
        }
        let dir = set("HEAPCOST_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| {
                set("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .filter(|p| p.is_absolute())
                    .map(|p| p.join("heapcost"))
            })
            .or_else(|| set("HOME").map(|h| PathBuf::from(h).join(".cache").join("heapcost")))?;
        Some(CacheOptions::new(dir))
    }
}

/// The directory under [`CacheOptions::dir`] holding this format's entries.
const FORMAT_DIR: &str = "dwarf-v1";
const MAGIC: &[u8; 8] = b"HCDWARF\0";
const VERSION: u32 = 1;
/// Header bytes before the section's; a page, so the section is page-aligned.
pub(crate) const HEADER_LEN: usize = 4096;
/// Longest section name a header holds.
const MAX_NAME: usize = 64;
/// Bytes at each end of the compressed section that go into its fingerprint.
const FINGERPRINT_SPAN: usize = 64 * 1024;
/// Temporary files older than this are left over from a crashed run.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// The compressed section an entry is made from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    /// The section's name, `.debug_info`.
    pub(crate) name: &'a str,
    /// Its compressed bytes in the file.
    pub(crate) compressed: &'a [u8],
    /// Its inflated length.
    pub(crate) len: u64,
}

impl Source<'_> {
    /// A cheap identity of the compressed bytes (see [`fingerprint`]).
    fn fingerprint(&self) -> u64 {
        fingerprint(self.compressed)
    }

    fn file_name(&self) -> Option<&str> {
        file_name(self.name)
    }
}

/// A cheap identity of a large byte string: xxh3 of its length and of its
/// first and last 64 KiB (hashing all of it would read a whole section on
/// every warm run).
pub(crate) fn fingerprint(bytes: &[u8]) -> u64 {
    let head = bytes.get(..FINGERPRINT_SPAN).unwrap_or(bytes);
    let tail = bytes
        .get(bytes.len().saturating_sub(FINGERPRINT_SPAN)..)
        .unwrap_or(bytes);
    let mut h = XxHash3_64::new();
    std::hash::Hasher::write(&mut h, &(bytes.len() as u64).to_le_bytes());
    std::hash::Hasher::write(&mut h, head);
    std::hash::Hasher::write(&mut h, tail);
    std::hash::Hasher::finish(&h)
}

/// An entry's file name: its name (`.debug_info`) without the dot.
fn file_name(name: &str) -> Option<&str> {
    let n = name.trim_start_matches('.');
    let ok = !n.is_empty()
        && n.len() <= MAX_NAME
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    ok.then_some(n)
}

/// An entry's header (see the module docs for the layout).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Header {
    name: String,
    len: u64,
    source_len: u64,
    fingerprint: u64,
    checksum: u64,
}

impl Header {
    /// Bytes the encoded header fills (the rest of [`HEADER_LEN`] is zero).
    const ENCODED: usize = 8 + 4 + 4 + 8 * 4 + 2 + MAX_NAME + 8;

    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let name = self.name.as_bytes();
        let name_len = name.len().min(MAX_NAME);
        let mut w = Vec::with_capacity(Self::ENCODED);
        w.extend_from_slice(MAGIC);
        w.extend_from_slice(&VERSION.to_le_bytes());
        w.extend_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        for v in [self.len, self.source_len, self.fingerprint, self.checksum] {
            w.extend_from_slice(&v.to_le_bytes());
        }
        w.extend_from_slice(&(name_len as u16).to_le_bytes());
        let mut padded = [0u8; MAX_NAME];
        padded[..name_len].copy_from_slice(&name[..name_len]);
        w.extend_from_slice(&padded);
        let hash = XxHash3_64::oneshot(&w);
        w.extend_from_slice(&hash.to_le_bytes());
        out[..w.len()].copy_from_slice(&w);
        out
    }

    /// The header at the start of `bytes`, when it is one of this version
    /// whose own checksum holds.
    fn decode(bytes: &[u8]) -> Option<Header> {
        let b = bytes.get(..Self::ENCODED)?;
        let (body, hash) = b.split_at(Self::ENCODED - 8);
        if XxHash3_64::oneshot(body) != u64::from_le_bytes(hash.try_into().ok()?) {
            return None;
        }
        let u32_at = |i: usize| -> Option<u32> {
            Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
        };
        let u64_at = |i: usize| -> Option<u64> {
            Some(u64::from_le_bytes(b.get(i..i + 8)?.try_into().ok()?))
        };
        if b.get(..8)? != MAGIC || u32_at(8)? != VERSION || u32_at(12)? as usize != HEADER_LEN {
            return None;
        }
        let name_len = usize::from(u16::from_le_bytes(b.get(48..50)?.try_into().ok()?));
        let name = std::str::from_utf8(b.get(50..50 + name_len.min(MAX_NAME))?).ok()?;
        Some(Header {
            name: name.to_string(),
            len: u64_at(16)?,
            source_len: u64_at(24)?,
            fingerprint: u64_at(32)?,
            checksum: u64_at(40)?,
        })
    }
}

/// The inflated bytes of a section, from the cache or just made.
pub(crate) enum Bytes {
    /// A mapped cache entry; the section is `range` of it.
    Map(memmap2::Mmap, Range<usize>),
    /// The entry this run wrote, still mapped as it was written.
    Written(memmap2::MmapMut, Range<usize>),
    /// Inflated in memory (the cache could not take it).
    Vec(Vec<u8>),
}

/// The cache of one run: [`CacheOptions`] plus the first problem met.
#[derive(Debug)]
pub(crate) struct SectionCache {
    options: CacheOptions,
    problem: OnceLock<String>,
    reported: AtomicBool,
    temp_counter: AtomicUsize,
}

impl SectionCache {
    pub(crate) fn new(options: CacheOptions) -> Self {
        SectionCache {
            options,
            problem: OnceLock::new(),
            reported: AtomicBool::new(false),
            temp_counter: AtomicUsize::new(0),
        }
    }

    /// True when a section of `compressed_len` compressed bytes is worth caching.
    pub(crate) fn wants(&self, compressed_len: usize) -> bool {
        compressed_len as u64 >= self.options.min_section_size
    }

    /// The one note about the cache not working, the first time it is asked.
    pub(crate) fn take_note(&self) -> Option<String> {
        let p = self.problem.get()?;
        (!self.reported.swap(true, Ordering::Relaxed)).then(|| p.clone())
    }

    fn note(&self, what: &str, path: &Path, e: &io::Error) {
        let _ = self.problem.set(format!(
            "debug-section cache not used: cannot {what} {}: {e} (HEAPCOST_CACHE=off or --no-cache turns it off)",
            path.display()
        ));
    }

    fn entry_dir(&self, key: &str) -> PathBuf {
        self.options.dir.join(FORMAT_DIR).join(key)
    }

    /// The cached inflated bytes of `source` under `key`, when a valid entry
    /// exists; `None` (silently) for a missing, stale or damaged one.
    pub(crate) fn load(&self, key: &str, source: &Source<'_>) -> Option<Bytes> {
        let path = self.entry_dir(key).join(source.file_name()?);
        let file = File::open(&path).ok()?;
        let len = usize::try_from(source.len).ok()?;
        let end = HEADER_LEN.checked_add(len)?;
        if file.metadata().ok()?.len() != end as u64 {
            return None;
        }
        // SAFETY: entries are only ever replaced by rename, never written in
        // place, so the mapped file does not change under us (a user
        // truncating it meanwhile could fault, as for any mapped binary).
        let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) }.ok()?;
        let header = Header::decode(&map)?;
        let fits = header.name == source.name
            && header.len == source.len
            && header.source_len == source.compressed.len() as u64
            && header.fingerprint == source.fingerprint();
        if !fits || XxHash3_64::oneshot(map.get(HEADER_LEN..end)?) != header.checksum {
            return None;
        }
        Some(Bytes::Map(map, HEADER_LEN..end))
    }

    /// A small entry derived from a file's DWARF rather than copied from it
    /// (the function index, `elf::index`): its bytes, when the entry is
    /// whole and was made from DWARF of this `identity`; `None` (silently)
    /// otherwise. Its header is a section entry's, with `identity` for the
    /// fingerprint and no compressed length.
    pub(crate) fn load_derived(&self, key: &str, name: &str, identity: u64) -> Option<Vec<u8>> {
        let bytes = fs::read(self.entry_dir(key).join(file_name(name)?)).ok()?;
        let header = Header::decode(&bytes)?;
        let payload = bytes.get(HEADER_LEN..)?;
        let fits = header.name == name
            && header.len == payload.len() as u64
            && header.source_len == 0
            && header.fingerprint == identity
            && XxHash3_64::oneshot(payload) == header.checksum;
        fits.then(|| payload.to_vec())
    }

    /// Writes (or replaces) a derived entry; a failure is noted once.
    pub(crate) fn store_derived(&self, key: &str, name: &str, identity: u64, payload: &[u8]) {
        let Some(file) = file_name(name) else {
            return;
        };
        let dir = self.entry_dir(key);
        if let Err(e) = fs::create_dir_all(&dir) {
            self.note("create", &dir, &e);
            return;
        }
        let header = Header {
            name: name.to_string(),
            len: payload.len() as u64,
            source_len: 0,
            fingerprint: identity,
            checksum: XxHash3_64::oneshot(payload),
        };
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".{file}.{}.{n}.tmp", std::process::id()));
        let written = File::create_new(&temp)
            .and_then(|mut f| {
                f.write_all(&header.encode())?;
                f.write_all(payload)
            })
            .and_then(|()| fs::rename(&temp, dir.join(file)));
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            self.note("write in", &dir, &e);
        }
    }

    /// A new entry for `source` under `key` to inflate into; `None` (with a
    /// note) when the cache directory cannot take it.
    pub(crate) fn create(&self, key: &str, source: &Source<'_>) -> Option<Pending<'_>> {
        let name = source.file_name()?;
        let dir = self.entry_dir(key);
        if let Err(e) = fs::create_dir_all(&dir) {
            self.note("create", &dir, &e);
            return None;
        }
        remove_stale_temps(&dir);
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&temp)
        {
            Ok(f) => f,
            Err(e) => {
                self.note("write in", &dir, &e);
                return None;
            }
        };
        let mut pending = Pending {
            cache: self,
            header: Header {
                name: source.name.to_string(),
                len: source.len,
                source_len: source.compressed.len() as u64,
                fingerprint: source.fingerprint(),
                checksum: 0,
            },
            temp,
            dest: dir.join(name),
            file,
            buffer: Buffer::Vec(Vec::new()),
            committed: false,
        };
        let len = usize::try_from(source.len).ok()?;
        let total = HEADER_LEN.checked_add(len)?;
        pending.buffer = match allocate(&pending.file, total as u64) {
            Ok(()) => {
                // SAFETY: a file this process just created under a unique
                // name and allocated in full (so writes cannot fault for lack
                // of space); nobody else writes it.
                match unsafe { memmap2::MmapMut::map_mut(&pending.file) } {
                    Ok(map) => Buffer::Map(map),
                    Err(e) => {
                        self.note("map", &pending.temp, &e);
                        return None;
                    }
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                self.note("allocate", &pending.temp, &e);
                return None;
            }
            // No fallocate here (another OS or file system): inflate in
            // memory, write afterwards.
            Err(_) => Buffer::Vec(vec![0; len]),
        };
        Some(pending)
    }
}

/// Reserves `len` bytes of disk for `file` (Linux: `fallocate`).
fn allocate(file: &File, len: u64) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let len =
            libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: a plain system call on an open file descriptor.
        let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, len);
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// Removes temporary files a crashed run left in an entry directory.
fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for e in entries.flatten() {
        let name = e.file_name();
        let stale = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > STALE_TEMP);
        if name.to_string_lossy().ends_with(".tmp") && stale {
            let _ = fs::remove_file(e.path());
        }
    }
}

enum Buffer {
    /// The whole temporary file (header, then section), mapped shared.
    Map(memmap2::MmapMut),
    /// The section alone, in memory.
    Vec(Vec<u8>),
}

/// A cache entry being made: fill [`Pending::buffer`], then
/// [`Pending::commit`]. Dropped uncommitted, its temporary file goes.
pub(crate) struct Pending<'c> {
    cache: &'c SectionCache,
    header: Header,
    temp: PathBuf,
    dest: PathBuf,
    file: File,
    buffer: Buffer,
    committed: bool,
}

impl Pending<'_> {
    /// Where the inflated section goes (exactly its length).
    pub(crate) fn buffer(&mut self) -> &mut [u8] {
        match &mut self.buffer {
            Buffer::Map(m) => m.get_mut(HEADER_LEN..).unwrap_or_default(),
            Buffer::Vec(v) => v,
        }
    }

    /// Checksums the filled section, writes the header and puts the entry in
    /// place. Returns the section's bytes whether or not that worked (a
    /// failure is noted once).
    pub(crate) fn commit(mut self) -> Bytes {
        self.header.checksum = XxHash3_64::oneshot(self.buffer());
        let header = self.header.encode();
        let buffer = std::mem::replace(&mut self.buffer, Buffer::Vec(Vec::new()));
        match buffer {
            Buffer::Map(mut map) => {
                let end = map.len();
                if let Some(h) = map.get_mut(..HEADER_LEN) {
                    h.copy_from_slice(&header);
                }
                match fs::rename(&self.temp, &self.dest) {
                    Ok(()) => self.committed = true,
                    Err(e) => self.cache.note("write", &self.dest, &e),
                }
                // The pages stay valid even if the file is gone: the mapping
                // holds it.
                Bytes::Written(map, HEADER_LEN..end)
            }
            Buffer::Vec(v) => {
                let written = self
                    .file
                    .write_all(&header)
                    .and_then(|()| self.file.write_all(&v))
                    .and_then(|()| fs::rename(&self.temp, &self.dest));
                match written {
                    Ok(()) => self.committed = true,
                    Err(e) => self.cache.note("write", &self.dest, &e),
                }
                Bytes::Vec(v)
            }
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// The key of a file's entries: its build id, else `path-<hash>` of its
/// canonical path, size and modification time; `None` when neither is known.
pub(crate) fn key_for(build_id: Option<&str>, path: &Path) -> Option<String> {
    if let Some(id) =
        build_id.filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Some(id.to_ascii_lowercase());
    }
    let canonical = fs::canonicalize(path).ok()?;
    let meta = fs::metadata(&canonical).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?;
    let mut h = XxHash3_64::new();
    std::hash::Hasher::write(&mut h, canonical.as_os_str().as_encoded_bytes());
    std::hash::Hasher::write(&mut h, &meta.len().to_le_bytes());
    std::hash::Hasher::write(&mut h, &mtime.as_nanos().to_le_bytes());
    Some(format!("path-{:016x}", std::hash::Hasher::finish(&h)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, OsString)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn directory_from_the_environment() {
        let dir = |pairs: &[(&str, &str)]| CacheOptions::from_env(env(pairs)).map(|o| o.dir);
        assert_eq!(
            dir(&[("HOME", "/home/u")]),
            Some("/home/u/.cache/heapcost".into())
        );
        assert_eq!(
            dir(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/xdg")]),
            Some("/xdg/heapcost".into())
        );
        // A relative XDG_CACHE_HOME is ignored, as the specification says.
        assert_eq!(
            dir(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "rel")]),
            Some("/home/u/.cache/heapcost".into())
        );
        assert_eq!(
            dir(&[
                ("HOME", "/home/u"),
                ("XDG_CACHE_HOME", "/xdg"),
                ("HEAPCOST_CACHE_DIR", "/c")
            ]),
            Some("/c".into())
        );
        assert_eq!(dir(&[("HOME", "/home/u"), ("HEAPCOST_CACHE", "off")]), None);
        assert_eq!(
            dir(&[("HEAPCOST_CACHE_DIR", "/c"), ("HEAPCOST_CACHE", "OFF")]),
            None
        );
        assert_eq!(
            dir(&[("HEAPCOST_CACHE_DIR", "/c"), ("HEAPCOST_CACHE", "on")]),
            Some("/c".into())
        );
        assert_eq!(dir(&[]), None);
    }

    #[test]
    fn header_round_trip_and_damage() {
        let h = Header {
            name: ".debug_info".into(),
            len: 381_000_000,
            source_len: 174_000_000,
            fingerprint: 7,
            checksum: 9,
        };
        let mut bytes = h.encode();
        assert_eq!(Header::decode(&bytes), Some(h));
        bytes[20] ^= 1;
        assert_eq!(Header::decode(&bytes), None);
        assert_eq!(Header::decode(&[0; 16]), None);
    }

    /// Writes an entry of `data` (as if inflated from `compressed`) and loads it back.
    fn round_trip(cache: &SectionCache, compressed: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        let source = Source {
            name: ".debug_info",
            compressed,
            len: data.len() as u64,
        };
        let mut p = cache.create("abcd", &source)?;
        p.buffer().copy_from_slice(data);
        let made = match p.commit() {
            Bytes::Map(m, r) => m[r].to_vec(),
            Bytes::Written(m, r) => m[r].to_vec(),
            Bytes::Vec(v) => v,
        };
        assert_eq!(made, data);
        match cache.load("abcd", &source)? {
            Bytes::Map(m, r) => Some(m[r].to_vec()),
            _ => panic!("a loaded entry is a mapped file"),
        }
    }

    #[test]
    fn entries_are_written_validated_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SectionCache::new(CacheOptions::new(dir.path()));
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        assert_eq!(
            round_trip(&cache, b"zlib bytes", &data).as_deref(),
            Some(&data[..])
        );
        let entry = dir.path().join("dwarf-v1/abcd/debug_info");
        let source = Source {
            name: ".debug_info",
            compressed: b"zlib bytes",
            len: data.len() as u64,
        };
        // Another compressed section (same length, other bytes): not this entry.
        let other = Source {
            compressed: b"zlib BYTES",
            ..source
        };
        assert!(cache.load("abcd", &other).is_none());
        // One flipped byte in the section: the checksum catches it.
        let mut bytes = fs::read(&entry).unwrap();
        bytes[HEADER_LEN + 1234] ^= 0x40;
        fs::write(&entry, &bytes).unwrap();
        assert!(cache.load("abcd", &source).is_none());
        // Truncated.
        fs::write(&entry, &bytes[..bytes.len() / 2]).unwrap();
        assert!(cache.load("abcd", &source).is_none());
        // Rewritten, it loads again; no temporary file is left.
        assert_eq!(
            round_trip(&cache, b"zlib bytes", &data).as_deref(),
            Some(&data[..])
        );
        let names: Vec<_> = fs::read_dir(entry.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![OsString::from("debug_info")]);
        assert!(cache.take_note().is_none());
    }

    #[test]
    fn an_unusable_directory_is_one_note() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the cache directory should be: nothing can be created.
        let blocker = dir.path().join("cache");
        fs::write(&blocker, b"").unwrap();
        let cache = SectionCache::new(CacheOptions::new(&blocker));
        assert!(round_trip(&cache, b"c", b"data").is_none());
        assert!(round_trip(&cache, b"c", b"data").is_none());
        let note = cache.take_note().unwrap();
        assert!(
            note.contains("cannot create") && note.contains("cache"),
            "{note}"
        );
        assert!(cache.take_note().is_none());
    }

    #[test]
    fn keys() {
        assert_eq!(
            key_for(Some("AB12"), Path::new("/x")).as_deref(),
            Some("ab12")
        );
        let exe = std::env::current_exe().unwrap();
        let k = key_for(None, &exe).unwrap();
        assert!(k.starts_with("path-") && k.len() == 21, "{k}");
        assert_eq!(key_for(Some("../etc"), &exe), Some(k));
        assert_eq!(key_for(None, Path::new("/nonexistent/file")), None);
    }
}
