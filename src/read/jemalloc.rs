//! jemalloc heap dumps (`prof.dump`, `jeprof.*.heap`).
//!
//! ```text
//! heap_v2/1048576
//!   t*: 172890: 2518883822 [0: 0]          <- process totals
//!   t0: 106: 14360 [0: 0]                  <- per-thread totals
//! @ 0x55c282d19bbc 0x55c282d0b3c5 ...      <- a stack, leaf first
//!   t*: 1328: 87058379 [0: 0]              <- the stack's totals
//!   t1: 20: 1311120 [0: 0]                 <- the stack's share on thread 1
//! MAPPED_LIBRARIES:
//! ```
//!
//! Each `tN:` line under a stack becomes one sample labelled `thread=N`, as
//! the jemalloc reader proposed for pprof (google/pprof#690) does; values are
//! unsampled with the header's period exactly as gperftools `heap_v2` ones.
//! A stack with no `tN:` line is taken from its `t*:` line. The header's `t*:`
//! line is the header total; each stack's `t*:` line adds to the listed total.

use std::io::Read;

use crate::error::ParseError;
use crate::profile::{
    Format, Frameless, HeaderTotals, Label, LabelValue, LocationId, Profile, Source,
};

use super::gperftools::{HeapLayout, LineError};
use super::stream::LineReader;
use super::text::{
    AddressTable, ColumnSums, Cursor, Malformed, SampleTable, body_lines, first_line,
    is_blank_or_comment, lossy, parse_addresses, too_deep,
};
use super::{limits, maps};

/// One `t*:` or `tN:` line.
enum ThreadLine {
    All([i64; 4]),
    Thread(String, [i64; 4]),
}

fn parse_thread_line(line: &[u8]) -> Result<ThreadLine, Malformed> {
    let line = line.trim_ascii_start();
    let colon = memchr::memchr(b':', line).ok_or("expected 't*:' or 'tN:'")?;
    let (name, rest) = line.split_at(colon);
    let mut c = Cursor::new(rest.get(1..).unwrap_or_default());
    let block = c
        .value_block()
        .map_err(|w| w.context("malformed thread line"))?;
    c.skip_ws();
    if !c.rest().is_empty() {
        return Err("malformed thread line: unexpected text after ']'".into());
    }
    match name {
        b"t*" => Ok(ThreadLine::All(block)),
        [b't', id @ ..] if !id.is_empty() && id.iter().all(u8::is_ascii_digit) => {
            Ok(ThreadLine::Thread(lossy(id), block))
        }
        _ => Err(format!("expected 't*:' or 'tN:', found {:?}", lossy(name)).into()),
    }
}

/// Parses a jemalloc `heap_v2/N` dump, line by line as it is read: the
/// `heap_v2/N` line, the process total, the stacks with their thread lines,
/// then the memory-map trailer.
pub(crate) fn parse<R: Read>(lines: &mut LineReader<R>) -> Result<Profile, LineError> {
    let (first_no, period) = read_period(lines)?;
    let mut dump = Dump::new(period);
    let saw_maps = body_lines(lines, |no, raw| dump.line(no, raw))?;
    dump.finish_stack()?;
    let (Some(header), Some(layout)) = (dump.header, dump.layout) else {
        return Err(LineError::Parse(
            Some(first_no),
            ParseError::line(
                "no 't*:' process total after the header",
                &format!("heap_v2/{period}"),
            ),
        ));
    };
    if dump.stacks == 0 {
        return Err(LineError::Parse(Some(first_no), ParseError::NoStacks));
    }
    let mappings = if saw_maps {
        maps::parse_trailer(lines)?
    } else {
        Vec::new()
    };
    let source = Source {
        path: String::new(),
        format: Format::Jemalloc,
        header: Some(HeaderTotals {
            header: layout.raw(header),
            listed: dump.listed,
        }),
        stacks: dump.stacks - dump.empty_stacks,
        frameless: dump.frameless,
    };
    Ok(super::gperftools::assemble(
        layout.sample_types(),
        dump.samples.samples,
        dump.table,
        mappings,
        period,
        source,
    ))
}

