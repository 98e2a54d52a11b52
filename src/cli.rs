//! The command line (clap derive) and its conversion into [`heapcost::Config`].

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

use heapcost::analysis::top::TopSort;
use heapcost::symbolize::{self, NameStyle};
use heapcost::{
    AttributeOptions, Command, Config, ConvertOptions, ConvertTo, DiffOptions, FlamegraphOptions,
    OutputFormat, ReportOptions, RulesOptions, SeriesOptions, TopOptions,
};

mod gate;
use gate::{GateLimits, GateReports, gate_options};

/// The command line as run, quoted where a shell would need it.
fn command_line() -> String {
    std::env::args()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                a
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

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
        #[command(flatten)]
        sample: SampleTypeArg,
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
    /// Charge every byte to an owner (filter, subsystem, process) and a kind; show the tables.
    #[command(
        long_about = "Charge every byte to an owner and a kind, over all inputs merged.\n\n\
Owner: who caused the bytes. On each stack, the frame nearest the leaf among the matches of the \
highest tier present: filter (ext_proc, wasm, lua, router, ...) > subsystem (grpc, codec, \
conn_manager, upstream, config, tls, stats, ...) > process (allocator, libc, libstdc++, startup). \
Kind: what was allocated (buffer, header_map, protobuf, wasm_vm, lua_vm, tls, stats > string, \
container). 'other' when no rule matches, 'unsymbolized' when the code that called the allocator \
has no name. Owner and kind columns each add up to the total.\n\n\
Prints the owner table, the kind table, the owner x kind matrix and, per owner, its heaviest \
paths (entry > ... > leaf). Rules: `heapcost rules`; add or override with --rules FILE."
    )]
    Attribute {
        #[command(flatten)]
        input: Input,
        #[command(flatten)]
        sample: SampleTypeArg,
        #[command(flatten)]
        rules: RulesArg,
        /// Heaviest paths to show per owner (0: none).
        #[arg(long, value_name = "N", default_value_t = 3, help_heading = "Output")]
        stacks: usize,
        #[command(flatten)]
        output: Output,
    },
    /// What grew and shrank from --base profiles to PROFILE: per owner, per kind, per function.
    #[command(
        long_about = "What grew and shrank from the base profiles (--base, repeatable, \
merged) to the profiles given (merged): the total, every owner and kind (as `attribute` charges \
them, on each side) and the functions whose flat value changed most, each with base, new, delta \
and delta %, largest absolute change first."
    )]
    Diff {
        /// A base profile (repeatable: several are merged, like the inputs).
        #[arg(long, required = true, value_name = "BASE", help_heading = "Input")]
        base: Vec<String>,
        #[command(flatten)]
        input: Input,
        #[command(flatten)]
        sample: SampleTypeArg,
        #[command(flatten)]
        rules: RulesArg,
        /// Function rows to show (0: all).
        #[arg(
            long,
            short = 'n',
            value_name = "N",
            default_value_t = 20,
            help_heading = "Output"
        )]
        nodecount: usize,
        #[command(flatten)]
        output: Output,
    },
    /// Successive snapshots (envoy.prof.0001.heap ...): totals, growth, owners over time, leak suspects.
    #[command(
        long_about = "Successive snapshots of one process, each read on its own, in the \
numeric order of their file names (envoy.prof.9.heap before envoy.prof.10.heap, whatever order \
the shell gives): the total of each and its growth from the previous one, the peak, and for every \
owner its value per snapshot, growth and peak. Owners that never shrink and end higher than they \
started are flagged as leak suspects."
    )]
    Series {
        #[command(flatten)]
        input: Input,
        #[command(flatten)]
        sample: SampleTypeArg,
        #[command(flatten)]
        rules: RulesArg,
        #[command(flatten)]
        output: Output,
    },
    /// Flamegraph SVG with frames coloured by owner; with --base, a differential one.
    #[command(
        long_about = "Draw the inputs (merged) as a flamegraph SVG with inferno: one box per \
frame, as wide as its cumulative value, root at the bottom (--icicle: at the top). Frames take \
the colour of the owner their own name is charged to (ext_proc, wasm, router, buffer, ...; grey: \
no owner rule), shown in a legend under the title with each owner's value. Click a frame to zoom, \
Ctrl-F to search, as in every inferno SVG.\n\n\
With --base, a differential flamegraph: widths are the inputs' values, colours the change from the \
base (red grew, blue shrank). --owner keeps only the stacks charged to one owner."
    )]
    Flamegraph {
        /// A base profile: draw the change from it (repeatable: merged).
        #[arg(long, value_name = "BASE", help_heading = "Input")]
        base: Vec<String>,
        #[command(flatten)]
        input: Input,
        #[command(flatten)]
        sample: SampleTypeArg,
        #[command(flatten)]
        rules: RulesArg,
        /// Only the stacks charged to this owner (e.g. ext_proc).
        #[arg(long, value_name = "OWNER", help_heading = "Attribution")]
        owner: Option<String>,
        /// Root at the top (icicle graph).
        #[arg(long, help_heading = "Output")]
        icicle: bool,
        /// Title (default: sample type, inputs and total).
        #[arg(long, value_name = "TEXT", help_heading = "Output")]
        title: Option<String>,
        /// Leave out frames narrower than this many pixels (of 1200).
        #[arg(
            long,
            value_name = "PX",
            default_value_t = 0.1,
            help_heading = "Output"
        )]
        min_width: f64,
        /// Write the SVG here (default: stdout).
        #[arg(long, short = 'o', value_name = "FILE", help_heading = "Output")]
        output: Option<PathBuf>,
    },
    /// One self-contained HTML report (tables, charts, flamegraphs); Markdown and JSON summaries.
    #[command(
        long_about = "Write one self-contained HTML file (no network, opens from file://) with \
the headline numbers, the owner and kind tables and their matrix with bars, the top functions, \
growth from --base, the snapshot chart when several profiles are given, the flamegraph (and the \
differential one with --base), warnings in plain words, and provenance (inputs, binaries and build \
ids, version, command line).\n\n\
Several profiles are successive snapshots of one process, taken in the numeric order of their \
file names: the tables and the flamegraph show the last one, the chart all of them; growth is from \
--base (merged) or else from the first snapshot.\n\n\
--markdown FILE writes the pull-request summary (GitHub-flavoured, always under 65,000 \
characters), --json FILE the whole view for machines. --memory FILE (Envoy's admin /memory JSON) \
and --rss BYTES add what the heap profile cannot see: allocator overhead and memory mapped outside \
tcmalloc (LuaJIT, V8)."
    )]
    Report {
        /// Base profiles to compare the last snapshot with (repeatable: merged).
        #[arg(long, value_name = "BASE", help_heading = "Input")]
        base: Vec<String>,
        #[command(flatten)]
        input: Input,
        #[command(flatten)]
        sample: SampleTypeArg,
        #[command(flatten)]
        rules: RulesArg,
        /// Envoy's admin /memory output (JSON), to show the memory the profile does not see.
        #[arg(long, value_name = "FILE", help_heading = "Input")]
        memory: Option<PathBuf>,
        /// The process's resident set size in bytes (e.g. from /proc/PID/status VmRSS x 1024).
        #[arg(long, value_name = "BYTES", help_heading = "Input")]
        rss: Option<u64>,
        /// The HTML file to write.
        #[arg(long, short = 'o', value_name = "FILE", help_heading = "Output")]
        output: PathBuf,
        /// Also write the pull-request summary (Markdown) here.
        #[arg(long, value_name = "FILE", help_heading = "Output")]
        markdown: Option<PathBuf>,
        /// Also write the whole view as JSON here.
        #[arg(long, value_name = "FILE", help_heading = "Output")]
        json: Option<PathBuf>,
        /// Largest size of each embedded flamegraph, in bytes.
        #[arg(
            long,
            value_name = "BYTES",
            default_value_t = 4 << 20,
            help_heading = "Output",
            long_help = "Largest size of each embedded flamegraph SVG, in bytes (default 4 MiB, so \
that the whole report stays under 10 MB and opens in a browser whatever the input). Frames \
narrower than 0.1 px are always left out; when the SVG is still larger, the threshold is doubled \
until it fits, and the report says which frames were left out."
        )]
        flamegraph_budget: usize,
    },
    /// Write the inputs, merged and symbolized, as a pprof protobuf (default) or folded stacks.
    #[command(
        long_about = "Write the inputs, merged and symbolized, in another format.\n\n\
Default: a gzipped pprof protobuf (profile.proto) with every sample type, function names and \
inlined frames, mappings with build ids, labels and the values already unsampled: `pprof -top \
out.pb.gz` shows the same totals and names as `heapcost top`, without needing the binary, and \
Pyroscope, Parca and speedscope open it. --folded: folded stacks (root;...;leaf value) of one \
sample type, for flamegraph.pl, inferno or speedscope."
    )]
    Convert {
        #[command(flatten)]
        input: Input,
        #[command(flatten)]
        sample: SampleTypeArg,
        /// Write folded stacks (root;...;leaf value) instead of a pprof protobuf.
        #[arg(long, help_heading = "Output")]
        folded: bool,
        /// Write here (default: stdout).
        #[arg(long, short = 'o', value_name = "FILE", help_heading = "Output")]
        output: Option<PathBuf>,
    },
    /// CI verdict: --base runs against PROFILE runs, checked against budgets; exit 0 pass, 1 regression, 2 bad input.
    #[command(
        long_about = "The CI memory-regression gate. Compares the base runs (--base, \
repeatable: one dump per load-test run of the base branch) with the runs given (the pull \
request's), checks every limit, prints a verdict table (limit, base, new, delta, status) and \
exits with 0 when every limit holds, 1 when any is broken, 2 on bad input or usage.\n\n\
Each run is read and attributed on its own; on each side, every value (the total, each owner, \
each kind, each stack) is the median over that side's runs (a run without the owner counts 0): \
with three runs per side one outlier run changes nothing; with two, the median is their mean.\n\n\
Limits come from --budgets FILE (TOML: sample_type, noise_floor, [total] max_growth and max, \
[owners] and [kinds]: NAME = LIMIT or a list of limits) and from the flags below, which \
replace the file's limits of the same name. LIMIT: \"64MiB\" caps the new value, \"+8MiB\" \
bounds the growth, \"+10%\" or \"10%\" bounds the growth relative to the base. Sizes: B, \
KiB/KB/K, MiB/MB/M, GiB/GB/G, TiB/TB/T, all powers of 1024, fractions allowed (1.5GB); for \
object counts (inuse_objects, alloc_objects) limits are plain numbers. An owner or kind no \
rule defines and no input has is an error (exit 2) with a \"did you mean\". See docs/ci.md.",
        mut_arg("profiles", |a| a.long_help("Heap profiles of the change under test: one run \
each (formats as for every command; '-' reads standard input). Runs are not summed: each is \
attributed on its own and every value is the median over the runs."))
    )]
    Gate {
        /// A base profile: one run of the base branch (repeatable).
        #[arg(
            long,
            required = true,
            value_name = "BASE",
            help_heading = "Input",
            long_help = "A profile of the base branch: one run (repeatable). Runs are not \
summed: each is attributed on its own and every value is the median over the runs of its side. \
The profiles given (PROFILE) are the other side, the same way."
        )]
        base: Vec<String>,
        #[command(flatten)]
        input: Input,
        /// The base runs' main executable, when it is not the new runs' (-b).
        #[arg(
            long,
            value_name = "FILE",
            help_heading = "Symbolization",
            conflicts_with = "no_symbolize",
            long_help = "The main executable that wrote the base runs (the base branch's \
envoy-static), used for them as --binary is for the new runs. Without it, --binary serves both \
sides, which is right only when both ran the same build: gperftools dumps record no build id, so \
a wrong binary gives wrong names silently. --symbols-path serves both sides."
        )]
        base_binary: Option<PathBuf>,
        #[command(flatten)]
        sample: SampleTypeArg,
        #[command(flatten)]
        rules: RulesArg,
        #[command(flatten)]
        limits: Box<GateLimits>,
        #[command(flatten)]
        reports: GateReports,
        #[command(flatten)]
        output: Output,
    },
    /// Print the effective attribution rules (built-in, plus --rules FILE) as TOML.
    #[command(
        long_about = "Print the effective attribution rules: the rules of --rules FILE \
first, then the built-in Envoy rules they do not replace. The output is a valid rules file.\n\n\
Schema: [[owner]] and [[kind]] tables with id (unique; a user rule replaces the built-in rule of \
the same id), name (label; default the id; '$1' takes a regex capture, in snake_case), tier \
(owners: filter, subsystem, process; kinds: specific, generic), prefix / contains / regex \
(matched against pprof-style short names: demangled, no parameters), module (mapping file name \
prefix, for frames without a name), examples (names the rule must label), near_misses (names it \
must not match), enabled = false (switch a built-in rule off), description. Examples and near \
misses are checked whenever rules are loaded."
    )]
    Rules {
        #[command(flatten)]
        rules: RulesArg,
        /// Output format (text prints TOML).
        #[arg(long, value_enum, default_value_t = FormatArg::Text, help_heading = "Output")]
        format: FormatArg,
    },
}

