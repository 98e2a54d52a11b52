//! [`ElfSymbolizer`]: the files of a profile's mappings found, opened once,
//! checked against the profile (build id, layout), and looked up on
//! several threads.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{
    FileUsed, Frame, How, MappingFrames, Options, Reason, SymbolizeReport, Symbolizer, cache, elf,
    find, prune, run_with,
};
use crate::error::{Error, Result};
use crate::profile::{Mapping, Profile, RuntimeAddr};

/// What [`ElfSymbolizer::open`] found: the file (if any), why it has no
/// names (if so), and warnings.
type Opened = (Option<(Arc<Loaded>, FileUsed)>, Option<Reason>, Vec<String>);

/// An opened file with the debug information found for it.
#[derive(Debug)]
struct Loaded {
    file: elf::ElfFile,
    debug_file: Option<PathBuf>,
}

/// The real symbolizer: finds ELF files and looks addresses up in them.
/// Files (and their debug information, often hundreds of MB) are opened
/// once per symbolizer, however many profiles or mappings use them.
#[derive(Debug)]
pub struct ElfSymbolizer {
    options: Options,
    files: Mutex<HashMap<PathBuf, Arc<Loaded>>>,
    sections: Option<cache::SectionCache>,
}

impl ElfSymbolizer {
    /// A symbolizer with these options.
    pub fn new(options: Options) -> Self {
        let sections = options.cache.clone().map(cache::SectionCache::new);
        ElfSymbolizer {
            options,
            files: Mutex::new(HashMap::new()),
            sections,
        }
    }

    /// Symbolizes one profile and prunes its allocator frames (see [`run`]).
    pub fn symbolize(&self, profile: &mut Profile) -> Result<SymbolizeReport> {
        let report = run_with(profile, self, self.options.names)?;
        prune::prune_allocator_frames(profile);
        Ok(report)
    }

    /// The file at `path` with its detached debug information, from the
    /// cache or opened now.
    fn load(&self, path: &std::path::Path) -> Result<Arc<Loaded>, elf::ElfError> {
        if let Some(l) = self.files.lock().ok().and_then(|c| c.get(path).cloned()) {
            return Ok(l);
        }
        let mut file = elf::ElfFile::open(path, self.sections.as_ref())?;
        let mut debug_file = None;
        if !file.has_dwarf() {
            let debug = find::debug_candidates(
                path,
                file.build_id.as_deref(),
                file.debuglink.as_deref(),
                &self.options.paths,
            );
            for d in debug.iter().filter(|d| d.is_file()) {
                if let Ok(dbg) = elf::ElfFile::open(d, self.sections.as_ref()) {
                    if dbg.build_id.is_some()
                        && file.build_id.is_some()
                        && dbg.build_id != file.build_id
                    {
                        continue;
                    }
                    if dbg.has_symbols() {
                        file.adopt_debug_info(dbg);
                        debug_file = Some(d.clone());
                        break;
                    }
                }
            }
        }
        let loaded = Arc::new(Loaded { file, debug_file });
        if let Ok(mut c) = self.files.lock() {
            c.insert(path.to_path_buf(), loaded.clone());
        }
        Ok(loaded)
    }

    /// Opens the first usable candidate file of a mapping.
    fn open(&self, mapping: &Mapping, is_main: bool) -> Result<Opened> {
        let mut warnings = Vec::new();
        let candidates = find::candidates(mapping, is_main, &self.options.paths);
        if candidates.is_empty() {
            return Ok((None, Some(Reason::NoFileName), warnings));
        }
        let mut problem = None;
        let mut tried = Vec::new();
        for (path, how) in candidates {
            tried.push(path.clone());
            if !path.is_file() {
                continue;
            }
            let loaded = match self.load(&path) {
                Ok(l) => l,
                Err(why) => {
                    if how == How::Given {
                        return Err(Error::Symbolize {
                            binary: path.display().to_string(),
                            why: why.to_string(),
                        });
                    }
                    problem = Some(Reason::NotElf(format!("{}: {why}", path.display())));
                    continue;
                }
            };
            // Without build ids, at least the layout must fit: a file found by
            // name may be another build (a newer libc at the same path).
            if mapping.build_id.is_empty()
                && how != How::Given
                && !loaded.file.can_be_mapped_as(mapping)
            {
                problem = Some(Reason::LayoutMismatch { file: path.clone() });
                continue;
            }
            if let Some(found) = &loaded.file.build_id
                && !mapping.build_id.is_empty()
                && !found.eq_ignore_ascii_case(&mapping.build_id)
            {
                let mismatch = Reason::BuildIdMismatch {
                    file: path.clone(),
                    expected: mapping.build_id.clone(),
                    found: found.clone(),
                };
                if !self.options.force {
                    if how == How::Given {
                        return Err(Error::Symbolize {
                            binary: path.display().to_string(),
                            why: format!(
                                "build id {found} differs from the profile's {} for {}: it is not the binary that was profiled (--force uses it anyway)",
                                mapping.build_id, mapping.file
                            ),
                        });
                    }
                    problem = Some(mismatch);
                    continue;
                }
                warnings.push(format!("{mismatch}; used because of --force"));
            }
            let used = FileUsed {
                path,
                how,
                build_id: loaded.file.build_id.clone(),
                debug_file: loaded.debug_file.clone(),
                has_dwarf: loaded.file.has_dwarf(),
            };
            let problem = (!loaded.file.has_symbols()).then_some(Reason::NoSymbols);
            return Ok((Some((loaded, used)), problem, warnings));
        }
        Ok((
            None,
            Some(problem.unwrap_or(Reason::NoFile { tried })),
            warnings,
        ))
    }
}

