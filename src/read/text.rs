//! Shared pieces of the text-format readers: a byte cursor for the
//! `count: bytes [count: bytes] @ 0x...` grammar, interning of stack
//! addresses into locations, and of stacks into samples.

use std::hash::BuildHasher;

use rustc_hash::FxHashMap;

use crate::error::ParseError;
use crate::profile::{
    AddressKind, Label, Location, LocationId, RuntimeAddr, Sample, overflow_message,
};

use std::io::Read;

use super::limits;
use super::stream::{LineReader, ReadFailure};

/// True for lines that carry nothing: blank, or a `#` comment.
pub(crate) fn is_blank_or_comment(line: &[u8]) -> bool {
    match line.trim_ascii_start().first() {
        None => true,
        Some(b) => *b == b'#',
    }
}

/// Reads the first line that `skip` does not pass over and hands it to
/// `header` with its number; an input with no such line is empty.
pub(crate) fn first_line<R: Read, T>(
    lines: &mut LineReader<R>,
    skip: impl Fn(&[u8]) -> bool,
    header: impl FnOnce(usize, &[u8]) -> Result<T, ReadFailure>,
) -> Result<T, ReadFailure> {
    loop {
        match lines.next_line()? {
            None => return Err(ReadFailure::Parse(None, ParseError::Empty)),
            Some((no, l)) if !skip(l) => return header(no, l),
            Some(_) => {}
        }
    }
}

/// Hands each line of a dump's body to `line` (blank lines and `#`
/// comments passed over) until the memory-map trailer; true when the
/// trailer's first line was read.
pub(crate) fn body_lines<R: Read>(
    lines: &mut LineReader<R>,
    mut line: impl FnMut(usize, &[u8]) -> Result<(), ReadFailure>,
) -> Result<bool, ReadFailure> {
    while let Some((no, raw)) = lines.next_line()? {
        if is_blank_or_comment(raw) {
            continue;
        }
        if super::maps::is_sentinel(raw) {
            return Ok(true);
        }
        line(no, raw)?;
    }
    Ok(false)
}

/// Lossy text of a line, for error messages and paths.
pub(crate) fn lossy(line: &[u8]) -> String {
    String::from_utf8_lossy(line).into_owned()
}

/// Why one line of a text dump cannot be read, without the line itself:
/// the reader quotes the line when it turns this into a
/// [`ParseError::Line`] ([`Malformed::at`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(String);

impl Malformed {
    /// The same reason, after `what: ` (`malformed stack line: expected ':'`).
    pub(crate) fn context(self, what: &str) -> Self {
        Malformed(format!("{what}: {}", self.0))
    }

    /// The parse error for the line `raw`, quoting it.
    pub(crate) fn at(self, raw: &[u8]) -> ParseError {
        ParseError::line(self.0, &lossy(raw))
    }
}

impl From<String> for Malformed {
    fn from(why: String) -> Self {
        Malformed(why)
    }
}

impl From<&str> for Malformed {
    fn from(why: &str) -> Self {
        Malformed(why.to_string())
    }
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A forward-only reader over one line's bytes.
pub(crate) struct Cursor<'a> {
    line: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(line: &'a [u8]) -> Self {
        Cursor { line, pos: 0 }
    }

