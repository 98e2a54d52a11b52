//! Terminal tables.

use std::io::Write;

use crate::analysis::attribution::AttributionView;
use crate::analysis::info::{Info, MappingInfo};
use crate::analysis::top::Top;
use crate::attribute::Tier;
use crate::units::{change, percentage, plus_minus, scaled, share_text, signed, signed_share};

/// `2026-12-03T16:19:07.123456789Z` for Unix nanoseconds (RFC 3339, UTC).
fn time_text(nanos: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(nanos))
        .map_or_else(|_| format!("{nanos} ns since 1970"), |t| t.to_string())
}

/// Writes the top table, pprof's `-text` layout, limited to `nodecount` rows
/// (0: all). `inputs` names the files the profile came from.
pub fn write_top(
    out: &mut dyn Write,
    top: &Top,
    nodecount: usize,
    inputs: &[String],
) -> std::io::Result<()> {
    let unit = top.sample_type.unit.as_str();
    let rows = top.first_rows(nodecount);
    let shown: i64 = rows.iter().map(|r| r.flat).fold(0, i64::saturating_add);
    write_files_header(out, inputs)?;
    writeln!(out, "Type: {}", top.sample_type.kind)?;
    writeln!(
        out,
        "Showing {} of {} rows, accounting for {}, {} of {} total",
        rows.len(),
        top.rows.len(),
        scaled(shown, unit),
        percentage(shown, top.total).trim(),
        scaled(top.total, unit)
    )?;
    writeln!(
        out,
        "{:>10} {:>6} {:>6} {:>10} {:>6}",
        "flat", "flat%", "sum%", "cum", "cum%"
    )?;
    let mut sum = 0i64;
    for r in rows {
        sum = sum.saturating_add(r.flat);
        writeln!(
            out,
            "{:>10} {:>6} {:>6} {:>10} {:>6}  {}",
            scaled(r.flat, unit),
            percentage(r.flat, top.total),
            percentage(sum, top.total),
            scaled(r.cum, unit),
            percentage(r.cum, top.total),
            r.name
        )?;
    }
    Ok(())
}

/// Writes one input's facts.
pub fn write_info(out: &mut dyn Write, info: &Info) -> std::io::Result<()> {
    writeln!(out, "{}", info.path)?;
    writeln!(out, "  format:       {}", info.format)?;
    let types: Vec<String> = info
        .sample_types
        .iter()
        .zip(&info.units)
        .map(|(t, u)| format!("{t}/{u}"))
        .collect();
    writeln!(out, "  sample types: {}", types.join(" "))?;
    writeln!(out, "  default type: {}", info.default_sample_type)?;
    writeln!(out, "  period:       {} ({})", info.period, info.sampling)?;
    if info.time_nanos > 0 {
        writeln!(out, "  time:         {}", time_text(info.time_nanos))?;
    }
    if info.duration_nanos > 0 {
        writeln!(
            out,
            "  duration:     {:.3} s",
            info.duration_nanos as f64 / 1e9
        )?;
    }
    writeln!(
        out,
        "  stacks:       {} ({} distinct addresses, {} outside every mapping)",
        info.stacks, info.locations, info.unmapped_locations
    )?;
    if info.frameless_stacks > 0 {
        let parts: Vec<String> = info
            .sample_types
            .iter()
            .zip(&info.units)
            .filter_map(|(t, u)| {
                let v = info.frameless_totals.get(t)?.as_i64()?;
                Some(format!("{} {t}", scaled(v, u)))
            })
            .collect();
        writeln!(
            out,
            "  frameless:    {} stack(s) without any frame, left out of the totals as pprof -raw does: {}",
            info.frameless_stacks,
            parts.join(", ")
        )?;
    }
    write_totals(out, info)?;
    if info.truncated {
        writeln!(out, "  truncated:    yes: {}", truncation_words(info))?;
    } else if info.header_totals.is_some() {
        writeln!(
            out,
            "  truncated:    no (the listed stacks account for the header totals)"
        )?;
    }
    write_mappings(out, info)
}

