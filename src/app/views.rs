//! `attribute`, `diff` and `series`: the owner views of merged inputs, of a
//! base against new inputs, and of successive snapshots.

use std::io::Write;

use super::inspect::texts;
use super::load::{Loaded, Loader, Selection};
use super::{AttributeOptions, Config, DiffOptions, OutputFormat, SeriesOptions, Summary};
use crate::analysis::attribution::{AttributionView, attribution};
use crate::analysis::top::{Top, TopSort, top};
use crate::analysis::warnings::{self, Warning};
use crate::analysis::{diff as diff_view, series as series_view};
use crate::error::{Error, Result};
use crate::render;

/// The owner view of one loaded profile with `stacks` short paths per
/// owner, and its warning when part of it cannot be judged.
pub(crate) fn owners(loaded: &Loaded, stacks: usize) -> (AttributionView, Option<Warning>) {
    let view = attribution(&loaded.data, loaded.index, stacks);
    let warning = warnings::unattributed(&view);
    (view, warning)
}

/// The top table of one loaded profile.
pub(crate) fn table(loaded: &Loaded) -> Top {
    let data = &loaded.data;
    top(&data.profile, data.names(), loaded.index, TopSort::Flat)
}

/// `attribute`: owners, kinds, matrix and heaviest paths of the merged inputs.
pub(crate) fn attribute(
    config: &Config,
    opts: &AttributeOptions,
    out: &mut dyn Write,
) -> Result<Summary> {
    let loader = Loader::new(config, opts.rules.as_deref())?;
    let loaded = loader.merged(&config.inputs, &opts.sample_type)?;
    let (view, warning) = owners(&loaded, opts.stacks);
    let mut all = loaded.warnings;
    all.extend(warning);
    let shown = texts(&all);
    match config.format {
        OutputFormat::Text => render::text::write_attribution(out, &view, &config.inputs),
        OutputFormat::Json => render::json::write_attribution(out, &view, &shown),
        OutputFormat::Markdown => {
            render::markdown::write_attribution(out, &view, &config.inputs, &shown)
        }
    }
    .map_err(Error::Output)?;
    Ok(Summary {
        warnings: all,
        verdict: None,
    })
}

/// `diff`: the base and the inputs, each merged, compared per owner, kind
/// and function.
pub(crate) fn diff(config: &Config, opts: &DiffOptions, out: &mut dyn Write) -> Result<Summary> {
    let loader = Loader::new(config, opts.rules.as_deref())?;
    let base = loader.merged(&opts.base, &opts.sample_type)?;
    let new = loader.merged(&config.inputs, &opts.sample_type)?;
    let (base_view, base_warning) = owners(&base, 0);
    let (new_view, new_warning) = owners(&new, 0);
    let d = diff_view::diff(&base_view, &new_view, &table(&base), &table(&new));
    let mut all = base.warnings;
    all.extend(new.warnings);
    all.extend(base_warning);
    all.extend(new_warning);
    let all = warnings::collect(all, 2, "inputs");
    let shown = texts(&all);
    let n = opts.nodecount;
    match config.format {
        OutputFormat::Text => render::text::write_diff(out, &d, n, &opts.base, &config.inputs),
        OutputFormat::Json => render::json::write_diff(out, &d, n, &shown),
        OutputFormat::Markdown => render::markdown::write_diff(out, &d, n, &shown),
    }
    .map_err(Error::Output)?;
    Ok(Summary {
        warnings: all,
        verdict: None,
    })
}

/// The inputs in numeric order of their file names (`envoy.prof.0002.heap`
/// before `envoy.prof.0010.heap`): successive snapshots.
pub(crate) fn snapshot_order(inputs: &[String]) -> Vec<String> {
    let mut paths = inputs.to_vec();
    paths.sort_by(|a, b| series_view::natural_cmp(a, b));
    paths
}

/// `series`: totals and owners over successive snapshots.
pub(crate) fn series(
    config: &Config,
    opts: &SeriesOptions,
    out: &mut dyn Write,
) -> Result<Summary> {
    let loader = Loader::new(config, opts.rules.as_deref())?;
    let paths = snapshot_order(&config.inputs);
    let snapshots = loader.each(&paths, &opts.sample_type, Selection::LikeLast)?;
    let mut all = Vec::new();
    let mut views = Vec::with_capacity(snapshots.len());
    let mut unattributed = None;
    for s in snapshots {
        let (view, warning) = owners(&s, 0);
        all.extend(s.warnings);
        unattributed = unattributed.or(warning);
        views.push(view);
    }
    all.extend(unattributed);
    let all = warnings::collect(all, paths.len(), "snapshots");
    let s = series_view::series(&paths, &views);
    let shown = texts(&all);
    match config.format {
        OutputFormat::Text => render::text::write_series(out, &s),
        OutputFormat::Json => render::json::write_series(out, &s, &shown),
        OutputFormat::Markdown => render::markdown::write_series(out, &s, &shown),
    }
    .map_err(Error::Output)?;
    Ok(Summary {
        warnings: all,
        verdict: None,
    })
}
