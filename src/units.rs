//! Sizes, counts and percentages: the one grammar that reads them and the
//! functions that print them.
//!
//! A foundation module: it imports nothing from the pipeline's stages, and
//! every stage may use it (the budgets of `heapcost gate` and its flags, the
//! size limits read from the environment, every renderer).
//!
//! # Reading: one grammar for sizes
//!
//! [`parse_size`] reads every size and count heapcost is given: budgets
//! (`noise_floor = "1MiB"`, `ext_proc = "64MiB"`), their flags
//! (`--noise-floor 1MiB`, `--budget ext_proc=64MiB`) and the limits in the
//! environment (`HEAPCOST_MAX_DECOMPRESSED=8G`).
//!
//! ```text
//! size   = number [unit]             spaces allowed around both
//! number = digits with `_` between them as you like, and at most one `.`
//!          (`4096`, `1_000`, `1.5`, `.5`); at least one digit; no sign, no exponent
//! unit   = B | K | KB | KiB | M | MB | MiB | G | GB | GiB | T | TB | TiB   (any case)
//! ```
//!
//! Every unit is a power of 1024: heapcost and pprof print `MB` for
//! 1024 x 1024 bytes, so a value copied from their output means what it
//! says. A whole number is exact (up to 2^64 - 1); a fraction is rounded to
//! the nearest byte. Without a unit the number is a plain count, of bytes or
//! of objects; [`Size::byte_unit`] says which was written, so that object
//! counts can refuse byte units.
//!
//! [`parse_percent`] reads a share of a base: a number as above (no `_`)
//! followed by `%`, with an optional `+` (`10%`, `+12.5%`), in millionths.
//!
//! ## Where the two former grammars disagreed
//!
//! The budgets and the environment limits used to parse sizes each their
//! own way. This grammar is the budgets' one, which accepted more; what the
//! environment limits gained or lost:
//!
//! - Gained: fractions (`1.5G`), `_` between digits, byte units in any case
//!   (`8gib`, `8Gb`; before, the `B` had to be upper case).
//! - Lost: a bare `iB` after the number (`123iB` meant 123 bytes: an
//!   accident of stripping `iB` before the unit letter) and a leading `+`
//!   (`+8G` meant 8 GiB: an accident of Rust's integer parser). Both are now
//!   refused, as the budgets refused them.
//!
//! And the budgets: a whole number is now exact instead of going through a
//! 64-bit float, which changes only numbers of more than 2^53 bytes (8 PiB).
//!
//! # Printing
//!
//! - [`scaled`]: a value as pprof prints it in tables (`100.08MB`, `512B`,
//!   `3535` for counts); [`signed`] adds a `+` to growth.
//! - [`percentage`]: pprof's share column (`97.84%`, ` 0.05%`, `  100%`).
//! - [`share_text`] and [`signed_share`]: a share in 0..1 (`97.84%`) and a
//!   relative change (`+12.50%`, `new`, `-`).
//! - [`bytes_text`]: a byte count in a message (`4 GiB`, `1.5 KiB`, `5 bytes`).
//! - [`count_name`]: what a unit counts, for a flamegraph's tooltips.

/// A size or count as written: see the [module docs](self) for the grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Bytes, or the plain number when no unit was written.
    pub value: u64,
    /// A byte unit (`B`, `MiB`, `kB`...) was written.
    pub byte_unit: bool,
}

/// Why a size or percentage cannot be read. Each message quotes the text as
/// written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnitError {
    /// The text starts with `-`.
    #[error("{text:?} is negative: a limit cannot be negative")]
    Negative {
        /// As written.
        text: String,
    },
    /// No number where a size should be.
    #[error(
        "{text:?} is not an amount: write a number with an optional unit, e.g. 64MiB, 1.5GB, 512KiB, 4096"
    )]
    NotASize {
        /// As written.
        text: String,
    },
    /// A number followed by something that is not a unit.
    #[error(
        "{text:?}: unknown unit {unit:?} (B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB: all powers of 1024)"
    )]
    UnknownUnit {
        /// As written.
        text: String,
        /// The unit as written, trimmed.
        unit: String,
    },
    /// The value does not fit (in 64 bits, or in what the caller allows).
    #[error("{text:?} is too large")]
    TooLarge {
        /// As written.
        text: String,
    },
    /// A percentage without its `%`.
    #[error("{text:?} is not a percentage")]
    NoPercentSign {
        /// As written.
        text: String,
    },
    /// Something before the `%` that is not a number.
    #[error("{text:?} is not a percentage such as 10% or +12.5%")]
    NotAPercentage {
        /// As written.
        text: String,
    },
}

