//! heapcost turns the heap profiles of an instrumented Envoy proxy into an
//! answer: which filter owns the memory, what grew, and whether a change may
//! merge.
//!
//! # Pipeline
//!
//! ```text
//! bytes ──read──▶ Profile ──symbolize──▶ Profile(+frames) ──attribute──▶ Attributed ──analyze──▶ views ──render──▶ text/json/...
//! ```
//!
//! - [`read`] sniffs the format from the content (gperftools and Go legacy
//!   heap text, jemalloc `heap_v2`, pprof protobuf, gzip or not) and builds
//!   the one [`profile::Profile`] model, unsampled exactly as pprof does.
//! - [`profile`] is the model, close to `profile.proto`, with merging.
//! - [`analysis`] computes views (`info`, `top`).
//! - [`render`] writes them as text tables or JSON.
//!
//! [`run`] is the only place that chains the stages together.
//!
//! # Command line
//!
//! ```text
//! heapcost info envoy.prof.0001.heap
//! heapcost top --sample-type inuse_space -n 20 envoy.prof.*.heap
//! heapcost top --format json - < envoy.prof.0013.heap
//! heapcost gate --base base.heap new.heap -b envoy-static --budgets budgets.toml  # exit 1: regression
//! ```

pub mod analysis;
pub mod attribute;
pub mod error;
pub mod profile;
mod progress;
mod proto;
pub mod read;
pub mod render;
mod report;
pub mod symbolize;
pub mod units;

mod run_gate;

use std::io::Write;

pub use error::{Error, Result};
pub use report::ReportOptions;

use analysis::info::info;
use analysis::top::{TopSort, top};
use profile::Profile;

/// What to run, validated: the library's view of the command line.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// The command and its own options.
    pub command: Command,
    /// Input files, in command-line order; `-` is standard input.
    pub inputs: Vec<String>,
    /// Output format. Default: text.
    pub format: OutputFormat,
    /// How to symbolize; `None` leaves frames as `module+0xoffset`. Default:
    /// look at the recorded paths only.
    pub symbolize: Option<symbolize::Options>,
    /// Draw progress bars on stderr for long work. Default: false.
    pub progress: bool,
}

impl Config {
    /// A configuration for `command` over `inputs`, text output.
    pub fn new(command: Command, inputs: Vec<String>) -> Self {
        Config {
            command,
            inputs,
            format: OutputFormat::Text,
            symbolize: Some(symbolize::Options::default()),
            progress: false,
        }
    }
}

/// The subcommands.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Command {
    /// Describe each input: format, totals, truncation, mappings.
    Info,
    /// pprof-style flat/cum table over the merged inputs.
    Top(TopOptions),
    /// Owner and kind tables, their matrix and each owner's heaviest paths.
    Attribute(AttributeOptions),
    /// Print the effective attribution rules (no inputs read).
    Rules(RulesOptions),
    /// What grew and shrank from the base profiles to the inputs.
    Diff(DiffOptions),
    /// Successive snapshots: totals and owners over time.
    Series(SeriesOptions),
    /// A flamegraph SVG, frames coloured by owner, or a differential one.
    Flamegraph(FlamegraphOptions),
    /// The inputs, merged and symbolized, as a pprof protobuf or folded stacks.
    Convert(ConvertOptions),
    /// The self-contained HTML report (and its Markdown and JSON forms).
    Report(ReportOptions),
    /// The CI gate: base runs against new runs, checked against budgets
    /// (boxed: its options are the largest).
    Gate(Box<GateOptions>),
}

/// Options of `flamegraph`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct FlamegraphOptions {
    /// Sample type name or index; empty selects the profile's default.
    pub sample_type: String,
    /// Base profiles: when given, a differential graph from them to the inputs.
    pub base: Vec<String>,
    /// Only the samples charged to this owner.
    pub owner: Option<String>,
    /// Root at the top.
    pub icicle: bool,
    /// Title; default names the inputs and the sample type.
    pub title: Option<String>,
    /// Frames narrower than this many pixels (of 1200) are left out; default 0.1.
    pub min_width: Option<f64>,
    /// A rules file added before the built-in rules.
    pub rules: Option<std::path::PathBuf>,
    /// Where to write; `None` writes to the output stream.
    pub output: Option<std::path::PathBuf>,
}

