//! The input of a flamegraph: folded stacks, the owner of every frame name
//! (for colours) and the owners' values (for the legend), optionally for one
//! owner's samples only.

use std::collections::HashMap;

use crate::attribute::{FrameLabels, Labeller, RuleSet};
use crate::profile::Profile;
use crate::render::folded::{Folded, clean, fold_names};

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

/// Folds sample type `index` of `profile`; with `only`, the samples charged
/// to that owner. An owner no sample is charged to is an error naming the
/// owners there are.
pub fn flame(
    profile: &Profile,
    index: usize,
    rules: &RuleSet,
    only: Option<&str>,
) -> Result<Flame, String> {
    let mut labeller = Labeller::new(profile, rules);
    let mut frames: Vec<FrameLabels> = Vec::new();
    let mut flame = Flame::default();
    let mut owner_values: HashMap<u32, i64> = HashMap::new();
    let mut found = only.is_none();
    let mut seen = std::collections::BTreeSet::new();
    let table = profile.location_name_table();
    for sample in &profile.samples {
        let v = sample.values.get(index).copied().unwrap_or(0);
        if v == 0 {
            continue;
        }
        labeller.frames(sample.locations.iter().copied(), &mut frames);
        let (owner, _) = labeller.decide(&frames);
        seen.insert(owner);
        if let Some(name) = only {
            let is = labeller
                .owner_labels()
                .get(owner as usize)
                .is_some_and(|l| l.name == name);
            if !is {
                continue;
            }
            found = true;
        }
        let names = Profile::stack_names_from(&table, sample);
        if names.len() == frames.len() {
            for (name, f) in names.iter().zip(&frames) {
                if let Some((label, _)) = f.owner
                    && let Some(l) = labeller.owner_labels().get(label as usize)
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
    if !found {
        let labels = labeller.owner_labels();
        let mut names: Vec<&str> = seen
            .iter()
            .filter_map(|&i| labels.get(i as usize).map(|l| l.name.as_str()))
            .collect();
        names.sort_unstable();
        let wanted = only.unwrap_or_default();
        let hint = names
            .iter()
            .map(|n| (strsim::jaro_winkler(wanted, n), *n))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, n)| format!("did you mean '{n}'? "))
            .unwrap_or_default();
        return Err(format!(
            "no sample is charged to owner '{wanted}'; {hint}the owners in this profile are: {}",
            names.join(", ")
        ));
    }
    let labels = labeller.owner_labels();
    flame.owners = owner_values
        .into_iter()
        .filter_map(|(i, v)| labels.get(i as usize).map(|l| (l.name.clone(), v)))
        .collect();
    flame
        .owners
        .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(flame)
}