/// The units of [`parse_size`], lower case, and their factors.
const SIZE_UNITS: [(&[&str], u64); 5] = [
    (&["", "b"], 1),
    (&["k", "kb", "kib"], 1 << 10),
    (&["m", "mb", "mib"], 1 << 20),
    (&["g", "gb", "gib"], 1 << 30),
    (&["t", "tb", "tib"], 1 << 40),
];

/// Reads a size or count: `64MiB`, `1.5GB`, `512KiB`, `8G`, `4096` (the
/// grammar is in the [module docs](self)).
pub fn parse_size(text: &str) -> Result<Size, UnitError> {
    let t = text.trim();
    if t.starts_with('-') {
        return Err(UnitError::Negative { text: text.into() });
    }
    let digits_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(digits_end);
    let number: String = number.chars().filter(|&c| c != '_').collect();
    if !is_decimal(&number) {
        return Err(UnitError::NotASize { text: text.into() });
    }
    let unit = unit.trim();
    let unit_lower = unit.to_ascii_lowercase();
    let Some(&(_, factor)) = SIZE_UNITS
        .iter()
        .find(|(names, _)| names.contains(&unit_lower.as_str()))
    else {
        return Err(UnitError::UnknownUnit {
            text: text.into(),
            unit: unit.into(),
        });
    };
    let too_large = || UnitError::TooLarge { text: text.into() };
    let value = if number.contains('.') {
        let v: f64 = number
            .parse()
            .map_err(|_| UnitError::NotASize { text: text.into() })?;
        let scaled = (v * factor as f64).round();
        // u64::MAX as f64 is 2^64, the first value that does not fit.
        if !scaled.is_finite() || scaled >= u64::MAX as f64 {
            return Err(too_large());
        }
        scaled as u64
    } else {
        number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(factor))
            .ok_or_else(too_large)?
    };
    Ok(Size {
        value,
        byte_unit: !unit.is_empty(),
    })
}

/// Reads a percentage (`10%`, `+12.5%`) as millionths of the base (10% is
/// 100000), so that checks against it are exact integer arithmetic.
pub fn parse_percent(text: &str) -> Result<i64, UnitError> {
    let t = text.trim();
    let body = t.strip_prefix('+').unwrap_or(t);
    if body.starts_with('-') {
        return Err(UnitError::Negative { text: text.into() });
    }
    let Some(number) = body.strip_suffix('%') else {
        return Err(UnitError::NoPercentSign { text: text.into() });
    };
    let number = number.trim();
    let not_a_percentage = || UnitError::NotAPercentage { text: text.into() };
    if !is_decimal(number) {
        return Err(not_a_percentage());
    }
    let value: f64 = number.parse().map_err(|_| not_a_percentage())?;
    let ppm = (value * 10_000.0).round();
    if !ppm.is_finite() || ppm >= i64::MAX as f64 {
        return Err(UnitError::TooLarge { text: text.into() });
    }
    Ok(ppm as i64)
}

/// Digits with at most one `.` and at least one digit (`4096`, `1.5`, `.5`, `5.`).
fn is_decimal(number: &str) -> bool {
    number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && number.chars().filter(|&c| c == '.').count() <= 1
        && number.chars().any(|c| c.is_ascii_digit())
}

/// A value in `unit`, scaled for reading: bytes become `B`/`kB`/`MB`/`GB`/`TB`/`PB`
/// in powers of 1024 with two decimals (trailing `.00` removed), as pprof
/// prints them; other units print the plain number.
pub fn scaled(value: i64, unit: &str) -> String {
    if unit != "bytes" {
        return value.to_string();
    }
    const UNITS: [(&str, f64); 6] = [
        ("B", 1.0),
        ("kB", 1024.0),
        ("MB", 1048576.0),
        ("GB", 1073741824.0),
        ("TB", 1099511627776.0),
        ("PB", 1125899906842624.0),
    ];
    let v = value as f64;
    let (name, factor) = UNITS
        .iter()
        .rev()
        .find(|(_, f)| v.abs() >= *f)
        .copied()
        .unwrap_or(UNITS[0]);
    let text = format!("{:.2}", v / factor);
    let text = text.strip_suffix(".00").unwrap_or(&text);
    if text == "0" || text == "-0" {
        return "0".into();
    }
    format!("{text}{name}")
}

/// A byte count as [`scaled`] prints it (`1.50MB`), for sizes that are
/// `u64` (files, sections); beyond `i64::MAX` it prints `i64::MAX`.
pub fn scaled_bytes(bytes: u64) -> String {
    scaled(i64::try_from(bytes).unwrap_or(i64::MAX), "bytes")
}

