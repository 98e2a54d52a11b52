//! The input of a flamegraph: folded stacks, the owner of every frame name
//! (for colours) and the owners' values (for the legend), optionally for one
//! owner's samples only. Read from the labels the attribute stage gave.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use super::folded::{Folded, clean, fold_names};
use crate::attribute::{Attributed, FrameLabels};

/// What a flamegraph of one profile needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flame {
    /// Root-first stacks and values.
    pub folded: Folded,
    /// Cleaned frame name → the owner its own name is charged to.
    pub frame_owners: HashMap<String, String>,
    /// Every owner of the drawn samples with its value, largest first.
    pub owners: Vec<(String, i64)>,
    /// Total of the drawn samples.
    pub total: i64,
}

/// `--owner NAME` names an owner no sample is charged to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownOwner {
    /// The owner asked for.
    pub wanted: String,
    /// The owners the profile's samples have, sorted.
    pub present: Vec<String>,
}

impl fmt::Display for UnknownOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no sample is charged to owner '{}'; ", self.wanted)?;
        let hint = self
            .present
            .iter()
            .map(|n| (strsim::jaro_winkler(&self.wanted, n), n))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((_, n)) = hint {
            write!(f, "did you mean '{n}'? ")?;
        }
        write!(
            f,
            "the owners in this profile are: {}",
            self.present.join(", ")
        )
    }
}

impl std::error::Error for UnknownOwner {}

/// Folds sample type `index` of `a`; with `only`, the samples charged to
/// that owner. An owner no sample is charged to is an error naming the
/// owners there are.
pub fn flame(a: &Attributed, index: usize, only: Option<&str>) -> Result<Flame, UnknownOwner> {
    let labels = &a.labels;
    let wanted = only.map(|name| labels.owner_index(name));
    let mut frames: Vec<FrameLabels> = Vec::new();
    let mut flame = Flame::default();
    let mut owner_values: HashMap<u32, i64> = HashMap::new();
    let mut seen = BTreeSet::new();
    let mut found = only.is_none();
    for (sample, &(owner, _)) in a.profile.samples.iter().zip(&labels.samples) {
        let v = sample.values.get(index).copied().unwrap_or(0);
        if v == 0 {
            continue;
        }
        seen.insert(owner);
        if let Some(w) = wanted {
            if w != Some(owner) {
                continue;
            }
            found = true;
        }
        labels.sample_frames(sample, &mut frames);
        let names = a.names().stack_names(sample);
        if names.len() == frames.len() {
            for (name, f) in names.iter().zip(&frames) {
                if let Some((label, _)) = f.owner
                    && let Some(l) = labels.owners.get(label as usize)
                {
                    let name = clean(name);
                    if !flame.frame_owners.contains_key(name.as_ref()) {
                        flame.frame_owners.insert(name.into_owned(), l.name.clone());
                    }
                }
            }
        }
        let e = flame.folded.entry(fold_names(&names)).or_insert(0);
        *e = e.saturating_add(v);
        let o = owner_values.entry(owner).or_insert(0);
        *o = o.saturating_add(v);
        flame.total = flame.total.saturating_add(v);
    }
    let name = |i: u32| labels.owners.get(i as usize).map(|l| l.name.clone());
    if !found {
        let mut present: Vec<String> = seen.iter().filter_map(|&i| name(i)).collect();
        present.sort_unstable();
        return Err(UnknownOwner {
            wanted: only.unwrap_or_default().to_string(),
            present,
        });
    }
    flame.owners = owner_values
        .into_iter()
        .filter_map(|(i, v)| Some((name(i)?, v)))
        .collect();
    flame
        .owners
        .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(flame)
}
