//! The CI gate: compares base runs with new runs against budgets and gives
//! a verdict, one check per limit.
//!
//! Each side may be several runs (one dump per load-test run). Every run is
//! read and attributed on its own; then, **for every value separately** (the
//! total, each owner, each kind, each stack), a side's value is the
//! **median** of its runs, a run without the owner counting 0. With one run
//! the median is that run; with two it is their mean (rounded down); with
//! three or more, one outlier run on either side moves nothing. So medians
//! of owners need not add up to the median of the total. The comparison
//! of the two combined sides is [`diff::compare`](super::diff::compare).
//!
//! A limit holds or is broken as [`Bound`] says; a broken limit whose
//! change (new - base, either sign) is smaller than the noise floor passes
//! as [`Status::Noise`]; one whose change is within the sampling error of
//! the two sides (`|delta| <= 1.96·√(Var_base + Var_new)`, see
//! `docs/sampling.md`) passes as [`Status::Unclear`]: the profiles cannot
//! tell it from sampling noise. The verdict fails when any check fails.

mod combine;
mod validate;

use std::collections::BTreeMap;

use serde::Serialize;

use super::attribution::AttributionView;
use super::budgets::{Bound, Budgets, Limit, Origin};
use super::diff::{Diff, DiffRow, compare};
use crate::attribute::RuleSet;
use crate::error::{Error, Result};
pub use combine::{combine, median};
use validate::{check_named, check_names, check_units};
pub use validate::{did_you_mean, known_names};

/// One run (one profile) of a side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    /// The file.
    pub path: String,
    /// Its total of the sample type.
    pub total: i64,
}

/// What a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The total of the sample type.
    Total,
    /// One owner.
    Owner,
    /// One kind.
    Kind,
}

impl Scope {
    /// `total`, `owner`, `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Total => "total",
            Scope::Owner => "owner",
            Scope::Kind => "kind",
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The limit holds.
    Pass,
    /// The limit is broken but the change is below the noise floor: passes.
    Noise,
    /// The limit is broken but the change is within the sampling error of
    /// the two sides: the profiles cannot tell it from sampling noise, so it
    /// passes, and the verdict says so.
    Unclear,
    /// The limit is broken.
    Fail,
}

impl Status {
    /// `pass`, `noise`, `FAIL` (capitals so that it stands out in a table).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Noise => "noise",
            Status::Unclear => "unclear",
            Status::Fail => "FAIL",
        }
    }
}

/// The verdict of the whole gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every limit holds (or is broken by less than the noise floor).
    Pass,
    /// At least one limit is broken: the binary exits with 1.
    Fail,
}

/// One limit checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// What it is about.
    pub scope: Scope,
    /// `total`, or the owner or kind.
    pub name: String,
    /// The limit as written (`+10%`, `64MiB`).
    pub limit: String,
    /// What the limit bounds.
    pub bound: Bound,
    /// The combined base value.
    pub base: i64,
    /// The combined new value.
    pub new: i64,
    /// `new - base`.
    pub delta: i64,
    /// `delta / base`; `None` when the base is 0.
    pub delta_share: Option<f64>,
    /// Half the width of the 95% sampling interval of `delta`; absent when
    /// neither side is sampled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin: Option<i64>,
    /// The outcome.
    pub status: Status,
    /// Where the limit was given.
    pub origin: Origin,
}

impl Check {
    /// The check in words: `total growth <= 10%`, `owner ext_proc <= 64MiB`,
    /// `kind buffer growth <= 1MiB`.
    pub fn label(&self) -> String {
        let limit = self.limit.trim();
        let subject = match self.scope {
            Scope::Total => "total".to_string(),
            s => format!("{} {}", s.as_str(), self.name),
        };
        match self.bound {
            Bound::Cap(_) => format!("{subject} <= {limit}"),
            Bound::Growth(_) | Bound::GrowthShare(_) => {
                format!(
                    "{subject} growth <= {}",
                    limit.strip_prefix('+').unwrap_or(limit)
                )
            }
        }
    }
}

/// A stack (as a short path) whose combined value changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackDelta {
    /// Its owner.
    pub owner: String,
    /// The short path, root-side first (see
    /// [`PathRow::path`](super::attribution::PathRow::path)).
    pub path: Vec<String>,
    /// Combined base value.
    pub base: i64,
    /// Combined new value.
    pub new: i64,
    /// `new - base`.
    pub delta: i64,
}

