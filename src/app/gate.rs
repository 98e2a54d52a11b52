//! `gate`: every run of both sides loaded and viewed on its own, the
//! budgets checked on the combined sides ([`crate::analysis::gate`]), the
//! reports written.

use std::io::Write;

use super::inspect::texts;
use super::io::{read_text, write_file};
use super::load::{Loader, Selection};
use super::views::owners;
use super::{Config, GateOptions, OutputFormat, Summary};
use crate::analysis::attribution::AttributionView;
use crate::analysis::budgets::Budgets;
use crate::analysis::gate::{Gate, Side, gate};
use crate::analysis::warnings::{self, Warning};
use crate::error::{Error, Result};
use crate::profile::SampleTypeChoice;
use crate::render;

/// Runs the gate: writes the requested files, then the verdict on `out`
/// (with GitHub annotations after it when asked); the verdict goes in the
/// summary, for the exit code.
pub(crate) fn run(config: &Config, opts: &GateOptions, out: &mut dyn Write) -> Result<Summary> {
    let loader = Loader::new(config, opts.rules.as_deref())?;
    let budgets = budgets(opts)?;
    let file_choice = budgets
        .sample_type
        .as_deref()
        .map_or(SampleTypeChoice::Default, SampleTypeChoice::parse);
    let choice = opts.sample_type.clone().or(file_choice);
    let (base_views, mut all) = match &opts.base_binary {
        Some(binary) => side(&loader.with_binary(binary), &opts.base, &choice)?,
        None => side(&loader, &opts.base, &choice)?,
    };
    let (new_views, new_warnings) = side(&loader, &config.inputs, &choice)?;
    all.extend(new_warnings);
    let all = warnings::collect(all, opts.base.len() + config.inputs.len(), "inputs");
    let base = Side {
        paths: &opts.base,
        views: &base_views,
    };
    let new = Side {
        paths: &config.inputs,
        views: &new_views,
    };
    let g = gate(base, new, &budgets, loader.rules())?;
    let shown = texts(&all);
    write_reports(opts, &g, &shown)?;
    let written = match config.format {
        OutputFormat::Text => render::gate::write_text(out, &g),
        OutputFormat::Json => render::json::write_gate(out, &g, &shown),
        OutputFormat::Markdown => out.write_all(render::gate::markdown(&g, &shown).as_bytes()),
    }
    .and_then(|()| {
        if opts.github {
            render::ci::write_github(out, &g, &shown)
        } else {
            Ok(())
        }
    });
    match written {
        // The verdict must reach the exit code even when stdout is closed.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.map_err(Error::Output)?,
    }
    Ok(Summary {
        warnings: all,
        verdict: Some(g.verdict),
    })
}

/// The runs of one side, each loaded and viewed on its own (all short paths
/// kept), and their warnings.
fn side(
    loader: &Loader<'_>,
    paths: &[String],
    choice: &SampleTypeChoice,
) -> Result<(Vec<AttributionView>, Vec<Warning>)> {
    let runs = loader.each(paths, choice, Selection::Each)?;
    let mut views = Vec::with_capacity(runs.len());
    let mut all = Vec::new();
    let mut unattributed = None;
    for run in runs {
        let (view, warning) = owners(&run, usize::MAX);
        all.extend(run.warnings);
        unattributed = unattributed.or(warning);
        views.push(view);
    }
    all.extend(unattributed);
    Ok((views, all))
}

/// The budgets file (if any) with the command line's limits over it; at
/// least one limit.
fn budgets(opts: &GateOptions) -> Result<Budgets> {
    let file = match &opts.budgets {
        Some(path) => {
            let (shown, text) = read_text(path)?;
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

/// Writes the Markdown comment, appends it to the step summary, writes the
/// JUnit XML: whichever were asked for.
fn write_reports(opts: &GateOptions, g: &Gate, warnings: &[String]) -> Result<()> {
    if opts.markdown.is_some() || opts.step_summary.is_some() {
        let md = render::gate::markdown(g, warnings);
        if let Some(path) = &opts.markdown {
            write_file(path, false, md.as_bytes())?;
        }
        if let Some(path) = &opts.step_summary {
            write_file(path, true, md.as_bytes())?;
        }
    }
    if let Some(path) = &opts.junit {
        let mut xml = Vec::new();
        render::ci::write_junit(&mut xml, g, warnings).map_err(Error::Output)?;
        write_file(path, false, &xml)?;
    }
    Ok(())
}