/// The totals table: header, listed stacks, missing, after unsampling.
fn write_totals(out: &mut dyn Write, info: &Info) -> std::io::Result<()> {
    let value = |m: &Option<serde_json::Map<String, serde_json::Value>>, k: &str| {
        m.as_ref()
            .and_then(|m| m.get(k))
            .and_then(serde_json::Value::as_i64)
    };
    writeln!(
        out,
        "  {:<16} {:>16} {:>16} {:>16} {:>16}",
        "totals", "header", "listed stacks", "missing", "after unsampling"
    )?;
    for (t, u) in info.sample_types.iter().zip(&info.units) {
        let cell = |v: Option<i64>| v.map(|v| scaled(v, u)).unwrap_or_else(|| "-".into());
        let total = info
            .sample_totals
            .get(t)
            .and_then(serde_json::Value::as_i64);
        writeln!(
            out,
            "    {:<14} {:>16} {:>16} {:>16} {:>16}",
            t,
            cell(value(&info.header_totals, t)),
            cell(value(&info.listed_totals, t)),
            cell(value(&info.remainder, t)),
            cell(total)
        )?;
    }
    Ok(())
}

/// The mappings, each with how its names were found.
fn write_mappings(out: &mut dyn Write, info: &Info) -> std::io::Result<()> {
    writeln!(out, "  mappings:     {}", info.mappings.len())?;
    for (i, m) in info.mappings.iter().enumerate() {
        let id = if m.build_id.is_empty() {
            String::new()
        } else {
            format!(" build-id {}", m.build_id)
        };
        writeln!(
            out,
            "    {}-{} offset {} {}{} ({} {})",
            m.start,
            m.limit,
            m.offset,
            m.file,
            id,
            m.locations,
            if m.locations == 1 {
                "address"
            } else {
                "addresses"
            }
        )?;
        write_mapping_names(out, info, i, m)?;
    }
    Ok(())
}

/// Where the names of mapping `i` came from, or why there are none.
fn write_mapping_names(
    out: &mut dyn Write,
    info: &Info,
    i: usize,
    m: &MappingInfo,
) -> std::io::Result<()> {
    if let Some(r) = info.symbolization.as_ref().and_then(|s| s.get(i)) {
        if let Some(file) = &r.file {
            let debug = r
                .debug_file
                .as_ref()
                .map(|d| format!(", debug info from {d}"))
                .unwrap_or_default();
            let dwarf = if r.dwarf {
                "DWARF"
            } else {
                "symbol table only"
            };
            writeln!(
                out,
                "      names: {file} ({}{debug}; {dwarf}): {} of {} addresses named, {} of the {} on stacks through it",
                r.how.as_deref().unwrap_or(""),
                r.named_frames,
                r.frames,
                percentage(m.named_value, m.value).trim(),
                info.default_sample_type
            )?;
        }
        if let Some(problem) = &r.problem {
            writeln!(out, "      no names: {problem}")?;
        }
    }
    Ok(())
}

/// One sentence saying what a truncated dump lost, for `info` and warnings.
pub fn truncation_words(info: &Info) -> String {
    let mut parts = Vec::new();
    for (t, u) in info.sample_types.iter().zip(&info.units) {
        let get = |m: &Option<serde_json::Map<String, serde_json::Value>>| {
            m.as_ref()
                .and_then(|m| m.get(t))
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0)
        };
        let missing = get(&info.remainder);
        if missing > 0 {
            parts.push(format!(
                "{} {t} ({} of the header's {})",
                scaled(missing, u),
                percentage(missing, get(&info.header_totals)).trim(),
                scaled(get(&info.header_totals), u)
            ));
        }
    }
    format!(
        "the header counts {} that no listed stack accounts for ({}); totals here are the listed stacks'",
        parts.join(", "),
        info.format.truncation_cause()
    )
}

/// Writes the filter-cost view: owners, kinds, the owner x kind matrix and
/// each owner's heaviest paths.
pub fn write_attribution(
    out: &mut dyn Write,
    view: &AttributionView,
    inputs: &[String],
) -> std::io::Result<()> {
    let unit = view.unit.as_str();
    write_files_header(out, inputs)?;
    let total_margin = match view.total_margin {
        Some(_) => format!(" {}", plus_minus(view.total_margin, unit)),
        None => String::new(),
    };
    writeln!(
        out,
        "Type: {}, total {}{total_margin} ({} in named stacks)",
        view.sample_type,
        scaled(view.total, unit),
        share_text(view.named_share)
    )?;
    if let Some(how) = &view.sampling {
        writeln!(out, "Sampling: {how}; ± is the 95% sampling interval")?;
    }
    let sampled = view.sampling.is_some();
    for (title, rows) in [("owner", &view.owners), ("kind", &view.kinds)] {
        writeln!(out)?;
        let width = rows
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(0)
            .max(title.len());
        let pm = if sampled {
            format!("  {:>9}", "±95%")
        } else {
            String::new()
        };
        writeln!(
            out,
            "{title:<width$}  {:<9}  {:>10}{pm}  {:>6}",
            "tier", view.sample_type, "share"
        )?;
        for r in rows {
            let pm = if sampled {
                format!("  {:>9}", plus_minus(r.margin, unit))
            } else {
                String::new()
            };
            writeln!(
                out,
                "{:<width$}  {:<9}  {:>10}{pm}  {}  {}",
                r.name,
                r.tier.map_or("-", Tier::as_str),
                scaled(r.value, unit),
                percentage(r.value, view.total),
                bar(r.share)
            )?;
        }
    }
    write_matrix(out, view)?;
    if let Some(r) = &view.residency {
        write_residency(out, r)?;
    }
    if view.owners.iter().any(|r| !r.top_stacks.is_empty()) {
        writeln!(out)?;
        writeln!(out, "heaviest paths per owner (entry > ... > leaf):")?;
        for r in view.owners.iter().filter(|r| !r.top_stacks.is_empty()) {
            writeln!(out, "{} ({})", r.name, scaled(r.value, unit))?;
            for p in &r.top_stacks {
                writeln!(
                    out,
                    "  {:>10} {}  {}",
                    scaled(p.value, unit),
                    percentage(p.value, view.total),
                    p.path.join(" > ")
                )?;
            }
        }
    }
    Ok(())
}

