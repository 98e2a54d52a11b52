//! The filter-cost view: owner table, kind table, owner x kind matrix and,
//! per owner, its heaviest stacks as short paths.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::sampling;
use crate::attribute::{self, Attributed, Attribution, Column, FrameLabels, Tier};
use crate::profile::ValueType;

/// One owner or kind with its value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelRow {
    /// The label.
    pub name: String,
    /// The tier of its rules; absent for `other` and `unsymbolized`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    /// Sum of the sample type over the samples with this label.
    pub value: i64,
    /// Half the width of `value`'s 95% sampling interval (`value ± margin`);
    /// absent when the profile is not sampled ([`super::sampling`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin: Option<i64>,
    /// `value / total` (0 when the total is 0).
    pub share: f64,
    /// Heaviest short paths (owners only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub top_stacks: Vec<PathRow>,
}

/// A short path and the value of the samples that have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathRow {
    /// Frames root-side first: the owner's entry frame, the leaf-most frame
    /// of each labelled run below it, the kind frame, the leaf; each shown as
    /// its last two name components (`Filter::decodeData`).
    pub path: Vec<String>,
    /// Sum over the samples with this path.
    pub value: i64,
}

/// One cell of the owner x kind matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// Owner label.
    pub owner: String,
    /// Kind label.
    pub kind: String,
    /// Sum over the samples with both labels.
    pub value: i64,
    /// Half the width of its 95% sampling interval; absent when not sampled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin: Option<i64>,
}

/// The whole view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributionView {
    /// The sample type shown.
    pub sample_type: String,
    /// Its unit.
    pub unit: String,
    /// Sum over all samples: what `top` calls the total.
    pub total: i64,
    /// Half the width of the total's 95% sampling interval; absent when the
    /// profile is not sampled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_margin: Option<i64>,
    /// How the profile was sampled, in words, when it was (the margins are
    /// 95% intervals of that sampling).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampling: Option<String>,
    /// Owners, largest first; their values add up to `total`.
    pub owners: Vec<LabelRow>,
    /// Kinds, largest first; their values add up to `total`.
    pub kinds: Vec<LabelRow>,
    /// Non-zero cells, largest first.
    pub matrix: Vec<Cell>,
    /// Share of the total in stacks with at least one named frame.
    pub named_share: f64,
    /// Allocated, resident, swapped, stale and locked bytes and allocator
    /// rounding per owner and kind, for a tcmalloc heap snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub residency: Option<super::residency::Residency>,
}

impl AttributionView {
    /// The value of one owner (0 when absent).
    pub fn owner(&self, name: &str) -> i64 {
        self.owners
            .iter()
            .find(|r| r.name == name)
            .map_or(0, |r| r.value)
    }

    /// The value of one kind (0 when absent).
    pub fn kind(&self, name: &str) -> i64 {
        self.kinds
            .iter()
            .find(|r| r.name == name)
            .map_or(0, |r| r.value)
    }

    /// The value of one matrix cell (0 when absent).
    pub fn cell(&self, owner: &str, kind: &str) -> i64 {
        self.matrix
            .iter()
            .find(|c| c.owner == owner && c.kind == kind)
            .map_or(0, |c| c.value)
    }
}

#[cfg(test)]
impl AttributionView {
    /// A view of `inuse_space` with these owners, each with one short path
    /// (`NAME::entry > Slice::newStorage`), for the tests of the views built
    /// from views.
    pub(crate) fn of_owners(total: i64, owners: &[(&str, i64)]) -> Self {
        AttributionView {
            sample_type: "inuse_space".into(),
            unit: "bytes".into(),
            total,
            total_margin: None,
            sampling: None,
            owners: owners
                .iter()
                .map(|&(name, value)| LabelRow {
                    name: name.into(),
                    tier: None,
                    value,
                    margin: None,
                    share: 0.0,
                    top_stacks: vec![PathRow {
                        path: vec![format!("{name}::entry"), "Slice::newStorage".into()],
                        value,
                    }],
                })
                .collect(),
            kinds: Vec::new(),
            matrix: Vec::new(),
            named_share: 1.0,
            residency: None,
        }
    }
}

