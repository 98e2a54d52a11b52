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
pub mod limits;
pub(crate) mod maps;
mod pprof;
mod stream;
pub(crate) mod text;

use std::io::Read;

pub use detect::Detected;
pub use limits::Limits;
pub use text::unsample;

use crate::error::{Error, ParseError, Result};
use crate::profile::Profile;

use stream::{Inflate, LineReader, ReadFailure, Source};

/// The largest decompressed size accepted from a gzip stream by default
/// (4 GiB); see [`limits`].
pub const MAX_DECOMPRESSED: u64 = limits::MAX_DECOMPRESSED;

/// Parses one profile from its bytes, under the default [`Limits`]; `path`
/// names it in errors and in [`Profile::sources`].
pub fn parse(data: &[u8], path: &str) -> Result<Profile> {
    parse_reader(data, path, &Limits::default())
}

/// Parses one profile as it is read from `reader`: gzip is inflated on the
/// fly and text formats are parsed line by line, so memory follows the
/// number of distinct stacks and addresses, not the size of the input (a
/// pprof protobuf is read whole: it must be, to be decoded). `path` names
/// the input in errors and in [`Profile::sources`].
pub fn parse_reader(reader: impl Read, path: &str, limits: &Limits) -> Result<Profile> {
    let mut head = LineReader::new(Source::new(reader));
    let gzip = match head.peek(2) {
        Ok((start, _)) => detect::is_gzip(start),
        Err(failure) => return Err(failure.into_error(path)),
    };
    let result = if gzip {
        parse_plain(LineReader::new(Inflate::new(head, *limits)), limits, true)
    } else {
        parse_plain(head, limits, false)
    };
    let mut profile = result.map_err(|failure| failure.into_error(path))?;
    for s in &mut profile.sources {
        s.path = path.to_string();
    }
    profile.validate().map_err(|why| {
        // Each reader validates what it built; only a protobuf's own tables
        // can be inconsistent as written.
        let protobuf = profile
            .sources
            .first()
            .is_some_and(|s| s.format == crate::profile::Format::Pprof);
        let kind = if protobuf {
            ParseError::Protobuf(format!("inconsistent profile: {why}"))
        } else {
            ParseError::Inconsistent(why.to_string())
        };
        Error::parse(path, None, kind)
    })?;
    Ok(profile)
}

/// Parses uncompressed (or already inflating) input. When a text line is
/// wrong inside a gzip stream, the rest of the stream is inflated first: a
/// stream that is corrupt, or too large, is the problem to report (a corrupt
/// stream can inflate to junk lines before its checksum fails).
fn parse_plain<R: Read>(
    mut lines: LineReader<R>,
    limits: &Limits,
    gzip: bool,
) -> Result<Profile, ReadFailure> {
    let result = match detect_stream(&mut lines)? {
        Detected::Empty => Err(ReadFailure::Parse(None, ParseError::Empty)),
        Detected::GperftoolsText => gperftools::parse(&mut lines),
        Detected::JemallocText => jemalloc::parse(&mut lines),
        Detected::Other => return parse_protobuf(lines, limits),
    };
    if gzip && matches!(result, Err(ReadFailure::Parse(Some(_), _))) {
        std::io::copy(&mut lines, &mut std::io::sink())?;
    }
    result
}

/// Decides the format from the first non-blank line without consuming it:
/// peeks until that line is complete, or [`limits::MAX_LINE_LEN`] bytes are
/// buffered (then it is binary, or a text line too long to read). Input that
/// starts with more white space than that loses its blank lines (counted)
/// until one that is not blank; it cannot be a protobuf.
fn detect_stream<R: Read>(lines: &mut LineReader<R>) -> Result<Detected, ReadFailure> {
    let mut want = 4096;
    loop {
        let (data, eof) = lines.peek(want)?;
        let start = data.trim_ascii_start();
        let complete = eof || memchr::memchr(b'\n', start).is_some();
        let full = data.len() >= limits::MAX_LINE_LEN;
        if start.is_empty() && full && !eof {
            if lines.skip_blank_lines() {
                continue;
            }
            // A line of more than the limit of spaces: not a profile.
            return Ok(Detected::Other);
        }
        if (!start.is_empty() && complete) || full || eof {
            return Ok(detect::detect(data));
        }
        want = (want * 4).min(limits::MAX_LINE_LEN);
    }
}

