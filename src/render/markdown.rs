//! GitHub-flavoured Markdown, for pull-request comments and summaries.

use std::io::Write;

use super::cut::{cut, fit_comment};

use crate::analysis::attribution::AttributionView;
use crate::analysis::report::Report;
use crate::analysis::top::Top;
use crate::attribute::Tier;
use crate::units::{change, scaled, scaled_pm, share_text};

/// Escapes the characters that would break a table cell or start markup.
pub fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '*' | '_' | '`' | '<' | '>' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// The filter-cost view as Markdown: headline, owner and kind tables, the
/// matrix, and each owner's heaviest paths.
pub fn write_attribution(
    out: &mut dyn Write,
    view: &AttributionView,
    inputs: &[String],
    warnings: &[String],
) -> std::io::Result<()> {
    let unit = view.unit.as_str();
    writeln!(out, "### heapcost: who owns the heap")?;
    writeln!(out)?;
    let what = match inputs {
        [one] => format!("`{}`", one.replace('`', "")),
        [first, rest @ ..] => format!("`{}` (+{} more)", first.replace('`', ""), rest.len()),
        [] => String::new(),
    };
    let top_owner = view
        .owners
        .first()
        .map(|o| {
            format!(
                " **{}** owns {} ({}).",
                cell(&o.name),
                scaled(o.value, unit),
                share_text(o.share)
            )
        })
        .unwrap_or_default();
    writeln!(
        out,
        "{what}: {} {} in total, {} of it in named stacks.{top_owner}",
        scaled_pm(view.total, view.total_margin, unit),
        view.sample_type,
        share_text(view.named_share)
    )?;
    if let Some(how) = &view.sampling {
        writeln!(out)?;
        writeln!(out, "_{}; ± is the 95% sampling interval._", cell(how))?;
    }
    for w in warnings {
        writeln!(out)?;
        writeln!(out, "> **Warning:** {}", cell(w))?;
    }
    for (title, rows) in [("Owner", &view.owners), ("Kind", &view.kinds)] {
        writeln!(out)?;
        writeln!(out, "| {title} | tier | {} | share |", view.sample_type)?;
        writeln!(out, "|---|---|---:|---:|")?;
        for r in rows {
            writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&r.name),
                r.tier.map_or("-", Tier::as_str),
                scaled_pm(r.value, r.margin, unit),
                share_text(r.share)
            )?;
        }
    }
    write_matrix(out, view)?;
    if let Some(r) = &view.residency {
        write_residency(out, r)?;
    }
    write_heaviest_paths(out, view)
}

/// The residency table of a tcmalloc profile, per owner (collapsed).
fn write_residency(
    out: &mut dyn Write,
    r: &crate::analysis::residency::Residency,
) -> std::io::Result<()> {
    let rounding = r.total.rounding.is_some();
    writeln!(out)?;
    writeln!(
        out,
        "<details><summary>Resident, swapped, stale and locked bytes per owner (tcmalloc)</summary>"
    )?;
    writeln!(out)?;
    let mut head = String::from("| owner |");
    let mut rule = String::from("|---|");
    for c in r
        .columns
        .iter()
        .map(String::as_str)
        .chain(rounding.then_some("rounding"))
    {
        head.push_str(&format!(" {} |", cell(c)));
        rule.push_str("---:|");
    }
    writeln!(out, "{head}\n{rule}")?;
    for row in r.owners.iter().chain(std::iter::once(&r.total)) {
        let mut line = format!("| {} |", cell(&row.name));
        for v in row.values.iter().chain(row.rounding.as_ref()) {
            line.push_str(&format!(" {} |", scaled(*v, "bytes")));
        }
        writeln!(out, "{line}")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "_Stale: not touched within tcmalloc's stale scan period, the leak suspects of a single snapshot. Rounding: bytes the allocator added to the requested sizes._"
    )?;
    writeln!(out)?;
    writeln!(out, "</details>")
}

