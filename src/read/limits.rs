//! The limits every reader enforces, so that a corrupt or hostile input is
//! refused with a message instead of exhausting memory or time.
//!
//! Each limit is far above what real heap profiles need (the numbers below
//! say what real ones hold) and is checked where the thing it bounds is
//! read, so the error names the file and, for text formats, the line.
//! Two of them can be raised from the environment, because a legitimate
//! input can exceed them: the decompressed size of a gzip stream
//! ([`MAX_DECOMPRESSED_ENV`]) and the size of a pprof protobuf, which is read
//! whole ([`MAX_PROTOBUF_ENV`]). The others bound the structure of a profile
//! and have no override.

use crate::error::{Error, Result};
use crate::units::parse_size;

/// Byte counts in the readers' messages (`4 GiB`), from [`crate::units`].
pub(crate) use crate::units::bytes_text;

// Defined in the error module, whose message for a gzip bomb names it.
pub use crate::error::MAX_DECOMPRESSED_ENV;

/// Frames in one stack. gperftools records at most 32 (64 when rebuilt),
/// jemalloc 128, tcmalloc 64, Go 128.
pub const MAX_STACK_DEPTH: usize = 4096;

/// Distinct locations (addresses) in one profile. Envoy's dumps hold a few
/// thousand, a `ceph-osd` dump about 6,000.
pub const MAX_LOCATIONS: usize = 1 << 22;

/// Mappings in one profile: Linux's default `vm.max_map_count` (65,530)
/// bounds a process's `/proc/self/maps`.
pub const MAX_MAPPINGS: usize = 1 << 16;

/// Bytes in a mapping's file name or a function's source file name
/// (Linux's `PATH_MAX`).
pub const MAX_PATH_LEN: usize = 4096;

/// Bytes in one line of a text profile. The deepest stack allowed, written
/// with 16-digit addresses, takes about 80 KiB.
pub const MAX_LINE_LEN: usize = 1 << 20;

/// Decompressed bytes of one gzip stream (4 GiB), unless
/// [`MAX_DECOMPRESSED_ENV`] says otherwise.
pub const MAX_DECOMPRESSED: u64 = 4 << 30;

/// Decompressed bytes per compressed byte above which a gzip stream is taken
/// for a gzip bomb, once it has inflated past [`GZIP_RATIO_FLOOR`]. Heap
/// profiles compress 3:1 (protobufs) to 12:1 (gperftools text); deflate
/// cannot exceed about 1032:1, which bombs come close to.
pub const MAX_GZIP_RATIO: u64 = 200;

/// Decompressed bytes below which [`MAX_GZIP_RATIO`] is not checked (64 MiB).
pub const GZIP_RATIO_FLOOR: u64 = 64 << 20;

/// Bytes of a pprof protobuf (after gzip), which is decoded whole in memory
/// (1 GiB), unless [`MAX_PROTOBUF_ENV`] says otherwise. Real heap profiles
/// in this format are a few megabytes.
pub const MAX_PROTOBUF: u64 = 1 << 30;

/// The environment variable that sets [`MAX_PROTOBUF`]: a size, as for
/// [`MAX_DECOMPRESSED_ENV`].
pub const MAX_PROTOBUF_ENV: &str = "HEAPCOST_MAX_PROTOBUF";

/// The size limits in force for one run (the structural ones are constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Decompressed bytes allowed from one gzip stream. Default [`MAX_DECOMPRESSED`].
    pub max_decompressed: u64,
    /// The gzip-bomb ratio, `None` when off. Default `Some(`[`MAX_GZIP_RATIO`]`)`.
    pub max_gzip_ratio: Option<u64>,
    /// Bytes allowed for a pprof protobuf. Default [`MAX_PROTOBUF`].
    pub max_protobuf: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decompressed: MAX_DECOMPRESSED,
            max_gzip_ratio: Some(MAX_GZIP_RATIO),
            max_protobuf: MAX_PROTOBUF,
        }
    }
}

impl Limits {
    /// The defaults, with [`MAX_DECOMPRESSED_ENV`] and [`MAX_PROTOBUF_ENV`]
    /// applied when set; an unreadable value is a usage error.
    pub fn from_env() -> Result<Limits> {
        let mut limits = Limits::default();
        if let Some(v) = env_size(MAX_DECOMPRESSED_ENV)? {
            limits.max_decompressed = v;
            limits.max_gzip_ratio = None;
        }
        if let Some(v) = env_size(MAX_PROTOBUF_ENV)? {
            limits.max_protobuf = v;
        }
        Ok(limits)
    }
}

fn env_size(name: &str) -> Result<Option<u64>> {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::Usage(format!(
            "{name} is not a size in bytes (e.g. 8G)"
        ))),
        Ok(v) => parse_size(&v).map(|size| Some(size.value)).map_err(|_| {
            Error::Usage(format!(
                "{name}={v:?} is not a size in bytes (a number with an optional K, M, G or T suffix, e.g. 8G)"
            ))
        }),
    }
}
