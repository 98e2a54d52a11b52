//! Budgets for `heapcost gate`: the TOML schema, sizes and percentages, and
//! the limits given inline on the command line.
//!
//! ```toml
//! sample_type = "inuse_space"   # default sample type; --sample-type wins
//! noise_floor = "1MiB"          # a change smaller than this passes whatever the limit
//!
//! [total]
//! max_growth = ["10%", "64MiB"] # growth of the total: percent of the base, or an amount
//! max = "2GiB"                  # the new total itself
//!
//! [owners]
//! ext_proc = "64MiB"            # no sign: the owner's new value at most 64 MiB
//! wasm = "+10%"                 # percent: at most 10% above the base
//! lua = "+1MiB"                 # "+" and an amount: at most 1 MiB above the base
//! router = ["+10%", "8MiB"]     # several limits: each is checked
//!
//! [kinds]
//! buffer = "+20%"
//! ```
//!
//! Amounts are sizes in the one grammar of [`crate::units`] (a number, a
//! fraction allowed, and an optional unit: `B`, `K`/`KB`/`KiB`,
//! `M`/`MB`/`MiB`, `G`/`GB`/`GiB`, `T`/`TB`/`TiB`, any case, all powers of
//! 1024: heapcost and pprof print `MB` for 1024 x 1024 bytes, so a value
//! copied from their output means what it says), at most `i64::MAX`. A plain
//! integer (`ext_proc = 67108864`) is an amount too. For sample types that
//! count objects (`inuse_objects`, `alloc_objects`) amounts are counts and
//! must not have a unit. Percentages ([`crate::units::parse_percent`]) are
//! relative to the base whether they carry `+` or not; limits cannot be
//! negative.
//!
//! Every value keeps where it came from (file and line, or the flag), so an
//! error found later (an owner no rule defines, a byte unit on a count)
//! still names it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::units::{self, UnitError};

/// An amount of the sample type: bytes, or objects for count types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Amount {
    /// The amount, rounded to a whole byte or object.
    pub value: i64,
    /// It was written with a byte unit (`MiB`, `kB`...), which count types refuse.
    pub byte_unit: bool,
}

/// Why a limit, as written, cannot be read. [`Origin::error`] adds where it
/// was given (file and line, or the flag).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// The amount or percentage is malformed.
    #[error(transparent)]
    Unit(#[from] UnitError),
    /// Nothing where a limit should be.
    #[error("an empty limit: write e.g. {examples}")]
    Empty {
        /// What a limit of this place looks like.
        examples: &'static str,
    },
    /// A growth where `total.max` wants a cap.
    #[error(
        "{text:?} is a growth; total.max caps the new total (write an amount without +), max_growth limits its growth"
    )]
    GrowthAsCap {
        /// As written.
        text: String,
    },
    /// A flag that should be `NAME=LIMIT` is not.
    #[error("{text:?}: expected NAME=LIMIT, e.g. ext_proc=64MiB or wasm=+10%")]
    NotNamed {
        /// As written.
        text: String,
    },
    /// A negative whole number in the file.
    #[error("{0} is negative: a limit cannot be negative")]
    Negative(i64),
    /// A TOML value that is neither a string nor a whole number.
    #[error(
        "expected a string such as \"64MiB\" or \"+10%\", or a whole number, found {kind} {value}"
    )]
    NotAScalar {
        /// The TOML type (`float`, `boolean`...).
        kind: &'static str,
        /// The value as TOML writes it.
        value: String,
    },
}

/// What a limit bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "value")]
pub enum Bound {
    /// The new value is at most this amount.
    Cap(Amount),
    /// The new value exceeds the base by at most this amount.
    Growth(Amount),
    /// The new value exceeds the base by at most this share of the base, in
    /// millionths (10% is 100000), so the check is exact integer arithmetic.
    GrowthShare(i64),
}

/// Where a limit was given: a budgets file and line, or a command-line flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// The file, or the flag as typed (`--budget ext_proc=64MiB`).
    pub path: String,
    /// 1-based line in the file; `None` for flags.
    pub line: Option<usize>,
}