#[derive(Debug, Args)]
pub(crate) struct SampleTypeArg {
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
    pub(crate) sample_type: Option<String>,
}

impl SampleTypeArg {
    /// The sample type the flag chooses (the profile's default without it).
    pub(crate) fn choice(&self) -> heapcost::profile::SampleTypeChoice {
        heapcost::profile::SampleTypeChoice::parse(self.sample_type.as_deref().unwrap_or(""))
    }
}

#[derive(Debug, Args)]
pub(crate) struct RulesArg {
    /// A rules file (TOML) whose rules come before the built-in ones and replace them by id.
    #[arg(long, value_name = "FILE", help_heading = "Attribution")]
    pub(crate) rules: Option<PathBuf>,
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
    #[command(flatten)]
    pub(crate) symbolization: Symbolization,
}

#[derive(Debug, Args)]
pub(crate) struct Symbolization {
    /// The main executable (e.g. envoy-static), whatever path the profile recorded.
    #[arg(
        long,
        short = 'b',
        value_name = "FILE",
        help_heading = "Symbolization",
        long_help = "The main executable of the profiled process (e.g. envoy-static), used for \
the profile's first mapping whatever path the profile recorded (/usr/local/bin/envoy), and for \
any mapping with the same file name. Without it, files are looked up at their recorded paths \
and in --symbols-path."
    )]
    pub(crate) binary: Option<PathBuf>,
    /// Directory to search for binaries and debug files (repeatable; also PPROF_BINARY_PATH).
    #[arg(
        long = "symbols-path",
        value_name = "DIR",
        help_heading = "Symbolization",
        long_help = "A directory searched for the profiled files, as DIR/<build id>/<name>, \
DIR/<recorded path>, DIR/<name>, and for detached debug files as \
DIR/.build-id/xx/yyyy.debug. Repeatable; the entries of PPROF_BINARY_PATH (colon-separated) are \
searched after these, and /usr/lib/debug last for debug files."
    )]
    pub(crate) symbols_path: Vec<PathBuf>,
    /// Use a file even when its build id differs from the profile's.
    #[arg(long, help_heading = "Symbolization")]
    pub(crate) force: bool,
    /// Show whole demangled names (parameters, template arguments) instead of pprof's short ones.
    #[arg(long, help_heading = "Symbolization")]
    pub(crate) full_names: bool,
    /// Do not look for binaries: name frames as module+0xoffset.
    #[arg(long, help_heading = "Symbolization")]
    pub(crate) no_symbolize: bool,
    /// Do not keep or use decompressed debug sections and function indexes between runs.
    #[arg(
        long,
        help_heading = "Symbolization",
        long_help = "Neither read nor write the cache of decompressed debug sections and \
function indexes. By default, compressed DWARF sections of 256 KiB or more (e.g. Debian's -dbg \
packages) are decompressed once and kept, per build id, under $HEAPCOST_CACHE_DIR, else \
$XDG_CACHE_HOME/heapcost, else ~/.cache/heapcost, with an index of the functions of each \
compilation unit looked at, so later runs skip both steps (ceph-osd: 547 MB kept, a warm run \
takes about a third of the CPU of a cold one). HEAPCOST_CACHE=off does the same as this flag. \
Deleting the directory is always safe."
    )]
    pub(crate) no_cache: bool,
}