/// The residency table of a tcmalloc heap snapshot: per owner, then per
/// kind, each column beside the others.
fn write_residency(
    out: &mut dyn Write,
    r: &crate::analysis::residency::Residency,
) -> std::io::Result<()> {
    let rounding = r.total.rounding.is_some();
    for (title, rows) in [("owner", &r.owners), ("kind", &r.kinds)] {
        writeln!(out)?;
        let width = rows
            .iter()
            .map(|x| x.name.len())
            .max()
            .unwrap_or(0)
            .max(title.len());
        let mut head = format!("{title:<width$}");
        for c in &r.columns {
            head.push_str(&format!("  {c:>14}"));
        }
        if rounding {
            head.push_str(&format!("  {:>14}", "rounding"));
        }
        writeln!(out, "{head}")?;
        for row in rows.iter().chain(std::iter::once(&r.total)) {
            let mut line = format!("{:<width$}", row.name);
            for v in &row.values {
                line.push_str(&format!("  {:>14}", scaled(*v, "bytes")));
            }
            if let Some(x) = row.rounding {
                line.push_str(&format!("  {:>14}", scaled(x, "bytes")));
            }
            writeln!(out, "{line}")?;
        }
    }
    if r.columns.len() > 1 {
        writeln!(
            out,
            "(tcmalloc heap snapshot: resident, swapped, stale and locked parts of each allocation; stale = not touched within tcmalloc's stale scan period, the leak suspects of one snapshot)"
        )?;
    }
    if rounding {
        writeln!(
            out,
            "(rounding = bytes the allocator added to the requested sizes: objects x (bytes - request), from each sample's labels)"
        )?;
    }
    Ok(())
}