impl Origin {
    /// A command-line flag.
    pub fn flag(text: impl Into<String>) -> Self {
        Origin {
            path: text.into(),
            line: None,
        }
    }

    /// An error at this origin.
    pub fn error(&self, why: impl Into<String>) -> Error {
        Error::Budgets {
            path: self.path.clone(),
            line: self.line,
            why: why.into(),
        }
    }
}

/// One limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Limit {
    /// What it bounds.
    pub bound: Bound,
    /// As written (`+10%`, `64MiB`), for display.
    pub text: String,
    /// Where it was given.
    pub origin: Origin,
}

/// The limits of one owner or kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Budget {
    /// The owner or kind (`ext_proc`, `buffer`).
    pub name: String,
    /// Its limits, each checked.
    pub limits: Vec<Limit>,
}

/// A budgets file, or the limits given on the command line. The gate lays
/// the command line over the file with [`Budgets::overridden_by`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Budgets {
    /// The sample type to check; `None` leaves the choice to the command line
    /// or the profile's default.
    pub sample_type: Option<String>,
    /// Changes whose absolute delta is below this pass. Default (`None`): 0,
    /// every change counts.
    pub noise_floor: Option<(Amount, Origin)>,
    /// Limits on the growth of the total ([`Bound::Growth`], [`Bound::GrowthShare`]).
    pub total_growth: Vec<Limit>,
    /// Caps on the new total ([`Bound::Cap`]).
    pub total_max: Vec<Limit>,
    /// Per owner, by name.
    pub owners: Vec<Budget>,
    /// Per kind, by name.
    pub kinds: Vec<Budget>,
}

impl Budgets {
    /// True when no limit at all is set.
    pub fn is_empty(&self) -> bool {
        self.total_growth.is_empty()
            && self.total_max.is_empty()
            && self.owners.is_empty()
            && self.kinds.is_empty()
    }

    /// The number of limits.
    pub fn count(&self) -> usize {
        self.total_growth.len()
            + self.total_max.len()
            + self.owners.iter().map(|b| b.limits.len()).sum::<usize>()
            + self.kinds.iter().map(|b| b.limits.len()).sum::<usize>()
    }

    /// This file's budgets with the command line's laid over them: a sample
    /// type or noise floor given there wins; `--max-growth` replaces the
    /// file's `max_growth`; a `--budget`/`--kind-budget` replaces the file's
    /// limits for that name.
    pub fn overridden_by(mut self, flags: &Budgets) -> Budgets {
        if flags.sample_type.is_some() {
            self.sample_type = flags.sample_type.clone();
        }
        if flags.noise_floor.is_some() {
            self.noise_floor = flags.noise_floor.clone();
        }
        if !flags.total_growth.is_empty() {
            self.total_growth = flags.total_growth.clone();
        }
        if !flags.total_max.is_empty() {
            self.total_max = flags.total_max.clone();
        }
        for (mine, theirs) in [
            (&mut self.owners, &flags.owners),
            (&mut self.kinds, &flags.kinds),
        ] {
            for b in theirs {
                match mine.iter_mut().find(|m| m.name == b.name) {
                    Some(m) => m.limits = b.limits.clone(),
                    None => mine.push(b.clone()),
                }
            }
            mine.sort_by(|a, b| a.name.cmp(&b.name));
        }
        self
    }

    /// Adds a limit for `name` (command line: `--budget`, `--kind-budget`),
    /// after the limits already given for it.
    pub fn add(list: &mut Vec<Budget>, name: &str, limit: Limit) {
        match list.iter_mut().find(|b| b.name == name) {
            Some(b) => b.limits.push(limit),
            None => {
                list.push(Budget {
                    name: name.to_string(),
                    limits: vec![limit],
                });
                list.sort_by(|a, b| a.name.cmp(&b.name));
            }
        }
    }