/// Builds the view of sample type `index` of an attributed profile, keeping
/// `stacks` short paths per owner (0: none, and no names are looked at).
pub fn attribution(a: &Attributed, index: usize, stacks: usize) -> AttributionView {
    let (profile, labels) = (&a.profile, &a.labels);
    let how = sampling::sampling(profile);
    let variances = sampling::variances(profile, index, how);
    let sampled = variances.is_some();
    let mut frames: Vec<FrameLabels> = Vec::new();
    let mut owner_values: FxHashMap<u32, Estimate> = FxHashMap::default();
    let mut kind_values: FxHashMap<u32, Estimate> = FxHashMap::default();
    let mut cells: FxHashMap<(u32, u32), Estimate> = FxHashMap::default();
    let mut paths: FxHashMap<(u32, Vec<String>), i64> = FxHashMap::default();
    let (mut total, mut named_value) = (Estimate::default(), 0i64);
    for (i, (sample, &(owner, kind))) in profile.samples.iter().zip(&labels.samples).enumerate() {
        let v = sample.values.get(index).copied().unwrap_or(0);
        if v == 0 {
            continue;
        }
        let var = variances
            .as_ref()
            .and_then(|x| x.get(i))
            .copied()
            .unwrap_or(0.0);
        let e = Estimate(v, var);
        labels.sample_frames(sample, &mut frames);
        total.add(e);
        if frames.iter().any(|f| f.named) {
            named_value = named_value.saturating_add(v);
        }
        owner_values.entry(owner).or_default().add(e);
        kind_values.entry(kind).or_default().add(e);
        cells.entry((owner, kind)).or_default().add(e);
        if stacks > 0 {
            let names = a.names().stack_names(sample);
            let p = paths
                .entry((owner, short_path(&frames, &names)))
                .or_insert(0);
            *p = p.saturating_add(v);
        }
    }
    let mut per_owner = heaviest_paths(paths, stacks);
    let columns = Columns {
        total: total.0,
        sampled,
    };
    let owners = columns.rows(&owner_values, &labels.owners, &mut per_owner);
    let kinds = columns.rows(&kind_values, &labels.kinds, &mut FxHashMap::default());
    let st = profile
        .sample_types
        .get(index)
        .cloned()
        .unwrap_or_else(|| ValueType::new("", ""));
    AttributionView {
        sample_type: st.kind,
        unit: st.unit,
        total: total.0,
        total_margin: sampled.then(|| sampling::margin(total.1)),
        sampling: sampled.then(|| how.to_string()),
        owners,
        kinds,
        matrix: matrix(cells, labels, sampled),
        named_share: share(named_value, total.0),
        residency: super::residency::residency(a),
    }
}

/// A value and its sampling variance, summed over samples.
#[derive(Debug, Clone, Copy, Default)]
struct Estimate(i64, f64);

impl Estimate {
    fn add(&mut self, other: Estimate) {
        self.0 = self.0.saturating_add(other.0);
        self.1 += other.1;
    }
}

/// What the rows of a column need besides their values.
struct Columns {
    total: i64,
    sampled: bool,
}

/// The `stacks` heaviest short paths of each owner.
fn heaviest_paths(
    paths: FxHashMap<(u32, Vec<String>), i64>,
    stacks: usize,
) -> FxHashMap<u32, Vec<PathRow>> {
    let mut per_owner: FxHashMap<u32, Vec<PathRow>> = FxHashMap::default();
    for ((owner, path), value) in paths {
        per_owner
            .entry(owner)
            .or_default()
            .push(PathRow { path, value });
    }
    for rows in per_owner.values_mut() {
        rows.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.path.cmp(&b.path)));
        rows.truncate(stacks);
    }
    per_owner
}

impl Columns {
    /// The non-zero labels of one column, largest first, with their paths.
    fn rows(
        &self,
        values: &FxHashMap<u32, Estimate>,
        all: &[attribute::Label],
        per: &mut FxHashMap<u32, Vec<PathRow>>,
    ) -> Vec<LabelRow> {
        let mut rows: Vec<LabelRow> = values
            .iter()
            .filter(|&(_, e)| e.0 != 0)
            .filter_map(|(&i, &Estimate(value, var))| {
                let label = all.get(i as usize)?;
                Some(LabelRow {
                    name: label.name.clone(),
                    tier: label.tier,
                    value,
                    margin: self.sampled.then(|| sampling::margin(var)),
                    share: share(value, self.total),
                    top_stacks: per.remove(&i).unwrap_or_default(),
                })
            })
            .collect();
        rows.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.name.cmp(&b.name)));
        rows
    }
}

/// The non-zero owner x kind cells, largest first.
fn matrix(
    cells: FxHashMap<(u32, u32), Estimate>,
    labels: &Attribution,
    sampled: bool,
) -> Vec<Cell> {
    let name = |all: &[attribute::Label], i: u32| {
        all.get(i as usize)
            .map(|l| l.name.clone())
            .unwrap_or_default()
    };
    let mut matrix: Vec<Cell> = cells
        .into_iter()
        .filter(|&(_, e)| e.0 != 0)
        .map(|((o, k), Estimate(value, var))| Cell {
            owner: name(&labels.owners, o),
            kind: name(&labels.kinds, k),
            value,
            margin: sampled.then(|| sampling::margin(var)),
        })
        .collect();
    matrix.sort_by(|a, b| {
        b.value
            .cmp(&a.value)
            .then_with(|| a.owner.cmp(&b.owner))
            .then_with(|| a.kind.cmp(&b.kind))
    });
    matrix
}

fn share(value: i64, total: i64) -> f64 {
    if total == 0 {
        0.0
    } else {
        value as f64 / total as f64
    }
}

