//! Stacks in google/pprof's `-traces` spelling, ours and pprof's, and their
//! comparison: the ground truth of symbolization and of the pprof export.

use std::collections::BTreeMap;

use heapcost::profile::Profile;

/// Files pprof was given for the expected traces; frames elsewhere (libc,
/// libstdc++) are compared as `[module]`.
const OWN_FILES: [&str; 3] = ["mini-envoy", "libmini_envoy_ext.so", "liblua5.1.so.0"];

/// Our stacks in pprof's `-traces` spelling: innermost frame first, inline
/// frames marked ` (inline)`, unnamed frames as `[module]`.
pub fn our_traces(p: &Profile) -> Vec<Vec<String>> {
    our_traces_of(p, &OWN_FILES)
}

/// [`our_traces`] for a profile whose expected traces were made from `own`.
pub fn our_traces_of(p: &Profile, own: &[&str]) -> Vec<Vec<String>> {
    p.samples
        .iter()
        .map(|s| {
            let mut frames = Vec::new();
            for loc in s.locations.iter().map(|l| p.location(*l).unwrap()) {
                let module = loc
                    .mapping
                    .and_then(|m| p.mapping(m))
                    .map(|m| m.base_name().to_string())
                    .unwrap_or_default();
                if module.is_empty() && loc.lines.is_empty() {
                    // No mapping holds the address: pprof says `<unknown>`.
                    frames.push("<unknown>".to_string());
                    continue;
                }
                if loc.lines.is_empty() || !own.contains(&module.as_str()) {
                    frames.push(format!("[{module}]"));
                    continue;
                }
                let names = p.location_names(loc);
                let last = names.len() - 1;
                for (i, n) in names.into_iter().enumerate() {
                    frames.push(if i < last { format!("{n} (inline)") } else { n });
                }
            }
            frames
        })
        .collect()
}

/// The stacks of a `pprof -traces` file.
pub fn pprof_traces(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in text.lines() {
        if line.starts_with("-----------+") {
            out.extend(current.take());
            current = Some(Vec::new());
            continue;
        }
        let Some(frames) = current.as_mut() else {
            continue;
        };
        let t = line.trim();
        if t.is_empty()
            || t.starts_with("bytes:")
            || t.contains(':') && !t.contains("::") && t.ends_with(']')
            || is_label_line(t)
        {
            continue;
        }
        // The first frame line starts with the value ("192kB   name").
        let name = if frames.is_empty() {
            t.split_once("   ").map(|(_, n)| n.trim()).unwrap_or(t)
        } else {
            t
        };
        frames.push(name.to_string());
    }
    out.extend(current);
    out.retain(|f| !f.is_empty());
    out
}

/// A `key:  value` label line of `-traces` (tcmalloc's `allocation type:
/// malloc`, `request:  121B`...), printed before a stack's frames.
fn is_label_line(line: &str) -> bool {
    line.split_once(":  ").is_some_and(|(key, _)| {
        !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ' ')
    })
}

/// Fails unless the two lists hold the same stacks, as many times each
/// (in any order); shows up to three stacks of each side that differ.
pub fn compare(ours: Vec<Vec<String>>, theirs: Vec<Vec<String>>, what: &str) {
    let count = |v: Vec<Vec<String>>| {
        let mut m: BTreeMap<Vec<String>, usize> = BTreeMap::new();
        for s in v {
            *m.entry(s).or_default() += 1;
        }
        m
    };
    let (ours, theirs) = (count(ours), count(theirs));
    let only_ours: Vec<_> = ours
        .iter()
        .filter(|(k, n)| theirs.get(*k) != Some(n))
        .take(3)
        .collect();
    let only_theirs: Vec<_> = theirs
        .iter()
        .filter(|(k, n)| ours.get(*k) != Some(n))
        .take(3)
        .collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "{what}: stacks differ\nheapcost only: {only_ours:#?}\npprof only: {only_theirs:#?}"
    );
}
