//! The gate's verdict: the terminal table and the pull-request comment.
//! GitHub annotations and JUnit XML are in [`ci`](super::ci).

use std::fmt::Write as _;
use std::io::Write;

use super::cut::{COMMENT_LIMIT, Comment, cut};
use super::markdown::cell;
use crate::analysis::budgets::Bound;
use crate::analysis::gate::{Check, Gate, Run, Scope, Status, Verdict};
use crate::units::{change, plus_minus, scaled, signed, signed_share};

/// Growing stacks the comment lists at most.
pub const MARKDOWN_STACKS: usize = 20;

/// Growing stacks the terminal output lists.
pub const TEXT_STACKS: usize = 5;

/// `1 of 3 limits broken`, `all 3 limits hold`.
pub fn headline(g: &Gate) -> String {
    let failed = g.failures().count();
    let unclear = g
        .checks
        .iter()
        .filter(|c| c.status == Status::Unclear)
        .count();
    let n = g.checks.len();
    let limits = if n == 1 { "limit" } else { "limits" };
    let head = match g.verdict {
        Verdict::Fail => format!("{failed} of {n} {limits} broken"),
        Verdict::Pass if n == 1 => "the limit holds".to_string(),
        Verdict::Pass => format!("all {n} {limits} hold"),
    };
    if unclear == 0 {
        return head;
    }
    format!("{head}; could not tell {unclear}: within sampling error")
}