impl Symbolization {
    /// The library options; `binary_path` is the value of PPROF_BINARY_PATH.
    fn to_options(&self, binary_path: Option<&std::ffi::OsStr>) -> Option<symbolize::Options> {
        if self.no_symbolize {
            return None;
        }
        let mut opts = symbolize::Options::default();
        opts.paths.binary = self.binary.clone();
        opts.paths.dirs = self.symbols_path.clone();
        if let Some(env) = binary_path {
            opts.paths
                .dirs
                .extend(std::env::split_paths(env).filter(|p| !p.as_os_str().is_empty()));
        }
        opts.paths.debug_roots = vec![PathBuf::from("/usr/lib/debug")];
        opts.force = self.force;
        if !self.no_cache {
            opts.cache = symbolize::CacheOptions::from_env(|k| std::env::var_os(k));
        }
        opts.names = if self.full_names {
            NameStyle::Full
        } else {
            NameStyle::Simplified
        };
        Some(opts)
    }
}

#[derive(Debug, Args, Default)]
pub(crate) struct Output {
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text, help_heading = "Output")]
    pub(crate) format: FormatArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum FormatArg {
    /// Aligned tables for the terminal.
    #[default]
    Text,
    /// JSON for machines (schema in DESIGN.md).
    Json,
    /// GitHub-flavoured Markdown, for pull-request comments.
    Markdown,
}

