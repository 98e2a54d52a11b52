//! pprof's `CheckValid`: the internal references of a [`Profile`].

use std::fmt;

use super::Profile;

/// Why a profile's tables do not hold together (see [`Profile::validate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalid {
    /// The profile has no sample type.
    NoSampleTypes,
    /// A sample's values do not run parallel to the sample types.
    ValueCount {
        /// The sample's index.
        sample: usize,
        /// How many values it has.
        values: usize,
        /// How many sample types there are.
        types: usize,
    },
    /// A sample refers to a location that is not in the table.
    MissingLocation {
        /// The sample's index.
        sample: usize,
        /// The location id.
        location: u32,
    },
    /// A location refers to a mapping that is not in the table.
    MissingMapping {
        /// The location's index.
        location: usize,
        /// The mapping id.
        mapping: u32,
    },
    /// A location's line refers to a function that is not in the table.
    MissingFunction {
        /// The location's index.
        location: usize,
        /// The function id.
        function: u32,
    },
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::NoSampleTypes => f.write_str("no sample types"),
            Invalid::ValueCount {
                sample,
                values,
                types,
            } => write!(
                f,
                "sample {sample} has {values} values for {types} sample types"
            ),
            Invalid::MissingLocation { sample, location } => {
                write!(f, "sample {sample} refers to missing location {location}")
            }
            Invalid::MissingMapping { location, mapping } => {
                write!(f, "location {location} refers to missing mapping {mapping}")
            }
            Invalid::MissingFunction { location, function } => {
                write!(
                    f,
                    "location {location} refers to missing function {function}"
                )
            }
        }
    }
}

impl std::error::Error for Invalid {}

impl Profile {
    /// Checks the internal references (pprof's `CheckValid`): every sample has
    /// one value per sample type, and every id points into its table.
    pub fn validate(&self) -> Result<(), Invalid> {
        let n = self.sample_types.len();
        if n == 0 {
            return Err(Invalid::NoSampleTypes);
        }
        for (i, s) in self.samples.iter().enumerate() {
            if s.values.len() != n {
                return Err(Invalid::ValueCount {
                    sample: i,
                    values: s.values.len(),
                    types: n,
                });
            }
            if let Some(l) = s.locations.iter().find(|l| self.location(**l).is_none()) {
                return Err(Invalid::MissingLocation {
                    sample: i,
                    location: l.0,
                });
            }
        }
        for (i, loc) in self.locations.iter().enumerate() {
            if let Some(m) = loc.mapping.filter(|m| self.mapping(*m).is_none()) {
                return Err(Invalid::MissingMapping {
                    location: i,
                    mapping: m.0,
                });
            }
            if let Some(l) = loc
                .lines
                .iter()
                .find(|l| self.function(l.function).is_none())
            {
                return Err(Invalid::MissingFunction {
                    location: i,
                    function: l.function.0,
                });
            }
        }
        Ok(())
    }
}
