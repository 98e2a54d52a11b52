//! Attribution: every sample gets an **owner** (who caused the bytes) and a
//! **kind** (what was allocated), from rules over its frames' names.
//!
//! - owner: among the frames matched by an owner rule, those of the highest
//!   tier present (filter > subsystem > process); of these, the one nearest
//!   the leaf. So a `Buffer::Slice` filled by `Grpc::Common::serializeMessage`
//!   for `ExternalProcessing::Filter::sendBodyChunk` belongs to `ext_proc`
//!   (filter), not to `grpc` (subsystem).
//! - kind: the same over the kind rules (specific > generic): header strings
//!   built inside `HeaderMapImpl::addCopy` are `header_map`, not `string`.
//! - nothing matched: `other`; nothing matched and the frame that called the
//!   allocator has no name: `unsymbolized` (the stack cannot be judged).
//!
//! Each sample gets exactly one owner and one kind, so both columns add up to
//! the profile's total. Frames are judged by their pprof-style short name
//! (demangled again from the linkage name when `--full-names` is on), and,
//! for frames without a name, by their mapping's file name (`module` rules).
//!
//! Rules are in [`rules`]; the built-in ones in `envoy.toml`.

pub mod rules;

use std::borrow::Cow;
use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use crate::profile::{Location, LocationId, NameTable, Profile, Sample};
use crate::symbolize::{NameStyle, demangle};
pub use rules::{Column, RuleSet, Tier};

/// The label for stacks no rule matched.
pub const OTHER: &str = "other";
/// The label for stacks that cannot be judged for lack of names.
pub const UNSYMBOLIZED: &str = "unsymbolized";

/// A label of one column: an owner or a kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Its name (`ext_proc`, `buffer`, `other`...).
    pub name: String,
    /// The tier of the rules that give it; `None` for `other` and `unsymbolized`.
    pub tier: Option<Tier>,
}

/// One frame of a sample, leaf first, as attribution sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLabels {
    /// Owner label index (into [`Attribution::owners`]) and tier, if an owner rule matched.
    pub owner: Option<(u32, Tier)>,
    /// Kind label index and tier, if a kind rule matched.
    pub kind: Option<(u32, Tier)>,
    /// The frame has a name (not only an address).
    pub named: bool,
}

/// The labels of every sample of a profile, and of every frame.
#[derive(Debug, Clone, Default)]
pub struct Attribution {
    /// Owner labels; indexes in [`Attribution::samples`] point here.
    pub owners: Vec<Label>,
    /// Kind labels.
    pub kinds: Vec<Label>,
    /// Per sample (same order as `Profile::samples`): owner and kind index.
    pub samples: Vec<(u32, u32)>,
    /// Samples whose stacks have at least one named frame.
    pub named_samples: usize,
    /// The frames of every location, innermost inlined frame first, one
    /// after the other; location `i` has `frames[starts[i]..starts[i + 1]]`.
    frames: Vec<FrameLabels>,
    starts: Vec<usize>,
}

impl Attribution {
    /// The owner label of sample `i`.
    pub fn owner_of(&self, i: usize) -> Option<&Label> {
        self.samples
            .get(i)
            .and_then(|&(o, _)| self.owners.get(o as usize))
    }

    /// The kind label of sample `i`.
    pub fn kind_of(&self, i: usize) -> Option<&Label> {
        self.samples
            .get(i)
            .and_then(|&(_, k)| self.kinds.get(k as usize))
    }

    /// The owner label with this name, if any sample or frame has it.
    pub fn owner_index(&self, name: &str) -> Option<u32> {
        let i = self.owners.iter().position(|l| l.name == name)?;
        u32::try_from(i).ok()
    }

