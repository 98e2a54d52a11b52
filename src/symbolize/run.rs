//! [`run_with`]: one pass of any [`Symbolizer`] over a profile, and the
//! [`TableSymbolizer`] that tests give it.

use std::collections::HashMap;

use super::demangle::{self, NameStyle, demangle};
use super::{Frame, MappingFrames, MappingReport, SymbolizeReport, Symbolizer};
use crate::error::Result;
use crate::profile::{Function, FunctionId, Line, Mapping, Profile, RuntimeAddr};

/// Symbolizes `profile` with any [`Symbolizer`] (tests use a table): the
/// locations still without lines are looked up mapping by mapping, their
/// frames demangled and interned as functions, and each mapping's outcome
/// reported.
pub fn run_with(
    profile: &mut Profile,
    symbolizer: &dyn Symbolizer,
    names: NameStyle,
) -> Result<SymbolizeReport> {
    let by_mapping = unnamed_by_mapping(profile);
    let mut report = SymbolizeReport::default();
    let mut functions: HashMap<Function, FunctionId> = profile
        .functions
        .iter()
        .enumerate()
        .filter_map(|(i, f)| Some((f.clone(), FunctionId(u32::try_from(i).ok()?))))
        .collect();
    for (m, locs) in by_mapping.into_iter().enumerate() {
        let mapping = profile.mappings[m].clone();
        let mut entry = MappingReport {
            recorded: mapping.file.clone(),
            file: None,
            how: None,
            build_id: None,
            debug_file: None,
            dwarf: false,
            frames: locs.len(),
            named_frames: 0,
            problem: None,
        };
        if locs.is_empty() {
            report.mappings.push(entry);
            continue;
        }
        let addrs: Vec<RuntimeAddr> = locs
            .iter()
            .map(|&i| profile.locations[i].lookup_address())
            .collect();
        let found = symbolizer.mapping_frames(&mapping, m == 0, &addrs)?;
        report.warnings.extend(found.warnings);
        if let Some(file) = &found.file {
            entry.file = Some(file.path.display().to_string());
            entry.how = Some(file.how.to_string());
            entry.build_id = file.build_id.clone();
            entry.debug_file = file.debug_file.as_ref().map(|p| p.display().to_string());
            entry.dwarf = file.has_dwarf;
        }
        entry.problem = found.problem.as_ref().map(ToString::to_string);
        let named = name_locations(profile, &mut functions, &locs, &found.frames, names);
        entry.named_frames = named.locations;
        let m_mut = &mut profile.mappings[m];
        m_mut.has_functions |= entry.named_frames > 0;
        m_mut.has_filenames |= named.any_line;
        m_mut.has_line_numbers |= named.any_line;
        m_mut.has_inline_frames |= named.any_inline;
        if entry.named_frames < entry.frames && entry.problem.is_none() {
            entry.problem = Some(format!(
                "{} of {} addresses are not covered by the file's symbols",
                entry.frames - entry.named_frames,
                entry.frames
            ));
        }
        report.mappings.push(entry);
    }
    Ok(report)
}

/// For each mapping, the indexes of its locations that have no lines yet.
fn unnamed_by_mapping(profile: &Profile) -> Vec<Vec<usize>> {
    let mut by_mapping: Vec<Vec<usize>> = vec![Vec::new(); profile.mappings.len()];
    for (i, loc) in profile.locations.iter().enumerate() {
        if let Some(m) = loc.mapping
            && loc.lines.is_empty()
            && let Some(list) = by_mapping.get_mut(m.0 as usize)
        {
            list.push(i);
        }
    }
    by_mapping
}

/// What [`name_locations`] did for one mapping.
struct Named {
    /// Locations that got at least one frame.
    locations: usize,
    /// Some location got inlined frames.
    any_inline: bool,
    /// Some frame has a line number.
    any_line: bool,
}

