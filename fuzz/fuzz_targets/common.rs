//! What every reader target does with its result: an error must be one line
//! naming the input (`fuzz`); a profile must survive every view heapcost
//! computes from it (info, top per sample type, attribution with the
//! built-in rules for the default sample type), rendered as text and JSON,
//! and the attribution's owners, kinds and matrix must add up to its total:
//! no panic, no overflow, no number that does not add up.

use std::sync::OnceLock;

use heapcost::analysis::top::TopSort;
use heapcost::profile::Profile;

fn rules() -> &'static heapcost::attribute::RuleSet {
    static RULES: OnceLock<heapcost::attribute::RuleSet> = OnceLock::new();
    RULES.get_or_init(|| heapcost::attribute::RuleSet::builtin().expect("built-in rules load"))
}

/// Checks an error message: one line, naming the input.
pub fn check_error(e: &heapcost::Error) {
    let msg = e.to_string();
    assert!(
        msg.starts_with("fuzz"),
        "error does not name the input: {msg:?}"
    );
    assert!(!msg.contains('\n'), "error is not one line: {msg:?}");
}

/// Runs every view over `p`, checking that owners and kinds add up.
pub fn exercise(p: &Profile) {
    let mut out = Vec::new();
    let info = heapcost::analysis::info::info(p);
    heapcost::render::text::write_info(&mut out, &info).expect("write to a Vec");
    heapcost::render::json::write_info(&mut out, std::slice::from_ref(&info)).expect("write");
    let inputs = vec!["fuzz".to_string()];
    let default = p
        .select(&heapcost::profile::SampleTypeChoice::from(""))
        .ok();
    for index in 0..p.sample_types.len() {
        // Every row of the default type's table, the first rows of the others'.
        let rows = if Some(index) == default { 0 } else { 5 };
        for sort in [TopSort::Flat, TopSort::Cum] {
            let top =
                heapcost::analysis::top::top(p, &heapcost::profile::NameTable::new(p), index, sort);
            assert_eq!(
                top.total,
                p.total(index),
                "top's total is not the profile's"
            );
            let flat = top.rows.iter().fold(0i64, |a, r| a.wrapping_add(r.flat));
            assert_eq!(flat, top.total, "flat values do not add up to the total");
            heapcost::render::text::write_top(&mut out, &top, rows, &inputs).expect("write");
            heapcost::render::json::write_top(&mut out, &top, 5, &[]).expect("write");
        }
    }
    let Some(index) = default else {
        return;
    };
    let view = heapcost::analysis::attribution::attribution(
        &heapcost::attribute::Attributed::new(p.clone(), rules()),
        index,
        3,
    );
    let sum = |values: &mut dyn Iterator<Item = i64>| values.fold(0i64, i64::wrapping_add);
    assert_eq!(
        sum(&mut view.owners.iter().map(|o| o.value)),
        view.total,
        "owners do not add up to the total"
    );
    assert_eq!(
        sum(&mut view.kinds.iter().map(|k| k.value)),
        view.total,
        "kinds do not add up to the total"
    );
    assert_eq!(
        sum(&mut view.matrix.iter().map(|c| c.value)),
        view.total,
        "the matrix does not add up to the total"
    );
    heapcost::render::text::write_attribution(&mut out, &view, &inputs).expect("write");
    heapcost::render::json::write_attribution(&mut out, &view, &[]).expect("write");
}

/// The usual ending of a reader target.
pub fn check(result: heapcost::Result<Profile>) {
    match result {
        Ok(p) => exercise(&p),
        Err(e) => check_error(&e),
    }
}
