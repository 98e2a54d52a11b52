//! The pprof protobuf writer: a [`Profile`] (symbolized or not) as a gzipped
//! `profile.proto`, which `pprof`, Pyroscope, Parca and speedscope read.
//!
//! Everything the model holds is written: sample types, values (already
//! unsampled, so readers must not scale them again), labels, mappings with
//! build ids and pprof's `has_*` flags (set by symbolization, so pprof does
//! not look for the binary again), locations with their inlined lines
//! (innermost first), functions with both names, `drop_frames`, period,
//! comments and the default sample type. Return addresses of text dumps are
//! written as the call sites they are symbolized at (`address - 1`), as
//! `pprof -proto` does for legacy profiles; the protobuf reader takes
//! addresses as call sites, so a round trip keeps every name and value.

use std::collections::HashMap;
use std::io::Write;

use prost::Message;

use crate::profile::{Label, LabelValue, Profile};
use crate::proto;

/// Interns strings into a string table whose entry 0 is the empty string.
#[derive(Default)]
struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn new() -> Self {
        let mut s = Strings::default();
        s.add("");
        s
    }

    fn add(&mut self, text: &str) -> i64 {
        if let Some(&i) = self.index.get(text) {
            return i;
        }
        let i = i64::try_from(self.table.len()).unwrap_or(i64::MAX);
        self.table.push(text.to_string());
        self.index.insert(text.to_string(), i);
        i
    }
}

/// 1-based protobuf id for a 0-based table index.
fn id(index: usize) -> u64 {
    u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1)
}

/// The protobuf message for `profile`. The string table is filled in the
/// order of the message's fields, so the output is stable.
fn message(profile: &Profile) -> proto::Profile {
    let mut s = Strings::new();
    let sample_type = profile
        .sample_types
        .iter()
        .map(|v| value_type(&mut s, &v.kind, &v.unit))
        .collect();
    let sample = samples(&mut s, profile);
    let mapping = mappings(&mut s, profile);
    let location = locations(profile);
    let function = functions(&mut s, profile);
    let period_type = profile
        .period_type
        .as_ref()
        .map(|v| value_type(&mut s, &v.kind, &v.unit));
    let drop_frames = s.add(&profile.drop_frames);
    let keep_frames = s.add(&profile.keep_frames);
    let comment = profile.comments.iter().map(|c| s.add(c)).collect();
    let default_sample_type = profile
        .default_sample_type
        .as_deref()
        .map_or(0, |d| s.add(d));
    proto::Profile {
        sample_type,
        sample,
        mapping,
        location,
        function,
        string_table: s.table,
        drop_frames,
        keep_frames,
        time_nanos: profile.time_nanos,
        duration_nanos: profile.duration_nanos,
        period_type,
        period: profile.period,
        comment,
        default_sample_type,
        ..proto::Profile::default()
    }
}

fn value_type(s: &mut Strings, kind: &str, unit: &str) -> proto::ValueType {
    proto::ValueType {
        r#type: s.add(kind),
        unit: s.add(unit),
    }
}

/// The samples, with their labels.
fn samples(s: &mut Strings, profile: &Profile) -> Vec<proto::Sample> {
    profile
        .samples
        .iter()
        .map(|smp| proto::Sample {
            location_id: smp.locations.iter().map(|l| id(l.0 as usize)).collect(),
            value: smp.values.clone(),
            label: smp.labels.iter().map(|l| label(s, l)).collect(),
        })
        .collect()
}

fn label(s: &mut Strings, l: &Label) -> proto::Label {
    let key = s.add(&l.key);
    match &l.value {
        LabelValue::Str(text) => proto::Label {
            key,
            str: s.add(text),
            ..proto::Label::default()
        },
        LabelValue::Num { value, unit } => proto::Label {
            key,
            num: *value,
            num_unit: if unit.is_empty() { 0 } else { s.add(unit) },
            ..proto::Label::default()
        },
    }
}

fn mappings(s: &mut Strings, profile: &Profile) -> Vec<proto::Mapping> {
    profile
        .mappings
        .iter()
        .enumerate()
        .map(|(i, m)| proto::Mapping {
            id: id(i),
            memory_start: m.start.0,
            memory_limit: m.limit.0,
            file_offset: m.offset.0,
            filename: s.add(&m.file),
            build_id: s.add(&m.build_id),
            has_functions: m.has_functions,
            has_filenames: m.has_filenames,
            has_line_numbers: m.has_line_numbers,
            has_inline_frames: m.has_inline_frames,
        })
        .collect()
}

/// The locations, with their inlined lines (innermost first).
fn locations(profile: &Profile) -> Vec<proto::Location> {
    profile
        .locations
        .iter()
        .enumerate()
        .map(|(i, l)| proto::Location {
            id: id(i),
            mapping_id: l.mapping.map_or(0, |m| id(m.0 as usize)),
            address: l.lookup_address().0,
            line: l
                .lines
                .iter()
                .map(|line| proto::Line {
                    function_id: id(line.function.0 as usize),
                    line: line.line,
                    column: line.column,
                })
                .collect(),
            is_folded: l.is_folded,
        })
        .collect()
}

fn functions(s: &mut Strings, profile: &Profile) -> Vec<proto::Function> {
    profile
        .functions
        .iter()
        .enumerate()
        .map(|(i, f)| proto::Function {
            id: id(i),
            name: s.add(&f.name),
            system_name: s.add(&f.system_name),
            filename: s.add(&f.file),
            start_line: f.start_line,
        })
        .collect()
}

/// Writes `profile` as a gzip-compressed protobuf.
pub fn write_pprof(out: &mut dyn Write, profile: &Profile) -> std::io::Result<()> {
    let bytes = message(profile).encode_to_vec();
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    gz.write_all(&bytes)?;
    gz.finish()?;
    Ok(())
}
