//! `report`: every snapshot and the base loaded once, every view computed
//! once from them, the flamegraphs drawn (elided until they fit the size
//! budget), and the HTML, Markdown and JSON files written.

use super::flamegraph::{diff_title, legend};
use super::inspect::texts;
use super::io::{read_text, write_file};
use super::load::{Loaded, Loader, Selection};
use super::views::{owners, snapshot_order, table};
use super::{Config, ReportOptions, Summary, defaults};
use crate::analysis::attribution::AttributionView;
use crate::analysis::diff::{Diff, diff};
use crate::analysis::flame::flame;
use crate::analysis::folded::Folded;
use crate::analysis::report::{BinaryUsed, InputFile, Provenance, Report, memory_gap};
use crate::analysis::series::{Series, series};
use crate::analysis::warnings::{self, Warning};
use crate::error::{Error, Result};
use crate::profile::{SampleTypeChoice, Source};
use crate::read;
use crate::render;
use crate::render::flamegraph::SvgOptions;
use crate::render::html::EmbeddedSvg;
use crate::symbolize::SymbolizeReport;

use rayon::prelude::*;

/// The base, loaded and viewed.
struct Base {
    loaded: Loaded,
    diff: Diff,
    /// The base's attribution warning, from the view the diff used.
    unattributed: Option<Warning>,
}

/// Runs `report`.
pub(crate) fn run(config: &Config, opts: &ReportOptions) -> Result<Summary> {
    let loader = Loader::new(config, opts.rules.as_deref())?;
    let paths = snapshot_order(&config.inputs);
    let snapshots = loader.each(&paths, &opts.sample_type, Selection::LikeLast)?;
    let last = snapshots
        .last()
        .ok_or_else(|| Error::Usage("report needs at least one profile".into()))?;
    let st = last.data.profile.sample_types[last.index].clone();
    let (views, unattributed) = snapshot_views(&snapshots);
    let view = views.last().cloned().unwrap_or_else(|| owners(last, 3).0);
    let many = (snapshots.len() > 1).then(|| series(&paths, &views));
    let top = table(last);
    let base = if opts.base.is_empty() {
        None
    } else {
        let loaded = loader.merged(&opts.base, &SampleTypeChoice::Named(st.kind.clone()))?;
        let (base_view, unattributed) = owners(&loaded, 0);
        let diff = diff(&base_view, &view, &table(&loaded), &top);
        Some(Base {
            loaded,
            diff,
            unattributed,
        })
    };
    let warnings = report_warnings(&snapshots, unattributed, base.as_ref());
    let provenance = provenance(&snapshots, base.as_ref(), &opts.command_line);
    let (growth, growth_from) = growth(base.as_ref(), many.as_ref());
    let (peak, peak_index) = match &many {
        Some(s) => (s.snapshots[s.peak].total, s.peak),
        None => (view.total, 0),
    };
    let memory = memory(opts, last, view.total)?;
    let (flame_svg, diff_svg) = flamegraphs(opts, &paths, last, base.as_ref())?;
    let report = Report {
        sample_type: st.kind,
        unit: st.unit,
        total: view.total,
        peak,
        peak_index,
        growth,
        growth_from,
        attribution: view,
        top_functions: top
            .rows
            .into_iter()
            .filter(|r| r.flat != 0)
            .take(25)
            .collect(),
        diff: base.map(|b| b.diff),
        series: many,
        memory,
        warnings: texts(&warnings),
        provenance,
    };
    write_outputs(opts, &report, &flame_svg, diff_svg.as_ref())?;
    Ok(Summary {
        warnings,
        verdict: None,
    })
}

/// One owner view per snapshot, on every core (each is independent);
/// heaviest paths only for the last snapshot, the one the tables show.
/// Also the first warning of a snapshot that cannot be judged.
fn snapshot_views(snapshots: &[Loaded]) -> (Vec<AttributionView>, Option<Warning>) {
    let last = snapshots.len().saturating_sub(1);
    let views: Vec<(AttributionView, Option<Warning>)> = snapshots
        .par_iter()
        .enumerate()
        .map(|(i, s)| owners(s, if i == last { 3 } else { 0 }))
        .collect();
    let unattributed = views.last().and_then(|(_, w)| w.clone());
    (views.into_iter().map(|(v, _)| v).collect(), unattributed)
}