    /// What is left of the line.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.line.get(self.pos..).unwrap_or_default()
    }

    pub(crate) fn skip_ws(&mut self) {
        while self.line.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    /// Consumes `byte` after optional white space, or fails with `what`.
    pub(crate) fn expect(&mut self, byte: u8, what: &str) -> Result<(), Malformed> {
        self.skip_ws();
        if self.line.get(self.pos) == Some(&byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {what}").into())
        }
    }

    /// Consumes `prefix` after optional white space when it is there.
    pub(crate) fn accept(&mut self, prefix: &[u8]) -> bool {
        self.skip_ws();
        if self.rest().starts_with(prefix) {
            self.pos += prefix.len();
            true
        } else {
            false
        }
    }

    /// A decimal integer (optional `-`) after optional white space.
    pub(crate) fn int(&mut self, what: &str) -> Result<i64, Malformed> {
        self.skip_ws();
        let negative = self.line.get(self.pos) == Some(&b'-');
        if negative {
            self.pos += 1;
        }
        let start = self.pos;
        let mut value: i64 = 0;
        while let Some(d) = self.line.get(self.pos).filter(|b| b.is_ascii_digit()) {
            let digit = i64::from(d - b'0');
            value = value
                .checked_mul(10)
                .and_then(|v| {
                    if negative {
                        v.checked_sub(digit)
                    } else {
                        v.checked_add(digit)
                    }
                })
                .ok_or_else(|| {
                    Malformed(format!("{what} does not fit in a signed 64-bit integer"))
                })?;
            self.pos += 1;
        }
        if self.pos == start {
            return Err(format!("expected {what} (a decimal number)").into());
        }
        Ok(value)
    }

    /// A non-negative decimal integer.
    pub(crate) fn count(&mut self, what: &str) -> Result<i64, Malformed> {
        self.skip_ws();
        if self.line.get(self.pos) == Some(&b'-') {
            return Err(format!("{what} is negative").into());
        }
        self.int(what)
    }

    /// `count: bytes [count: bytes]`, the value block of gperftools and jemalloc lines.
    pub(crate) fn value_block(&mut self) -> Result<[i64; 4], Malformed> {
        let inuse_count = self.int("in-use count")?;
        self.expect(b':', "':' after the in-use count")?;
        let inuse_bytes = self.int("in-use bytes")?;
        self.expect(b'[', "'[' before the allocation counts")?;
        let alloc_count = self.count("allocation count")?;
        self.expect(b':', "':' after the allocation count")?;
        let alloc_bytes = self.count("allocation bytes")?;
        self.expect(b']', "']' after the allocation bytes")?;
        Ok([inuse_count, inuse_bytes, alloc_count, alloc_bytes])
    }
}