/// The gate's whole view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gate {
    /// Sample type checked.
    pub sample_type: String,
    /// Its unit: `bytes`, or `count` for object counts.
    pub unit: String,
    /// How each side's runs are combined (`median`).
    pub combine: &'static str,
    /// The base runs, in command-line order.
    pub base_runs: Vec<Run>,
    /// The new runs, in command-line order.
    pub new_runs: Vec<Run>,
    /// Changes smaller than this (in absolute value) pass; 0 when not set.
    pub noise_floor: i64,
    /// The verdict.
    pub verdict: Verdict,
    /// One per limit: total growth, total caps, owners by name, kinds by name.
    pub checks: Vec<Check>,
    /// Total, owners and kinds of the combined sides.
    pub diff: Diff,
    /// Stacks that grew (by the noise floor or more), largest growth first.
    pub growing_stacks: Vec<StackDelta>,
}

impl Gate {
    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Fail)
    }

    /// The owners that grew most, largest growth first (at most `n`).
    pub fn top_growing_owners(&self, n: usize) -> Vec<&DiffRow> {
        let mut rows: Vec<&DiffRow> = self.diff.owners.iter().filter(|r| r.delta > 0).collect();
        rows.sort_by(|a, b| b.delta.cmp(&a.delta).then_with(|| a.name.cmp(&b.name)));
        rows.truncate(n);
        rows
    }
}

/// One side of the comparison: each run's file and attribution (with all
/// its short paths, `attribution(.., usize::MAX)`).
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    /// The files, in command-line order.
    pub paths: &'a [String],
    /// Their attributions, same order.
    pub views: &'a [AttributionView],
}

/// Checks `budgets` on the combined sides. Errors (exit 2): a side without
/// runs, sides of different sample types, a budget naming an owner or kind
/// that no rule defines and no input has, a byte unit on a count, owner or
/// kind budgets on inputs without names.
pub fn gate(base: Side<'_>, new: Side<'_>, budgets: &Budgets, rules: &RuleSet) -> Result<Gate> {
    let (Some(first_base), Some(first_new)) = (base.views.first(), new.views.first()) else {
        return Err(Error::Usage(
            "gate: each side needs at least one profile (--base BASE... PROFILE...)".into(),
        ));
    };
    for side in [base, new] {
        for (view, path) in side.views.iter().zip(side.paths) {
            if view.unit != first_new.unit || view.sample_type != first_new.sample_type {
                return Err(Error::Usage(format!(
                    "{path}: sample type {} ({}) differs from {} ({}) of {}: both sides must be profiles of one kind (pick it with --sample-type, or compare dumps of the same format)",
                    view.sample_type,
                    view.unit,
                    first_new.sample_type,
                    first_new.unit,
                    new.paths.first().map_or("", String::as_str)
                )));
            }
        }
    }
    let unit = first_new.unit.clone();
    check_units(budgets, &first_new.sample_type, &unit)?;
    check_names(budgets, rules, &[base, new])?;
    check_named(budgets, &[base, new])?;
    let b = combine(base.views);
    let n = combine(new.views);
    let diff = compare(&b, &n);
    let floor = budgets.noise_floor.as_ref().map_or(0, |(a, _)| a.value);
    let mut checks = Vec::with_capacity(budgets.count());
    for limit in budgets.total_growth.iter().chain(&budgets.total_max) {
        checks.push(check(Scope::Total, &diff.total, limit, floor));
    }
    for (scope, list, rows) in [
        (Scope::Owner, &budgets.owners, &diff.owners),
        (Scope::Kind, &budgets.kinds, &diff.kinds),
    ] {
        for budget in list {
            let row = rows
                .iter()
                .find(|r| r.name == budget.name)
                .cloned()
                .unwrap_or_else(|| DiffRow::new(&budget.name, 0, 0));
            for limit in &budget.limits {
                checks.push(check(scope, &row, limit, floor));
            }
        }
    }
    let verdict = if checks.iter().any(|c| c.status == Status::Fail) {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    let runs = |side: Side<'_>| {
        side.paths
            .iter()
            .zip(side.views)
            .map(|(path, v)| Run {
                path: path.clone(),
                total: v.total,
            })
            .collect()
    };
    Ok(Gate {
        sample_type: first_base.sample_type.clone(),
        unit,
        combine: "median",
        base_runs: runs(base),
        new_runs: runs(new),
        noise_floor: floor,
        verdict,
        checks,
        growing_stacks: growing_stacks(&b, &n, floor),
        diff,
    })
}

