//! How [`run`](crate::run) carries out `heapcost gate`: every run of both
//! sides read, symbolized and attributed on its own, the budgets checked on
//! the combined sides ([`analysis::gate`]), the reports written.

use std::io::Write;

use crate::analysis::attribution::{AttributionView, attribution};
use crate::analysis::budgets::Budgets;
use crate::analysis::gate::{Gate, Side};
use crate::{
    Config, Error, GateOptions, OutputFormat, Result, Summary, analysis, attribute, read, render,
    symbolize,
};

/// Runs the gate: writes the requested files, then the verdict on `out`
/// (with GitHub annotations after it when asked); the verdict goes in the
/// summary, for the exit code.
pub(crate) fn run(
    config: &Config,
    opts: &GateOptions,
    out: &mut dyn Write,
    summary: &mut Summary,
) -> Result<()> {
    let rules = crate::load_rules(opts.rules.as_deref())?;
    let budgets = budgets(opts)?;
    let sample_type = if opts.sample_type.is_empty() {
        budgets.sample_type.as_deref().unwrap_or("")
    } else {
        opts.sample_type.as_str()
    };
    let mut paths = opts.base.clone();
    paths.extend(config.inputs.iter().cloned());
    let mut views = attribute_runs(config, opts, &paths, sample_type, &rules, summary)?;
    let new_views = views.split_off(opts.base.len().min(views.len()));
    let base = Side {
        paths: &opts.base,
        views: &views,
    };
    let new = Side {
        paths: &config.inputs,
        views: &new_views,
    };
    let g = analysis::gate::gate(base, new, &budgets, &rules)?;
    write_reports(opts, &g, &summary.warnings)?;
    let warnings = &summary.warnings;
    let written = match config.format {
        OutputFormat::Text => render::gate::write_text(out, &g),
        OutputFormat::Json => render::json::write_gate(out, &g, warnings),
        OutputFormat::Markdown => out.write_all(render::gate::markdown(&g, warnings).as_bytes()),
    }
    .and_then(|()| {
        if opts.github {
            render::ci::write_github(out, &g, warnings)
        } else {
            Ok(())
        }
    });
    summary.verdict = Some(g.verdict);
    match written {
        // The verdict must reach the exit code even when stdout is closed.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(Error::Output),
    }
}

/// The budgets file (if any) with the command line's limits over it; at
/// least one limit.
fn budgets(opts: &GateOptions) -> Result<Budgets> {
    let file = match &opts.budgets {
        Some(path) => {
            let (shown, text) = crate::read_text(path)?;
            Budgets::parse(&text, &shown)?
        }
        None => Budgets::default(),
    };
    let budgets = file.overridden_by(&opts.limits);
    if budgets.is_empty() {
        return Err(Error::Usage(
            "gate: no limit to check: give --budgets FILE, --max-growth, --budget or --kind-budget"
                .into(),
        ));
    }
    Ok(budgets)
}

/// Reads every file, symbolizes (the base runs with `--base-binary` when
/// given) and attributes each on its own (all short paths kept), in order;
/// collects the warnings once each.
fn attribute_runs(
    config: &Config,
    opts: &GateOptions,
    paths: &[String],
    sample_type: &str,
    rules: &attribute::RuleSet,
    summary: &mut Summary,
) -> Result<Vec<AttributionView>> {
    let profiles = read::read_all(paths)?;
    let symbolizer = config.symbolize.clone().map(symbolize::ElfSymbolizer::new);
    let base_symbolizer = match (&config.symbolize, &opts.base_binary) {
        (Some(o), Some(binary)) => {
            let mut o = o.clone();
            o.paths.binary = Some(binary.clone());
            Some(symbolize::ElfSymbolizer::new(o))
        }
        _ => None,
    };
    let mut views = Vec::with_capacity(profiles.len());
    for (i, (mut p, path)) in profiles.into_iter().zip(paths).enumerate() {
        let symbolizer = match &base_symbolizer {
            Some(b) if i < opts.base.len() => Some(b),
            _ => symbolizer.as_ref(),
        };
        if let Some(s) = symbolizer {
            let report = s.symbolize(&mut p)?;
            summary.warnings.extend(report.warnings.iter().cloned());
            summary.warnings.extend(crate::unnamed_warning(&report));
        }
        let index = p
            .sample_type_index(sample_type)
            .map_err(|why| Error::SampleType(format!("{path}: {why}")))?;
        summary
            .warnings
            .extend(crate::truncation_warning(&p, index));
        summary.warnings.extend(crate::frameless_warning(&p, index));
        views.push(attribution(&p, index, rules, usize::MAX).0);
    }
    if let Some(w) = views.iter().find_map(crate::attribution_warning) {
        summary.warnings.push(w);
    }
    let mut seen = std::collections::HashSet::new();
    summary.warnings.retain(|w| seen.insert(w.clone()));
    Ok(views)
}

/// Writes the Markdown comment, appends it to the step summary, writes the
/// JUnit XML: whichever were asked for.
fn write_reports(opts: &GateOptions, g: &Gate, warnings: &[String]) -> Result<()> {
    if opts.markdown.is_some() || opts.step_summary.is_some() {
        let md = render::gate::markdown(g, warnings);
        if let Some(path) = &opts.markdown {
            crate::write_file(path, false, md.as_bytes())?;
        }
        if let Some(path) = &opts.step_summary {
            crate::write_file(path, true, md.as_bytes())?;
        }
    }
    if let Some(path) = &opts.junit {
        let mut xml = Vec::new();
        render::ci::write_junit(&mut xml, g, warnings).map_err(Error::Output)?;
        crate::write_file(path, false, &xml)?;
    }
    Ok(())
}
