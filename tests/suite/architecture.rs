//! The stages import only earlier stages (docs/architecture.md): read →
//! profile ← symbolize ← attribute ← analysis ← render ← app ← cli, with the
//! foundation modules (error, units, proto, progress) below everything.
//!
//! Every `crate::…` path in `src/` outside comments — `use` lines, grouped
//! `use crate::{a, b::c}` and paths written inline — is checked against the
//! rank of the module that writes it.

use std::path::Path;

use super::common::root;

/// Each top-level module of the library and its rank: a module may name
/// modules of a lower rank, and itself.
const RANKS: &[(&str, u8)] = &[
    ("error", 0),
    ("units", 0),
    ("proto", 0),
    ("progress", 0),
    ("profile", 1),
    ("read", 2),
    ("symbolize", 2),
    ("attribute", 3),
    ("analysis", 4),
    ("render", 5),
    ("app", 6),
];

/// What the crate root re-exports, and from where.
const ROOT_NAMES: &[(&str, &str)] = &[
    ("Error", "error"),
    ("Result", "error"),
    ("Config", "app"),
    ("Command", "app"),
    ("OutputFormat", "app"),
    ("Summary", "app"),
    ("run", "app"),
];

fn rank(module: &str) -> Option<u8> {
    RANKS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

/// The text without `//` comments (doc links name paths too).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level module each `crate::` path of `text` names.
fn named_modules(text: &str) -> Vec<String> {
    let code = code(text);
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group, up to its closing brace; nested
            // groups name their parent first.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.push(first_segment(&item));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(first_segment(&item));
                        item.clear();
                    }
                    _ if depth == 0 => item.push(c),
                    _ => {}
                }
            }
        } else {
            out.push(first_segment(rest));
        }
    }
    out.retain(|m| !m.is_empty() && m != "self");
    out.into_iter()
        .map(|m| {
            ROOT_NAMES
                .iter()
                .find(|(n, _)| *n == m)
                .map_or(m, |(_, module)| module.to_string())
        })
        .collect()
}

fn first_segment(path: &str) -> String {
    path.trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// `file: module names later-or-equal-rank module` for each bad path.
fn violations(module: &str, file: &str, text: &str) -> Vec<String> {
    let Some(own) = rank(module) else {
        return vec![format!("{file}: module {module} has no rank in RANKS")];
    };
    named_modules(text)
        .into_iter()
        .filter(|m| m != module)
        .filter_map(|m| match rank(&m) {
            Some(r) if r < own => None,
            Some(_) => Some(format!("{file}: {module} imports {m}, a later stage")),
            None => Some(format!(
                "{file}: {module} names crate::{m}, which has no rank"
            )),
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_module_imports_a_later_stage() {
    let src = root().join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut bad = Vec::new();
    let mut checked = 0;
    for path in files {
        let rel = path.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs");
        // The crate root, and the binary (which uses the library by name).
        if matches!(module, "lib" | "main" | "cli") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        bad.extend(violations(module, &rel.display().to_string(), &text));
        checked += 1;
    }
    assert!(checked > 50, "only {checked} files read");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_checker_sees_every_way_of_naming_a_module() {
    let text = "use crate::render::text;\n\
                use crate::{profile::Profile, app::{load, io}};\n\
                // crate::cli in a comment does not count\n\
                let x = crate::Config::new();\n\
                fn f() -> crate::Result<()> {}\n";
    assert_eq!(
        named_modules(text),
        ["render", "profile", "app", "app", "error"]
    );
    let v = violations("analysis", "a.rs", text);
    assert_eq!(v.len(), 3, "{v:?}");
    assert!(v[0].contains("analysis imports render"));
    assert!(violations("read", "r.rs", "use crate::symbolize::demangle;")[0].contains("later"));
    assert!(violations("render", "r.rs", "use crate::analysis::top::Top;").is_empty());
    assert!(violations("nowhere", "n.rs", "").len() == 1);
}
