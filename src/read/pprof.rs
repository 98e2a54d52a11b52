//! pprof protobuf profiles (`profile.proto`), as written by `pprof -proto`,
//! Go's runtime and tcmalloc's `/heap_dump`. Gzip is removed before this
//! reader runs (see [`super::parse`]).
//!
//! The prost types (`crate::proto`) are used only here and in the writer,
//! `render::pprof`. Every string index and every id is checked, so a
//! corrupt file is an error, never a panic. Addresses are taken as call sites
//! (pprof writers have already moved return addresses back into the call).

use std::collections::HashMap;

use prost::Message;

use crate::error::ParseError;

use super::limits;
use crate::profile::{
    AddressKind, FileOffset, Format, Frameless, Function, FunctionId, Label, LabelValue, Line,
    Location, LocationId, Mapping, MappingId, Profile, RuntimeAddr, Sample, Source, ValueType,
};

use crate::proto;

/// Decodes a protobuf; `Err(None)` when the bytes are not a protobuf at all.
pub(crate) fn parse(data: &[u8]) -> Result<Profile, Option<ParseError>> {
    let p = proto::Profile::decode(data).map_err(|_| None)?;
    if p.sample_type.is_empty() && p.sample.is_empty() && p.string_table.is_empty() {
        return Err(None);
    }
    check_limits(&p).map_err(Some)?;
    convert(p).map_err(|why| Some(ParseError::Protobuf(why)))
}

/// Refuses a profile past one of the structural [`limits`]: locations,
/// mappings, stack depth, and the length of file names.
fn check_limits(p: &proto::Profile) -> Result<(), ParseError> {
    if p.location.len() > limits::MAX_LOCATIONS {
        return Err(ParseError::Limit(super::text::too_many_locations()));
    }
    if p.mapping.len() > limits::MAX_MAPPINGS {
        return Err(ParseError::Limit(format!(
            "{} mappings, more than {} (heapcost's limit; Linux allows a process 65530)",
            p.mapping.len(),
            limits::MAX_MAPPINGS
        )));
    }
    if let Some((i, s)) = p
        .sample
        .iter()
        .enumerate()
        .find(|(_, s)| s.location_id.len() > limits::MAX_STACK_DEPTH)
    {
        return Err(ParseError::Limit(format!(
            "sample {i}: {}",
            super::text::too_deep(s.location_id.len())
        )));
    }
    let length = |index: i64| {
        usize::try_from(index)
            .ok()
            .and_then(|i| p.string_table.get(i))
            .map_or(0, String::len)
    };
    let too_long = |what: String, len: usize| {
        ParseError::Limit(format!(
            "{what} of {len} bytes is longer than {} (heapcost's limit, Linux's PATH_MAX)",
            limits::MAX_PATH_LEN
        ))
    };
    for m in &p.mapping {
        let len = length(m.filename);
        if len > limits::MAX_PATH_LEN {
            return Err(too_long(format!("mapping {}: file name", m.id), len));
        }
    }
    for f in &p.function {
        let len = length(f.filename);
        if len > limits::MAX_PATH_LEN {
            return Err(too_long(
                format!("function {}: source file name", f.id),
                len,
            ));
        }
    }
    Ok(())
}

struct Strings<'a>(&'a [String]);

impl Strings<'_> {
    fn get(&self, index: i64, what: &str) -> Result<String, String> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.0.get(i))
            .cloned()
            .ok_or_else(|| {
                format!(
                    "{what} refers to string {index}, outside the string table of {} entries",
                    self.0.len()
                )
            })
    }

    fn value_type(&self, v: &proto::ValueType, what: &str) -> Result<ValueType, String> {
        Ok(ValueType {
            kind: self.get(v.r#type, what)?,
            unit: self.get(v.unit, what)?,
        })
    }

    fn label(&self, l: &proto::Label) -> Result<Label, String> {
        let key = self.get(l.key, "label key")?.into();
        let value = if l.str != 0 {
            LabelValue::Str(self.get(l.str, "label value")?)
        } else {
            LabelValue::Num {
                value: l.num,
                unit: self.get(l.num_unit, "label unit")?,
            }
        };
        Ok(Label { key, value })
    }
}

