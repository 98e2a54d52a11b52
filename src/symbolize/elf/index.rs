//! Function indexes of compilation units, kept between runs in the
//! debug-section cache, like lldb's index cache.
//!
//! The first lookup in a compilation unit scans all of its entries for the
//! `DW_TAG_subprogram`s that have address ranges (addr2line's
//! `Functions::parse`): on ceph-osd, 320 MB of `.debug_info` in 242 units,
//! about 0.85 s of CPU, the largest cost of a run once the sections come
//! from the cache. The result, the unit's function index (subprogram offsets
//! and their sorted ranges), is small (a few MB for ceph-osd), so it is saved
//! after a run as the entry `functions-v1` of the file's cache key and given
//! to later runs' contexts (`addr2line::Context::set_function_index_source`,
//! see `vendor/addr2line/HEAPCOST.md`), which then skip the scan for those
//! units and scan only the units no run has looked at yet.
//!
//! The index is what the scan produces, so every answer is the same with or
//! without it. It is tied to the DWARF it was made from: its header carries
//! the cache key (build id, or path, size and modification time) and a
//! fingerprint of `.debug_info` (its length and first and last 64 KiB), and
//! an entry that does not match, or whose checksum fails, is ignored. The
//! `-v1` changes whenever the layout below or addr2line's scan changes.
//!
//! Layout (little-endian), unit after unit by offset: the unit's
//! `.debug_info` offset (u64), the number of functions (u32) and of ranges
//! (u32), each function's unit-relative offset (u64), each range's begin and
//! end (u64, u64) and function number (u32).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use addr2line::FunctionIndex;

use super::Reader;
use crate::symbolize::cache::{self, SectionCache};

/// The cache entry's name.
const ENTRY: &str = ".functions-v1";

/// The function indexes saved for one file's DWARF, and where more go.
pub(super) struct SavedIndexes {
    key: String,
    identity: u64,
    known: Arc<HashMap<u64, FunctionIndex>>,
}

impl SavedIndexes {
    /// The indexes saved under `key` for this `.debug_info` (none when there
    /// are none or they do not fit it).
    pub(super) fn load(cache: &SectionCache, key: &str, debug_info: &[u8]) -> Self {
        let identity = cache::fingerprint(debug_info);
        let known = cache
            .load_derived(key, ENTRY, identity)
            .and_then(|bytes| decode(&bytes))
            .unwrap_or_default();
        SavedIndexes {
            key: key.to_string(),
            identity,
            known: Arc::new(known),
        }
    }

    /// How many units have a saved index.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.known.len()
    }

    /// Gives the saved indexes to a new context.
    pub(super) fn install(&self, context: &mut addr2line::Context<Reader>) {
        if !self.known.is_empty() {
            let known = self.known.clone();
            context.set_function_index_source(Arc::new(move |unit| known.get(&unit).cloned()));
        }
    }

    /// Saves the saved indexes plus those `contexts` made, when they made
    /// new ones.
    pub(super) fn save<'a>(
        &self,
        cache: &SectionCache,
        contexts: impl Iterator<Item = &'a addr2line::Context<Reader>>,
    ) {
        let mut all: BTreeMap<u64, FunctionIndex> = BTreeMap::new();
        for context in contexts {
            for (unit, index) in context.function_indexes() {
                if !self.known.contains_key(&unit) {
                    all.entry(unit).or_insert(index);
                }
            }
        }
        if all.is_empty() {
            return;
        }
        all.extend(self.known.iter().map(|(u, i)| (*u, i.clone())));
        cache.store_derived(&self.key, ENTRY, self.identity, &encode(&all));
    }
}

fn encode(indexes: &BTreeMap<u64, FunctionIndex>) -> Vec<u8> {
    let mut out = Vec::new();
    for (unit, index) in indexes {
        out.extend_from_slice(&unit.to_le_bytes());
        out.extend_from_slice(&(index.functions.len() as u32).to_le_bytes());
        out.extend_from_slice(&(index.addresses.len() as u32).to_le_bytes());
        for f in &index.functions {
            out.extend_from_slice(&f.to_le_bytes());
        }
        for &(begin, end, function) in &index.addresses {
            out.extend_from_slice(&begin.to_le_bytes());
            out.extend_from_slice(&end.to_le_bytes());
            out.extend_from_slice(&(function as u32).to_le_bytes());
        }
    }
    out
}

/// The indexes in `bytes`; `None` when they are not a whole, well-formed
/// list (a range naming a function that is not there, for one).
fn decode(bytes: &[u8]) -> Option<HashMap<u64, FunctionIndex>> {
    let mut input = Cursor(bytes);
    let mut out = HashMap::new();
    while !input.0.is_empty() {
        let unit = input.u64()?;
        let functions = usize::try_from(input.u32()?).ok()?;
        let addresses = usize::try_from(input.u32()?).ok()?;
        // Lengths come from the file: check them against what is left
        // before reserving anything.
        let need = functions
            .checked_mul(8)?
            .checked_add(addresses.checked_mul(20)?)?;
        if need > input.0.len() {
            return None;
        }
        let mut index = FunctionIndex {
            functions: Vec::with_capacity(functions),
            addresses: Vec::with_capacity(addresses),
        };
        for _ in 0..functions {
            index.functions.push(input.u64()?);
        }
        for _ in 0..addresses {
            let (begin, end) = (input.u64()?, input.u64()?);
            let function = usize::try_from(input.u32()?).ok()?;
            if function >= functions {
                return None;
            }
            index.addresses.push((begin, end, function));
        }
        out.insert(unit, index);
    }
    Some(out)
}

/// Reads little-endian numbers off the front of a byte string.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_at_checked(N)?;
        self.0 = rest;
        head.try_into().ok()
    }

    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Replaces every saved index of `bin`'s DWARF with an empty one.
    pub(in crate::symbolize::elf) fn empty_every_index(
        cache: &SectionCache,
        bin: &std::path::Path,
    ) {
        let f = super::super::ElfFile::open(bin, Some(cache)).unwrap();
        let saved = f.saved.as_ref().unwrap();
        let emptied: BTreeMap<u64, FunctionIndex> = saved
            .known
            .keys()
            .map(|u| (*u, FunctionIndex::default()))
            .collect();
        cache.store_derived(&saved.key, ENTRY, saved.identity, &encode(&emptied));
    }

    #[test]
    fn indexes_round_trip_and_damage_is_refused() {
        let mut all = BTreeMap::new();
        all.insert(
            0x40,
            FunctionIndex {
                functions: vec![0x2a, 0x90],
                addresses: vec![(0x1000, 0x1010, 1), (0x1010, 0x1100, 0)],
            },
        );
        all.insert(0x9000, FunctionIndex::default());
        let bytes = encode(&all);
        let back = decode(&bytes).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[&0x40], all[&0x40]);
        assert_eq!(back[&0x9000], FunctionIndex::default());
        // Cut short anywhere: refused, never half-read.
        for cut in 1..bytes.len() {
            if cut != 16 + 16 + 40 {
                assert!(decode(&bytes[..cut]).is_none(), "cut at {cut}");
            }
        }
        // A range naming a missing function.
        let mut bad = bytes.clone();
        bad[16 + 16 + 16] = 7;
        assert!(decode(&bad).is_none());
        // Counts larger than the data.
        let mut huge = bytes;
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).is_none());
    }
}
