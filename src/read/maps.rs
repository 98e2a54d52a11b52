//! The memory-map trailer of text dumps (`MAPPED_LIBRARIES:` or
//! `--- Memory map: ---`): Linux `/proc/self/maps` lines, or pprof's brief
//! `start-end path (@offset) buildid` form, turned into [`Mapping`]s.
//!
//! The rules are pprof's (`ParseMemoryMap`), so that mappings, and thus the
//! `module+offset` names of unsymbolized frames, agree with pprof's:
//! - lines that are not mappings are ignored; `name=value` lines define
//!   `$name`, substituted into later lines; glog prefixes are removed;
//! - mappings without execute permission are dropped (heap dumps only point
//!   into code);
//! - adjacent pieces of one file are merged, and the main executable is moved
//!   first;
//! - a main executable whose `start - offset` is `0x400000` is rebased there
//!   (old non-PIE layouts);
//! - an address just below a split mapping extends that mapping down.
//!
//! Addresses outside every mapping stay unmapped (pprof invents a fake
//! mapping for them; heapcost shows them as bare addresses instead).

use std::io::Read;

use crate::error::ParseError;
use crate::profile::{FileOffset, Location, Mapping, MappingId, RuntimeAddr};

use super::limits;
use super::stream::{LineReader, ReadFailure};
use super::text::{lossy, parse_hex};

/// True when a line starts the memory-map trailer.
pub(crate) fn is_sentinel(line: &[u8]) -> bool {
    // Stack lines start with a count: skip the search for them.
    if line
        .trim_ascii_start()
        .first()
        .is_some_and(u8::is_ascii_digit)
    {
        return false;
    }
    memchr::memmem::find(line, b"MAPPED_LIBRARIES:").is_some()
        || memchr::memmem::find(line, b"--- Memory map: ---").is_some()
}

/// At most this many `name=value` definitions are kept from a trailer (real
/// dumps have one or two); more would make substitution quadratic.
const MAX_VARS: usize = 64;

/// A line that substitution would make longer than this is skipped, so that
/// definitions built from earlier ones cannot grow exponentially.
const MAX_SUBSTITUTED_LINE: usize = 8192;

/// Parses the trailer lines after the sentinel, as they are read, into
/// executable mappings. A mapping whose file name is longer than
/// [`limits::MAX_PATH_LEN`], or one more than [`limits::MAX_MAPPINGS`], is
/// an error at its line; lines that are not mappings are ignored.
pub(crate) fn parse_trailer<R: Read>(
    lines: &mut LineReader<R>,
) -> Result<Vec<Mapping>, ReadFailure> {
    let mut parser = MapsParser::default();
    while let Some((no, raw)) = lines.next_line()? {
        parser
            .line(raw)
            .map_err(|why| ReadFailure::Parse(Some(no), ParseError::line(why, &lossy(raw))))?;
    }
    Ok(parser.mappings)
}

/// The state of a trailer being read: `$name` definitions and the mappings so far.
#[derive(Default)]
struct MapsParser {
    vars: Vec<(String, String)>,
    mappings: Vec<Mapping>,
}

impl MapsParser {
    /// Reads one trailer line; an error when a limit is passed.
    fn line(&mut self, raw: &[u8]) -> Result<(), String> {
        let mut line = strip_glog_prefix(&lossy(raw)).to_string();
        if line.contains('$') && !self.vars.is_empty() {
            if line.len() > MAX_SUBSTITUTED_LINE {
                // Substitution could only make it longer: skipped, as below.
                return Ok(());
            }
            for (name, value) in &self.vars {
                let n = line.matches(name.as_str()).count();
                if n == 0 {
                    continue;
                }
                if line.len() + n * value.len() > MAX_SUBSTITUTED_LINE {
                    return Ok(());
                }
                line = line.replace(name.as_str(), value);
            }
        }
        match parse_entry(&line) {
            Some(Entry::Mapping(m)) => {
                if m.file.len() > limits::MAX_PATH_LEN {
                    return Err(format!(
                        "mapping file name of {} bytes is longer than {} (heapcost's limit, Linux's PATH_MAX)",
                        m.file.len(),
                        limits::MAX_PATH_LEN
                    ));
                }
                if self.mappings.len() >= limits::MAX_MAPPINGS {
                    return Err(format!(
                        "more than {} executable mappings (heapcost's limit; Linux allows a process 65530 mappings of any kind)",
                        limits::MAX_MAPPINGS
                    ));
                }
                self.mappings.push(m);
            }
            Some(Entry::NotExecutable) => {}
            None => {
                if let Some((name, value)) = line.split_once('=')
                    && self.vars.len() < MAX_VARS
                {
                    self.vars
                        .push((format!("${}", name.trim()), value.trim().to_string()));
                }
            }
        }
        Ok(())
    }
}

