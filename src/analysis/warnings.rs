//! The warnings of a run: what went wrong without stopping it, as typed
//! values that every renderer prints the same way.
//!
//! Each loaded profile contributes the same set (see
//! [`crate::app`]'s load path): what symbolization reported, the mappings
//! whose frames got no names, a truncated dump, stacks without frames, and
//! (once attributed) the share that could not be judged for lack of names.
//! [`collect`] merges the warnings of several profiles: exact repeats are
//! kept once, and the truncation warnings of single files that say the same
//! thing become one (`13 of 13 snapshots are truncated dumps: ...`).

use std::fmt;

use serde::Serialize;

use super::attribution::AttributionView;
use crate::attribute::UNSYMBOLIZED;
use crate::profile::{Profile, Source, ValueType};
use crate::symbolize::SymbolizeReport;
use crate::units::{percentage, scaled, share_text};

/// One warning.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Warning {
    /// What the symbolizer reported (a file it could not use, a build id
    /// that did not match...), in its words.
    Symbolize(String),
    /// Mappings with frames of which none got a name: `(file name, why)`.
    UnnamedMappings(Vec<(String, String)>),
    /// Dumps whose header counts more than their listed stacks.
    Truncated(Truncation),
    /// Stacks without any frame, left out of the totals.
    Frameless {
        /// The inputs that had them.
        paths: Vec<String>,
        /// How many stacks.
        count: usize,
        /// Their value in the sample type shown.
        value: i64,
        /// The sample type shown.
        sample_type: ValueType,
    },
    /// Part of the profile is charged to `unsymbolized`.
    Unattributed {
        /// Its share of the total, 0..1.
        share: f64,
        /// The sample type shown.
        sample_type: String,
    },
    /// No frame has a name at all: attribution cannot work.
    NoNames,
    /// `--tag` kept only part of the samples.
    Tagged {
        /// The filters as typed.
        filters: Vec<String>,
        /// Samples kept.
        kept: usize,
        /// Samples before filtering.
        of: usize,
    },
}

/// Which inputs are truncated, and what that costs the totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    /// The truncated files, in input order.
    pub paths: Vec<String>,
    /// How many inputs there were in all.
    pub of: usize,
    /// What the inputs are called: `inputs` (merged) or `snapshots`.
    pub noun: &'static str,
    /// The effect on the sample type shown.
    pub effect: TruncationEffect,
    /// Why such dumps lose stacks (from the first one's format).
    pub cause: &'static str,
}

/// What a truncation costs the sample type shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TruncationEffect {
    /// Part of the header's total is in no listed stack.
    Missing {
        /// The value no stack holds.
        value: i64,
        /// The header's total.
        header: i64,
        /// The sample type shown.
        sample_type: ValueType,
    },
    /// The sample type shown lost nothing; others did.
    Complete {
        /// The sample type shown.
        sample_type: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Symbolize(text) => f.write_str(text),
            Warning::UnnamedMappings(parts) => {
                let list: Vec<String> = parts.iter().map(|(n, why)| format!("{n}: {why}")).collect();
                write!(
                    f,
                    "frames of {} mapping(s) have no names and show as module+0xoffset ({}); give the binary with --binary or a directory with --symbols-path",
                    parts.len(),
                    list.join("; ")
                )
            }
            Warning::Truncated(t) => t.fmt(f),
            Warning::Frameless {
                paths,
                count,
                value,
                sample_type,
            } => write!(
                f,
                "{}: {count} stack(s) without any frame ({} {}) are left out of the totals, as pprof -raw leaves them out",
                paths.join(", "),
                scaled(*value, &sample_type.unit),
                sample_type.kind
            ),
            Warning::Unattributed { share, sample_type } => write!(
                f,
                "{} of {sample_type} is 'unsymbolized' (the code that called the allocator has no name); give the missing binaries with --binary or --symbols-path",
                share_text(*share)
            ),
            Warning::Tagged { filters, kept, of } => write!(
                f,
                "--tag {}: kept {kept} of {of} samples; the others are left out of every value shown",
                filters.join(" --tag ")
            ),
            Warning::NoNames => f.write_str(
                "no frame has a name, so every stack is 'unsymbolized': attribution needs names; give the binary with --binary (e.g. -b envoy-static) or a directory with --symbols-path",
            ),
        }
    }
}

