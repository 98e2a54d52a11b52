//! `heapcost report`: the HTML report and its Markdown and JSON summaries.

use clap::Args;
use std::path::PathBuf;

use heapcost::app::defaults;
use heapcost::{Command, Config, ReportOptions};

use super::common::{FormatArg, Input, RulesArg, SampleTypeArg};
use super::{CliError, Env, config, distinct_outputs};

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
        distinct_outputs(&[
            ("--output", Some(&self.output)),
            ("--markdown", self.markdown.as_deref()),
            ("--json", self.json.as_deref()),
        ])?;
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

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::PathBuf;

    use heapcost::app::defaults;
    use heapcost::profile::SampleTypeChoice;
    use heapcost::{Command, ReportOptions};

    use crate::cli::testing::{config_in, error_in};
    use crate::cli::{Cli, CliError, Env};
    use clap::Parser;

    fn report(args: &[&str], env: &Env) -> ReportOptions {
        match config_in(args, env).command {
            Command::Report(opts) => opts,
            other => panic!("not report: {other:?}"),
        }
    }

    #[test]
    fn report_flags_reach_config() {
        let env = Env {
            args: ["heapcost", "report", "-o", "r.html", "a b"]
                .map(OsString::from)
                .to_vec(),
            ..Env::default()
        };
        let o = report(
            &[
                "heapcost",
                "report",
                "--base",
                "b1",
                "--base",
                "b2",
                "-s",
                "alloc_space",
                "--rules",
                "r.toml",
                "--memory",
                "memory.json",
                "--rss",
                "1048576",
                "-o",
                "r.html",
                "--markdown",
                "r.md",
                "--json",
                "r.json",
                "--flamegraph-budget",
                "1000",
                "p1",
                "p2",
            ],
            &env,
        );
        assert_eq!(o.base, ["b1", "b2"]);
        assert_eq!(o.sample_type, SampleTypeChoice::Named("alloc_space".into()));
        assert_eq!(o.rules, Some(PathBuf::from("r.toml")));
        assert_eq!(o.memory, Some(PathBuf::from("memory.json")));
        assert_eq!(o.rss, Some(1 << 20));
        assert_eq!(o.output, PathBuf::from("r.html"));
        assert_eq!(o.markdown, Some(PathBuf::from("r.md")));
        assert_eq!(o.json, Some(PathBuf::from("r.json")));
        assert_eq!(o.max_flamegraph_bytes, 1000);
        // The provenance quotes the command line of the environment.
        assert_eq!(o.command_line, "heapcost report -o r.html 'a b'");
        let o = report(&["heapcost", "report", "-o", "r.html", "p"], &env);
        assert_eq!(o.max_flamegraph_bytes, defaults::FLAMEGRAPH_BYTES);
        assert_eq!(
            (o.markdown, o.json, o.memory, o.rss),
            (None, None, None, None)
        );
        // The HTML file is required.
        assert!(Cli::try_parse_from(["heapcost", "report", "p"]).is_err());
    }

    #[test]
    fn flamegraph_budget_help_states_the_defaults() {
        // The help gives the budget in MiB: it must be a whole number of them.
        assert_eq!(defaults::FLAMEGRAPH_BYTES % (1 << 20), 0);
        let help = super::flamegraph_budget_help();
        let mib = defaults::FLAMEGRAPH_BYTES >> 20;
        assert!(help.contains(&format!("(default {mib} MiB, so")), "{help}");
        let px = defaults::MIN_WIDTH;
        assert!(
            help.contains(&format!("narrower than {px} px are")),
            "{help}"
        );
    }

    #[test]
    fn report_outputs_must_differ() {
        for (flags, message) in [
            (
                ["-o", "r.html", "--markdown", "r.html"],
                "--output and --markdown name the same file: r.html",
            ),
            (
                ["-o", "r.html", "--json", "r.html"],
                "--output and --json name the same file: r.html",
            ),
            (
                ["--markdown", "s", "--json", "s"],
                "--markdown and --json name the same file: s",
            ),
        ] {
            let mut args = vec!["heapcost", "report", "p"];
            args.extend(flags);
            if !flags.contains(&"-o") {
                args.extend(["-o", "r.html"]);
            }
            let e = error_in(&args, &Env::default());
            assert!(matches!(e, CliError::SameFile { .. }), "{e:?}");
            assert_eq!(e.to_string(), message);
        }
    }
}