/// Parses trailer lines, ignoring limits (for tests).
#[cfg(test)]
fn parse_maps<'a>(lines: impl Iterator<Item = &'a [u8]>) -> Vec<Mapping> {
    let mut parser = MapsParser::default();
    for raw in lines {
        let _ = parser.line(raw);
    }
    parser.mappings
}

enum Entry {
    Mapping(Mapping),
    NotExecutable,
}

/// One maps line in either form; `None` when it is not a mapping line (a
/// range that ends before it starts is not one: kept, it could be
/// "extended down" to an address it still would not contain).
fn parse_entry(line: &str) -> Option<Entry> {
    let (start, limit, rest) = parse_range(line)?;
    if limit <= start {
        return None;
    }
    let tokens: Vec<&str> = rest.split_ascii_whitespace().collect();
    let mut i = 0;
    let perms = tokens
        .first()
        .filter(|t| t.bytes().all(|b| b"-rwxps".contains(&b)))
        .copied();
    if perms.is_some() {
        i += 1;
    }
    let mut mapping = Mapping {
        start: RuntimeAddr(start),
        limit: RuntimeAddr(limit),
        ..Mapping::default()
    };
    if let Some((offset, file)) = proc_fields(tokens.get(i..).unwrap_or_default()) {
        mapping.offset = FileOffset(offset.unwrap_or(0));
        mapping.file = file.unwrap_or_default().to_string();
    } else {
        // Brief form: [path] [(@offset)] [buildid].
        let mut t = tokens.get(i..).unwrap_or_default().iter();
        let mut next = t.next();
        if let Some(path) = next.filter(|p| !p.starts_with("(@")) {
            mapping.file = path.to_string();
            next = t.next();
        }
        if let Some(off) = next.and_then(|p| p.strip_prefix("(@")?.strip_suffix(')')) {
            mapping.offset = FileOffset(parse_hex(off.as_bytes())?);
            next = t.next();
        }
        if let Some(id) = next.filter(|id| id.bytes().all(|b| b.is_ascii_hexdigit())) {
            mapping.build_id = id.to_string();
        }
    }
    if perms.is_some_and(|p| !p.contains('x')) {
        return Some(Entry::NotExecutable);
    }
    Some(Entry::Mapping(mapping))
}

/// `offset dev inode [path]` of a `/proc/self/maps` line (after the permissions).
fn proc_fields<'a>(tokens: &[&'a str]) -> Option<(Option<u64>, Option<&'a str>)> {
    let is_dev = |t: &str| {
        t.split_once(':').is_some_and(|(a, b)| {
            parse_hex(a.as_bytes()).is_some() && parse_hex(b.as_bytes()).is_some()
        })
    };
    let is_inode = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let (offset, dev_at) = match tokens {
        [o, d, n, ..] if is_dev(d) && is_inode(n) => (Some(parse_hex(o.as_bytes())?), 1),
        [d, n, ..] if is_dev(d) && is_inode(n) => (None, 0),
        _ => return None,
    };
    Some((offset, tokens.get(dev_at + 2).copied()))
}

/// `start-end`, `start end` or `0xstart-0xend:` at the start of a line.
fn parse_range(line: &str) -> Option<(u64, u64, &str)> {
    let s = line.trim_start();
    let (start, rest) = hex_run(s)?;
    let rest = rest.strip_prefix('-').unwrap_or(rest).trim_start();
    let (limit, rest) = hex_run(rest)?;
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    Some((start, limit, rest))
}

/// A hex number (optional `0x`) at the start of `s`, and what follows it.
fn hex_run(s: &str) -> Option<(u64, &str)> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    let n = s.bytes().take_while(u8::is_ascii_hexdigit).count();
    let v = parse_hex(s.get(..n)?.as_bytes())?;
    Some((v, s.get(n..)?))
}

/// Removes a glog prefix (`I0102 03:04:05.678 file.cc:12] `) from a line.
fn strip_glog_prefix(line: &str) -> &str {
    if let Some(end) = line.find("] ") {
        let prefix = &line[..end];
        if !prefix.contains('[')
            && prefix
                .rsplit_once(':')
                .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        {
            return &line[end + 2..];
        }
    }
    line
}