impl fmt::Display for Truncation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.paths.as_slice() {
            [one] => write!(f, "{one} is a truncated dump")?,
            paths => write!(
                f,
                "{} of {} {} are truncated dumps",
                paths.len(),
                self.of,
                self.noun
            )?,
        }
        match &self.effect {
            TruncationEffect::Missing {
                value,
                header,
                sample_type,
            } => write!(
                f,
                ": {} {} ({}) in the headers is in no listed stack and not in these totals",
                scaled(*value, &sample_type.unit),
                sample_type.kind,
                percentage(*value, *header).trim()
            )?,
            TruncationEffect::Complete { sample_type } => write!(
                f,
                ": {sample_type} is complete; other sample types lost stacks"
            )?,
        }
        write!(f, " ({}); see `heapcost info`", self.cause)
    }
}

impl Serialize for Warning {
    /// A warning is its sentence in JSON.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What symbolization reported, then one warning naming the mappings whose
/// frames got no names.
pub fn symbolization(report: &SymbolizeReport) -> Vec<Warning> {
    let mut out: Vec<Warning> = report
        .warnings
        .iter()
        .cloned()
        .map(Warning::Symbolize)
        .collect();
    let parts: Vec<(String, String)> = report
        .mappings
        .iter()
        .filter(|m| m.frames > 0 && m.named_frames == 0)
        .map(|m| {
            let name = m.recorded.rsplit('/').next().unwrap_or(&m.recorded);
            let why = m.problem.as_deref().unwrap_or("no names");
            (name.to_string(), why.to_string())
        })
        .collect();
    if !parts.is_empty() {
        out.push(Warning::UnnamedMappings(parts));
    }
    out
}

/// The warning about the inputs of `profile` (one, or several merged) whose
/// header counts more than their listed stacks, for sample type `index`.
pub fn truncation(profile: &Profile, index: usize) -> Option<Warning> {
    let cut: Vec<&Source> = profile
        .sources
        .iter()
        .filter(|s| s.header.as_ref().is_some_and(|h| h.truncated()))
        .collect();
    let first = cut.first()?;
    let (mut missing, mut header) = (0i64, 0i64);
    for h in cut.iter().filter_map(|s| s.header.as_ref()) {
        missing = missing.saturating_add(h.remainder().get(index).copied().unwrap_or(0).max(0));
        header = header.saturating_add(h.header.get(index).copied().unwrap_or(0));
    }
    let kind = profile.sample_types.get(index)?;
    let effect = if missing > 0 {
        TruncationEffect::Missing {
            value: missing,
            header,
            sample_type: kind.clone(),
        }
    } else {
        TruncationEffect::Complete {
            sample_type: kind.kind.clone(),
        }
    };
    Some(Warning::Truncated(Truncation {
        paths: cut.iter().map(|s| s.path.clone()).collect(),
        of: profile.sources.len(),
        noun: "inputs",
        effect,
        cause: first.format.truncation_cause(),
    }))
}

/// The note that `--tag` kept only part of the samples (none without
/// filters).
pub fn tagged(
    filters: &[crate::profile::TagFilter],
    samples: usize,
    left_out: usize,
) -> Option<Warning> {
    (!filters.is_empty()).then(|| Warning::Tagged {
        filters: filters.iter().map(|f| f.text.clone()).collect(),
        kept: samples - left_out,
        of: samples,
    })
}

/// The warning about stacks without frames that the readers left out.
pub fn frameless(profile: &Profile, index: usize) -> Option<Warning> {
    let sources: Vec<&Source> = profile
        .sources
        .iter()
        .filter(|s| s.frameless.count > 0)
        .collect();
    let value: i64 = sources
        .iter()
        .map(|s| s.frameless.values.get(index).copied().unwrap_or(0))
        .fold(0, i64::saturating_add);
    if value == 0 {
        // Nothing of the type shown is missing from the totals.
        return None;
    }
    Some(Warning::Frameless {
        paths: sources.iter().map(|s| s.path.clone()).collect(),
        count: sources.iter().map(|s| s.frameless.count).sum(),
        value,
        sample_type: profile.sample_types.get(index)?.clone(),
    })
}

/// The warning when attribution could not judge part of the profile for
/// lack of names (1% or more of the total).
pub fn unattributed(view: &AttributionView) -> Option<Warning> {
    let unsymbolized = view.owner(UNSYMBOLIZED);
    let share = if view.total == 0 {
        0.0
    } else {
        unsymbolized as f64 / view.total as f64
    };
    if unsymbolized == 0 || share < 0.01 {
        // Noise: a few bytes under unnamed runtime frames.
        return None;
    }
    if view.named_share == 0.0 {
        return Some(Warning::NoNames);
    }
    Some(Warning::Unattributed {
        share,
        sample_type: view.sample_type.clone(),
    })
}

/// The warnings of `profiles` profiles, as one list: exact repeats kept
/// once (first place), and the truncation warnings of single files with the
/// same effect and cause merged into one that counts the `noun` (when
/// `profiles` > 1).
pub fn collect(warnings: Vec<Warning>, profiles: usize, noun: &'static str) -> Vec<Warning> {
    let mut out: Vec<Warning> = Vec::with_capacity(warnings.len());
    for w in warnings {
        if out.contains(&w) {
            continue;
        }
        if profiles > 1
            && let Warning::Truncated(t) = &w
            && t.paths.len() == 1
        {
            let same = out.iter_mut().find_map(|o| match o {
                Warning::Truncated(g)
                    if g.noun == noun && g.effect == t.effect && g.cause == t.cause =>
                {
                    Some(g)
                }
                _ => None,
            });
            match same {
                Some(g) => g.paths.extend(t.paths.iter().cloned()),
                None => out.push(Warning::Truncated(Truncation {
                    of: profiles,
                    noun,
                    ..t.clone()
                })),
            }
            continue;
        }
        out.push(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn truncated(path: &str, effect: TruncationEffect) -> Warning {
        Warning::Truncated(Truncation {
            paths: vec![path.into()],
            of: 1,
            noun: "inputs",
            effect,
            cause: "cut",
        })
    }

    #[test]
    fn one_truncated_input_is_named() {
        let w = truncated(
            "a.heap",
            TruncationEffect::Complete {
                sample_type: "inuse_space".into(),
            },
        );
        assert_eq!(
            w.to_string(),
            "a.heap is a truncated dump: inuse_space is complete; other sample types lost stacks (cut); see `heapcost info`"
        );
    }

    #[test]
    fn snapshots_saying_the_same_become_one_and_repeats_go() {
        let complete = || TruncationEffect::Complete {
            sample_type: "inuse_space".into(),
        };
        let missing = TruncationEffect::Missing {
            value: 2048,
            header: 4096,
            sample_type: ValueType::new("alloc_space", "bytes"),
        };
        let list = vec![
            truncated("1.heap", complete()),
            Warning::NoNames,
            truncated("2.heap", complete()),
            Warning::NoNames,
            truncated("3.heap", missing),
        ];
        let got: Vec<String> = collect(list, 4, "snapshots")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(
            got[0].starts_with("2 of 4 snapshots are truncated dumps: inuse_space is complete")
        );
        assert!(got[2].starts_with("3.heap is a truncated dump: 2kB alloc_space (50"));
        assert!(got[1].starts_with("no frame has a name"));
    }

    #[test]
    fn warnings_serialize_as_their_sentence() {
        let json = serde_json::to_string(&vec![Warning::Symbolize("x: y".into())]).unwrap();
        assert_eq!(json, r#"["x: y"]"#);
    }
}
