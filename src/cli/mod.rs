//! The command line (clap derive) and its conversion into [`heapcost::Config`].
//!
//! ripgrep's low/high split: [`Cli`] is what clap parsed, flag by flag, with
//! each flag's syntax already checked; [`Cli::into_config`] turns it, with
//! the [`Env`] `main` read once, into the library's validated [`Config`],
//! failing with a [`CliError`] when a flag or a variable is wrong. One file
//! per command group: `common` (inputs, symbolization, sample type, rules,
//! format), `inspect` (info, top, convert, rules), `views` (attribute,
//! diff, series, flamegraph), `report`, `gate`.

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

use heapcost::{Command, Config};

mod common;
mod env;
mod gate;
mod inspect;
mod report;
mod views;

pub(crate) use env::Env;

use common::{FormatArg, Input};
use gate::GateArgs;
use inspect::{ConvertArgs, InfoArgs, RulesArgs, TopArgs};
use report::ReportArgs;
use views::{AttributeArgs, DiffArgs, FlamegraphArgs, SeriesArgs};

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
    Info(InfoArgs),
    /// pprof-style table of flat and cumulative cost per frame, over all inputs merged.
    Top(TopArgs),
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
    Attribute(AttributeArgs),
    /// What grew and shrank from --base profiles to PROFILE: per owner, per kind, per function.
    #[command(
        long_about = "What grew and shrank from the base profiles (--base, repeatable, \
merged) to the profiles given (merged): the total, every owner and kind (as `attribute` charges \
them, on each side) and the functions whose flat value changed most, each with base, new, delta \
and delta %, largest absolute change first."
    )]
    Diff(DiffArgs),
    /// Successive snapshots (envoy.prof.0001.heap ...): totals, growth, owners over time, leak suspects.
    #[command(
        long_about = "Successive snapshots of one process, each read on its own, in the \
numeric order of their file names (envoy.prof.9.heap before envoy.prof.10.heap, whatever order \
the shell gives): the total of each and its growth from the previous one, the peak, and for every \
owner its value per snapshot, growth and peak. Owners that never shrink and end higher than they \
started are flagged as leak suspects."
    )]
    Series(SeriesArgs),
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
    Flamegraph(FlamegraphArgs),
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
    Report(ReportArgs),
    /// Write the inputs, merged and symbolized, as a pprof protobuf (default) or folded stacks.
    #[command(
        long_about = "Write the inputs, merged and symbolized, in another format.\n\n\
Default: a gzipped pprof protobuf (profile.proto) with every sample type, function names and \
inlined frames, mappings with build ids, labels and the values already unsampled: `pprof -top \
out.pb.gz` shows the same totals and names as `heapcost top`, without needing the binary, and \
Pyroscope, Parca and speedscope open it. --folded: folded stacks (root;...;leaf value) of one \
sample type, for flamegraph.pl, inferno or speedscope."
    )]
    Convert(ConvertArgs),
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
    Gate(GateArgs),
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
    Rules(RulesArgs),
}

/// A command line clap accepted that still cannot run: a wrong environment
/// variable, or flags that contradict each other or the terminal.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// `convert` to pprof would write gzipped protobuf to a terminal.
    #[error(
        "convert writes a binary (gzipped protobuf); give a file with -o out.pb.gz, or redirect stdout"
    )]
    BinaryToTerminal,
    /// `HEAPCOST_CACHE` is neither on nor off.
    #[error(
        "HEAPCOST_CACHE={0:?} is neither on nor off: off, 0, no or false turn the debug-section cache off; on, 1, yes or true (or leaving it unset) keep it"
    )]
    CacheSwitch(String),
    /// Two outputs of one command would be written to the same file.
    #[error("{first} and {second} name the same file: {}", path.display())]
    SameFile {
        /// The first flag, as typed (`--output`).
        first: &'static str,
        /// The second flag.
        second: &'static str,
        /// The file both name.
        path: PathBuf,
    },
}

