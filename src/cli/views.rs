//! The commands that attribute the inputs and show them: `attribute`,
//! `diff`, `series` and `flamegraph`.

use clap::Args;
use std::path::PathBuf;

use heapcost::app::defaults;
use heapcost::{AttributeOptions, Command, Config, DiffOptions, FlamegraphOptions, SeriesOptions};

use super::common::{FormatArg, Input, Output, RulesArg, SampleTypeArg};
use super::{CliError, Env, config};

// `heapcost attribute`.
#[derive(Debug, Args)]
pub(crate) struct AttributeArgs {
    #[command(flatten)]
    pub(crate) input: Input,
    #[command(flatten)]
    pub(crate) sample: SampleTypeArg,
    #[command(flatten)]
    pub(crate) rules: RulesArg,
    /// Heaviest paths to show per owner (0: none).
    #[arg(
        long,
        value_name = "N",
        default_value_t = defaults::STACKS,
        help_heading = "Output"
    )]
    pub(crate) stacks: usize,
    #[command(flatten)]
    pub(crate) output: Output,
}

impl AttributeArgs {
    pub(crate) fn into_config(self, env: &Env) -> Result<Config, CliError> {
        let mut opts = AttributeOptions::default();
        opts.sample_type = self.sample.choice();
        opts.stacks = self.stacks;
        opts.rules = self.rules.rules;
        config(
            Command::Attribute(opts),
            self.input,
            self.output.format,
            env,
        )
    }
}

// `heapcost diff`.
#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// A base profile (repeatable: several are merged, like the inputs).
    #[arg(long, required = true, value_name = "BASE", help_heading = "Input")]
    pub(crate) base: Vec<String>,
    #[command(flatten)]
    pub(crate) input: Input,
    #[command(flatten)]
    pub(crate) sample: SampleTypeArg,
    #[command(flatten)]
    pub(crate) rules: RulesArg,
    /// Function rows to show (0: all).
    #[arg(
        long,
        short = 'n',
        value_name = "N",
        default_value_t = defaults::NODECOUNT,
        help_heading = "Output"
    )]
    pub(crate) nodecount: usize,
    #[command(flatten)]
    pub(crate) output: Output,
}

impl DiffArgs {
    pub(crate) fn into_config(self, env: &Env) -> Result<Config, CliError> {
        let mut opts = DiffOptions::default();
        opts.base = self.base;
        opts.sample_type = self.sample.choice();
        opts.nodecount = self.nodecount;
        opts.rules = self.rules.rules;
        config(Command::Diff(opts), self.input, self.output.format, env)
    }
}

// `heapcost series`.
#[derive(Debug, Args)]
pub(crate) struct SeriesArgs {
    #[command(flatten)]
    pub(crate) input: Input,
    #[command(flatten)]
    pub(crate) sample: SampleTypeArg,
    #[command(flatten)]
    pub(crate) rules: RulesArg,
    #[command(flatten)]
    pub(crate) output: Output,
}

impl SeriesArgs {
    pub(crate) fn into_config(self, env: &Env) -> Result<Config, CliError> {
        let mut opts = SeriesOptions::default();
        opts.sample_type = self.sample.choice();
        opts.rules = self.rules.rules;
        config(Command::Series(opts), self.input, self.output.format, env)
    }
}

// `heapcost flamegraph`.
#[derive(Debug, Args)]
pub(crate) struct FlamegraphArgs {
    /// A base profile: draw the change from it (repeatable: merged).
    #[arg(long, value_name = "BASE", help_heading = "Input")]
    pub(crate) base: Vec<String>,
    #[command(flatten)]
    pub(crate) input: Input,
    #[command(flatten)]
    pub(crate) sample: SampleTypeArg,
    #[command(flatten)]
    pub(crate) rules: RulesArg,
    /// Only the stacks charged to this owner (e.g. ext_proc).
    #[arg(long, value_name = "OWNER", help_heading = "Attribution")]
    pub(crate) owner: Option<String>,
    /// Root at the top (icicle graph).
    #[arg(long, help_heading = "Output")]
    pub(crate) icicle: bool,
    /// Title (default: sample type, inputs and total).
    #[arg(long, value_name = "TEXT", help_heading = "Output")]
    pub(crate) title: Option<String>,
    /// Leave out frames narrower than this many pixels (of 1200).
    #[arg(
        long,
        value_name = "PX",
        value_parser = pixels,
        default_value_t = defaults::MIN_WIDTH,
        help_heading = "Output"
    )]
    pub(crate) min_width: f64,
    /// Write the SVG here (default: stdout).
    #[arg(long, short = 'o', value_name = "FILE", help_heading = "Output")]
    pub(crate) output: Option<PathBuf>,
}

/// A width in pixels: a number, 0 or more (NaN or a negative width would
/// silently keep every frame, as 0 does).
fn pixels(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(px) if px.is_finite() && px >= 0.0 => Ok(px),
        _ => Err("not a width in pixels (a number, 0 or more, e.g. 0.5)".to_string()),
    }
}