/// What `convert` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConvertTo {
    /// A gzipped pprof protobuf (`profile.proto`), symbolized.
    #[default]
    Pprof,
    /// Folded stacks (`root;...;leaf value`) of one sample type.
    Folded,
}

/// Options of `convert`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConvertOptions {
    /// Output format.
    pub to: ConvertTo,
    /// Sample type for folded stacks; empty selects the profile's default.
    pub sample_type: String,
    /// Where to write; `None` writes to the output stream.
    pub output: Option<std::path::PathBuf>,
}

/// Options of `gate`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct GateOptions {
    /// The base runs (each read and attributed on its own; see
    /// [`analysis::gate`] for how runs are combined).
    pub base: Vec<String>,
    /// The base runs' main executable, when it is not the new runs' (the
    /// base branch's build); `None` symbolizes both sides alike.
    pub base_binary: Option<std::path::PathBuf>,
    /// Sample type name or index; empty takes the budgets file's
    /// `sample_type`, else the profile's default.
    pub sample_type: String,
    /// A rules file added before the built-in rules.
    pub rules: Option<std::path::PathBuf>,
    /// The budgets file (TOML, see [`analysis::budgets`]); none by default.
    pub budgets: Option<std::path::PathBuf>,
    /// Limits from the command line, laid over the file's with
    /// [`Budgets::overridden_by`](analysis::budgets::Budgets::overridden_by).
    pub limits: analysis::budgets::Budgets,
    /// Where to write the pull-request comment (Markdown); none by default.
    pub markdown: Option<std::path::PathBuf>,
    /// Where to write JUnit XML; none by default.
    pub junit: Option<std::path::PathBuf>,
    /// Print GitHub Actions annotations on the output after the table.
    /// Default: off.
    pub github: bool,
    /// A file to append the Markdown comment to (the CLI passes
    /// `$GITHUB_STEP_SUMMARY` with `--github`); none by default.
    pub step_summary: Option<std::path::PathBuf>,
}

/// Options of `series`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SeriesOptions {
    /// Sample type name or index; empty selects the profile's default.
    pub sample_type: String,
    /// A rules file added before the built-in rules.
    pub rules: Option<std::path::PathBuf>,
}

/// Options of `diff`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DiffOptions {
    /// The base profiles (merged like the inputs).
    pub base: Vec<String>,
    /// Sample type name or index; empty selects the profile's default.
    pub sample_type: String,
    /// Function rows to show; 0 shows all.
    pub nodecount: usize,
    /// A rules file added before the built-in rules.
    pub rules: Option<std::path::PathBuf>,
}

/// Options of `attribute`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AttributeOptions {
    /// Sample type name or index; empty selects the profile's default.
    pub sample_type: String,
    /// Heaviest short paths to show per owner.
    pub stacks: usize,
    /// A rules file added before the built-in rules.
    pub rules: Option<std::path::PathBuf>,
}

/// Options of `rules`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RulesOptions {
    /// A rules file added before the built-in rules.
    pub rules: Option<std::path::PathBuf>,
}

/// Options of `top`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TopOptions {
    /// Sample type name or index; empty selects the profile's default (pprof's rule).
    pub sample_type: String,
    /// Rows to show; 0 shows all. Default 0 here; the CLI defaults to 20.
    pub nodecount: usize,
    /// Row order. Default: flat.
    pub sort: TopSort,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Terminal tables.
    #[default]
    Text,
    /// JSON, as documented in DESIGN.md.
    Json,
    /// GitHub-flavoured Markdown (for pull-request comments).
    Markdown,
}

/// What a run found worth telling besides its output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Non-fatal problems, one line each, for stderr.
    pub warnings: Vec<String>,
    /// The gate's verdict (`gate` only): the binary exits with 1 when it
    /// is [`Verdict::Fail`](analysis::gate::Verdict::Fail).
    pub verdict: Option<analysis::gate::Verdict>,
}