impl From<FormatArg> for OutputFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Text => OutputFormat::Text,
            FormatArg::Json => OutputFormat::Json,
            FormatArg::Markdown => OutputFormat::Markdown,
        }
    }
}

impl From<Sub> for Config {
    fn from(sub: Sub) -> Config {
        let (command, input, output) = match sub {
            Sub::Info { input, output } => (Command::Info, input, output),
            Sub::Top {
                input,
                sample,
                nodecount,
                cum,
                output,
            } => {
                let mut opts = TopOptions::default();
                opts.sample_type = sample.choice();
                opts.nodecount = nodecount;
                opts.sort = if cum { TopSort::Cum } else { TopSort::Flat };
                (Command::Top(opts), input, output)
            }
            Sub::Attribute {
                input,
                sample,
                rules,
                stacks,
                output,
            } => {
                let mut opts = AttributeOptions::default();
                opts.sample_type = sample.choice();
                opts.stacks = stacks;
                opts.rules = rules.rules;
                (Command::Attribute(opts), input, output)
            }
            Sub::Diff {
                base,
                input,
                sample,
                rules,
                nodecount,
                output,
            } => {
                let mut opts = DiffOptions::default();
                opts.base = base;
                opts.sample_type = sample.choice();
                opts.nodecount = nodecount;
                opts.rules = rules.rules;
                (Command::Diff(opts), input, output)
            }
            Sub::Series {
                input,
                sample,
                rules,
                output,
            } => {
                let mut opts = SeriesOptions::default();
                opts.sample_type = sample.choice();
                opts.rules = rules.rules;
                (Command::Series(opts), input, output)
            }
            Sub::Flamegraph {
                base,
                input,
                sample,
                rules,
                owner,
                icicle,
                title,
                min_width,
                output,
            } => {
                let mut opts = FlamegraphOptions::default();
                opts.base = base;
                opts.sample_type = sample.choice();
                opts.rules = rules.rules;
                opts.owner = owner;
                opts.icicle = icicle;
                opts.title = title;
                opts.min_width = Some(min_width);
                opts.output = output;
                (Command::Flamegraph(opts), input, Output::default())
            }
            Sub::Report {
                base,
                input,
                sample,
                rules,
                memory,
                rss,
                output,
                markdown,
                json,
                flamegraph_budget,
            } => {
                let mut opts = ReportOptions::default();
                opts.max_flamegraph_bytes = flamegraph_budget;
                opts.base = base;
                opts.sample_type = sample.choice();
                opts.rules = rules.rules;
                opts.memory = memory;
                opts.rss = rss;
                opts.output = output;
                opts.markdown = markdown;
                opts.json = json;
                opts.command_line = command_line();
                (Command::Report(opts), input, Output::default())
            }
            Sub::Convert {
                input,
                sample,
                folded,
                output,
            } => {
                let mut opts = ConvertOptions::default();
                opts.to = if folded {
                    ConvertTo::Folded
                } else {
                    ConvertTo::Pprof
                };
                opts.sample_type = sample.choice();
                opts.output = output;
                (Command::Convert(opts), input, Output::default())
            }
            Sub::Gate {
                base,
                input,
                base_binary,
                sample,
                rules,
                limits,
                reports,
                output,
            } => {
                let summary = std::env::var_os("GITHUB_STEP_SUMMARY");
                let mut opts = gate_options(base, sample, rules, &limits, reports, summary);
                opts.base_binary = base_binary;
                (Command::Gate(Box::new(opts)), input, output)
            }
            Sub::Rules { rules, format } => {
                let mut opts = RulesOptions::default();
                opts.rules = rules.rules;
                let mut config = Config::new(Command::Rules(opts), Vec::new());
                config.format = format.into();
                return config;
            }
        };
        let mut config = Config::new(command, input.profiles);
        config.symbolize = input
            .symbolization
            .to_options(std::env::var_os("PPROF_BINARY_PATH").as_deref());
        config.format = output.format.into();
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heapcost::profile::SampleTypeChoice;

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
    fn symbolization_flags_reach_config() {
        let cli = Cli::try_parse_from([
            "heapcost",
            "top",
            "-b",
            "envoy-static",
            "--symbols-path",
            "/a",
            "--symbols-path",
            "/b",
            "--force",
            "--full-names",
            "p",
        ])
        .unwrap();
        let Sub::Top { input, .. } = cli.command else {
            panic!("not top")
        };
        let o = input
            .symbolization
            .to_options(Some("/c:/d".as_ref()))
            .unwrap();
        assert_eq!(o.paths.binary, Some(PathBuf::from("envoy-static")));
        let dirs: Vec<PathBuf> = ["/a", "/b", "/c", "/d"].iter().map(PathBuf::from).collect();
        assert_eq!(o.paths.dirs, dirs);
        assert!(o.force);
        assert_eq!(o.names, NameStyle::Full);
        let cli = Cli::try_parse_from(["heapcost", "info", "--no-symbolize", "p"]).unwrap();
        let Sub::Info { input, .. } = cli.command else {
            panic!("not info")
        };
        assert!(input.symbolization.to_options(None).is_none());
    }

    #[test]
    fn no_cache_turns_the_section_cache_off() {
        let options = |args: &[&str]| {
            let Sub::Top { input, .. } = Cli::try_parse_from(args).unwrap().command else {
                panic!("not top")
            };
            input.symbolization.to_options(None).unwrap()
        };
        assert_eq!(options(&["heapcost", "top", "--no-cache", "p"]).cache, None);
        // Without the flag the environment decides (HOME is set wherever
        // tests run, unless HEAPCOST_CACHE=off).
        let env_cache = symbolize::CacheOptions::from_env(|k| std::env::var_os(k));
        assert_eq!(options(&["heapcost", "top", "p"]).cache, env_cache);
    }

    #[test]
    fn profiles_are_required() {
        assert!(Cli::try_parse_from(["heapcost", "info"]).is_err());
    }

    #[test]
    fn base_binary_reaches_gate_options() {
        let c = config(&[
            "heapcost",
            "gate",
            "--base",
            "b",
            "--base-binary",
            "base/envoy-static",
            "-b",
            "new/envoy-static",
            "--max-growth",
            "1%",
            "n",
        ]);
        let Command::Gate(opts) = &c.command else {
            panic!("not gate")
        };
        assert_eq!(opts.base_binary, Some(PathBuf::from("base/envoy-static")));
        let binary = c.symbolize.and_then(|s| s.paths.binary);
        assert_eq!(binary, Some(PathBuf::from("new/envoy-static")));
    }

    #[test]
    fn sample_index_alias() {
        let c = config(&["heapcost", "top", "--sample-index=space", "a"]);
        let Command::Top(opts) = &c.command else {
            panic!("not top")
        };
        assert_eq!(opts.sample_type, SampleTypeChoice::Named("space".into()));
    }
}
