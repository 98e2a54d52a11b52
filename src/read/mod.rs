//! Stage 1, **read**: bytes to [`Profile`].
//!
//! The format is decided from the content, never from the file name (see
//! [`detect`]): gzip is removed transparently, then the text dialects are
//! recognised by their first line, and anything else is tried as a pprof
//! protobuf. Each dialect has its own module; all of them produce the same
//! model, with sampled values already unsampled as pprof does and the text
//! formats' header totals kept beside the sums of their listed stacks.

pub mod detect;
pub mod envoy_memory;
mod gperftools;
mod jemalloc;
pub(crate) mod maps;
mod pprof;
pub(crate) mod text;

use std::io::Read;

pub use detect::Detected;
pub use text::unsample;

use crate::error::{Error, ParseError, Result};
use crate::profile::Profile;

/// The largest decompressed size accepted from a gzip stream (4 GiB).
pub const MAX_DECOMPRESSED: u64 = 4 << 30;

/// Parses one profile from its bytes; `path` names it in errors and in
/// [`Profile::sources`].
pub fn parse(data: &[u8], path: &str) -> Result<Profile> {
    let fail = |line: Option<usize>, kind: ParseError| Error::parse(path, line, kind);
    let mut inflated = Vec::new();
    let data = if detect::is_gzip(data) {
        gunzip(data, &mut inflated).map_err(|k| fail(None, k))?;
        &inflated[..]
    } else {
        data
    };
    let mut profile = match detect::detect(data) {
        Detected::Empty => return Err(fail(None, ParseError::Empty)),
        Detected::GperftoolsText => gperftools::parse(data).map_err(|(l, k)| fail(l, k))?,
        Detected::JemallocText => jemalloc::parse(data).map_err(|(l, k)| fail(l, k))?,
        Detected::Other => match pprof::parse(data) {
            Ok(p) => p,
            Err(Some(kind)) => return Err(fail(None, kind)),
            Err(None) if detect::looks_like_protobuf(data) => {
                return Err(fail(
                    None,
                    ParseError::Protobuf(
                        "cannot decode it: cut short or corrupt (it starts like a profile.proto)"
                            .into(),
                    ),
                ));
            }
            Err(None) => {
                return Err(fail(
                    None,
                    ParseError::Unrecognized {
                        start: detect::printable_start(data),
                    },
                ));
            }
        },
    };
    for s in &mut profile.sources {
        s.path = path.to_string();
    }
    profile.validate().map_err(|why| {
        fail(
            None,
            ParseError::Protobuf(format!("inconsistent profile: {why}")),
        )
    })?;
    Ok(profile)
}

/// Reads and parses one file; `-` reads standard input.
pub fn read_path(path: &str) -> Result<Profile> {
    let data = Input::open(path)?;
    parse(data.bytes(), path)
}

/// The bytes of one input: a memory map for regular files (no copy, and few
/// page faults: reading a 1 MiB dump into a fresh buffer costs 256 of them),
/// a buffer for standard input and anything that cannot be mapped.
enum Input {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl Input {
    fn open(path: &str) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.to_string(),
            source,
        };
        if path == "-" {
            let mut buf = Vec::new();
            std::io::stdin().lock().read_to_end(&mut buf).map_err(io)?;
            return Ok(Input::Read(buf));
        }
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if meta.is_dir() {
            return Err(io(std::io::Error::other("is a directory")));
        }
        if meta.is_file() && meta.len() > 0 {
            // SAFETY: the map is read-only and lives only while this input is
            // parsed; a file truncated meanwhile by another process could
            // fault, as with every tool that maps its inputs (ripgrep, git).
            if let Ok(map) = unsafe { memmap2::Mmap::map(&file) } {
                return Ok(Input::Mapped(map));
            }
        }
        let mut buf = Vec::new();
        let mut file = file;
        file.read_to_end(&mut buf).map_err(io)?;
        Ok(Input::Read(buf))
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Input::Mapped(m) => m,
            Input::Read(v) => v,
        }
    }
}

/// Reads and parses several files in parallel, keeping their order. At most
/// one of them may be `-` (standard input).
pub fn read_all(paths: &[String]) -> Result<Vec<Profile>> {
    let mut slots: Vec<Option<Result<Profile>>> = paths.iter().map(|_| None).collect();
    parse_in_parallel(paths, |i, result| {
        if let Some(slot) = slots.get_mut(i) {
            *slot = Some(result);
        }
        Ok(())
    })?;
    slots
        .into_iter()
        .map(|slot| slot.unwrap_or_else(|| Err(Error::Usage("an input was not read".into()))))
        .collect()
}

/// Reads several files and sums them into one profile (see
/// [`Merger`](crate::profile::Merger)). Files are parsed on worker threads
/// while the calling thread merges them in command-line order, so the result
/// (and the first error reported) does not depend on thread timing.
pub fn read_merged(paths: &[String]) -> Result<Profile> {
    let mut merger = crate::profile::Merger::default();
    let mut pending = std::collections::BTreeMap::new();
    let mut next = 0;
    parse_in_parallel(paths, |i, result| {
        pending.insert(i, result);
        while let Some(result) = pending.remove(&next) {
            merger.add(result?)?;
            next += 1;
        }
        Ok(())
    })?;
    merger.finish()
}

/// Parses `paths` on up to one worker thread per core and hands each result,
/// with its index, to `consume` on the calling thread as soon as it is ready.
/// An error from `consume` stops the hand-over (workers finish their file).
fn parse_in_parallel(
    paths: &[String],
    mut consume: impl FnMut(usize, Result<Profile>) -> Result<()>,
) -> Result<()> {
    if paths.iter().filter(|p| p.as_str() == "-").count() > 1 {
        return Err(Error::Usage(
            "standard input ('-') can be read only once".into(),
        ));
    }
    if let [one] = paths {
        return consume(0, read_path(one));
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(paths.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Result<Profile>)>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(path) = paths.get(i) else { break };
                    // The receiver is gone only when consuming already failed.
                    if tx.send((i, read_path(path))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, result) in rx {
            consume(i, result)?;
        }
        Ok(())
    })
}

fn gunzip(data: &[u8], out: &mut Vec<u8>) -> Result<(), ParseError> {
    let mut decoder = flate2::read::MultiGzDecoder::new(data).take(MAX_DECOMPRESSED + 1);
    decoder
        .read_to_end(out)
        .map_err(|e| ParseError::Gzip(e.to_string()))?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(ParseError::TooLarge {
            limit: MAX_DECOMPRESSED,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    const TINY: &[u8] = b"heap profile: 1: 10 [1: 10] @ heapprofile\n1: 10 [1: 10] @ 0x1\n";

    #[test]
    fn gzip_is_transparent() {
        let p = parse(&gz(TINY), "x.gz").unwrap();
        assert_eq!(p.total(1), 10);
        assert_eq!(p.sources[0].path, "x.gz");
    }

    #[test]
    fn cut_gzip_is_an_error() {
        let z = gz(TINY);
        let err = parse(&z[..z.len() - 6], "cut.gz").unwrap_err().to_string();
        assert!(err.starts_with("cut.gz: gzip stream"), "{err}");
    }

    #[test]
    fn empty_and_junk() {
        assert_eq!(
            parse(b"", "e").unwrap_err().to_string(),
            "e: empty file: not a heap profile"
        );
        assert_eq!(
            parse(b"\n \n", "e").unwrap_err().to_string(),
            "e: empty file: not a heap profile"
        );
        let err = parse(b"\xde\xad\xbe\xef junk", "j")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("j: unrecognized format"), "{err}");
    }
}
