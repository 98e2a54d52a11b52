//! Inputs as streams: numbered lines read through a bounded buffer, gzip
//! inflated on the fly under the limits of [`super::limits`], and the
//! failures of each layer told apart (the file's own I/O error, a corrupt
//! gzip stream, a limit, a line that cannot be parsed).
//!
//! Text profiles are parsed line by line as they are read, so memory follows
//! the number of distinct stacks and addresses, never the size of the file;
//! only a pprof protobuf is read whole (it must be, to be decoded).

use std::fmt;
use std::io::{self, Read};

use crate::error::{Error, ParseError};

use super::limits::{self, Limits};

/// Why reading an input stopped, before the file's path is attached.
#[derive(Debug)]
pub(crate) enum ReadFailure {
    /// The content is wrong at a 1-based line (`None`: the whole input).
    Parse(Option<usize>, ParseError),
    /// The file (or standard input) could not be read.
    Io(io::Error),
}

impl ReadFailure {
    /// The library error for an input named `path`.
    pub(crate) fn into_error(self, path: &str) -> Error {
        match self {
            ReadFailure::Parse(line, kind) => Error::parse(path, line, kind),
            ReadFailure::Io(source) => Error::Io {
                path: path.to_string(),
                source,
            },
        }
    }
}

impl From<(Option<usize>, ParseError)> for ReadFailure {
    fn from((line, kind): (Option<usize>, ParseError)) -> Self {
        ReadFailure::Parse(line, kind)
    }
}

impl From<io::Error> for ReadFailure {
    /// Sorts an error raised by the reader stack: the input's own I/O
    /// errors (marked by [`Source`]), a limit (marked by [`Inflate`]), and
    /// anything else, which only the gzip decoder raises.
    fn from(e: io::Error) -> Self {
        if e.get_ref().is_some_and(|r| r.is::<SourceError>()) {
            let kind = e.kind();
            return match e.into_inner().map(|r| r.downcast::<SourceError>()) {
                Some(Ok(source)) => ReadFailure::Io(source.0),
                _ => ReadFailure::Io(io::Error::from(kind)),
            };
        }
        if e.get_ref().is_some_and(|r| r.is::<LimitError>()) {
            return match e.into_inner().map(|r| r.downcast::<LimitError>()) {
                Some(Ok(limit)) => ReadFailure::Parse(None, limit.0),
                _ => ReadFailure::Parse(None, ParseError::Limit("a limit was passed".into())),
            };
        }
        ReadFailure::Parse(None, ParseError::Gzip(e.to_string()))
    }
}

/// An I/O error of the input itself, as opposed to one a decoder raised.
#[derive(Debug)]
struct SourceError(io::Error);

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SourceError {}

/// A limit passed while inflating.
#[derive(Debug)]
struct LimitError(ParseError);

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for LimitError {}

/// The input's bytes, with its I/O errors marked as its own and counted.
pub(crate) struct Source<R> {
    inner: R,
    /// Bytes read so far.
    read: u64,
}

impl<R> Source<R> {
    pub(crate) fn new(inner: R) -> Self {
        Source { inner, read: 0 }
    }
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.read += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => Err(io::Error::new(e.kind(), SourceError(e))),
        }
    }
}

/// Inflates a gzip stream (concatenated members too), refusing it once it
/// passes [`Limits::max_decompressed`] or, past [`limits::GZIP_RATIO_FLOOR`],
/// inflates more than [`Limits::max_gzip_ratio`] bytes per compressed byte.
pub(crate) struct Inflate<R: Read> {
    decoder: flate2::read::MultiGzDecoder<LineReader<Source<R>>>,
    out: u64,
    limits: Limits,
}

impl<R: Read> Inflate<R> {
    pub(crate) fn new(compressed: LineReader<Source<R>>, limits: Limits) -> Self {
        Inflate {
            decoder: flate2::read::MultiGzDecoder::new(compressed),
            out: 0,
            limits,
        }
    }

