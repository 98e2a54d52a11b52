//! Merging several profiles into one by summing, as `pprof` does when given
//! several files.
//!
//! Profiles merge when their sample types (names and units) and period types
//! agree. Mappings, functions and locations are re-interned; samples with the
//! same stack and labels are summed into one. The result keeps every input's
//! [`Source`](super::Source) in order, and the largest sampling period.

use std::hash::BuildHasher;

use rustc_hash::FxHashMap as HashMap;

use super::{Function, FunctionId, Line, Location, LocationId, Mapping, MappingId, Profile};
use crate::error::{Error, Result};

/// Sums `profiles` into one. One profile is returned as is; none is an error.
pub fn merge(profiles: Vec<Profile>) -> Result<Profile> {
    let mut merger = Merger::default();
    for p in profiles {
        merger.add(p)?;
    }
    merger.finish()
}

/// Merges profiles one at a time, in the order given, so that reading the
/// next input can overlap with merging the previous one.
#[derive(Default)]
pub struct Merger {
    /// The first profile, kept as is until a second one arrives.
    first: Option<Profile>,
    /// The running sum, from the second profile on.
    state: Option<State>,
}

impl Merger {
    /// Adds one profile to the sum.
    pub fn add(&mut self, p: Profile) -> Result<()> {
        if let Some(state) = &mut self.state {
            return state.add(p);
        }
        match self.first.take() {
            None => self.first = Some(p),
            Some(first) => {
                let mut state = State::new(&first);
                state.add(first)?;
                state.add(p)?;
                self.state = Some(state);
            }
        }
        Ok(())
    }

    /// The sum of everything added; an error when nothing was.
    pub fn finish(self) -> Result<Profile> {
        match (self.state, self.first) {
            (Some(state), _) => Ok(state.out),
            (None, Some(first)) => Ok(first),
            (None, None) => Err(Error::Usage("no profiles to merge".into())),
        }
    }
}

struct State {
    out: Profile,
    mappings: HashMap<Mapping, MappingId>,
    functions: HashMap<Function, FunctionId>,
    locations: HashMap<Location, LocationId>,
    /// Indices into `out.samples`, hashed by stack and labels.
    samples: hashbrown::HashTable<usize>,
    /// Per sample type, the sum of the absolute values of every sample (and
    /// frameless stack) added, at most `i64::MAX`: the readers keep each
    /// input under it, the merge keeps the sum under it, so every total
    /// computed from the result is exact.
    magnitude: Vec<u64>,
}

impl State {
    fn new(first: &Profile) -> Self {
        State {
            out: Profile {
                sample_types: first.sample_types.clone(),
                period_type: first.period_type.clone(),
                period: first.period,
                default_sample_type: first.default_sample_type.clone(),
                drop_frames: first.drop_frames.clone(),
                keep_frames: first.keep_frames.clone(),
                comments: first.comments.clone(),
                time_nanos: first.time_nanos,
                duration_nanos: first.duration_nanos,
                ..Profile::default()
            },
            mappings: HashMap::default(),
            functions: HashMap::default(),
            locations: HashMap::default(),
            samples: hashbrown::HashTable::new(),
            magnitude: vec![0; first.sample_types.len()],
        }
    }

    fn add(&mut self, p: Profile) -> Result<()> {
        self.check_compatible(&p)?;
        self.check_magnitude(&p)?;
        self.out.samples.reserve(p.samples.len());
        self.out.locations.reserve(p.locations.len());
        self.locations.reserve(p.locations.len());
        let out = &self.out.samples;
        self.samples.reserve(p.samples.len(), |i| {
            rustc_hash::FxBuildHasher.hash_one((&out[*i].locations, &out[*i].labels))
        });
        self.out.period = self.out.period.max(p.period);
        let mapping_ids: Vec<MappingId> = p
            .mappings
            .into_iter()
            .map(|m| intern(&mut self.mappings, &mut self.out.mappings, m, MappingId))
            .collect();
        let function_ids: Vec<FunctionId> = p
            .functions
            .into_iter()
            .map(|f| intern(&mut self.functions, &mut self.out.functions, f, FunctionId))
            .collect();
        let location_ids: Vec<LocationId> = p
            .locations
            .into_iter()
            .map(|l| {
                let loc = Location {
                    mapping: l
                        .mapping
                        .and_then(|m| mapping_ids.get(m.0 as usize).copied()),
                    lines: l
                        .lines
                        .iter()
                        .filter_map(|line| {
                            Some(Line {
                                function: *function_ids.get(line.function.0 as usize)?,
                                ..*line
                            })
                        })
                        .collect(),
                    ..l
                };
                intern(
                    &mut self.locations,
                    &mut self.out.locations,
                    loc,
                    LocationId,
                )
            })
            .collect();
        let hasher = rustc_hash::FxBuildHasher;
        for mut s in p.samples {
            for l in &mut s.locations {
                *l = location_ids.get(l.0 as usize).copied().unwrap_or(*l);
            }
            let hash = hasher.hash_one((&s.locations, &s.labels));
            let out = &mut self.out.samples;
            let same = |i: &usize| out[*i].locations == s.locations && out[*i].labels == s.labels;
            match self.samples.find(hash, same) {
                Some(&i) => {
                    for (a, b) in out[i].values.iter_mut().zip(&s.values) {
                        *a = a.saturating_add(*b);
                    }
                }
                None => {
                    let index = out.len();
                    out.push(s);
                    self.samples.insert_unique(hash, index, |i| {
                        hasher.hash_one((&out[*i].locations, &out[*i].labels))
                    });
                }
            }
        }
        self.out.sources.extend(p.sources);
        Ok(())
    }