impl FlamegraphArgs {
    pub(crate) fn into_config(self, env: &Env) -> Result<Config, CliError> {
        let mut opts = FlamegraphOptions::default();
        opts.base = self.base;
        opts.sample_type = self.sample.choice();
        opts.rules = self.rules.rules;
        opts.owner = self.owner;
        opts.icicle = self.icicle;
        opts.title = self.title;
        opts.min_width = Some(self.min_width);
        opts.output = self.output;
        config(Command::Flamegraph(opts), self.input, FormatArg::Text, env)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use heapcost::app::defaults;
    use heapcost::profile::SampleTypeChoice;
    use heapcost::{Command, OutputFormat};

    use crate::cli::Cli;
    use crate::cli::testing::config;
    use clap::Parser;

    fn min_width(args: &[&str]) -> Option<f64> {
        match config(args).command {
            Command::Flamegraph(opts) => opts.min_width,
            other => panic!("not flamegraph: {other:?}"),
        }
    }

    #[test]
    fn min_width_is_a_width_in_pixels() {
        assert_eq!(
            min_width(&["heapcost", "flamegraph", "p"]),
            Some(defaults::MIN_WIDTH)
        );
        assert_eq!(
            min_width(&["heapcost", "flamegraph", "--min-width", "0", "p"]),
            Some(0.0)
        );
        assert_eq!(
            min_width(&["heapcost", "flamegraph", "--min-width", "2.5", "p"]),
            Some(2.5)
        );
        for bad in ["nan", "-1", "inf", "wide", ""] {
            let flag = format!("--min-width={bad}");
            let e = Cli::try_parse_from(["heapcost", "flamegraph", &flag, "p"])
                .unwrap_err()
                .to_string();
            assert!(e.contains("not a width in pixels"), "{bad}: {e}");
        }
    }

    #[test]
    fn attribute_flags_reach_config() {
        let c = config(&[
            "heapcost",
            "attribute",
            "--stacks",
            "0",
            "--rules",
            "r.toml",
            "-s",
            "space",
            "--format",
            "markdown",
            "p",
        ]);
        let Command::Attribute(opts) = &c.command else {
            panic!("not attribute")
        };
        assert_eq!(opts.stacks, 0);
        assert_eq!(opts.rules, Some(PathBuf::from("r.toml")));
        assert_eq!(opts.sample_type, SampleTypeChoice::Named("space".into()));
        assert_eq!(c.format, OutputFormat::Markdown);
        let Command::Attribute(opts) = config(&["heapcost", "attribute", "p"]).command else {
            panic!("not attribute")
        };
        assert_eq!((opts.stacks, opts.rules), (defaults::STACKS, None));
    }

    #[test]
    fn diff_flags_reach_config() {
        let c = config(&[
            "heapcost", "diff", "--base", "b1", "--base", "b2", "-n", "5", "--rules", "r.toml",
            "--format", "json", "p",
        ]);
        let Command::Diff(opts) = &c.command else {
            panic!("not diff")
        };
        assert_eq!(opts.base, ["b1", "b2"]);
        assert_eq!(opts.nodecount, 5);
        assert_eq!(opts.rules, Some(PathBuf::from("r.toml")));
        assert_eq!(c.format, OutputFormat::Json);
        assert_eq!(c.inputs, ["p"]);
        let Command::Diff(opts) = config(&["heapcost", "diff", "--base", "b", "p"]).command else {
            panic!("not diff")
        };
        assert_eq!(opts.nodecount, defaults::NODECOUNT);
        // --base is required.
        assert!(Cli::try_parse_from(["heapcost", "diff", "p"]).is_err());
    }

    #[test]
    fn series_flags_reach_config() {
        let c = config(&[
            "heapcost", "series", "-s", "1", "--rules", "r.toml", "--format", "json", "p.9", "p.10",
        ]);
        let Command::Series(opts) = &c.command else {
            panic!("not series")
        };
        assert_eq!(opts.sample_type, SampleTypeChoice::parse("1"));
        assert_eq!(opts.rules, Some(PathBuf::from("r.toml")));
        assert_eq!(c.format, OutputFormat::Json);
        // The inputs in command-line order (the library sorts snapshots).
        assert_eq!(c.inputs, ["p.9", "p.10"]);
    }

    #[test]
    fn flamegraph_flags_reach_config() {
        let c = config(&[
            "heapcost",
            "flamegraph",
            "--base",
            "b",
            "--owner",
            "ext_proc",
            "--icicle",
            "--title",
            "T",
            "--min-width",
            "1",
            "-o",
            "f.svg",
            "--rules",
            "r.toml",
            "-s",
            "alloc_space",
            "p",
        ]);
        let Command::Flamegraph(opts) = &c.command else {
            panic!("not flamegraph")
        };
        assert_eq!(opts.base, ["b"]);
        assert_eq!(opts.owner.as_deref(), Some("ext_proc"));
        assert!(opts.icicle);
        assert_eq!(opts.title.as_deref(), Some("T"));
        assert_eq!(opts.min_width, Some(1.0));
        assert_eq!(opts.output, Some(PathBuf::from("f.svg")));
        assert_eq!(opts.rules, Some(PathBuf::from("r.toml")));
        assert_eq!(
            opts.sample_type,
            SampleTypeChoice::Named("alloc_space".into())
        );
        let Command::Flamegraph(opts) = config(&["heapcost", "flamegraph", "p"]).command else {
            panic!("not flamegraph")
        };
        assert!(opts.base.is_empty() && opts.owner.is_none() && !opts.icicle);
        assert_eq!((opts.title, opts.output), (None, None));
    }
}