impl Drop for ElfSymbolizer {
    /// The opened files hold the parsed DWARF of every unit looked at, in
    /// many small allocations (about 50 ms to free for ceph-osd): they are
    /// freed on a thread of their own, so that a caller about to exit does
    /// not wait for it.
    fn drop(&mut self) {
        let files = std::mem::take(match self.files.get_mut() {
            Ok(files) => files,
            Err(poisoned) => poisoned.into_inner(),
        });
        if files.is_empty() {
            return;
        }
        // Without a thread, the files are freed here.
        let _ = std::thread::Builder::new()
            .name("heapcost-free".into())
            .spawn(move || drop(files));
    }
}

impl Symbolizer for ElfSymbolizer {
    fn mapping_frames(
        &self,
        mapping: &Mapping,
        is_main: bool,
        addrs: &[RuntimeAddr],
    ) -> Result<MappingFrames> {
        let (opened, problem, mut warnings) = self.open(mapping, is_main)?;
        warnings.extend(
            self.sections
                .as_ref()
                .and_then(cache::SectionCache::take_note),
        );
        let Some((loaded, used)) = opened else {
            return Ok(MappingFrames {
                file: None,
                problem,
                frames: vec![Vec::new(); addrs.len()],
                warnings,
            });
        };
        let vaddrs: Vec<Option<u64>> = addrs
            .iter()
            .map(|a| {
                mapping
                    .file_offset(*a)
                    .and_then(|off| loaded.file.vaddr_of(off))
            })
            .collect();
        let threads = match self.options.threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        let frames = lookup_parallel(&loaded.file, &vaddrs, threads);
        if let Some(cache) = &self.sections {
            loaded.file.save_function_indexes(cache);
        }
        Ok(MappingFrames {
            file: Some(used),
            problem,
            frames,
            warnings,
        })
    }
}

/// Looks up `vaddrs` on up to `threads` threads (this one included), each
/// with its own resolver, taking [`lookup_groups`](elf::ElfFile::lookup_groups)
/// one at a time: a compilation unit's DWARF is parsed by one thread, not by
/// all, and the largest units go first so that the threads finish together.
fn lookup_parallel(file: &elf::ElfFile, vaddrs: &[Option<u64>], threads: usize) -> Vec<Vec<Frame>> {
    let groups = file.lookup_groups(vaddrs);
    let next = AtomicUsize::new(0);
    let work =
        || -> Vec<(usize, Vec<Frame>)> {
            let resolver = file.resolver();
            let mut done = Vec::new();
            while let Some(group) = groups.get(next.fetch_add(1, Ordering::Relaxed)) {
                done.extend(group.iter().filter_map(|&i| {
                    Some((i, resolver.frames(vaddrs.get(i).copied().flatten()?)))
                }));
            }
            done
        };
    // Below a few hundred addresses a thread costs more than it saves.
    let addresses: usize = groups.iter().map(Vec::len).sum();
    let threads = threads
        .clamp(1, addresses.div_ceil(256).max(1))
        .min(groups.len().max(1));
    let mut out = vec![Vec::new(); vaddrs.len()];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mine = work();
        // A worker that panicked leaves its addresses unnamed.
        let theirs = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default());
        for (i, frames) in mine.into_iter().chain(theirs) {
            if let Some(slot) = out.get_mut(i) {
                *slot = frames;
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_a_reason_not_an_error() {
        let sym = ElfSymbolizer::new(Options::default());
        let mapping = Mapping {
            start: RuntimeAddr(0x1000),
            limit: RuntimeAddr(0x2000),
            file: "/nonexistent/envoy".into(),
            ..Mapping::default()
        };
        let found = sym
            .mapping_frames(&mapping, true, &[RuntimeAddr(0x1100)])
            .unwrap();
        assert!(found.file.is_none());
        assert!(matches!(found.problem, Some(Reason::NoFile { .. })));
        assert_eq!(found.frames, vec![Vec::<Frame>::new()]);
    }

    #[test]
    fn a_given_binary_that_is_not_elf_is_an_error() {
        let mut options = Options::default();
        options.paths.binary = Some(PathBuf::from(file!()));
        let sym = ElfSymbolizer::new(options);
        let mapping = Mapping {
            file: "/usr/local/bin/envoy".into(),
            ..Mapping::default()
        };
        let err = sym
            .mapping_frames(&mapping, true, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an ELF file"), "{err}");
    }
}
