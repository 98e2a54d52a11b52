//! The options of each command, validated: what the command line means,
//! with no I/O done yet. Defaults are defined here once
//! ([`defaults`]) and shown by the CLI's `--help` from there.

use std::path::PathBuf;

use crate::analysis::budgets::Budgets;
use crate::analysis::top::TopSort;
use crate::profile::SampleTypeChoice;

/// Defaults shared by the library and the command line's help.
pub mod defaults {
    /// Rows `top` and `diff` show on the command line.
    pub const NODECOUNT: usize = 20;
    /// Heaviest short paths `attribute` shows per owner.
    pub const STACKS: usize = 3;
    /// Frames narrower than this many pixels (of 1200) are left out of a
    /// flamegraph.
    pub const MIN_WIDTH: f64 = crate::render::flamegraph::DEFAULT_MIN_WIDTH;
    /// Size budget of each flamegraph embedded in the report, bytes: two of
    /// them and the tables stay under 10 MB.
    pub const FLAMEGRAPH_BYTES: usize = 4 << 20;
    /// The root the command line searches last for detached debug files
    /// (`ROOT/.build-id/xx/yyyy.debug`), after the `--symbols-path`
    /// directories.
    pub const DEBUG_ROOT: &str = "/usr/lib/debug";
}

/// Options of `top`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TopOptions {
    /// Sample type. Default: the profile's default (pprof's rule).
    pub sample_type: SampleTypeChoice,
    /// Rows to show; 0 shows all. Default 0 here; the CLI defaults to
    /// [`defaults::NODECOUNT`].
    pub nodecount: usize,
    /// Row order. Default: flat.
    pub sort: TopSort,
}

/// Options of `attribute`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AttributeOptions {
    /// Sample type. Default: the profile's default.
    pub sample_type: SampleTypeChoice,
    /// Heaviest short paths to show per owner. Default 0 here; the CLI
    /// defaults to [`defaults::STACKS`].
    pub stacks: usize,
    /// A rules file added before the built-in rules. Default: none.
    pub rules: Option<PathBuf>,
}

/// Options of `rules`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RulesOptions {
    /// A rules file added before the built-in rules. Default: none.
    pub rules: Option<PathBuf>,
}

/// Options of `diff`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DiffOptions {
    /// The base profiles (merged like the inputs).
    pub base: Vec<String>,
    /// Sample type. Default: the profile's default.
    pub sample_type: SampleTypeChoice,
    /// Function rows to show; 0 shows all. Default 0 here; the CLI
    /// defaults to [`defaults::NODECOUNT`].
    pub nodecount: usize,
    /// A rules file added before the built-in rules. Default: none.
    pub rules: Option<PathBuf>,
}

/// Options of `series`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SeriesOptions {
    /// Sample type. Default: the last snapshot's default.
    pub sample_type: SampleTypeChoice,
    /// A rules file added before the built-in rules. Default: none.
    pub rules: Option<PathBuf>,
}

/// Options of `flamegraph`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct FlamegraphOptions {
    /// Sample type. Default: the profile's default.
    pub sample_type: SampleTypeChoice,
    /// Base profiles: when given, a differential graph from them to the
    /// inputs. Default: none.
    pub base: Vec<String>,
    /// Only the samples charged to this owner. Default: all.
    pub owner: Option<String>,
    /// Root at the top. Default: off.
    pub icicle: bool,
    /// Title. Default: names the inputs and the sample type.
    pub title: Option<String>,
    /// Frames narrower than this many pixels (of 1200) are left out.
    /// Default: [`defaults::MIN_WIDTH`].
    pub min_width: Option<f64>,
    /// A rules file added before the built-in rules. Default: none.
    pub rules: Option<PathBuf>,
    /// Where to write. Default: the output stream.
    pub output: Option<PathBuf>,
}

/// What `convert` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConvertTo {
    /// A gzipped pprof protobuf (`profile.proto`), symbolized.
    #[default]
    Pprof,
    /// Folded stacks (`root;...;leaf value`) of one sample type.
    Folded,
}

/// Options of `convert`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConvertOptions {
    /// Output format. Default: pprof.
    pub to: ConvertTo,
    /// Sample type of folded stacks. Default: the profile's default.
    pub sample_type: SampleTypeChoice,
    /// Where to write. Default: the output stream.
    pub output: Option<PathBuf>,
}

/// Options of `report`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ReportOptions {
    /// Sample type. Default: the last snapshot's default.
    pub sample_type: SampleTypeChoice,
    /// Base profiles (merged) to compare the last snapshot with. Default: none.
    pub base: Vec<String>,
    /// A rules file added before the built-in rules. Default: none.
    pub rules: Option<PathBuf>,
    /// The HTML file to write.
    pub output: PathBuf,
    /// Also write the Markdown summary here. Default: no.
    pub markdown: Option<PathBuf>,
    /// Also write the JSON view here. Default: no.
    pub json: Option<PathBuf>,
    /// Envoy's admin `/memory` output (JSON). Default: none.
    pub memory: Option<PathBuf>,
    /// The process's resident set size in bytes. Default: unknown.
    pub rss: Option<u64>,
    /// The command line, for the provenance section. Default: empty.
    pub command_line: String,
    /// Size budget of one embedded flamegraph, bytes; 0 means
    /// [`defaults::FLAMEGRAPH_BYTES`].
    pub max_flamegraph_bytes: usize,
}

/// Options of `gate`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct GateOptions {
    /// The base runs (each read and attributed on its own; see
    /// [`crate::analysis::gate`] for how runs are combined).
    pub base: Vec<String>,
    /// The base runs' main executable, when it is not the new runs' (the
    /// base branch's build). Default: symbolize both sides alike.
    pub base_binary: Option<PathBuf>,
    /// Sample type. Default: the budgets file's `sample_type`, else the
    /// profile's default.
    pub sample_type: SampleTypeChoice,
    /// A rules file added before the built-in rules. Default: none.
    pub rules: Option<PathBuf>,
    /// The budgets file (TOML, see [`crate::analysis::budgets`]). Default: none.
    pub budgets: Option<PathBuf>,
    /// Limits from the command line, laid over the file's with
    /// [`Budgets::overridden_by`].
    pub limits: Budgets,
    /// Where to write the pull-request comment (Markdown). Default: nowhere.
    pub markdown: Option<PathBuf>,
    /// Where to write JUnit XML. Default: nowhere.
    pub junit: Option<PathBuf>,
    /// Print GitHub Actions annotations on the output after the table.
    /// Default: off.
    pub github: bool,
    /// A file to append the Markdown comment to (the CLI passes
    /// `$GITHUB_STEP_SUMMARY` with `--github`). Default: none.
    pub step_summary: Option<PathBuf>,
}