    /// Adds `p`'s values to the magnitudes; an error when a sum could overflow.
    fn check_magnitude(&mut self, p: &Profile) -> Result<()> {
        let frameless = p.sources.iter().map(|s| s.frameless.values.as_slice());
        for values in p
            .samples
            .iter()
            .map(|s| s.values.as_slice())
            .chain(frameless)
        {
            for (i, (sum, v)) in self.magnitude.iter_mut().zip(values).enumerate() {
                *sum = match sum
                    .checked_add(v.unsigned_abs())
                    .filter(|s| i64::try_from(*s).is_ok())
                {
                    Some(s) => s,
                    None => {
                        let kind = self
                            .out
                            .sample_types
                            .get(i)
                            .map_or("?", |t| t.kind.as_str());
                        return Err(self.cannot_merge(p, overflow_message(kind)));
                    }
                };
            }
        }
        Ok(())
    }

    /// The error for `p` not merging into the profiles so far.
    fn cannot_merge(&self, p: &Profile, why: String) -> Error {
        let first_path = |q: &Profile| q.sources.first().map(|s| s.path.clone());
        Error::Merge {
            path: first_path(p).unwrap_or_default(),
            first: first_path(&self.out).unwrap_or_default(),
            why,
        }
    }

    fn check_compatible(&self, p: &Profile) -> Result<()> {
        let fail = |why: String| self.cannot_merge(p, why);
        if p.sample_types != self.out.sample_types {
            let names = |t: &[super::ValueType]| {
                t.iter()
                    .map(|v| format!("{}/{}", v.kind, v.unit))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(fail(format!(
                "sample types differ ({} vs {})",
                names(&p.sample_types),
                names(&self.out.sample_types)
            )));
        }
        if p.period_type != self.out.period_type {
            return Err(fail("period types differ".into()));
        }
        Ok(())
    }
}

/// Returns the id of `item` in `table`, appending it when new.
fn intern<T: Clone + Eq + std::hash::Hash, I: Copy>(
    index: &mut HashMap<T, I>,
    table: &mut Vec<T>,
    item: T,
    make_id: fn(u32) -> I,
) -> I {
    if let Some(id) = index.get(&item) {
        return *id;
    }
    let id = make_id(u32::try_from(table.len()).expect("invariant: fewer than 2^32 table entries"));
    table.push(item.clone());
    index.insert(item, id);
    id
}

/// The message for values whose sum would not fit in 64 bits.
pub(crate) fn overflow_message(kind: &str) -> String {
    format!(
        "the {kind} values add up to more than 2^63-1 (in absolute value): totals would overflow 64 bits, so heapcost refuses the input rather than report a wrong number"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{AddressKind, RuntimeAddr, Sample, ValueType};

    fn one(addrs: &[u64], value: i64, path: &str) -> Profile {
        let locations: Vec<Location> = addrs
            .iter()
            .map(|a| Location {
                address: RuntimeAddr(*a),
                kind: AddressKind::ReturnAddress,
                mapping: None,
                lines: vec![],
                is_folded: false,
            })
            .collect();
        Profile {
            sample_types: vec![ValueType::new("space", "bytes")],
            samples: vec![Sample {
                values: vec![value],
                locations: (0..addrs.len() as u32).map(LocationId).collect(),
                labels: vec![],
            }],
            locations,
            period: 1,
            sources: vec![super::super::Source {
                path: path.into(),
                format: super::super::Format::GperftoolsGrowth,
                header: None,
                stacks: 1,
                frameless: super::super::Frameless::default(),
            }],
            ..Profile::default()
        }
    }

    #[test]
    fn same_stacks_are_summed() {
        let p = merge(vec![
            one(&[1, 2], 10, "a"),
            one(&[1, 2], 5, "b"),
            one(&[2], 1, "c"),
        ])
        .unwrap();
        assert_eq!(p.samples.len(), 2);
        assert_eq!(p.total(0), 16);
        assert_eq!(p.locations.len(), 2);
        assert_eq!(p.sources.len(), 3);
        p.validate().unwrap();
    }

    #[test]
    fn identical_stacks_merge_across_table_growth() {
        // Enough distinct stacks to make the sample table grow (and rehash)
        // while merging; every stack appears in all three inputs.
        let many = |path: &str| {
            let mut p = one(&[1], 1, path);
            p.samples = (0..5000u32)
                .map(|i| Sample {
                    values: vec![1],
                    locations: vec![LocationId(0)],
                    labels: vec![crate::profile::Label {
                        key: "n".into(),
                        value: crate::profile::LabelValue::Num {
                            value: i64::from(i),
                            unit: String::new(),
                        },
                    }],
                })
                .collect();
            p
        };
        let p = merge(vec![many("a"), many("b"), many("c")]).unwrap();
        assert_eq!(p.samples.len(), 5000);
        assert!(p.samples.iter().all(|s| s.values == vec![3]));
    }

    #[test]
    fn different_sample_types_refuse() {
        let mut b = one(&[1], 1, "b");
        b.sample_types = vec![ValueType::new("inuse_space", "bytes")];
        let err = merge(vec![one(&[1], 1, "a"), b]).unwrap_err().to_string();
        assert!(err.contains("cannot merge b with a"), "{err}");
    }
}
