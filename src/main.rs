//! The `heapcost` binary: parse the command line, run, map errors to exit codes.
//!
//! Exit codes: 0 success (also when stdout is closed early, as in
//! `heapcost top | head`), 1 when `gate` finds a broken limit, 2 bad input
//! or usage.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let quiet = cli.quiet;
    let env = cli::Env::from_process();
    let config = match cli.into_config(&env) {
        Ok(config) => config,
        Err(e) => return error(&e),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = heapcost::run(&config, &mut out).and_then(|summary| match out.flush() {
        // A gate verdict must reach the exit code even when stdout is closed.
        Err(e) if summary.verdict.is_some() && e.kind() == std::io::ErrorKind::BrokenPipe => {
            Ok(summary)
        }
        other => other.map(|()| summary).map_err(heapcost::Error::Output),
    });
    match result {
        Ok(summary) => {
            if !quiet {
                for w in &summary.warnings {
                    eprintln!("heapcost: warning: {w}");
                }
            }
            if summary.failed() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => error(&e),
    }
}

/// Prints a fatal error, with its causes, and gives the exit code 2.
fn error(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("heapcost: error: {e:#}");
    ExitCode::from(2)
}
