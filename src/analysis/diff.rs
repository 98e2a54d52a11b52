//! What grew and what shrank between a base and a new profile: per owner,
//! per kind (attribution of each side) and per function (flat and cum).

use std::collections::BTreeMap;

use serde::Serialize;

use super::attribution::AttributionView;
use super::top::Top;

/// One name's values on both sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiffRow {
    /// Owner, kind or function name.
    pub name: String,
    /// Value in the base.
    pub base: i64,
    /// Value in the new profile.
    pub new: i64,
    /// `new - base`.
    pub delta: i64,
    /// `delta / base`, as a fraction; `None` when the base is 0.
    pub delta_share: Option<f64>,
    /// Half the width of the 95% sampling interval of `delta` (both sides'
    /// sampling errors combined); absent when neither side is sampled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin: Option<i64>,
}

/// A function's flat and cumulative values on both sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionDiff {
    /// Flat (the function is the leaf).
    #[serde(flatten)]
    pub flat: DiffRow,
    /// Cumulative, base.
    pub cum_base: i64,
    /// Cumulative, new.
    pub cum_new: i64,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    /// Sample type compared.
    pub sample_type: String,
    /// Its unit.
    pub unit: String,
    /// Totals: name `total`.
    pub total: DiffRow,
    /// Owners, largest absolute change first.
    pub owners: Vec<DiffRow>,
    /// Kinds, largest absolute change first.
    pub kinds: Vec<DiffRow>,
    /// Functions by flat change, largest absolute change first; unchanged ones left out.
    pub functions: Vec<FunctionDiff>,
}

impl Diff {
    /// The first `n` function rows (all of them when `n` is 0), as
    /// [`Top::first_rows`](super::top::Top::first_rows) cuts its rows.
    pub fn first_functions(&self, n: usize) -> &[FunctionDiff] {
        if n == 0 {
            &self.functions
        } else {
            &self.functions[..n.min(self.functions.len())]
        }
    }
}

impl DiffRow {
    /// A row for `name` with its value on each side.
    pub fn new(name: &str, base: i64, new: i64) -> Self {
        let delta = new.saturating_sub(base);
        DiffRow {
            name: name.to_string(),
            base,
            new,
            delta,
            delta_share: (base != 0).then(|| delta as f64 / base as f64),
            margin: None,
        }
    }

    /// The same row with the margin of its delta from the two sides'
    /// margins (independent samples: the variances add).
    pub fn with_margins(mut self, base: Option<i64>, new: Option<i64>) -> Self {
        if base.is_some() || new.is_some() {
            let (b, n) = (base.unwrap_or(0) as f64, new.unwrap_or(0) as f64);
            self.margin = Some((b * b + n * n).sqrt().round() as i64);
        }
        self
    }
}

fn row(name: &str, base: i64, new: i64) -> DiffRow {
    DiffRow::new(name, base, new)
}

fn by_delta(a: &DiffRow, b: &DiffRow) -> std::cmp::Ordering {
    b.delta
        .unsigned_abs()
        .cmp(&a.delta.unsigned_abs())
        .then_with(|| b.new.cmp(&a.new))
        .then_with(|| a.name.cmp(&b.name))
}

fn labels(
    base: &[super::attribution::LabelRow],
    new: &[super::attribution::LabelRow],
) -> Vec<DiffRow> {
    type Side = (i64, Option<i64>);
    let mut values: BTreeMap<&str, (Side, Side)> = BTreeMap::new();
    for r in base {
        values.entry(&r.name).or_default().0 = (r.value, r.margin);
    }
    for r in new {
        values.entry(&r.name).or_default().1 = (r.value, r.margin);
    }
    let mut rows: Vec<DiffRow> = values
        .into_iter()
        .map(|(n, ((b, bm), (v, vm)))| row(n, b, v).with_margins(bm, vm))
        .collect();
    rows.sort_by(by_delta);
    rows
}

/// Compares two attribution views: the total, owners and kinds (no
/// functions). The gate compares the views it combined from several runs
/// per side with it.
pub fn compare(b: &AttributionView, n: &AttributionView) -> Diff {
    Diff {
        sample_type: n.sample_type.clone(),
        unit: n.unit.clone(),
        total: row("total", b.total, n.total).with_margins(b.total_margin, n.total_margin),
        owners: labels(&b.owners, &n.owners),
        kinds: labels(&b.kinds, &n.kinds),
        functions: Vec::new(),
    }
}

/// Compares two profiles from their attribution views and top tables
/// (each computed once, by the caller, for the same sample type).
pub fn diff(b: &AttributionView, n: &AttributionView, tb: &Top, tn: &Top) -> Diff {
    let mut funcs: BTreeMap<&str, [i64; 4]> = BTreeMap::new();
    for r in &tb.rows {
        let e = funcs.entry(&r.name).or_default();
        e[0] = r.flat;
        e[2] = r.cum;
    }
    for r in &tn.rows {
        let e = funcs.entry(&r.name).or_default();
        e[1] = r.flat;
        e[3] = r.cum;
    }
    let mut functions: Vec<FunctionDiff> = funcs
        .into_iter()
        .filter(|(_, v)| v[0] != v[1] || v[2] != v[3])
        .map(|(name, v)| FunctionDiff {
            flat: row(name, v[0], v[1]),
            cum_base: v[2],
            cum_new: v[3],
        })
        .collect();
    let cum_delta = |f: &FunctionDiff| f.cum_new.saturating_sub(f.cum_base).unsigned_abs();
    functions.sort_by(|x, y| {
        y.flat
            .delta
            .unsigned_abs()
            .cmp(&x.flat.delta.unsigned_abs())
            .then_with(|| cum_delta(y).cmp(&cum_delta(x)))
            .then_with(|| x.flat.name.cmp(&y.flat.name))
    });
    Diff {
        functions,
        ..compare(b, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_order() {
        let r = row("x", 100, 150);
        assert_eq!((r.delta, r.delta_share), (50, Some(0.5)));
        assert_eq!(row("y", 0, 10).delta_share, None);
        let mut rows = [row("a", 10, 12), row("b", 100, 40), row("c", 0, 30)];
        rows.sort_by(by_delta);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["b", "c", "a"]);
    }
}
