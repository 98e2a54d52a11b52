//! The commands: each one loads its profiles through the one load path
//! ([`load`]), computes its views once and hands them to the renderers.
//!
//! [`run`] is the only place that chains the stages together; the binary
//! (`src/main.rs`, `src/cli/`) turns the command line into a [`Config`]
//! and calls it.

mod flamegraph;
mod gate;
mod inspect;
pub(crate) mod io;
pub(crate) mod load;
pub mod options;
mod report;
mod views;

use std::io::Write;

use crate::analysis::gate::Verdict;
use crate::analysis::warnings::Warning;
use crate::error::Result;
use crate::symbolize;
pub use options::{
    AttributeOptions, ConvertOptions, ConvertTo, DiffOptions, FlamegraphOptions, GateOptions,
    ReportOptions, RulesOptions, SeriesOptions, TopOptions, defaults,
};

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
    /// Keep only the samples whose labels match every filter (pprof's
    /// `-tagfocus`). Default: none, every sample.
    pub tags: Vec<crate::profile::TagFilter>,
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
            tags: Vec::new(),
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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Non-fatal problems, for stderr.
    pub warnings: Vec<Warning>,
    /// The gate's verdict (`gate` only): the binary exits with 1 when it
    /// is [`Verdict::Fail`].
    pub verdict: Option<Verdict>,
}

impl Summary {
    /// True when the gate found a broken limit (exit code 1).
    pub fn failed(&self) -> bool {
        self.verdict == Some(Verdict::Fail)
    }
}

/// Runs one command, writing its output to `out`.
pub fn run(config: &Config, out: &mut dyn Write) -> Result<Summary> {
    match &config.command {
        Command::Info => inspect::info(config, out),
        Command::Top(opts) => inspect::top(config, opts, out),
        Command::Convert(opts) => inspect::convert(config, opts, out),
        Command::Rules(opts) => inspect::rules(config, opts, out),
        Command::Attribute(opts) => views::attribute(config, opts, out),
        Command::Diff(opts) => views::diff(config, opts, out),
        Command::Series(opts) => views::series(config, opts, out),
        Command::Flamegraph(opts) => flamegraph::run(config, opts, out),
        Command::Report(opts) => report::run(config, opts),
        Command::Gate(opts) => gate::run(config, opts, out),
    }
}
