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

use crate::profile::{FileOffset, Location, Mapping, MappingId, RuntimeAddr};

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

/// Parses the trailer lines (after the sentinel) into executable mappings.
pub(crate) fn parse_maps<'a>(lines: impl Iterator<Item = &'a [u8]>) -> Vec<Mapping> {
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut out = Vec::new();
    'lines: for raw in lines {
        let mut line = strip_glog_prefix(&lossy(raw)).to_string();
        if line.contains('$') {
            for (name, value) in &vars {
                let n = line.matches(name.as_str()).count();
                if n == 0 {
                    continue;
                }
                if line.len() + n * value.len() > MAX_SUBSTITUTED_LINE {
                    continue 'lines;
                }
                line = line.replace(name.as_str(), value);
            }
        }
        match parse_entry(&line) {
            Some(Entry::Mapping(m)) => out.push(m),
            Some(Entry::NotExecutable) => {}
            None => {
                if let Some((name, value)) = line.split_once('=')
                    && vars.len() < MAX_VARS
                {
                    vars.push((format!("${}", name.trim()), value.trim().to_string()));
                }
            }
        }
    }
    out
}

enum Entry {
    Mapping(Mapping),
    NotExecutable,
}

/// One maps line in either form; `None` when it is not a mapping line.
fn parse_entry(line: &str) -> Option<Entry> {
    let (start, limit, rest) = parse_range(line)?;
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
    let mut index = MappingIndex::new(&mappings);
    for loc in locations.iter_mut() {
        let a = loc.address;
        if a.0 == 0 {
            continue;
        }
        if let Some(i) = index.find(&mappings, a) {
            loc.mapping = u32::try_from(i).ok().map(MappingId);
            continue;
        }
        // A mapping split in pieces whose first piece was not written.
        if let Some(i) = mappings.iter().position(|m| {
            m.offset.0 != 0 && m.start.0.wrapping_sub(m.offset.0) <= a.0 && a < m.start
        }) {
            let m = &mut mappings[i];
            m.start = RuntimeAddr(m.start.0 - m.offset.0);
            m.offset = FileOffset(0);
            loc.mapping = u32::try_from(i).ok().map(MappingId);
            index = MappingIndex::new(&mappings);
        }
    }
    mappings
}

/// Finds the first mapping (in table order) that contains an address: by
/// binary search over the starts when no two mappings overlap, else by a scan.
struct MappingIndex {
    /// Mapping indices sorted by start; `None` when mappings overlap.
    by_start: Option<Vec<usize>>,
}

impl MappingIndex {
    fn new(mappings: &[Mapping]) -> Self {
        let mut order: Vec<usize> = (0..mappings.len()).collect();
        order.sort_by_key(|&i| mappings[i].start);
        let disjoint = order
            .windows(2)
            .all(|w| mappings[w[0]].limit <= mappings[w[1]].start);
        MappingIndex {
            by_start: disjoint.then_some(order),
        }
    }

    fn find(&self, mappings: &[Mapping], a: RuntimeAddr) -> Option<usize> {
        match &self.by_start {
            Some(order) => {
                let after = order.partition_point(|&i| mappings[i].start <= a);
                let i = *order.get(after.checked_sub(1)?)?;
                mappings[i].contains(a).then_some(i)
            }
            None => mappings.iter().position(|m| m.contains(a)),
        }
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
    fn glog_prefix() {
        assert_eq!(strip_glog_prefix("I0102 heap.cc:12] 1-2 a"), "1-2 a");
        assert_eq!(strip_glog_prefix("1-2 [stack]"), "1-2 [stack]");
    }
}