/// The owner x kind matrix, collapsed.
fn write_matrix(out: &mut dyn Write, view: &AttributionView) -> std::io::Result<()> {
    let unit = view.unit.as_str();
    if !view.kinds.is_empty() {
        writeln!(out)?;
        writeln!(out, "<details><summary>Owner x kind</summary>")?;
        writeln!(out)?;
        write!(out, "| owner |")?;
        for k in &view.kinds {
            write!(out, " {} |", cell(&k.name))?;
        }
        writeln!(out)?;
        write!(out, "|---|")?;
        for _ in &view.kinds {
            write!(out, "---:|")?;
        }
        writeln!(out)?;
        for o in &view.owners {
            write!(out, "| {} |", cell(&o.name))?;
            for k in &view.kinds {
                let v = view.cell(&o.name, &k.name);
                let text = if v == 0 {
                    String::new()
                } else {
                    scaled(v, unit)
                };
                write!(out, " {text} |")?;
            }
            writeln!(out)?;
        }
        writeln!(out)?;
        writeln!(out, "</details>")?;
    }
    Ok(())
}

/// Each owner's heaviest paths.
fn write_heaviest_paths(out: &mut dyn Write, view: &AttributionView) -> std::io::Result<()> {
    let unit = view.unit.as_str();
    if view.owners.iter().any(|r| !r.top_stacks.is_empty()) {
        writeln!(out)?;
        writeln!(out, "**Heaviest paths per owner** (entry > ... > leaf)")?;
        writeln!(out)?;
        for r in view.owners.iter().filter(|r| !r.top_stacks.is_empty()) {
            writeln!(out, "- **{}** ({})", cell(&r.name), scaled(r.value, unit))?;
            for p in &r.top_stacks {
                writeln!(
                    out,
                    "  - {}: `{}`",
                    scaled(p.value, unit),
                    p.path.join(" > ").replace('`', "'")
                )?;
            }
        }
    }
    Ok(())
}

/// The top table as Markdown.
pub fn write_top(
    out: &mut dyn Write,
    top: &Top,
    nodecount: usize,
    inputs: &[String],
) -> std::io::Result<()> {
    let unit = top.sample_type.unit.as_str();
    let rows = top.first_rows(nodecount);
    if let Some(first) = inputs.first() {
        let more = if inputs.len() > 1 {
            format!(" (+{} more)", inputs.len() - 1)
        } else {
            String::new()
        };
        writeln!(
            out,
            "`{}`{more}: {} {} in total",
            first.replace('`', ""),
            scaled(top.total, unit),
            top.sample_type.kind
        )?;
        writeln!(out)?;
    }
    writeln!(out, "| flat | flat% | cum | cum% | function |")?;
    writeln!(out, "|---:|---:|---:|---:|---|")?;
    for r in rows {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            scaled(r.flat, unit),
            crate::units::percentage(r.flat, top.total).trim(),
            scaled(r.cum, unit),
            crate::units::percentage(r.cum, top.total).trim(),
            cell(&r.name)
        )?;
    }
    Ok(())
}

/// A diff as Markdown: the headline change, then owners, kinds and the
/// functions (`nodecount`, 0: all) that changed most.
pub fn write_diff(
    out: &mut dyn Write,
    diff: &crate::analysis::diff::Diff,
    nodecount: usize,
    warnings: &[String],
) -> std::io::Result<()> {
    use crate::units::{signed, signed_share};
    let unit = diff.unit.as_str();
    let t = &diff.total;
    writeln!(out, "### heapcost: what changed")?;
    writeln!(out)?;
    writeln!(
        out,
        "{} {}.",
        diff.sample_type,
        change(t.base, t.new, t.delta, t.delta_share, unit, true)
    )?;
    for w in warnings {
        writeln!(out)?;
        writeln!(out, "> **Warning:** {}", cell(w))?;
    }
    let functions: Vec<_> = diff
        .first_functions(nodecount)
        .iter()
        .map(|f| &f.flat)
        .collect();
    let owners: Vec<_> = diff.owners.iter().collect();
    let kinds: Vec<_> = diff.kinds.iter().collect();
    for (title, rows) in [
        ("Owner", owners),
        ("Kind", kinds),
        ("Function (flat)", functions),
    ] {
        writeln!(out)?;
        writeln!(out, "| {title} | base | new | delta | delta % |")?;
        writeln!(out, "|---|---:|---:|---:|---:|")?;
        for r in rows {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                cell(&r.name),
                scaled(r.base, unit),
                scaled(r.new, unit),
                signed(r.delta, unit),
                signed_share(r.delta_share, r.new)
            )?;
        }
    }
    Ok(())
}

