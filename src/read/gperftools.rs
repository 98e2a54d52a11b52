//! gperftools heap dumps and Go's legacy text heap profile.
//!
//! ```text
//! heap profile:   3535: 104943209 [ 28455: 312892871] @ heapprofile
//!     95: 100003840 [    95: 100003840] @ 0x4006a7aa4e 0x4006a7588c ...
//! MAPPED_LIBRARIES:
//! 4000000000-400c2d6000 r-xp 00000000 00:00 280324      /usr/local/bin/envoy
//! ```
//!
//! Each stack line is `inuse_count: inuse_bytes [alloc_count: alloc_bytes] @
//! return addresses, leaf first`. The header's tag decides sampling:
//! `heapprofile`, `growthz`/`growth` and `fragmentationz` are unsampled;
//! `heap_v2/N` and `heapz_v2/N` are Poisson-sampled with mean period `N`; Go's
//! `heap/N` is sampled with period `N/2` (Go writes twice its rate there).
//! Sampled values are unsampled with [`unsample`](super::unsample), as pprof
//! does. A stack listed again adds its values to its first sample (growth
//! dumps list one stack per growth event), as pprof's `Compact` would.
//!
//! Sample types follow pprof: `alloc_objects, alloc_space, inuse_objects,
//! inuse_space` when the header's allocation totals differ from its in-use
//! totals (and are not zero), otherwise `objects, space`.

use std::io::Read;

use crate::error::ParseError;
use crate::profile::{
    Format, Frameless, HeaderTotals, Label, LabelValue, LocationId, Mapping, Profile, Sample,
    Source, ValueType,
};

use super::stream::LineReader;
use super::text::{
    AddressTable, ColumnSums, Cursor, Malformed, SampleTable, body_lines, first_line, lossy,
    parse_addresses, too_deep, unsample_checked,
};
use super::{limits, maps};

/// A parse failure at a line (`None` for whole-file problems), or a read failure.
pub(crate) type LineError = super::stream::ReadFailure;

/// How the values of one dump are laid out and unsampled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeapLayout {
    /// Four sample types (alloc and in-use) rather than two.
    pub(crate) has_alloc: bool,
    /// The Poisson sampling period, `None` when the dump is unsampled.
    pub(crate) rate: Option<i64>,
}

impl HeapLayout {
    /// pprof's rule: allocation totals that differ from the in-use ones, and
    /// are not zero, make a four-type profile.
    pub(crate) fn from_header(block: [i64; 4], rate: Option<i64>) -> Self {
        let [inuse_count, inuse_bytes, alloc_count, alloc_bytes] = block;
        HeapLayout {
            has_alloc: (alloc_count != inuse_count && alloc_count != 0)
                || (alloc_bytes != inuse_bytes && alloc_bytes != 0),
            rate,
        }
    }

    pub(crate) fn sample_types(&self) -> Vec<ValueType> {
        if self.has_alloc {
            vec![
                ValueType::new("alloc_objects", "count"),
                ValueType::new("alloc_space", "bytes"),
                ValueType::new("inuse_objects", "count"),
                ValueType::new("inuse_space", "bytes"),
            ]
        } else {
            vec![
                ValueType::new("objects", "count"),
                ValueType::new("space", "bytes"),
            ]
        }
    }

    /// A value block as written, in sample-type order.
    pub(crate) fn raw(&self, block: [i64; 4]) -> Vec<i64> {
        let [ic, ib, ac, ab] = block;
        if self.has_alloc {
            vec![ac, ab, ic, ib]
        } else {
            vec![ic, ib]
        }
    }

