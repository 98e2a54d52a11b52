//! Folded stacks: the one place where leaf-first stacks become root-first
//! `frame;frame;frame` stacks (Brendan Gregg's format, read by inferno,
//! flamegraph.pl, speedscope and Pyroscope); [`crate::render::folded`]
//! writes them as lines.
//!
//! Frame names are cleaned so a stack always splits back into the same
//! frames: `;` (the separator) becomes `:`, and line breaks become spaces.
//! Stacks with the same cleaned names are summed; they are kept sorted by
//! stack, so the output is byte-stable.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::profile::{NameTable, Profile};

/// Root-first folded stacks and their summed values, sorted by stack.
pub type Folded = BTreeMap<String, i64>;

/// A frame name made safe for a folded line.
pub fn clean(name: &str) -> Cow<'_, str> {
    if name.contains([';', '\n', '\r']) {
        Cow::Owned(
            name.chars()
                .map(|c| match c {
                    ';' => ':',
                    '\n' | '\r' => ' ',
                    c => c,
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(name)
    }
}

/// One root-first folded stack from leaf-first frame names.
pub fn fold_names(names: &[&str]) -> String {
    let mut line = String::with_capacity(names.iter().map(|n| n.len() + 1).sum());
    for (i, name) in names.iter().rev().enumerate() {
        if i > 0 {
            line.push(';');
        }
        line.push_str(&clean(name));
    }
    line
}

/// The folded stacks of sample type `index`, over the samples `keep` accepts
/// (by sample index). Samples whose value is 0 are left out; negative values
/// (a diff written as a profile) are kept.
pub fn fold(
    profile: &Profile,
    names: &NameTable,
    index: usize,
    keep: impl Fn(usize) -> bool,
) -> Folded {
    let mut folded = Folded::new();
    for (i, sample) in profile.samples.iter().enumerate() {
        let v = sample.values.get(index).copied().unwrap_or(0);
        if v == 0 || !keep(i) {
            continue;
        }
        let line = fold_names(&names.stack_names(sample));
        let e = folded.entry(line).or_insert(0);
        *e = e.saturating_add(v);
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_and_reversed() {
        assert_eq!(
            fold_names(&["leaf;x", "mid\nline", "root"]),
            "root;mid line;leaf:x"
        );
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
    }
}
