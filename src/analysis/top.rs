//! pprof's `top`: flat and cumulative cost per frame name.
//!
//! For each sample, the value goes to the **flat** cost of the leaf frame
//! (innermost inlined frame of the first location) and to the **cumulative**
//! cost of every distinct name on the stack, once per sample even when the
//! name recurs (recursion is not double-counted). The total is the sum over
//! all samples, as pprof reports it, including samples with empty stacks.

use crate::profile::{NameId, NameTable, Profile, ValueType};

/// Sort order of the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TopSort {
    /// By flat cost, then cumulative cost, then name (pprof's default).
    #[default]
    Flat,
    /// By cumulative cost, then flat cost, then name (`pprof -cum`).
    Cum,
}

/// One frame name's costs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TopRow {
    /// The frame name (see [`Profile::location_names`]).
    pub name: String,
    /// Value of the samples whose leaf frame this is.
    pub flat: i64,
    /// Value of the samples with this frame anywhere on the stack.
    pub cum: i64,
}

/// The whole table, every row sorted; renderers cut it to `--nodecount`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Top {
    /// The sample type shown.
    pub sample_type: ValueType,
    /// Sum of the sample type over all samples.
    pub total: i64,
    /// All frames with a nonzero flat or cumulative cost, sorted.
    pub rows: Vec<TopRow>,
}

impl Top {
    /// The first `n` rows (all of them when `n` is 0).
    pub fn first_rows(&self, n: usize) -> &[TopRow] {
        if n == 0 {
            &self.rows
        } else {
            &self.rows[..n.min(self.rows.len())]
        }
    }
}

/// Computes the top table for sample type `index` of `profile`, whose
/// frame names are `names`.
pub fn top(profile: &Profile, names: &NameTable, index: usize, sort: TopSort) -> Top {
    let mut flat = vec![0i64; names.len()];
    let mut cum = vec![0i64; names.len()];
    let mut seen = vec![usize::MAX; names.len()];
    let mut total = 0i64;
    for (si, s) in profile.samples.iter().enumerate() {
        let v = s.values.get(index).copied().unwrap_or(0);
        total = total.saturating_add(v);
        if v == 0 {
            continue;
        }
        let mut frames = names.stack(s).map(|id| id.0 as usize);
        if let Some(leaf) = frames.next() {
            flat[leaf] = flat[leaf].saturating_add(v);
            for n in std::iter::once(leaf).chain(frames) {
                if seen[n] != si {
                    seen[n] = si;
                    cum[n] = cum[n].saturating_add(v);
                }
            }
        }
    }
    let mut rows: Vec<TopRow> = flat
        .into_iter()
        .zip(cum)
        .enumerate()
        .filter(|(_, (f, c))| *f != 0 || *c != 0)
        .map(|(i, (flat, cum))| TopRow {
            name: names.name(NameId(i as u32)).to_string(),
            flat,
            cum,
        })
        .collect();
    rows.sort_by(|a, b| {
        let key = |r: &TopRow| match sort {
            TopSort::Flat => (r.flat.unsigned_abs(), r.cum.unsigned_abs()),
            TopSort::Cum => (r.cum.unsigned_abs(), r.flat.unsigned_abs()),
        };
        key(b).cmp(&key(a)).then_with(|| a.name.cmp(&b.name))
    });
    Top {
        sample_type: profile
            .sample_types
            .get(index)
            .cloned()
            .unwrap_or_else(|| ValueType::new("", "")),
        total,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::*;

    fn loc(a: u64) -> Location {
        Location {
            address: RuntimeAddr(a),
            kind: AddressKind::CallSite,
            mapping: None,
            lines: vec![],
            is_folded: false,
        }
    }

    #[test]
    fn flat_and_cum_with_recursion() {
        let p = Profile {
            sample_types: vec![ValueType::new("space", "bytes")],
            locations: vec![loc(1), loc(2), loc(3)],
            samples: vec![
                // 0x1 <- 0x2 <- 0x2 (recursion) <- 0x3
                Sample {
                    values: vec![10],
                    locations: vec![LocationId(0), LocationId(1), LocationId(1), LocationId(2)],
                    labels: vec![],
                },
                Sample {
                    values: vec![5],
                    locations: vec![LocationId(1), LocationId(2)],
                    labels: vec![],
                },
                Sample {
                    values: vec![7],
                    locations: vec![],
                    labels: vec![],
                },
            ],
            ..Profile::default()
        };
        let t = top(&p, &NameTable::new(&p), 0, TopSort::Flat);
        assert_eq!(t.total, 22);
        assert_eq!(
            t.rows[0],
            TopRow {
                name: "0x1".into(),
                flat: 10,
                cum: 10
            }
        );
        assert_eq!(
            t.rows[1],
            TopRow {
                name: "0x2".into(),
                flat: 5,
                cum: 15
            }
        );
        assert_eq!(
            t.rows[2],
            TopRow {
                name: "0x3".into(),
                flat: 0,
                cum: 15
            }
        );
        let t = top(&p, &NameTable::new(&p), 0, TopSort::Cum);
        assert_eq!(t.rows[0].name, "0x2");
        assert_eq!(t.rows[1].name, "0x3");
    }
}
