//! Successive snapshots of one process: totals and owners per snapshot,
//! the peak, growth between snapshots, and owners that only ever grow.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::Serialize;

use super::attribution::AttributionView;

/// One snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// The file.
    pub path: String,
    /// Its total.
    pub total: i64,
    /// Change from the previous snapshot (0 for the first).
    pub growth: i64,
}

/// One owner over the series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OwnerSeries {
    /// The owner.
    pub name: String,
    /// Its value in each snapshot (0 where absent).
    pub values: Vec<i64>,
    /// Last minus first.
    pub growth: i64,
    /// Its largest value.
    pub peak: i64,
    /// Never shrinks from one snapshot to the next and grows by at least
    /// 0.5% of the last snapshot's total: a leak suspect.
    pub only_grows: bool,
}

/// The series view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// Sample type shown.
    pub sample_type: String,
    /// Its unit.
    pub unit: String,
    /// Snapshots, in numeric order of their file names.
    pub snapshots: Vec<Snapshot>,
    /// Index of the snapshot with the largest total.
    pub peak: usize,
    /// Owners, largest growth first.
    pub owners: Vec<OwnerSeries>,
}

/// Builds the series from one attribution view per snapshot, in order.
pub fn series(paths: &[String], views: &[AttributionView]) -> Series {
    let mut snapshots = Vec::with_capacity(views.len());
    let mut previous = None;
    for (path, v) in paths.iter().zip(views) {
        snapshots.push(Snapshot {
            path: path.clone(),
            total: v.total,
            growth: previous.map_or(0, |p: i64| v.total.saturating_sub(p)),
        });
        previous = Some(v.total);
    }
    let peak = snapshots
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total.cmp(&b.1.total).then(b.0.cmp(&a.0)))
        .map_or(0, |(i, _)| i);
    let last_total = views.last().map_or(0, |v| v.total);
    let mut by_owner: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (i, v) in views.iter().enumerate() {
        for o in &v.owners {
            by_owner
                .entry(&o.name)
                .or_insert_with(|| vec![0; views.len()])[i] = o.value;
        }
    }
    let mut owners: Vec<OwnerSeries> = by_owner
        .into_iter()
        .map(|(name, values)| {
            let first = values.first().copied().unwrap_or(0);
            let last = values.last().copied().unwrap_or(0);
            let only_grows = values.len() > 1
                && last > first
                && (last - first) as f64 >= 0.005 * last_total as f64
                && values.windows(2).all(|w| w[1] >= w[0]);
            OwnerSeries {
                name: name.to_string(),
                growth: last.saturating_sub(first),
                peak: values.iter().copied().max().unwrap_or(0),
                only_grows,
                values,
            }
        })
        .collect();
    owners.sort_by(|a, b| {
        b.growth
            .cmp(&a.growth)
            .then_with(|| b.peak.cmp(&a.peak))
            .then_with(|| a.name.cmp(&b.name))
    });
    let (sample_type, unit) = views
        .first()
        .map(|v| (v.sample_type.clone(), v.unit.clone()))
        .unwrap_or_default();
    Series {
        sample_type,
        unit,
        snapshots,
        peak,
        owners,
    }
}

/// Compares file names the way people number snapshots: runs of digits by
/// value (`envoy.prof.9.heap` before `envoy.prof.10.heap`).
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let n = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let m = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (dx, dy) = (&x[..n], &y[..m]);
                let tx = trim_zeros(dx);
                let ty = trim_zeros(dy);
                let ord = tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty));
                if ord != Ordering::Equal {
                    return ord;
                }
                x = &x[n..];
                y = &y[m..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let z = d.iter().take_while(|&&c| c == b'0').count();
    &d[z.min(d.len().saturating_sub(1))..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(total: i64, owners: &[(&str, i64)]) -> AttributionView {
        AttributionView::of_owners(total, owners)
    }

    #[test]
    fn peak_growth_and_leak_suspects() {
        let paths: Vec<String> = ["a.1", "a.2", "a.3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let views = [
            view(100, &[("ext_proc", 10), ("codec", 90)]),
            view(300, &[("ext_proc", 50), ("codec", 250)]),
            view(200, &[("ext_proc", 120), ("codec", 70), ("stats", 10)]),
        ];
        let s = series(&paths, &views);
        assert_eq!(s.peak, 1);
        let growth: Vec<i64> = s.snapshots.iter().map(|x| x.growth).collect();
        assert_eq!(growth, [0, 200, -100]);
        assert_eq!(s.owners[0].name, "ext_proc");
        assert!(s.owners[0].only_grows, "grew every time");
        let codec = s.owners.iter().find(|o| o.name == "codec").unwrap();
        assert!(!codec.only_grows);
        assert_eq!((codec.growth, codec.peak), (-20, 250));
        let stats = s.owners.iter().find(|o| o.name == "stats").unwrap();
        assert_eq!(stats.values, [0, 0, 10]);
        assert!(stats.only_grows);
        // Growth under 0.5% of the last total is not a suspect.
        let tiny = [view(1000, &[("x", 1)]), view(1000, &[("x", 2)])];
        assert!(!series(&paths[..2], &tiny).owners[0].only_grows);
    }

    #[test]
    fn numeric_order() {
        let mut v = vec![
            "e.prof.10.heap",
            "e.prof.9.heap",
            "e.prof.0002.heap",
            "a.heap",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            [
                "a.heap",
                "e.prof.0002.heap",
                "e.prof.9.heap",
                "e.prof.10.heap"
            ]
        );
    }
}
