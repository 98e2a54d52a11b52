//! Finding the file behind a mapping, and its detached debug information.
//!
//! The profile records where each file was mapped in the profiled process
//! (`/usr/local/bin/envoy`); the user's copy is elsewhere (`./envoy-static`).
//! Candidates, in order:
//! 1. `--binary` for the main executable (the first mapping), or for a
//!    mapping whose file has the same base name;
//! 2. each `--symbols-path` directory (then each `PPROF_BINARY_PATH` entry):
//!    `DIR/<build id>/<base name>`, `DIR/<recorded path>`, `DIR/<base name>`;
//! 3. the recorded path itself.
//!
//! A file without debug information is completed by a detached debug file:
//! by build id (`DIR/.build-id/ab/cdef….debug` under each symbols path and
//! `/usr/lib/debug`), then by its own name in each symbols path
//! (`DIR/<build id>/<name>`, `DIR/<name>`, `DIR/dbg/<name>`: Envoy's release
//! debug image ships `dbg/envoy` and `dbg/envoy.dwp` for the stripped
//! `envoy`), then by its `.gnu_debuglink` name (beside the file, in its
//! `.debug/`, under `/usr/lib/debug/<its directory>/`). A debug file whose
//! build id differs from the file's is never used.

use std::path::{Path, PathBuf};

use crate::profile::Mapping;

/// Where to look.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchPaths {
    /// The main executable, whatever path the profile recorded (`--binary`).
    pub binary: Option<PathBuf>,
    /// Directories searched by name and build id (`--symbols-path`, then `PPROF_BINARY_PATH`).
    pub dirs: Vec<PathBuf>,
    /// Roots of detached debug files (`/usr/lib/debug` by default).
    pub debug_roots: Vec<PathBuf>,
}

/// How a file was found, for `info` and the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    /// Named by `--binary`.
    Given,
    /// Found in a symbols-path directory.
    SymbolsPath(PathBuf),
    /// At the path the profile recorded.
    Recorded,
}

impl std::fmt::Display for How {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            How::Given => write!(f, "given by --binary"),
            How::SymbolsPath(dir) => write!(f, "found in {}", dir.display()),
            How::Recorded => write!(f, "at the path the profile recorded"),
        }
    }
}

/// The candidate files for a mapping, best first, with how each was found.
pub(crate) fn candidates(
    mapping: &Mapping,
    is_main: bool,
    paths: &SearchPaths,
) -> Vec<(PathBuf, How)> {
    let recorded = mapping.file.trim_end_matches(" (deleted)");
    let base = mapping.base_name();
    let mut out = Vec::new();
    if let Some(bin) = &paths.binary {
        let same_name = bin.file_name().is_some_and(|n| n.to_string_lossy() == base);
        if is_main || same_name {
            out.push((bin.clone(), How::Given));
        }
    }
    if base.is_empty() || base.starts_with('[') {
        return out;
    }
    for dir in &paths.dirs {
        let how = How::SymbolsPath(dir.clone());
        if !mapping.build_id.is_empty() {
            out.push((dir.join(&mapping.build_id).join(base), how.clone()));
        }
        out.push((dir.join(recorded.trim_start_matches('/')), how.clone()));
        out.push((dir.join(base), how));
    }
    out.push((PathBuf::from(recorded), How::Recorded));
    out.retain(|(p, _)| !p.as_os_str().is_empty());
    out
}

/// Detached debug files for a binary, best first.
pub(crate) fn debug_candidates(
    binary: &Path,
    build_id: Option<&str>,
    debuglink: Option<&str>,
    paths: &SearchPaths,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let roots = paths.dirs.iter().chain(&paths.debug_roots);
    if let Some(id) = build_id.filter(|id| id.len() > 2) {
        for root in roots.clone() {
            out.push(
                root.join(".build-id")
                    .join(&id[..2])
                    .join(format!("{}.debug", &id[2..])),
            );
        }
    }
    // Envoy's release layout: the debug image's `dbg/envoy` (full symbols,
    // its `envoy.dwp` beside it) for a stripped production `envoy` with the
    // same build id; or a directory of builds, one per build id.
    if let Some(name) = binary.file_name() {
        for dir in &paths.dirs {
            if let Some(id) = build_id.filter(|id| !id.is_empty()) {
                out.push(dir.join(id).join(name));
            }
            out.push(dir.join(name));
            out.push(dir.join("dbg").join(name));
        }
    }
    if let Some(link) = debuglink.filter(|l| !l.is_empty() && !l.contains('/')) {
        let dir = binary.parent().unwrap_or(Path::new("."));
        out.push(dir.join(link));
        out.push(dir.join(".debug").join(link));
        for root in roots {
            out.push(root.join(dir.strip_prefix("/").unwrap_or(dir)).join(link));
            out.push(root.join(link));
        }
    }
    out.retain(|p| p != binary);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(file: &str, build_id: &str) -> Mapping {
        Mapping {
            file: file.into(),
            build_id: build_id.into(),
            ..Mapping::default()
        }
    }

    #[test]
    fn binary_applies_to_the_main_mapping_and_same_name() {
        let paths = SearchPaths {
            binary: Some("/tmp/envoy-static".into()),
            dirs: vec!["/syms".into()],
            debug_roots: vec![],
        };
        let c = candidates(&mapping("/usr/local/bin/envoy", "abcd"), true, &paths);
        assert_eq!(c[0], (PathBuf::from("/tmp/envoy-static"), How::Given));
        assert_eq!(c[1].0, PathBuf::from("/syms/abcd/envoy"));
        assert_eq!(c[2].0, PathBuf::from("/syms/usr/local/bin/envoy"));
        assert_eq!(c[3].0, PathBuf::from("/syms/envoy"));
        assert_eq!(c[4], (PathBuf::from("/usr/local/bin/envoy"), How::Recorded));
        let c = candidates(&mapping("/lib/libc.so.6", ""), false, &paths);
        assert!(c.iter().all(|(_, h)| *h != How::Given));
        assert!(candidates(&mapping("[vdso]", ""), false, &paths).is_empty());
    }

    #[test]
    fn debug_files_by_build_id_then_link() {
        let paths = SearchPaths {
            binary: None,
            dirs: vec![],
            debug_roots: vec!["/usr/lib/debug".into()],
        };
        let c = debug_candidates(
            Path::new("/opt/bin/app"),
            Some("ab12cd"),
            Some("app.debug"),
            &paths,
        );
        assert_eq!(
            c[0],
            PathBuf::from("/usr/lib/debug/.build-id/ab/12cd.debug")
        );
        assert_eq!(c[1], PathBuf::from("/opt/bin/app.debug"));
        assert_eq!(c[2], PathBuf::from("/opt/bin/.debug/app.debug"));
        assert_eq!(c[3], PathBuf::from("/usr/lib/debug/opt/bin/app.debug"));
    }
}