/// Every snapshot's warnings, the last one's attribution warning, then the
/// base's: the same set `series` and `diff` give.
fn report_warnings(
    snapshots: &[Loaded],
    unattributed: Option<Warning>,
    base: Option<&Base>,
) -> Vec<Warning> {
    let mut all: Vec<Warning> = snapshots.iter().flat_map(|s| s.warnings.clone()).collect();
    all.extend(unattributed);
    if let Some(b) = base {
        all.extend(b.loaded.warnings.iter().cloned());
        all.extend(b.unattributed.clone());
    }
    warnings::collect(all, snapshots.len(), "snapshots")
}

/// Growth of the total from the base, else from the first snapshot.
fn growth(base: Option<&Base>, many: Option<&Series>) -> (Option<i64>, Option<String>) {
    match (base, many) {
        (Some(b), _) => (Some(b.diff.total.delta), Some("base".to_string())),
        (None, Some(s)) => (
            Some(s.snapshots.last().map_or(0, |x| x.total) - s.snapshots[0].total),
            Some("first snapshot".to_string()),
        ),
        _ => (None, None),
    }
}

/// The memory the profile does not see, from `--memory` and `--rss`.
fn memory(
    opts: &ReportOptions,
    last: &Loaded,
    total: i64,
) -> Result<Option<crate::analysis::report::MemoryGap>> {
    let envoy = match &opts.memory {
        Some(path) => {
            let (shown, text) = read_text(path)?;
            Some(read::envoy_memory::parse_memory(&text, &shown)?)
        }
        None => None,
    };
    if envoy.is_none() && opts.rss.is_none() {
        return Ok(None);
    }
    let p = &last.data.profile;
    let inuse = p
        .select(&SampleTypeChoice::Named("inuse_space".into()))
        .map_or(total, |i| p.total(i));
    Ok(Some(memory_gap(inuse, envoy, opts.rss)))
}

/// One input as the provenance lists it, from the source a reader recorded
/// for it (a merged profile keeps one source per file, in order).
fn input_file(s: &Source) -> InputFile {
    InputFile {
        path: s.path.clone(),
        format: s.format.to_string(),
        size: std::fs::metadata(&s.path).map(|m| m.len()).unwrap_or(0),
        stacks: s.stacks,
        truncated: s.header.as_ref().is_some_and(|h| h.truncated()),
    }
}

/// Every file a symbolization used, once per recorded path.
fn add_binaries(list: &mut Vec<BinaryUsed>, report: &SymbolizeReport) {
    for m in &report.mappings {
        if m.frames == 0 || list.iter().any(|b| b.recorded == m.recorded) {
            continue;
        }
        list.push(BinaryUsed {
            recorded: m.recorded.clone(),
            file: m.file.clone(),
            build_id: m.build_id.clone(),
            how: m
                .how
                .clone()
                .or_else(|| m.problem.clone())
                .unwrap_or_default(),
            named_frames: m.named_frames,
            frames: m.frames,
        });
    }
}

/// Inputs, base, binaries, version and command line.
fn provenance(snapshots: &[Loaded], base: Option<&Base>, command_line: &str) -> Provenance {
    let mut binaries = Vec::new();
    let sources = |l: &Loaded| {
        l.data
            .profile
            .sources
            .iter()
            .map(input_file)
            .collect::<Vec<_>>()
    };
    let base_loaded = base.map(|b| &b.loaded);
    for l in snapshots.iter().chain(base_loaded) {
        if let Some(r) = &l.symbolization {
            add_binaries(&mut binaries, r);
        }
    }
    Provenance {
        inputs: snapshots.iter().flat_map(sources).collect(),
        base: base_loaded.map(sources).unwrap_or_default(),
        binaries,
        version: env!("CARGO_PKG_VERSION").to_string(),
        command_line: command_line.to_string(),
    }
}