/// A series as Markdown: headline, snapshots, owners with leak suspects.
pub fn write_series(
    out: &mut dyn Write,
    s: &crate::analysis::series::Series,
    warnings: &[String],
) -> std::io::Result<()> {
    use super::text::sparkline;
    use crate::units::signed;
    let unit = s.unit.as_str();
    writeln!(out, "### heapcost: {} snapshots", s.snapshots.len())?;
    writeln!(out)?;
    if let (Some(first), Some(last), Some(peak)) = (
        s.snapshots.first(),
        s.snapshots.last(),
        s.snapshots.get(s.peak),
    ) {
        writeln!(
            out,
            "{} {} -> {} ({}); peak {} at #{}.",
            s.sample_type,
            scaled(first.total, unit),
            scaled(last.total, unit),
            signed(last.total.saturating_sub(first.total), unit),
            scaled(peak.total, unit),
            s.peak + 1
        )?;
    }
    let suspects: Vec<String> = s
        .owners
        .iter()
        .filter(|o| o.only_grows)
        .map(|o| format!("**{}**", cell(&o.name)))
        .collect();
    if !suspects.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Only ever grow (leak suspects): {}.",
            suspects.join(", ")
        )?;
    }
    for w in warnings {
        writeln!(out)?;
        writeln!(out, "> **Warning:** {}", cell(w))?;
    }
    writeln!(out)?;
    writeln!(out, "| owner | trend | first | last | growth | peak |")?;
    writeln!(out, "|---|---|---:|---:|---:|---:|")?;
    for o in &s.owners {
        writeln!(
            out,
            "| {}{} | {} | {} | {} | {} | {} |",
            cell(&o.name),
            if o.only_grows { " (only grows)" } else { "" },
            sparkline(&o.values),
            scaled(o.values.first().copied().unwrap_or(0), unit),
            scaled(o.values.last().copied().unwrap_or(0), unit),
            signed(o.growth, unit),
            scaled(o.peak, unit)
        )?;
    }
    writeln!(out)?;
    writeln!(out, "<details><summary>Snapshots</summary>")?;
    writeln!(out)?;
    writeln!(out, "| # | file | total | growth |")?;
    writeln!(out, "|---:|---|---:|---:|")?;
    for (i, snap) in s.snapshots.iter().enumerate() {
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            i + 1,
            cell(&snap.path),
            scaled(snap.total, unit),
            signed(snap.growth, unit)
        )?;
    }
    writeln!(out)?;
    writeln!(out, "</details>")?;
    Ok(())
}

/// Longest frame name or path kept in a summary table cell.
const NAME_LIMIT: usize = 300;

/// `text` cut to [`NAME_LIMIT`] characters (`…` when cut), escaped for a cell.
fn clipped(text: &str) -> String {
    cell(&cut(text, NAME_LIMIT, "…"))
}

/// The report's pull-request summary: headline, warnings, the memory gap,
/// owners, growth from the base, snapshots and top functions. Always under
/// [`COMMENT_LIMIT`](super::cut::COMMENT_LIMIT) bytes (so characters): names are clipped, tables are
/// cut, and a last line says so when the text had to be cut.
pub fn report_summary(r: &Report) -> String {
    let mut s = String::new();
    summary_headline(&mut s, r);
    summary_owners(&mut s, r);
    summary_diff(&mut s, r);
    summary_series(&mut s, r);
    summary_top(&mut s, r);
    fit_comment(s)
}