/// The model of a decoded protobuf, in the order pprof checks one: strings
/// and sample types, then the mapping, function and location tables (each
/// id unique and non-zero, each reference resolved), then the samples.
/// Errors are the text of a [`ParseError::Protobuf`].
fn convert(p: proto::Profile) -> Result<Profile, String> {
    if p.string_table.first().is_some_and(|s| !s.is_empty()) {
        return Err("string table does not start with the empty string".into());
    }
    let strings = Strings(&p.string_table);
    let sample_types = p
        .sample_type
        .iter()
        .map(|v| strings.value_type(v, "sample type"))
        .collect::<Result<Vec<_>, _>>()?;
    if sample_types.is_empty() {
        return Err("no sample types".into());
    }
    let (mappings, mapping_ids) = convert_mappings(&p, &strings)?;
    let (functions, function_ids) = convert_functions(&p, &strings)?;
    let (locations, location_ids) = convert_locations(&p, &mapping_ids, &function_ids)?;
    let (samples, frameless) = convert_samples(&p, &strings, &sample_types, &location_ids)?;
    let period_type = p
        .period_type
        .as_ref()
        .map(|v| strings.value_type(v, "period type"))
        .transpose()?
        .filter(|v| !v.kind.is_empty() || !v.unit.is_empty());
    let default_sample_type =
        Some(strings.get(p.default_sample_type, "default sample type")?).filter(|s| !s.is_empty());
    let comments = p
        .comment
        .iter()
        .map(|c| strings.get(*c, "comment"))
        .collect::<Result<Vec<_>, _>>()?;
    let stacks = samples.len();
    Ok(Profile {
        sample_types,
        samples,
        locations,
        mappings,
        functions,
        period_type,
        period: p.period,
        default_sample_type,
        drop_frames: strings.get(p.drop_frames, "drop_frames")?,
        keep_frames: strings.get(p.keep_frames, "keep_frames")?,
        comments,
        time_nanos: p.time_nanos,
        duration_nanos: p.duration_nanos,
        sources: vec![Source {
            path: String::new(),
            format: Format::Pprof,
            header: None,
            stacks,
            frameless,
        }],
    })
}

/// The mapping table, and each protobuf mapping id's [`MappingId`].
fn convert_mappings(
    p: &proto::Profile,
    strings: &Strings<'_>,
) -> Result<(Vec<Mapping>, HashMap<u64, MappingId>), String> {
    let mut mapping_ids = HashMap::new();
    let mut mappings = Vec::with_capacity(p.mapping.len());
    for m in &p.mapping {
        if m.id == 0
            || mapping_ids
                .insert(m.id, id32(mappings.len(), MappingId)?)
                .is_some()
        {
            return Err(format!("mapping id {} is zero or repeated", m.id));
        }
        mappings.push(Mapping {
            start: RuntimeAddr(m.memory_start),
            limit: RuntimeAddr(m.memory_limit),
            offset: FileOffset(m.file_offset),
            file: strings.get(m.filename, "mapping file name")?,
            build_id: strings.get(m.build_id, "mapping build id")?,
            has_functions: m.has_functions,
            has_filenames: m.has_filenames,
            has_line_numbers: m.has_line_numbers,
            has_inline_frames: m.has_inline_frames,
        });
    }
    Ok((mappings, mapping_ids))
}

/// The function table, and each protobuf function id's [`FunctionId`].
fn convert_functions(
    p: &proto::Profile,
    strings: &Strings<'_>,
) -> Result<(Vec<Function>, HashMap<u64, FunctionId>), String> {
    let mut function_ids = HashMap::new();
    let mut functions = Vec::with_capacity(p.function.len());
    for f in &p.function {
        if f.id == 0
            || function_ids
                .insert(f.id, id32(functions.len(), FunctionId)?)
                .is_some()
        {
            return Err(format!("function id {} is zero or repeated", f.id));
        }
        functions.push(Function {
            name: strings.get(f.name, "function name")?,
            system_name: strings.get(f.system_name, "function system name")?,
            file: strings.get(f.filename, "function file name")?,
            start_line: f.start_line,
        });
    }
    Ok((functions, function_ids))
}