/// Gives the locations `locs` their `frames` (parallel to `locs`) as lines,
/// demangled in `names` style, interning functions through `functions`.
fn name_locations(
    profile: &mut Profile,
    functions: &mut HashMap<Function, FunctionId>,
    locs: &[usize],
    frames: &[Vec<Frame>],
    names: NameStyle,
) -> Named {
    let demangled =
        demangle::demangle_many(frames.iter().flatten().map(|f| f.name.as_str()), names);
    let mut named = Named {
        locations: 0,
        any_inline: false,
        any_line: false,
    };
    for (&li, frames) in locs.iter().zip(frames) {
        if frames.is_empty() {
            continue;
        }
        named.locations += 1;
        named.any_inline |= frames.len() > 1;
        named.any_line |= frames.iter().any(|f| f.line > 0);
        let lines = frames
            .iter()
            .map(|f| {
                let function = Function {
                    name: demangled
                        .get(f.name.as_str())
                        .cloned()
                        .unwrap_or_else(|| demangle(&f.name, names)),
                    system_name: f.name.clone(),
                    file: f.file.clone(),
                    start_line: 0,
                };
                let id = *functions.entry(function.clone()).or_insert_with(|| {
                    profile.functions.push(function);
                    FunctionId(u32::try_from(profile.functions.len() - 1).unwrap_or(u32::MAX))
                });
                Line {
                    function: id,
                    line: i64::from(f.line),
                    column: 0,
                }
            })
            .collect();
        profile.locations[li].lines = lines;
    }
    named
}

/// A fixed table of frames, for tests of later stages without binaries:
/// (mapping base name, file offset) → frames.
#[derive(Debug, Default, Clone)]
pub struct TableSymbolizer {
    /// The table.
    pub frames: HashMap<(String, u64), Vec<Frame>>,
}

impl Symbolizer for TableSymbolizer {
    fn mapping_frames(
        &self,
        mapping: &Mapping,
        _is_main: bool,
        addrs: &[RuntimeAddr],
    ) -> Result<MappingFrames> {
        let frames = addrs
            .iter()
            .map(|a| {
                mapping
                    .file_offset(*a)
                    .and_then(|off| self.frames.get(&(mapping.base_name().to_string(), off.0)))
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        Ok(MappingFrames {
            file: None,
            problem: None,
            frames,
            warnings: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{AddressKind, FileOffset, Location, LocationId, Sample, ValueType, prune};

    fn frame(name: &str) -> Frame {
        Frame {
            name: name.into(),
            file: "f.cc".into(),
            line: 7,
        }
    }

    #[test]
    fn table_symbolizer_names_inline_frames_and_reports() {
        let mapping = Mapping {
            start: RuntimeAddr(0x4000000000),
            limit: RuntimeAddr(0x4001000000),
            offset: FileOffset(0),
            file: "/usr/local/bin/envoy".into(),
            ..Mapping::default()
        };
        let loc = |a: u64| Location {
            address: RuntimeAddr(a),
            kind: AddressKind::ReturnAddress,
            mapping: Some(crate::profile::MappingId(0)),
            lines: vec![],
            is_folded: false,
        };
        let mut p = Profile {
            sample_types: vec![ValueType::new("space", "bytes")],
            mappings: vec![mapping],
            locations: vec![loc(0x4000000101), loc(0x4000000201), loc(0x4000000301)],
            samples: vec![Sample {
                values: vec![10],
                locations: vec![LocationId(0), LocationId(1), LocationId(2)],
                labels: vec![],
            }],
            drop_frames: prune::allocator_drop_frames(),
            ..Profile::default()
        };
        let mut table = TableSymbolizer::default();
        // Lookup addresses are one byte back (return addresses).
        table
            .frames
            .insert(("envoy".into(), 0x100), vec![frame("_Znwm")]);
        table.frames.insert(
            ("envoy".into(), 0x200),
            vec![
                frame("_ZN5Envoy6Buffer5Slice10newStorageEm"),
                frame("_ZN5Envoy6Buffer9OwnedImpl3addEPKvm"),
            ],
        );
        let report = run_with(&mut p, &table, NameStyle::Simplified).unwrap();
        assert_eq!(report.mappings[0].frames, 3);
        assert_eq!(report.mappings[0].named_frames, 2);
        assert!(
            report.mappings[0]
                .problem
                .as_deref()
                .unwrap_or("")
                .contains("1 of 3")
        );
        assert_eq!(
            p.location_names(&p.locations[1]),
            vec![
                "Envoy::Buffer::Slice::newStorage",
                "Envoy::Buffer::OwnedImpl::add"
            ]
        );
        assert_eq!(p.location_names(&p.locations[0]), vec!["operator new"]);
        assert_eq!(p.location_names(&p.locations[2]), vec!["envoy+0x301"]);
        assert!(p.mappings[0].has_inline_frames && p.mappings[0].has_functions);
        prune::prune_allocator_frames(&mut p);
        // `operator new` is an allocator frame: the stack now starts at newStorage.
        assert_eq!(p.samples[0].locations, vec![LocationId(1), LocationId(2)]);
        assert_eq!(p.total(0), 10);
    }
}
