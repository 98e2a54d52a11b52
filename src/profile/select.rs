//! Choosing one sample type of a profile, by pprof's rules.
//!
//! A command shows one value column. The user names it (`inuse_space`,
//! tcmalloc's `space`, an index `2`) or leaves it to the profile: its
//! `default_sample_type` when it has one, else the last sample type (pprof's
//! rule). `inuse_space` also finds tcmalloc's `space` (and `inuse_objects`
//! its `objects`), so one command line works on gperftools and tcmalloc
//! profiles alike.

use super::Profile;
pub use crate::error::SampleTypeError;

/// Which sample type a command shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum SampleTypeChoice {
    /// The profile's default: `default_sample_type`, else the last one.
    #[default]
    Default,
    /// By position in the profile's sample types (0-based).
    Index(usize),
    /// By name: exact, or without an `inuse_` prefix (`inuse_space` finds `space`).
    Named(String),
}

impl SampleTypeChoice {
    /// The choice a command-line word means: empty is the default, digits an
    /// index, anything else a name.
    pub fn parse(text: &str) -> Self {
        if text.is_empty() {
            SampleTypeChoice::Default
        } else if let Ok(i) = text.parse::<usize>() {
            SampleTypeChoice::Index(i)
        } else {
            SampleTypeChoice::Named(text.to_string())
        }
    }

    /// True for [`SampleTypeChoice::Default`].
    pub fn is_default(&self) -> bool {
        *self == SampleTypeChoice::Default
    }

    /// This choice, or `other` when this one is the default (a flag over a
    /// file's setting).
    pub fn or(self, other: SampleTypeChoice) -> SampleTypeChoice {
        if self.is_default() { other } else { self }
    }
}

impl From<&str> for SampleTypeChoice {
    fn from(text: &str) -> Self {
        SampleTypeChoice::parse(text)
    }
}

impl Profile {
    /// The index of the chosen sample type, by pprof's rules (see the
    /// module docs).
    pub fn select(&self, choice: &SampleTypeChoice) -> Result<usize, SampleTypeError> {
        let count = self.sample_types.len();
        if count == 0 {
            return Err(SampleTypeError::NoSampleTypes);
        }
        let names = || self.sample_types.iter().map(|t| t.kind.as_str());
        match choice {
            SampleTypeChoice::Default => Ok(self
                .default_sample_type
                .as_deref()
                .and_then(|d| names().position(|n| n == d))
                .unwrap_or(count - 1)),
            SampleTypeChoice::Index(i) if *i < count => Ok(*i),
            SampleTypeChoice::Index(i) => {
                Err(SampleTypeError::IndexOutOfRange { index: *i, count })
            }
            SampleTypeChoice::Named(name) => {
                let no_inuse = name.strip_prefix("inuse_").unwrap_or(name);
                names()
                    .position(|n| n == name || n == no_inuse)
                    .ok_or_else(|| SampleTypeError::NotFound {
                        name: name.clone(),
                        available: names().map(str::to_string).collect(),
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ValueType;

    fn profile(types: &[&str]) -> Profile {
        Profile {
            sample_types: types.iter().map(|t| ValueType::new(t, "count")).collect(),
            ..Profile::default()
        }
    }

    fn select(p: &Profile, text: &str) -> Result<usize, SampleTypeError> {
        p.select(&SampleTypeChoice::parse(text))
    }

    #[test]
    fn follows_pprof() {
        let p = profile(&[
            "alloc_objects",
            "alloc_space",
            "inuse_objects",
            "inuse_space",
        ]);
        assert_eq!(select(&p, ""), Ok(3));
        assert_eq!(select(&p, "alloc_space"), Ok(1));
        assert_eq!(select(&p, "2"), Ok(2));
        assert_eq!(
            select(&p, "4"),
            Err(SampleTypeError::IndexOutOfRange { index: 4, count: 4 })
        );
        assert!(select(&p, "space").is_err());
        let p = profile(&["objects", "space"]);
        assert_eq!(select(&p, "inuse_space"), Ok(1));
        assert_eq!(select(&p, "inuse_objects"), Ok(0));
        assert_eq!(select(&p, ""), Ok(1));
        let err = select(&p, "alloc_space").unwrap_err().to_string();
        assert!(err.contains("objects, space"), "{err}");
        assert_eq!(
            profile(&[]).select(&SampleTypeChoice::Default),
            Err(SampleTypeError::NoSampleTypes)
        );
    }

    #[test]
    fn default_sample_type_wins_over_the_last() {
        let mut p = profile(&["objects", "space", "resident_space"]);
        p.default_sample_type = Some("space".into());
        assert_eq!(select(&p, ""), Ok(1));
    }

    #[test]
    fn words_and_back() {
        assert_eq!(SampleTypeChoice::parse(""), SampleTypeChoice::Default);
        assert_eq!(SampleTypeChoice::parse("3"), SampleTypeChoice::Index(3));
        assert_eq!(
            SampleTypeChoice::parse("space"),
            SampleTypeChoice::Named("space".into())
        );
        let flag = SampleTypeChoice::Named("space".into());
        assert_eq!(flag.clone().or(SampleTypeChoice::Index(1)), flag);
        assert_eq!(
            SampleTypeChoice::Default.or(SampleTypeChoice::Index(1)),
            SampleTypeChoice::Index(1)
        );
    }
}