/// Reads the rest of the input whole (within [`Limits::max_protobuf`]) and
/// decodes it as a pprof protobuf.
fn parse_protobuf<R: Read>(
    mut lines: LineReader<R>,
    limits: &Limits,
) -> Result<Profile, ReadFailure> {
    let data = lines.read_rest(limits.max_protobuf, |limit| {
        ParseError::Limit(format!(
            "input is not a text profile and is larger than {}, heapcost's limit for a pprof protobuf (decoded whole, in memory); set {}=<bytes> to allow more",
            limits::bytes_text(limit),
            limits::MAX_PROTOBUF_ENV
        ))
    })?;
    match pprof::parse(&data) {
        Ok(p) => Ok(p),
        Err(Some(kind)) => Err(ReadFailure::Parse(None, kind)),
        Err(None) if detect::looks_like_protobuf(&data) => Err(ReadFailure::Parse(
            None,
            ParseError::Protobuf(
                "cannot decode it: cut short or corrupt (it starts like a profile.proto)".into(),
            ),
        )),
        Err(None) => Err(ReadFailure::Parse(
            None,
            ParseError::Unrecognized {
                start: detect::printable_start(&data),
            },
        )),
    }
}

/// Each reader on its own, over bytes, for the fuzz targets of `fuzz/`
/// (which pick the format instead of detecting it, to reach deeper). Errors
/// name the input `fuzz`. Not a stable interface.
#[doc(hidden)]
pub mod fuzzing {
    use super::{LineReader, ReadFailure, gperftools, jemalloc, maps, pprof};
    use crate::error::{Error, ParseError, Result};
    use crate::profile::{AddressKind, Location, Profile, RuntimeAddr};

    fn finish(result: Result<Profile, ReadFailure>) -> Result<Profile> {
        let p = result.map_err(|f| f.into_error("fuzz"))?;
        p.validate()
            .map_err(|why| Error::parse("fuzz", None, ParseError::Protobuf(why.to_string())))?;
        Ok(p)
    }

    /// The gperftools (and Go legacy) text reader, whatever the first line says.
    pub fn gperftools(data: &[u8]) -> Result<Profile> {
        finish(gperftools::parse(&mut LineReader::new(data)))
    }

    /// The jemalloc reader, whatever the first line says.
    pub fn jemalloc(data: &[u8]) -> Result<Profile> {
        finish(jemalloc::parse(&mut LineReader::new(data)))
    }

    /// The pprof protobuf reader (no gzip).
    pub fn pprof(data: &[u8]) -> Result<Profile> {
        match pprof::parse(data) {
            Ok(p) => finish(Ok(p)),
            Err(kind) => Err(Error::parse(
                "fuzz",
                None,
                kind.unwrap_or(ParseError::Protobuf("not a protobuf".into())),
            )),
        }
    }

    /// A memory-map trailer (the lines after `MAPPED_LIBRARIES:`), attached
    /// to locations at `addresses`: the mappings and each location's mapping.
    pub fn maps(data: &[u8], addresses: &[u64]) -> Result<Profile> {
        let mappings =
            maps::parse_trailer(&mut LineReader::new(data)).map_err(|f| f.into_error("fuzz"))?;
        let mut locations: Vec<Location> = addresses
            .iter()
            .map(|a| Location {
                address: RuntimeAddr(*a),
                kind: AddressKind::ReturnAddress,
                mapping: None,
                lines: Vec::new(),
                is_folded: false,
            })
            .collect();
        let mappings = maps::attach(mappings, &mut locations);
        Ok(Profile {
            locations,
            mappings,
            ..Profile::default()
        })
    }
}

/// Reads and parses one file as a stream (see [`parse_reader`]), under the
/// [`Limits`] of the environment; `-` reads standard input.
pub fn read_path(path: &str) -> Result<Profile> {
    let limits = Limits::from_env()?;
    if path == "-" {
        return parse_reader(std::io::stdin().lock(), path, &limits);
    }
    let io = |source| Error::Io {
        path: path.to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.is_dir() {
        return Err(io(std::io::Error::other("is a directory")));
    }
    parse_reader(file, path, &limits)
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
