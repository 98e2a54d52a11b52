//! The commands that describe or rewrite the inputs as they are: `info`,
//! `top`, `convert` and `rules`.

use clap::Args;
use std::path::PathBuf;

use heapcost::analysis::top::TopSort;
use heapcost::app::defaults;
use heapcost::{Command, Config, ConvertOptions, ConvertTo, RulesOptions, TopOptions};

use super::common::{FormatArg, Input, Output, RulesArg, SampleTypeArg};
use super::{CliError, Env, config};

// `heapcost info`.
#[derive(Debug, Args)]
pub(crate) struct InfoArgs {
    #[command(flatten)]
    pub(crate) input: Input,
    #[command(flatten)]
    pub(crate) output: Output,
}

impl InfoArgs {
    pub(crate) fn into_config(self, env: &Env) -> Result<Config, CliError> {
        config(Command::Info, self.input, self.output.format, env)
    }
}

// `heapcost top`.
#[derive(Debug, Args)]
pub(crate) struct TopArgs {
    #[command(flatten)]
    pub(crate) input: Input,
    #[command(flatten)]
    pub(crate) sample: SampleTypeArg,
    /// Rows to show (0: all).
    #[arg(
        long,
        short = 'n',
        value_name = "N",
        default_value_t = defaults::NODECOUNT,
        help_heading = "Output",
        long_help = "Number of rows to show, largest first; 0 shows every row. The total line \
always covers the whole profile."
    )]
    pub(crate) nodecount: usize,
    /// Sort by cumulative cost instead of flat cost.
    #[arg(long, help_heading = "Output")]
    pub(crate) cum: bool,
    #[command(flatten)]
    pub(crate) output: Output,
}

impl TopArgs {
    pub(crate) fn into_config(self, env: &Env) -> Result<Config, CliError> {
        let mut opts = TopOptions::default();
        opts.sample_type = self.sample.choice();
        opts.nodecount = self.nodecount;
        opts.sort = if self.cum {
            TopSort::Cum
        } else {
            TopSort::Flat
        };
        config(Command::Top(opts), self.input, self.output.format, env)
    }
}

// `heapcost convert`.
#[derive(Debug, Args)]
pub(crate) struct ConvertArgs {
    #[command(flatten)]
    pub(crate) input: Input,
    #[command(flatten)]
    pub(crate) sample: SampleTypeArg,
    /// Write folded stacks (root;...;leaf value) instead of a pprof protobuf.
    #[arg(long, help_heading = "Output")]
    pub(crate) folded: bool,
    /// Write here (default: stdout).
    #[arg(long, short = 'o', value_name = "FILE", help_heading = "Output")]
    pub(crate) output: Option<PathBuf>,
}

impl ConvertArgs {
    pub(crate) fn into_config(self, env: &Env) -> Result<Config, CliError> {
        let mut opts = ConvertOptions::default();
        opts.to = if self.folded {
            ConvertTo::Folded
        } else {
            ConvertTo::Pprof
        };
        opts.sample_type = self.sample.choice();
        opts.output = self.output;
        if opts.to == ConvertTo::Pprof && opts.output.is_none() && env.stdout_is_terminal {
            return Err(CliError::BinaryToTerminal);
        }
        config(Command::Convert(opts), self.input, FormatArg::Text, env)
    }
}

// `heapcost rules`.
#[derive(Debug, Args)]
pub(crate) struct RulesArgs {
    #[command(flatten)]
    pub(crate) rules: RulesArg,
    /// Output format (text prints TOML).
    #[arg(long, value_enum, default_value_t = FormatArg::Text, help_heading = "Output")]
    pub(crate) format: FormatArg,
}

impl RulesArgs {
    pub(crate) fn into_config(self) -> Config {
        let mut opts = RulesOptions::default();
        opts.rules = self.rules.rules;
        let mut config = Config::new(Command::Rules(opts), Vec::new());
        config.format = self.format.into();
        config
    }
}