/// Parses the `0x...` addresses of a stack, separated by white space.
///
/// This is the hot loop of reading text dumps (32 addresses a line), so it
/// scans the bytes once, parsing each digit as it passes; on any problem it
/// hands the token to [`parse_hex_address`] for the error message.
pub(crate) fn parse_addresses(s: &[u8], out: &mut Vec<u64>) -> Result<(), Malformed> {
    let mut i = 0;
    while i < s.len() {
        if s[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let prefixed = s.get(i) == Some(&b'0') && matches!(s.get(i + 1), Some(b'x' | b'X'));
        let digits_start = (i + 2).min(s.len());
        let mut v: u64 = 0;
        let mut n = 0;
        let digits = &s[digits_start..];
        // Eight digits in one step when they are there (most addresses have
        // 10 to 12), then one at a time.
        if let Some(eight) = digits.first_chunk::<8>()
            && let Some(value) = hex8(u64::from_le_bytes(*eight))
        {
            v = value;
            n = 8;
        }
        for &d in &digits[n..] {
            let nibble = HEX_VALUE[usize::from(d)];
            if nibble > 15 {
                break;
            }
            v = (v << 4) | u64::from(nibble);
            n += 1;
        }
        i = digits_start + n;
        // More than 16 digits: valid only with leading zeros (slow path below).
        let overflow = n > 16;
        let clean_end = s.get(i).is_none_or(u8::is_ascii_whitespace);
        if !prefixed || overflow || i == digits_start || !clean_end {
            let end = s[start..]
                .iter()
                .position(u8::is_ascii_whitespace)
                .map_or(s.len(), |p| start + p);
            let token = &s[start..end];
            if !overflow || !clean_end {
                return Err(parse_hex_address(token).err().unwrap_or_else(|| {
                    format!("malformed stack address {:?}", lossy(token)).into()
                }));
            }
            // Long but possibly valid (leading zeros): the careful parser decides.
            out.push(parse_hex_address(token)?);
            i = end;
            continue;
        }
        out.push(v);
    }
    Ok(())
}

/// The value of each byte as a hex digit, 0xff for non-digits.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;

/// High bit set in each byte of `x` that lies strictly between `m` and `n`
/// (bytes of `x` below 0x80; "hasbetween" from Bit Twiddling Hacks, exact
/// per byte because no byte's arithmetic carries into the next).
const fn bytes_between(x: u64, m: u64, n: u64) -> u64 {
    let x7 = x & (ONES * 127);
    (ONES * (127 + n)).wrapping_sub(x7) & !x & (x7 + ONES * (127 - m)) & (ONES * 128)
}

/// Eight ASCII hex digits (the first digit in the lowest byte) to their
/// value, `None` unless all eight are hex digits. The hot path of
/// [`parse_addresses`]: a handful of word operations instead of a loop.
const fn hex8(x: u64) -> Option<u64> {
    if x & (ONES * 0x80) != 0 {
        return None;
    }
    let digits = bytes_between(x, 0x2f, 0x3a);
    let letters = bytes_between(x | (ONES * 0x20), 0x60, 0x67);
    if digits | letters != ONES * 0x80 {
        return None;
    }
    // Nibble per byte: low four bits, plus 9 for letters (bit 6 set).
    let v = (x & (ONES * 0x0f)) + ((x >> 6) & ONES) * 9;
    // Pack: first digit most significant.
    let v = ((v << 4) & 0x00f0_00f0_00f0_00f0) | ((v >> 8) & 0x000f_000f_000f_000f);
    let v = ((v << 8) & 0x0000_ff00_0000_ff00) | ((v >> 16) & 0x0000_00ff_0000_00ff);
    Some(((v & 0xffff) << 16) | ((v >> 32) & 0xffff))
}

/// One `0x`-prefixed hexadecimal address.
pub(crate) fn parse_hex_address(token: &[u8]) -> Result<u64, Malformed> {
    let digits = token
        .strip_prefix(b"0x")
        .or_else(|| token.strip_prefix(b"0X"))
        .ok_or_else(|| format!("stack address {:?} is not 0x-prefixed hex", lossy(token)))?;
    parse_hex(digits).ok_or_else(|| {
        Malformed(format!(
            "stack address {:?} is not a 64-bit hexadecimal number",
            lossy(token)
        ))
    })
}

/// Hex digits (no prefix) to a `u64`; `None` when empty, not hex, or too long.
pub(crate) fn parse_hex(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    if digits.len() > 16 {
        // Leading zeros are allowed; anything else past 16 digits overflows.
        let extra = digits.len() - 16;
        if digits[..extra].iter().any(|d| *d != b'0') {
            return None;
        }
        return parse_hex(&digits[extra..]);
    }
    let mut v: u64 = 0;
    for d in digits {
        let n = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | u64::from(n);
    }
    Some(v)
}

/// Interns the return addresses of text stacks into locations, one per
/// distinct address, in order of first appearance (as pprof numbers them).
#[derive(Default)]
pub(crate) struct AddressTable {
    pub(crate) locations: Vec<Location>,
    ids: FxHashMap<u64, LocationId>,
}

impl AddressTable {
    /// The location for a return address written in a text dump; an error
    /// past [`limits::MAX_LOCATIONS`] distinct addresses.
    pub(crate) fn intern(&mut self, addr: u64) -> Result<LocationId, ParseError> {
        if let Some(id) = self.ids.get(&addr) {
            return Ok(*id);
        }
        let id = u32::try_from(self.locations.len())
            .ok()
            .filter(|n| (*n as usize) < limits::MAX_LOCATIONS)
            .map(LocationId)
            .ok_or_else(|| ParseError::Limit(too_many_locations()))?;
        self.locations.push(Location {
            address: RuntimeAddr(addr),
            kind: AddressKind::ReturnAddress,
            mapping: None,
            lines: Vec::new(),
            is_folded: false,
        });
        self.ids.insert(addr, id);
        Ok(id)
    }
}

/// The message for a profile with more than [`limits::MAX_LOCATIONS`] addresses.
pub(crate) fn too_many_locations() -> String {
    format!(
        "more than {} distinct stack addresses (heapcost's limit; real heap profiles hold thousands)",
        limits::MAX_LOCATIONS
    )
}

/// The message for a stack deeper than [`limits::MAX_STACK_DEPTH`].
pub(crate) fn too_deep(depth: usize) -> String {
    format!(
        "stack of {depth} frames is deeper than {} (heapcost's limit; profilers record at most 128)",
        limits::MAX_STACK_DEPTH
    )
}

/// The samples of a text dump, one per distinct stack and labels, in order
/// of first appearance: a stack listed again adds its values to the first
/// (as pprof's `Compact` merges identical samples), so memory follows the
/// distinct stacks, not the lines read.
#[derive(Default)]
pub(crate) struct SampleTable {
    pub(crate) samples: Vec<Sample>,
    /// Indices into `samples` with their hash (by stack and labels), so that
    /// growing the table never hashes a stack again.
    index: hashbrown::HashTable<(u64, u32)>,
}

impl SampleTable {
    /// Adds one stack (leaf first) with its values and labels.
    pub(crate) fn add(
        &mut self,
        locations: &[LocationId],
        values: &[i64],
        labels: &[Label],
    ) -> Result<(), ParseError> {
        let hash = rustc_hash::FxBuildHasher.hash_one((locations, labels));
        let samples = &mut self.samples;
        let same = |(h, i): &(u64, u32)| {
            *h == hash
                && samples
                    .get(*i as usize)
                    .is_some_and(|s| s.locations == locations && s.labels == labels)
        };
        if let Some(s) = self
            .index
            .find(hash, same)
            .and_then(|(_, i)| samples.get_mut(*i as usize))
        {
            for (sum, v) in s.values.iter_mut().zip(values) {
                *sum = sum.saturating_add(*v);
            }
            return Ok(());
        }
        let i = u32::try_from(samples.len())
            .map_err(|_| ParseError::Limit("more than 2^32 distinct stacks".into()))?;
        samples.push(Sample {
            values: values.to_vec(),
            locations: locations.to_vec(),
            labels: labels.to_vec(),
        });
        self.index.insert_unique(hash, (hash, i), |(h, _)| *h);
        Ok(())
    }
}

/// The sum of the absolute values of each sample type over a whole input,
/// kept at most `i64::MAX`: every total, flat or cumulative value, owner or
/// kind later computed from the input is then exact (no sum of a subset can
/// overflow), instead of quietly capped.
pub(crate) struct ColumnSums {
    names: Vec<String>,
    sums: Vec<u64>,
}

impl ColumnSums {
    pub(crate) fn new(sample_types: &[crate::profile::ValueType]) -> Self {
        ColumnSums {
            names: sample_types.iter().map(|t| t.kind.clone()).collect(),
            sums: vec![0; sample_types.len()],
        }
    }

    /// Adds one sample's values; an error when a column passes `i64::MAX`.
    pub(crate) fn add(&mut self, values: &[i64]) -> Result<(), Malformed> {
        for (i, (sum, v)) in self.sums.iter_mut().zip(values).enumerate() {
            *sum = sum
                .checked_add(v.unsigned_abs())
                .filter(|s| i64::try_from(*s).is_ok())
                .ok_or_else(|| {
                    Malformed(overflow_message(
                        self.names.get(i).map_or("?", String::as_str),
                    ))
                })?;
        }
        Ok(())
    }
}

/// pprof's unsampling of a heap bucket from a Poisson-sampled dump.
///
/// A sampled profile records an allocation of size `S` with probability
/// `1 - exp(-S/R)`, where `R` is the mean sampling period in bytes. Dividing
/// by that probability estimates the true values:
///
/// `scale = 1 / (1 - exp(-(size/count) / rate))`, returning
/// `(trunc(count * scale), trunc(size * scale))`.
///
/// Zero counts or sizes give `(0, 0)`; a `rate` of 1 or less means "not
/// sampled" and returns the values unchanged. The float arithmetic and the
/// truncation toward zero are pprof's (`scaleHeapSample`), so values match
/// pprof's to the unit.
pub fn unsample(count: i64, size: i64, rate: i64) -> (i64, i64) {
    unsample_checked(count, size, rate).unwrap_or((i64::MAX, i64::MAX))
}

/// [`unsample`], or `None` when an unsampled value would not fit in an
/// `i64` (Rust's float-to-integer cast would quietly cap it).
pub(crate) fn unsample_checked(count: i64, size: i64, rate: i64) -> Option<(i64, i64)> {
    if count == 0 || size == 0 {
        return Some((0, 0));
    }
    if rate <= 1 {
        return Some((count, size));
    }
    let avg = size as f64 / count as f64;
    let scale = 1.0 / (1.0 - (-avg / rate as f64).exp());
    // 2^63, exactly: every f64 below it converts to an i64 without capping.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    let fits = |x: f64| x.is_finite() && x.abs() < TWO_POW_63;
    let (c, s) = (count as f64 * scale, size as f64 * scale);
    (fits(c) && fits(s)).then_some((c as i64, s as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_block_parses_and_rejects() {
        let mut c = Cursor::new(b"   95: 100003840 [    95: 100003840] @ 0x1");
        assert_eq!(c.value_block(), Ok([95, 100003840, 95, 100003840]));
        assert!(c.accept(b"@"));
        assert_eq!(c.rest(), b" 0x1");
        let mut c = Cursor::new(b"1: 99999999999999999999 [1: 1] @");
        assert!(c.value_block().unwrap_err().to_string().contains("64-bit"));
        let mut c = Cursor::new(b"1: 2 [-1: 1] @");
        assert!(
            c.value_block()
                .unwrap_err()
                .to_string()
                .contains("negative")
        );
    }

    #[test]
    fn addresses() {
        let mut v = vec![];
        parse_addresses(b" 0x4006a7aa4e  0xffffffffffffffff", &mut v).unwrap();
        assert_eq!(v, vec![0x4006a7aa4e, u64::MAX]);
        assert!(parse_addresses(b"0x10000000000000000", &mut v).is_err());
        assert!(parse_addresses(b"0xzz", &mut v).is_err());
        assert!(parse_addresses(b"1234", &mut v).is_err());
        assert!(parse_addresses(b"0x", &mut v).is_err());
        v.clear();
        parse_addresses(b"0x00000000000000000001\t0xAbC", &mut v).unwrap();
        assert_eq!(v, vec![1, 0xabc]);
    }

    #[test]
    fn hex8_agrees_with_the_scalar_parser() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut valid = 0;
        let alphabet = b"0123456789abcdefABCDEF g/:@`G\x10\x7f\xff";
        for _ in 0..20000 {
            let mut word = [0u8; 8];
            for b in &mut word {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Hex digits (22 of 32) or near misses around their ranges.
                *b = alphabet[(state % alphabet.len() as u64) as usize];
            }
            let expected = parse_hex(&word);
            valid += usize::from(expected.is_some());
            assert_eq!(hex8(u64::from_le_bytes(word)), expected, "{word:?}");
        }
        assert!(valid > 100, "{valid}");
        assert_eq!(hex8(u64::from_le_bytes(*b"4006a7aa")), Some(0x4006a7aa));
        assert_eq!(hex8(u64::from_le_bytes(*b"FFffFF00")), Some(0xffffff00));
        assert_eq!(hex8(u64::from_le_bytes(*b"4006a7a ")), None);
    }

    #[test]
    fn unsample_matches_pprof_values() {
        // cppbench.heap's first bucket and pprof's parse of it (cppbench.heap.string).
        assert_eq!(unsample(1, 9216, 524288), (57, 528909));
        assert_eq!(unsample(1, 144, 524288), (3641, 524360));
        assert_eq!(unsample(0, 0, 524288), (0, 0));
        assert_eq!(unsample(3, 300, 1), (3, 300));
    }
}
