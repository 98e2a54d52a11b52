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
//! as [`Status::Noise`]. The verdict fails when any check fails.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::attribution::{AttributionView, LabelRow, PathRow};
use super::budgets::{Amount, Bound, Budget, Budgets, Limit, Origin};
use super::diff::{Diff, DiffRow, compare};
use crate::attribute::{self, Column, RuleSet};
use crate::error::{Error, Result};

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
    /// The limit is broken.
    Fail,
}

impl Status {
    /// `pass`, `noise`, `FAIL` (capitals so that it stands out in a table).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Noise => "noise",
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
    /// The short path, root-side first (see [`PathRow::path`]).
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
                return Err(Error::SampleType(format!(
                    "{path}: sample type {} ({}) differs from {} ({}) of {}; choose one with --sample-type",
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
        status,
        origin: limit.origin.clone(),
    }
}

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

/// One view whose every value (total, owners, kinds, short paths) is the
/// median over `views`, missing counting 0. Rows whose median is 0 are
/// left out; the matrix is left empty.
pub fn combine(views: &[AttributionView]) -> AttributionView {
    let n = views.len();
    let mut totals: Vec<i64> = views.iter().map(|v| v.total).collect();
    let total = median(&mut totals);
    let rows = |pick: fn(&AttributionView) -> &Vec<LabelRow>| {
        let mut values: BTreeMap<&str, (Option<attribute::Tier>, Vec<i64>)> = BTreeMap::new();
        let mut paths: BTreeMap<(&str, &[String]), Vec<i64>> = BTreeMap::new();
        for (i, v) in views.iter().enumerate() {
            for r in pick(v) {
                let e = values
                    .entry(&r.name)
                    .or_insert_with(|| (r.tier, vec![0; n]));
                e.1[i] = r.value;
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
                (value != 0 || !top_stacks.is_empty()).then(|| LabelRow {
                    name: name.to_string(),
                    tier,
                    value,
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
        owners: rows(|v| &v.owners),
        kinds: rows(|v| &v.kinds),
        matrix: Vec::new(),
        named_share: views
            .iter()
            .map(|v| v.named_share)
            .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.min(s))))
            .unwrap_or(0.0),
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

/// Byte units are refused when the sample type counts objects.
fn check_units(budgets: &Budgets, sample_type: &str, unit: &str) -> Result<()> {
    if unit == "bytes" {
        return Ok(());
    }
    let refuse = |text: &str, origin: &Origin| {
        origin.error(format!(
            "{text:?} has a byte unit, but {sample_type} is a count ({unit}), not bytes: its limits are plain numbers (e.g. 5000 or +10%)"
        ))
    };
    if let Some((amount, origin)) = &budgets.noise_floor
        && amount.byte_unit
    {
        return Err(refuse("noise_floor", origin));
    }
    let all = budgets
        .total_growth
        .iter()
        .chain(&budgets.total_max)
        .chain(budgets.owners.iter().flat_map(|b| &b.limits))
        .chain(budgets.kinds.iter().flat_map(|b| &b.limits));
    for limit in all {
        if let Bound::Cap(Amount {
            byte_unit: true, ..
        })
        | Bound::Growth(Amount {
            byte_unit: true, ..
        }) = limit.bound
        {
            return Err(refuse(&limit.text, &limit.origin));
        }
    }
    Ok(())
}

/// Every name a column can give: the rules' fixed labels, the labels their
/// capture rules give their own examples, `other` and `unsymbolized`, and
/// the labels found in the inputs.
pub fn known_names(rules: &RuleSet, column: Column, sides: &[Side<'_>]) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = rules.labels(column).into_iter().map(|(l, _)| l).collect();
    for rule in rules.table(column) {
        let name = rule.spec.name.as_deref().unwrap_or(&rule.spec.id);
        if name.contains('$') {
            out.extend(
                rule.spec
                    .examples
                    .iter()
                    .filter_map(|ex| rule.matches(ex).map(|l| l.into_owned())),
            );
        }
    }
    out.insert(attribute::OTHER.to_string());
    out.insert(attribute::UNSYMBOLIZED.to_string());
    for side in sides {
        for v in side.views {
            let rows = match column {
                Column::Owner => &v.owners,
                Column::Kind => &v.kinds,
            };
            out.extend(rows.iter().map(|r| r.name.clone()));
        }
    }
    out
}

fn check_names(budgets: &Budgets, rules: &RuleSet, sides: &[Side<'_>]) -> Result<()> {
    for (column, list, what) in [
        (Column::Owner, &budgets.owners, "owner"),
        (Column::Kind, &budgets.kinds, "kind"),
    ] {
        if list.is_empty() {
            continue;
        }
        let known = known_names(rules, column, sides);
        for Budget { name, limits } in list {
            if known.contains(name) {
                continue;
            }
            let hint = match did_you_mean(name, &known) {
                Some(best) => format!("did you mean {best:?}?"),
                None => format!(
                    "the {what}s the rules define are: {}",
                    known.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            };
            let origin = limits
                .first()
                .map(|l| l.origin.clone())
                .unwrap_or_else(|| Origin::flag(name.as_str()));
            return Err(origin.error(format!(
                "unknown {what} {name:?}: no rule gives it and no input has it; {hint} (`heapcost rules` lists the rules)"
            )));
        }
    }
    Ok(())
}

/// The known name closest to `name`, when one is close enough to be a typo.
pub fn did_you_mean<'a>(name: &str, known: &'a BTreeSet<String>) -> Option<&'a str> {
    let wanted = name.to_ascii_lowercase();
    known
        .iter()
        .map(|k| {
            let candidate = k.to_ascii_lowercase();
            let mut score = strsim::normalized_damerau_levenshtein(&wanted, &candidate);
            if wanted.len() >= 3 && (candidate.contains(&wanted) || wanted.contains(&candidate)) {
                score = score.max(0.7);
            }
            (score, k)
        })
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, k)| k.as_str())
}

/// Owner and kind budgets cannot be judged on inputs without names.
fn check_named(budgets: &Budgets, sides: &[Side<'_>]) -> Result<()> {
    if budgets.owners.is_empty() && budgets.kinds.is_empty() {
        return Ok(());
    }
    for side in sides {
        for (view, path) in side.views.iter().zip(side.paths) {
            if view.total != 0 && view.named_share == 0.0 {
                return Err(Error::Budgets {
                    path: path.clone(),
                    line: None,
                    why: "no frame has a name, so owner and kind budgets cannot be checked (every \
                          byte is 'unsymbolized'); give the binary with --binary or a directory with \
                          --symbols-path, or check only the total (--max-growth)"
                        .into(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::budgets::parse_owner_limit;

    fn view(total: i64, owners: &[(&str, i64)]) -> AttributionView {
        AttributionView {
            sample_type: "inuse_space".into(),
            unit: "bytes".into(),
            total,
            owners: owners
                .iter()
                .map(|&(name, value)| LabelRow {
                    name: name.into(),
                    tier: None,
                    value,
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
        }
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
    fn typos_get_a_hint() {
        let known: BTreeSet<String> = ["ext_proc", "ext_authz", "wasm", "lua", "router"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(did_you_mean("ext_porc", &known), Some("ext_proc"));
        assert_eq!(did_you_mean("extproc", &known), Some("ext_proc"));
        assert_eq!(did_you_mean("WASM", &known), Some("wasm"));
        assert_eq!(did_you_mean("routers", &known), Some("router"));
        assert_eq!(did_you_mean("zzzzzz", &known), None);
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
