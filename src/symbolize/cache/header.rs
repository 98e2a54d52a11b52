//! A cache entry's header and the identity of the section it was made from
//! (the layout is in the [module docs](super)).

use twox_hash::XxHash3_64;

const MAGIC: &[u8; 8] = b"HCDWARF\0";
const VERSION: u32 = 1;
/// Header bytes before the section's; a page, so the section is page-aligned.
pub(crate) const HEADER_LEN: usize = 4096;
/// Longest section name a header holds.
const MAX_NAME: usize = 64;
/// Bytes at each end of the compressed section that go into its fingerprint.
const FINGERPRINT_SPAN: usize = 64 * 1024;
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
    pub(super) fn fingerprint(&self) -> u64 {
        fingerprint(self.compressed)
    }

    pub(super) fn file_name(&self) -> Option<&str> {
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
pub(super) fn file_name(name: &str) -> Option<&str> {
    let n = name.trim_start_matches('.');
    let ok = !n.is_empty()
        && n.len() <= MAX_NAME
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    ok.then_some(n)
}

/// An entry's header (see the module docs for the layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Header {
    pub(super) name: String,
    pub(super) len: u64,
    pub(super) source_len: u64,
    pub(super) fingerprint: u64,
    pub(super) checksum: u64,
}

impl Header {
    /// Bytes the encoded header fills (the rest of [`HEADER_LEN`] is zero).
    const ENCODED: usize = 8 + 4 + 4 + 8 * 4 + 2 + MAX_NAME + 8;

    pub(super) fn encode(&self) -> [u8; HEADER_LEN] {
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
    pub(super) fn decode(bytes: &[u8]) -> Option<Header> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