    /// Parses a budgets file; `path` names it in errors, with the line.
    pub fn parse(text: &str, path: &str) -> Result<Budgets> {
        let raw: RawBudgets = toml::from_str(text).map_err(|e| Error::Budgets {
            path: path.to_string(),
            line: e.span().map(|s| line_of(text, s.start)),
            why: e.message().trim_end().to_string(),
        })?;
        let origin = |span: std::ops::Range<usize>| Origin {
            path: path.to_string(),
            line: Some(line_of(text, span.start)),
        };
        let mut out = Budgets::default();
        if let Some(st) = raw.sample_type {
            let span = st.span();
            let name = st.into_inner();
            if name.trim().is_empty() {
                return Err(origin(span).error("sample_type is empty"));
            }
            out.sample_type = Some(name);
        }
        if let Some(floor) = raw.noise_floor {
            let o = origin(floor.span());
            let text =
                scalar(floor.get_ref()).map_err(|why| o.error(format!("noise_floor: {why}")))?;
            let amount =
                parse_amount(&text).map_err(|why| o.error(format!("noise_floor: {why}")))?;
            out.noise_floor = Some((amount, o));
        }
        if let Some(total) = raw.total {
            if let Some(v) = total.max_growth {
                out.total_growth = limits(&v, &origin(v.span()), "total.max_growth", parse_growth)?;
            }
            if let Some(v) = total.max {
                out.total_max = limits(&v, &origin(v.span()), "total.max", |t| {
                    let bound = parse_owner_limit(t)?;
                    match bound {
                        Bound::Cap(_) => Ok(bound),
                        _ => Err(LimitError::GrowthAsCap { text: t.into() }),
                    }
                })?;
            }
        }
        for (table, map, list) in [
            ("owners", raw.owners, &mut out.owners),
            ("kinds", raw.kinds, &mut out.kinds),
        ] {
            for (name, value) in map.unwrap_or_default() {
                let o = origin(value.span());
                if name.trim().is_empty() {
                    return Err(o.error(format!("{table}: an empty name")));
                }
                let limits = limits(&value, &o, &format!("{table}.{name}"), parse_owner_limit)?;
                list.push(Budget { name, limits });
            }
        }
        Ok(out)
    }
}

/// The schema, as serde reads it; values are checked by hand for messages
/// that say what a limit should look like.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudgets {
    sample_type: Option<toml::Spanned<String>>,
    noise_floor: Option<toml::Spanned<toml::Value>>,
    total: Option<RawTotal>,
    owners: Option<BTreeMap<String, toml::Spanned<toml::Value>>>,
    kinds: Option<BTreeMap<String, toml::Spanned<toml::Value>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTotal {
    max_growth: Option<toml::Spanned<toml::Value>>,
    max: Option<toml::Spanned<toml::Value>>,
}

/// The limits of a value that is one limit or an array of them.
fn limits(
    value: &toml::Spanned<toml::Value>,
    origin: &Origin,
    key: &str,
    parse: impl Fn(&str) -> std::result::Result<Bound, LimitError>,
) -> Result<Vec<Limit>> {
    let items: Vec<&toml::Value> = match value.get_ref() {
        toml::Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    if items.is_empty() {
        return Err(origin.error(format!("{key}: an empty list of limits")));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let text = scalar(item).map_err(|why| origin.error(format!("{key}: {why}")))?;
        let bound = parse(&text).map_err(|why| origin.error(format!("{key}: {why}")))?;
        out.push(Limit {
            bound,
            text,
            origin: origin.clone(),
        });
    }
    Ok(out)
}

/// A string or a non-negative integer as text.
fn scalar(value: &toml::Value) -> std::result::Result<String, LimitError> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) if *i >= 0 => Ok(i.to_string()),
        toml::Value::Integer(i) => Err(LimitError::Negative(*i)),
        other => Err(LimitError::NotAScalar {
            kind: other.type_str(),
            value: other.to_string(),
        }),
    }
}

/// The 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    memchr::memchr_iter(b'\n', &text.as_bytes()[..end]).count() + 1
}

/// Reads an amount: `64MiB`, `1.5GB`, `512KiB`, `4096` ([`units::parse_size`]),
/// at most `i64::MAX`.
pub fn parse_amount(text: &str) -> std::result::Result<Amount, LimitError> {
    let size = units::parse_size(text)?;
    let value = i64::try_from(size.value).map_err(|_| UnitError::TooLarge { text: text.into() })?;
    Ok(Amount {
        value,
        byte_unit: size.byte_unit,
    })
}

