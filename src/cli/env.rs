//! What the command line reads from the process besides its arguments: the
//! environment variables and whether stdout and stderr are terminals. `main`
//! reads them once ([`Env::from_process`]); the conversion into
//! [`heapcost::Config`] only looks at this value, so tests pass their own.

use std::ffi::{OsStr, OsString};

use heapcost::symbolize::CacheOptions;

/// The variables [`CacheOptions::from_env`] reads.
const CACHE_VARS: [&str; 4] = [
    "HEAPCOST_CACHE",
    "HEAPCOST_CACHE_DIR",
    "XDG_CACHE_HOME",
    "HOME",
];

/// The process's environment, as far as the command line uses it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Env {
    /// The command line as run (the report's provenance).
    pub(crate) args: Vec<OsString>,
    /// `PPROF_BINARY_PATH`: more directories to search (colon-separated).
    pub(crate) pprof_binary_path: Option<OsString>,
    /// `GITHUB_STEP_SUMMARY`: the file `gate --github` appends its comment to.
    pub(crate) github_step_summary: Option<OsString>,
    /// The cache variables that are set ([`CACHE_VARS`]), by name.
    pub(crate) cache_vars: Vec<(&'static str, OsString)>,
    /// Standard output is a terminal.
    pub(crate) stdout_is_terminal: bool,
    /// Standard error is a terminal (progress bars go there).
    pub(crate) stderr_is_terminal: bool,
}

impl Env {
    /// Reads the process's arguments, variables and terminals.
    pub(crate) fn from_process() -> Env {
        use std::io::IsTerminal;
        Env {
            args: std::env::args_os().collect(),
            pprof_binary_path: std::env::var_os("PPROF_BINARY_PATH"),
            github_step_summary: std::env::var_os("GITHUB_STEP_SUMMARY"),
            cache_vars: CACHE_VARS
                .iter()
                .filter_map(|&k| std::env::var_os(k).map(|v| (k, v)))
                .collect(),
            stdout_is_terminal: std::io::stdout().is_terminal(),
            stderr_is_terminal: std::io::stderr().is_terminal(),
        }
    }

    /// The value of one of the cache variables.
    fn cache_var(&self, name: &str) -> Option<OsString> {
        self.cache_vars
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    }

    /// The debug-section cache the environment asks for (see
    /// [`CacheOptions::from_env`]).
    pub(crate) fn cache(&self) -> Option<CacheOptions> {
        CacheOptions::from_env(|k| self.cache_var(k))
    }

    /// The command line as run, quoted where a shell would need it.
    pub(crate) fn command_line(&self) -> String {
        self.args
            .iter()
            .map(|a| quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One argument as a shell would need it: bare when it is made only of
/// characters no shell treats specially, else single-quoted.
fn quote(arg: &OsStr) -> String {
    let a = arg.to_string_lossy();
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        a.into_owned()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}
