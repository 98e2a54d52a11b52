//! Keeping only the samples whose labels match, like pprof's `-tagfocus`:
//! `--tag "allocation type=new"`, `--tag bytes=4KiB`, `--tag request=1KiB:64KiB`.
//!
//! A filter names a label key and a value. A value that reads as a size
//! (`4096`, `4KiB`) matches a numeric label of exactly that value; a range
//! `LO:HI` (either side may be empty) matches numeric labels from LO to HI,
//! both included; anything else matches a string label exactly. A sample is
//! kept when every filter matches one of its labels.

use std::fmt;

use super::{LabelValue, Profile, Sample};
use crate::units::parse_size;

/// One `--tag KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    /// The label key (`allocation type`, `bytes`, `request`...).
    pub key: String,
    /// What its value must be.
    pub value: TagValue,
    /// The filter as typed, for messages.
    pub text: String,
}

/// What a label's value must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagValue {
    /// A string label equal to this.
    Str(String),
    /// A numeric label within these bounds (inclusive; `None`: unbounded).
    Num {
        /// The smallest value kept.
        lo: Option<i64>,
        /// The largest value kept.
        hi: Option<i64>,
    },
}

/// A `--tag` that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagError(String);

impl fmt::Display for TagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TagError {}

fn number(text: &str) -> Option<i64> {
    let size = parse_size(text).ok()?;
    i64::try_from(size.value).ok()
}

impl TagFilter {
    /// Reads `KEY=VALUE`.
    pub fn parse(text: &str) -> Result<Self, TagError> {
        let Some((key, value)) = text.split_once('=') else {
            return Err(TagError(format!(
                "{text:?} is not KEY=VALUE (e.g. \"allocation type=new\", bytes=4KiB, request=1KiB:64KiB)"
            )));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(TagError(format!("{text:?} names no label key before '='")));
        }
        let value = match value.split_once(':') {
            Some((lo, hi))
                if [lo, hi]
                    .iter()
                    .all(|s| s.trim().is_empty() || number(s).is_some()) =>
            {
                let bound = |s: &str| (!s.trim().is_empty()).then(|| number(s)).flatten();
                TagValue::Num {
                    lo: bound(lo),
                    hi: bound(hi),
                }
            }
            _ => match number(value) {
                Some(n) => TagValue::Num {
                    lo: Some(n),
                    hi: Some(n),
                },
                None => TagValue::Str(value.to_string()),
            },
        };
        Ok(TagFilter {
            key: key.to_string(),
            value,
            text: text.to_string(),
        })
    }

    /// True when one of the sample's labels matches.
    pub fn matches(&self, sample: &Sample) -> bool {
        sample
            .labels
            .iter()
            .filter(|l| l.key == self.key)
            .any(|l| match (&self.value, &l.value) {
                (TagValue::Str(want), LabelValue::Str(have)) => want == have,
                (TagValue::Num { lo, hi }, LabelValue::Num { value, .. }) => {
                    lo.is_none_or(|lo| *value >= lo) && hi.is_none_or(|hi| *value <= hi)
                }
                _ => false,
            })
    }
}

impl Profile {
    /// Keeps the samples every filter matches; returns how many were left
    /// out (their values leave the totals).
    pub fn retain_tagged(&mut self, filters: &[TagFilter]) -> usize {
        if filters.is_empty() {
            return 0;
        }
        let before = self.samples.len();
        self.samples
            .retain(|s| filters.iter().all(|f| f.matches(s)));
        before - self.samples.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Label;

    fn sample(labels: Vec<(&'static str, LabelValue)>) -> Sample {
        Sample {
            values: vec![1],
            locations: vec![],
            labels: labels
                .into_iter()
                .map(|(k, value)| Label {
                    key: k.into(),
                    value,
                })
                .collect(),
        }
    }

    fn num(value: i64) -> LabelValue {
        LabelValue::Num {
            value,
            unit: "bytes".into(),
        }
    }

    #[test]
    fn strings_numbers_and_ranges() {
        let s = sample(vec![
            ("allocation type", LabelValue::Str("new".into())),
            ("bytes", num(4096)),
        ]);
        let f = |t: &str| TagFilter::parse(t).unwrap();
        assert!(f("allocation type=new").matches(&s));
        assert!(!f("allocation type=malloc").matches(&s));
        assert!(f("bytes=4KiB").matches(&s));
        assert!(f("bytes=4096").matches(&s));
        assert!(!f("bytes=4095").matches(&s));
        assert!(f("bytes=1KiB:64KiB").matches(&s));
        assert!(f("bytes=4KiB:").matches(&s));
        assert!(f("bytes=:4KiB").matches(&s));
        assert!(!f("bytes=:4095").matches(&s));
        assert!(!f("request=4KiB").matches(&s), "no such label");
        assert!(TagFilter::parse("no equals sign").is_err());
        assert!(TagFilter::parse("=x").is_err());
    }

    #[test]
    fn every_filter_must_match() {
        let mut p = Profile {
            samples: vec![
                sample(vec![("a", LabelValue::Str("x".into())), ("b", num(1))]),
                sample(vec![("a", LabelValue::Str("x".into())), ("b", num(2))]),
                sample(vec![("a", LabelValue::Str("y".into()))]),
            ],
            ..Profile::default()
        };
        let filters = [
            TagFilter::parse("a=x").unwrap(),
            TagFilter::parse("b=2").unwrap(),
        ];
        assert_eq!(p.retain_tagged(&filters), 2);
        assert_eq!(p.samples.len(), 1);
        assert_eq!(p.retain_tagged(&[]), 0);
    }
}
