//! `info`, `top`, `convert` and `rules`: the commands that show a profile
//! (or the rules) as they are, without owner views.

use std::io::Write;

use super::io::write_to;
use super::load::{Loader, load_rules};
use super::{Config, ConvertOptions, ConvertTo, OutputFormat, RulesOptions, Summary, TopOptions};
use crate::analysis::info::info as info_view;
use crate::analysis::top::top as top_view;
use crate::analysis::{folded, warnings};
use crate::error::{Error, Result};
use crate::profile::SampleTypeChoice;
use crate::{read, render, symbolize};

/// The warnings as the renderers print them.
pub(crate) fn texts(warnings: &[warnings::Warning]) -> Vec<String> {
    warnings.iter().map(ToString::to_string).collect()
}

/// `info`: each input on its own, with what symbolization found per mapping.
pub(crate) fn info(config: &Config, out: &mut dyn Write) -> Result<Summary> {
    let mut summary = Summary::default();
    let mut profiles = read::read_all(&config.inputs)?;
    let symbolizer = config.symbolize.clone().map(symbolize::ElfSymbolizer::new);
    let mut infos = Vec::with_capacity(profiles.len());
    for p in &mut profiles {
        let report = match &symbolizer {
            Some(s) => Some(s.symbolize(p)?),
            None => None,
        };
        let mut i = info_view(p);
        if let Some(r) = report {
            summary.warnings.extend(warnings::symbolization(&r));
            i.symbolization = Some(r.mappings);
        }
        infos.push(i);
    }
    summary.warnings = warnings::collect(summary.warnings, infos.len(), "inputs");
    match config.format {
        OutputFormat::Text | OutputFormat::Markdown => {
            let markdown = config.format == OutputFormat::Markdown;
            let mut write = || -> std::io::Result<()> {
                if markdown {
                    writeln!(out, "```text")?;
                }
                for (i, inf) in infos.iter().enumerate() {
                    if i > 0 {
                        writeln!(out)?;
                    }
                    render::text::write_info(out, inf)?;
                }
                if markdown {
                    writeln!(out, "```")?;
                }
                Ok(())
            };
            write()
        }
        OutputFormat::Json => render::json::write_info(out, &infos),
    }
    .map_err(Error::Output)?;
    Ok(summary)
}

/// `top`: pprof's flat/cum table over the merged inputs.
pub(crate) fn top(config: &Config, opts: &TopOptions, out: &mut dyn Write) -> Result<Summary> {
    let loaded = Loader::new(config, None)?.merged(&config.inputs, &opts.sample_type)?;
    let data = &loaded.data;
    let table = top_view(&data.profile, data.names(), loaded.index, opts.sort);
    let shown = texts(&loaded.warnings);
    let n = opts.nodecount;
    match config.format {
        OutputFormat::Text => render::text::write_top(out, &table, n, &config.inputs),
        OutputFormat::Json => render::json::write_top(out, &table, n, &shown),
        OutputFormat::Markdown => render::markdown::write_top(out, &table, n, &config.inputs),
    }
    .map_err(Error::Output)?;
    Ok(Summary {
        warnings: loaded.warnings,
        verdict: None,
    })
}

/// `convert`: the merged, symbolized inputs as a pprof protobuf (every
/// sample type) or as folded stacks (one).
pub(crate) fn convert(
    config: &Config,
    opts: &ConvertOptions,
    out: &mut dyn Write,
) -> Result<Summary> {
    let choice = match opts.to {
        ConvertTo::Pprof => SampleTypeChoice::Default,
        ConvertTo::Folded => opts.sample_type.clone(),
    };
    let loaded = Loader::new(config, None)?.merged(&config.inputs, &choice)?;
    let data = &loaded.data;
    let mut bytes = Vec::new();
    match opts.to {
        ConvertTo::Pprof => render::pprof::write_pprof(&mut bytes, &data.profile),
        ConvertTo::Folded => {
            let stacks = folded::fold(&data.profile, data.names(), loaded.index, |_| true);
            render::folded::write_folded(&mut bytes, &stacks)
        }
    }
    .map_err(Error::Output)?;
    write_to(opts.output.as_deref(), out, &bytes)?;
    Ok(Summary {
        warnings: loaded.warnings,
        verdict: None,
    })
}

/// `rules`: the effective rules, as TOML or JSON.
pub(crate) fn rules(config: &Config, opts: &RulesOptions, out: &mut dyn Write) -> Result<Summary> {
    let rules = load_rules(opts.rules.as_deref())?;
    let text = match config.format {
        OutputFormat::Json => {
            serde_json::to_string_pretty(&rules.to_file()).unwrap_or_default() + "\n"
        }
        OutputFormat::Text | OutputFormat::Markdown => rules.to_file().to_toml(),
    };
    out.write_all(text.as_bytes()).map_err(Error::Output)?;
    Ok(Summary::default())
}
