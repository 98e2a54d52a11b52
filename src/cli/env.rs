//! What the command line reads from the process besides its arguments: the
//! environment variables and whether stdout and stderr are terminals. `main`
//! reads them once ([`Env::from_process`]); the conversion into
//! [`heapcost::Config`] only looks at this value, so tests pass their own.

use std::ffi::{OsStr, OsString};

use heapcost::symbolize::CacheOptions;

use super::CliError;

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
    /// [`CacheOptions::from_env`]). `HEAPCOST_CACHE` must say on or off:
    /// the library takes any other value for on, so that a typo
    /// (`HEAPCOST_CACHE=of`, `=disabled`) would keep the cache silently.
    pub(crate) fn cache(&self) -> Result<Option<CacheOptions>, CliError> {
        if let Some(v) = self.cache_var("HEAPCOST_CACHE").filter(|v| !v.is_empty()) {
            let known = v.to_str().map(str::to_ascii_lowercase).is_some_and(|v| {
                matches!(
                    v.as_str(),
                    "off" | "0" | "no" | "false" | "on" | "1" | "yes" | "true"
                )
            });
            if !known {
                return Err(CliError::CacheSwitch(v.to_string_lossy().into_owned()));
            }
        }
        Ok(CacheOptions::from_env(|k| self.cache_var(k)))
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

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    use std::path::PathBuf;

    use super::Env;
    use crate::cli::CliError;
    use crate::cli::testing::{config_in, error_in};

    fn with_cache(value: impl Into<OsString>) -> Env {
        Env {
            cache_vars: vec![
                ("HEAPCOST_CACHE", value.into()),
                ("HEAPCOST_CACHE_DIR", "/c".into()),
            ],
            ..Env::default()
        }
    }

    #[test]
    fn heapcost_cache_says_on_or_off() {
        for off in ["off", "OFF", "0", "no", "false"] {
            assert_eq!(with_cache(off).cache().unwrap(), None, "{off}");
        }
        for on in ["on", "1", "Yes", "true", ""] {
            let dir = with_cache(on).cache().unwrap().map(|c| c.dir);
            assert_eq!(dir, Some(PathBuf::from("/c")), "{on}");
        }
    }

    #[test]
    fn heapcost_cache_typos_are_errors() {
        for bad in ["of", "disabled", " off", "2"] {
            let e = with_cache(bad).cache().unwrap_err();
            assert!(matches!(&e, CliError::CacheSwitch(v) if v == bad), "{e:?}");
            let message = e.to_string();
            assert!(
                message.starts_with(&format!("HEAPCOST_CACHE={bad:?} ")),
                "{message}"
            );
        }
        let e = with_cache(OsString::from_vec(b"of\xff".to_vec())).cache();
        assert!(matches!(e, Err(CliError::CacheSwitch(v)) if v == "of\u{fffd}"));
    }

    #[test]
    fn heapcost_cache_is_read_only_when_the_cache_is_used() {
        let env = with_cache("disabled");
        let e = error_in(&["heapcost", "top", "p"], &env);
        assert!(matches!(e, CliError::CacheSwitch(_)), "{e:?}");
        for flag in ["--no-cache", "--no-symbolize"] {
            config_in(&["heapcost", "top", flag, "p"], &env);
        }
        config_in(&["heapcost", "rules"], &env);
    }

    #[test]
    fn command_line_is_quoted_for_a_shell() {
        let env = Env {
            args: [
                "heapcost",
                "report",
                "-o",
                "my report.html",
                "it's",
                "",
                "a=b,c",
            ]
            .map(OsString::from)
            .into_iter()
            .chain([OsString::from_vec(b"x\xff".to_vec())])
            .collect(),
            ..Env::default()
        };
        assert_eq!(
            env.command_line(),
            "heapcost report -o 'my report.html' 'it'\\''s' '' a=b,c 'x\u{fffd}'"
        );
    }
}