/// The short path of a stack (see [`PathRow::path`]): the owner's entry
/// (its root-most frame), then for each run of frames with the same owner
/// label below it, the run's leaf-most named frame, then the kind frame.
/// Stacks without an owner show their three leaf-most frames outside `std::`.
pub fn short_path(frames: &[FrameLabels], names: &[&str]) -> Vec<String> {
    let fallback = || {
        let mut picked: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| {
                n.contains("::") && !n.starts_with("std::") && !n.starts_with("__gnu_cxx::")
            })
            .take(3)
            .collect();
        if picked.is_empty() {
            picked = names.iter().copied().take(3).collect();
        }
        picked.into_iter().rev().map(short_name).collect()
    };
    if frames.len() != names.len() || frames.is_empty() {
        return fallback();
    }
    let Some(o) = attribute::choose(frames, Column::Owner) else {
        return fallback();
    };
    let owner = |i: usize| frames[i].owner.map(|(l, _)| l);
    let label = owner(o);
    let entry = (0..frames.len())
        .rev()
        .find(|&i| owner(i) == label)
        .unwrap_or(o);
    let mut keep: Vec<usize> = vec![entry];
    let mut run: Option<(u32, usize, bool)> = None; // label, node, node is named
    for i in (0..=entry).rev() {
        let this = owner(i);
        match (run, this) {
            (Some((l, _, named)), Some(t)) if l == t => {
                if frames[i].named || !named {
                    run = Some((l, i, frames[i].named));
                }
            }
            _ => {
                if let Some((_, node, _)) = run {
                    keep.push(node);
                }
                run = this.map(|t| (t, i, frames[i].named));
            }
        }
    }
    if let Some((_, node, _)) = run {
        keep.push(node);
    }
    if let Some(mut k) = attribute::choose(frames, Column::Kind) {
        let kind = frames[k].kind.map(|(l, _)| l);
        if !frames[k].named
            && let Some(j) = (k + 1..entry)
                .take_while(|&j| frames[j].kind.map(|(l, _)| l) == kind)
                .find(|&j| frames[j].named)
        {
            k = j;
        }
        if k < entry {
            keep.push(k);
        }
    }
    keep.sort_unstable_by(|a, b| b.cmp(a));
    keep.dedup();
    let mut path: Vec<String> = keep.into_iter().map(|i| short_name(names[i])).collect();
    path.dedup();
    path
}

/// The last two `::` components of a name, ignoring `::` inside brackets:
/// `Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::decodeData`
/// gives `Filter::decodeData`.
pub fn short_name(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut depth = 0i32;
    let mut cuts: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' | b'<' | b'{' | b'[' => depth += 1,
            b')' | b'>' | b'}' | b']' => depth -= 1,
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b':') => {
                cuts.push(i);
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    if cuts.len() < 2 {
        return name.to_string();
    }
    name[cuts[cuts.len() - 2] + 2..].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(
            short_name("Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::decodeData"),
            "Filter::decodeData"
        );
        assert_eq!(short_name("lua_newstate"), "lua_newstate");
        assert_eq!(
            short_name("Envoy::Buffer::Slice::newStorage"),
            "Slice::newStorage"
        );
        assert_eq!(
            short_name(
                "proxy_wasm::v8::V8::getModuleFunctionImpl(std::basic_string_view, std::function*)::{lambda(proxy_wasm::ContextBase*)#1}::operator()"
            ),
            "{lambda(proxy_wasm::ContextBase*)#1}::operator()"
        );
        assert_eq!(short_name("envoy+0x6a7aa4e"), "envoy+0x6a7aa4e");
    }

    fn f(owner: Option<u32>, kind: bool) -> FrameLabels {
        FrameLabels {
            owner: owner.map(|l| {
                (
                    l,
                    if l == 1 {
                        Tier::Filter
                    } else {
                        Tier::Subsystem
                    },
                )
            }),
            kind: kind.then_some((0, Tier::Specific)),
            named: true,
        }
    }

    #[test]
    fn the_ext_proc_path_reads_like_the_seed_analysis() {
        // leaf first: newStorage (kind), reserveSingleSlice, serializeMessage (grpc=2),
        // sendMessageUntyped (grpc), send (ext_proc=1), sendBodyChunk (ext_proc),
        // decodeData (ext_proc), FilterManager::decodeData (conn_manager=3), main
        let frames = [
            f(None, true),
            f(None, false),
            f(Some(2), false),
            f(Some(2), false),
            f(Some(1), false),
            f(Some(1), false),
            f(Some(1), false),
            f(Some(3), false),
            f(None, false),
        ];
        let names = [
            "Envoy::Buffer::Slice::newStorage",
            "Envoy::Buffer::OwnedImpl::reserveSingleSlice",
            "Envoy::Grpc::Common::serializeMessage",
            "Envoy::Grpc::Internal::sendMessageUntyped",
            "Envoy::Extensions::HttpFilters::ExternalProcessing::ExternalProcessorStreamImpl::send",
            "Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::sendBodyChunk",
            "Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::decodeData",
            "Envoy::Http::FilterManager::decodeData",
            "main",
        ];
        assert_eq!(
            short_path(&frames, &names),
            [
                "Filter::decodeData",
                "ExternalProcessorStreamImpl::send",
                "Common::serializeMessage",
                "Slice::newStorage"
            ]
        );
    }
}