    /// A value block unsampled, in sample-type order, with the average
    /// allocation size (pprof's `bytes` label: in-use, else allocation).
    pub(crate) fn values(&self, block: [i64; 4]) -> Result<(Vec<i64>, i64), Malformed> {
        let [ic, ib, ac, ab] = block;
        let mut block_size = 0;
        let mut out = Vec::with_capacity(4);
        let mut add = |count: i64, size: i64, what: &str| {
            if count == 0 && size != 0 {
                return Err(Malformed::from(format!(
                    "{what} count is 0 but {what} bytes is {size}"
                )));
            }
            if count != 0 {
                // Go's division: i64::MIN / -1 wraps instead of panicking.
                block_size = size.wrapping_div(count);
            }
            let (c, s) = match self.rate {
                Some(rate) if count != 0 => {
                    unsample_checked(count, size, rate).ok_or_else(|| {
                        Malformed::from(format!(
                            "{what} values unsampled with period {rate} do not fit in 64 bits"
                        ))
                    })?
                }
                _ => (count, size),
            };
            out.push(c);
            out.push(s);
            Ok(())
        };
        if self.has_alloc {
            add(ac, ab, "allocation")?;
        }
        add(ic, ib, "in-use")?;
        Ok((out, block_size))
    }
}

/// The `@ tag` of a gperftools header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    HeapProfile,
    HeapV2(i64),
    GoHeap(i64),
    Growth,
    Fragmentation,
}

/// Parses a gperftools or Go legacy heap dump, line by line as it is read:
/// the header, then the stack lines up to the memory-map trailer, then the
/// trailer.
pub(crate) fn parse<R: Read>(lines: &mut LineReader<R>) -> Result<Profile, LineError> {
    let (header_no, block, tag) = read_header(lines)?;
    let (format, period, rate) = tag.format_and_period();
    let layout = match tag {
        Tag::Growth | Tag::Fragmentation => HeapLayout {
            has_alloc: false,
            rate: None,
        },
        _ => HeapLayout::from_header(block, rate),
    };
    let sample_types = layout.sample_types();
    let mut body = Stacks::new(layout);
    let saw_maps = body_lines(lines, |no, raw| body.line(no, raw))?;
    if body.stacks == 0 && body.frameless.count == 0 {
        return Err(LineError::Parse(Some(header_no), ParseError::NoStacks));
    }
    let mappings = if saw_maps {
        maps::parse_trailer(lines)?
    } else {
        Vec::new()
    };
    let source = Source {
        path: String::new(),
        format,
        header: Some(HeaderTotals {
            header: layout.raw(block),
            listed: body.listed,
        }),
        stacks: body.stacks,
        frameless: body.frameless,
    };
    Ok(assemble(
        sample_types,
        body.samples.samples,
        body.table,
        mappings,
        period,
        source,
    ))
}

/// The first non-blank line, read as the header: its number, totals and tag.
fn read_header<R: Read>(lines: &mut LineReader<R>) -> Result<(usize, [i64; 4], Tag), LineError> {
    first_line(
        lines,
        |l| l.trim_ascii().is_empty(),
        |no, l| {
            let (block, tag) =
                parse_header(l).map_err(|why| (Some(no), ParseError::line(why, &lossy(l))))?;
            Ok((no, block, tag))
        },
    )
}

impl Tag {
    /// The dump's format, its sampling period as pprof records it, and the
    /// Poisson rate to unsample with (`None`: unsampled).
    fn format_and_period(self) -> (Format, i64, Option<i64>) {
        match self {
            Tag::HeapProfile => (Format::GperftoolsHeap, 1, None),
            Tag::HeapV2(n) => (Format::GperftoolsSampledHeap, n, Some(n)),
            Tag::GoHeap(n) => (Format::GoLegacyHeap, n / 2, Some(n / 2)),
            Tag::Growth => (Format::GperftoolsGrowth, 1, None),
            Tag::Fragmentation => (Format::GperftoolsFragmentation, 1, None),
        }
    }
}

/// The stack lines read so far, as samples.
struct Stacks {
    layout: HeapLayout,
    /// The sum of each sample type as written (before unsampling).
    listed: Vec<i64>,
    sums: ColumnSums,
    table: AddressTable,
    samples: SampleTable,
    frameless: Frameless,
    stacks: usize,
    /// Buffers reused from line to line.
    addrs: Vec<u64>,
    locations: Vec<LocationId>,
}