/// The flamegraph of the last snapshot and, with a base, the differential one.
fn flamegraphs(
    opts: &ReportOptions,
    paths: &[String],
    last: &Loaded,
    base: Option<&Base>,
) -> Result<(EmbeddedSvg, Option<EmbeddedSvg>)> {
    let budget = match opts.max_flamegraph_bytes {
        0 => defaults::FLAMEGRAPH_BYTES,
        n => n,
    };
    let st = &last.data.profile.sample_types[last.index];
    let unit = st.unit.as_str();
    let name = paths.last().map_or("", String::as_str);
    let drawn = flame(&last.data, last.index, None).map_err(|e| Error::Usage(e.to_string()))?;
    let plain = SvgOptions {
        title: format!(
            "{} of {name}: {}",
            st.kind,
            crate::units::scaled(drawn.total, unit)
        ),
        count_name: crate::units::count_name(unit).to_string(),
        legend: legend(&drawn, unit),
        image_width: Some(1200),
        ..Default::default()
    };
    let draw = |o: &SvgOptions| {
        let mut v = Vec::new();
        render::flamegraph::write_svg(&mut v, &drawn.folded, &drawn.frame_owners, o).map(|()| v)
    };
    let flame_svg = fitted_svg(budget, &draw, plain, drawn.total, unit)?;
    let Some(b) = base else {
        return Ok((flame_svg, None));
    };
    let base_folded: Folded = flame(&b.loaded.data, b.loaded.index, None)
        .map_err(|e| Error::Usage(e.to_string()))?
        .folded;
    let o = SvgOptions {
        title: diff_title(&st.kind, "base", name, b.diff.total.delta, unit),
        count_name: crate::units::count_name(unit).to_string(),
        image_width: Some(1200),
        ..Default::default()
    };
    let draw = |o: &SvgOptions| {
        let mut v = Vec::new();
        render::flamegraph::write_diff_svg(&mut v, &base_folded, &drawn.folded, o).map(|()| v)
    };
    Ok((
        flame_svg,
        Some(fitted_svg(budget, &draw, o, drawn.total, unit)?),
    ))
}

/// Draws a flamegraph, doubling the minimum frame width until the SVG fits
/// `budget` bytes; returns it with a note saying what was left out.
fn fitted_svg(
    budget: usize,
    draw: &dyn Fn(&SvgOptions) -> std::io::Result<Vec<u8>>,
    base: SvgOptions,
    total: i64,
    unit: &str,
) -> Result<EmbeddedSvg> {
    let mut opts = base;
    loop {
        let svg = draw(&opts).map_err(Error::Output)?;
        if svg.len() <= budget || opts.min_width > 1200.0 {
            let below = (total as f64 * opts.min_width / 1180.0) as i64;
            let note = format!(
                "Frames narrower than {} px ({:.3}% of the total, about {}) are left out{}.",
                opts.min_width,
                opts.min_width / 1180.0 * 100.0,
                crate::units::scaled(below, unit),
                if opts.min_width > defaults::MIN_WIDTH {
                    " so that the report stays small enough for a browser"
                } else {
                    ""
                }
            );
            return Ok(EmbeddedSvg {
                svg: String::from_utf8_lossy(&svg).into_owned(),
                note,
            });
        }
        opts.min_width *= 2.0;
    }
}

/// The HTML file, and the Markdown and JSON ones when asked for.
fn write_outputs(
    opts: &ReportOptions,
    report: &Report,
    flame_svg: &EmbeddedSvg,
    diff_svg: Option<&EmbeddedSvg>,
) -> Result<()> {
    let html = render::html::render_html(report, flame_svg, diff_svg)
        .map_err(|e| Error::Usage(format!("report template: {e:#}")))?;
    write_file(&opts.output, false, html.as_bytes())?;
    if let Some(path) = &opts.markdown {
        let text = render::markdown::report_summary(report);
        write_file(path, false, text.as_bytes())?;
    }
    if let Some(path) = &opts.json {
        let mut text = serde_json::to_vec_pretty(report)
            .map_err(|e| Error::Output(std::io::Error::other(e)))?;
        text.push(b'\n');
        write_file(path, false, &text)?;
    }
    Ok(())
}