/// Installs `mappings` on a profile's locations with pprof's heuristics (see
/// the module docs) and returns the final mapping table.
pub(crate) fn attach(mut mappings: Vec<Mapping>, locations: &mut [Location]) -> Vec<Mapping> {
    mappings = merge_adjacent(mappings);
    // The main executable first: the first named file that is not a shared
    // library and not a `[special]` region.
    if let Some(i) = mappings.iter().position(|m| {
        let file = m.file.replace("(deleted)", "");
        let file = file.trim();
        !file.is_empty() && !is_shared_library(file) && !file.starts_with('[')
    }) {
        mappings.swap(0, i);
    }
    if mappings.len() > 1
        && mappings[0].file.starts_with("/anon_hugepage")
        && mappings[0].limit == mappings[1].start
    {
        mappings.remove(0);
    }
    if let Some(m) = mappings.first_mut()
        && m.start.0.wrapping_sub(m.offset.0) == 0x400000
    {
        m.start = RuntimeAddr(0x400000);
        m.offset = FileOffset(0);
    }
    // pprof scans the mapping table for each location (first mapping that
    // contains the address, else first one whose unwritten first piece
    // does); two interval indexes give the same answers in O(log n), so a
    // trailer of many overlapping mappings cannot make this quadratic.
    let gap = |m: &Mapping| {
        let below = m.start.0.wrapping_sub(m.offset.0);
        (m.offset.0 != 0 && below < m.start.0).then_some((below, m.start.0))
    };
    let mut coords: Vec<u64> = Vec::with_capacity(mappings.len() * 3);
    for m in &mappings {
        coords.extend([m.start.0, m.limit.0]);
        coords.extend(gap(m).map(|(below, _)| below));
    }
    let mut covers = FirstCover::new(coords);
    let mut gaps = covers.empty_like();
    for (i, m) in mappings.iter().enumerate() {
        covers.cover(m.start.0, m.limit.0, i);
        if let Some((below, start)) = gap(m) {
            gaps.cover(below, start, i);
        }
    }
    for loc in locations.iter_mut() {
        let a = loc.address;
        if a.0 == 0 {
            continue;
        }
        if let Some(i) = covers.first(a.0) {
            loc.mapping = u32::try_from(i).ok().map(MappingId);
            continue;
        }
        // A mapping split in pieces whose first piece was not written. (A
        // mapping already extended down contains `a`, found above, so the
        // gaps of the original table stay valid.)
        if let Some(i) = gaps.first(a.0)
            && let Some((below, start)) = mappings.get(i).and_then(gap)
        {
            if let Some(m) = mappings.get_mut(i) {
                m.start = RuntimeAddr(below);
                m.offset = FileOffset(0);
            }
            covers.cover(below, start, i);
            loc.mapping = u32::try_from(i).ok().map(MappingId);
        }
    }
    mappings
}

/// For any address, the first mapping in table order among intervals
/// `[lo, hi)` given so far: a segment tree over the intervals' boundaries,
/// each node holding the smallest mapping index covering all of its range.
struct FirstCover {
    /// Sorted distinct boundaries; segment `k` is `[coords[k], coords[k + 1])`.
    coords: Vec<u64>,
    /// Leaves from `size`; `u32::MAX` where nothing covers.
    tree: Vec<u32>,
    size: usize,
}

impl FirstCover {
    fn new(mut coords: Vec<u64>) -> Self {
        coords.sort_unstable();
        coords.dedup();
        let size = coords.len().saturating_sub(1).next_power_of_two();
        FirstCover {
            coords,
            tree: vec![u32::MAX; 2 * size],
            size,
        }
    }

    /// The same boundaries with nothing covered.
    fn empty_like(&self) -> Self {
        FirstCover {
            coords: self.coords.clone(),
            tree: vec![u32::MAX; self.tree.len()],
            size: self.size,
        }
    }

    /// Records that mapping `index` covers `[lo, hi)` (both must be boundaries).
    fn cover(&mut self, lo: u64, hi: u64, index: usize) {
        let (Ok(l), Ok(r), Ok(index)) = (
            self.coords.binary_search(&lo),
            self.coords.binary_search(&hi),
            u32::try_from(index),
        ) else {
            return;
        };
        let (mut l, mut r) = (l + self.size, r + self.size);
        while l < r {
            if l & 1 == 1 {
                if let Some(v) = self.tree.get_mut(l) {
                    *v = (*v).min(index);
                }
                l += 1;
            }
            if r & 1 == 1 {
                r -= 1;
                if let Some(v) = self.tree.get_mut(r) {
                    *v = (*v).min(index);
                }
            }
            l /= 2;
            r /= 2;
        }
    }

    /// The smallest index of a mapping covering `a`.
    fn first(&self, a: u64) -> Option<usize> {
        let k = self.coords.partition_point(|c| *c <= a).checked_sub(1)?;
        if k + 1 >= self.coords.len() {
            return None;
        }
        let mut node = k + self.size;
        let mut best = u32::MAX;
        while node > 0 {
            best = best.min(self.tree.get(node).copied().unwrap_or(u32::MAX));
            node /= 2;
        }
        (best != u32::MAX).then_some(best as usize)
    }
}

