//! `flamegraph`: an SVG of the merged inputs, frames coloured by owner, or
//! a differential one from a base.

use std::io::Write;

use super::io::write_to;
use super::load::Loader;
use super::views::owners;
use super::{Config, FlamegraphOptions, Summary};
use crate::analysis::flame::{Flame, flame};
use crate::analysis::warnings;
use crate::error::{Error, Result};
use crate::profile::{SampleTypeChoice, ValueType};
use crate::render;
use crate::render::flamegraph::SvgOptions;

/// Runs `flamegraph`.
pub(crate) fn run(
    config: &Config,
    opts: &FlamegraphOptions,
    out: &mut dyn Write,
) -> Result<Summary> {
    let loader = Loader::new(config, opts.rules.as_deref())?;
    let new = loader.merged(&config.inputs, &opts.sample_type)?;
    let drawn = flame(&new.data, new.index, opts.owner.as_deref())
        .map_err(|e| Error::Usage(e.to_string()))?;
    let st = new.data.profile.sample_types[new.index].clone();
    let (_, warning) = owners(&new, 0);
    let mut all = new.warnings;
    let mut svg_opts = SvgOptions {
        count_name: crate::units::count_name(&st.unit).to_string(),
        icicle: opts.icicle,
        ..Default::default()
    };
    if let Some(w) = opts.min_width {
        svg_opts.min_width = w;
    }
    let mut svg = Vec::new();
    if opts.base.is_empty() {
        svg_opts.title = opts
            .title
            .clone()
            .unwrap_or_else(|| plain_title(opts, &config.inputs, &st, drawn.total));
        svg_opts.legend = legend(&drawn, &st.unit);
        render::flamegraph::write_svg(&mut svg, &drawn.folded, &drawn.frame_owners, &svg_opts)
    } else {
        let base = loader.merged(&opts.base, &SampleTypeChoice::Named(st.kind.clone()))?;
        // An owner the base does not have drew nothing there: an empty base.
        let base_folded = flame(&base.data, base.index, opts.owner.as_deref())
            .map(|f| f.folded)
            .unwrap_or_default();
        all.extend(base.warnings);
        let delta = drawn
            .total
            .saturating_sub(base_folded.values().sum::<i64>());
        svg_opts.title = opts.title.clone().unwrap_or_else(|| {
            diff_title(
                &what(opts, &st),
                &render::text::files_label(&opts.base),
                &render::text::files_label(&config.inputs),
                delta,
                &st.unit,
            )
        });
        render::flamegraph::write_diff_svg(&mut svg, &base_folded, &drawn.folded, &svg_opts)
    }
    .map_err(Error::Output)?;
    write_to(opts.output.as_deref(), out, &svg)?;
    all.extend(warning);
    Ok(Summary {
        warnings: warnings::collect(all, 2, "inputs"),
        verdict: None,
    })
}

/// The owners' values for the legend.
pub(crate) fn legend(drawn: &Flame, unit: &str) -> Vec<(String, String)> {
    drawn
        .owners
        .iter()
        .map(|(o, v)| (o.clone(), crate::units::scaled(*v, unit)))
        .collect()
}

/// `inuse_space` or `inuse_space, owner ext_proc`.
fn what(opts: &FlamegraphOptions, st: &ValueType) -> String {
    match &opts.owner {
        Some(o) => format!("{}, owner {o}", st.kind),
        None => st.kind.clone(),
    }
}

fn plain_title(opts: &FlamegraphOptions, inputs: &[String], st: &ValueType, total: i64) -> String {
    format!(
        "{} of {}: {}",
        what(opts, st),
        render::text::files_label(inputs),
        crate::units::scaled(total, &st.unit)
    )
}

/// The one title of a differential flamegraph (also the report's).
pub(crate) fn diff_title(what: &str, base: &str, new: &str, delta: i64, unit: &str) -> String {
    format!(
        "{what}, {base} -> {new}: {} (red grew, blue shrank)",
        crate::units::signed(delta, unit)
    )
}
