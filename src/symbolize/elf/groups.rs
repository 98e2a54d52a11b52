//! Grouping addresses by DWARF compilation unit, so that each unit is
//! parsed by one worker thread.

use super::{ElfFile, Reader};

impl ElfFile {
    /// The indexes of `vaddrs` to look up, in groups to hand to worker
    /// threads whole: the addresses of one DWARF compilation unit (by
    /// `.debug_aranges`) together, so that each unit is parsed by one thread
    /// only, heaviest unit first (by its size, plus a little per address),
    /// so that the last groups taken are small and the threads finish
    /// together. Addresses in no unit, and all those of a file without
    /// DWARF, come last, in runs of 256. Each group is in address order;
    /// `None` addresses are left out.
    pub(crate) fn lookup_groups(&self, vaddrs: &[Option<u64>]) -> Vec<Vec<usize>> {
        const RUN: usize = 256;
        const PER_ADDRESS: u64 = 4096;
        let mut order: Vec<(u64, usize)> = vaddrs
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some(((*v)?, i)))
            .collect();
        order.sort_unstable();
        let units = self.unit_ranges();
        let mut by_unit: std::collections::HashMap<usize, Vec<usize>> = Default::default();
        let mut rest = Vec::new();
        for &(v, i) in &order {
            let after = units.ranges.partition_point(|r| r.0 <= v);
            match after.checked_sub(1).and_then(|j| units.ranges.get(j)) {
                Some(&(_, end, unit)) if v < end => by_unit.entry(unit).or_default().push(i),
                _ => rest.push(i),
            }
        }
        let mut groups: Vec<(u64, Vec<usize>)> = by_unit
            .into_iter()
            .map(|(unit, list)| {
                let size = units.sizes.get(&unit).copied().unwrap_or(0);
                (size + PER_ADDRESS * list.len() as u64, list)
            })
            .collect();
        groups.sort_by_key(|(weight, list)| (std::cmp::Reverse(*weight), list.first().copied()));
        let mut out: Vec<Vec<usize>> = groups.into_iter().map(|(_, list)| list).collect();
        out.extend(rest.chunks(RUN).map(<[usize]>::to_vec));
        out
    }

    /// The compilation units' address ranges from `.debug_aranges` (sorted
    /// `(start, end, unit offset)`) and their sizes; empty without DWARF.
    fn unit_ranges(&self) -> UnitRanges {
        let mut out = UnitRanges::default();
        let Some(sections) = &self.dwarf else {
            return out;
        };
        let dwarf = sections.borrow(|b| Reader::new(b.clone(), self.endian));
        let mut units = dwarf.units();
        while let Ok(Some(header)) = units.next() {
            if let Some(offset) = header.debug_info_offset() {
                out.sizes
                    .insert(offset.0, header.length_including_self() as u64);
            }
        }
        let mut headers = dwarf.debug_aranges.headers();
        while let Ok(Some(header)) = headers.next() {
            let unit = header.debug_info_offset().0;
            let mut entries = header.entries();
            while let Ok(Some(e)) = entries.next() {
                if e.length() > 0 {
                    let end = e.address().saturating_add(e.length());
                    out.ranges.push((e.address(), end, unit));
                }
            }
        }
        out.ranges.sort_unstable();
        out
    }
}

/// See [`ElfFile::unit_ranges`].
#[derive(Default)]
struct UnitRanges {
    ranges: Vec<(u64, u64, usize)>,
    sizes: std::collections::HashMap<usize, u64>,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::symbolize::elf::tests::file;

    /// Every `Some` address exactly once, each group in address order.
    fn check_partition(groups: &[Vec<usize>], vaddrs: &[Option<u64>]) {
        let mut seen: Vec<usize> = groups.iter().flatten().copied().collect();
        for g in groups {
            assert!(g.windows(2).all(|w| vaddrs[w[0]] <= vaddrs[w[1]]), "{g:?}");
        }
        seen.sort_unstable();
        let want: Vec<usize> = (0..vaddrs.len()).filter(|&i| vaddrs[i].is_some()).collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn lookup_groups_without_dwarf_are_runs_of_sorted_addresses() {
        let f = file(&[(0, 0, 0x10000)], vec![], vec![]);
        let vaddrs: Vec<Option<u64>> = (0..600u64)
            .map(|i| (i % 7 != 0).then_some(5000 - i))
            .collect();
        let groups = f.lookup_groups(&vaddrs);
        check_partition(&groups, &vaddrs);
        let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![256, 256, 2]);
        assert_eq!(vaddrs[groups[0][0]], Some(5000 - 599));
    }

    #[test]
    fn lookup_groups_follow_compilation_units() {
        let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mini-envoy/mini-envoy");
        let f = ElfFile::open(&bin, None).unwrap();
        let units = f.unit_ranges();
        assert!(units.ranges.len() > 1 && units.sizes.len() > 1);
        let unit_of = |v: u64| {
            units
                .ranges
                .iter()
                .find(|r| r.0 <= v && v < r.1)
                .map(|r| r.2)
        };
        let mut vaddrs: Vec<Option<u64>> = f.symbols.iter().map(|s| Some(s.0)).collect();
        vaddrs.push(None);
        let groups = f.lookup_groups(&vaddrs);
        check_partition(&groups, &vaddrs);
        let mut units_seen = Vec::new();
        for g in &groups {
            let u = unit_of(vaddrs[g[0]].unwrap());
            assert!(g.iter().all(|&i| unit_of(vaddrs[i].unwrap()) == u));
            if u.is_some() {
                assert!(!units_seen.contains(&u), "unit {u:?} in two groups");
                units_seen.push(u);
            }
        }
        assert!(units_seen.len() > 1);
    }
}