/// The location table (addresses taken as call sites), and each protobuf
/// location id's [`LocationId`].
fn convert_locations(
    p: &proto::Profile,
    mapping_ids: &HashMap<u64, MappingId>,
    function_ids: &HashMap<u64, FunctionId>,
) -> Result<(Vec<Location>, HashMap<u64, LocationId>), String> {
    let mut location_ids = HashMap::new();
    let mut locations = Vec::with_capacity(p.location.len());
    for l in &p.location {
        if l.id == 0
            || location_ids
                .insert(l.id, id32(locations.len(), LocationId)?)
                .is_some()
        {
            return Err(format!("location id {} is zero or repeated", l.id));
        }
        let mapping = match l.mapping_id {
            0 => None,
            id => Some(
                *mapping_ids
                    .get(&id)
                    .ok_or_else(|| format!("location {} refers to missing mapping {id}", l.id))?,
            ),
        };
        let lines = l
            .line
            .iter()
            .map(|line| {
                Ok(Line {
                    function: *function_ids.get(&line.function_id).ok_or_else(|| {
                        format!(
                            "location {} refers to missing function {}",
                            l.id, line.function_id
                        )
                    })?,
                    line: line.line,
                    column: line.column,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        locations.push(Location {
            address: RuntimeAddr(l.address),
            kind: AddressKind::CallSite,
            mapping,
            lines,
            is_folded: l.is_folded,
        });
    }
    Ok((locations, location_ids))
}

/// The samples with a stack, and the values of those without one.
fn convert_samples(
    p: &proto::Profile,
    strings: &Strings<'_>,
    sample_types: &[ValueType],
    location_ids: &HashMap<u64, LocationId>,
) -> Result<(Vec<Sample>, Frameless), String> {
    let mut samples = Vec::with_capacity(p.sample.len());
    let mut frameless = Frameless::default();
    let mut sums = super::text::ColumnSums::new(sample_types);
    for (i, s) in p.sample.iter().enumerate() {
        if s.value.len() != sample_types.len() {
            return Err(format!(
                "sample {i} has {} values for {} sample types",
                s.value.len(),
                sample_types.len()
            ));
        }
        sums.add(&s.value)
            .map_err(|why| format!("sample {i}: {why}"))?;
        let locations = s
            .location_id
            .iter()
            .map(|id| {
                location_ids
                    .get(id)
                    .copied()
                    .ok_or_else(|| format!("sample {i} refers to missing location {id}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let labels = s
            .label
            .iter()
            .map(|l| strings.label(l))
            .collect::<Result<Vec<_>, String>>()?;
        if locations.is_empty() {
            frameless.add(&s.value);
            continue;
        }
        samples.push(Sample {
            values: s.value.clone(),
            locations,
            labels,
        });
    }
    Ok((samples, frameless))
}

fn id32<T>(len: usize, make: fn(u32) -> T) -> Result<T, String> {
    u32::try_from(len)
        .map(make)
        .map_err(|_| "more than 2^32 table entries".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn minimal() -> proto::Profile {
        proto::Profile {
            sample_type: vec![proto::ValueType { r#type: 1, unit: 2 }],
            sample: vec![proto::Sample {
                location_id: vec![1],
                value: vec![42],
                label: vec![],
            }],
            location: vec![proto::Location {
                id: 1,
                address: 0x1234,
                ..Default::default()
            }],
            string_table: strings(&["", "inuse_space", "bytes"]),
            ..Default::default()
        }
    }

    #[test]
    fn round_trip_minimal() {
        let p = parse(&minimal().encode_to_vec()).unwrap();
        assert_eq!(p.total(0), 42);
        assert_eq!(p.locations[0].kind, AddressKind::CallSite);
    }

    #[test]
    fn out_of_range_ids_are_errors() {
        let mut m = minimal();
        m.sample_type[0].unit = 9;
        assert!(
            matches!(parse(&m.encode_to_vec()), Err(Some(ParseError::Protobuf(e))) if e.contains("string 9"))
        );
        let mut m = minimal();
        m.sample[0].location_id = vec![7];
        assert!(
            matches!(parse(&m.encode_to_vec()), Err(Some(ParseError::Protobuf(e))) if e.contains("location 7"))
        );
        let mut m = minimal();
        m.sample[0].value = vec![1, 2];
        assert!(matches!(
            parse(&m.encode_to_vec()),
            Err(Some(ParseError::Protobuf(_)))
        ));
    }

    #[test]
    fn junk_is_not_a_protobuf() {
        assert!(matches!(parse(b"\xff\xff\xff\xff"), Err(None)));
    }
}
