//! The library's one error type.
//!
//! Every variant carries the context a user needs to find the problem: the
//! file, and for text formats the 1-based line number and the offending line
//! (truncated). Messages are lowercase, "what failed: why".

use std::fmt;

/// The environment variable that sets the decompressed size allowed for a
/// gzip stream: a size as [`crate::units::parse_size`] reads it (`8G`,
/// `512MiB`: powers of 1024); when set, the gzip-bomb ratio check is off.
///
/// Defined here, where [`ParseError::TooLarge`] names it, so that this
/// module depends on no stage; `read::limits` reads it and re-exports it.
pub const MAX_DECOMPRESSED_ENV: &str = "HEAPCOST_MAX_DECOMPRESSED";

/// heapcost's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop heapcost from producing an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file (or stdin) could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file, or `-` for stdin.
        path: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// An input is not a profile heapcost can read, or is malformed.
    #[error("{path}{}: {kind}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Parse {
        /// The file, or `-` for stdin.
        path: String,
        /// 1-based line number, for text formats.
        line: Option<usize>,
        /// What is wrong.
        kind: ParseError,
    },
    /// Several profiles cannot be combined.
    #[error("cannot merge {path} with {first}: {why}")]
    Merge {
        /// The profile that did not fit.
        path: String,
        /// The first profile of the set.
        first: String,
        /// Why not.
        why: String,
    },
    /// A file named for symbolization cannot be used.
    #[error("{binary}: {why}")]
    Symbolize {
        /// The file.
        binary: String,
        /// Why not.
        why: String,
    },
    /// A rules file (or the built-in rules) is malformed or contradicts itself.
    #[error("{path}{}: {why}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Rules {
        /// The rules file.
        path: String,
        /// 1-based line number, when known.
        line: Option<usize>,
        /// What is wrong.
        why: String,
    },
    /// A budgets file or a limit given on the command line (`heapcost gate`)
    /// is malformed or names an owner or kind no rule defines.
    #[error("{path}{}: {why}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Budgets {
        /// The budgets file, or the flag as typed.
        path: String,
        /// 1-based line number in the file.
        line: Option<usize>,
        /// What is wrong.
        why: String,
    },
    /// A file could not be written.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The file.
        path: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A requested sample type is not in the profile.
    #[error("{path}: {source}")]
    SampleType {
        /// The profile (or the inputs merged into it).
        path: String,
        /// Why the sample type cannot be chosen.
        source: SampleTypeError,
    },
    /// A command-line value is unusable.
    #[error("{0}")]
    Usage(String),
    /// Writing output failed.
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
}

impl Error {
    /// Builds a [`Error::Parse`] for `path` at an optional line.
    pub fn parse(path: impl Into<String>, line: Option<usize>, kind: ParseError) -> Self {
        Error::Parse {
            path: path.into(),
            line,
            kind,
        }
    }

    /// True when the error comes from a closed pipe on output (`heapcost top | head`).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// What is wrong with an input, without the file name (see [`Error::Parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The input has no bytes at all.
    Empty,
    /// The content matches no supported format.
    Unrecognized {
        /// The first bytes, printable, for the message.
        start: String,
    },
    /// A gzip stream is corrupt or cut short.
    Gzip(String),
    /// The decompressed size passed the limit (a gzip bomb, or a mistake).
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The input passed one of the limits the readers enforce (`read::limits`);
    /// the text says which, and what to do.
    Limit(String),
    /// A header was read but no stack follows it.
    NoStacks,
    /// A text line could not be understood.
    Line {
        /// Why.
        why: String,
        /// The offending line, truncated to 120 characters.
        text: String,
    },
    /// A protobuf could not be decoded or is inconsistent.
    Protobuf(String),
    /// A text profile parsed, but its tables do not refer to each other
    /// consistently (pprof's `CheckValid`); protobufs say
    /// [`ParseError::Protobuf`] instead.
    Inconsistent(String),
}

impl ParseError {
    /// A text-line error quoting (a truncated copy of) the line.
    pub fn line(why: impl Into<String>, text: &str) -> Self {
        ParseError::Line {
            why: why.into(),
            text: truncate(text, 120),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => write!(f, "empty file: not a heap profile"),
            ParseError::Unrecognized { start } => write!(
                f,
                "unrecognized format: not a gperftools, jemalloc or Go heap profile nor a pprof protobuf (starts with \"{start}\")"
            ),
            ParseError::Gzip(why) => write!(f, "gzip stream is corrupt or cut short: {why}"),
            ParseError::TooLarge { limit } => write!(
                f,
                "gzip stream inflates to more than {limit} bytes: refusing it (a gzip bomb?); set {MAX_DECOMPRESSED_ENV}=<bytes> to allow more"
            ),
            ParseError::Limit(why) => f.write_str(why),
            ParseError::NoStacks => write!(f, "profile header found but no stack follows it"),
            ParseError::Line { why, text } => write!(f, "{why}: {text:?}"),
            ParseError::Protobuf(why) => write!(f, "malformed pprof protobuf: {why}"),
            ParseError::Inconsistent(why) => write!(f, "inconsistent profile: {why}"),
        }
    }
}

/// Why a sample type cannot be chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleTypeError {
    /// The profile has no sample type at all.
    NoSampleTypes,
    /// The index is past the last sample type.
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// How many sample types the profile has.
        count: usize,
    },
    /// No sample type has that name.
    NotFound {
        /// The name asked for.
        name: String,
        /// The profile's sample types, in order.
        available: Vec<String>,
    },
}

impl fmt::Display for SampleTypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SampleTypeError::NoSampleTypes => f.write_str("profile has no sample types"),
            SampleTypeError::IndexOutOfRange { index, count } => write!(
                f,
                "sample type index {index} is outside 0..={}",
                count.saturating_sub(1)
            ),
            SampleTypeError::NotFound { name, available } => write!(
                f,
                "sample type {name:?} is not in this profile; it has: {}",
                available.join(", ")
            ),
        }
    }
}

impl std::error::Error for SampleTypeError {}

/// The first `max` characters of `s`, with `...` when cut.
fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_error_names_file_and_line() {
        let e = Error::parse("a.heap", Some(3), ParseError::line("bad address", "@ 0xzz"));
        assert_eq!(e.to_string(), r#"a.heap:3: bad address: "@ 0xzz""#);
        let e = Error::parse("b.pb", None, ParseError::Protobuf("x".into()));
        assert_eq!(e.to_string(), "b.pb: malformed pprof protobuf: x");
    }

    #[test]
    fn truncate_is_char_safe() {
        assert_eq!(truncate("ééé", 2), "éé...");
        assert_eq!(truncate("ab", 5), "ab");
    }
}
