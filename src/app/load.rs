//! The one load path every command takes: read → symbolize → select the
//! sample type → attribute → collect warnings.
//!
//! A [`Loader`] holds what the steps share across the profiles of one run
//! (the symbolizer with its open files and caches, the rules). It loads
//! either the inputs merged into one profile ([`Loader::merged`]: `top`,
//! `attribute`, `diff`, `flamegraph`, `convert`, a report's base) or each
//! input on its own, in order ([`Loader::each`]: `series`, `report`,
//! `gate`). Either way every profile is named once and labelled once, and
//! carries the same set of warnings ([`crate::analysis::warnings`]).

use crate::analysis::warnings::{self, Warning};
use crate::app::Config;
use crate::app::io::read_text;
use crate::attribute::{Attributed, RuleSet};
use crate::error::{Error, Result};
use crate::profile::{Profile, SampleTypeChoice};
use crate::progress::Progress;
use crate::symbolize::{ElfSymbolizer, SymbolizeReport};
use crate::{read, render};

use rayon::prelude::*;

/// One loaded profile, ready for the views.
#[derive(Debug)]
pub(crate) struct Loaded {
    /// The profile, named and labelled.
    pub(crate) data: Attributed,
    /// The index of the chosen sample type.
    pub(crate) index: usize,
    /// What loading it found worth telling, in order.
    pub(crate) warnings: Vec<Warning>,
    /// What symbolization did, mapping by mapping (`None` with
    /// `--no-symbolize`).
    pub(crate) symbolization: Option<SymbolizeReport>,
}

/// How [`Loader::each`] chooses the sample type of each profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selection {
    /// In each profile by its own rules (the gate's runs: sides of
    /// different types are refused by name).
    Each,
    /// In the last profile, then the same name in the others (a report's
    /// snapshots).
    LikeLast,
}

/// What the loads of one run share.
pub(crate) struct Loader<'c> {
    config: &'c Config,
    symbolizer: Option<ElfSymbolizer>,
    rules: RuleSet,
}

impl<'c> Loader<'c> {
    /// A loader for `config`'s symbolization with the built-in rules and
    /// the user's `rules` file before them.
    pub(crate) fn new(config: &'c Config, rules: Option<&std::path::Path>) -> Result<Self> {
        Ok(Loader {
            config,
            symbolizer: config.symbolize.clone().map(ElfSymbolizer::new),
            rules: load_rules(rules)?,
        })
    }

    /// The same loader with another main executable (the base branch's
    /// build in `gate --base-binary`).
    pub(crate) fn with_binary(&self, binary: &std::path::Path) -> Self {
        let symbolizer = self.config.symbolize.clone().map(|mut o| {
            o.paths.binary = Some(binary.to_path_buf());
            ElfSymbolizer::new(o)
        });
        Loader {
            config: self.config,
            symbolizer,
            rules: self.rules.clone(),
        }
    }

    /// The rules attribution uses.
    pub(crate) fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Reads `inputs` merged into one profile (summed, as pprof does) and
    /// loads it.
    pub(crate) fn merged(&self, inputs: &[String], choice: &SampleTypeChoice) -> Result<Loaded> {
        let profile = read::read_merged(inputs)?;
        let spinner = Progress::spinner(self.config.progress, "symbolizing");
        let loaded = self.load(profile, choice, &render::text::files_label(inputs));
        spinner.finish();
        loaded
    }

    /// Reads each of `paths` and loads it on its own, in order; the sample
    /// type is chosen in each profile, or with [`Selection::LikeLast`] by
    /// its name in the last one (so that every snapshot shows one type).
    pub(crate) fn each(
        &self,
        paths: &[String],
        choice: &SampleTypeChoice,
        selection: Selection,
    ) -> Result<Vec<Loaded>> {
        let progress = Progress::new(self.config.progress, paths.len() as u64, "reading");
        let profiles = read::read_all(paths)?;
        progress.set_message("symbolizing");
        let choice = match profiles.last() {
            Some(last) if selection == Selection::LikeLast => {
                let index = last.select(choice).map_err(|source| Error::SampleType {
                    path: paths.last().cloned().unwrap_or_default(),
                    source,
                })?;
                SampleTypeChoice::Named(last.sample_types[index].kind.clone())
            }
            _ => choice.clone(),
        };
        let mut prepared = Vec::with_capacity(profiles.len());
        for (profile, path) in profiles.into_iter().zip(paths) {
            prepared.push(self.prepare(profile, &choice, path)?);
            progress.inc();
        }
        progress.finish();
        // Labelling is independent per profile: on every core.
        Ok(prepared
            .into_par_iter()
            .map(|p| p.attribute(&self.rules))
            .collect())
    }

    /// Symbolizes, selects, attributes and collects the warnings of one
    /// profile; `shown` names it in errors.
    fn load(&self, profile: Profile, choice: &SampleTypeChoice, shown: &str) -> Result<Loaded> {
        Ok(self.prepare(profile, choice, shown)?.attribute(&self.rules))
    }

    /// Symbolizes, selects and collects the warnings of one profile.
    fn prepare(
        &self,
        mut profile: Profile,
        choice: &SampleTypeChoice,
        shown: &str,
    ) -> Result<Prepared> {
        let mut warnings = Vec::new();
        let samples = profile.samples.len();
        let left_out = profile.retain_tagged(&self.config.tags);
        warnings.extend(warnings::tagged(&self.config.tags, samples, left_out));
        let symbolization = match &self.symbolizer {
            Some(s) => {
                let report = s.symbolize(&mut profile)?;
                warnings.extend(warnings::symbolization(&report));
                Some(report)
            }
            None => None,
        };
        let index = profile.select(choice).map_err(|source| Error::SampleType {
            path: shown.to_string(),
            source,
        })?;
        warnings.extend(warnings::truncation(&profile, index));
        warnings.extend(warnings::frameless(&profile, index));
        Ok(Prepared {
            profile,
            index,
            warnings,
            symbolization,
        })
    }
}

/// A profile symbolized, its sample type chosen, not yet labelled.
struct Prepared {
    profile: Profile,
    index: usize,
    warnings: Vec<Warning>,
    symbolization: Option<SymbolizeReport>,
}

impl Prepared {
    /// The attribute stage.
    fn attribute(self, rules: &RuleSet) -> Loaded {
        Loaded {
            data: Attributed::new(self.profile, rules),
            index: self.index,
            warnings: self.warnings,
            symbolization: self.symbolization,
        }
    }
}

/// The built-in rules, with a user file before them when given.
pub(crate) fn load_rules(user: Option<&std::path::Path>) -> Result<RuleSet> {
    match user {
        None => RuleSet::builtin(),
        Some(path) => {
            let (shown, text) = read_text(path)?;
            RuleSet::load(Some((&shown, &text)))
        }
    }
}