/// The first non-blank line, `heap_v2/PERIOD`: its number and the period.
fn read_period<R: Read>(lines: &mut LineReader<R>) -> Result<(usize, i64), LineError> {
    first_line(lines, is_blank_or_comment, |no, l| {
        let period = l
            .trim_ascii()
            .strip_prefix(b"heap_v2/")
            .and_then(|n| Cursor::new(n).count("sampling period").ok())
            .ok_or_else(|| {
                (
                    Some(no),
                    ParseError::line("expected 'heap_v2/PERIOD'", &lossy(l)),
                )
            })?;
        Ok((no, period))
    })
}

/// A dump being read, after its `heap_v2/N` line.
struct Dump {
    period: i64,
    /// The process total (`t*:` before the first stack).
    header: Option<[i64; 4]>,
    layout: Option<HeapLayout>,
    listed: Vec<i64>,
    sums: Option<ColumnSums>,
    table: AddressTable,
    samples: SampleTable,
    stack: Option<Stack>,
    /// The current stack's `@` line, for errors found after it.
    stack_line: Vec<u8>,
    frameless: Frameless,
    stacks: usize,
    empty_stacks: usize,
    addrs: Vec<u64>,
}

impl Dump {
    fn new(period: i64) -> Self {
        Dump {
            period,
            header: None,
            layout: None,
            listed: Vec::new(),
            sums: None,
            table: AddressTable::default(),
            samples: SampleTable::default(),
            stack: None,
            stack_line: Vec::new(),
            frameless: Frameless::default(),
            stacks: 0,
            empty_stacks: 0,
            addrs: Vec::new(),
        }
    }

    /// One line of the body (a stack's `@` line or a thread line), number `no`.
    fn line(&mut self, no: usize, raw: &[u8]) -> Result<(), LineError> {
        let trimmed = raw.trim_ascii();
        if let Some(rest) = trimmed.strip_prefix(b"@") {
            return self.stack_line(no, raw, rest);
        }
        let thread = parse_thread_line(trimmed).map_err(|why| (Some(no), why.at(raw)))?;
        self.thread_line(no, raw, thread)
    }

    /// An `@ 0x...` line: the previous stack is finished, this one starts.
    fn stack_line(&mut self, no: usize, raw: &[u8], rest: &[u8]) -> Result<(), LineError> {
        let err = |why: Malformed| (Some(no), why.at(raw));
        if self.header.is_none() {
            return Err(err("stack before the 't*:' total".into()).into());
        }
        self.finish_stack()?;
        self.addrs.clear();
        parse_addresses(rest, &mut self.addrs).map_err(err)?;
        if self.addrs.len() > limits::MAX_STACK_DEPTH {
            return Err(err(too_deep(self.addrs.len()).into()).into());
        }
        let locs = self
            .addrs
            .iter()
            .map(|a| self.table.intern(*a))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| (Some(no), e))?;
        self.stack = Some(Stack {
            locations: locs,
            total: None,
            threads: 0,
            line: no,
        });
        self.stack_line.clear();
        self.stack_line
            .extend_from_slice(raw.get(..240).unwrap_or(raw));
        self.stacks += 1;
        if self.addrs.is_empty() {
            self.empty_stacks += 1;
        }
        Ok(())
    }

    /// A `t*:` or `tN:` line: the process total, a stack's total, or a
    /// stack's share on one thread (a sample).
    fn thread_line(&mut self, no: usize, raw: &[u8], thread: ThreadLine) -> Result<(), LineError> {
        let err = |why: Malformed| (Some(no), why.at(raw));
        match (&mut self.stack, thread) {
            (None, ThreadLine::All(block)) if self.header.is_none() => {
                if block.iter().any(|v| *v < 0) {
                    return Err(err("negative process total".into()).into());
                }
                let l = HeapLayout::from_header(block, Some(self.period));
                self.listed = vec![0; l.sample_types().len()];
                self.sums = Some(ColumnSums::new(&l.sample_types()));
                self.header = Some(block);
                self.layout = Some(l);
            }
            (None, ThreadLine::All(_)) => {
                return Err(err("a second process total 't*:' line".into()).into());
            }
            (None, ThreadLine::Thread(..)) if self.header.is_some() => {}
            (None, ThreadLine::Thread(..)) => {
                return Err(err("thread line before the 't*:' total".into()).into());
            }
            (Some(st), ThreadLine::All(block)) => {
                if st.total.is_some() {
                    return Err(err("a second 't*:' line for one stack".into()).into());
                }
                let l = self
                    .layout
                    .ok_or_else(|| err("stack before the 't*:' total".into()))?;
                l.values(block).map_err(err)?;
                if !st.locations.is_empty() {
                    for (sum, v) in self.listed.iter_mut().zip(l.raw(block)) {
                        *sum = sum.saturating_add(v);
                    }
                }
                st.total = Some(block);
            }
            (Some(st), ThreadLine::Thread(id, block)) => {
                let l = self
                    .layout
                    .ok_or_else(|| err("stack before the 't*:' total".into()))?;
                let (values, size) = l.values(block).map_err(err)?;
                if let Some(sums) = &mut self.sums {
                    sums.add(&values).map_err(err)?;
                }
                st.threads += 1;
                if st.locations.is_empty() {
                    self.frameless.add(&values);
                } else {
                    self.samples
                        .add(&st.locations, &values, &labels(size, Some(id)))
                        .map_err(|e| (Some(no), e))?;
                }
            }
        }
        Ok(())
    }

    /// Gives the current stack, when it had no per-thread line, one sample
    /// from its `t*:` line.
    fn finish_stack(&mut self) -> Result<(), LineError> {
        let Some(st) = self.stack.take() else {
            return Ok(());
        };
        if st.threads > 0 {
            return Ok(());
        }
        let err = |why: Malformed| (Some(st.line), why.at(&self.stack_line));
        let (Some(block), Some(layout)) = (st.total, self.layout) else {
            return Err(err("stack without a 't*:' line".into()).into());
        };
        let (values, size) = layout.values(block).map_err(err)?;
        if let Some(sums) = &mut self.sums {
            sums.add(&values).map_err(err)?;
        }
        if st.locations.is_empty() {
            self.frameless.add(&values);
        } else {
            self.samples
                .add(&st.locations, &values, &labels(size, None))
                .map_err(|e| (Some(st.line), e))?;
        }
        Ok(())
    }
}

