//! `heapcost gate`: the base runs, the limits given inline and the reports
//! to write, and their conversion into [`GateOptions`].

use clap::Args;
use std::path::PathBuf;

use heapcost::analysis::budgets::{self, Amount, Budgets, Limit, Origin};
use heapcost::{Command, Config, GateOptions};

use super::common::{Input, Output, RulesArg, SampleTypeArg};
use super::{CliError, Env, config, distinct_outputs};

// `heapcost gate` (its long help and the long help of PROFILE are on
// `Sub::Gate`).
#[derive(Debug, Args)]
pub(crate) struct GateArgs {
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
    pub(crate) base: Vec<String>,
    #[command(flatten)]
    pub(crate) input: Input,
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
    pub(crate) base_binary: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) sample: SampleTypeArg,
    #[command(flatten)]
    pub(crate) rules: RulesArg,
    #[command(flatten)]
    pub(crate) limits: Box<GateLimits>,
    #[command(flatten)]
    pub(crate) reports: GateReports,
    #[command(flatten)]
    pub(crate) output: Output,
}

impl GateArgs {
    pub(crate) fn into_config(self, env: &Env) -> Result<Config, CliError> {
        distinct_outputs(&[
            ("--markdown", self.reports.markdown.as_deref()),
            ("--junit", self.reports.junit.as_deref()),
        ])?;
        let mut opts = GateOptions::default();
        opts.base = self.base;
        opts.base_binary = self.base_binary;
        opts.sample_type = self.sample.choice();
        opts.rules = self.rules.rules;
        opts.budgets = self.limits.budgets.clone();
        opts.limits = self.limits.to_budgets();
        opts.markdown = self.reports.markdown;
        opts.junit = self.reports.junit;
        opts.github = self.reports.github;
        if self.reports.github {
            // GITHUB_STEP_SUMMARY is a path, whatever its bytes; empty is unset.
            opts.step_summary = env
                .github_step_summary
                .clone()
                .filter(|s| !s.is_empty())
                .map(PathBuf::from);
        }
        let command = Command::Gate(Box::new(opts));
        config(command, self.input, self.output.format, env)
    }
}

#[derive(Debug, Args)]
pub(crate) struct GateLimits {
    /// The budgets file (TOML): sample type, noise floor, total, owner and kind limits.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Budgets",
        long_help = "The budgets file (TOML). Keys: sample_type (default sample type; \
--sample-type wins), noise_floor (changes smaller than this pass whatever the limit; default \
0), [total] max_growth (a limit or a list: \"10%\" of the base, or an amount such as \
\"64MiB\") and max (a cap on the new total), [owners] and [kinds] (NAME = LIMIT, or a list of \
limits). Errors name the file and line. Schema and examples: docs/ci.md."
    )]
    pub(crate) budgets: Option<PathBuf>,
    /// Growth of the total at most this: 10% of the base, or an amount (64MiB). Repeatable.
    #[arg(
        long,
        value_name = "LIMIT",
        value_parser = max_growth_flag,
        help_heading = "Budgets",
        long_help = "A limit on the growth of the total from base to new: a percentage of \
the base (10%) or an amount (64MiB; for object counts a plain number). Repeatable: each is \
checked. Replaces the budgets file's [total] max_growth."
    )]
    pub(crate) max_growth: Vec<Limit>,
    /// An owner's limit, NAME=LIMIT: ext_proc=64MiB (cap), wasm=+10% or lua=+1MiB (growth). Repeatable.
    #[arg(
        long,
        value_name = "NAME=LIMIT",
        value_parser = owner_flag,
        help_heading = "Budgets",
        long_help = "A limit on one owner, as NAME=LIMIT: ext_proc=64MiB caps ext_proc's new \
value, wasm=+10% bounds its growth relative to the base, lua=+1MiB bounds its growth in bytes. \
Repeatable (several limits of one owner are all checked); replaces the budgets file's limits of \
that owner. NAME must be an owner the rules define or the inputs have (`heapcost rules`)."
    )]
    pub(crate) budget: Vec<(String, Limit)>,
    /// A kind's limit, NAME=LIMIT: buffer=+20%, header_map=8MiB. Repeatable.
    #[arg(
        long,
        value_name = "NAME=LIMIT",
        value_parser = kind_flag,
        help_heading = "Budgets",
        long_help = "A limit on one kind (buffer, header_map, protobuf, wasm_vm, ...), as \
NAME=LIMIT with the LIMIT forms of --budget. Repeatable; replaces the budgets file's limits of \
that kind."
    )]
    pub(crate) kind_budget: Vec<(String, Limit)>,
    /// Changes smaller than this pass whatever the limit (default 0; e.g. 1MiB).
    #[arg(
        long,
        value_name = "AMOUNT",
        value_parser = noise_floor_flag,
        help_heading = "Budgets",
        long_help = "A broken limit passes when its value changed by less than this, up or \
down (an amount: 1MiB; for object counts a plain number). Default: the budgets file's \
noise_floor, else 0 (every change counts)."
    )]
    pub(crate) noise_floor: Option<(Amount, Origin)>,
}