impl Stacks {
    fn new(layout: HeapLayout) -> Self {
        let sample_types = layout.sample_types();
        Stacks {
            layout,
            listed: vec![0i64; sample_types.len()],
            sums: ColumnSums::new(&sample_types),
            table: AddressTable::default(),
            samples: SampleTable::default(),
            frameless: Frameless::default(),
            stacks: 0,
            addrs: Vec::new(),
            locations: Vec::new(),
        }
    }

    /// One `count: bytes [count: bytes] @ 0x...` line, number `no`.
    fn line(&mut self, no: usize, raw: &[u8]) -> Result<(), LineError> {
        let err = |why: Malformed| (Some(no), why.at(raw));
        let line = raw.trim_ascii();
        let mut c = Cursor::new(line);
        let block = c
            .value_block()
            .map_err(|w| err(w.context("malformed stack line")))?;
        if !c.accept(b"@") {
            return Err(err("malformed stack line: expected '@' before the stack".into()).into());
        }
        self.addrs.clear();
        parse_addresses(c.rest(), &mut self.addrs).map_err(err)?;
        if self.addrs.len() > limits::MAX_STACK_DEPTH {
            return Err(err(too_deep(self.addrs.len()).into()).into());
        }
        let (values, block_size) = self.layout.values(block).map_err(err)?;
        self.sums.add(&values).map_err(err)?;
        if self.addrs.is_empty() {
            self.frameless.add(&values);
            return Ok(());
        }
        for (sum, v) in self.listed.iter_mut().zip(self.layout.raw(block)) {
            *sum = sum.saturating_add(v);
        }
        self.locations.clear();
        for a in &self.addrs {
            let id = self.table.intern(*a).map_err(|e| (Some(no), e))?;
            self.locations.push(id);
        }
        let labels = [Label {
            key: std::borrow::Cow::Borrowed("bytes"),
            value: LabelValue::Num {
                value: block_size,
                unit: String::new(),
            },
        }];
        self.samples
            .add(&self.locations, &values, &labels)
            .map_err(|e| (Some(no), e))?;
        self.stacks += 1;
        Ok(())
    }
}

/// The profile of a text heap dump (gperftools, Go, jemalloc) from its
/// parts: the mappings of its memory-map trailer (when present) are
/// attached to the locations, and pprof's allocator frames become the
/// `drop_frames`.
pub(crate) fn assemble(
    sample_types: Vec<ValueType>,
    samples: Vec<Sample>,
    table: AddressTable,
    mappings: Vec<Mapping>,
    period: i64,
    source: Source,
) -> Profile {
    let mut locations = table.locations;
    let mappings = if mappings.is_empty() {
        mappings
    } else {
        maps::attach(mappings, &mut locations)
    };
    Profile {
        sample_types,
        samples,
        locations,
        mappings,
        period_type: Some(ValueType::new("space", "bytes")),
        period,
        drop_frames: crate::profile::prune::allocator_drop_frames(),
        keep_frames: crate::profile::prune::allocator_keep_frames(),
        sources: vec![source],
        ..Profile::default()
    }
}