    /// The frames of one location, innermost inlined frame first (one per
    /// name of [`crate::profile::NameTable::location`]).
    pub fn location_frames(&self, id: LocationId) -> &[FrameLabels] {
        let i = id.0 as usize;
        match (self.starts.get(i), self.starts.get(i + 1)) {
            (Some(&a), Some(&b)) => self.frames.get(a..b).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The frames of a sample's stack, leaf first, into `out` (cleared).
    pub fn sample_frames(&self, sample: &Sample, out: &mut Vec<FrameLabels>) {
        out.clear();
        for &id in &sample.locations {
            out.extend_from_slice(self.location_frames(id));
        }
    }
}

/// Labels every frame and every sample of `profile` with `rules`: each
/// location is judged once, each sample decided from its locations' frames.
pub fn attribute(profile: &Profile, rules: &RuleSet) -> Attribution {
    let mut labeller = Labeller::new(profile, rules);
    let mut frames = Vec::new();
    let mut starts = Vec::with_capacity(profile.locations.len() + 1);
    for loc in &profile.locations {
        starts.push(frames.len());
        labeller.location_frames(loc, &mut frames);
    }
    starts.push(frames.len());
    let mut attribution = Attribution {
        frames,
        starts,
        ..Attribution::default()
    };
    let mut samples = Vec::with_capacity(profile.samples.len());
    let mut named_samples = 0;
    let mut stack = Vec::new();
    for sample in &profile.samples {
        attribution.sample_frames(sample, &mut stack);
        if stack.iter().any(|f| f.named) {
            named_samples += 1;
        }
        samples.push(labeller.decide(&stack));
    }
    attribution.owners = labeller.owners.labels;
    attribution.kinds = labeller.kinds.labels;
    attribution.samples = samples;
    attribution.named_samples = named_samples;
    attribution
}

/// A profile after the attribute stage: the profile, its labels and its
/// frame names, each computed once and read by every view.
#[derive(Debug, Clone)]
pub struct Attributed {
    /// The (symbolized) profile.
    pub profile: Profile,
    /// Its samples' and frames' owners and kinds.
    pub labels: Attribution,
    names: OnceLock<NameTable>,
}

impl Attributed {
    /// Labels `profile` (symbolize it first).
    pub fn new(profile: Profile, rules: &RuleSet) -> Self {
        let labels = attribute(&profile, rules);
        Attributed {
            profile,
            labels,
            names: OnceLock::new(),
        }
    }

    /// Its frame names, interned; built on first use (a snapshot whose
    /// views need no names, in a series, never builds them).
    pub fn names(&self) -> &NameTable {
        self.names.get_or_init(|| NameTable::new(&self.profile))
    }
}

/// The owner and kind frames chosen on a stack (indexes into its frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// Index of the frame that decided the owner.
    pub owner_frame: Option<usize>,
    /// Index of the frame that decided the kind.
    pub kind_frame: Option<usize>,
}

/// The frame chosen for a column: nearest the leaf among the highest tier.
pub fn choose(frames: &[FrameLabels], column: Column) -> Option<usize> {
    let mut best: Option<(usize, Tier)> = None;
    for (i, f) in frames.iter().enumerate() {
        let hit = match column {
            Column::Owner => f.owner,
            Column::Kind => f.kind,
        };
        if let Some((_, tier)) = hit
            && best.is_none_or(|(_, t)| tier > t)
        {
            best = Some((i, tier));
        }
    }
    best.map(|(i, _)| i)
}

/// Interned labels of one column.
#[derive(Debug, Default)]
struct Labels {
    labels: Vec<Label>,
    index: FxHashMap<String, u32>,
}

impl Labels {
    fn intern(&mut self, name: &str, tier: Option<Tier>) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = u32::try_from(self.labels.len()).unwrap_or(u32::MAX);
        self.labels.push(Label {
            name: name.to_string(),
            tier,
        });
        self.index.insert(name.to_string(), i);
        i
    }
}

/// A frame's owner and kind hits: label index and tier.
type Hits = (Option<(u32, Tier)>, Option<(u32, Tier)>);

/// Per-function and per-mapping labels, computed once, and the frames of
/// locations.
struct Labeller<'a> {
    profile: &'a Profile,
    rules: &'a RuleSet,
    owners: Labels,
    kinds: Labels,
    by_function: Vec<Option<Hits>>,
    by_mapping: FxHashMap<u32, Hits>,
}

impl<'a> Labeller<'a> {
    /// A labeller for one profile.
    fn new(profile: &'a Profile, rules: &'a RuleSet) -> Self {
        Labeller {
            profile,
            rules,
            owners: Labels::default(),
            kinds: Labels::default(),
            by_function: vec![None; profile.functions.len()],
            by_mapping: FxHashMap::default(),
        }
    }

    /// Appends the frames of one location to `out`, innermost inlined
    /// frame first; a location without names is one frame judged by its
    /// module.
    fn location_frames(&mut self, loc: &Location, out: &mut Vec<FrameLabels>) {
        let mut any = false;
        for line in &loc.lines {
            let Some((owner, kind)) = self.function_labels(line.function.0 as usize) else {
                continue;
            };
            any = true;
            out.push(FrameLabels {
                owner,
                kind,
                named: true,
            });
        }
        if !any {
            let (owner, kind) = self.module_labels(loc);
            out.push(FrameLabels {
                owner,
                kind,
                named: false,
            });
        }
    }