/// A change as [`scaled`] prints it, with `+` when it grew: `+1.50MB`,
/// `-2kB`, `0`.
pub fn signed(value: i64, unit: &str) -> String {
    if value > 0 {
        format!("+{}", scaled(value, unit))
    } else {
        scaled(value, unit)
    }
}

/// A byte count for messages: exact below 1 KiB (`5 bytes`), else in binary
/// units with at most one decimal (`4 GiB`, `1.5 KiB`).
pub fn bytes_text(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    let unit = UNITS.get(unit).copied().unwrap_or("PiB");
    if v.fract() == 0.0 {
        format!("{v:.0} {unit}")
    } else {
        format!("{v:.1} {unit}")
    }
}

/// What a value of `unit` counts, for a flamegraph's tooltips: `bytes`, or
/// `objects` for counts.
pub fn count_name(unit: &str) -> &str {
    match unit {
        "bytes" => "bytes",
        "count" | "" => "objects",
        other => other,
    }
}

/// `value` as a share of `total`, pprof style: `  100%`, `97.84%`, ` 0.05%`.
pub fn percentage(value: i64, total: i64) -> String {
    let ratio = if total == 0 {
        0.0
    } else {
        (value as f64 / total as f64).abs() * 100.0
    };
    if (99.95..=100.05).contains(&ratio) {
        "  100%".into()
    } else if ratio >= 1.0 {
        format!("{ratio:5.2}%")
    } else {
        format!("{:>5}%", format_g2(ratio))
    }
}