#[cfg(test)]
mod tests {
    use heapcost::analysis::top::TopSort;
    use heapcost::profile::SampleTypeChoice;
    use heapcost::{Command, ConvertTo, OutputFormat};
    use std::path::PathBuf;

    use crate::cli::testing::{config, config_in, error_in};
    use crate::cli::{CliError, Env};

    #[test]
    fn top_flags_reach_config() {
        let c = config(&[
            "heapcost",
            "top",
            "-s",
            "alloc_space",
            "-n",
            "0",
            "--cum",
            "--format",
            "json",
            "a",
            "-",
        ]);
        let Command::Top(opts) = &c.command else {
            panic!("not top")
        };
        assert_eq!(
            opts.sample_type,
            SampleTypeChoice::Named("alloc_space".into())
        );
        assert_eq!(opts.nodecount, 0);
        assert_eq!(opts.sort, TopSort::Cum);
        assert_eq!(c.format, OutputFormat::Json);
        assert_eq!(c.inputs, vec!["a", "-"]);
    }

    #[test]
    fn top_defaults() {
        let c = config(&["heapcost", "top", "a"]);
        let Command::Top(opts) = &c.command else {
            panic!("not top")
        };
        assert_eq!(opts.sample_type, SampleTypeChoice::Default);
        assert_eq!(opts.nodecount, 20);
        assert_eq!(opts.sort, TopSort::Flat);
        assert_eq!(c.format, OutputFormat::Text);
    }

    #[test]
    fn sample_index_alias() {
        let c = config(&["heapcost", "top", "--sample-index=space", "a"]);
        let Command::Top(opts) = &c.command else {
            panic!("not top")
        };
        assert_eq!(opts.sample_type, SampleTypeChoice::Named("space".into()));
    }

    #[test]
    fn convert_refuses_to_write_protobuf_to_a_terminal() {
        let terminal = Env {
            stdout_is_terminal: true,
            ..Env::default()
        };
        let e = error_in(&["heapcost", "convert", "p"], &terminal);
        assert!(matches!(e, CliError::BinaryToTerminal), "{e:?}");
        assert_eq!(
            e.to_string(),
            "convert writes a binary (gzipped protobuf); give a file with -o out.pb.gz, or redirect stdout"
        );
        // A file, folded text or a redirected stdout are fine.
        config_in(&["heapcost", "convert", "-o", "out.pb.gz", "p"], &terminal);
        config_in(&["heapcost", "convert", "--folded", "p"], &terminal);
        config(&["heapcost", "convert", "p"]);
    }

    #[test]
    fn info_format_reaches_config() {
        let c = config(&["heapcost", "info", "--format", "markdown", "a", "b"]);
        assert_eq!(c.command, Command::Info);
        assert_eq!(c.format, OutputFormat::Markdown);
        assert_eq!(c.inputs, ["a", "b"]);
    }

    #[test]
    fn convert_flags_reach_config() {
        let c = config(&[
            "heapcost",
            "convert",
            "--folded",
            "-s",
            "inuse_objects",
            "-o",
            "out.folded",
            "p",
        ]);
        let Command::Convert(opts) = &c.command else {
            panic!("not convert")
        };
        assert_eq!(opts.to, ConvertTo::Folded);
        assert_eq!(
            opts.sample_type,
            SampleTypeChoice::Named("inuse_objects".into())
        );
        assert_eq!(opts.output, Some(PathBuf::from("out.folded")));
        let Command::Convert(opts) = config(&["heapcost", "convert", "p"]).command else {
            panic!("not convert")
        };
        assert_eq!((opts.to, opts.output), (ConvertTo::Pprof, None));
    }

    #[test]
    fn rules_flags_reach_config() {
        let c = config(&["heapcost", "rules", "--rules", "r.toml", "--format", "json"]);
        let Command::Rules(opts) = &c.command else {
            panic!("not rules")
        };
        assert_eq!(opts.rules, Some(PathBuf::from("r.toml")));
        assert_eq!(c.format, OutputFormat::Json);
        assert!(c.inputs.is_empty());
    }
}
