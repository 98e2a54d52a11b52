//! `info`: what one input is: format, sample types, header totals against the
//! sums of the listed stacks (truncation), and mappings.

use serde::Serialize;
use serde_json::{Map, Value};

use super::sampling::sampling;
use crate::profile::{Format, Profile};

/// The facts about one input file.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    /// The path as given (`-` for stdin).
    pub path: String,
    /// The detected format.
    pub format: Format,
    /// The sample type names, in the profile's order.
    pub sample_types: Vec<String>,
    /// The unit of each sample type, parallel to `sample_types`.
    pub units: Vec<String>,
    /// The sampling period as the profile records it (1 when unsampled; 0
    /// when the writer leaves it out, as tcmalloc does).
    pub period: i64,
    /// How the values relate to the allocations, in words ([`Sampling`]).
    pub sampling: String,
    /// The sample type shown by default (`default_sample_type`, else the last).
    pub default_sample_type: String,
    /// When the profile was taken (Unix nanoseconds), 0 when unknown.
    pub time_nanos: i64,
    /// What it covers, nanoseconds (an allocation profile's length), 0 when none.
    pub duration_nanos: i64,
    /// Totals stated by the header, as written (before unsampling); `null`
    /// for formats without a header (pprof protobuf).
    pub header_totals: Option<Map<String, Value>>,
    /// Sums over the listed stacks, as written (comparable with the header).
    pub listed_totals: Option<Map<String, Value>>,
    /// Header minus listed, per sample type: what no listed stack accounts for.
    pub remainder: Option<Map<String, Value>>,
    /// Sums over the samples after unsampling: pprof's totals.
    pub sample_totals: Map<String, Value>,
    /// True when the header states more than the listed stacks hold.
    pub truncated: bool,
    /// Number of stacks (buckets) with frames: the samples.
    pub stacks: usize,
    /// Stacks with no frame at all, left out of the samples and totals as
    /// `pprof -raw` leaves them out (a dump cut at its buffer can lose the
    /// last stack's frames).
    pub frameless_stacks: usize,
    /// The values of the frameless stacks, per sample type (after unsampling).
    pub frameless_totals: Map<String, Value>,
    /// Number of distinct addresses.
    pub locations: usize,
    /// Addresses that fall in no mapping.
    pub unmapped_locations: usize,
    /// Executable mappings, the main binary first.
    pub mappings: Vec<MappingInfo>,
    /// Per mapping (same order): the file that gave names and how, or why
    /// none did; `null` when symbolization was turned off.
    pub symbolization: Option<Vec<crate::symbolize::MappingReport>>,
}

/// One mapping of an [`Info`].
#[derive(Debug, Clone, Serialize)]
pub struct MappingInfo {
    /// First address, hex.
    pub start: String,
    /// One past the last address, hex.
    pub limit: String,
    /// File offset of `start`, hex.
    pub offset: String,
    /// The path the profile recorded.
    pub file: String,
    /// Build id, empty when unknown.
    pub build_id: String,
    /// Distinct addresses of the profile in this mapping.
    pub locations: usize,
    /// Of those, how many have names.
    pub named_locations: usize,
    /// The default sample type's value of the stacks that pass through this
    /// mapping.
    pub value: i64,
    /// Of `value`, the part whose frames in this mapping all have names.
    pub named_value: i64,
}

/// Per mapping, the default sample type's value of the stacks through it,
/// and the part of it whose frames there all have names.
fn mapping_values(p: &Profile) -> (Vec<i64>, Vec<i64>) {
    let n = p.mappings.len();
    let index = p
        .select(&crate::profile::SampleTypeChoice::Default)
        .unwrap_or(0);
    let mut value = vec![0i64; n];
    let mut named = vec![0i64; n];
    // Per sample: 0 = not touched, 1 = touched and named so far, 2 = touched with an unnamed frame.
    let mut state = vec![0u8; n];
    for s in &p.samples {
        state.iter_mut().for_each(|x| *x = 0);
        for loc in s.locations.iter().filter_map(|l| p.location(*l)) {
            if let Some(slot) = loc.mapping.and_then(|m| state.get_mut(m.0 as usize)) {
                *slot = (*slot).max(if loc.lines.is_empty() { 2 } else { 1 });
            }
        }
        let v = s.values.get(index).copied().unwrap_or(0);
        for (m, st) in state.iter().enumerate() {
            if *st > 0 {
                value[m] = value[m].saturating_add(v);
            }
            if *st == 1 {
                named[m] = named[m].saturating_add(v);
            }
        }
    }
    (value, named)
}

/// Describes a profile read from a single input.
pub fn info(p: &Profile) -> Info {
    let names: Vec<String> = p.sample_types.iter().map(|t| t.kind.clone()).collect();
    let as_map = |values: &[i64]| -> Map<String, Value> {
        names
            .iter()
            .zip(values)
            .map(|(n, v)| (n.clone(), Value::from(*v)))
            .collect()
    };
    let source = p.sources.first();
    let header = source.and_then(|s| s.header.as_ref());
    let totals: Vec<i64> = (0..names.len()).map(|i| p.total(i)).collect();
    let mut per_mapping = vec![0usize; p.mappings.len()];
    let mut named = vec![0usize; p.mappings.len()];
    let mut unmapped = 0;
    for loc in &p.locations {
        match loc
            .mapping
            .map(|m| m.0 as usize)
            .filter(|m| *m < per_mapping.len())
        {
            Some(m) => {
                per_mapping[m] += 1;
                named[m] += usize::from(!loc.lines.is_empty());
            }
            None => unmapped += 1,
        }
    }
    let (value, named_value) = mapping_values(p);
    Info {
        path: source.map(|s| s.path.clone()).unwrap_or_default(),
        format: source.map(|s| s.format).unwrap_or(Format::Pprof),
        units: p.sample_types.iter().map(|t| t.unit.clone()).collect(),
        sample_types: names.clone(),
        period: p.period,
        sampling: sampling(p).to_string(),
        default_sample_type: p
            .select(&crate::profile::SampleTypeChoice::Default)
            .ok()
            .and_then(|i| p.sample_types.get(i))
            .map(|t| t.kind.clone())
            .unwrap_or_default(),
        time_nanos: p.time_nanos,
        duration_nanos: p.duration_nanos,
        header_totals: header.map(|h| as_map(&h.header)),
        listed_totals: header.map(|h| as_map(&h.listed)),
        remainder: header.map(|h| as_map(&h.remainder())),
        sample_totals: as_map(&totals),
        truncated: header.is_some_and(|h| h.truncated()),
        stacks: source.map(|s| s.stacks).unwrap_or(p.samples.len()),
        frameless_stacks: source.map(|s| s.frameless.count).unwrap_or(0),
        frameless_totals: source
            .map(|s| as_map(&s.frameless.values))
            .unwrap_or_default(),
        locations: p.locations.len(),
        unmapped_locations: unmapped,
        mappings: p
            .mappings
            .iter()
            .zip(per_mapping)
            .enumerate()
            .map(|(i, (m, n))| MappingInfo {
                start: format!("{:#x}", m.start.0),
                limit: format!("{:#x}", m.limit.0),
                offset: format!("{:#x}", m.offset.0),
                file: m.file.clone(),
                build_id: m.build_id.clone(),
                locations: n,
                named_locations: named[i],
                value: value[i],
                named_value: named_value[i],
            })
            .collect(),
        symbolization: None,
    }
}