/// A stack being read: its locations, its `t*:` line, its `tN:` lines seen,
/// and the number of its `@` line.
struct Stack {
    locations: Vec<LocationId>,
    total: Option<[i64; 4]>,
    threads: usize,
    line: usize,
}

/// A sample's labels: its thread (when it has one) and the average allocation size.
fn labels(size: i64, thread: Option<String>) -> Vec<Label> {
    let mut labels = Vec::with_capacity(2);
    if let Some(t) = thread {
        labels.push(Label {
            key: std::borrow::Cow::Borrowed("thread"),
            value: LabelValue::Str(t),
        });
    }
    labels.push(Label {
        key: std::borrow::Cow::Borrowed("bytes"),
        value: LabelValue::Num {
            value: size,
            unit: String::new(),
        },
    });
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_become_samples() {
        let p = parse(&mut LineReader::new(
            &b"heap_v2/1\n  t*: 3: 30 [0: 0]\n  t0: 3: 30 [0: 0]\n@ 0x10 0x20\n  t*: 3: 30 [0: 0]\n  \
              t0: 1: 10 [0: 0]\n  t5: 2: 20 [0: 0]\n@ 0x30\n  t*: 1: 5 [0: 0]\nMAPPED_LIBRARIES:\n"[..],
        ))
        .unwrap();
        assert_eq!(p.samples.len(), 3);
        assert_eq!(p.total(1), 35);
        assert_eq!(p.sample_types[0].kind, "objects");
        let h = p.sources[0].header.as_ref().unwrap();
        assert_eq!(h.remainder(), vec![-1, -5]);
    }

    #[test]
    fn bad_thread_line_names_line() {
        let Err(LineError::Parse(line, e)) = parse(&mut LineReader::new(
            &b"heap_v2/1\n  t*: 3: 30 [0: 0]\n@ 0x10\n  tx: 1: 1 [0: 0]\n"[..],
        )) else {
            panic!("no parse error")
        };
        assert_eq!(line, Some(4));
        assert!(e.to_string().contains("tN"), "{e}");
    }
}
