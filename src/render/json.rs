//! JSON output, following DESIGN.md's contract.

use std::io::Write;

use serde::Serialize;

use crate::analysis::info::Info;
use crate::analysis::top::{Top, TopRow};

#[derive(Serialize)]
struct TopJson<'a> {
    sample_type: &'a str,
    unit: &'a str,
    total: i64,
    rows: &'a [TopRow],
    warnings: &'a [String],
}

/// `{"sample_type", "unit", "total", "rows": [{"name", "flat", "cum"}], "warnings"}`,
/// rows cut to `nodecount` (0: all).
pub fn write_top(
    out: &mut dyn Write,
    top: &Top,
    nodecount: usize,
    warnings: &[String],
) -> std::io::Result<()> {
    let rows = top.first_rows(nodecount);
    let view = TopJson {
        sample_type: &top.sample_type.kind,
        unit: &top.sample_type.unit,
        total: top.total,
        rows,
        warnings,
    };
    serde_json::to_writer_pretty(&mut *out, &view)?;
    writeln!(out)
}

/// An array with one object per input.
pub fn write_info(out: &mut dyn Write, infos: &[Info]) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, infos)?;
    writeln!(out)
}

/// A view with the run's warnings beside its own fields.
#[derive(Serialize)]
struct WithWarnings<'a, T: Serialize> {
    #[serde(flatten)]
    view: &'a T,
    warnings: &'a [String],
}

fn write_with_warnings<T: Serialize>(
    out: &mut dyn Write,
    view: &T,
    warnings: &[String],
) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &WithWarnings { view, warnings })?;
    writeln!(out)
}

/// `{"sample_type", "unit", "total", "owners": [{"name", "tier", "value",
/// "share", "top_stacks": [{"path", "value"}]}], "kinds": [...], "matrix":
/// [{"owner", "kind", "value"}], "named_share", "warnings"}`.
pub fn write_attribution(
    out: &mut dyn Write,
    view: &crate::analysis::attribution::AttributionView,
    warnings: &[String],
) -> std::io::Result<()> {
    write_with_warnings(out, view, warnings)
}

/// `{"sample_type", "unit", "total": {"base", "new", "delta", "delta_share"},
/// "owners": [...], "kinds": [...], "functions": [{"name", "base", "new",
/// "delta", "delta_share", "cum_base", "cum_new"}], "warnings"}`, functions
/// cut to `nodecount` (0: all).
pub fn write_diff(
    out: &mut dyn Write,
    diff: &crate::analysis::diff::Diff,
    nodecount: usize,
    warnings: &[String],
) -> std::io::Result<()> {
    let mut cut = diff.clone();
    cut.functions = diff.first_functions(nodecount).to_vec();
    write_with_warnings(out, &cut, warnings)
}

/// `{"sample_type", "unit", "snapshots": [{"path", "total", "growth"}],
/// "peak", "owners": [{"name", "values", "growth", "peak", "only_grows"}], "warnings"}`.
pub fn write_series(
    out: &mut dyn Write,
    series: &crate::analysis::series::Series,
    warnings: &[String],
) -> std::io::Result<()> {
    write_with_warnings(out, series, warnings)
}

/// `{"sample_type", "unit", "combine", "base_runs": [{"path", "total"}],
/// "new_runs", "noise_floor", "verdict": "pass"|"fail", "checks": [{"scope",
/// "name", "limit", "bound", "base", "new", "delta", "delta_share", "status",
/// "origin"}], "diff": {"total", "owners", "kinds", "functions": []},
/// "growing_stacks": [{"owner", "path", "base", "new", "delta"}], "warnings"}`.
pub fn write_gate(
    out: &mut dyn Write,
    gate: &crate::analysis::gate::Gate,
    warnings: &[String],
) -> std::io::Result<()> {
    write_with_warnings(out, gate, warnings)
}