/// Go's `%.2g`: two significant digits, no exponent for ordinary shares.
fn format_g2(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    if !(-4..2).contains(&exp) {
        return format!("{v:.1e}");
    }
    let decimals = (1 - exp).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A share in 0..1 with two decimals: `97.84%`.
pub fn share_text(share: f64) -> String {
    format!("{:.2}%", share * 100.0)
}

/// A relative change: `+12.50%`, `-3.00%`; without a share (the base is 0),
/// `new` when the new value is not 0 and `-` when both are.
pub fn signed_share(share: Option<f64>, new: i64) -> String {
    match share {
        Some(s) => format!("{:+.2}%", s * 100.0),
        None if new == 0 => "-".to_string(),
        None => "new".to_string(),
    }
}

/// `±1.10MB` for a 95% sampling margin, empty when there is none.
pub fn plus_minus(margin: Option<i64>, unit: &str) -> String {
    margin.map_or_else(String::new, |m| format!("±{}", scaled(m, unit)))
}

/// `9.80MB ±427B`: a value and its 95% sampling margin; the value alone
/// when there is none.
pub fn scaled_pm(value: i64, margin: Option<i64>, unit: &str) -> String {
    match margin {
        Some(_) => format!("{} {}", scaled(value, unit), plus_minus(margin, unit)),
        None => scaled(value, unit),
    }
}

/// A change in words: `100MB -> 400MB (+300MB, +300.00%)`; with `strong`
/// the delta is bold Markdown (`**+300MB**`). The one headline of `diff`,
/// the gate and their comments.
pub fn change(
    base: i64,
    new: i64,
    delta: i64,
    share: Option<f64>,
    unit: &str,
    strong: bool,
) -> String {
    let mark = if strong { "**" } else { "" };
    format!(
        "{} -> {} ({mark}{}{mark}, {})",
        scaled(base, unit),
        scaled(new, unit),
        signed(delta, unit),
        signed_share(share, new)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_in_words() {
        assert_eq!(
            change(1024, 3072, 2048, Some(2.0), "bytes", false),
            "1kB -> 3kB (+2kB, +200.00%)"
        );
        assert_eq!(
            change(0, 10, 10, None, "count", true),
            "0 -> 10 (**+10**, new)"
        );
    }

    fn size(text: &str) -> u64 {
        parse_size(text).unwrap().value
    }

    #[test]
    fn sizes_of_the_budgets() {
        assert_eq!(size("64MiB"), 64 << 20);
        assert_eq!(size("64mb"), 64 << 20);
        assert_eq!(size("1.5GB"), 3 << 29);
        assert_eq!(size("512KiB"), 512 << 10);
        assert_eq!(size("4096"), 4096);
        assert_eq!(size("1_000"), 1000);
        assert_eq!(size("10 MiB"), 10 << 20);
        assert_eq!(size(".5KiB"), 512);
        assert_eq!(size("1.5B"), 2);
        assert!(!parse_size("4096").unwrap().byte_unit);
        assert!(parse_size("4096B").unwrap().byte_unit);
        assert!(parse_size("1 k").unwrap().byte_unit);
    }

    #[test]
    fn sizes_of_the_environment() {
        assert_eq!(size("123"), 123);
        assert_eq!(size("64K"), 64 << 10);
        assert_eq!(size(" 8G "), 8 << 30);
        assert_eq!(size("8GiB"), 8 << 30);
        assert_eq!(size("8 G"), 8 << 30);
        assert_eq!(size("2MB"), 2 << 20);
        assert_eq!(size("1T"), 1 << 40);
        assert_eq!(size("8gib"), 8 << 30);
        assert_eq!(size("16777215T"), 16777215 << 40);
    }

    #[test]
    fn whole_numbers_are_exact() {
        assert_eq!(size("9007199254740993"), 9007199254740993);
        assert_eq!(size("18446744073709551615"), u64::MAX);
        assert_eq!(
            parse_size("18446744073709551616"),
            Err(UnitError::TooLarge {
                text: "18446744073709551616".into()
            })
        );
    }

    #[test]
    fn what_is_not_a_size() {
        for bad in [
            "", "x", "MiB", "1.2.3MB", "-1", "-1MiB", "12PB", "inf", "nan", "1e3", ".", "_",
            "9e99GiB", "123iB", "+8G", "8Gi", "0x10", "1 2K", "8G B",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            parse_size("99999999999TiB"),
            Err(UnitError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_size("99999999999999999999.5"),
            Err(UnitError::TooLarge { .. })
        ));
    }

    #[test]
    fn messages_quote_the_text() {
        let msg = |t: &str| parse_size(t).unwrap_err().to_string();
        assert_eq!(
            msg("64MiBs"),
            r#""64MiBs": unknown unit "MiBs" (B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB: all powers of 1024)"#
        );
        assert_eq!(msg("-1"), r#""-1" is negative: a limit cannot be negative"#);
        assert!(msg("ten").starts_with(r#""ten" is not an amount: write a number"#));
    }

    #[test]
    fn percentages_in_millionths() {
        assert_eq!(parse_percent("10%"), Ok(100_000));
        assert_eq!(parse_percent("+12.5%"), Ok(125_000));
        assert_eq!(parse_percent(" 0.0001% "), Ok(1));
        assert!(matches!(
            parse_percent("-5%"),
            Err(UnitError::Negative { .. })
        ));
        assert!(matches!(
            parse_percent("10"),
            Err(UnitError::NoPercentSign { .. })
        ));
        for bad in ["%", "ten%", "1_0%", "1.2.3%", "+%"] {
            assert!(
                matches!(parse_percent(bad), Err(UnitError::NotAPercentage { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn bytes_like_pprof() {
        assert_eq!(scaled(104943209, "bytes"), "100.08MB");
        assert_eq!(scaled(2673727829, "bytes"), "2.49GB");
        assert_eq!(scaled(1048576, "bytes"), "1MB");
        assert_eq!(scaled(0, "bytes"), "0");
        assert_eq!(scaled(512, "bytes"), "512B");
        assert_eq!(scaled(-2048, "bytes"), "-2kB");
        assert_eq!(scaled(3535, "count"), "3535");
        assert_eq!(scaled_bytes(1536), "1.50kB");
        assert_eq!(scaled_bytes(u64::MAX), scaled(i64::MAX, "bytes"));
        assert_eq!(signed(1536, "bytes"), "+1.50kB");
        assert_eq!(signed(-2048, "bytes"), "-2kB");
        assert_eq!(signed(0, "bytes"), "0");
    }

    #[test]
    fn bytes_in_messages() {
        assert_eq!(bytes_text(5), "5 bytes");
        assert_eq!(bytes_text(4 << 30), "4 GiB");
        assert_eq!(bytes_text(1536), "1.5 KiB");
        assert_eq!(bytes_text(u64::MAX), "16384 PiB");
    }

    #[test]
    fn percentages_like_pprof() {
        assert_eq!(percentage(1, 1), "  100%");
        assert_eq!(percentage(9784, 10000), "97.84%");
        assert_eq!(percentage(5, 10000), " 0.05%");
        assert_eq!(percentage(55, 10000), " 0.55%");
        assert_eq!(percentage(0, 0), "    0%");
    }

    #[test]
    fn shares() {
        assert_eq!(share_text(0.9784), "97.84%");
        assert_eq!(share_text(0.0), "0.00%");
        assert_eq!(signed_share(Some(0.125), 9), "+12.50%");
        assert_eq!(signed_share(Some(-0.03), 9), "-3.00%");
        assert_eq!(signed_share(None, 9), "new");
        assert_eq!(signed_share(None, 0), "-");
    }

    #[test]
    fn count_names() {
        assert_eq!(count_name("bytes"), "bytes");
        assert_eq!(count_name("count"), "objects");
        assert_eq!(count_name(""), "objects");
        assert_eq!(count_name("nanoseconds"), "nanoseconds");
    }
}