/// A limit of an owner or kind: `64MiB` caps the new value, `+64MiB` bounds
/// the growth, `10%` or `+10%` bounds the growth relative to the base.
pub fn parse_owner_limit(text: &str) -> std::result::Result<Bound, LimitError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(LimitError::Empty {
            examples: "\"64MiB\", \"+1MiB\" or \"+10%\"",
        });
    }
    if t.ends_with('%') {
        return Ok(Bound::GrowthShare(units::parse_percent(t)?));
    }
    match t.strip_prefix('+') {
        Some(rest) => parse_amount(rest).map(Bound::Growth),
        None => parse_amount(t).map(Bound::Cap),
    }
}

/// A limit on growth (`max_growth`, `--max-growth`): `10%` of the base or an
/// amount such as `64MiB`; `+` is optional.
pub fn parse_growth(text: &str) -> std::result::Result<Bound, LimitError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(LimitError::Empty {
            examples: "\"10%\" or \"64MiB\"",
        });
    }
    if t.ends_with('%') {
        return Ok(Bound::GrowthShare(units::parse_percent(t)?));
    }
    parse_amount(t.strip_prefix('+').unwrap_or(t)).map(Bound::Growth)
}

/// Splits `NAME=LIMIT` (`--budget ext_proc=64MiB`).
pub fn split_named(text: &str) -> std::result::Result<(&str, &str), LimitError> {
    match text.split_once('=') {
        Some((name, limit)) if !name.trim().is_empty() && !limit.trim().is_empty() => {
            Ok((name.trim(), limit.trim()))
        }
        _ => Err(LimitError::NotNamed { text: text.into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        let v = |t: &str| parse_amount(t).unwrap().value;
        assert_eq!(v("64MiB"), 64 << 20);
        assert_eq!(v("64mb"), 64 << 20);
        assert_eq!(v("1.5GB"), 3 << 29);
        assert_eq!(v("512KiB"), 512 << 10);
        assert_eq!(v("4096"), 4096);
        assert_eq!(v("1_000"), 1000);
        assert_eq!(v("10 MiB"), 10 << 20);
        assert_eq!(v("9223372036854775807"), i64::MAX);
        assert!(!parse_amount("4096").unwrap().byte_unit);
        assert!(parse_amount("4096B").unwrap().byte_unit);
        for bad in [
            "", "MiB", "1.2.3MB", "-1MiB", "12PB", "inf", "nan", "1e3", ".", "9e99GiB",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
        for too_large in ["99999999999TiB", "9223372036854775808", "8388608TiB"] {
            assert_eq!(
                parse_amount(too_large),
                Err(LimitError::Unit(UnitError::TooLarge {
                    text: too_large.into()
                })),
                "{too_large}"
            );
        }
    }

    #[test]
    fn percentages_and_limits() {
        let cap = parse_owner_limit("64MiB").unwrap();
        assert!(matches!(cap, Bound::Cap(a) if a.value == 64 << 20));
        assert!(matches!(parse_owner_limit("+1MiB"), Ok(Bound::Growth(_))));
        assert_eq!(parse_owner_limit("+10%"), Ok(Bound::GrowthShare(100_000)));
        assert_eq!(parse_owner_limit("10%"), Ok(Bound::GrowthShare(100_000)));
        assert!(matches!(parse_growth("64MiB"), Ok(Bound::Growth(_))));
        assert!(matches!(parse_growth("+64MiB"), Ok(Bound::Growth(_))));
        assert!(parse_owner_limit("").is_err());
        assert_eq!(split_named("ext_proc=64MiB"), Ok(("ext_proc", "64MiB")));
        assert!(split_named("ext_proc").is_err());
        assert!(split_named("=1").is_err());
    }

    #[test]
    fn a_file() {
        let text = r#"
sample_type = "inuse_space"
noise_floor = "1MiB"

[total]
max_growth = ["10%", "64MiB"]
max = "2GiB"

[owners]
wasm = "+10%"
ext_proc = "64MiB"
router = ["+1MiB", 1048576]

[kinds]
buffer = "+20%"
"#;
        let b = Budgets::parse(text, "b.toml").unwrap();
        assert_eq!(b.sample_type.as_deref(), Some("inuse_space"));
        assert_eq!(b.noise_floor.as_ref().map(|f| f.0.value), Some(1 << 20));
        assert_eq!(b.total_growth.len(), 2);
        assert_eq!(b.total_max.len(), 1);
        let names: Vec<&str> = b.owners.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["ext_proc", "router", "wasm"]);
        assert_eq!(b.owners[1].limits.len(), 2);
        assert_eq!(b.owners[1].limits[0].origin.line, Some(12));
        assert_eq!(b.kinds[0].limits[0].origin.line, Some(15));
        assert_eq!(b.count(), 8);
    }

    #[test]
    fn errors_name_file_and_line() {
        let msg = |text: &str| Budgets::parse(text, "b.toml").unwrap_err().to_string();
        let m = msg("[owners]\next_proc = \"64MiBs\"\n");
        assert!(m.starts_with("b.toml:2: owners.ext_proc:"), "{m}");
        let m = msg("[total]\nmax_growth = 1.5\n");
        assert!(m.starts_with("b.toml:2: total.max_growth:"), "{m}");
        let m = msg("noise_floor = \"1MiB\"\n[owner]\nx = \"1\"\n");
        assert!(m.starts_with("b.toml:2:"), "{m}");
        let m = msg("[owners\n");
        assert!(m.starts_with("b.toml:1:"), "{m}");
        let m = msg("\n\n[total]\nmax = \"+1MiB\"\n");
        assert!(m.starts_with("b.toml:4:"), "{m}");
        let m = msg("[owners]\nx = []\n");
        assert!(m.contains("empty list"), "{m}");
    }

    #[test]
    fn cut_or_mangled_files_are_errors_not_panics() {
        let text = "sample_type = \"inuse_space\"\nnoise_floor = \"1MiB\"\n[total]\nmax_growth = [\"10%\", \"64MiB\"]\nmax = \"2GiB\"\n[owners]\next_proc = \"64MiB\"\nwasm = [\"+10%\", 5]\n[kinds]\nbuffer = \"+1.5GB\"\n";
        assert!(Budgets::parse(text, "b.toml").is_ok());
        for cut in 0..text.len() {
            let (head, tail) = text.split_at(cut);
            for variant in [
                head.to_string(),
                format!("{head}\u{0}{tail}"),
                format!("{head}]]\n{tail}"),
                format!("{head}\"{tail}"),
                format!("{head}-{tail}"),
                format!("{head}9999999999999999999{tail}"),
                format!("{head}%{tail}"),
            ] {
                if let Err(e) = Budgets::parse(&variant, "b.toml") {
                    assert!(e.to_string().starts_with("b.toml"), "{e}");
                }
            }
        }
    }

    #[test]
    fn flags_override_the_file() {
        let file = Budgets::parse(
            "noise_floor = 5\n[total]\nmax_growth = \"10%\"\nmax = \"1GiB\"\n[owners]\na = \"1MiB\"\nb = \"2MiB\"\n",
            "f",
        )
        .unwrap();
        let mut flags = Budgets::default();
        let limit = |t: &str| Limit {
            bound: parse_owner_limit(t).unwrap(),
            text: t.into(),
            origin: Origin::flag(format!("--budget b={t}")),
        };
        Budgets::add(&mut flags.owners, "b", limit("+5%"));
        Budgets::add(&mut flags.owners, "c", limit("3MiB"));
        flags.total_growth.push(limit("+1MiB"));
        let b = file.overridden_by(&flags);
        assert_eq!(b.noise_floor.map(|f| f.0.value), Some(5));
        assert_eq!(b.total_growth[0].text, "+1MiB");
        assert_eq!(b.total_max.len(), 1);
        let owners: Vec<(&str, &str)> = b
            .owners
            .iter()
            .map(|o| (o.name.as_str(), o.limits[0].text.as_str()))
            .collect();
        assert_eq!(owners, [("a", "1MiB"), ("b", "+5%"), ("c", "3MiB")]);
    }
}
