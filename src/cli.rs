//! The command line (clap derive) and its conversion into [`heapcost::Config`].

use clap::{Args, Parser, Subcommand, ValueEnum};
use heapcost::analysis::top::TopSort;
use heapcost::{Command, Config, OutputFormat, TopOptions};

/// Which Envoy filter owns the heap? Reads gperftools, jemalloc, Go and pprof heap profiles.
#[derive(Debug, Parser)]
#[command(name = "heapcost", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    /// Print no warnings on stderr (errors are still printed).
    #[arg(long, short, global = true)]
    pub(crate) quiet: bool,
    #[command(subcommand)]
    pub(crate) command: Sub,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Sub {
    /// Describe each profile: format, sample types, header totals vs listed stacks (truncation), mappings.
    Info {
        #[command(flatten)]
        input: Input,
        #[command(flatten)]
        output: Output,
    },
    /// pprof-style table of flat and cumulative cost per frame, over all inputs merged.
    Top {
        #[command(flatten)]
        input: Input,
        /// Sample type to show: inuse_space, inuse_objects, alloc_space, alloc_objects, space, objects.
        #[arg(
            long,
            short = 's',
            value_name = "TYPE",
            alias = "sample-index",
            help_heading = "Analysis",
            long_help = "Sample type to show, by pprof's name (inuse_space, inuse_objects, alloc_space, \
alloc_objects for unsampled gperftools and Go dumps; space, objects for sampled, growth and jemalloc \
dumps) or by index. As in pprof's -sample_index, inuse_space also selects space and inuse_objects \
selects objects. Default: the profile's default type (inuse_space, or space)."
        )]
        sample_type: Option<String>,
        /// Rows to show (0: all).
        #[arg(
            long,
            short = 'n',
            value_name = "N",
            default_value_t = 20,
            help_heading = "Output",
            long_help = "Number of rows to show, largest first; 0 shows every row. The total line \
always covers the whole profile."
        )]
        nodecount: usize,
        /// Sort by cumulative cost instead of flat cost.
        #[arg(long, help_heading = "Output")]
        cum: bool,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Args)]
pub(crate) struct Input {
    /// Heap profiles (gperftools, jemalloc, Go legacy, pprof protobuf; gzip or not); '-' reads stdin.
    #[arg(
        required = true,
        value_name = "PROFILE",
        help_heading = "Input",
        long_help = "Heap profiles to read. The format is detected from the content, never the \
name: gperftools heap dumps (heapprofile, heap_v2, heapz_v2, growthz), Go's legacy heap/N text, \
jemalloc heap_v2 dumps, and pprof protobufs, each optionally gzip-compressed. '-' reads standard \
input. Several profiles are merged by summing, as pprof does."
    )]
    pub(crate) profiles: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct Output {
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text, help_heading = "Output")]
    pub(crate) format: FormatArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FormatArg {
    /// Aligned tables for the terminal.
    Text,
    /// JSON for machines (schema in DESIGN.md).
    Json,
}

impl From<FormatArg> for OutputFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Text => OutputFormat::Text,
            FormatArg::Json => OutputFormat::Json,
        }
    }
}

impl From<Sub> for Config {
    fn from(sub: Sub) -> Config {
        let (command, input, output) = match sub {
            Sub::Info { input, output } => (Command::Info, input, output),
            Sub::Top {
                input,
                sample_type,
                nodecount,
                cum,
                output,
            } => {
                let mut opts = TopOptions::default();
                opts.sample_type = sample_type.unwrap_or_default();
                opts.nodecount = nodecount;
                opts.sort = if cum { TopSort::Cum } else { TopSort::Flat };
                (Command::Top(opts), input, output)
            }
        };
        let mut config = Config::new(command, input.profiles);
        config.format = output.format.into();
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        Cli::try_parse_from(args).unwrap().command.into()
    }

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
        assert_eq!(opts.sample_type, "alloc_space");
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
        assert_eq!(opts.sample_type, "");
        assert_eq!(opts.nodecount, 20);
        assert_eq!(opts.sort, TopSort::Flat);
        assert_eq!(c.format, OutputFormat::Text);
    }

    #[test]
    fn profiles_are_required() {
        assert!(Cli::try_parse_from(["heapcost", "info"]).is_err());
    }

    #[test]
    fn sample_index_alias() {
        let c = config(&["heapcost", "top", "--sample-index=space", "a"]);
        let Command::Top(opts) = &c.command else {
            panic!("not top")
        };
        assert_eq!(opts.sample_type, "space");
    }
}
