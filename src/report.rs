//! `heapcost report`: reads the snapshots and the base, symbolizes them with
//! one symbolizer, computes every view, draws the flamegraphs (elided until
//! they fit the size budget) and writes the HTML, Markdown and JSON files.

use std::path::PathBuf;

use crate::analysis::{
    self,
    report::{BinaryUsed, InputFile, Provenance, Report, memory_gap},
};
use crate::attribute::RuleSet;
use crate::render::flamegraph::SvgOptions;
use crate::render::html::EmbeddedSvg;
use crate::{Config, Error, Result, Summary, read, render, symbolize};

/// Options of `report`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ReportOptions {
    /// Sample type name or index; empty selects the profile's default.
    pub sample_type: String,
    /// Base profiles (merged) to compare the last snapshot with.
    pub base: Vec<String>,
    /// A rules file added before the built-in rules.
    pub rules: Option<PathBuf>,
    /// The HTML file to write.
    pub output: PathBuf,
    /// Also write the Markdown summary here.
    pub markdown: Option<PathBuf>,
    /// Also write the JSON view here.
    pub json: Option<PathBuf>,
    /// Envoy's admin `/memory` output (JSON).
    pub memory: Option<PathBuf>,
    /// The process's resident set size in bytes.
    pub rss: Option<u64>,
    /// The command line, for the provenance section.
    pub command_line: String,
    /// Size budget of one embedded flamegraph, bytes; 0 means the default (4 MiB).
    pub max_flamegraph_bytes: usize,
}

/// Default size budget of each embedded flamegraph: two of them and the
/// tables stay under 10 MB.
pub(crate) const MAX_FLAMEGRAPH_BYTES: usize = 4 << 20;

/// One input as the provenance lists it, from the source a reader recorded
/// for it (a merged profile keeps one source per file, in order).
fn input_file(s: &crate::profile::Source) -> InputFile {
    InputFile {
        path: s.path.clone(),
        format: s.format.to_string(),
        size: std::fs::metadata(&s.path).map(|m| m.len()).unwrap_or(0),
        stacks: s.stacks,
        truncated: s.header.as_ref().is_some_and(|h| h.truncated()),
    }
}