/// The title and the headline: total, growth, peak, largest owner.
fn summary_headline(s: &mut String, r: &Report) {
    use crate::units::{signed, signed_share};
    use std::fmt::Write as _;
    let unit = r.unit.as_str();
    let a = &r.attribution;
    let _ = writeln!(s, "### heapcost report");
    let _ = writeln!(s);
    let inputs: Vec<String> = r.provenance.inputs.iter().map(|f| f.path.clone()).collect();
    let label = match (&r.series, inputs.last()) {
        (Some(series), Some(last)) => format!(
            "`{}` (last of {} snapshots)",
            last.replace('`', ""),
            series.snapshots.len()
        ),
        _ => format!("`{}`", super::text::files_label(&inputs).replace('`', "")),
    };
    let _ = write!(
        s,
        "{label}: **{}** {}",
        scaled_pm(r.total, a.total_margin, unit),
        r.sample_type
    );
    if let (Some(g), Some(from)) = (r.growth, &r.growth_from) {
        let _ = write!(s, ", **{}** from the {from}", signed(g, unit));
        if let Some(d) = &r.diff {
            let _ = write!(s, " ({})", signed_share(d.total.delta_share, d.total.new));
        }
    }
    if let Some(series) = &r.series {
        let _ = write!(
            s,
            "; peak {} (snapshot {} of {})",
            scaled(r.peak, unit),
            r.peak_index + 1,
            series.snapshots.len()
        );
    }
    if let Some(o) = a.owners.first() {
        let _ = write!(
            s,
            ". Largest owner: **{}**, {} ({})",
            cell(&o.name),
            scaled_pm(o.value, o.margin, unit),
            share_text(o.share)
        );
    }
    let _ = writeln!(s, ".");
    if let Some(how) = &a.sampling {
        let _ = writeln!(s);
        let _ = writeln!(s, "_{}; ± is the 95% sampling interval._", cell(how));
    }
}

/// Warnings, the memory gap, and the owners with their heaviest paths.
fn summary_owners(s: &mut String, r: &Report) {
    use std::fmt::Write as _;
    let unit = r.unit.as_str();
    let a = &r.attribution;
    for w in r.warnings.iter().take(10) {
        let _ = writeln!(s);
        let _ = writeln!(s, "> **Warning:** {}", clipped(w));
    }
    if let Some(m) = &r.memory {
        let _ = writeln!(s);
        for line in &m.sentences {
            let _ = writeln!(s, "{}", cell(line));
            let _ = writeln!(s);
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "| Owner | {} | share | heaviest path |", r.sample_type);
    let _ = writeln!(s, "|---|---:|---:|---|");
    for o in a.owners.iter().take(25) {
        let path = o
            .top_stacks
            .first()
            .map(|p| clipped(&p.path.join(" > ")))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {path} |",
            cell(&o.name),
            scaled_pm(o.value, o.margin, unit),
            share_text(o.share)
        );
    }
}

/// The owners that changed from the base.
fn summary_diff(s: &mut String, r: &Report) {
    use crate::units::{signed, signed_share};
    use std::fmt::Write as _;
    let unit = r.unit.as_str();
    if let Some(d) = &r.diff {
        let _ = writeln!(s);
        let _ = writeln!(s, "| Owner | base | new | delta | delta % |");
        let _ = writeln!(s, "|---|---:|---:|---:|---:|");
        for row in d.owners.iter().filter(|x| x.delta != 0).take(25) {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                cell(&row.name),
                scaled(row.base, unit),
                scaled(row.new, unit),
                signed(row.delta, unit),
                signed_share(row.delta_share, row.new)
            );
        }
    }
}

/// The snapshots, collapsed.
fn summary_series(s: &mut String, r: &Report) {
    use crate::units::signed;
    use std::fmt::Write as _;
    let unit = r.unit.as_str();
    if let Some(series) = &r.series {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "<details><summary>{} snapshots</summary>",
            series.snapshots.len()
        );
        let _ = writeln!(s);
        let _ = writeln!(s, "| # | snapshot | total | growth |");
        let _ = writeln!(s, "|---:|---|---:|---:|");
        for (i, x) in series.snapshots.iter().enumerate() {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                i + 1,
                clipped(&x.path),
                scaled(x.total, unit),
                if i == 0 {
                    String::new()
                } else {
                    signed(x.growth, unit)
                }
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "</details>");
    }
}

/// The top functions, collapsed.
fn summary_top(s: &mut String, r: &Report) {
    use std::fmt::Write as _;
    let unit = r.unit.as_str();
    let _ = writeln!(s);
    let _ = writeln!(s, "<details><summary>Top functions</summary>");
    let _ = writeln!(s);
    let _ = writeln!(s, "| flat | flat% | cum | cum% | function |");
    let _ = writeln!(s, "|---:|---:|---:|---:|---|");
    for f in r.top_functions.iter().take(25) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            scaled(f.flat, unit),
            crate::units::percentage(f.flat, r.total).trim(),
            scaled(f.cum, unit),
            crate::units::percentage(f.cum, r.total).trim(),
            clipped(&f.name)
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "</details>");
}
