//! Writing cache entries: a temporary file, filled (mapped when the file
//! system can allocate it up front), then renamed over the entry.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use twox_hash::XxHash3_64;

use super::header::{Header, Source, file_name};
use super::{Bytes, HEADER_LEN, SectionCache};

/// Temporary files older than this are left over from a crashed run.
const STALE_TEMP: Duration = Duration::from_secs(3600);

impl SectionCache {
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

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;
    use crate::symbolize::cache::CacheOptions;

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
}