impl Summary {
    /// True when the gate found a broken limit (exit code 1).
    pub fn failed(&self) -> bool {
        self.verdict == Some(analysis::gate::Verdict::Fail)
    }
}

/// Runs one command, writing its output to `out`.
pub fn run(config: &Config, out: &mut dyn Write) -> Result<Summary> {
    let mut summary = Summary::default();
    match &config.command {
        Command::Info => {
            let mut profiles = read::read_all(&config.inputs)?;
            let mut infos = Vec::with_capacity(profiles.len());
            let symbolizer = config.symbolize.clone().map(symbolize::ElfSymbolizer::new);
            for p in &mut profiles {
                let report = match &symbolizer {
                    Some(s) => Some(s.symbolize(p)?),
                    None => None,
                };
                let mut i = info(p);
                if let Some(r) = report {
                    summary.warnings.extend(r.warnings);
                    i.symbolization = Some(r.mappings);
                }
                infos.push(i);
            }
            match config.format {
                OutputFormat::Text | OutputFormat::Markdown => {
                    let markdown = config.format == OutputFormat::Markdown;
                    if markdown {
                        writeln!(out, "```text").map_err(Error::Output)?;
                    }
                    for (i, inf) in infos.iter().enumerate() {
                        if i > 0 {
                            writeln!(out).map_err(Error::Output)?;
                        }
                        render::text::write_info(out, inf).map_err(Error::Output)?;
                    }
                    if markdown {
                        writeln!(out, "```").map_err(Error::Output)?;
                    }
                }
                OutputFormat::Json => {
                    render::json::write_info(out, &infos).map_err(Error::Output)?
                }
            }
        }
        Command::Top(opts) => {
            let (merged, index) = load(config, &config.inputs, &opts.sample_type, &mut summary)?;
            let table = top(&merged, index, opts.sort);
            match config.format {
                OutputFormat::Text => {
                    render::text::write_top(out, &table, opts.nodecount, &config.inputs)
                }
                OutputFormat::Json => {
                    render::json::write_top(out, &table, opts.nodecount, &summary.warnings)
                }
                OutputFormat::Markdown => {
                    render::markdown::write_top(out, &table, opts.nodecount, &config.inputs)
                }
            }
            .map_err(Error::Output)?;
        }
        Command::Attribute(opts) => {
            let rules = load_rules(opts.rules.as_deref())?;
            let (merged, index) = load(config, &config.inputs, &opts.sample_type, &mut summary)?;
            let (view, _) = analysis::attribution::attribution(&merged, index, &rules, opts.stacks);
            summary.warnings.extend(attribution_warning(&view));
            match config.format {
                OutputFormat::Text => render::text::write_attribution(out, &view, &config.inputs),
                OutputFormat::Json => {
                    render::json::write_attribution(out, &view, &summary.warnings)
                }
                OutputFormat::Markdown => render::markdown::write_attribution(
                    out,
                    &view,
                    &config.inputs,
                    &summary.warnings,
                ),
            }
            .map_err(Error::Output)?;
        }
        Command::Diff(opts) => {
            let rules = load_rules(opts.rules.as_deref())?;
            let (base, base_index) = load(config, &opts.base, &opts.sample_type, &mut summary)?;
            let (new, new_index) = load(config, &config.inputs, &opts.sample_type, &mut summary)?;
            let d = analysis::diff::diff(&base, base_index, &new, new_index, &rules);
            match config.format {
                OutputFormat::Text => {
                    render::text::write_diff(out, &d, opts.nodecount, &opts.base, &config.inputs)
                }
                OutputFormat::Json => {
                    render::json::write_diff(out, &d, opts.nodecount, &summary.warnings)
                }
                OutputFormat::Markdown => {
                    render::markdown::write_diff(out, &d, opts.nodecount, &summary.warnings)
                }
            }
            .map_err(Error::Output)?;
        }
        Command::Series(opts) => {
            let rules = load_rules(opts.rules.as_deref())?;
            let mut order: Vec<usize> = (0..config.inputs.len()).collect();
            order.sort_by(|&a, &b| {
                analysis::series::natural_cmp(&config.inputs[a], &config.inputs[b])
            });
            let paths: Vec<String> = order.iter().map(|&i| config.inputs[i].clone()).collect();
            let profiles = read::read_all(&paths)?;
            let symbolizer = config.symbolize.clone().map(symbolize::ElfSymbolizer::new);
            let mut views = Vec::with_capacity(profiles.len());
            for (mut p, path) in profiles.into_iter().zip(&paths) {
                if let Some(s) = &symbolizer {
                    let report = s.symbolize(&mut p)?;
                    summary.warnings.extend(report.warnings);
                }
                let index = p
                    .sample_type_index(&opts.sample_type)
                    .map_err(|why| Error::SampleType(format!("{path}: {why}")))?;
                summary.warnings.extend(truncation_warning(&p, index));
                views.push(analysis::attribution::attribution(&p, index, &rules, 0).0);
            }
            let s = analysis::series::series(&paths, &views);
            if let Some(w) = views.iter().find_map(attribution_warning) {
                summary.warnings.push(w);
            }
            match config.format {
                OutputFormat::Text => render::text::write_series(out, &s),
                OutputFormat::Json => render::json::write_series(out, &s, &summary.warnings),
                OutputFormat::Markdown => {
                    render::markdown::write_series(out, &s, &summary.warnings)
                }
            }
            .map_err(Error::Output)?;
        }
        Command::Flamegraph(opts) => {
            let rules = load_rules(opts.rules.as_deref())?;
            let (new, index) = load(config, &config.inputs, &opts.sample_type, &mut summary)?;
            let svg = flamegraph_svg(config, opts, &rules, &new, index, &mut summary)?;
            write_to(opts.output.as_deref(), out, &svg)?;
        }
        Command::Report(opts) => {
            let rules = load_rules(opts.rules.as_deref())?;
            report::run_report(config, opts, &rules, &mut summary)?;
        }
        Command::Convert(opts) => {
            let mut bytes = Vec::new();
            match opts.to {
                ConvertTo::Pprof => {
                    let (merged, _) = load(config, &config.inputs, "", &mut summary)?;
                    render::pprof::write_pprof(&mut bytes, &merged)
                }
                ConvertTo::Folded => {
                    let (merged, index) =
                        load(config, &config.inputs, &opts.sample_type, &mut summary)?;
                    let folded = render::folded::fold(&merged, index, |_| true);
                    render::folded::write_folded(&mut bytes, &folded)
                }
            }
            .map_err(Error::Output)?;
            write_to(opts.output.as_deref(), out, &bytes)?;
        }
        Command::Gate(opts) => run_gate::run(config, opts, out, &mut summary)?,
        Command::Rules(opts) => {
            let rules = load_rules(opts.rules.as_deref())?;
            let text = match config.format {
                OutputFormat::Json => {
                    serde_json::to_string_pretty(&rules.to_file()).unwrap_or_default() + "\n"
                }
                OutputFormat::Text | OutputFormat::Markdown => rules.to_file().to_toml(),
            };
            out.write_all(text.as_bytes()).map_err(Error::Output)?;
        }
    }
    Ok(summary)
}

