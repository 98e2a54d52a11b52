//! The frame names of a whole profile, computed once.
//!
//! Every view that prints or groups by frame names (top, the owners' short
//! paths, folded stacks, flamegraphs, diffs) reads them from one
//! [`NameTable`], built once per profile after symbolization: each distinct
//! name is stored once and numbered ([`NameId`]), each location lists the
//! ids of its frames, innermost inlined frame first (as
//! [`Profile::location_names`] names them).

use rustc_hash::FxHashMap;

use super::{LocationId, Profile, Sample};

/// Index of a distinct frame name in a [`NameTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NameId(pub u32);

/// The interned frame names of every location of one profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameTable {
    names: Vec<String>,
    by_location: Vec<Vec<NameId>>,
}

impl NameTable {
    /// Names every location of `profile` (after symbolization: a later
    /// change of names is not seen).
    pub fn new(profile: &Profile) -> Self {
        let mut ids: FxHashMap<String, NameId> = FxHashMap::default();
        let mut names: Vec<String> = Vec::new();
        let by_location = profile
            .locations
            .iter()
            .map(|loc| {
                profile
                    .location_names(loc)
                    .into_iter()
                    .map(|n| {
                        if let Some(&id) = ids.get(&n) {
                            return id;
                        }
                        let id = NameId(u32::try_from(names.len()).unwrap_or(u32::MAX));
                        ids.insert(n.clone(), id);
                        names.push(n);
                        id
                    })
                    .collect()
            })
            .collect();
        NameTable { names, by_location }
    }

    /// How many distinct names there are (ids are `0..len`).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when no location has a name (an empty profile).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The name of `id` (empty for an id of another table).
    pub fn name(&self, id: NameId) -> &str {
        self.names.get(id.0 as usize).map_or("", String::as_str)
    }

    /// The frames of one location, innermost inlined frame first.
    pub fn location(&self, id: LocationId) -> &[NameId] {
        self.by_location
            .get(id.0 as usize)
            .map_or(&[], Vec::as_slice)
    }

    /// The frames of a sample's stack, **leaf first**, inlined frames
    /// expanded (one id per frame, as attribution sees frames).
    pub fn stack<'t>(&'t self, sample: &'t Sample) -> impl Iterator<Item = NameId> + 't {
        sample
            .locations
            .iter()
            .flat_map(|&l| self.location(l).iter().copied())
    }

    /// The names of a sample's stack, leaf first.
    pub fn stack_names<'t>(&'t self, sample: &'t Sample) -> Vec<&'t str> {
        self.stack(sample).map(|id| self.name(id)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{AddressKind, Function, FunctionId, Line, Location, RuntimeAddr};

    #[test]
    fn names_are_interned_and_stacks_leaf_first() {
        let f = |name: &str| Function {
            name: name.into(),
            system_name: name.into(),
            ..Function::default()
        };
        let line = |i: u32| Line {
            function: FunctionId(i),
            line: 0,
            column: 0,
        };
        let loc = |lines: Vec<Line>| Location {
            address: RuntimeAddr(0x10),
            kind: AddressKind::CallSite,
            mapping: None,
            lines,
            is_folded: false,
        };
        let p = Profile {
            functions: vec![f("leaf"), f("inlined"), f("main")],
            locations: vec![loc(vec![line(0), line(1)]), loc(vec![line(2)]), loc(vec![])],
            ..Profile::default()
        };
        let t = NameTable::new(&p);
        assert_eq!(t.len(), 4, "three names and one bare address");
        let s = Sample {
            locations: vec![LocationId(0), LocationId(1), LocationId(0)],
            values: vec![1],
            labels: vec![],
        };
        assert_eq!(
            t.stack_names(&s),
            ["leaf", "inlined", "main", "leaf", "inlined"]
        );
        assert_eq!(t.stack(&s).next(), Some(NameId(0)));
        assert_eq!(t.name(NameId(99)), "");
        assert_eq!(t.location(LocationId(99)), &[] as &[NameId]);
        assert_eq!(t.location(LocationId(2)).len(), 1);
    }
}