fn max_growth_flag(text: &str) -> Result<Limit, budgets::LimitError> {
    Ok(Limit {
        bound: budgets::parse_growth(text)?,
        text: text.trim().to_string(),
        origin: Origin::flag(format!("--max-growth {text}")),
    })
}

fn named_flag(flag: &str, text: &str) -> Result<(String, Limit), budgets::LimitError> {
    let (name, limit) = budgets::split_named(text)?;
    Ok((
        name.to_string(),
        Limit {
            bound: budgets::parse_owner_limit(limit)?,
            text: limit.to_string(),
            origin: Origin::flag(format!("{flag} {text}")),
        },
    ))
}

fn owner_flag(text: &str) -> Result<(String, Limit), budgets::LimitError> {
    named_flag("--budget", text)
}

fn kind_flag(text: &str) -> Result<(String, Limit), budgets::LimitError> {
    named_flag("--kind-budget", text)
}

fn noise_floor_flag(text: &str) -> Result<(Amount, Origin), budgets::LimitError> {
    Ok((
        budgets::parse_amount(text)?,
        Origin::flag(format!("--noise-floor {text}")),
    ))
}

impl GateLimits {
    fn to_budgets(&self) -> Budgets {
        let mut b = Budgets::default();
        b.total_growth = self.max_growth.clone();
        for (name, limit) in &self.budget {
            Budgets::add(&mut b.owners, name, limit.clone());
        }
        for (name, limit) in &self.kind_budget {
            Budgets::add(&mut b.kinds, name, limit.clone());
        }
        b.noise_floor = self.noise_floor.clone();
        b
    }
}