    fn check(&self) -> Result<(), ParseError> {
        if self.out > self.limits.max_decompressed {
            return Err(ParseError::TooLarge {
                limit: self.limits.max_decompressed,
            });
        }
        if let Some(ratio) = self.limits.max_gzip_ratio {
            let compressed = self.decoder.get_ref().inner.read.max(1);
            if self.out > limits::GZIP_RATIO_FLOOR && self.out / compressed > ratio {
                return Err(ParseError::Limit(format!(
                    "gzip stream inflates more than {ratio}:1 ({} from {} of input so far): refusing it as a likely gzip bomb (heap profiles compress about 3:1 to 12:1); set {}=<bytes> to allow it",
                    limits::bytes_text(self.out),
                    limits::bytes_text(compressed),
                    limits::MAX_DECOMPRESSED_ENV
                )));
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Inflate<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.decoder.read(buf)?;
        self.out += n as u64;
        self.check().map_err(|e| io::Error::other(LimitError(e)))?;
        Ok(n)
    }
}

/// Numbered lines (from 1, without `\n` or `\r\n`) of a byte stream, read
/// through one buffer that grows only to hold the longest line
/// ([`limits::MAX_LINE_LEN`] at most). Also a [`Read`] of what is left.
pub(crate) struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    eof: bool,
    /// Lines returned so far.
    number: usize,
}

/// The buffer's first size; it grows (doubling) for longer lines or peeks.
const INITIAL_BUFFER: usize = 256 << 10;

impl<R: Read> LineReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        LineReader {
            inner,
            buf: Vec::new(),
            start: 0,
            end: 0,
            eof: false,
            number: 0,
        }
    }

    /// Reads more input after the unread bytes, moving them to the front
    /// first and growing the buffer to `room` bytes when it is full.
    fn fill(&mut self, room: usize) -> Result<(), ReadFailure> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2).clamp(INITIAL_BUFFER, room.max(INITIAL_BUFFER));
            if grown <= self.buf.len() {
                return Ok(());
            }
            self.buf.resize(grown, 0);
        }
        loop {
            let free = self.buf.get_mut(self.end..).unwrap_or_default();
            match self.inner.read(free) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn unread(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    /// At least `n` unread bytes (fewer only at the end of the input),
    /// without consuming them; and whether the input ends there.
    pub(crate) fn peek(&mut self, n: usize) -> Result<(&[u8], bool), ReadFailure> {
        while self.end - self.start < n && !self.eof {
            self.fill(n)?;
        }
        Ok((self.unread(), self.eof))
    }

    /// Consumes the unread bytes up to the last newline among them when
    /// they are all white space, counting the lines (see
    /// `read::detect_stream`); false when there was no such newline.
    pub(crate) fn skip_blank_lines(&mut self) -> bool {
        let unread = self.unread();
        match memchr::memrchr(b'\n', unread) {
            Some(last) if unread[..last].iter().all(u8::is_ascii_whitespace) => {
                self.number += memchr::memchr_iter(b'\n', &unread[..=last]).count();
                self.start += last + 1;
                true
            }
            _ => false,
        }
    }

    /// The next line and its number; `None` at the end of the input.
    pub(crate) fn next_line(&mut self) -> Result<Option<(usize, &[u8])>, ReadFailure> {
        let mut scanned = 0;
        let (line_start, line_end, next) = loop {
            let unread = self.unread();
            if let Some(i) = memchr::memchr(b'\n', unread.get(scanned..).unwrap_or_default()) {
                let end = self.start + scanned + i;
                break (self.start, end, end + 1);
            }
            scanned = unread.len();
            if scanned > limits::MAX_LINE_LEN {
                return Err(self.too_long());
            }
            if self.eof {
                if scanned == 0 {
                    return Ok(None);
                }
                break (self.start, self.end, self.end);
            }
            self.fill(limits::MAX_LINE_LEN + 2)?;
        };
        self.start = next;
        self.number += 1;
        let line = self.buf.get(line_start..line_end).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Ok(Some((self.number, line)))
    }

    fn too_long(&self) -> ReadFailure {
        let start = self.unread().get(..120).unwrap_or_default();
        ReadFailure::Parse(
            Some(self.number + 1),
            ParseError::line(
                format!(
                    "line is longer than {} (heapcost's limit for one line of a text profile)",
                    limits::bytes_text(limits::MAX_LINE_LEN as u64)
                ),
                &String::from_utf8_lossy(start),
            ),
        )
    }

    /// Everything left, when it is at most `limit` bytes; else the error
    /// `too_large` builds from the limit.
    pub(crate) fn read_rest(
        &mut self,
        limit: u64,
        too_large: impl FnOnce(u64) -> ParseError,
    ) -> Result<Vec<u8>, ReadFailure> {
        let mut out = self.unread().to_vec();
        self.start = self.end;
        let left = (limit + 1).saturating_sub(out.len() as u64);
        (&mut self.inner).take(left).read_to_end(&mut out)?;
        if out.len() as u64 > limit {
            return Err(ReadFailure::Parse(None, too_large(limit)));
        }
        Ok(out)
    }
}

impl<R: Read> Read for LineReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let unread = self.unread();
        if unread.is_empty() {
            return self.inner.read(buf);
        }
        let n = unread.len().min(buf.len());
        buf[..n].copy_from_slice(&unread[..n]);
        self.start += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(data: &[u8]) -> Vec<(usize, Vec<u8>)> {
        let mut r = LineReader::new(data);
        let mut out = Vec::new();
        while let Some((n, l)) = r.next_line().unwrap() {
            out.push((n, l.to_vec()));
        }
        out
    }

    #[test]
    fn lines_are_numbered_and_stripped() {
        assert_eq!(
            lines(b"a\r\nb\n\nc"),
            vec![
                (1, b"a".to_vec()),
                (2, b"b".to_vec()),
                (3, b"".to_vec()),
                (4, b"c".to_vec())
            ]
        );
        assert!(lines(b"").is_empty());
    }

    /// A reader that hands out one byte at a time, to cross every boundary.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(out)) => {
                    *out = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn long_lines_cross_buffers() {
        let long = vec![b'x'; INITIAL_BUFFER * 3 + 7];
        let mut data = b"first\n".to_vec();
        data.extend_from_slice(&long);
        data.extend_from_slice(b"\nlast");
        let got = lines(&data);
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].1, long);
        assert_eq!(got[2], (3, b"last".to_vec()));
        let mut r = LineReader::new(Trickle(b"ab\ncd\n\nef"));
        let mut seen = Vec::new();
        while let Some((n, l)) = r.next_line().unwrap() {
            seen.push((n, l.to_vec()));
        }
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[3], (4, b"ef".to_vec()));
    }

    #[test]
    fn a_line_past_the_limit_is_an_error() {
        let mut data = b"ok\n".to_vec();
        data.resize(data.len() + limits::MAX_LINE_LEN + 10, b'7');
        let mut r = LineReader::new(&data[..]);
        assert!(r.next_line().unwrap().is_some());
        match r.next_line() {
            Err(ReadFailure::Parse(Some(2), e)) => {
                assert!(e.to_string().contains("longer than 1 MiB"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn peek_then_read_everything() {
        let mut r = LineReader::new(&b"0123456789"[..]);
        assert_eq!(r.peek(4).unwrap().0, b"0123456789");
        let rest = r
            .read_rest(100, |l| ParseError::TooLarge { limit: l })
            .unwrap();
        assert_eq!(rest, b"0123456789");
        let mut r = LineReader::new(&b"0123456789"[..]);
        assert!(matches!(
            r.read_rest(9, |l| ParseError::TooLarge { limit: l }),
            Err(ReadFailure::Parse(None, ParseError::TooLarge { limit: 9 }))
        ));
    }
}
