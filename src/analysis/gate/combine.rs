//! Several runs per side made one: every value is the median over the runs.

use std::collections::BTreeMap;

use crate::analysis::attribution::{AttributionView, LabelRow, PathRow};
use crate::attribute;

/// The median of `values` (sorted here); the mean of the middle two,
/// rounded down, for an even count; 0 for none.
pub fn median(values: &mut [i64]) -> i64 {
    values.sort_unstable();
    let n = values.len();
    match n {
        0 => 0,
        _ if n % 2 == 1 => values[n / 2],
        _ => {
            let sum = i128::from(values[n / 2 - 1]) + i128::from(values[n / 2]);
            i64::try_from(sum.div_euclid(2)).unwrap_or(i64::MAX)
        }
    }
}

/// The median of the runs' margins (a run without one counts 0); `None`
/// when no run is sampled.
fn median_margin(margins: impl Iterator<Item = Option<i64>>) -> Option<i64> {
    let all: Vec<Option<i64>> = margins.collect();
    if all.iter().all(Option::is_none) {
        return None;
    }
    let mut values: Vec<i64> = all.into_iter().map(|m| m.unwrap_or(0)).collect();
    Some(median(&mut values))
}

/// One view whose every value (total, owners, kinds, short paths) is the
/// median over `views`, missing counting 0. Rows whose median is 0 are
/// left out; the matrix is left empty.
pub fn combine(views: &[AttributionView]) -> AttributionView {
    let n = views.len();
    let mut totals: Vec<i64> = views.iter().map(|v| v.total).collect();
    let total = median(&mut totals);
    let rows = |pick: fn(&AttributionView) -> &Vec<LabelRow>| {
        let mut values: BTreeMap<&str, (Option<attribute::Tier>, Vec<i64>)> = BTreeMap::new();
        let mut margins: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        let mut paths: BTreeMap<(&str, &[String]), Vec<i64>> = BTreeMap::new();
        for (i, v) in views.iter().enumerate() {
            for r in pick(v) {
                let e = values
                    .entry(&r.name)
                    .or_insert_with(|| (r.tier, vec![0; n]));
                e.1[i] = r.value;
                if let Some(m) = r.margin {
                    margins.entry(&r.name).or_insert_with(|| vec![0; n])[i] = m;
                }
                for p in &r.top_stacks {
                    paths
                        .entry((&r.name, &p.path))
                        .or_insert_with(|| vec![0; n])[i] = p.value;
                }
            }
        }
        let mut stacks: BTreeMap<&str, Vec<PathRow>> = BTreeMap::new();
        for ((owner, path), mut v) in paths {
            let value = median(&mut v);
            if value != 0 {
                stacks.entry(owner).or_default().push(PathRow {
                    path: path.to_vec(),
                    value,
                });
            }
        }
        let mut out: Vec<LabelRow> = values
            .into_iter()
            .filter_map(|(name, (tier, mut v))| {
                let value = median(&mut v);
                let mut top_stacks = stacks.remove(name).unwrap_or_default();
                top_stacks.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.path.cmp(&b.path)));
                let margin = margins.get_mut(name).map(|m| median(m));
                (value != 0 || !top_stacks.is_empty()).then(|| LabelRow {
                    name: name.to_string(),
                    tier,
                    value,
                    margin,
                    share: if total == 0 {
                        0.0
                    } else {
                        value as f64 / total as f64
                    },
                    top_stacks,
                })
            })
            .collect();
        out.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.name.cmp(&b.name)));
        out
    };
    let first = views.first();
    AttributionView {
        sample_type: first.map(|v| v.sample_type.clone()).unwrap_or_default(),
        unit: first.map(|v| v.unit.clone()).unwrap_or_default(),
        total,
        total_margin: median_margin(views.iter().map(|v| v.total_margin)),
        sampling: first.and_then(|v| v.sampling.clone()),
        owners: rows(|v| &v.owners),
        kinds: rows(|v| &v.kinds),
        matrix: Vec::new(),
        residency: None,
        named_share: views
            .iter()
            .map(|v| v.named_share)
            .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.min(s))))
            .unwrap_or(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(total: i64, owners: &[(&str, i64)]) -> AttributionView {
        AttributionView::of_owners(total, owners)
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), 0);
        assert_eq!(median(&mut [5]), 5);
        assert_eq!(median(&mut [9, 1, 5]), 5);
        assert_eq!(median(&mut [1, 4]), 2);
        assert_eq!(median(&mut [i64::MAX, i64::MAX]), i64::MAX);
        assert_eq!(median(&mut [-3, 0]), -2);
    }

    #[test]
    fn one_outlier_run_moves_nothing() {
        let runs = [
            view(100, &[("ext_proc", 60)]),
            view(400, &[("ext_proc", 360)]),
            view(104, &[("ext_proc", 64), ("lua", 2)]),
        ];
        let c = combine(&runs);
        assert_eq!(c.total, 104);
        assert_eq!(c.owner("ext_proc"), 64);
        // lua is in one run of three: its median is 0, and it is left out.
        assert!(c.owners.iter().all(|r| r.name != "lua"));
        assert_eq!(c.owners[0].top_stacks[0].value, 64);
    }
}