/// Writes (or appends) `bytes` to `path`, making its directory if missing.
pub(crate) fn write_file(path: &std::path::Path, append: bool, bytes: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true);
    if append {
        options.append(true);
    } else {
        options.write(true).truncate(true);
    }
    // A missing directory is made, as `-o out/report.html` on a fresh
    // checkout expects.
    let parent = path.parent().filter(|d| !d.as_os_str().is_empty());
    parent
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| options.open(path))
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|source| Error::Write {
            path: path.display().to_string(),
            source,
        })
}

/// A text file and the name to show for it in messages.
pub(crate) fn read_text(path: &std::path::Path) -> Result<(String, String)> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: shown.clone(),
        source,
    })?;
    Ok((shown, text))
}

/// Writes `bytes` to `path`, or to `out` when there is none.
fn write_to(path: Option<&std::path::Path>, out: &mut dyn Write, bytes: &[u8]) -> Result<()> {
    match path {
        Some(p) => write_file(p, false, bytes),
        None => out.write_all(bytes).map_err(Error::Output),
    }
}

/// The SVG of `flamegraph` (plain, or differential with a base).
fn flamegraph_svg(
    config: &Config,
    opts: &FlamegraphOptions,
    rules: &attribute::RuleSet,
    new: &Profile,
    index: usize,
    summary: &mut Summary,
) -> Result<Vec<u8>> {
    let flame =
        analysis::flame::flame(new, index, rules, opts.owner.as_deref()).map_err(Error::Usage)?;
    let st = &new.sample_types[index];
    let count_name = units::count_name(&st.unit);
    let mut svg_opts = render::flamegraph::SvgOptions {
        count_name: count_name.to_string(),
        icicle: opts.icicle,
        ..Default::default()
    };
    if let Some(w) = opts.min_width {
        svg_opts.min_width = w;
    }
    let what = match &opts.owner {
        Some(o) => format!("{}, owner {o}", st.kind),
        None => st.kind.clone(),
    };
    let mut svg = Vec::new();
    if opts.base.is_empty() {
        svg_opts.title = opts.title.clone().unwrap_or_else(|| {
            format!(
                "{what} of {}: {}",
                render::text::files_label(&config.inputs),
                units::scaled(flame.total, &st.unit)
            )
        });
        svg_opts.legend = flame
            .owners
            .iter()
            .map(|(o, v)| (o.clone(), units::scaled(*v, &st.unit)))
            .collect();
        render::flamegraph::write_svg(&mut svg, &flame.folded, &flame.frame_owners, &svg_opts)
    } else {
        let (base, base_index) = load(config, &opts.base, &st.kind, summary)?;
        // An owner the base does not have drew nothing there: an empty base.
        let base_folded = analysis::flame::flame(&base, base_index, rules, opts.owner.as_deref())
            .map(|f| f.folded)
            .unwrap_or_default();
        let delta = flame
            .total
            .saturating_sub(base_folded.values().sum::<i64>());
        svg_opts.title = opts.title.clone().unwrap_or_else(|| {
            format!(
                "{what}, {} -> {}: {} (red grew, blue shrank)",
                render::text::files_label(&opts.base),
                render::text::files_label(&config.inputs),
                units::signed(delta, &st.unit)
            )
        });
        render::flamegraph::write_diff_svg(&mut svg, &base_folded, &flame.folded, &svg_opts)
    }
    .map_err(Error::Output)?;
    Ok(svg)
}

