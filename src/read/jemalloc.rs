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
    AddressTable, ColumnSums, Cursor, SampleTable, is_blank_or_comment, lossy, parse_addresses,
    too_deep,
};
use super::{limits, maps};

/// One `t*:` or `tN:` line.
enum ThreadLine {
    All([i64; 4]),
    Thread(String, [i64; 4]),
}

fn parse_thread_line(line: &[u8]) -> Result<ThreadLine, String> {
    let line = line.trim_ascii_start();
    let colon = memchr::memchr(b':', line).ok_or("expected 't*:' or 'tN:'")?;
    let (name, rest) = line.split_at(colon);
    let mut c = Cursor::new(rest.get(1..).unwrap_or_default());
    let block = c
        .value_block()
        .map_err(|w| format!("malformed thread line: {w}"))?;
    c.skip_ws();
    if !c.rest().is_empty() {
        return Err("malformed thread line: unexpected text after ']'".into());
    }
    match name {
        b"t*" => Ok(ThreadLine::All(block)),
        [b't', id @ ..] if !id.is_empty() && id.iter().all(u8::is_ascii_digit) => {
            Ok(ThreadLine::Thread(lossy(id), block))
        }
        _ => Err(format!("expected 't*:' or 'tN:', found {:?}", lossy(name))),
    }
}

/// Parses a jemalloc `heap_v2/N` dump, line by line as it is read.
pub(crate) fn parse<R: Read>(lines: &mut LineReader<R>) -> Result<Profile, LineError> {
    let (first_no, period) = loop {
        match lines.next_line()? {
            None => return Err(LineError::Parse(None, ParseError::Empty)),
            Some((no, l)) if !is_blank_or_comment(l) => {
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
                break (no, period);
            }
            Some(_) => {}
        }
    };

    let mut header: Option<[i64; 4]> = None;
    let mut layout: Option<HeapLayout> = None;
    let mut listed: Vec<i64> = Vec::new();
    let mut sums: Option<ColumnSums> = None;
    let mut table = AddressTable::default();
    let mut samples = SampleTable::default();
    let mut stack: Option<Stack> = None;
    // The current stack's `@` line, for errors found after it.
    let mut stack_line: Vec<u8> = Vec::new();
    let mut frameless = Frameless::default();
    let mut stacks = 0usize;
    let mut empty_stacks = 0usize;
    let mut addrs = Vec::new();
    let mut saw_maps = false;

    while let Some((no, raw)) = lines.next_line()? {
        if is_blank_or_comment(raw) {
            continue;
        }
        let err = |why: String| (Some(no), ParseError::line(why, &lossy(raw)));
        if maps::is_sentinel(raw) {
            saw_maps = true;
            break;
        }
        let trimmed = raw.trim_ascii();
        if let Some(rest) = trimmed.strip_prefix(b"@") {
            if header.is_none() {
                return Err(err("stack before the 't*:' total".into()).into());
            }
            finish_stack(
                stack.take(),
                &stack_line,
                layout,
                (&mut samples, &mut frameless, sums.as_mut()),
            )?;
            addrs.clear();
            parse_addresses(rest, &mut addrs).map_err(err)?;
            if addrs.len() > limits::MAX_STACK_DEPTH {
                return Err(err(too_deep(addrs.len())).into());
            }
            let locs = addrs
                .iter()
                .map(|a| table.intern(*a))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| (Some(no), e))?;
            stack = Some(Stack {
                locations: locs,
                total: None,
                threads: 0,
                line: no,
            });
            stack_line.clear();
            stack_line.extend_from_slice(raw.get(..240).unwrap_or(raw));
            stacks += 1;
            if addrs.is_empty() {
                empty_stacks += 1;
            }
            continue;
        }
        let thread = parse_thread_line(trimmed).map_err(err)?;
        match (&mut stack, thread) {
            (None, ThreadLine::All(block)) if header.is_none() => {
                if block.iter().any(|v| *v < 0) {
                    return Err(err("negative process total".into()).into());
                }
                let l = HeapLayout::from_header(block, Some(period));
                listed = vec![0; l.sample_types().len()];
                sums = Some(ColumnSums::new(&l.sample_types()));
                header = Some(block);
                layout = Some(l);
            }
            (None, ThreadLine::All(_)) => {
                return Err(err("a second process total 't*:' line".into()).into());
            }
            (None, ThreadLine::Thread(..)) if header.is_some() => {}
            (None, ThreadLine::Thread(..)) => {
                return Err(err("thread line before the 't*:' total".into()).into());
            }
            (Some(st), ThreadLine::All(block)) => {
                if st.total.is_some() {
                    return Err(err("a second 't*:' line for one stack".into()).into());
                }
                let l = layout.ok_or_else(|| err("stack before the 't*:' total".into()))?;
                l.values(block).map_err(err)?;
                if !st.locations.is_empty() {
                    for (sum, v) in listed.iter_mut().zip(l.raw(block)) {
                        *sum = sum.saturating_add(v);
                    }
                }
                st.total = Some(block);
            }
            (Some(st), ThreadLine::Thread(id, block)) => {
                let l = layout.ok_or_else(|| err("stack before the 't*:' total".into()))?;
                let (values, size) = l.values(block).map_err(err)?;
                if let Some(sums) = &mut sums {
                    sums.add(&values).map_err(err)?;
                }
                st.threads += 1;
                if st.locations.is_empty() {
                    frameless.add(&values);
                } else {
                    samples
                        .add(&st.locations, &values, &labels(size, Some(id)))
                        .map_err(|e| (Some(no), e))?;
                }
            }
        }
    }
    finish_stack(
        stack.take(),
        &stack_line,
        layout,
        (&mut samples, &mut frameless, sums.as_mut()),
    )?;
    let (Some(header), Some(layout)) = (header, layout) else {
        return Err(LineError::Parse(
            Some(first_no),
            ParseError::line(
                "no 't*:' process total after the header",
                &format!("heap_v2/{period}"),
            ),
        ));
    };
    if stacks == 0 {
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
            listed,
        }),
        stacks: stacks - empty_stacks,
        frameless,
    };
    Ok(super::gperftools::assemble(
        layout.sample_types(),
        samples.samples,
        table,
        mappings,
        period,
        source,
    ))
}

/// A stack being read: its locations, its `t*:` line, its `tN:` lines seen,
/// and the number of its `@` line.
struct Stack {
    locations: Vec<LocationId>,
    total: Option<[i64; 4]>,
    threads: usize,
    line: usize,
}

/// Gives a stack that had no per-thread line one sample from its `t*:`
/// line; `text` is its `@` line (the start of it), for errors.
fn finish_stack(
    stack: Option<Stack>,
    text: &[u8],
    layout: Option<HeapLayout>,
    (samples, frameless, sums): (&mut SampleTable, &mut Frameless, Option<&mut ColumnSums>),
) -> Result<(), LineError> {
    let Some(st) = stack else {
        return Ok(());
    };
    if st.threads > 0 {
        return Ok(());
    }
    let err = |why: String| (Some(st.line), ParseError::line(why, &lossy(text)));
    let (Some(block), Some(layout)) = (st.total, layout) else {
        return Err(err("stack without a 't*:' line".into()).into());
    };
    let (values, size) = layout.values(block).map_err(err)?;
    if let Some(sums) = sums {
        sums.add(&values).map_err(err)?;
    }
    if st.locations.is_empty() {
        frameless.add(&values);
    } else {
        samples
            .add(&st.locations, &values, &labels(size, None))
            .map_err(|e| (Some(st.line), e))?;
    }
    Ok(())
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