fn add_binaries(list: &mut Vec<BinaryUsed>, report: &symbolize::SymbolizeReport) {
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
                if opts.min_width > 0.1 {
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

/// The truncation warnings of several snapshots as one line when they say
/// the same thing about different files (`13 of 13 snapshots are truncated
/// dumps: ...`), else as they are.
fn one_truncation_warning(warnings: &[String], snapshots: usize) -> Vec<String> {
    const MARK: &str = " is a truncated dump: ";
    let rests: Vec<&str> = warnings
        .iter()
        .filter_map(|w| w.split_once(MARK).map(|(_, r)| r))
        .collect();
    if warnings.len() < 2 || rests.len() != warnings.len() || rests.iter().any(|r| *r != rests[0]) {
        return warnings.to_vec();
    }
    vec![format!(
        "{} of {snapshots} snapshots are truncated dumps: {}",
        warnings.len(),
        rests[0]
    )]
}

/// Runs `report`.
pub(crate) fn run_report(
    config: &Config,
    opts: &ReportOptions,
    rules: &RuleSet,
    summary: &mut Summary,
) -> Result<()> {
    let mut order: Vec<usize> = (0..config.inputs.len()).collect();
    order.sort_by(|&a, &b| analysis::series::natural_cmp(&config.inputs[a], &config.inputs[b]));
    let paths: Vec<String> = order.iter().map(|&i| config.inputs[i].clone()).collect();
    let progress = crate::progress::Progress::new(config.progress, paths.len() as u64, "reading");
    let mut profiles = read::read_all(&paths)?;
    let symbolizer = config.symbolize.clone().map(symbolize::ElfSymbolizer::new);
    let mut binaries = Vec::new();
    let mut inputs = Vec::new();
    progress.set_message("symbolizing");
    for p in profiles.iter_mut() {
        if let Some(s) = &symbolizer {
            let report = s.symbolize(p)?;
            summary.warnings.extend(report.warnings.iter().cloned());
            summary.warnings.extend(crate::unnamed_warning(&report));
            add_binaries(&mut binaries, &report);
        }
        inputs.extend(p.sources.iter().map(input_file));
        progress.inc();
    }
    progress.finish();
    summary.warnings.dedup();
    let last = profiles
        .last()
        .ok_or_else(|| Error::Usage("report needs at least one profile".into()))?;
    let index = last
        .sample_type_index(&opts.sample_type)
        .map_err(|why| Error::SampleType(format!("{}: {why}", paths[paths.len() - 1])))?;
    let kind = last.sample_types[index].kind.clone();
    let unit = last.sample_types[index].unit.clone();
    let mut indexes = Vec::with_capacity(profiles.len());
    let mut truncated = Vec::new();
    for (p, path) in profiles.iter().zip(&paths) {
        let i = p
            .sample_type_index(&kind)
            .map_err(|why| Error::SampleType(format!("{path}: {why}")))?;
        if let Some(w) = crate::truncation_warning(p, i) {
            truncated.push(w);
        }
        indexes.push(i);
    }
    // One attribution per snapshot, on every core (each is independent);
    // heaviest paths only for the last snapshot, the one the tables show.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = profiles.len().div_ceil(threads).max(1);
    let count = profiles.len();
    let views: Vec<analysis::attribution::AttributionView> = std::thread::scope(|scope| {
        let handles: Vec<_> = profiles
            .chunks(chunk)
            .zip(indexes.chunks(chunk))
            .enumerate()
            .map(|(c, (ps, is))| {
                scope.spawn(move || {
                    ps.iter()
                        .zip(is)
                        .enumerate()
                        .map(|(k, (p, &i))| {
                            let stacks = if c * chunk + k + 1 == count { 3 } else { 0 };
                            analysis::attribution::attribution(p, i, rules, stacks).0
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    summary
        .warnings
        .extend(one_truncation_warning(&truncated, paths.len()));
    let view = views
        .last()
        .cloned()
        .unwrap_or_else(|| analysis::attribution::attribution(last, index, rules, 3).0);
    summary.warnings.extend(crate::attribution_warning(&view));
    summary
        .warnings
        .extend(crate::frameless_warning(last, index));
    let series = (profiles.len() > 1).then(|| analysis::series::series(&paths, &views));
    let table = analysis::top::top(last, index, analysis::top::TopSort::Flat);

    // The base, merged and symbolized like the inputs.
    let mut base_inputs = Vec::new();
    let base = if opts.base.is_empty() {
        None
    } else {
        let mut b = read::read_merged(&opts.base)?;
        if let Some(s) = &symbolizer {
            let report = s.symbolize(&mut b)?;
            summary.warnings.extend(report.warnings.iter().cloned());
            add_binaries(&mut binaries, &report);
        }
        base_inputs.extend(b.sources.iter().map(input_file));
        let bi = b
            .sample_type_index(&kind)
            .map_err(|why| Error::SampleType(format!("base: {why}")))?;
        summary.warnings.extend(crate::truncation_warning(&b, bi));
        Some((b, bi))
    };
    let diff = base
        .as_ref()
        .map(|(b, bi)| analysis::diff::diff(b, *bi, last, index, rules));
    let (growth, growth_from) = match (&diff, &series) {
        (Some(d), _) => (Some(d.total.delta), Some("base".to_string())),
        (None, Some(s)) => (
            Some(s.snapshots.last().map_or(0, |x| x.total) - s.snapshots[0].total),
            Some("first snapshot".to_string()),
        ),
        _ => (None, None),
    };
    let (peak, peak_index) = match &series {
        Some(s) => (s.snapshots[s.peak].total, s.peak),
        None => (view.total, 0),
    };

    // Memory outside the profile.
    let envoy = match &opts.memory {
        Some(path) => {
            let (shown, text) = crate::read_text(path)?;
            Some(read::envoy_memory::parse_memory(&text, &shown)?)
        }
        None => None,
    };
    let memory = (envoy.is_some() || opts.rss.is_some()).then(|| {
        let inuse = last
            .sample_type_index("inuse_space")
            .map_or(view.total, |i| last.total(i));
        memory_gap(inuse, envoy, opts.rss)
    });

    // Flamegraphs.
    let budget = if opts.max_flamegraph_bytes == 0 {
        MAX_FLAMEGRAPH_BYTES
    } else {
        opts.max_flamegraph_bytes
    };
    let flame = analysis::flame::flame(last, index, rules, None).map_err(Error::Usage)?;
    let count_name = crate::units::count_name(&unit).to_string();
    let legend: Vec<(String, String)> = flame
        .owners
        .iter()
        .map(|(o, v)| (o.clone(), crate::units::scaled(*v, &unit)))
        .collect();
    let base_opts = SvgOptions {
        title: format!(
            "{kind} of {}: {}",
            paths[paths.len() - 1],
            crate::units::scaled(flame.total, &unit)
        ),
        count_name: count_name.clone(),
        legend,
        image_width: Some(1200),
        ..Default::default()
    };
    let flame_svg = fitted_svg(
        budget,
        &|o| {
            let mut v = Vec::new();
            render::flamegraph::write_svg(&mut v, &flame.folded, &flame.frame_owners, o)?;
            Ok(v)
        },
        base_opts,
        flame.total,
        &unit,
    )?;
    let diff_svg = match (&base, &diff) {
        (Some((b, bi)), Some(d)) => {
            let base_flame = analysis::flame::flame(b, *bi, rules, None).map_err(Error::Usage)?;
            let o = SvgOptions {
                title: format!(
                    "{kind}, base -> {}: {} (red grew, blue shrank)",
                    paths[paths.len() - 1],
                    crate::units::signed(d.total.delta, &unit)
                ),
                count_name,
                image_width: Some(1200),
                ..Default::default()
            };
            Some(fitted_svg(
                budget,
                &|o| {
                    let mut v = Vec::new();
                    render::flamegraph::write_diff_svg(
                        &mut v,
                        &base_flame.folded,
                        &flame.folded,
                        o,
                    )?;
                    Ok(v)
                },
                o,
                flame.total,
                &unit,
            )?)
        }
        _ => None,
    };

    let mut warnings = summary.warnings.clone();
    warnings.dedup();
    let report = Report {
        sample_type: kind,
        unit,
        total: view.total,
        peak,
        peak_index,
        growth,
        growth_from,
        attribution: view,
        top_functions: table
            .rows
            .iter()
            .filter(|r| r.flat != 0)
            .take(25)
            .cloned()
            .collect(),
        diff,
        series,
        memory,
        warnings,
        provenance: Provenance {
            inputs,
            base: base_inputs,
            binaries,
            version: env!("CARGO_PKG_VERSION").to_string(),
            command_line: opts.command_line.clone(),
        },
    };
    let html = render::html::render_html(&report, &flame_svg, diff_svg.as_ref())
        .map_err(|e| Error::Usage(format!("report template: {e:#}")))?;
    crate::write_file(&opts.output, false, html.as_bytes())?;
    if let Some(path) = &opts.markdown {
        let text = render::markdown::report_summary(&report);
        crate::write_file(path, false, text.as_bytes())?;
    }
    if let Some(path) = &opts.json {
        let mut text = serde_json::to_vec_pretty(&report)
            .map_err(|e| Error::Output(std::io::Error::other(e)))?;
        text.push(b'\n');
        crate::write_file(path, false, &text)?;
    }
    Ok(())
}