fn write_matrix(out: &mut dyn Write, view: &AttributionView) -> std::io::Result<()> {
    let unit = view.unit.as_str();
    let kinds: Vec<&str> = view.kinds.iter().map(|k| k.name.as_str()).collect();
    if kinds.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "owner x kind ({}):", view.sample_type)?;
    let first = view
        .owners
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let widths: Vec<usize> = kinds.iter().map(|k| k.len().max(8)).collect();
    write!(out, "{:<first$}", "owner")?;
    for (k, w) in kinds.iter().zip(&widths) {
        write!(out, "  {k:>w$}")?;
    }
    writeln!(out)?;
    for o in &view.owners {
        write!(out, "{:<first$}", o.name)?;
        for (k, w) in kinds.iter().zip(&widths) {
            let v = view.cell(&o.name, k);
            let text = if v == 0 {
                ".".to_string()
            } else {
                scaled(v, unit)
            };
            write!(out, "  {text:>w$}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// A 20-character bar for a share in 0..1.
fn bar(share: f64) -> String {
    let n = (share.clamp(0.0, 1.0) * 20.0).round() as usize;
    "#".repeat(n)
}

/// Writes a diff: totals, owners, kinds, then the `nodecount` functions
/// (0: all) whose flat value changed most.
pub fn write_diff(
    out: &mut dyn Write,
    diff: &crate::analysis::diff::Diff,
    nodecount: usize,
    base: &[String],
    new: &[String],
) -> std::io::Result<()> {
    let unit = diff.unit.as_str();
    writeln!(out, "Base: {}", files_label(base))?;
    writeln!(out, "New:  {}", files_label(new))?;
    let t = &diff.total;
    writeln!(
        out,
        "Type: {}, total {}",
        diff.sample_type,
        change(t.base, t.new, t.delta, t.delta_share, unit, false)
    )?;
    if t.margin.is_some() {
        writeln!(
            out,
            "Sampling error of the change (95%): {}; smaller changes below cannot be told from sampling noise",
            plus_minus(t.margin, unit)
        )?;
    }
    for (title, rows) in [("owner", &diff.owners), ("kind", &diff.kinds)] {
        writeln!(out)?;
        writeln!(
            out,
            "{:>10} {:>10} {:>11} {:>9}  {title}",
            "base", "new", "delta", "delta%"
        )?;
        for r in rows {
            writeln!(out, "{}  {}", change_cells(r, unit), r.name)?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:>10} {:>10} {:>11} {:>9} {:>11}  function",
        "flat base", "flat new", "flat delta", "delta%", "cum delta"
    )?;
    for f in diff.first_functions(nodecount) {
        let r = &f.flat;
        writeln!(
            out,
            "{} {:>11}  {}",
            change_cells(r, unit),
            signed(f.cum_new.saturating_sub(f.cum_base), unit),
            r.name
        )?;
    }
    Ok(())
}

/// A diff row's base, new, delta and delta% as right-aligned columns.
fn change_cells(r: &crate::analysis::diff::DiffRow, unit: &str) -> String {
    format!(
        "{:>10} {:>10} {:>11} {:>9}",
        scaled(r.base, unit),
        scaled(r.new, unit),
        signed(r.delta, unit),
        signed_share(r.delta_share, r.new)
    )
}

/// `a.heap`, or `a.heap (+12 more)`, to name a set of inputs.
pub fn files_label(files: &[String]) -> String {
    match files {
        [] => String::new(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (+{} more)", rest.len()),
    }
}

/// `File: a.heap`, or `Files: a.heap (+12 more)`; nothing without inputs.
fn write_files_header(out: &mut dyn Write, inputs: &[String]) -> std::io::Result<()> {
    match inputs {
        [] => Ok(()),
        [_] => writeln!(out, "File: {}", files_label(inputs)),
        _ => writeln!(out, "Files: {}", files_label(inputs)),
    }
}

/// Eight-level bars of a row of values, scaled to the row's peak.
pub fn sparkline(values: &[i64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let peak = values.iter().copied().max().unwrap_or(0).max(1);
    values
        .iter()
        .map(|&v| {
            let level = (v.max(0) as f64 / peak as f64 * 7.0).round() as usize;
            BARS[level.min(7)]
        })
        .collect()
}

/// Writes a series: one line per snapshot, then the owners with their
/// trend, growth and peak, leak suspects marked.
pub fn write_series(
    out: &mut dyn Write,
    s: &crate::analysis::series::Series,
) -> std::io::Result<()> {
    let unit = s.unit.as_str();
    let peak = s.snapshots.get(s.peak);
    writeln!(
        out,
        "Type: {}, {} snapshots, peak {} at #{} ({})",
        s.sample_type,
        s.snapshots.len(),
        peak.map_or_else(String::new, |p| scaled(p.total, unit)),
        s.peak + 1,
        peak.map_or("", |p| p.path.as_str())
    )?;
    writeln!(out)?;
    writeln!(out, "{:>3} {:>10} {:>11}  file", "#", "total", "growth")?;
    for (i, snap) in s.snapshots.iter().enumerate() {
        let growth = if i == 0 {
            "-".to_string()
        } else {
            signed(snap.growth, unit)
        };
        writeln!(
            out,
            "{:>3} {:>10} {:>11}  {}",
            i + 1,
            scaled(snap.total, unit),
            growth,
            snap.path
        )?;
    }
    writeln!(out)?;
    let width = s
        .owners
        .iter()
        .map(|o| o.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let trend = s.snapshots.len().max(5);
    writeln!(
        out,
        "{:<width$}  {:<trend$}  {:>10} {:>10} {:>11} {:>10}",
        "owner", "trend", "first", "last", "growth", "peak"
    )?;
    for o in &s.owners {
        writeln!(
            out,
            "{:<width$}  {:<trend$}  {:>10} {:>10} {:>11} {:>10}{}",
            o.name,
            sparkline(&o.values),
            scaled(o.values.first().copied().unwrap_or(0), unit),
            scaled(o.values.last().copied().unwrap_or(0), unit),
            signed(o.growth, unit),
            scaled(o.peak, unit),
            if o.only_grows {
                "  only grows: leak suspect"
            } else {
                ""
            }
        )?;
    }
    Ok(())
}