#[derive(Debug, Args)]
pub(crate) struct GateReports {
    /// Write the pull-request comment (Markdown) to FILE.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Output",
        long_help = "Write the pull-request comment to FILE: the verdict, the table of limits, \
the stacks that grew most, warnings, then owners and kinds in a collapsed section. Always \
under 65,000 characters (GitHub's limit is 65,536): rows that do not fit are left out with a \
note."
    )]
    pub(crate) markdown: Option<PathBuf>,
    /// Write JUnit XML to FILE: one test case per limit.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Output",
        long_help = "Write JUnit XML to FILE, for CI systems that show test reports: one test \
suite, one test case per limit, a failure for each broken limit, the inputs as properties."
    )]
    pub(crate) junit: Option<PathBuf>,
    /// Print GitHub Actions annotations, and append the comment to $GITHUB_STEP_SUMMARY when set.
    #[arg(
        long,
        help_heading = "Output",
        long_help = "After the table, print GitHub Actions workflow commands: ::error for each \
broken limit (on the budgets file's line when it came from one), ::warning for each warning, \
::notice with the verdict when it passes. When GITHUB_STEP_SUMMARY is set, also append the \
Markdown comment to that file (the job's summary page)."
    )]
    pub(crate) github: bool,
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use heapcost::profile::SampleTypeChoice;
    use heapcost::{Command, GateOptions};

    use crate::cli::testing::{config, config_in, error_in};
    use crate::cli::{Cli, CliError, Env};
    use clap::Parser;

    /// The gate options of `args` in `env`.
    fn gate(args: &[&str], env: &Env) -> GateOptions {
        match config_in(args, env).command {
            Command::Gate(opts) => *opts,
            other => panic!("not gate: {other:?}"),
        }
    }

    #[test]
    fn gate_flags_reach_config() {
        let env = Env {
            github_step_summary: Some("/s.md".into()),
            ..Env::default()
        };
        let o = gate(
            &[
                "heapcost",
                "gate",
                "--base",
                "b1",
                "--base",
                "b2",
                "--budgets",
                "budgets.toml",
                "--max-growth",
                "10%",
                "--max-growth",
                "64MiB",
                "--budget",
                "ext_proc=64MiB",
                "--budget",
                "ext_proc=+10%",
                "--kind-budget",
                "buffer=+1MiB",
                "--noise-floor",
                "1MiB",
                "--markdown",
                "c.md",
                "--junit",
                "j.xml",
                "--github",
                "-s",
                "inuse_objects",
                "n1",
            ],
            &env,
        );
        assert_eq!(o.base, ["b1", "b2"]);
        assert_eq!(
            o.sample_type,
            SampleTypeChoice::Named("inuse_objects".into())
        );
        assert_eq!(o.budgets, Some(PathBuf::from("budgets.toml")));
        assert_eq!(o.limits.total_growth.len(), 2);
        assert_eq!(o.limits.total_growth[1].origin.path, "--max-growth 64MiB");
        assert_eq!(o.limits.owners.len(), 1);
        assert_eq!(o.limits.owners[0].limits.len(), 2);
        assert_eq!(o.limits.kinds[0].name, "buffer");
        assert_eq!(
            o.limits.noise_floor.as_ref().map(|f| f.0.value),
            Some(1 << 20)
        );
        assert_eq!(o.markdown, Some(PathBuf::from("c.md")));
        assert_eq!(o.junit, Some(PathBuf::from("j.xml")));
        assert!(o.github);
        assert_eq!(o.step_summary, Some(PathBuf::from("/s.md")));
        // Without --github the step summary is left alone.
        let args = ["heapcost", "gate", "--base", "b", "--max-growth", "1%", "n"];
        assert_eq!(gate(&args, &env).step_summary, None);
    }

    #[test]
    fn malformed_gate_flags_are_usage_errors() {
        for bad in [
            ["--max-growth", "ten"],
            ["--budget", "ext_proc"],
            ["--budget", "ext_proc=64MiBs"],
            ["--kind-budget", "buffer=-1%"],
            ["--noise-floor", "1XB"],
        ] {
            let mut args = vec!["heapcost", "gate", "--base", "b"];
            args.extend(bad);
            args.push("n");
            assert!(Cli::try_parse_from(&args).is_err(), "{bad:?}");
        }
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
    fn gate_reports_must_differ() {
        let args = [
            "heapcost",
            "gate",
            "--base",
            "b",
            "--markdown",
            "out",
            "--junit",
            "out",
            "n",
        ];
        let e = error_in(&args, &Env::default());
        assert!(matches!(e, CliError::SameFile { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "--markdown and --junit name the same file: out"
        );
    }

    #[test]
    fn step_summary_is_any_non_empty_path() {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt;
        let args = ["heapcost", "gate", "--base", "b", "--github", "n"];
        let summary = |value: Option<OsString>| {
            let env = Env {
                github_step_summary: value,
                ..Env::default()
            };
            gate(&args, &env).step_summary
        };
        assert_eq!(summary(None), None);
        assert_eq!(summary(Some("".into())), None);
        // Not UTF-8 is still a path.
        let raw = OsString::from_vec(b"/tmp/s\xff.md".to_vec());
        assert_eq!(summary(Some(raw.clone())), Some(PathBuf::from(raw)));
    }

    #[test]
    fn base_binary_conflicts_with_no_symbolize() {
        let args = [
            "heapcost",
            "gate",
            "--base",
            "b",
            "--base-binary",
            "e",
            "--no-symbolize",
            "n",
        ];
        assert!(Cli::try_parse_from(args).is_err());
    }
}