/// `heap profile: A: B [C: D] @ tag`, anywhere in the line (as pprof matches it).
fn parse_header(line: &[u8]) -> Result<([i64; 4], Tag), String> {
    let at =
        memchr::memmem::find(line, b"heap profile:").ok_or("expected a 'heap profile:' header")?;
    let mut c = Cursor::new(line.get(at + b"heap profile:".len()..).unwrap_or_default());
    let block = c
        .value_block()
        .map_err(|w| format!("malformed header: {w}"))?;
    if block.iter().any(|v| *v < 0) {
        return Err("malformed header: negative total".into());
    }
    if !c.accept(b"@") {
        return Err("malformed header: expected '@' before the profile type".into());
    }
    c.skip_ws();
    let rest = c.rest();
    let word_len = rest
        .iter()
        .take_while(|b| !b.is_ascii_whitespace() && **b != b'/')
        .count();
    let (word, after) = rest.split_at(word_len);
    let period = match after.strip_prefix(b"/") {
        Some(n) => {
            let digits: Vec<u8> = n.iter().copied().take_while(u8::is_ascii_digit).collect();
            if digits.is_empty() {
                0
            } else {
                Cursor::new(&digits)
                    .count("sampling period")
                    .map_err(|w| format!("malformed header: {w}"))?
            }
        }
        None => 0,
    };
    let tag = match word {
        b"heapprofile" => Tag::HeapProfile,
        b"heap_v2" | b"heapz_v2" => Tag::HeapV2(period),
        b"heap" => Tag::GoHeap(period),
        b"growthz" | b"growth" => Tag::Growth,
        b"fragmentationz" | b"fragmentation" => Tag::Fragmentation,
        other => {
            return Err(format!(
                "unsupported heap profile type {:?} (expected heapprofile, heap_v2/N, heapz_v2/N, heap/N, growthz)",
                lossy(other)
            ));
        }
    };
    Ok((block, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Profile {
        parse(&mut LineReader::new(text.as_bytes())).unwrap()
    }

    fn err(text: &str) -> (Option<usize>, String) {
        match parse(&mut LineReader::new(text.as_bytes())) {
            Err(LineError::Parse(line, e)) => (line, e.to_string()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unsampled_heapprofile_with_maps() {
        let p = ok("heap profile:  2: 30 [ 5: 70] @ heapprofile\n\
             1: 10 [ 2: 20] @ 0x1001 0x2002\n   1: 20 [3: 50] @ 0x1001\n\
             MAPPED_LIBRARIES:\n1000-3000 r-xp 00000000 00:00 1 /bin/app\n");
        assert_eq!(p.sample_types.len(), 4);
        assert_eq!(p.samples[0].values, vec![2, 20, 1, 10]);
        assert_eq!(p.total(3), 30);
        assert_eq!(p.locations.len(), 2);
        assert_eq!(p.mappings.len(), 1);
        assert!(p.locations.iter().all(|l| l.mapping.is_some()));
        let h = p.sources[0].header.as_ref().unwrap();
        assert_eq!(h.remainder(), vec![0, 0, 0, 0]);
    }

    #[test]
    fn header_equal_totals_give_two_types() {
        let p = ok("heap profile: 1: 10 [1: 10] @ heapz_v2/524288\n1: 10 [1: 10] @ 0x1\n");
        assert_eq!(p.sample_types[1].kind, "space");
        assert_eq!(p.period, 524288);
        assert!(p.samples[0].values[1] > 10);
    }

    #[test]
    fn go_heap_period_is_halved() {
        let p =
            ok("heap profile: 1: 10 [2: 20] @ heap/1048576\n1: 10 [2: 20] @\n2: 1 [2: 1] @ 0x1\n");
        assert_eq!(p.period, 524288);
        assert_eq!(p.samples.len(), 1);
        assert_eq!(p.sources[0].frameless.count, 1);
        assert_eq!(p.sources[0].frameless.values.len(), 4);
    }

    #[test]
    fn errors_carry_line_numbers() {
        assert_eq!(err("heap profile: 1: 1 [1: 1] @ heapprofile\n").0, Some(1));
        let (line, msg) = err("heap profile: 1: 1 [1: 1] @ heapprofile\n# c\n1: 1 [1: 1] @ 0xzz\n");
        assert_eq!(line, Some(3));
        assert!(msg.contains("0xzz"), "{msg}");
        let (line, msg) =
            err("heap profile: 1: 1 [1: 1] @ heapprofile\n1: 99999999999999999999 [1: 1] @ 0x1\n");
        assert_eq!(line, Some(2));
        assert!(msg.contains("64-bit"), "{msg}");
        let (_, msg) = err("heap profile: 1: 1 [1: 1] @ heap_v9\n1: 1 [1: 1] @ 0x1\n");
        assert!(msg.contains("heap_v9"), "{msg}");
        let (_, msg) = err("heap profile: 1: 1 [1: 1] @ heapprofile\n0: 5 [1: 1] @ 0x1\n");
        assert!(msg.contains("count is 0"), "{msg}");
    }
}