/// Fails when two of `outputs` (flag, file) name the same file, as typed:
/// the second write would replace the first.
fn distinct_outputs(outputs: &[(&'static str, Option<&Path>)]) -> Result<(), CliError> {
    for (i, (first, a)) in outputs.iter().enumerate() {
        for (second, b) in &outputs[i + 1..] {
            if let (Some(a), Some(b)) = (a, b)
                && a == b
            {
                return Err(CliError::SameFile {
                    first,
                    second,
                    path: a.to_path_buf(),
                });
            }
        }
    }
    Ok(())
}

impl Cli {
    /// The library's configuration for this command line in `env`.
    pub(crate) fn into_config(self, env: &Env) -> Result<Config, CliError> {
        let mut config = match self.command {
            Sub::Info(args) => args.into_config(env),
            Sub::Top(args) => args.into_config(env),
            Sub::Attribute(args) => args.into_config(env),
            Sub::Diff(args) => args.into_config(env),
            Sub::Series(args) => args.into_config(env),
            Sub::Flamegraph(args) => args.into_config(env),
            Sub::Report(args) => args.into_config(env),
            Sub::Convert(args) => args.into_config(env),
            Sub::Gate(args) => args.into_config(env),
            Sub::Rules(args) => Ok(args.into_config()),
        }?;
        config.progress = !self.quiet && env.stderr_is_terminal;
        Ok(config)
    }
}

/// The configuration of `command` over `input` (the profiles and how to
/// symbolize them) in `format`: what every command but `rules` shares.
fn config(
    command: Command,
    input: Input,
    format: FormatArg,
    env: &Env,
) -> Result<Config, CliError> {
    let mut config = Config::new(command, input.profiles);
    config.tags = input.tag;
    config.symbolize = input.symbolization.to_options(env)?;
    config.format = format.into();
    Ok(config)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Parsing a command line into a [`Config`] in a given environment.

    use super::{Cli, CliError, Config, Env};
    use clap::Parser;

    /// The configuration of `args` (program name first) in an empty environment.
    pub(crate) fn config(args: &[&str]) -> Config {
        config_in(args, &Env::default())
    }

    /// The configuration of `args` in `env`.
    pub(crate) fn config_in(args: &[&str], env: &Env) -> Config {
        match Cli::try_parse_from(args).unwrap().into_config(env) {
            Ok(config) => config,
            Err(e) => panic!("{args:?}: {e}"),
        }
    }

    /// The error `args` (which clap accepts) give in `env`.
    pub(crate) fn error_in(args: &[&str], env: &Env) -> CliError {
        match Cli::try_parse_from(args).unwrap().into_config(env) {
            Ok(config) => panic!("{args:?} gave {config:?}"),
            Err(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::testing::config_in;
    use super::{Cli, CliError, Env, distinct_outputs};
    use clap::Parser;

    #[test]
    fn profiles_are_required() {
        assert!(Cli::try_parse_from(["heapcost", "info"]).is_err());
    }

    #[test]
    fn progress_needs_a_terminal_and_no_quiet() {
        let terminal = Env {
            stderr_is_terminal: true,
            ..Env::default()
        };
        assert!(config_in(&["heapcost", "top", "p"], &terminal).progress);
        assert!(!config_in(&["heapcost", "top", "p"], &Env::default()).progress);
        // --quiet is global: before or after the command.
        assert!(!config_in(&["heapcost", "-q", "top", "p"], &terminal).progress);
        assert!(!config_in(&["heapcost", "top", "p", "--quiet"], &terminal).progress);
    }

    #[test]
    fn distinct_outputs_names_both_flags() {
        let a = PathBuf::from("a");
        let b = PathBuf::from("b");
        let none = None;
        assert!(distinct_outputs(&[("-x", Some(&a)), ("-y", Some(&b)), ("-z", none)]).is_ok());
        let e = distinct_outputs(&[("-x", Some(&a)), ("-y", none), ("-z", Some(&a))]).unwrap_err();
        assert!(matches!(
            e,
            CliError::SameFile {
                first: "-x",
                second: "-z",
                ..
            }
        ));
        assert_eq!(e.to_string(), "-x and -z name the same file: a");
    }
}
