//! The files commands read and write besides profiles: rules, budgets,
//! `/memory` (read), reports, SVGs, comments (written).

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes (or appends) `bytes` to `path`, making its directory if missing.
pub(crate) fn write_file(path: &Path, append: bool, bytes: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true);
    if append {
        options.append(true);
    } else {
        options.write(true).truncate(true);
    }
    // A missing directory is made, as `-o out/report.html` on a fresh
    // checkout expects.
    let parent = path.parent().filter(|d| !d.as_os_str().is_empty());
    parent
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| options.open(path))
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|source| Error::Write {
            path: path.display().to_string(),
            source,
        })
}

/// A text file and the name to show for it in messages.
pub(crate) fn read_text(path: &Path) -> Result<(String, String)> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: shown.clone(),
        source,
    })?;
    Ok((shown, text))
}

/// Writes `bytes` to `path`, or to `out` when there is none.
pub(crate) fn write_to(path: Option<&Path>, out: &mut dyn Write, bytes: &[u8]) -> Result<()> {
    match path {
        Some(p) => write_file(p, false, bytes),
        None => out.write_all(bytes).map_err(Error::Output),
    }
}
