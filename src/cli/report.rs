//! `heapcost report`: the HTML report and its Markdown and JSON summaries.

use clap::Args;
use std::path::PathBuf;

use heapcost::app::defaults;
use heapcost::{Command, Config, ReportOptions};

use super::common::{FormatArg, Input, RulesArg, SampleTypeArg};
use super::{CliError, Env, config};

// `heapcost report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// Base profiles to compare the last snapshot with (repeatable: merged).
    #[arg(long, value_name = "BASE", help_heading = "Input")]
    pub(crate) base: Vec<String>,
    #[command(flatten)]
    pub(crate) input: Input,
    #[command(flatten)]
    pub(crate) sample: SampleTypeArg,
    #[command(flatten)]
    pub(crate) rules: RulesArg,
    /// Envoy's admin /memory output (JSON), to show the memory the profile does not see.
    #[arg(long, value_name = "FILE", help_heading = "Input")]
    pub(crate) memory: Option<PathBuf>,
    /// The process's resident set size in bytes (e.g. from /proc/PID/status VmRSS x 1024).
    #[arg(long, value_name = "BYTES", help_heading = "Input")]
    pub(crate) rss: Option<u64>,
    /// The HTML file to write.
    #[arg(long, short = 'o', value_name = "FILE", help_heading = "Output")]
    pub(crate) output: PathBuf,
    /// Also write the pull-request summary (Markdown) here.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub(crate) markdown: Option<PathBuf>,
    /// Also write the whole view as JSON here.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub(crate) json: Option<PathBuf>,
    /// Largest size of each embedded flamegraph, in bytes.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = defaults::FLAMEGRAPH_BYTES,
        help_heading = "Output",
        long_help = flamegraph_budget_help()
    )]
    pub(crate) flamegraph_budget: usize,
}

/// The long help of --flamegraph-budget, its numbers from [`defaults`].
fn flamegraph_budget_help() -> String {
    format!(
        "Largest size of each embedded flamegraph SVG, in bytes (default {} MiB, so \
that the whole report stays under 10 MB and opens in a browser whatever the input). Frames \
narrower than {} px are always left out; when the SVG is still larger, the threshold is doubled \
until it fits, and the report says which frames were left out.",
        defaults::FLAMEGRAPH_BYTES >> 20,
        defaults::MIN_WIDTH
    )
}

impl ReportArgs {
    pub(crate) fn into_config(self, env: &Env) -> Result<Config, CliError> {
        let mut opts = ReportOptions::default();
        opts.max_flamegraph_bytes = self.flamegraph_budget;
        opts.base = self.base;
        opts.sample_type = self.sample.choice();
        opts.rules = self.rules.rules;
        opts.memory = self.memory;
        opts.rss = self.rss;
        opts.output = self.output;
        opts.markdown = self.markdown;
        opts.json = self.json;
        opts.command_line = env.command_line();
        config(Command::Report(opts), self.input, FormatArg::Text, env)
    }
}