fn is_shared_library(file: &str) -> bool {
    file.ends_with(".so")
        || file.match_indices(".so").any(|(i, _)| {
            file[i + 3..].starts_with(['.', '_'])
                && file[i + 4..].starts_with(|c: char| c.is_ascii_digit())
        })
}

/// Merges consecutive pieces of the same file (pprof's `adjacent`).
fn merge_adjacent(mappings: Vec<Mapping>) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::with_capacity(mappings.len());
    for m in mappings {
        if let Some(last) = out.last_mut()
            && adjacent(last, &m)
        {
            last.limit = m.limit;
            if !m.file.is_empty() {
                last.file = m.file;
            }
            if !m.build_id.is_empty() {
                last.build_id = m.build_id;
            }
            continue;
        }
        out.push(m);
    }
    out
}

fn adjacent(a: &Mapping, b: &Mapping) -> bool {
    if !a.file.is_empty() && !b.file.is_empty() && a.file != b.file {
        return false;
    }
    if !a.build_id.is_empty() && !b.build_id.is_empty() && a.build_id != b.build_id {
        return false;
    }
    if a.limit != b.start {
        return false;
    }
    if a.offset.0 != 0 && b.offset.0 != 0 {
        let next = a.offset.0.wrapping_add(a.limit.0.wrapping_sub(a.start.0));
        if next != b.offset.0 {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<Mapping> {
        parse_maps(text.lines().map(str::as_bytes))
    }

    #[test]
    fn proc_maps_keep_executable_lines() {
        let m = parse(
            "4000000000-400c2d6000 r-xp 00000000 00:00 280324      /usr/local/bin/envoy\n\
             400c2d7000-400c592000 r--p 0c2d6000 00:00 280324      /usr/local/bin/envoy\n\
             400e8d6000-400f0d6000 rw-p 00000000 00:00 0           [stack]\n\
             400f0d7000-400f0fa000 r-xp 00001000 00:00 277879      /usr/lib/x86_64-linux-gnu/ld-2.31.so\n\
             ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0           [vsyscall]\n",
        );
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].file, "/usr/local/bin/envoy");
        assert_eq!(m[0].start, RuntimeAddr(0x4000000000));
        assert_eq!(m[1].offset, FileOffset(0x1000));
        assert_eq!(m[2].file, "[vsyscall]");
    }

    #[test]
    fn brief_form_with_variables() {
        let m = parse(
            "\tsource=/home\n  00400000-00fcb000: $source/cppbench_server_main\n  \
             7f47a4351000-7f47a4352000: /lib/libnss_borg-2.15.so (@1000) 0123abcd\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].file, "/home/cppbench_server_main");
        assert_eq!(m[1].offset, FileOffset(0x1000));
        assert_eq!(m[1].build_id, "0123abcd");
    }

    #[test]
    fn junk_lines_are_ignored() {
        assert!(parse("hello world\n\n--\nxyz-abc\n").is_empty());
    }

    #[test]
    fn adjacent_pieces_merge_and_main_goes_first() {
        let mut maps = parse(
            "1000-2000 r-xp 00000000 08:01 1 /lib/libc.so.6\n\
             10000-20000 r-xp 00000000 08:01 2 /bin/app\n\
             20000-30000 r-xp 00010000 08:01 2 /bin/app\n",
        );
        maps = attach(maps, &mut []);
        assert_eq!(maps.len(), 2);
        assert_eq!(maps[0].file, "/bin/app");
        assert_eq!(maps[0].limit, RuntimeAddr(0x30000));
    }

    #[test]
    fn every_location_lies_in_its_mapping() {
        // Found by fuzzing (tests/data/fuzz-regressions/maps/): a backward
        // range with an offset was extended down to an address it still did
        // not contain.
        let maps = parse("7f2ff6a00000-7f2f r-xp 00001000 00:00 1 /lib/x.so\n");
        assert!(maps.is_empty());
        let mut locations = vec![Location {
            address: RuntimeAddr(0x7f2ff69ff800),
            kind: crate::profile::AddressKind::ReturnAddress,
            mapping: None,
            lines: vec![],
            is_folded: false,
        }];
        let maps = attach(
            parse("7f2ff6a00000-7f2ff6a10000 r-xp 00001000 00:00 1 /lib/x.so\n"),
            &mut locations,
        );
        // Extended down by its offset (pprof's rule for a split mapping).
        assert_eq!(locations[0].mapping, Some(MappingId(0)));
        assert!(maps[0].contains(locations[0].address));
    }

    #[test]
    fn glog_prefix() {
        assert_eq!(strip_glog_prefix("I0102 heap.cc:12] 1-2 a"), "1-2 a");
        assert_eq!(strip_glog_prefix("1-2 [stack]"), "1-2 [stack]");
    }
}
