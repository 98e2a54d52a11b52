//! Format sniffing from content: gzip magic, then the first non-blank line.

/// What the first bytes of an (uncompressed) input look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    /// No bytes, or only white space.
    Empty,
    /// A first line with `heap profile:` (gperftools heap, growth, Go legacy).
    GperftoolsText,
    /// A first line `heap_v2/N` (jemalloc).
    JemallocText,
    /// Anything else: tried as a pprof protobuf.
    Other,
}

/// True when `data` starts with the gzip magic bytes.
pub fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b])
}

/// Classifies uncompressed input by its first non-blank line.
pub fn detect(data: &[u8]) -> Detected {
    let start = data.trim_ascii_start();
    if start.is_empty() {
        return Detected::Empty;
    }
    let first_line = match memchr::memchr(b'\n', start) {
        Some(i) => &start[..i],
        None => start,
    };
    if memchr::memmem::find(first_line, b"heap profile:").is_some() {
        Detected::GperftoolsText
    } else if first_line.starts_with(b"heap_v2/") {
        Detected::JemallocText
    } else {
        Detected::Other
    }
}

/// True when `data` starts as pprof writers start a `profile.proto`: with a
/// length-delimited field 1 (`sample_type`) whose first byte is the
/// `ValueType.type` tag. Used to word the error for a cut or corrupt one.
pub fn looks_like_protobuf(data: &[u8]) -> bool {
    matches!(data, [0x0a, len, 0x08, ..] if *len < 0x80)
}

/// The first bytes of `data`, printable, for an "unrecognized format" message.
pub fn printable_start(data: &[u8]) -> String {
    data.iter()
        .take(24)
        .map(|b| {
            if b.is_ascii_graphic() || *b == b' ' {
                (*b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_content() {
        assert_eq!(
            detect(b"heap profile:   3535: 1 [ 2: 3] @ heapprofile\n"),
            Detected::GperftoolsText
        );
        assert_eq!(
            detect(b"\n\nheap_v2/524288\n  t*: 1: 2 [0: 0]\n"),
            Detected::JemallocText
        );
        assert_eq!(detect(b"  \n"), Detected::Empty);
        assert_eq!(detect(b"\x0a\x04\x08\x01\x10\x02"), Detected::Other);
        assert!(is_gzip(b"\x1f\x8b\x08"));
        assert_eq!(printable_start(b"ab\x00"), "ab\\x00");
    }
}