/// Reads and merges the inputs, symbolizes them as configured, and picks the
/// sample type; adds the warnings every view of merged inputs carries.
fn load(
    config: &Config,
    inputs: &[String],
    sample_type: &str,
    summary: &mut Summary,
) -> Result<(Profile, usize)> {
    let mut merged = read::read_merged(inputs)?;
    if let Some(opts) = &config.symbolize {
        let spinner = progress::Progress::spinner(config.progress, "symbolizing");
        let report = symbolize::run(&mut merged, opts);
        spinner.finish();
        let report = report?;
        summary.warnings.extend(report.warnings.iter().cloned());
        summary.warnings.extend(unnamed_warning(&report));
    }
    let index = merged.sample_type_index(sample_type).map_err(|why| {
        Error::SampleType(format!("{}: {why}", render::text::files_label(inputs)))
    })?;
    summary.warnings.extend(truncation_warning(&merged, index));
    summary.warnings.extend(frameless_warning(&merged, index));
    Ok((merged, index))
}

/// The built-in rules, with a user file before them when given.
fn load_rules(user: Option<&std::path::Path>) -> Result<attribute::RuleSet> {
    match user {
        None => attribute::RuleSet::builtin(),
        Some(path) => {
            let (shown, text) = read_text(path)?;
            attribute::RuleSet::load(Some((&shown, &text)))
        }
    }
}

