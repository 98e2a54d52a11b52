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

mod header;
mod write;

use std::ffi::OsString;
use std::fs::{self, File};
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::SystemTime;

use twox_hash::XxHash3_64;

pub(crate) use self::header::{HEADER_LEN, Source, fingerprint};
use self::header::{Header, file_name};

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