/// The owners that grew most, for a message: `ext_proc +3.36MB, network +3.17MB`.
pub fn top_growers(g: &Gate, n: usize) -> String {
    g.top_growing_owners(n)
        .iter()
        .map(|r| format!("{} {}", r.name, signed(r.delta, &g.unit)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One sentence on a check: what the value did and what the limit says.
/// For the total, it names the owners that grew most.
pub fn explain(g: &Gate, c: &Check) -> String {
    let unit = g.unit.as_str();
    let subject = match c.scope {
        Scope::Total => format!("the total {}", g.sample_type),
        Scope::Owner => format!("owner {}", c.name),
        Scope::Kind => format!("kind {}", c.name),
    };
    let change = change(c.base, c.new, c.delta, c.delta_share, unit, false);
    let limit = c.limit.trim();
    let verdict = match (c.status, c.bound) {
        (Status::Pass, Bound::Cap(_)) => format!("within its budget of {limit}"),
        (Status::Pass, _) => format!("within its growth limit of {limit}"),
        (Status::Fail, Bound::Cap(_)) => format!("over its budget of {limit}"),
        (Status::Fail, _) => format!("over its growth limit of {limit}"),
        (Status::Noise, _) => format!(
            "over its limit of {limit}, but the change is below the noise floor of {}",
            scaled(g.noise_floor, unit)
        ),
        (Status::Unclear, _) => format!(
            "over its limit of {limit}, but the change is within the sampling error ({}) of the two sides: the profiles could not tell it from sampling noise",
            plus_minus(c.margin, unit)
        ),
    };
    let mut out = format!("{subject}: {change}, {verdict}");
    if c.scope == Scope::Total && c.status != Status::Pass && c.delta > 0 {
        let growers = top_growers(g, 3);
        if !growers.is_empty() {
            let _ = write!(out, "; grew most: {growers}");
        }
    }
    out
}

/// `a.heap`, or `median of 3 runs`.
fn side_words(runs: &[Run]) -> String {
    match runs {
        [one] => one.path.clone(),
        _ => format!("median of {} runs", runs.len()),
    }
}

fn write_side(out: &mut dyn Write, title: &str, runs: &[Run], unit: &str) -> std::io::Result<()> {
    writeln!(out, "{title}{}", side_words(runs))?;
    if runs.len() > 1 {
        for r in runs {
            writeln!(out, "  {:>10}  {}", scaled(r.total, unit), r.path)?;
        }
    }
    Ok(())
}

/// The terminal verdict: the sides, the table (limit, base, new, delta,
/// delta %, status), the verdict line and the stacks that grew most.
pub fn write_text(out: &mut dyn Write, g: &Gate) -> std::io::Result<()> {
    let unit = g.unit.as_str();
    write_side(out, "Base: ", &g.base_runs, unit)?;
    write_side(out, "New:  ", &g.new_runs, unit)?;
    let t = &g.diff.total;
    writeln!(
        out,
        "Type: {}, total {}; noise floor {}",
        g.sample_type,
        change(t.base, t.new, t.delta, t.delta_share, unit, false),
        scaled(g.noise_floor, unit)
    )?;
    writeln!(out)?;
    write_table(out, g)?;
    writeln!(out)?;
    match g.verdict {
        Verdict::Pass => writeln!(out, "PASS: {}", headline(g))?,
        Verdict::Fail => {
            writeln!(out, "FAIL: {}:", headline(g))?;
            for c in g.failures() {
                writeln!(out, "  {}", explain(g, c))?;
            }
        }
    }
    let noise = g
        .checks
        .iter()
        .filter(|c| c.status == Status::Noise)
        .count();
    if noise > 0 {
        writeln!(
            out,
            "{noise} broken limit(s) pass because their change is below the noise floor of {}",
            scaled(g.noise_floor, unit)
        )?;
    }
    for c in g.checks.iter().filter(|c| c.status == Status::Unclear) {
        writeln!(out, "could not tell: {}", explain(g, c))?;
    }
    write_text_stacks(out, g)
}

/// Room the comment keeps for its closing notes and footer.
const RESERVE: usize = 1_500;

/// The table of limits: limit, base, new, delta, delta %, status.
fn write_table(out: &mut dyn Write, g: &Gate) -> std::io::Result<()> {
    let unit = g.unit.as_str();
    let header = ["limit", "base", "new", "delta", "delta%", "status"].map(String::from);
    let rows: Vec<[String; 6]> = g
        .checks
        .iter()
        .map(|c| {
            [
                c.label(),
                scaled(c.base, unit),
                scaled(c.new, unit),
                signed(c.delta, unit),
                signed_share(c.delta_share, c.new),
                c.status.as_str().to_string(),
            ]
        })
        .collect();
    let mut widths = [0usize; 6];
    for r in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for r in std::iter::once(&header).chain(&rows) {
        writeln!(
            out,
            "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {:>w4$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
        )?;
    }
    Ok(())
}

/// The stacks that grew most, for the terminal.
fn write_text_stacks(out: &mut dyn Write, g: &Gate) -> std::io::Result<()> {
    let unit = g.unit.as_str();
    if !g.growing_stacks.is_empty() {
        writeln!(out)?;
        writeln!(out, "stacks that grew most (owner: entry > ... > leaf):")?;
        for s in g.growing_stacks.iter().take(TEXT_STACKS) {
            writeln!(
                out,
                "{:>11}  {}: {}",
                signed(s.delta, unit),
                s.owner,
                s.path.join(" > ")
            )?;
        }
    }
    Ok(())
}

fn status_cell(s: Status) -> &'static str {
    match s {
        Status::Pass => "✅ pass",
        Status::Noise => "➖ noise",
        Status::Unclear => "❔ could not tell",
        Status::Fail => "❌ **FAIL**",
    }
}

/// The pull-request comment: the verdict, the table of limits, the stacks
/// that grew most, warnings, then owners and kinds in a collapsed section.
/// Never longer than [`COMMENT_LIMIT`] bytes (so characters): rows that do
/// not fit are left out with a note saying how many.
pub fn markdown(g: &Gate, warnings: &[String]) -> String {
    markdown_within(g, warnings, COMMENT_LIMIT)
}

fn markdown_within(g: &Gate, warnings: &[String], limit: usize) -> String {
    let unit = g.unit.as_str();
    let mut md = Comment::new(limit, RESERVE);
    let title = match g.verdict {
        Verdict::Pass => "✅ heapcost gate: within budget",
        Verdict::Fail => "❌ heapcost gate: memory regression",
    };
    let t = &g.diff.total;
    let mut head = format!(
        "### {title}\n\n**{}.** {} {}.",
        capitalized(&headline(g)),
        g.sample_type,
        change(t.base, t.new, t.delta, t.delta_share, unit, true)
    );
    let growers = top_growers(g, 3);
    if t.delta > 0 && !growers.is_empty() {
        let _ = write!(head, " Grew most: {}.", cell(&growers));
    }
    head.push('\n');
    md.push(&head);
    let failures: Vec<&Check> = g
        .failures()
        .chain(g.checks.iter().filter(|c| c.status == Status::Unclear))
        .collect();
    if !failures.is_empty() {
        md.push("\n");
        for (i, c) in failures.iter().enumerate() {
            if !md.push(&format!("- {}\n", cell(&cut(&explain(g, c), 600, "...")))) {
                md.note(&format!("- ... and {} more\n", failures.len() - i));
                break;
            }
        }
    }
    md.push("\n| | limit | base | new | delta | delta % |\n|---|---|---:|---:|---:|---:|\n");
    for (i, c) in g.checks.iter().enumerate() {
        let row = format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            status_cell(c.status),
            cell(&cut(&c.label(), 300, "...")),
            scaled(c.base, unit),
            scaled(c.new, unit),
            signed(c.delta, unit),
            signed_share(c.delta_share, c.new)
        );
        if !md.push(&row) {
            md.note(&format!(
                "\n_{} more limits are not shown, to keep this comment short; the job log and the JUnit report list them all._\n",
                g.checks.len() - i
            ));
            break;
        }
    }
    write_stacks(&mut md, g);
    write_warnings(&mut md, warnings);
    write_details(&mut md, g);
    md.note(&format!(
        "\n<sub>heapcost gate: {}; base {}, new {}; noise floor {}.</sub>\n",
        g.sample_type,
        runs_words(&g.base_runs),
        runs_words(&g.new_runs),
        scaled(g.noise_floor, unit)
    ));
    md.into_text()
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn runs_words(runs: &[Run]) -> String {
    match runs {
        [one] => format!("`{}`", cut(&one.path, 200, "...").replace('`', "")),
        _ => format!("median of {} runs", runs.len()),
    }
}

fn write_stacks(md: &mut Comment, g: &Gate) {
    if g.growing_stacks.is_empty() {
        return;
    }
    let unit = g.unit.as_str();
    md.push(
        "\n**Stacks that grew most** (owner: entry > ... > leaf)\n\n| delta | base | new | owner | stack |\n|---:|---:|---:|---|---|\n",
    );
    let mut shown = 0;
    for s in g.growing_stacks.iter().take(MARKDOWN_STACKS) {
        let row = format!(
            "| {} | {} | {} | {} | `{}` |\n",
            signed(s.delta, unit),
            scaled(s.base, unit),
            scaled(s.new, unit),
            cell(&cut(&s.owner, 100, "...")),
            cut(&s.path.join(" > "), 400, "...").replace(['`', '|', '\n', '\r'], "'")
        );
        if !md.push(&row) {
            break;
        }
        shown += 1;
    }
    let left = g.growing_stacks.len() - shown;
    if left > 0 {
        let why = if shown < MARKDOWN_STACKS.min(g.growing_stacks.len()) {
            "to keep this comment under GitHub's size limit"
        } else {
            "smaller ones"
        };
        md.note(&format!(
            "\n_{left} more growing stacks are not shown ({why}); `heapcost diff` lists every change._\n"
        ));
    }
}

fn write_warnings(md: &mut Comment, warnings: &[String]) {
    for (i, w) in warnings.iter().enumerate() {
        let line = format!("\n> **Warning:** {}\n", cell(&cut(w, 1_000, "...")));
        if !md.push(&line) {
            md.note(&format!(
                "\n_{} more warnings are in the job log._\n",
                warnings.len() - i
            ));
            return;
        }
    }
}

fn write_details(md: &mut Comment, g: &Gate) {
    let unit = g.unit.as_str();
    if !md.push("\n<details><summary>Owners and kinds</summary>\n") {
        return;
    }
    for (title, rows) in [("owner", &g.diff.owners), ("kind", &g.diff.kinds)] {
        md.push(&format!(
            "\n| {title} | base | new | delta | delta % |\n|---|---:|---:|---:|---:|\n"
        ));
        for (i, r) in rows.iter().enumerate() {
            let row = format!(
                "| {} | {} | {} | {} | {} |\n",
                cell(&cut(&r.name, 100, "...")),
                scaled(r.base, unit),
                scaled(r.new, unit),
                signed(r.delta, unit),
                signed_share(r.delta_share, r.new)
            );
            if !md.push(&row) {
                md.note(&format!("| ... {} more | | | | |\n", rows.len() - i));
                break;
            }
        }
    }
    let mut runs = String::new();
    for (side, list) in [("base", &g.base_runs), ("new", &g.new_runs)] {
        if list.len() > 1 {
            for r in list {
                let _ = writeln!(
                    runs,
                    "| {side} | {} | `{}` |",
                    scaled(r.total, unit),
                    cut(&r.path, 200, "...").replace(['`', '|'], "'")
                );
            }
        }
    }
    if !runs.is_empty() {
        md.push(&format!(
            "\nEach value above is the median of its side's runs:\n\n| side | total | run |\n|---|---:|---|\n{runs}"
        ));
    }
    md.note("\n</details>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::budgets::{Amount, Origin};
    use crate::analysis::diff::{Diff, DiffRow};
    use crate::analysis::gate::StackDelta;

    fn gate(checks: usize, stacks: usize, name_len: usize) -> Gate {
        let long = "N".repeat(name_len);
        Gate {
            sample_type: "inuse_space".into(),
            unit: "bytes".into(),
            combine: "median",
            base_runs: vec![Run {
                path: "a.heap".into(),
                total: 10,
            }],
            new_runs: vec![Run {
                path: "b.heap".into(),
                total: 20,
            }],
            noise_floor: 0,
            verdict: Verdict::Fail,
            checks: (0..checks)
                .map(|i| Check {
                    scope: Scope::Owner,
                    name: format!("{long}{i}"),
                    limit: "1MiB".into(),
                    bound: Bound::Cap(Amount {
                        value: 1,
                        byte_unit: true,
                    }),
                    base: 1,
                    new: 2,
                    delta: 1,
                    delta_share: Some(1.0),
                    margin: None,
                    status: Status::Fail,
                    origin: Origin::flag("--budget"),
                })
                .collect(),
            diff: Diff {
                sample_type: "inuse_space".into(),
                unit: "bytes".into(),
                total: DiffRow::new("total", 10, 20),
                owners: (0..stacks)
                    .map(|i| DiffRow::new(&format!("{long}{i}"), 1, 2))
                    .collect(),
                kinds: Vec::new(),
                functions: Vec::new(),
            },
            growing_stacks: (0..stacks)
                .map(|i| StackDelta {
                    owner: format!("o{i}"),
                    path: vec![long.clone(); 3],
                    base: 0,
                    new: 1,
                    delta: 1,
                })
                .collect(),
        }
    }

    #[test]
    fn the_comment_stays_under_the_limit_whatever_the_input() {
        for (checks, stacks, len) in [
            (0, 0, 1),
            (5, 5, 10),
            (10_000, 10_000, 100),
            (50, 50_000, 5_000),
        ] {
            let g = gate(checks, stacks, len);
            let warnings = vec!["w|`<x>`\n".repeat(500); 200];
            let md = markdown(&g, &warnings);
            assert!(md.chars().count() < COMMENT_LIMIT, "{}", md.len());
            assert!(md.starts_with("### ❌ heapcost gate"), "{md}");
            assert!(
                md.trim_end().ends_with("</sub>"),
                "{}",
                &md[md.len() - 300..]
            );
        }
        let md = markdown(&gate(10_000, 10, 100), &[]);
        assert!(md.contains("more limits are not shown"), "{md}");
        let md = markdown(&gate(1, 100, 5_000), &[]);
        assert!(md.contains("more growing stacks are not shown"), "{md}");
    }
}