/// One line when attribution could not judge part of the profile for lack
/// of names.
fn attribution_warning(view: &analysis::attribution::AttributionView) -> Option<String> {
    let unsymbolized = view.owner(attribute::UNSYMBOLIZED);
    if unsymbolized == 0 {
        return None;
    }
    let share = units::share_text(if view.total == 0 {
        0.0
    } else {
        unsymbolized as f64 / view.total as f64
    });
    let ratio = unsymbolized as f64 / (view.total.max(1)) as f64;
    if ratio < 0.01 {
        // Noise: a few bytes under unnamed runtime frames.
        return None;
    }
    if view.named_share == 0.0 {
        return Some(
            "no frame has a name, so every stack is 'unsymbolized': attribution needs names; give the binary with --binary (e.g. -b envoy-static) or a directory with --symbols-path"
                .to_string(),
        );
    }
    Some(format!(
        "{share} of {} is 'unsymbolized' (the code that called the allocator has no name); give the missing binaries with --binary or --symbols-path",
        view.sample_type
    ))
}

/// One line naming the mappings whose frames got no names, and why.
fn unnamed_warning(report: &symbolize::SymbolizeReport) -> Option<String> {
    let parts: Vec<String> = report
        .mappings
        .iter()
        .filter(|m| m.frames > 0 && m.named_frames == 0)
        .map(|m| {
            let name = m.recorded.rsplit('/').next().unwrap_or(&m.recorded);
            let why = m.problem.as_deref().unwrap_or("no names");
            format!("{name}: {why}")
        })
        .collect();
    if parts.is_empty() {
        return None;
    }
    Some(format!(
        "frames of {} mapping(s) have no names and show as module+0xoffset ({}); give the binary with --binary or a directory with --symbols-path",
        parts.len(),
        parts.join("; ")
    ))
}

/// One line about stacks without frames that the readers left out.
fn frameless_warning(merged: &Profile, index: usize) -> Option<String> {
    let sources: Vec<&profile::Source> = merged
        .sources
        .iter()
        .filter(|s| s.frameless.count > 0)
        .collect();
    if sources.is_empty() {
        return None;
    }
    let count: usize = sources.iter().map(|s| s.frameless.count).sum();
    let value: i64 = sources
        .iter()
        .map(|s| s.frameless.values.get(index).copied().unwrap_or(0))
        .fold(0, i64::saturating_add);
    if value == 0 {
        // Nothing of the type shown is missing from the totals.
        return None;
    }
    let kind = merged.sample_types.get(index)?;
    let paths: Vec<&str> = sources.iter().map(|s| s.path.as_str()).collect();
    Some(format!(
        "{}: {count} stack(s) without any frame ({} {}) are left out of the totals, as pprof -raw leaves them out",
        paths.join(", "),
        units::scaled(value, &kind.unit),
        kind.kind
    ))
}

/// One line about inputs whose header counts more than their listed stacks.
fn truncation_warning(merged: &Profile, index: usize) -> Option<String> {
    let cut: Vec<&profile::Source> = merged
        .sources
        .iter()
        .filter(|s| s.header.as_ref().is_some_and(|h| h.truncated()))
        .collect();
    let first = cut.first()?;
    let (mut missing, mut header) = (0i64, 0i64);
    for h in cut.iter().filter_map(|s| s.header.as_ref()) {
        missing = missing.saturating_add(h.remainder().get(index).copied().unwrap_or(0).max(0));
        header = header.saturating_add(h.header.get(index).copied().unwrap_or(0));
    }
    let kind = merged.sample_types.get(index)?;
    let which = if cut.len() == 1 {
        format!("{} is a truncated dump", first.path)
    } else {
        format!(
            "{} of {} inputs are truncated dumps",
            cut.len(),
            merged.sources.len()
        )
    };
    let effect = if missing > 0 {
        format!(
            "{} {} ({}) in the headers is in no listed stack and not in these totals",
            units::scaled(missing, &kind.unit),
            kind.kind,
            units::percentage(missing, header).trim()
        )
    } else {
        format!("{} is complete; other sample types lost stacks", kind.kind)
    };
    let cause = first.format.truncation_cause();
    Some(format!("{which}: {effect} ({cause}); see `heapcost info`"))
}
