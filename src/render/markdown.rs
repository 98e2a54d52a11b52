//! GitHub-flavoured Markdown, for pull-request comments and summaries.

use std::io::Write;

use super::text::share_text;
use super::units::scaled;
use crate::analysis::attribution::AttributionView;
use crate::analysis::top::Top;
use crate::attribute::Tier;

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
        scaled(view.total, unit),
        view.sample_type,
        share_text(view.named_share)
    )?;
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
                scaled(r.value, unit),
                share_text(r.share)
            )?;
        }
    }
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
            super::units::percentage(r.flat, top.total).trim(),
            scaled(r.cum, unit),
            super::units::percentage(r.cum, top.total).trim(),
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
    use super::text::{signed, signed_share};
    let unit = diff.unit.as_str();
    let t = &diff.total;
    writeln!(out, "### heapcost: what changed")?;
    writeln!(out)?;
    writeln!(
        out,
        "{} {} -> {} (**{}**, {}).",
        diff.sample_type,
        scaled(t.base, unit),
        scaled(t.new, unit),
        signed(t.delta, unit),
        signed_share(t)
    )?;
    for w in warnings {
        writeln!(out)?;
        writeln!(out, "> **Warning:** {}", cell(w))?;
    }
    let n = if nodecount == 0 {
        usize::MAX
    } else {
        nodecount
    };
    let functions: Vec<_> = diff.functions.iter().map(|f| &f.flat).take(n).collect();
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
                signed_share(r)
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
    use super::text::{signed, sparkline};
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
