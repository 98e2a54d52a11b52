//! What a Google tcmalloc profile says beside the allocated bytes,
//! per owner and kind: how much of it is resident, swapped out, stale (not
//! touched within tcmalloc's stale scan period: the leak suspects of a
//! single snapshot) and locked, and how much the allocator added by
//! rounding requests up to its size classes (`bytes - request` per object,
//! from each sample's labels).
//!
//! Every column adds up over owners (and over kinds) to the profile's
//! total of that column.

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::attribute::{Attributed, Label};

/// The residency sample types tcmalloc writes, in its order.
const COLUMNS: [&str; 5] = [
    "space",
    "resident_space",
    "swapped_space",
    "stale_space",
    "locked_space",
];

/// One owner's or kind's columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResidencyRow {
    /// The owner or kind.
    pub name: String,
    /// One value per [`Residency::columns`], bytes.
    pub values: Vec<i64>,
    /// Bytes added by rounding requests up (`objects × (bytes - request)`),
    /// when the samples carry both labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rounding: Option<i64>,
}

/// The residency view of one heap snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Residency {
    /// The columns present, from `space`, `resident_space`, `swapped_space`,
    /// `stale_space`, `locked_space`.
    pub columns: Vec<String>,
    /// Column totals.
    pub total: ResidencyRow,
    /// Owners, largest `space` first.
    pub owners: Vec<ResidencyRow>,
    /// Kinds, largest `space` first.
    pub kinds: Vec<ResidencyRow>,
}

/// Per-column sums keyed by label index.
#[derive(Default)]
struct Sums {
    values: Vec<i64>,
    rounding: i64,
}

impl Sums {
    fn add(&mut self, values: &[i64], rounding: i64) {
        if self.values.len() < values.len() {
            self.values.resize(values.len(), 0);
        }
        for (sum, v) in self.values.iter_mut().zip(values) {
            *sum = sum.saturating_add(*v);
        }
        self.rounding = self.rounding.saturating_add(rounding);
    }

    fn row(&self, name: &str, width: usize, rounding: bool) -> ResidencyRow {
        let mut values = self.values.clone();
        values.resize(width, 0);
        ResidencyRow {
            name: name.to_string(),
            values,
            rounding: rounding.then_some(self.rounding),
        }
    }
}

/// The view, for a profile with tcmalloc's residency sample types or its
/// `bytes` and `request` labels (`None` for any other).
pub fn residency(a: &Attributed) -> Option<Residency> {
    let p = &a.profile;
    let index = |kind: &str| p.sample_types.iter().position(|t| t.kind == kind);
    let columns: Vec<(&str, usize)> = COLUMNS
        .iter()
        .filter_map(|&c| Some((c, index(c)?)))
        .collect();
    let objects = index("objects");
    let rounding = objects.is_some()
        && p.samples
            .iter()
            .any(|s| s.num_label("bytes").is_some() && s.num_label("request").is_some());
    // A heap snapshot's residency types, or at least the rounding that the
    // labels of a peak-heap or allocation profile tell.
    if columns.is_empty() || (index("resident_space").is_none() && !rounding) {
        return None;
    }
    let (mut total, mut owners, mut kinds) = (
        Sums::default(),
        FxHashMap::<u32, Sums>::default(),
        FxHashMap::<u32, Sums>::default(),
    );
    let mut values = Vec::with_capacity(columns.len());
    for (s, &(owner, kind)) in p.samples.iter().zip(&a.labels.samples) {
        values.clear();
        values.extend(
            columns
                .iter()
                .map(|&(_, i)| s.values.get(i).copied().unwrap_or(0)),
        );
        let round = match (objects, s.num_label("bytes"), s.num_label("request")) {
            (Some(o), Some(b), Some(r)) => s
                .values
                .get(o)
                .copied()
                .unwrap_or(0)
                .saturating_mul(b.saturating_sub(r)),
            _ => 0,
        };
        total.add(&values, round);
        owners.entry(owner).or_default().add(&values, round);
        kinds.entry(kind).or_default().add(&values, round);
    }
    let width = columns.len();
    let rows = |sums: FxHashMap<u32, Sums>, labels: &[Label]| {
        let mut rows: Vec<ResidencyRow> = sums
            .iter()
            .filter(|(_, s)| s.values.iter().any(|v| *v != 0) || s.rounding != 0)
            .filter_map(|(&i, s)| Some(s.row(&labels.get(i as usize)?.name, width, rounding)))
            .collect();
        rows.sort_by(|a, b| {
            b.values[0]
                .cmp(&a.values[0])
                .then_with(|| a.name.cmp(&b.name))
        });
        rows
    };
    Some(Residency {
        columns: columns.iter().map(|(c, _)| c.to_string()).collect(),
        total: total.row("total", width, rounding),
        owners: rows(owners, &a.labels.owners),
        kinds: rows(kinds, &a.labels.kinds),
    })
}
