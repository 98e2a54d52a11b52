//! Arguments shared by several commands: the inputs and how to symbolize
//! them, the sample type, the rules file and the output format.

use clap::{Args, ValueEnum};
use std::path::PathBuf;

use heapcost::OutputFormat;
use heapcost::app::defaults;
use heapcost::profile::SampleTypeChoice;
use heapcost::symbolize::{self, NameStyle};

use super::{CliError, Env};

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
    pub(crate) fn choice(&self) -> SampleTypeChoice {
        SampleTypeChoice::parse(self.sample_type.as_deref().unwrap_or(""))
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
    /// Keep only samples with this label value (repeatable, like pprof's -tagfocus): KEY=VALUE.
    #[arg(
        long,
        value_name = "KEY=VALUE",
        value_parser = heapcost::profile::TagFilter::parse,
        help_heading = "Analysis",
        long_help = "Keep only the samples that carry this label, as pprof's -tagfocus does: \
\"allocation type=new\" (a string label), bytes=4KiB (a numeric label, exactly), \
request=1KiB:64KiB (a range, either end may be left out). Repeatable: a sample must match every \
filter. tcmalloc's profiles label every sample with bytes, request, alignment, allocation type \
(new, malloc, aligned malloc), access_hint, access_allocated (hot, cold); gperftools and jemalloc \
dumps label bytes. The samples left out leave every value; a note says how many."
    )]
    pub(crate) tag: Vec<heapcost::profile::TagFilter>,
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
        long_help = symbols_path_help()
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
    #[arg(long, help_heading = "Symbolization", long_help = no_cache_help())]
    pub(crate) no_cache: bool,
}

fn symbols_path_help() -> String {
    format!(
        "A directory searched for the profiled files, as DIR/<build id>/<name>, \
DIR/<recorded path>, DIR/<name>, and for detached debug files as \
DIR/.build-id/xx/yyyy.debug. Repeatable; the entries of PPROF_BINARY_PATH (colon-separated) are \
searched after these, and {} last for debug files.",
        defaults::DEBUG_ROOT
    )
}

fn no_cache_help() -> String {
    format!(
        "Neither read nor write the cache of decompressed debug sections and \
function indexes. By default, compressed DWARF sections of {} KiB or more (e.g. Debian's -dbg \
packages) are decompressed once and kept, per build id, under $HEAPCOST_CACHE_DIR, else \
$XDG_CACHE_HOME/heapcost, else ~/.cache/heapcost, with an index of the functions of each \
compilation unit looked at, so later runs skip both steps (ceph-osd: 547 MB kept, a warm run \
takes about a third of the CPU of a cold one). HEAPCOST_CACHE=off does the same as this flag. \
Deleting the directory is always safe.",
        symbolize::DEFAULT_MIN_SECTION_SIZE >> 10
    )
}

impl Symbolization {
    /// The library options (`None` with --no-symbolize): the flags, then
    /// the directories of PPROF_BINARY_PATH and the cache the environment
    /// asks for.
    pub(crate) fn to_options(&self, env: &Env) -> Result<Option<symbolize::Options>, CliError> {
        if self.no_symbolize {
            return Ok(None);
        }
        let mut opts = symbolize::Options::default();
        opts.paths.binary = self.binary.clone();
        opts.paths.dirs = self.symbols_path.clone();
        if let Some(dirs) = &env.pprof_binary_path {
            opts.paths
                .dirs
                .extend(std::env::split_paths(dirs).filter(|p| !p.as_os_str().is_empty()));
        }
        opts.paths.debug_roots = vec![PathBuf::from(defaults::DEBUG_ROOT)];
        opts.force = self.force;
        if !self.no_cache {
            opts.cache = env.cache()?;
        }
        opts.names = if self.full_names {
            NameStyle::Full
        } else {
            NameStyle::Simplified
        };
        Ok(Some(opts))
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use heapcost::app::defaults;
    use heapcost::symbolize::{DEFAULT_MIN_SECTION_SIZE, NameStyle};

    use crate::cli::Env;
    use crate::cli::testing::{config, config_in};

    #[test]
    fn symbolization_flags_reach_config() {
        let env = Env {
            pprof_binary_path: Some("/c:/d".into()),
            ..Env::default()
        };
        let c = config_in(
            &[
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
            ],
            &env,
        );
        let o = c.symbolize.unwrap();
        assert_eq!(o.paths.binary, Some(PathBuf::from("envoy-static")));
        let dirs: Vec<PathBuf> = ["/a", "/b", "/c", "/d"].iter().map(PathBuf::from).collect();
        assert_eq!(o.paths.dirs, dirs);
        assert!(o.force);
        assert_eq!(o.names, NameStyle::Full);
        let c = config(&["heapcost", "info", "--no-symbolize", "p"]);
        assert!(c.symbolize.is_none());
    }

    #[test]
    fn no_cache_turns_the_section_cache_off() {
        let env = Env {
            cache_vars: vec![("HOME", "/home/u".into())],
            ..Env::default()
        };
        let cache = |args: &[&str]| config_in(args, &env).symbolize.unwrap().cache;
        assert_eq!(cache(&["heapcost", "top", "--no-cache", "p"]), None);
        // Without the flag the environment decides.
        assert_eq!(
            cache(&["heapcost", "top", "p"]).map(|c| c.dir),
            Some(PathBuf::from("/home/u/.cache/heapcost"))
        );
    }

    #[test]
    fn symbolization_defaults() {
        let env = Env {
            pprof_binary_path: Some("/c::/d:".into()),
            ..Env::default()
        };
        let o = config_in(&["heapcost", "top", "p"], &env)
            .symbolize
            .unwrap();
        assert_eq!(o.paths.binary, None);
        // Empty entries of PPROF_BINARY_PATH are skipped.
        assert_eq!(o.paths.dirs, [PathBuf::from("/c"), PathBuf::from("/d")]);
        assert_eq!(o.paths.debug_roots, [PathBuf::from(defaults::DEBUG_ROOT)]);
        assert!(!o.force);
        assert_eq!(o.names, NameStyle::Simplified);
        // No cache variable set: no cache.
        assert_eq!(o.cache, None);
    }

    #[test]
    fn symbolization_help_states_the_defaults() {
        // The help gives the section size in KiB: it must be a whole number of them.
        assert_eq!(DEFAULT_MIN_SECTION_SIZE % 1024, 0);
        let kib = DEFAULT_MIN_SECTION_SIZE >> 10;
        let help = super::no_cache_help();
        assert!(
            help.contains(&format!("sections of {kib} KiB or more")),
            "{help}"
        );
        let help = super::symbols_path_help();
        let root = defaults::DEBUG_ROOT;
        assert!(
            help.contains(&format!("and {root} last for debug files")),
            "{help}"
        );
    }
}