/// Whether `bound` holds from `base` to `new`, in exact integer arithmetic.
pub fn holds(bound: &Bound, base: i64, new: i64) -> bool {
    let delta = i128::from(new) - i128::from(base);
    match bound {
        Bound::Cap(a) => new <= a.value,
        Bound::Growth(a) => delta <= i128::from(a.value),
        Bound::GrowthShare(ppm) => delta * 1_000_000 <= i128::from(*ppm) * i128::from(base.max(0)),
    }
}

fn check(scope: Scope, row: &DiffRow, limit: &Limit, floor: i64) -> Check {
    let status = if holds(&limit.bound, row.base, row.new) {
        Status::Pass
    } else if row.delta.unsigned_abs() < floor.unsigned_abs() {
        Status::Noise
    } else if row
        .margin
        .is_some_and(|m| row.delta.unsigned_abs() <= m.unsigned_abs())
    {
        Status::Unclear
    } else {
        Status::Fail
    };
    Check {
        scope,
        name: row.name.clone(),
        limit: limit.text.clone(),
        bound: limit.bound,
        base: row.base,
        new: row.new,
        delta: row.delta,
        delta_share: row.delta_share,
        margin: row.margin,
        status,
        origin: limit.origin.clone(),
    }
}

/// The short paths of the combined sides whose value grew, by at least the
/// noise floor, largest growth first.
fn growing_stacks(base: &AttributionView, new: &AttributionView, floor: i64) -> Vec<StackDelta> {
    let mut values: BTreeMap<(&str, &[String]), (i64, i64)> = BTreeMap::new();
    for (side, view) in [(0, base), (1, new)] {
        for r in &view.owners {
            for p in &r.top_stacks {
                let e = values.entry((&r.name, &p.path)).or_default();
                if side == 0 {
                    e.0 = p.value;
                } else {
                    e.1 = p.value;
                }
            }
        }
    }
    let mut out: Vec<StackDelta> = values
        .into_iter()
        .filter(|(_, (b, n))| n > b && n.saturating_sub(*b) >= floor)
        .map(|((owner, path), (b, n))| StackDelta {
            owner: owner.to_string(),
            path: path.to_vec(),
            base: b,
            new: n,
            delta: n.saturating_sub(b),
        })
        .collect();
    out.sort_by(|a, b| {
        b.delta
            .cmp(&a.delta)
            .then_with(|| a.owner.cmp(&b.owner))
            .then_with(|| a.path.cmp(&b.path))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::budgets::parse_owner_limit;

    #[test]
    fn bounds() {
        let b = |t: &str| parse_owner_limit(t).unwrap();
        assert!(holds(&b("100"), 0, 100));
        assert!(!holds(&b("100"), 0, 101));
        assert!(holds(&b("+10"), 100, 110));
        assert!(!holds(&b("+10"), 100, 111));
        assert!(holds(&b("10%"), 1000, 1100));
        assert!(!holds(&b("10%"), 1000, 1101));
        assert!(holds(&b("10%"), 0, 0));
        assert!(!holds(&b("10%"), 0, 1));
        assert!(holds(&b("0%"), 10, 3));
        assert!(holds(&b("10%"), i64::MAX, i64::MAX));
    }

    #[test]
    fn checks_and_noise() {
        let row = DiffRow::new("ext_proc", 100, 150);
        let limit = Limit {
            bound: parse_owner_limit("+10%").unwrap(),
            text: "+10%".into(),
            origin: Origin::flag("--budget ext_proc=+10%"),
        };
        assert_eq!(check(Scope::Owner, &row, &limit, 0).status, Status::Fail);
        assert_eq!(check(Scope::Owner, &row, &limit, 50).status, Status::Fail);
        assert_eq!(check(Scope::Owner, &row, &limit, 51).status, Status::Noise);
        let c = check(Scope::Owner, &DiffRow::new("ext_proc", 100, 105), &limit, 0);
        assert_eq!(c.status, Status::Pass);
        assert_eq!(c.label(), "owner ext_proc growth <= 10%");
    }
}