    /// The owner and kind indexes for a stack's frames.
    fn decide(&mut self, frames: &[FrameLabels]) -> (u32, u32) {
        let unjudged = frames.first().is_none_or(|f| !f.named);
        let mut pick = |column: Column| {
            let chosen = choose(frames, column).and_then(|i| match column {
                Column::Owner => frames[i].owner,
                Column::Kind => frames[i].kind,
            });
            let labels = match column {
                Column::Owner => &mut self.owners,
                Column::Kind => &mut self.kinds,
            };
            match chosen {
                Some((label, _)) => label,
                None if unjudged => labels.intern(UNSYMBOLIZED, None),
                None => labels.intern(OTHER, None),
            }
        };
        let owner = pick(Column::Owner);
        let kind = pick(Column::Kind);
        (owner, kind)
    }

    /// Labels of a function, or `None` when it has no name.
    fn function_labels(&mut self, index: usize) -> Option<Hits> {
        if let Some(Some(cached)) = self.by_function.get(index) {
            return Some(*cached);
        }
        let f = self.profile.functions.get(index)?;
        let name = match_name(&f.name, &f.system_name);
        if name.is_empty() {
            return None;
        }
        let owner = self
            .rules
            .first_match(Column::Owner, &name)
            .map(|h| (self.owners.intern(&h.label, Some(h.tier)), h.tier));
        let kind = self
            .rules
            .first_match(Column::Kind, &name)
            .map(|h| (self.kinds.intern(&h.label, Some(h.tier)), h.tier));
        if let Some(slot) = self.by_function.get_mut(index) {
            *slot = Some((owner, kind));
        }
        Some((owner, kind))
    }

    fn module_labels(&mut self, loc: &Location) -> Hits {
        let Some(m) = loc.mapping else {
            return (None, None);
        };
        if let Some(cached) = self.by_mapping.get(&m.0) {
            return *cached;
        }
        let module = self
            .profile
            .mapping(m)
            .map(|m| m.base_name().to_string())
            .unwrap_or_default();
        let labels = if module.is_empty() {
            (None, None)
        } else {
            (
                self.rules
                    .first_module_match(Column::Owner, &module)
                    .map(|h| (self.owners.intern(&h.label, Some(h.tier)), h.tier)),
                self.rules
                    .first_module_match(Column::Kind, &module)
                    .map(|h| (self.kinds.intern(&h.label, Some(h.tier)), h.tier)),
            )
        };
        self.by_mapping.insert(m.0, labels);
        labels
    }
}

/// The name rules see: pprof's short name. With `--full-names` the shown
/// name has parameters, so the short one is made again from the linkage name.
pub fn match_name<'n>(name: &'n str, system_name: &'n str) -> Cow<'n, str> {
    if name.is_empty() {
        return Cow::Borrowed(system_name);
    }
    if name.contains('(') && (system_name.starts_with("_Z") || system_name.starts_with("_R")) {
        return Cow::Owned(demangle(system_name, NameStyle::Simplified));
    }
    Cow::Borrowed(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(owner: Option<(u32, Tier)>, kind: Option<(u32, Tier)>) -> FrameLabels {
        FrameLabels {
            owner,
            kind,
            named: true,
        }
    }

    #[test]
    fn highest_tier_nearest_the_leaf() {
        // leaf: kind buffer; grpc (subsystem); ext_proc (filter) x2; conn_manager (subsystem)
        let frames = [
            f(None, Some((0, Tier::Specific))),
            f(Some((1, Tier::Subsystem)), None),
            f(Some((2, Tier::Filter)), None),
            f(Some((3, Tier::Filter)), None),
            f(Some((4, Tier::Subsystem)), None),
        ];
        assert_eq!(choose(&frames, Column::Owner), Some(2));
        assert_eq!(choose(&frames, Column::Kind), Some(0));
        let generic_first = [
            f(None, Some((5, Tier::Generic))),
            f(None, Some((6, Tier::Specific))),
        ];
        assert_eq!(choose(&generic_first, Column::Kind), Some(1));
        assert_eq!(choose(&[f(None, None)], Column::Owner), None);
    }

    #[test]
    fn full_names_are_matched_by_their_short_form() {
        assert_eq!(
            match_name(
                "Envoy::Buffer::Slice::newStorage(unsigned long)",
                "_ZN5Envoy6Buffer5Slice10newStorageEm"
            ),
            "Envoy::Buffer::Slice::newStorage"
        );
        assert_eq!(match_name("lua_newstate", "lua_newstate"), "lua_newstate");
    }
}
