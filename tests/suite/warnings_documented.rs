//! Every warning heapcost can print is listed in the README's "Warnings"
//! section, with what to do about it. Each warning is known here by a piece
//! of its text, which must be in the source (so a reworded warning fails
//! this test) and in that section; and the places that make warnings are
//! counted, so a new warning cannot be added without being listed.

use super::common::root;

/// A piece of the text of every warning (and of every reason a mapping has no names).
const WARNINGS: &[&str] = &[
    "is a truncated dump",
    "are truncated dumps",
    "stack(s) without any frame",
    "mapping(s) have no names and show as module+0xoffset",
    "no file found (looked at",
    "(--force uses it anyway)",
    "is not the file that was mapped (its segments do not match the mapping; another build?)",
    "unusable file: ",
    "the file has no symbol table and no debug information",
    "not a file (special or anonymous mapping)",
    "used because of --force",
    "debug-section cache not used: cannot",
    "no frame has a name, so every stack is 'unsymbolized'",
    "is 'unsymbolized' (the code that called the allocator has no name)",
    "samples; the others are left out of every value shown",
];

fn source_text() -> String {
    fn walk(dir: &std::path::Path, out: &mut String) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push_str(&std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let mut out = String::new();
    walk(&root().join("src"), &mut out);
    out
}

#[test]
fn every_warning_is_in_the_readme() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("\n## Warnings\n").expect("a Warnings section");
    let end = readme[start + 1..]
        .find("\n## ")
        .map_or(readme.len(), |e| start + 1 + e);
    let section = &readme[start..end];
    let source = source_text();
    for w in WARNINGS {
        assert!(
            source.contains(w),
            "warning text {w:?} is no longer in src/: update this list and the README"
        );
        assert!(
            section.contains(w),
            "warning {w:?} is not listed in the README's Warnings section"
        );
    }
}

#[test]
fn no_warning_is_made_elsewhere() {
    // Every warning is a variant of analysis::warnings::Warning, made in that
    // module only (the symbolizer's own notes, each listed above, arrive as
    // `Warning::Symbolize`). A new variant must be added to WARNINGS and to
    // the README.
    let module = std::fs::read_to_string(root().join("src/analysis/warnings.rs")).unwrap();
    let start = module.find("pub enum Warning {").expect("the Warning enum");
    let body = &module[start..start + module[start..].find("\n}").unwrap()];
    let variants: Vec<&str> = body
        .lines()
        .filter_map(|l| {
            let l = l.strip_prefix("    ")?;
            let name = l.split([' ', '(', ',']).next()?;
            name.starts_with(char::is_uppercase).then_some(name)
        })
        .collect();
    assert_eq!(
        variants,
        [
            "Symbolize",
            "UnnamedMappings",
            "Truncated",
            "Frameless",
            "Unattributed",
            "NoNames",
            "Tagged"
        ]
    );
    let source = source_text();
    let made = source.matches("Warning::").count() - module.matches("Warning::").count();
    assert_eq!(made, 0, "a Warning made outside src/analysis/warnings.rs");
    assert_eq!(
        source.matches("warnings.push(").count(),
        1,
        "a new warnings.push"
    );
    assert_eq!(source.matches("eprintln!(\"heapcost: warning").count(), 1);
}
