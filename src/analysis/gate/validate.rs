//! What the gate refuses before checking anything (exit 2): names no rule
//! gives, byte units on counts, owner budgets on inputs without names.

use std::collections::BTreeSet;

use super::Side;
use crate::analysis::budgets::{Amount, Bound, Budget, Budgets, Origin};
use crate::attribute::{self, Column, RuleSet};
use crate::error::{Error, Result};

/// Byte units are refused when the sample type counts objects.
pub(super) fn check_units(budgets: &Budgets, sample_type: &str, unit: &str) -> Result<()> {
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

pub(super) fn check_names(budgets: &Budgets, rules: &RuleSet, sides: &[Side<'_>]) -> Result<()> {
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
pub(super) fn check_named(budgets: &Budgets, sides: &[Side<'_>]) -> Result<()> {
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
}
